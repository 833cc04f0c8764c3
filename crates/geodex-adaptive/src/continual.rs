//! THEORY §5.3: continual learning of the learned stopping rule when the queries drift.
//!
//! The model under study is the learned rule's recall predictor — a logistic regression over
//! the stopping features (`fit.rs`) — trained here by mini-batch Adam so that it can be
//! *updated* rather than refitted. Tasks arrive one after another (query topics, or the index
//! before and after inserts). After each task every arm updates the model, recalibrates the
//! stop threshold on the current task's calibration queries for the target recall (what a
//! deployment can do with the queries at hand), and is evaluated on every task's test queries.
//!
//! Arms ([`Arm`]):
//! - **frozen**: the first task's model, threshold still recalibrated — the control that shows
//!   whether the drift matters at all;
//! - **naive** fine-tuning: `epochs` passes of Adam over the new task's checks, from the current
//!   weights;
//! - **EWC** (Kirkpatrick et al. 2017, PNAS) in its online form (Schwarz et al. 2018, "Progress
//!   & Compress", γ = 1): the objective gains `−(λ/2)·Σ_j F_j (w_j − w*_j)²`, with `w*` the
//!   weights after the previous task and `F` the sum over earlier tasks of the diagonal Fisher
//!   information per check, `mean p(1 − p)·x_j²` (for a logistic model the Fisher equals the
//!   Hessian of the negative log-likelihood, so λ = 1 weighs the old tasks, to second order,
//!   as much as the new one);
//! - **replay**: a buffer holding a share of every earlier task's checks (drawn uniformly when
//!   the task ends), mixed into the new task's;
//! - **EWC + replay**;
//! - **scratch**: refitted exactly on every task's checks so far.
//!
//! Every arm starts from the exact fit to the first task (Newton's method, what `learn-stop`
//! makes), so that no arm's forgetting is an artefact of an unconverged start; the updates are
//! fine-tuning by Adam, as a deployment that cannot keep old queries would run them; scratch is
//! the exact fit again on everything kept.
//!
//! The input standardisation is fixed by the first task's fit checks for every arm: it is part
//! of the deployed model, and refitting it would move every weight's meaning.
//!
//! Metrics for task j after stage t: the **excess loss** of the predicted recall on j's test
//! checks (cross-entropy against the recall reached, minus that target's own entropy: the
//! Bernoulli KL divergence, 0 for a perfect predictor), and the **recall and work** of the rule
//! replayed on j's test traces at the stage's threshold. **Forgetting** of task j (Chaudhry et
//! al. 2018, ECCV): its value at the end minus its best value at any stage from j on, for the
//! excess loss and for the recall error |recall − target|; averaged over every task but the
//! last. The text's "forgetting 40 % → 7 %" is a target it set itself, not a measurement.

use geodex_core::Component;
use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::episode::{dot, episodes, replay, sigmoid, Adam, Episode, State, PARAMS};
use crate::{fit, LearnError, QueryTrace};

/// One task: episodes of its fit, calibration and test queries.
#[derive(Clone, Debug)]
pub struct Task {
    /// What the task is (a topic, the index before inserts, …).
    pub name: String,
    /// Episodes the model is trained on.
    pub fit: Vec<Episode>,
    /// Episodes the stop threshold is calibrated on when this task is current.
    pub calibration: Vec<Episode>,
    /// Episodes every stage is evaluated on.
    pub test: Vec<Episode>,
}

/// How the model is updated when a task arrives (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Arm {
    /// Trained on the first task only.
    Frozen,
    /// Fine-tuned on each new task.
    Naive,
    /// Fine-tuned with the online EWC penalty of weight `lambda`.
    Ewc {
        /// Weight of the penalty.
        lambda: f64,
    },
    /// Fine-tuned on the new task plus a buffer holding `share` of every earlier task's checks.
    Replay {
        /// Share of each task's checks kept in the buffer.
        share: f64,
    },
    /// Both.
    EwcReplay {
        /// Weight of the penalty.
        lambda: f64,
        /// Share of each task's checks kept in the buffer.
        share: f64,
    },
    /// Refitted exactly on every task so far.
    Scratch,
}

impl Arm {
    /// The arm's name in reports: `frozen`, `naive`, `ewc:λ`, `replay:share`,
    /// `ewc:λ+replay:share`, `scratch`.
    pub fn name(&self) -> String {
        match self {
            Arm::Frozen => "frozen".into(),
            Arm::Naive => "naive".into(),
            Arm::Ewc { lambda } => format!("ewc:{lambda}"),
            Arm::Replay { share } => format!("replay:{share}"),
            Arm::EwcReplay { lambda, share } => format!("ewc:{lambda}+replay:{share}"),
            Arm::Scratch => "scratch".into(),
        }
    }

    fn lambda(&self) -> f64 {
        match self {
            Arm::Ewc { lambda } | Arm::EwcReplay { lambda, .. } => *lambda,
            _ => 0.0,
        }
    }

    fn share(&self) -> f64 {
        match self {
            Arm::Replay { share } | Arm::EwcReplay { share, .. } => *share,
            _ => 0.0,
        }
    }

    /// Every arm of the study: frozen, naive, EWC per λ, replay per share, EWC + replay per
    /// pair, scratch.
    pub fn all(lambdas: &[f64], shares: &[f64]) -> Vec<Arm> {
        let mut arms = vec![Arm::Frozen, Arm::Naive];
        arms.extend(lambdas.iter().map(|&lambda| Arm::Ewc { lambda }));
        arms.extend(shares.iter().map(|&share| Arm::Replay { share }));
        for &lambda in lambdas {
            arms.extend(shares.iter().map(|&share| Arm::EwcReplay { lambda, share }));
        }
        arms.push(Arm::Scratch);
        arms
    }
}

/// Settings of [`run`].
#[derive(Clone, Debug)]
pub struct ContinualOptions {
    /// Passes over a task's checks per update.
    pub epochs: usize,
    /// Checks per Adam step.
    pub batch: usize,
    /// Adam's step size.
    pub learning_rate: f64,
    /// Mean recall the threshold is calibrated for.
    pub target: f64,
    /// Seed of the shuffles and of the replay draws.
    pub seed: u64,
}

impl Default for ContinualOptions {
    fn default() -> Self {
        ContinualOptions {
            epochs: 10,
            batch: 64,
            learning_rate: 0.01,
            target: 0.95,
            seed: 42,
        }
    }
}

/// What one arm measured after one stage.
#[derive(Clone, Debug)]
pub struct StageResult {
    /// The stop threshold calibrated on the stage's task.
    pub threshold: f64,
    /// Excess loss on each task's test checks.
    pub loss: Vec<f64>,
    /// Mean recall of the rule replayed on each task's test traces.
    pub recall: Vec<f64>,
    /// Mean work at the stop, as a share of the cap search's distance evaluations.
    pub work: Vec<f64>,
}

/// One arm's run over the task sequence.
#[derive(Clone, Debug)]
pub struct ArmRun {
    /// The arm.
    pub arm: Arm,
    /// One result per stage (task presented).
    pub stages: Vec<StageResult>,
    /// Mean forgetting of the excess loss over every task but the last.
    pub forgetting_loss: f64,
    /// Mean forgetting of the recall error |recall − target| over every task but the last.
    pub forgetting_recall: f64,
}

impl ArmRun {
    /// The last stage.
    pub fn last(&self) -> &StageResult {
        self.stages
            .last()
            .expect("runs have a stage per task, and at least one task")
    }
}

/// One check as a training sample: the standardised state and the recall reached.
type Sample = (State, f64);

fn samples(eps: &[Episode]) -> Vec<Sample> {
    eps.iter()
        .flat_map(|e| e.states.iter().copied().zip(e.recall.iter().copied()))
        .collect()
}

/// The online EWC penalty's centre and curvature.
#[derive(Clone, Debug)]
pub struct Anchor {
    /// Σ over earlier tasks of the diagonal Fisher information per check.
    pub fisher: State,
    /// The weights after the previous task.
    pub at: State,
}

/// The objective ascended: mean log-likelihood `y ln p + (1 − y) ln(1 − p)` of `batch` minus
/// `(λ/2)·Σ F_j (w_j − w*_j)²`, and its gradient `mean (y − p)·x − λ·F ⊙ (w − w*)`.
pub fn objective(w: &State, batch: &[Sample], lambda: f64, anchor: Option<&Anchor>) -> (f64, State) {
    let (mut value, mut grad) = (0.0, [0.0; PARAMS]);
    for (x, y) in batch {
        let p = sigmoid(dot(w, x)).clamp(1e-12, 1.0 - 1e-12);
        value += y * p.ln() + (1.0 - y) * (1.0 - p).ln();
        for (g, xi) in grad.iter_mut().zip(x) {
            *g += (y - p) * xi;
        }
    }
    let n = batch.len().max(1) as f64;
    value /= n;
    grad.iter_mut().for_each(|g| *g /= n);
    if let Some(a) = anchor {
        for j in 0..PARAMS {
            let d = w[j] - a.at[j];
            value -= 0.5 * lambda * a.fisher[j] * d * d;
            grad[j] -= lambda * a.fisher[j] * d;
        }
    }
    (value, grad)
}

/// The diagonal of the Fisher information per sample at `w`: `mean p(1 − p)·x_j²` (equal to
/// the diagonal of the negative log-likelihood's Hessian for a logistic model).
pub fn fisher(w: &State, samples: &[Sample]) -> State {
    let mut f = [0.0; PARAMS];
    for (x, _) in samples {
        let p = sigmoid(dot(w, x));
        for (fj, xj) in f.iter_mut().zip(x) {
            *fj += p * (1.0 - p) * xj * xj;
        }
    }
    let n = samples.len().max(1) as f64;
    f.iter_mut().for_each(|v| *v /= n);
    f
}

/// `epochs` passes of Adam (fresh state) over `data` in shuffled mini-batches.
fn train(
    w: &mut State,
    data: &[Sample],
    lambda: f64,
    anchor: Option<&Anchor>,
    o: &ContinualOptions,
    rng: &mut Xoshiro256PlusPlus,
) {
    let mut adam = Adam::new();
    let mut order: Vec<usize> = (0..data.len()).collect();
    let mut batch = Vec::with_capacity(o.batch);
    for _ in 0..o.epochs {
        shuffle(&mut order, rng);
        for chunk in order.chunks(o.batch.max(1)) {
            batch.clear();
            batch.extend(chunk.iter().map(|&i| data[i]));
            let (_, grad) = objective(w, &batch, lambda, anchor);
            adam.ascend(w, &grad, o.learning_rate);
        }
    }
}

fn shuffle<T>(v: &mut [T], rng: &mut Xoshiro256PlusPlus) {
    for i in (1..v.len()).rev() {
        v.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
}

/// The Bernoulli KL divergence of the predicted recall from the recall reached, averaged over
/// the checks of `eps`: cross-entropy minus the target's entropy.
pub fn excess_loss(w: &State, eps: &[Episode]) -> f64 {
    let xlogy = |a: f64, b: f64| if a <= 0.0 { 0.0 } else { a * (a / b).ln() };
    let s = samples(eps);
    let total: f64 = s
        .iter()
        .map(|(x, y)| {
            let p = sigmoid(dot(w, x)).clamp(1e-12, 1.0 - 1e-12);
            xlogy(*y, p) + xlogy(1.0 - y, 1.0 - p)
        })
        .sum();
    total / s.len().max(1) as f64
}

/// The smallest threshold on the predicted recall whose replayed rule reaches mean recall
/// `target` on `eps` (bisection over the predictions: a later stop never loses recall, since
/// the top k only improves); 2.0 — never stop early — when none does.
pub fn threshold_for(w: &State, eps: &[Episode], target: f64) -> f64 {
    let mut cand: Vec<f64> = eps
        .iter()
        .flat_map(|e| e.states.iter().map(|x| sigmoid(dot(w, x))))
        .collect();
    cand.sort_by(f64::total_cmp);
    cand.dedup();
    cand.push(2.0);
    let meets = |t: f64| replay(w, eps, t).0 >= target;
    let (mut lo, mut hi) = (0, cand.len() - 1);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if meets(cand[mid]) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    cand[lo]
}

/// The exact fit to `samples` (Newton's method, `fit.rs`) as weights on the states: what
/// `learn-stop` makes of the same checks. `None` when the fit fails (no samples, or a singular
/// Hessian).
pub fn exact_fit(samples: &[(State, f64)]) -> Option<State> {
    let rows: Vec<fit::Row> = samples
        .iter()
        .map(|(x, y)| {
            let mut f = [0f32; PARAMS - 1];
            f.iter_mut().zip(&x[1..]).for_each(|(a, b)| *a = *b as f32);
            (f, *y as f32)
        })
        .collect();
    let m = fit::fit(&rows)?;
    // Back from the fit's own standardisation to weights on the states.
    let mut w = [0.0; PARAMS];
    w[0] = m.weights[0] as f64;
    for j in 1..PARAMS {
        let (mean, sd) = m.scale[j - 1];
        w[j] = m.weights[j] as f64 / sd as f64;
        w[0] -= w[j] * mean as f64;
    }
    Some(w)
}

/// The excess loss on `task`'s test checks of the exact fit to its own fit checks: the
/// per-task optimum an arm's model can be compared with.
pub fn optimum_loss(task: &Task) -> Option<f64> {
    exact_fit(&samples(&task.fit)).map(|w| excess_loss(&w, &task.test))
}

/// Runs `arm` over `tasks` in order (see the module documentation). Deterministic for a seed.
pub fn run(tasks: &[Task], arm: Arm, o: &ContinualOptions) -> Result<ArmRun, LearnError> {
    check(tasks, o)?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(o.seed);
    let mut w = [0.0; PARAMS];
    let mut anchor: Option<Anchor> = None;
    let (mut buffer, mut seen) = (Vec::new(), Vec::new());
    let mut stages = Vec::with_capacity(tasks.len());
    for (t, task) in tasks.iter().enumerate() {
        let new = samples(&task.fit);
        seen.extend_from_slice(&new);
        match arm {
            _ if t == 0 => w = exact(&new, task)?,
            Arm::Frozen => {}
            Arm::Scratch => w = exact(&seen, task)?,
            _ => {
                let mut data = new.clone();
                data.extend_from_slice(&buffer);
                train(&mut w, &data, arm.lambda(), anchor.as_ref(), o, &mut rng);
            }
        }
        // Only the EWC and replay arms keep memory of the task just learned.
        if arm.lambda() > 0.0 {
            let mut f = fisher(&w, &new);
            if let Some(a) = &anchor {
                f.iter_mut().zip(&a.fisher).for_each(|(x, y)| *x += y);
            }
            anchor = Some(Anchor { fisher: f, at: w });
        }
        if arm.share() > 0.0 {
            buffer.extend(draw(&new, arm.share(), &mut rng));
        }
        stages.push(evaluate(&w, tasks, &task.calibration, o.target));
    }
    let (forgetting_loss, forgetting_recall) = forgetting(&stages, o.target);
    Ok(ArmRun {
        arm,
        stages,
        forgetting_loss,
        forgetting_recall,
    })
}

fn exact(samples: &[Sample], task: &Task) -> Result<State, LearnError> {
    exact_fit(samples)
        .ok_or_else(|| LearnError::Invalid(format!("the exact fit failed at task {}", task.name)))
}

fn check(tasks: &[Task], o: &ContinualOptions) -> Result<(), LearnError> {
    let bad = |m: String| Err(LearnError::Invalid(m));
    if tasks.is_empty() {
        return bad("no task".into());
    }
    if let Some(t) = tasks
        .iter()
        .find(|t| t.fit.is_empty() || t.calibration.is_empty() || t.test.is_empty())
    {
        return bad(format!(
            "task {} has no fit, calibration or test query with a check",
            t.name
        ));
    }
    if !(o.target > 0.0 && o.target <= 1.0) {
        return bad(format!("the recall target {} is outside (0, 1]", o.target));
    }
    if o.epochs == 0 || o.batch == 0 || !(o.learning_rate > 0.0 && o.learning_rate.is_finite()) {
        return bad("epochs and batch must be ≥ 1 and the learning rate > 0".into());
    }
    Ok(())
}

/// `round(share · n)` of `samples`, drawn uniformly without replacement.
fn draw(samples: &[Sample], share: f64, rng: &mut Xoshiro256PlusPlus) -> Vec<Sample> {
    let mut order: Vec<usize> = (0..samples.len()).collect();
    shuffle(&mut order, rng);
    let keep = ((share * samples.len() as f64).round() as usize).min(samples.len());
    order[..keep].iter().map(|&i| samples[i]).collect()
}

fn evaluate(w: &State, tasks: &[Task], calibration: &[Episode], target: f64) -> StageResult {
    let threshold = threshold_for(w, calibration, target);
    let mut r = StageResult {
        threshold,
        loss: Vec::with_capacity(tasks.len()),
        recall: Vec::with_capacity(tasks.len()),
        work: Vec::with_capacity(tasks.len()),
    };
    for task in tasks {
        let (recall, work) = replay(w, &task.test, threshold);
        r.loss.push(excess_loss(w, &task.test));
        r.recall.push(recall);
        r.work.push(work);
    }
    r
}

/// Mean over every task but the last of (value at the end − best value from the task's own
/// stage on), for the excess loss and for |recall − target|.
fn forgetting(stages: &[StageResult], target: f64) -> (f64, f64) {
    let n = stages.len();
    if n < 2 {
        return (0.0, 0.0);
    }
    let drop = |metric: &dyn Fn(&StageResult, usize) -> f64| {
        (0..n - 1)
            .map(|j| {
                let best = stages[j..]
                    .iter()
                    .map(|s| metric(s, j))
                    .fold(f64::INFINITY, f64::min);
                metric(&stages[n - 1], j) - best
            })
            .sum::<f64>()
            / (n - 1) as f64
    };
    (
        drop(&|s, j| s.loss[j]),
        drop(&|s, j| (s.recall[j] - target).abs()),
    )
}

/// Positions `positions` shuffled with `seed` and cut into fit (½), calibration (¼) and test
/// (the rest), each ascending.
pub fn split_three(positions: &[usize], seed: u64) -> [Vec<usize>; 3] {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x4452_4946);
    let mut order = positions.to_vec();
    shuffle(&mut order, &mut rng);
    let (a, b) = (order.len() / 2, order.len() * 3 / 4);
    let mut parts = [order[..a].to_vec(), order[a..b].to_vec(), order[b..].to_vec()];
    parts.iter_mut().for_each(|p| p.sort_unstable());
    parts
}

/// A stage of the drift as traced: its name, the traces of every learning query, and the
/// positions of the queries that belong to it.
pub struct Stage<'a> {
    /// The task's name.
    pub name: String,
    /// Traces of all learning queries on the index of this stage.
    pub traces: &'a [QueryTrace],
    /// The queries of this task.
    pub positions: Vec<usize>,
}

/// Tasks of the drift: each stage's positions cut by [`split_three`] (so stages over the same
/// positions share one split), states standardised by the first task's fit checks.
pub fn tasks(stages: &[Stage<'_>], seed: u64) -> Result<Vec<Task>, LearnError> {
    let first = stages
        .first()
        .ok_or_else(|| LearnError::Invalid("no task".into()))?;
    let pick = |s: &Stage<'_>, rows: &[usize]| -> Vec<QueryTrace> {
        rows.iter().map(|&r| s.traces[r].clone()).collect()
    };
    let fit_rows: Vec<fit::Row> = pick(first, &split_three(&first.positions, seed)[0])
        .iter()
        .flat_map(|t| t.rows.iter().copied())
        .collect();
    let scale = fit::standardisation(&fit_rows);
    Ok(stages
        .iter()
        .map(|s| {
            let [f, c, t] = split_three(&s.positions, seed);
            Task {
                name: s.name.clone(),
                fit: episodes(&pick(s, &f), &scale),
                calibration: episodes(&pick(s, &c), &scale),
                test: episodes(&pick(s, &t), &scale),
            }
        })
        .collect())
}

/// Each query's topic: its nearest of `topics` k-means centroids (k-means++ and Lloyd,
/// `geodex_quant::kmeans`) over the queries as f32; topics numbered by their centroids.
pub fn topics<T: Component>(
    queries: &[T],
    dim: usize,
    topics: usize,
    seed: u64,
) -> Result<Vec<usize>, LearnError> {
    let data: Vec<f32> = queries.iter().map(|v| v.to_f32()).collect();
    let params = geodex_quant::kmeans::KMeansParams::new(topics, seed);
    let book = geodex_quant::kmeans::train(&data, dim, &params)
        .map_err(|e| LearnError::Invalid(format!("topics: {e}")))?;
    Ok(book.nearest_all(&data).into_iter().map(|c| c as usize).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
        // Box–Muller.
        let u = ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let v = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Episodes of one check each whose recall is σ(3·x_f) for feature `f`, all other features
    /// standard normal noise.
    fn episodes_on(feature: usize, n: usize, rng: &mut Xoshiro256PlusPlus) -> Vec<Episode> {
        (0..n)
            .map(|_| {
                let mut x = [1.0; PARAMS];
                x.iter_mut().skip(1).for_each(|v| *v = normal(rng));
                Episode {
                    states: vec![x],
                    recall: vec![sigmoid(3.0 * x[feature])],
                    work: vec![1.0],
                }
            })
            .collect()
    }

    fn task_on(feature: usize, rng: &mut Xoshiro256PlusPlus) -> Task {
        Task {
            name: format!("feature {feature}"),
            fit: episodes_on(feature, 4000, rng),
            calibration: episodes_on(feature, 500, rng),
            test: episodes_on(feature, 1000, rng),
        }
    }

    fn samples_of(seed: u64) -> Vec<Sample> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        samples(&episodes_on(2, 50, &mut rng))
    }

    #[test]
    fn objective_gradient_matches_finite_differences() {
        let data = samples_of(1);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
        let mut w = [0.0; PARAMS];
        w.iter_mut().for_each(|v| *v = 0.5 * normal(&mut rng));
        let anchor = Anchor {
            fisher: fisher(&[0.1; PARAMS], &data),
            at: [0.3; PARAMS],
        };
        let (_, grad) = objective(&w, &data, 2.5, Some(&anchor));
        for j in 0..PARAMS {
            let h = 1e-5;
            let (mut up, mut down) = (w, w);
            up[j] += h;
            down[j] -= h;
            let fd = (objective(&up, &data, 2.5, Some(&anchor)).0
                - objective(&down, &data, 2.5, Some(&anchor)).0)
                / (2.0 * h);
            assert!((fd - grad[j]).abs() < 1e-6, "component {j}: {fd} vs {}", grad[j]);
        }
    }

    /// The Fisher diagonal equals the diagonal of the Hessian of the negative mean
    /// log-likelihood, taken by finite differences of the gradient.
    #[test]
    fn fisher_is_the_hessian_diagonal() {
        let data = samples_of(2);
        let w = [0.2, -0.4, 0.7, 0.1, 0.0, -0.3, 0.5, 0.9];
        let f = fisher(&w, &data);
        for j in 0..PARAMS {
            let h = 1e-5;
            let (mut up, mut down) = (w, w);
            up[j] += h;
            down[j] -= h;
            let second = -(objective(&up, &data, 0.0, None).1[j] - objective(&down, &data, 0.0, None).1[j])
                / (2.0 * h);
            assert!(
                (second - f[j]).abs() < 1e-6,
                "component {j}: {second} vs {}",
                f[j]
            );
        }
    }

    #[test]
    fn excess_loss_is_zero_only_for_the_true_model() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let eps = episodes_on(1, 200, &mut rng);
        let mut truth = [0.0; PARAMS];
        truth[1] = 3.0;
        assert!(excess_loss(&truth, &eps).abs() < 1e-9);
        assert!(excess_loss(&[0.0; PARAMS], &eps) > 0.05);
    }

    #[test]
    fn threshold_is_the_smallest_that_meets_the_target() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(4);
        // Episodes of three checks, recall rising 0.5 → 0.8 → 1.0, the first feature rising.
        let eps: Vec<Episode> = (0..50)
            .map(|_| {
                let shift = normal(&mut rng);
                let st = |v: f64| {
                    let mut x = [0.0; PARAMS];
                    x[0] = 1.0;
                    x[1] = v + shift;
                    x
                };
                Episode {
                    states: vec![st(-1.0), st(0.0), st(1.0)],
                    recall: vec![0.5, 0.8, 1.0],
                    work: vec![0.3, 0.6, 1.0],
                }
            })
            .collect();
        let mut w = [0.0; PARAMS];
        w[1] = 2.0;
        for target in [0.6, 0.8, 0.9, 0.99, 1.0] {
            let t = threshold_for(&w, &eps, target);
            assert!(replay(&w, &eps, t).0 >= target);
            assert_eq!(t, smallest_by_scan(&w, &eps, target), "target {target}");
        }
    }

    /// The smallest prediction (or 2.0) whose replayed rule meets `target`, by trying them all.
    fn smallest_by_scan(w: &State, eps: &[Episode], target: f64) -> f64 {
        let mut c: Vec<f64> = eps
            .iter()
            .flat_map(|e| e.states.iter().map(|x| sigmoid(dot(w, x))))
            .collect();
        c.push(2.0);
        c.into_iter()
            .filter(|&t| replay(w, eps, t).0 >= target)
            .fold(f64::INFINITY, f64::min)
    }

    /// Two conflicting tasks — recall follows feature 1 in the first, feature 2 in the
    /// second: naive fine-tuning forgets the first, EWC and replay forget less, retraining from
    /// scratch on both barely forgets, and a frozen model never learns the second.
    #[test]
    fn ewc_and_replay_forget_less_than_naive_fine_tuning() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        let tasks = [task_on(1, &mut rng), task_on(2, &mut rng)];
        let o = ContinualOptions {
            target: 0.6,
            ..ContinualOptions::default()
        };
        let go = |arm| run(&tasks, arm, &o).unwrap();
        let naive = go(Arm::Naive);
        let ewc = go(Arm::Ewc { lambda: 10.0 });
        let replay = |share| go(Arm::Replay { share }).forgetting_loss;
        let scratch = go(Arm::Scratch);
        let frozen = go(Arm::Frozen);
        // The first stage is shared by every fine-tuning arm.
        assert_eq!(naive.stages[0].loss, ewc.stages[0].loss);
        assert_eq!(naive.stages[0].loss, frozen.stages[0].loss);
        assert!(naive.forgetting_loss > 0.2, "naive {}", naive.forgetting_loss);
        // EWC keeps the first task and pays on the second (the tasks conflict).
        assert!(
            ewc.forgetting_loss < 0.25 * naive.forgetting_loss,
            "ewc {}",
            ewc.forgetting_loss
        );
        assert!(ewc.last().loss[1] > naive.last().loss[1] + 0.05);
        // Replay forgets less the more it keeps, and keeping everything is retraining on both.
        let shares = [replay(0.05), replay(0.5), replay(1.0)];
        assert!(
            naive.forgetting_loss > shares[0] && shares[0] > shares[1] && shares[1] > shares[2],
            "{shares:?}"
        );
        assert!(
            (shares[2] - scratch.forgetting_loss).abs() < 0.03,
            "{shares:?} {}",
            scratch.forgetting_loss
        );
        assert!(
            scratch.forgetting_loss < 0.5 * naive.forgetting_loss,
            "scratch {}",
            scratch.forgetting_loss
        );
        // The frozen model keeps the first task and fails the second.
        assert!(frozen.forgetting_loss.abs() < 1e-12);
        assert!(frozen.last().loss[1] > naive.last().loss[1] + 0.05);
        // Same seed, same run.
        assert_eq!(go(Arm::Ewc { lambda: 10.0 }).last().loss, ewc.last().loss);
    }

    /// The per-task optimum recovers the generating model (excess loss near 0, from a fit in
    /// another standardisation mapped back) and no trained arm beats it on its own task.
    #[test]
    fn optimum_is_the_exact_fit() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(8);
        let task = task_on(1, &mut rng);
        let best = optimum_loss(&task).unwrap();
        assert!(best < 0.005, "{best}");
        let o = ContinualOptions {
            epochs: 1,
            ..ContinualOptions::default()
        };
        let trained = run(std::slice::from_ref(&task), Arm::Naive, &o).unwrap();
        assert!(
            trained.last().loss[0] >= best - 1e-3,
            "{} vs {best}",
            trained.last().loss[0]
        );
    }

    #[test]
    fn split_three_is_a_seeded_partition() {
        let pos: Vec<usize> = (10..110).collect();
        let [a, b, c] = split_three(&pos, 3);
        assert_eq!((a.len(), b.len(), c.len()), (50, 25, 25));
        let mut all: Vec<usize> = a.iter().chain(&b).chain(&c).copied().collect();
        all.sort_unstable();
        assert_eq!(all, pos);
        assert_eq!(split_three(&pos, 3)[0], a);
        assert_ne!(split_three(&pos, 4)[0], a);
    }

    #[test]
    fn bad_tasks_and_options_are_refused() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(6);
        let mut t = task_on(1, &mut rng);
        let o = ContinualOptions::default();
        assert!(run(&[], Arm::Naive, &o).is_err());
        assert!(run(
            std::slice::from_ref(&t),
            Arm::Naive,
            &ContinualOptions {
                target: 1.5,
                ..o.clone()
            }
        )
        .is_err());
        assert!(run(
            std::slice::from_ref(&t),
            Arm::Naive,
            &ContinualOptions {
                epochs: 0,
                ..o.clone()
            }
        )
        .is_err());
        t.test.clear();
        assert!(run(&[t], Arm::Naive, &o).is_err());
    }
}
