//! RaBitQ (Gao & Long, SIGMOD 2024) and its multi-bit extension (Gao, Gou, Xu, Yang, Long &
//! Wong, "Practical and asymptotically optimal quantization of high-dimensional vectors in
//! Euclidean space for approximate nearest neighbor search", SIGMOD 2025): codes of B bits per
//! dimension with an unbiased distance estimator and an error bound per code.
//!
//! **Centres.** Each vector is coded relative to its nearest of K centres c_j (k-means on the
//! training sample, K = n/256 clamped to 1…256, 10 Lloyd iterations as FAISS's IVF trains its
//! coarse quantiser): the estimate's error grows with r = ‖o_r − c_j‖, and the papers, which
//! pair RaBitQ with IVF, centre on the vector's list the same way. One global mean leaves the
//! bound too wide to skip a single re-ranking on SIFT at one bit (measured, BENCHMARKS.md).
//!
//! **Encoding.** With P a uniformly random orthogonal D × D matrix (D = dim rounded up to a
//! multiple of 8, the vector padded with zeros), a vector o_r becomes the unit vector
//! x = P(o_r − c_j)/r. Its code is the point of the grid {±½, ±3/2, …, ±(2^B − 1)/2}^D whose
//! direction v/‖v‖ is closest to x — for B = 1 the signs of x (RaBitQ), for B > 1 found exactly
//! by the extension's sweep over the critical rescalings of x ([`best_grid_point`]). Stored per
//! vector: the B bit planes of u = v + (2^B − 1)/2 (D/8 bytes each), j as u16, and three `f32`
//! factors: a = r/(‖v‖·⟨ō, o⟩), e = r·√(1 − ⟨ō, o⟩²)/⟨ō, o⟩ with ⟨ō, o⟩ = ⟨v, x⟩/‖v‖, and
//! b = r² + 2a·⟨v, Pc_j⟩.
//!
//! **Estimator** (RaBitQ §3.2): ⟨o, q⟩ ≈ ⟨ō, q⟩/⟨ō, o⟩, unbiased over the random rotation.
//! Applied to q − c_j and split by linearity, with q' = Pq and ⟨v, q'⟩ = Σ u_i q'_i −
//! (2^B − 1)/2·Σ q'_i: ‖o_r − q‖² ≈ b + ‖q − c_j‖² − 2a·⟨v, q'⟩, and −⟨o_r, q⟩ ≈
//! −a·⟨v, q'⟩ − ⟨c_j, q⟩ — one table per query whatever the centre, plus one number per centre.
//!
//! **Error bound** (RaBitQ Theorem 3.2): with probability ≥ 1 − 2·exp(−c₀ε₀²),
//! |⟨ō, q⟩/⟨ō, o⟩ − ⟨o, q⟩| ≤ √(1 − ⟨ō, o⟩²)/⟨ō, o⟩ · ε₀/√(D − 1) for unit q; the argument
//! is the rotation's symmetry, so it holds for the multi-bit grid too. Scaled to distances the
//! bound is 2·e·‖q − c_j‖·ε₀/√(D − 1) (L2) or e·‖q‖·ε₀/√(D − 1) (inner product). The error is
//! close to √(1 − ⟨ō, o⟩²)/⟨ō, o⟩·√(1 − ⟨o, q⟩²)·z/√(D − 1) with z standard normal, so ε₀ is
//! a z-score: the paper's ε₀ = 1.9 ([`EPSILON0`]) misses about 5.7 % of near-orthogonal pairs,
//! ε₀ = 3 about 0.3 %.
//!
//! **Kernel, substituted.** The papers quantise q' to 4 bits and sum Σ u_i q'_i with popcounts
//! (or fast-scan in batches of 32 codes). A graph walk scores one scattered code at a time, so
//! here q' stays exact and the sum is read from per-query tables, one 256-entry table per 8
//! dimensions (T_g[byte] = Σ of the q'_i whose bits are set): D/8 lookups per bit plane, the
//! lookups PQ8 does at the same bytes per vector, and no query-quantisation error on top of the
//! bound.

use std::collections::BinaryHeap;

use crate::kmeans::{Codebook, KMeansParams};
use crate::projection::{ProjectionKind, RandomProjection};
use crate::{check_rows, QuantError, Similarity};

/// ε₀ of the error bound by default: RaBitQ's choice (§5.1).
pub const EPSILON0: f32 = 1.9;

/// Bytes after the bit planes: the centre j (u16) and the factors b, a, e (`f32`), little-endian.
pub const FACTOR_BYTES: usize = 14;

/// The most centres a code can name.
pub const MAX_CENTRES: usize = 1 << 16;

/// Column pairs per column [`RaBitQ::from_parameters`] checks for orthogonality.
pub const ORTHOGONALITY_CHECKS: usize = 8;

/// A trained RaBitQ quantiser: the centres, the rotation and the bits per dimension.
#[derive(Clone, Debug, PartialEq)]
pub struct RaBitQ {
    bits: u32,
    /// K centres of `dim` components.
    centres: Codebook,
    /// The first `dim` columns of the random orthogonal D × D matrix, row-major D × dim.
    rotation: RandomProjection,
}

impl RaBitQ {
    /// The padded dimension D for vectors of `dim` components: a multiple of 8, so a bit plane
    /// is whole bytes.
    pub fn padded_dim(dim: usize) -> usize {
        dim.div_ceil(8) * 8
    }

    /// Checks `bits` (1…8).
    pub fn check_bits(bits: u32) -> Result<(), QuantError> {
        if !(1..=8).contains(&bits) {
            return Err(QuantError::InvalidParameter(format!(
                "RaBitQ takes 1 to 8 bits per dimension, not {bits}"
            )));
        }
        Ok(())
    }

    /// Trains on `data`'s rows with the default number of centres (module doc); the centres'
    /// k-means and the rotation drawn from `seed`.
    pub fn train(data: &[f32], dim: usize, bits: u32, seed: u64) -> Result<Self, QuantError> {
        let n = check_rows(data, dim)?;
        Self::train_with_centres(data, dim, bits, (n / 256).clamp(1, 256), seed)
    }

    /// [`RaBitQ::train`] with `centres` centres (1: the mean).
    pub fn train_with_centres(
        data: &[f32],
        dim: usize,
        bits: u32,
        centres: usize,
        seed: u64,
    ) -> Result<Self, QuantError> {
        Self::check_bits(bits)?;
        let n = check_rows(data, dim)?;
        if n < centres.max(1) || centres > MAX_CENTRES {
            return Err(QuantError::TooFewVectors {
                vectors: n,
                centroids: centres.max(1),
            });
        }
        let centres = if centres <= 1 {
            let mut sum = vec![0f64; dim];
            for row in data.chunks_exact(dim) {
                for (s, &x) in sum.iter_mut().zip(row) {
                    *s += x as f64;
                }
            }
            Codebook {
                dim,
                centroids: sum.iter().map(|s| (s / n as f64) as f32).collect(),
                mse: 0.0,
            }
        } else {
            let params = KMeansParams {
                max_iterations: 10,
                ..KMeansParams::new(centres, seed)
            };
            // Only the centres are kept (and stored): a quantiser read back from a file equals
            // the trained one.
            Codebook {
                mse: 0.0,
                ..crate::kmeans::train(data, dim, &params)?
            }
        };
        let padded = Self::padded_dim(dim);
        let square = RandomProjection::new(ProjectionKind::Orthogonal, padded, padded, seed)?;
        let columns: Vec<f32> = square
            .matrix()
            .chunks_exact(padded)
            .flat_map(|row| row[..dim].iter().copied())
            .collect();
        Ok(RaBitQ {
            bits,
            centres,
            rotation: RandomProjection::from_matrix(ProjectionKind::Orthogonal, dim, padded, &columns),
        })
    }

    /// A quantiser from its stored parameters ([`RaBitQ::parameters`]: K centres, then the
    /// D × dim rotation). Checks the length (K from 1 to [`MAX_CENTRES`]), and that the
    /// rotation's columns look orthonormal to 10⁻³ — the estimator and its bound rest on it:
    /// every column's norm and its inner product with the next [`ORTHOGONALITY_CHECKS`] columns
    /// (cyclically), O(dim·D) rather than the whole Gram matrix's O(dim²·D), which would take
    /// seconds at open for 1,536-d embeddings. A change to any entry changes its column's norm.
    pub fn from_parameters(dim: usize, bits: u32, params: &[f32]) -> Result<Self, QuantError> {
        Self::check_bits(bits)?;
        let padded = Self::padded_dim(dim);
        let rotation_len = padded * dim;
        let centre_len = params.len().saturating_sub(rotation_len);
        let count = centre_len / dim.max(1);
        if dim == 0 || !centre_len.is_multiple_of(dim) || !(1..=MAX_CENTRES).contains(&count) {
            return Err(QuantError::InvalidParameter(format!(
                "codebook holds {} values: not 1 to {MAX_CENTRES} centres of {dim} and a {padded} × {dim} rotation",
                params.len()
            )));
        }
        let (centroids, matrix) = params.split_at(centre_len);
        let columns: Vec<Vec<f64>> = (0..dim)
            .map(|i| matrix.chunks_exact(dim).map(|row| row[i] as f64).collect())
            .collect();
        for i in 0..dim {
            for step in 0..=ORTHOGONALITY_CHECKS.min(dim - 1) {
                let j = (i + step) % dim;
                let dot: f64 = columns[i].iter().zip(&columns[j]).map(|(a, b)| a * b).sum();
                let want = if step == 0 { 1.0 } else { 0.0 };
                if (dot - want).abs() > 1e-3 {
                    return Err(QuantError::InvalidParameter(format!(
                        "the RaBitQ rotation's columns {i} and {j} are not orthonormal (dot {dot:.4})"
                    )));
                }
            }
        }
        Ok(RaBitQ {
            bits,
            centres: Codebook {
                dim,
                centroids: centroids.to_vec(),
                mse: 0.0,
            },
            rotation: RandomProjection::from_matrix(ProjectionKind::Orthogonal, dim, padded, matrix),
        })
    }

    /// The centres, then the rotation (row-major D × dim).
    pub fn parameters(&self) -> Vec<f32> {
        self.centres
            .centroids
            .iter()
            .chain(self.rotation.matrix())
            .copied()
            .collect()
    }

    /// The number of floats [`RaBitQ::parameters`] returns.
    pub fn parameter_count(&self) -> usize {
        self.dim() * (self.centre_count() + self.padded())
    }

    /// K, the number of centres.
    pub fn centre_count(&self) -> usize {
        self.centres.len()
    }

    /// The centre a code was coded against.
    pub fn centre_of(&self, code: &[u8]) -> &[f32] {
        self.centres.centroid(self.centre_index(code))
    }

    /// j, the index of a code's centre.
    #[inline]
    fn centre_index(&self, code: &[u8]) -> usize {
        let at = self.bits as usize * self.plane_bytes();
        u16::from_le_bytes([code[at], code[at + 1]]) as usize
    }

    /// Bits per dimension B.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// Dimension of the vectors.
    pub fn dim(&self) -> usize {
        self.centres.dim
    }

    /// D, the rotated (padded) dimension.
    pub fn padded(&self) -> usize {
        self.rotation.to()
    }

    /// Bytes of one bit plane, D/8.
    fn plane_bytes(&self) -> usize {
        self.padded() / 8
    }

    /// Bytes per code: B planes of D/8 bytes and [`FACTOR_BYTES`].
    pub fn code_bytes(&self) -> usize {
        self.bits as usize * self.plane_bytes() + FACTOR_BYTES
    }

    /// (2^B − 1)/2, the offset between the stored u_i and the grid value v_i.
    fn half_range(&self) -> f32 {
        ((1u32 << self.bits) - 1) as f32 / 2.0
    }

    /// Encodes one vector against centre `centre` into `code` ([`RaBitQ::code_bytes`] bytes);
    /// `work` is scratch.
    pub fn encode(&self, v: &[f32], centre: usize, code: &mut [u8], work: &mut Vec<f32>) {
        let mut rotated_centre = vec![0f32; self.padded()];
        self.rotation
            .project(self.centres.centroid(centre), &mut rotated_centre);
        self.encode_rotated(v, centre, &rotated_centre, code, work);
    }

    /// P·c_j of every centre, row by row (K × D).
    fn rotated_centres(&self) -> Vec<f32> {
        self.rotation.project_all(&self.centres.centroids)
    }

    /// [`RaBitQ::encode`] given the centre's rotation P·c_j (the same for every vector of that
    /// centre, so [`RaBitQ::encode_all`] rotates each centre once).
    fn encode_rotated(
        &self,
        v: &[f32],
        centre: usize,
        rotated_c: &[f32],
        code: &mut [u8],
        work: &mut Vec<f32>,
    ) {
        let (dim, padded) = (self.dim(), self.padded());
        let c = self.centres.centroid(centre);
        work.clear();
        work.extend(v.iter().zip(c).map(|(x, c)| x - c));
        work.resize(dim + padded, 0.0);
        let (centred, x) = work.split_at_mut(dim);
        self.rotation.project(centred, x);
        let r2: f32 = centred.iter().map(|d| d * d).sum();
        let r = r2.sqrt();
        code.fill(0);
        let planes = self.bits as usize * self.plane_bytes();
        let (a, e, b) = if r > 0.0 {
            x.iter_mut().for_each(|xi| *xi /= r);
            let levels = best_grid_point(x, self.bits);
            let half = self.half_range();
            let (mut vv, mut vx, mut vc) = (0f64, 0f64, 0f64);
            for (i, (&xi, &k)) in x.iter().zip(&levels).enumerate() {
                let magnitude = k as f64 + 0.5;
                let u = if xi >= 0.0 {
                    half as f64 + magnitude
                } else {
                    half as f64 - magnitude
                } as u32;
                vv += magnitude * magnitude;
                vx += magnitude * xi.abs() as f64;
                vc += (u as f64 - half as f64) * rotated_c[i] as f64;
                for b in 0..self.bits as usize {
                    if u >> b & 1 == 1 {
                        code[b * self.plane_bytes() + i / 8] |= 1 << (i % 8);
                    }
                }
            }
            let norm_v = vv.sqrt();
            let alignment = (vx / norm_v).clamp(f64::MIN_POSITIVE, 1.0);
            let a = r as f64 / (norm_v * alignment);
            let e = r as f64 * (1.0 - alignment * alignment).sqrt() / alignment;
            (a as f32, e as f32, (r2 as f64 + 2.0 * a * vc) as f32)
        } else {
            (0.0, 0.0, 0.0)
        };
        let tail = &mut code[planes..planes + FACTOR_BYTES];
        tail[..2].copy_from_slice(&(centre as u16).to_le_bytes());
        tail[2..6].copy_from_slice(&b.to_le_bytes());
        tail[6..10].copy_from_slice(&a.to_le_bytes());
        tail[10..].copy_from_slice(&e.to_le_bytes());
    }

    /// Encodes every row of `data`.
    pub fn encode_all(&self, data: &[f32]) -> Vec<u8> {
        let bytes = self.code_bytes();
        let mut out = vec![0u8; data.len() / self.dim() * bytes];
        let centres = if self.centre_count() > 1 {
            self.centres.nearest_all(data)
        } else {
            vec![0; data.len() / self.dim()]
        };
        let rotated = self.rotated_centres();
        let mut work = Vec::new();
        for ((v, code), &c) in data
            .chunks_exact(self.dim())
            .zip(out.chunks_exact_mut(bytes))
            .zip(&centres)
        {
            let c = c as usize;
            let rotated_c = &rotated[c * self.padded()..][..self.padded()];
            self.encode_rotated(v, c, rotated_c, code, &mut work);
        }
        out
    }

    /// The reconstruction whose inner products are the estimator's: c_j + a·Pᵀv.
    pub fn decode(&self, code: &[u8], out: &mut [f32]) {
        let (_, a, _) = self.factors(code);
        let half = self.half_range();
        let v: Vec<f32> = (0..self.padded())
            .map(|i| self.level(code, i) as f32 - half)
            .collect();
        self.rotation.adjoint(&v, out);
        for (o, c) in out.iter_mut().zip(self.centre_of(code)) {
            *o = c + a * *o;
        }
    }

    /// u_i, coordinate i's stored level.
    fn level(&self, code: &[u8], i: usize) -> u32 {
        (0..self.bits as usize)
            .map(|b| ((code[b * self.plane_bytes() + i / 8] >> (i % 8)) & 1) as u32)
            .enumerate()
            .map(|(b, bit)| bit << b)
            .sum()
    }

    /// The stored factors (b, a, e) of a code (module doc).
    #[inline]
    pub fn factors(&self, code: &[u8]) -> (f32, f32, f32) {
        let f = &code[self.bits as usize * self.plane_bytes() + 2..];
        let at = |o: usize| f32::from_le_bytes([f[o], f[o + 1], f[o + 2], f[o + 3]]);
        (at(0), at(4), at(8))
    }

    /// Checks a code's tail: a centre that exists, and finite factors with a, e ≥ 0.
    pub fn check_code(&self, code: &[u8]) -> Result<(), String> {
        let centre = self.centre_index(code);
        if centre >= self.centre_count() {
            return Err(format!("centre {centre} of {}", self.centre_count()));
        }
        let (b, a, e) = self.factors(code);
        if !(b.is_finite() && a.is_finite() && e.is_finite() && a >= 0.0 && e >= 0.0) {
            return Err(format!("factors ({b}, {a}, {e}) are not finite with a, e ≥ 0"));
        }
        Ok(())
    }

    /// Fills `table` for `query`: D/8 blocks of 256 partial sums of q' = Pq (module doc), then
    /// one number per centre — ‖q − c_j‖² (L2) or −⟨c_j, q⟩ (inner product) — then the error
    /// bound's factor per centre ([`RaBitQ::error_bound`]), and returns the per-query constants.
    pub fn fill_table(&self, query: &[f32], similarity: Similarity, table: &mut Vec<f32>) -> QueryConstants {
        let padded = self.padded();
        let lut = padded / 8 * 256;
        table.clear();
        table.resize(lut + padded, 0.0);
        let (blocks, rotated) = table.split_at_mut(lut);
        self.rotation.project(query, rotated);
        for (block, q) in blocks.chunks_exact_mut(256).zip(rotated.chunks_exact(8)) {
            for byte in 1..256usize {
                block[byte] = block[byte & (byte - 1)] + q[byte.trailing_zeros() as usize];
            }
        }
        let shift = self.half_range() * rotated.iter().sum::<f32>();
        table.truncate(lut);
        table.extend(
            self.centres
                .centroids
                .chunks_exact(self.dim())
                .map(|c| match similarity {
                    Similarity::SquaredL2 => geodex_distance::portable::squared_l2_f32(query, c),
                    Similarity::NegativeDot => -geodex_distance::portable::dot_f32(query, c),
                }),
        );
        let (weight, with_b) = match similarity {
            Similarity::SquaredL2 => (2.0, 1.0),
            Similarity::NegativeDot => (1.0, 0.0),
        };
        let per_unit = weight / ((padded as f32 - 1.0).max(1.0)).sqrt();
        let query_norm = geodex_distance::portable::dot_f32(query, query).sqrt();
        for j in 0..self.centre_count() {
            let norm = match similarity {
                Similarity::SquaredL2 => table[lut + j].sqrt(),
                Similarity::NegativeDot => query_norm,
            };
            table.push(per_unit * norm);
        }
        QueryConstants {
            lut,
            shift,
            weight,
            with_b,
        }
    }

    /// The estimated distance of a code, given the query's table and constants.
    #[inline]
    pub fn distance(&self, table: &[f32], k: &QueryConstants, code: &[u8]) -> f32 {
        let plane = self.plane_bytes();
        let (lut, per_centre) = table.split_at(k.lut);
        let mut sum = 0f32;
        let mut scale = 1f32;
        for bits in code[..self.bits as usize * plane].chunks_exact(plane) {
            sum += scale * crate::codec::pq8_distance(lut, 256, bits);
            scale *= 2.0;
        }
        let (b, a, _) = self.factors(code);
        per_centre[self.centre_index(code)] + k.with_b * b - k.weight * a * (sum - k.shift)
    }

    /// The half-width, per unit ε₀, of the estimate's confidence interval for a code, from the
    /// query's `table` ([`RaBitQ::fill_table`]): |estimate − exact| ≤ ε₀ times this with
    /// probability ≥ 1 − 2·exp(−c₀ε₀²) (Theorem 3.2, scaled as in the module doc:
    /// 2·e·‖q − c_j‖/√(D − 1) for L2, e·‖q‖/√(D − 1) for the inner product).
    #[inline]
    pub fn error_bound(&self, table: &[f32], code: &[u8]) -> f32 {
        let per_centre = &table[self.padded() / 8 * 256 + self.centre_count()..];
        per_centre[self.centre_index(code)] * self.factors(code).2
    }
}

/// Per-query constants of the estimator (see [`RaBitQ::fill_table`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct QueryConstants {
    /// Floats of the lookup tables; the per-centre numbers follow them.
    lut: usize,
    /// (2^B − 1)/2 · Σ q'_i.
    shift: f32,
    /// 2 (L2) or 1 (inner product): the factor on a·⟨v, q'⟩.
    weight: f32,
    /// 1 when the estimate adds b (L2), 0 otherwise.
    with_b: f32,
}

/// The magnitudes k_i + ½ (k_i ∈ 0…2^(B−1) − 1) of the grid point closest in direction to the
/// unit vector `x` (signs follow x): returns the k_i. Extended RaBitQ's exact search: the grid
/// point for a rescaling t is k_i(t) = min(⌊t·|x_i|⌋, 2^(B−1) − 1), which changes only at the
/// critical values t = (k + 1)/|x_i|; sweeping them in increasing order while updating
/// ⟨k + ½, |x|⟩ and ‖k + ½‖² visits every candidate in O(D·2^B·log D).
pub fn best_grid_point(x: &[f32], bits: u32) -> Vec<u32> {
    let top = (1u32 << (bits - 1)) - 1;
    let mut levels = vec![0u32; x.len()];
    if top == 0 {
        return levels;
    }
    let magnitude: Vec<f64> = x.iter().map(|v| v.abs() as f64).collect();
    let mut dot: f64 = magnitude.iter().map(|m| 0.5 * m).sum();
    let mut norm2 = 0.25 * x.len() as f64;
    let mut best = (dot / norm2.sqrt(), 0usize);
    // Min-heap of (next critical t, coordinate) as a max-heap of reversed keys.
    let mut events: BinaryHeap<std::cmp::Reverse<(OrderedT, usize)>> = magnitude
        .iter()
        .enumerate()
        .filter(|(_, &m)| m > 0.0)
        .map(|(i, &m)| std::cmp::Reverse((OrderedT(1.0 / m), i)))
        .collect();
    let mut order = Vec::new();
    while let Some(std::cmp::Reverse((_, i))) = events.pop() {
        let k = levels[i] as f64;
        dot += magnitude[i];
        norm2 += 2.0 * k + 2.0;
        levels[i] += 1;
        order.push(i);
        let cosine = dot / norm2.sqrt();
        if cosine > best.0 {
            best = (cosine, order.len());
        }
        if levels[i] < top {
            let next = (levels[i] as f64 + 1.0) / magnitude[i];
            events.push(std::cmp::Reverse((OrderedT(next), i)));
        }
    }
    levels.fill(0);
    for &i in &order[..best.1] {
        levels[i] += 1;
    }
    levels
}

/// A finite positive rescaling, ordered (the sweep's heap key).
#[derive(Clone, Copy, Debug, PartialEq)]
struct OrderedT(f64);

impl Eq for OrderedT {}

impl PartialOrd for OrderedT {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrderedT {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn gaussian_rows(n: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        (0..n * dim)
            .map(|_| crate::projection::standard_normal(&mut rng) as f32)
            .collect()
    }

    fn dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
    }

    /// cos(x, v(t)) for the grid point of rescaling t, computed directly.
    fn cosine_at(x: &[f32], t: f64, top: u32) -> f64 {
        let mags: Vec<f64> = x
            .iter()
            .map(|v| ((t * v.abs() as f64).floor().min(top as f64)) + 0.5)
            .collect();
        let d: f64 = mags.iter().zip(x).map(|(m, v)| m * v.abs() as f64).sum();
        d / mags.iter().map(|m| m * m).sum::<f64>().sqrt()
    }

    #[test]
    fn the_sweep_finds_the_best_grid_point_of_a_dense_scan_of_rescalings() {
        for (bits, seed) in [(2, 1), (3, 2), (4, 3), (6, 4)] {
            let mut x = gaussian_rows(1, 24, seed);
            let n = dot(&x, &x).sqrt() as f32;
            x.iter_mut().for_each(|v| *v /= n);
            let top = (1u32 << (bits - 1)) - 1;
            let levels = best_grid_point(&x, bits);
            let found = {
                let mags: Vec<f64> = levels.iter().map(|&k| k as f64 + 0.5).collect();
                let d: f64 = mags.iter().zip(&x).map(|(m, v)| m * v.abs() as f64).sum();
                d / mags.iter().map(|m| m * m).sum::<f64>().sqrt()
            };
            let scanned = (0..200_000)
                .map(|s| cosine_at(&x, s as f64 * 1e-3, top))
                .fold(0.0, f64::max);
            assert!(found >= scanned - 1e-9, "bits {bits}: {found} < {scanned}");
            assert!(levels.iter().all(|&k| k <= top));
        }
    }

    #[test]
    fn the_one_bit_alignment_matches_its_closed_form() {
        // For x uniform on the sphere, ⟨ō, o⟩ = Σ|x_i|/√D has mean √D·E|x_1| with
        // E|x_1| = Γ(D/2)/(√π·Γ((D+1)/2)) (≈ √(2/π) for large D, RaBitQ §3.2).
        let dim = 64;
        let data = gaussian_rows(4000, dim, 7);
        let q = RaBitQ::train_with_centres(&data, dim, 1, 1, 11).unwrap();
        let codes = q.encode_all(&data);
        let mean_alignment: f64 = codes
            .chunks_exact(q.code_bytes())
            .zip(data.chunks_exact(dim))
            .map(|(code, o)| {
                let (_, a, _) = q.factors(code);
                let r =
                    dot(o, o) - 2.0 * dot(o, q.centre_of(code)) + dot(q.centre_of(code), q.centre_of(code));
                // a = r/(‖v‖·⟨ō,o⟩) with ‖v‖ = √D/2.
                r.sqrt() / (a as f64 * (dim as f64).sqrt() / 2.0)
            })
            .sum::<f64>()
            / 4000.0;
        let d = dim as f64;
        // R(D) = Γ(D/2)/Γ((D+1)/2) from R(2) = 2/√π and R(m + 2) = R(m)·m/(m + 1).
        let mut ratio = 2.0 / std::f64::consts::PI.sqrt();
        let mut m = 2.0;
        while m < d {
            ratio *= m / (m + 1.0);
            m += 2.0;
        }
        let expected = d.sqrt() * ratio / std::f64::consts::PI.sqrt();
        assert!(
            (mean_alignment - expected).abs() < 0.005,
            "{mean_alignment} vs {expected}"
        );
    }

    #[test]
    fn table_distances_equal_the_estimator_computed_directly() {
        let dim = 20;
        let data = gaussian_rows(50, dim, 3);
        for bits in [1, 2, 4] {
            let q = RaBitQ::train_with_centres(&data, dim, bits, 4, 5).unwrap();
            assert_eq!(q.centre_count(), 4);
            let codes = q.encode_all(&data);
            let query = &gaussian_rows(1, dim, 99)[..];
            let mut table = Vec::new();
            for similarity in [Similarity::SquaredL2, Similarity::NegativeDot] {
                let k = q.fill_table(query, similarity, &mut table);
                for (code, o) in codes.chunks_exact(q.code_bytes()).zip(data.chunks_exact(dim)) {
                    // One vector encoded alone (its centre rotated on the spot) is the batch's code.
                    let centre = q.centre_index(code);
                    let mut alone = vec![0u8; q.code_bytes()];
                    q.encode(o, centre, &mut alone, &mut Vec::new());
                    assert_eq!(alone, code);
                    let mut x_hat = vec![0f32; dim];
                    q.decode(code, &mut x_hat);
                    let c = q.centre_of(code);
                    let minus_c = |v: &[f32]| v.iter().zip(c).map(|(a, c)| a - c).collect::<Vec<f32>>();
                    // The estimator is ⟨x̂ − c_j, q − c_j⟩ for the reconstruction x̂, with
                    // r² = ‖o − c_j‖² in place of ‖x̂ − c_j‖².
                    let direct = match similarity {
                        Similarity::SquaredL2 => {
                            let (qc, xc, oc) = (minus_c(query), minus_c(&x_hat), minus_c(o));
                            dot(&oc, &oc) + dot(&qc, &qc) - 2.0 * dot(&xc, &qc)
                        }
                        Similarity::NegativeDot => -dot(&x_hat, query),
                    };
                    let got = q.distance(&table, &k, code) as f64;
                    assert!(
                        (got - direct).abs() < 1e-3 * (1.0 + direct.abs()),
                        "{got} vs {direct}"
                    );
                }
            }
        }
    }

    #[test]
    fn estimates_are_unbiased_and_the_bound_is_a_z_score() {
        // Over random rotations (seeds) the mean error is ~0 (the estimator is unbiased), and
        // for a near-orthogonal pair the share outside the bound is P(|z| > ε₀): 5.7 % at 1.9,
        // 0.006 % at 4, 62 % at 0.5 (module doc).
        let dim = 128;
        let train = gaussian_rows(200, dim, 20);
        let pair = gaussian_rows(2, dim, 21);
        let (o, query) = pair.split_at(dim);
        for (bits, centres) in [(1, 1), (3, 1), (1, 4)] {
            let mut errors = Vec::new();
            let mut outside = [0usize; 3];
            let trials = 400;
            for seed in 0..trials {
                let q = RaBitQ::train_with_centres(&train, dim, bits, centres, seed).unwrap();
                let code = q.encode_all(o);
                let mut table = Vec::new();
                let k = q.fill_table(query, Similarity::SquaredL2, &mut table);
                let bound = q.error_bound(&table, &code) as f64;
                let exact: f64 = o.iter().zip(query).map(|(a, b)| ((a - b) as f64).powi(2)).sum();
                let err = q.distance(&table, &k, &code) as f64 - exact;
                for (count, eps) in outside.iter_mut().zip([1.9, 4.0, 0.5]) {
                    *count += usize::from(err.abs() > eps * bound);
                }
                errors.push(err);
            }
            let n = errors.len() as f64;
            let mean = errors.iter().sum::<f64>() / n;
            let sd = (errors.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
            assert!(
                sd > 0.0 && mean.abs() < 3.5 * sd / n.sqrt(),
                "bits {bits}: bias {mean} (sd {sd})"
            );
            let share = |c: usize| c as f64 / trials as f64;
            assert!(
                (0.02..0.11).contains(&share(outside[0])),
                "bits {bits}: {outside:?}"
            );
            assert!(outside[1] <= 1, "bits {bits}: {outside:?}");
            assert!(
                (0.5..0.75).contains(&share(outside[2])),
                "bits {bits}: {outside:?}"
            );
        }
    }

    #[test]
    fn more_bits_estimate_better() {
        let dim = 96;
        let data = gaussian_rows(400, dim, 8);
        let mut last = f64::INFINITY;
        for bits in [1, 2, 4, 8] {
            let q = RaBitQ::train(&data, dim, bits, 1).unwrap();
            let codes = q.encode_all(&data);
            let mut table = Vec::new();
            let mut sse = 0.0;
            for query in data.chunks_exact(dim).take(20) {
                let k = q.fill_table(query, Similarity::SquaredL2, &mut table);
                for (code, o) in codes.chunks_exact(q.code_bytes()).zip(data.chunks_exact(dim)) {
                    let exact: f64 = o.iter().zip(query).map(|(a, b)| ((a - b) as f64).powi(2)).sum();
                    sse += (q.distance(&table, &k, code) as f64 - exact).powi(2);
                }
            }
            assert!(sse < 0.5 * last, "bits {bits}: {sse} vs {last}");
            last = sse;
        }
    }

    #[test]
    fn stored_parameters_round_trip_and_a_bent_rotation_is_rejected() {
        let dim = 12;
        let data = gaussian_rows(30, dim, 4);
        let q = RaBitQ::train_with_centres(&data, dim, 2, 3, 9).unwrap();
        let back = RaBitQ::from_parameters(dim, 2, &q.parameters()).unwrap();
        assert_eq!(back, q);
        let mut bent = q.parameters();
        bent[3 * dim + 40] += 0.1;
        assert!(RaBitQ::from_parameters(dim, 2, &bent).is_err());
        assert!(RaBitQ::from_parameters(dim, 9, &q.parameters()).is_err());
        assert!(RaBitQ::from_parameters(dim, 2, &q.parameters()[1..]).is_err());
    }
}
