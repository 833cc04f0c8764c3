use thiserror::Error;

/// Why a vector file could not be read or written. Every variant names the file; those about
/// content name the row (0-based) too.
#[derive(Debug, Error)]
pub enum IoError {
    /// The operating system refused (missing file, permissions, disk full...).
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The extension names no supported format.
    #[error("{path}: unknown file type (expected .fvecs, .bvecs, .ivecs, .npy or .hdf5)")]
    UnknownFormat {
        /// The file.
        path: String,
    },
    /// The file holds no rows.
    #[error("{path}: no vectors in file")]
    Empty {
        /// The file.
        path: String,
    },
    /// A row is cut short by the end of the file.
    #[error("{path}: row {row}: truncated: needs {needed} bytes, {available} left in file")]
    Truncated {
        /// The file.
        path: String,
        /// The row.
        row: usize,
        /// Bytes the row needs.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// A row's dimension header is zero, negative, or above [`crate::MAX_DIM`].
    #[error("{path}: row {row}: invalid dimension {dim} (must be 1..={max})", max = crate::MAX_DIM)]
    BadDimension {
        /// The file.
        path: String,
        /// The row.
        row: usize,
        /// The dimension read.
        dim: i64,
    },
    /// A row's dimension differs from the first row's.
    #[error("{path}: row {row}: dimension {found} differs from {expected} (row 0)")]
    RaggedRows {
        /// The file.
        path: String,
        /// The row.
        row: usize,
        /// Row 0's dimension.
        expected: usize,
        /// This row's.
        found: usize,
    },
    /// A `.npy` header that is not valid.
    #[error("{path}: invalid .npy file: {reason}")]
    Npy {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// An `.hdf5` file that could not be read as ann-benchmarks data.
    #[error("{path}: {reason}")]
    Hdf5 {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Well-formed, but not what was asked for (ids where vectors were expected, ...).
    #[error("{path}: {reason}")]
    WrongContent {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

impl IoError {
    /// Whether the error is about the file's content (bad input), rather than the system
    /// failing to read or write it.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, IoError::Io { .. })
    }
}
