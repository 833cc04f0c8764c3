//! In-memory vector sets.

use crate::IoError;

/// A dense row-major matrix: `rows()` rows of `dim` components. Invariant:
/// `data.len() == rows() * dim` and `dim ≥ 1`.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix<T> {
    dim: usize,
    data: Vec<T>,
}

impl<T: Copy> Matrix<T> {
    /// A matrix of rows of `dim` components; `None` if `dim` is 0 or does not divide `data.len()`.
    pub fn new(dim: usize, data: Vec<T>) -> Option<Self> {
        (dim > 0 && data.len().is_multiple_of(dim)).then_some(Matrix { dim, data })
    }

    /// Builds a matrix from equal-length rows; `None` if rows are empty or ragged.
    pub fn from_rows<R: AsRef<[T]>>(rows: &[R]) -> Option<Self> {
        let dim = rows.first()?.as_ref().len();
        if rows.iter().any(|r| r.as_ref().len() != dim) {
            return None;
        }
        Matrix::new(
            dim,
            rows.iter().flat_map(|r| r.as_ref().iter().copied()).collect(),
        )
    }

    /// Components per row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.data.len() / self.dim
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Row `i`. Panics if `i >= rows()`.
    pub fn row(&self, i: usize) -> &[T] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// All rows in order.
    pub fn iter(&self) -> std::slice::ChunksExact<'_, T> {
        self.data.chunks_exact(self.dim)
    }

    /// The components, row after row.
    pub fn as_slice(&self) -> &[T] {
        &self.data
    }

    /// The components, row after row.
    pub fn into_vec(self) -> Vec<T> {
        self.data
    }

    /// The first `n` rows (all of them if there are fewer).
    pub fn truncated(mut self, n: usize) -> Self {
        self.data.truncate(n.min(self.rows()) * self.dim);
        self
    }
}

/// Vectors of either element type, as read from a file.
#[derive(Clone, Debug, PartialEq)]
pub enum AnyVectors {
    /// 32-bit floats (`.fvecs`, float `.npy`/`.hdf5`).
    F32(Matrix<f32>),
    /// Bytes (`.bvecs`, uint8 `.npy`/`.hdf5`).
    U8(Matrix<u8>),
}

impl AnyVectors {
    /// Components per vector.
    pub fn dim(&self) -> usize {
        match self {
            AnyVectors::F32(m) => m.dim(),
            AnyVectors::U8(m) => m.dim(),
        }
    }

    /// Number of vectors.
    pub fn rows(&self) -> usize {
        match self {
            AnyVectors::F32(m) => m.rows(),
            AnyVectors::U8(m) => m.rows(),
        }
    }

    /// The element type's name (`f32`, `u8`).
    pub fn element_name(&self) -> &'static str {
        match self {
            AnyVectors::F32(_) => "f32",
            AnyVectors::U8(_) => "u8",
        }
    }

    /// The vectors as `f32` (bytes are converted exactly).
    pub fn into_f32(self) -> Matrix<f32> {
        match self {
            AnyVectors::F32(m) => m,
            AnyVectors::U8(m) => {
                let dim = m.dim();
                Matrix {
                    dim,
                    data: m.into_vec().into_iter().map(f32::from).collect(),
                }
            }
        }
    }

    /// The first `n` vectors.
    pub fn truncated(self, n: usize) -> Self {
        match self {
            AnyVectors::F32(m) => AnyVectors::F32(m.truncated(n)),
            AnyVectors::U8(m) => AnyVectors::U8(m.truncated(n)),
        }
    }
}

/// Checks a dimension read from a file.
pub(crate) fn check_dim(path: &str, row: usize, dim: i64) -> Result<usize, IoError> {
    if dim >= 1 && dim <= crate::MAX_DIM as i64 {
        Ok(dim as usize)
    } else {
        Err(IoError::BadDimension {
            path: path.to_string(),
            row,
            dim,
        })
    }
}
