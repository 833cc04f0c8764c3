//! The binary-concrete relaxation of a keep/drop decision (Maddison, Mnih & Teh 2017; THEORY
//! §4.3) and its bias and variance against the temperature τ.
//!
//! A candidate kept with probability p = σ(s) (s the scorer's logit) is relaxed to
//! X = σ((s + L)/τ), L = ln U − ln(1 − U) logistic noise (the difference of two Gumbels), not
//! σ(s + one Gumbel) as the text writes. As τ → 0, X → 1[s + L > 0], a Bernoulli(p).
//!
//! Bias. E[X] − p = ∫ (σ(y/τ) − 1[y > 0]) f(y − s) dy with f the logistic density. Expand
//! f(y − s) = f(−s) + f′(−s)·y + …: the bracket is odd in y, so the constant term drops, and
//! the linear one gives f′(−s)·τ²·∫ u(σ(u) − 1[u > 0]) du = −(π²/6)·f′(−s)·τ², the next term
//! being O(τ⁴). So the text's O(τ²) holds, with this constant (f′(x) = f(x)(1 − 2σ(x))); the
//! bias vanishes at s = 0 and is largest where the density bends, |s| ≈ 1.3.
//!
//! Variance. E[X²] − p = τ·f(−s)·∫ (σ(u)² − 1[u > 0]) du + O(τ²) = −τ·f(−s) + O(τ²), so
//! Var X = p(1 − p) − τ·f(−s) + O(τ²): *not* independent of τ — it falls linearly from the
//! Bernoulli variance, by f(−s)·τ (0.25·τ at s = 0). At the text's floor τ = 0.5 that is half the
//! Bernoulli variance at s = 0.
//!
//! Expectations here are computed by quadrature over U (deterministic, the reference) and by
//! Monte Carlo (what a trainer sees); the tests check both against the expansions above.

use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;

use crate::model::unit;
use crate::train::sigmoid;

/// Quadrature nodes over U ∈ (0, 1) (midpoint rule; the integrand is smooth in U).
const QUADRATURE_NODES: usize = 200_000;

/// A relaxed sample X = σ((s + ln u − ln(1 − u))/τ) for a uniform draw `u` ∈ (0, 1).
pub fn relaxed(s: f64, tau: f64, u: f64) -> f64 {
    sigmoid((s + u.ln() - (-u).ln_1p()) / tau)
}

/// The text's schedule τ(t) = max(floor, e^(−0.001·t)) at step t (floor 0.5 in the text).
pub fn temperature(step: u64, floor: f64) -> f64 {
    (-0.001 * step as f64).exp().max(floor)
}

/// E[X] and Var[X] of the relaxation of logit `s` at temperature `tau`, by quadrature.
pub fn moments(s: f64, tau: f64) -> (f64, f64) {
    let (mut m1, mut m2) = (0.0, 0.0);
    for i in 0..QUADRATURE_NODES {
        let x = relaxed(s, tau, (i as f64 + 0.5) / QUADRATURE_NODES as f64);
        m1 += x;
        m2 += x * x;
    }
    let n = QUADRATURE_NODES as f64;
    let mean = m1 / n;
    (mean, m2 / n - mean * mean)
}

/// The logistic density f(x) = σ(x)(1 − σ(x)).
fn density(x: f64) -> f64 {
    let p = sigmoid(x);
    p * (1.0 - p)
}

/// The leading-order bias −(π²/6)·f′(−s)·τ² (module docs).
pub fn predicted_bias(s: f64, tau: f64) -> f64 {
    let x = -s;
    let slope = density(x) * (1.0 - 2.0 * sigmoid(x));
    -(std::f64::consts::PI.powi(2) / 6.0) * slope * tau * tau
}

/// The leading-order variance p(1 − p) − τ·f(−s) (module docs).
pub fn predicted_variance(s: f64, tau: f64) -> f64 {
    let p = sigmoid(s);
    p * (1.0 - p) - tau * density(-s)
}

/// Bias and variance of the relaxation at one temperature, over a set of logits.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RelaxationRow {
    /// τ.
    pub tau: f64,
    /// Mean over the logits of |E[X] − σ(s)| (quadrature).
    pub mean_abs_bias: f64,
    /// The same from the leading-order formula (π²/6)·|f′(−s)|·τ².
    pub predicted_abs_bias: f64,
    /// Mean over the logits of Var[X] (quadrature).
    pub mean_variance: f64,
    /// Mean Bernoulli variance σ(s)(1 − σ(s)) (the τ → 0 limit).
    pub bernoulli_variance: f64,
    /// Mean over the logits of |mean of `samples` draws − σ(s)| (Monte Carlo, what a trainer
    /// with that many samples sees).
    pub monte_carlo_abs_error: f64,
}

/// The relaxation's bias and variance at each of `taus` over `logits` (at most 200 of them, a
/// deterministic spread over the list), with `samples` Monte-Carlo draws each (seeded).
pub fn profile(logits: &[f64], taus: &[f64], samples: usize, seed: u64) -> Vec<RelaxationRow> {
    let stride = logits.len().div_ceil(200).max(1);
    let chosen: Vec<f64> = logits.iter().step_by(stride).copied().collect();
    let n = chosen.len().max(1) as f64;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    taus.iter()
        .map(|&tau| {
            let mut row = RelaxationRow {
                tau,
                mean_abs_bias: 0.0,
                predicted_abs_bias: 0.0,
                mean_variance: 0.0,
                bernoulli_variance: 0.0,
                monte_carlo_abs_error: 0.0,
            };
            for &s in &chosen {
                let p = sigmoid(s);
                let (mean, var) = moments(s, tau);
                let mc = (0..samples)
                    .map(|_| relaxed(s, tau, open_unit(&mut rng)))
                    .sum::<f64>()
                    / samples.max(1) as f64;
                row.mean_abs_bias += (mean - p).abs() / n;
                row.predicted_abs_bias += predicted_bias(s, tau).abs() / n;
                row.mean_variance += var / n;
                row.bernoulli_variance += p * (1.0 - p) / n;
                row.monte_carlo_abs_error += (mc - p).abs() / n;
            }
            row
        })
        .collect()
}

/// A uniform draw in the open interval (0, 1).
fn open_unit(rng: &mut Xoshiro256PlusPlus) -> f64 {
    loop {
        let u = unit(rng);
        if u > 0.0 {
            return u;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bias_is_second_order_with_the_derived_constant() {
        for s in [-2.0, -0.7, 0.4, 1.5] {
            for tau in [0.02, 0.05, 0.1] {
                let (mean, _) = moments(s, tau);
                let bias = mean - sigmoid(s);
                let predicted = predicted_bias(s, tau);
                // Next term is O(τ⁴): relative error O(τ²); quadrature error far below.
                assert!(
                    (bias - predicted).abs() <= 0.05 * predicted.abs() + 1e-7,
                    "s {s} τ {tau}: {bias} vs {predicted}"
                );
            }
        }
        // At s = 0 the bias vanishes by symmetry at every τ.
        assert!((moments(0.0, 0.7).0 - 0.5).abs() < 1e-9);
    }

    #[test]
    fn variance_falls_linearly_in_tau_from_the_bernoulli_variance() {
        for s in [-1.0, 0.0, 0.8] {
            let p = sigmoid(s);
            for tau in [0.01, 0.03] {
                let (_, var) = moments(s, tau);
                let predicted = predicted_variance(s, tau);
                assert!(
                    (var - predicted).abs() < 0.1 * tau * density(-s),
                    "s {s} τ {tau}: {var} vs {predicted}"
                );
                assert!(var < p * (1.0 - p));
            }
        }
    }

    #[test]
    fn monte_carlo_agrees_with_quadrature_and_the_schedule_has_its_floor() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(4);
        for (s, tau) in [(0.3, 0.5), (-1.2, 1.0), (2.0, 0.1)] {
            let (mean, var) = moments(s, tau);
            let n = 40_000;
            let mc = (0..n).map(|_| relaxed(s, tau, open_unit(&mut rng))).sum::<f64>() / n as f64;
            assert!(
                (mc - mean).abs() < 4.0 * (var / n as f64).sqrt(),
                "{mc} vs {mean}"
            );
        }
        assert_eq!(temperature(0, 0.5), 1.0);
        assert!((temperature(500, 0.5) - (-0.5f64).exp()).abs() < 1e-12);
        assert_eq!(temperature(5_000, 0.5), 0.5);
        assert_eq!(temperature(5_000, 0.1), (-5.0f64).exp().max(0.1));
    }
}
