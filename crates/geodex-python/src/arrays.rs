//! numpy in and out: input arrays are viewed without a copy when they are already C-contiguous
//! float32 (anything else array-like is converted once, as hnswlib's `forcecast` does); results
//! are handed to numpy without a copy.

use numpy::{PyArray1, PyArray2, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::Failure;

/// `data` as a read-only C-contiguous float32 view of `dim` columns, with its row count: a 2-D
/// array is rows × dim, a 1-D array one row. An array that already is C-contiguous float32 is
/// used as it is (no call into numpy: this is every query's path). Other shapes and other
/// widths are [`Failure::Input`], with hnswlib's wording.
pub fn rows_f32<'py>(
    data: &Bound<'py, PyAny>,
    dim: usize,
) -> Result<(PyReadonlyArrayDyn<'py, f32>, usize), Failure> {
    let array = match data.cast::<PyArrayDyn<f32>>() {
        Ok(array) if array.is_c_contiguous() => array.clone(),
        _ => contiguous(data, "float32")?
            .cast_into::<PyArrayDyn<f32>>()
            .map_err(PyErr::from)?,
    };
    shaped(array, dim)
}

/// `data` as uint8 rows of `dim` columns, as [`rows_f32`]; only a uint8 array is taken (any
/// other dtype would be truncated or wrapped silently by a cast).
pub fn rows_u8<'py>(
    data: &Bound<'py, PyAny>,
    dim: usize,
) -> Result<(PyReadonlyArrayDyn<'py, u8>, usize), Failure> {
    let raw = data.py().import("numpy")?.getattr("asarray")?.call1((data,))?;
    let dtype: String = raw.getattr("dtype")?.getattr("name")?.extract()?;
    if dtype != "uint8" {
        return Err(Failure::Input(format!(
            "a byte (u8) index takes uint8 queries, not {dtype}"
        )));
    }
    let array = contiguous(&raw, "uint8")?
        .cast_into::<PyArrayDyn<u8>>()
        .map_err(PyErr::from)?;
    shaped(array, dim)
}

/// The shape checks of [`rows_f32`] and [`rows_u8`], and the read-only view.
fn shaped<'py, T: numpy::Element>(
    array: Bound<'py, PyArrayDyn<T>>,
    dim: usize,
) -> Result<(PyReadonlyArrayDyn<'py, T>, usize), Failure> {
    let (ndim, width) = (array.ndim(), array.shape().last().copied().unwrap_or(0));
    if ndim != 1 && ndim != 2 {
        return Err(Failure::Input(format!(
            "Input vector data wrong shape. Number of dimensions {ndim}. Data must be a 1D or 2D array."
        )));
    }
    if width != dim {
        return Err(Failure::Input(format!(
            "Wrong dimensionality of the vectors: {width} components, the index has {dim}"
        )));
    }
    let rows = if ndim == 2 { array.shape()[0] } else { 1 };
    let view = array
        .try_readonly()
        .map_err(|e| Failure::Input(format!("the array cannot be read: {e}")))?;
    Ok((view, rows))
}

/// The labels `add_items` was given for `rows` rows, if any (`None` and a missing argument
/// both mean "number them").
pub fn given_labels(ids: Option<&Bound<'_, PyAny>>, rows: usize) -> Result<Option<Vec<u64>>, Failure> {
    match ids {
        Some(ids) if !ids.is_none() => labels(ids, rows).map(Some),
        _ => Ok(None),
    }
}

/// Labels for `rows` rows: a 1-D array of that length, or a scalar for one row (hnswlib's
/// `get_input_ids_and_check_shapes`). Negative or fractional labels are refused.
fn labels(ids: &Bound<'_, PyAny>, rows: usize) -> Result<Vec<u64>, Failure> {
    let array = label_array(ids)?;
    let ok = (array.ndim() == 1 && array.shape()[0] == rows) || (array.ndim() == 0 && rows == 1);
    if !ok {
        return Err(Failure::Input(format!(
            "The input label shape {:?} does not match the input data vector shape ({rows} rows)",
            array.shape()
        )));
    }
    Ok(array.to_vec().map_err(PyErr::from)?)
}

/// The labels of `get_items`, read as hnswlib reads them: a scalar is refused; otherwise the
/// first `len(ids)` values of the array in C order — a 1-D list as it is, and the (n, 1)
/// labels `knn_query` returns for k = 1 as their n labels (hnswlib's own tests pass those).
pub fn label_list(ids: &Bound<'_, PyAny>) -> Result<Vec<u64>, Failure> {
    let shape: Vec<usize> = ids
        .py()
        .import("numpy")?
        .getattr("shape")?
        .call1((ids,))?
        .extract()?;
    let Some(&rows) = shape.first() else {
        return Err(Failure::Input(
            "get_items accepts a list of indices and returns a list of vectors".into(),
        ));
    };
    let mut labels = label_array(ids)?.to_vec().map_err(PyErr::from)?;
    labels.truncate(rows);
    Ok(labels)
}

/// `ids` as a contiguous uint64 array, refusing values that are not non-negative integers
/// (numpy's unsafe cast would wrap −1 to 2⁶⁴−1 silently).
fn label_array<'py>(ids: &Bound<'py, PyAny>) -> Result<Bound<'py, PyArrayDyn<u64>>, Failure> {
    let py = ids.py();
    let numpy = py.import("numpy")?;
    let raw = numpy.getattr("asarray")?.call1((ids,))?;
    let kind: String = raw.getattr("dtype")?.getattr("kind")?.extract()?;
    match kind.as_str() {
        "u" => {}
        "i" | "b" => {
            let below_zero = raw.rich_compare(0, pyo3::basic::CompareOp::Lt)?;
            let negative: bool = numpy.getattr("any")?.call1((below_zero,))?.extract()?;
            if negative {
                return Err(Failure::Input("labels must be non-negative integers".into()));
            }
        }
        _ => {
            return Err(Failure::Input(format!(
                "labels must be integers (got an array of dtype kind {kind:?})"
            )))
        }
    }
    Ok(contiguous(&raw, "uint64")?
        .cast_into::<PyArrayDyn<u64>>()
        .map_err(PyErr::from)?)
}

/// `numpy.ascontiguousarray(data, dtype=dtype)`: the array itself when it already is one (a
/// scalar becomes a 1-element 1-D array).
fn contiguous<'py>(data: &Bound<'py, PyAny>, dtype: &str) -> PyResult<Bound<'py, PyAny>> {
    let py = data.py();
    let kwargs = PyDict::new(py);
    kwargs.set_item("dtype", dtype)?;
    py.import("numpy")?
        .getattr("ascontiguousarray")?
        .call((data,), Some(&kwargs))
}

/// What `knn_query` returns: labels (uint64) and distances (float32), both rows × k.
pub type Neighbours<'py> = (Bound<'py, PyArray2<u64>>, Bound<'py, PyArray2<f32>>);

/// A rows × k result matrix handed to numpy without copying `values`.
pub fn matrix<'py, T: numpy::Element>(
    py: Python<'py>,
    values: Vec<T>,
    rows: usize,
    k: usize,
) -> PyResult<Bound<'py, PyArray2<T>>> {
    PyArray1::from_vec(py, values).reshape([rows, k])
}
