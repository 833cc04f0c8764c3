//! geodex for Python: `geodex.Index`, a drop-in for `hnswlib.Index` over geodex's living HNSW
//! index, `geodex.BFIndex`, exact search with hnswlib's `BFIndex` API, and `geodex.open`, any
//! geodex index file (u8 or f32, every metric, quantised or not) read-only and memory-mapped.
//!
//! The classes are declared in the module `geodex` (this extension is `geodex._native`, re-
//! exported by `python/geodex/__init__.py`), so they pickle under that name. Every call that
//! builds or searches releases the GIL; every lock is taken with the GIL released, so a
//! filter callback (which takes the GIL back) can never deadlock against another thread.

mod arrays;
mod brute;
mod durable;
mod embed;
mod errors;
mod file;
mod hnsw;
mod kmeans;
mod space;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyType};

/// What `__reduce__` returns for pickling: the class (a subclass stays itself), the
/// constructor's `(space, dim)`, and the state `__setstate__` restores.
pub(crate) type Reduced<'py> = (Bound<'py, PyType>, (&'static str, usize), Bound<'py, PyDict>);

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::add_input_error(m)?;
    m.add_class::<hnsw::Index>()?;
    m.add_class::<brute::BFIndex>()?;
    m.add_class::<file::IndexFile>()?;
    m.add_class::<durable::DurableIndex>()?;
    m.add_function(wrap_pyfunction!(file::open, m)?)?;
    m.add_function(wrap_pyfunction!(file::build, m)?)?;
    m.add_function(wrap_pyfunction!(embed::embed_hierarchy, m)?)?;
    m.add_function(wrap_pyfunction!(kmeans::kmeans, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
