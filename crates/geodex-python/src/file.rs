//! `geodex.build(path, data, …)` and `geodex.open(path)`: an index file built from numpy and
//! opened read-only and memory-mapped, in its own element type (float32 or uint8) and metric
//! (l2, ip, cosine, poincare) — what hnswlib's API cannot express: byte vectors, the Poincaré
//! ball, quantised indexes with exact re-ranking, a search restricted to a key set, and the
//! work each search did. The search call itself ([`search_rows`]) is shared with
//! `geodex.DurableIndex` (`durable.rs`).

use std::path::{Path, PathBuf};

use geodex_analysis::{analyze, AnalyzeOptions, Queries};
use geodex_core::measure::for_each_query;
use geodex_core::{
    AnyIndex, BuildParams, CodecOptions, CodecSpec, Component, CoreError, Hit, Index, LiveIndex, Metric,
    NodeId, NodeSet, SearchContext, SearchParams, SearchStats,
};
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
    /// only these keys are returned. `num_threads` > 1 splits the rows over threads. `rerank`
    /// (quantised index only): the best max(rerank, k) candidates of the walk on codes get
    /// their exact distance and are re-sorted (0: the codes' estimates). `rerank_bound` (RaBitQ
    /// index only): re-rank by the codes' error bound with this ε₀ (1.9 is the paper's) instead
    /// of a fixed count — the beam in order of lower bounds until no later one can enter. Returns
    /// `(keys uint64 (n, k), distances float32 (n, k), stats)`; `stats` holds the mean
    /// distance evaluations, hops and re-ranked candidates per query. Distances are geodex's:
    /// squared L2, −⟨a, b⟩ (hnswlib's `1 − ⟨a, b⟩` less 1), 1 − cos, Poincaré.
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
        match &self.index {
            AnyIndex::F32(index) => search_rows(py, &self.pools, index, queries, options),
            AnyIndex::U8(index) => search_rows(py, &self.pools, index, queries, options),
        }
    }

    /// Every live vector with its key: `(keys uint64 (n,), vectors (n, dim))`, the vectors in
    /// the index's element type as stored (unit length under cosine).
    fn items<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &self.index {
            AnyIndex::F32(index) => live_items(py, index),
            AnyIndex::U8(index) => live_items(py, index),
        }
    }

    /// The analysis `geodex analyze --json` prints, as a dict: graph health, spectra,
    /// topology, data geometry, bounds and compression (`only`: a subset of those section
    /// names). With `queries` (the index's element type), the per-query sections too: recall
    /// under percolation, local intrinsic dimension against recall, the approximation factor,
    /// Chernoff and union-bound ef.
    #[pyo3(signature = (only=None, queries=None, *, ef=32, k=10, sample=2000, sources=32, seed=42, epsilon=0.1, delta=0.01, target_recall=0.9, batch=100, batch_success=0.99))]
    #[allow(clippy::too_many_arguments)]
    fn analyze<'py>(
        &self,
        py: Python<'py>,
        only: Option<Vec<String>>,
        queries: Option<&Bound<'py, PyAny>>,
        ef: usize,
        k: usize,
        sample: usize,
        sources: usize,
        seed: u64,
        epsilon: f64,
        delta: f64,
        target_recall: f64,
        batch: usize,
        batch_success: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = AnalyzeOptions {
            ef,
            k,
            sample,
            sources,
            seed,
            epsilon,
            delta,
            target_recall,
            batch,
            batch_success,
            figures: false,
        };
        let only = only.unwrap_or_default();
        let sections: Vec<&str> = only.iter().map(String::as_str).collect();
        let dim = self.index.info().dim;
        let report = match (queries, &self.index) {
            (Some(q), AnyIndex::F32(_)) if !q.is_none() => {
                let (view, _) = raise(py, arrays::rows_f32(q, dim))?;
                let q = view.as_slice().map_err(PyErr::from)?;
                py.detach(|| analyze(&self.index, &sections, Some(Queries::F32(q)), &options, &|_| {}))
            }
            (Some(q), AnyIndex::U8(_)) if !q.is_none() => {
                let (view, _) = raise(py, arrays::rows_u8(q, dim))?;
                let q = view.as_slice().map_err(PyErr::from)?;
                py.detach(|| analyze(&self.index, &sections, Some(Queries::U8(q)), &options, &|_| {}))
            }
            _ => py.detach(|| analyze(&self.index, &sections, None, &options, &|_| {})),
        };
        let (mut out, _) = raise(py, report.map_err(Failure::from))?;
        out["index"] = serde_json::json!(self.path.display().to_string());
        py.import("json")?.getattr("loads")?.call1((out.to_string(),))
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

    /// How level 0's links are stored: `fixed` rows or `compressed` lists.
    #[getter]
    fn links(&self) -> &'static str {
        self.index.info().links.name()
    }

    /// Whether the search walks on one-byte codes of the vectors and re-ranks its whole beam
    /// exactly (float indexes under L2 or cosine without a quantiser, unless opened with
    /// `byte_walk=False`; a quarter of the memory traffic per distance).
    #[getter]
    fn byte_walk(&self) -> bool {
        self.index.walks_bytes()
    }

    /// Bytes of a PQ4 index's per-list code blocks (opened with `link_codes=True`), 0 without.
    #[getter]
    fn link_code_bytes(&self) -> usize {
        self.index.info().link_code_bytes
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

/// What a `search` call searches: a frozen index or a living one.
pub(crate) trait Searchable<T>: Sync {
    /// Components per vector.
    fn dim(&self) -> usize;
    /// The nodes of `keys`.
    fn nodes_of(&self, keys: &[u64]) -> NodeSet;
    /// One query.
    fn find(
        &self,
        query: &[T],
        params: &SearchParams<'_>,
        ctx: &mut SearchContext,
    ) -> Result<(Vec<Hit>, SearchStats), CoreError>;
}

/// `Searchable` for the frozen and the living index, whose methods have the same names.
macro_rules! searchable {
    ($($index:ident),*) => {$(
        impl<T: Component> Searchable<T> for $index<T> {
            fn dim(&self) -> usize {
                $index::dim(self)
            }
            fn nodes_of(&self, keys: &[u64]) -> NodeSet {
                self.node_set(keys).0
            }
            fn find(
                &self,
                query: &[T],
                params: &SearchParams<'_>,
                ctx: &mut SearchContext,
            ) -> Result<(Vec<Hit>, SearchStats), CoreError> {
                self.search(query, params, ctx)
            }
        }
    )*};
}

searchable!(Index, LiveIndex);

/// The arguments of a Python `search` call.
pub(crate) struct SearchOptions<'a, 'py> {
    pub k: usize,
    pub ef: usize,
    pub allowed: Option<&'a Bound<'py, PyAny>>,
    pub num_threads: usize,
    pub rerank: usize,
    pub rerank_bound: Option<f32>,
}

/// An element type whose numpy rows a search takes (float32 or uint8).
pub(crate) trait Rows: Component + numpy::Element {
    /// `data` as rows of `dim` columns of this type, with the row count.
    fn rows<'py>(
        data: &Bound<'py, PyAny>,
        dim: usize,
    ) -> Result<(numpy::PyReadonlyArrayDyn<'py, Self>, usize), Failure>;
}

impl Rows for f32 {
    fn rows<'py>(
        data: &Bound<'py, PyAny>,
        dim: usize,
    ) -> Result<(numpy::PyReadonlyArrayDyn<'py, f32>, usize), Failure> {
        arrays::rows_f32(data, dim)
    }
}

impl Rows for u8 {
    fn rows<'py>(
        data: &Bound<'py, PyAny>,
        dim: usize,
    ) -> Result<(numpy::PyReadonlyArrayDyn<'py, u8>, usize), Failure> {
        arrays::rows_u8(data, dim)
    }
}

/// The body of `IndexFile.search` and `DurableIndex.search`: checks the arguments, searches
/// every row with the GIL released, and returns `(keys, distances, stats)`.
pub(crate) fn search_rows<'py, T: Rows>(
    py: Python<'py>,
    pools: &Pools,
    index: &impl Searchable<T>,
    queries: &Bound<'py, PyAny>,
    o: SearchOptions<'_, 'py>,
) -> PyResult<Bound<'py, PyAny>> {
    let allowed = match o.allowed {
        Some(keys) if !keys.is_none() => Some(raise(py, arrays::label_list(keys))?),
        _ => None,
    };
    if o.k == 0 || o.num_threads == 0 {
        return Err(Failure::Input("k and num_threads must be ≥ 1".into()).into_py(py));
    }
    let pool = match o.num_threads {
        1 => None,
        threads => Some(raise(py, pools.get(threads))?),
    };
    let plan = Plan {
        k: o.k,
        ef: o.ef.max(o.k),
        rerank: o.rerank,
        rerank_bound: o.rerank_bound,
        pool: pool.as_deref(),
        allowed: allowed.as_deref(),
    };
    let (view, rows) = raise(py, T::rows(queries, index.dim()))?;
    let q = view.as_slice().map_err(PyErr::from)?;
    let found = raise(py, py.detach(|| plan.run(index, q)))?;
    let stats = PyDict::new(py);
    let per_query = |x: u64| x as f64 / rows.max(1) as f64;
    stats.set_item("mean_distances", per_query(found.stats.distances))?;
    stats.set_item("mean_hops", per_query(found.stats.hops))?;
    stats.set_item("mean_reranked", per_query(found.stats.reranked))?;
    stats.set_item("exact_scans", found.stats.exact_scans)?;
    let keys = arrays::matrix(py, found.keys, rows, o.k)?;
    let distances = arrays::matrix(py, found.distances, rows, o.k)?;
    Ok((keys, distances, stats).into_pyobject(py)?.into_any())
}

/// The parameters of one `search` call.
struct Plan<'a> {
    k: usize,
    ef: usize,
    rerank: usize,
    rerank_bound: Option<f32>,
    /// The pool the rows are split over (`None`: the calling thread).
    pool: Option<&'a rayon::ThreadPool>,
    allowed: Option<&'a [u64]>,
}

impl Plan<'_> {
    /// Every row of `queries` searched; `Err` on the first failure (a bad query, a key set
    /// that names no live key).
    fn run<T: Component>(&self, index: &impl Searchable<T>, queries: &[T]) -> Result<Found, Failure> {
        let dim = index.dim();
        let rows = queries.len() / dim.max(1);
        let k = self.k;
        let set = self.allowed.map(|keys| index.nodes_of(keys));
        let mut params = SearchParams::new(k, self.ef);
        params.allowed = set.as_ref();
        params.rerank = self.rerank;
        params.rerank_bound = self.rerank_bound;
        let one = |ctx: &mut SearchContext, i: usize| -> Result<_, CoreError> {
            let (hits, stats) = index.find(&queries[i * dim..][..dim], &params, ctx)?;
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

/// Opens the index file at `path` read-only, memory-mapped (see `IndexFile`); a float index
/// under L2 or cosine walks byte codes unless `byte_walk` is False (`IndexFile.byte_walk`); a
/// PQ4 index walks per-list code blocks when `link_codes` is True (`Index::set_link_codes`).
#[pyfunction]
#[pyo3(signature = (path, *, byte_walk=true, link_codes=false))]
pub fn open(py: Python<'_>, path: PathBuf, byte_walk: bool, link_codes: bool) -> PyResult<IndexFile> {
    // The byte codes of the walk, if any, are made now rather than in the first search.
    let opened = py.detach(|| {
        AnyIndex::open(&path, true).and_then(|mut index| {
            index.set_byte_walk(byte_walk);
            index.set_link_codes(link_codes)?;
            Ok(index)
        })
    });
    let index = raise(py, opened.map_err(Failure::from))?;
    Ok(IndexFile {
        index,
        path,
        pools: Pools::default(),
    })
}

/// Builds an index over the rows of `data` (a 2-D uint8 array makes a byte index, anything
/// else float32), saves it atomically to `path` and returns it opened (see `open`).
#[pyfunction]
#[pyo3(signature = (path, data, *, metric="l2", keys=None, M=16, ef_construction=200, seed=42, quantizer="none", pq_m=None, num_threads=None, links="fixed"))]
#[allow(non_snake_case, clippy::too_many_arguments)]
pub fn build(
    py: Python<'_>,
    path: PathBuf,
    data: &Bound<'_, PyAny>,
    metric: &str,
    keys: Option<&Bound<'_, PyAny>>,
    M: usize,
    ef_construction: usize,
    seed: u64,
    quantizer: &str,
    pq_m: Option<usize>,
    num_threads: Option<usize>,
    links: &str,
) -> PyResult<IndexFile> {
    let array = py.import("numpy")?.getattr("asarray")?.call1((data,))?;
    let shape: Vec<usize> = array.getattr("shape")?.extract()?;
    let &[rows, dim] = shape.as_slice() else {
        return Err(Failure::Input(format!(
            "data must be a 2-D array (rows × dim), not of shape {shape:?}"
        ))
        .into_py(py));
    };
    let metric: Metric = raise(
        py,
        metric.parse().map_err(|e| Failure::Input(format!("metric: {e}"))),
    )?;
    let quant = raise(
        py,
        CodecSpec::parse(quantizer, CodecOptions { pq_m, proj_k: None }, dim)
            .map_err(|e| Failure::Input(format!("quantizer {quantizer}: {e}"))),
    )?;
    let links = raise(
        py,
        links.parse().map_err(|e| Failure::Input(format!("links: {e}"))),
    )?;
    let params = BuildParams {
        metric,
        m: M,
        ef_construction,
        seed,
        threads: num_threads,
        quant,
        links,
        ..BuildParams::default()
    };
    let keys = raise(py, arrays::given_labels(keys, rows))?;
    let dtype: String = array.getattr("dtype")?.getattr("name")?.extract()?;
    if dtype == "uint8" {
        build_into::<u8>(py, &path, &array, dim, &params, keys)?;
    } else {
        build_into::<f32>(py, &path, &array, dim, &params, keys)?;
    }
    open(py, path, true, false)
}

/// Reads `array` as rows of `T`, builds with the GIL released and saves to `path`.
fn build_into<T: Rows>(
    py: Python<'_>,
    path: &Path,
    array: &Bound<'_, PyAny>,
    dim: usize,
    params: &BuildParams,
    keys: Option<Vec<u64>>,
) -> PyResult<()> {
    let (view, _) = raise(py, T::rows(array, dim))?;
    let data = view.as_slice().map_err(PyErr::from)?.to_vec();
    raise(
        py,
        py.detach(|| -> Result<(), Failure> {
            let mut index = Index::build(data, dim, params, &|_| {})?;
            if let Some(keys) = keys {
                index = index.with_keys(keys)?;
            }
            Ok(index.save(path)?)
        }),
    )
}
