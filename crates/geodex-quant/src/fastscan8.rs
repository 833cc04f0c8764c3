//! PQ8 codes in 32-vector blocks, scanned with AVX-512 VBMI byte permutes.
//!
//! PQ4 fast-scan ([`crate::fastscan`]) fits a sub-space's 16-entry table in one register; a PQ8
//! sub-space has 256 centroids, too many for `pshufb`. With AVX-512 VBMI, `vpermt2b` looks up
//! 64 bytes in a 128-entry table held in two registers, so a 256-entry table takes two such
//! lookups and a blend on the index's top bit: three instructions score one sub-space of 32
//! vectors. (Quicker ADC, André et al., TPAMI 2021, scores 8-bit codes with the same
//! two-register permutes.) The layout is the fast-scan one with a byte per code: inside a
//! block, sub-space j owns 32 bytes, byte i holding vector i's code. Tables are quantised to
//! 8 bits as for PQ4 ([`QuantizedTable::refill_pq8`]), so the same integer sums, bound and
//! re-ranking apply; with m ≤ 256 a sum (≤ 255·m) fits 16 bits, and the SIMD and scalar scans
//! agree exactly.
//!
//! Without VBMI (AVX2 machines) a block is scanned in scalar code, about a lookup per
//! sub-space and vector: there PQ4's fast-scan is the faster walk.

use geodex_distance::Isa;

use crate::fastscan::{QuantizedTable, BLOCK};

/// Table entries per sub-space of a PQ8 code.
pub const CENTROIDS: usize = 256;

/// Bytes of one block of `m`-sub-space PQ8 codes.
#[inline(always)]
pub const fn block_bytes(m: usize) -> usize {
    m * BLOCK
}

/// Writes one vector's sub-space codes (sub-space by sub-space) into `lane` (0..32) of a
/// block (`m · 32` bytes): sub-space j's byte `lane`.
pub fn put_lane(block: &mut [u8], lane: usize, codes: impl Iterator<Item = u8>) {
    debug_assert!(lane < BLOCK);
    for (j, c) in codes.enumerate() {
        block[j * BLOCK + lane] = c;
    }
}

/// Whether this CPU runs the VBMI kernel and [`Isa::detect`] (which `GEODEX_ISA` can lower)
/// allows AVX-512.
fn vbmi() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static VBMI: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *VBMI.get_or_init(|| {
            Isa::detect() == Isa::Avx512
                && geodex_distance::Avx512::new().is_some()
                && is_x86_feature_detected!("avx512vbmi")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The quantised sums of the 32 vectors of one block (`m · 32` bytes) under a table of
/// `m · 256` entries, by the VBMI kernel where the CPU has it (see [`vbmi`]), else
/// [`scan_block_scalar`]; both give the same sums exactly.
#[inline]
pub fn scan_block(table: &QuantizedTable, block: &[u8], m: usize, sums: &mut [u16; BLOCK]) {
    #[cfg(target_arch = "x86_64")]
    if vbmi() {
        // SAFETY: `vbmi()` holds only on a CPU with AVX-512F/BW/VL and VBMI; the lengths are
        // checked by the assert inside.
        unsafe { x86::scan_block_vbmi(&table.entries, block, m, sums) };
        return;
    }
    scan_block_scalar(table, block, m, sums);
}

/// The scalar reference of [`scan_block`]: one lookup per sub-space and vector.
pub fn scan_block_scalar(table: &QuantizedTable, block: &[u8], m: usize, sums: &mut [u16; BLOCK]) {
    *sums = [0; BLOCK];
    for (t, codes) in table
        .entries
        .chunks_exact(CENTROIDS)
        .zip(block.chunks_exact(BLOCK))
        .take(m)
    {
        for (sum, &c) in sums.iter_mut().zip(codes) {
            *sum += t[c as usize] as u16;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{BLOCK, CENTROIDS};

    /// Sums of one block, a sub-space per step: the 32 codes (a 256-bit load, in the low half
    /// of a 512-bit register) index the table's low 128 entries through `vpermt2b` on two
    /// registers and the high 128 through two more; each index's top bit picks between the two
    /// (the permutes read only the low seven bits). The upper 32 bytes of each lookup are
    /// ignored; the low 32 are widened to 16 bits and added.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi,avx2")]
    pub(super) unsafe fn scan_block_vbmi(lut: &[u8], block: &[u8], m: usize, sums: &mut [u16; BLOCK]) {
        assert!(lut.len() >= m * CENTROIDS && block.len() >= m * BLOCK);
        let mut acc = _mm512_setzero_si512();
        for j in 0..m {
            // SAFETY: (j + 1)·256 ≤ lut.len() and (j + 1)·32 ≤ block.len() (asserted above);
            // unaligned loads.
            let (t0, t1, t2, t3, codes) = unsafe {
                let t = lut.as_ptr().add(j * CENTROIDS);
                (
                    _mm512_loadu_si512(t.cast()),
                    _mm512_loadu_si512(t.add(64).cast()),
                    _mm512_loadu_si512(t.add(128).cast()),
                    _mm512_loadu_si512(t.add(192).cast()),
                    _mm512_castsi256_si512(_mm256_loadu_si256(block.as_ptr().add(j * BLOCK).cast())),
                )
            };
            let low = _mm512_permutex2var_epi8(t0, codes, t1);
            let high = _mm512_permutex2var_epi8(t2, codes, t3);
            let looked_up = _mm512_mask_blend_epi8(_mm512_movepi8_mask(codes), low, high);
            acc = _mm512_add_epi16(acc, _mm512_cvtepu8_epi16(_mm512_castsi512_si256(looked_up)));
        }
        // SAFETY: `sums` holds 32 u16 = 64 bytes; unaligned store.
        unsafe { _mm512_storeu_si512(sums.as_mut_ptr().cast(), acc) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The VBMI kernel gives the scalar sums exactly, for every m from 1 to 64 and a few up to
    /// 256, on random tables and codes that use all 256 centroids (both halves of each table).
    #[test]
    fn the_vbmi_scan_equals_the_scalar_one() {
        if !vbmi() {
            return;
        }
        let mut rng = geodex_testkit::Rng::new(5);
        for m in (1..=64).chain([96, 128, 200, 256]) {
            let table = QuantizedTable {
                entries: (0..m * CENTROIDS).map(|_| rng.below(256) as u8).collect(),
                bias: 0.0,
                step: 1.0,
            };
            let block: Vec<u8> = (0..block_bytes(m)).map(|_| rng.below(256) as u8).collect();
            let (mut fast, mut slow) = ([0u16; BLOCK], [0u16; BLOCK]);
            scan_block(&table, &block, m, &mut fast);
            scan_block_scalar(&table, &block, m, &mut slow);
            assert_eq!(fast, slow, "m {m}");
        }
    }

    /// The scalar scan is the definition: lane i's sum is Σ_j table_j(code of vector i in
    /// sub-space j), for codes written by [`put_lane`].
    #[test]
    fn a_lane_sums_its_own_codes() {
        let mut rng = geodex_testkit::Rng::new(8);
        let m = 5;
        let table = QuantizedTable {
            entries: (0..m * CENTROIDS).map(|_| rng.below(256) as u8).collect(),
            bias: 0.0,
            step: 1.0,
        };
        let codes: Vec<Vec<u8>> = (0..BLOCK)
            .map(|_| (0..m).map(|_| rng.below(256) as u8).collect())
            .collect();
        let mut block = vec![0u8; block_bytes(m)];
        for (lane, code) in codes.iter().enumerate() {
            put_lane(&mut block, lane, code.iter().copied());
        }
        let mut sums = [0u16; BLOCK];
        scan_block(&table, &block, m, &mut sums);
        for (lane, code) in codes.iter().enumerate() {
            let expected: u16 = code
                .iter()
                .enumerate()
                .map(|(j, &c)| table.entries[j * 256 + c as usize] as u16)
                .sum();
            assert_eq!(sums[lane], expected, "lane {lane}");
        }
    }
}
