//! Running a set of queries under one stopping rule and measuring what issue 17 reports: mean
//! recall@k, mean and p99 distance evaluations and latency, and the share of queries below
//! recall 0.8.

use std::time::Instant;

use geodex_core::measure::{for_each_query, percentile};
use geodex_core::{Component, CoreError, Index, Key, SearchContext, SearchParams, StopRule};
use serde::Serialize;

/// Queries with their true nearest keys.
#[derive(Clone, Copy)]
pub struct Workload<'a, T> {
    /// Row-major query vectors.
    pub queries: &'a [T],
    /// Each query's true nearest keys, closest first (at least k of them).
    pub truth: &'a [Vec<u64>],
    /// Results per query.
    pub k: usize,
}

impl<'a, T> Workload<'a, T> {
    /// Number of queries.
    pub fn len(&self) -> usize {
        self.truth.len()
    }

    /// Whether there are no queries.
    pub fn is_empty(&self) -> bool {
        self.truth.is_empty()
    }

    /// The queries at positions `rows` (a copy).
    pub fn select(&self, dim: usize, rows: &[usize]) -> (Vec<T>, Vec<Vec<u64>>)
    where
        T: Copy,
    {
        let q = rows
            .iter()
            .flat_map(|&r| &self.queries[r * dim..][..dim])
            .copied();
        (q.collect(), rows.iter().map(|&r| self.truth[r].clone()).collect())
    }
}

/// Recall@k of `found` keys against the first k of `truth`.
pub fn recall(found: impl IntoIterator<Item = u64>, truth: &[u64], k: usize) -> f64 {
    let truth = &truth[..k.min(truth.len())];
    let hits = found
        .into_iter()
        .take(k)
        .filter(|key| truth.contains(key))
        .count();
    hits as f64 / k as f64
}

/// One query's outcome.
#[derive(Clone, Copy, Debug, Default)]
pub struct Outcome {
    /// Recall@k.
    pub recall: f64,
    /// Distance evaluations of the walk.
    pub distances: u64,
    /// Wall time in microseconds (0 when not timed).
    pub micros: f64,
}

/// How a rule did on a workload.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Evaluation {
    /// Mean recall@k.
    pub mean_recall: f64,
    /// Mean distance evaluations per query.
    pub mean_distances: f64,
    /// 99th-percentile distance evaluations.
    pub p99_distances: f64,
    /// Mean latency (µs), one thread.
    pub mean_micros: f64,
    /// 99th-percentile latency (µs).
    pub p99_micros: f64,
    /// Share of queries with recall@k below 0.8.
    pub share_below_08: f64,
}

impl Evaluation {
    /// Summarises per-query outcomes.
    pub fn of(outcomes: &[Outcome]) -> Evaluation {
        let n = outcomes.len().max(1) as f64;
        let sorted = |f: fn(&Outcome) -> f64| {
            let mut v: Vec<f64> = outcomes.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            v
        };
        let dist = sorted(|o| o.distances as f64);
        let micros = sorted(|o| o.micros);
        Evaluation {
            mean_recall: outcomes.iter().map(|o| o.recall).sum::<f64>() / n,
            mean_distances: dist.iter().sum::<f64>() / n,
            p99_distances: percentile(&dist, 99.0),
            mean_micros: micros.iter().sum::<f64>() / n,
            p99_micros: percentile(&micros, 99.0),
            share_below_08: outcomes.iter().filter(|o| o.recall < 0.8).count() as f64 / n,
        }
    }
}

/// Searches every query with `rule` (or beam width `ef` when `rule` is `None`) on the current
/// rayon pool, untimed; outcomes in query order.
pub fn outcomes<T: Component>(
    index: &Index<T>,
    w: &Workload<'_, T>,
    ef: usize,
    rule: Option<&StopRule<'_>>,
) -> Result<Vec<Outcome>, CoreError> {
    let dim = index.dim();
    let params = SearchParams {
        stop: rule,
        ..SearchParams::new(w.k, ef.max(w.k))
    };
    for_each_query(None, w.len(), SearchContext::new, |ctx, i| {
        let (hits, stats) = index.search(&w.queries[i * dim..][..dim], &params, ctx)?;
        Ok(Outcome {
            recall: recall(hits.iter().map(|h| h.key.0), &w.truth[i], w.k),
            distances: stats.distances,
            micros: 0.0,
        })
    })
}

/// [`outcomes`] on the calling thread, each query timed (`passes` passes, the fastest time of
/// each query kept, so that one pass's noise does not count).
pub fn timed<T: Component>(
    index: &Index<T>,
    w: &Workload<'_, T>,
    ef: usize,
    rule: Option<&StopRule<'_>>,
    passes: usize,
) -> Result<Vec<Outcome>, CoreError> {
    let dim = index.dim();
    let params = SearchParams {
        stop: rule,
        ..SearchParams::new(w.k, ef.max(w.k))
    };
    let mut ctx = SearchContext::new();
    let mut out = Vec::with_capacity(w.k);
    let mut best = vec![f64::INFINITY; w.len()];
    let mut result = Vec::with_capacity(w.len());
    for pass in 0..passes.max(1) {
        for (i, slot) in best.iter_mut().enumerate() {
            let q = &w.queries[i * dim..][..dim];
            let start = Instant::now();
            let stats = index.search_into(q, &params, &mut ctx, &mut out)?;
            *slot = slot.min(start.elapsed().as_secs_f64() * 1e6);
            if pass == 0 {
                result.push(Outcome {
                    recall: recall(out.iter().map(|h| h.key.0), &w.truth[i], w.k),
                    distances: stats.distances,
                    micros: 0.0,
                });
            }
        }
    }
    for (o, m) in result.iter_mut().zip(best) {
        o.micros = m;
    }
    Ok(result)
}

/// Mean recall of outcomes.
pub fn mean_recall(outcomes: &[Outcome]) -> f64 {
    outcomes.iter().map(|o| o.recall).sum::<f64>() / outcomes.len().max(1) as f64
}

/// The keys of node ids, for comparing a trace with ground truth.
pub(crate) fn keys_of<'a, T: Component>(
    index: &'a Index<T>,
    ids: &'a [u32],
) -> impl Iterator<Item = u64> + 'a {
    ids.iter()
        .filter(|&&id| id != u32::MAX)
        .map(|&id| index.key(geodex_core::NodeId(id)))
        .map(|Key(k)| k)
}
