//! How failures reach Python.
//!
//! hnswlib raises `RuntimeError` for everything its C++ core throws (a wrong dimension, a full
//! index, an unknown label) and `ValueError` for a few argument checks. Code written for it
//! catches `RuntimeError`; new code expects `ValueError` for bad input. geodex raises
//! `geodex.InputError`, a subclass of both, for bad input, so both kinds of caller work, and
//! `RuntimeError` for the states hnswlib reports that way (full index, label not found, too
//! few results).

use geodex_core::CoreError;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple, PyType};

/// A failure computed without the GIL, turned into a Python exception once it is held again.
#[derive(Debug)]
pub enum Failure {
    /// Bad input: `geodex.InputError` (a `ValueError` and a `RuntimeError`).
    Input(String),
    /// A state hnswlib reports as `RuntimeError` (full index, unknown label, …) or an I/O error.
    Runtime(String),
    /// An exception raised by Python code called back (a filter), re-raised as it was.
    Python(PyErr),
}

impl Failure {
    /// The Python exception for this failure.
    pub fn into_py(self, py: Python<'_>) -> PyErr {
        match self {
            Failure::Input(message) => input_error(py, message),
            Failure::Runtime(message) => PyRuntimeError::new_err(message),
            Failure::Python(err) => err,
        }
    }
}

impl From<CoreError> for Failure {
    fn from(e: CoreError) -> Self {
        if e.is_bad_input() {
            Failure::Input(e.to_string())
        } else {
            Failure::Runtime(e.to_string())
        }
    }
}

impl From<PyErr> for Failure {
    fn from(e: PyErr) -> Self {
        Failure::Python(e)
    }
}

/// Runs `f` and turns its failure into a Python exception.
pub fn raise<T>(py: Python<'_>, result: Result<T, Failure>) -> PyResult<T> {
    result.map_err(|f| f.into_py(py))
}

/// `geodex.InputError(message)`.
pub fn input_error(py: Python<'_>, message: String) -> PyErr {
    let class = py
        .import("geodex._native")
        .and_then(|m| m.getattr("InputError"))
        .and_then(|c| Ok(c.cast_into::<PyType>()?));
    match class {
        Ok(class) => PyErr::from_type(class, message),
        Err(e) => e,
    }
}

/// Creates `InputError(ValueError, RuntimeError)` in the module (a class with two built-in
/// bases cannot be declared through pyo3's `create_exception!`, which takes one).
pub fn add_input_error(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let builtins = py.import("builtins")?;
    let bases = PyTuple::new(
        py,
        [builtins.getattr("ValueError")?, builtins.getattr("RuntimeError")?],
    )?;
    let namespace = PyDict::new(py);
    namespace.set_item("__module__", "geodex")?;
    namespace.set_item(
        "__doc__",
        "Bad input (shape, dimension, value, parameter). A ValueError, and a RuntimeError as \
         hnswlib raises for the same input.",
    )?;
    let class = builtins
        .getattr("type")?
        .call1(("InputError", bases, namespace))?;
    m.add("InputError", class)
}
