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
        if m == 0 || m > 256 || codes.len() % m != 0 {
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
/// kernel this CPU runs; equal to [`scan_scalar`]'s for the same block exactly. What a graph
/// walk calls once per expanded node when each adjacency list's codes form a block.
#[inline]
pub fn scan_block(table: &QuantizedTable, block: &[u8], m: usize, sums: &mut [u16; BLOCK]) {
    #[cfg(target_arch = "x86_64")]
    if geodex_distance::Avx2::new().is_some() {
        // SAFETY: the Avx2 token exists, so the CPU has AVX2; the lengths are checked by the
        // asserts inside.
        unsafe { x86::scan_block_avx2(&table.entries, block, m, sums) };
        return;
    }
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
    pub fn refill(&mut self, table: &[f32]) {
        let min_of = |t: &[f32]| t.iter().copied().fold(f32::INFINITY, f32::min);
        let widest = table
            .chunks_exact(16)
            .map(|t| t.iter().copied().fold(f32::NEG_INFINITY, f32::max) - min_of(t))
            .fold(0f32, f32::max);
        let step = if widest > 0.0 { widest / 255.0 } else { 1.0 };
        let per_unit = 1.0 / step;
        self.entries.clear();
        self.bias = 0.0;
        for t in table.chunks_exact(16) {
            let lo = min_of(t);
            self.bias += lo;
            // x − lo ≥ 0, so adding ½ and truncating rounds to nearest (`as` saturates at 255).
            self.entries
                .extend(t.iter().map(|x| ((x - lo) * per_unit + 0.5) as u8));
        }
        self.step = step;
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
        let low_nibble = _mm256_set1_epi8(0x0f);
        let zero = _mm256_setzero_si256();
        let (mut words0, mut odd0, mut words1, mut odd1) = (zero, zero, zero, zero);
        for pair in 0..m / 2 {
            // SAFETY: pair·32 + 32 ≤ m·16 ≤ both lengths (asserted above); unaligned loads.
            let (tables, codes) = unsafe {
                (
                    _mm256_loadu_si256(lut.as_ptr().add(pair * 32).cast()),
                    _mm256_loadu_si256(block.as_ptr().add(pair * 32).cast()),
                )
            };
            let low = _mm256_shuffle_epi8(tables, _mm256_and_si256(codes, low_nibble));
            let high = _mm256_shuffle_epi8(tables, _mm256_and_si256(_mm256_srli_epi16(codes, 4), low_nibble));
            words0 = _mm256_add_epi16(words0, low);
            odd0 = _mm256_add_epi16(odd0, _mm256_srli_epi16(low, 8));
            words1 = _mm256_add_epi16(words1, high);
            odd1 = _mm256_add_epi16(odd1, _mm256_srli_epi16(high, 8));
        }
        let mut first = in_vector_order(words0, odd0);
        let mut second = in_vector_order(words1, odd1);
        if m % 2 == 1 {
            let j = m - 1;
            // SAFETY: j·16 + 16 = m·16 ≤ both lengths (asserted above); unaligned loads.
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
        // SAFETY: `sums` holds at least 32 u16 (asserted), two unaligned 32-byte stores.
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
