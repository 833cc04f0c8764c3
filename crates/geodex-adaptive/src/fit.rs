//! Logistic regression with fractional targets (recall so far ∈ [0, 1]): the binomial
//! log-likelihood `Σ y ln p + (1 − y) ln(1 − p)` with `p = σ(w·x)`, plus a ridge penalty
//! `½ λ ‖w‖²` on the non-bias weights, maximised by Newton's method (iteratively reweighted
//! least squares; McCullagh & Nelder, *Generalized Linear Models*, §4.4). The fractional target
//! makes it the quasi-binomial model of a proportion: its fitted `p` estimates the expected
//! recall given the features. Written here rather than taken from a crate: eight weights and a
//! few hundred thousand rows need one 8 × 8 Cholesky solve per step (nalgebra), and the
//! well-kept Rust learners (linfa) fit only 0/1 labels.

use geodex_core::stop::FEATURES;
use nalgebra::{DMatrix, DVector};

/// One training row: features and the target in [0, 1].
pub type Row = ([f32; FEATURES], f32);

/// The fitted model: bias and weights on standardised features, and the standardisation.
#[derive(Clone, Debug, PartialEq)]
pub struct Logistic {
    /// Bias, then one weight per feature.
    pub weights: Vec<f32>,
    /// Per-feature (mean, standard deviation) the weights expect.
    pub scale: Vec<(f32, f32)>,
    /// Newton steps taken.
    pub steps: usize,
}

/// Ridge penalty on the standardised weights: small, only to keep a constant feature (zero
/// variance after scaling) from making the Hessian singular.
const RIDGE: f64 = 1e-4;

/// Fits the model to `rows`; `None` when there are no rows.
pub fn fit(rows: &[Row]) -> Option<Logistic> {
    if rows.is_empty() {
        return None;
    }
    let n = rows.len() as f64;
    let scale = standardisation(rows);
    let p = FEATURES + 1;
    let x = |r: &Row| -> DVector<f64> {
        DVector::from_iterator(
            p,
            std::iter::once(1.0).chain(r.0.iter().zip(&scale).map(|(v, (m, s))| ((v - m) / s) as f64)),
        )
    };
    let mut w = DVector::<f64>::zeros(p);
    let mut steps = 0;
    for _ in 0..100 {
        steps += 1;
        let mut grad = DVector::<f64>::zeros(p);
        let mut hess = DMatrix::<f64>::zeros(p, p);
        for r in rows {
            let xi = x(r);
            let prob = 1.0 / (1.0 + (-w.dot(&xi)).exp());
            grad += &xi * (r.1 as f64 - prob);
            hess.syger(prob * (1.0 - prob), &xi, &xi, 1.0);
        }
        for j in 1..p {
            grad[j] -= RIDGE * n * w[j];
            hess[(j, j)] += RIDGE * n;
        }
        hess[(0, 0)] += 1e-9 * n;
        let step = hess.cholesky()?.solve(&grad);
        w += &step;
        if step.amax() < 1e-7 {
            break;
        }
    }
    Some(Logistic {
        weights: w.iter().map(|&v| v as f32).collect(),
        scale,
        steps,
    })
}

/// Per-feature (mean, standard deviation) of `rows` — the standardisation a model fitted on
/// them expects (a deviation floor of 10⁻⁶ keeps a constant feature finite).
pub fn standardisation(rows: &[Row]) -> Vec<(f32, f32)> {
    let n = rows.len().max(1) as f64;
    (0..FEATURES)
        .map(|j| {
            let mean = rows.iter().map(|r| r.0[j] as f64).sum::<f64>() / n;
            let var = rows.iter().map(|r| (r.0[j] as f64 - mean).powi(2)).sum::<f64>() / n;
            (mean as f32, var.sqrt().max(1e-6) as f32)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows drawn from a known logistic model are fitted back to its weights (the MLE is
    /// consistent), and the gradient at the fit is zero — checked by finite differences of the
    /// log-likelihood.
    #[test]
    fn recovers_the_weights_of_a_known_model() {
        let mut rng = geodex_testkit::Rng::new(3);
        let truth = [0.5, 1.5, -2.0, 0.0, 0.7, 0.0, -0.3, 1.0];
        let rows: Vec<Row> = (0..20_000)
            .map(|_| {
                let mut f = [0f32; FEATURES];
                for v in f.iter_mut() {
                    *v = rng.normal() as f32;
                }
                let z = truth[0] + (0..FEATURES).map(|j| truth[j + 1] * f[j] as f64).sum::<f64>();
                let y = if rng.uniform() < 1.0 / (1.0 + (-z).exp()) {
                    1.0
                } else {
                    0.0
                };
                (f, y)
            })
            .collect();
        let m = fit(&rows).unwrap();
        // Back to raw-feature weights.
        let raw: Vec<f64> = (0..FEATURES)
            .map(|j| m.weights[j + 1] as f64 / m.scale[j].1 as f64)
            .collect();
        let bias = m.weights[0] as f64 - (0..FEATURES).map(|j| raw[j] * m.scale[j].0 as f64).sum::<f64>();
        assert!((bias - truth[0]).abs() < 0.08, "bias {bias}");
        for j in 0..FEATURES {
            assert!(
                (raw[j] - truth[j + 1]).abs() < 0.08,
                "weight {j}: {} vs {}",
                raw[j],
                truth[j + 1]
            );
        }
        let loglik = |w: &[f64]| -> f64 {
            rows.iter()
                .map(|(f, y)| {
                    let z = w[0]
                        + (0..FEATURES)
                            .map(|j| w[j + 1] * ((f[j] - m.scale[j].0) / m.scale[j].1) as f64)
                            .sum::<f64>();
                    let p = 1.0 / (1.0 + (-z).exp());
                    *y as f64 * p.ln() + (1.0 - *y as f64) * (1.0 - p).ln()
                })
                .sum()
        };
        let w: Vec<f64> = m.weights.iter().map(|&v| v as f64).collect();
        for j in 0..=FEATURES {
            let h = 1e-3;
            let (mut up, mut down) = (w.clone(), w.clone());
            up[j] += h;
            down[j] -= h;
            let slope = (loglik(&up) - loglik(&down)) / (2.0 * h) / rows.len() as f64;
            assert!(slope.abs() < 1e-3, "gradient {j}: {slope}");
        }
    }

    #[test]
    fn fractional_targets_fit_their_mean() {
        // Constant features and targets 0.2 and 0.4 alternating: the fit is their mean.
        let rows: Vec<Row> = (0..1000)
            .map(|i| ([1.0; FEATURES], if i % 2 == 0 { 0.2 } else { 0.4 }))
            .collect();
        let m = fit(&rows).unwrap();
        let p = 1.0 / (1.0 + (-m.weights[0]).exp());
        assert!((p - 0.3).abs() < 1e-4, "{p}");
        assert!(fit(&[]).is_none());
    }
}
