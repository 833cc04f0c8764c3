//! Arbitrary bytes as a .npy file: an array or a typed error, never a crash.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(a) = geodex_io::npy::parse(data, "fuzz.npy") {
        let _ = a.clone().into_vectors("fuzz.npy");
        let _ = a.into_ids("fuzz.npy");
    }
});
