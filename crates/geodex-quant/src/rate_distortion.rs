//! The Gaussian rate–distortion bound a quantiser is measured against (THEORY §1.3, §1.1).
//!
//! For independent Gaussian components with variances σ_i² and a budget of R bits per vector,
//! the least achievable mean squared error is given by **reverse water-filling** (Cover &
//! Thomas, *Elements of Information Theory*, 2nd ed., Theorem 10.3.3): pick the water level θ
//! with Σ_i max(0, ½·log₂(σ_i²/θ)) = R; then D = Σ_i min(θ, σ_i²). Components with variance
//! below θ get no bits at all. With equal variances σ² in d dimensions this is the isotropic
//! formula D = d·σ²·2^(−2R/d) — the reference text's special case. Over per-component
//! variances it is the bound for *independent* components; for correlated data pass the
//! eigenvalues of the covariance instead (the components after the decorrelating rotation),
//! which gives the lower, correct curve (`geodex-analysis`'s `covariance_eigenvalues`). Real
//! data may do better than the Gaussian bound of its covariance only through structure a
//! covariance does not show (clusters, discrete values).

/// Per-component variances of the rows of `data` (`dim` components each), in `f64`.
pub fn variances(data: &[f32], dim: usize) -> Vec<f64> {
    let n = (data.len() / dim.max(1)).max(1) as f64;
    let mut mean = vec![0f64; dim];
    for v in data.chunks_exact(dim) {
        for (m, &x) in mean.iter_mut().zip(v) {
            *m += x as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let mut var = vec![0f64; dim];
    for v in data.chunks_exact(dim) {
        for ((s, &x), m) in var.iter_mut().zip(v).zip(&mean) {
            *s += (x as f64 - m).powi(2);
        }
    }
    var.iter_mut().for_each(|s| *s /= n);
    var
}

/// The least mean squared error per vector (summed over components) at `bits` bits per vector,
/// by reverse water-filling over `variances`. `bits` = 0 gives Σσ².
pub fn gaussian_distortion(variances: &[f64], bits: f64) -> f64 {
    let positive: Vec<f64> = variances.iter().copied().filter(|&v| v > 0.0).collect();
    if positive.is_empty() || bits <= 0.0 {
        return positive.iter().sum();
    }
    let rate = |theta: f64| -> f64 {
        positive
            .iter()
            .map(|&v| (0.5 * (v / theta).log2()).max(0.0))
            .sum()
    };
    // rate(θ) falls from +∞ (θ → 0) to 0 (θ = max σ²); at θ = min σ² · 2^(−2·bits) the
    // smallest component alone takes `bits`, so the root lies between. Bisect on ln θ (no
    // underflow however large the budget).
    let smallest = positive.iter().copied().fold(f64::INFINITY, f64::min);
    let largest = positive.iter().copied().fold(0.0, f64::max);
    let (mut lo, mut hi) = (smallest.ln() - 2.0 * bits * std::f64::consts::LN_2, largest.ln());
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if rate(mid.exp()) > bits {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let theta = (0.5 * (lo + hi)).exp();
    positive.iter().map(|&v| v.min(theta)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isotropic_variances_give_the_textbook_formula() {
        let d = 16;
        let var = vec![2.5; d];
        for bits in [1.0, 8.0, 32.0, 64.0] {
            let expected = d as f64 * 2.5 * 2f64.powf(-2.0 * bits / d as f64);
            let got = gaussian_distortion(&var, bits);
            assert!(
                (got - expected).abs() <= 1e-9 * expected,
                "{bits} bits: {got} vs {expected}"
            );
        }
    }

    #[test]
    fn water_filling_starves_small_components() {
        // σ² = (4, 0.25), 1 bit: all of it to the first component, θ = 1, D = 1 + 0.25.
        assert!((gaussian_distortion(&[4.0, 0.25], 1.0) - 1.25).abs() < 1e-9);
        // 4 bits: both get bits; θ solves ½log₂(4/θ) + ½log₂(0.25/θ) = 4 → θ = 1/16, D = 1/8.
        assert!((gaussian_distortion(&[4.0, 0.25], 4.0) - 0.125).abs() < 1e-9);
        assert_eq!(gaussian_distortion(&[4.0, 0.25], 0.0), 4.25);
    }

    #[test]
    fn variances_of_a_known_sample() {
        let data = [1.0f32, 10.0, 3.0, 10.0, 5.0, 10.0];
        let v = variances(&data, 2);
        assert!((v[0] - 8.0 / 3.0).abs() < 1e-12 && v[1] == 0.0);
    }
}
