//! Edge rules: which of a node's candidates become its links (issue 18).
//!
//! The default is the heuristic of Malkov & Yashunin (2018), Alg. 4 ([`crate::select`]). The
//! others exist to find out whether it can be beaten at the same degree:
//! - **Vamana** α-pruning (Subramanya et al., NeurIPS 2019, RobustPrune): keep a candidate
//!   unless a kept neighbour is α times closer to it than the base is; α = 1 is the heuristic,
//!   α > 1 keeps more links;
//! - **random**: as many candidates as the heuristic keeps for this list, drawn uniformly — the
//!   control that shows what the choice of links is worth;
//! - **scored**: a learned scorer s(x) over the features [`edge_features`] of each candidate,
//!   applied in the heuristic's own order (closest first, against the links kept so far); a
//!   candidate is kept when s(x) ≥ the threshold. The heuristic is the special case
//!   s = x[`OCCLUSION_LOG_RATIO`], threshold 0, so the model class contains it.
//!
//! Every rule acts at build time only: the index file, its format and its search loop are the
//! same whatever rule built it. The rule chooses a new node's lists and the shrinking of a list
//! that overflows when a reverse link arrives; later updates of a living index (inserts after
//! a reopen, delete repair) use the heuristic.
//!
//! Geometry: the features and α compare *squared-Euclidean-like* dissimilarities e — the kernel
//! value itself under L2 (‖a−b‖²) and cosine (1 − cos = ½‖a−b‖² on unit vectors), δ under
//! Poincaré (a conformal squared distance). Inner product has no such distance; rules other
//! than the heuristic refuse it.

use std::fmt;
use std::sync::Arc;

use geodex_distance::Distance;
use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::context::SelectScratch;
use crate::search::Space;
use crate::select::{fill_with_pruned, select_neighbors, sweep};
use crate::{CoreError, Heuristic, Metric};

/// Number of features of a candidate edge.
pub const EDGE_FEATURES: usize = 8;
/// The features of one candidate edge b → c, in the order documented at [`edge_features`].
pub type EdgeFeatures = [f32; EDGE_FEATURES];
/// Index of ln(min over kept r of e(c, r) / e(b, c)) in [`EdgeFeatures`]: the heuristic keeps
/// c exactly when it is ≥ 0.
pub const OCCLUSION_LOG_RATIO: usize = 4;
/// Names of the features, for reports and model files.
pub const FEATURE_NAMES: [&str; EDGE_FEATURES] = [
    "bias",
    "log_dist_ratio_to_nearest",
    "rank_over_budget",
    "occluders_over_budget",
    "log_occlusion_ratio",
    "cos_angle_to_nearest_kept",
    "kept_over_budget",
    "log_dist_ratio_to_budget_th",
];

/// Bounds of the log-ratio features (a ratio of e⁸ is already "far"; clamping keeps a scorer's
/// inputs bounded on duplicates and outliers).
const LOG_CLAMP: f32 = 8.0;
/// Below this a dissimilarity counts as zero in a ratio (duplicate vectors).
const TINY: f32 = 1e-30;

/// A link kept earlier in the same list, seen from the candidate c being judged: e(b, r) and
/// e(c, r) in squared-like dissimilarities, in the order the links were kept.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KeptLink {
    /// e(b, r).
    pub e_br: f32,
    /// e(c, r).
    pub e_cr: f32,
}

/// A learned score of one candidate edge; larger means "keep".
///
/// A context-free scorer implements [`EdgeScorer::score`] only. A list-aware one (a
/// message-passing network over the candidate list) also sees the links kept so far and a
/// state of `state_width` numbers it wrote for each of them when it judged them: the rule
/// stores the state of every kept candidate and hands the states back, in keep order, to every
/// later judgement of the same list.
pub trait EdgeScorer: Send + Sync + fmt::Debug {
    /// The score of a candidate with these features.
    fn score(&self, features: &EdgeFeatures) -> f32;

    /// Numbers of state kept per kept link (0: context-free, [`EdgeScorer::score_in_list`]
    /// is never called).
    fn state_width(&self) -> usize {
        0
    }

    /// The score of candidate c with these features at e(b, c) = `e_bc`, against the `kept`
    /// links and their states (`kept.len()` × `state_width` numbers, keep order); writes c's
    /// own state (`state_width` numbers) into `state`, which the rule keeps if c is kept.
    fn score_in_list(
        &self,
        features: &EdgeFeatures,
        e_bc: f32,
        kept: &[KeptLink],
        kept_states: &[f64],
        state: &mut [f64],
    ) -> f32 {
        let _ = (e_bc, kept, kept_states, state);
        self.score(features)
    }
}

/// How a node's links are chosen from its candidates (see the module documentation).
#[derive(Clone, Debug, Default)]
pub enum EdgeRule {
    /// Malkov & Yashunin, Alg. 4.
    #[default]
    Heuristic,
    /// RobustPrune with this α ≥ 1 (DiskANN's default build uses 1.2).
    Vamana {
        /// The pruning factor on distances (applied squared to the squared-like e).
        alpha: f32,
    },
    /// As many candidates as the heuristic keeps, drawn uniformly with this seed.
    Random {
        /// Seed of the draws (mixed with the node and level, so threads do not matter).
        seed: u64,
    },
    /// A learned scorer and the score a candidate needs.
    Scored {
        /// The scorer.
        scorer: Arc<dyn EdgeScorer>,
        /// Keep a candidate when its score is at least this.
        threshold: f32,
    },
}

impl PartialEq for EdgeRule {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (EdgeRule::Heuristic, EdgeRule::Heuristic) => true,
            (EdgeRule::Vamana { alpha: a }, EdgeRule::Vamana { alpha: b }) => a == b,
            (EdgeRule::Random { seed: a }, EdgeRule::Random { seed: b }) => a == b,
            (
                EdgeRule::Scored {
                    scorer: a,
                    threshold: s,
                },
                EdgeRule::Scored {
                    scorer: b,
                    threshold: t,
                },
            ) => Arc::ptr_eq(a, b) && s == t,
            _ => false,
        }
    }
}

impl EdgeRule {
    /// A short name for the index's metadata and reports.
    pub fn name(&self) -> String {
        match self {
            EdgeRule::Heuristic => "heuristic".into(),
            EdgeRule::Vamana { alpha } => format!("vamana:{alpha}"),
            EdgeRule::Random { seed } => format!("random:{seed}"),
            EdgeRule::Scored { threshold, .. } => format!("learned (threshold {threshold})"),
        }
    }

    /// Rejects a rule that cannot run under `metric`.
    pub fn validate(&self, metric: Metric) -> Result<(), CoreError> {
        if let EdgeRule::Vamana { alpha } = self {
            if !(alpha.is_finite() && *alpha >= 1.0) {
                return Err(CoreError::InvalidParameter(format!(
                    "vamana alpha = {alpha} (must be a number ≥ 1)"
                )));
            }
        }
        if !matches!(self, EdgeRule::Heuristic) && metric == Metric::InnerProduct {
            return Err(CoreError::InvalidParameter(format!(
                "edge rule {} needs a distance; inner product has none (use l2 or cosine)",
                self.name()
            )));
        }
        Ok(())
    }
}

/// Where a candidate edge b → c stands, in squared-like dissimilarities e (module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EdgeContext {
    /// e(b, c).
    pub e_bc: f32,
    /// e(b, nearest candidate).
    pub e_nearest: f32,
    /// e(b, the budget-th nearest candidate), or the farthest if there are fewer.
    pub e_budget_th: f32,
    /// c's position in the candidate list, 0 = nearest.
    pub rank: usize,
    /// The list's degree budget (≥ 1).
    pub budget: usize,
    /// Links kept so far.
    pub kept: usize,
}

/// What the links kept so far say about candidate c: fold [`Occlusion::add`] over them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Occlusion {
    /// Kept links r with e(c, r) < e(b, c).
    pub occluders: usize,
    /// The smallest e(c, r) over kept r (∞ when none is kept).
    pub e_cr_min: f32,
    /// e(b, r) of that r.
    pub e_br_at_min: f32,
}

impl Occlusion {
    /// No link kept yet.
    pub fn none() -> Self {
        Occlusion {
            occluders: 0,
            e_cr_min: f32::INFINITY,
            e_br_at_min: f32::INFINITY,
        }
    }

    /// Accounts for a kept link r at e(b, r) = `e_br`, e(c, r) = `e_cr`, for a candidate at
    /// e(b, c) = `e_bc`.
    pub fn add(&mut self, e_bc: f32, e_br: f32, e_cr: f32) {
        self.occluders += usize::from(e_cr < e_bc);
        if e_cr < self.e_cr_min {
            self.e_cr_min = e_cr;
            self.e_br_at_min = e_br;
        }
    }
}

/// ln(a / b), both floored at [`TINY`], clamped to ±[`LOG_CLAMP`].
fn log_ratio(a: f32, b: f32) -> f32 {
    (a.max(TINY) / b.max(TINY)).ln().clamp(-LOG_CLAMP, LOG_CLAMP)
}

/// The features of candidate edge b → c, all scale-free:
/// 0. 1 (bias);
/// 1. ln(e(b,c) / e(b, nearest candidate));
/// 2. rank / budget;
/// 3. occluders / budget — kept links closer to c than b is;
/// 4. ln(min_r e(c,r) / e(b,c)) over kept r, +8 when none is kept (the heuristic's test: ≥ 0);
/// 5. cos of the angle at b between c and the kept r nearest to c, by the law of cosines on
///    squared distances, (e_bc + e_br − e_cr) / (2·√(e_bc·e_br)); −1 when none is kept;
/// 6. kept / budget;
/// 7. ln(e(b,c) / e(b, budget-th nearest candidate)) — the local scale of the list.
pub fn edge_features(at: &EdgeContext, occ: &Occlusion) -> EdgeFeatures {
    let budget = at.budget.max(1) as f32;
    let (occlusion, cos) = if occ.e_cr_min.is_finite() {
        let denom = 2.0 * (at.e_bc.max(TINY) * occ.e_br_at_min.max(TINY)).sqrt();
        let cos = (at.e_bc + occ.e_br_at_min - occ.e_cr_min) / denom;
        (log_ratio(occ.e_cr_min, at.e_bc), cos.clamp(-1.0, 1.0))
    } else {
        (LOG_CLAMP, -1.0)
    };
    [
        1.0,
        log_ratio(at.e_bc, at.e_nearest),
        at.rank as f32 / budget,
        occ.occluders as f32 / budget,
        occlusion,
        cos,
        at.kept as f32 / budget,
        log_ratio(at.e_bc, at.e_budget_th),
    ]
}

/// A squared-like dissimilarity from a kernel value (module docs): the value itself, which is
/// already squared-like under L2, cosine and Poincaré (δ); rules refuse inner product.
fn squared_like(kernel: f32) -> f32 {
    kernel.max(0.0)
}

/// Selects at most `budget` of `scratch.candidates` (sorted closest first to node `base` on
/// `level`) into `scratch.selected` by `rule`; `heuristic` adds `keep_pruned` to every rule.
pub(crate) fn select_by_rule<T, D: Distance<T>>(
    space: &Space<'_, T, D>,
    budget: usize,
    heuristic: Heuristic,
    rule: &EdgeRule,
    base: u32,
    level: usize,
    scratch: &mut SelectScratch,
) {
    match rule {
        EdgeRule::Heuristic => return select_neighbors(space, budget, heuristic, scratch),
        EdgeRule::Vamana { alpha } => robust_prune(space, budget, alpha * alpha, scratch),
        EdgeRule::Random { seed } => random_subset(space, budget, *seed, base, level, scratch),
        EdgeRule::Scored { scorer, threshold } => scored(space, budget, scorer.as_ref(), *threshold, scratch),
    }
    if heuristic.keep_pruned {
        fill_with_pruned(scratch, budget);
    }
}

/// RobustPrune: keep c unless a kept r has `alpha2`·e(c, r) ≤ e(b, c).
fn robust_prune<T, D: Distance<T>>(
    space: &Space<'_, T, D>,
    budget: usize,
    alpha2: f32,
    scratch: &mut SelectScratch,
) {
    sweep(scratch, budget, |_, c, selected| {
        let e_bc = squared_like(c.distance);
        selected
            .iter()
            .all(|r| alpha2 * squared_like(space.between(c.id, r.id)) > e_bc)
    });
}

/// As many candidates as the heuristic keeps, uniformly at random (partial Fisher–Yates with a
/// stream seeded by (seed, base, level)), closest first.
fn random_subset<T, D: Distance<T>>(
    space: &Space<'_, T, D>,
    budget: usize,
    seed: u64,
    base: u32,
    level: usize,
    scratch: &mut SelectScratch,
) {
    select_neighbors(space, budget, Heuristic::default(), scratch);
    let k = scratch.selected.len();
    let SelectScratch {
        candidates,
        selected,
        pruned,
    } = scratch;
    pruned.clear();
    pruned.extend_from_slice(candidates);
    let stream = seed ^ (u64::from(base) << 8 | level as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(stream);
    for i in 0..k {
        let j = i + (rng.next_u64() % (pruned.len() - i) as u64) as usize;
        pruned.swap(i, j);
    }
    selected.clear();
    selected.extend(pruned.drain(..k));
    selected.sort_unstable();
    pruned.sort_unstable();
}

/// What every candidate of one list is judged against: the list's scale and its budget.
#[derive(Clone, Copy)]
struct ListScale {
    e_nearest: f32,
    e_budget_th: f32,
    budget: usize,
}

impl ListScale {
    /// From the list's `len` squared-like dissimilarities to the base, ascending (`e_b(i)`);
    /// `None` for an empty list.
    fn of(e_b: impl Fn(usize) -> f32, len: usize, budget: usize) -> Option<Self> {
        (len > 0 && budget > 0).then(|| ListScale {
            e_nearest: e_b(0),
            e_budget_th: e_b(budget.min(len) - 1),
            budget,
        })
    }

    /// The features of the candidate at `rank`, e(b, c) = `e_bc`, against the links kept so
    /// far, given as (e(b, r), e(c, r)).
    fn features(
        &self,
        rank: usize,
        e_bc: f32,
        kept: impl ExactSizeIterator<Item = (f32, f32)>,
    ) -> EdgeFeatures {
        let count = kept.len();
        let mut occ = Occlusion::none();
        for (e_br, e_cr) in kept {
            occ.add(e_bc, e_br, e_cr);
        }
        let at = EdgeContext {
            e_bc,
            e_nearest: self.e_nearest,
            e_budget_th: self.e_budget_th,
            rank,
            budget: self.budget,
            kept: count,
        };
        edge_features(&at, &occ)
    }
}

/// The scored rule: walk the candidates closest first, keep c when s(features) ≥ threshold.
fn scored<T, D: Distance<T>>(
    space: &Space<'_, T, D>,
    budget: usize,
    scorer: &dyn EdgeScorer,
    threshold: f32,
    scratch: &mut SelectScratch,
) {
    let candidates = &scratch.candidates;
    let Some(scale) = ListScale::of(|i| squared_like(candidates[i].distance), candidates.len(), budget)
    else {
        return sweep(scratch, budget, |_, _, _| false);
    };
    if scorer.state_width() == 0 {
        return sweep(scratch, budget, |rank, c, selected| {
            let kept = selected
                .iter()
                .map(|r| (squared_like(r.distance), squared_like(space.between(c.id, r.id))));
            scorer.score(&scale.features(rank, squared_like(c.distance), kept)) >= threshold
        });
    }
    let mut list = ListJudge::new(scorer);
    sweep(scratch, budget, |rank, c, selected| {
        let kept = selected.iter().map(|r| KeptLink {
            e_br: squared_like(r.distance),
            e_cr: squared_like(space.between(c.id, r.id)),
        });
        list.judge(&scale, rank, squared_like(c.distance), kept, selected.len()) >= threshold
    });
}

/// The bookkeeping of a list-aware scorer over one list: the kept links' states, and the state
/// of the last candidate judged (stored once the rule is seen to have kept it).
struct ListJudge<'s> {
    scorer: &'s dyn EdgeScorer,
    width: usize,
    kept_states: Vec<f64>,
    last_state: Vec<f64>,
    links: Vec<KeptLink>,
}

impl<'s> ListJudge<'s> {
    fn new(scorer: &'s dyn EdgeScorer) -> Self {
        let width = scorer.state_width();
        ListJudge {
            scorer,
            width,
            kept_states: Vec::new(),
            last_state: vec![0.0; width],
            links: Vec::new(),
        }
    }

    /// The score of the candidate at `rank` (e(b, c) = `e_bc`) against the `kept` links, of
    /// which there are `kept_count`: one more than the states held means the previous candidate
    /// was kept.
    fn judge(
        &mut self,
        scale: &ListScale,
        rank: usize,
        e_bc: f32,
        kept: impl ExactSizeIterator<Item = KeptLink>,
        kept_count: usize,
    ) -> f32 {
        if kept_count * self.width > self.kept_states.len() {
            self.kept_states.extend_from_slice(&self.last_state);
        }
        self.links.clear();
        self.links.extend(kept);
        let x = scale.features(rank, e_bc, self.links.iter().map(|k| (k.e_br, k.e_cr)));
        self.scorer
            .score_in_list(&x, e_bc, &self.links, &self.kept_states, &mut self.last_state)
    }
}

/// A roll-out's decision on the candidate at a rank, with its features and the links kept so
/// far as (rank, [`KeptLink`]) in keep order.
pub type RolloutDecision<'a> = dyn FnMut(usize, &EdgeFeatures, &[(usize, KeptLink)]) -> bool + 'a;

/// The selection of the scored rule over candidates whose pairwise squared-like
/// dissimilarities `e(i, j)` are given (candidate 0 nearest; `e_b[i]` = e(b, i), ascending):
/// the indexes kept, and the features each candidate was judged on. `keep` sees the candidate's
/// rank, its features and the links kept so far as (rank, [`KeptLink`]) in keep order. Training
/// uses it to roll the rule out exactly as the build does (`Vec` outputs: not on the build's
/// hot path).
pub fn scored_rollout(
    e_b: &[f32],
    e: &dyn Fn(usize, usize) -> f32,
    budget: usize,
    keep: &mut RolloutDecision<'_>,
) -> (Vec<usize>, Vec<EdgeFeatures>) {
    let mut kept: Vec<usize> = Vec::new();
    let mut seen = Vec::with_capacity(e_b.len());
    let Some(scale) = ListScale::of(|i| e_b[i], e_b.len(), budget) else {
        return (kept, seen);
    };
    let mut links: Vec<(usize, KeptLink)> = Vec::with_capacity(budget);
    for (rank, &e_bc) in e_b.iter().enumerate() {
        if kept.len() >= budget {
            break;
        }
        links.clear();
        links.extend(kept.iter().map(|&r| {
            let link = KeptLink {
                e_br: e_b[r],
                e_cr: e(rank, r),
            };
            (r, link)
        }));
        let x = scale.features(rank, e_bc, links.iter().map(|(_, k)| (k.e_br, k.e_cr)));
        if keep(rank, &x, &links) {
            kept.push(rank);
        }
        seen.push(x);
    }
    (kept, seen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Neighbor;
    use geodex_distance::{Portable, SquaredL2};

    /// The heuristic written as a scorer: the occlusion log-ratio, kept at ≥ 0.
    #[derive(Debug)]
    struct AsHeuristic;
    impl EdgeScorer for AsHeuristic {
        fn score(&self, x: &EdgeFeatures) -> f32 {
            x[OCCLUSION_LOG_RATIO]
        }
    }

    fn scratch_for(space: &Space<'_, f32, SquaredL2<Portable>>, base: &[f32]) -> SelectScratch {
        let n = space.vectors.len() / space.dim;
        let mut s = SelectScratch {
            candidates: (0..n as u32)
                .map(|i| Neighbor::new(i, space.to(base, i)))
                .collect(),
            ..Default::default()
        };
        s.candidates.sort();
        s
    }

    fn cloud(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        (0..n * 3)
            .map(|_| (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32)
            .collect()
    }

    /// `f` over the 60-point cloud of `seed` and its candidates around (0.5, 0.5, 0.5).
    fn with_cloud<R>(
        seed: u64,
        f: impl FnOnce(&Space<'_, f32, SquaredL2<Portable>>, SelectScratch) -> R,
    ) -> R {
        let flat = cloud(60, seed);
        let space = Space {
            vectors: &flat,
            dim: 3,
            dist: SquaredL2(Portable),
        };
        let s = scratch_for(&space, &[0.5, 0.5, 0.5]);
        f(&space, s)
    }

    fn select(rule: &EdgeRule, budget: usize, seed: u64) -> Vec<u32> {
        with_cloud(seed, |space, mut s| {
            select_by_rule(space, budget, Heuristic::default(), rule, 7, 0, &mut s);
            s.selected.iter().map(|n| n.id).collect()
        })
    }

    #[test]
    fn the_heuristic_as_a_scorer_selects_what_the_heuristic_selects() {
        let scorer: Arc<dyn EdgeScorer> = Arc::new(AsHeuristic);
        let learned = EdgeRule::Scored {
            scorer,
            threshold: 0.0,
        };
        for seed in 0..20 {
            for budget in [1, 4, 12, 60] {
                assert_eq!(
                    select(&learned, budget, seed),
                    select(&EdgeRule::Heuristic, budget, seed)
                );
            }
        }
    }

    #[test]
    fn vamana_keeps_exactly_the_candidates_no_kept_link_prunes() {
        let (mut h_total, mut v_total) = (0, 0);
        for seed in 0..20 {
            let h = select(&EdgeRule::Heuristic, 60, seed);
            assert_eq!(select(&EdgeRule::Vamana { alpha: 1.0 }, 60, seed), h);
            let kept = select(&EdgeRule::Vamana { alpha: 1.5 }, 60, seed);
            // The definition, checked on every candidate: c is kept iff no link kept before
            // it (closer to the base) has 1.5²·e(c, r) ≤ e(b, c).
            with_cloud(seed, |space, s| {
                let mut so_far: Vec<u32> = Vec::new();
                for c in &s.candidates {
                    let pruned = so_far
                        .iter()
                        .any(|&r| 2.25 * space.between(c.id, r) <= c.distance);
                    assert_eq!(kept.contains(&c.id), !pruned);
                    if !pruned {
                        so_far.push(c.id);
                    }
                }
            });
            h_total += h.len();
            v_total += kept.len();
        }
        assert!(
            v_total > h_total,
            "α > 1 keeps more links: {v_total} vs {h_total}"
        );
    }

    #[test]
    fn random_keeps_the_heuristics_count_and_depends_on_its_seed() {
        let h = select(&EdgeRule::Heuristic, 12, 3);
        let a = select(&EdgeRule::Random { seed: 1 }, 12, 3);
        assert_eq!(a.len(), h.len());
        assert_eq!(a, select(&EdgeRule::Random { seed: 1 }, 12, 3));
        assert_ne!(a, select(&EdgeRule::Random { seed: 2 }, 12, 3));
        let mut sorted = a.clone();
        sorted.dedup();
        assert_eq!(sorted.len(), a.len(), "no candidate twice");
    }

    #[test]
    fn rollout_on_pairwise_distances_matches_the_build_rule() {
        let flat = cloud(40, 9);
        let base = [0.2f32, 0.7, 0.4];
        let space = Space {
            vectors: &flat,
            dim: 3,
            dist: SquaredL2(Portable),
        };
        let s = scratch_for(&space, &base);
        let ids: Vec<u32> = s.candidates.iter().map(|n| n.id).collect();
        let e_b: Vec<f32> = s.candidates.iter().map(|n| n.distance).collect();
        let e = |i: usize, j: usize| space.between(ids[i], ids[j]);
        let (kept, seen) = scored_rollout(&e_b, &e, 10, &mut |_, x, _| AsHeuristic.score(x) >= 0.0);
        let mut build = s;
        select_by_rule(
            &space,
            10,
            Heuristic::default(),
            &EdgeRule::Heuristic,
            0,
            0,
            &mut build,
        );
        let kept_ids: Vec<u32> = kept.iter().map(|&i| ids[i]).collect();
        assert_eq!(kept_ids, build.selected.iter().map(|n| n.id).collect::<Vec<_>>());
        // The angle feature agrees with the angle computed from the vectors themselves, for
        // the last candidate judged, against the links kept before it.
        let judged = seen.len() - 1;
        let c = ids[judged];
        let x = seen.last().unwrap();
        let nearest_kept = kept
            .iter()
            .filter(|&&k| k < judged)
            .map(|&k| ids[k])
            .min_by(|&a, &b| space.between(c, a).total_cmp(&space.between(c, b)))
            .unwrap();
        let (vc, vr) = (space.row(c), space.row(nearest_kept));
        let u: Vec<f32> = vc.iter().zip(base).map(|(a, b)| a - b).collect();
        let w: Vec<f32> = vr.iter().zip(base).map(|(a, b)| a - b).collect();
        let dot: f32 = u.iter().zip(&w).map(|(a, b)| a * b).sum();
        let norm = |v: &[f32]| v.iter().map(|a| a * a).sum::<f32>().sqrt();
        let cos = dot / (norm(&u) * norm(&w));
        assert!((x[5] - cos).abs() < 1e-4, "{} vs {cos}", x[5]);
    }

    /// A list-aware scorer whose decisions depend on the states of the links kept before:
    /// its state is (e(b, c), number of kept links it saw), and it keeps c when c is not
    /// occluded and e(b, c) is below 1.5× the mean e(b, r) its kept links recorded, and always
    /// when nothing is kept yet.
    #[derive(Debug)]
    struct ListAware;
    impl EdgeScorer for ListAware {
        fn score(&self, _: &EdgeFeatures) -> f32 {
            unreachable!("a list-aware scorer is asked through score_in_list")
        }
        fn state_width(&self) -> usize {
            2
        }
        fn score_in_list(
            &self,
            x: &EdgeFeatures,
            e_bc: f32,
            kept: &[KeptLink],
            kept_states: &[f64],
            state: &mut [f64],
        ) -> f32 {
            assert_eq!(kept_states.len(), 2 * kept.len());
            state.copy_from_slice(&[f64::from(e_bc), kept.len() as f64]);
            list_aware_decision(x, e_bc, kept_states.chunks(2).map(|s| s[0]))
        }
    }

    fn list_aware_decision(x: &EdgeFeatures, e_bc: f32, recorded: impl ExactSizeIterator<Item = f64>) -> f32 {
        let n = recorded.len();
        if n == 0 {
            return 1.0;
        }
        let mean = recorded.sum::<f64>() / n as f64;
        let near = f64::from(e_bc) < 1.5 * mean;
        if near && x[OCCLUSION_LOG_RATIO] >= -0.2 {
            1.0
        } else {
            -1.0
        }
    }

    #[test]
    fn the_build_hands_a_list_aware_scorer_the_states_of_the_links_it_kept() {
        let rule = EdgeRule::Scored {
            scorer: Arc::new(ListAware),
            threshold: 0.0,
        };
        let mut differs = 0;
        for seed in 0..10 {
            let expected: Vec<u32> = with_cloud(seed, |space, s| {
                let ids: Vec<u32> = s.candidates.iter().map(|n| n.id).collect();
                let e_b: Vec<f32> = s.candidates.iter().map(|n| n.distance).collect();
                let e = |i: usize, j: usize| space.between(ids[i], ids[j]);
                // The roll-out keeps its own record: the kept links' e(b, r) by rank.
                let (kept, _) = scored_rollout(&e_b, &e, 12, &mut |rank, x, links| {
                    list_aware_decision(x, e_b[rank], links.iter().map(|&(r, _)| f64::from(e_b[r]))) >= 0.0
                });
                kept.iter().map(|&i| ids[i]).collect()
            });
            assert_eq!(select(&rule, 12, seed), expected, "seed {seed}");
            differs += usize::from(expected != select(&EdgeRule::Heuristic, 12, seed));
        }
        assert!(
            differs > 0,
            "the list-aware rule must differ from the heuristic somewhere"
        );
    }

    #[test]
    fn rules_refuse_inner_product_and_bad_alpha() {
        assert!(EdgeRule::Vamana { alpha: 1.2 }
            .validate(Metric::InnerProduct)
            .is_err());
        assert!(EdgeRule::Vamana { alpha: 0.9 }.validate(Metric::L2).is_err());
        assert!(EdgeRule::Vamana { alpha: f32::NAN }.validate(Metric::L2).is_err());
        assert!(EdgeRule::Random { seed: 0 }.validate(Metric::Cosine).is_ok());
        assert!(EdgeRule::Heuristic.validate(Metric::InnerProduct).is_ok());
    }
}
