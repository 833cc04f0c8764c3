//! Like `index_loader`, but the header and section checksums are recomputed after the fuzzer's
//! mutation, so mutations get past the checksums and reach the structural validation (link ids,
//! degrees, offsets, levels) — the checks that keep search in bounds.
#![no_main]

#[path = "common.rs"]
mod common;

use xxhash_rust::xxh3::xxh3_64;

fn fix_checksums(b: &mut [u8]) {
    if b.len() < 128 {
        return;
    }
    let sections = u32::from_le_bytes(b[64..68].try_into().unwrap()) as usize;
    let table_end = 128 + sections.min(64) * 32;
    if b.len() < table_end {
        return;
    }
    for s in 0..sections.min(64) {
        let e = 128 + s * 32;
        let off = u64::from_le_bytes(b[e + 8..e + 16].try_into().unwrap()) as usize;
        let len = u64::from_le_bytes(b[e + 16..e + 24].try_into().unwrap()) as usize;
        if let Some(end) = off.checked_add(len).filter(|&end| end <= b.len()) {
            let sum = xxh3_64(&b[off..end]);
            b[e + 24..e + 32].copy_from_slice(&sum.to_le_bytes());
        }
    }
    let sum = xxh3_64(&[&b[..120], &b[128..table_end]].concat());
    b[120..128].copy_from_slice(&sum.to_le_bytes());
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut bytes = data.to_vec();
    fix_checksums(&mut bytes);
    common::open_and_use(&bytes);
});
