//! Arbitrary bytes as an index file: open must reject or accept, never crash.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::open_and_use(data));
