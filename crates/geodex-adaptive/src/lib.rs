//! Per-query stopping for geodex searches (issue 17): traces of searches, the learned
//! stopping rule, calibration of every rule to a mean recall target, and evaluation. The rules
//! themselves run inside the search loop (`geodex_core::stop`); this crate makes their
//! [`StopModel`].
//!
//! [`learn`] splits the learning queries (never the test queries) in two halves with a seed:
//! - on the **fit** half it traces each search at the cap beam width — features every
//!   `interval` distance evaluations, with the recall reached so far against the ground truth —
//!   and fits the learned rule's logistic regression (`fit.rs`) and the ada and adaef rules'
//!   score bins (quantiles of the fit queries' scores; the adaef rule's distance law is fitted
//!   to the index's vectors first, `law.rs`);
//! - on the **calibration** half it sets each rule's knob, for every recall target, by real
//!   searches: the smallest fixed ef, patience, or threshold whose mean recall meets the target
//!   (bisection: each knob's work and recall grow with it), and for the ada and adaef rules the
//!   cheapest ef per bin (`calibrate.rs`).
//!
//! Calibrating by searching rather than by simulating traces keeps the calibration exactly
//! what the search will do, including the byte walk's re-ranking.
//!
//! With [`LearnOptions::ppo`], a stopping policy is also trained with PPO on the fit half's
//! traces for each cost of the sweep (`ppo.rs`, THEORY §5.2), the policy whose rule needs the
//! least work at the median requested target on the calibration half is kept, and its stop
//! threshold is calibrated like the learned rule's.

pub mod calibrate;
pub mod continual;
pub mod episode;
pub mod evaluate;
pub mod fit;
pub mod gbdt;
pub mod law;
pub mod oracle;
pub mod ppo;

use geodex_core::stop::{gain_inputs, Calibration, FEATURES, GAIN_FEATURES, GAIN_WINDOW};
use geodex_core::{
    Component, CoreError, Frontier, Index, SearchContext, SearchParams, StopKind, StopModel, StopRule,
};
use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

pub use evaluate::{Outcome, Workload};

/// Why learning failed.
#[derive(Debug, thiserror::Error)]
pub enum LearnError {
    /// A search failed (or the index refused a parameter).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The options or the learning queries cannot make a model.
    #[error("{0}")]
    Invalid(String),
}

/// Options of [`learn`].
#[derive(Clone, Debug)]
pub struct LearnOptions {
    /// Results per query the model serves.
    pub k: usize,
    /// The adaptive rules' beam width cap.
    pub ef_cap: usize,
    /// Distance evaluations between two checks of the learned rule.
    pub interval: u32,
    /// Level-0 distance evaluations before the ada rule scores a query.
    pub ada_warmup: u32,
    /// Score bins of the ada rule (and of the adaef rule).
    pub ada_bins: usize,
    /// The adaef rule's options; `None`: no adaef rule.
    pub adaef: Option<law::AdaEfOptions>,
    /// The patience and score rules' beam width per target, as a multiple of the fixed rule's
    /// ef for that target (capped at `ef_cap`; the epsilon rule's only where no ε meets the
    /// target, [`geodex_core::stop::StopRule::beam_width`]); given several, each target gets
    /// the one whose calibrated logistic rule needs the fewest distance evaluations on the
    /// calibration queries (`calibrate.rs`). Non-empty, each finite and ≥ 1.
    pub beam_factors: Vec<f64>,
    /// The patience, score and epsilon rules' work budget per target, as a multiple of the
    /// fixed rule's 99th-percentile distance evaluations for that target
    /// ([`geodex_core::stop::Calibration::budget`]); `None`: no budget.
    pub work_cap: Option<f64>,
    /// Mean recall targets that must be met (each in (0, 1]); a grid of common targets below
    /// the cap's recall is calibrated too, so that other targets interpolate.
    pub targets: Vec<f64>,
    /// Seed of the fit/calibration split.
    pub seed: u64,
    /// Also train the PPO rule (§5.2, `ppo.rs`) with these settings.
    pub ppo: Option<ppo::PpoOptions>,
    /// Train the gbdt rule's trees (`gbdt.rs`) with these settings; `None`: no gbdt rule.
    pub gbdt: Option<gbdt::GbdtOptions>,
    /// Train the gain rule's trees (the recall gained over the next checks, `gain_rows`) with
    /// these settings; `None` (the default): no gain rule. Off by default because its target
    /// depends on the beam the traces ran at: trained at the cap and run at the narrower beam,
    /// it stops too late (ADAPTIVE.md, "The gain still to come, in the loop").
    pub gain: Option<gbdt::GbdtOptions>,
}

impl Default for LearnOptions {
    fn default() -> Self {
        LearnOptions {
            k: 10,
            ef_cap: 512,
            interval: 64,
            ada_warmup: 64,
            ada_bins: 8,
            adaef: Some(law::AdaEfOptions::default()),
            beam_factors: vec![1.3],
            work_cap: None,
            targets: vec![0.95],
            seed: 42,
            ppo: None,
            gbdt: Some(gbdt::GbdtOptions::default()),
            gain: None,
        }
    }
}

/// Targets calibrated besides the requested ones, when the cap reaches them.
pub const TARGET_GRID: [f64; 9] = [0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995];

/// What [`learn`] made and what it saw.
#[derive(Clone, Debug)]
pub struct Learned {
    /// The calibrated model, ready for [`Index::set_stop_model`].
    pub model: StopModel,
    /// Queries in the fit and calibration halves.
    pub fit_queries: usize,
    /// Queries in the calibration half.
    pub calibration_queries: usize,
    /// Trace rows the logistic regression was fitted on.
    pub fit_rows: usize,
    /// Mean recall of the calibration queries at the cap beam width.
    pub cap_recall: f64,
    /// The PPO cost sweep, when the rule was trained (the kept policy marked `chosen`).
    pub ppo: Vec<PpoTrial>,
}

/// One cost of the PPO sweep.
#[derive(Clone, Debug)]
pub struct PpoTrial {
    /// Cost of one cap search's work, in recall.
    pub cost: f64,
    /// The trained policy's mean reward over its last ten batches (stochastic rollouts).
    pub final_reward: f64,
    /// The policy as trained (stop at probability ½), replayed on the fit traces: mean recall
    /// and work (distance evaluations over the traces' mean final count) at the stop.
    pub raw_recall: f64,
    /// See `raw_recall`.
    pub raw_work: f64,
    /// The target the sweep is judged at (the median requested target).
    pub selection_target: f64,
    /// Mean distance evaluations of the calibrated rule at that target on the calibration
    /// half: the sweep keeps the smallest.
    pub selection_distances: f64,
    /// Whether this cost's policy was kept.
    pub chosen: bool,
}

/// Trains and calibrates a stopping model for `index` on the learning workload `w` (see the
/// crate documentation). Deterministic for a seed: searches are independent of thread count.
pub fn learn<T: Component>(
    index: &Index<T>,
    w: &Workload<'_, T>,
    opts: &LearnOptions,
) -> Result<Learned, LearnError> {
    check(index, w, opts)?;
    let (fit_rows, cal_rows) = split(w.len(), opts.seed);
    let dim = index.dim();
    let (fit_q, fit_t) = w.select(dim, &fit_rows);
    let (cal_q, cal_t) = w.select(dim, &cal_rows);
    let fit_w = Workload {
        queries: &fit_q,
        truth: &fit_t,
        k: w.k,
    };
    let cal_w = Workload {
        queries: &cal_q,
        truth: &cal_t,
        k: w.k,
    };
    let mut model = provisional(index, opts);
    let fit_traces = traces(index, &model, &fit_w)?;
    let rows: Vec<fit::Row> = fit_traces.iter().flat_map(|t| t.rows.iter().copied()).collect();
    let fitted = fit::fit(&rows).ok_or_else(|| {
        LearnError::Invalid("no search filled its top k: the index is smaller than k".into())
    })?;
    model.weights = fitted.weights;
    model.scale = fitted.scale;
    model.gbdt = opts.gbdt.as_ref().and_then(|o| gbdt::fit(&rows, o));
    let gains: Vec<_> = fit_traces.iter().flat_map(QueryTrace::gain_rows).collect();
    model.gain = opts.gain.as_ref().and_then(|o| gbdt::fit(&gains, o));
    model.ada_edges = quantile_edges(fit_traces.iter().map(|t| t.score), opts.ada_bins);
    if let Some(adaef) = &mut model.adaef {
        adaef.edges = quantile_edges(fit_traces.iter().map(|t| t.law_score), opts.ada_bins);
    }
    let cal_traces = traces(index, &model, &cal_w)?;
    let scores = calibrate::Scores {
        ada: cal_traces.iter().map(|t| t.score).collect(),
        adaef: cal_traces.iter().map(|t| t.law_score).collect(),
    };
    let (calibration, cap_recall) = calibrate::calibrate(
        index,
        &model,
        &cal_w,
        &scores,
        &opts.targets,
        &opts.beam_factors,
        opts.work_cap,
    )?;
    model.calibration = calibration;
    let ppo = match &opts.ppo {
        Some(p) => learn_ppo(index, &mut model, &fit_traces, &cal_w, opts, p)?,
        None => Vec::new(),
    };
    model.validate(index.metric(), dim)?;
    Ok(Learned {
        model,
        fit_queries: fit_rows.len(),
        calibration_queries: cal_rows.len(),
        fit_rows: rows.len(),
        cap_recall,
        ppo,
    })
}

/// Trains a PPO policy per cost on the fit traces, keeps the one whose rule, calibrated at
/// the median requested target, needs the fewest distance evaluations on the calibration
/// half, and calibrates its threshold for every target of the model.
fn learn_ppo<T: Component>(
    index: &Index<T>,
    model: &mut StopModel,
    fit_traces: &[QueryTrace],
    cal_w: &Workload<'_, T>,
    opts: &LearnOptions,
    p: &ppo::PpoOptions,
) -> Result<Vec<PpoTrial>, LearnError> {
    if p.costs.is_empty() || p.iterations == 0 || p.episodes == 0 || p.epochs == 0 {
        return Err(LearnError::Invalid(
            "PPO needs costs, iterations, episodes and epochs".into(),
        ));
    }
    let episodes = ppo::episodes(fit_traces, &model.scale);
    if episodes.is_empty() {
        return Err(LearnError::Invalid("no traced search filled its top k".into()));
    }
    let mut targets = opts.targets.clone();
    targets.sort_by(f64::total_cmp);
    let target = targets[targets.len() / 2];
    let at = model
        .calibration
        .iter()
        .position(|c| (c.target - target).abs() < 1e-9)
        .expect("requested targets are calibrated");
    let mut trials = Vec::new();
    let mut kept: Option<(f64, Vec<f32>)> = None;
    for &cost in &p.costs {
        let policy = ppo::train(&episodes, cost, p);
        model.ppo_weights = policy.weights.iter().map(|&w| w as f32).collect();
        let knobs = Calibration {
            ppo_threshold: Some(calibrate::score_threshold(
                index,
                model,
                cal_w,
                StopKind::Ppo,
                &model.calibration[at],
            )?),
            ..model.calibration[at].clone()
        };
        let rule = StopRule::with_knobs(model, StopKind::Ppo, &knobs);
        let work = evaluate::outcomes(index, cal_w, model.ef_cap, Some(&rule))?;
        let distances = work.iter().map(|o| o.distances as f64).sum::<f64>() / work.len().max(1) as f64;
        let (raw_recall, raw_work) = ppo::replay(&policy.weights, &episodes, 0.5);
        let tail = &policy.curve[policy.curve.len().saturating_sub(10)..];
        trials.push(PpoTrial {
            cost,
            final_reward: tail.iter().sum::<f64>() / tail.len() as f64,
            raw_recall,
            raw_work,
            selection_target: target,
            selection_distances: distances,
            chosen: false,
        });
        if kept.as_ref().is_none_or(|(d, _)| distances < *d) {
            kept = Some((distances, model.ppo_weights.clone()));
        }
    }
    let (best, weights) = kept.expect("at least one cost");
    for t in &mut trials {
        t.chosen = t.selection_distances == best;
    }
    model.ppo_weights = weights;
    for i in 0..model.calibration.len() {
        let th = calibrate::score_threshold(index, model, cal_w, StopKind::Ppo, &model.calibration[i])?;
        model.calibration[i].ppo_threshold = Some(th);
    }
    Ok(trials)
}

fn check<T: Component>(index: &Index<T>, w: &Workload<'_, T>, opts: &LearnOptions) -> Result<(), LearnError> {
    let bad = |m: String| Err(LearnError::Invalid(m));
    if let Some(t) = opts.targets.iter().find(|t| !(**t > 0.0 && **t <= 1.0)) {
        return bad(format!("the recall target {t} is outside (0, 1]"));
    }
    if opts.targets.is_empty() {
        return bad("no recall target".into());
    }
    if let Some(problem) = opts.gbdt.as_ref().and_then(gbdt::GbdtOptions::problem) {
        return bad(format!("gbdt: {problem}"));
    }
    if let Some(problem) = opts.gain.as_ref().and_then(gbdt::GbdtOptions::problem) {
        return bad(format!("gain: {problem}"));
    }
    if let Some(problem) = opts.adaef.as_ref().and_then(law::AdaEfOptions::problem) {
        return bad(format!("adaef: {problem}"));
    }
    if w.k != opts.k || opts.k == 0 {
        return bad(format!(
            "the workload asks k = {}, the options k = {}",
            w.k, opts.k
        ));
    }
    if opts.ef_cap < opts.k
        || opts.interval == 0
        || opts.ada_bins == 0
        || opts.beam_factors.is_empty()
        || opts.beam_factors.iter().any(|f| !(f.is_finite() && *f >= 1.0))
        || opts.work_cap.is_some_and(|c| !(c.is_finite() && c > 0.0))
    {
        return bad(
            "ef_cap must be ≥ k; interval and bins ≥ 1; beam factors given, finite and ≥ 1; work cap finite and > 0".into(),
        );
    }
    if w.len() < 20 {
        return bad(format!(
            "{} learning queries: at least 20 are needed (half fit, half calibrate)",
            w.len()
        ));
    }
    if w.queries.len() != w.len() * index.dim() {
        return bad(format!(
            "{} query components for {} ground-truth rows of dimension {}",
            w.queries.len(),
            w.len(),
            index.dim()
        ));
    }
    if let Some((i, t)) = w.truth.iter().enumerate().find(|(_, t)| t.len() < w.k) {
        return bad(format!("ground-truth row {i} holds {} ids, k = {}", t.len(), w.k));
    }
    if index.len() < opts.k {
        return bad(format!("the index holds {} vectors, k = {}", index.len(), opts.k));
    }
    Ok(())
}

/// Query positions shuffled with `seed`, cut in halves (fit, calibration), each ascending: the
/// split [`learn`] makes of its `n` learning queries.
pub fn split(n: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x5354_4f50);
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
    let (a, b) = order.split_at(n / 2);
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort_unstable();
    b.sort_unstable();
    (a, b)
}

/// The model's shape before fitting: options in place, weights and knobs neutral — all that
/// [`traces`] needs to trace searches at the cap beam width. Fits the adaef rule's distance
/// law when the options ask for the rule.
pub fn provisional<T: Component>(index: &Index<T>, opts: &LearnOptions) -> StopModel {
    let adaef = opts.adaef.as_ref().and_then(|o| law::rule(index, o));
    let adaef_ef = if adaef.is_some() {
        vec![opts.ef_cap]
    } else {
        Vec::new()
    };
    StopModel {
        metric: index.metric().name().to_string(),
        dim: index.dim(),
        k: opts.k,
        ef_cap: opts.ef_cap,
        interval: opts.interval,
        ada_warmup: opts.ada_warmup,
        byte_walk: index.walks_bytes(),
        ada_edges: Vec::new(),
        weights: vec![0.0; FEATURES + 1],
        scale: vec![(0.0, 1.0); FEATURES],
        ppo_weights: Vec::new(),
        gbdt: None,
        gain: None,
        adaef,
        calibration: vec![Calibration {
            target: 1.0,
            fixed_ef: opts.ef_cap,
            beam: opts.ef_cap,
            patience: u32::MAX,
            threshold: f32::INFINITY,
            ada_ef: vec![opts.ef_cap],
            adaef_ef,
            ppo_threshold: None,
            gbdt_threshold: None,
            gain_threshold: None,
            epsilon: None,
            budget: None,
        }],
    }
}

/// One query's trace turned into training rows (features, recall so far) and its ada score.
#[derive(Clone, Debug)]
pub struct QueryTrace {
    /// (features, recall@k so far) at each check.
    pub rows: Vec<fit::Row>,
    /// Distance evaluations at each check.
    pub distances: Vec<u64>,
    /// The ada score (NaN when the warm-up never ended).
    pub score: f32,
    /// The adaef score (NaN when its warm-up never ended or the model has no law).
    pub law_score: f32,
    /// The queued frontier at each check (not a model input; for replays).
    pub frontier: Vec<Frontier>,
    /// The key of the best result at each check (for replays that describe its neighbourhood).
    pub best: Vec<u64>,
}

impl QueryTrace {
    /// The trace as the oracle reads it: (distance evaluations, recall so far) per check.
    pub fn trajectory(&self) -> oracle::Trajectory {
        self.distances
            .iter()
            .map(|&d| d as f64)
            .zip(self.rows.iter().map(|r| r.1 as f64))
            .collect()
    }

    /// The gain rule's training rows: at each check, its [`gain_inputs`] and the recall gained
    /// by the check [`GAIN_WINDOW`] later (the trace's last when fewer remain), never
    /// negative.
    pub fn gain_rows(&self) -> Vec<([f32; GAIN_FEATURES], f32)> {
        let r = &self.rows;
        let Some(last) = r.last() else {
            return Vec::new();
        };
        (0..r.len())
            .map(|i| {
                let back = |lag: usize| i.checked_sub(lag).map(|j| &r[j].0);
                let x = gain_inputs(&r[i].0, back(1), back(GAIN_WINDOW), &r[0].0);
                let ahead = r.get(i + GAIN_WINDOW).unwrap_or(last).1;
                (x, (ahead - r[i].1).max(0.0))
            })
            .collect()
    }
}

/// Traces every query of `w` at the model's cap beam width.
pub fn traces<T: Component>(
    index: &Index<T>,
    model: &StopModel,
    w: &Workload<'_, T>,
) -> Result<Vec<QueryTrace>, CoreError> {
    let rule = StopRule::tracing(model);
    let params = SearchParams {
        stop: Some(&rule),
        ..SearchParams::new(w.k, model.ef_cap)
    };
    let dim = index.dim();
    geodex_core::measure::for_each_query(None, w.len(), SearchContext::new, |ctx, i| {
        index.search(&w.queries[i * dim..][..dim], &params, ctx)?;
        let trace = ctx.take_trace();
        let best = trace
            .ids
            .chunks_exact(w.k)
            .map(|ids| evaluate::keys_of(index, &ids[..1]).next().unwrap_or(u64::MAX))
            .collect();
        let rows = trace
            .features
            .iter()
            .zip(trace.ids.chunks_exact(w.k))
            .map(|(f, ids)| {
                let r = evaluate::recall(evaluate::keys_of(index, ids), &w.truth[i], w.k);
                (f.to_array(), r as f32)
            })
            .collect();
        Ok(QueryTrace {
            rows,
            distances: trace.distances,
            score: trace.score,
            law_score: trace.law_score,
            frontier: trace.frontier,
            best,
        })
    })
}

/// `bins − 1` ascending edges at the quantiles i/bins of the finite scores (duplicates
/// removed, so fewer when scores tie).
fn quantile_edges(scores: impl Iterator<Item = f32>, bins: usize) -> Vec<f32> {
    let mut s: Vec<f32> = scores.filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return Vec::new();
    }
    s.sort_by(f32::total_cmp);
    let mut edges: Vec<f32> = (1..bins).map(|i| s[i * s.len() / bins]).collect();
    edges.dedup();
    edges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_a_seeded_partition() {
        let (a, b) = split(101, 7);
        let mut all: Vec<usize> = a.iter().chain(&b).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..101).collect::<Vec<_>>());
        assert_eq!(a.len(), 50);
        assert_eq!(split(101, 7), (a.clone(), b));
        assert_ne!(split(101, 8).0, a);
    }

    #[test]
    fn edges_are_quantiles() {
        let e = quantile_edges((0..100).map(|i| i as f32).chain([f32::NAN]), 4);
        assert_eq!(e, vec![25.0, 50.0, 75.0]);
        assert_eq!(quantile_edges([1.0f32; 10].into_iter(), 4), vec![1.0]);
    }
}
