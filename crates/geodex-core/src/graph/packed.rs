//! Level-0 adjacency lists compressed (`geodex build --links compressed`, issue 20 item 1).
//!
//! Order within a list carries nothing the search uses, so each list is stored sorted by id:
//! its first id in ⌈log₂ n⌉ bits, then the gaps between consecutive ids (minus one) at the
//! smallest width w that holds the list's largest gap, bit-packed least significant bit first.
//! A sorted list of d ids out of n costs about d·log₂(n/d) + O(d) bits this way, near the
//! counting bound log₂ C(n, d) ≈ d·log₂(n·e/d) (`geodex analyze --only compression` reports both).
//!
//! Random access without an offset table: every node owns a slot of `slot` bytes at
//! `node · slot`, chosen at build to minimise the total size; the few lists longer than a slot
//! spill to an area after the slots, and their slot holds the spill offset instead. One list is
//! then one memory access, as with fixed rows, instead of an offset lookup followed by the list.
//!
//! Slot layout (little-endian): byte 0 = count mod 256; byte 1 = count ÷ 256 (2 bits) |
//! w << 2 (6 bits); then the bit stream. A spilled list has w = [`SPILLED`] and bytes 2..10 hold
//! the spill offset (u64, from the end of the slots), where the full list (header and stream)
//! lies. The section ends with [`TAIL_PAD`] zero bytes so that every 8-byte read stays inside.
//!
//! Written by hand: the codec is the product here (decoded inside the search loop, per
//! expansion), and the general integer-compression crates decode whole blocks into buffers.

use std::borrow::Cow;

/// Zero bytes after the last list: the decoder reads 8 bytes at a time.
pub const TAIL_PAD: usize = 8;
/// The width code marking a spilled list.
pub const SPILLED: u8 = 63;
/// The smallest slot: a header and a spill offset.
pub const MIN_SLOT: usize = 10;
/// Longest list the two header bytes can count (the format's M0 bound is 512).
const MAX_COUNT: usize = 1023;

/// Bits that hold every node id below `n`.
pub fn id_bits(n: usize) -> u32 {
    (usize::BITS - n.saturating_sub(1).leading_zeros()).max(1)
}

/// Appends bit fields to a byte vector, least significant bit first.
struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    acc: u64,
    bits: u32,
}

impl BitWriter<'_> {
    fn put(&mut self, value: u32, width: u32) {
        self.acc |= u64::from(value) << self.bits;
        self.bits += width;
        while self.bits >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.bits -= 8;
        }
    }

    fn finish(self) {
        if self.bits > 0 {
            self.out.push(self.acc as u8);
        }
    }
}

/// Bits needed for `x` (0 for 0).
fn bits_of(x: u32) -> u32 {
    u32::BITS - x.leading_zeros()
}

/// The bit width of `sorted`'s largest gap (minus one), at which all its gaps are stored.
fn gap_width(sorted: &[u32]) -> u32 {
    sorted
        .windows(2)
        .map(|w| bits_of(w[1] - w[0] - 1))
        .max()
        .unwrap_or(0)
}

/// Appends the header and stream of `sorted` (strictly increasing ids below 2^`idb`).
fn encode_list(sorted: &[u32], idb: u32, out: &mut Vec<u8>) {
    let count = sorted.len();
    debug_assert!(count <= MAX_COUNT && sorted.windows(2).all(|w| w[0] < w[1]));
    let width = gap_width(sorted);
    out.push(count as u8);
    out.push((count >> 8) as u8 | (width as u8) << 2);
    let mut w = BitWriter { out, acc: 0, bits: 0 };
    if let Some((&first, rest)) = sorted.split_first() {
        w.put(first, idb);
        let mut prev = first;
        for &id in rest {
            w.put(id - prev - 1, width);
            prev = id;
        }
    }
    w.finish();
}

/// Bytes of an encoded list of `count` ids at gap width `width`.
fn encoded_len(count: usize, width: u32, idb: u32) -> usize {
    match count {
        0 => 2,
        c => 2 + (idb as usize + (c - 1) * width as usize).div_ceil(8),
    }
}

/// The compressed level-0 section's bytes and slot size for `n` lists, list `node` written
/// by `list_of(node, out)` into the cleared `out` (any order, ids below `n`, none repeated,
/// at most 1023; the same list on every call).
///
/// Two passes over the lists: the first measures every encoded length (4 bytes per node), the
/// second encodes each list straight into its slot or the spill area of a section allocated
/// once at its final size. A single pass would keep every list's bytes in a growing buffer
/// beside the section — at 10M nodes ≈ 0.8 GB, up to twice that while the buffer doubles, the
/// peak of a compressed build (BENCHMARKS.md, ten million vectors).
pub fn encode(n: usize, mut list_of: impl FnMut(u32, &mut Vec<u32>)) -> (Vec<u8>, usize) {
    let idb = id_bits(n);
    let mut ids = Vec::new();
    let mut sorted_list = |node: u32, ids: &mut Vec<u32>| {
        ids.clear();
        list_of(node, ids);
        ids.sort_unstable();
    };
    let lens: Vec<u32> = (0..n as u32)
        .map(|node| {
            sorted_list(node, &mut ids);
            encoded_len(ids.len(), gap_width(&ids), idb) as u32
        })
        .collect();
    let slot = best_slot(lens.iter().map(|&l| l as usize));
    let spilled: usize = lens.iter().map(|&l| l as usize).filter(|&l| l > slot).sum();
    let mut bytes = vec![0u8; n * slot + spilled + TAIL_PAD];
    let (slots, spill) = bytes.split_at_mut(n * slot);
    let (mut spill_at, mut list) = (0usize, Vec::new());
    for (node, dst) in slots.chunks_exact_mut(slot).enumerate() {
        sorted_list(node as u32, &mut ids);
        list.clear();
        encode_list(&ids, idb, &mut list);
        debug_assert_eq!(list.len(), lens[node] as usize, "list_of gave another list");
        if list.len() <= slot {
            dst[..list.len()].copy_from_slice(&list);
        } else {
            dst[..2].copy_from_slice(&[list[0], list[1] & 3 | SPILLED << 2]);
            dst[2..10].copy_from_slice(&(spill_at as u64).to_le_bytes());
            spill[spill_at..spill_at + list.len()].copy_from_slice(&list);
            spill_at += list.len();
        }
    }
    (bytes, slot)
}

/// Most lists that may spill, as a share of all (a spilled list costs the search a second
/// memory access, which the prefetch of its slot does not cover).
pub const MAX_SPILL_SHARE: f64 = 0.05;

/// The slot size (≥ [`MIN_SLOT`]) that minimises n·slot plus the spilled lists' bytes with at
/// most [`MAX_SPILL_SHARE`] of the lists spilled. The optimum is [`MIN_SLOT`] or one of the
/// list lengths (the total rises between lengths); O(n log n).
fn best_slot(lens: impl Iterator<Item = usize>) -> usize {
    let mut lens: Vec<usize> = lens.collect();
    lens.sort_unstable();
    let n = lens.len();
    let mut suffix = vec![0usize; n + 1];
    for i in (0..n).rev() {
        suffix[i] = suffix[i + 1] + lens[i];
    }
    let max_spilled = (n as f64 * MAX_SPILL_SHARE) as usize;
    let cost = |slot: usize| {
        let fits = lens.partition_point(|&l| l <= slot);
        (n - fits <= max_spilled).then(|| n * slot + suffix[fits])
    };
    std::iter::once(MIN_SLOT)
        .chain(lens.iter().copied().filter(|&l| l > MIN_SLOT))
        .filter_map(|slot| cost(slot).map(|total| (total, slot)))
        .min()
        .map_or(MIN_SLOT, |(_, slot)| slot)
}

/// Reads `width` ≤ 32 bits at bit `bit` of `bytes` (which extend ≥ 8 bytes past that byte).
#[inline(always)]
fn read_bits(bytes: &[u8], bit: usize, width: u32) -> u32 {
    let at = bit / 8;
    let word = u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    ((word >> (bit % 8)) & ((1u64 << width) - 1)) as u32
}

/// A borrowed compressed level 0: what the search decodes.
#[derive(Clone, Copy, Debug)]
pub struct PackedRows<'a> {
    bytes: &'a [u8],
    slot: usize,
    n: usize,
    idb: u32,
}

/// One list's header: id count and gap width.
#[inline(always)]
fn header(b: &[u8]) -> (usize, u8) {
    (b[0] as usize | (b[1] as usize & 3) << 8, b[1] >> 2)
}

impl<'a> PackedRows<'a> {
    /// The view of an encoded section of `n` lists with slots of `slot` bytes.
    pub fn new(bytes: &'a [u8], slot: usize, n: usize) -> Self {
        PackedRows {
            bytes,
            slot,
            n,
            idb: id_bits(n),
        }
    }

    /// The encoded list of `node` (header first), followed by at least [`TAIL_PAD`] bytes.
    #[inline(always)]
    fn list_bytes(&self, node: u32) -> &'a [u8] {
        let at = node as usize * self.slot;
        let b = &self.bytes[at..];
        if b[1] >> 2 != SPILLED {
            return b;
        }
        let off = u64::from_le_bytes(b[2..10].try_into().expect("8 bytes")) as usize;
        &self.bytes[self.n * self.slot + off..]
    }

    /// Calls `f` with each link of `node`, in increasing id order, decoding as it goes.
    #[inline(always)]
    pub fn for_each(&self, node: u32, mut f: impl FnMut(u32)) {
        let b = self.list_bytes(node);
        let (count, width) = header(b);
        if count == 0 {
            return;
        }
        let (stream, width) = (&b[2..], u32::from(width));
        let mut id = read_bits(stream, 0, self.idb);
        f(id);
        let mut bit = self.idb as usize;
        for _ in 1..count {
            id += read_bits(stream, bit, width) + 1;
            bit += width as usize;
            f(id);
        }
    }

    /// The links of `node`, decoded into a vector.
    pub fn list(&self, node: u32) -> Cow<'a, [u32]> {
        let mut out = Vec::with_capacity(header(self.list_bytes(node)).0);
        self.for_each(node, |id| out.push(id));
        Cow::Owned(out)
    }

    /// Starts loading `node`'s slot.
    #[inline(always)]
    pub fn prefetch(&self, node: u32) {
        // The slot may straddle two cache lines: touch its first and last byte.
        let at = node as usize * self.slot;
        if let Some(slot) = self.bytes.get(at..at + self.slot) {
            geodex_distance::prefetch(&slot[..1]);
            geodex_distance::prefetch(&slot[self.slot - 1..]);
        }
    }

    /// Bytes of the section.
    pub fn len_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// Checks what the decoder relies on and what a correct build guarantees: the section's
    /// size, every slot's header (count ≤ `m0`, width ≤ 32, or a spill inside the spill area),
    /// every list inside the section with the tail padding after it, ids below n, no
    /// self-link. Returns the first problem.
    pub fn validate(&self, m0: usize) -> Result<(), String> {
        let slots = self.n.checked_mul(self.slot).ok_or("slot area overflows")?;
        if self.slot < MIN_SLOT || slots + TAIL_PAD > self.bytes.len() {
            return Err(format!(
                "compressed level 0: {} bytes cannot hold {} slots of {} bytes",
                self.bytes.len(),
                self.n,
                self.slot
            ));
        }
        if self.bytes[self.bytes.len() - TAIL_PAD..].iter().any(|&b| b != 0) {
            return Err("compressed level 0: tail padding is not zero".into());
        }
        let data_end = self.bytes.len() - TAIL_PAD;
        for node in 0..self.n {
            let slot = &self.bytes[node * self.slot..][..self.slot];
            let start = if slot[1] >> 2 == SPILLED {
                let off = u64::from_le_bytes(slot[2..10].try_into().expect("8 bytes"));
                let at = usize::try_from(off).ok().and_then(|o| slots.checked_add(o));
                match at.filter(|&a| a + 2 <= data_end) {
                    Some(a) => a,
                    None => return Err(format!("node {node}: spill offset {off} outside the section")),
                }
            } else {
                node * self.slot
            };
            let (count, width) = header(&self.bytes[start..]);
            if width == SPILLED && start != node * self.slot {
                return Err(format!("node {node}: a spilled list spills again"));
            }
            if count > m0 || width > 32 {
                return Err(format!(
                    "node {node} level 0: {count} links (bound {m0}) at gap width {width}"
                ));
            }
            let end = start + encoded_len(count, u32::from(width), self.idb);
            let limit = if start == node * self.slot {
                start + self.slot
            } else {
                data_end
            };
            if end > limit {
                return Err(format!("node {node}: its list runs past its slot or the section"));
            }
            let mut bad = None;
            let mut last = 0u64;
            let mut first = true;
            // Ids in u64: a corrupt gap cannot wrap before it is seen to exceed n.
            let stream = &self.bytes[start + 2..];
            let mut bit = 0usize;
            for i in 0..count {
                let w = if i == 0 { self.idb } else { u32::from(width) };
                let v = u64::from(read_bits(stream, bit, w));
                bit += w as usize;
                let id = if first { v } else { last + v + 1 };
                first = false;
                last = id;
                if id >= self.n as u64 || id == node as u64 {
                    bad = Some(id);
                    break;
                }
            }
            if let Some(id) = bad {
                return Err(format!(
                    "node {node} level 0: link {id} is out of range or a self-link"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(state: &mut u64) -> u64 {
        *state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *state >> 33
    }

    /// Random lists of mixed lengths (some long enough to spill) round-trip as sets.
    #[test]
    fn lists_round_trip_as_sorted_sets() {
        let n = 3000;
        let mut s = 7;
        let lists: Vec<Vec<u32>> = (0..n)
            .map(|node| {
                let len = if node % 97 == 0 {
                    200
                } else {
                    (lcg(&mut s) % 40) as usize
                };
                let mut l: Vec<u32> = Vec::new();
                while l.len() < len {
                    let id = (lcg(&mut s) % n as u64) as u32;
                    if id != node && !l.contains(&id) {
                        l.push(id);
                    }
                }
                l
            })
            .collect();
        let (bytes, slot) = encode(lists.len(), |u, out| out.extend(&lists[u as usize]));
        let rows = PackedRows::new(&bytes, slot, n as usize);
        rows.validate(512).unwrap();
        assert!(
            rows.validate(100).is_err(),
            "the 200-link lists exceed a bound of 100"
        );
        for (node, l) in lists.iter().enumerate() {
            let mut want = l.clone();
            want.sort_unstable();
            assert_eq!(*rows.list(node as u32), want[..], "node {node}");
        }
        let spilled = (0..n)
            .filter(|&u| bytes[u as usize * slot + 1] >> 2 == SPILLED)
            .count();
        assert!(
            spilled > 0 && spilled as f64 <= n as f64 * MAX_SPILL_SHARE,
            "{spilled} spilled"
        );
    }

    /// The slot choice minimises the total under the spill cap, checked against trying every
    /// size.
    #[test]
    fn slot_minimises_total_bytes() {
        let mut lens: Vec<usize> = (0..40).map(|i| 12 + i % 3).collect();
        lens.extend([40, 90, 11]);
        let spilled = |s: usize| lens.iter().filter(|&&l| l > s).count();
        let total = |s: usize| lens.len() * s + lens.iter().filter(|&&l| l > s).sum::<usize>();
        let cap = (lens.len() as f64 * MAX_SPILL_SHARE) as usize;
        let best = (MIN_SLOT..=100)
            .filter(|&s| spilled(s) <= cap)
            .min_by_key(|&s| total(s))
            .unwrap();
        let chosen = best_slot(lens.iter().copied());
        assert_eq!((total(chosen), spilled(chosen) <= cap), (total(best), true));
    }

    /// Every single-byte corruption of a small section is caught by `validate` or decodes
    /// to in-range ids (the decoder never reads out of bounds: it would panic here).
    #[test]
    fn corrupt_bytes_are_rejected_or_harmless() {
        let n = 60u32;
        let lists: Vec<Vec<u32>> = (0..n)
            .map(|u| (1..6).map(|k| (u + 7 * k) % n).collect())
            .collect();
        let (bytes, slot) = encode(lists.len(), |u, out| out.extend(&lists[u as usize]));
        for at in 0..bytes.len() {
            for flip in [1u8, 0x80, 0xff] {
                let mut bad = bytes.clone();
                bad[at] ^= flip;
                let rows = PackedRows::new(&bad, slot, n as usize);
                if rows.validate(10).is_ok() {
                    for u in 0..n {
                        rows.for_each(u, |id| assert!(id < n && id != u));
                    }
                }
            }
        }
    }
}
