//! Reachability repair: a pass after construction that makes every node reachable from the
//! entry point on level 0.
//!
//! Not part of Malkov & Yashunin's algorithm. The heuristic prunes reverse links when a list
//! overflows, and occasionally every in-link of a node is pruned: the node keeps its out-links
//! but no search can reach it (hnswlib has the same defect; about 0.1 % of nodes on clustered
//! data here). For each such node u, a beam search from the entry point finds u's nearest
//! reachable nodes; the closest one with a free slot links to u, or, if all are full, the closest
//! one replaces its farthest link whose target has another in-link. Deterministic: nodes are
//! repaired in id order on one thread.

use geodex_distance::Distance;

use crate::graph::{BuilderGraph, GraphView};
use crate::search::{knn, Space};
use crate::SearchContext;

/// Rounds of repair before giving up (each round re-checks reachability from scratch).
const MAX_ROUNDS: usize = 4;

/// Links every level-0-unreachable live node into the graph; returns how many were unreachable
/// before the repair. `live` tells deleted nodes (never linked to, never counted) from live ones;
/// live lists must not link to deleted nodes.
pub(crate) fn repair_reachability<T, D: Distance<T>>(
    g: &BuilderGraph,
    space: &Space<'_, T, D>,
    ef: usize,
    live: &impl Fn(u32) -> bool,
) -> usize {
    let mut ctx = SearchContext::new();
    let mut first_count = None;
    for _ in 0..MAX_ROUNDS {
        let mut reached = reachable(g);
        let unreached: Vec<u32> = (0..g.node_count() as u32)
            .filter(|&u| !reached[u as usize] && live(u))
            .collect();
        first_count.get_or_insert(unreached.len());
        if unreached.is_empty() {
            break;
        }
        let mut in_degree = vec![0u32; g.node_count()];
        for node in (0..g.node_count() as u32).filter(|&u| live(u)) {
            g.links(node, 0).iter().for_each(|&t| in_degree[t as usize] += 1);
        }
        for u in unreached {
            if reached[u as usize] {
                continue;
            }
            link_in(g, space, u, ef, &mut in_degree, &mut ctx, live);
            mark_from(g, u, &mut reached);
        }
    }
    first_count.unwrap_or(0)
}

/// Adds one level-0 in-link to `u` from its nearest reachable node (found by an ordinary
/// search, which only ever reaches reachable nodes).
fn link_in<T, D: Distance<T>>(
    g: &BuilderGraph,
    space: &Space<'_, T, D>,
    u: u32,
    ef: usize,
    in_degree: &mut [u32],
    ctx: &mut SearchContext,
    live: &impl Fn(u32) -> bool,
) {
    knn(g, &space.bind(space.row(u)), ef, ef, ctx, |n| n != u && live(n));
    let bound = g.max_degree(0);
    for r in ctx.found.iter() {
        let mut list = g.write(r.id, 0);
        if list.contains(&u) {
            return;
        }
        if list.len() < bound {
            list.push(u);
            in_degree[u as usize] += 1;
            return;
        }
    }
    let Some(r) = ctx.found.first() else { return };
    let mut list = g.write(r.id, 0);
    let victim = list
        .iter()
        .enumerate()
        .filter(|(_, &t)| in_degree[t as usize] >= 2)
        .max_by(|a, b| space.between(r.id, *a.1).total_cmp(&space.between(r.id, *b.1)))
        .map(|(i, _)| i);
    if let Some(i) = victim {
        in_degree[list[i] as usize] -= 1;
        list[i] = u;
        in_degree[u as usize] += 1;
    }
}

/// Nodes reachable from the entry point over level-0 links.
fn reachable(g: &BuilderGraph) -> Vec<bool> {
    let mut reached = vec![false; g.node_count()];
    if let Some((entry, _)) = g.entry_point() {
        mark_from(g, entry, &mut reached);
    }
    reached
}

/// Marks everything reachable from `start` (depth-first).
fn mark_from(g: &BuilderGraph, start: u32, reached: &mut [bool]) {
    if reached[start as usize] {
        return;
    }
    reached[start as usize] = true;
    let mut stack = vec![start];
    while let Some(node) = stack.pop() {
        for &t in g.links(node, 0).iter() {
            if !reached[t as usize] {
                reached[t as usize] = true;
                stack.push(t);
            }
        }
    }
}
