//! Writes a tiny ann-benchmarks `.hdf5` file (8 base vectors, 2 queries, exact neighbours):
//! a seed for the `hdf5` fuzz target and a sample for trying the CLI.
//! Usage: `cargo run -p geodex-io --example make_hdf5 -- OUT.hdf5`

use geodex_io::Matrix;

fn main() {
    let Some(out) = std::env::args().nth(1) else {
        eprintln!("usage: make_hdf5 OUT.hdf5");
        std::process::exit(2);
    };
    let train = Matrix::new(2, (0..16).map(|i| i as f32).collect()).expect("8 rows of 2");
    let test = Matrix::new(2, vec![0.5, 1.5, 9.0, 10.0]).expect("2 rows of 2");
    let neighbors = Matrix::new(2, vec![0, 1, 4, 5]).expect("2 rows of 2");
    if let Err(e) =
        geodex_io::hdf5::write_ann_benchmarks(std::path::Path::new(&out), &train, &test, &neighbors, None)
    {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
