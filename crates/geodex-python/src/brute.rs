//! `geodex.BFIndex`: exact search with hnswlib's `BFIndex` API, over geodex's blocked exact
//! scan ([`geodex_core::exact::exact_knn_prepared`], the scan behind every ground truth) of
//! the stored rows, which are kept prepared (normalised under cosine) so no query copies them.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use geodex_core::exact::exact_knn_prepared;
use geodex_core::Key;
use parking_lot::{Mutex, RwLock};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::arrays;
use crate::errors::{raise, Failure};
use crate::hnsw::{hardware_threads, not_initialised, python_filter, resolve_threads, Pools};
use crate::space::Space;

/// First bytes of a saved `BFIndex` file.
const MAGIC: &[u8; 8] = b"GDXBF001";

/// Exact k-nearest-neighbour search over the vectors added, with hnswlib's `BFIndex` API.
#[pyclass(module = "geodex", name = "BFIndex", subclass)]
pub struct BFIndex {
    space: Space,
    dim: usize,
    num_threads: AtomicUsize,
    inner: RwLock<Option<Flat>>,
    pools: Pools,
}

/// The vectors (normalised under cosine) and their labels, row-aligned.
#[derive(Clone, Debug, Default, PartialEq)]
struct Flat {
    max_elements: usize,
    next_label: u64,
    labels: Vec<u64>,
    vectors: Vec<f32>,
    row_of: HashMap<u64, usize>,
}

impl Flat {
    fn with_rows(max_elements: usize, next_label: u64, labels: Vec<u64>, vectors: Vec<f32>) -> Flat {
        let row_of = labels.iter().enumerate().map(|(i, &l)| (l, i)).collect();
        Flat {
            max_elements,
            next_label,
            labels,
            vectors,
            row_of,
        }
    }

    /// The file form: magic, space code, dim, capacity, next label, count, labels, vectors,
    /// then the xxh3-64 of everything before it.
    fn to_bytes(&self, space: Space, dim: usize) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        for word in [
            u64::from(space.metric().code()),
            dim as u64,
            self.max_elements as u64,
            self.next_label,
            self.labels.len() as u64,
        ] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        for label in &self.labels {
            out.extend_from_slice(&label.to_le_bytes());
        }
        for v in &self.vectors {
            out.extend_from_slice(&v.to_le_bytes());
        }
        let checksum = xxhash_rust::xxh3::xxh3_64(&out);
        out.extend_from_slice(&checksum.to_le_bytes());
        out
    }

    /// Reads [`Flat::to_bytes`], refusing anything truncated, altered or of another space
    /// or dimension.
    fn from_bytes(bytes: &[u8], space: Space, dim: usize) -> Result<Flat, String> {
        let body_len = bytes.len().checked_sub(8).ok_or("truncated")?;
        let (body, tail) = bytes.split_at(body_len);
        let checksum = u64::from_le_bytes(tail.try_into().expect("8 bytes"));
        if !body.starts_with(MAGIC) {
            return Err("not a geodex BFIndex file".into());
        }
        if xxhash_rust::xxh3::xxh3_64(body) != checksum {
            return Err("checksum mismatch (the file is corrupt)".into());
        }
        let words: Vec<u64> = body[8..48]
            .chunks_exact(8)
            .map(|w| u64::from_le_bytes(w.try_into().expect("8 bytes")))
            .collect();
        let [metric, file_dim, max_elements, next_label, count] = words[..] else {
            return Err("truncated header".into());
        };
        if metric != u64::from(space.metric().code()) || file_dim != dim as u64 {
            return Err(format!(
                "the file holds a {file_dim}-dimensional index of metric code {metric}, this BFIndex is {dim}-dimensional {}",
                space.name()
            ));
        }
        let count = count as usize;
        if body.len() != 48 + count * 8 + count * dim * 4 {
            return Err("length does not match the header".into());
        }
        let (labels, vectors) = body[48..].split_at(count * 8);
        let labels = labels
            .chunks_exact(8)
            .map(|w| u64::from_le_bytes(w.try_into().expect("8 bytes")))
            .collect();
        let vectors = vectors
            .chunks_exact(4)
            .map(|w| f32::from_le_bytes(w.try_into().expect("4 bytes")))
            .collect();
        Ok(Flat::with_rows(
            max_elements as usize,
            next_label,
            labels,
            vectors,
        ))
    }

    /// Removes `label`'s row (the last row moves into its place); unknown labels are ignored,
    /// as hnswlib's `delete_vector` does.
    fn remove(&mut self, label: u64, dim: usize) {
        let Some(row) = self.row_of.remove(&label) else {
            return;
        };
        let last = self.labels.len() - 1;
        if row != last {
            let moved = self.labels[last];
            self.labels[row] = moved;
            self.vectors.copy_within(last * dim..(last + 1) * dim, row * dim);
            self.row_of.insert(moved, row);
        }
        self.labels.truncate(last);
        self.vectors.truncate(last * dim);
    }
}

#[pymethods]
impl BFIndex {
    #[new]
    #[pyo3(signature = (space, dim))]
    fn new(py: Python<'_>, space: &str, dim: i64) -> PyResult<Self> {
        let (space, dim) = raise(py, Space::with_dim(space, dim))?;
        Ok(BFIndex {
            space,
            dim,
            num_threads: AtomicUsize::new(hardware_threads()),
            inner: RwLock::new(None),
            pools: Pools::default(),
        })
    }

    /// Initialises an empty index of capacity `max_elements`.
    fn init_index(&self, py: Python<'_>, max_elements: usize) -> PyResult<()> {
        raise(
            py,
            py.detach(|| {
                let mut inner = self.inner.write();
                if inner.is_some() {
                    return Err(Failure::Runtime("The index is already initiated.".into()));
                }
                *inner = Some(Flat::with_rows(max_elements, 0, Vec::new(), Vec::new()));
                Ok(())
            }),
        )
    }

    /// Adds the rows of `data` under `ids` (default: a running counter); a label already
    /// present gets the new vector. A batch that would overflow `max_elements` changes nothing.
    #[pyo3(signature = (data, ids=None))]
    fn add_items(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        ids: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let (view, rows) = raise(py, arrays::rows_f32(data, self.dim))?;
        let given = raise(py, arrays::given_labels(ids, rows))?;
        let mut values = view.as_slice().map_err(PyErr::from)?.to_vec();
        let (space, dim) = (self.space, self.dim);
        raise(
            py,
            py.detach(|| {
                geodex_core::check_and_prepare(space.metric(), dim, &mut values)?;
                let mut inner = self.inner.write();
                let flat = inner.as_mut().ok_or_else(not_initialised)?;
                let labels = given.unwrap_or_else(|| (0..rows as u64).map(|i| flat.next_label + i).collect());
                let new: std::collections::HashSet<u64> =
                    labels.iter().copied().filter(|l| !flat.row_of.contains_key(l)).collect();
                if flat.labels.len() + new.len() > flat.max_elements {
                    return Err(Failure::Runtime(format!(
                        "The number of elements exceeds the specified limit ({} held, {} more, max_elements {})",
                        flat.labels.len(),
                        new.len(),
                        flat.max_elements
                    )));
                }
                for (&label, row) in labels.iter().zip(values.chunks_exact(dim)) {
                    match flat.row_of.get(&label) {
                        Some(&at) => flat.vectors[at * dim..(at + 1) * dim].copy_from_slice(row),
                        None => {
                            flat.row_of.insert(label, flat.labels.len());
                            flat.labels.push(label);
                            flat.vectors.extend_from_slice(row);
                        }
                    }
                }
                flat.next_label += rows as u64;
                Ok(())
            }),
        )
    }

    /// Removes `label` (unknown labels are ignored).
    fn delete_vector(&self, py: Python<'_>, label: u64) -> PyResult<()> {
        let dim = self.dim;
        raise(
            py,
            py.detach(|| {
                let mut inner = self.inner.write();
                inner.as_mut().ok_or_else(not_initialised)?.remove(label, dim);
                Ok(())
            }),
        )
    }

    /// The exact k nearest labels of every row of `data` and their distances, nearest first
    /// (ties by the order of insertion).
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
        let (space, dim) = (self.space, self.dim);
        let (labels, distances) = raise(
            py,
            py.detach(|| {
                let inner = self.inner.read();
                let flat = inner.as_ref().ok_or_else(not_initialised)?;
                // With a filter, the rows it keeps (one Python call per row, as hnswlib's
                // brute force makes); without one, the stored rows are scanned in place.
                let allowed: Option<Vec<usize>> = match &filter {
                    None => None,
                    Some(f) => {
                        let callback_error = Mutex::new(None);
                        let kept = (0..flat.labels.len())
                            .filter(|&r| python_filter(Some(f), Key(flat.labels[r]), &callback_error))
                            .collect();
                        if let Some(err) = callback_error.into_inner() {
                            return Err(Failure::Python(err));
                        }
                        Some(kept)
                    }
                };
                if k == 0 || rows == 0 {
                    return Ok((Vec::new(), Vec::new()));
                }
                if allowed.as_ref().map_or(flat.labels.len(), Vec::len) < k {
                    return Err(Failure::Runtime(
                        "Cannot return the results in a contiguous 2D array. Fewer than k elements match"
                            .into(),
                    ));
                }
                let subset: Option<Vec<f32>> = allowed.as_ref().map(|rows| {
                    rows.iter()
                        .flat_map(|&r| flat.vectors[r * dim..(r + 1) * dim].iter().copied())
                        .collect()
                });
                let base = subset.as_deref().unwrap_or(&flat.vectors);
                let found = self
                    .pools
                    .get(threads)?
                    .install(|| exact_knn_prepared(base, queries, dim, k, space.metric(), &|_| {}))?;
                let label_of = |id: u32| match &allowed {
                    Some(rows) => flat.labels[rows[id as usize]],
                    None => flat.labels[id as usize],
                };
                let labels = found
                    .iter()
                    .flat_map(|row| row.iter().map(|n| label_of(n.id)))
                    .collect();
                let distances = found
                    .iter()
                    .flat_map(|row| row.iter().map(|n| space.reported(n.distance)))
                    .collect();
                Ok((labels, distances))
            }),
        )?;
        Ok((
            arrays::matrix(py, labels, rows, k)?,
            arrays::matrix(py, distances, rows, k)?,
        ))
    }

    fn set_num_threads(&self, num_threads: i64) {
        self.num_threads.store(
            resolve_threads(num_threads, hardware_threads()),
            Ordering::Relaxed,
        );
    }

    /// Saves atomically (a temporary file in the same directory, renamed over the target).
    fn save_index(&self, py: Python<'_>, path_to_index: PathBuf) -> PyResult<()> {
        let (space, dim) = (self.space, self.dim);
        raise(
            py,
            py.detach(|| {
                let inner = self.inner.read();
                let bytes = inner.as_ref().ok_or_else(not_initialised)?.to_bytes(space, dim);
                write_atomically(&path_to_index, &bytes)
            }),
        )
    }

    /// Loads a file written by `save_index`; `max_elements` below the count keeps the saved
    /// capacity.
    #[pyo3(signature = (path_to_index, max_elements=0))]
    fn load_index(&self, py: Python<'_>, path_to_index: PathBuf, max_elements: usize) -> PyResult<()> {
        let (space, dim) = (self.space, self.dim);
        raise(
            py,
            py.detach(|| {
                let bytes = std::fs::read(&path_to_index)
                    .map_err(|e| Failure::Runtime(format!("{}: {e}", path_to_index.display())))?;
                let mut flat = Flat::from_bytes(&bytes, space, dim)
                    .map_err(|reason| Failure::Input(format!("{}: {reason}", path_to_index.display())))?;
                if max_elements >= flat.labels.len() && max_elements > 0 {
                    flat.max_elements = max_elements;
                }
                *self.inner.write() = Some(flat);
                Ok(())
            }),
        )
    }

    fn get_max_elements(&self, py: Python<'_>) -> usize {
        py.detach(|| self.inner.read().as_ref().map_or(0, |f| f.max_elements))
    }

    fn get_current_count(&self, py: Python<'_>) -> usize {
        py.detach(|| self.inner.read().as_ref().map_or(0, |f| f.labels.len()))
    }

    #[getter]
    fn space(&self) -> &'static str {
        self.space.name()
    }

    #[getter]
    fn dim(&self) -> usize {
        self.dim
    }

    #[getter(num_threads)]
    fn num_threads_property(&self) -> usize {
        self.num_threads.load(Ordering::Relaxed)
    }

    #[setter(num_threads)]
    fn set_num_threads_property(&self, num_threads: i64) {
        self.set_num_threads(num_threads);
    }

    fn __repr__(&self) -> String {
        format!(
            "<geodex.BFIndex(space='{}', dim={})>",
            self.space.name(),
            self.dim
        )
    }

    /// Pickling: `(type, (space, dim), state)` with the saved file's bytes as the state.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<crate::Reduced<'py>> {
        let py = slf.py();
        let borrowed = slf.borrow();
        let this: &BFIndex = &borrowed;
        let state = PyDict::new(py);
        state.set_item("num_threads", this.num_threads.load(Ordering::Relaxed))?;
        let bytes = py.detach(|| {
            this.inner
                .read()
                .as_ref()
                .map(|f| f.to_bytes(this.space, this.dim))
        });
        state.set_item("index", bytes.map(|b| PyBytes::new(py, &b)))?;
        Ok((slf.get_type(), (this.space.name(), this.dim), state))
    }

    fn __setstate__(&self, py: Python<'_>, state: &Bound<'_, PyDict>) -> PyResult<()> {
        if let Some(threads) = state.get_item("num_threads")? {
            self.num_threads.store(threads.extract()?, Ordering::Relaxed);
        }
        let bytes: Option<Vec<u8>> = match state.get_item("index")? {
            Some(b) if !b.is_none() => Some(b.extract()?),
            _ => None,
        };
        if let Some(bytes) = bytes {
            let flat = raise(
                py,
                Flat::from_bytes(&bytes, self.space, self.dim)
                    .map_err(|r| Failure::Input(format!("bad pickled state: {r}"))),
            )?;
            py.detach(|| *self.inner.write() = Some(flat));
        }
        Ok(())
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory, synced, then
/// renamed: a crash leaves the old file or the new one.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let io = |e: std::io::Error| Failure::Runtime(format!("{}: {e}", path.display()));
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.as_file().sync_all().map_err(io)?;
    file.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}
