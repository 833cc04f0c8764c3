//! `geodex quant-report`: the rate–distortion report of THEORY §1.3 / §1.1 for one data set —
//! for bit budgets from 0.5 to 8 bits per dimension, the measured mean squared error of SQ8 and
//! of PQ (several m, 16 or 256 centroids) next to the Gaussian bound from the data's own
//! variances (reverse water-filling), and each quantiser's recall@k by exhaustive asymmetric
//! search over the codes (PQ4 through fast-scan), so a budget's cost in search quality is seen
//! without a graph in the way.

use std::path::PathBuf;
use std::time::Instant;

use geodex_core::measure::recall_at_k;
use geodex_io::Role;
use geodex_quant::fastscan::{self, PackedCodes, QuantizedTable};
use geodex_quant::pq::ProductQuantizer;
use geodex_quant::projection::{jl_dimension, jl_epsilon, ProjectionKind, RandomProjection};
use geodex_quant::rate_distortion::{gaussian_distortion, variances};
use geodex_quant::sq8::Sq8;
use rayon::prelude::*;
use serde_json::json;

use crate::commands::{print_json, round};
use crate::failure::Failure;
use crate::plot::{xy_chart, Mark, Series};

/// Arguments of `geodex quant-report`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Base vectors.
    #[arg(long)]
    pub data: PathBuf,
    /// Query vectors.
    #[arg(long)]
    pub queries: PathBuf,
    /// Ground truth of the queries against the base (.ivecs).
    #[arg(long)]
    pub groundtruth: PathBuf,
    /// Neighbours per query for recall.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Training vectors (the first N of the base).
    #[arg(long, default_value_t = 20_000)]
    pub train: usize,
    /// Queries used for recall (the first N).
    #[arg(long, default_value_t = 200)]
    pub query_limit: usize,
    /// Seed of the k-means runs.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Random-projection dimensions to measure (default d/8, d/4, d/2).
    #[arg(long, value_delimiter = ',')]
    pub projections: Vec<usize>,
    /// Candidates re-ranked exactly after a search in projected space.
    #[arg(long, default_value_t = 100)]
    pub rerank: usize,
    /// Random pairs of base vectors whose distance distortion is measured.
    #[arg(long, default_value_t = 2000)]
    pub pairs: usize,
    /// Write the distortion-vs-bits plot here (.png).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// One JSON object on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// No progress output on stderr.
    #[arg(long)]
    pub quiet: bool,
}

/// One quantiser configuration of the report.
#[derive(Clone, Copy, Debug)]
enum Config {
    Sq8,
    Pq { m: usize, bits: u32 },
}

impl Config {
    fn name(self) -> String {
        match self {
            Config::Sq8 => "sq8".into(),
            Config::Pq { m, bits } => format!("pq{bits} m={m}"),
        }
    }

    fn bits_per_vector(self, dim: usize) -> usize {
        match self {
            Config::Sq8 => 8 * dim,
            Config::Pq { m, bits } => m * bits as usize,
        }
    }
}

/// The configurations for dimension `dim`: SQ8, and PQ4 / PQ8 with m = d/8, d/4, d/2, d where
/// m divides d (0.5 … 8 bits per dimension); PQ4 only up to the 256 sub-spaces fast-scan's
/// 16-bit sums allow.
fn configs(dim: usize) -> Vec<Config> {
    let ms: Vec<usize> = [8, 4, 2, 1]
        .iter()
        .filter(|&&f| dim.checked_rem(f) == Some(0))
        .map(|f| dim / f)
        .collect();
    let mut out: Vec<Config> = [4, 8]
        .iter()
        .flat_map(|&bits| ms.iter().map(move |&m| Config::Pq { m, bits }))
        .filter(|c| !matches!(c, Config::Pq { m, bits: 4 } if *m > 256))
        .collect();
    out.push(Config::Sq8);
    out
}

pub fn run(a: Args) -> Result<(), Failure> {
    let base = crate::data::read_vectors(&a.data, Role::Base, None)?.into_f32();
    let queries = crate::data::read_vectors(&a.queries, Role::Queries, None)?.into_f32();
    if base.dim() != queries.dim() {
        return Err(Failure::input(format!(
            "{}: queries have dimension {}, base vectors {}",
            a.queries.display(),
            queries.dim(),
            base.dim()
        )));
    }
    if a.k == 0 || a.k > base.rows() {
        return Err(Failure::input(format!("--k must be in 1..={}", base.rows())));
    }
    let truth = crate::data::read_groundtruth(&a.groundtruth, queries.rows(), a.k)?;
    let dim = base.dim();
    let nq = a.query_limit.min(queries.rows()).max(1);
    let query_rows = &queries.as_slice()[..nq * dim];
    let train = &base.as_slice()[..a.train.min(base.rows()) * dim];
    let var = variances(base.as_slice(), dim);
    let mut rows = Vec::new();
    for config in configs(dim) {
        let start = Instant::now();
        let measured = measure(config, train, base.as_slice(), query_rows, dim, a.k, a.seed)
            .map_err(|e| Failure::input(format!("{}: {e}", config.name())))?;
        let bits = config.bits_per_vector(dim);
        let bound = gaussian_distortion(&var, bits as f64);
        let recall = recall_at_k(&measured.found, &truth[..nq], a.k);
        progress_note(&a, &config, start.elapsed().as_secs_f64());
        rows.push(json!({
            "quantiser": config.name(),
            "bits_per_dim": bits as f64 / dim as f64,
            "bytes_per_vector": bits.div_ceil(8),
            "mse": measured.mse,
            "gaussian_bound": bound,
            "mse_over_bound": round(measured.mse / bound, 3),
            "recall": round(recall, 4),
        }));
    }
    rows.sort_by(|x, y| {
        x["bits_per_dim"]
            .as_f64()
            .partial_cmp(&y["bits_per_dim"].as_f64())
            .expect("finite")
    });
    let projections = projection_rows(&a, base.as_slice(), query_rows, dim, &truth[..nq])?;
    if let Some(path) = &a.plot {
        plot(path, &rows, &var)?;
    }
    let total_variance: f64 = var.iter().sum();
    if a.json {
        print_json(
            &json!({ "dim": dim, "vectors": base.rows(), "total_variance": total_variance, "k": a.k, "queries": nq, "rows": rows, "projection": projections }),
        );
    } else {
        println!("{} vectors × {dim}; total variance Σσ² = {total_variance:.4}; recall@{} over {nq} queries by exhaustive ADC", base.rows(), a.k);
        println!(
            "{:<12} {:>9} {:>8} {:>14} {:>14} {:>9} {:>8}",
            "quantiser", "bits/dim", "bytes", "MSE", "Gaussian bound", "MSE/bound", "recall"
        );
        for r in &rows {
            println!(
                "{:<12} {:>9} {:>8} {:>14.6} {:>14.6} {:>9} {:>8}",
                r["quantiser"].as_str().unwrap_or(""),
                r["bits_per_dim"].to_string(),
                r["bytes_per_vector"].to_string(),
                r["mse"].as_f64().unwrap_or(f64::NAN),
                r["gaussian_bound"].as_f64().unwrap_or(f64::NAN),
                r["mse_over_bound"].to_string(),
                r["recall"].to_string()
            );
        }
        print_projection_table(&projections);
    }
    Ok(())
}

/// THEORY §11.2: per projection kind and dimension k, the distribution of squared-distance
/// ratios ‖Pu − Pv‖² / ‖u − v‖² over random base pairs, next to the ε the Dasgupta–Gupta bound
/// guarantees at this k for this n, and recall@k without and with exact re-ranking.
fn projection_rows(
    a: &Args,
    base: &[f32],
    queries: &[f32],
    dim: usize,
    truth: &[Vec<u64>],
) -> Result<serde_json::Value, Failure> {
    let n = base.len() / dim;
    let ks = if a.projections.is_empty() {
        vec![dim / 8, dim / 4, dim / 2]
            .into_iter()
            .filter(|&k| k > 0)
            .collect()
    } else {
        a.projections.clone()
    };
    let mut rng = geodex_quant::projection::PairSampler::new(n, a.seed);
    let pairs: Vec<(usize, usize)> = (0..a.pairs).map(|_| rng.pair()).collect();
    let mut rows = Vec::new();
    for &k in &ks {
        for kind in [ProjectionKind::Gaussian, ProjectionKind::Sparse] {
            let p = RandomProjection::new(kind, dim, k, a.seed)?;
            let projected = p.project_all(base);
            let projected_queries = p.project_all(queries);
            let mut ratios: Vec<f64> = pairs
                .iter()
                .filter_map(|&(i, j)| {
                    let before = sq(&base[i * dim..(i + 1) * dim], &base[j * dim..(j + 1) * dim]);
                    (before > 0.0)
                        .then(|| sq(&projected[i * k..(i + 1) * k], &projected[j * k..(j + 1) * k]) / before)
                })
                .collect();
            ratios.sort_by(f64::total_cmp);
            let q = |f: f64| ratios[((ratios.len() - 1) as f64 * f).round() as usize];
            let epsilon = jl_epsilon(n, k);
            let within = epsilon.map(|e| {
                ratios
                    .iter()
                    .filter(|&&r| (1.0 - e..=1.0 + e).contains(&r))
                    .count() as f64
                    / ratios.len() as f64
            });
            let scan = |pq: &[f32], out: &mut Vec<f32>| {
                out.extend(projected.chunks_exact(k).map(|v| sq(pq, v) as f32))
            };
            let found = top_k_all(&projected_queries, k, a.rerank.max(a.k), scan);
            let plain: Vec<Vec<u64>> = found.iter().map(|f| f[..a.k.min(f.len())].to_vec()).collect();
            let reranked: Vec<Vec<u64>> = found
                .iter()
                .zip(queries.chunks_exact(dim))
                .map(|(cands, qv)| {
                    // Each candidate's exact distance once, then sort by it (ties: smaller id).
                    let mut exact: Vec<(f64, u64)> = cands
                        .iter()
                        .map(|&id| (sq(qv, &base[id as usize * dim..][..dim]), id))
                        .collect();
                    exact.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
                    exact.into_iter().take(a.k).map(|(_, id)| id).collect()
                })
                .collect();
            rows.push(json!({
                "kind": if kind == ProjectionKind::Gaussian { "gaussian" } else { "sparse" },
                "k": k,
                "ratio_p01": round(q(0.01), 4),
                "ratio_p50": round(q(0.5), 4),
                "ratio_p99": round(q(0.99), 4),
                "jl_epsilon": epsilon.map(|e| round(e, 4)),
                "share_within_epsilon": within.map(|w| round(w, 4)),
                "recall": round(recall_at_k(&plain, truth, a.k), 4),
                "recall_reranked": round(recall_at_k(&reranked, truth, a.k), 4),
            }));
        }
    }
    Ok(
        json!({ "pairs": pairs.len(), "rerank": a.rerank, "jl_k_for_epsilon_0_5": jl_dimension(n, 0.5), "jl_k_for_epsilon_0_1": jl_dimension(n, 0.1), "rows": rows }),
    )
}

fn sq(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum()
}

fn print_projection_table(p: &serde_json::Value) {
    println!(
        "random projection (§11.2): {} pairs; Dasgupta–Gupta asks k = {} for ε = 0.5, {} for ε = 0.1",
        p["pairs"], p["jl_k_for_epsilon_0_5"], p["jl_k_for_epsilon_0_1"]
    );
    println!(
        "{:<9} {:>5} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8} {:>10}",
        "kind", "k", "ratio p1", "p50", "p99", "JL ε", "within", "recall", "reranked"
    );
    for r in p["rows"].as_array().into_iter().flatten() {
        let c = |key: &str| r[key].to_string();
        println!(
            "{:<9} {:>5} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8} {:>10}",
            r["kind"].as_str().unwrap_or(""),
            c("k"),
            c("ratio_p01"),
            c("ratio_p50"),
            c("ratio_p99"),
            c("jl_epsilon"),
            c("share_within_epsilon"),
            c("recall"),
            c("recall_reranked")
        );
    }
}

fn progress_note(a: &Args, config: &Config, seconds: f64) {
    crate::progress::note(a.json || a.quiet, format!("{}: {seconds:.1} s", config.name()));
}

/// A configuration's mean squared error over the base and its exhaustive top-k per query.
struct Measured {
    mse: f64,
    found: Vec<Vec<u64>>,
}

fn measure(
    config: Config,
    train: &[f32],
    base: &[f32],
    queries: &[f32],
    dim: usize,
    k: usize,
    seed: u64,
) -> Result<Measured, geodex_quant::QuantError> {
    match config {
        Config::Sq8 => {
            let sq = Sq8::train(train, dim)?;
            let codes = sq.encode_all(base);
            let mse = mean_error(base, dim, |i, out| sq.decode(&codes[i * dim..(i + 1) * dim], out));
            let found = top_k_all(queries, dim, k, |q, out| {
                out.extend(codes.chunks_exact(dim).map(|c| sq.squared_l2(q, c)))
            });
            Ok(Measured { mse, found })
        }
        Config::Pq { m, bits } => {
            let pq = ProductQuantizer::train(train, dim, m, bits, seed)?;
            let codes = pq.encode_all(base);
            let mse = mean_error(base, dim, |i, out| pq.decode(&codes[i * m..(i + 1) * m], out));
            let found = if bits == 4 {
                let packed = PackedCodes::pack(&codes, m)?;
                top_k_all(queries, dim, k, |q, out| {
                    let table = QuantizedTable::new(&pq.distance_table(q));
                    let mut sums = Vec::new();
                    fastscan::scan(&table, &packed, &mut sums);
                    out.extend(sums.iter().map(|&s| table.distance(s)));
                })
            } else {
                top_k_all(queries, dim, k, |q, out| {
                    pq.scan(&pq.distance_table(q), &codes, out)
                })
            };
            Ok(Measured { mse, found })
        }
    }
}

/// Mean over the base of ‖x − decode(x)‖², `decode(i, out)` writing row i's reconstruction.
fn mean_error(base: &[f32], dim: usize, decode: impl Fn(usize, &mut [f32]) + Sync) -> f64 {
    let rows = base.len() / dim;
    let total: f64 = (0..rows)
        .into_par_iter()
        .map_init(
            || vec![0f32; dim],
            |rec, i| {
                decode(i, rec);
                base[i * dim..(i + 1) * dim]
                    .iter()
                    .zip(rec.iter())
                    .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
                    .sum::<f64>()
            },
        )
        .sum();
    total / rows as f64
}

/// The k smallest of the distances `scan(query, out)` writes, per query, ties by smaller id.
fn top_k_all(
    queries: &[f32],
    dim: usize,
    k: usize,
    scan: impl Fn(&[f32], &mut Vec<f32>) + Sync,
) -> Vec<Vec<u64>> {
    queries
        .par_chunks_exact(dim)
        .map(|q| {
            let mut d = Vec::new();
            scan(q, &mut d);
            let mut ids: Vec<u32> = (0..d.len() as u32).collect();
            let by = |a: &u32, b: &u32| d[*a as usize].total_cmp(&d[*b as usize]).then(a.cmp(b));
            let k = k.min(ids.len());
            ids.select_nth_unstable_by(k - 1, by);
            ids.truncate(k);
            ids.sort_unstable_by(by);
            ids.into_iter().map(u64::from).collect()
        })
        .collect()
}

fn plot(path: &std::path::Path, rows: &[serde_json::Value], var: &[f64]) -> Result<(), Failure> {
    let dim = var.len() as f64;
    let series_of = |prefix: &str| Series {
        name: prefix.to_string(),
        points: rows
            .iter()
            .filter(|r| r["quantiser"].as_str().is_some_and(|q| q.starts_with(prefix)))
            .map(|r| {
                (
                    r["bits_per_dim"].as_f64().unwrap_or(0.0),
                    r["mse"].as_f64().unwrap_or(0.0),
                )
            })
            .collect(),
        mark: Mark::Dots,
    };
    let bound = Series {
        name: "Gaussian bound (reverse water-filling)".into(),
        points: (1..=64)
            .map(|i| i as f64 / 8.0)
            .map(|b| (b, gaussian_distortion(var, b * dim)))
            .collect(),
        mark: Mark::Line,
    };
    xy_chart(
        path,
        "distortion vs bits per dimension",
        ("bits per dimension", "mean squared error"),
        true,
        &[bound, series_of("pq4"), series_of("pq8"), series_of("sq8")],
    )
}
