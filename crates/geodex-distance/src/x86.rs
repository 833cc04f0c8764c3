//! x86-64 SIMD kernels: AVX2+FMA and AVX-512F. The only `unsafe` code of this crate.
//!
//! Every function here is `#[target_feature]`: calling it on a CPU without the feature is
//! undefined behaviour, so the functions are private to the crate and reached only through the
//! ISA tokens in `kernel.rs` ([`crate::Avx2`], [`crate::Avx512`]), which can only be obtained
//! from [`crate::Isa::detect`] after `is_x86_feature_detected!` said yes.
//!
//! All kernels read `min(a.len(), b.len())` elements and never past the end of either slice:
//! full-width loads only while a whole register fits, then a masked (AVX-512) or scalar tail.

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;

/// Sum of the eight lanes of a 256-bit float vector.
#[target_feature(enable = "avx2,fma")]
fn hsum256_ps(v: __m256) -> f32 {
    let lo = _mm256_castps256_ps128(v);
    let hi = _mm256_extractf128_ps::<1>(v);
    let s = _mm_add_ps(lo, hi);
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
    _mm_cvtss_f32(s)
}

/// Sum of the eight 32-bit lanes of a 256-bit integer vector (wrapping, as the lanes are).
#[target_feature(enable = "avx2")]
fn hsum256_epi32(v: __m256i) -> u32 {
    let lo = _mm256_castsi256_si128(v);
    let hi = _mm256_extracti128_si256::<1>(v);
    let s = _mm_add_epi32(lo, hi);
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b00_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b00_00_00_01>(s));
    _mm_cvtsi128_si32(s) as u32
}

/// ‖a − b‖² with AVX2+FMA: two 8-lane accumulators, 16 floats per iteration.
#[target_feature(enable = "avx2,fma")]
pub(crate) fn squared_l2_f32_avx2(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc0 = _mm256_setzero_ps();
    let mut acc1 = _mm256_setzero_ps();
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= n, so the loads of [i, i+16) stay inside both slices.
        let (a0, b0, a1, b1) = unsafe {
            (
                _mm256_loadu_ps(pa.add(i)),
                _mm256_loadu_ps(pb.add(i)),
                _mm256_loadu_ps(pa.add(i + 8)),
                _mm256_loadu_ps(pb.add(i + 8)),
            )
        };
        let d0 = _mm256_sub_ps(a0, b0);
        let d1 = _mm256_sub_ps(a1, b1);
        acc0 = _mm256_fmadd_ps(d0, d0, acc0);
        acc1 = _mm256_fmadd_ps(d1, d1, acc1);
        i += 16;
    }
    if i + 8 <= n {
        // SAFETY: i + 8 <= n, so the loads of [i, i+8) stay inside both slices.
        let (a0, b0) = unsafe { (_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i))) };
        let d0 = _mm256_sub_ps(a0, b0);
        acc0 = _mm256_fmadd_ps(d0, d0, acc0);
        i += 8;
    }
    let mut sum = hsum256_ps(_mm256_add_ps(acc0, acc1));
    for j in i..n {
        let d = a[j] - b[j];
        sum += d * d;
    }
    sum
}

/// ⟨a, b⟩ with AVX2+FMA: two 8-lane accumulators, 16 floats per iteration.
#[target_feature(enable = "avx2,fma")]
pub(crate) fn dot_f32_avx2(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc0 = _mm256_setzero_ps();
    let mut acc1 = _mm256_setzero_ps();
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= n, so the loads of [i, i+16) stay inside both slices.
        let (a0, b0, a1, b1) = unsafe {
            (
                _mm256_loadu_ps(pa.add(i)),
                _mm256_loadu_ps(pb.add(i)),
                _mm256_loadu_ps(pa.add(i + 8)),
                _mm256_loadu_ps(pb.add(i + 8)),
            )
        };
        acc0 = _mm256_fmadd_ps(a0, b0, acc0);
        acc1 = _mm256_fmadd_ps(a1, b1, acc1);
        i += 16;
    }
    if i + 8 <= n {
        // SAFETY: i + 8 <= n, so the loads of [i, i+8) stay inside both slices.
        let (a0, b0) = unsafe { (_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i))) };
        acc0 = _mm256_fmadd_ps(a0, b0, acc0);
        i += 8;
    }
    let mut sum = hsum256_ps(_mm256_add_ps(acc0, acc1));
    for j in i..n {
        sum += a[j] * b[j];
    }
    sum
}

/// Widens 16 bytes at `p` to sixteen 16-bit lanes.
///
/// # Safety
/// `p` must be valid for reading 16 bytes.
#[target_feature(enable = "avx2")]
unsafe fn load16_u8_as_i16(p: *const u8) -> __m256i {
    // SAFETY: the caller guarantees 16 readable bytes at p; loadu has no alignment requirement.
    _mm256_cvtepu8_epi16(unsafe { _mm_loadu_si128(p.cast()) })
}

/// ‖a − b‖² for bytes with AVX2: widen to i16, subtract, `madd` squares pairs into i32 lanes.
/// Exact while d · 255² < 2³² (see [`crate::portable::squared_l2_u8`]).
#[target_feature(enable = "avx2")]
pub(crate) fn squared_l2_u8_avx2(a: &[u8], b: &[u8]) -> u32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc0 = _mm256_setzero_si256();
    let mut acc1 = _mm256_setzero_si256();
    let mut i = 0;
    while i + 32 <= n {
        // SAFETY: i + 32 <= n: both 16-byte loads at i and i+16 are inside both slices.
        let (a0, b0, a1, b1) = unsafe {
            (
                load16_u8_as_i16(pa.add(i)),
                load16_u8_as_i16(pb.add(i)),
                load16_u8_as_i16(pa.add(i + 16)),
                load16_u8_as_i16(pb.add(i + 16)),
            )
        };
        let d0 = _mm256_sub_epi16(a0, b0);
        let d1 = _mm256_sub_epi16(a1, b1);
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(d0, d0));
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(d1, d1));
        i += 32;
    }
    if i + 16 <= n {
        // SAFETY: i + 16 <= n: the 16-byte loads at i are inside both slices.
        let (a0, b0) = unsafe { (load16_u8_as_i16(pa.add(i)), load16_u8_as_i16(pb.add(i))) };
        let d0 = _mm256_sub_epi16(a0, b0);
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(d0, d0));
        i += 16;
    }
    let mut sum = hsum256_epi32(_mm256_add_epi32(acc0, acc1));
    for j in i..n {
        let d = a[j] as i32 - b[j] as i32;
        sum = sum.wrapping_add((d * d) as u32);
    }
    sum
}

/// ⟨a, b⟩ for bytes with AVX2: widen to i16, `madd` multiplies and adds pairs into i32 lanes
/// (each pair ≤ 2 · 255² fits in i32).
#[target_feature(enable = "avx2")]
pub(crate) fn dot_u8_avx2(a: &[u8], b: &[u8]) -> u32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc0 = _mm256_setzero_si256();
    let mut acc1 = _mm256_setzero_si256();
    let mut i = 0;
    while i + 32 <= n {
        // SAFETY: i + 32 <= n: both 16-byte loads at i and i+16 are inside both slices.
        let (a0, b0, a1, b1) = unsafe {
            (
                load16_u8_as_i16(pa.add(i)),
                load16_u8_as_i16(pb.add(i)),
                load16_u8_as_i16(pa.add(i + 16)),
                load16_u8_as_i16(pb.add(i + 16)),
            )
        };
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(a0, b0));
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(a1, b1));
        i += 32;
    }
    if i + 16 <= n {
        // SAFETY: i + 16 <= n: the 16-byte loads at i are inside both slices.
        let (a0, b0) = unsafe { (load16_u8_as_i16(pa.add(i)), load16_u8_as_i16(pb.add(i))) };
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(a0, b0));
        i += 16;
    }
    let mut sum = hsum256_epi32(_mm256_add_epi32(acc0, acc1));
    for j in i..n {
        sum = sum.wrapping_add(a[j] as u32 * b[j] as u32);
    }
    sum
}

/// A lane mask selecting the first `r` (< 16) of sixteen lanes.
fn tail_mask(r: usize) -> __mmask16 {
    ((1u32 << r) - 1) as __mmask16
}

/// ‖a − b‖² with AVX-512F: 16 floats per iteration, masked loads for the tail.
#[target_feature(enable = "avx512f")]
pub(crate) fn squared_l2_f32_avx512(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = _mm512_setzero_ps();
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= n, so the loads of [i, i+16) stay inside both slices.
        let (va, vb) = unsafe { (_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i))) };
        let d = _mm512_sub_ps(va, vb);
        acc = _mm512_fmadd_ps(d, d, acc);
        i += 16;
    }
    if i < n {
        let m = tail_mask(n - i);
        // SAFETY: masked loads touch only the n − i (< 16) lanes selected by m, all in bounds;
        // masked-off lanes are neither read nor faulted on.
        let (va, vb) = unsafe {
            (
                _mm512_maskz_loadu_ps(m, pa.add(i)),
                _mm512_maskz_loadu_ps(m, pb.add(i)),
            )
        };
        let d = _mm512_sub_ps(va, vb);
        acc = _mm512_fmadd_ps(d, d, acc);
    }
    _mm512_reduce_add_ps(acc)
}

/// ⟨a, b⟩ with AVX-512F: 16 floats per iteration, masked loads for the tail.
#[target_feature(enable = "avx512f")]
pub(crate) fn dot_f32_avx512(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (pa, pb) = (a.as_ptr(), b.as_ptr());
    let mut acc = _mm512_setzero_ps();
    let mut i = 0;
    while i + 16 <= n {
        // SAFETY: i + 16 <= n, so the loads of [i, i+16) stay inside both slices.
        let (va, vb) = unsafe { (_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i))) };
        acc = _mm512_fmadd_ps(va, vb, acc);
        i += 16;
    }
    if i < n {
        let m = tail_mask(n - i);
        // SAFETY: masked loads touch only the n − i (< 16) lanes selected by m, all in bounds.
        let (va, vb) = unsafe {
            (
                _mm512_maskz_loadu_ps(m, pa.add(i)),
                _mm512_maskz_loadu_ps(m, pb.add(i)),
            )
        };
        acc = _mm512_fmadd_ps(va, vb, acc);
    }
    _mm512_reduce_add_ps(acc)
}
