//! `geodex search`: k nearest neighbours of every query, in parallel.

use std::path::{Path, PathBuf};
use std::time::Instant;

use geodex_core::{AnyIndex, Component, Hit, Index, NodeSet, SearchParams, SearchStats};
use geodex_io::{Matrix, Role};

use crate::failure::{in_file, Failure};
use crate::{progress, with_typed};

/// Arguments of `geodex search`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub files: super::IndexAndQueries,
    /// Neighbours per query.
    #[arg(long)]
    pub k: usize,
    /// Beam width (≥ k).
    #[arg(
        long,
        required_unless_present = "target_recall",
        conflicts_with = "target_recall"
    )]
    pub ef: Option<usize>,
    /// Instead of --ef: a mean recall@k target in (0, 1], met by the index's stopping rule
    /// (`geodex learn-stop`; --stop picks the rule).
    #[arg(long, allow_negative_numbers = true)]
    pub target_recall: Option<f64>,
    #[command(flatten)]
    pub options: super::SearchOptions,
    /// Search threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Write the neighbour keys, one row of k per query: `.npy` (uint64) holds any key; `.ivecs`
    /// (int32) refuses a key above 2³¹ − 1. Where fewer than k were found: −1 (2⁶⁴ − 1 in .npy).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print results and statistics as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// The k and ef to use for an index of `n` vectors: k above n returns everything (with a
/// warning, ARCHITECTURE.md §6), and ef is raised to match.
pub fn clamp_k(k: usize, ef: usize, n: usize) -> Result<(usize, usize), Failure> {
    SearchParams::new(k, ef).validate()?;
    if k > n {
        eprintln!("warning: k = {k} exceeds the {n} vectors in the index; returning all {n}");
        return Ok((n, ef.max(n)));
    }
    Ok((k, ef))
}

/// The node set of a `--filter-keys` file; keys the index does not hold are ignored with a
/// warning (as Qdrant's `has_id` filter ignores unknown ids).
pub fn allowed_nodes(index: &AnyIndex, path: &Path) -> Result<NodeSet, Failure> {
    let keys = crate::data::read_keys(path)?;
    let (set, unknown) = index.node_set(&keys);
    if unknown > 0 {
        eprintln!(
            "warning: {}: {unknown} of {} keys are not in the index and are ignored",
            path.display(),
            keys.len()
        );
    }
    if set.is_empty() {
        eprintln!(
            "warning: {}: no indexed key is allowed; every search returns nothing",
            path.display()
        );
    }
    Ok(set)
}

/// Runs every query on a pool of `threads`; results in query order.
pub fn search_all<T: Component>(
    ix: &Index<T>,
    queries: &Matrix<T>,
    params: &SearchParams<'_>,
    threads: Option<usize>,
    tick: &(dyn Fn() + Sync),
) -> Result<Vec<(Vec<Hit>, SearchStats)>, geodex_core::CoreError> {
    geodex_core::measure::thread_pool(threads)?.install(|| ix.search_batch(queries.as_slice(), params, tick))
}

pub fn run(a: Args) -> Result<(), Failure> {
    if a.threads == Some(0) {
        return Err(Failure::input("--threads must be ≥ 1"));
    }
    let index = a.options.open(&a.files.index)?;
    let queries = crate::data::read_vectors(&a.files.queries, Role::Queries, None)?;
    let targets: Vec<f64> = a.target_recall.into_iter().collect();
    let rules = match a.target_recall {
        Some(_) => super::stop_rules(index.stop_model(), &a.options.stop, &targets)?,
        None => Vec::new(),
    };
    let (k, ef) = clamp_k(a.k, a.ef.unwrap_or(a.k), index.len())?;
    let allowed = a.options.allowed(&index)?;
    let params = geodex_core::SearchParams {
        stop: rules.first(),
        ..a.options.params(k, ef, allowed.as_ref())
    };
    let bar = progress::bar(queries.rows() as u64, "searching", a.quiet);
    let tick = || bar.inc(1);
    let start = Instant::now();
    let results = with_typed!(&index, queries, &a.files.queries, |ix, q| {
        search_all(ix, &q, &params, a.threads, &tick).map_err(in_file(&a.files.queries))?
    });
    let seconds = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let ids: Vec<Vec<u64>> = results
        .iter()
        .map(|(h, _)| h.iter().map(|h| h.key.0).collect())
        .collect();
    if let Some(out) = &a.out {
        let flat: Vec<u64> = ids
            .iter()
            .flat_map(|r| (0..k).map(|j| r.get(j).copied().unwrap_or(geodex_io::NO_ID)))
            .collect();
        geodex_io::write_ids(out, &Matrix::new(k, flat).expect("k ≥ 1 ids per row"))?;
    }
    let nq = results.len() as f64;
    let total = results.iter().fold(SearchStats::default(), |mut s, (_, st)| {
        s += *st;
        s
    });
    let (mean_d, mean_h) = (total.distances as f64 / nq, total.hops as f64 / nq);
    if a.json {
        let distances: Vec<Vec<f32>> = results
            .iter()
            .map(|(h, _)| h.iter().map(|h| h.distance).collect())
            .collect();
        super::print_json(&serde_json::json!({
            "queries": results.len(),
            "k": k,
            "ef": a.ef,
            "target_recall": a.target_recall,
            "stop": a.target_recall.map(|_| &a.options.stop),
            "rerank": a.options.rerank,
            "rerank_bound": a.options.rerank_bound,
            "exact_scans": total.exact_scans,
            "seconds": super::round(seconds, 4),
            "qps": super::round(nq / seconds, 1),
            "mean_distances": super::round(mean_d, 2),
            "mean_hops": super::round(mean_h, 2),
            "ids": ids,
            "distances": distances,
        }));
    } else {
        let setting = match a.target_recall {
            Some(t) => format!("target recall {t}, {} rule", a.options.stop),
            None => format!("ef={ef}"),
        };
        println!(
            "searched {} queries (k={k}, {setting}) in {:.3} s: {:.0} queries/s, {:.1} distances and {:.1} hops per query{}",
            results.len(),
            seconds,
            nq / seconds,
            mean_d,
            mean_h,
            a.out.as_ref().map(|p| format!("; ids written to {}", p.display())).unwrap_or_default()
        );
    }
    Ok(())
}
