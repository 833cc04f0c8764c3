//! `geodex bench`: recall@k, queries per second and work per query over a sweep of ef.
//!
//! Queries are issued one at a time, as ann-benchmarks does; with `--threads N` each of N
//! threads issues its share one at a time. Each ef is run `--runs` times and the fastest run is
//! reported (ann-benchmarks' best-of-N); recall and work are identical across runs.

use std::path::{Path, PathBuf};
use std::time::Instant;

use geodex_core::{Component, Index, SearchContext, SearchParams, SearchStats};
use geodex_io::{Matrix, Role};
use rayon::prelude::*;
use serde::Serialize;

use crate::failure::{in_file, Failure};
use crate::{progress, with_typed};

/// The CSV header, exactly as DESIGN.md §5 fixes it.
pub const CSV_HEADER: &str = "ef,recall,qps,mean_distances,mean_hops,p50_us,p99_us";

/// Arguments of `geodex bench`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub files: super::IndexAndQueries,
    /// True neighbour ids (.ivecs, .npy, or `neighbors` of an .hdf5).
    #[arg(long)]
    pub groundtruth: PathBuf,
    /// Neighbours per query (recall@k).
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Beam widths to try, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "10,16,32,64,128,256")]
    pub ef: Vec<usize>,
    #[command(flatten)]
    pub options: super::SearchOptions,
    /// Search threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Timed runs per ef; the fastest is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Also write the rows as CSV.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Also draw recall against queries per second (log scale) as a PNG.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Print one JSON object on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// One row of the sweep.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub ef: usize,
    pub recall: f64,
    pub qps: f64,
    pub mean_distances: f64,
    pub mean_hops: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    /// Share of queries a filter sent to the exact scan (JSON only; 0 without a filter).
    pub exact_share: f64,
}

/// recall@k = |returned ∩ true top-k| / k averaged over queries (DESIGN.md §5).
pub fn recall_at_k(found: &[Vec<u32>], truth: &[Vec<u32>], k: usize) -> f64 {
    let hits: usize = found
        .iter()
        .zip(truth)
        .map(|(f, t)| f.iter().filter(|id| t[..k].contains(id)).count())
        .sum();
    hits as f64 / (k * found.len()) as f64
}

/// One timed pass: ids, work, per-query latency (µs) and wall seconds.
struct Pass {
    ids: Vec<Vec<u32>>,
    stats: SearchStats,
    latencies_us: Vec<f64>,
    seconds: f64,
}

fn timed_pass<T: Component>(
    ix: &Index<T>,
    q: &Matrix<T>,
    params: &SearchParams<'_>,
    pool: &rayon::ThreadPool,
) -> Result<Pass, geodex_core::CoreError> {
    let one = |ctx: &mut SearchContext, out: &mut Vec<geodex_core::Hit>, i: usize| {
        let t = Instant::now();
        let stats = ix
            .search_into(q.row(i), params, ctx, out)
            .map_err(|e| e.at_row(i))?;
        let us = t.elapsed().as_secs_f64() * 1e6;
        Ok::<_, geodex_core::CoreError>((
            out.iter().map(|h| h.key.0 as u32).collect::<Vec<u32>>(),
            stats,
            us,
        ))
    };
    let start = Instant::now();
    let per_query: Vec<(Vec<u32>, SearchStats, f64)> = if pool.current_num_threads() == 1 {
        let (mut ctx, mut out) = (SearchContext::new(), Vec::new());
        (0..q.rows())
            .map(|i| one(&mut ctx, &mut out, i))
            .collect::<Result<_, _>>()?
    } else {
        pool.install(|| {
            (0..q.rows())
                .into_par_iter()
                .map_init(
                    || (SearchContext::new(), Vec::new()),
                    |(ctx, out), i| one(ctx, out, i),
                )
                .collect::<Result<_, _>>()
        })?
    };
    let seconds = start.elapsed().as_secs_f64();
    let mut pass = Pass {
        ids: Vec::new(),
        stats: SearchStats::default(),
        latencies_us: Vec::new(),
        seconds,
    };
    for (ids, st, us) in per_query {
        pass.ids.push(ids);
        pass.stats += st;
        pass.latencies_us.push(us);
    }
    Ok(pass)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs the sweep: for each ef, `runs` timed passes of `template` with that ef (raised to k),
/// fastest reported.
#[allow(clippy::too_many_arguments)]
pub fn sweep<T: Component>(
    ix: &Index<T>,
    q: &Matrix<T>,
    truth: &[Vec<u32>],
    template: &SearchParams<'_>,
    efs: &[usize],
    threads: usize,
    runs: usize,
    tick: &dyn Fn(),
) -> Result<Vec<Row>, geodex_core::CoreError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| geodex_core::CoreError::InvalidParameter(format!("threads: {e}")))?;
    let mut rows = Vec::with_capacity(efs.len());
    for &ef in efs {
        let k = template.k;
        let params = SearchParams {
            ef: ef.max(k),
            ..*template
        };
        let mut best: Option<Pass> = None;
        for _ in 0..runs {
            let pass = timed_pass(ix, q, &params, &pool)?;
            if best.as_ref().is_none_or(|b| pass.seconds < b.seconds) {
                best = Some(pass);
            }
            tick();
        }
        let mut pass = best.expect("runs ≥ 1");
        let nq = q.rows() as f64;
        pass.latencies_us.sort_by(f64::total_cmp);
        rows.push(Row {
            ef,
            recall: recall_at_k(&pass.ids, truth, k),
            qps: nq / pass.seconds,
            mean_distances: pass.stats.distances as f64 / nq,
            mean_hops: pass.stats.hops as f64 / nq,
            p50_us: percentile(&pass.latencies_us, 50.0),
            p99_us: percentile(&pass.latencies_us, 99.0),
            exact_share: pass.stats.exact_scans as f64 / nq,
        });
    }
    Ok(rows)
}

/// The rows as CSV, header first.
pub fn to_csv(rows: &[Row]) -> String {
    let mut s = format!("{CSV_HEADER}\n");
    for r in rows {
        s.push_str(&format!(
            "{},{:.6},{:.1},{:.2},{:.2},{:.1},{:.1}\n",
            r.ef, r.recall, r.qps, r.mean_distances, r.mean_hops, r.p50_us, r.p99_us
        ));
    }
    s
}

/// The rows as an aligned table for a terminal.
pub fn to_table(rows: &[Row]) -> String {
    let mut s = format!(
        "{:>6} {:>8} {:>10} {:>14} {:>10} {:>9} {:>9}\n",
        "ef", "recall", "qps", "mean_distances", "mean_hops", "p50_us", "p99_us"
    );
    for r in rows {
        s.push_str(&format!(
            "{:>6} {:>8.4} {:>10.0} {:>14.1} {:>10.1} {:>9.1} {:>9.1}\n",
            r.ef, r.recall, r.qps, r.mean_distances, r.mean_hops, r.p50_us, r.p99_us
        ));
    }
    s
}

/// Writes the CSV and plot files a bench or demo asked for.
pub fn write_outputs(
    rows: &[Row],
    csv: Option<&Path>,
    plot: Option<&Path>,
    title: &str,
) -> Result<(), Failure> {
    if let Some(path) = csv {
        let text = to_csv(rows);
        geodex_io::atomic::write_file(path, |w| w.write_all(text.as_bytes()))?;
    }
    if let Some(path) = plot {
        crate::plot::recall_vs_qps(path, title, &[(String::from("geodex"), rows.to_vec())])?;
    }
    Ok(())
}

pub fn run(a: Args) -> Result<(), Failure> {
    if a.threads == 0 || a.runs == 0 {
        return Err(Failure::input("--threads and --runs must be ≥ 1"));
    }
    if a.ef.is_empty() {
        return Err(Failure::input("--ef needs at least one value"));
    }
    let index = crate::data::open_index(&a.files.index)?;
    let queries = crate::data::read_vectors(&a.files.queries, Role::Queries, None)?;
    let truth = crate::data::read_groundtruth(&a.groundtruth, queries.rows(), a.k)?;
    let (k, _) = crate::commands::search::clamp_k(
        a.k,
        a.ef.iter().copied().max().unwrap_or(a.k).max(a.k),
        index.len(),
    )?;
    let allowed = a.options.allowed(&index)?;
    let template = a.options.params(k, k, allowed.as_ref());
    let bar = progress::bar((a.ef.len() * a.runs) as u64, "benchmark", a.quiet);
    let tick = || bar.inc(1);
    let rows = with_typed!(&index, queries, &a.files.queries, |ix, q| {
        sweep(ix, &q, &truth, &template, &a.ef, a.threads, a.runs, &tick)
            .map_err(in_file(&a.files.queries))?
    });
    bar.finish_and_clear();
    let title = format!(
        "{} (k={k}, {} thread{})",
        a.files.index.display(),
        a.threads,
        if a.threads == 1 { "" } else { "s" }
    );
    write_outputs(&rows, a.csv.as_deref(), a.plot.as_deref(), &title)?;
    if a.json {
        super::print_json(&serde_json::json!({
            "index": a.files.index.display().to_string(),
            "queries": truth.len(),
            "k": k,
            "rerank": a.options.rerank,
            "allowed": allowed.as_ref().map(|s| s.len()),
            "threads": a.threads,
            "runs": a.runs,
            "rows": rows,
        }));
    } else {
        print!("{}", to_table(&rows));
    }
    Ok(())
}
