//! Running a set of queries under one stopping rule, untimed: per-query recall@k and distance
//! evaluations, what calibration and the oracle need. Timed runs are `geodex bench
//! --target-recall` (`geodex_core::measure::sweep_settings`).

use geodex_core::measure::for_each_query;
use geodex_core::{Component, CoreError, Index, Key, SearchContext, SearchParams, StopRule};

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
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Outcome {
    /// Recall@k.
    pub recall: f64,
    /// Distance evaluations of the walk.
    pub distances: u64,
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
        })
    })
}

/// Mean recall of outcomes.
pub fn mean_recall(outcomes: &[Outcome]) -> f64 {
    outcomes.iter().map(|o| o.recall).sum::<f64>() / outcomes.len().max(1) as f64
}

/// Mean distance evaluations of the outcomes (0 for none).
pub fn mean_distances(outcomes: &[Outcome]) -> f64 {
    outcomes.iter().map(|o| o.distances as f64).sum::<f64>() / outcomes.len().max(1) as f64
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
