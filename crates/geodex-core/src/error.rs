use thiserror::Error;

use crate::Metric;

/// Everything the index can refuse or fail at. Input problems name the row (0-based) and the
/// component; file problems name the file.
#[derive(Debug, Error)]
pub enum CoreError {
    /// No vectors to build from, or no queries.
    #[error("no vectors given")]
    Empty,
    /// A vector's dimension differs from the index's.
    #[error("row {row}: dimension {found} does not match the index dimension {expected}")]
    DimensionMismatch {
        /// The row.
        row: usize,
        /// The index's dimension.
        expected: usize,
        /// The row's.
        found: usize,
    },
    /// NaN or an infinity in a vector.
    #[error("row {row}, component {component}: value {value} is not finite")]
    NonFinite {
        /// The row.
        row: usize,
        /// The component.
        component: usize,
        /// The value.
        value: f32,
    },
    /// An all-zero vector under the cosine metric (no direction).
    #[error("row {row}: zero vector has no direction under the cosine metric")]
    ZeroVector {
        /// The row.
        row: usize,
    },
    /// A vector on or outside the unit sphere under the Poincaré metric.
    #[error("row {row}: norm {norm} is not < 1, outside the Poincaré ball")]
    OutsideBall {
        /// The row.
        row: usize,
        /// Its Euclidean norm.
        norm: f64,
    },
    /// The metric has no kernel for the element type (cosine or Poincaré on bytes).
    #[error("metric {metric} is not supported for {element} vectors (convert to f32)")]
    UnsupportedMetric {
        /// The metric.
        metric: Metric,
        /// The element type's name.
        element: &'static str,
    },
    /// A key given twice in one batch (the batch is rejected as a whole).
    #[error("key {key} appears more than once in the batch")]
    DuplicateKey {
        /// The key.
        key: u64,
    },
    /// A plain insert of a key the index already holds (upsert replaces instead).
    #[error("key {key} is already in the index (use upsert to replace it)")]
    KeyExists {
        /// The key.
        key: u64,
    },
    /// The key 2⁶⁴ − 1, which id files use for "no neighbour" (−1 in int32).
    #[error(
        "key {} is reserved (it stands for \"no neighbour\" in id files)",
        geodex_io::NO_ID
    )]
    ReservedKey,
    /// The operation was cancelled ([`crate::Cancel`]) before it finished; it changed nothing.
    #[error("interrupted")]
    Cancelled,
    /// A parameter out of range.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// The index file is corrupt, truncated, or of another format.
    #[error("{path}: invalid index file: {reason}")]
    InvalidIndex {
        /// The file.
        path: String,
        /// What failed validation.
        reason: String,
    },
    /// A write-ahead log is corrupt before its tail, or belongs to another index.
    #[error("{path}: invalid write-ahead log at byte {offset}: {reason}")]
    InvalidWal {
        /// The log file.
        path: String,
        /// Byte offset of the bad record.
        offset: u64,
        /// What failed.
        reason: String,
    },
    /// Another process has the index open for changes (it holds the lock on its log).
    #[error("{path}: another process is changing this index (its write-ahead log is locked)")]
    Locked {
        /// The log file.
        path: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl CoreError {
    /// The same error about row `row` (for per-query errors raised with row 0).
    pub fn at_row(self, row: usize) -> CoreError {
        match self {
            CoreError::NonFinite { component, value, .. } => CoreError::NonFinite {
                row,
                component,
                value,
            },
            CoreError::ZeroVector { .. } => CoreError::ZeroVector { row },
            CoreError::OutsideBall { norm, .. } => CoreError::OutsideBall { row, norm },
            CoreError::DimensionMismatch { expected, found, .. } => {
                CoreError::DimensionMismatch { row, expected, found }
            }
            other => other,
        }
    }

    /// Whether the caller's input is at fault (exit code 2) rather than the system (exit 1).
    /// A corrupt index file is a runtime failure: the input was a valid path to a damaged file.
    pub fn is_bad_input(&self) -> bool {
        !matches!(
            self,
            CoreError::Io { .. }
                | CoreError::InvalidIndex { .. }
                | CoreError::InvalidWal { .. }
                | CoreError::Locked { .. }
                | CoreError::Cancelled
        )
    }
}

impl From<geodex_io::IoError> for CoreError {
    fn from(e: geodex_io::IoError) -> Self {
        match e {
            geodex_io::IoError::Io { path, source } => CoreError::Io { path, source },
            other => CoreError::InvalidParameter(other.to_string()),
        }
    }
}
