//! Arbitrary bytes as a .fvecs file: a matrix or a typed error, never a crash.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(m) = geodex_io::texmex::parse::<f32>(data, "fuzz.fvecs") {
        assert_eq!(m.as_slice().len(), m.rows() * m.dim());
    }
});
