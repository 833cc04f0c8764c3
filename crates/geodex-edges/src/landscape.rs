//! THEORY §4.1–4.2, §8.1: the landscape of the edge scorer's training loss — "non-convex and
//! dominated by saddle points; mini-batch SGD escapes them; the loss decreases monotonically" —
//! and §11.1's Langevin dynamics as one more descent.
//!
//! The training loss changes with the roll-outs (DAgger re-rolls the lists with the model's own
//! decisions every step), so the landscape is taken of the loss with the roll-outs **frozen**:
//! every candidate the trained model's own roll-out judges on the training nodes, with its label
//! and class weight — the objective training's last epochs descend, as a fixed function of θ.
//!
//! - **Spectrum**: the full Hessian of that loss, column j = (∇L(θ + h·e_j) − ∇L(θ − h·e_j))/2h
//!   — the Hessian–vector products of the basis vectors by central differences of the
//!   hand-written gradient (`model.rs`), symmetrised — and all its eigenvalues (nalgebra). With
//!   at most a few hundred parameters the whole spectrum is cheap, so it replaces Lanczos'
//!   extreme eigenvalues; a test checks the logistic case against its closed form.
//! - **Descents** from one starting point on the frozen loss, equal passes over the candidates:
//!   full-batch gradient descent, mini-batch SGD and Langevin dynamics (SGLD) at a few
//!   temperatures; per pass the full loss (the curve), the passes where it rose, and the
//!   spectrum where each stops.

use geodex_core::edges::EdgeFeatures;
use nalgebra::{DMatrix, SymmetricEigen};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::Serialize;

use crate::labels::Example;
use crate::model::EdgeModel;
use crate::train::{self, Optimizer, OptimizerState, PairDistance, TrainOptions};

/// The loss with the roll-outs frozen: judged candidates, labels, class weights, penalty.
#[derive(Clone, Debug)]
pub struct Frozen {
    /// Features of each judged candidate.
    pub features: Vec<EdgeFeatures>,
    /// Its label.
    pub labels: Vec<bool>,
    /// Class weights (positive, negative).
    pub weights: (f64, f64),
    /// λ of the degree penalty λ·p.
    pub penalty: f64,
}

impl Frozen {
    /// The candidates `model` judges when it rolls out every example on its own (keeping at
    /// logit ≥ 0, as training does), labelled as in training.
    pub fn of(
        examples: &[Example],
        pair: &PairDistance<'_>,
        opts: &TrainOptions,
        model: &EdgeModel,
    ) -> Frozen {
        let rows: Vec<(Vec<EdgeFeatures>, Vec<bool>)> = examples
            .par_iter()
            .map(|ex| {
                let budget = train::training_budget(ex, opts.budget);
                let (kept, seen) = train::rollout(ex, pair, budget, &mut |_, x| model.logit(x) >= 0.0);
                let labels = train::judged_labels(ex, &kept, seen.len(), opts.labels).collect();
                (seen, labels)
            })
            .collect();
        let (features, labels) = rows
            .into_iter()
            .fold((Vec::new(), Vec::new()), |mut acc, (f, l)| {
                acc.0.extend(f);
                acc.1.extend(l);
                acc
            });
        Frozen {
            features,
            labels,
            weights: train::class_weights(examples, pair, opts.budget, opts.labels),
            penalty: opts.degree_penalty,
        }
    }

    /// Number of judged candidates.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Mean loss and gradient over the candidates `rows` (all when `None`) at `params`.
    /// Partial sums over fixed blocks are added in block order, so the result does not depend
    /// on the number of threads.
    pub fn loss_grad(&self, model: &EdgeModel, params: &[f64], rows: Option<&[usize]>) -> (f64, Vec<f64>) {
        let mut m = model.clone();
        m.params.copy_from_slice(params);
        let all: Vec<usize>;
        let rows = match rows {
            Some(r) => r,
            None => {
                all = (0..self.len()).collect();
                &all
            }
        };
        let partial: Vec<(f64, Vec<f64>)> = rows
            .par_chunks(BLOCK)
            .map(|block| {
                let (mut loss, mut grad) = (0.0, vec![0.0; params.len()]);
                for &i in block {
                    let (x, y) = (&self.features[i], self.labels[i]);
                    let s = m.logit(x);
                    let p = train::sigmoid(s);
                    let w = if y { self.weights.0 } else { self.weights.1 };
                    loss += w * train::bce(s, y) + self.penalty * p;
                    let upstream = w * (p - f64::from(u8::from(y))) + self.penalty * p * (1.0 - p);
                    m.logit_and_grad(x, upstream, &mut grad);
                }
                (loss, grad)
            })
            .collect();
        let (mut loss, mut grad) = (0.0, vec![0.0; params.len()]);
        for (l, g) in partial {
            loss += l;
            grad.iter_mut().zip(&g).for_each(|(a, b)| *a += b);
        }
        let n = rows.len().max(1) as f64;
        (loss / n, grad.into_iter().map(|g| g / n).collect())
    }

    /// The Hessian of the full loss at `params` by central differences of the gradient (step
    /// `h` per coordinate), symmetrised.
    pub fn hessian(&self, model: &EdgeModel, params: &[f64], h: f64) -> DMatrix<f64> {
        let p = params.len();
        let mut hess = DMatrix::zeros(p, p);
        for j in 0..p {
            let mut up = params.to_vec();
            up[j] += h;
            let mut down = params.to_vec();
            down[j] -= h;
            let (gu, gd) = (
                self.loss_grad(model, &up, None).1,
                self.loss_grad(model, &down, None).1,
            );
            for i in 0..p {
                hess[(i, j)] = (gu[i] - gd[i]) / (2.0 * h);
            }
        }
        (&hess + hess.transpose()) * 0.5
    }

    /// The loss, gradient norm and Hessian spectrum at `params`.
    pub fn spectrum(&self, model: &EdgeModel, params: &[f64]) -> Spectrum {
        let (loss, grad) = self.loss_grad(model, params, None);
        let eig = SymmetricEigen::new(self.hessian(model, params, HESSIAN_STEP)).eigenvalues;
        let mut values: Vec<f64> = eig.iter().copied().collect();
        values.sort_by(f64::total_cmp);
        let scale = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let negative = values
            .iter()
            .filter(|&&v| v < -NEGATIVE_TOLERANCE * scale)
            .count();
        Spectrum {
            loss,
            gradient_norm: grad.iter().map(|g| g * g).sum::<f64>().sqrt(),
            min: values[0],
            max: values[values.len() - 1],
            negative,
            negative_share: negative as f64 / values.len() as f64,
            eigenvalues: values,
        }
    }
}

/// Candidates per block of the parallel sums.
const BLOCK: usize = 1024;

/// Coordinate step of the Hessian's finite differences (the gradient is smooth in θ; the
/// truncation error is O(h²) ≈ 10⁻⁸ of the curvature).
const HESSIAN_STEP: f64 = 1e-4;

/// An eigenvalue counts as negative below −this × the largest |eigenvalue| (finite-difference
/// noise is far smaller, a genuinely flat direction is not negative curvature).
const NEGATIVE_TOLERANCE: f64 = 1e-6;

/// Loss, gradient and curvature at one point.
#[derive(Clone, Debug, Serialize)]
pub struct Spectrum {
    /// The frozen loss.
    pub loss: f64,
    /// ‖∇L‖.
    pub gradient_norm: f64,
    /// Smallest eigenvalue of the Hessian.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// Eigenvalues below −10⁻⁶ × the largest |eigenvalue|.
    pub negative: usize,
    /// Their share.
    pub negative_share: f64,
    /// All eigenvalues, ascending.
    pub eigenvalues: Vec<f64>,
}

/// Settings of the descents.
#[derive(Clone, Debug, Serialize)]
pub struct LandscapeOptions {
    /// Passes over the judged candidates per descent.
    pub passes: usize,
    /// Step size of every descent.
    pub learning_rate: f64,
    /// Candidates per mini-batch (SGD and Langevin).
    pub batch: usize,
    /// Langevin temperatures.
    pub temperatures: Vec<f64>,
    /// At most this many judged candidates (a seeded sample) make the frozen loss.
    pub max_candidates: usize,
    /// Seed of the sample, the batches and the noise.
    pub seed: u64,
}

impl Default for LandscapeOptions {
    fn default() -> Self {
        LandscapeOptions {
            passes: 200,
            learning_rate: 0.1,
            batch: 256,
            temperatures: vec![1e-5, 1e-4, 1e-3],
            max_candidates: 100_000,
            seed: 42,
        }
    }
}

/// One descent's record.
#[derive(Clone, Debug, Serialize)]
pub struct Descent {
    /// `gd`, `sgd` or `langevin:T`.
    pub method: String,
    /// Full loss after each pass (index 0: at the start).
    pub curve: Vec<f64>,
    /// Passes after which the full loss was higher than before them.
    pub increases: usize,
    /// Where the descent stopped.
    pub end: Spectrum,
}

/// What the study measured.
#[derive(Clone, Debug, Serialize)]
pub struct LandscapeReport {
    /// Parameters of the scorer.
    pub parameters: usize,
    /// Judged candidates in the frozen loss.
    pub candidates: usize,
    /// At the scorer's initial parameters (the seed's).
    pub at_init: Spectrum,
    /// At the trained scorer (as `learn-edges` trained it).
    pub at_trained: Spectrum,
    /// Epochs of the real (DAgger) training whose mean loss rose over the epoch before.
    pub training_increases: usize,
    /// The descents from the initial parameters.
    pub descents: Vec<Descent>,
    /// The settings.
    pub options: LandscapeOptions,
}

/// The study: the frozen loss of `trained` on `examples`, its spectrum at the initial and the
/// trained parameters, and the descents from the initial ones. `training_curve` is the real
/// training's loss per epoch.
pub fn study(
    examples: &[Example],
    pair: &PairDistance<'_>,
    train_opts: &TrainOptions,
    trained: &EdgeModel,
    training_curve: &[f64],
    o: &LandscapeOptions,
) -> LandscapeReport {
    let mut frozen = Frozen::of(examples, pair, train_opts, trained);
    subsample(&mut frozen, o.max_candidates, o.seed);
    let init = EdgeModel::new(
        train_opts.kind,
        train_opts.hidden,
        train_opts.layers,
        train_opts.seed,
    );
    let mut methods = vec![
        ("gd".to_string(), Optimizer::Sgd { momentum: 0.0 }, frozen.len()),
        ("sgd".to_string(), Optimizer::Sgd { momentum: 0.0 }, o.batch),
    ];
    for &t in &o.temperatures {
        methods.push((
            format!("langevin:{t}"),
            Optimizer::Langevin { temperature: t },
            o.batch,
        ));
    }
    let descents = methods
        .into_iter()
        .map(|(method, optimizer, batch)| descend(&frozen, &init, method, optimizer, batch, o))
        .collect();
    LandscapeReport {
        parameters: init.params.len(),
        candidates: frozen.len(),
        at_init: frozen.spectrum(&init, &init.params),
        at_trained: frozen.spectrum(trained, &trained.params),
        training_increases: training_curve.windows(2).filter(|w| w[1] > w[0]).count(),
        descents,
        options: o.clone(),
    }
}

/// Keeps a seeded sample of `max` judged candidates.
fn subsample(f: &mut Frozen, max: usize, seed: u64) {
    if f.len() <= max {
        return;
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x4c41_4e44);
    let mut order: Vec<usize> = (0..f.len()).collect();
    crate::draw::shuffle(&mut order, &mut rng);
    order.truncate(max);
    order.sort_unstable();
    f.features = order.iter().map(|&i| f.features[i]).collect();
    f.labels = order.iter().map(|&i| f.labels[i]).collect();
}

/// `o.passes` passes of `optimizer` over shuffled mini-batches of `batch` candidates from
/// `start`'s parameters.
fn descend(
    frozen: &Frozen,
    start: &EdgeModel,
    method: String,
    optimizer: Optimizer,
    batch: usize,
    o: &LandscapeOptions,
) -> Descent {
    let opts = TrainOptions {
        optimizer,
        learning_rate: o.learning_rate,
        seed: o.seed,
        ..TrainOptions::default()
    };
    let mut params = start.params.clone();
    let mut state = OptimizerState::new(params.len(), o.seed);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(o.seed ^ 0x5347_4400);
    let mut order: Vec<usize> = (0..frozen.len()).collect();
    let mut curve = vec![frozen.loss_grad(start, &params, None).0];
    for _ in 0..o.passes {
        if batch < frozen.len() {
            crate::draw::shuffle(&mut order, &mut rng);
        }
        for chunk in order.chunks(batch.max(1)) {
            let rows = (batch < frozen.len()).then_some(chunk);
            let (_, grad) = frozen.loss_grad(start, &params, rows);
            state.step(&mut params, &grad, &opts);
        }
        curve.push(frozen.loss_grad(start, &params, None).0);
    }
    Descent {
        method,
        increases: curve.windows(2).filter(|w| w[1] > w[0]).count(),
        end: frozen.spectrum(start, &params),
        curve,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{normal, ModelKind};
    use geodex_core::edges::EDGE_FEATURES;

    /// Random features with labels from a noisy logistic rule on the first two.
    fn frozen(n: usize, seed: u64) -> Frozen {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut features = Vec::with_capacity(n);
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let mut x = [0f32; EDGE_FEATURES];
            x.iter_mut().for_each(|v| *v = normal(&mut rng) as f32);
            x[0] = 1.0;
            let z = 1.5 * x[1] as f64 - x[2] as f64 + normal(&mut rng);
            features.push(x);
            labels.push(z > 0.0);
        }
        Frozen {
            features,
            labels,
            weights: (1.3, 0.8),
            penalty: 0.0,
        }
    }

    /// For the logistic scorer the Hessian is Σ w_y·p(1 − p)·x·xᵀ / n in closed form; the
    /// finite-difference Hessian matches it, and it has no negative eigenvalue (convex).
    #[test]
    fn logistic_hessian_is_the_closed_form() {
        let f = frozen(2000, 1);
        let model = EdgeModel::new(ModelKind::Logistic, 0, 0, 1);
        let params: Vec<f64> = (0..EDGE_FEATURES).map(|i| 0.1 * i as f64 - 0.3).collect();
        let h = f.hessian(&model, &params, HESSIAN_STEP);
        let mut want = DMatrix::<f64>::zeros(EDGE_FEATURES, EDGE_FEATURES);
        for (x, &y) in f.features.iter().zip(&f.labels) {
            let s: f64 = x.iter().zip(&params).map(|(&a, b)| a as f64 * b).sum();
            let p = train::sigmoid(s);
            let w = if y { f.weights.0 } else { f.weights.1 };
            for i in 0..EDGE_FEATURES {
                for j in 0..EDGE_FEATURES {
                    want[(i, j)] += w * p * (1.0 - p) * x[i] as f64 * x[j] as f64 / f.len() as f64;
                }
            }
        }
        assert!((&h - &want).amax() < 1e-6, "{}", (&h - &want).amax());
        let s = f.spectrum(&model, &params);
        assert_eq!(s.negative, 0);
        assert!(s.min > 0.0);
    }

    /// For the MLP the Hessian is checked along random directions against the loss's own second
    /// difference, vᵀHv ≈ (L(θ + εv) − 2L(θ) + L(θ − εv))/ε², which uses no gradient.
    #[test]
    fn mlp_hessian_matches_second_differences_of_the_loss() {
        let f = frozen(1500, 2);
        let model = EdgeModel::new(ModelKind::Mlp, 4, 0, 3);
        let params = model.params.clone();
        let h = f.hessian(&model, &params, HESSIAN_STEP);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(4);
        for _ in 0..5 {
            let v: Vec<f64> = (0..params.len()).map(|_| normal(&mut rng)).collect();
            let vhv: f64 = (0..v.len())
                .map(|i| (0..v.len()).map(|j| v[i] * h[(i, j)] * v[j]).sum::<f64>())
                .sum();
            let eps = 1e-3;
            let at = |t: f64| {
                let p: Vec<f64> = params.iter().zip(&v).map(|(a, b)| a + t * b).collect();
                f.loss_grad(&model, &p, None).0
            };
            let second = (at(eps) - 2.0 * at(0.0) + at(-eps)) / (eps * eps);
            assert!(
                (vhv - second).abs() < 1e-3 * (1.0 + vhv.abs()),
                "vᵀHv {vhv} vs {second}"
            );
        }
    }

    /// On the convex logistic loss full-batch descent with a small step never goes up, all
    /// descents end lower than they start, and Langevin at T = 0 is SGD.
    #[test]
    fn descents_lower_the_loss_and_cold_langevin_is_sgd() {
        let f = frozen(1000, 5);
        let model = EdgeModel::new(ModelKind::Logistic, 0, 0, 1);
        let o = LandscapeOptions {
            passes: 20,
            learning_rate: 0.05,
            batch: 64,
            temperatures: vec![],
            ..LandscapeOptions::default()
        };
        let gd = descend(
            &f,
            &model,
            "gd".into(),
            Optimizer::Sgd { momentum: 0.0 },
            f.len(),
            &o,
        );
        assert_eq!(gd.increases, 0, "{:?}", gd.curve);
        assert!(gd.curve[20] < gd.curve[0]);
        let sgd = descend(&f, &model, "sgd".into(), Optimizer::Sgd { momentum: 0.0 }, 64, &o);
        assert!(sgd.curve[20] < sgd.curve[0]);
        let cold = descend(
            &f,
            &model,
            "cold".into(),
            Optimizer::Langevin { temperature: 0.0 },
            64,
            &o,
        );
        assert_eq!(cold.curve, sgd.curve);
    }
}
