//! One fixed-size code per stored vector, as an index keeps them in place of the vectors, and
//! the asymmetric distance (ADC: the query stays exact) from a query to a code.
//!
//! A [`Codec`] is a trained quantiser in its storage form: SQ8 (one byte per dimension), PQ8
//! (one byte per sub-space), PQ4 (two sub-space codes per byte, low nibble first — half the
//! bytes of PQ8 at the same m), or a random projection to k dimensions (k little-endian `f32`,
//! THEORY.md §11.2: distances between projections estimate the full ones). Per query, [`Codec::with_adc`] fills a lookup table once and
//! hands a monomorphised distance function to a visitor, so a graph traversal calls one
//! inlined loop per code and never branches on the codec kind.
//!
//! The fast-scan layout of [`crate::fastscan`] interleaves the codes of 32 vectors; a graph
//! traversal reads the codes of one node's neighbours, scattered across the collection, so the
//! per-node layout here is the one an HNSW walk can use.

use crate::pq::ProductQuantizer;
use crate::projection::{ProjectionKind, RandomProjection};
use crate::rabitq::RaBitQ;
use crate::sq8::Sq8;
use crate::QuantError;
pub use crate::Similarity;

/// Which quantiser, before training.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodecSpec {
    /// [`Sq8`]: one byte per dimension.
    Sq8,
    /// Product quantisation with `m` sub-spaces of 2^`bits` centroids (`bits` 8 or 4).
    Pq {
        /// Sub-spaces; must divide the dimension.
        m: usize,
        /// Bits per sub-space code: 8 (PQ8) or 4 (PQ4).
        bits: u32,
    },
    /// A Johnson–Lindenstrauss projection to `k` dimensions, stored as `f32`.
    Projection {
        /// Output dimension.
        k: usize,
        /// Gaussian or sparse (Achlioptas) matrix.
        kind: ProjectionKind,
    },
    /// [`RaBitQ`] with `bits` bits per dimension (1…8).
    RaBitQ {
        /// Bits per dimension.
        bits: u32,
    },
}

/// Options of [`CodecSpec::parse`] besides the name.
#[derive(Clone, Copy, Debug, Default)]
pub struct CodecOptions {
    /// PQ sub-spaces.
    pub pq_m: Option<usize>,
    /// Projection output dimension.
    pub proj_k: Option<usize>,
}

impl CodecSpec {
    /// Parses `sq8`, `pq8`, `pq4`, `proj`, `proj-sparse`, `proj-orth` or `rabitq[:BITS]` (one
    /// bit per dimension by default). The PQ sub-space count defaults to
    /// dim/4 for PQ8 and dim/2 for PQ4 (both 2 bits per dimension, FAISS's common `PQ{d/4}` and
    /// `PQ{d/2}x4` settings); the projection's k to dim/4. `None` for `none`.
    pub fn parse(name: &str, options: CodecOptions, dim: usize) -> Result<Option<CodecSpec>, QuantError> {
        let m = options.pq_m;
        if m.is_some() && !name.starts_with("pq") {
            return Err(QuantError::InvalidParameter(format!(
                "a PQ sub-space count applies to pq8 and pq4, not {name}"
            )));
        }
        if options.proj_k.is_some() && !name.starts_with("proj") {
            return Err(QuantError::InvalidParameter(format!(
                "a projection dimension applies to proj and proj-sparse, not {name}"
            )));
        }
        let projection = |kind| {
            let k = options.proj_k.unwrap_or((dim / 4).max(1));
            if k == 0 {
                return Err(QuantError::InvalidParameter(
                    "the projection dimension must be ≥ 1".into(),
                ));
            }
            Ok(Some(CodecSpec::Projection { k, kind }))
        };
        let pq = |bits: u32, default_m: usize| {
            let m = m.unwrap_or(default_m.max(1));
            if m == 0 || !dim.is_multiple_of(m) {
                return Err(QuantError::InvalidParameter(format!(
                    "the PQ sub-space count {m} must divide the dimension {dim}"
                )));
            }
            Ok(Some(CodecSpec::Pq { m, bits }))
        };
        match name {
            "none" => Ok(None),
            "sq8" => Ok(Some(CodecSpec::Sq8)),
            "pq8" => pq(8, dim / 4),
            "pq4" => pq(4, dim / 2),
            "proj" => projection(ProjectionKind::Gaussian),
            "proj-sparse" => projection(ProjectionKind::Sparse),
            "proj-orth" => projection(ProjectionKind::Orthogonal),
            "rabitq" => Ok(Some(CodecSpec::RaBitQ { bits: 1 })),
            other => match other.strip_prefix("rabitq:") {
                Some(bits) => {
                    let bits = bits.parse().map_err(|_| {
                        QuantError::InvalidParameter(format!("rabitq:{bits}: the bits must be a number 1 to 8"))
                    })?;
                    RaBitQ::check_bits(bits)?;
                    Ok(Some(CodecSpec::RaBitQ { bits }))
                }
                None => Err(QuantError::InvalidParameter(format!(
                    "unknown quantiser '{other}' (expected none, sq8, pq8, pq4, proj, proj-sparse, proj-orth or rabitq[:BITS])"
                ))),
            },
        }
    }

    /// Trains the quantiser on the rows of `data` (PQ's k-means seeded with `seed`).
    pub fn train(self, data: &[f32], dim: usize, seed: u64) -> Result<Codec, QuantError> {
        match self {
            CodecSpec::Sq8 => Sq8::train(data, dim).map(Codec::Sq8),
            CodecSpec::Pq { m, bits } => ProductQuantizer::train(data, dim, m, bits, seed).map(Codec::of_pq),
            CodecSpec::Projection { k, kind } => {
                RandomProjection::new(kind, dim, k, seed).map(Codec::Projection)
            }
            CodecSpec::RaBitQ { bits } => RaBitQ::train(data, dim, bits, seed).map(Codec::RaBitQ),
        }
    }
}

/// A trained quantiser in its storage form.
#[derive(Clone, Debug, PartialEq)]
pub enum Codec {
    /// Scalar quantisation, one byte per dimension.
    Sq8(Sq8),
    /// Product quantisation with 256 centroids per sub-space, one byte per code.
    Pq8(ProductQuantizer),
    /// Product quantisation with 16 centroids per sub-space, two codes per byte.
    Pq4(ProductQuantizer),
    /// A random projection; codes are the projected vectors as little-endian `f32`.
    Projection(RandomProjection),
    /// RaBitQ: B bit planes and three factors per code, with an error bound per estimate.
    RaBitQ(RaBitQ),
}

/// Receives the per-query distance function of [`Codec::with_adc`].
pub trait AdcVisitor {
    /// What the visit returns.
    type Output;
    /// Called once with `distance(code)`, the asymmetric distance to one stored code.
    fn visit<F: Fn(&[u8]) -> f32>(self, distance: F) -> Self::Output;
}

impl Codec {
    /// The storage form of a trained product quantiser: [`Codec::Pq4`] for 16 centroids per
    /// sub-space, [`Codec::Pq8`] for 256.
    pub fn of_pq(pq: ProductQuantizer) -> Codec {
        if pq.bits() == 4 {
            Codec::Pq4(pq)
        } else {
            Codec::Pq8(pq)
        }
    }

    /// The name used on the command line and in `info` (`sq8`, `pq8`, `pq4`, `rabitq`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Codec::Sq8(_) => "sq8",
            Codec::Pq4(_) => "pq4",
            Codec::Pq8(_) => "pq8",
            Codec::Projection(p) => match p.kind() {
                ProjectionKind::Gaussian => "proj",
                ProjectionKind::Sparse => "proj-sparse",
                ProjectionKind::Orthogonal => "proj-orth",
            },
            Codec::RaBitQ(_) => "rabitq",
        }
    }

    /// The untrained description of this codec.
    pub fn spec(&self) -> CodecSpec {
        match self {
            Codec::Sq8(_) => CodecSpec::Sq8,
            Codec::Pq8(pq) | Codec::Pq4(pq) => CodecSpec::Pq {
                m: pq.m(),
                bits: pq.bits(),
            },
            Codec::Projection(p) => CodecSpec::Projection {
                k: p.to(),
                kind: p.kind(),
            },
            Codec::RaBitQ(r) => CodecSpec::RaBitQ { bits: r.bits() },
        }
    }

    /// Dimension of the vectors.
    pub fn dim(&self) -> usize {
        match self {
            Codec::Sq8(s) => s.dim(),
            Codec::Pq8(pq) | Codec::Pq4(pq) => pq.dim(),
            Codec::Projection(p) => p.from(),
            Codec::RaBitQ(r) => r.dim(),
        }
    }

    /// Bytes per stored code.
    pub fn code_bytes(&self) -> usize {
        match self {
            Codec::Sq8(s) => s.dim(),
            Codec::Pq4(pq) => pq.m().div_ceil(2),
            Codec::Pq8(pq) => pq.m(),
            Codec::Projection(p) => 4 * p.to(),
            Codec::RaBitQ(r) => r.code_bytes(),
        }
    }

    /// The trained parameters as one `f32` array — the index file's codebook section: SQ8 the
    /// per-dimension minima then steps; PQ sub-space j's 2^bits centroids, j = 0…m−1; a
    /// projection its k × dim matrix; RaBitQ its K centres then its D × dim rotation.
    pub fn parameters(&self) -> Vec<f32> {
        match self {
            Codec::Sq8(s) => s.min.iter().chain(&s.step).copied().collect(),
            Codec::Pq8(pq) | Codec::Pq4(pq) => (0..pq.m())
                .flat_map(|j| pq.codebook(j).centroids.iter().copied())
                .collect(),
            Codec::Projection(p) => p.matrix().to_vec(),
            Codec::RaBitQ(r) => r.parameters(),
        }
    }

    /// Bytes the codec derives in memory from its parameters to search and never stores (a
    /// PQ's component-major centroids, [`ProductQuantizer::derived_bytes`]; 0 for the others):
    /// resident while searching, so part of an index's `ram_bytes`, but no file section.
    pub fn derived_bytes(&self) -> usize {
        match self {
            Codec::Pq8(pq) | Codec::Pq4(pq) => pq.derived_bytes(),
            Codec::Sq8(_) | Codec::Projection(_) | Codec::RaBitQ(_) => 0,
        }
    }

    /// The number of floats [`Codec::parameters`] returns (without building them).
    pub fn parameter_count(&self) -> usize {
        match self {
            Codec::Sq8(s) => 2 * s.dim(),
            Codec::Pq8(pq) | Codec::Pq4(pq) => pq.ksub() * pq.dim(),
            Codec::Projection(p) => p.to() * p.from(),
            Codec::RaBitQ(r) => r.parameter_count(),
        }
    }

    /// Rebuilds a codec from [`Codec::spec`] and [`Codec::parameters`], checking the length and
    /// that every parameter is finite (and SQ8 steps ≥ 0, a RaBitQ rotation orthonormal).
    pub fn from_parameters(spec: CodecSpec, dim: usize, params: &[f32]) -> Result<Codec, QuantError> {
        if let Some(i) = params.iter().position(|x| !x.is_finite()) {
            return Err(QuantError::InvalidParameter(format!(
                "codebook parameter {i} is not finite"
            )));
        }
        match spec {
            CodecSpec::Sq8 => {
                expect_len(params, 2 * dim)?;
                let (min, step) = params.split_at(dim);
                if step.iter().any(|&s| s < 0.0) {
                    return Err(QuantError::InvalidParameter("negative SQ8 step".into()));
                }
                Ok(Codec::Sq8(Sq8 {
                    min: min.to_vec(),
                    step: step.to_vec(),
                }))
            }
            CodecSpec::Pq { m, bits } => {
                if m == 0 || !dim.is_multiple_of(m) || !(bits == 4 || bits == 8) {
                    return Err(QuantError::InvalidParameter(format!(
                        "PQ with m = {m}, {bits} bits for dimension {dim}"
                    )));
                }
                expect_len(params, (1usize << bits) * dim)?;
                Ok(Codec::of_pq(ProductQuantizer::from_centroids(
                    dim, m, bits, params,
                )))
            }
            CodecSpec::Projection { k, kind } => {
                if k == 0 {
                    return Err(QuantError::InvalidParameter("projection to 0 dimensions".into()));
                }
                expect_len(params, k * dim)?;
                Ok(Codec::Projection(RandomProjection::from_matrix(
                    kind, dim, k, params,
                )))
            }
            CodecSpec::RaBitQ { bits } => RaBitQ::from_parameters(dim, bits, params).map(Codec::RaBitQ),
        }
    }

    /// Encodes every row of `data` into [`Codec::code_bytes`] bytes.
    pub fn encode_all(&self, data: &[f32]) -> Vec<u8> {
        match self {
            Codec::Sq8(s) => s.encode_all(data),
            Codec::Pq4(pq) => {
                let m = pq.m();
                let mut packed = Vec::with_capacity(data.len() / pq.dim() * m.div_ceil(2));
                for code in pq.encode_all(data).chunks_exact(m) {
                    pack_nibbles(code, &mut packed);
                }
                packed
            }
            Codec::Pq8(pq) => pq.encode_all(data),
            Codec::Projection(p) => p.project_all(data).iter().flat_map(|x| x.to_le_bytes()).collect(),
            Codec::RaBitQ(r) => r.encode_all(data),
        }
    }

    /// Checks stored codes beyond their length: a RaBitQ code must name an existing centre and
    /// carry finite factors ([`RaBitQ::check_code`]); every other code is valid whatever its bytes.
    pub fn check_codes(&self, codes: &[u8]) -> Result<(), QuantError> {
        let Codec::RaBitQ(r) = self else {
            return Ok(());
        };
        for (row, code) in codes.chunks_exact(self.code_bytes()).enumerate() {
            r.check_code(code)
                .map_err(|reason| QuantError::BadVector { row, reason })?;
        }
        Ok(())
    }

    /// The reconstruction of one stored `code` (as [`Codec::encode_all`] wrote it) into `out`.
    /// A projection has no inverse: its "reconstruction" is the adjoint Pᵀy (unbiased, noisy),
    /// and its distances are measured in the projected space, not to this vector.
    pub fn decode(&self, code: &[u8], out: &mut [f32]) {
        match self {
            Codec::Sq8(s) => s.decode(code, out),
            Codec::Pq4(pq) => {
                let unpacked: Vec<u8> = (0..pq.m()).map(|j| nibble(code, j)).collect();
                pq.decode(&unpacked, out);
            }
            Codec::Pq8(pq) => pq.decode(code, out),
            Codec::Projection(p) => p.adjoint(&floats(code).collect::<Vec<_>>(), out),
            Codec::RaBitQ(r) => r.decode(code, out),
        }
    }

    /// Prepares `query` for `similarity` into `table` (cleared and refilled: no allocation
    /// once it has grown) and calls `visitor` with the distance function of this codec. The
    /// function's value is ‖q − x̂‖² or −⟨q, x̂⟩ for the reconstruction x̂ of the code; for a
    /// projection P it is ‖Pq − Px‖² or −⟨Pq, Px⟩, the Johnson–Lindenstrauss estimates.
    pub fn with_adc<V: AdcVisitor>(
        &self,
        query: &[f32],
        similarity: Similarity,
        table: &mut Vec<f32>,
        visitor: V,
    ) -> V::Output {
        table.clear();
        match self {
            Codec::Sq8(s) => sq8_adc(s, query, similarity, table, visitor),
            Codec::Pq8(pq) => {
                pq.fill_table(query, similarity, table);
                let (t, ksub) = (table.as_slice(), pq.ksub());
                visitor.visit(move |code: &[u8]| pq8_distance(t, ksub, code))
            }
            Codec::Pq4(pq) => {
                pq.fill_table(query, similarity, table);
                let t = table.as_slice();
                visitor.visit(move |code: &[u8]| pq4_packed_distance(t, code))
            }
            Codec::Projection(p) => {
                table.resize(p.to(), 0.0);
                p.project(query, table);
                let t = table.as_slice();
                match similarity {
                    Similarity::SquaredL2 => {
                        visitor.visit(move |code: &[u8]| lanes_f32(t, code, |a, c| (a - c) * (a - c)))
                    }
                    Similarity::NegativeDot => {
                        visitor.visit(move |code: &[u8]| -lanes_f32(t, code, |a, c| a * c))
                    }
                }
            }
            Codec::RaBitQ(r) => {
                let constants = r.fill_table(query, similarity, table);
                let t = table.as_slice();
                visitor.visit(move |code: &[u8]| r.distance(t, &constants, code))
            }
        }
    }

    /// Whether the estimates carry an error bound ([`Codec::error_bound`]): RaBitQ's do.
    pub fn has_error_bound(&self) -> bool {
        matches!(self, Codec::RaBitQ(_))
    }

    /// For a codec whose estimates carry an error bound (RaBitQ): the half-width per unit ε₀ of
    /// the confidence interval of `code`'s estimate, from the `table` [`Codec::with_adc`] filled
    /// for the query ([`RaBitQ::error_bound`]).
    pub fn error_bound(&self, table: &[f32], code: &[u8]) -> Option<f32> {
        match self {
            Codec::RaBitQ(r) => Some(r.error_bound(table, code)),
            _ => None,
        }
    }
}

fn expect_len(params: &[f32], want: usize) -> Result<(), QuantError> {
    if params.len() != want {
        return Err(QuantError::InvalidParameter(format!(
            "codebook holds {} values, expected {want}",
            params.len()
        )));
    }
    Ok(())
}

/// The little-endian `f32` components of a projection code.
fn floats(code: &[u8]) -> impl Iterator<Item = f32> + '_ {
    code.chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Σ_i term(a_i, code_i) over a code of little-endian `f32`, eight accumulators (see [`lanes`]).
#[inline(always)]
fn lanes_f32(a: &[f32], code: &[u8], term: impl Fn(f32, f32) -> f32) -> f32 {
    const W: usize = 8;
    let mut acc = [0f32; W];
    let whole = a.len() / W * W;
    for (a, c) in a[..whole]
        .chunks_exact(W)
        .zip(code[..4 * whole].chunks_exact(4 * W))
    {
        for i in 0..W {
            let x = f32::from_le_bytes([c[4 * i], c[4 * i + 1], c[4 * i + 2], c[4 * i + 3]]);
            acc[i] += term(a[i], x);
        }
    }
    let tail: f32 = a[whole..]
        .iter()
        .zip(floats(&code[4 * whole..]))
        .map(|(&a, c)| term(a, c))
        .sum();
    acc.iter().sum::<f32>() + tail
}

/// Appends the 4-bit codes of `code` two per byte, sub-space 2i in the low nibble of byte i.
fn pack_nibbles(code: &[u8], out: &mut Vec<u8>) {
    out.extend(code.chunks(2).map(|p| p[0] | p.get(1).map_or(0, |&hi| hi << 4)));
}

/// Sub-space `j`'s code from a packed PQ4 code (two per byte, low nibble first).
#[inline]
pub fn nibble(packed: &[u8], j: usize) -> u8 {
    (packed[j / 2] >> (4 * (j % 2))) & 0x0f
}

/// Σ_j table[j·ksub + code_j]: the PQ8 ADC sum. Four partial sums break the add chain.
#[inline]
pub(crate) fn pq8_distance(table: &[f32], ksub: usize, code: &[u8]) -> f32 {
    let mut acc = [0f32; 4];
    let mut quads = code.chunks_exact(4);
    let mut base = 0;
    for q in &mut quads {
        for (i, &c) in q.iter().enumerate() {
            acc[i] += table[base + i * ksub + c as usize];
        }
        base += 4 * ksub;
    }
    for (i, &c) in quads.remainder().iter().enumerate() {
        acc[i] += table[base + i * ksub + c as usize];
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

/// The PQ4 ADC sum over a packed code: byte i holds sub-spaces 2i (low) and 2i+1 (high), whose
/// 16-entry tables sit next to each other, so byte i indexes a 32-entry block.
#[inline]
fn pq4_packed_distance(table: &[f32], code: &[u8]) -> f32 {
    let mut lo = 0f32;
    let mut hi = 0f32;
    for (i, &b) in code.iter().enumerate() {
        let block = &table[i * 32..];
        lo += block[(b & 0x0f) as usize];
        if let Some(&t) = block.get(16 + (b >> 4) as usize) {
            hi += t;
        }
    }
    lo + hi
}

/// SQ8's ADC. L2: ‖q − (min + c·step)‖² = Σ_j (a_j − c_j·step_j)² with a = q − min, so the
/// table holds a then step. Inner product: −⟨q, min + c·step⟩ = −⟨q, min⟩ + Σ_j w_j c_j with
/// w = −q·step, so the table holds w and the constant.
fn sq8_adc<V: AdcVisitor>(
    s: &Sq8,
    q: &[f32],
    similarity: Similarity,
    table: &mut Vec<f32>,
    v: V,
) -> V::Output {
    let dim = s.dim();
    match similarity {
        Similarity::SquaredL2 => {
            table.extend(q.iter().zip(&s.min).map(|(x, lo)| x - lo));
            table.extend_from_slice(&s.step);
            let (a, step) = table.split_at(dim);
            #[cfg(target_arch = "x86_64")]
            if avx2_fma() {
                // SAFETY: the CPU has AVX2 and FMA, the features the kernel is compiled for.
                return v.visit(move |code: &[u8]| unsafe { sq8_l2_avx2(a, step, code) });
            }
            v.visit(move |code: &[u8]| sq8_l2(a, step, code))
        }
        Similarity::NegativeDot => {
            let offset: f32 = -q.iter().zip(&s.min).map(|(x, lo)| x * lo).sum::<f32>();
            table.extend(q.iter().zip(&s.step).map(|(x, st)| -x * st));
            let w = table.as_slice();
            #[cfg(target_arch = "x86_64")]
            if avx2_fma() {
                // SAFETY: as above.
                return v.visit(move |code: &[u8]| offset + unsafe { sq8_dot_avx2(w, code) });
            }
            v.visit(move |code: &[u8]| offset + sq8_dot(w, code))
        }
    }
}

/// Σ_j (a_j − code_j·step_j)², the SQ8 squared distance with a_j = q_j − min_j.
#[inline(always)]
pub fn sq8_l2(a: &[f32], step: &[f32], code: &[u8]) -> f32 {
    lanes(a, step, code, |a, s, c| (a - c * s) * (a - c * s))
}

/// Σ_j w_j·code_j, the code-dependent part of the SQ8 inner product.
#[inline(always)]
pub fn sq8_dot(w: &[f32], code: &[u8]) -> f32 {
    lanes(w, w, code, |w, _, c| w * c)
}

/// Whether this CPU runs [`sq8_l2_avx2`] and [`sq8_dot_avx2`] (the answer is cached by std).
#[cfg(target_arch = "x86_64")]
pub fn avx2_fma() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

/// [`sq8_l2`] compiled for AVX2: the same lane-split sum in the same order (so the same bits),
/// with the byte-to-float conversion and the eight lanes in one 256-bit register instead of two
/// SSE2 halves — 1.15–1.5× the walk's queries per second on minilm (BENCHMARKS, 2026-11-30).
///
/// # Safety
/// The CPU must have AVX2 and FMA ([`avx2_fma`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn sq8_l2_avx2(a: &[f32], step: &[f32], code: &[u8]) -> f32 {
    sq8_l2(a, step, code)
}

/// [`sq8_dot`] compiled for AVX2, as [`sq8_l2_avx2`].
///
/// # Safety
/// The CPU must have AVX2 and FMA ([`avx2_fma`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn sq8_dot_avx2(w: &[f32], code: &[u8]) -> f32 {
    sq8_dot(w, code)
}

/// Σ_j term(a_j, b_j, code_j) with eight independent accumulators, so the compiler can keep
/// them in vector registers (a single running `f32` sum cannot be reordered, so it would not
/// vectorise).
#[inline(always)]
fn lanes(a: &[f32], b: &[f32], code: &[u8], term: impl Fn(f32, f32, f32) -> f32) -> f32 {
    const W: usize = 8;
    let mut acc = [0f32; W];
    let whole = code.len() / W * W;
    for ((a, b), c) in a[..whole]
        .chunks_exact(W)
        .zip(b[..whole].chunks_exact(W))
        .zip(code[..whole].chunks_exact(W))
    {
        for i in 0..W {
            acc[i] += term(a[i], b[i], c[i] as f32);
        }
    }
    let tail: f32 = (whole..code.len())
        .map(|j| term(a[j], b[j], code[j] as f32))
        .sum();
    acc.iter().sum::<f32>() + tail
}
