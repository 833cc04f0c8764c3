//! Argument loading shared by the examples: ground truth as id lists, and an index opened with
//! its query file.

use std::path::Path;

use geodex_core::AnyIndex;
use geodex_io::{AnyVectors, Role};

/// What the examples return on bad input or unreadable files.
pub type Failure = Box<dyn std::error::Error>;

/// The ground-truth file at `path` (ivecs or the `geodex groundtruth` format), one id list per
/// query.
pub fn truth(path: &str) -> Result<Vec<Vec<u64>>, Failure> {
    Ok(geodex_io::read_ids(Path::new(path))?
        .iter()
        .map(<[u64]>::to_vec)
        .collect())
}

/// The index at `index` (vectors memory-mapped) and the query vectors at `queries`.
pub fn index_and_queries(index: &str, queries: &str) -> Result<(AnyIndex, AnyVectors), Failure> {
    let queries = geodex_io::read_vectors(Path::new(queries), Role::Queries)?;
    Ok((AnyIndex::open(Path::new(index), true)?, queries))
}
