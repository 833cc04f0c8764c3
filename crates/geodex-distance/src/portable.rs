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
