//! ann-benchmarks `.hdf5` files: data sets `train` (base), `test` (queries), `neighbors`
//! (true ids, best first) and `distances`.
//!
//! Read with `hdf5-pure`, a pure-Rust HDF5 implementation, not libhdf5: fuzzing the reader on
//! Debian's libhdf5 1.10.8 (through `hdf5-metno`) found corrupt files that make the C library
//! segfault inside `H5F__accum_read`, and "never a crash on bad input" cannot be promised on
//! top of that. The pure-Rust reader turns the same files into errors, reads files written by
//! libhdf5 and h5py (tests below and in `tests/`), and needs no system library.

use std::path::Path;

use hdf5_pure::DType;

use crate::vectors::check_dim;
use crate::{AnyVectors, IoError, Matrix, Role};

/// The most a data set may expand relative to the file holding it (compression ratio), before
/// its claimed shape is taken for corruption rather than allocated: a damaged header claiming
/// 10¹² rows must be an error, not an out-of-memory abort (found by the `hdf5` fuzz target).
const MAX_EXPANSION: u64 = 1024;

fn h5_err(path: &Path, reason: impl std::fmt::Display) -> IoError {
    IoError::Hdf5 {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// Bytes per element of the numeric types we read.
fn element_size(t: &DType) -> Option<u64> {
    match t {
        DType::U8 | DType::I8 => Some(1),
        DType::U16 | DType::I16 => Some(2),
        DType::F32 | DType::I32 | DType::U32 => Some(4),
        DType::F64 | DType::I64 | DType::U64 => Some(8),
        _ => None,
    }
}

/// An open 2-D numeric data set: its handle, element type and dimension.
struct Set2d {
    ds: hdf5_pure::Dataset,
    dtype: DType,
    dim: usize,
}

/// Opens data set `name` of `path`, checking that it is 2-D, numeric, and that its claimed
/// size is plausible for the file.
fn open_2d(path: &Path, name: &str) -> Result<Set2d, IoError> {
    let file_len = std::fs::metadata(path)
        .map_err(|source| IoError::Io {
            path: path.display().to_string(),
            source,
        })?
        .len();
    let file =
        hdf5_pure::File::open(path).map_err(|e| h5_err(path, format!("not a readable HDF5 file ({e})")))?;
    let ds = file
        .dataset(name)
        .map_err(|_| h5_err(path, format!("no data set '{name}'")))?;
    let shape = ds
        .shape()
        .map_err(|e| h5_err(path, format!("data set '{name}': {e}")))?;
    let dtype = ds
        .dtype()
        .map_err(|e| h5_err(path, format!("data set '{name}': {e}")))?;
    let size = element_size(&dtype)
        .ok_or_else(|| h5_err(path, format!("data set '{name}' holds {dtype:?}, not numbers")))?;
    match shape.as_slice() {
        [0, _] => Err(IoError::Empty {
            path: path.display().to_string(),
        }),
        &[rows, dim] => {
            let dim = check_dim(&path.display().to_string(), 0, i64::try_from(dim).unwrap_or(-1))?;
            match rows.checked_mul(dim as u64).and_then(|x| x.checked_mul(size)) {
                Some(bytes) if bytes <= file_len.saturating_mul(MAX_EXPANSION) => Ok(Set2d { ds, dtype, dim }),
                _ => Err(h5_err(
                    path,
                    format!("data set '{name}' claims {rows} × {dim} values, more than a {file_len}-byte file can hold"),
                )),
            }
        }
        s => Err(h5_err(
            path,
            format!("data set '{name}' has shape {s:?}, expected 2-D"),
        )),
    }
}

fn matrix<T: Copy>(
    path: &Path,
    name: &str,
    dim: usize,
    values: Result<Vec<T>, hdf5_pure::Error>,
) -> Result<Matrix<T>, IoError> {
    let values = values.map_err(|e| h5_err(path, format!("reading '{name}': {e}")))?;
    Matrix::new(dim, values).ok_or_else(|| {
        h5_err(
            path,
            format!("'{name}' holds a number of values that is not a multiple of {dim}"),
        )
    })
}

/// Reads `train` (for [`Role::Base`]) or `test` (for [`Role::Queries`]); `uint8` stays bytes,
/// float32 is read as is and float64 narrowed to f32.
pub fn read_vectors(path: &Path, role: Role) -> Result<AnyVectors, IoError> {
    let name = match role {
        Role::Base => "train",
        Role::Queries => "test",
    };
    let Set2d { ds, dtype, dim } = open_2d(path, name)?;
    match dtype {
        DType::U8 => Ok(AnyVectors::U8(matrix(path, name, dim, ds.read_u8())?)),
        DType::F32 => Ok(AnyVectors::F32(matrix(path, name, dim, ds.read_f32())?)),
        DType::F64 => {
            let wide = ds.read_f64().map(|v| v.into_iter().map(|x| x as f32).collect());
            Ok(AnyVectors::F32(matrix(path, name, dim, wide)?))
        }
        other => Err(h5_err(
            path,
            format!("'{name}' holds {other:?}; expected float32, float64 or uint8"),
        )),
    }
}

/// Narrows ids to i32, naming the first that does not fit.
fn narrow<T: Copy + std::fmt::Display + TryInto<i32>>(
    path: &Path,
    dim: usize,
    wide: Vec<T>,
) -> Result<Vec<i32>, IoError> {
    wide.iter()
        .enumerate()
        .map(|(i, &v)| {
            v.try_into().map_err(|_| {
                h5_err(
                    path,
                    format!("neighbors row {}: id {v} does not fit in 32 bits", i / dim),
                )
            })
        })
        .collect()
}

/// Reads `neighbors` as 32-bit ids (stored as any 32- or 64-bit integer type).
pub fn read_neighbors(path: &Path) -> Result<Matrix<i32>, IoError> {
    let name = "neighbors";
    let Set2d { ds, dtype, dim } = open_2d(path, name)?;
    let read_err = |e: hdf5_pure::Error| h5_err(path, format!("reading '{name}': {e}"));
    let ids = match dtype {
        DType::I32 => ds.read_i32().map_err(read_err)?,
        DType::I64 => narrow(path, dim, ds.read_i64().map_err(read_err)?)?,
        DType::U32 => narrow(path, dim, ds.read_u32().map_err(read_err)?)?,
        DType::U64 => narrow(path, dim, ds.read_u64().map_err(read_err)?)?,
        other => {
            return Err(h5_err(
                path,
                format!("'{name}' holds {other:?}; expected integers"),
            ))
        }
    };
    matrix(path, name, dim, Ok(ids))
}

/// Reads `distances`: the true neighbours' distances, row for row with `neighbors` (useful for
/// tie-aware evaluation; ann-benchmarks stores plain, not squared, L2 distances).
pub fn read_distances(path: &Path) -> Result<Matrix<f32>, IoError> {
    let name = "distances";
    let Set2d { ds, dtype, dim } = open_2d(path, name)?;
    match dtype {
        DType::F32 => matrix(path, name, dim, ds.read_f32()),
        DType::F64 => matrix(
            path,
            name,
            dim,
            ds.read_f64().map(|v| v.into_iter().map(|x| x as f32).collect()),
        ),
        other => Err(h5_err(path, format!("'{name}' holds {other:?}; expected floats"))),
    }
}

/// Writes an ann-benchmarks file (`train`, `test`, `neighbors`, and `distances` if given),
/// atomically; used by tests and by tools converting data sets.
pub fn write_ann_benchmarks(
    path: &Path,
    train: &Matrix<f32>,
    test: &Matrix<f32>,
    neighbors: &Matrix<i32>,
    distances: Option<&Matrix<f32>>,
) -> Result<(), IoError> {
    let shape = |rows: usize, dim: usize| [rows as u64, dim as u64];
    let mut b = hdf5_pure::FileBuilder::new();
    b.create_dataset("train")
        .with_f32_data(train.as_slice())
        .with_shape(&shape(train.rows(), train.dim()));
    b.create_dataset("test")
        .with_f32_data(test.as_slice())
        .with_shape(&shape(test.rows(), test.dim()));
    b.create_dataset("neighbors")
        .with_i32_data(neighbors.as_slice())
        .with_shape(&shape(neighbors.rows(), neighbors.dim()));
    if let Some(d) = distances {
        b.create_dataset("distances")
            .with_f32_data(d.as_slice())
            .with_shape(&shape(d.rows(), d.dim()));
    }
    let bytes = b.finish().map_err(|e| h5_err(path, e))?;
    crate::atomic::write_file(path, |w| w.write_all(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
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
        let mut b = hdf5_pure::FileBuilder::new();
        b.create_dataset("train")
            .with_f32_data(&[1.0, 2.0])
            .with_shape(&[1, 2]);
        std::fs::write(&ok, b.finish().unwrap()).unwrap();
        assert!(read_vectors(&ok, Role::Queries)
            .unwrap_err()
            .to_string()
            .contains("no data set 'test'"));
        assert!(read_vectors(&ok, Role::Base).is_ok());
    }
}
