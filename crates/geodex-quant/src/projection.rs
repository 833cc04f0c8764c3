//! Random projection (THEORY §11.2): the Johnson–Lindenstrauss lemma says a random linear map
//! to k = O(log n / ε²) dimensions keeps every pairwise squared distance of n points within
//! (1 ± ε) with high probability. Two maps, both scaled so that E‖Pv‖² = ‖v‖²:
//!
//! - **Gaussian**: entries N(0, 1)/√k.
//! - **Sparse** (Achlioptas 2003, "Database-friendly random projections"): entries √3·{+1, 0, −1}
//!   with probabilities {1/6, 2/3, 1/6}, over √k — two thirds of the products vanish.
//! - **Orthogonal**: the Gaussian rows orthonormalised (modified Gram–Schmidt, in blocks of
//!   `from` rows when k > d), scaled by √(d/k) — a projection onto a uniformly random
//!   k-dimensional subspace. A square Gaussian matrix is not a rotation; this one is (k = d
//!   keeps every distance exactly), and for k < d the squared-distance ratio of a fixed pair
//!   has variance 2(d − k)/(k(d + 2)) instead of the Gaussian map's 2/k.
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
    /// Orthonormalised Gaussian rows, scaled by √(from/to).
    Orthogonal,
}

/// A seeded random linear map from `from` to `to` dimensions.
#[derive(Clone, Debug, PartialEq)]
pub struct RandomProjection {
    kind: ProjectionKind,
    from: usize,
    to: usize,
    /// Row-major `to × from`, already scaled (by 1/√to; orthonormal rows by √(from/to)).
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
        let mut entries: Vec<f64> = (0..from * to)
            .map(|_| match kind {
                ProjectionKind::Gaussian | ProjectionKind::Orthogonal => standard_normal(&mut rng),
                ProjectionKind::Sparse => match rng.next_u64() % 6 {
                    0 => 3f64.sqrt(),
                    1 => -(3f64.sqrt()),
                    _ => 0.0,
                },
            })
            .collect();
        let scale = match kind {
            ProjectionKind::Orthogonal => {
                entries
                    .chunks_mut(from * from)
                    .for_each(|block| orthonormalise_rows(block, from));
                (from as f64 / to as f64).sqrt()
            }
            _ => 1.0 / (to as f64).sqrt(),
        };
        let matrix = entries.iter().map(|&e| (e * scale) as f32).collect();
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

/// Orthonormalises the rows (`width` components each) of `rows` in place by modified
/// Gram–Schmidt, in f64; the rows are Gaussian draws, independent with probability 1, and at
/// most `width` of them (one block of the projection).
fn orthonormalise_rows(rows: &mut [f64], width: usize) {
    let count = rows.len() / width;
    for i in 0..count {
        let (done, rest) = rows.split_at_mut(i * width);
        let row = &mut rest[..width];
        for earlier in done.chunks_exact(width) {
            let along: f64 = earlier.iter().zip(row.iter()).map(|(a, b)| a * b).sum();
            row.iter_mut().zip(earlier).for_each(|(x, e)| *x -= along * e);
        }
        let norm = row.iter().map(|x| x * x).sum::<f64>().sqrt();
        row.iter_mut().for_each(|x| *x /= norm);
    }
}

/// A standard normal draw (Box–Muller).
pub(crate) fn standard_normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
    let unit = |rng: &mut Xoshiro256PlusPlus| ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let (u, v) = (unit(rng), unit(rng));
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ‖Pv‖² / ‖v‖² for `trials` random Gaussian v (isotropic: the ratio's law depends only on
    /// the map's row space).
    fn ratios(p: &RandomProjection, trials: usize, seed: u64) -> Vec<f64> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut out = vec![0f32; p.to()];
        (0..trials)
            .map(|_| {
                let v: Vec<f32> = (0..p.from()).map(|_| standard_normal(&mut rng) as f32).collect();
                p.project(&v, &mut out);
                let norm = |x: &[f32]| x.iter().map(|&a| a as f64 * a as f64).sum::<f64>();
                norm(&out) / norm(&v)
            })
            .collect()
    }

    fn mean_and_variance(x: &[f64]) -> (f64, f64) {
        let mean = x.iter().sum::<f64>() / x.len() as f64;
        (
            mean,
            x.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / x.len() as f64,
        )
    }

    #[test]
    fn orthogonal_rows_are_orthonormal_a_square_one_is_a_rotation_and_the_variance_is_the_beta_law() {
        let d = 64;
        // k = d: a rotation, every ratio 1 (a square Gaussian map is not: its ratios spread).
        let square = RandomProjection::new(ProjectionKind::Orthogonal, d, d, 5).unwrap();
        assert!(ratios(&square, 200, 6).iter().all(|r| (r - 1.0).abs() < 1e-4));
        let (_, gaussian_var) = mean_and_variance(&ratios(
            &RandomProjection::new(ProjectionKind::Gaussian, d, d, 5).unwrap(),
            2000,
            6,
        ));
        assert!(
            (gaussian_var / (2.0 / d as f64) - 1.0).abs() < 0.15,
            "{gaussian_var}"
        );
        // Rows orthogonal, each of squared norm d/k after scaling.
        let k = 16;
        let p = RandomProjection::new(ProjectionKind::Orthogonal, d, k, 7).unwrap();
        let rows: Vec<&[f32]> = p.matrix().chunks_exact(d).collect();
        for (i, a) in rows.iter().enumerate() {
            for (j, b) in rows.iter().enumerate() {
                let dot: f64 = a.iter().zip(*b).map(|(&x, &y)| x as f64 * y as f64).sum();
                let want = if i == j { d as f64 / k as f64 } else { 0.0 };
                assert!((dot - want).abs() < 1e-4, "rows {i}, {j}: {dot}");
            }
        }
        // Unbiased, with the variance of (d/k)·Beta(k/2, (d − k)/2): 2(d − k)/(k(d + 2)).
        let (mean, var) = mean_and_variance(&ratios(&p, 4000, 8));
        let beta = 2.0 * (d - k) as f64 / (k as f64 * (d + 2) as f64);
        assert!((mean - 1.0).abs() < 0.02, "{mean}");
        assert!((var / beta - 1.0).abs() < 0.15, "{var} vs {beta}");
        // More rows than dimensions: blocks of d orthonormal rows, still unbiased.
        let wide = RandomProjection::new(ProjectionKind::Orthogonal, 8, 20, 9).unwrap();
        let (mean, _) = mean_and_variance(&ratios(&wide, 4000, 10));
        assert!((mean - 1.0).abs() < 0.03, "{mean}");
    }

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
