//! Vector files for geodex.
//!
//! Readers for TEXMEX `.fvecs`/`.bvecs`/`.ivecs`, NumPy `.npy` (vectors f32, f64 → f32, u8; ids
//! i32, i64, u64) and ann-benchmarks `.hdf5` (`train`, `test`, `neighbors`, `distances`); writers
//! for `.fvecs` and ids as `.ivecs` or uint64 `.npy`, always atomic ([`atomic`]). Every reader validates the whole file and rejects a
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

/// The id that stands for "no neighbour" (fewer than k found): −1 in a signed file, and the
/// same bits, 2⁶⁴ − 1, in a uint64 `.npy`. It is therefore never a valid key.
pub const NO_ID: u64 = u64::MAX;

/// Reads ids — ground-truth neighbours or keys — as u64: `.ivecs`, an int32, int64 or uint64
/// `.npy`, or `neighbors` of `.hdf5`. In the signed formats −1 is [`NO_ID`]; any other negative
/// value is refused, naming its row.
pub fn read_ids(path: &Path) -> Result<Matrix<u64>, IoError> {
    let name = path.display().to_string();
    let signed = |m: Matrix<i32>| {
        let dim = m.dim();
        let ids = ids_from_signed(m.into_vec().into_iter().map(i64::from), dim, &name)?;
        Ok(Matrix::new(dim, ids).expect("same shape"))
    };
    match Format::of(path)? {
        Format::Ivecs => signed(texmex::parse::<i32>(&read_bytes(path)?, &name)?),
        Format::Npy => npy::parse(&read_bytes(path)?, &name)?.into_ids(&name),
        Format::Hdf5 => signed(hdf5::read_neighbors(path)?),
        Format::Fvecs | Format::Bvecs => Err(IoError::WrongContent {
            path: name,
            reason: "expected ids (.ivecs, .npy or .hdf5), found vectors".into(),
        }),
    }
}

/// Signed ids as u64: −1 → [`NO_ID`], other negatives an error naming the row of `dim` ids.
fn ids_from_signed(ids: impl IntoIterator<Item = i64>, dim: usize, name: &str) -> Result<Vec<u64>, IoError> {
    ids.into_iter()
        .enumerate()
        .map(|(i, v)| match v {
            -1 => Ok(NO_ID),
            v => u64::try_from(v).map_err(|_| IoError::WrongContent {
                path: name.into(),
                reason: format!("row {}: negative id {v}", i / dim.max(1)),
            }),
        })
        .collect()
}

/// Writes ids atomically in the format of `path`'s extension: `.npy` as uint64 (every key
/// fits), or `.ivecs` as int32, where [`NO_ID`] becomes −1 and a larger id than `i32::MAX` is
/// refused, naming it — before anything is written.
pub fn write_ids(path: &Path, m: &Matrix<u64>) -> Result<(), IoError> {
    let name = path.display().to_string();
    match Format::of(path)? {
        Format::Npy => atomic::write_file(path, |w| w.write_all(&npy::encode("<u8", m))),
        Format::Ivecs => {
            let narrow = m
                .as_slice()
                .iter()
                .map(|&id| match id {
                    NO_ID => Ok(-1),
                    id => i32::try_from(id).map_err(|_| IoError::WrongContent {
                        path: name.clone(),
                        reason: format!(
                            "key {id} does not fit in .ivecs (int32, at most {}); write .npy (uint64) instead",
                            i32::MAX
                        ),
                    }),
                })
                .collect::<Result<Vec<i32>, _>>()?;
            let narrow = Matrix::new(m.dim(), narrow).expect("same shape");
            atomic::write_file(path, |w| texmex::write(w, &narrow))
        }
        _ => Err(IoError::WrongContent {
            path: name,
            reason: "ids are written as .ivecs or .npy".into(),
        }),
    }
}

/// Writes `.fvecs` atomically (temporary file, fsync, rename, fsync of the directory).
pub fn write_fvecs(path: &Path, m: &Matrix<f32>) -> Result<(), IoError> {
    atomic::write_file(path, |w| texmex::write(w, m))
}
