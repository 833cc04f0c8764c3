//! Arbitrary bytes as a .bvecs file: a matrix or a typed error, never a crash.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(m) = geodex_io::texmex::parse::<u8>(data, "fuzz.bvecs") {
        assert_eq!(m.as_slice().len(), m.rows() * m.dim());
    }
});
