//! Training a scorer on path-labelled candidate lists (`labels.rs`).
//!
//! Each epoch rolls the rule out on every training node exactly as the build does
//! (`geodex_core::edges::scored_rollout`: closest first, features against the links kept so
//! far). Early epochs roll in with the heuristic's decisions, later ones with the model's own
//! (DAgger, Ross et al. 2011: probability 2^−epoch of the heuristic), so the model is trained
//! on the states its own choices lead to. The decisions are treated as constants of the loss
//! (only the score of each judged candidate carries a gradient).
//!
//! Loss per judged candidate with label y and p = σ(s): class-balanced cross-entropy
//! −w_y·[y·ln p + (1−y)·ln(1−p)] plus a degree penalty λ·p (the expected number of links,
//! an L1 budget), averaged over a mini-batch. Optimisers: Adam (Kingma & Ba 2015), SGD with
//! momentum (heavy ball) and Langevin dynamics (SGLD), all written here (a flat vector of a few
//! dozen parameters).
//!
//! After training, the threshold on s is chosen by bisection so that the rule keeps, on the
//! training nodes, as many links as the heuristic keeps there: learned and heuristic graphs are
//! compared at equal degree.

use geodex_core::edges::{scored_rollout, EdgeFeatures, OCCLUSION_LOG_RATIO};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::Serialize;

use crate::labels::Example;
use crate::model::{EdgeModel, ListPass, ModelKind};
use crate::ode::OdeSpec;
use crate::relax::relaxed;
use crate::spectral::{Fiedler, SoftArcs, SpectralTerm};
use crate::step::{relaxed_set, step_loss, Estimator, Relaxation};

/// Which optimiser updates θ.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum Optimizer {
    /// Adam with β₁ = 0.9, β₂ = 0.999, ε = 1e-8.
    Adam,
    /// SGD with heavy-ball momentum.
    Sgd {
        /// Momentum coefficient in [0, 1).
        momentum: f64,
    },
    /// Stochastic-gradient Langevin dynamics (Welling & Teh 2011; THEORY §11.1): the
    /// Euler–Maruyama step of dθ = −∇L dt + √(2T) dB, i.e. θ ← θ − η·ĝ + √(2ηT)·ξ with ξ
    /// standard normal, ĝ the mini-batch gradient.
    Langevin {
        /// T ≥ 0; T = 0 is plain SGD.
        temperature: f64,
    },
}

/// Which surrogate labels the judged candidates (`labels.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Labels {
    /// The edge lies on a training query's path in the union graph ([`Example::positive`]).
    Path,
    /// The candidate offers some demand progress no link kept before it offers
    /// ([`Example::progress`]).
    Progress,
}

impl std::str::FromStr for Labels {
    type Err = crate::EdgesError;
    fn from_str(s: &str) -> Result<Self, crate::EdgesError> {
        match s {
            "path" => Ok(Labels::Path),
            "progress" => Ok(Labels::Progress),
            other => Err(crate::EdgesError::Invalid(format!(
                "unknown labels {other:?} (path, progress)"
            ))),
        }
    }
}

impl Labels {
    /// The label of candidate `i` of `ex`, given the links `kept` so far (ascending, all < i).
    pub fn of(self, ex: &Example, i: usize, kept: &[usize]) -> bool {
        match self {
            Labels::Path => ex.positive[i],
            Labels::Progress => ex.progress(i, kept),
        }
    }
}

/// Training settings.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrainOptions {
    /// Model family.
    pub kind: ModelKind,
    /// Hidden units of the MLP and of the gnn's layers.
    pub hidden: usize,
    /// Message-passing layers of the gnn.
    pub layers: usize,
    /// The ode's flow (integration time, solver, gradient method).
    pub ode: OdeSpec,
    /// Passes over the training nodes.
    pub epochs: usize,
    /// Training nodes per update.
    pub batch: usize,
    /// Step size.
    pub learning_rate: f64,
    /// The optimiser.
    pub optimizer: Optimizer,
    /// λ of the degree penalty λ·p per judged candidate.
    pub degree_penalty: f64,
    /// The surrogate labels.
    pub labels: Labels,
    /// When set, the loss is the set objective of `step.rs` over relaxed keep decisions
    /// instead of the cross-entropy on the labels (which then only weigh nothing).
    pub relaxation: Option<Relaxation>,
    /// The level-0 degree bound 2·M. The build gives a new node's own list the budget M and a
    /// list that overflows 2·M; roll-outs alternate between the two (by node parity,
    /// [`training_budget`]) so the scorer sees both — its features are relative to the budget.
    pub budget: usize,
    /// Seeds the initial weights and the order of the nodes.
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            kind: ModelKind::Logistic,
            hidden: 16,
            layers: 2,
            ode: OdeSpec::default(),
            epochs: 12,
            batch: 32,
            learning_rate: 1e-2,
            optimizer: Optimizer::Adam,
            degree_penalty: 0.0,
            labels: Labels::Progress,
            relaxation: None,
            budget: 32,
            seed: 42,
        }
    }
}

/// What one epoch measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EpochStats {
    /// The epoch, from 0.
    pub epoch: usize,
    /// Mean training loss of the epoch's mini-batches.
    pub train_loss: f64,
    /// Loss on the validation nodes (rolled out with the model), after the epoch.
    pub validation_loss: f64,
    /// The spectral regulariser's graph at the start of the epoch, when it is on.
    pub spectral: Option<SpectralEpoch>,
}

/// λ₂ of the soft graph when the regulariser refreshed it (`spectral.rs`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpectralEpoch {
    /// λ₂ of the chosen Laplacian.
    pub lambda2: f64,
    /// Participation ratio of its eigenvector (1 = spread over every node).
    pub participation: f64,
    /// Operator applications the refresh spent.
    pub matvecs: usize,
    /// The training nodes' judged candidates and soft out-degree.
    pub arcs: SoftArcs,
}

/// How a rule does on a set of labelled nodes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RuleStats {
    /// Mean links kept per node.
    pub mean_kept: f64,
    /// Share of the positive (path) edges the rule keeps.
    pub positives_kept: f64,
    /// Share of the kept links that are positive.
    pub precision: f64,
    /// Share of the demands (training queries leaving the node) whose best candidate is kept.
    pub demand_coverage: f64,
}

/// Pairwise squared-like dissimilarity between candidates i and j of one example.
pub type PairDistance<'a> = dyn Fn(&Example, usize, usize) -> f32 + Sync + 'a;

/// Trains a model on `train`, reporting the loss on `validation` each epoch; with `spectral`,
/// the loss gains the regulariser −μ·λ₂/λ₂⁰ of `spectral.rs`, its eigenvector refreshed at the
/// start of every epoch (the reported losses stay the cross-entropy and degree terms).
pub fn train(
    train: &[Example],
    validation: &[Example],
    pair: &PairDistance<'_>,
    opts: &TrainOptions,
    spectral: Option<&SpectralTerm<'_>>,
) -> (EdgeModel, Vec<EpochStats>) {
    let mut model = EdgeModel::new(opts.kind, opts.hidden, opts.layers, opts.seed);
    if model.kind == ModelKind::Ode {
        model.ode = Some(opts.ode);
    }
    let weights = class_weights(train, pair, opts.budget, opts.labels);
    let mut state = OptimizerState::new(model.params.len(), opts.seed);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(opts.seed ^ 0x5eed);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut history = Vec::with_capacity(opts.epochs);
    let mut updates = 0u64;
    let (mut fiedler, mut lambda0): (Option<Fiedler>, f64) = (None, 0.0);
    for epoch in 0..opts.epochs {
        crate::draw::shuffle(&mut order, &mut rng);
        let teacher_share = 0.5f64.powi(epoch as i32);
        let refreshed = spectral.map(|term| {
            let warm = fiedler.as_ref().map(|f| &f.eigenvector[..]);
            let (f, arcs) = term.refresh(&model, train, pair, opts.budget, warm, opts.seed);
            if epoch == 0 {
                lambda0 = f.lambda2;
            }
            (f, arcs)
        });
        let epoch_spectral = refreshed.as_ref().map(|(f, arcs)| SpectralEpoch {
            lambda2: f.lambda2,
            participation: f.participation(),
            matvecs: f.matvecs,
            arcs: *arcs,
        });
        fiedler = refreshed.map(|(f, _)| f).or(fiedler);
        let mut losses = Vec::new();
        for (step, batch) in order.chunks(opts.batch.max(1)).enumerate() {
            let roll = RollIn {
                teacher_share,
                salt: (epoch as u64) << 32 | step as u64,
                tau: opts
                    .relaxation
                    .map_or(1.0, |r| crate::relax::temperature(updates, r.tau_floor)),
            };
            updates += 1;
            let active = spectral.filter(|term| term.options.weight > 0.0);
            let regulariser = active.zip(fiedler.as_ref()).map(|(term, f)| Regulariser {
                fiedler: f,
                scale: term.options.weight / lambda0.max(1e-12) * train.len() as f64 / batch.len() as f64,
            });
            let (loss, grad) = batch_gradient(
                &model,
                train,
                batch,
                pair,
                opts,
                weights,
                roll,
                regulariser.as_ref(),
            );
            state.step(&mut model.params, &grad, opts);
            losses.push(loss);
        }
        let all: Vec<usize> = (0..validation.len()).collect();
        let held_out = RollIn {
            teacher_share: 0.0,
            salt: 0,
            tau: opts
                .relaxation
                .map_or(1.0, |r| crate::relax::temperature(updates, r.tau_floor)),
        };
        let (validation_loss, _) =
            batch_gradient(&model, validation, &all, pair, opts, weights, held_out, None);
        history.push(EpochStats {
            epoch,
            train_loss: losses.iter().sum::<f64>() / losses.len().max(1) as f64,
            validation_loss,
            spectral: epoch_spectral,
        });
    }
    (model, history)
}

/// The spectral term of one mini-batch: the epoch's eigenvector and μ/λ₂⁰ times the batch's
/// share of the training nodes inverted (the batch's arcs estimate the sum over all of them).
struct Regulariser<'f> {
    fiedler: &'f Fiedler,
    scale: f64,
}

/// Positive and negative weights that balance the classes among the candidates the heuristic
/// judges (w_y = N / (2·N_y)).
pub(crate) fn class_weights(
    examples: &[Example],
    pair: &PairDistance<'_>,
    budget: usize,
    labels: Labels,
) -> (f64, f64) {
    let (pos, neg) = examples
        .par_iter()
        .map(|ex| {
            let (kept, seen) = rollout(ex, pair, training_budget(ex, budget), &mut |_, x| {
                heuristic_keeps(x)
            });
            let pos = judged_labels(ex, &kept, seen.len(), labels)
                .filter(|&y| y)
                .count();
            (pos, seen.len() - pos)
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    let n = (pos + neg) as f64;
    (n / (2.0 * pos.max(1) as f64), n / (2.0 * neg.max(1) as f64))
}

/// The labels of the first `judged` candidates of a roll-out that kept `kept` (ascending).
pub(crate) fn judged_labels<'a>(
    ex: &'a Example,
    kept: &'a [usize],
    judged: usize,
    labels: Labels,
) -> impl Iterator<Item = bool> + 'a {
    (0..judged).map(move |i| labels.of(ex, i, &kept[..kept.partition_point(|&k| k < i)]))
}

/// The budget an example is rolled out with in training: half the nodes get M = `bound`/2 (a
/// new node's own list), half the bound 2·M (a list shrunk after an overflow).
pub fn training_budget(ex: &Example, bound: usize) -> usize {
    if ex.node.is_multiple_of(2) {
        (bound / 2).max(1)
    } else {
        bound
    }
}

/// The heuristic's decision on features x.
pub(crate) fn heuristic_keeps(x: &EdgeFeatures) -> bool {
    x[OCCLUSION_LOG_RATIO] >= 0.0
}

/// [`scored_rollout`] over one example's candidates with a context-free decision.
pub(crate) fn rollout(
    ex: &Example,
    pair: &PairDistance<'_>,
    budget: usize,
    keep: &mut dyn FnMut(usize, &EdgeFeatures) -> bool,
) -> (Vec<usize>, Vec<EdgeFeatures>) {
    scored_rollout(&ex.e_b, &|i, j| pair(ex, i, j), budget, &mut |i, x, _| keep(i, x))
}

/// [`scored_rollout`] over one example's candidates judged by `model` (through a
/// [`ListPass`], so a list-aware model sees the links kept so far): `decide(rank, x, logit)`
/// takes each decision. Returns the kept ranks, the features and the pass.
pub(crate) fn model_rollout<'m>(
    ex: &Example,
    pair: &PairDistance<'_>,
    budget: usize,
    model: &'m EdgeModel,
    decide: &mut dyn FnMut(usize, &EdgeFeatures, f64) -> bool,
) -> (Vec<usize>, Vec<EdgeFeatures>, ListPass<'m>) {
    let mut pass = model.list();
    let (kept, seen) = scored_rollout(&ex.e_b, &|i, j| pair(ex, i, j), budget, &mut |i, x, links| {
        let s = pass.judge(x, ex.e_b[i], links);
        decide(i, x, s)
    });
    (kept, seen, pass)
}

/// A decision rule rolled out over examples: the heuristic's test, or a model at a threshold.
#[derive(Clone, Copy, Debug)]
pub enum Rule<'m> {
    /// Keep when the occlusion log-ratio is ≥ 0.
    Heuristic,
    /// Keep when the model's logit is ≥ the threshold.
    Model(&'m EdgeModel, f64),
}

impl Rule<'_> {
    /// The ranks this rule keeps of one example's candidates, and how many it judged.
    fn kept(&self, ex: &Example, pair: &PairDistance<'_>, budget: usize) -> (Vec<usize>, usize) {
        let (kept, seen) = match *self {
            Rule::Heuristic => rollout(ex, pair, budget, &mut |_, x| heuristic_keeps(x)),
            Rule::Model(model, threshold) => {
                let (kept, seen, _) = model_rollout(ex, pair, budget, model, &mut |_, _, s| s >= threshold);
                (kept, seen)
            }
        };
        (kept, seen.len())
    }
}

/// How one mini-batch's lists are rolled in: the heuristic decides with probability
/// `teacher_share` per decision (seeded by `salt` and the node), and a relaxed set objective
/// draws its samples at temperature `tau`.
#[derive(Clone, Copy, Debug)]
struct RollIn {
    teacher_share: f64,
    salt: u64,
    tau: f64,
}

/// Mean loss and gradient over the nodes `batch` of `examples`, rolled in as `roll` says. The
/// loss is the class-balanced cross-entropy with the degree penalty, averaged over the judged
/// candidates, or with `opts.relaxation` the set objective of `step.rs`, averaged over the lists
/// with demands. The spectral term, when given, adds −scale·∂λ₂/∂a_uc·p(1−p) to each judged
/// candidate's upstream gradient, outside the mean (it is a sum over arcs, not a mean).
#[allow(clippy::too_many_arguments)]
fn batch_gradient(
    model: &EdgeModel,
    examples: &[Example],
    batch: &[usize],
    pair: &PairDistance<'_>,
    opts: &TrainOptions,
    weights: (f64, f64),
    roll: RollIn,
    spectral: Option<&Regulariser<'_>>,
) -> (f64, Vec<f64>) {
    let len = model.params.len();
    let hold_degree = opts.relaxation.is_some_and(|r| r.hold_degree);
    let sums = batch
        .par_iter()
        .map(|&i| {
            let ex = &examples[i];
            let mut coin = Xoshiro256PlusPlus::seed_from_u64(roll.salt ^ u64::from(ex.node) << 20);
            let mut sums = BatchSums::new(len);
            let (mut logits, mut draws) = (Vec::new(), Vec::new());
            let mut budget = training_budget(ex, opts.budget);
            let straight = opts
                .relaxation
                .is_some_and(|r| r.estimator == Estimator::StraightThrough);
            if straight {
                // The budget the comparison holds fixed: the heuristic's links on this list.
                budget = rollout(ex, pair, budget, &mut |_, x| heuristic_keeps(x)).0.len();
            }
            let (kept, _, pass) = model_rollout(ex, pair, budget, model, &mut |_, x, s| {
                logits.push(s);
                let teacher = crate::model::unit(&mut coin) < roll.teacher_share;
                if opts.relaxation.is_some() {
                    draws.push(open_unit(&mut coin));
                }
                if teacher {
                    heuristic_keeps(x)
                } else if straight {
                    // s + L ≥ 0: the Bernoulli(σ(s)) draw behind the concrete sample X.
                    relaxed(s, 1.0, draws[draws.len() - 1]) >= 0.5
                } else {
                    s >= 0.0
                }
            });
            let (loss, upstream, terms) = match opts.relaxation {
                None => label_loss(ex, &kept, &logits, opts, weights),
                Some(relaxation) => set_loss(ex, &logits, &draws, &kept, roll.tau, relaxation),
            };
            (sums.loss, sums.terms) = (loss, terms);
            pass.backward(&upstream, &mut sums.grad);
            if hold_degree {
                // ∂/∂s_i of the expected count Σ σ(s_i).
                let slopes: Vec<f64> = logits
                    .iter()
                    .map(|&s| sigmoid(s))
                    .map(|p| p * (1.0 - p))
                    .collect();
                pass.backward(&slopes, &mut sums.count_grad);
            }
            if let Some(r) = spectral {
                let spectral_upstream: Vec<f64> = logits
                    .iter()
                    .enumerate()
                    .map(|(i, &s)| {
                        let (p, slope) = (
                            sigmoid(s),
                            r.fiedler
                                .arc_gradient(ex.node as usize, ex.candidates[i] as usize),
                        );
                        -r.scale * slope * p * (1.0 - p)
                    })
                    .collect();
                pass.backward(&spectral_upstream, &mut sums.spectral_grad);
            }
            sums
        })
        .reduce(|| BatchSums::new(len), BatchSums::merge);
    let n = sums.terms.max(1) as f64;
    let grad: Vec<f64> = sums
        .grad
        .iter()
        .zip(&sums.spectral_grad)
        .map(|(g, r)| g / n + r)
        .collect();
    let grad = if hold_degree {
        project_off(&grad, &sums.count_grad)
    } else {
        grad
    };
    (sums.loss / n, grad)
}

/// What [`batch_gradient`] adds up over a mini-batch's lists.
struct BatchSums {
    loss: f64,
    /// Of the loss.
    grad: Vec<f64>,
    /// Of the spectral term (already scaled; not divided by the terms).
    spectral_grad: Vec<f64>,
    /// Of the expected count of kept links (only when the degree is held).
    count_grad: Vec<f64>,
    terms: usize,
}

impl BatchSums {
    fn new(len: usize) -> Self {
        BatchSums {
            loss: 0.0,
            grad: vec![0.0; len],
            spectral_grad: vec![0.0; len],
            count_grad: vec![0.0; len],
            terms: 0,
        }
    }

    fn merge(mut self, other: Self) -> Self {
        self.loss += other.loss;
        self.terms += other.terms;
        for (mine, theirs) in [
            (&mut self.grad, &other.grad),
            (&mut self.spectral_grad, &other.spectral_grad),
            (&mut self.count_grad, &other.count_grad),
        ] {
            mine.iter_mut().zip(theirs).for_each(|(x, y)| *x += y);
        }
        self
    }
}

/// g − (g·d / d·d)·d: `g` without its component along `d` (`g` itself when d = 0).
pub(crate) fn project_off(g: &[f64], d: &[f64]) -> Vec<f64> {
    let dd: f64 = d.iter().map(|x| x * x).sum();
    let along = if dd > 0.0 {
        g.iter().zip(d).map(|(a, b)| a * b).sum::<f64>() / dd
    } else {
        0.0
    };
    g.iter().zip(d).map(|(a, b)| a - along * b).collect()
}

/// One rolled-out list's class-balanced cross-entropy and degree penalty, summed over its
/// judged candidates (with `logits`), the upstream gradient per logit, and the count of terms.
fn label_loss(
    ex: &Example,
    kept: &[usize],
    logits: &[f64],
    opts: &TrainOptions,
    (w_pos, w_neg): (f64, f64),
) -> (f64, Vec<f64>, usize) {
    let mut loss = 0.0;
    let labels = judged_labels(ex, kept, logits.len(), opts.labels);
    let upstream = logits
        .iter()
        .zip(labels)
        .map(|(&s, y)| {
            let p = sigmoid(s);
            let w = if y { w_pos } else { w_neg };
            loss += w * bce(s, y) + opts.degree_penalty * p;
            w * (p - f64::from(u8::from(y))) + opts.degree_penalty * p * (1.0 - p)
        })
        .collect();
    (loss, upstream, logits.len())
}

/// One list's set objective (`step.rs`) over the relaxed decisions of its judged candidates
/// (logits `s`, uniform draws `u`, the roll-out's hard decisions `kept`), the upstream gradient
/// per logit, and the count of terms (1, or 0 for a list without demands).
fn set_loss(
    ex: &Example,
    s: &[f64],
    u: &[f64],
    kept: &[usize],
    tau: f64,
    relaxation: Relaxation,
) -> (f64, Vec<f64>, usize) {
    let (h, slope) = relaxed_set(relaxation.estimator, s, u, tau, kept);
    let mut grad_h = vec![0.0; s.len()];
    match step_loss(ex, &h, relaxation.softness, &mut grad_h) {
        Some(loss) => (loss, grad_h.iter().zip(&slope).map(|(g, d)| g * d).collect(), 1),
        None => (0.0, vec![0.0; s.len()], 0),
    }
}

/// A uniform draw in the open interval (0, 1), as the logistic noise ln u − ln(1 − u) needs.
fn open_unit(rng: &mut Xoshiro256PlusPlus) -> f64 {
    (crate::model::unit(rng) + 0.5 / (1u64 << 53) as f64).min(1.0 - f64::EPSILON)
}

/// −[y·ln σ(s) + (1−y)·ln(1−σ(s))], computed stably.
pub(crate) fn bce(s: f64, y: bool) -> f64 {
    let z = if y { s } else { -s };
    // −ln σ(z) = ln(1 + e^(−z))
    if z > 0.0 {
        (-z).exp().ln_1p()
    } else {
        -z + z.exp().ln_1p()
    }
}

/// σ(s) = 1 / (1 + e^(−s)).
pub fn sigmoid(s: f64) -> f64 {
    1.0 / (1.0 + (-s).exp())
}

/// The optimiser's running moments, and the Langevin noise (seeded).
pub(crate) struct OptimizerState {
    first: Vec<f64>,
    second: Vec<f64>,
    steps: i32,
    noise: Xoshiro256PlusPlus,
}

impl OptimizerState {
    pub(crate) fn new(len: usize, seed: u64) -> Self {
        OptimizerState {
            first: vec![0.0; len],
            second: vec![0.0; len],
            steps: 0,
            noise: Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x4c41_4e47),
        }
    }

    /// One update of `params` along the mini-batch gradient `grad`.
    pub(crate) fn step(&mut self, params: &mut [f64], grad: &[f64], opts: &TrainOptions) {
        self.steps += 1;
        let lr = opts.learning_rate;
        match opts.optimizer {
            Optimizer::Adam => {
                let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8);
                let (c1, c2) = (1.0 - b1.powi(self.steps), 1.0 - b2.powi(self.steps));
                for (i, p) in params.iter_mut().enumerate() {
                    self.first[i] = b1 * self.first[i] + (1.0 - b1) * grad[i];
                    self.second[i] = b2 * self.second[i] + (1.0 - b2) * grad[i] * grad[i];
                    *p -= lr * (self.first[i] / c1) / ((self.second[i] / c2).sqrt() + eps);
                }
            }
            Optimizer::Sgd { momentum } => {
                for (i, p) in params.iter_mut().enumerate() {
                    self.first[i] = momentum * self.first[i] + grad[i];
                    *p -= lr * self.first[i];
                }
            }
            Optimizer::Langevin { temperature } => {
                let spread = (2.0 * lr * temperature).sqrt();
                for (p, g) in params.iter_mut().zip(grad) {
                    *p -= lr * g;
                    if spread > 0.0 {
                        *p += spread * crate::model::normal(&mut self.noise);
                    }
                }
            }
        }
    }
}

/// How `rule` does on `examples`.
pub fn rule_stats(examples: &[Example], pair: &PairDistance<'_>, budget: usize, rule: Rule<'_>) -> RuleStats {
    let [kept, positive_kept, positives, covered, demands] = examples
        .par_iter()
        .map(|ex| {
            let (kept, _) = rule.kept(ex, pair, budget);
            let hits = kept.iter().filter(|&&i| ex.positive[i]).count();
            let (covered, demands) = ex.coverage(&kept);
            [
                kept.len(),
                hits,
                ex.positive.iter().filter(|&&p| p).count(),
                covered,
                demands,
            ]
        })
        .reduce(|| [0; 5], |a, b| std::array::from_fn(|i| a[i] + b[i]));
    RuleStats {
        mean_kept: kept as f64 / examples.len().max(1) as f64,
        positives_kept: positive_kept as f64 / positives.max(1) as f64,
        precision: positive_kept as f64 / kept.max(1) as f64,
        demand_coverage: covered as f64 / demands.max(1) as f64,
    }
}

/// The heuristic's statistics on `examples`.
pub fn heuristic_stats(examples: &[Example], pair: &PairDistance<'_>, budget: usize) -> RuleStats {
    rule_stats(examples, pair, budget, Rule::Heuristic)
}

/// Share of the learned rule's decisions (rolled out on its own, at its threshold) that the
/// heuristic's test on the same features would have taken too.
pub fn agreement(examples: &[Example], pair: &PairDistance<'_>, budget: usize, model: &EdgeModel) -> f64 {
    let (same, all) = examples
        .par_iter()
        .map(|ex| {
            let mut same = 0usize;
            let (_, seen, _) = model_rollout(ex, pair, budget, model, &mut |_, x, s| {
                let keep = s >= model.threshold;
                same += usize::from(keep == heuristic_keeps(x));
                keep
            });
            (same, seen.len())
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    same as f64 / all.max(1) as f64
}

/// The model's logits on every candidate it judges when rolled out on its own (at its
/// threshold) over `examples`.
pub fn judged_logits(
    examples: &[Example],
    pair: &PairDistance<'_>,
    budget: usize,
    model: &EdgeModel,
) -> Vec<f64> {
    examples
        .par_iter()
        .flat_map_iter(|ex| {
            let mut logits = Vec::new();
            model_rollout(ex, pair, budget, model, &mut |_, _, s| {
                logits.push(s - model.threshold);
                s >= model.threshold
            });
            logits
        })
        .collect()
}

/// Sets `model.threshold` so the rule keeps `target` links per node on `examples` (bisection
/// on the threshold; the count falls as the threshold rises).
pub fn calibrate_threshold(
    model: &mut EdgeModel,
    examples: &[Example],
    pair: &PairDistance<'_>,
    budget: usize,
    target: f64,
) {
    let (mut low, mut high) = (-50.0f64, 50.0f64);
    for _ in 0..40 {
        let mid = 0.5 * (low + high);
        let kept = rule_stats(examples, pair, budget, Rule::Model(model, mid)).mean_kept;
        if kept > target {
            low = mid;
        } else {
            high = mid;
        }
    }
    model.threshold = 0.5 * (low + high);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::RngCore;

    #[test]
    fn bce_is_the_cross_entropy_and_its_derivative_is_p_minus_y() {
        for s in [-30.0, -2.5, -0.1, 0.0, 0.7, 4.0, 30.0] {
            let p = sigmoid(s);
            let direct = |y: bool| if y { -(p.ln()) } else { -((1.0 - p).ln()) };
            for y in [true, false] {
                if p > 1e-12 && p < 1.0 - 1e-12 {
                    assert!((bce(s, y) - direct(y)).abs() < 1e-9);
                }
                let h = 1e-6;
                let fd = (bce(s + h, y) - bce(s - h, y)) / (2.0 * h);
                assert!((fd - (p - f64::from(u8::from(y)))).abs() < 1e-6);
            }
        }
    }

    /// Random points in the plane around a base at the origin, as one example.
    fn example(seed: u64, n: usize) -> (Example, Vec<[f64; 2]>) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut pts: Vec<[f64; 2]> = (0..n)
            .map(|_| {
                [
                    2.0 * crate::model::unit(&mut rng) - 1.0,
                    2.0 * crate::model::unit(&mut rng) - 1.0,
                ]
            })
            .collect();
        pts.sort_by(|a, b| (a[0] * a[0] + a[1] * a[1]).total_cmp(&(b[0] * b[0] + b[1] * b[1])));
        let mut demand_e = Vec::new();
        for _ in 0..4 {
            let q = [
                3.0 * crate::model::unit(&mut rng) - 1.5,
                3.0 * crate::model::unit(&mut rng) - 1.5,
            ];
            let e = |p: [f64; 2]| ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)) as f32;
            demand_e.extend(pts.iter().map(|&p| e(p)));
            demand_e.push(e([0.0, 0.0]));
        }
        let ex = Example {
            node: seed as u32,
            candidates: (0..n as u32).collect(),
            e_b: pts.iter().map(|p| (p[0] * p[0] + p[1] * p[1]) as f32).collect(),
            positive: (0..n).map(|_| rng.next_u64() % 3 == 0).collect(),
            demand_e,
        };
        (ex, pts)
    }

    /// `count` planar examples of `n` candidates each (node ids 0…count−1), and their points.
    fn planar(count: u64, n: usize) -> (Vec<Example>, Vec<Vec<[f64; 2]>>) {
        (0..count).map(|s| example(s, n)).unzip()
    }

    /// Squared distance between candidates i and j of a [`planar`] example.
    fn planar_pair(points: &[Vec<[f64; 2]>], ex: &Example, i: usize, j: usize) -> f32 {
        let (a, b) = (points[ex.node as usize][i], points[ex.node as usize][j]);
        ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)) as f32
    }

    /// A model of `kind` (4 hidden units) with parameters uniform in [−0.5, 0.5).
    fn random_model(kind: ModelKind, seed: u64) -> EdgeModel {
        let mut model = EdgeModel::new(kind, 4, 2, 5);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        for p in &mut model.params {
            *p = crate::model::unit(&mut rng) - 0.5;
        }
        model
    }

    /// Roll-in by the heuristic (teacher share 1): decisions do not depend on θ, so a batch
    /// loss is a smooth function of θ and its gradient is checkable.
    const TEACHER: RollIn = RollIn {
        teacher_share: 1.0,
        salt: 9,
        tau: 0.7,
    };

    #[test]
    fn the_concrete_set_objective_is_differentiated_exactly_through_every_scorer() {
        let (examples, points) = planar(6, 24);
        let pair = |ex: &Example, i: usize, j: usize| planar_pair(&points, ex, i, j);
        for kind in [
            ModelKind::Logistic,
            ModelKind::Mlp,
            ModelKind::Gnn,
            ModelKind::Ode,
        ] {
            let opts = TrainOptions {
                kind,
                hidden: 4,
                budget: 8,
                relaxation: Some(Relaxation {
                    estimator: Estimator::Concrete,
                    tau_floor: 0.5,
                    softness: 0.1,
                    hold_degree: false,
                }),
                ..Default::default()
            };
            let model = random_model(kind, 3);
            let batch: Vec<usize> = (0..examples.len()).collect();
            let loss_at =
                |m: &EdgeModel| batch_gradient(m, &examples, &batch, &pair, &opts, (1.0, 1.0), TEACHER, None);
            let (loss, grad) = loss_at(&model);
            assert!(loss > 0.0 && loss < 1.0, "a mean remaining ratio: {loss}");
            assert!(grad.iter().any(|g| g.abs() > 1e-9));
            crate::model::assert_gradient(&model, &|m| loss_at(m).0, &grad);
        }
    }

    #[test]
    fn the_straight_through_loss_is_the_set_objective_of_the_lists_the_rule_keeps() {
        // Rolled in by the heuristic at its own count, the straight-through forward set is the
        // heuristic's list: the loss is step_loss of those lists, recomputed here, and the
        // gradient reaches the scorer through the concrete's slope.
        let (examples, points) = planar(4, 24);
        let pair = |ex: &Example, i: usize, j: usize| planar_pair(&points, ex, i, j);
        let relaxation = Relaxation::default();
        let opts = TrainOptions {
            budget: 8,
            relaxation: Some(relaxation),
            ..Default::default()
        };
        let model = random_model(ModelKind::Logistic, 4);
        let batch = [0, 1, 2, 3];
        let (loss, grad) = batch_gradient(&model, &examples, &batch, &pair, &opts, (1.0, 1.0), TEACHER, None);
        let mut expected = 0.0;
        for ex in &examples {
            let (kept, _) = rollout(ex, &pair, training_budget(ex, 8), &mut |_, x| heuristic_keeps(x));
            let mut hard = vec![0.0; ex.candidates.len()];
            kept.iter().for_each(|&i| hard[i] = 1.0);
            expected += step_loss(ex, &hard, relaxation.softness, &mut vec![0.0; hard.len()]).unwrap() / 4.0;
        }
        assert!((loss - expected).abs() < 1e-12, "{loss} vs {expected}");
        assert!(grad.iter().any(|g| g.abs() > 1e-9));
    }

    #[test]
    fn holding_the_degree_removes_the_gradients_component_along_the_expected_count() {
        // The expected count Σ σ(s_i) over the judged candidates, recomputed from the scorer's
        // logits on the heuristic's roll-in; its gradient by central differences.
        let (examples, points) = planar(5, 24);
        let pair = |ex: &Example, i: usize, j: usize| planar_pair(&points, ex, i, j);
        let count = |m: &EdgeModel| -> f64 {
            let mut total = 0.0;
            for ex in &examples {
                let budget = rollout(ex, &pair, training_budget(ex, 8), &mut |_, x| heuristic_keeps(x))
                    .0
                    .len();
                model_rollout(ex, &pair, budget, m, &mut |_, x, s| {
                    total += sigmoid(s);
                    heuristic_keeps(x)
                });
            }
            total
        };
        let batch: Vec<usize> = (0..examples.len()).collect();
        for kind in [ModelKind::Logistic, ModelKind::Mlp] {
            let model = random_model(kind, 6);
            let h = 1e-6;
            let count_grad: Vec<f64> = (0..model.params.len())
                .map(|i| {
                    let (mut plus, mut minus) = (model.clone(), model.clone());
                    plus.params[i] += h;
                    minus.params[i] -= h;
                    (count(&plus) - count(&minus)) / (2.0 * h)
                })
                .collect();
            let gradient = |hold_degree: bool| {
                let opts = TrainOptions {
                    kind,
                    budget: 8,
                    relaxation: Some(Relaxation {
                        hold_degree,
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                batch_gradient(&model, &examples, &batch, &pair, &opts, (1.0, 1.0), TEACHER, None).1
            };
            let (free, held) = (gradient(false), gradient(true));
            let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
            let cosine = |g: &[f64]| {
                g.iter().zip(&count_grad).map(|(a, b)| a * b).sum::<f64>() / (norm(g) * norm(&count_grad))
            };
            assert!(
                cosine(&free).abs() > 0.05,
                "{kind:?}: nothing to remove ({})",
                cosine(&free)
            );
            assert!(cosine(&held).abs() < 1e-6, "{kind:?}: cosine {}", cosine(&held));
            // And nothing else is removed: held = free − (free·d/d·d)·d.
            let along = free.iter().zip(&count_grad).map(|(a, b)| a * b).sum::<f64>()
                / count_grad.iter().map(|b| b * b).sum::<f64>();
            for ((&f, &d), &g) in free.iter().zip(&count_grad).zip(&held) {
                assert!(
                    (f - along * d - g).abs() < 1e-6 * (1.0 + f.abs()),
                    "{kind:?}: {g} vs {}",
                    f - along * d
                );
            }
        }
    }

    #[test]
    fn batch_gradient_matches_finite_differences_of_the_batch_loss() {
        let (examples, points) = planar(6, 24);
        let pair = |ex: &Example, i: usize, j: usize| planar_pair(&points, ex, i, j);
        for (kind, labels) in [
            (ModelKind::Logistic, Labels::Path),
            (ModelKind::Mlp, Labels::Progress),
            (ModelKind::Gnn, Labels::Path),
            (ModelKind::Ode, Labels::Progress),
        ] {
            let opts = TrainOptions {
                kind,
                hidden: 4,
                budget: 8,
                degree_penalty: 0.3,
                labels,
                ..Default::default()
            };
            let model = random_model(kind, 2);
            let batch: Vec<usize> = (0..examples.len()).collect();
            let loss_at =
                |m: &EdgeModel| batch_gradient(m, &examples, &batch, &pair, &opts, (1.7, 0.6), TEACHER, None);
            let (_, grad) = loss_at(&model);
            crate::model::assert_gradient(&model, &|m| loss_at(m).0, &grad);
        }
    }

    #[test]
    fn the_spectral_term_is_the_gradient_of_minus_scaled_lambda2_through_the_scorer() {
        use crate::spectral::{fiedler, Laplacian, WeightedGraph};
        let (examples, points) = planar(6, 24);
        let pair = |ex: &Example, i: usize, j: usize| planar_pair(&points, ex, i, j);
        // Fixed arcs so the 24 nodes form one component whatever the soft weights.
        let background: Vec<(u32, u32, f64)> = (1..24u32).map(|v| (v - 1, v, 0.3)).collect();
        let (scale, batch) = (0.7, (0..examples.len()).collect::<Vec<usize>>());
        for (kind, laplacian) in [
            (ModelKind::Logistic, Laplacian::Combinatorial),
            (ModelKind::Mlp, Laplacian::Normalized),
            (ModelKind::Gnn, Laplacian::Combinatorial),
        ] {
            let opts = TrainOptions {
                kind,
                hidden: 4,
                budget: 8,
                labels: Labels::Path,
                ..Default::default()
            };
            // The soft graph of the teacher's roll-out (teacher share 1: decisions fixed).
            let graph = |m: &EdgeModel| {
                let mut arcs = background.clone();
                for ex in &examples {
                    model_rollout(ex, &pair, training_budget(ex, opts.budget), m, &mut |i, x, s| {
                        arcs.push((ex.node, ex.candidates[i], sigmoid(s)));
                        heuristic_keeps(x)
                    });
                }
                WeightedGraph::from_arcs(24, &arcs)
            };
            let objective = |m: &EdgeModel| {
                let ce = batch_gradient(m, &examples, &batch, &pair, &opts, (1.7, 0.6), TEACHER, None).0;
                ce - scale * fiedler(&graph(m), laplacian, None, 1).lambda2
            };
            let model = random_model(kind, 3);
            let f = fiedler(&graph(&model), laplacian, None, 1);
            let regulariser = Regulariser { fiedler: &f, scale };
            let (_, grad) = batch_gradient(
                &model,
                &examples,
                &batch,
                &pair,
                &opts,
                (1.7, 0.6),
                TEACHER,
                Some(&regulariser),
            );
            crate::model::assert_gradient(&model, &objective, &grad);
        }
    }

    #[test]
    fn training_is_reproducible_and_the_threshold_matches_the_heuristics_degree() {
        let (examples, points) = planar(40, 30);
        let pair = |ex: &Example, i: usize, j: usize| planar_pair(&points, ex, i, j);
        let opts = TrainOptions {
            budget: 12,
            epochs: 4,
            batch: 8,
            ..Default::default()
        };
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let (a, history) = pool.install(|| train(&examples[..30], &examples[30..], &pair, &opts, None));
        let (b, _) = pool.install(|| train(&examples[..30], &examples[30..], &pair, &opts, None));
        assert_eq!(a, b, "same seed, one thread: same model");
        assert_eq!(history.len(), 4);
        assert!(history
            .iter()
            .all(|e| e.train_loss.is_finite() && e.validation_loss.is_finite()));
        let mut model = a;
        let target = heuristic_stats(&examples, &pair, 12).mean_kept;
        calibrate_threshold(&mut model, &examples, &pair, 12, target);
        let t = model.threshold;
        let kept = rule_stats(&examples, &pair, 12, Rule::Model(&model, t)).mean_kept;
        assert!(
            (kept - target).abs() <= 0.5,
            "calibrated {kept} vs heuristic {target}"
        );
    }

    #[test]
    fn adam_and_sgd_minimise_a_quadratic() {
        for optimizer in [Optimizer::Adam, Optimizer::Sgd { momentum: 0.9 }] {
            let opts = TrainOptions {
                optimizer,
                learning_rate: 0.05,
                ..Default::default()
            };
            let target = [1.5, -2.0, 0.25];
            let mut p = vec![0.0; 3];
            let mut state = OptimizerState::new(3, 1);
            for _ in 0..2000 {
                let g: Vec<f64> = p.iter().zip(&target).map(|(x, t)| 2.0 * (x - t)).collect();
                state.step(&mut p, &g, &opts);
            }
            for (x, t) in p.iter().zip(&target) {
                assert!((x - t).abs() < 1e-3, "{optimizer:?}: {p:?}");
            }
        }
    }

    /// Langevin steps on L = (x − t)² sample the Gibbs density ∝ e^(−L/T): the discrete chain
    /// x ← x − 2η(x − t) + √(2ηT)·ξ has stationary mean t and variance T / (2(1 − η)) exactly
    /// (T/2 as η → 0). At T = 0 it is plain SGD.
    #[test]
    fn langevin_samples_the_gibbs_density() {
        let (lr, temperature, t) = (0.01, 0.5, 1.5);
        let opts = TrainOptions {
            optimizer: Optimizer::Langevin { temperature },
            learning_rate: lr,
            ..Default::default()
        };
        let mut state = OptimizerState::new(1, 3);
        let mut p = vec![t];
        let (mut sum, mut sq, n) = (0.0, 0.0, 400_000);
        for i in 0..n + 1000 {
            let g = [2.0 * (p[0] - t)];
            state.step(&mut p, &g, &opts);
            if i >= 1000 {
                sum += p[0];
                sq += p[0] * p[0];
            }
        }
        let mean = sum / n as f64;
        let var = sq / n as f64 - mean * mean;
        let want = temperature / (2.0 * (1.0 - lr));
        assert!((mean - t).abs() < 0.02, "mean {mean}");
        assert!((var / want - 1.0).abs() < 0.05, "variance {var} vs {want}");
        // T = 0: exactly SGD without momentum.
        let cold = TrainOptions {
            optimizer: Optimizer::Langevin { temperature: 0.0 },
            ..opts.clone()
        };
        let sgd = TrainOptions {
            optimizer: Optimizer::Sgd { momentum: 0.0 },
            ..opts
        };
        let (mut a, mut b) = (vec![0.0], vec![0.0]);
        let (mut sa, mut sb) = (OptimizerState::new(1, 3), OptimizerState::new(1, 4));
        for _ in 0..100 {
            let (ga, gb) = ([2.0 * (a[0] - t)], [2.0 * (b[0] - t)]);
            sa.step(&mut a, &ga, &cold);
            sb.step(&mut b, &gb, &sgd);
        }
        assert_eq!(a, b);
    }
}
