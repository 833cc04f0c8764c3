//! The neighbour-selection heuristic of Malkov & Yashunin (2018), Alg. 4 SELECT-NEIGHBORS-HEURISTIC.
//!
//! Walk the candidates from closest to farthest; keep candidate e only if it is closer to the
//! base element than to every neighbour kept so far (dist(e, base) ≤ dist(e, r) for all kept r).
//! This spreads links over directions instead of spending them all inside one cluster, which
//! is what keeps clustered and low-dimensional data navigable.

use geodex_distance::Distance;

use crate::context::SelectScratch;
use crate::search::Space;
use crate::{Heuristic, Neighbor};

/// Selects at most `budget` of `scratch.candidates` (sorted by distance to the base element,
/// closest first) into `scratch.selected`, closest first.
pub(crate) fn select_neighbors<T, D: Distance<T>>(
    space: &Space<'_, T, D>,
    budget: usize,
    heuristic: Heuristic,
    scratch: &mut SelectScratch,
) {
    sweep(scratch, budget, |_, c, selected| {
        selected.iter().all(|r| space.between(c.id, r.id) >= c.distance)
    });
    if heuristic.keep_pruned {
        fill_with_pruned(scratch, budget);
    }
}

/// The walk every selection rule shares: candidates closest first, each kept (into
/// `selected`) when `keep(rank, candidate, kept so far)` says so, else set aside (into
/// `pruned`), until `budget` are kept.
pub(crate) fn sweep(
    scratch: &mut SelectScratch,
    budget: usize,
    mut keep: impl FnMut(usize, Neighbor, &[Neighbor]) -> bool,
) {
    let SelectScratch {
        candidates,
        selected,
        pruned,
    } = scratch;
    selected.clear();
    pruned.clear();
    for (rank, &c) in candidates.iter().enumerate() {
        if selected.len() >= budget {
            break;
        }
        if keep(rank, c, selected) {
            selected.push(c);
        } else {
            pruned.push(c);
        }
    }
}

/// `keepPrunedConnections`: fills the list up to `budget` with the set-aside candidates,
/// nearest first.
pub(crate) fn fill_with_pruned(scratch: &mut SelectScratch, budget: usize) {
    let room = budget.saturating_sub(scratch.selected.len());
    scratch.selected.extend(scratch.pruned.iter().take(room));
}

#[cfg(test)]
mod tests {
    use super::*;
    use geodex_distance::{Portable, SquaredL2};

    fn run(points: &[[f32; 2]], base: [f32; 2], budget: usize, keep_pruned: bool) -> Vec<u32> {
        let flat: Vec<f32> = points.iter().flatten().copied().collect();
        let space = Space {
            vectors: &flat,
            dim: 2,
            dist: SquaredL2(Portable),
        };
        let mut s = SelectScratch {
            candidates: (0..points.len() as u32)
                .map(|i| Neighbor::new(i, space.dist.distance(&base, space.row(i))))
                .collect(),
            ..Default::default()
        };
        s.candidates.sort();
        select_neighbors(
            &space,
            budget,
            Heuristic {
                extend_candidates: false,
                keep_pruned,
            },
            &mut s,
        );
        s.selected.iter().map(|n| n.id).collect()
    }

    #[test]
    fn keeps_one_link_per_direction() {
        // Base at the origin; 0 and 1 lie in the same direction (1 is "behind" 0), 2 opposite.
        let pts = [[1.0, 0.0], [2.0, 0.1], [-1.5, 0.0]];
        assert_eq!(run(&pts, [0.0, 0.0], 3, false), vec![0, 2]);
        // keepPrunedConnections fills the budget with what was pruned.
        assert_eq!(run(&pts, [0.0, 0.0], 3, true), vec![0, 2, 1]);
        // The budget caps the result.
        assert_eq!(run(&pts, [0.0, 0.0], 1, false), vec![0]);
    }
}
