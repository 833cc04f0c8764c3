//! Which queries are hard? Local intrinsic dimension (LID) of each query in the data, next to
//! the recall and the work its search needed at a fixed ef (THEORY.md §3.1: "intrinsic
//! dimension drives cost"). The LID is the Levina–Bickel MLE on the query's exact Euclidean
//! neighbours; recall@k is against exact neighbours under the index's own metric.

use geodex_core::exact::exact_knn;
use geodex_core::{Component, CoreError, Index, Metric, SearchContext, SearchParams};
use serde::Serialize;

use crate::geometry::{mle_lid, neighbour_distances, spearman};

/// Settings of [`query_hardness`].
#[derive(Clone, Copy, Debug)]
pub struct HardnessOptions {
    /// Neighbours searched for (recall@k).
    pub k: usize,
    /// Beam width of the searches.
    pub ef: usize,
    /// Neighbours of the LID estimate.
    pub lid_k: usize,
}

impl Default for HardnessOptions {
    fn default() -> Self {
        HardnessOptions {
            k: 10,
            ef: 32,
            lid_k: 20,
        }
    }
}

/// Per-query LID against recall and distance evaluations.
#[derive(Clone, Debug, Serialize)]
pub struct HardnessReport {
    /// Queries measured (those with a finite LID).
    pub queries: usize,
    /// recall@`k`.
    pub k: usize,
    /// Beam width.
    pub ef: usize,
    /// Neighbours of the LID estimate.
    pub lid_k: usize,
    /// Mean recall@k.
    pub mean_recall: f64,
    /// Mean LID of the queries.
    pub mean_lid: f64,
    /// Mean distance evaluations per search.
    pub mean_distances: f64,
    /// Mean hops (nodes expanded, all levels) per search.
    pub mean_hops: f64,
    /// Spearman correlation of LID with recall (negative: high-LID queries are harder).
    pub spearman_lid_recall: f64,
    /// Spearman correlation of LID with distance evaluations per query.
    pub spearman_lid_distances: f64,
    /// Per query: LID (not in the JSON summary; for plots and further analysis).
    #[serde(skip)]
    pub lid: Vec<f64>,
    /// Per query: recall@k.
    #[serde(skip)]
    pub recall: Vec<f64>,
    /// Per query: distance evaluations.
    #[serde(skip)]
    pub distances: Vec<u64>,
}

/// Rows as `f32`, each normalised to unit length when `metric` is cosine (as the index stores
/// them), so Euclidean distances are the ones the index's geometry has.
pub fn euclidean_rows<T: Component>(rows: &[T], dim: usize, metric: Metric) -> Vec<f32> {
    let mut out: Vec<f32> = rows.iter().map(|x| x.to_f32()).collect();
    if metric == Metric::Cosine {
        for row in out.chunks_mut(dim) {
            let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                row.iter_mut().for_each(|x| *x /= norm);
            }
        }
    }
    out
}

/// The index's stored vectors, row-major.
pub(crate) fn stored_rows<T: Component>(index: &Index<T>) -> Vec<T> {
    (0..index.len() as u32)
        .flat_map(|i| index.vector(geodex_core::NodeId(i)).iter().copied())
        .collect()
}

/// Node ids of the exact `k` nearest stored vectors to each query, under the index's metric.
pub fn exact_neighbours<T: Component>(
    index: &Index<T>,
    queries: &[T],
    k: usize,
) -> Result<Vec<Vec<u32>>, CoreError> {
    let knn = exact_knn(
        &stored_rows(index),
        queries,
        index.dim(),
        k,
        index.metric(),
        &|_| {},
    )?;
    Ok(knn
        .into_iter()
        .map(|hits| hits.into_iter().map(|h| h.id).collect())
        .collect())
}

/// The index's stored vectors as `f32` rows (normalised under cosine, as stored).
pub fn index_rows<T: Component>(index: &Index<T>) -> Vec<f32> {
    (0..index.len() as u32)
        .flat_map(|i| index.vector(geodex_core::NodeId(i)).iter().map(|x| x.to_f32()))
        .collect()
}

/// LID, recall and distance evaluations of every query in `queries` (row-major).
pub fn query_hardness<T: Component>(
    index: &Index<T>,
    queries: &[T],
    options: &HardnessOptions,
) -> Result<HardnessReport, CoreError> {
    let (dim, metric) = (index.dim(), index.metric());
    let base = stored_rows(index);
    let truth = exact_knn(&base, queries, dim, options.k, metric, &|_| {})?;
    let lid_dists = neighbour_distances(
        &euclidean_rows(&base, dim, metric),
        &euclidean_rows(queries, dim, metric),
        None,
        dim,
        options.lid_k,
    )?;
    let params = SearchParams::new(options.k, options.ef);
    let mut ctx = SearchContext::new();
    let (mut lid, mut recall, mut distances) = (Vec::new(), Vec::new(), Vec::new());
    let mut hops = 0u64;
    for ((q, true_hits), t) in queries.chunks(dim).zip(&truth).zip(&lid_dists) {
        let Some(l) = t
            .iter()
            .position(|&d| d > 0.0)
            .and_then(|first| mle_lid(&t[first..]))
        else {
            continue;
        };
        let (hits, stats) = index.search(q, &params, &mut ctx)?;
        let found = hits
            .iter()
            .filter(|h| true_hits.iter().any(|n| n.id as usize == h.node.index()))
            .count();
        lid.push(l);
        recall.push(found as f64 / true_hits.len().max(1) as f64);
        distances.push(stats.distances);
        hops += stats.hops;
    }
    let as_f64: Vec<f64> = distances.iter().map(|&d| d as f64).collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    Ok(HardnessReport {
        queries: lid.len(),
        k: options.k,
        ef: options.ef,
        lid_k: options.lid_k,
        mean_recall: mean(&recall),
        mean_lid: mean(&lid),
        mean_distances: mean(&as_f64),
        mean_hops: hops as f64 / lid.len().max(1) as f64,
        spearman_lid_recall: spearman(&lid, &recall),
        spearman_lid_distances: spearman(&lid, &as_f64),
        lid,
        recall,
        distances,
    })
}
