//! Exact k-nearest neighbours by brute force: the ground truth behind every recall figure.
//!
//! Blocked for the cache: queries are processed in groups of [`QUERY_BLOCK`], and the base in
//! blocks of [`BASE_BLOCK`] rows; every query of a group scans one base block (which stays in
//! L2) before the group moves on. Groups run in parallel with rayon. Each query keeps its best
//! k in a bounded max-heap; ties break by the smaller id, as in the TEXMEX ground truths.

use std::collections::BinaryHeap;

use geodex_distance::{Distance, Isa, Metric};
use rayon::prelude::*;

use crate::engine::Rows;
use crate::search::Space;
use crate::validate::check_and_prepare;
use crate::{Component, CoreError, Neighbor};

/// Queries per parallel task.
pub const QUERY_BLOCK: usize = 32;
/// Base rows scanned per block (128-d f32: 512 KiB).
pub const BASE_BLOCK: usize = 1024;

/// The exact `k` nearest rows of `base` to every row of `queries` (both row-major with `dim`
/// components), closest first, ties by smaller id. `k` above the base size returns the whole
/// base. Distances are [`Metric::reported_distance`]s. Both sets are validated like index input (and normalised under cosine).
/// `progress` is called with the number of queries finished.
pub fn exact_knn<T: Component>(
    base: &[T],
    queries: &[T],
    dim: usize,
    k: usize,
    metric: Metric,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<Vec<Neighbor>>, CoreError> {
    check_shapes(base, queries, dim, k)?;
    let mut base = base.to_vec();
    check_and_prepare(metric, dim, &mut base)?;
    exact_knn_prepared(&base, queries, dim, k, metric, progress)
}

/// [`exact_knn`] over a base that has already been through [`check_and_prepare`] under
/// `metric` (rows a binding stores prepared), scanned in place instead of copied; only the
/// queries are validated and prepared.
pub fn exact_knn_prepared<T: Component>(
    base: &[T],
    queries: &[T],
    dim: usize,
    k: usize,
    metric: Metric,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<Vec<Neighbor>>, CoreError> {
    check_shapes(base, queries, dim, k)?;
    let mut queries = queries.to_vec();
    check_and_prepare(metric, dim, &mut queries)?;
    let engine = crate::engine::engine::<T>(metric, Isa::detect())?;
    let mut found = engine.scan(
        Rows {
            vectors: base,
            dim,
            codes: None,
        },
        &queries,
        k,
        progress,
    );
    for n in found.iter_mut().flatten() {
        n.distance = metric.reported_distance(n.distance);
    }
    Ok(found)
}

/// Refuses k = 0, empty sets and lengths that are not whole rows.
fn check_shapes<T>(base: &[T], queries: &[T], dim: usize, k: usize) -> Result<(), CoreError> {
    if k == 0 {
        return Err(CoreError::InvalidParameter("k must be ≥ 1".into()));
    }
    if dim == 0 || base.is_empty() || queries.is_empty() {
        return Err(CoreError::Empty);
    }
    for (len, what) in [(base.len(), "base"), (queries.len(), "queries")] {
        if len % dim != 0 {
            return Err(CoreError::InvalidParameter(format!(
                "{what}: {len} components is not a multiple of dimension {dim}"
            )));
        }
    }
    Ok(())
}

/// The blocked scan behind [`exact_knn`], with the kernel bound: the `k` nearest rows of
/// `space` to each row of `queries` by the kernel's distances.
pub(crate) fn scan<T: Sync, D: Distance<T>>(
    space: &Space<'_, T, D>,
    queries: &[T],
    k: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Vec<Vec<Neighbor>> {
    let (dim, base, dist) = (space.dim, space.vectors, space.dist);
    let k = k.min(base.len() / dim);
    let done = std::sync::atomic::AtomicUsize::new(0);
    queries
        .par_chunks(QUERY_BLOCK * dim)
        .flat_map_iter(|group| {
            let mut heaps: Vec<BinaryHeap<Neighbor>> = (0..group.len() / dim)
                .map(|_| BinaryHeap::with_capacity(k + 1))
                .collect();
            for (b, block) in base.chunks(BASE_BLOCK * dim).enumerate() {
                for (q, heap) in group.chunks_exact(dim).zip(heaps.iter_mut()) {
                    for (j, row) in block.chunks_exact(dim).enumerate() {
                        let cand = Neighbor::new((b * BASE_BLOCK + j) as u32, dist.distance(q, row));
                        if heap.len() < k {
                            heap.push(cand);
                        } else if cand < *heap.peek().expect("k ≥ 1") {
                            heap.pop();
                            heap.push(cand);
                        }
                    }
                }
            }
            let finished = done.fetch_add(heaps.len(), std::sync::atomic::Ordering::Relaxed) + heaps.len();
            progress(finished);
            heaps.into_iter().map(BinaryHeap::into_sorted_vec)
        })
        .collect()
}
