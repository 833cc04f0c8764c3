//! `geodex.Index`: hnswlib's `Index` API over geodex's [`LiveIndex`].
//!
//! hnswlib keeps a capacity (`max_elements`), counts deleted elements until their slot is
//! reused (`element_count`), keeps a deleted element's vector so `unmark_deleted` can restore
//! it, and numbers unlabelled rows from a running counter. geodex's living index has none of
//! that accounting, so [`Ledger`] keeps it beside the index and in the saved file's metadata
//! (key `hnswlib`). Searching, inserting, updating and deleting are the living index's own.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use geodex_core::{AnyIndex, BuildParams, Index as GdxIndex, Key, LiveIndex, SearchContext, SearchParams};
use parking_lot::{Mutex, RwLock};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use rayon::prelude::*;

use crate::arrays;
use crate::errors::{raise, Failure};
use crate::space::Space;

/// A pickled initialised index: its `init_index` arguments and, unless it is empty, its file.
type PickledIndex = (serde_json::Value, Option<Vec<u8>>);

/// hnswlib's default beam width for queries (`default_ef = 10`).
const DEFAULT_EF: usize = 10;

/// hnswlib's error when a query finds fewer than k results.
const TOO_FEW: &str = "Cannot return the results in a contiguous 2D array. Probably ef or M is too small";

/// An HNSW index with hnswlib's Python API. Create with `Index(space, dim)`, then
/// `init_index(max_elements, ...)` or `load_index(path)`.
#[pyclass(module = "geodex", name = "Index", subclass)]
pub struct Index {
    space: Space,
    dim: usize,
    ef: AtomicUsize,
    num_threads: AtomicUsize,
    /// Whether the index walks byte codes once frozen ([`LiveIndex::set_byte_walk`]); kept
    /// here so that it outlives `init_index` and `load_index`.
    byte_walk: AtomicBool,
    inner: RwLock<Option<Inner>>,
    pools: Pools,
}

/// An initialised index: the living index, its build parameters and hnswlib's accounting.
struct Inner {
    live: LiveIndex<f32>,
    m: usize,
    ef_construction: usize,
    seed: u64,
    allow_replace_deleted: bool,
    ledger: Mutex<Ledger>,
}

/// hnswlib's element accounting (see the module comment).
#[derive(Clone, Debug, Default)]
struct Ledger {
    /// Capacity: `element_count` may not exceed it.
    max_elements: usize,
    /// Elements held, deleted ones included until `replace_deleted` reuses their slot.
    element_count: usize,
    /// Labels marked deleted with their stored vectors (ordered, so the slot reused by
    /// `replace_deleted` is the same on every run: the smallest label's).
    deleted: BTreeMap<u64, Vec<f32>>,
    /// The label of the next row added without ids (`cur_l`: grows by every batch's rows).
    next_label: u64,
}

impl Ledger {
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "max_elements": self.max_elements,
            "element_count": self.element_count,
            "next_label": self.next_label,
            "deleted": self.deleted.keys().collect::<Vec<_>>(),
        })
    }
}

/// Rayon pools by thread count, built once (a pool costs ~100 µs to build, more than a query).
#[derive(Default)]
pub struct Pools(Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>);

impl Pools {
    /// The pool of `threads` threads.
    pub fn get(&self, threads: usize) -> Result<Arc<rayon::ThreadPool>, Failure> {
        let mut pools = self.0.lock();
        if let Some(pool) = pools.get(&threads) {
            return Ok(Arc::clone(pool));
        }
        let pool = Arc::new(geodex_core::measure::thread_pool(Some(threads))?);
        pools.insert(threads, Arc::clone(&pool));
        Ok(pool)
    }
}

/// The machine's thread count, hnswlib's default (`std::thread::hardware_concurrency`).
pub fn hardware_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// hnswlib's thread argument: −1 (or any value ≤ 0) means the index's default.
pub fn resolve_threads(requested: i64, default: usize) -> usize {
    if requested <= 0 {
        default.max(1)
    } else {
        requested as usize
    }
}

thread_local! {
    /// One search context per thread, reused across calls (its visited set is O(n)).
    static CONTEXT: std::cell::RefCell<SearchContext> = std::cell::RefCell::new(SearchContext::new());
}

/// The not-initialised error hnswlib would crash on instead.
pub fn not_initialised() -> Failure {
    Failure::Runtime("the index is not initialised: call init_index or load_index first".into())
}

impl Index {
    /// Runs `f` on the initialised index with the GIL released.
    fn with_inner<R: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&Inner) -> Result<R, Failure> + Send,
    ) -> PyResult<R> {
        raise(
            py,
            py.detach(|| {
                let inner = self.inner.read();
                f(inner.as_ref().ok_or_else(not_initialised)?)
            }),
        )
    }

    /// Replaces the initialised index (init and load), with the GIL released.
    fn install(&self, py: Python<'_>, inner: Inner) {
        let byte_walk = self.byte_walk.load(Ordering::Relaxed);
        py.detach(|| {
            inner.live.set_byte_walk(byte_walk);
            *self.inner.write() = Some(inner)
        });
    }

    /// The snapshot of the living index with the ledger in its metadata, ready to save.
    fn snapshot(inner: &Inner) -> Result<GdxIndex<f32>, Failure> {
        let ledger = inner.ledger.lock();
        let mut snapshot = inner.live.snapshot().map_err(|e| match e {
            geodex_core::CoreError::Empty => {
                Failure::Runtime("geodex cannot save an index that holds no elements yet".into())
            }
            other => other.into(),
        })?;
        snapshot.set_metadata("hnswlib", ledger.to_json());
        Ok(snapshot)
    }

    /// Opens a saved index as this index's space and dimension.
    fn open(&self, path: &Path, max_elements: usize, allow_replace_deleted: bool) -> Result<Inner, Failure> {
        let index = match AnyIndex::open(path, false)? {
            AnyIndex::F32(index) => index,
            AnyIndex::U8(_) => {
                return Err(Failure::Input(format!(
                    "{}: holds uint8 vectors; hnswlib's API is float32 (open it with geodex's native API)",
                    path.display()
                )))
            }
        };
        if Space::of_metric(index.metric()) != Some(self.space) || index.dim() != self.dim {
            return Err(Failure::Input(format!(
                "{}: the file holds a {}-dimensional {} index, this Index is {}-dimensional {}",
                path.display(),
                index.dim(),
                index.metric().name(),
                self.dim,
                self.space.name()
            )));
        }
        let info = index.info();
        let mut ledger = ledger_of(&index);
        if max_elements >= ledger.element_count {
            ledger.max_elements = max_elements;
        }
        let live = LiveIndex::from_index(index)?;
        Ok(Inner {
            live,
            m: info.m,
            ef_construction: info.ef_construction,
            seed: info.seed,
            allow_replace_deleted,
            ledger: Mutex::new(ledger),
        })
    }

    fn init(
        &self,
        max_elements: usize,
        m: usize,
        ef_construction: usize,
        random_seed: u64,
        allow_replace_deleted: bool,
    ) -> Result<Inner, Failure> {
        let params = BuildParams {
            metric: self.space.metric(),
            m,
            ef_construction,
            seed: random_seed,
            ..Default::default()
        };
        Ok(Inner {
            live: LiveIndex::new(self.dim, &params)?,
            m,
            ef_construction,
            seed: random_seed,
            allow_replace_deleted,
            ledger: Mutex::new(Ledger {
                max_elements,
                ..Ledger::default()
            }),
        })
    }
}

/// The ledger saved in an index file, or for a file written elsewhere (the CLI) one that
/// holds exactly its elements. Deleted labels get back the vector of their latest node.
fn ledger_of(index: &GdxIndex<f32>) -> Ledger {
    let saved = &index.metadata()["hnswlib"];
    let nodes = index.len();
    let count = (0..nodes as u32)
        .filter(|&u| index.is_live_node(geodex_core::NodeId(u)))
        .count();
    let mut ledger = Ledger {
        max_elements: saved["max_elements"].as_u64().map_or(count, |v| v as usize),
        element_count: saved["element_count"].as_u64().map_or(count, |v| v as usize),
        deleted: BTreeMap::new(),
        next_label: saved["next_label"].as_u64().unwrap_or(count as u64),
    };
    let deleted: std::collections::HashSet<u64> = saved["deleted"]
        .as_array()
        .map(|labels| labels.iter().filter_map(|l| l.as_u64()).collect())
        .unwrap_or_default();
    for node in 0..nodes as u32 {
        let node = geodex_core::NodeId(node);
        let key = index.key(node).0;
        if !index.is_live_node(node) && deleted.contains(&key) {
            ledger.deleted.insert(key, index.vector(node).to_vec());
        }
    }
    ledger
}

/// What one `add_items` batch does to the ledger, decided before the index changes.
struct AddPlan {
    /// Labels and rows to upsert (the last row of a label given twice).
    keys: Vec<u64>,
    rows: Option<Vec<f32>>,
    /// Deleted labels that come back with a new vector.
    undeleted: Vec<u64>,
    /// Deleted labels whose slot new labels take over (`replace_deleted`).
    replaced: Vec<u64>,
    /// New slots taken.
    grown: usize,
}

impl Inner {
    fn plan_add(
        &self,
        ledger: &Ledger,
        labels: &[u64],
        data: &[f32],
        dim: usize,
        replace_deleted: bool,
    ) -> Result<AddPlan, Failure> {
        if replace_deleted && !self.allow_replace_deleted {
            return Err(Failure::Runtime(
                "Replacement of deleted elements is disabled in constructor".into(),
            ));
        }
        let mut last_row: HashMap<u64, usize> = HashMap::with_capacity(labels.len());
        for (row, &label) in labels.iter().enumerate() {
            last_row.insert(label, row);
        }
        let unique: Vec<usize> = (0..labels.len())
            .filter(|&row| last_row[&labels[row]] == row)
            .collect();
        let mut plan = AddPlan {
            keys: unique.iter().map(|&row| labels[row]).collect(),
            rows: (unique.len() != labels.len()).then(|| {
                unique
                    .iter()
                    .flat_map(|&row| data[row * dim..(row + 1) * dim].iter().copied())
                    .collect()
            }),
            undeleted: Vec::new(),
            replaced: Vec::new(),
            grown: 0,
        };
        let mut reusable = ledger
            .deleted
            .keys()
            .copied()
            .filter(|l| !last_row.contains_key(l));
        for &label in &plan.keys {
            if self.live.contains(label) {
                continue;
            }
            if ledger.deleted.contains_key(&label) {
                if self.allow_replace_deleted {
                    return Err(Failure::Runtime(format!(
                        "Can't use addPoint to update deleted elements if replacement of deleted elements is enabled (label {label})."
                    )));
                }
                plan.undeleted.push(label);
            } else if let Some(slot) = replace_deleted.then(|| reusable.next()).flatten() {
                plan.replaced.push(slot);
            } else {
                plan.grown += 1;
            }
        }
        if ledger.element_count + plan.grown > ledger.max_elements {
            return Err(Failure::Runtime(format!(
                "The number of elements exceeds the specified limit ({} held, {} more, max_elements {}; call resize_index)",
                ledger.element_count, plan.grown, ledger.max_elements
            )));
        }
        Ok(plan)
    }
}

#[pymethods]
impl Index {
    #[new]
    #[pyo3(signature = (space, dim))]
    fn new(py: Python<'_>, space: &str, dim: i64) -> PyResult<Self> {
        let (space, dim) = raise(py, Space::with_dim(space, dim))?;
        Ok(Index {
            space,
            dim,
            ef: AtomicUsize::new(DEFAULT_EF),
            num_threads: AtomicUsize::new(hardware_threads()),
            byte_walk: AtomicBool::new(true),
            inner: RwLock::new(None),
            pools: Pools::default(),
        })
    }

    /// Initialises an empty index of capacity `max_elements` (raises if already initialised).
    #[pyo3(signature = (max_elements, M=16, ef_construction=200, random_seed=100, allow_replace_deleted=false))]
    #[allow(non_snake_case)]
    fn init_index(
        &self,
        py: Python<'_>,
        max_elements: usize,
        M: usize,
        ef_construction: usize,
        random_seed: u64,
        allow_replace_deleted: bool,
    ) -> PyResult<()> {
        if py.detach(|| self.inner.read().is_some()) {
            return Err(Failure::Runtime("The index is already initiated.".into()).into_py(py));
        }
        let inner = raise(
            py,
            self.init(
                max_elements,
                M,
                ef_construction,
                random_seed,
                allow_replace_deleted,
            ),
        )?;
        self.install(py, inner);
        Ok(())
    }

    /// Inserts the rows of `data` (n × dim, or one row) under `ids` (default: a running
    /// counter). A label already present gets the new vector. The batch is checked whole
    /// first: a batch that would overflow `max_elements` changes nothing.
    #[pyo3(signature = (data, ids=None, num_threads=-1, replace_deleted=false))]
    fn add_items(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        ids: Option<&Bound<'_, PyAny>>,
        num_threads: i64,
        replace_deleted: bool,
    ) -> PyResult<()> {
        let (view, rows) = raise(py, arrays::rows_f32(data, self.dim))?;
        let given = raise(py, arrays::given_labels(ids, rows))?;
        let values = view.as_slice().map_err(PyErr::from)?;
        let threads = resolve_threads(num_threads, self.num_threads.load(Ordering::Relaxed));
        let dim = self.dim;
        self.with_inner(py, |inner| {
            let mut ledger = inner.ledger.lock();
            let labels = given.unwrap_or_else(|| (0..rows as u64).map(|i| ledger.next_label + i).collect());
            if rows == 0 {
                return Ok(());
            }
            let plan = inner.plan_add(&ledger, &labels, values, dim, replace_deleted)?;
            inner.live.set_threads(Some(threads))?;
            inner
                .live
                .upsert(&plan.keys, plan.rows.as_deref().unwrap_or(values), &|_| {})?;
            for label in plan.undeleted.iter().chain(&plan.replaced) {
                ledger.deleted.remove(label);
            }
            ledger.element_count += plan.grown;
            ledger.next_label += rows as u64;
            Ok(())
        })
    }

    /// The k nearest labels of every row of `data` and their distances: two (n, k) arrays,
    /// uint64 and float32, nearest first. `filter(label) -> bool` restricts the results.
    #[pyo3(signature = (data, k=1, num_threads=-1, filter=None))]
    fn knn_query<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
        k: usize,
        num_threads: i64,
        filter: Option<Py<PyAny>>,
    ) -> PyResult<arrays::Neighbours<'py>> {
        let (view, rows) = raise(py, arrays::rows_f32(data, self.dim))?;
        let queries = view.as_slice().map_err(PyErr::from)?;
        let threads = resolve_threads(num_threads, self.num_threads.load(Ordering::Relaxed));
        let ef = self.ef.load(Ordering::Relaxed).max(k);
        let (space, dim) = (self.space, self.dim);
        let (labels, distances) = self.with_inner(py, |inner| {
            let callback_error: Mutex<Option<PyErr>> = Mutex::new(None);
            let call = |key: Key| -> bool { python_filter(filter.as_ref(), key, &callback_error) };
            let mut params = SearchParams::new(k.max(1), ef);
            if filter.is_some() {
                params.filter = Some(&call);
            }
            let mut labels = vec![0u64; rows * k];
            let mut distances = vec![0f32; rows * k];
            let one =
                |ctx: &mut SearchContext, q: usize, l: &mut [u64], d: &mut [f32]| -> Result<(), Failure> {
                    let (hits, _) = inner
                        .live
                        .search(&queries[q * dim..(q + 1) * dim], &params, ctx)?;
                    if hits.len() < k {
                        return Err(Failure::Runtime(TOO_FEW.into()));
                    }
                    for ((hit, l), d) in hits.iter().zip(l).zip(d) {
                        *l = hit.key.0;
                        *d = space.reported(hit.distance);
                    }
                    Ok(())
                };
            let result = if k == 0 || rows == 0 {
                Ok(())
            } else if threads == 1 || rows == 1 {
                CONTEXT.with_borrow_mut(|ctx| {
                    labels
                        .chunks_mut(k)
                        .zip(distances.chunks_mut(k))
                        .enumerate()
                        .try_for_each(|(q, (l, d))| one(ctx, q, l, d))
                })
            } else {
                self.pools.get(threads)?.install(|| {
                    labels
                        .par_chunks_mut(k)
                        .zip(distances.par_chunks_mut(k))
                        .enumerate()
                        .try_for_each_init(SearchContext::new, |ctx, (q, (l, d))| one(ctx, q, l, d))
                })
            };
            if let Some(err) = callback_error.into_inner() {
                return Err(Failure::Python(err));
            }
            result.map(|()| (labels, distances))
        })?;
        Ok((
            arrays::matrix(py, labels, rows, k)?,
            arrays::matrix(py, distances, rows, k)?,
        ))
    }

    /// Hides `label` from searches (its vector is kept for `unmark_deleted`; its slot counts
    /// until `replace_deleted` reuses it).
    fn mark_deleted(&self, py: Python<'_>, label: u64) -> PyResult<()> {
        self.with_inner(py, |inner| {
            let mut ledger = inner.ledger.lock();
            if ledger.deleted.contains_key(&label) {
                return Err(Failure::Runtime(format!(
                    "The requested to delete element is already deleted (label {label})"
                )));
            }
            let vector = inner
                .live
                .get(label)
                .ok_or_else(|| Failure::Runtime(format!("Label not found: {label}")))?;
            inner.live.delete(&[label])?;
            ledger.deleted.insert(label, vector);
            Ok(())
        })
    }

    /// Returns a deleted `label` to the searches with its old vector.
    fn unmark_deleted(&self, py: Python<'_>, label: u64) -> PyResult<()> {
        self.with_inner(py, |inner| {
            let mut ledger = inner.ledger.lock();
            let Some(vector) = ledger.deleted.get(&label) else {
                return Err(Failure::Runtime(if inner.live.contains(label) {
                    format!("The requested to undelete element is not deleted (label {label})")
                } else {
                    format!("Label not found: {label}")
                }));
            };
            inner.live.upsert(&[label], vector, &|_| {})?;
            ledger.deleted.remove(&label);
            Ok(())
        })
    }

    /// Changes the capacity (not below the elements held).
    fn resize_index(&self, py: Python<'_>, new_size: usize) -> PyResult<()> {
        self.with_inner(py, |inner| {
            let mut ledger = inner.ledger.lock();
            if new_size < ledger.element_count {
                return Err(Failure::Runtime(format!(
                    "Cannot resize, max element is less than the current number of elements ({new_size} < {})",
                    ledger.element_count
                )));
            }
            ledger.max_elements = new_size;
            Ok(())
        })
    }

    /// The stored vectors of `ids` ((n, dim) float32, or a list of lists with
    /// `return_type='list'`); under cosine the normalised vectors, as hnswlib returns.
    #[pyo3(signature = (ids=None, return_type="numpy"))]
    fn get_items<'py>(
        &self,
        py: Python<'py>,
        ids: Option<&Bound<'py, PyAny>>,
        return_type: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        if return_type != "numpy" && return_type != "list" {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "return_type should be \"numpy\" or \"list\"",
            ));
        }
        let labels = match ids {
            Some(ids) if !ids.is_none() => raise(py, arrays::label_list(ids))?,
            _ => Vec::new(),
        };
        let dim = self.dim;
        let (values, n) = self.with_inner(py, |inner| {
            let mut values = Vec::with_capacity(labels.len() * dim);
            for &label in &labels {
                let v = inner
                    .live
                    .get(label)
                    .ok_or_else(|| Failure::Runtime(format!("Label not found: {label}")))?;
                values.extend_from_slice(&v);
            }
            Ok((values, labels.len()))
        })?;
        if return_type == "list" {
            let rows: Vec<&[f32]> = values.chunks_exact(dim).collect();
            return Ok(PyList::new(py, rows)?.into_any());
        }
        Ok(arrays::matrix(py, values, n, dim)?.into_any())
    }

    /// Every label held, deleted ones included (as hnswlib's label table).
    fn get_ids_list(&self, py: Python<'_>) -> PyResult<Vec<u64>> {
        self.with_inner(py, |inner| {
            let ledger = inner.ledger.lock();
            let mut ids = inner.live.keys();
            ids.extend(ledger.deleted.keys());
            Ok(ids)
        })
    }

    fn set_ef(&self, ef: usize) {
        self.ef.store(ef, Ordering::Relaxed);
    }

    fn set_num_threads(&self, num_threads: i64) {
        self.num_threads.store(
            resolve_threads(num_threads, hardware_threads()),
            Ordering::Relaxed,
        );
    }

    /// Saves atomically to `path_to_index` (geodex's index format; the hnswlib accounting
    /// goes in its metadata).
    fn save_index(&self, py: Python<'_>, path_to_index: PathBuf) -> PyResult<()> {
        self.with_inner(py, |inner| Ok(Self::snapshot(inner)?.save(&path_to_index)?))
    }

    /// Loads an index saved by `save_index` (or built by the `geodex` CLI) in place of this
    /// one. `max_elements` below the count held keeps the saved capacity.
    #[pyo3(signature = (path_to_index, max_elements=0, allow_replace_deleted=false))]
    fn load_index(
        &self,
        py: Python<'_>,
        path_to_index: PathBuf,
        max_elements: usize,
        allow_replace_deleted: bool,
    ) -> PyResult<()> {
        let inner = raise(
            py,
            py.detach(|| self.open(&path_to_index, max_elements, allow_replace_deleted)),
        )?;
        self.install(py, inner);
        Ok(())
    }

    fn get_max_elements(&self, py: Python<'_>) -> usize {
        self.ledger_field(py, |l| l.max_elements)
    }

    fn get_current_count(&self, py: Python<'_>) -> usize {
        self.ledger_field(py, |l| l.element_count)
    }

    /// The size in bytes the index takes when saved (hnswlib's `index_file_size`).
    fn index_file_size(&self, py: Python<'_>) -> PyResult<usize> {
        self.with_inner(py, |inner| {
            Ok(Self::snapshot(inner)?
                .section_sizes()
                .iter()
                .map(|(_, bytes)| bytes)
                .sum())
        })
    }

    #[getter]
    fn space(&self) -> &'static str {
        self.space.name()
    }

    #[getter]
    fn dim(&self) -> usize {
        self.dim
    }

    #[getter(ef)]
    fn ef_property(&self) -> usize {
        self.ef.load(Ordering::Relaxed)
    }

    #[setter(ef)]
    fn set_ef_property(&self, ef: usize) {
        self.set_ef(ef);
    }

    #[getter(num_threads)]
    fn num_threads_property(&self) -> usize {
        self.num_threads.load(Ordering::Relaxed)
    }

    #[setter(num_threads)]
    fn set_num_threads_property(&self, num_threads: i64) {
        self.set_num_threads(num_threads);
    }

    /// Whether searches walk the graph on byte codes of the vectors and re-rank the beam
    /// exactly (geodex only; on by default under l2 and cosine; off: the walk reads the
    /// float vectors). Results carry exact distances either way.
    #[getter(byte_walk)]
    fn byte_walk_property(&self) -> bool {
        self.byte_walk.load(Ordering::Relaxed)
    }

    #[setter(byte_walk)]
    fn set_byte_walk_property(&self, py: Python<'_>, on: bool) {
        self.byte_walk.store(on, Ordering::Relaxed);
        py.detach(|| {
            if let Some(inner) = self.inner.read().as_ref() {
                inner.live.set_byte_walk(on);
            }
        });
    }

    #[getter(max_elements)]
    fn max_elements_property(&self, py: Python<'_>) -> usize {
        self.get_max_elements(py)
    }

    #[getter(element_count)]
    fn element_count_property(&self, py: Python<'_>) -> usize {
        self.get_current_count(py)
    }

    #[getter(M)]
    fn m(&self, py: Python<'_>) -> usize {
        py.detach(|| self.inner.read().as_ref().map_or(0, |i| i.m))
    }

    #[getter]
    fn ef_construction(&self, py: Python<'_>) -> usize {
        py.detach(|| self.inner.read().as_ref().map_or(0, |i| i.ef_construction))
    }

    fn __repr__(&self) -> String {
        format!("<geodex.Index(space='{}', dim={})>", self.space.name(), self.dim)
    }

    /// Pickling: `(type, (space, dim), state)`; the state holds the whole saved index, so an
    /// unpickled copy answers every query as the original does.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<crate::Reduced<'py>> {
        let py = slf.py();
        let borrowed = slf.borrow();
        let this: &Index = &borrowed;
        let state = PyDict::new(py);
        state.set_item("ef", this.ef.load(Ordering::Relaxed))?;
        state.set_item("num_threads", this.num_threads.load(Ordering::Relaxed))?;
        state.set_item("byte_walk", this.byte_walk.load(Ordering::Relaxed))?;
        let saved = raise(
            py,
            py.detach(|| -> Result<Option<PickledIndex>, Failure> {
                let inner = this.inner.read();
                let Some(inner) = inner.as_ref() else {
                    return Ok(None);
                };
                let init = serde_json::json!({
                    "max_elements": inner.ledger.lock().max_elements,
                    "M": inner.m,
                    "ef_construction": inner.ef_construction,
                    "random_seed": inner.seed,
                    "allow_replace_deleted": inner.allow_replace_deleted,
                });
                let bytes = if inner.live.node_count() == 0 {
                    None
                } else {
                    Some(to_bytes(&Self::snapshot(inner)?)?)
                };
                Ok(Some((init, bytes)))
            }),
        )?;
        if let Some((init, bytes)) = saved {
            state.set_item("init", init.to_string())?;
            state.set_item("index", bytes.map(|b| PyBytes::new(py, &b)))?;
        }
        Ok((slf.get_type(), (this.space.name(), this.dim), state))
    }

    fn __setstate__(&self, py: Python<'_>, state: &Bound<'_, PyDict>) -> PyResult<()> {
        let get = |key: &str| state.get_item(key).ok().flatten();
        if let Some(ef) = get("ef") {
            self.ef.store(ef.extract()?, Ordering::Relaxed);
        }
        if let Some(threads) = get("num_threads") {
            self.num_threads.store(threads.extract()?, Ordering::Relaxed);
        }
        if let Some(on) = get("byte_walk") {
            self.byte_walk.store(on.extract()?, Ordering::Relaxed);
        }
        let Some(init) = get("init") else {
            return Ok(());
        };
        let init: serde_json::Value = serde_json::from_str(&init.extract::<String>()?)
            .map_err(|e| Failure::Input(format!("bad pickled state: {e}")).into_py(py))?;
        let bytes: Option<Vec<u8>> = match get("index") {
            Some(b) if !b.is_none() => Some(b.extract()?),
            _ => None,
        };
        let allow = init["allow_replace_deleted"].as_bool().unwrap_or(false);
        let inner = raise(
            py,
            py.detach(|| match &bytes {
                Some(bytes) => {
                    let file = from_bytes(bytes)?;
                    self.open(file.path(), 0, allow)
                }
                None => self.init(
                    init["max_elements"].as_u64().unwrap_or(0) as usize,
                    init["M"].as_u64().unwrap_or(16) as usize,
                    init["ef_construction"].as_u64().unwrap_or(200) as usize,
                    init["random_seed"].as_u64().unwrap_or(100),
                    allow,
                ),
            }),
        )?;
        self.install(py, inner);
        Ok(())
    }
}

impl Index {
    fn ledger_field(&self, py: Python<'_>, field: impl Fn(&Ledger) -> usize + Send + Sync) -> usize {
        py.detach(|| {
            self.inner
                .read()
                .as_ref()
                .map_or(0, |inner| field(&inner.ledger.lock()))
        })
    }
}

/// Calls a Python filter for `key`; a raised exception is kept (the first one) and the key
/// rejected, so the search ends normally and the exception is re-raised after it.
pub fn python_filter(filter: Option<&Py<PyAny>>, key: Key, error: &Mutex<Option<PyErr>>) -> bool {
    let Some(filter) = filter else {
        return true;
    };
    Python::attach(
        |py| match filter.call1(py, (key.0,)).and_then(|r| r.is_truthy(py)) {
            Ok(keep) => keep,
            Err(e) => {
                error.lock().get_or_insert(e);
                false
            }
        },
    )
}

/// The index file's bytes (written to a temporary file: the format writes files atomically).
fn to_bytes(index: &GdxIndex<f32>) -> Result<Vec<u8>, Failure> {
    let dir = tempfile::tempdir().map_err(|e| Failure::Runtime(format!("temporary file: {e}")))?;
    let path = dir.path().join("index.gdx");
    index.save(&path)?;
    std::fs::read(&path).map_err(|e| Failure::Runtime(format!("{}: {e}", path.display())))
}

/// A temporary file holding `bytes`, for opening pickled index bytes.
fn from_bytes(bytes: &[u8]) -> Result<tempfile::NamedTempFile, Failure> {
    use std::io::Write;
    let mut file =
        tempfile::NamedTempFile::new().map_err(|e| Failure::Runtime(format!("temporary file: {e}")))?;
    file.write_all(bytes)
        .and_then(|()| file.flush())
        .map_err(|e| Failure::Runtime(format!("temporary file: {e}")))?;
    Ok(file)
}
