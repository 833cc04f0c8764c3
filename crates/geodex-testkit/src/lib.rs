//! Test-only helpers, deliberately independent of `geodex-core` so they can judge it:
//! seeded data generators, a naive exact k-NN (full sort, `f64` reference distances); recall@k is `geodex_core::measure::recall_at_k`.
#![deny(missing_docs)]

pub mod index_file;

use geodex_distance::{reference, Metric};
use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// A seeded random source with the few distributions tests need.
pub struct Rng(Xoshiro256PlusPlus);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(Xoshiro256PlusPlus::seed_from_u64(seed))
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Uniform integer in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        (self.uniform() * n as f64) as usize % n.max(1)
    }
}

/// `n` points of dimension `dim` from a mixture of `clusters` Gaussians (centres N(0, 1),
/// spread `spread`), row-major. Clustered data is the hard case for graph indexes.
pub fn clustered(n: usize, dim: usize, clusters: usize, spread: f64, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let centres: Vec<f64> = (0..clusters * dim).map(|_| rng.normal()).collect();
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let c = rng.below(clusters);
        out.extend((0..dim).map(|j| (centres[c * dim + j] + spread * rng.normal()) as f32));
    }
    out
}

/// `n` byte vectors of dimension `dim`, clustered like SIFT descriptors (many small values).
pub fn clustered_u8(n: usize, dim: usize, clusters: usize, seed: u64) -> Vec<u8> {
    clustered(n, dim, clusters, 0.35, seed)
        .into_iter()
        .map(|x| ((x + 2.0) * 40.0).clamp(0.0, 255.0) as u8)
        .collect()
}

/// `k` orthonormal rows of length `ambient` (Gram–Schmidt on Gaussian rows), row-major.
fn orthonormal_frame(k: usize, ambient: usize, rng: &mut Rng) -> Vec<f64> {
    let mut q: Vec<f64> = (0..k * ambient).map(|_| rng.normal()).collect();
    for i in 0..k {
        for j in 0..i {
            let dot: f64 = (0..ambient)
                .map(|t| q[i * ambient + t] * q[j * ambient + t])
                .sum();
            for t in 0..ambient {
                q[i * ambient + t] -= dot * q[j * ambient + t];
            }
        }
        let norm = (0..ambient)
            .map(|t| q[i * ambient + t].powi(2))
            .sum::<f64>()
            .sqrt();
        (0..ambient).for_each(|t| q[i * ambient + t] /= norm);
    }
    q
}

/// `n` points with `k` coordinates each from `point`, mapped isometrically into `ambient` ≥ k
/// dimensions by a fixed random orthonormal frame (so all distances are kept).
fn embedded(
    n: usize,
    k: usize,
    ambient: usize,
    seed: u64,
    mut point: impl FnMut(&mut Rng) -> Vec<f64>,
) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let q = orthonormal_frame(k, ambient, &mut rng);
    let mut out = Vec::with_capacity(n * ambient);
    for _ in 0..n {
        let coords = point(&mut rng);
        out.extend((0..ambient).map(|t| (0..k).map(|i| coords[i] * q[i * ambient + t]).sum::<f64>() as f32));
    }
    out
}

/// Points of a `d`-dimensional unit cube embedded isometrically in `ambient` ≥ d dimensions
/// (by a fixed random rotation of the first d axes): intrinsic dimension exactly d.
pub fn linear_manifold(n: usize, d: usize, ambient: usize, seed: u64) -> Vec<f32> {
    embedded(n, d, ambient, seed, |rng| (0..d).map(|_| rng.uniform()).collect())
}

/// Uniform points on the unit `d`-sphere Sᵈ ⊂ R^{d+1}, embedded isometrically in `ambient` ≥
/// d + 1 dimensions: a curved manifold without boundary, intrinsic dimension d.
pub fn sphere(n: usize, d: usize, ambient: usize, seed: u64) -> Vec<f32> {
    embedded(n, d + 1, ambient, seed, |rng| {
        let g: Vec<f64> = (0..=d).map(|_| rng.normal()).collect();
        let norm = g.iter().map(|x| x * x).sum::<f64>().sqrt();
        g.into_iter().map(|x| x / norm).collect()
    })
}

/// Uniform points on the flat `d`-torus (S¹)ᵈ ⊂ R^{2d} (each circle of radius 1), embedded
/// isometrically in `ambient` ≥ 2d dimensions: intrinsic dimension d, no boundary.
pub fn torus(n: usize, d: usize, ambient: usize, seed: u64) -> Vec<f32> {
    embedded(n, 2 * d, ambient, seed, |rng| {
        (0..d)
            .flat_map(|_| {
                let a = rng.uniform() * std::f64::consts::TAU;
                [a.cos(), a.sin()]
            })
            .collect()
    })
}

/// The reference dissimilarity of `metric` in `f64` (cosine normalises both sides here).
pub fn reference_distance(metric: Metric, a: &[f32], b: &[f32]) -> f64 {
    match metric {
        Metric::L2 => reference::squared_l2_f32(a, b),
        Metric::InnerProduct => -reference::dot_f32(a, b),
        Metric::Cosine => {
            let na = reference::dot_f32(a, a).sqrt();
            let nb = reference::dot_f32(b, b).sqrt();
            1.0 - reference::dot_f32(a, b) / (na * nb)
        }
        Metric::Poincare => reference::poincare_f32(a, b),
    }
}

/// Exact k-NN the obvious way: every distance in `f64`, full sort, ties by smaller id.
pub fn naive_knn(base: &[f32], queries: &[f32], dim: usize, k: usize, metric: Metric) -> Vec<Vec<u32>> {
    queries
        .chunks_exact(dim)
        .map(|q| {
            let mut all: Vec<(f64, u32)> = base
                .chunks_exact(dim)
                .enumerate()
                .map(|(i, b)| (reference_distance(metric, q, b), i as u32))
                .collect();
            all.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
            all.into_iter().take(k).map(|(_, i)| i).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naive_knn_on_a_line() {
        let base = [0.0f32, 1.0, 2.0, 3.0, 10.0];
        assert_eq!(naive_knn(&base, &[2.4], 1, 3, Metric::L2), vec![vec![2, 3, 1]]);
        // Tie between 1 and 3 at distance 1 from 2: smaller id first.
        assert_eq!(naive_knn(&base, &[2.0], 1, 3, Metric::L2), vec![vec![2, 1, 3]]);
    }

    #[test]
    fn manifold_points_span_exactly_d_dimensions() {
        let (n, d, amb) = (50, 3, 10);
        let x = linear_manifold(n, d, amb, 1);
        // Gram matrix of centred points has rank d: check the (d+1)-th pivot vanishes via
        // Gram–Schmidt on the first rows.
        let rows: Vec<Vec<f64>> = x
            .chunks_exact(amb)
            .map(|r| r.iter().map(|&v| v as f64).collect())
            .collect();
        let mut basis: Vec<Vec<f64>> = Vec::new();
        for r in &rows {
            let mut v = r.clone();
            for b in &basis {
                let dot: f64 = v.iter().zip(b).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(b).for_each(|(a, b)| *a -= dot * b);
            }
            let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
            if norm > 1e-4 {
                basis.push(v.iter().map(|a| a / norm).collect());
            }
        }
        assert_eq!(basis.len(), d);
    }
}
