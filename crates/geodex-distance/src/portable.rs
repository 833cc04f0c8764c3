//! Portable kernels in plain Rust, used where no SIMD path applies (non-x86 targets, or an
//! x86 CPU without AVX2). Eight independent accumulators break the dependency chain of a
//! naive sum so LLVM can vectorise the loop for whatever the target baseline offers.

const LANES: usize = 8;

/// Σ term(aᵢ, bᵢ) over the common prefix, with [`LANES`] independent accumulators.
#[inline(always)]
fn sum_f32(a: &[f32], b: &[f32], term: impl Fn(f32, f32) -> f32) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; LANES];
    let mut chunks_a = a.chunks_exact(LANES);
    let mut chunks_b = b.chunks_exact(LANES);
    for (ca, cb) in (&mut chunks_a).zip(&mut chunks_b) {
        for i in 0..LANES {
            acc[i] += term(ca[i], cb[i]);
        }
    }
    let tail: f32 = chunks_a
        .remainder()
        .iter()
        .zip(chunks_b.remainder())
        .map(|(&x, &y)| term(x, y))
        .sum();
    acc.iter().sum::<f32>() + tail
}

/// ‖a − b‖², accumulated in `f32`.
#[inline]
pub fn squared_l2_f32(a: &[f32], b: &[f32]) -> f32 {
    sum_f32(a, b, |x, y| (x - y) * (x - y))
}

/// ⟨a, b⟩, accumulated in `f32`.
#[inline]
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    sum_f32(a, b, |x, y| x * y)
}

/// ‖a − b‖² for bytes, exact in `u32` (callers keep dimensions ≤ 66 051 so that
/// d · 255² < 2³²; `geodex-io` enforces a smaller limit).
#[inline]
pub fn squared_l2_u8(a: &[u8], b: &[u8]) -> u32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = x as i32 - y as i32;
            (d * d) as u32
        })
        .sum()
}

/// ⟨a, b⟩ for bytes, exact in `u32` (same dimension limit as [`squared_l2_u8`]).
#[inline]
pub fn dot_u8(a: &[u8], b: &[u8]) -> u32 {
    a.iter().zip(b).map(|(&x, &y)| x as u32 * y as u32).sum()
}

/// The smallest 1 − ‖x‖² the Poincaré rank key divides by: points are validated to have
/// ‖x‖ < 1 in `f64`, so this only guards a vector rounded onto the boundary after validation.
pub const POINCARE_MIN_CONFORMAL: f64 = 1e-15;

/// δ(a, b) = ‖a−b‖² / ((1−‖a‖²)(1−‖b‖²)), the monotone rank key of the Poincaré distance
/// d = arcosh(1 + 2δ), in one fused pass accumulated in `f64`.
///
/// Why `f64`: a leaf of a hierarchy embedding sits at ‖x‖² ≈ 1 − 10⁻⁶; an `f32` sum of squares
/// carries an absolute error near 10⁻⁷, which would be a 10 % error in 1 − ‖x‖² and so in δ.
/// In `f64` the relative error of δ stays near 10⁻¹⁰ for ‖x‖² ≤ 1 − 10⁻⁶; the result is rounded
/// to `f32` once (relative 6·10⁻⁸), which moves d by at most about 6·10⁻⁸ for large δ (where
/// d ≈ ln 4δ) and less for small δ (where d ≈ 2√δ). Hierarchy embeddings have tens of
/// dimensions, so the `f64` pass costs nanoseconds.
#[inline]
pub fn poincare_ratio_f32(a: &[f32], b: &[f32]) -> f64 {
    let (mut diff, mut norm_a, mut norm_b) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64, y as f64);
        diff += (x - y) * (x - y);
        norm_a += x * x;
        norm_b += y * y;
    }
    let alpha = (1.0 - norm_a).max(POINCARE_MIN_CONFORMAL);
    let beta = (1.0 - norm_b).max(POINCARE_MIN_CONFORMAL);
    diff / (alpha * beta)
}
