//! Topology of the edge-length filtration of a graph (THEORY.md §9.1, §9.3): edges enter in
//! order of length; β₀ (components) and the cycle rank β₁ = E − V + β₀ are tracked along the
//! way, the β₀ barcode is read off a union–find (Kruskal: each merge ends one bar), and links
//! that close only a cycle filled at once by a triangle of no longer links are listed as
//! redundant. Percolation: links removed uniformly at random, giant-component fraction against
//! the fraction removed.
//!
//! The filtration is of the graph itself (a 1-complex), so β₁ never decreases: a cycle, once
//! closed, stays. "Short-lived" is judged in the flag complex of the graph (triangles filled
//! in): a link (u, v) of length ℓ whose endpoints share a neighbour w with
//! max(|uw|, |wv|) ≤ ℓ closes a cycle that the triangle uvw kills at the same length —
//! persistence 0. Such a link adds no route the shorter links do not already give at one more
//! hop; it is what a pruning rule could drop.

use geodex_core::graph::FrozenGraph;
use geodex_core::{Component, CoreError, GraphView, Index, SearchContext, SearchParams};
use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;

use crate::adjacency::UndirectedGraph;

/// Union–find with path halving and union by size.
#[derive(Clone, Debug)]
pub struct DisjointSets {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl DisjointSets {
    /// `n` singletons.
    pub fn new(n: usize) -> Self {
        DisjointSets {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
        }
    }

    /// The representative of `x`'s set.
    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let grand = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grand;
            x = grand;
        }
        x
    }

    /// Joins the sets of `a` and `b`; returns the size of the joined set, or `None` if they
    /// were already one set.
    pub fn union(&mut self, a: u32, b: u32) -> Option<u32> {
        let (mut ra, mut rb) = (self.find(a), self.find(b));
        if ra == rb {
            return None;
        }
        if self.size[ra as usize] < self.size[rb as usize] {
            std::mem::swap(&mut ra, &mut rb);
        }
        self.parent[rb as usize] = ra;
        self.size[ra as usize] += self.size[rb as usize];
        Some(self.size[ra as usize])
    }
}

/// An undirected edge with its length.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WeightedEdge {
    /// One end.
    pub u: u32,
    /// The other end.
    pub v: u32,
    /// Its length.
    pub length: f64,
}

/// Every edge of `g` once (u < v) with `length(u, v)`, sorted by length (ties by ids).
pub fn weighted_edges(g: &UndirectedGraph, length: impl Fn(u32, u32) -> f64 + Sync) -> Vec<WeightedEdge> {
    use rayon::prelude::*;
    let mut edges: Vec<WeightedEdge> = (0..g.node_count())
        .into_par_iter()
        .flat_map_iter(|u| {
            let length = &length;
            g.neighbors(u)
                .iter()
                .filter(move |&&v| (u as u32) < v)
                .map(move |&v| WeightedEdge {
                    u: u as u32,
                    v,
                    length: length(u as u32, v),
                })
        })
        .collect();
    edges.sort_by(|a, b| a.length.total_cmp(&b.length).then((a.u, a.v).cmp(&(b.u, b.v))));
    edges
}

/// One point of the filtration.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FiltrationStep {
    /// Edge-length threshold.
    pub length: f64,
    /// Edges of length ≤ threshold.
    pub edges: usize,
    /// β₀: connected components.
    pub beta0: usize,
    /// β₁ = E − V + β₀: independent cycles.
    pub beta1: usize,
}

/// The topology section of `geodex analyze`.
#[derive(Clone, Debug, Serialize)]
pub struct TopologyReport {
    /// Nodes.
    pub nodes: usize,
    /// Undirected edges.
    pub edges: usize,
    /// β₀ bars' deaths: the length at which each merge happened (all bars are born at 0), in
    /// increasing order. There are V − β₀(∞) of them: the minimum spanning forest's edges.
    #[serde(skip)]
    pub beta0_deaths: Vec<f64>,
    /// Quantiles (0, 10, …, 100 %) of the β₀ deaths.
    pub beta0_death_quantiles: Vec<f64>,
    /// β₀ once every edge is in: components of the whole graph.
    pub beta0_final: usize,
    /// β₁ once every edge is in.
    pub beta1_final: usize,
    /// β₀ and β₁ at 21 thresholds (the 0, 5, …, 100 % quantiles of edge length).
    pub filtration: Vec<FiltrationStep>,
    /// Links closing only a cycle a triangle of no longer links fills at once.
    pub redundant_links: usize,
    /// redundant_links / edges.
    pub redundant_share: f64,
    /// The redundant links themselves, shortest first (not in the JSON summary).
    #[serde(skip)]
    pub redundant: Vec<WeightedEdge>,
}

/// Quantiles (0, 1/(q−1), …, 1) of sorted `v` (nearest rank).
fn quantiles(v: &[f64], q: usize) -> Vec<f64> {
    if v.is_empty() {
        return Vec::new();
    }
    (0..q)
        .map(|i| v[((v.len() - 1) as f64 * i as f64 / (q - 1) as f64).round() as usize])
        .collect()
}

/// Whether edge (u, v) of length ℓ has a common neighbour w with both |uw|, |wv| ≤ ℓ.
fn closes_a_triangle(g: &UndirectedGraph, e: &WeightedEdge, length: &impl Fn(u32, u32) -> f64) -> bool {
    let (a, b) = (g.neighbors(e.u as usize), g.neighbors(e.v as usize));
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                let w = a[i];
                if length(e.u, w) <= e.length && length(w, e.v) <= e.length {
                    return true;
                }
                i += 1;
                j += 1;
            }
        }
    }
    false
}

/// β₀ barcode, β₁ along the filtration and redundant links of `g` under `length`.
pub fn topology_report(g: &UndirectedGraph, length: impl Fn(u32, u32) -> f64 + Sync) -> TopologyReport {
    use rayon::prelude::*;
    let n = g.node_count();
    let edges = weighted_edges(g, &length);
    let thresholds = quantiles(&edges.iter().map(|e| e.length).collect::<Vec<_>>(), 21);
    let mut sets = DisjointSets::new(n);
    let mut deaths = Vec::with_capacity(n.saturating_sub(1));
    let mut filtration = Vec::new();
    let mut next = thresholds.iter().peekable();
    for (i, e) in edges.iter().enumerate() {
        if sets.union(e.u, e.v).is_some() {
            deaths.push(e.length);
        }
        // Record every threshold this edge completes (the last edge of its length).
        let last_of_length = edges.get(i + 1).is_none_or(|f| f.length > e.length);
        while last_of_length && next.peek().is_some_and(|&&t| t <= e.length) {
            let t = *next.next().expect("peeked");
            let beta0 = n - deaths.len();
            filtration.push(FiltrationStep {
                length: t,
                edges: i + 1,
                beta0,
                beta1: i + 1 + beta0 - n,
            });
        }
    }
    let redundant: Vec<WeightedEdge> = edges
        .par_iter()
        .filter(|e| closes_a_triangle(g, e, &length))
        .copied()
        .collect();
    let beta0_final = n - deaths.len();
    TopologyReport {
        nodes: n,
        edges: edges.len(),
        beta0_death_quantiles: quantiles(&deaths, 11),
        beta0_deaths: deaths,
        beta0_final,
        beta1_final: edges.len() + beta0_final - n,
        filtration,
        redundant_links: redundant.len(),
        redundant_share: redundant.len() as f64 / edges.len().max(1) as f64,
        redundant,
    }
}

/// One step of the percolation experiment.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PercolationStep {
    /// Fraction of links removed.
    pub removed: f64,
    /// Nodes in the largest component, as a fraction of all nodes.
    pub giant_fraction: f64,
    /// Number of components.
    pub components: usize,
}

/// `g`'s edges (u < v) in a uniformly random order fixed by `seed`: removing a fraction f of
/// the links removes the last ⌈f·E⌉ of this order, so each step removes a superset of the
/// previous one.
pub fn removal_order(g: &UndirectedGraph, seed: u64) -> Vec<(u32, u32)> {
    let mut edges: Vec<(u32, u32)> = (0..g.node_count())
        .flat_map(|u| {
            g.neighbors(u)
                .iter()
                .filter(move |&&v| (u as u32) < v)
                .map(move |&v| (u as u32, v))
        })
        .collect();
    shuffle(&mut edges, seed);
    edges
}

/// How many of `total` edges survive when `fraction` is removed.
fn kept(total: usize, fraction: f64) -> usize {
    ((1.0 - fraction.clamp(0.0, 1.0)) * total as f64).round() as usize
}

/// Removes a uniformly random `fraction` of `g`'s edges for each fraction in `fractions`
/// ([`removal_order`]) and measures the components of what is left.
pub fn percolation(g: &UndirectedGraph, fractions: &[f64], seed: u64) -> Vec<PercolationStep> {
    let n = g.node_count();
    let edges = removal_order(g, seed);
    fractions
        .iter()
        .map(|&f| {
            let keep = kept(edges.len(), f);
            let mut sets = DisjointSets::new(n);
            let mut components = n;
            let mut giant = n.min(1) as u32;
            for &(u, v) in &edges[..keep] {
                if let Some(size) = sets.union(u, v) {
                    components -= 1;
                    giant = giant.max(size);
                }
            }
            PercolationStep {
                removed: f,
                giant_fraction: giant as f64 / n.max(1) as f64,
                components,
            }
        })
        .collect()
}

/// Fisher–Yates with a seeded generator.
pub(crate) fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    for i in (1..v.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

/// The smallest removed fraction at which the giant component holds less than half of the
/// nodes: the measured percolation threshold (`None` if it never drops that far).
pub fn percolation_threshold(steps: &[PercolationStep]) -> Option<f64> {
    steps.iter().find(|s| s.giant_fraction < 0.5).map(|s| s.removed)
}

/// An HNSW graph with some level-0 links removed: both directions of every undirected edge in
/// `removed`. Upper levels are left whole (the percolation experiment is about level 0, where
/// the beam search spends its work).
pub struct Thinned<'g, G> {
    inner: &'g G,
    removed: std::collections::HashSet<u64>,
}

fn pair_key(u: u32, v: u32) -> u64 {
    let (a, b) = if u < v { (u, v) } else { (v, u) };
    (a as u64) << 32 | b as u64
}

impl<'g, G: GraphView> Thinned<'g, G> {
    /// `inner` without the `fraction` of level-0 edges that [`removal_order`] puts last.
    pub fn new(inner: &'g G, order: &[(u32, u32)], fraction: f64) -> Self {
        let removed = order[kept(order.len(), fraction)..]
            .iter()
            .map(|&(u, v)| pair_key(u, v))
            .collect();
        Thinned { inner, removed }
    }
}

impl<G: GraphView> GraphView for Thinned<'_, G> {
    type Links<'a>
        = Vec<u32>
    where
        Self: 'a;

    fn node_count(&self) -> usize {
        self.inner.node_count()
    }

    fn level(&self, node: u32) -> usize {
        self.inner.level(node)
    }

    fn links(&self, node: u32, level: usize) -> Vec<u32> {
        let all = self.inner.links(node, level);
        if level > 0 {
            return all.to_vec();
        }
        all.iter()
            .copied()
            .filter(|&v| !self.removed.contains(&pair_key(node, v)))
            .collect()
    }

    fn entry_point(&self) -> Option<(u32, usize)> {
        self.inner.entry_point()
    }

    fn max_degree(&self, level: usize) -> usize {
        self.inner.max_degree(level)
    }
}

/// Mean recall@`k` at beam width `ef` of `queries` against `truth` (ids of the exact
/// neighbours), searched over `index`'s level 0 with each fraction of links removed.
pub fn percolation_recall<T: Component>(
    index: &Index<T>,
    order: &[(u32, u32)],
    fractions: &[f64],
    queries: &[T],
    truth: &[Vec<u32>],
    k: usize,
    ef: usize,
) -> Result<Vec<f64>, CoreError> {
    let full = index.graph();
    let params = SearchParams::new(k, ef);
    fractions
        .iter()
        .map(|&f| {
            let g = FrozenGraph::freeze(&Thinned::new(&full, order, f));
            let mut ctx = SearchContext::new();
            let mut hits_total = 0usize;
            for (q, t) in queries.chunks(index.dim()).zip(truth) {
                let (hits, _) = index.search_over(&g, q, &params, &mut ctx)?;
                hits_total += hits.iter().filter(|h| t.contains(&h.node.0)).count();
            }
            Ok(hits_total as f64 / (k * truth.len()).max(1) as f64)
        })
        .collect()
}
