//! x86-64 SIMD kernels: AVX2+FMA and AVX-512 (F for floats, BW for bytes). The only `unsafe` code of this crate.
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

/// Defines an AVX2+FMA reduction over `f32` pairs: `|a, b, acc| step` folds eight lanes into
/// an accumulator, `|x, y| term` handles the scalar remainder. Two accumulators, 16 floats
/// per iteration, so consecutive FMAs do not wait on each other.
///
/// Also defines `$name_x4`, the same reduction of one query against four rows at once. Each
/// row keeps its own two accumulators and sees exactly the operations of the one-row kernel in
/// the same order, so the four results equal four one-row calls bit for bit. Streaming four
/// rows together keeps four memory fetches in flight and loads the query once for four rows
/// (the idea of FAISS's `distances_batch_4`).
macro_rules! avx2_f32_reduction {
    ($(#[$doc:meta])* $name:ident, $name_x4:ident, |$a:ident, $b:ident, $acc:ident| $step:expr, |$x:ident, $y:ident| $term:expr) => {
        $(#[$doc])*
        #[target_feature(enable = "avx2,fma")]
        pub(crate) fn $name(a: &[f32], b: &[f32]) -> f32 {
            let n = a.len().min(b.len());
            let (pa, pb) = (a.as_ptr(), b.as_ptr());
            let step = |$a: __m256, $b: __m256, $acc: __m256| -> __m256 { $step };
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
                acc0 = step(a0, b0, acc0);
                acc1 = step(a1, b1, acc1);
                i += 16;
            }
            if i + 8 <= n {
                // SAFETY: i + 8 <= n, so the loads of [i, i+8) stay inside both slices.
                let (a0, b0) = unsafe { (_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i))) };
                acc0 = step(a0, b0, acc0);
                i += 8;
            }
            let mut sum = hsum256_ps(_mm256_add_ps(acc0, acc1));
            for j in i..n {
                let ($x, $y) = (a[j], b[j]);
                sum += $term;
            }
            sum
        }

        #[doc = concat!("[`", stringify!($name), "`] of `a` against four rows at once.")]
        #[target_feature(enable = "avx2,fma")]
        pub(crate) fn $name_x4(a: &[f32], rows: [&[f32]; 4]) -> [f32; 4] {
            let n = rows.iter().fold(a.len(), |n, r| n.min(r.len()));
            let pa = a.as_ptr();
            let pb = rows.map(<[f32]>::as_ptr);
            let step = |$a: __m256, $b: __m256, $acc: __m256| -> __m256 { $step };
            let mut acc0 = [_mm256_setzero_ps(); 4];
            let mut acc1 = [_mm256_setzero_ps(); 4];
            let mut i = 0;
            while i + 16 <= n {
                // SAFETY: i + 16 <= n <= every slice's length, so [i, i+16) is in bounds.
                let (a0, a1) = unsafe { (_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pa.add(i + 8))) };
                for r in 0..4 {
                    // SAFETY: as above, for row r.
                    let (b0, b1) = unsafe { (_mm256_loadu_ps(pb[r].add(i)), _mm256_loadu_ps(pb[r].add(i + 8))) };
                    acc0[r] = step(a0, b0, acc0[r]);
                    acc1[r] = step(a1, b1, acc1[r]);
                }
                i += 16;
            }
            if i + 8 <= n {
                // SAFETY: i + 8 <= n <= every slice's length, so [i, i+8) is in bounds.
                let a0 = unsafe { _mm256_loadu_ps(pa.add(i)) };
                for r in 0..4 {
                    // SAFETY: as above, for row r.
                    let b0 = unsafe { _mm256_loadu_ps(pb[r].add(i)) };
                    acc0[r] = step(a0, b0, acc0[r]);
                }
                i += 8;
            }
            let mut out = [0.0f32; 4];
            for r in 0..4 {
                let mut sum = hsum256_ps(_mm256_add_ps(acc0[r], acc1[r]));
                for j in i..n {
                    let ($x, $y) = (a[j], rows[r][j]);
                    sum += $term;
                }
                out[r] = sum;
            }
            out
        }
    };
}

avx2_f32_reduction!(
    /// ‖a − b‖² with AVX2+FMA.
    squared_l2_f32_avx2,
    squared_l2_f32_avx2_x4,
    |a, b, acc| {
        let d = _mm256_sub_ps(a, b);
        _mm256_fmadd_ps(d, d, acc)
    },
    |x, y| (x - y) * (x - y)
);

avx2_f32_reduction!(
    /// ⟨a, b⟩ with AVX2+FMA.
    dot_f32_avx2,
    dot_f32_avx2_x4,
    |a, b, acc| _mm256_fmadd_ps(a, b, acc),
    |x, y| x * y
);

/// Widens 16 bytes at `p` to sixteen 16-bit lanes.
///
/// # Safety
/// `p` must be valid for reading 16 bytes.
#[target_feature(enable = "avx2")]
unsafe fn load16_u8_as_i16(p: *const u8) -> __m256i {
    // SAFETY: the caller guarantees 16 readable bytes at p; loadu has no alignment requirement.
    _mm256_cvtepu8_epi16(unsafe { _mm_loadu_si128(p.cast()) })
}

/// Defines an AVX2 reduction over byte pairs: both sides are widened to sixteen i16 lanes,
/// `|a, b| pairs` returns eight i32 lanes (each the sum of two adjacent products, via `madd`),
/// `|x, y| term` handles the scalar remainder. Exact while d · 255² < 2³².
///
/// Also defines `$name_x4`, one query against four rows at once (integer sums are exact, so
/// it equals four one-row calls).
macro_rules! avx2_u8_reduction {
    ($(#[$doc:meta])* $name:ident, $name_x4:ident, |$a:ident, $b:ident| $pairs:expr, |$x:ident, $y:ident| $term:expr) => {
        $(#[$doc])*
        #[target_feature(enable = "avx2")]
        pub(crate) fn $name(a: &[u8], b: &[u8]) -> u32 {
            let n = a.len().min(b.len());
            let (pa, pb) = (a.as_ptr(), b.as_ptr());
            let pairs = |$a: __m256i, $b: __m256i| -> __m256i { $pairs };
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
                acc0 = _mm256_add_epi32(acc0, pairs(a0, b0));
                acc1 = _mm256_add_epi32(acc1, pairs(a1, b1));
                i += 32;
            }
            if i + 16 <= n {
                // SAFETY: i + 16 <= n: the 16-byte loads at i are inside both slices.
                let (a0, b0) = unsafe { (load16_u8_as_i16(pa.add(i)), load16_u8_as_i16(pb.add(i))) };
                acc0 = _mm256_add_epi32(acc0, pairs(a0, b0));
                i += 16;
            }
            let mut sum = hsum256_epi32(_mm256_add_epi32(acc0, acc1));
            for j in i..n {
                let ($x, $y) = (a[j] as i32, b[j] as i32);
                sum = sum.wrapping_add($term as u32);
            }
            sum
        }

        #[doc = concat!("[`", stringify!($name), "`] of `a` against four rows at once.")]
        #[target_feature(enable = "avx2")]
        pub(crate) fn $name_x4(a: &[u8], rows: [&[u8]; 4]) -> [u32; 4] {
            let n = rows.iter().fold(a.len(), |n, r| n.min(r.len()));
            let pa = a.as_ptr();
            let pb = rows.map(<[u8]>::as_ptr);
            let pairs = |$a: __m256i, $b: __m256i| -> __m256i { $pairs };
            let mut acc = [_mm256_setzero_si256(); 4];
            let mut i = 0;
            while i + 16 <= n {
                // SAFETY: i + 16 <= n <= every slice's length: the 16-byte loads are in bounds.
                let a0 = unsafe { load16_u8_as_i16(pa.add(i)) };
                for r in 0..4 {
                    // SAFETY: as above, for row r.
                    let b0 = unsafe { load16_u8_as_i16(pb[r].add(i)) };
                    acc[r] = _mm256_add_epi32(acc[r], pairs(a0, b0));
                }
                i += 16;
            }
            let mut out = [0u32; 4];
            for r in 0..4 {
                let mut sum = hsum256_epi32(acc[r]);
                for j in i..n {
                    let ($x, $y) = (a[j] as i32, rows[r][j] as i32);
                    sum = sum.wrapping_add($term as u32);
                }
                out[r] = sum;
            }
            out
        }
    };
}

avx2_u8_reduction!(
    /// ‖a − b‖² for bytes with AVX2: subtract in i16, `madd` squares pairs into i32 lanes.
    squared_l2_u8_avx2,
    squared_l2_u8_avx2_x4,
    |a, b| {
        let d = _mm256_sub_epi16(a, b);
        _mm256_madd_epi16(d, d)
    },
    |x, y| (x - y) * (x - y)
);

avx2_u8_reduction!(
    /// ⟨a, b⟩ for bytes with AVX2: `madd` multiplies and adds pairs (≤ 2 · 255², fits i32).
    dot_u8_avx2,
    dot_u8_avx2_x4,
    |a, b| _mm256_madd_epi16(a, b),
    |x, y| x * y
);

/// A lane mask selecting the first `r` (< 16) of sixteen lanes.
fn tail_mask(r: usize) -> __mmask16 {
    ((1u32 << r) - 1) as __mmask16
}

/// Defines an AVX-512F reduction over `f32` pairs: sixteen lanes per step, masked loads for
/// the tail (no scalar remainder).
///
/// Also defines `$name_x4`, one query against four rows: each row has its own accumulator and
/// the one-row kernel's operations in its order (equal bit for bit to four one-row calls), and
/// the four rows' dependency chains and memory fetches overlap — the one-row kernel's single
/// accumulator waits out every FMA's latency.
macro_rules! avx512_f32_reduction {
    ($(#[$doc:meta])* $name:ident, $name_x4:ident, |$a:ident, $b:ident, $acc:ident| $step:expr) => {
        #[doc = concat!("[`", stringify!($name), "`] of `a` against four rows at once.")]
        #[target_feature(enable = "avx512f")]
        pub(crate) fn $name_x4(a: &[f32], rows: [&[f32]; 4]) -> [f32; 4] {
            let n = rows.iter().fold(a.len(), |n, r| n.min(r.len()));
            let pa = a.as_ptr();
            let pb = rows.map(<[f32]>::as_ptr);
            let step = |$a: __m512, $b: __m512, $acc: __m512| -> __m512 { $step };
            let mut acc = [_mm512_setzero_ps(); 4];
            let mut i = 0;
            while i + 16 <= n {
                // SAFETY: i + 16 <= n <= every slice's length, so [i, i+16) is in bounds.
                let va = unsafe { _mm512_loadu_ps(pa.add(i)) };
                for r in 0..4 {
                    // SAFETY: as above, for row r.
                    let vb = unsafe { _mm512_loadu_ps(pb[r].add(i)) };
                    acc[r] = step(va, vb, acc[r]);
                }
                i += 16;
            }
            if i < n {
                let m = tail_mask(n - i);
                // SAFETY: masked loads touch only the n − i (< 16) lanes selected by m, in
                // bounds of every slice; masked-off lanes are neither read nor faulted on.
                let va = unsafe { _mm512_maskz_loadu_ps(m, pa.add(i)) };
                for r in 0..4 {
                    // SAFETY: as above, for row r.
                    let vb = unsafe { _mm512_maskz_loadu_ps(m, pb[r].add(i)) };
                    acc[r] = step(va, vb, acc[r]);
                }
            }
            acc.map(|v| _mm512_reduce_add_ps(v))
        }
        avx512_f32_reduction!($(#[$doc])* $name, |$a, $b, $acc| $step);
    };
    ($(#[$doc:meta])* $name:ident, |$a:ident, $b:ident, $acc:ident| $step:expr) => {
        $(#[$doc])*
        #[target_feature(enable = "avx512f")]
        pub(crate) fn $name(a: &[f32], b: &[f32]) -> f32 {
            let n = a.len().min(b.len());
            let (pa, pb) = (a.as_ptr(), b.as_ptr());
            let step = |$a: __m512, $b: __m512, $acc: __m512| -> __m512 { $step };
            let mut acc = _mm512_setzero_ps();
            let mut i = 0;
            while i + 16 <= n {
                // SAFETY: i + 16 <= n, so the loads of [i, i+16) stay inside both slices.
                let (va, vb) = unsafe { (_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i))) };
                acc = step(va, vb, acc);
                i += 16;
            }
            if i < n {
                let m = tail_mask(n - i);
                // SAFETY: masked loads touch only the n − i (< 16) lanes selected by m, all in
                // bounds; masked-off lanes are neither read nor faulted on, and load as zero.
                let (va, vb) = unsafe { (_mm512_maskz_loadu_ps(m, pa.add(i)), _mm512_maskz_loadu_ps(m, pb.add(i))) };
                acc = step(va, vb, acc);
            }
            _mm512_reduce_add_ps(acc)
        }
    };
}

avx512_f32_reduction!(
    /// ‖a − b‖² with AVX-512F.
    squared_l2_f32_avx512,
    squared_l2_f32_avx512_x4,
    |a, b, acc| {
        let d = _mm512_sub_ps(a, b);
        _mm512_fmadd_ps(d, d, acc)
    }
);

avx512_f32_reduction!(
    /// ⟨a, b⟩ with AVX-512F.
    dot_f32_avx512,
    dot_f32_avx512_x4,
    |a, b, acc| _mm512_fmadd_ps(a, b, acc)
);

/// Widens 32 bytes at `p` (only the lanes of `m`; the others load as zero) to thirty-two
/// 16-bit lanes.
///
/// # Safety
/// The bytes of `p` selected by `m` must be readable.
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn load32_u8_as_i16(m: __mmask32, p: *const u8) -> __m512i {
    // SAFETY: the caller guarantees the selected bytes are readable; masked-off lanes are
    // neither read nor faulted on.
    _mm512_cvtepu8_epi16(unsafe { _mm256_maskz_loadu_epi8(m, p.cast()) })
}

/// Defines an AVX-512BW reduction over byte pairs: both sides widened to thirty-two i16 lanes
/// (32 bytes per step, twice AVX2's), `|a, b| pairs` returns sixteen i32 lanes via `madd`; the
/// tail is a masked load, so there is no scalar remainder. Exact while d · 255² < 2³²; equals
/// the AVX2 and portable kernels bit for bit (integer sums). Also defines `$name_x4`.
macro_rules! avx512_u8_reduction {
    ($(#[$doc:meta])* $name:ident, $name_x4:ident, |$a:ident, $b:ident| $pairs:expr) => {
        $(#[$doc])*
        #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
        pub(crate) fn $name(a: &[u8], b: &[u8]) -> u32 {
            let [sum] = reduce_u8_avx512::<1>(a, [b], |$a, $b| $pairs);
            sum
        }

        #[doc = concat!("[`", stringify!($name), "`] of `a` against four rows at once.")]
        #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
        pub(crate) fn $name_x4(a: &[u8], rows: [&[u8]; 4]) -> [u32; 4] {
            reduce_u8_avx512::<4>(a, rows, |$a, $b| $pairs)
        }
    };
}

/// The loop of [`avx512_u8_reduction`]: `a` against `R` rows, two accumulators per row (64
/// bytes per step, so consecutive adds do not wait on each other), then a masked tail.
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
#[inline]
fn reduce_u8_avx512<const R: usize>(
    a: &[u8],
    rows: [&[u8]; R],
    pairs: impl Fn(__m512i, __m512i) -> __m512i,
) -> [u32; R] {
    let n = rows.iter().fold(a.len(), |n, r| n.min(r.len()));
    let pa = a.as_ptr();
    let pb = rows.map(<[u8]>::as_ptr);
    let mut acc = [[_mm512_setzero_si512(); 2]; R];
    let mut i = 0;
    while i + 64 <= n {
        // SAFETY: i + 64 <= n: bytes [i, i + 64) are inside `a` and every row.
        let (a0, a1) = unsafe {
            (
                load32_u8_as_i16(u32::MAX, pa.add(i)),
                load32_u8_as_i16(u32::MAX, pa.add(i + 32)),
            )
        };
        for r in 0..R {
            // SAFETY: as above, for row r.
            let (b0, b1) = unsafe {
                (
                    load32_u8_as_i16(u32::MAX, pb[r].add(i)),
                    load32_u8_as_i16(u32::MAX, pb[r].add(i + 32)),
                )
            };
            acc[r][0] = _mm512_add_epi32(acc[r][0], pairs(a0, b0));
            acc[r][1] = _mm512_add_epi32(acc[r][1], pairs(a1, b1));
        }
        i += 64;
    }
    while i < n {
        let m = if n - i >= 32 {
            u32::MAX
        } else {
            (1u32 << (n - i)) - 1
        };
        // SAFETY: m selects only bytes [i, min(i + 32, n)), inside `a` and every row.
        let va = unsafe { load32_u8_as_i16(m, pa.add(i)) };
        for r in 0..R {
            // SAFETY: as above, for row r.
            let vb = unsafe { load32_u8_as_i16(m, pb[r].add(i)) };
            acc[r][0] = _mm512_add_epi32(acc[r][0], pairs(va, vb));
        }
        i += 32;
    }
    acc.map(|[x, y]| _mm512_reduce_add_epi32(_mm512_add_epi32(x, y)) as u32)
}

avx512_u8_reduction!(
    /// ‖a − b‖² for bytes with AVX-512BW: subtract in i16, `madd` squares pairs into i32 lanes.
    squared_l2_u8_avx512,
    squared_l2_u8_avx512_x4,
    |a, b| {
        let d = _mm512_sub_epi16(a, b);
        _mm512_madd_epi16(d, d)
    }
);

avx512_u8_reduction!(
    /// ⟨a, b⟩ for bytes with AVX-512BW: `madd` multiplies and adds pairs (≤ 2 · 255²).
    dot_u8_avx512,
    dot_u8_avx512_x4,
    |a, b| _mm512_madd_epi16(a, b)
);

/// Asks the CPU to start loading the cache lines of `data` (up to the first `MAX_LINES`) into
/// L1. A hint only: it never faults and changes no result.
#[inline(always)]
pub(crate) fn prefetch<T>(data: &[T]) {
    const MAX_LINES: usize = 4;
    let bytes = std::mem::size_of_val(data).min(MAX_LINES * 64);
    let base = data.as_ptr().cast::<i8>();
    let mut off = 0;
    while off < bytes {
        // SAFETY: base + off lies inside `data` (off < its size in bytes); prefetch reads nothing
        // architecturally and cannot fault. SSE is part of the x86-64 baseline.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(base.add(off)) };
        off += 64;
    }
}
