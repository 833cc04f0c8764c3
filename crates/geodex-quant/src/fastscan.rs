//! PQ4 fast-scan (André, Kermarrec & Le Scouarnec, "Cache locality is not enough:
//! high-performance nearest neighbor search with product quantization fast scan", VLDB 2015;
//! the layout FAISS's `IndexPQFastScan` uses).
//!
//! With 16 centroids per sub-space, a sub-space's lookup table has 16 entries: quantised to 8
//! bits, it fits one 128-bit register, and `pshufb` looks up 16 (AVX2: 32) codes in one
//! instruction. For that the codes are stored **by blocks of 32 vectors**: inside a block, each
//! sub-space j has 16 bytes, byte i holding vector i's code in its low nibble and vector i+16's
//! in its high nibble. The scan adds the looked-up bytes into 16-bit lanes: with m ≤ 256
//! sub-spaces the sum (≤ 255·m) cannot overflow, so the SIMD and scalar scans agree exactly.
//!
//! The 8-bit table ([`QuantizedTable`]) is t̂_j(c) = round((t_j(c) − min_j) / Δ) with one global
//! step Δ = max_j (max_j − min_j) / 255; a distance is then Σ_j min_j + Δ · Σ_j t̂_j(c_j), within
//! m·Δ/2 of the float table's sum. That error is why fast-scan results are re-ranked.

use geodex_distance::Isa;

use crate::QuantError;

/// Vectors per block of the packed layout.
pub const BLOCK: usize = 32;

/// PQ4 codes in the fast-scan layout.
#[derive(Clone, Debug, PartialEq)]
pub struct PackedCodes {
    m: usize,
    len: usize,
    bytes: Vec<u8>,
}

impl PackedCodes {
    /// Packs `codes` (`m` bytes per vector, each < 16, as [`crate::pq::ProductQuantizer::encode`]
    /// writes them). The last block is padded with code 0.
    pub fn pack(codes: &[u8], m: usize) -> Result<PackedCodes, QuantError> {
        if m == 0 || m > 256 || !codes.len().is_multiple_of(m) {
            return Err(QuantError::InvalidParameter(format!(
                "{} code bytes do not make whole vectors of m = {m} (1..=256) sub-spaces",
                codes.len()
            )));
        }
        if let Some(i) = codes.iter().position(|&c| c >= 16) {
            return Err(QuantError::BadVector {
                row: i / m,
                reason: format!("code {} ≥ 16 in sub-space {}", codes[i], i % m),
            });
        }
        let len = codes.len() / m;
        let blocks = len.div_ceil(BLOCK);
        let mut bytes = vec![0u8; blocks * m * 16];
        for (v, code) in codes.chunks_exact(m).enumerate() {
            let (block, lane) = (v / BLOCK, v % BLOCK);
            put_lane(
                &mut bytes[block * m * 16..(block + 1) * m * 16],
                lane,
                code.iter().copied(),
            );
        }
        Ok(PackedCodes { m, len, bytes })
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no vectors.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sub-spaces per vector.
    pub fn m(&self) -> usize {
        self.m
    }

    /// Bytes stored (m/2 per vector, plus the last block's padding).
    pub fn bytes(&self) -> usize {
        self.bytes.len()
    }

    fn block(&self, b: usize) -> &[u8] {
        &self.bytes[b * self.m * 16..(b + 1) * self.m * 16]
    }
}

/// Writes one vector's sub-space codes (each < 16, sub-space by sub-space) into `lane`
/// (0..32) of a block of the packed layout (`m · 16` bytes, zeroed where the lane is written
/// for the first time): sub-space j's byte `lane % 16`, low nibble for lanes 0–15, high for
/// 16–31.
pub fn put_lane(block: &mut [u8], lane: usize, codes: impl Iterator<Item = u8>) {
    debug_assert!(lane < BLOCK);
    let (slot, shift) = (lane % 16, if lane < 16 { 0 } else { 4 });
    for (j, c) in codes.enumerate() {
        block[j * 16 + slot] |= (c & 0x0f) << shift;
    }
}

/// The quantised sums of the 32 vectors of one packed block (`m · 16` bytes), by the fastest
/// kernel this CPU runs ([`Isa::detect`]: `GEODEX_ISA` can lower it); equal to
/// [`scan_block_scalar`]'s for the same block exactly. What a graph walk calls once per
/// expanded node when each adjacency list's codes form a block.
#[inline]
pub fn scan_block(table: &QuantizedTable, block: &[u8], m: usize, sums: &mut [u16; BLOCK]) {
    scan_block_on(Isa::detect(), table, block, m, sums);
}

/// [`scan_block`] by the kernel of `isa` (the portable one when this CPU lacks `isa`): for
/// tests and benchmarks of each path.
#[inline(always)]
pub fn scan_block_on(isa: Isa, table: &QuantizedTable, block: &[u8], m: usize, sums: &mut [u16; BLOCK]) {
    #[cfg(target_arch = "x86_64")]
    match isa {
        Isa::Avx512 if geodex_distance::Avx512::new().is_some() => {
            // SAFETY: the Avx512 token exists, so the CPU has AVX-512F/BW and AVX2; the lengths
            // are checked by the asserts inside.
            unsafe { x86::scan_block_avx512(&table.entries, block, m, sums) };
            return;
        }
        Isa::Avx2 | Isa::Avx512 if geodex_distance::Avx2::new().is_some() => {
            // SAFETY: the Avx2 token exists, so the CPU has AVX2; the lengths are checked by
            // the asserts inside.
            unsafe { x86::scan_block_avx2(&table.entries, block, m, sums) };
            return;
        }
        _ => {}
    }
    let _ = isa;
    scan_block_scalar(table, block, m, sums);
}

/// The scalar reference of [`scan_block`].
pub fn scan_block_scalar(table: &QuantizedTable, block: &[u8], m: usize, sums: &mut [u16; BLOCK]) {
    for (lane, sum) in sums.iter_mut().enumerate() {
        *sum = (0..m)
            .map(|j| {
                let byte = block[j * 16 + lane % 16];
                let code = if lane < 16 { byte & 15 } else { byte >> 4 };
                table.entries[j * 16 + code as usize] as u16
            })
            .sum();
    }
}

/// A PQ4 distance table quantised to 8 bits per entry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QuantizedTable {
    /// `m · 16` entries, sub-space-major.
    pub entries: Vec<u8>,
    /// Σ_j min_j: added to every distance.
    pub bias: f32,
    /// Δ: the value of one table unit.
    pub step: f32,
}

impl QuantizedTable {
    /// Quantises a float PQ4 table (`m · 16` entries, as
    /// [`crate::pq::ProductQuantizer::distance_table`] returns).
    pub fn new(table: &[f32]) -> QuantizedTable {
        let mut quantized = QuantizedTable::default();
        quantized.refill(table);
        quantized
    }

    /// [`QuantizedTable::new`] into this table's storage (no allocation once it has grown).
    /// Once per query of a fast-scan walk, so by an AVX2 kernel where the CPU has it (the same
    /// table as the portable [`quantize_into`]'s for tables without NaN).
    pub fn refill(&mut self, table: &[f32]) {
        #[cfg(target_arch = "x86_64")]
        if Isa::detect() != Isa::Portable {
            // SAFETY: an instruction set above the portable one is detected only on a CPU
            // with AVX2.
            unsafe { x86::quantize_into_avx2(self, table) };
            return;
        }
        quantize_into(self, table);
    }

    /// The quantised sum Σ_j t̂_j(c_j) of one code stored as PQ4 codes are in an index (two
    /// sub-space codes per byte, low nibble first): the value [`scan_block`] gives the same
    /// vector in a block, for a walk's steps outside the blocks.
    #[inline]
    pub fn packed_sum(&self, code: &[u8]) -> u16 {
        let pairs = self.entries.chunks_exact(32);
        let (whole, odd) = (pairs.len(), pairs.remainder());
        let mut sum = 0u16;
        for (t, &b) in pairs.zip(code) {
            sum += t[(b & 15) as usize] as u16 + t[16 + (b >> 4) as usize] as u16;
        }
        if let (Some(&b), false) = (code.get(whole), odd.is_empty()) {
            sum += odd[(b & 15) as usize] as u16;
        }
        sum
    }

    /// The distance a quantised sum stands for.
    #[inline]
    pub fn distance(&self, sum: u16) -> f32 {
        self.bias + self.step * sum as f32
    }
}

/// The portable body of [`QuantizedTable::refill`]: each sub-space's 16 entries as a
/// fixed-size array reduced by a tree of element-wise minima and maxima.
fn quantize_into(out: &mut QuantizedTable, table: &[f32]) {
    let row = |t: &[f32]| -> [f32; 16] { t.try_into().expect("16 entries") };
    let mut widest = 0f32;
    for t in table.chunks_exact(16) {
        let (lo, hi) = min_max(&row(t));
        widest = widest.max(hi - lo);
    }
    let step = if widest > 0.0 { widest / 255.0 } else { 1.0 };
    let per_unit = 1.0 / step;
    out.entries.resize(table.len() / 16 * 16, 0);
    out.bias = 0.0;
    for (t, entries) in table.chunks_exact(16).zip(out.entries.chunks_exact_mut(16)) {
        let lo = min_max(&row(t)).0;
        out.bias += lo;
        for (e, &x) in entries.iter_mut().zip(t) {
            // x − lo ≥ 0, so adding ½ and truncating rounds to nearest (`as` saturates at 255).
            *e = ((x - lo) * per_unit + 0.5) as u8;
        }
    }
    out.step = step;
}

/// The least and the greatest of 16 table entries (NaNs ignored, as `f32::min`/`max` do), by
/// halving: each step is one element-wise operation the vectoriser turns into one instruction.
#[inline(always)]
fn min_max(t: &[f32; 16]) -> (f32, f32) {
    let (mut lo, mut hi) = (*t, *t);
    for width in [8, 4, 2, 1] {
        for i in 0..width {
            lo[i] = lo[i].min(lo[i + width]);
            hi[i] = hi[i].max(hi[i + width]);
        }
    }
    (lo[0], hi[0])
}

/// The quantised sums Σ_j t̂_j(c_j) of every packed vector, by the fastest kernel this CPU
/// runs (AVX2 `pshufb`, else [`scan_scalar`]); equal to [`scan_scalar`] exactly.
pub fn scan(table: &QuantizedTable, codes: &PackedCodes, out: &mut Vec<u16>) {
    scan_with(table, codes, out, scan_block);
}

/// The scalar reference of [`scan`]: one table lookup per sub-space and vector, unpacking the
/// nibbles as the layout stores them.
pub fn scan_scalar(table: &QuantizedTable, codes: &PackedCodes, out: &mut Vec<u16>) {
    scan_with(table, codes, out, scan_block_scalar);
}

/// Every block of `codes` through `kernel`, the sums of the real vectors into `out`.
fn scan_with(
    table: &QuantizedTable,
    codes: &PackedCodes,
    out: &mut Vec<u16>,
    kernel: impl Fn(&QuantizedTable, &[u8], usize, &mut [u16; BLOCK]),
) {
    out.clear();
    let mut sums = [0u16; BLOCK];
    for b in 0..codes.len().div_ceil(BLOCK) {
        kernel(table, codes.block(b), codes.m, &mut sums);
        out.extend_from_slice(&sums);
    }
    out.truncate(codes.len());
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// [`super::quantize_into`] compiled for AVX2, with each row's least and greatest entry
    /// found by two 8-wide minima and maxima and three in-register folds (the vectoriser leaves
    /// the portable halving tree scalar). Equal to the portable table for tables without NaN
    /// (`vminps` and `f32::min` differ only there).
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn quantize_into_avx2(out: &mut super::QuantizedTable, table: &[f32]) {
        let row = |t: &[f32]| -> (__m256, __m256) {
            // SAFETY: `chunks_exact(16)` rows hold 16 floats; unaligned loads.
            unsafe { (_mm256_loadu_ps(t.as_ptr()), _mm256_loadu_ps(t.as_ptr().add(8))) }
        };
        let mut widest = 0f32;
        for t in table.chunks_exact(16) {
            let (a, b) = row(t);
            let (lo, hi) = (least(_mm256_min_ps(a, b)), greatest(_mm256_max_ps(a, b)));
            widest = widest.max(hi - lo);
        }
        let step = if widest > 0.0 { widest / 255.0 } else { 1.0 };
        let per_unit = _mm256_set1_ps(1.0 / step);
        let (half, top, zero) = (_mm256_set1_ps(0.5), _mm256_set1_ps(255.0), _mm256_setzero_ps());
        out.entries.resize(table.len() / 16 * 16, 0);
        out.bias = 0.0;
        for (t, entries) in table.chunks_exact(16).zip(out.entries.chunks_exact_mut(16)) {
            let (a, b) = row(t);
            let lo = least(_mm256_min_ps(a, b));
            out.bias += lo;
            let lo = _mm256_set1_ps(lo);
            // round((x − lo)/Δ) as the portable code computes it, clamped into 0..=255.
            let units = |x: __m256| {
                let u = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(x, lo), per_unit), half);
                _mm256_cvttps_epi32(_mm256_min_ps(_mm256_max_ps(u, zero), top))
            };
            // 16 words in row order (packs work per 128-bit lane), then 16 bytes.
            let words = _mm256_permute4x64_epi64(_mm256_packus_epi32(units(a), units(b)), 0b11_01_10_00);
            let bytes = _mm_packus_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
            // SAFETY: `entries` is a 16-byte chunk; unaligned store.
            unsafe { _mm_storeu_si128(entries.as_mut_ptr().cast(), bytes) };
        }
        out.step = step;
    }

    /// The least of eight floats.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn least(x: __m256) -> f32 {
        let x = _mm256_min_ps(x, _mm256_permute2f128_ps(x, x, 1));
        let x = _mm256_min_ps(x, _mm256_shuffle_ps(x, x, 0b01_00_11_10));
        _mm256_cvtss_f32(_mm256_min_ps(x, _mm256_shuffle_ps(x, x, 0b10_11_00_01)))
    }

    /// The greatest of eight floats.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn greatest(x: __m256) -> f32 {
        let x = _mm256_max_ps(x, _mm256_permute2f128_ps(x, x, 1));
        let x = _mm256_max_ps(x, _mm256_shuffle_ps(x, x, 0b01_00_11_10));
        _mm256_cvtss_f32(_mm256_max_ps(x, _mm256_shuffle_ps(x, x, 0b10_11_00_01)))
    }

    /// The four accumulators of a block scan: sixteen 16-bit words per 128-bit lane for the
    /// low-nibble lookups (vectors 0–15), the same for their odd bytes alone, then both for
    /// the high-nibble lookups (vectors 16–31). See [`scan_block_avx2`].
    type Sums = [__m256i; 4];

    /// Sums of one block of 32 vectors, two sub-spaces per step (as FAISS's fast-scan kernels
    /// do). A 32-byte load takes sub-spaces j and j+1's codes (16 bytes each, adjacent in the
    /// block) and another their two tables (adjacent too), so one in-lane `vpshufb` looks up
    /// the low nibbles (vectors 0–15) of both sub-spaces and a second the high nibbles
    /// (vectors 16–31). The looked-up bytes are summed without widening: adding the 32 bytes as
    /// sixteen 16-bit words accumulates even byte + 256 · odd byte, and a second accumulator
    /// takes the odd bytes alone (word >> 8); even = first − (second << 8) modulo 2¹⁶, exact
    /// because every true sum is below 2¹⁶ (m ≤ 256 entries of at most 255). An odd last
    /// sub-space goes through 128-bit lookups and is widened.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn scan_block_avx2(lut: &[u8], block: &[u8], m: usize, sums: &mut [u16]) {
        assert!(lut.len() >= m * 16 && block.len() >= m * 16 && sums.len() >= 32);
        let mut acc = [_mm256_setzero_si256(); 4];
        // SAFETY: the asserted lengths cover every pair of sub-spaces below m.
        unsafe { add_pairs(&mut acc, lut, block, 0..m / 2) };
        // SAFETY: as above, and `sums` holds 32 words.
        unsafe { finish(acc, lut, block, m, sums) };
    }

    /// [`scan_block_avx2`] four sub-spaces per step: a 64-byte load takes four sub-spaces'
    /// codes and another their tables, and `vpshufb` on 512 bits looks up four in-lane tables at
    /// once. The four 128-bit lanes accumulate as the AVX2 kernel's two do (each lane one
    /// sub-space), so folding the upper 256 bits onto the lower gives its accumulators; a
    /// remaining pair and an odd last sub-space go through its steps.
    #[target_feature(enable = "avx512f,avx512bw,avx2")]
    pub(super) unsafe fn scan_block_avx512(lut: &[u8], block: &[u8], m: usize, sums: &mut [u16]) {
        assert!(lut.len() >= m * 16 && block.len() >= m * 16 && sums.len() >= 32);
        let low_nibble = _mm512_set1_epi8(0x0f);
        let mut wide = [_mm512_setzero_si512(); 4];
        for quad in 0..m / 4 {
            // SAFETY: quad·64 + 64 ≤ m·16 ≤ both lengths (asserted above); unaligned loads.
            let (tables, codes) = unsafe {
                (
                    _mm512_loadu_si512(lut.as_ptr().add(quad * 64).cast()),
                    _mm512_loadu_si512(block.as_ptr().add(quad * 64).cast()),
                )
            };
            let low = _mm512_shuffle_epi8(tables, _mm512_and_si512(codes, low_nibble));
            let high = _mm512_shuffle_epi8(tables, _mm512_and_si512(_mm512_srli_epi16(codes, 4), low_nibble));
            wide[0] = _mm512_add_epi16(wide[0], low);
            wide[1] = _mm512_add_epi16(wide[1], _mm512_srli_epi16(low, 8));
            wide[2] = _mm512_add_epi16(wide[2], high);
            wide[3] = _mm512_add_epi16(wide[3], _mm512_srli_epi16(high, 8));
        }
        let mut acc =
            wide.map(|x| _mm256_add_epi16(_mm512_castsi512_si256(x), _mm512_extracti64x4_epi64(x, 1)));
        // SAFETY: the asserted lengths cover every pair of sub-spaces below m.
        unsafe { add_pairs(&mut acc, lut, block, m / 4 * 2..m / 2) };
        // SAFETY: as above, and `sums` holds 32 words.
        unsafe { finish(acc, lut, block, m, sums) };
    }

    /// Adds the lookups of the sub-space pairs `pairs` (pair p: sub-spaces 2p and 2p + 1) to
    /// `acc`. Safety: `lut` and `block` hold at least 32 bytes per pair up to `pairs.end`.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn add_pairs(acc: &mut Sums, lut: &[u8], block: &[u8], pairs: std::ops::Range<usize>) {
        let low_nibble = _mm256_set1_epi8(0x0f);
        for pair in pairs {
            // SAFETY: pair·32 + 32 ≤ both lengths (the caller's contract); unaligned loads.
            let (tables, codes) = unsafe {
                (
                    _mm256_loadu_si256(lut.as_ptr().add(pair * 32).cast()),
                    _mm256_loadu_si256(block.as_ptr().add(pair * 32).cast()),
                )
            };
            let low = _mm256_shuffle_epi8(tables, _mm256_and_si256(codes, low_nibble));
            let high = _mm256_shuffle_epi8(tables, _mm256_and_si256(_mm256_srli_epi16(codes, 4), low_nibble));
            acc[0] = _mm256_add_epi16(acc[0], low);
            acc[1] = _mm256_add_epi16(acc[1], _mm256_srli_epi16(low, 8));
            acc[2] = _mm256_add_epi16(acc[2], high);
            acc[3] = _mm256_add_epi16(acc[3], _mm256_srli_epi16(high, 8));
        }
    }

    /// Writes the 32 sums from the accumulators of every sub-space pair, adding an odd last
    /// sub-space (m odd) through 128-bit lookups, widened. Safety: `lut` and `block` hold
    /// m · 16 bytes, `sums` 32 words.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn finish(acc: Sums, lut: &[u8], block: &[u8], m: usize, sums: &mut [u16]) {
        let mut first = in_vector_order(acc[0], acc[1]);
        let mut second = in_vector_order(acc[2], acc[3]);
        if m % 2 == 1 {
            let j = m - 1;
            // SAFETY: j·16 + 16 = m·16 ≤ both lengths (the caller's contract); unaligned loads.
            let (table, codes) = unsafe {
                (
                    _mm_loadu_si128(lut.as_ptr().add(j * 16).cast()),
                    _mm_loadu_si128(block.as_ptr().add(j * 16).cast()),
                )
            };
            let mask = _mm_set1_epi8(0x0f);
            let low = _mm_shuffle_epi8(table, _mm_and_si128(codes, mask));
            let high = _mm_shuffle_epi8(table, _mm_and_si128(_mm_srli_epi16(codes, 4), mask));
            first = _mm256_add_epi16(first, _mm256_cvtepu8_epi16(low));
            second = _mm256_add_epi16(second, _mm256_cvtepu8_epi16(high));
        }
        // SAFETY: `sums` holds at least 32 u16 (the caller's contract), two unaligned stores.
        unsafe {
            _mm256_storeu_si256(sums.as_mut_ptr().cast(), first);
            _mm256_storeu_si256(sums.as_mut_ptr().add(16).cast(), second);
        }
    }

    /// The 16 per-vector sums from the two accumulators of [`scan_block_avx2`]: in each
    /// 128-bit lane (one sub-space parity) word i of `words` − (`odd` << 8) is vector 2i's sum
    /// and word i of `odd` vector 2i+1's; the two lanes are added, then even and odd vectors
    /// interleaved back into order.
    #[target_feature(enable = "avx2")]
    fn in_vector_order(words: __m256i, odd: __m256i) -> __m256i {
        let even = _mm256_sub_epi16(words, _mm256_slli_epi16(odd, 8));
        let fold = |x: __m256i| _mm_add_epi16(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1));
        let (even, odd) = (fold(even), fold(odd));
        _mm256_set_m128i(_mm_unpackhi_epi16(even, odd), _mm_unpacklo_epi16(even, odd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX2 quantisation gives the portable one's table byte for byte, with its bias and
    /// step: on random tables of 1 to 64 sub-spaces, with rows of equal entries (width 0), a
    /// whole table of one value (step 1) and negative entries (inner-product tables).
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn the_avx2_quantisation_equals_the_portable_one() {
        if geodex_distance::Avx2::new().is_none() {
            return;
        }
        let mut rng = geodex_testkit::Rng::new(3);
        let mut tables: Vec<Vec<f32>> = (1..=64)
            .map(|m| {
                (0..m * 16)
                    .map(|i| {
                        if i / 16 % 5 == 4 {
                            2.5
                        } else {
                            rng.uniform() as f32 * 300.0 - 100.0
                        }
                    })
                    .collect()
            })
            .collect();
        tables.push(vec![7.0; 4 * 16]);
        for table in tables {
            let mut portable = QuantizedTable::default();
            quantize_into(&mut portable, &table);
            let mut avx2 = QuantizedTable::default();
            // SAFETY: the CPU has AVX2 (checked above).
            unsafe { x86::quantize_into_avx2(&mut avx2, &table) };
            assert_eq!(avx2, portable, "{} sub-spaces", table.len() / 16);
        }
    }
}
