//! The walk the training signals and the annealer measure: greedy descent on the index's upper
//! levels, then a beam of width ef on level 0 over whatever lists the caller supplies (the
//! union graph for labels, the annealer's rewired lists). It is Alg. 2 of Malkov & Yashunin
//! as `geodex_core::search` runs it, written again here because it must also report what the
//! product's loop does not: who reached whom, and which lists were read.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use geodex_core::{Component, GraphView, Index, NodeId};

use crate::labels::squared_like;

/// What one walk saw.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Walk {
    /// The ef best nodes found, closest first, with their squared-like dissimilarity.
    pub best: Vec<(f32, u32)>,
    /// For each node reached on level 0 other than the start, the node that first reached it.
    pub first_reacher: HashMap<u32, u32>,
    /// Distance evaluations, on every level.
    pub distances: usize,
    /// The level-0 nodes whose lists were read, in order.
    pub expanded: Vec<u32>,
}

/// Walks `q` (a prepared row) through `index`: greedy descent on its upper levels, then a beam
/// of width `ef` on level 0 whose lists `neighbours(b, visit)` enumerates.
pub fn beam<T: Component>(
    index: &Index<T>,
    q: &[T],
    ef: usize,
    neighbours: impl Fn(u32, &mut dyn FnMut(u32)),
) -> Walk {
    let metric = index.metric();
    let mut walk = Walk::default();
    let e = |node: u32, walk: &mut Walk| {
        walk.distances += 1;
        squared_like(metric, q, index.vector(NodeId(node)))
    };
    let g = index.graph();
    let Some((mut cur, top)) = g.entry_point() else {
        return walk;
    };
    let mut e_cur = e(cur, &mut walk);
    for level in (1..=top).rev() {
        loop {
            let mut moved = false;
            for &n in g.links(cur, level).iter() {
                let en = e(n, &mut walk);
                if en < e_cur {
                    (cur, e_cur, moved) = (n, en, true);
                }
            }
            if !moved {
                break;
            }
        }
    }
    // Non-negative floats order like their bits.
    let key = |d: f32| d.to_bits();
    let mut visited = HashSet::from([cur]);
    let mut frontier = BinaryHeap::from([Reverse((key(e_cur), cur))]);
    let mut best = BinaryHeap::from([(key(e_cur), cur)]);
    while let Some(Reverse((d, b))) = frontier.pop() {
        if best.len() >= ef && d > best.peek().map_or(u32::MAX, |t| t.0) {
            break;
        }
        walk.expanded.push(b);
        let mut fresh = Vec::new();
        neighbours(b, &mut |n| {
            if visited.insert(n) {
                fresh.push(n);
            }
        });
        for n in fresh {
            walk.first_reacher.insert(n, b);
            let en = key(e(n, &mut walk));
            if best.len() < ef || en < best.peek().map_or(u32::MAX, |t| t.0) {
                frontier.push(Reverse((en, n)));
                best.push((en, n));
                if best.len() > ef {
                    best.pop();
                }
            }
        }
    }
    walk.best = best
        .into_sorted_vec()
        .into_iter()
        .map(|(d, n)| (f32::from_bits(d), n))
        .collect();
    walk
}
