//! Where the search for parameters starts: M from the data's intrinsic dimension (THEORY.md
//! §10.1), and what a build on a sample predicts for the whole set.
//!
//! Malkov & Yashunin (2018, §4.2) find the best M growing with the data's intrinsic
//! dimension — M ≈ 6 on 4-d random vectors, 12–16 on SIFT (whose local intrinsic dimension is
//! 14–20) — and recommend 5–48. The prior is the value of [`M_LADDER`] nearest (on a log scale)
//! to the Levina–Bickel estimate of the intrinsic dimension, clamped to 8…48; `tune` then
//! measures the prior and its two neighbours on the ladder rather than trusting it.

/// The values of M `tune` considers: hnswlib's and the paper's usual range.
pub const M_LADDER: [usize; 7] = [8, 12, 16, 24, 32, 48, 64];

/// The prior's bounds on the ladder: below 8 the graph loses navigability on real data, above
/// 48 the paper saw no gain.
const PRIOR_RANGE: (usize, usize) = (8, 48);

/// The ladder M nearest to `intrinsic_dimension` on a log scale, within 8…48; 16 (the paper's
/// default) when the estimate is not a positive number.
pub fn prior_m(intrinsic_dimension: f64) -> usize {
    if !(intrinsic_dimension.is_finite() && intrinsic_dimension > 0.0) {
        return 16;
    }
    let target = intrinsic_dimension.ln();
    M_LADDER
        .iter()
        .copied()
        .filter(|m| (PRIOR_RANGE.0..=PRIOR_RANGE.1).contains(m))
        .min_by(|a, b| {
            let da = ((*a as f64).ln() - target).abs();
            let db = ((*b as f64).ln() - target).abs();
            da.total_cmp(&db)
        })
        .expect("the prior range holds ladder values")
}

/// The prior and its neighbours on the ladder, ascending.
pub fn m_candidates(prior: usize) -> Vec<usize> {
    let at = M_LADDER.iter().position(|&m| m == prior).unwrap_or(2);
    M_LADDER[at.saturating_sub(1)..(at + 2).min(M_LADDER.len())].to_vec()
}

/// The next M to measure when the fastest candidate has M `best` among the measured `ms`: the
/// next larger ladder value when `best` is the largest measured, the next smaller when it is
/// the smallest, `None` when it lies inside (or the ladder ends).
pub fn extend(ms: &[usize], best: usize) -> Option<usize> {
    let (lo, hi) = (*ms.iter().min()?, *ms.iter().max()?);
    if best == hi {
        if let Some(&m) = M_LADDER.iter().find(|&&m| m > hi) {
            return Some(m);
        }
    }
    if best == lo {
        return M_LADDER.iter().rev().find(|&&m| m < lo).copied();
    }
    None
}

/// The build time of `rows` rows predicted from `sample_seconds` for `sample_rows`: HNSW
/// inserts in O(log n) distance evaluations each (paper §4.2), so the time scales as n·ln n.
pub fn predicted_build_seconds(sample_seconds: f64, sample_rows: usize, rows: usize) -> f64 {
    if rows <= sample_rows || sample_rows < 2 {
        return sample_seconds;
    }
    let (s, n) = (sample_rows as f64, rows as f64);
    sample_seconds * (n * n.ln()) / (s * s.ln())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prior_follows_the_intrinsic_dimension() {
        assert_eq!(prior_m(14.3), 16); // sift-debian's pooled MLE
        assert_eq!(prior_m(20.6), 24);
        assert_eq!(prior_m(3.0), 8); // clamped below
        assert_eq!(prior_m(200.0), 48); // clamped above
        assert_eq!(prior_m(f64::NAN), 16);
        assert_eq!(prior_m(-1.0), 16);
        // Log-scale midpoint between 12 and 16 is √192 ≈ 13.86.
        assert_eq!(prior_m(13.8), 12);
        assert_eq!(prior_m(13.9), 16);
    }

    #[test]
    fn candidates_are_the_prior_and_its_neighbours() {
        assert_eq!(m_candidates(16), vec![12, 16, 24]);
        assert_eq!(m_candidates(8), vec![8, 12]);
        assert_eq!(m_candidates(48), vec![32, 48, 64]);
    }

    #[test]
    fn the_sweep_extends_toward_a_best_m_at_its_edge() {
        assert_eq!(extend(&[12, 16, 24], 24), Some(32));
        assert_eq!(extend(&[12, 16, 24], 12), Some(8));
        assert_eq!(extend(&[12, 16, 24], 16), None);
        assert_eq!(extend(&[8, 12], 8), None); // the ladder's end
        assert_eq!(extend(&[32, 48, 64], 64), None);
        assert_eq!(extend(&[12, 16, 24, 32], 32), Some(48));
    }

    #[test]
    fn build_time_scales_as_n_log_n() {
        assert_eq!(predicted_build_seconds(2.0, 1000, 1000), 2.0);
        assert_eq!(predicted_build_seconds(2.0, 1000, 500), 2.0);
        let t = predicted_build_seconds(1.0, 10_000, 100_000);
        let expected = 10.0 * 100_000f64.ln() / 10_000f64.ln();
        assert!((t - expected).abs() < 1e-9);
    }
}
