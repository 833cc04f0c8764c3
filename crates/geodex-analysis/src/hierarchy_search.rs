//! HNSW search over an embedded hierarchy (HYPERBOLIC.md): an index built over the embedding
//! against exact search in the same geometry, per beam width — recall, recall by distance (ties
//! counted as hits), the hierarchy task (how many of a node's k nearest are its ancestors or
//! descendants) and the distance evaluations each costs. `geodex embed-eval --ef` prints it.

use std::time::Instant;

use geodex_core::auto_m::{AutoM, AutoMReport, MChoice};
use geodex_core::exact::exact_knn;
use geodex_core::{BuildParams, CoreError, Index, Metric, SearchContext, SearchParams};
use geodex_embed::eval::{hierarchy_precision, sample_nodes};
use geodex_embed::Hierarchy;
use serde::Serialize;

/// Relative slack of [`EfRow::recall_by_distance`]: the one `--m auto`'s probe uses.
pub use geodex_core::auto_m::TIE_TOLERANCE;

/// Seed of the query-node sample.
const QUERY_SAMPLE_SEED: u64 = 0x5EA4;

/// What to build and how to search it.
#[derive(Clone, Debug)]
pub struct HierarchySearchOptions {
    /// Poincaré for hyperbolic models, L2 for Euclidean ones.
    pub metric: Metric,
    /// Neighbours per query node (the node itself excluded).
    pub k: usize,
    /// Query nodes: a seeded sample of this many, or every node (`None`).
    pub queries: Option<usize>,
    /// M of the index: fixed, or chosen by the recall probe of [`AutoM::default`].
    pub m: MChoice,
    /// ef_construction of the index.
    pub ef_construction: usize,
    /// Build threads (`None`: all cores); searches run on the calling thread.
    pub threads: Option<usize>,
    /// Beam widths to measure.
    pub efs: Vec<usize>,
}

/// One beam width's measurements, averaged over the query nodes.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct EfRow {
    /// The beam width asked for (searches use max(ef, k + 1)).
    pub ef: usize,
    /// recall@k against exact search in the same geometry.
    pub recall: f64,
    /// recall@k where a result within [`TIE_TOLERANCE`] of the true k-th distance counts.
    pub recall_by_distance: f64,
    /// Share of the k found that are ancestors or descendants of the query node.
    pub hierarchy_precision: f64,
    /// Distance evaluations per query.
    pub mean_distances: f64,
    /// Queries per second on one thread.
    pub qps: f64,
}

/// The search evaluation of an embedding.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct HierarchySearch {
    /// Query nodes measured.
    pub queries: usize,
    /// Seconds to build the index (every build `--m auto` tried).
    pub build_seconds: f64,
    /// M of the index measured.
    pub m: usize,
    /// What `--m auto` tried, when it chose M.
    pub auto_m: Option<AutoMReport>,
    /// The hierarchy precision of exact k-NN: the ceiling any index can reach.
    pub exact_hierarchy_precision: f64,
    /// One row per beam width, in the order asked.
    pub by_ef: Vec<EfRow>,
}

/// Builds an HNSW index over `vectors` (one `dim`-row per node of `hierarchy`, in node order)
/// and measures it against exact search from each query node.
pub fn hierarchy_search(
    hierarchy: &Hierarchy,
    vectors: Vec<f32>,
    dim: usize,
    opts: &HierarchySearchOptions,
) -> Result<HierarchySearch, CoreError> {
    let n = hierarchy.len();
    if opts.k == 0 || opts.k >= n {
        return Err(CoreError::InvalidParameter(format!("k must be in 1..{n}")));
    }
    if dim == 0 || vectors.len() != n * dim {
        return Err(CoreError::InvalidParameter(format!(
            "{} values for {n} nodes of dimension {dim}",
            vectors.len()
        )));
    }
    let nodes = sample_nodes(n, opts.queries, QUERY_SAMPLE_SEED);
    let queries: Vec<f32> = nodes
        .iter()
        .flat_map(|&u| vectors[u as usize * dim..][..dim].iter().copied())
        .collect();
    let exact = exact_neighbours(&vectors, &queries, &nodes, dim, opts)?;
    let exact_hierarchy_precision = mean(
        nodes
            .iter()
            .zip(&exact)
            .map(|(&u, truth)| hierarchy_precision(hierarchy, u, &truth.ids)),
    );
    let params = BuildParams {
        metric: opts.metric,
        ef_construction: opts.ef_construction,
        threads: opts.threads,
        ..BuildParams::default()
    };
    let start = Instant::now();
    let (index, auto_m) = Index::build_with_m(vectors, dim, &params, opts.m, &AutoM::default(), &|_| {})?;
    let build_seconds = start.elapsed().as_secs_f64();
    let by_ef = opts
        .efs
        .iter()
        .map(|&ef| measure_ef(&index, hierarchy, &queries, &nodes, &exact, ef, opts.k))
        .collect::<Result<_, _>>()?;
    Ok(HierarchySearch {
        queries: nodes.len(),
        build_seconds,
        m: index.info().m,
        auto_m,
        exact_hierarchy_precision,
        by_ef,
    })
}

/// A query node's true neighbours (itself excluded) and the k-th true distance.
struct Truth {
    ids: Vec<u32>,
    kth: f32,
}

/// k + 1 exact neighbours per query node, then the node itself dropped: a node is not its own
/// neighbour.
fn exact_neighbours(
    vectors: &[f32],
    queries: &[f32],
    nodes: &[u32],
    dim: usize,
    opts: &HierarchySearchOptions,
) -> Result<Vec<Truth>, CoreError> {
    Ok(
        exact_knn(vectors, queries, dim, opts.k + 1, opts.metric, &|_| {})?
            .into_iter()
            .zip(nodes)
            .map(|(found, &u)| {
                let kept: Vec<_> = found.into_iter().filter(|n| n.id != u).take(opts.k).collect();
                Truth {
                    kth: kept.last().map_or(0.0, |n| n.distance),
                    ids: kept.into_iter().map(|n| n.id).collect(),
                }
            })
            .collect(),
    )
}

/// One beam width over every query node, timed on the calling thread.
fn measure_ef(
    index: &Index<f32>,
    hierarchy: &Hierarchy,
    queries: &[f32],
    nodes: &[u32],
    exact: &[Truth],
    ef: usize,
    k: usize,
) -> Result<EfRow, CoreError> {
    let dim = index.dim();
    let search = SearchParams::new(k + 1, ef.max(k + 1));
    let mut ctx = SearchContext::default();
    let (mut recall, mut tie_recall, mut precision, mut distances) = (0.0, 0.0, 0.0, 0u64);
    let start = Instant::now();
    for (q, (&u, truth)) in queries.chunks_exact(dim).zip(nodes.iter().zip(exact)) {
        let (hits, stats) = index.search(q, &search, &mut ctx)?;
        let found: Vec<_> = hits.iter().filter(|h| h.node.0 != u).take(k).collect();
        let ids: Vec<u32> = found.iter().map(|h| h.node.0).collect();
        let wanted = truth.ids.len().max(1) as f64;
        recall += ids.iter().filter(|f| truth.ids.contains(f)).count() as f64 / wanted;
        let within = found
            .iter()
            .filter(|h| h.distance <= truth.kth * (1.0 + TIE_TOLERANCE))
            .count();
        tie_recall += within as f64 / wanted;
        precision += hierarchy_precision(hierarchy, u, &ids);
        distances += stats.distances;
    }
    let seconds = start.elapsed().as_secs_f64();
    let q = nodes.len().max(1) as f64;
    Ok(EfRow {
        ef,
        recall: recall / q,
        recall_by_distance: tie_recall / q,
        hierarchy_precision: precision / q,
        mean_distances: distances as f64 / q,
        qps: q / seconds,
    })
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, count) = values.fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
    sum / count.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A root, 4 children around it, 6 grandchildren around each child: names, closure
    /// pairs (child, ancestor) and a Euclidean embedding in the plane.
    fn tree() -> (Hierarchy, Vec<f32>) {
        let mut pairs = Vec::new();
        let mut points = vec![[0f32, 0.0]];
        for c in 0..4u32 {
            let child = 1 + c;
            // Distinct radii: no two distances from the root tie.
            let (a, r) = (c as f32 * std::f32::consts::FRAC_PI_2, 1.0 + 0.1 * c as f32);
            let centre = [r * a.cos(), r * a.sin()];
            points.push(centre);
            pairs.push((child, 0));
            for g in 0..6u32 {
                let grandchild = 5 + c * 6 + g;
                let b = g as f32 * 1.047 + 0.1 * c as f32;
                points.push([centre[0] + 0.3 * b.cos(), centre[1] + 0.3 * b.sin()]);
                pairs.extend([(grandchild, child), (grandchild, 0)]);
            }
        }
        let names = (0..points.len()).map(|i| format!("n{i}")).collect();
        (Hierarchy::from_pairs(names, pairs), points.concat())
    }

    #[test]
    fn a_beam_wider_than_the_graph_is_exact_and_its_hierarchy_precision_is_brute_forces() {
        let (h, vectors) = tree();
        let (n, k) = (h.len(), 3);
        // Brute force: each node's k nearest others, and the share related to it.
        let d = |a: usize, b: usize| {
            (vectors[2 * a] - vectors[2 * b]).powi(2) + (vectors[2 * a + 1] - vectors[2 * b + 1]).powi(2)
        };
        let brute: f64 = (0..n)
            .map(|u| {
                let mut others: Vec<usize> = (0..n).filter(|&v| v != u).collect();
                others.sort_by(|&x, &y| d(u, x).total_cmp(&d(u, y)));
                let related = others[..k]
                    .iter()
                    .filter(|&&v| h.related(u as u32, v as u32))
                    .count();
                related as f64 / k as f64
            })
            .sum::<f64>()
            / n as f64;
        let opts = HierarchySearchOptions {
            metric: Metric::L2,
            k,
            queries: None,
            m: MChoice::Fixed(4),
            ef_construction: 40,
            threads: Some(1),
            efs: vec![4, 64],
        };
        let got = hierarchy_search(&h, vectors.clone(), 2, &opts).expect("measured");
        assert_eq!(got.queries, n);
        assert!((got.exact_hierarchy_precision - brute).abs() < 1e-12);
        let wide = &got.by_ef[1];
        assert_eq!(wide.recall, 1.0);
        assert_eq!(wide.recall_by_distance, 1.0);
        assert!((wide.hierarchy_precision - brute).abs() < 1e-12);
        assert!(got.by_ef[0].mean_distances <= wide.mean_distances);
        assert!(hierarchy_search(&h, vectors, 2, &HierarchySearchOptions { k: n, ..opts }).is_err());
    }
}
