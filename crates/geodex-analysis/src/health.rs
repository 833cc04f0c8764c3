//! Graph health of one HNSW level as a directed graph: degree distributions (out and in),
//! strongly connected components, and a hop-diameter estimate from sampled breadth-first
//! searches.

use geodex_core::GraphView;

use crate::adjacency::{level_links, Rows};
use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;

/// A directed graph in compressed rows (row u: the out-links of u, sorted).
#[derive(Clone, Debug)]
pub struct DirectedGraph(Rows);

impl DirectedGraph {
    /// The graph on nodes `0..n` with the given links (ids ≥ n ignored).
    pub fn from_links(n: usize, links: impl IntoIterator<Item = (u32, u32)>) -> Self {
        let mut pairs: Vec<(u32, u32)> = links
            .into_iter()
            .filter(|&(a, b)| (a as usize) < n && (b as usize) < n)
            .collect();
        pairs.sort_unstable();
        DirectedGraph(Rows::from_sorted(n, pairs))
    }

    /// The links of `level` of an HNSW graph (nodes without a list there have none).
    pub fn from_level<G: GraphView>(g: &G, level: usize) -> Self {
        Self::from_links(g.node_count(), level_links(g, level))
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.0.len()
    }

    /// Out-links of `u`.
    pub fn out(&self, u: usize) -> &[u32] {
        self.0.row(u)
    }

    /// The graph with every link reversed.
    pub fn reversed(&self) -> Self {
        let n = self.node_count();
        let links = (0..n).flat_map(|u| self.out(u).iter().map(move |&v| (v, u as u32)));
        Self::from_links(n, links)
    }

    /// Hop distances from `source` (u32::MAX where unreachable), breadth-first.
    pub fn bfs(&self, source: u32) -> Vec<u32> {
        let mut dist = vec![u32::MAX; self.node_count()];
        let mut frontier = vec![source];
        dist[source as usize] = 0;
        let mut depth = 0;
        while !frontier.is_empty() {
            depth += 1;
            let mut next = Vec::new();
            for &u in &frontier {
                for &v in self.out(u as usize) {
                    if dist[v as usize] == u32::MAX {
                        dist[v as usize] = depth;
                        next.push(v);
                    }
                }
            }
            frontier = next;
        }
        dist
    }

    /// Nodes in post-order of an iterative depth-first search over all roots in id order.
    fn post_order(&self) -> Vec<u32> {
        let n = self.node_count();
        let mut seen = vec![false; n];
        let mut order = Vec::with_capacity(n);
        let mut stack: Vec<(u32, usize)> = Vec::new();
        for root in 0..n {
            if seen[root] {
                continue;
            }
            seen[root] = true;
            stack.push((root as u32, 0));
            while let Some(&mut (u, ref mut next)) = stack.last_mut() {
                if let Some(&v) = self.out(u as usize).get(*next) {
                    *next += 1;
                    if !seen[v as usize] {
                        seen[v as usize] = true;
                        stack.push((v, 0));
                    }
                } else {
                    order.push(u);
                    stack.pop();
                }
            }
        }
        order
    }

    /// Strongly connected component of every node and their number (Kosaraju 1978 / Sharir
    /// 1981: a post-order of G, then searches of the reversed graph in reverse post-order).
    pub fn strongly_connected_components(&self) -> (Vec<u32>, usize) {
        let reverse = self.reversed();
        let mut label = vec![u32::MAX; self.node_count()];
        let mut count = 0u32;
        let mut stack = Vec::new();
        for &root in self.post_order().iter().rev() {
            if label[root as usize] != u32::MAX {
                continue;
            }
            label[root as usize] = count;
            stack.push(root);
            while let Some(u) = stack.pop() {
                for &v in reverse.out(u as usize) {
                    if label[v as usize] == u32::MAX {
                        label[v as usize] = count;
                        stack.push(v);
                    }
                }
            }
            count += 1;
        }
        (label, count as usize)
    }
}

/// Minimum, mean and maximum of a degree sequence, with its histogram (index = degree).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DegreeSummary {
    /// Smallest degree.
    pub min: usize,
    /// Mean degree.
    pub mean: f64,
    /// Largest degree.
    pub max: usize,
    /// `histogram[d]` nodes have degree d.
    pub histogram: Vec<usize>,
}

impl DegreeSummary {
    /// Summary of `degrees` (all zeros for an empty sequence).
    pub fn of(degrees: impl IntoIterator<Item = usize>) -> Self {
        let mut histogram = Vec::new();
        let (mut count, mut total) = (0usize, 0usize);
        for d in degrees {
            if histogram.len() <= d {
                histogram.resize(d + 1, 0);
            }
            histogram[d] += 1;
            count += 1;
            total += d;
        }
        DegreeSummary {
            min: histogram.iter().position(|&c| c > 0).unwrap_or(0),
            mean: if count == 0 {
                0.0
            } else {
                total as f64 / count as f64
            },
            max: histogram.len().saturating_sub(1),
            histogram,
        }
    }
}

/// Health of one level.
#[derive(Clone, Debug, Serialize)]
pub struct LevelHealth {
    /// The level.
    pub level: usize,
    /// Nodes with a list on this level.
    pub nodes: usize,
    /// Out-degrees of those nodes.
    pub out_degree: DegreeSummary,
    /// In-degrees of those nodes.
    pub in_degree: DegreeSummary,
}

/// Degree distributions of every level.
pub fn level_health<G: GraphView>(g: &G) -> Vec<LevelHealth> {
    let top = g.entry_point().map_or(0, |(_, top)| top);
    (0..=top)
        .map(|level| {
            let members: Vec<u32> = (0..g.node_count() as u32)
                .filter(|&u| g.level(u) >= level)
                .collect();
            let mut in_degree = vec![0usize; g.node_count()];
            for &u in &members {
                for &v in g.links(u, level).iter() {
                    in_degree[v as usize] += 1;
                }
            }
            LevelHealth {
                level,
                nodes: members.len(),
                out_degree: DegreeSummary::of(members.iter().map(|&u| g.links(u, level).len())),
                in_degree: DegreeSummary::of(members.iter().map(|&u| in_degree[u as usize])),
            }
        })
        .collect()
}

/// Hop-diameter estimate of a directed graph from `sources` breadth-first searches from
/// random nodes (seeded): the largest finite eccentricity seen (a lower bound on the
/// diameter) and the mean finite hop distance.
#[derive(Clone, Debug, Serialize)]
pub struct HopEstimate {
    /// Sources searched from.
    pub sources: usize,
    /// Largest finite distance seen: a lower bound on the hop diameter.
    pub diameter_lower_bound: u32,
    /// Mean over sources and reached targets of the hop distance.
    pub mean_distance: f64,
}

/// [`HopEstimate`] from `sources` random sources.
pub fn hop_estimate(g: &DirectedGraph, sources: usize, seed: u64) -> HopEstimate {
    let n = g.node_count();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let picks: Vec<u32> = (0..sources.min(n))
        .map(|_| (rng.next_u64() % n as u64) as u32)
        .collect();
    let per_source: Vec<(u32, u64, u64)> = {
        use rayon::prelude::*;
        picks
            .par_iter()
            .map(|&s| {
                let d = g.bfs(s);
                let reached = d.iter().filter(|&&x| x != u32::MAX && x > 0);
                let (count, total, far) = reached.fold((0u64, 0u64, 0u32), |(c, t, f), &x| {
                    (c + 1, t + x as u64, f.max(x))
                });
                (far, count, total)
            })
            .collect()
    };
    let (count, total) = per_source
        .iter()
        .fold((0, 0), |(c, t), &(_, pc, pt)| (c + pc, t + pt));
    HopEstimate {
        sources: picks.len(),
        diameter_lower_bound: per_source.iter().map(|p| p.0).max().unwrap_or(0),
        mean_distance: if count == 0 {
            0.0
        } else {
            total as f64 / count as f64
        },
    }
}
