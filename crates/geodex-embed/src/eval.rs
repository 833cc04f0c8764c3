//! How well an embedding holds its hierarchy.
//!
//! - **Reconstruction** (Nickel & Kiela 2017, §4.1, as their reference code computes it): for
//!   every node u with ancestors, all other nodes are ranked by distance to u; the relevant ones
//!   are u's ancestors in the closure (the pairs the model was trained on, in their direction).
//!   The *rank* of an ancestor is 1 + the number of non-ancestors closer to u, averaged over
//!   all pairs (mean rank, best 1); *MAP* is the mean over u of the average precision of that
//!   ranking (best 1).
//! - **Distortion** (Sala et al. 2018, §2): against hop distances d_G in the Hasse diagram of
//!   the closure (undirected), r = d_E / d_G per pair of nodes. The worst case is
//!   max r / min r (scale-free; 1 is an isometry up to scale). The average distortion
//!   mean |c·r − 1| is reported at the scale c that minimises it (a weighted median), because a
//!   trained embedding's scale is arbitrary; c itself is reported.

use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;

use crate::hierarchy::{hop_distances, Hierarchy};
use crate::manifold::Model;
use crate::EmbedError;

/// Reconstruction quality of an embedding.
#[derive(Clone, Debug, Serialize)]
pub struct Reconstruction {
    /// Mean rank of an ancestor among the non-ancestors (1 is perfect).
    pub mean_rank: f64,
    /// Mean average precision over nodes (1 is perfect).
    pub map: f64,
    /// Nodes evaluated (those with ancestors, or a sample of them).
    pub nodes: usize,
}

/// Distortion of an embedding against hop distances.
#[derive(Clone, Debug, Serialize)]
pub struct Distortion {
    /// min over c of mean |c · d_E/d_G − 1| over the pairs measured.
    pub average: f64,
    /// max (d_E/d_G) / min (d_E/d_G).
    pub worst: f64,
    /// The scale c of `average` (hops per unit of embedding distance).
    pub scale: f64,
    /// Source nodes the pairs came from (all nodes, or a sample).
    pub sources: usize,
    /// Pairs measured.
    pub pairs: usize,
}

/// Checks that `vectors` holds one `dim`-vector per node of `hierarchy`, all finite and, for a
/// hyperbolic model, inside the unit ball.
pub fn check_embedding(
    hierarchy: &Hierarchy,
    vectors: &[f32],
    dim: usize,
    model: Model,
) -> Result<(), EmbedError> {
    if dim == 0 || vectors.len() != hierarchy.len() * dim {
        return Err(EmbedError::Embedding(format!(
            "{} values for {} nodes of dimension {dim}",
            vectors.len(),
            hierarchy.len()
        )));
    }
    for (row, v) in vectors.chunks_exact(dim).enumerate() {
        if v.iter().any(|x| !x.is_finite()) {
            return Err(EmbedError::Embedding(format!(
                "row {row} has a non-finite component"
            )));
        }
        let norm = v.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
        if model.is_hyperbolic() && norm >= 1.0 {
            return Err(EmbedError::Embedding(format!(
                "row {row}: norm {norm} is not < 1, outside the Poincaré ball (model {model})"
            )));
        }
    }
    Ok(())
}

/// The share of `found` that are ancestors or descendants of `node` (0 for an empty list): the
/// hierarchy task of THEORY §9.2 — a nearest-neighbour query on a hierarchy embedding should
/// return the node's relatives.
pub fn hierarchy_precision(hierarchy: &Hierarchy, node: u32, found: &[u32]) -> f64 {
    if found.is_empty() {
        return 0.0;
    }
    found.iter().filter(|&&w| hierarchy.related(node, w)).count() as f64 / found.len() as f64
}

/// Node ids `0..n`, or a seeded sample of `sample` of them (sorted) when that is smaller.
pub fn sample_nodes(n: usize, sample: Option<usize>, seed: u64) -> Vec<u32> {
    pick((0..n as u32).collect(), sample, seed)
}

/// The nodes to measure from: all of `candidates` if `sample` is `None` or not smaller, else a
/// seeded sample of `sample` of them (sorted).
fn pick(mut candidates: Vec<u32>, sample: Option<usize>, seed: u64) -> Vec<u32> {
    if let Some(s) = sample.filter(|&s| s < candidates.len()) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        for i in 0..s {
            let j = i + (rng.next_u64() % (candidates.len() - i) as u64) as usize;
            candidates.swap(i, j);
        }
        candidates.truncate(s);
        candidates.sort_unstable();
    }
    candidates
}

/// Runs `per_node` over `nodes` on `threads` scoped threads and collects the results in order.
fn parallel_map<R: Send>(nodes: &[u32], threads: usize, per_node: impl Fn(u32) -> R + Sync) -> Vec<R> {
    let chunk = nodes.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = nodes
            .chunks(chunk)
            .map(|part| s.spawn(|| part.iter().map(|&u| per_node(u)).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("an evaluation thread panicked"))
            .collect()
    })
}

/// Which nodes a node's ranking should put first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relevant {
    /// Its ancestors in the closure — reconstruction as Nickel & Kiela (2017) define it.
    Ancestors,
    /// Its Hasse-diagram neighbours (parents and children), as Sala et al. (2018, §6) measure
    /// their construction: on a tree an isometric embedding scores 1 here, while closure
    /// reconstruction also asks every ancestor to be nearer than every sibling, which no tree
    /// metric grants.
    GraphNeighbours,
}

/// Mean rank and MAP of `vectors` (ids as in `hierarchy`) under `model`'s distance: every node
/// with relevant nodes (or a seeded sample of `sample` of them) ranks all others.
pub fn reconstruction(
    hierarchy: &Hierarchy,
    vectors: &[f32],
    dim: usize,
    model: Model,
    relevant: Relevant,
    sample: Option<usize>,
    threads: usize,
) -> Result<Reconstruction, EmbedError> {
    let neighbours;
    let relevant: Vec<&[u32]> = match relevant {
        Relevant::Ancestors => (0..hierarchy.len() as u32)
            .map(|u| hierarchy.ancestors(u))
            .collect(),
        Relevant::GraphNeighbours => {
            neighbours = hierarchy.hasse_neighbours();
            neighbours.iter().map(Vec::as_slice).collect()
        }
    };
    check_embedding(hierarchy, vectors, dim, model)?;
    let with_relevant = (0..hierarchy.len() as u32)
        .filter(|&u| !relevant[u as usize].is_empty())
        .collect();
    let nodes = pick(with_relevant, sample, 0x4EC0);
    let per_node = parallel_map(&nodes, threads, |u| {
        ranked(vectors, dim, model, u, |_| false, relevant[u as usize])
    });
    Ok(summarise(&nodes, &per_node, |u| relevant[u as usize].len()))
}

/// Link prediction on held-out closure pairs (Nickel & Kiela 2017, §4.2, in the filtered
/// setting): for every child u of a held-out pair (or a seeded sample of `sample` of them),
/// all other nodes are ranked by distance, the ancestors of u that `train` knows are left out
/// of the ranking, and the held-out ancestors of u are the relevant ones — mean rank and MAP as
/// in [`reconstruction`]. `vectors` must be an embedding of `train`'s nodes.
pub fn link_prediction(
    train: &Hierarchy,
    held_out: &[(u32, u32)],
    vectors: &[f32],
    dim: usize,
    model: Model,
    sample: Option<usize>,
    threads: usize,
) -> Result<Reconstruction, EmbedError> {
    check_embedding(train, vectors, dim, model)?;
    let mut hidden: Vec<Vec<u32>> = vec![Vec::new(); train.len()];
    for &(child, ancestor) in held_out {
        if child as usize >= train.len() || ancestor as usize >= train.len() {
            return Err(EmbedError::InvalidParameter(format!(
                "held-out pair ({child}, {ancestor}) names a node outside the hierarchy"
            )));
        }
        hidden[child as usize].push(ancestor);
    }
    hidden.iter_mut().for_each(|h| {
        h.sort_unstable();
        h.dedup();
    });
    let children = (0..train.len() as u32)
        .filter(|&u| !hidden[u as usize].is_empty())
        .collect();
    let nodes = pick(children, sample, 0x11_4E);
    let per_node = parallel_map(&nodes, threads, |u| {
        let known = train.ancestors(u);
        let skip = |w: u32| known.binary_search(&w).is_ok();
        ranked(vectors, dim, model, u, skip, &hidden[u as usize])
    });
    if nodes.is_empty() {
        return Err(EmbedError::InvalidParameter("no held-out pairs to rank".into()));
    }
    Ok(summarise(&nodes, &per_node, |u| hidden[u as usize].len()))
}

/// Node `u`'s ranking of every other node not `skip`ped, closest first, scored against
/// `relevant` (sorted) by [`ranks_and_precision`].
fn ranked(
    vectors: &[f32],
    dim: usize,
    model: Model,
    u: u32,
    skip: impl Fn(u32) -> bool,
    relevant: &[u32],
) -> (f64, f64) {
    let row = |i: u32| &vectors[i as usize * dim..(i as usize + 1) * dim];
    let n = (vectors.len() / dim) as u32;
    let mut order: Vec<(f64, u32)> = (0..n)
        .filter(|&w| w != u && !skip(w))
        .map(|w| (model.distance(row(u), row(w)), w))
        .collect();
    order.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    ranks_and_precision(&order, relevant)
}

/// Mean rank over all relevant pairs and MAP over `nodes` from their per-node sums.
fn summarise(
    nodes: &[u32],
    per_node: &[(f64, f64)],
    relevant_count: impl Fn(u32) -> usize,
) -> Reconstruction {
    let pairs: usize = nodes.iter().map(|&u| relevant_count(u)).sum();
    let rank_sum: f64 = per_node.iter().map(|r| r.0).sum();
    let ap_sum: f64 = per_node.iter().map(|r| r.1).sum();
    Reconstruction {
        mean_rank: rank_sum / pairs as f64,
        map: ap_sum / nodes.len() as f64,
        nodes: nodes.len(),
    }
}

/// For one node's ranking (closest first) and its relevant nodes (sorted): the sum over relevant
/// nodes of 1 + the number of non-relevant ones ahead, and the average precision.
fn ranks_and_precision(order: &[(f64, u32)], relevant: &[u32]) -> (f64, f64) {
    let (mut found, mut rank_sum, mut precision_sum) = (0usize, 0f64, 0f64);
    for (position, &(_, w)) in order.iter().enumerate() {
        if relevant.binary_search(&w).is_ok() {
            found += 1;
            rank_sum += (position + 1 - (found - 1)) as f64;
            precision_sum += found as f64 / (position + 1) as f64;
            if found == relevant.len() {
                break;
            }
        }
    }
    (rank_sum, precision_sum / relevant.len() as f64)
}

/// Average and worst-case distortion of `vectors` against hop distances in the Hasse diagram,
/// from every node or a seeded sample of `sources` nodes, to every node reachable from it.
pub fn distortion(
    hierarchy: &Hierarchy,
    vectors: &[f32],
    dim: usize,
    model: Model,
    sources: Option<usize>,
    threads: usize,
) -> Result<Distortion, EmbedError> {
    check_embedding(hierarchy, vectors, dim, model)?;
    let graph = hierarchy.hasse_neighbours();
    let picked = pick((0..hierarchy.len() as u32).collect(), sources, 0xD157);
    let ratios: Vec<f64> = parallel_map(&picked, threads, |s| {
        let hops = hop_distances(&graph, s);
        let row = |i: usize| &vectors[i * dim..(i + 1) * dim];
        hops.iter()
            .enumerate()
            .filter(|&(t, &h)| t != s as usize && h != u32::MAX)
            .map(|(t, &h)| model.distance(row(s as usize), row(t)) / h as f64)
            .collect::<Vec<f64>>()
    })
    .into_iter()
    .flatten()
    .collect();
    if ratios.is_empty() {
        return Err(EmbedError::Embedding(
            "no connected pairs to measure distortion on".into(),
        ));
    }
    let (min, max) = ratios
        .iter()
        .fold((f64::INFINITY, 0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    let scale = best_scale(&ratios);
    let average = ratios.iter().map(|r| (scale * r - 1.0).abs()).sum::<f64>() / ratios.len() as f64;
    Ok(Distortion {
        average,
        worst: if min > 0.0 { max / min } else { f64::INFINITY },
        scale,
        sources: picked.len(),
        pairs: ratios.len(),
    })
}

/// The c minimising Σ |c·rᵢ − 1| = Σ rᵢ·|c − 1/rᵢ|: the median of 1/rᵢ weighted by rᵢ.
/// Zero ratios (coincident points) carry no weight.
fn best_scale(ratios: &[f64]) -> f64 {
    let mut weighted: Vec<(f64, f64)> = ratios
        .iter()
        .filter(|&&r| r > 0.0)
        .map(|&r| (1.0 / r, r))
        .collect();
    if weighted.is_empty() {
        return 1.0;
    }
    weighted.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let half = weighted.iter().map(|w| w.1).sum::<f64>() / 2.0;
    let mut acc = 0.0;
    for &(value, weight) in &weighted {
        acc += weight;
        if acc >= half {
            return value;
        }
    }
    weighted.last().map_or(1.0, |w| w.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_and_ranks_of_a_known_ranking() {
        // Relevant at positions 1, 2 and 5 (1-based): AP = (1/1 + 2/2 + 3/5) / 3; ranks 1, 1, 3.
        let order: Vec<(f64, u32)> = [7, 3, 1, 4, 9]
            .iter()
            .enumerate()
            .map(|(i, &w)| (i as f64, w))
            .collect();
        let (ranks, ap) = ranks_and_precision(&order, &[3, 7, 9]);
        assert_eq!(ranks, 5.0);
        assert!((ap - (1.0 + 1.0 + 0.6) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn best_scale_minimises_the_average_distortion() {
        let ratios = [0.5, 1.0, 2.0, 2.5, 4.0];
        let c = best_scale(&ratios);
        let cost = |c: f64| ratios.iter().map(|r| (c * r - 1.0).abs()).sum::<f64>();
        for k in 1..400 {
            let other = k as f64 / 100.0;
            assert!(cost(c) <= cost(other) + 1e-12, "c {c} loses to {other}");
        }
    }
}
