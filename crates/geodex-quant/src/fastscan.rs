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
        for v in 0..len {
            let (block, lane) = (v / BLOCK, v % BLOCK);
            let (slot, shift) = (lane % 16, if lane < 16 { 0 } else { 4 });
            for j in 0..m {
                bytes[(block * m + j) * 16 + slot] |= codes[v * m + j] << shift;
            }
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

/// A PQ4 distance table quantised to 8 bits per entry.
#[derive(Clone, Debug, PartialEq)]
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
        let mins: Vec<f32> = table
            .chunks_exact(16)
            .map(|t| t.iter().copied().fold(f32::INFINITY, f32::min))
            .collect();
        let widest = table
            .chunks_exact(16)
            .zip(&mins)
            .map(|(t, lo)| t.iter().copied().fold(f32::NEG_INFINITY, f32::max) - lo)
            .fold(0f32, f32::max);
        let step = if widest > 0.0 { widest / 255.0 } else { 1.0 };
        let entries = table
            .chunks_exact(16)
            .zip(&mins)
            .flat_map(|(t, lo)| {
                t.iter()
                    .map(move |x| ((x - lo) / step).round().clamp(0.0, 255.0) as u8)
            })
            .collect();
        QuantizedTable {
            entries,
            bias: mins.iter().sum(),
            step,
        }
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
    #[cfg(target_arch = "x86_64")]
    if geodex_distance::Avx2::new().is_some() {
        out.clear();
        out.resize(codes.len().div_ceil(BLOCK) * BLOCK, 0);
        for (b, sums) in out.chunks_exact_mut(BLOCK).enumerate() {
            // SAFETY: the Avx2 token exists, so the CPU has AVX2; `table.entries` and the block
            // both hold m·16 bytes (checked by the asserts inside), `sums` holds 32 lanes.
            unsafe { x86::scan_block_avx2(&table.entries, codes.block(b), codes.m, sums) };
        }
        out.truncate(codes.len());
        return;
    }
    scan_scalar(table, codes, out);
}

/// The scalar reference of [`scan`]: one table lookup per sub-space and vector, unpacking the
/// nibbles as the layout stores them.
pub fn scan_scalar(table: &QuantizedTable, codes: &PackedCodes, out: &mut Vec<u16>) {
    out.clear();
    let m = codes.m;
    for v in 0..codes.len() {
        let (block, lane) = (v / BLOCK, v % BLOCK);
        let bytes = codes.block(block);
        let sum: u32 = (0..m)
            .map(|j| {
                let byte = bytes[j * 16 + lane % 16];
                let code = if lane < 16 { byte & 15 } else { byte >> 4 };
                table.entries[j * 16 + code as usize] as u32
            })
            .sum();
        out.push(sum as u16);
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// Sums of one block of 32 vectors. Per sub-space: broadcast its 16-entry table to both
    /// 128-bit lanes, put the low nibbles (vectors 0–15) in lane 0 and the high nibbles
    /// (vectors 16–31) in lane 1, look all 32 up with one `vpshufb`, widen to 16 bits, add.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn scan_block_avx2(lut: &[u8], block: &[u8], m: usize, sums: &mut [u16]) {
        assert!(lut.len() >= m * 16 && block.len() >= m * 16 && sums.len() >= 32);
        let low_nibble = _mm256_set1_epi8(0x0f);
        let mut first = _mm256_setzero_si256();
        let mut second = _mm256_setzero_si256();
        for j in 0..m {
            // SAFETY: j·16 + 16 ≤ m·16 ≤ both lengths (asserted above); unaligned loads.
            let (table, codes) = unsafe {
                (
                    _mm256_broadcastsi128_si256(_mm_loadu_si128(lut.as_ptr().add(j * 16).cast())),
                    _mm_loadu_si128(block.as_ptr().add(j * 16).cast()),
                )
            };
            let both = _mm256_set_m128i(_mm_srli_epi16(codes, 4), codes);
            let looked_up = _mm256_shuffle_epi8(table, _mm256_and_si256(both, low_nibble));
            first = _mm256_add_epi16(first, _mm256_cvtepu8_epi16(_mm256_castsi256_si128(looked_up)));
            second = _mm256_add_epi16(
                second,
                _mm256_cvtepu8_epi16(_mm256_extracti128_si256(looked_up, 1)),
            );
        }
        // SAFETY: `sums` holds at least 32 u16 (asserted), two unaligned 32-byte stores.
        unsafe {
            _mm256_storeu_si256(sums.as_mut_ptr().cast(), first);
            _mm256_storeu_si256(sums.as_mut_ptr().add(16).cast(), second);
        }
    }
}
