//! Reading and re-sealing the raw bytes of an index file (ARCHITECTURE.md §4), for tests that
//! corrupt a file on purpose: the section table, and the checksums recomputed after a change so
//! that only the content checks can catch it.

/// Reads the little-endian u64 at `at`.
fn u64_at(b: &[u8], at: usize) -> usize {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes")) as usize
}

/// The number of sections the header announces.
fn section_count(b: &[u8]) -> usize {
    u32::from_le_bytes(b[64..68].try_into().expect("4 bytes")) as usize
}

/// (offset, length) of each section, in table order.
pub fn section_ranges(b: &[u8]) -> Vec<(usize, usize)> {
    (0..section_count(b))
        .map(|s| (u64_at(b, 128 + 32 * s + 8), u64_at(b, 128 + 32 * s + 16)))
        .collect()
}

/// (offset, length) of the section of `kind`; panics if the file has none.
pub fn section(b: &[u8], kind: u32) -> (usize, usize) {
    (0..section_count(b))
        .find(|s| u32::from_le_bytes(b[128 + 32 * s..][..4].try_into().expect("4 bytes")) == kind)
        .map(|s| (u64_at(b, 128 + 32 * s + 8), u64_at(b, 128 + 32 * s + 16)))
        .expect("section present")
}

/// Recomputes every section's checksum and the header's (xxh3-64).
pub fn fix_checksums(b: &mut [u8]) {
    use xxhash_rust::xxh3::xxh3_64;
    let count = section_count(b);
    for s in 0..count {
        let e = 128 + 32 * s;
        let sum = xxh3_64(&b[u64_at(b, e + 8)..u64_at(b, e + 8) + u64_at(b, e + 16)]);
        b[e + 24..e + 32].copy_from_slice(&sum.to_le_bytes());
    }
    let table_end = 128 + 32 * count;
    let sum = xxh3_64(&[&b[..120], &b[128..table_end]].concat());
    b[120..128].copy_from_slice(&sum.to_le_bytes());
}
