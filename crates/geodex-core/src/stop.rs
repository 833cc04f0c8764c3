//! Per-query stopping of the level-0 beam search (issue 17): instead of one beam width for
//! every query, a rule watches the search and ends it when this query has done enough.
//!
//! The rules, all calibrated to a *mean recall@k target* on held-out learning queries
//! (`geodex-adaptive` trains and calibrates; this module only runs them):
//! - **fixed**: the smallest ef whose mean recall meets the target (the control);
//! - **patience**: stop after `P` expansions without a change to the top k;
//! - **ada**: an Ada-ef-style per-query ef (Zhang & Miller, SIGMOD 2026): after a warm-up of
//!   level-0 distance evaluations, the query's score `(μ − d_k) / σ` — how far its current k-th
//!   distance lies below the mean of the distances seen so far, in their standard deviations —
//!   picks a bin, and the bin's calibrated ef becomes the beam width;
//! - **adaef**: Ada-ef itself: the same per-query beam width, but the score places the first
//!   distances against the law of the query's distances to the *whole base*, computed in
//!   closed form from the base's moments ([`law`]): the weighted share of them in that law's
//!   far lower tail;
//! - **learned**: DARTH-style (Chatzakis et al., SIGMOD 2026) periodic prediction of the
//!   recall reached so far; the search stops once the prediction passes a calibrated threshold.
//!   The predictor is logistic regression on [`FEATURES`] scale-free features (the issue allows
//!   it in place of DARTH's gradient-boosted trees: a dot product per check);
//! - **ppo**: the same check, but the score is the stop probability of a policy trained with
//!   PPO (THEORY §5.2) on the reward recall − c·work instead of a prediction of the recall so
//!   far: a logistic policy over the same features, so the two differ only in how the decision
//!   boundary was learned;
//! - **gbdt**: the learned rule with gradient-boosted trees ([`trees::Forest`]) in place of the
//!   logistic regression — DARTH's own predictor — on the same features and checks, so the two
//!   differ only in the model;
//! - **gain**: trees again, but predicting the recall still to be *gained* over the next
//!   [`GAIN_WINDOW`] checks, from the features and the trajectory's history
//!   ([`gain_inputs`]); the search stops once the predicted gain falls below a calibrated
//!   threshold. Stopping where the marginal gain per unit of work is smallest is what the
//!   least-work schedule for a mean recall does (the oracle's knapsack, `geodex-adaptive`), and
//!   the stop-gain replay found this target with history the best predictor (ADAPTIVE.md);
//! - **epsilon**: NGT's ε-search (Iwasaki & Miyazaki 2018, arXiv:1810.07355): stop once the best
//!   queued candidate lies beyond `d_k + ε·|d_k|` — `(1 + ε)·d_k` for the non-negative
//!   distances of L2, cosine and the byte walk — with the beam of the score rules as its bound.
//!   Not learned: one calibrated ε per target. It is the termination test of the beam search
//!   itself with a relative radius in place of the ef-th result: a query whose neighbours
//!   stand out from the rest stops soon, one in a dense region searches on.
//!
//! The search loop is generic over [`Stopper`]; with no rule it runs [`NoStop`], whose hooks
//! are empty and inline away, so searching without a rule costs nothing.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use serde::{Deserialize, Serialize};

use crate::{CoreError, Metric, Neighbor};

pub mod law;
pub mod trees;

use law::{AdaEf, WalkForm, MAX_TAIL_BINS};
use trees::Forest;

/// Number of features a check computes ([`Features`]).
pub const FEATURES: usize = 7;

/// The features' names, in [`Features::to_array`] order (CSV headers, reports).
pub const FEATURE_NAMES: [&str; FEATURES] = [
    "ln_distances",
    "ln_hops",
    "kth_over_entry",
    "first_over_kth",
    "candidate_over_kth",
    "insert_rate",
    "lid",
];

/// Checks the gain rule looks back over for its history, and ahead over for its target.
pub const GAIN_WINDOW: usize = 4;

/// Number of inputs of the gain rule ([`gain_inputs`]): the [`FEATURES`] and seven of history.
pub const GAIN_FEATURES: usize = FEATURES + 7;

/// The gain rule's inputs at a check: the check's features `now`, then the trajectory's
/// history — the k-th distance's change over the last 1 and [`GAIN_WINDOW`] checks
/// (`d_k/d_e` now ÷ then), the frontier ratio `d_c/d_k` and the insert rate 1 and
/// [`GAIN_WINDOW`] checks earlier, and the first check's `d_k/d_e`. Without such an earlier
/// check (`lag1`, `lag_window` `None`) the check's own values stand in (ratio 1). The search
/// loop and training (`geodex-adaptive`) both call this, so they see the same inputs.
pub fn gain_inputs(
    now: &[f32; FEATURES],
    lag1: Option<&[f32; FEATURES]>,
    lag_window: Option<&[f32; FEATURES]>,
    first: &[f32; FEATURES],
) -> [f32; GAIN_FEATURES] {
    const KTH: usize = 2;
    const CANDIDATE: usize = 4;
    const INSERTS: usize = 5;
    let (a, b) = (lag1.unwrap_or(now), lag_window.unwrap_or(now));
    let mut x = [0f32; GAIN_FEATURES];
    x[..FEATURES].copy_from_slice(now);
    x[FEATURES..].copy_from_slice(&[
        ratio(now[KTH], a[KTH]),
        ratio(now[KTH], b[KTH]),
        a[CANDIDATE],
        b[CANDIDATE],
        a[INSERTS],
        b[INSERTS],
        first[KTH],
    ]);
    x
}

/// The features of a search's state at a check, all scale-free so that one model serves every
/// query. Distances are the walk's own (squared L2, cosine distance, or code distances on a
/// byte walk); `d₁`, `d_k` are the best and k-th accepted distances so far, `d_c` the best
/// queued candidate's, `d_e` the level-0 entry point's (where the upper levels left the
/// query).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Features {
    /// ln(1 + distance evaluations so far, upper levels included).
    pub ln_distances: f32,
    /// ln(1 + level-0 expansions so far).
    pub ln_hops: f32,
    /// `d_k / d_e`: how far the k-th result has come from the entry point.
    pub kth_over_entry: f32,
    /// `d₁ / d_k`: spread of the current top k.
    pub first_over_kth: f32,
    /// `d_c / d_k`: the frontier against the k-th result (≥ 1: the beam has almost converged).
    pub candidate_over_kth: f32,
    /// Top-k changes per expansion since the previous check.
    pub insert_rate: f32,
    /// Local intrinsic dimension of the top k (Levina–Bickel MLE on `√d`), clipped to [0, 100].
    pub lid: f32,
}

impl Features {
    /// The features as the model's input vector, in field order.
    pub fn to_array(&self) -> [f32; FEATURES] {
        [
            self.ln_distances,
            self.ln_hops,
            self.kth_over_entry,
            self.first_over_kth,
            self.candidate_over_kth,
            self.insert_rate,
            self.lid,
        ]
    }
}

/// The queued candidates that could still enter the top k (`d < d_k`), recorded in traces
/// only: what the search has seen but not yet expanded, beyond its best candidate. Both are
/// the same under any beam width ≥ k that expanded the same nodes (a candidate nearer than
/// the k-th result is queued by every such beam), so traces at the cap width describe narrower
/// searches too. Not a model input: in the stop-gain replay (`examples/stop_gain.rs`,
/// ADAPTIVE.md "A richer state") they add nothing to the rules' predictions, because late in
/// a search the neighbours still to come are not queued yet.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Frontier {
    /// Queued candidates nearer than the k-th result, ÷ k.
    pub queued_below_kth: f32,
    /// Mean `d / d_k` of those candidates (1 when there are none): how far inside the top k
    /// the unexpanded frontier reaches.
    pub mean_below_kth: f32,
}

impl Frontier {
    /// The frontier of `queue` against k-th distance `kth`, for `k` results.
    fn of(queue: &BinaryHeap<Reverse<Neighbor>>, kth: f32, k: usize) -> Frontier {
        let (count, sum) = queue
            .iter()
            .filter(|c| c.0.distance < kth)
            .fold((0usize, 0f32), |(n, s), c| (n + 1, s + ratio(c.0.distance, kth)));
        Frontier {
            queued_below_kth: count as f32 / k as f32,
            mean_below_kth: if count > 0 { sum / count as f32 } else { 1.0 },
        }
    }
}

/// Which rule stops the search.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StopKind {
    /// One beam width for every query.
    Fixed,
    /// `P` expansions without a top-k change.
    Patience,
    /// A per-query beam width from the distribution of the first distances.
    Ada,
    /// A per-query beam width from the first distances against the law of all distances.
    AdaEf,
    /// A predicted recall above a threshold.
    Learned,
    /// A PPO policy's stop probability above a threshold.
    Ppo,
    /// A recall predicted by gradient-boosted trees above a threshold.
    Gbdt,
    /// A gain over the next checks predicted by gradient-boosted trees below a threshold.
    Gain,
    /// NGT's ε-search: every node within `(1 + ε)` times the k-th result's distance is
    /// queued; stop when the best queued candidate lies beyond it.
    Epsilon,
}

/// The largest relative radius ε the epsilon rule explores by: a radius of 5 × the k-th
/// distance (in the walk's units, squared for L2), beyond which hardly any search stops before
/// a beam would. A calibrated ε above it (no radius up to it met the target) makes the rule a
/// plain beam search of its beam width, which no radius then cuts short.
pub const EPSILON_MAX: f32 = 4.0;

impl StopKind {
    /// Every rule, in the order reports list them.
    pub const ALL: [StopKind; 9] = [
        StopKind::Fixed,
        StopKind::Patience,
        StopKind::Ada,
        StopKind::AdaEf,
        StopKind::Learned,
        StopKind::Ppo,
        StopKind::Gbdt,
        StopKind::Gain,
        StopKind::Epsilon,
    ];

    /// The rule's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            StopKind::Fixed => "fixed",
            StopKind::Patience => "patience",
            StopKind::Ada => "ada",
            StopKind::AdaEf => "adaef",
            StopKind::Learned => "learned",
            StopKind::Ppo => "ppo",
            StopKind::Gbdt => "gbdt",
            StopKind::Gain => "gain",
            StopKind::Epsilon => "epsilon",
        }
    }

    /// The rule named `s`.
    pub fn parse(s: &str) -> Option<StopKind> {
        StopKind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Whether the rule stops at [`Calibration::budget`]: the rules that decide while they
    /// search. The fixed rule is the control, and the bin-width rules are calibrated from
    /// searches at plain beam widths, which a budget would not match.
    pub fn uses_budget(self) -> bool {
        !matches!(self, StopKind::Fixed | StopKind::Ada | StopKind::AdaEf)
    }
}

/// The knobs every rule was calibrated to for one recall target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Mean recall@k the knobs reach on the calibration queries (the target asked for).
    pub target: f64,
    /// Beam width of the fixed rule.
    pub fixed_ef: usize,
    /// Beam width of the patience, score and epsilon rules for this target: a multiple of
    /// `fixed_ef` (a wider beam only adds heap work before the rule stops; a hard query may
    /// still use up to this much).
    pub beam: usize,
    /// Expansions without a top-k change before the patience rule stops.
    pub patience: u32,
    /// Predicted recall at which the learned rule stops.
    pub threshold: f32,
    /// Beam width per score bin of the ada rule ([`StopModel::ada_edges`] + 1 bins).
    pub ada_ef: Vec<usize>,
    /// Beam width per score bin of the adaef rule ([`AdaEf::edges`] + 1 bins); empty when the
    /// model has no distance law.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adaef_ef: Vec<usize>,
    /// Stop probability at which the PPO rule stops; `None` when the model has no policy
    /// (files written before the rule existed have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ppo_threshold: Option<f32>,
    /// Predicted recall at which the gbdt rule stops; `None` when the model has no trees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gbdt_threshold: Option<f32>,
    /// The gain rule's threshold on [`StopModel::gain_score`], which falls as the predicted gain
    /// rises (it stops at or above the threshold, so a larger threshold stops later, as for the
    /// other score rules); `None` when the model has no gain trees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gain_threshold: Option<f32>,
    /// The epsilon rule's relative radius ε ≥ 0; `None` in files written before the rule
    /// existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f32>,
    /// Distance evaluations after which the patience, score (learned, gbdt, gain, ppo) and
    /// epsilon rules stop as soon as they hold k results, whatever else their state (a search
    /// with fewer runs on until it has k or its beam is exhausted) — a bound on the tail they
    /// let hard queries run to (issue 17's p99 target): `learn-stop --work-cap F` sets it to
    /// F × the fixed rule's 99th-percentile distance evaluations on the calibration queries,
    /// and calibrates the rules' knobs with it in place. `None` (files written before it, and the default): no
    /// bound but the beam's. The fixed and bin-width rules (ada, adaef) never use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<u64>,
}

/// A trained and calibrated stopping model for one index, stored in its file (section
/// `StopModel`, JSON). Made by `geodex learn-stop`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StopModel {
    /// The index's metric name ([`Metric::name`]) and dimension: a model is refused by another
    /// index.
    pub metric: String,
    /// Vector dimension of the index.
    pub dim: usize,
    /// The k the model was trained for (its features track the top k).
    pub k: usize,
    /// Beam width the adaptive rules run under (their cap); ≥ every calibrated ef.
    pub ef_cap: usize,
    /// Distance evaluations between two checks of the learned rule.
    pub interval: u32,
    /// Level-0 distance evaluations before the ada rule scores the query.
    pub ada_warmup: u32,
    /// Whether the model was calibrated on the byte walk of a float index (`byte_walk.rs`): a
    /// search must walk the same way, or the calibration does not hold.
    pub byte_walk: bool,
    /// Ascending score thresholds between the ada rule's bins.
    pub ada_edges: Vec<f32>,
    /// Logistic-regression weights of the learned rule: bias, then one per feature.
    pub weights: Vec<f32>,
    /// Per-feature mean and standard deviation the weights expect the features scaled by.
    pub scale: Vec<(f32, f32)>,
    /// The PPO policy's logistic weights on the same scaled features (bias first); empty when
    /// no policy was trained.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ppo_weights: Vec<f32>,
    /// The gbdt rule's trees on the raw features; `None` in files written before the rule
    /// existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gbdt: Option<Forest>,
    /// The gain rule's trees on [`gain_inputs`]; `None` in files written before the rule
    /// existed or when none were trained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gain: Option<Forest>,
    /// The adaef rule's distance law and bins; `None` in files written before the rule
    /// existed and for metrics without a closed-form law (Poincaré).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaef: Option<AdaEf>,
    /// The knobs per recall target, ascending in target.
    pub calibration: Vec<Calibration>,
}

impl StopModel {
    /// Checks the model's internal consistency and that it fits an index of `metric` and `dim`.
    pub fn validate(&self, metric: Metric, dim: usize) -> Result<(), CoreError> {
        let bad = |m: String| Err(CoreError::InvalidParameter(format!("stop model: {m}")));
        if self.metric != metric.name() || self.dim != dim {
            return bad(format!(
                "trained for {} vectors of dimension {}, the index holds {} of dimension {dim}",
                self.metric,
                self.dim,
                metric.name()
            ));
        }
        if self.k == 0 || self.ef_cap < self.k || self.interval == 0 {
            return bad("k, ef_cap or interval out of range".into());
        }
        if self.weights.len() != FEATURES + 1 || self.scale.len() != FEATURES {
            return bad(format!("expected {} weights and {FEATURES} scales", FEATURES + 1));
        }
        if !(self.ppo_weights.is_empty() || self.ppo_weights.len() == FEATURES + 1) {
            return bad(format!("expected no PPO policy or {} weights", FEATURES + 1));
        }
        if let Some(forest) = &self.gbdt {
            forest.check(FEATURES).or_else(|m| bad(format!("gbdt: {m}")))?;
        }
        if let Some(forest) = &self.gain {
            forest
                .check(GAIN_FEATURES)
                .or_else(|m| bad(format!("gain: {m}")))?;
        }
        if let Some(adaef) = &self.adaef {
            adaef.check(dim).or_else(bad)?;
        }
        let adaef_bins = self.adaef.as_ref().map_or(0, |a| a.edges.len() + 1);
        let finite = self
            .weights
            .iter()
            .chain(&self.ppo_weights)
            .all(|w| w.is_finite())
            && self
                .scale
                .iter()
                .all(|(m, s)| m.is_finite() && s.is_finite() && *s > 0.0)
            && self.ada_edges.iter().all(|e| e.is_finite());
        if !finite || !self.ada_edges.is_sorted() {
            return bad("non-finite weights or unsorted bin edges".into());
        }
        if self.calibration.is_empty() || !self.calibration.is_sorted_by(|a, b| a.target < b.target) {
            return bad("no calibration, or targets not ascending".into());
        }
        for c in &self.calibration {
            let width = |e: &usize| (self.k..=self.ef_cap).contains(e);
            let ok = c.target > 0.0
                && c.target <= 1.0
                && width(&c.fixed_ef)
                && width(&c.beam)
                && c.patience > 0
                && c.threshold.is_finite()
                && c.ppo_threshold.is_some() != self.ppo_weights.is_empty()
                && c.ppo_threshold.is_none_or(f32::is_finite)
                && c.gbdt_threshold.is_some() == self.gbdt.is_some()
                && c.gbdt_threshold.is_none_or(f32::is_finite)
                && c.gain_threshold.is_some() == self.gain.is_some()
                && c.gain_threshold.is_none_or(f32::is_finite)
                && c.epsilon.is_none_or(|e| e.is_finite() && e >= 0.0)
                && c.budget.is_none_or(|b| b > 0)
                && c.ada_ef.len() == self.ada_edges.len() + 1
                && c.ada_ef.iter().all(width)
                && c.adaef_ef.len() == adaef_bins
                && c.adaef_ef.iter().all(width);
            if !ok {
                return bad(format!("calibration for target {} out of range", c.target));
            }
        }
        Ok(())
    }

    /// Probability-scale prediction of the recall reached so far.
    #[inline]
    pub fn predict(&self, x: &[f32; FEATURES]) -> f32 {
        self.logistic(&self.weights, x)
    }

    /// The trees' prediction of the recall reached so far (0 when the model has no trees).
    #[inline]
    pub fn predict_gbdt(&self, x: &[f32; FEATURES]) -> f32 {
        self.gbdt.as_ref().map_or(0.0, |f| f.predict(x))
    }

    /// The gain rule's score at `x`: `σ(−z/8)`, where `z` is the trees' logit of the recall
    /// still to be gained over the next [`GAIN_WINDOW`] checks — decreasing in the predicted
    /// gain, so the rule stops at a score at or above its threshold like the other score rules.
    /// Not `1 − gain`: predicted gains late in a search are 10⁻⁴ and smaller, where `1 − gain`
    /// is within the calibration's resolution (2⁻¹⁶) of 1 and thresholds cannot tell them
    /// apart; the scaled logit spreads gains from ½ down to e⁻⁴⁰ over (½, 0.993).
    /// 0 (never stop) when the model has no gain trees.
    #[inline]
    pub fn gain_score(&self, x: &[f32; GAIN_FEATURES]) -> f32 {
        self.gain
            .as_ref()
            .map_or(0.0, |f| 1.0 / (1.0 + (f.logit(x) / 8.0).exp()))
    }

    /// The PPO policy's probability of stopping (0.5 when the model has no policy).
    #[inline]
    pub fn stop_probability(&self, x: &[f32; FEATURES]) -> f32 {
        if self.ppo_weights.is_empty() {
            return 0.5;
        }
        self.logistic(&self.ppo_weights, x)
    }

    /// σ(w₀ + Σ wᵢ·(xᵢ − mᵢ)/sᵢ) on the model's feature scaling.
    #[inline]
    fn logistic(&self, weights: &[f32], x: &[f32; FEATURES]) -> f32 {
        let mut z = weights[0];
        for ((w, (m, s)), v) in weights[1..].iter().zip(&self.scale).zip(x) {
            z += w * (v - m) / s;
        }
        1.0 / (1.0 + (-z).exp())
    }

    /// The range of recall targets the model was calibrated for.
    pub fn targets(&self) -> (f64, f64) {
        let first = self.calibration.first().map_or(0.0, |c| c.target);
        (first, self.calibration.last().map_or(0.0, |c| c.target))
    }
}

/// A rule ready to run: the model's knobs for one target, interpolated between the two
/// nearest calibrated targets (integer knobs rounded up, so work never falls below the
/// lower target's).
#[derive(Clone, Debug)]
pub struct StopRule<'m> {
    pub(crate) model: &'m StopModel,
    pub(crate) kind: StopKind,
    pub(crate) fixed_ef: usize,
    pub(crate) beam: usize,
    pub(crate) patience: u32,
    pub(crate) threshold: f32,
    pub(crate) ppo_threshold: f32,
    pub(crate) gbdt_threshold: f32,
    pub(crate) gain_threshold: f32,
    /// The epsilon rule's ε; ∞ (never stop early) when none was calibrated.
    pub(crate) epsilon: f32,
    pub(crate) ada_ef: Vec<usize>,
    pub(crate) adaef_ef: Vec<usize>,
    /// [`Calibration::budget`]; `u64::MAX` when there is none or the rule does not use one.
    pub(crate) budget: u64,
    /// Record a trace instead of stopping (training).
    pub(crate) trace: bool,
}

impl<'m> StopRule<'m> {
    /// `kind` at mean recall target `target`; an error for a target outside (0, 1] or outside
    /// the calibrated range.
    pub fn new(model: &'m StopModel, kind: StopKind, target: f64) -> Result<Self, CoreError> {
        if !(target > 0.0 && target <= 1.0) {
            return Err(CoreError::InvalidParameter(format!(
                "the recall target {target} is outside (0, 1]"
            )));
        }
        let (lo, hi) = model.targets();
        if target < lo - 1e-9 || target > hi + 1e-9 {
            return Err(CoreError::InvalidParameter(format!(
                "the recall target {target} is outside the calibrated range [{lo}, {hi}]: run \
                 `geodex learn-stop` with a wider --target-recall"
            )));
        }
        if kind == StopKind::Ppo && model.ppo_weights.is_empty() {
            return Err(CoreError::InvalidParameter(
                "the stop model has no PPO policy: run `geodex learn-stop` with --ppo".into(),
            ));
        }
        if kind == StopKind::Gbdt && model.gbdt.is_none() {
            return Err(CoreError::InvalidParameter(
                "the stop model has no trees (it predates the gbdt rule): run `geodex learn-stop` again"
                    .into(),
            ));
        }
        if kind == StopKind::AdaEf && model.adaef.is_none() {
            return Err(CoreError::InvalidParameter(
                "the stop model has no distance law for the adaef rule: run `geodex learn-stop` again".into(),
            ));
        }
        if kind == StopKind::Epsilon && model.calibration.iter().any(|c| c.epsilon.is_none()) {
            return Err(CoreError::InvalidParameter(
                "the stop model has no ε calibration (it predates the epsilon rule): run `geodex learn-stop` again"
                    .into(),
            ));
        }
        if kind == StopKind::Gain && model.gain.is_none() {
            return Err(CoreError::InvalidParameter(
                "the stop model has no gain trees: run `geodex learn-stop` with --gain-trees".into(),
            ));
        }
        let cal = &model.calibration;
        let j = cal.partition_point(|c| c.target < target).min(cal.len() - 1);
        let i = j.saturating_sub(1);
        let (a, b) = (&cal[i], &cal[j]);
        let t = if b.target > a.target {
            ((target - a.target) / (b.target - a.target)).clamp(0.0, 1.0)
        } else {
            1.0
        };
        let mix = |x: f64, y: f64| x + (y - x) * t;
        let up = |x: usize, y: usize| mix(x as f64, y as f64).ceil() as usize;
        Ok(StopRule {
            model,
            kind,
            fixed_ef: up(a.fixed_ef, b.fixed_ef),
            beam: up(a.beam, b.beam),
            patience: mix(a.patience as f64, b.patience as f64).ceil() as u32,
            threshold: mix(a.threshold as f64, b.threshold as f64) as f32,
            ppo_threshold: mix_optional(a.ppo_threshold, b.ppo_threshold, t),
            gbdt_threshold: mix_optional(a.gbdt_threshold, b.gbdt_threshold, t),
            gain_threshold: mix_optional(a.gain_threshold, b.gain_threshold, t),
            epsilon: mix_optional(a.epsilon, b.epsilon, t),
            ada_ef: a.ada_ef.iter().zip(&b.ada_ef).map(|(&x, &y)| up(x, y)).collect(),
            adaef_ef: a
                .adaef_ef
                .iter()
                .zip(&b.adaef_ef)
                .map(|(&x, &y)| up(x, y))
                .collect(),
            budget: match (a.budget, b.budget) {
                (Some(x), Some(y)) if kind.uses_budget() => up(x as usize, y as usize) as u64,
                _ => u64::MAX,
            },
            trace: false,
        })
    }

    /// A rule with explicit knobs (calibration and experiments): `fixed_ef`, `patience`,
    /// `threshold` and the per-bin `ada_ef` as given.
    pub fn with_knobs(model: &'m StopModel, kind: StopKind, knobs: &Calibration) -> Self {
        StopRule {
            model,
            kind,
            fixed_ef: knobs.fixed_ef,
            beam: knobs.beam,
            patience: knobs.patience,
            threshold: knobs.threshold,
            ppo_threshold: knobs.ppo_threshold.unwrap_or(f32::INFINITY),
            gbdt_threshold: knobs.gbdt_threshold.unwrap_or(f32::INFINITY),
            gain_threshold: knobs.gain_threshold.unwrap_or(f32::INFINITY),
            epsilon: knobs.epsilon.unwrap_or(f32::INFINITY),
            ada_ef: knobs.ada_ef.clone(),
            adaef_ef: knobs.adaef_ef.clone(),
            budget: knobs.budget.filter(|_| kind.uses_budget()).unwrap_or(u64::MAX),
            trace: false,
        }
    }

    /// A rule that never stops early and records a [`Trace`] of every check into the search
    /// context (read it with [`crate::SearchContext::take_trace`]): what training learns from.
    /// The beam runs at the model's `ef_cap`.
    pub fn tracing(model: &'m StopModel) -> Self {
        StopRule {
            model,
            kind: StopKind::Learned,
            fixed_ef: model.ef_cap,
            beam: model.ef_cap,
            patience: u32::MAX,
            threshold: f32::INFINITY,
            ppo_threshold: f32::INFINITY,
            gbdt_threshold: f32::INFINITY,
            gain_threshold: f32::INFINITY,
            epsilon: f32::INFINITY,
            ada_ef: Vec::new(),
            adaef_ef: Vec::new(),
            budget: u64::MAX,
            trace: true,
        }
    }

    /// The rule's kind.
    pub fn kind(&self) -> StopKind {
        self.kind
    }

    /// The k the model was trained for.
    pub fn k(&self) -> usize {
        self.model.k
    }

    /// The beam width the search starts with (the search's `ef` is replaced by it).
    pub fn beam_width(&self) -> usize {
        match self.kind {
            _ if self.trace => self.model.ef_cap,
            StopKind::Fixed => self.fixed_ef,
            // Its radius, not the beam, decides what is expanded ([`Stopper::reach`]): an
            // exact walk keeps only the k results, a byte walk the nodes it re-ranks.
            StopKind::Epsilon if self.explores_by_radius() => match self.model.byte_walk {
                true => self.fixed_ef.max(self.model.k),
                false => self.model.k,
            },
            StopKind::Patience
            | StopKind::Learned
            | StopKind::Ppo
            | StopKind::Gbdt
            | StopKind::Gain
            | StopKind::Epsilon => self.beam,
            // The warm-up runs at the widest bin's width, then the query's bin narrows it.
            StopKind::Ada => self.ada_ef.iter().copied().max().unwrap_or(self.model.ef_cap),
            StopKind::AdaEf => self.adaef_ef.iter().copied().max().unwrap_or(self.model.ef_cap),
        }
    }

    /// Mean and standard deviation of the query's distances to the base under the adaef
    /// rule's law, in the units of the walk that will run — the metric's own, or a byte walk's
    /// code distance (`code_unit`: the code distance per unit of squared L2) — when the rule
    /// needs them (the adaef rule, or a trace of a model with a law).
    pub(crate) fn law_moments<T: geodex_distance::Element>(
        &self,
        metric: Metric,
        q: &[T],
        code_unit: Option<f32>,
    ) -> Option<(f32, f32)> {
        let adaef = self.model.adaef.as_ref()?;
        if !(self.trace || self.kind == StopKind::AdaEf) {
            return None;
        }
        let form = match (code_unit, metric) {
            (Some(unit), _) => WalkForm::SQUARED_L2.scaled(unit),
            (None, Metric::L2) => WalkForm::SQUARED_L2,
            (None, Metric::Cosine) => WalkForm::COSINE,
            (None, Metric::InnerProduct) => WalkForm::NEGATED_DOT,
            (None, Metric::Poincare) => return None,
        };
        Some(adaef.law.moments(form, q))
    }

    /// Whether the rule is the epsilon rule at a radius it explores by ([`EPSILON_MAX`]).
    pub(crate) fn explores_by_radius(&self) -> bool {
        !self.trace && self.kind == StopKind::Epsilon && self.epsilon <= EPSILON_MAX
    }

    /// Whether the search needs a [`Stopper`] (the fixed rule is only a beam width).
    pub(crate) fn adaptive(&self) -> bool {
        self.trace || self.kind != StopKind::Fixed
    }

    /// How many of the beam's best nodes a byte walk re-ranks, when not its whole beam: the
    /// patience and learned rules re-rank as many as the fixed rule does at the same target.
    pub(crate) fn rerank_width(&self) -> Option<usize> {
        matches!(
            self.kind,
            StopKind::Patience
                | StopKind::Learned
                | StopKind::Ppo
                | StopKind::Gbdt
                | StopKind::Gain
                | StopKind::Epsilon
        )
        .then_some(self.fixed_ef.max(self.model.k))
    }
}

/// What one search recorded at each check ([`StopRule::tracing`]): features, distance
/// evaluations so far, and the top-k node ids so far (k per check, closest first, fewer
/// padded with `u32::MAX`). The last check is the search's natural end.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trace {
    /// The ada rule's score of the query (NaN when the warm-up never ended).
    pub score: f32,
    /// The adaef rule's score of the query (NaN when its warm-up never ended or the model has
    /// no law).
    pub law_score: f32,
    /// Features at each check.
    pub features: Vec<Features>,
    /// Distance evaluations at each check.
    pub distances: Vec<u64>,
    /// k node ids per check.
    pub ids: Vec<u32>,
    /// The queued frontier at each check.
    pub frontier: Vec<Frontier>,
}

impl Trace {
    /// Number of checks.
    pub fn len(&self) -> usize {
        self.features.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    fn clear(&mut self) {
        self.score = f32::NAN;
        self.law_score = f32::NAN;
        self.features.clear();
        self.distances.clear();
        self.ids.clear();
        self.frontier.clear();
    }
}

/// What the search loop does after an expansion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Control {
    /// Go on.
    Continue,
    /// End the search now.
    Stop,
    /// Go on with this beam width.
    Resize(usize),
}

/// The search loop's hooks for a stopping rule. Every hook of [`NoStop`] is empty.
pub(crate) trait Stopper {
    /// Whether [`Stopper::measured`] must see every level-0 distance, including those that
    /// cannot enter the beam (then the walk may not drop them early).
    const MEASURES: bool = true;
    /// The level-0 search starts from the entry point at `distance`.
    fn begin(&mut self, _entry_distance: f32) {}
    /// A level-0 distance was computed.
    fn measured(&mut self, _distance: f32) {}
    /// A node entered the result set.
    fn accepted(&mut self, _node: Neighbor) {}
    /// The distance beyond which a measured node is not queued for expansion (it may still
    /// enter the result set): ∞ by default. A rule returns less only when it would stop rather
    /// than expand any node beyond the bound, now or later — the bound may only shrink during a
    /// search — so that leaving such nodes out of the queue changes no decision.
    #[inline(always)]
    fn queue_bound(&self) -> f32 {
        f32::INFINITY
    }
    /// The distance a measured node must beat to be offered to a full beam whose worst result
    /// lies at `worst` — and beyond which a waiting candidate ends the search: `worst` itself,
    /// the beam search of the paper, by default. A rule may widen it (never narrow it); a node
    /// it admits beyond `worst` is queued but does not enter the result set.
    #[inline(always)]
    fn reach(&self, worst: f32) -> f32 {
        worst
    }
    /// A node was expanded; `distances` so far in this search, `queue` the candidates still
    /// queued (closest on top).
    fn expanded(&mut self, _distances: u64, _queue: &BinaryHeap<Reverse<Neighbor>>) -> Control {
        Control::Continue
    }
    /// The search ended by itself (the beam converged), with `distances` evaluations.
    fn finished(&mut self, _distances: u64) {}
}

/// No rule: the loop as in the paper.
pub(crate) struct NoStop;

impl Stopper for NoStop {
    const MEASURES: bool = false;
}

/// The state of a rule during one search.
pub(crate) struct Adaptive<'r, 'm> {
    rule: &'r StopRule<'m>,
    k: usize,
    /// The best k accepted so far, closest first.
    top: Vec<Neighbor>,
    entry: f32,
    hops: u64,
    since_change: u32,
    changes_in_window: u32,
    hops_at_check: u64,
    next_check: u64,
    // Running moments of the level-0 distances, for the ada score: gathered only by the ada
    // rule or a trace, until the score is taken (`decided`).
    sum: f64,
    sum_sq: f64,
    count: u32,
    decided: bool,
    /// Whether the per-distance hook has work: the ada moments are open or the adaef warm-up
    /// is running. Otherwise the hook is this one test (every rule after its warm-up, and the
    /// patience, learned, gbdt, gain and PPO rules throughout).
    watching: bool,
    /// The adaef rule's state: the law's mean and standard deviation for this query (walk
    /// units), the warm-up distances per tail bin, how many were scored, and whether the
    /// width was chosen.
    law: Option<(f32, f32)>,
    tail_counts: [u32; MAX_TAIL_BINS],
    law_seen: u32,
    /// Distances the adaef warm-up scores: 0 without a law.
    law_warmup: u32,
    law_decided: bool,
    /// The last [`GAIN_WINDOW`] checks' features (check `c` at `c % GAIN_WINDOW`), the first
    /// check's, and the number of checks so far: the gain rule's history.
    recent: [[f32; FEATURES]; GAIN_WINDOW],
    first_check: [f32; FEATURES],
    checks: usize,
    trace: Option<&'r mut Trace>,
}

impl<'r, 'm> Adaptive<'r, 'm> {
    /// A fresh state for a search for `k` results; `top` is a reused buffer; `law` the
    /// query's [`StopRule::law_moments`].
    pub(crate) fn new(
        rule: &'r StopRule<'m>,
        k: usize,
        top: Vec<Neighbor>,
        trace: Option<&'r mut Trace>,
        law: Option<(f32, f32)>,
    ) -> Self {
        let mut top = top;
        top.clear();
        let mut trace = trace;
        if let Some(t) = trace.as_deref_mut() {
            t.clear();
        }
        Adaptive {
            rule,
            k: k.min(rule.model.k).max(1),
            top,
            entry: 0.0,
            hops: 0,
            since_change: 0,
            changes_in_window: 0,
            hops_at_check: 0,
            next_check: 0,
            sum: 0.0,
            sum_sq: 0.0,
            count: 0,
            decided: false,
            watching: true,
            law_warmup: match (law, &rule.model.adaef) {
                (Some(_), Some(a)) => a.warmup,
                _ => 0,
            },
            law,
            tail_counts: [0; MAX_TAIL_BINS],
            law_seen: 0,
            law_decided: false,
            recent: [[0.0; FEATURES]; GAIN_WINDOW],
            first_check: [0.0; FEATURES],
            checks: 0,
            trace,
        }
    }

    /// Puts `node`, nearer than the k-th (or the top k not yet full), into the top k: a change.
    #[inline(never)]
    fn enter_top(&mut self, node: Neighbor) {
        insert_top(&mut self.top, self.k, node);
        self.since_change = 0;
        self.changes_in_window += 1;
    }

    /// Gives the top-k buffer back for reuse.
    pub(crate) fn into_buffer(self) -> Vec<Neighbor> {
        self.top
    }

    fn features(&self, distances: u64, best_candidate: f32) -> Features {
        let first = self.top[0].distance;
        let kth = self.top[self.k - 1].distance;
        let window = (self.hops - self.hops_at_check).max(1);
        Features {
            ln_distances: (1.0 + distances as f32).ln(),
            ln_hops: (1.0 + self.hops as f32).ln(),
            kth_over_entry: ratio(kth, self.entry),
            first_over_kth: ratio(first, kth),
            candidate_over_kth: ratio(best_candidate, kth).min(10.0),
            insert_rate: self.changes_in_window as f32 / window as f32,
            lid: lid(&self.top[..self.k]),
        }
    }

    fn record(&mut self, distances: u64, f: Features, queue: &BinaryHeap<Reverse<Neighbor>>) {
        let kth = self.top[self.k - 1].distance;
        let k = self.k;
        if let Some(t) = self.trace.as_deref_mut() {
            t.frontier.push(Frontier::of(queue, kth, k));
            t.features.push(f);
            t.distances.push(distances);
            let ids = self.top.iter().map(|n| n.id).chain(std::iter::repeat(u32::MAX));
            t.ids.extend(ids.take(self.k));
        }
    }

    /// A score rule's check (every `interval` distances, and at the budget): the features, the
    /// trace row, the model's decision. The budget is folded into `next_check`, so that it
    /// costs the score rules no test per expansion beyond the one they make anyway.
    fn check(&mut self, distances: u64, queue: &BinaryHeap<Reverse<Neighbor>>) -> Control {
        if distances >= self.rule.budget {
            return Control::Stop;
        }
        let best_candidate = queue.peek().map_or(f32::INFINITY, |c| c.0.distance);
        let f = self.features(distances, best_candidate);
        self.record(distances, f, queue);
        self.changes_in_window = 0;
        self.hops_at_check = self.hops;
        self.next_check = (distances + self.rule.model.interval as u64).min(self.rule.budget);
        let x = f.to_array();
        let stop = match self.rule.kind {
            StopKind::Ppo => self.rule.model.stop_probability(&x) >= self.rule.ppo_threshold,
            StopKind::Gbdt => self.rule.model.predict_gbdt(&x) >= self.rule.gbdt_threshold,
            StopKind::Gain => {
                let inputs = self.gain_inputs(&x);
                self.rule.model.gain_score(&inputs) >= self.rule.gain_threshold
            }
            _ => self.rule.model.predict(&x) >= self.rule.threshold,
        };
        self.remember(x);
        if stop {
            Control::Stop
        } else {
            Control::Continue
        }
    }

    /// [`gain_inputs`] of the check with features `x`, against the checks before it.
    fn gain_inputs(&self, x: &[f32; FEATURES]) -> [f32; GAIN_FEATURES] {
        let c = self.checks;
        let back = |lag: usize| (c >= lag).then(|| &self.recent[(c - lag) % GAIN_WINDOW]);
        let first = if c == 0 { x } else { &self.first_check };
        gain_inputs(x, back(1), back(GAIN_WINDOW), first)
    }

    /// Records the features `x` of a check as the latest in the history.
    fn remember(&mut self, x: [f32; FEATURES]) {
        if self.checks == 0 {
            self.first_check = x;
        }
        self.recent[self.checks % GAIN_WINDOW] = x;
        self.checks += 1;
    }

    /// The ada score: how many standard deviations the k-th distance lies below the mean of
    /// the level-0 distances measured so far (large: the neighbours stand out, an easy query).
    fn ada_score(&self) -> f32 {
        let n = self.count.max(1) as f64;
        let mean = self.sum / n;
        let sd = (self.sum_sq / n - mean * mean).max(0.0).sqrt();
        let kth = self.top[self.k - 1].distance as f64;
        if sd > 0.0 {
            ((mean - kth) / sd) as f32
        } else {
            0.0
        }
    }

    fn ada_width(&self) -> usize {
        let score = self.ada_score();
        let bin = self.rule.model.ada_edges.partition_point(|&e| e <= score);
        self.rule.ada_ef[bin]
    }

    /// The adaef rule's score once its warm-up is over: `Some` exactly once per search.
    fn law_decision(&mut self) -> Option<f32> {
        let adaef = self.rule.model.adaef.as_ref()?;
        if self.law_decided || self.law.is_none() || self.law_seen < adaef.warmup {
            return None;
        }
        self.law_decided = true;
        Some(adaef.score(&self.tail_counts[..adaef.tail_z.len()], self.law_seen))
    }

    /// The per-distance work while [`Adaptive::watching`]: the ada rule's running moments and
    /// the adaef rule's warm-up (each distance z-scored under the law into its tail bin). Kept
    /// out of line so that the hook of the other rules stays one test: the adaef scoring
    /// inlined cost the learned rule 2–9 % of its QPS (BENCHMARKS.md), and a larger hook keeps
    /// the walk's per-neighbour closure from being inlined.
    #[inline(never)]
    fn watch(&mut self, distance: f32) {
        let moments_open = (self.rule.trace || self.rule.kind == StopKind::Ada) && !self.decided;
        if moments_open {
            let d = distance as f64;
            self.sum += d;
            self.sum_sq += d * d;
            self.count += 1;
        }
        if self.law_seen < self.law_warmup {
            self.score_tail(distance);
        }
        self.watching = moments_open || self.law_seen < self.law_warmup;
    }

    /// Scores a level-0 distance of the adaef rule's warm-up into its tail bin.
    fn score_tail(&mut self, distance: f32) {
        let (Some((mean, sd)), Some(adaef)) = (self.law, self.rule.model.adaef.as_ref()) else {
            return;
        };
        self.law_seen += 1;
        let z = if sd > 0.0 { (distance - mean) / sd } else { 0.0 };
        if let Some(bin) = adaef.tail_bin(z) {
            self.tail_counts[bin] += 1;
        }
    }
}

/// The epsilon rule's state during one search: the top k, nothing else. It needs no
/// per-distance hook ([`Stopper::MEASURES`] false, so the walk keeps dropping far distances
/// early) and no features, which is all the other rules' state ([`Adaptive`]) adds; traces of
/// it run through [`Adaptive`], and the two must stop alike (tested against trace replays).
pub(crate) struct Radius<'r, 'm> {
    rule: &'r StopRule<'m>,
    k: usize,
    /// The best k accepted so far, closest first.
    top: Vec<Neighbor>,
    /// What [`Stopper::reach`] widens the beam to: the relative radius around the k-th
    /// result ([`relative_radius`]) once there are k results, when the rule explores by it
    /// ([`StopRule::explores_by_radius`]); −∞ (no widening) otherwise.
    radius: f32,
    /// [`StopRule::explores_by_radius`], fixed for the search.
    explores: bool,
    /// [`Stopper::queue_bound`]: the radius, or ∞ when it could grow during the search (see
    /// [`Radius::new`]).
    bound: f32,
    /// Whether the radius only shrinks as the k-th result's distance falls.
    shrinking: bool,
}

impl<'r, 'm> Radius<'r, 'm> {
    /// A fresh state for a search for `k` results; `top` is a reused buffer.
    ///
    /// The k-th result's distance `d_k` never rises during a search, so the radius
    /// `r(d_k) = d_k + ε·|d_k|` only shrinks where `r` is non-decreasing: for every `d_k` when
    /// ε ≤ 1 (slopes 1 + ε and 1 − ε), and for any ε under a metric whose rank keys are never
    /// negative (squared L2, Poincaré's δ). Beyond that — an inner product or cosine key below 0
    /// with ε > 1 — `(1 − ε)·d_k` grows as `d_k` falls, and the queue gets no bound.
    pub(crate) fn new(rule: &'r StopRule<'m>, k: usize, top: Vec<Neighbor>) -> Self {
        let mut top = top;
        top.clear();
        let nonnegative = [Metric::L2, Metric::Poincare].map(Metric::name);
        Radius {
            rule,
            k: k.min(rule.model.k).max(1),
            top,
            radius: f32::NEG_INFINITY,
            explores: rule.explores_by_radius(),
            bound: f32::INFINITY,
            shrinking: rule.epsilon <= 1.0 || nonnegative.contains(&rule.model.metric.as_str()),
        }
    }

    /// Gives the top-k buffer back for reuse.
    pub(crate) fn into_buffer(self) -> Vec<Neighbor> {
        self.top
    }
}

impl Stopper for Radius<'_, '_> {
    const MEASURES: bool = false;

    #[inline(always)]
    fn accepted(&mut self, node: Neighbor) {
        if self.top.get(self.k - 1).is_some_and(|kth| node >= *kth) {
            return;
        }
        insert_top(&mut self.top, self.k, node);
        if let Some(kth) = self.top.get(self.k - 1) {
            let radius = relative_radius(self.rule, kth.distance);
            if self.explores {
                self.radius = radius;
            }
            // A node measured beyond a shrinking radius would stop the search the moment it
            // topped the queue: it is never expanded, and need not be queued.
            if self.shrinking {
                self.bound = radius;
            }
        }
    }

    #[inline(always)]
    fn queue_bound(&self) -> f32 {
        self.bound
    }

    /// NGT's ε-search explores every node within the radius, not only those the beam holds:
    /// the beam (k wide on an exact walk, [`StopRule::beam_width`]) keeps the results, the
    /// radius decides what is expanded.
    #[inline(always)]
    fn reach(&self, worst: f32) -> f32 {
        worst.max(self.radius)
    }

    #[inline]
    fn expanded(&mut self, distances: u64, queue: &BinaryHeap<Reverse<Neighbor>>) -> Control {
        match self.top.get(self.k - 1) {
            Some(kth) => radius_control(self.rule, kth, distances, queue),
            None => Control::Continue,
        }
    }
}

/// The epsilon rule's state on a walk whose result heap holds exactly the top k (an exact walk
/// at beam width k, [`StopRule::beam_width`]): the heap's worst *is* the k-th result, so the
/// radius `d_k + ε·|d_k|` is read from it in [`Stopper::reach`] and the rule keeps no top k of
/// its own. Its decisions are [`Radius`]'s: the loop's own termination test (the best waiting
/// candidate beyond the widened worst) is the radius test, and the offer test (a node beyond
/// the radius is not queued) makes [`Radius`]'s queue bound redundant. What it saves is the
/// top-k insertion on every result insertion, the tax [`Radius`] pays at equal work
/// (BENCHMARKS.md, "where the epsilon rule's tax at equal work goes": +4 to +11 % of a
/// search's time on SIFT). Valid only where the heap is the top k: `search_layer_with` at
/// `ef == k`.
pub(crate) struct HeapRadius {
    epsilon: f32,
    budget: u64,
    k: usize,
    /// Results accepted so far, counted up to k: the budget stops a search only once the top
    /// k is full, as [`Radius`]'s does.
    accepted: usize,
}

impl HeapRadius {
    /// The state of `rule` (an epsilon rule exploring by radius) for a search of `k` results.
    pub(crate) fn new(rule: &StopRule<'_>, k: usize) -> Self {
        HeapRadius {
            epsilon: rule.epsilon,
            budget: rule.budget,
            k: k.min(rule.model.k).max(1),
            accepted: 0,
        }
    }
}

impl Stopper for HeapRadius {
    const MEASURES: bool = false;

    #[inline(always)]
    fn accepted(&mut self, _node: Neighbor) {
        self.accepted += usize::from(self.accepted < self.k);
    }

    #[inline(always)]
    fn reach(&self, worst: f32) -> f32 {
        radius_at(self.epsilon, worst)
    }

    #[inline]
    fn expanded(&mut self, distances: u64, _queue: &BinaryHeap<Reverse<Neighbor>>) -> Control {
        if distances >= self.budget && self.accepted >= self.k {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

/// The epsilon rule's decision after an expansion, with the k-th result `kth`: stop at the
/// budget, or once the best queued candidate lies beyond `d_k + ε·|d_k|` — no node the
/// search could still reach is then expected within the relative radius ε of the k-th result.
#[inline]
fn radius_control(
    rule: &StopRule<'_>,
    kth: &Neighbor,
    distances: u64,
    queue: &BinaryHeap<Reverse<Neighbor>>,
) -> Control {
    let radius = relative_radius(rule, kth.distance);
    match queue.peek() {
        _ if distances >= rule.budget => Control::Stop,
        Some(c) if c.0.distance > radius => Control::Stop,
        _ => Control::Continue,
    }
}

/// The epsilon rule's radius around the k-th result's distance `kth`: `d_k + ε·|d_k|`.
#[inline(always)]
fn relative_radius(rule: &StopRule<'_>, kth: f32) -> f32 {
    radius_at(rule.epsilon, kth)
}

/// NGT's relative radius `d_k + ε·|d_k|` around the k-th distance `kth`.
#[inline(always)]
fn radius_at(epsilon: f32, kth: f32) -> f32 {
    kth + epsilon * kth.abs()
}

/// Inserts `node` into `top` (sorted, closest first, at most `k` long), dropping the last entry
/// when `top` is full; `node` must then be nearer than it. An insertion shift over at most k
/// entries: k is small, and `Vec::insert` (a binary search and a `memmove` call) was 4 % of the
/// query time on SIFT (`examples/hook_cost.rs`).
fn insert_top(top: &mut Vec<Neighbor>, k: usize, node: Neighbor) {
    if top.len() < k {
        top.push(node);
    }
    let top = top.as_mut_slice();
    let mut at = top.len() - 1;
    while at > 0 && top[at - 1] > node {
        top[at] = top[at - 1];
        at -= 1;
    }
    top[at] = node;
}

/// A threshold interpolated at `t` between two calibrated ones; ∞ (never stop) when either
/// target has none.
fn mix_optional(a: Option<f32>, b: Option<f32>, t: f64) -> f32 {
    match (a, b) {
        (Some(x), Some(y)) => (x as f64 + (y as f64 - x as f64) * t) as f32,
        _ => f32::INFINITY,
    }
}

/// `a / b` for distances, 1 when `b` is not positive (identical points).
fn ratio(a: f32, b: f32) -> f32 {
    if b > 0.0 && a.is_finite() {
        a / b
    } else {
        1.0
    }
}

/// The Levina–Bickel maximum-likelihood local intrinsic dimension of a point from its nearest
/// neighbours' distances (closest first): `−(1/k Σ ln(rᵢ / r_k))⁻¹`, with `r = √d` so that
/// squared-L2 and cosine distances become Euclidean radii. 0 when undefined.
///
/// Computed as `Σ ln(rᵢ / r_k) = ½ ln Π (dᵢ / d_k)`: one logarithm of a product in `f64` instead
/// of one per neighbour (the k logarithms were most of a check's cost, and a check runs every
/// `interval` distances). Each ratio is at least 10⁻³⁰ / `f32::MAX` ≈ 10⁻⁶⁹, so the product is
/// folded into the sum of logarithms whenever it falls below 10⁻²⁰⁰ and stays a normal `f64`.
fn lid(top: &[Neighbor]) -> f32 {
    let dk = top.last().map_or(0.0, |n| n.distance.max(0.0) as f64);
    if dk <= 0.0 || top.len() < 2 {
        return 0.0;
    }
    let mut ln_sum = 0.0f64;
    let mut product = 1.0f64;
    for n in top {
        product *= n.distance.max(1e-30) as f64 / dk;
        if product < 1e-200 {
            ln_sum += product.ln();
            product = 1.0;
        }
    }
    let s = 0.5 * (ln_sum + product.ln()) / top.len() as f64;
    if s < 0.0 {
        (-1.0 / s).min(100.0) as f32
    } else {
        0.0
    }
}

impl Stopper for Adaptive<'_, '_> {
    #[inline]
    fn begin(&mut self, entry_distance: f32) {
        self.entry = entry_distance;
    }

    #[inline(always)]
    fn measured(&mut self, distance: f32) {
        if self.watching {
            self.watch(distance);
        }
    }

    /// Called for every node that enters the beam's result set, most of which do not reach the
    /// top k: that test stays inline, the insertion does not.
    #[inline(always)]
    fn accepted(&mut self, node: Neighbor) {
        // `top` never holds more than k, so it has a k-th exactly when it is full.
        if self.top.get(self.k - 1).is_some_and(|kth| node >= *kth) {
            return;
        }
        self.enter_top(node);
    }

    #[inline]
    fn expanded(&mut self, distances: u64, queue: &BinaryHeap<Reverse<Neighbor>>) -> Control {
        self.hops += 1;
        self.since_change += 1;
        if self.top.len() < self.k {
            return Control::Continue;
        }
        if self.rule.trace {
            if !self.decided && self.count >= self.rule.model.ada_warmup {
                self.decided = true;
                let score = self.ada_score();
                if let Some(t) = self.trace.as_deref_mut() {
                    t.score = score;
                }
            }
            if let Some(score) = self.law_decision() {
                if let Some(t) = self.trace.as_deref_mut() {
                    t.law_score = score;
                }
            }
            if distances >= self.next_check {
                self.check(distances, queue);
            }
            return Control::Continue;
        }
        match self.rule.kind {
            StopKind::Fixed => Control::Continue,
            StopKind::Patience
                if self.since_change >= self.rule.patience || distances >= self.rule.budget =>
            {
                Control::Stop
            }
            StopKind::Patience => Control::Continue,
            StopKind::Ada if !self.decided && self.count >= self.rule.model.ada_warmup => {
                self.decided = true;
                Control::Resize(self.ada_width())
            }
            StopKind::Ada => Control::Continue,
            StopKind::AdaEf => match self.law_decision() {
                Some(score) => {
                    let bin = self.rule.model.adaef.as_ref().map_or(0, |a| a.bin(score));
                    Control::Resize(self.rule.adaef_ef[bin])
                }
                None => Control::Continue,
            },
            StopKind::Learned | StopKind::Ppo | StopKind::Gbdt | StopKind::Gain
                if distances >= self.next_check =>
            {
                self.check(distances, queue)
            }
            StopKind::Learned | StopKind::Ppo | StopKind::Gbdt | StopKind::Gain => Control::Continue,
            StopKind::Epsilon => radius_control(self.rule, &self.top[self.k - 1], distances, queue),
        }
    }

    fn finished(&mut self, distances: u64) {
        if self.rule.trace && self.top.len() == self.k {
            let f = self.features(distances, f32::INFINITY);
            self.record(distances, f, &BinaryHeap::new());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The estimator term by term, one logarithm per neighbour, in `f64`.
    fn lid_by_terms(distances: &[f32]) -> f64 {
        let rk = (*distances.last().unwrap() as f64).sqrt();
        let s = distances
            .iter()
            .map(|&d| ((d.max(1e-30) as f64).sqrt() / rk).ln())
            .sum::<f64>()
            / distances.len() as f64;
        (-1.0 / s).min(100.0)
    }

    fn neighbors(distances: &[f32]) -> Vec<Neighbor> {
        distances
            .iter()
            .enumerate()
            .map(|(i, &d)| Neighbor::new(i as u32, d))
            .collect()
    }

    #[test]
    fn the_product_form_of_the_lid_equals_its_terms() {
        let cases: [&[f32]; 5] = [
            &[0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
            &[1e4, 2e4, 2.5e4, 3e4, 3.1e4, 3.2e4, 4e4, 4.1e4, 5e4, 6e4],
            // Ratios so small that the product must be folded into the sum on the way.
            &[
                1e-30, 1e-29, 1e-28, 1e-27, 1e-26, 1e-25, 1e-24, 1e-23, 1e-22, 3e38,
            ],
            // A result at distance 0 (clamped to 10⁻³⁰) among ordinary ones.
            &[0.0, 0.3, 0.31, 0.32, 0.4, 0.41, 0.5, 0.6, 0.61, 0.7],
            &[0.2, 0.9],
        ];
        for distances in cases {
            let want = lid_by_terms(distances);
            let got = lid(&neighbors(distances)) as f64;
            assert!(
                (got - want).abs() <= 1e-5 * want.abs().max(1e-3),
                "{distances:?}: {got} against {want}"
            );
        }
    }

    #[test]
    fn the_top_k_holds_the_k_nearest_offered_so_far() {
        // A fixed pseudo-random sequence with repeated distances (ties break by id).
        let mut state = 12345u64;
        for k in [1, 2, 10] {
            let mut top = Vec::new();
            let mut offered = Vec::new();
            for id in 0..300u32 {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let node = Neighbor::new(id, ((state >> 40) % 50) as f32);
                offered.push(node);
                if top.len() < k || node < top[k - 1] {
                    insert_top(&mut top, k, node);
                }
                let mut want = offered.clone();
                want.sort();
                want.truncate(k);
                assert_eq!(top, want, "k {k}, after {} offers", id + 1);
            }
        }
    }

    #[test]
    fn the_lid_is_zero_where_it_is_undefined() {
        assert_eq!(lid(&neighbors(&[0.5])), 0.0);
        assert_eq!(lid(&neighbors(&[0.0, 0.0, 0.0])), 0.0);
        assert_eq!(lid(&neighbors(&[1.0, 1.0, 1.0])), 0.0);
    }
}
