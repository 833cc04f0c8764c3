//! k-means: k-means++ seeding, then Lloyd iterations with a blocked, parallel assignment.
//!
//! Written here rather than taken from a crate: the codebooks are the product (their layout
//! feeds the PQ tables directly), the sizes are small (k ≤ 256, sub-vectors of a few to a few
//! dozen dimensions), and the crates found (`linfa-clustering`, `kmeans`) bring `ndarray` or
//! nightly SIMD for no gain at this size. The one heavy step, every row's nearest centroid,
//! is a matrix product: ‖x − c‖² = ‖x‖² − 2·x·c + ‖c‖², so a block of rows is multiplied with
//! all centroids at once by `matrixmultiply`'s sgemm (the kernel `ndarray` uses) and the
//! nearest centroid is the argmin of ‖c‖² − 2·x·c — FAISS's k-means does the same with BLAS.
//! Blocks are fixed-size and their partial sums are added in block order, so the result does
//! not depend on the number of threads.

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

    /// The nearest centroid to `v` and its squared distance — by the expansion
    /// ‖c‖² − 2·v·c, as [`Codebook::nearest_all`] finds it, so one vector and a batch get the
    /// same code (ties, and centroids closer than the expansion's rounding: the smaller index).
    pub fn nearest(&self, v: &[f32]) -> (usize, f32) {
        let mut out = [0u32];
        assign_block(self, &self.squared_norms(), v, &mut out);
        let c = out[0] as usize;
        (c, squared_l2(v, self.centroid(c)))
    }

    /// The nearest centroid of every row of `data` (`dim` components each): blocked and
    /// parallel, the same answer as [`Codebook::nearest`] row by row.
    pub fn nearest_all(&self, data: &[f32]) -> Vec<u32> {
        let mut assignment = vec![0u32; data.len() / self.dim];
        assign(self, data, &mut assignment);
        assignment
    }

    /// ‖c‖² of every centroid.
    fn squared_norms(&self) -> Vec<f32> {
        self.centroids.chunks_exact(self.dim).map(|c| dot(c, c)).collect()
    }
}

/// ‖a − b‖² (the portable kernel: sub-vectors are short, dispatch would cost more than it saves;
/// inlined, because a call costs more than a two-component distance).
#[inline(always)]
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

/// Rows per block of the assignment: a block's dot products with 256 centroids (256 × 256
/// `f32`, 256 KiB) stay in L2.
const BLOCK_ROWS: usize = 256;

/// Assigns every row to its nearest centroid; returns the mean squared error (each row's
/// squared distance to its centroid computed directly, not from the expansion).
fn assign(book: &Codebook, data: &[f32], assignment: &mut [u32]) -> f64 {
    let dim = book.dim;
    let norms = book.squared_norms();
    let partial: Vec<f64> = data
        .par_chunks(BLOCK_ROWS * dim)
        .zip(assignment.par_chunks_mut(BLOCK_ROWS))
        .map(|(rows, out)| assign_block(book, &norms, rows, out))
        .collect();
    partial.iter().sum::<f64>() / assignment.len() as f64
}

/// [`assign`] for one block of rows; returns the block's sum of squared errors.
fn assign_block(book: &Codebook, norms: &[f32], rows: &[f32], out: &mut [u32]) -> f64 {
    let (dim, k, n) = (book.dim, norms.len(), out.len());
    debug_assert_eq!(rows.len(), n * dim);
    let mut dots = vec![0f32; n * k];
    // SAFETY: `rows` holds n rows of `dim` f32 (row stride dim, column stride 1), the centroids
    // k rows of `dim` read transposed (a dim × k matrix with row stride 1, column stride dim),
    // `dots` n × k f32 (row stride k); the three slices live through the call and `dots` is
    // not aliased. sgemm reads and writes exactly those extents.
    unsafe {
        matrixmultiply::sgemm(
            n,
            dim,
            k,
            1.0,
            rows.as_ptr(),
            dim as isize,
            1,
            book.centroids.as_ptr(),
            1,
            dim as isize,
            0.0,
            dots.as_mut_ptr(),
            k as isize,
            1,
        );
    }
    let mut sse = 0.0;
    for ((row, row_dots), a) in rows.chunks_exact(dim).zip(dots.chunks_exact(k)).zip(out) {
        let best = argmin_expanded(norms, row_dots);
        *a = best as u32;
        sse += squared_l2(row, book.centroid(best)) as f64;
    }
    sse
}

/// The c minimising ‖c‖² − 2·x·c (ties: the smaller c), eight lanes at a time so the compiler
/// keeps the running minima in one vector register.
fn argmin_expanded(norms: &[f32], dots: &[f32]) -> usize {
    const LANES: usize = 8;
    let mut best = [f32::INFINITY; LANES];
    let mut at = [0u32; LANES];
    let full = norms.len() / LANES * LANES;
    for (block, (n, d)) in norms[..full]
        .chunks_exact(LANES)
        .zip(dots[..full].chunks_exact(LANES))
        .enumerate()
    {
        for l in 0..LANES {
            let score = n[l] - 2.0 * d[l];
            let better = score < best[l];
            best[l] = if better { score } else { best[l] };
            at[l] = if better { (block * LANES + l) as u32 } else { at[l] };
        }
    }
    let mut winner = (f32::INFINITY, usize::MAX);
    for l in 0..LANES {
        let candidate = (best[l], at[l] as usize);
        if candidate.0 < winner.0 || (candidate.0 == winner.0 && candidate.1 < winner.1) {
            winner = candidate;
        }
    }
    for c in full..norms.len() {
        let score = norms[c] - 2.0 * dots[c];
        if score < winner.0 {
            winner = (score, c);
        }
    }
    if winner.1 == usize::MAX {
        0
    } else {
        winner.1
    }
}

/// x·y in f32.
#[inline(always)]
pub(crate) fn dot(x: &[f32], y: &[f32]) -> f32 {
    x.iter().zip(y).map(|(a, b)| a * b).sum()
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
