//! How far the mean recall of unseen queries can be from the mean measured on n queries
//! (THEORY.md §7.1, in its correct form).
//!
//! The per-query recalls r₁…rₙ of queries drawn independently from the query distribution are
//! i.i.d. in [0, 1] with mean p — the recall unseen queries get on average. The text's §7.1
//! writes P[recall ≥ 1 − ε] ≥ 1 − exp(−2kε²) with k the neighbours of *one* query: those k hits
//! are not independent trials, and the form silently assumes p = 1. The correct statements are
//! about the mean over queries:
//! - **Chernoff–Hoeffding** (Hoeffding 1963, Theorem 1, for any variables in [0, 1]):
//!   P[r̄ ≤ p − ε] ≤ exp(−n·kl(p − ε ‖ p)), kl the Bernoulli relative entropy; its relaxation
//!   by Pinsker is the familiar exp(−2nε²). Near p = 1 it is far tighter: all n recalls equal
//!   to 1 bound p from below by δ^(1/n) ≈ 1 − ln(1/δ)/n, not 1 − √(ln(1/δ)/(2n)).
//! - **Empirical Bernstein** (Maurer & Pontil, COLT 2009, Theorem 4): with probability ≥ 1 − δ,
//!   p − r̄ ≤ √(2·Vₙ·ln(2/δ)/n) + 7·ln(2/δ)/(3(n − 1)), Vₙ the unbiased sample variance —
//!   tighter when the misses are small (recall 0.9 rather than 0), which is how recall@10 fails.
//!
//! [`mean_interval`] takes, on each side, the tighter of the two, each held to a quarter of δ,
//! so both sides hold together with probability ≥ 1 − δ (union bound).

use serde::Serialize;

/// A closed interval of recall values.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Interval {
    /// Lower end.
    pub low: f64,
    /// Upper end.
    pub high: f64,
}

impl Interval {
    /// Whether `x` lies in the interval.
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

/// Two-sided Hoeffding radius for the mean of `n` values in [0, 1] at error probability `delta`:
/// √(ln(2/δ) / (2n)).
pub fn hoeffding_radius(n: usize, delta: f64) -> f64 {
    ((2.0 / delta).ln() / (2.0 * n as f64)).sqrt()
}

/// Two-sided empirical Bernstein radius (Maurer & Pontil 2009, Theorem 4, each side at δ/2) for
/// the mean of `n` ≥ 2 values in [0, 1] with unbiased sample variance `variance`.
pub fn bernstein_radius(n: usize, variance: f64, delta: f64) -> f64 {
    let log = (4.0 / delta).ln();
    let n = n as f64;
    (2.0 * variance.max(0.0) * log / n).sqrt() + 7.0 * log / (3.0 * (n - 1.0))
}

/// Bernoulli relative entropy kl(q ‖ p) = q·ln(q/p) + (1 − q)·ln((1 − q)/(1 − p)), in nats.
pub fn kl_bernoulli(q: f64, p: f64) -> f64 {
    let term = |a: f64, b: f64| if a <= 0.0 { 0.0 } else { a * (a / b).ln() };
    term(q, p) + term(1.0 - q, 1.0 - p)
}

/// One-sided Chernoff–Hoeffding bounds on the mean of `n` values in [0, 1] whose sample mean
/// is `mean`, each side at error probability `delta`: the p on either side of `mean` where
/// n·kl(mean ‖ p) = ln(1/δ) (bisection; kl grows monotonically away from `mean`).
pub fn chernoff_bounds(n: usize, mean: f64, delta: f64) -> (f64, f64) {
    let level = (1.0 / delta).ln() / n as f64;
    let solve = |mut inside: f64, mut outside: f64| {
        for _ in 0..100 {
            let mid = 0.5 * (inside + outside);
            if kl_bernoulli(mean, mid) > level {
                outside = mid;
            } else {
                inside = mid;
            }
        }
        inside
    };
    (solve(mean, 0.0), solve(mean, 1.0))
}

/// The mean of `values` (each in [0, 1], at least 2) and an interval that holds the
/// distribution's mean with probability ≥ 1 − `delta`: on each side the tighter of the
/// Chernoff–Hoeffding and the empirical Bernstein bound, each at δ/4, clipped to [0, 1].
pub fn mean_interval(values: &[f64], delta: f64) -> (f64, Interval) {
    let n = values.len();
    let mean = values.iter().sum::<f64>() / n as f64;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0).max(1.0);
    let (low, high) = chernoff_bounds(n, mean, delta / 4.0);
    let radius = bernstein_radius(n, variance, delta / 2.0);
    let interval = Interval {
        low: low.max(mean - radius).max(0.0),
        high: high.min(mean + radius).min(1.0),
    };
    (mean, interval)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::{RngCore, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    #[test]
    fn hoeffding_radius_is_the_closed_form() {
        // n = 1000, δ = 0.05: √(ln 40 / 2000).
        assert!((hoeffding_radius(1000, 0.05) - (40f64.ln() / 2000.0).sqrt()).abs() < 1e-15);
        assert!((hoeffding_radius(1000, 0.05) - 0.042_95).abs() < 1e-4);
        assert!(hoeffding_radius(4000, 0.05) < hoeffding_radius(1000, 0.05));
    }

    /// Recall@10 of a query that finds all ten with probability 0.9, else 5–9 of them.
    fn draw_recall(rng: &mut Xoshiro256PlusPlus) -> f64 {
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        if u < 0.9 {
            1.0
        } else {
            (5 + (rng.next_u64() % 5)) as f64 / 10.0
        }
    }

    #[test]
    fn the_interval_covers_the_true_mean_at_its_confidence() {
        // True mean: 0.9 · 1 + 0.1 · 0.7 = 0.97.
        let (truth, delta, trials, n) = (0.97, 0.05, 2000, 300);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let mut misses = 0;
        let mut bernstein_tighter = 0;
        for _ in 0..trials {
            let values: Vec<f64> = (0..n).map(|_| draw_recall(&mut rng)).collect();
            let (_, interval) = mean_interval(&values, delta);
            misses += usize::from(!interval.contains(truth));
            let mean = values.iter().sum::<f64>() / n as f64;
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            bernstein_tighter +=
                usize::from(bernstein_radius(n, var, delta / 2.0) < hoeffding_radius(n, delta / 2.0));
        }
        assert!(
            (misses as f64 / trials as f64) <= delta,
            "{misses} misses in {trials}"
        );
        // Near recall 1 the variance term wins: the reason the bound is used.
        assert_eq!(bernstein_tighter, trials);
    }

    #[test]
    fn chernoff_is_tighter_than_hoeffding_and_exact_at_the_edge() {
        // All n recalls 1: the lower bound solves n·ln(1/p) = ln(1/δ), p = δ^(1/n).
        let (low, high) = chernoff_bounds(1000, 1.0, 0.01);
        assert!((low - 0.01f64.powf(1.0 / 1000.0)).abs() < 1e-9);
        assert_eq!(high, 1.0);
        // Pinsker: kl ≥ 2ε², so the Chernoff radius never exceeds Hoeffding's (one-sided, δ).
        for mean in [0.3, 0.5, 0.8, 0.95, 0.99] {
            let (low, high) = chernoff_bounds(500, mean, 0.05);
            let hoeffding = hoeffding_radius(500, 0.1); // one side at 0.05
            assert!(
                mean - low <= hoeffding + 1e-12 && high - mean <= hoeffding + 1e-12,
                "{mean}"
            );
            assert!(
                (500.0 * kl_bernoulli(mean, low) - 20f64.ln()).abs() < 1e-6,
                "{mean}"
            );
        }
    }

    #[test]
    fn kl_matches_its_definition() {
        let (q, p) = (0.3f64, 0.6f64);
        let direct = q * (q / p).ln() + (1.0 - q) * ((1.0 - q) / (1.0 - p)).ln();
        assert!((kl_bernoulli(q, p) - direct).abs() < 1e-15);
        assert_eq!(kl_bernoulli(0.4, 0.4), 0.0);
        assert!((kl_bernoulli(1.0, 0.9) - (1.0f64 / 0.9).ln()).abs() < 1e-15);
    }

    #[test]
    fn near_one_the_interval_is_far_narrower_than_hoeffding() {
        // 990 perfect queries and 10 at recall 0.9: mean 0.999.
        let values: Vec<f64> = (0..1000).map(|i| if i < 10 { 0.9 } else { 1.0 }).collect();
        let (mean, interval) = mean_interval(&values, 0.05);
        assert!((mean - 0.999).abs() < 1e-12);
        assert!(interval.contains(mean) && interval.high <= 1.0);
        assert!(
            mean - interval.low < 0.25 * hoeffding_radius(1000, 0.05),
            "{interval:?}"
        );
    }
}
