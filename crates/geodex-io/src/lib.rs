//! Vector files for geodex.
//!
//! Readers for TEXMEX `.fvecs`/`.bvecs`/`.ivecs`, NumPy `.npy` (f32, f64 → f32, u8, i32, i64 → i32)
//! and ann-benchmarks `.hdf5` (`train`, `test`, `neighbors`, `distances`); writers for `.fvecs`
//! and `.ivecs`, always atomic ([`atomic`]). Every reader validates the whole file and rejects a
//! malformed or truncated one with an [`IoError`] naming the file and the row; none panics.
//!
//! The byte-level parsers ([`texmex::parse`], [`npy::parse`]) take a `&[u8]`, so the fuzz
//! targets and the bundled demo data use the same code as files on disk.
#![deny(missing_docs)]

pub mod atomic;
mod error;
pub mod hdf5;
pub mod npy;
pub mod texmex;
mod vectors;

use std::path::Path;

pub use error::IoError;
pub use vectors::{AnyVectors, Matrix};

/// The largest dimension any reader accepts. Byte kernels are exact while d · 255² < 2³²
/// (d ≤ 66 051); 65 536 also keeps every row size of every format in a `u32`.
pub const MAX_DIM: usize = 65_536;

/// What a file is read for; decides the data set of an ann-benchmarks `.hdf5` file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Base vectors (`train` in `.hdf5`).
    Base,
    /// Query vectors (`test` in `.hdf5`).
    Queries,
}

/// The format of a file, from its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `.fvecs`: int32 d, then d float32, per row.
    Fvecs,
    /// `.bvecs`: int32 d, then d uint8, per row.
    Bvecs,
    /// `.ivecs`: int32 d, then d int32, per row.
    Ivecs,
    /// NumPy `.npy`, a 2-D C-order array.
    Npy,
    /// ann-benchmarks `.hdf5`.
    Hdf5,
}

impl Format {
    /// The format named by `path`'s extension.
    pub fn of(path: &Path) -> Result<Format, IoError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("fvecs") => Ok(Format::Fvecs),
            Some("bvecs") => Ok(Format::Bvecs),
            Some("ivecs") => Ok(Format::Ivecs),
            Some("npy") => Ok(Format::Npy),
            Some("hdf5" | "h5") => Ok(Format::Hdf5),
            _ => Err(IoError::UnknownFormat {
                path: path.display().to_string(),
            }),
        }
    }
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, IoError> {
    std::fs::read(path).map_err(|source| IoError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Reads the vectors of `path` (format from the extension), keeping bytes as bytes.
pub fn read_vectors(path: &Path, role: Role) -> Result<AnyVectors, IoError> {
    let name = path.display().to_string();
    match Format::of(path)? {
        Format::Fvecs => Ok(AnyVectors::F32(texmex::parse::<f32>(&read_bytes(path)?, &name)?)),
        Format::Bvecs => Ok(AnyVectors::U8(texmex::parse::<u8>(&read_bytes(path)?, &name)?)),
        Format::Ivecs => Err(IoError::WrongContent {
            path: name,
            reason: "an .ivecs file holds ids, not vectors".into(),
        }),
        Format::Npy => npy::parse(&read_bytes(path)?, &name)?.into_vectors(&name),
        Format::Hdf5 => hdf5::read_vectors(path, role),
    }
}

/// Reads neighbour ids (ground truth): `.ivecs`, an integer `.npy`, or `neighbors` of `.hdf5`.
pub fn read_neighbors(path: &Path) -> Result<Matrix<i32>, IoError> {
    let name = path.display().to_string();
    match Format::of(path)? {
        Format::Ivecs => texmex::parse::<i32>(&read_bytes(path)?, &name),
        Format::Npy => npy::parse(&read_bytes(path)?, &name)?.into_ids(&name),
        Format::Hdf5 => hdf5::read_neighbors(path),
        Format::Fvecs | Format::Bvecs => Err(IoError::WrongContent {
            path: name,
            reason: "expected neighbour ids (.ivecs, .npy or .hdf5), found vectors".into(),
        }),
    }
}

/// Writes `.fvecs` atomically (temporary file, fsync, rename, fsync of the directory).
pub fn write_fvecs(path: &Path, m: &Matrix<f32>) -> Result<(), IoError> {
    atomic::write_file(path, |w| texmex::write(w, m))
}

/// Writes `.ivecs` atomically (temporary file, fsync, rename, fsync of the directory).
pub fn write_ivecs(path: &Path, m: &Matrix<i32>) -> Result<(), IoError> {
    atomic::write_file(path, |w| texmex::write(w, m))
}
