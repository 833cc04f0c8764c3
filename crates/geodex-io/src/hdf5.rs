//! ann-benchmarks `.hdf5` files: data sets `train` (base), `test` (queries), `neighbors`
//! (true ids, best first) and `distances`, read through libhdf5 (crate `hdf5-metno`).

use std::path::Path;

use hdf5::types::{FloatSize, IntSize, TypeDescriptor};

use crate::vectors::check_dim;
use crate::{AnyVectors, IoError, Matrix, Role};

fn h5_err(path: &Path, reason: impl std::fmt::Display) -> IoError {
    IoError::Hdf5 {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// The most a data set may expand relative to the file holding it (compression ratio), before
/// its claimed shape is taken for corruption rather than allocated: a damaged header claiming
/// 10¹² rows must be an error, not an out-of-memory abort (found by the `hdf5` fuzz target).
const MAX_EXPANSION: u64 = 1024;

/// Opens data set `name` of `path` and returns it with its (rows, dim), checking it is 2-D and
/// that its size is plausible for the file.
fn open_2d(path: &Path, name: &str) -> Result<(hdf5::Dataset, usize, usize), IoError> {
    if !path.exists() {
        return Err(IoError::Io {
            path: path.display().to_string(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
    }
    let file = hdf5::File::open(path).map_err(|e| h5_err(path, format!("not a readable HDF5 file ({e})")))?;
    let ds = file
        .dataset(name)
        .map_err(|_| h5_err(path, format!("no data set '{name}'")))?;
    match ds.shape().as_slice() {
        [0, _] => Err(IoError::Empty {
            path: path.display().to_string(),
        }),
        [rows, dim] => {
            let dim = check_dim(&path.display().to_string(), 0, *dim as i64)?;
            let file_len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            let bytes = (*rows as u64)
                .checked_mul(dim as u64)
                .and_then(|x| x.checked_mul(ds.dtype().map_or(8, |t| t.size()) as u64));
            match bytes {
                Some(b) if b <= file_len.saturating_mul(MAX_EXPANSION) => Ok((ds, *rows, dim)),
                _ => Err(h5_err(path, format!("data set '{name}' claims {rows} × {dim} values, more than a {file_len}-byte file can hold"))),
            }
        }
        s => Err(h5_err(
            path,
            format!("data set '{name}' has shape {s:?}, expected 2-D"),
        )),
    }
}

/// Reads `train` (for [`Role::Base`]) or `test` (for [`Role::Queries`]); `uint8` stays bytes,
/// any float type is read as `f32`.
pub fn read_vectors(path: &Path, role: Role) -> Result<AnyVectors, IoError> {
    let name = match role {
        Role::Base => "train",
        Role::Queries => "test",
    };
    let (ds, _, dim) = open_2d(path, name)?;
    let descr = ds
        .dtype()
        .and_then(|t| t.to_descriptor())
        .map_err(|e| h5_err(path, e))?;
    let read_err = |e| h5_err(path, format!("reading '{name}': {e}"));
    match descr {
        TypeDescriptor::Unsigned(IntSize::U1) => Ok(AnyVectors::U8(
            Matrix::new(dim, ds.read_raw::<u8>().map_err(read_err)?).expect("2-D data set"),
        )),
        TypeDescriptor::Float(FloatSize::U4 | FloatSize::U8) => Ok(AnyVectors::F32(
            Matrix::new(dim, ds.read_raw::<f32>().map_err(read_err)?).expect("2-D data set"),
        )),
        other => Err(h5_err(
            path,
            format!("'{name}' holds {other}; expected floats or uint8"),
        )),
    }
}

/// Reads 2-D data set `name` as `T`, after checking its stored type with `fits`.
fn read_2d<T: hdf5::H5Type + Copy>(
    path: &Path,
    name: &str,
    expected: &str,
    fits: impl Fn(&TypeDescriptor) -> bool,
) -> Result<Matrix<T>, IoError> {
    let (ds, _, dim) = open_2d(path, name)?;
    let descr = ds
        .dtype()
        .and_then(|t| t.to_descriptor())
        .map_err(|e| h5_err(path, e))?;
    if !fits(&descr) {
        return Err(h5_err(
            path,
            format!("'{name}' holds {descr}; expected {expected}"),
        ));
    }
    let values = ds
        .read_raw::<T>()
        .map_err(|e| h5_err(path, format!("reading '{name}': {e}")))?;
    Ok(Matrix::new(dim, values).expect("2-D data set"))
}

/// Reads `neighbors` as 32-bit ids.
pub fn read_neighbors(path: &Path) -> Result<Matrix<i32>, IoError> {
    read_2d(path, "neighbors", "integers", |d| {
        matches!(d, TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_))
    })
}

/// Reads `distances`: the true neighbours' distances, row for row with `neighbors` (useful for
/// tie-aware evaluation; ann-benchmarks stores plain, not squared, L2 distances).
pub fn read_distances(path: &Path) -> Result<Matrix<f32>, IoError> {
    read_2d(path, "distances", "floats", |d| {
        matches!(d, TypeDescriptor::Float(_))
    })
}

/// Writes an ann-benchmarks file (`train`, `test`, `neighbors`, and `distances` if given);
/// used by tests and by tools converting data sets. Not atomic: HDF5 writes in place.
pub fn write_ann_benchmarks(
    path: &Path,
    train: &Matrix<f32>,
    test: &Matrix<f32>,
    neighbors: &Matrix<i32>,
    distances: Option<&Matrix<f32>>,
) -> Result<(), IoError> {
    let err = |e: hdf5::Error| h5_err(path, e);
    let file = hdf5::File::create(path).map_err(err)?;
    let put_f32 = |name: &str, m: &Matrix<f32>| -> Result<(), IoError> {
        file.new_dataset::<f32>()
            .shape([m.rows(), m.dim()])
            .create(name)
            .map_err(err)?
            .write_raw(m.as_slice())
            .map_err(err)
    };
    put_f32("train", train)?;
    put_f32("test", test)?;
    file.new_dataset::<i32>()
        .shape([neighbors.rows(), neighbors.dim()])
        .create("neighbors")
        .map_err(err)?
        .write_raw(neighbors.as_slice())
        .map_err(err)?;
    if let Some(d) = distances {
        put_f32("distances", d)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_libhdf5() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.hdf5");
        let train = Matrix::from_rows(&[[1.0f32, 2.0], [3.0, 4.0], [5.0, 6.0]]).unwrap();
        let test = Matrix::from_rows(&[[0.5f32, 0.5]]).unwrap();
        let nn = Matrix::from_rows(&[[0i32, 1, 2]]).unwrap();
        let dist = Matrix::from_rows(&[[0.7f32, 2.1, 4.9]]).unwrap();
        write_ann_benchmarks(&path, &train, &test, &nn, Some(&dist)).unwrap();
        assert_eq!(read_distances(&path).unwrap(), dist);
        assert_eq!(read_vectors(&path, Role::Base).unwrap(), AnyVectors::F32(train));
        assert_eq!(read_vectors(&path, Role::Queries).unwrap(), AnyVectors::F32(test));
        assert_eq!(read_neighbors(&path).unwrap(), nn);
    }

    #[test]
    fn implausible_shapes_are_rejected_before_allocating() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.hdf5");
        let file = hdf5::File::create(&path).unwrap();
        // A chunked data set of 10¹¹ × 4 floats that stores nothing: a few KB on disk.
        file.new_dataset::<f32>()
            .chunk([1024, 4])
            .shape([100_000_000_000usize, 4])
            .create("train")
            .unwrap();
        drop(file);
        let msg = read_vectors(&path, Role::Base).unwrap_err().to_string();
        assert!(msg.contains("claims 100000000000 × 4 values"), "{msg}");
    }

    #[test]
    fn garbage_and_missing_sets_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.hdf5");
        std::fs::write(&path, b"definitely not hdf5").unwrap();
        let msg = read_vectors(&path, Role::Base).unwrap_err().to_string();
        assert!(
            msg.contains("g.hdf5") && msg.contains("not a readable HDF5"),
            "{msg}"
        );
        let ok = dir.path().join("ok.hdf5");
        let one = Matrix::from_rows(&[[1.0f32]]).unwrap();
        write_ann_benchmarks(&ok, &one, &one, &Matrix::from_rows(&[[0i32]]).unwrap(), None).unwrap();
        let f = hdf5::File::open_rw(&ok).unwrap();
        f.unlink("test").unwrap();
        drop(f);
        assert!(read_vectors(&ok, Role::Queries)
            .unwrap_err()
            .to_string()
            .contains("no data set 'test'"));
    }
}
