//! `geodex.kmeans`: the k-means of geodex's product quantiser (k-means++ seeding, then Lloyd
//! iterations with parallel assignment; `geodex-quant`), for Python code that partitions
//! vectors — the k-means router of `geodex.distributed` trains its shard centroids with it.

use geodex_quant::kmeans::{train, KMeansParams};
use geodex_quant::QuantError;
use numpy::PyUntypedArrayMethods;
use pyo3::prelude::*;

use crate::arrays;
use crate::errors::{raise, Failure};

impl From<QuantError> for Failure {
    fn from(e: QuantError) -> Self {
        Failure::Input(e.to_string())
    }
}

/// Trains `k` centroids on the rows of `data` (2-D, float32 or convertible). Returns
/// `(centroids float32 (k, dim), mse)`, `mse` the mean squared distance of the rows to their
/// nearest centroid. The same seed gives the same centroids.
#[pyfunction]
#[pyo3(signature = (data, k, *, max_iterations=25, seed=0))]
pub fn kmeans<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    k: usize,
    max_iterations: usize,
    seed: u64,
) -> PyResult<(Bound<'py, numpy::PyArray2<f32>>, f64)> {
    let dim = raise(py, two_d_columns(data))?;
    let (view, _) = raise(py, arrays::rows_f32(data, dim))?;
    let rows = view.as_slice().map_err(PyErr::from)?;
    let params = KMeansParams {
        max_iterations,
        ..KMeansParams::new(k, seed)
    };
    let book = raise(py, py.detach(|| train(rows, dim, &params).map_err(Failure::from)))?;
    let centroids = arrays::matrix(py, book.centroids, k, dim)?;
    Ok((centroids, book.mse))
}

/// The column count of a 2-D array-like.
fn two_d_columns(data: &Bound<'_, PyAny>) -> Result<usize, Failure> {
    let array = data.py().import("numpy")?.getattr("asarray")?.call1((data,))?;
    let array = array.cast_into::<numpy::PyUntypedArray>().map_err(PyErr::from)?;
    match array.shape() {
        [_, dim] if *dim > 0 => Ok(*dim),
        shape => Err(Failure::Input(format!(
            "kmeans takes a 2-D array with at least one column, not shape {shape:?}"
        ))),
    }
}
