//! `geodex build`: read vectors, build an HNSW index, save it atomically.

use std::path::{Path, PathBuf};
use std::time::Instant;

use geodex_core::auto_m::{AutoM, AutoMReport, MChoice};
use geodex_core::{BuildParams, CodecOptions, CodecSpec, EdgeRule, Heuristic, Index, LinkLayout, Metric};
use geodex_edges::anneal::{AnnealOptions, Schedule};
use geodex_edges::{mean_degree0, EdgeModel};
use geodex_io::{AnyVectors, Role};

use crate::failure::{in_file, Failure};
use crate::progress;

/// Arguments of `geodex build`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Vectors to index (.fvecs .bvecs .npy .hdf5 — `train` of an .hdf5).
    #[arg(long)]
    pub data: PathBuf,
    /// Where to write the index.
    #[arg(long)]
    pub out: PathBuf,
    /// Keys of the rows, in order (.txt one per line, .npy uint64/int64, .ivecs); default: the
    /// row numbers. Unique, and not 2⁶⁴ − 1.
    #[arg(long)]
    pub keys: Option<PathBuf>,
    /// Dissimilarity: l2, ip, cosine, poincare.
    #[arg(long, default_value = "l2")]
    pub metric: Metric,
    /// Links per node on upper levels (level 0 gets 2·M), or `auto`: build with 16, probe the
    /// graph's recall on indexed rows against brute force, and double M while it falls short
    /// (hierarchies in the Poincaré ball need 32; Euclidean data keeps 16 and the same index).
    #[arg(long, default_value = "auto")]
    pub m: MChoice,
    /// With `--m auto`: the probe's recall@10 that ends the search.
    #[arg(long, default_value_t = AutoM::default().target_recall)]
    pub auto_recall: f64,
    /// With `--m auto`: the probe's beam width.
    #[arg(long, default_value_t = AutoM::default().probe_ef)]
    pub auto_ef: usize,
    /// With `--m auto`: the largest M tried.
    #[arg(long, default_value_t = AutoM::default().max_m)]
    pub max_m: usize,
    /// Beam width while building.
    #[arg(long, default_value_t = 200)]
    pub ef_construction: usize,
    /// Build threads (default: all cores). With 1 thread the index is a function of the seed.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Seed of the random levels.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Codes the search walks on: none, sq8 (1 byte/dim), pq8 (m bytes), pq4 (m/2 bytes),
    /// proj / proj-sparse / proj-orth (a Johnson–Lindenstrauss projection to k floats: Gaussian,
    /// sparse, or onto a random subspace), rabitq[:BITS] (RaBitQ, 1–8 bits per dimension, default
    /// 1, with an error bound per code for `--rerank-bound`). The full vectors stay in the file
    /// for `--rerank`.
    #[arg(long, default_value = "none")]
    pub quant: String,
    /// PQ sub-spaces (must divide the dimension; default dim/4 for pq8, dim/2 for pq4).
    #[arg(long)]
    pub pq_m: Option<usize>,
    /// Output dimension of `--quant proj|proj-sparse|proj-orth` (default dim/4).
    #[arg(long)]
    pub proj_k: Option<usize>,
    /// Index only the first N vectors of the file.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Find each new node's neighbours by walking the float vectors (Alg. 1 as written) instead
    /// of their one-byte codes with exact distances for the candidates (the default for float
    /// data under L2 or cosine).
    #[arg(long)]
    pub exact_build: bool,
    /// Fill each link list up to its budget with the candidates the neighbour-selection
    /// heuristic pruned, nearest first (hnswlib's `keepPrunedConnections`). Off by default; on
    /// hierarchy embeddings in the Poincaré ball the heuristic alone leaves most nodes one link.
    #[arg(long)]
    pub keep_pruned: bool,
    /// Which candidates become links: heuristic (Malkov & Yashunin, Alg. 4), vamana[:ALPHA]
    /// (DiskANN's RobustPrune, α default 1.2), random[:SEED] (as many candidates as the
    /// heuristic keeps, drawn uniformly: a control), learned:MODEL (a scorer trained by `geodex
    /// learn-edges`), anneal (the heuristic's graph, then simulated annealing of its level-0
    /// links at fixed degree against the search cost of --queries; LEARNED.md). The index file
    /// and its search are the same whatever the rule.
    #[arg(long, default_value = "heuristic")]
    pub edges: String,
    /// With `--edges anneal`: training queries (never the test queries) whose search cost the
    /// annealing lowers.
    #[arg(long)]
    pub queries: Option<PathBuf>,
    /// With `--edges anneal`: the training queries' true neighbours among the rows of --data.
    #[arg(long)]
    pub groundtruth: Option<PathBuf>,
    /// With `--edges anneal`: moves proposed.
    #[arg(long, default_value_t = AnnealOptions::default().steps)]
    pub anneal_steps: usize,
    /// With `--edges anneal`: temperature schedule, log (T0/ln(1+t)), geometric, or greedy (T = 0).
    #[arg(long, default_value = "log")]
    pub anneal_schedule: Schedule,
    /// With `--edges anneal`: T0, in distance evaluations.
    #[arg(long, default_value_t = AnnealOptions::default().t0)]
    pub anneal_t0: f64,
    /// With `--edges anneal`: beam width of the objective's searches.
    #[arg(long, default_value_t = AnnealOptions::default().ef)]
    pub anneal_ef: usize,
    /// How level 0's links are stored: fixed (rows of 2·M ids, the fastest) or compressed
    /// (sorted, gap-coded and bit-packed: about half the graph's bytes).
    #[arg(long, default_value = "fixed")]
    pub links: LinkLayout,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
}

/// The keys of `--keys`, checked (count, uniqueness, the reserved key) before any build work.
fn keys_for(path: &Path, rows: usize) -> Result<Vec<u64>, Failure> {
    let keys = crate::data::read_keys(path)?;
    geodex_core::check_keys(&keys, rows).map_err(|e| Failure::from(e).context(path.display()))?;
    Ok(keys)
}

fn with_keys<T: geodex_core::Component>(ix: Index<T>, keys: Option<Vec<u64>>) -> Result<Index<T>, Failure> {
    Ok(match keys {
        Some(k) => ix.with_keys(k)?,
        None => ix,
    })
}

/// The rule of `--edges` (see its help).
fn edge_rule(spec: &str) -> Result<EdgeRule, Failure> {
    let bad = |why: String| Failure::input(format!("--edges {spec}: {why}"));
    let (name, arg) = spec.split_once(':').map_or((spec, None), |(n, a)| (n, Some(a)));
    match (name, arg) {
        ("heuristic" | "anneal", None) => Ok(EdgeRule::Heuristic),
        ("vamana", arg) => {
            let alpha = arg.map_or(Ok(1.2), |a| {
                a.parse::<f32>().map_err(|e| bad(format!("alpha: {e}")))
            })?;
            Ok(EdgeRule::Vamana { alpha })
        }
        ("random", arg) => {
            let seed = arg.map_or(Ok(0), |a| a.parse::<u64>().map_err(|e| bad(format!("seed: {e}"))))?;
            Ok(EdgeRule::Random { seed })
        }
        ("learned", Some(path)) => {
            let path = Path::new(path);
            let text = std::fs::read(path).map_err(|e| bad(format!("{}: {e}", path.display())))?;
            let model: EdgeModel = serde_json::from_slice(&text)
                .map_err(|e| bad(format!("{}: not an edge model: {e}", path.display())))?;
            model
                .validate()
                .map_err(|e| bad(format!("{}: {e}", path.display())))?;
            Ok(model.into_rule())
        }
        _ => Err(bad(
            "expected heuristic, vamana[:ALPHA], random[:SEED] or learned:MODEL".into(),
        )),
    }
}

/// The rule's name for reports (`anneal` builds with the heuristic, then rewires).
fn edges_name(a: &Args, params: &BuildParams) -> String {
    if a.edges == "anneal" {
        "anneal".into()
    } else {
        params.edges.name()
    }
}

/// The training queries of `--edges anneal` and their true neighbours.
type Training = (AnyVectors, Vec<Vec<u64>>);

/// With `--edges anneal`: the training queries and their ground truth, read and checked
/// before the build.
fn annealing(a: &Args) -> Result<Option<Training>, Failure> {
    if a.edges != "anneal" {
        return Ok(None);
    }
    let (Some(qp), Some(gp)) = (&a.queries, &a.groundtruth) else {
        return Err(Failure::input(
            "--edges anneal needs --queries and --groundtruth (training queries, never the test queries)",
        ));
    };
    let queries = crate::data::read_vectors(qp, Role::Queries, None)?;
    let truth = crate::data::read_groundtruth(gp, queries.rows(), 10)?;
    Ok(Some((queries, truth)))
}

/// Anneals `ix`'s level 0 when `--edges anneal` asked for it.
fn anneal<T: geodex_core::Component + crate::data::QueryElement>(
    ix: &mut Index<T>,
    a: &Args,
    training: Option<Training>,
) -> Result<(), Failure> {
    let Some((queries, truth)) = training else {
        return Ok(());
    };
    let path = a.queries.as_deref().expect("checked with the ground truth");
    let q = crate::data::queries_for::<T>(ix.dim(), queries, path)?;
    let opts = AnnealOptions {
        ef: a.anneal_ef,
        steps: a.anneal_steps,
        schedule: a.anneal_schedule,
        t0: a.anneal_t0,
        seed: a.seed,
        ..AnnealOptions::default()
    };
    let width = 2 * ix.info().m;
    let report = geodex_edges::anneal_index(ix, q.as_slice(), &truth, width, a.ef_construction, &opts)
        .map_err(|e| match e {
            geodex_edges::EdgesError::Core(e) => in_file(path)(e),
            geodex_edges::EdgesError::Invalid(m) => Failure::input(m),
        })?;
    let summary = serde_json::to_value(&report).expect("the report serialises");
    ix.set_metadata(
        "edges",
        serde_json::json!({"rule": "anneal", "options": opts, "report": summary}),
    );
    if !a.quiet && !a.json {
        eprintln!(
            "annealed level 0: {} moves accepted ({} improving); training queries at ef {}: {:.1} → {:.1} distances, recall {:.4} → {:.4}",
            report.accepted,
            report.improving,
            opts.ef,
            report.initial_distances,
            report.final_distances,
            report.initial_recall,
            report.final_recall
        );
    }
    Ok(())
}

pub fn run(a: Args) -> Result<(), Failure> {
    let data = crate::data::fit_to_metric(crate::data::read_vectors(&a.data, Role::Base, a.limit)?, a.metric);
    let options = CodecOptions {
        pq_m: a.pq_m,
        proj_k: a.proj_k,
    };
    let quant = CodecSpec::parse(&a.quant, options, data.dim())
        .map_err(|e| Failure::input(format!("--quant {}: {e}", a.quant)))?;
    let params = BuildParams {
        metric: a.metric,
        ef_construction: a.ef_construction,
        seed: a.seed,
        threads: a.threads,
        quant,
        build_on_codes: !a.exact_build,
        heuristic: Heuristic {
            keep_pruned: a.keep_pruned,
            ..Default::default()
        },
        links: a.links,
        edges: edge_rule(&a.edges)?,
        cancel: crate::interrupt::flag(),
        ..Default::default()
    };
    let (n, dim) = (data.rows(), data.dim());
    let annealing = annealing(&a)?;
    let keys = a.keys.as_deref().map(|p| keys_for(p, n)).transpose()?;
    let bar = progress::bar(n as u64, "building", a.quiet);
    let tick = |done: usize| bar.set_position(done as u64);
    let rule = AutoM {
        target_recall: a.auto_recall,
        probe_ef: a.auto_ef,
        max_m: a.max_m,
        ..AutoM::default()
    };
    let start = Instant::now();
    let (info, auto, degree0, save) = match data {
        AnyVectors::F32(m) => {
            let (mut ix, auto) = Index::build_with_m(m.into_vec(), dim, &params, a.m, &rule, &tick)
                .map_err(in_file(&a.data))?;
            anneal(&mut ix, &a, annealing)?;
            let ix = with_keys(ix, keys)?;
            (ix.info(), auto, mean_degree0(&ix), ix.save(&a.out))
        }
        AnyVectors::U8(m) => {
            let (mut ix, auto) = Index::build_with_m(m.into_vec(), dim, &params, a.m, &rule, &tick)
                .map_err(in_file(&a.data))?;
            anneal(&mut ix, &a, annealing)?;
            let ix = with_keys(ix, keys)?;
            (ix.info(), auto, mean_degree0(&ix), ix.save(&a.out))
        }
    };
    let build_s = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    save?;
    if let (Some(report), false) = (&auto, a.quiet || a.json) {
        eprintln!("{}", describe_choice(report));
    }
    let file_bytes = std::fs::metadata(&a.out).map(|m| m.len()).unwrap_or(0);
    if a.json {
        super::print_json(&serde_json::json!({
            "index": a.out.display().to_string(),
            "count": info.count,
            "dim": info.dim,
            "metric": info.metric,
            "element": info.element,
            "m": info.m,
            "auto_m": auto,
            "ef_construction": info.ef_construction,
            "quant": info.quant,
            "pq_m": info.pq_m,
            "proj_k": info.proj_k,
            "rabitq_bits": info.rabitq_bits,
            "rabitq_centres": info.rabitq_centres,
            "code_bytes": info.code_bytes,
            "links": info.links,
            "level0_bytes": info.level0_bytes,
            "ram_bytes": info.ram_bytes,
            "threads": params.threads.unwrap_or_else(rayon::current_num_threads),
            "build_seconds": super::round(build_s, 3),
            "file_bytes": file_bytes,
            "levels": info.levels,
            "edges": edges_name(&a, &params),
            "level0_mean_degree": super::round(degree0, 3),
        }));
    } else {
        println!(
            "built {}: {} {} vectors of dim {}, {} metric, M={}, ef_construction={}, quant {}, edges {} (level-0 mean degree {:.2}), in {:.2} s ({} bytes, {} in RAM to search)",
            a.out.display(),
            info.count,
            info.element,
            info.dim,
            info.metric,
            info.m,
            info.ef_construction,
            info.quant,
            edges_name(&a, &params),
            degree0,
            build_s,
            file_bytes,
            info.ram_bytes
        );
    }
    Ok(())
}

/// One line on what `--m auto` tried and chose, e.g. "M auto: 32 (probe recall@10 at ef 32:
/// M 16 0.842, M 32 0.981; target 0.97)".
fn describe_choice(report: &AutoMReport) -> String {
    let tried: Vec<String> = report
        .trials
        .iter()
        .map(|t| format!("M {} {:.3}", t.m, t.recall))
        .collect();
    let verdict = if report.reached {
        String::new()
    } else {
        format!(
            ", not reached: stopped at the largest M {}; a larger --ef-construction or --max-m may reach it",
            report.rule.max_m
        )
    };
    format!(
        "M auto: {} (probe recall@{} at ef {} over indexed rows: {}; target {}{verdict})",
        report.chosen_m,
        report.rule.k,
        report.rule.probe_ef,
        tried.join(", "),
        report.rule.target_recall
    )
}
