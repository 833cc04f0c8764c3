//! `geodex.DurableIndex(path)`: an index file opened for writing through its write-ahead log
//! (`<path>.wal`), as `geodex upsert`/`delete` use it: every `upsert` and `delete` is logged
//! and fsynced before it is applied and acknowledged, `checkpoint` saves the file atomically
//! and empties the log, and opening replays what the last checkpoint does not hold — a write
//! that returned survives a crash of the process at any instant.

use std::path::PathBuf;

use geodex_core::{AnyIndex, DurableIndex as CoreDurable};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::arrays;
use crate::errors::{raise, Failure};
use crate::file::{search_rows, Rows, SearchOptions};
use crate::hnsw::Pools;

/// An index file open for durable writes (see the module docs of `geodex.DurableIndex`).
#[pyclass(module = "geodex", name = "DurableIndex", frozen)]
pub struct DurableIndex {
    index: Typed,
    path: PathBuf,
    replayed: usize,
    pools: Pools,
}

/// The durable index in its element type.
enum Typed {
    F32(CoreDurable<f32>),
    U8(CoreDurable<u8>),
}

/// Runs `$body` with `$ix` bound to the durable index of either element type.
macro_rules! typed {
    ($typed:expr, $ix:ident => $body:expr) => {
        match $typed {
            Typed::F32($ix) => $body,
            Typed::U8($ix) => $body,
        }
    };
}

#[pymethods]
impl DurableIndex {
    /// Opens the index file at `path` (made by `geodex.build` or the `geodex` CLI) and replays
    /// its write-ahead log. `sync=False` skips the fsync of each commit: durable against a
    /// crash of the process, not of the machine. `num_threads` link inserted rows (the
    /// replay's too; default all cores): with one, the same writes give the same index.
    #[new]
    #[pyo3(signature = (path, sync=true, num_threads=None))]
    fn new(py: Python<'_>, path: PathBuf, sync: bool, num_threads: Option<usize>) -> PyResult<Self> {
        let (index, replayed) = raise(
            py,
            py.detach(|| -> Result<(Typed, usize), Failure> {
                Ok(match AnyIndex::open_file(&path, false)? {
                    AnyIndex::F32(ix) => {
                        let (d, r) = CoreDurable::open_with_threads(ix, &path, sync, num_threads)?;
                        (Typed::F32(d), r.replayed)
                    }
                    AnyIndex::U8(ix) => {
                        let (d, r) = CoreDurable::open_with_threads(ix, &path, sync, num_threads)?;
                        (Typed::U8(d), r.replayed)
                    }
                })
            }),
        )?;
        Ok(DurableIndex {
            index,
            path,
            replayed,
            pools: Pools::default(),
        })
    }

    /// Inserts the rows of `vectors` under `keys` (a key already held gets the new vector),
    /// logged first; returns the sequence number of the batch's last log record. A batch the
    /// index would reject (shape, dtype, non-finite values, a zero vector under cosine) raises
    /// before anything is logged.
    fn upsert(&self, py: Python<'_>, keys: &Bound<'_, PyAny>, vectors: &Bound<'_, PyAny>) -> PyResult<u64> {
        typed!(&self.index, ix => upsert_rows(py, ix, keys, vectors))
    }

    /// Deletes `keys`, logged first; returns `(deleted, missing)` counts.
    fn delete(&self, py: Python<'_>, keys: &Bound<'_, PyAny>) -> PyResult<(usize, usize)> {
        let keys = raise(py, arrays::label_list(keys))?;
        let done = raise(
            py,
            py.detach(|| typed!(&self.index, ix => ix.delete(&keys).map(|(d, _)| d)).map_err(Failure::from)),
        )?;
        Ok((done.deleted, done.missing))
    }

    /// Saves the index atomically and empties the log.
    fn checkpoint(&self, py: Python<'_>) -> PyResult<()> {
        raise(
            py,
            py.detach(|| typed!(&self.index, ix => ix.checkpoint()).map_err(Failure::from)),
        )
    }

    /// Drops deleted nodes and checkpoints; returns how many were removed.
    fn compact(&self, py: Python<'_>) -> PyResult<usize> {
        raise(
            py,
            py.detach(|| typed!(&self.index, ix => ix.compact()).map_err(Failure::from)),
        )
    }

    /// Searches as `IndexFile.search` does (the same arguments, results and statistics),
    /// seeing every acknowledged write.
    #[pyo3(signature = (queries, k=10, ef=64, allowed=None, num_threads=1, rerank=0, rerank_bound=None))]
    #[allow(clippy::too_many_arguments)]
    fn search<'py>(
        &self,
        py: Python<'py>,
        queries: &Bound<'py, PyAny>,
        k: usize,
        ef: usize,
        allowed: Option<&Bound<'py, PyAny>>,
        num_threads: usize,
        rerank: usize,
        rerank_bound: Option<f32>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = SearchOptions {
            k,
            ef,
            allowed,
            num_threads,
            rerank,
            rerank_bound,
        };
        typed!(&self.index, ix => search_rows(py, &self.pools, ix.index(), queries, options))
    }

    /// Log records replayed when this index was opened (writes acknowledged after the last
    /// checkpoint).
    #[getter]
    fn replayed(&self) -> usize {
        self.replayed
    }

    /// Live vectors.
    fn __len__(&self) -> usize {
        typed!(&self.index, ix => ix.index().len())
    }

    /// Every live key (uint64), in node order.
    fn keys<'py>(&self, py: Python<'py>) -> Bound<'py, numpy::PyArray1<u64>> {
        let keys = py.detach(|| typed!(&self.index, ix => ix.index().keys()));
        numpy::PyArray1::from_vec(py, keys)
    }

    /// Components per vector.
    #[getter]
    fn dim(&self) -> usize {
        typed!(&self.index, ix => ix.index().dim())
    }

    /// The log's statistics and the file: `{"path", "lsn"}`.
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let info = PyDict::new(py);
        info.set_item("path", self.path.display().to_string())?;
        info.set_item("lsn", typed!(&self.index, ix => ix.index().lsn()))?;
        Ok(info)
    }

    fn __repr__(&self) -> String {
        format!(
            "<geodex.DurableIndex {} ({} vectors)>",
            self.path.display(),
            self.__len__()
        )
    }
}

/// Reads `keys` and `vectors` (rows of `T`) and upserts them durably.
fn upsert_rows<T: Rows>(
    py: Python<'_>,
    ix: &CoreDurable<T>,
    keys: &Bound<'_, PyAny>,
    vectors: &Bound<'_, PyAny>,
) -> PyResult<u64> {
    let (view, rows) = raise(py, T::rows(vectors, ix.index().dim()))?;
    let keys = raise(py, arrays::given_labels(Some(keys), rows))?.unwrap_or_default();
    let data = view.as_slice().map_err(PyErr::from)?;
    raise(
        py,
        py.detach(|| {
            ix.upsert(&keys, data, &|_| {})
                .map(|(_, lsn)| lsn)
                .map_err(Failure::from)
        }),
    )
}
