//! Setting each rule's knob to a mean recall target on the calibration queries, by searching.
//!
//! - fixed, patience: the smallest integer knob whose mean recall meets the target (bisection;
//!   a larger knob never stops a search earlier);
//! - learned: the smallest threshold on the predicted recall that meets it (bisection on a
//!   real number, to a resolution of 2⁻¹⁶); ppo: the same on the policy's stop probability;
//! - epsilon: the smallest relative radius ε in [0, 4] that meets it (bisection to 4·2⁻¹⁶; a
//!   larger ε never stops a search earlier);
//! - ada: for every grid beam width `e`, the searches with every bin at `e` give each query's
//!   recall and work at `e` (a query's walk until its score is fixed does not depend on `e`,
//!   so these are exactly the outcomes it would have with its bin at `e`); then the bins' widths
//!   rise greedily, always the step with the most recall per distance evaluation, until the
//!   mean recall meets the target. Ada-ef (Zhang & Miller) gives each bin the width that meets
//!   the target *within* the bin; the greedy allocation meets the declared *mean* target with
//!   less work, and is what a mean-recall target asks for.
//! - adaef: the same, with the queries binned by the adaef score (the same widths' searches
//!   serve both rules: with every bin at one width, either is a search at that width).
//! - the work budget (`work_cap`): set from the fixed rule's searches at its ef before the
//!   patience, score and epsilon rules' knobs, which are then calibrated with the budget in place.
//! - the beam of the patience and score rules: one multiple of the fixed ef, or, given several
//!   (`beam_factors`), the one whose calibrated logistic rule needs the fewest distance
//!   evaluations on the calibration queries, target by target. A wider beam lets hard queries
//!   work beyond the fixed ef while the rule stops easy ones early — most of the rules' savings
//!   at 0.95 on the shared sets — while at 0.99 on a set of 277k a pure truncation of the fixed
//!   beam (factor 1) saved more (ADAPTIVE.md, "How wide a beam"), so no one factor is best.

use std::collections::BTreeMap;

use geodex_core::stop::{Calibration, EPSILON_MAX};
use geodex_core::{Component, Index, StopKind, StopModel, StopRule};

use crate::evaluate::{mean_distances, mean_recall, outcomes, Outcome, Workload};
use crate::{LearnError, TARGET_GRID};

/// How close to the cap's recall a grid target may be and still be calibrated.
const GRID_MARGIN: f64 = 0.002;

/// The calibration queries' scores under the bin-width rules (NaN: the warm-up never ended).
#[derive(Clone, Debug, Default)]
pub struct Scores {
    /// The ada rule's.
    pub ada: Vec<f32>,
    /// The adaef rule's (ignored when the model has no law).
    pub adaef: Vec<f32>,
}

/// Calibrates every rule for the requested targets and the reachable grid targets, the patience
/// and score rules at the beam of `beam_factors` (non-empty, each ≥ 1) that serves the logistic
/// rule best; returns the calibration (ascending in target) and the mean recall at the cap.
pub fn calibrate<T: Component>(
    index: &Index<T>,
    model: &StopModel,
    w: &Workload<'_, T>,
    scores: &Scores,
    requested: &[f64],
    beam_factors: &[f64],
    work_cap: Option<f64>,
) -> Result<(Vec<Calibration>, f64), LearnError> {
    let cap = mean_recall(&outcomes(index, w, model.ef_cap, None)?);
    if let Some(t) = requested.iter().find(|&&t| t > cap) {
        return Err(LearnError::Invalid(format!(
            "the recall target {t} is out of reach: the calibration queries reach {cap:.4} at the \
             cap ef {}; raise --ef-cap",
            model.ef_cap
        )));
    }
    let mut targets: Vec<f64> = TARGET_GRID
        .iter()
        .copied()
        .filter(|&t| t <= cap - GRID_MARGIN)
        .chain(requested.iter().copied())
        .collect();
    targets.sort_by(f64::total_cmp);
    targets.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
    let widths = WidthOutcomes::measure(index, model, w)?;
    let ada = AdaTable::new(&widths, &model.ada_edges, &scores.ada);
    let adaef = model
        .adaef
        .as_ref()
        .map(|a| AdaTable::new(&widths, &a.edges, &scores.adaef));
    let mut out = Vec::with_capacity(targets.len());
    for &target in &targets {
        let fixed_ef = smallest(model.k as u64, model.ef_cap as u64, |ef| {
            Ok(mean_recall(&outcomes(index, w, ef as usize, None)?) >= target)
        })? as usize;
        let mut knobs = Calibration {
            target,
            fixed_ef,
            beam: fixed_ef,
            patience: 1,
            threshold: 1.0,
            ada_ef: ada.allocate(target, fixed_ef),
            adaef_ef: adaef
                .as_ref()
                .map_or_else(Vec::new, |t| t.allocate(target, fixed_ef)),
            ppo_threshold: None,
            gbdt_threshold: None,
            gain_threshold: None,
            epsilon: None,
            budget: None,
        };
        if let Some(cap) = work_cap {
            let fixed = outcomes(index, w, fixed_ef, None)?;
            knobs.budget = Some(budget(&fixed, cap));
        }
        let mut beams: Vec<usize> = beam_factors
            .iter()
            .map(|f| ((fixed_ef as f64 * f).ceil() as usize).min(model.ef_cap))
            .collect();
        // Narrowest first, so that a tie goes to the beam that bounds the tail tighter.
        beams.sort_unstable();
        beams.dedup();
        let choose = beams.len() > 1;
        let mut best: Option<(f64, Calibration)> = None;
        for beam in beams {
            let trial = calibrate_at_beam(
                index,
                model,
                w,
                Calibration {
                    beam,
                    ..knobs.clone()
                },
            )?;
            // With one beam there is nothing to choose, and no need to measure it.
            let work = if choose {
                let rule = StopRule::with_knobs(model, StopKind::Learned, &trial);
                mean_distances(&outcomes(index, w, model.ef_cap, Some(&rule))?)
            } else {
                0.0
            };
            if best.as_ref().is_none_or(|(least, _)| work < *least) {
                best = Some((work, trial));
            }
        }
        knobs = best.map_or(knobs, |(_, k)| k);
        out.push(knobs);
    }
    Ok((out, cap))
}

/// The patience and score rules' knobs, and the epsilon rule's ε, calibrated to `knobs.target`
/// at the beam (and budget) of `knobs`.
fn calibrate_at_beam<T: Component>(
    index: &Index<T>,
    model: &StopModel,
    w: &Workload<'_, T>,
    mut knobs: Calibration,
) -> Result<Calibration, LearnError> {
    let target = knobs.target;
    knobs.patience = smallest(1, 1 << 16, |p| {
        let trial = Calibration {
            patience: p as u32,
            ..knobs.clone()
        };
        meets(index, model, w, StopKind::Patience, &trial, target)
    })? as u32;
    knobs.threshold = score_threshold(index, model, w, StopKind::Learned, &knobs)?;
    knobs.epsilon = Some(epsilon(index, model, w, &knobs)?);
    if model.gbdt.is_some() {
        knobs.gbdt_threshold = Some(score_threshold(index, model, w, StopKind::Gbdt, &knobs)?);
    }
    if model.gain.is_some() {
        knobs.gain_threshold = Some(score_threshold(index, model, w, StopKind::Gain, &knobs)?);
    }
    Ok(knobs)
}

/// `cap` × the 99th percentile (nearest rank) of the outcomes' distance evaluations, rounded
/// up, at least 1: the work budget of [`Calibration::budget`].
pub fn budget(outcomes: &[Outcome], cap: f64) -> u64 {
    let mut work: Vec<u64> = outcomes.iter().map(|o| o.distances).collect();
    work.sort_unstable();
    let rank = (0.99 * work.len() as f64).ceil() as usize;
    let p99 = work.get(rank.saturating_sub(1)).copied().unwrap_or(0);
    ((cap * p99 as f64).ceil() as u64).max(1)
}

/// The smallest threshold of a score rule — `kind` learned, gbdt (on the predicted recall), gain
/// (on its score, falling with the predicted gain) or ppo (on the stop probability) — meeting `knobs.target` with the beam of `knobs`, on `w` (the
/// model's predictor as it stands).
pub fn score_threshold<T: Component>(
    index: &Index<T>,
    model: &StopModel,
    w: &Workload<'_, T>,
    kind: StopKind,
    knobs: &Calibration,
) -> Result<f32, LearnError> {
    smallest_threshold(|th| {
        let mut trial = knobs.clone();
        match kind {
            StopKind::Ppo => trial.ppo_threshold = Some(th),
            StopKind::Gbdt => trial.gbdt_threshold = Some(th),
            StopKind::Gain => trial.gain_threshold = Some(th),
            _ => trial.threshold = th,
        }
        meets(index, model, w, kind, &trial, knobs.target)
    })
}

/// The smallest ε in [0, [`EPSILON_MAX`]] of the epsilon rule meeting `knobs.target` (with
/// the beam of `knobs` on a byte walk, which keeps that many nodes to re-rank; an exact walk
/// keeps k); [`EPSILON_NEVER`] (a plain search of the beam of `knobs`) when not even
/// [`EPSILON_MAX`] meets it.
pub fn epsilon<T: Component>(
    index: &Index<T>,
    model: &StopModel,
    w: &Workload<'_, T>,
    knobs: &Calibration,
) -> Result<f32, LearnError> {
    let ok = |e: f32| {
        let trial = Calibration {
            epsilon: Some(e),
            ..knobs.clone()
        };
        meets(index, model, w, StopKind::Epsilon, &trial, knobs.target)
    };
    smallest_real(0.0, EPSILON_MAX, EPSILON_NEVER, ok)
}

/// The ε stored when [`EPSILON_MAX`] does not meet a target: larger than any distance ratio,
/// finite so that the model's JSON holds it.
pub const EPSILON_NEVER: f32 = 1e30;

fn meets<T: Component>(
    index: &Index<T>,
    model: &StopModel,
    w: &Workload<'_, T>,
    kind: StopKind,
    knobs: &Calibration,
    target: f64,
) -> Result<bool, LearnError> {
    let rule = StopRule::with_knobs(model, kind, knobs);
    Ok(mean_recall(&outcomes(index, w, model.ef_cap, Some(&rule))?) >= target)
}

/// The smallest `x` in `[lo, hi]` with `ok(x)`, assuming `ok` is monotone; `hi` when none.
fn smallest(
    lo: u64,
    hi: u64,
    mut ok: impl FnMut(u64) -> Result<bool, LearnError>,
) -> Result<u64, LearnError> {
    let (mut lo, mut hi) = (lo, hi);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if ok(mid)? {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Ok(hi)
}

/// The smallest threshold in [0, 1] (to 2⁻¹⁶) with `ok`; a threshold above 1 never stops, so
/// the cap's recall is the fallback.
fn smallest_threshold(ok: impl FnMut(f32) -> Result<bool, LearnError>) -> Result<f32, LearnError> {
    smallest_real(0.0, 1.0, 2.0, ok)
}

/// The smallest `x` in `[lo, hi]` (to (hi − lo)·2⁻¹⁶) with `ok`, assuming `ok` is monotone;
/// `never` when not even `hi` is.
fn smallest_real(
    lo: f32,
    hi: f32,
    never: f32,
    mut ok: impl FnMut(f32) -> Result<bool, LearnError>,
) -> Result<f32, LearnError> {
    if !ok(hi)? {
        return Ok(never);
    }
    let (mut lo, mut hi) = (lo, hi);
    for _ in 0..16 {
        let mid = 0.5 * (lo + hi);
        if ok(mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(hi)
}

/// Per bin, mean recall and distance evaluations at each grid beam width.
struct AdaTable {
    widths: Vec<usize>,
    /// Per bin: query count and (mean recall, mean distances) per width.
    bins: Vec<(usize, Vec<(f64, f64)>)>,
}

/// Each calibration query's outcome at each grid beam width.
struct WidthOutcomes {
    widths: Vec<usize>,
    per_width: Vec<Vec<Outcome>>,
}

impl WidthOutcomes {
    fn measure<T: Component>(
        index: &Index<T>,
        model: &StopModel,
        w: &Workload<'_, T>,
    ) -> Result<WidthOutcomes, LearnError> {
        let widths = width_grid(model.k, model.ef_cap);
        let mut per_width: Vec<Vec<Outcome>> = Vec::with_capacity(widths.len());
        for &e in &widths {
            let knobs = Calibration {
                target: 1.0,
                fixed_ef: e,
                beam: e,
                patience: 1,
                threshold: 1.0,
                ada_ef: vec![e; model.ada_edges.len() + 1],
                adaef_ef: Vec::new(),
                ppo_threshold: None,
                gbdt_threshold: None,
                gain_threshold: None,
                epsilon: None,
                budget: None,
            };
            let rule = StopRule::with_knobs(model, StopKind::Ada, &knobs);
            per_width.push(outcomes(index, w, model.ef_cap, Some(&rule))?);
        }
        Ok(WidthOutcomes { widths, per_width })
    }
}

impl AdaTable {
    /// The table of the queries binned by `scores` (NaN: the widest bin) at `edges`.
    fn new(outcomes: &WidthOutcomes, edges: &[f32], scores: &[f32]) -> AdaTable {
        let n_bins = edges.len() + 1;
        let bin_of: Vec<usize> = scores
            .iter()
            .map(|&s| {
                if s.is_finite() {
                    edges.partition_point(|&e| e <= s)
                } else {
                    n_bins - 1
                }
            })
            .collect();
        let per_width = &outcomes.per_width;
        let bins = (0..n_bins)
            .map(|b| {
                let members: Vec<usize> = (0..bin_of.len()).filter(|&i| bin_of[i] == b).collect();
                let n = members.len().max(1) as f64;
                let means = per_width
                    .iter()
                    .map(|o| {
                        let r = members.iter().map(|&i| o[i].recall).sum::<f64>() / n;
                        let d = members.iter().map(|&i| o[i].distances as f64).sum::<f64>() / n;
                        (r, d)
                    })
                    .collect();
                (members.len(), means)
            })
            .collect();
        AdaTable {
            widths: outcomes.widths.clone(),
            bins,
        }
    }

    /// Widths per bin meeting mean recall `target` greedily (most recall gained per distance
    /// evaluation first); bins without calibration queries get `fallback`.
    fn allocate(&self, target: f64, fallback: usize) -> Vec<usize> {
        let total: usize = self.bins.iter().map(|b| b.0).sum();
        let mut at = vec![0usize; self.bins.len()];
        let recall_sum = |at: &[usize]| -> f64 {
            self.bins
                .iter()
                .zip(at)
                .map(|((n, m), &j)| *n as f64 * m[j].0)
                .sum::<f64>()
        };
        while recall_sum(&at) < target * total as f64 {
            let mut best: Option<(f64, usize, usize)> = None;
            for (b, (n, means)) in self.bins.iter().enumerate() {
                if *n == 0 {
                    continue;
                }
                let (r0, d0) = means[at[b]];
                for (j, &(r, d)) in means.iter().enumerate().skip(at[b] + 1) {
                    if r > r0 {
                        let gain = (r - r0) / (d - d0).max(1e-9);
                        if best.is_none_or(|(g, _, _)| gain > g) {
                            best = Some((gain, b, j));
                        }
                    }
                }
            }
            match best {
                Some((_, b, j)) => at[b] = j,
                None => break,
            }
        }
        self.bins
            .iter()
            .zip(&at)
            .map(|((n, _), &j)| if *n == 0 { fallback } else { self.widths[j] })
            .collect()
    }
}

/// Beam widths from k to the cap: steps of 2 to 32, then growing by an eighth to a quarter.
fn width_grid(k: usize, cap: usize) -> Vec<usize> {
    let mut widths = BTreeMap::new();
    let mut e = k;
    while e < cap {
        widths.insert(e, ());
        e += if e < 32 { 2 } else { (e / 8).max(4) };
    }
    widths.insert(cap, ());
    widths.into_keys().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bisection_finds_the_smallest_passing_knob() {
        assert_eq!(smallest(1, 100, |x| Ok(x >= 37)).unwrap(), 37);
        assert_eq!(smallest(1, 100, |_| Ok(false)).unwrap(), 100);
        let th = smallest_threshold(|t| Ok(t >= 0.3)).unwrap();
        assert!((0.3..0.3 + 1e-4).contains(&th));
        assert_eq!(smallest_threshold(|_| Ok(false)).unwrap(), 2.0);
    }

    /// The budget is the nearest-rank 99th percentile — the least work that at least 99 % of
    /// the queries stay within, found here by counting — times the cap, rounded up.
    #[test]
    fn the_budget_is_the_cap_times_the_99th_percentile() {
        let work: Vec<u64> = (0..250u64).map(|i| (i * 7919) % 1009 + 40).collect();
        let runs: Vec<Outcome> = work
            .iter()
            .map(|&distances| Outcome {
                recall: 1.0,
                distances,
            })
            .collect();
        let within = |v: u64| work.iter().filter(|&&w| w <= v).count();
        let p99 = *work
            .iter()
            .filter(|&&v| within(v) * 100 >= 99 * work.len())
            .min()
            .unwrap();
        assert_eq!(budget(&runs, 1.0), p99);
        assert_eq!(budget(&runs, 0.9), (0.9 * p99 as f64).ceil() as u64);
        assert_eq!(budget(&[], 0.9), 1, "never below one evaluation");
    }

    #[test]
    fn greedy_allocation_spends_where_recall_is_cheapest() {
        // Bin 0 (easy) gains little from more width, bin 1 (hard) much: the target is met by
        // widening bin 1 only.
        let table = AdaTable {
            widths: vec![10, 20, 40],
            bins: vec![
                (50, vec![(0.95, 100.0), (0.96, 200.0), (0.97, 400.0)]),
                (50, vec![(0.70, 100.0), (0.90, 200.0), (0.99, 400.0)]),
            ],
        };
        assert_eq!(table.allocate(0.90, 7), vec![10, 20]);
        assert_eq!(table.allocate(0.965, 7), vec![10, 40]);
        assert_eq!(table.allocate(0.978, 7), vec![40, 40]);
        let grid = width_grid(10, 100);
        assert_eq!(grid.first(), Some(&10));
        assert_eq!(grid.last(), Some(&100));
        assert!(grid.windows(2).all(|w| w[0] < w[1]));
    }
}
