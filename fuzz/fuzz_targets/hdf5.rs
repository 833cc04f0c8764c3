//! Arbitrary bytes as an ann-benchmarks .hdf5 file, through libhdf5.
#![no_main]

use std::io::Write;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut file = tempfile::Builder::new().suffix(".hdf5").tempfile().expect("temporary file");
    file.write_all(data).expect("write");
    let _ = geodex_io::read_vectors(file.path(), geodex_io::Role::Base);
    let _ = geodex_io::read_vectors(file.path(), geodex_io::Role::Queries);
    let _ = geodex_io::read_ids(file.path());
});
