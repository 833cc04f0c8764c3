//! Arbitrary bytes as a .ivecs file: a matrix or a typed error, never a crash.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(m) = geodex_io::texmex::parse::<i32>(data, "fuzz.ivecs") {
        assert_eq!(m.as_slice().len(), m.rows() * m.dim());
    }
});
