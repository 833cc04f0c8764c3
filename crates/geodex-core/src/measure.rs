//! Measuring an index the way `geodex bench` reports it: recall@k against ground truth, and a
//! timed sweep over the beam width (queries per second, work per query, latency percentiles).
//! It lives here rather than in the CLI so that every front end — the `geodex` binary, the
//! Python package, the server — measures with the same code. Also the one parallel query loop
//! and the one way to make a thread pool.

use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use crate::{CoreError, Hit, Index, SearchContext, SearchParams, SearchStats};

/// A rayon pool of `threads` workers (`None`: one per core).
pub fn thread_pool(threads: Option<usize>) -> Result<rayon::ThreadPool, CoreError> {
    if threads == Some(0) {
        return Err(CoreError::InvalidParameter("threads must be ≥ 1".into()));
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .map_err(|e| CoreError::InvalidParameter(format!("cannot start {threads:?} threads: {e}")))
}

/// Runs `one(state, i)` for every query `i < rows` on `pool` (`None`: the current rayon pool),
/// one `state` (made by `init`) per worker; results in query order, the first error returned.
/// A pool of one thread is a plain loop on the calling thread: no task splitting, and the
/// thread that read the queries keeps its warm caches (measured: a one-thread pool's worker
/// was up to 25 % slower on the first timed pass over SIFT).
pub fn for_each_query<S, R: Send>(
    pool: Option<&rayon::ThreadPool>,
    rows: usize,
    init: impl Fn() -> S + Sync + Send,
    one: impl Fn(&mut S, usize) -> Result<R, CoreError> + Sync + Send,
) -> Result<Vec<R>, CoreError> {
    let threads = pool.map_or_else(rayon::current_num_threads, rayon::ThreadPool::current_num_threads);
    if threads == 1 {
        let mut state = init();
        return (0..rows).map(|i| one(&mut state, i)).collect();
    }
    let all = || (0..rows).into_par_iter().map_init(&init, &one).collect();
    match pool {
        Some(pool) => pool.install(all),
        None => all(),
    }
}

/// recall@k = |returned ∩ true top-k| / k, averaged over queries (ARCHITECTURE.md §5). Only
/// the first k ids of each row of `truth` count, and only the first k returned.
pub fn recall_at_k<I: PartialEq>(found: &[Vec<I>], truth: &[Vec<I>], k: usize) -> f64 {
    if found.is_empty() || k == 0 {
        return 0.0;
    }
    let hits: usize = found
        .iter()
        .zip(truth)
        .map(|(f, t)| {
            let t = &t[..k.min(t.len())];
            f.iter().take(k).filter(|id| t.contains(id)).count()
        })
        .sum();
    hits as f64 / (k * found.len()) as f64
}

/// One row of a sweep: what `geodex bench` prints per ef.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SweepRow {
    /// The beam width asked for (the search used max(ef, k)).
    pub ef: usize,
    /// Mean recall@k.
    pub recall: f64,
    /// Queries per second of the fastest run.
    pub qps: f64,
    /// Distance evaluations per query.
    pub mean_distances: f64,
    /// Hops (expanded nodes) per query.
    pub mean_hops: f64,
    /// Median latency of one query, µs.
    pub p50_us: f64,
    /// 99th-percentile latency, µs.
    pub p99_us: f64,
    /// Share of queries a filter sent to the exact scan (0 without a filter).
    pub exact_share: f64,
    /// 99th-percentile distance evaluations of one query.
    pub p99_distances: f64,
    /// Share of queries whose recall@k is below 0.8.
    pub below_08: f64,
    /// Candidates re-ranked with exact distances per query (a quantised index's `--rerank` or
    /// `--rerank-bound`, a byte walk's beam).
    pub mean_reranked: f64,
}

/// How to sweep: beam widths, threads, timed runs per width (the fastest is reported, as
/// ann-benchmarks reports its best of N).
#[derive(Clone, Debug)]
pub struct SweepPlan<'a> {
    /// Beam widths, in the order to run them.
    pub efs: &'a [usize],
    /// Search threads; each issues its share of the queries one at a time.
    pub threads: usize,
    /// Timed passes per beam width (≥ 1).
    pub runs: usize,
}

/// Searches every query of `queries` (row-major) with `template` at each ef of the plan, one
/// query at a time per thread, and compares the keys found with `truth` (keys, first k per
/// row). `tick` is called after each timed pass.
pub fn sweep<T: crate::Component>(
    index: &Index<T>,
    queries: &[T],
    truth: &[Vec<u64>],
    template: &SearchParams<'_>,
    plan: &SweepPlan<'_>,
    tick: &(dyn Fn() + Sync),
) -> Result<Vec<SweepRow>, CoreError> {
    let settings: Vec<SearchParams<'_>> = plan
        .efs
        .iter()
        .map(|&ef| SearchParams {
            ef: ef.max(template.k),
            ..*template
        })
        .collect();
    let mut out = sweep_settings(index, queries, truth, &settings, plan, tick)?;
    for (row, &ef) in out.iter_mut().zip(plan.efs) {
        row.ef = ef;
    }
    Ok(out)
}

/// [`sweep`] over explicit search settings (`plan.efs` unused): one row per setting, in order,
/// its `ef` the setting's. What `geodex bench --target-recall` runs, one setting per target.
pub fn sweep_settings<T: crate::Component>(
    index: &Index<T>,
    queries: &[T],
    truth: &[Vec<u64>],
    settings: &[SearchParams<'_>],
    plan: &SweepPlan<'_>,
    tick: &(dyn Fn() + Sync),
) -> Result<Vec<SweepRow>, CoreError> {
    let rows = crate::index::rows_of(index.dim(), queries.len())?;
    if truth.len() != rows || plan.runs == 0 || plan.threads == 0 {
        return Err(CoreError::InvalidParameter(format!(
            "{} rows of ground truth for {rows} queries, {} runs, {} threads",
            truth.len(),
            plan.runs,
            plan.threads
        )));
    }
    let pool = thread_pool(Some(plan.threads))?;
    let mut out = Vec::with_capacity(settings.len());
    for params in settings {
        let mut best: Option<Pass> = None;
        for _ in 0..plan.runs {
            let pass = timed_pass(index, queries, params, &pool)?;
            if best.as_ref().is_none_or(|b| pass.seconds < b.seconds) {
                best = Some(pass);
            }
            tick();
        }
        let mut pass = best.expect("runs ≥ 1");
        let nq = rows as f64;
        pass.latencies_us.sort_by(f64::total_cmp);
        pass.distances.sort_by(f64::total_cmp);
        let below = (0..rows)
            .filter(|&i| recall_at_k(&pass.keys[i..=i], &truth[i..=i], params.k) < 0.8)
            .count();
        out.push(SweepRow {
            ef: params.ef,
            recall: recall_at_k(&pass.keys, truth, params.k),
            qps: nq / pass.seconds,
            mean_distances: pass.stats.distances as f64 / nq,
            mean_hops: pass.stats.hops as f64 / nq,
            mean_reranked: pass.stats.reranked as f64 / nq,
            p50_us: percentile(&pass.latencies_us, 50.0),
            p99_us: percentile(&pass.latencies_us, 99.0),
            exact_share: pass.stats.exact_scans as f64 / nq,
            p99_distances: percentile(&pass.distances, 99.0),
            below_08: below as f64 / nq,
        });
    }
    Ok(out)
}

/// One timed pass: keys found, total work, per-query latency (µs) and wall seconds.
struct Pass {
    keys: Vec<Vec<u64>>,
    stats: SearchStats,
    latencies_us: Vec<f64>,
    /// Distance evaluations per query.
    distances: Vec<f64>,
    seconds: f64,
}

fn timed_pass<T: crate::Component>(
    index: &Index<T>,
    queries: &[T],
    params: &SearchParams<'_>,
    pool: &rayon::ThreadPool,
) -> Result<Pass, CoreError> {
    let dim = index.dim();
    let start = Instant::now();
    let per_query = for_each_query(
        Some(pool),
        queries.len() / dim,
        || (SearchContext::new(), Vec::<Hit>::new()),
        |(ctx, out), i| {
            let t = Instant::now();
            let stats = index
                .search_into(&queries[i * dim..][..dim], params, ctx, out)
                .map_err(|e| e.at_row(i))?;
            let us = t.elapsed().as_secs_f64() * 1e6;
            Ok((out.iter().map(|h| h.key.0).collect::<Vec<u64>>(), stats, us))
        },
    )?;
    let seconds = start.elapsed().as_secs_f64();
    let mut pass = Pass {
        keys: Vec::with_capacity(per_query.len()),
        stats: SearchStats::default(),
        latencies_us: Vec::with_capacity(per_query.len()),
        distances: Vec::with_capacity(per_query.len()),
        seconds,
    };
    for (keys, stats, us) in per_query {
        pass.keys.push(keys);
        pass.distances.push(stats.distances as f64);
        pass.stats += stats;
        pass.latencies_us.push(us);
    }
    Ok(pass)
}

/// The nearest-rank percentile `p` (0–100] of an ascending, non-empty slice.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recall_counts_the_overlap_with_the_first_k_true_ids() {
        let truth = vec![vec![1u64, 2, 3, 9], vec![4, 5, 6, 9]];
        let found = vec![vec![3u64, 9, 1], vec![7, 8, 4]];
        // Row 0: {3, 1} of {1, 2, 3}; row 1: {4} of {4, 5, 6}; 9 is past k in both truths.
        assert_eq!(recall_at_k(&found, &truth, 3), 3.0 / 6.0);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
    }
}
