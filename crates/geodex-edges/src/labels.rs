//! The training signal: candidate edges labelled by whether search paths use them.
//!
//! Greedy search is not differentiable, so the scorer learns from a surrogate (issue 18 item 3):
//! 1. Every node's candidate list: its `width` nearest nodes, found by searching a heuristic
//!    index for the node's own vector (the lists an insertion sees, up to the walk's misses).
//! 2. A *union graph*: on level 0 each node links to its heuristic links and its whole candidate
//!    list, so every candidate edge is available to the walk, not only those the heuristic kept.
//! 3. Each training query walks the union graph (greedy descent on the index's upper levels,
//!    then a beam of width `ef` on level 0), remembering which node first reached each node.
//! 4. From every true neighbour the walk found, the chain of first-reachers back to the entry is
//!    a path the query used: its edges are positive. The other candidates of each node on such
//!    a path were offered to the walk there and not needed: negative.
//!
//! So a positive edge (the *path* label) is one a real query routed through when every
//! candidate was there to choose from.
//! 5. The queries whose paths leave a node are its *demands*; their dissimilarities to the node
//!    and to each candidate give the *progress* label ([`Example::progress`]), which depends on
//!    the links kept before a candidate and so is evaluated during each roll-out.
//!
//! Training queries are never the test queries (the caller's responsibility: the CLI takes
//! them from a separate file).

use std::collections::{HashMap, HashSet};

use geodex_core::{Component, GraphView, Index, Metric, NodeId, SearchContext, SearchParams};
use rayon::prelude::*;

use crate::EdgesError;

/// One node's candidate list with its labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    /// The base node b.
    pub node: u32,
    /// Candidates, closest first (b excluded).
    pub candidates: Vec<u32>,
    /// e(b, candidate), ascending (squared-like dissimilarity, `geodex_core::edges`).
    pub e_b: Vec<f32>,
    /// Whether some training query's path used the edge b → candidate.
    pub positive: Vec<bool>,
    /// The demands on b: for each training query whose path left b (at most
    /// [`MAX_DEMANDS`]), e(q, candidate i) for every i, then e(q, b) — rows of
    /// `candidates.len() + 1`.
    pub demand_e: Vec<f32>,
}

/// Demands kept per node (the first queries by index).
pub const MAX_DEMANDS: usize = 16;

impl Example {
    /// Number of demands.
    pub fn demands(&self) -> usize {
        self.demand_e.len() / (self.candidates.len() + 1)
    }

    /// Demand `d`'s row: e(q, candidate i) for every i, then e(q, b).
    pub fn demand(&self, d: usize) -> &[f32] {
        let w = self.candidates.len() + 1;
        &self.demand_e[d * w..][..w]
    }

    /// The *progress* label of candidate `i` given the links `kept` before it (issue 18's
    /// surrogate, in a conditional form): some demand q is closer to i than to b and to every
    /// kept link — i wins a comparison for a real query that nothing kept wins. Unlike the path
    /// label it depends on what was kept, so it can reward a link for covering a direction the
    /// others miss; and it follows the queries rather than the data (the idea of query-aware
    /// graphs, RoarGraph, VLDB 2024).
    pub fn progress(&self, i: usize, kept: &[usize]) -> bool {
        (0..self.demands()).any(|d| {
            let row = self.demand(d);
            let via_i = row[i];
            via_i < row[row.len() - 1] && kept.iter().all(|&r| via_i < row[r])
        })
    }

    /// Share of the demands whose best candidate (the closest to the query) is in `kept`.
    pub fn coverage(&self, kept: &[usize]) -> (usize, usize) {
        let covered = (0..self.demands())
            .filter(|&d| {
                let row = &self.demand(d)[..self.candidates.len()];
                let best = (0..row.len()).min_by(|&a, &b| row[a].total_cmp(&row[b]));
                best.is_some_and(|b| kept.contains(&b))
            })
            .count();
        (covered, self.demands())
    }
}

/// The squared-like dissimilarity e of two stored (prepared) vectors, in f64: ‖a−b‖² under L2,
/// 1 − ⟨a,b⟩ under cosine (unit vectors), δ = ‖a−b‖²/((1−‖a‖²)(1−‖b‖²)) under Poincaré — the
/// kernel values of `geodex_distance` (up to rounding), which the build's rules compare.
pub fn squared_like<T: Component>(metric: Metric, a: &[T], b: &[T]) -> f32 {
    let (mut dd, mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x.to_f32() as f64, y.to_f32() as f64);
        dd += (x - y) * (x - y);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    let e = match metric {
        Metric::L2 => dd,
        Metric::Cosine => 1.0 - ab,
        Metric::Poincare => dd / ((1.0 - aa) * (1.0 - bb)),
        Metric::InnerProduct => -ab,
    };
    e.max(0.0) as f32
}

/// Every node's `width` nearest other nodes, closest first, by searching `index` (beam `ef`) for
/// the node's own vector. Node ids are rows (the index's default keys).
pub fn candidate_lists<T: Component>(
    index: &Index<T>,
    width: usize,
    ef: usize,
) -> Result<Vec<Vec<(u32, f32)>>, EdgesError> {
    let metric = index.metric();
    (0..index.len() as u32)
        .into_par_iter()
        .map_init(SearchContext::new, |ctx, b| {
            let v = index.vector(NodeId(b));
            let params = SearchParams::new(width + 1, ef.max(width + 1));
            let (hits, _) = index.search(v, &params, ctx)?;
            let mut list: Vec<(u32, f32)> = hits
                .iter()
                .map(|h| h.key.0 as u32)
                .filter(|&c| c != b)
                .map(|c| (c, squared_like(metric, v, index.vector(NodeId(c)))))
                .collect();
            list.sort_by(|x, y| x.1.total_cmp(&y.1).then(x.0.cmp(&y.0)));
            list.truncate(width);
            Ok(list)
        })
        .collect()
}

/// Labels candidate edges by the paths of `queries` (prepared rows: unit length under cosine)
/// to their true neighbours `truth` (rows, best first; the first `k` count) on the union graph.
pub fn path_labels<T: Component>(
    index: &Index<T>,
    lists: &[Vec<(u32, f32)>],
    queries: &[T],
    truth: &[Vec<u64>],
    k: usize,
    ef: usize,
) -> Vec<Example> {
    let dim = index.dim();
    let metric = index.metric();
    let used: Vec<Vec<(u32, u32)>> = queries
        .par_chunks(dim)
        .zip(truth)
        .map(|(q, t)| {
            let walk = union_walk(index, lists, q, ef);
            let mut edges = Vec::new();
            for &target in t.iter().take(k) {
                let mut child = target as u32;
                while let Some(&parent) = walk.get(&child) {
                    edges.push((parent, child));
                    child = parent;
                }
            }
            edges
        })
        .collect();
    let mut positive: HashMap<u32, HashSet<u32>> = HashMap::new();
    let mut demands: HashMap<u32, Vec<usize>> = HashMap::new();
    for (q, edges) in used.into_iter().enumerate() {
        for (parent, child) in edges {
            positive.entry(parent).or_default().insert(child);
            let on_b = demands.entry(parent).or_default();
            if on_b.last() != Some(&q) && on_b.len() < MAX_DEMANDS && !on_b.contains(&q) {
                on_b.push(q);
            }
        }
    }
    let mut nodes: Vec<u32> = positive.keys().copied().collect();
    nodes.sort_unstable();
    nodes
        .into_par_iter()
        .map(|b| {
            let list = &lists[b as usize];
            let used = &positive[&b];
            let mut demand_e = Vec::new();
            for &q in &demands[&b] {
                let qv = &queries[q * dim..][..dim];
                demand_e.extend(
                    list.iter()
                        .map(|c| squared_like(metric, qv, index.vector(NodeId(c.0)))),
                );
                demand_e.push(squared_like(metric, qv, index.vector(NodeId(b))));
            }
            Example {
                node: b,
                candidates: list.iter().map(|c| c.0).collect(),
                e_b: list.iter().map(|c| c.1).collect(),
                positive: list.iter().map(|c| used.contains(&c.0)).collect(),
                demand_e,
            }
        })
        .filter(|ex| ex.positive.iter().any(|&p| p))
        .collect()
}

/// The beam search of one query on the union graph (heuristic links ∪ candidate list on level
/// 0); returns, for each node reached other than the entry, the node whose expansion first
/// reached it.
fn union_walk<T: Component>(
    index: &Index<T>,
    lists: &[Vec<(u32, f32)>],
    q: &[T],
    ef: usize,
) -> HashMap<u32, u32> {
    let g = index.graph();
    let walk = crate::walk::beam(index, q, ef, |b, visit| {
        g.links(b, 0).iter().for_each(|&n| visit(n));
        lists[b as usize].iter().for_each(|c| visit(c.0));
    });
    walk.first_reacher
}
