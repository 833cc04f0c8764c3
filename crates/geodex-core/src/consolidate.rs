//! Delete consolidation: after nodes are deleted, every list that links to one of them is
//! rewritten so the graph stays navigable without them (Singh et al., "FreshDiskANN: A Fast and
//! Accurate Graph-Based ANN Index for Streaming Similarity Search", 2021, Alg. 4).
//!
//! For a live node u whose list on level ℓ holds deleted nodes D: the candidates are u's live
//! links plus the live links of every p ∈ D on ℓ (one hop through each deleted node); if they
//! fit the degree bound they all stay, otherwise the neighbour-selection heuristic (Malkov &
//! Yashunin, Alg. 4 — where FreshDiskANN uses its RobustPrune) picks the bound's worth.
//! Deleted nodes keep their own lists, so a search already standing on one still moves on.

use geodex_distance::Distance;
use rayon::prelude::*;

use crate::context::SelectScratch;
use crate::graph::{BuilderGraph, GraphView};
use crate::search::Space;
use crate::select::select_neighbors;
use crate::{Cancel, Heuristic, Neighbor};

/// Rewrites every live list that links to a deleted node; returns how many lists changed.
/// Runs in parallel on the current rayon pool; each task writes only its own node's lists and
/// reads only deleted nodes' lists (which nothing writes), so tasks never contend. Once
/// `cancel` is set no further node is started: a list is rewritten whole or not at all, and a
/// later run finishes the rest (it rewrites only lists that still link to a deleted node).
pub(crate) fn consolidate<T: Sync, D: Distance<T>>(
    g: &BuilderGraph,
    space: &Space<'_, T, D>,
    heuristic: Heuristic,
    live: &(impl Fn(u32) -> bool + Sync),
    cancel: &Cancel,
) -> usize {
    (0..g.node_count() as u32)
        .into_par_iter()
        .with_min_len(256)
        .filter(|&u| live(u) && !cancel.is_cancelled())
        .map_init(SelectScratch::default, |scratch, u| {
            (0..=g.level(u))
                .filter(|&level| repair_list(g, space, heuristic, live, u, level, scratch))
                .count()
        })
        .sum()
}

/// Repairs `u`'s list on `level` if it links to a deleted node; returns whether it did.
fn repair_list<T, D: Distance<T>>(
    g: &BuilderGraph,
    space: &Space<'_, T, D>,
    heuristic: Heuristic,
    live: &impl Fn(u32) -> bool,
    u: u32,
    level: usize,
    scratch: &mut SelectScratch,
) -> bool {
    if g.links(u, level).iter().all(|&x| live(x)) {
        return false;
    }
    let old: Vec<u32> = g.links(u, level).to_vec();
    let mut ids: Vec<u32> = Vec::with_capacity(old.len() * 2);
    for &x in &old {
        if live(x) {
            ids.push(x);
        } else {
            ids.extend(g.links(x, level).iter().filter(|&&y| y != u && live(y)));
        }
    }
    ids.sort_unstable();
    ids.dedup();
    let candidates = &mut scratch.candidates;
    candidates.clear();
    candidates.extend(ids.iter().map(|&x| Neighbor::new(x, space.between(u, x))));
    candidates.sort_unstable();
    let bound = g.max_degree(level);
    let mut list = g.write(u, level);
    list.clear();
    if candidates.len() <= bound {
        list.extend(candidates.iter().map(|n| n.id));
    } else {
        select_neighbors(space, bound, heuristic, scratch);
        list.extend(scratch.selected.iter().map(|n| n.id));
    }
    true
}
