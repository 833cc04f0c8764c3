//! `geodex.open(path)`: an index file opened read-only and memory-mapped, in its own element
//! type (float32 or uint8) and metric (l2, ip, cosine, poincare) — what hnswlib's API cannot
//! express: byte vectors, the Poincaré ball, quantised indexes, a search restricted to a key set,
//! and the work each search did.

use std::path::PathBuf;

use geodex_core::measure::for_each_query;
use geodex_core::{AnyIndex, Component, CoreError, Index, NodeId, SearchContext, SearchParams, SearchStats};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::arrays;
use crate::errors::{raise, Failure};
use crate::hnsw::Pools;

/// An index file opened read-only (memory-mapped: the operating system pages it in). Its
/// write-ahead log, if any, is replayed in memory first, so every acknowledged write is seen.
#[pyclass(module = "geodex", name = "IndexFile", frozen)]
pub struct IndexFile {
    index: AnyIndex,
    path: PathBuf,
    pools: Pools,
}

/// What one `search` call found: keys and distances (rows × k) and the summed work.
struct Found {
    keys: Vec<u64>,
    distances: Vec<f32>,
    stats: SearchStats,
}

#[pymethods]
impl IndexFile {
    /// Searches the `k` nearest keys of every row of `queries` (float32 for a float index,
    /// uint8 for a byte index; 1-D is one query) with beam width `ef` (at least k). `allowed`:
    /// only these keys are returned. `num_threads` > 1 splits the rows over threads. Returns
    /// `(keys uint64 (n, k), distances float32 (n, k), stats)`; `stats` holds the mean
    /// distance evaluations and hops per query. Distances are geodex's: squared L2,
    /// −⟨a, b⟩ (hnswlib's `1 − ⟨a, b⟩` less 1), 1 − cos, Poincaré.
    #[pyo3(signature = (queries, k=10, ef=64, allowed=None, num_threads=1))]
    fn search<'py>(
        &self,
        py: Python<'py>,
        queries: &Bound<'py, PyAny>,
        k: usize,
        ef: usize,
        allowed: Option<&Bound<'py, PyAny>>,
        num_threads: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let allowed = match allowed {
            Some(keys) if !keys.is_none() => Some(raise(py, arrays::label_list(keys))?),
            _ => None,
        };
        if k == 0 || num_threads == 0 {
            return Err(Failure::Input("k and num_threads must be ≥ 1".into()).into_py(py));
        }
        let pool = match num_threads {
            1 => None,
            threads => Some(raise(py, self.pools.get(threads))?),
        };
        let plan = Plan {
            k,
            ef: ef.max(k),
            pool: pool.as_deref(),
            allowed: allowed.as_deref(),
        };
        let (found, rows) = match &self.index {
            AnyIndex::F32(index) => {
                let (view, rows) = raise(py, arrays::rows_f32(queries, index.dim()))?;
                let q = view.as_slice().map_err(PyErr::from)?;
                (raise(py, py.detach(|| plan.run(index, q)))?, rows)
            }
            AnyIndex::U8(index) => {
                let (view, rows) = raise(py, arrays::rows_u8(queries, index.dim()))?;
                let q = view.as_slice().map_err(PyErr::from)?;
                (raise(py, py.detach(|| plan.run(index, q)))?, rows)
            }
        };
        let stats = PyDict::new(py);
        let per_query = |x: u64| x as f64 / rows.max(1) as f64;
        stats.set_item("mean_distances", per_query(found.stats.distances))?;
        stats.set_item("mean_hops", per_query(found.stats.hops))?;
        stats.set_item("exact_scans", found.stats.exact_scans)?;
        let keys = arrays::matrix(py, found.keys, rows, k)?;
        let distances = arrays::matrix(py, found.distances, rows, k)?;
        Ok((keys, distances, stats).into_pyobject(py)?.into_any())
    }

    /// Every live vector with its key: `(keys uint64 (n,), vectors (n, dim))`, the vectors in
    /// the index's element type as stored (unit length under cosine).
    fn items<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &self.index {
            AnyIndex::F32(index) => live_items(py, index),
            AnyIndex::U8(index) => live_items(py, index),
        }
    }

    /// Live vectors.
    fn __len__(&self) -> usize {
        self.index.len()
    }

    /// Components per vector.
    #[getter]
    fn dim(&self) -> usize {
        self.index.info().dim
    }

    /// `l2`, `ip`, `cosine` or `poincare`.
    #[getter]
    fn metric(&self) -> String {
        self.index.info().metric
    }

    /// `f32` or `u8`.
    #[getter]
    fn element(&self) -> String {
        self.index.info().element
    }

    /// The quantiser the search walks on (`none`, `sq8`, `pq`, …).
    #[getter]
    fn quantizer(&self) -> String {
        self.index.info().quant
    }

    /// The metadata stored with the index (a dict).
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let text = self.index.metadata().to_string();
        py.import("json")?.getattr("loads")?.call1((text,))
    }

    fn __repr__(&self) -> String {
        let info = self.index.info();
        format!(
            "<geodex.IndexFile {} ({} vectors, {} × {}, {})>",
            self.path.display(),
            info.count,
            info.element,
            info.dim,
            info.metric
        )
    }
}

/// The parameters of one `search` call.
struct Plan<'a> {
    k: usize,
    ef: usize,
    /// The pool the rows are split over (`None`: the calling thread).
    pool: Option<&'a rayon::ThreadPool>,
    allowed: Option<&'a [u64]>,
}

impl Plan<'_> {
    /// Every row of `queries` searched; `Err` on the first failure (a bad query, a key set
    /// that names no live key).
    fn run<T: Component>(&self, index: &Index<T>, queries: &[T]) -> Result<Found, Failure> {
        let dim = index.dim();
        let rows = queries.len() / dim.max(1);
        let k = self.k;
        let set = self.allowed.map(|keys| index.node_set(keys).0);
        let mut params = SearchParams::new(k, self.ef);
        params.allowed = set.as_ref();
        let one = |ctx: &mut SearchContext, i: usize| -> Result<_, CoreError> {
            let (hits, stats) = index.search(&queries[i * dim..][..dim], &params, ctx)?;
            Ok((hits, stats))
        };
        let per_query = match self.pool {
            Some(pool) if rows > 1 => for_each_query(Some(pool), rows, SearchContext::new, one)?,
            _ => {
                let mut ctx = SearchContext::new();
                (0..rows).map(|i| one(&mut ctx, i)).collect::<Result<_, _>>()?
            }
        };
        let mut found = Found {
            keys: Vec::with_capacity(rows * k),
            distances: Vec::with_capacity(rows * k),
            stats: SearchStats::default(),
        };
        for (hits, stats) in per_query {
            if hits.len() < k {
                return Err(Failure::Runtime(format!(
                    "only {} results for k = {k} (the allowed keys or the index hold fewer)",
                    hits.len()
                )));
            }
            found.keys.extend(hits.iter().map(|h| h.key.0));
            found.distances.extend(hits.iter().map(|h| h.distance));
            found.stats += stats;
        }
        Ok(found)
    }
}

/// The live nodes' keys and vectors of `index` as two numpy arrays.
fn live_items<'py, T: Component + numpy::Element>(
    py: Python<'py>,
    index: &Index<T>,
) -> PyResult<Bound<'py, PyAny>> {
    let dim = index.dim();
    let nodes: Vec<NodeId> = (0..index.len() as u32)
        .map(NodeId)
        .filter(|&node| index.is_live_node(node))
        .collect();
    let keys: Vec<u64> = nodes.iter().map(|&node| index.key(node).0).collect();
    let vectors: Vec<T> = nodes
        .iter()
        .flat_map(|&node| index.vector(node).iter().copied())
        .collect();
    let keys = numpy::PyArray1::from_vec(py, keys);
    let vectors = arrays::matrix(py, vectors, nodes.len(), dim)?;
    Ok((keys, vectors).into_pyobject(py)?.into_any())
}

/// Opens the index file at `path` read-only, memory-mapped (see `IndexFile`).
#[pyfunction]
pub fn open(py: Python<'_>, path: PathBuf) -> PyResult<IndexFile> {
    let index = raise(
        py,
        py.detach(|| AnyIndex::open(&path, true)).map_err(Failure::from),
    )?;
    Ok(IndexFile {
        index,
        path,
        pools: Pools::default(),
    })
}
