//! Random projection (THEORY §11.2): the Johnson–Lindenstrauss lemma says a random linear map
//! to k = O(log n / ε²) dimensions keeps every pairwise squared distance of n points within
//! (1 ± ε) with high probability. Two maps, both scaled so that E‖Pv‖² = ‖v‖²:
//!
//! - **Gaussian**: entries N(0, 1)/√k.
//! - **Sparse** (Achlioptas 2003, "Database-friendly random projections"): entries √3·{+1, 0, −1}
//!   with probabilities {1/6, 2/3, 1/6}, over √k — two thirds of the products vanish.
//!
//! [`jl_dimension`] is the explicit bound of Dasgupta & Gupta (2003, Thm 2.1):
//! k ≥ 4 ln n / (ε²/2 − ε³/3) suffices for all pairs with probability ≥ 1 − 1/n.

use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::QuantError;

/// Which random matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProjectionKind {
    /// Dense Gaussian entries.
    Gaussian,
    /// Achlioptas's sparse ±√3 / 0 entries.
    Sparse,
}

/// A seeded random linear map from `from` to `to` dimensions.
#[derive(Clone, Debug, PartialEq)]
pub struct RandomProjection {
    kind: ProjectionKind,
    from: usize,
    to: usize,
    /// Row-major `to × from`, already divided by √to.
    matrix: Vec<f32>,
}

impl RandomProjection {
    /// Draws the matrix from `seed`.
    pub fn new(kind: ProjectionKind, from: usize, to: usize, seed: u64) -> Result<Self, QuantError> {
        if from == 0 || to == 0 {
            return Err(QuantError::InvalidParameter(
                "projection dimensions must be ≥ 1".into(),
            ));
        }
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let scale = 1.0 / (to as f64).sqrt();
        let matrix = (0..from * to)
            .map(|_| {
                let entry = match kind {
                    ProjectionKind::Gaussian => standard_normal(&mut rng),
                    ProjectionKind::Sparse => match rng.next_u64() % 6 {
                        0 => 3f64.sqrt(),
                        1 => -(3f64.sqrt()),
                        _ => 0.0,
                    },
                };
                (entry * scale) as f32
            })
            .collect();
        Ok(RandomProjection {
            kind,
            from,
            to,
            matrix,
        })
    }

    /// A projection from a stored matrix (row-major `to × from`, already scaled), as
    /// [`RandomProjection::matrix`] returns it. The caller checks the length.
    pub(crate) fn from_matrix(kind: ProjectionKind, from: usize, to: usize, matrix: &[f32]) -> Self {
        RandomProjection {
            kind,
            from,
            to,
            matrix: matrix.to_vec(),
        }
    }

    /// Which random matrix this is.
    pub fn kind(&self) -> ProjectionKind {
        self.kind
    }

    /// Input dimension.
    pub fn from(&self) -> usize {
        self.from
    }

    /// The matrix, row-major `to × from`, scaled by 1/√to.
    pub fn matrix(&self) -> &[f32] {
        &self.matrix
    }

    /// Pᵀ·y into `out` (`from` components): the adjoint, which maps a projected vector back.
    /// E[PᵀP] = I, so Pᵀ·P·v is an unbiased (if noisy) estimate of v.
    pub fn adjoint(&self, y: &[f32], out: &mut [f32]) {
        out.fill(0.0);
        for (&yi, row) in y.iter().zip(self.matrix.chunks_exact(self.from)) {
            for (o, &p) in out.iter_mut().zip(row) {
                *o += yi * p;
            }
        }
    }

    /// Output dimension.
    pub fn to(&self) -> usize {
        self.to
    }

    /// P·v into `out` (`to` components).
    pub fn project(&self, v: &[f32], out: &mut [f32]) {
        for (o, row) in out.iter_mut().zip(self.matrix.chunks_exact(self.from)) {
            *o = geodex_distance::portable::dot_f32(row, v);
        }
    }

    /// P·v of every row of `data`.
    pub fn project_all(&self, data: &[f32]) -> Vec<f32> {
        let mut out = vec![0f32; data.len() / self.from * self.to];
        for (v, o) in data.chunks_exact(self.from).zip(out.chunks_exact_mut(self.to)) {
            self.project(v, o);
        }
        out
    }
}

/// The dimension Dasgupta & Gupta's bound asks for n points and distortion ε (0 < ε < 1):
/// ⌈4 ln n / (ε²/2 − ε³/3)⌉.
pub fn jl_dimension(n: usize, epsilon: f64) -> usize {
    (4.0 * (n.max(2) as f64).ln() / (epsilon * epsilon / 2.0 - epsilon.powi(3) / 3.0)).ceil() as usize
}

/// The ε that [`jl_dimension`] guarantees at dimension k for n points: the root in (0, 1) of
/// ε²/2 − ε³/3 = 4 ln n / k, or `None` when k is too small for any ε < 1.
pub fn jl_epsilon(n: usize, k: usize) -> Option<f64> {
    let target = 4.0 * (n.max(2) as f64).ln() / k as f64;
    let g = |e: f64| e * e / 2.0 - e.powi(3) / 3.0;
    if target >= g(1.0) {
        return None;
    }
    let (mut lo, mut hi) = (0.0, 1.0);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if g(mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(0.5 * (lo + hi))
}

/// Seeded uniform pairs of distinct indices below n (for distortion samples).
#[derive(Clone, Debug)]
pub struct PairSampler {
    n: usize,
    rng: Xoshiro256PlusPlus,
}

impl PairSampler {
    /// Pairs of indices below `n` (n ≥ 2 for distinct pairs).
    pub fn new(n: usize, seed: u64) -> Self {
        PairSampler {
            n: n.max(2),
            rng: Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x9A12),
        }
    }

    /// The next pair (i, j), i ≠ j.
    pub fn pair(&mut self) -> (usize, usize) {
        let i = (self.rng.next_u64() % self.n as u64) as usize;
        let j = (i + 1 + (self.rng.next_u64() % (self.n as u64 - 1)) as usize) % self.n;
        (i, j)
    }
}

/// A standard normal draw (Box–Muller).
fn standard_normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
    let unit = |rng: &mut Xoshiro256PlusPlus| ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let (u, v) = (unit(rng), unit(rng));
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_and_its_inverse_agree() {
        for (n, eps) in [(1000, 0.5), (100_000, 0.2), (50, 0.9)] {
            let k = jl_dimension(n, eps);
            let back = jl_epsilon(n, k).unwrap();
            assert!(
                back <= eps && back > eps * 0.99,
                "n {n}, ε {eps}: k {k} gives ε {back}"
            );
        }
        assert!(jl_epsilon(100_000, 10).is_none());
        // Dasgupta & Gupta at n = 10⁵, ε = 0.5: 4·ln 10⁵ / (1/8 − 1/24) = 552.6 → 553.
        assert_eq!(jl_dimension(100_000, 0.5), 553);
    }
}
