//! Random levels: ℓ = ⌊−ln(U) · m_L⌋ with m_L = 1/ln M (Malkov & Yashunin, §4.1 and Alg. 1
//! line 4), so the expected share of nodes on level ≥ ℓ is M^(−ℓ).

use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Highest level drawn; with M ≥ 2 the chance of reaching it is 2^(−32) per node.
pub(crate) const MAX_LEVEL: usize = 32;

/// The level of every node, all drawn from one seeded stream in node order, so the levels do
/// not depend on the thread count.
pub(crate) fn draw_levels(n: usize, m: usize, seed: u64) -> Vec<u8> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..n).map(|_| level_from_bits(rng.next_u64(), m)).collect()
}

/// The level of a node added to a living index: drawn from a stream seeded by (`seed`, `node`),
/// so the level depends on neither the thread count nor the batch the node arrived in.
pub(crate) fn draw_level(m: usize, seed: u64, node: u32) -> u8 {
    let stream = seed ^ (u64::from(node) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    level_from_bits(Xoshiro256PlusPlus::seed_from_u64(stream).next_u64(), m)
}

/// ⌊−ln(U) · m_L⌋ for U uniform in (0, 1] made of the top 53 of `bits` (shifted away from 0 so
/// ln(U) is finite).
fn level_from_bits(bits: u64, m: usize) -> u8 {
    let ml = 1.0 / (m as f64).ln();
    let u = ((bits >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    ((-u.ln() * ml).floor() as usize).min(MAX_LEVEL) as u8
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
        let single: Vec<u8> = (0..n as u32).map(|i| draw_level(m, 1, i)).collect();
        let share = single.iter().filter(|&&x| x >= 1).count() as f64 / n as f64;
        assert!((share - 1.0 / m as f64).abs() < 5.0 * (1.0 / m as f64 / n as f64).sqrt());
        assert_ne!(levels, draw_levels(n, m, 2));
    }
}
