//! The search loop: greedy descent through the upper levels, then a beam search of width
//! `ef` on the target level (Malkov & Yashunin 2018, Alg. 2 SEARCH-LAYER and Alg. 5 K-NN-SEARCH).
//! Generic over the graph form and over [`QueryDistance`] — the distance from the query to a
//! stored node: an exact kernel over full vectors ([`Space::bind`]) or an asymmetric distance
//! over codes (`quantized.rs`) — so each combination is its own monomorphised loop. It counts
//! distance evaluations and hops.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use geodex_distance::Distance;
use serde::Serialize;

use crate::context::LayerScratch;
use crate::graph::GraphView;
use crate::stop::{Control, NoStop, Stopper};
use crate::visited::VisitedSet;
use crate::{Neighbor, SearchContext};

/// Work done by one search: what every experiment counts besides time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SearchStats {
    /// Distance evaluations between the query and a stored vector.
    pub distances: u64,
    /// Nodes expanded (their adjacency list read), on all levels.
    pub hops: u64,
    /// Exact distances computed to re-rank the candidates of a search on codes (0 otherwise).
    pub reranked: u64,
    /// Searches answered by the exact scan of a filter's allowed nodes instead of the graph
    /// walk (0 or 1 per search; summed over many).
    pub exact_scans: u64,
}

impl std::ops::AddAssign for SearchStats {
    fn add_assign(&mut self, o: Self) {
        self.distances += o.distances;
        self.hops += o.hops;
        self.reranked += o.reranked;
        self.exact_scans += o.exact_scans;
    }
}

/// What the search loop needs of the stored data: the distance from one fixed query to a node.
pub(crate) trait QueryDistance {
    /// Distance from the query to `node`.
    fn to(&self, node: u32) -> f32;
    /// Distances to four nodes, equal to four [`QueryDistance::to`] calls.
    #[inline]
    fn to4(&self, nodes: [u32; 4]) -> [f32; 4] {
        nodes.map(|n| self.to(n))
    }
    /// Starts loading what [`QueryDistance::to`] will read for `node`.
    fn prefetch(&self, node: u32);
    /// Measures the neighbours of `node` on `level` that `visited` has not seen — marking them
    /// — and hands each, with its distance, to `sink`; returns how many it measured. `fresh` is
    /// scratch. A neighbour at `bound` or beyond cannot enter the beam, so a form that has its
    /// distance before looking at `visited` may drop it unmarked and unsunk (the bound only
    /// shrinks while the beam is full, so it never could later either); ∞ when every
    /// neighbour must reach `sink`. By default [`measure_each`]; a form that scores a whole list
    /// at once (the per-list code blocks of `link_codes.rs`) replaces it.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn measure_links<G: GraphView>(
        &self,
        g: &G,
        node: u32,
        level: usize,
        bound: f32,
        visited: &mut VisitedSet,
        fresh: &mut Vec<u32>,
        sink: impl FnMut(Neighbor),
    ) -> usize
    where
        Self: Sized,
    {
        let _ = bound;
        measure_each(self, g, node, level, visited, fresh, sink)
    }
    /// The first of the closest of `node`'s links on `level` (`None` if no distance is below
    /// ∞), and how many links were measured: one step of [`greedy_descent`]. By default
    /// [`nearest_each`]; a form that scores a whole list at once replaces it.
    #[inline(always)]
    fn nearest_link<G: GraphView>(&self, g: &G, node: u32, level: usize) -> (Option<Neighbor>, usize)
    where
        Self: Sized,
    {
        nearest_each(self, g, node, level)
    }
    /// Starts loading what expanding `node` on `level` will read besides its list (nothing by
    /// default): called for the best waiting candidate while another node is expanded, and for
    /// each node that expansion offers nearer than it, the likelier next one (on SIFT's walk on
    /// codes +6–8 % QPS over the waiting candidate alone, BENCHMARKS.md 2026-12-04). (Called
    /// for every new candidate instead, a 1 KB block each, the prefetches filled the line-fill
    /// buffers and stalled the walk: 42 % of its cycles on SIFT.)
    #[inline(always)]
    fn prefetch_expansion(&self, node: u32, level: usize) {
        let _ = (node, level);
    }
    /// Whether the walk starts loading the adjacency list of every node that enters the
    /// candidate queue, so that it is at hand when the node is expanded (off for a form whose
    /// [`QueryDistance::measure_links`] does not read the graph's lists).
    const PREFETCH_OFFERED_LISTS: bool = true;
}

/// [`QueryDistance::measure_links`] one neighbour at a time: mark the unvisited neighbours and
/// start loading all their data before the first distance, so that the memory fetches overlap
/// instead of queueing one by one; then measure them four at a time (the float kernels stream
/// four vectors together).
#[inline(always)]
pub(crate) fn measure_each<G: GraphView>(
    q: &impl QueryDistance,
    g: &G,
    node: u32,
    level: usize,
    visited: &mut VisitedSet,
    fresh: &mut Vec<u32>,
    mut sink: impl FnMut(Neighbor),
) -> usize {
    fresh.clear();
    g.for_each_link(node, level, |n| {
        if visited.insert(n) {
            q.prefetch(n);
            fresh.push(n);
        }
    });
    let mut quads = fresh.chunks_exact(4);
    for quad in &mut quads {
        let ids = [quad[0], quad[1], quad[2], quad[3]];
        for (n, d) in ids.into_iter().zip(q.to4(ids)) {
            sink(Neighbor::new(n, d));
        }
    }
    for &n in quads.remainder() {
        sink(Neighbor::new(n, q.to(n)));
    }
    fresh.len()
}

/// [`QueryDistance::nearest_link`] one link at a time, in list order.
#[inline(always)]
pub(crate) fn nearest_each<G: GraphView>(
    q: &impl QueryDistance,
    g: &G,
    node: u32,
    level: usize,
) -> (Option<Neighbor>, usize) {
    let mut best = Neighbor::new(u32::MAX, f32::INFINITY);
    let mut measured = 0;
    g.for_each_link(node, level, |n| {
        let d = q.to(n);
        measured += 1;
        if d < best.distance {
            best = Neighbor::new(n, d);
        }
    });
    ((best.distance < f32::INFINITY).then_some(best), measured)
}

/// A query bound to full-precision vectors: exact distances.
pub(crate) struct Exact<'s, 'q, T, D> {
    space: &'s Space<'s, T, D>,
    q: &'q [T],
}

impl<'q, T, D> Exact<'_, 'q, T, D> {
    /// The query.
    pub fn query(&self) -> &'q [T] {
        self.q
    }
}

impl<T, D: Distance<T>> QueryDistance for Exact<'_, '_, T, D> {
    #[inline]
    fn to(&self, node: u32) -> f32 {
        self.space.to(self.q, node)
    }
    #[inline]
    fn to4(&self, nodes: [u32; 4]) -> [f32; 4] {
        self.space.to4(self.q, nodes)
    }
    #[inline(always)]
    fn prefetch(&self, node: u32) {
        geodex_distance::prefetch(self.space.row(node));
    }
}

/// Vectors (row-major, `dim` components each) with the distance between them.
#[derive(Clone, Copy)]
pub(crate) struct Space<'a, T, D> {
    pub vectors: &'a [T],
    pub dim: usize,
    pub dist: D,
}

impl<'a, T, D: Distance<T>> Space<'a, T, D> {
    #[inline]
    pub fn row(&self, node: u32) -> &'a [T] {
        &self.vectors[node as usize * self.dim..][..self.dim]
    }

    /// Distance from `q` to node `node`.
    #[inline]
    pub fn to(&self, q: &[T], node: u32) -> f32 {
        self.dist.distance(q, self.row(node))
    }

    /// Distances from `q` to four nodes, equal to four [`Space::to`] calls.
    #[inline]
    pub fn to4(&self, q: &[T], nodes: [u32; 4]) -> [f32; 4] {
        self.dist.distance4(q, nodes.map(|n| self.row(n)))
    }

    /// The exact distance from `q` to every node, for the search loop.
    #[inline]
    pub fn bind<'s, 'q>(&'s self, q: &'q [T]) -> Exact<'s, 'q, T, D> {
        Exact { space: self, q }
    }

    /// Distance between two stored nodes.
    #[inline]
    pub fn between(&self, a: u32, b: u32) -> f32 {
        self.dist.distance(self.row(a), self.row(b))
    }
}

/// Greedy walk (beam width 1) from `start` down to level `stop` (exclusive): on each level,
/// move to the closest neighbour until none is closer.
pub(crate) fn greedy_descent<G: GraphView>(
    g: &G,
    q: &impl QueryDistance,
    start: Neighbor,
    top: usize,
    stop: usize,
    stats: &mut SearchStats,
) -> Neighbor {
    let mut cur = start;
    for level in (stop..=top).rev() {
        loop {
            stats.hops += 1;
            let (nearest, measured) = q.nearest_link(g, cur.id, level);
            stats.distances += measured as u64;
            match nearest {
                Some(next) if next.distance < cur.distance => cur = next,
                _ => break,
            }
        }
    }
    cur
}

/// Beam search of width `ef` on `level` from the `entry` points (their distances already
/// computed). Writes the best `ef` nodes for which `accept` holds into `out`, closest first.
/// Nodes `accept` rejects are still expanded, so a filter cannot disconnect the search.
#[allow(clippy::too_many_arguments)]
pub(crate) fn search_layer<G: GraphView>(
    g: &G,
    q: &impl QueryDistance,
    entry: &[Neighbor],
    ef: usize,
    level: usize,
    scratch: &mut LayerScratch,
    out: &mut Vec<Neighbor>,
    accept: impl Fn(u32) -> bool,
    stats: &mut SearchStats,
) {
    let mut no_stop = NoStop;
    search_layer_with(g, q, entry, ef, level, scratch, out, accept, stats, &mut no_stop);
}

/// [`search_layer`] watched by a stopping rule (`stop.rs`): after each expansion the rule may
/// end the search or change the beam width. With [`NoStop`] this is the loop of the paper.
#[allow(clippy::too_many_arguments)]
pub(crate) fn search_layer_with<G: GraphView, Q: QueryDistance, S: Stopper>(
    g: &G,
    q: &Q,
    entry: &[Neighbor],
    ef: usize,
    level: usize,
    scratch: &mut LayerScratch,
    out: &mut Vec<Neighbor>,
    accept: impl Fn(u32) -> bool,
    stats: &mut SearchStats,
    stop: &mut S,
) {
    let mut ef = ef;
    let LayerScratch {
        visited,
        candidates,
        results,
        fresh,
    } = scratch;
    visited.reset(g.node_count());
    candidates.clear();
    results.clear();
    for &e in entry {
        if visited.insert(e.id) {
            candidates.push(Reverse(e));
            if accept(e.id) {
                results.push(e);
                stop.accepted(e);
            }
        }
    }
    while results.len() > ef {
        results.pop();
    }
    let mut converged = true;
    while let Some(Reverse(c)) = candidates.pop() {
        if results.len() >= ef && results.peek().is_some_and(|w| c.distance > w.distance) {
            break;
        }
        stats.hops += 1;
        // The node expanded next is the waiting candidate nearest the query unless this
        // expansion offers a nearer one: start loading it, and again for each nearer offer.
        let mut next_distance = f32::INFINITY;
        if let Some(next) = candidates.peek() {
            q.prefetch_expansion(next.0.id, level);
            next_distance = next.0.distance;
        }
        // The distance a new node must beat to enter the full beam; ∞ for a rule that watches
        // every distance (`Stopper::MEASURES`).
        let bound = match results.peek() {
            Some(worst) if results.len() >= ef && !S::MEASURES => worst.distance,
            _ => f32::INFINITY,
        };
        let measured = q.measure_links(g, c.id, level, bound, visited, fresh, |n| {
            if offer(n, ef, candidates, results, &accept, stop) {
                if Q::PREFETCH_OFFERED_LISTS {
                    g.prefetch_links(n.id, level);
                } else if n.distance < next_distance {
                    next_distance = n.distance;
                    q.prefetch_expansion(n.id, level);
                }
            }
        });
        stats.distances += measured as u64;
        match stop.expanded(stats.distances, candidates) {
            Control::Continue => {}
            Control::Stop => {
                converged = false;
                break;
            }
            Control::Resize(width) => {
                ef = width.max(1);
                while results.len() > ef {
                    results.pop();
                }
            }
        }
    }
    if converged {
        stop.finished(stats.distances);
    }
    out.clear();
    out.extend(results.drain());
    out.sort_unstable();
}

/// Offers a freshly measured node to the beam: it becomes a candidate if the result set is not
/// full or it beats the worst result, and a result too if `accept` holds (evicting the worst).
/// Returns whether it became a candidate (and so may be expanded soon).
#[inline(always)]
fn offer(
    cand: Neighbor,
    ef: usize,
    candidates: &mut BinaryHeap<Reverse<Neighbor>>,
    results: &mut BinaryHeap<Neighbor>,
    accept: &impl Fn(u32) -> bool,
    stop: &mut impl Stopper,
) -> bool {
    stop.measured(cand.distance);
    if results.len() < ef || results.peek().is_some_and(|w| cand.distance < w.distance) {
        candidates.push(Reverse(cand));
        if accept(cand.id) {
            stop.accepted(cand);
            results.push(cand);
            if results.len() > ef {
                results.pop();
            }
        }
        return true;
    }
    false
}

/// K-NN-SEARCH (Alg. 5): descend greedily to level 1, then beam-search level 0 with width
/// `ef`; leaves the best `k` accepted nodes in `ctx.found`, closest first.
pub(crate) fn knn<G: GraphView>(
    g: &G,
    q: &impl QueryDistance,
    k: usize,
    ef: usize,
    ctx: &mut SearchContext,
    accept: impl Fn(u32) -> bool,
) -> SearchStats {
    knn_with(g, q, k, ef, ctx, accept, &mut NoStop)
}

/// [`knn`] with the level-0 search watched by a stopping rule.
pub(crate) fn knn_with<G: GraphView, S: Stopper>(
    g: &G,
    q: &impl QueryDistance,
    k: usize,
    ef: usize,
    ctx: &mut SearchContext,
    accept: impl Fn(u32) -> bool,
    stop: &mut S,
) -> SearchStats {
    let mut stats = SearchStats::default();
    ctx.found.clear();
    let Some((entry, top)) = g.entry_point() else {
        return stats;
    };
    let start = Neighbor::new(entry, q.to(entry));
    stats.distances += 1;
    let cur = greedy_descent(g, q, start, top, 1, &mut stats);
    ctx.entry.clear();
    ctx.entry.push(cur);
    stop.begin(cur.distance);
    search_layer_with(
        g,
        q,
        &ctx.entry,
        ef,
        0,
        &mut ctx.layer,
        &mut ctx.found,
        accept,
        &mut stats,
        stop,
    );
    ctx.found.truncate(k);
    stats
}
