//! k-means: k-means++ seeding, then Lloyd iterations with parallel assignment.
//!
//! Written here rather than taken from a crate: the codebooks are the product (their layout
//! feeds the PQ tables directly), the sizes are small (k ≤ 256, sub-vectors of a few to a few
//! dozen dimensions), and the crates found (`linfa-clustering`, `kmeans`) bring `ndarray` or
//! nightly SIMD for no gain at this size.

use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

use crate::{check_rows, QuantError};

/// Settings of one k-means run.
#[derive(Clone, Debug)]
pub struct KMeansParams {
    /// Number of centroids.
    pub k: usize,
    /// Lloyd iterations at most.
    pub max_iterations: usize,
    /// Stop when the mean squared error improves by less than this fraction.
    pub tolerance: f64,
    /// Seed of the k-means++ draws.
    pub seed: u64,
}

impl KMeansParams {
    /// `k` centroids, 25 iterations, tolerance 10⁻⁴ (FAISS's default iteration count is 25).
    pub fn new(k: usize, seed: u64) -> Self {
        KMeansParams {
            k,
            max_iterations: 25,
            tolerance: 1e-4,
            seed,
        }
    }
}

/// A trained codebook: `k` centroids of `dim` components, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Codebook {
    /// Dimension of a centroid.
    pub dim: usize,
    /// `k · dim` components.
    pub centroids: Vec<f32>,
    /// Mean squared distance of the training vectors to their centroid.
    pub mse: f64,
}

impl Codebook {
    /// Number of centroids.
    pub fn len(&self) -> usize {
        self.centroids.len() / self.dim
    }

    /// Whether the codebook has no centroids.
    pub fn is_empty(&self) -> bool {
        self.centroids.is_empty()
    }

    /// Centroid `c`.
    pub fn centroid(&self, c: usize) -> &[f32] {
        &self.centroids[c * self.dim..(c + 1) * self.dim]
    }

    /// The nearest centroid to `v` and its squared distance (ties: the smaller index).
    pub fn nearest(&self, v: &[f32]) -> (usize, f32) {
        let mut best = (0, f32::INFINITY);
        for (c, centroid) in self.centroids.chunks_exact(self.dim).enumerate() {
            let d = squared_l2(v, centroid);
            if d < best.1 {
                best = (c, d);
            }
        }
        best
    }
}

/// ‖a − b‖² (the portable kernel: sub-vectors are short, dispatch would cost more than it saves).
pub(crate) fn squared_l2(a: &[f32], b: &[f32]) -> f32 {
    geodex_distance::portable::squared_l2_f32(a, b)
}

/// Trains `params.k` centroids on the rows of `data` (`dim` components each).
///
/// Seeding is k-means++: the first centroid is a uniform draw, each next one a draw with
/// probability proportional to the squared distance to the nearest centroid so far. A cluster
/// that empties during Lloyd iterations is re-seeded with the training vector farthest from its
/// centroid (FAISS splits a large cluster instead; either keeps k centroids in use).
pub fn train(data: &[f32], dim: usize, params: &KMeansParams) -> Result<Codebook, QuantError> {
    let n = check_rows(data, dim)?;
    if params.k == 0 {
        return Err(QuantError::InvalidParameter("k must be ≥ 1".into()));
    }
    if n < params.k {
        return Err(QuantError::TooFewVectors {
            vectors: n,
            centroids: params.k,
        });
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(params.seed);
    let mut book = Codebook {
        dim,
        centroids: seed_plus_plus(data, dim, params.k, &mut rng),
        mse: f64::INFINITY,
    };
    let mut assignment = vec![0u32; n];
    for _ in 0..params.max_iterations {
        let mse = assign(&book, data, &mut assignment);
        let improved = book.mse.is_infinite() || (book.mse - mse) > params.tolerance * book.mse;
        book.mse = mse;
        update(&mut book, data, &assignment);
        if !improved {
            break;
        }
    }
    book.mse = assign(&book, data, &mut assignment);
    Ok(book)
}

fn seed_plus_plus(data: &[f32], dim: usize, k: usize, rng: &mut Xoshiro256PlusPlus) -> Vec<f32> {
    let n = data.len() / dim;
    let row = |i: usize| &data[i * dim..(i + 1) * dim];
    let first = (rng.next_u64() % n as u64) as usize;
    let mut centroids = row(first).to_vec();
    let mut nearest: Vec<f32> = (0..n)
        .into_par_iter()
        .map(|i| squared_l2(row(i), row(first)))
        .collect();
    for _ in 1..k {
        let total: f64 = nearest.iter().map(|&d| d as f64).sum();
        let pick = if total > 0.0 {
            let target = uniform(rng) * total;
            let mut acc = 0.0;
            nearest
                .iter()
                .position(|&d| {
                    acc += d as f64;
                    acc > target
                })
                .unwrap_or(n - 1)
        } else {
            (rng.next_u64() % n as u64) as usize
        };
        let chosen = row(pick).to_vec();
        nearest
            .par_iter_mut()
            .enumerate()
            .for_each(|(i, d)| *d = d.min(squared_l2(row(i), &chosen)));
        centroids.extend_from_slice(&chosen);
    }
    centroids
}

/// Assigns every row to its nearest centroid; returns the mean squared error.
fn assign(book: &Codebook, data: &[f32], assignment: &mut [u32]) -> f64 {
    let dim = book.dim;
    let total: f64 = assignment
        .par_iter_mut()
        .enumerate()
        .map(|(i, a)| {
            let (c, d) = book.nearest(&data[i * dim..(i + 1) * dim]);
            *a = c as u32;
            d as f64
        })
        .sum();
    total / assignment.len() as f64
}

/// Moves every centroid to the mean of its rows; re-seeds empty ones.
fn update(book: &mut Codebook, data: &[f32], assignment: &[u32]) {
    let (dim, k) = (book.dim, book.len());
    let mut sums = vec![0f64; k * dim];
    let mut counts = vec![0usize; k];
    for (v, &a) in data.chunks_exact(dim).zip(assignment) {
        counts[a as usize] += 1;
        for (s, &x) in sums[a as usize * dim..][..dim].iter_mut().zip(v) {
            *s += x as f64;
        }
    }
    for c in 0..k {
        if counts[c] > 0 {
            for j in 0..dim {
                book.centroids[c * dim + j] = (sums[c * dim + j] / counts[c] as f64) as f32;
            }
        }
    }
    for c in (0..k).filter(|&c| counts[c] == 0) {
        let farthest = data
            .chunks_exact(dim)
            .zip(assignment)
            .map(|(v, &a)| squared_l2(v, book.centroid(a as usize)))
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(0, |(i, _)| i);
        let v = data[farthest * dim..(farthest + 1) * dim].to_vec();
        book.centroids[c * dim..(c + 1) * dim].copy_from_slice(&v);
    }
}

fn uniform(rng: &mut Xoshiro256PlusPlus) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}
