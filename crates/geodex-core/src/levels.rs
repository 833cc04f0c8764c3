//! Random levels: ℓ = ⌊−ln(U) · m_L⌋ with m_L = 1/ln M (Malkov & Yashunin, §4.1 and Alg. 1
//! line 4), so the expected share of nodes on level ≥ ℓ is M^(−ℓ).

use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Highest level drawn; with M ≥ 2 the chance of reaching it is 2^(−32) per node.
pub(crate) const MAX_LEVEL: usize = 32;

/// The level of every node, all drawn from one seeded stream in node order, so the levels do
/// not depend on the thread count.
pub(crate) fn draw_levels(n: usize, m: usize, seed: u64) -> Vec<u8> {
    let ml = 1.0 / (m as f64).ln();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            // U uniform in (0, 1]: 53 random bits, shifted away from 0 so ln(U) is finite.
            let u = ((rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
            ((-u.ln() * ml).floor() as usize).min(MAX_LEVEL) as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_shares_follow_m_to_the_minus_l() {
        let (n, m) = (200_000, 16);
        let levels = draw_levels(n, m, 1);
        for l in 1..=2 {
            let share = levels.iter().filter(|&&x| x as usize >= l).count() as f64 / n as f64;
            let expected = (m as f64).powi(-(l as i32));
            // Binomial standard error, 5 sigma.
            let sigma = (expected * (1.0 - expected) / n as f64).sqrt();
            assert!(
                (share - expected).abs() < 5.0 * sigma,
                "level {l}: {share} vs {expected}"
            );
        }
        assert_eq!(levels, draw_levels(n, m, 1));
        assert_ne!(levels, draw_levels(n, m, 2));
    }
}
