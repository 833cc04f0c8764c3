//! The pure-Rust HDF5 reader against files written by h5py (libhdf5), from
//! `testdata/hdf5/make.py`: contents checked by recomputing the stored neighbours.

use std::path::PathBuf;

use geodex_io::{hdf5, read_ids, read_vectors, AnyVectors, Role};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/hdf5")
        .join(name)
}

/// Exact 10-NN by squared L2 in f64, ties by smaller id; and the plain distances.
fn exact(train: &[Vec<f64>], q: &[f64]) -> (Vec<u64>, Vec<f64>) {
    let mut d: Vec<(f64, u64)> = train
        .iter()
        .enumerate()
        .map(|(i, t)| {
            (
                t.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum::<f64>(),
                i as u64,
            )
        })
        .collect();
    d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    d.truncate(10);
    (
        d.iter().map(|x| x.1).collect(),
        d.iter().map(|x| x.0.sqrt()).collect(),
    )
}

fn rows_f64(v: &AnyVectors) -> Vec<Vec<f64>> {
    v.clone()
        .into_f32()
        .iter()
        .map(|r| r.iter().map(|&x| x as f64).collect())
        .collect()
}

#[test]
fn h5py_files_read_back_exactly() {
    for (name, element, dim) in [
        ("h5py-f32.hdf5", "f32", 8),
        ("h5py-u8.hdf5", "u8", 16),
        ("h5py-f64-i64.hdf5", "f32", 4),
    ] {
        let path = fixture(name);
        let train = read_vectors(&path, Role::Base).unwrap();
        let test = read_vectors(&path, Role::Queries).unwrap();
        assert_eq!(
            (train.rows(), train.dim(), train.element_name()),
            (200, dim, element),
            "{name}"
        );
        assert_eq!((test.rows(), test.dim()), (6, dim), "{name}");
        let nn = read_ids(&path).unwrap();
        let dist = hdf5::read_distances(&path).unwrap();
        let (train_rows, test_rows) = (rows_f64(&train), rows_f64(&test));
        for (i, q) in test_rows.iter().enumerate() {
            let (ids, d) = exact(&train_rows, q);
            assert_eq!(nn.row(i), ids.as_slice(), "{name} query {i}");
            for (stored, ours) in dist.row(i).iter().zip(&d) {
                assert!(
                    (*stored as f64 - ours).abs() <= 1e-5 * (1.0 + ours),
                    "{name}: {stored} vs {ours}"
                );
            }
        }
    }
}

#[test]
fn a_shape_the_file_cannot_hold_is_an_error_not_an_allocation() {
    let msg = read_vectors(&fixture("huge-claim.hdf5"), Role::Base)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("huge-claim.hdf5") && msg.contains("claims 100000000000 × 4 values"),
        "{msg}"
    );
}
