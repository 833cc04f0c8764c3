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
        sink: &mut impl Sink,
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
    sink: &mut impl Sink,
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
            sink.take(Neighbor::new(n, d));
        }
    }
    for &n in quads.remainder() {
        sink.take(Neighbor::new(n, q.to(n)));
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
        if results.len() >= ef
            && results
                .peek()
                .is_some_and(|w| c.distance > stop.reach(w.distance))
        {
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
            Some(worst) if results.len() >= ef && !S::MEASURES => stop.reach(worst.distance),
            _ => f32::INFINITY,
        };
        let mut sink = Offer {
            g,
            q,
            level,
            ef,
            candidates: &mut *candidates,
            results: &mut *results,
            accept: &accept,
            stop: &mut *stop,
            next_distance,
        };
        let measured = q.measure_links(g, c.id, level, bound, visited, fresh, &mut sink);
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

/// Where [`QueryDistance::measure_links`] hands each freshly measured neighbour.
pub(crate) trait Sink {
    /// One neighbour not visited before, with its distance in the walk's units.
    fn take(&mut self, node: Neighbor);
}

/// The walk's [`Sink`]: [`offer`] the node, then start loading what expanding it will read.
/// A struct with an always-inlined method, not a closure: under a stopping rule the closure
/// (larger, called from two places in [`measure_each`]) was left out of line, a call per
/// distance; inlined, the epsilon rule gained 3–5 % QPS on MiniLM with fixed ef unchanged
/// (BENCHMARKS.md, "the epsilon rule on a quiet machine").
struct Offer<'w, G, Q, A, S> {
    g: &'w G,
    q: &'w Q,
    level: usize,
    ef: usize,
    candidates: &'w mut BinaryHeap<Reverse<Neighbor>>,
    results: &'w mut BinaryHeap<Neighbor>,
    accept: &'w A,
    stop: &'w mut S,
    /// The distance of the node expanded next as far as known (the nearest waiting candidate
    /// or offer so far).
    next_distance: f32,
}

impl<G: GraphView, Q: QueryDistance, A: Fn(u32) -> bool, S: Stopper> Sink for Offer<'_, G, Q, A, S> {
    #[inline(always)]
    fn take(&mut self, n: Neighbor) {
        if offer(n, self.ef, self.candidates, self.results, self.accept, self.stop) {
            if Q::PREFETCH_OFFERED_LISTS {
                self.g.prefetch_links(n.id, self.level);
            } else if n.distance < self.next_distance {
                self.next_distance = n.distance;
                self.q.prefetch_expansion(n.id, self.level);
            }
        }
    }
}

/// Offers a freshly measured node to the beam: it becomes a candidate if the result set is not
/// full or it beats the worst result (as widened by the rule's [`Stopper::reach`]) — and is not
/// beyond the rule's [`Stopper::queue_bound`] — and a result too if `accept` holds and it beats
/// the worst result itself (evicting it). Returns whether it became a candidate (and so may be
/// expanded soon).
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
    let full = results.len() >= ef;
    let worst = results.peek().map_or(f32::INFINITY, |w| w.distance);
    if !full || cand.distance < stop.reach(worst) {
        let queued = cand.distance <= stop.queue_bound();
        if queued {
            candidates.push(Reverse(cand));
        }
        if (!full || cand.distance < worst) && accept(cand.id) {
            stop.accepted(cand);
            if !full {
                results.push(cand);
            } else if let Some(mut worst) = results.peek_mut() {
                // Full: `cand` beats the worst, which it replaces with one sift-down instead of
                // a push and a pop.
                *worst = cand;
            }
        }
        return queued;
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

#[cfg(test)]
mod tests {
    use geodex_distance::{InnerProduct, Portable, SquaredL2};
    use rand_core::{RngCore, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    use super::*;
    use crate::graph::BuilderGraph;
    use crate::stop::{Calibration, HeapRadius, Radius, StopKind, StopModel, StopRule, FEATURES};

    const N: usize = 1500;
    const DIM: usize = 8;
    const LINKS: usize = 10;
    const K: usize = 10;
    const BEAM: usize = 48;

    /// The epsilon rule's state with the same decisions but no queue bound: every measured node
    /// that may enter the beam is queued, as the loop did before the bound existed.
    struct Unbounded<'r, 'm>(Radius<'r, 'm>);

    impl Stopper for Unbounded<'_, '_> {
        const MEASURES: bool = false;
        fn accepted(&mut self, node: Neighbor) {
            self.0.accepted(node);
        }
        fn reach(&self, worst: f32) -> f32 {
            self.0.reach(worst)
        }
        fn expanded(&mut self, distances: u64, queue: &BinaryHeap<Reverse<Neighbor>>) -> Control {
            self.0.expanded(distances, queue)
        }
    }

    /// Seeded vectors with components in [-scale, scale).
    fn uniform(rng: &mut Xoshiro256PlusPlus, count: usize, scale: f32) -> Vec<f32> {
        (0..count * DIM)
            .map(|_| ((rng.next_u32() >> 8) as f32 / (1 << 24) as f32 * 2.0 - 1.0) * scale)
            .collect()
    }

    /// `vectors` under squared L2.
    fn l2_space(vectors: &[f32]) -> Space<'_, f32, SquaredL2<Portable>> {
        Space {
            vectors,
            dim: DIM,
            dist: SquaredL2(Portable),
        }
    }

    /// A level-0 graph linking every node to its `LINKS` nearest under `space`, by brute force.
    fn nearest_neighbour_graph<D: Distance<f32>>(space: &Space<'_, f32, D>) -> BuilderGraph {
        let graph = BuilderGraph::new(vec![0; N], LINKS, LINKS);
        for u in 0..N as u32 {
            let mut near: Vec<Neighbor> = (0..N as u32)
                .filter(|&v| v != u)
                .map(|v| Neighbor::new(v, space.between(u, v)))
                .collect();
            near.sort_unstable();
            graph.write(u, 0).extend(near[..LINKS].iter().map(|n| n.id));
        }
        graph.set_entry(Some((0, 0)));
        graph
    }

    fn model(metric: &str) -> StopModel {
        StopModel {
            metric: metric.into(),
            dim: DIM,
            k: K,
            ef_cap: BEAM,
            interval: 1,
            ada_warmup: 1,
            byte_walk: false,
            ada_edges: Vec::new(),
            weights: vec![0.0; FEATURES + 1],
            scale: vec![(0.0, 1.0); FEATURES],
            ppo_weights: Vec::new(),
            gbdt: None,
            gain: None,
            adaef: None,
            calibration: Vec::new(),
        }
    }

    /// The epsilon rule's knobs at `epsilon`, with a beam of `BEAM` and no budget.
    fn knobs(epsilon: f32) -> Calibration {
        Calibration {
            target: 0.9,
            fixed_ef: BEAM,
            beam: BEAM,
            patience: u32::MAX,
            threshold: 2.0,
            ada_ef: vec![BEAM],
            adaef_ef: Vec::new(),
            ppo_threshold: None,
            gbdt_threshold: None,
            gain_threshold: None,
            epsilon: Some(epsilon),
            budget: None,
        }
    }

    /// Every query's hits and work with the bounded and the unbounded state of the rule at
    /// `epsilon`; returns how many candidates the two left queued in all (bounded, unbounded).
    fn compare<D: Distance<f32>>(
        space: &Space<'_, f32, D>,
        graph: &BuilderGraph,
        queries: &[f32],
        model: &StopModel,
        epsilon: f32,
    ) -> (usize, usize) {
        let rule = StopRule::with_knobs(model, StopKind::Epsilon, &knobs(epsilon));
        let (mut a, mut b) = (SearchContext::default(), SearchContext::default());
        let mut queued = (0, 0);
        for (i, q) in queries.chunks_exact(DIM).enumerate() {
            let q = space.bind(q);
            let bounded = knn_with(
                graph,
                &q,
                K,
                BEAM,
                &mut a,
                |_| true,
                &mut Radius::new(&rule, K, Vec::new()),
            );
            let unbounded = knn_with(
                graph,
                &q,
                K,
                BEAM,
                &mut b,
                |_| true,
                &mut Unbounded(Radius::new(&rule, K, Vec::new())),
            );
            assert_eq!(bounded, unbounded, "ε {epsilon}, query {i}");
            assert_eq!(a.found, b.found, "ε {epsilon}, query {i}");
            queued.0 += a.layer.candidates.len();
            queued.1 += b.layer.candidates.len();
        }
        queued
    }

    /// NGT's ε-search written out plainly from the entry `entry`: the k best so far, and every
    /// measured node within the radius `d_k + ε·|d_k|` (every node before k) queued; stop once
    /// the best queued node lies beyond the radius. Returns the k best and the distances
    /// measured at level 0.
    fn epsilon_search<D: Distance<f32>>(
        space: &Space<'_, f32, D>,
        graph: &BuilderGraph,
        q: &[f32],
        entry: u32,
        epsilon: f32,
    ) -> (Vec<Neighbor>, u64) {
        let radius = |top: &[Neighbor]| match top.get(K - 1) {
            Some(kth) => kth.distance + epsilon * kth.distance.abs(),
            None => f32::INFINITY,
        };
        let first = Neighbor::new(entry, space.to(q, entry));
        let (mut top, mut queue) = (vec![first], BinaryHeap::from([Reverse(first)]));
        let mut seen = vec![false; N];
        seen[entry as usize] = true;
        let mut measured = 0;
        while let Some(Reverse(c)) = queue.pop() {
            if c.distance > radius(&top) {
                break;
            }
            let links: Vec<u32> = graph.links(c.id, 0).iter().copied().collect();
            for n in links {
                if std::mem::replace(&mut seen[n as usize], true) {
                    continue;
                }
                measured += 1;
                let node = Neighbor::new(n, space.to(q, n));
                if node.distance < radius(&top) {
                    queue.push(Reverse(node));
                }
                if top.len() < K || node < top[K - 1] {
                    top.push(node);
                    top.sort_unstable();
                    top.truncate(K);
                }
            }
        }
        (top, measured)
    }

    /// The epsilon rule on an exact walk is NGT's ε-search: the same hits and the same number of
    /// distances as the plain version above, from the entry the walk descends to; at ε 0 it is
    /// the beam search of width k, and beyond [`crate::stop::EPSILON_MAX`] the beam search of
    /// its beam.
    #[test]
    fn the_epsilon_rule_is_ngt_epsilon_search() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        let (vectors, queries) = (uniform(&mut rng, N, 1.0), uniform(&mut rng, 200, 1.0));
        let l2 = l2_space(&vectors);
        let graph = nearest_neighbour_graph(&l2);
        let model = model("l2");
        let (mut ctx, mut plain) = (SearchContext::default(), SearchContext::default());
        let mut explored_before = 0;
        for epsilon in [0.0, 0.1, 0.5, 1.0] {
            let rule = StopRule::with_knobs(&model, StopKind::Epsilon, &knobs(epsilon));
            assert_eq!(rule.beam_width(), K);
            let mut explored = 0;
            for (i, q) in queries.chunks_exact(DIM).enumerate() {
                let bound = l2.bind(q);
                let stats = knn_with(
                    &graph,
                    &bound,
                    K,
                    rule.beam_width(),
                    &mut ctx,
                    |_| true,
                    &mut Radius::new(&rule, K, Vec::new()),
                );
                let (hits, measured) = epsilon_search(&l2, &graph, q, 0, epsilon);
                assert_eq!(ctx.found, hits, "ε {epsilon}, query {i}");
                assert_eq!(stats.distances, measured + 1, "ε {epsilon}, query {i}");
                // The state that reads the radius off the result heap of k searches alike.
                let heap = knn_with(
                    &graph,
                    &bound,
                    K,
                    K,
                    &mut plain,
                    |_| true,
                    &mut HeapRadius::new(&rule, K),
                );
                assert_eq!((heap, &plain.found), (stats, &hits), "ε {epsilon}, query {i}");
                explored += measured;
                if epsilon == 0.0 {
                    let beam = knn(&graph, &bound, K, K, &mut plain, |_| true);
                    assert_eq!((stats, &ctx.found), (beam, &plain.found), "query {i}");
                }
            }
            // A wider radius explores more: these ε are not all one search.
            assert!(explored > explored_before, "ε {epsilon}: {explored} distances");
            explored_before = explored;
        }
        // A byte walk keeps the nodes it re-ranks, as many as fixed ef's beam.
        let bytes = StopModel {
            byte_walk: true,
            ..model.clone()
        };
        let rule = StopRule::with_knobs(&bytes, StopKind::Epsilon, &knobs(0.5));
        assert_eq!(rule.beam_width(), BEAM);
        // Beyond the largest radius it explores by, the rule is a beam search of its beam.
        let rule = StopRule::with_knobs(&model, StopKind::Epsilon, &knobs(1e30));
        assert_eq!(rule.beam_width(), BEAM);
        for (i, q) in queries.chunks_exact(DIM).enumerate() {
            let bound = l2.bind(q);
            let mut stopper = Radius::new(&rule, K, Vec::new());
            let stats = knn_with(&graph, &bound, K, BEAM, &mut ctx, |_| true, &mut stopper);
            let beam = knn(&graph, &bound, K, BEAM, &mut plain, |_| true);
            assert_eq!((stats, &ctx.found), (beam, &plain.found), "query {i}");
        }
    }

    /// Leaving nodes beyond the epsilon rule's shrinking radius out of the queue changes no
    /// search: the same hits and the same work as queueing them, for L2 and for negative inner
    /// products with ε below 1 — and it does leave nodes out; with ε above 1 under an inner
    /// product, where the radius may grow as d_k falls, it leaves none out.
    #[test]
    fn the_radius_bound_on_the_queue_changes_no_search() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let (vectors, queries) = (uniform(&mut rng, N, 1.0), uniform(&mut rng, 200, 1.0));
        let l2 = l2_space(&vectors);
        let graph = nearest_neighbour_graph(&l2);
        let model_l2 = model("l2");
        for epsilon in [0.0, 0.05, 0.3, 1.5] {
            let (bounded, unbounded) = compare(&l2, &graph, &queries, &model_l2, epsilon);
            assert!(
                bounded < unbounded,
                "ε {epsilon}: {bounded} queued against {unbounded}"
            );
        }
        // Inner products: queries in the positive orthant, vectors shifted away from it, so
        // that a few dozen vectors lie at a negative distance from a query (more than k, fewer
        // than the beam) and the rest at a positive one.
        let vectors: Vec<f32> = uniform(&mut rng, N, 3.0).iter().map(|x| x - 1.5).collect();
        let queries: Vec<f32> = queries.iter().map(|x| 0.5 * x + 0.5).collect();
        let ip = Space {
            vectors: &vectors,
            dim: DIM,
            dist: InnerProduct(Portable),
        };
        let graph = nearest_neighbour_graph(&ip);
        let model_ip = model("ip");
        let (bounded, unbounded) = compare(&ip, &graph, &queries, &model_ip, 0.3);
        assert!(bounded < unbounded, "ip: {bounded} queued against {unbounded}");
        // Beyond ε 1 the radius (1 − ε)·d_k grows as a negative d_k falls: no bound.
        let (bounded, unbounded) = compare(&ip, &graph, &queries, &model_ip, 2.0);
        assert_eq!(bounded, unbounded, "ip, ε 2");
    }

    /// Every query's hits and work under [`Radius`] and under [`HeapRadius`], both on a beam of
    /// k with the rule's `knobs` and `accept` as the filter, asserted equal; returns how many
    /// searches the budget ended (at most one expansion past it) and how many ran on past it
    /// because they held fewer than k results.
    fn compare_heap<D: Distance<f32>>(
        space: &Space<'_, f32, D>,
        graph: &BuilderGraph,
        queries: &[f32],
        rule: &StopRule<'_>,
        accept: fn(u32) -> bool,
    ) -> (usize, usize) {
        let (mut a, mut b) = (SearchContext::default(), SearchContext::default());
        let (mut ended, mut ran_on) = (0, 0);
        for (i, q) in queries.chunks_exact(DIM).enumerate() {
            let q = space.bind(q);
            let kept = knn_with(
                graph,
                &q,
                K,
                K,
                &mut a,
                accept,
                &mut Radius::new(rule, K, Vec::new()),
            );
            let read = knn_with(graph, &q, K, K, &mut b, accept, &mut HeapRadius::new(rule, K));
            assert_eq!((kept, &a.found), (read, &b.found), "query {i}");
            let past = rule.budget.saturating_add(LINKS as u64);
            ended += usize::from((rule.budget..past).contains(&kept.distances));
            ran_on += usize::from(kept.distances >= past);
        }
        (ended, ran_on)
    }

    /// On a beam of k the state without a top k of its own ([`HeapRadius`]) makes the epsilon
    /// rule's decisions: the same hits and work as [`Radius`] with and without a work budget,
    /// unfiltered and under a filter that accepts one node in 13 (where a search reaches the
    /// budget before it holds k results and must go on), for L2 and for inner products on both
    /// sides of ε 1. The budgets are small enough that both cases occur.
    #[test]
    fn the_radius_read_off_the_heap_decides_as_the_rule_does() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        let (vectors, queries) = (uniform(&mut rng, N, 1.0), uniform(&mut rng, 200, 1.0));
        let l2 = l2_space(&vectors);
        let l2_graph = nearest_neighbour_graph(&l2);
        let shifted: Vec<f32> = vectors.iter().map(|x| 3.0 * x - 1.5).collect();
        let ip_queries: Vec<f32> = queries.iter().map(|x| 0.5 * x + 0.5).collect();
        let ip = Space {
            vectors: &shifted,
            dim: DIM,
            dist: InnerProduct(Portable),
        };
        let ip_graph = nearest_neighbour_graph(&ip);
        let (l2_model, ip_model) = (model("l2"), model("ip"));
        let filters: [fn(u32) -> bool; 2] = [|_| true, |n| n % 13 == 0];
        let (mut ended, mut ran_on) = (0, 0);
        for accept in filters {
            for (epsilon, budget) in [(0.0, None), (0.2, Some(60)), (0.7, Some(25)), (1.5, Some(90))] {
                let knobs = Calibration {
                    budget,
                    ..knobs(epsilon)
                };
                let rule = StopRule::with_knobs(&l2_model, StopKind::Epsilon, &knobs);
                let (e, r) = compare_heap(&l2, &l2_graph, &queries, &rule, accept);
                let rule = StopRule::with_knobs(&ip_model, StopKind::Epsilon, &knobs);
                let (f, s) = compare_heap(&ip, &ip_graph, &ip_queries, &rule, accept);
                (ended, ran_on) = (ended + e + f, ran_on + r + s);
            }
        }
        assert!(
            ended > 0 && ran_on > 0,
            "{ended} ended by the budget, {ran_on} ran on"
        );
    }
}
