//! Reading inputs for commands: vectors (keeping bytes as bytes where the metric allows),
//! ground truth, and the index; element-type matching between queries and index.

use std::path::{Path, PathBuf};

use geodex_core::{AnyIndex, Component, Element, Metric};
use geodex_io::{AnyVectors, Matrix, Role};

use crate::failure::Failure;

/// The base vectors and learning queries of the commands that learn from queries (`tune`,
/// `learn-edges`).
#[derive(clap::Args, Debug)]
pub struct LearningInput {
    /// Vectors to index (.fvecs .bvecs .npy .hdf5 — `train` of an .hdf5).
    #[arg(long)]
    pub data: PathBuf,
    /// Dissimilarity: l2, ip, cosine, poincare.
    #[arg(long, default_value = "l2")]
    pub metric: Metric,
    /// Learning queries — never the test queries (hold out base rows, or make more queries
    /// with the data generators).
    #[arg(long)]
    pub queries: PathBuf,
    /// True neighbour ids of the learning queries among the rows of --data (.ivecs, .npy, or
    /// `neighbors` of an .hdf5); computed by brute force when absent.
    #[arg(long)]
    pub groundtruth: Option<PathBuf>,
}

/// What runs on the base vectors and queries of a [`LearningInput`], in their element type.
pub trait LearningTask {
    /// What the task returns.
    type Output;
    /// Runs on `base` (rows of `dim`, fitted to the metric), `queries` of the same type, and the
    /// ground truth if one was given.
    fn run<T: Component + QueryElement>(
        self,
        base: Vec<T>,
        dim: usize,
        queries: &[T],
        truth: Option<Vec<Vec<u64>>>,
    ) -> Result<Self::Output, Failure>;
}

impl LearningInput {
    /// Reads the base (bytes kept as bytes where the metric allows), the queries in the base's
    /// element type and, if given, `k` true neighbours per query; then runs `task` on them.
    pub fn run<L: LearningTask>(&self, k: usize, task: L) -> Result<L::Output, Failure> {
        let data = fit_to_metric(read_vectors(&self.data, Role::Base, None)?, self.metric);
        let queries = read_vectors(&self.queries, Role::Queries, None)?;
        let truth = self
            .groundtruth
            .as_deref()
            .map(|p| read_groundtruth(p, queries.rows(), k))
            .transpose()?;
        let dim = data.dim();
        match data {
            AnyVectors::F32(m) => {
                let q = queries_for::<f32>(dim, queries, &self.queries)?;
                task.run(m.into_vec(), dim, q.as_slice(), truth)
            }
            AnyVectors::U8(m) => {
                let q = queries_for::<u8>(dim, queries, &self.queries)?;
                task.run(m.into_vec(), dim, q.as_slice(), truth)
            }
        }
    }
}

/// Reads vectors; `limit` keeps the first rows only.
pub fn read_vectors(path: &Path, role: Role, limit: Option<usize>) -> Result<AnyVectors, Failure> {
    let v = geodex_io::read_vectors(path, role)?;
    Ok(match limit {
        Some(0) => return Err(Failure::input("--limit must be ≥ 1")),
        Some(n) => v.truncated(n),
        None => v,
    })
}

/// Bytes under a metric without a byte kernel (cosine, Poincaré) are widened to f32, exactly.
pub fn fit_to_metric(v: AnyVectors, metric: Metric) -> AnyVectors {
    match v {
        AnyVectors::U8(m) if !u8::supports(metric) => AnyVectors::F32(AnyVectors::U8(m).into_f32()),
        other => other,
    }
}

/// Queries in the index's element type: bytes are widened for a float index; float queries
/// for a byte index must be whole numbers in 0..=255.
pub fn queries_as<T: QueryElement>(q: AnyVectors, path: &Path) -> Result<Matrix<T>, Failure> {
    T::from_any(q).map_err(|m| Failure::input(m).context(path.display()))
}

/// Element types a query file can be converted to.
pub trait QueryElement: Element + Copy {
    /// Converts, or explains why not.
    fn from_any(q: AnyVectors) -> Result<Matrix<Self>, String>;
}

impl QueryElement for f32 {
    fn from_any(q: AnyVectors) -> Result<Matrix<f32>, String> {
        Ok(q.into_f32())
    }
}

impl QueryElement for u8 {
    fn from_any(q: AnyVectors) -> Result<Matrix<u8>, String> {
        match q {
            AnyVectors::U8(m) => Ok(m),
            AnyVectors::F32(m) => {
                if let Some(pos) = m
                    .as_slice()
                    .iter()
                    .position(|&x| x.fract() != 0.0 || !(0.0..=255.0).contains(&x))
                {
                    return Err(format!(
                        "row {}: value {} cannot be a byte, and the index holds u8 vectors",
                        pos / m.dim(),
                        m.as_slice()[pos]
                    ));
                }
                let dim = m.dim();
                Ok(
                    Matrix::new(dim, m.into_vec().into_iter().map(|x| x as u8).collect())
                        .expect("same shape"),
                )
            }
        }
    }
}

/// Opens an index (memory-mapped).
pub fn open_index(path: &Path) -> Result<AnyIndex, Failure> {
    Ok(AnyIndex::open(path, true)?)
}

/// Reads ground truth and checks it covers `queries` rows and at least `k` neighbours.
pub fn read_groundtruth(path: &Path, queries: usize, k: usize) -> Result<Vec<Vec<u64>>, Failure> {
    let gt = geodex_io::read_ids(path)?;
    if gt.rows() != queries {
        return Err(Failure::input(format!(
            "{}: {} rows of ground truth for {queries} queries",
            path.display(),
            gt.rows()
        )));
    }
    if gt.dim() < k {
        return Err(Failure::input(format!(
            "{}: ground truth has {} neighbours per query, k = {k}",
            path.display(),
            gt.dim()
        )));
    }
    Ok(gt.iter().map(|r| r[..k].to_vec()).collect())
}

/// Queries converted to the index's element type and checked against its dimension.
pub fn queries_for<T: QueryElement>(
    index_dim: usize,
    q: AnyVectors,
    path: &Path,
) -> Result<Matrix<T>, Failure> {
    if q.dim() != index_dim {
        let e = geodex_core::CoreError::DimensionMismatch {
            row: 0,
            expected: index_dim,
            found: q.dim(),
        };
        return Err(Failure::from(e).context(path.display()));
    }
    queries_as(q, path)
}

/// Runs `$body` with `$ix` bound to the typed index and `$q` to the queries converted to its
/// element type and checked against its dimension (a macro because closures cannot be
/// generic).
#[macro_export]
macro_rules! with_typed {
    ($any:expr, $queries:expr, $path:expr, |$ix:ident, $q:ident| $body:expr) => {
        match $any {
            geodex_core::AnyIndex::F32($ix) => {
                let $q = $crate::data::queries_for::<f32>($ix.dim(), $queries, $path)?;
                $body
            }
            geodex_core::AnyIndex::U8($ix) => {
                let $q = $crate::data::queries_for::<u8>($ix.dim(), $queries, $path)?;
                $body
            }
        }
    };
}

/// Reads a list of keys: `.txt` with one unsigned integer per line (blank lines skipped), or
/// any integer matrix file (.ivecs, int32/int64/uint64 .npy, `neighbors` of an .hdf5), flattened
/// row by row. The "no neighbour" id (−1, or 2⁶⁴ − 1) is not a key.
pub fn read_keys(path: &Path) -> Result<Vec<u64>, Failure> {
    let at = |m: String| Failure::input(m).context(path.display());
    if path.extension().is_some_and(|e| e == "txt") {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::runtime(format!("{}: {e}", path.display())))?;
        return text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                l.trim().parse::<u64>().map_err(|_| {
                    at(format!(
                        "line {}: '{}' is not a key (an unsigned integer)",
                        i + 1,
                        l.trim()
                    ))
                })
            })
            .collect();
    }
    let ids = geodex_io::read_ids(path)?;
    match ids.as_slice().iter().position(|&k| k == geodex_io::NO_ID) {
        Some(pos) => Err(at(format!(
            "row {}: {}",
            pos / ids.dim(),
            geodex_core::CoreError::ReservedKey
        ))),
        None => Ok(ids.into_vec()),
    }
}

/// The rows `rows` of `m` (each < m.rows()), in that order.
pub fn select_rows<T: Copy>(m: &Matrix<T>, rows: &[u64]) -> Matrix<T> {
    let data = rows
        .iter()
        .flat_map(|&r| m.row(r as usize).iter().copied())
        .collect();
    Matrix::new(m.dim(), data).expect("whole rows")
}
