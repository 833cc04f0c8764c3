//! `geodex.embed_hierarchy`: a hierarchy (a transitive closure of `(child, ancestor)` pairs)
//! embedded in the Poincaré ball, the Lorentz model or Euclidean space by Riemannian SGD
//! (Nickel & Kiela 2017, 2018), or constructed in the 2-D ball (Sarkar 2011) — `geodex embed`
//! for Python. The vectors go into `geodex.build(..., metric="poincare")` as they are.

use std::io::BufReader;
use std::path::PathBuf;

use geodex_embed::{sarkar, train, EmbedError, Hierarchy, LrSchedule, Model, TrainParams};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::arrays;
use crate::errors::{raise, Failure};

impl From<EmbedError> for Failure {
    fn from(e: EmbedError) -> Self {
        match e {
            EmbedError::Io(_) => Failure::Runtime(e.to_string()),
            _ => Failure::Input(e.to_string()),
        }
    }
}

/// Embeds the hierarchy `pairs` (a path to a TSV file of `child<TAB>ancestor` lines, or an
/// iterable of `(child, ancestor)` name pairs; the pairs must be transitively closed). Returns
/// `(names, vectors float32 (n, dim), info)`: node names in row order, the vectors (ball
/// coordinates for the hyperbolic models) and `{'losses': mean loss per epoch}` (trained) or
/// `{'tau', 'depth'}` (sarkar). `lr_schedule` is `constant` or `linear` (after burn-in the rate
/// falls linearly from `lr` to `lr / (epochs - burn_in)`), as `geodex embed --lr-schedule`;
/// `local_negatives` is the share of negatives drawn near each node in the hierarchy, as
/// `geodex embed --local-negatives`; `hard_negatives` the share drawn from each node's 32
/// nearest unrelated nodes in the current embedding, mined every 10 epochs, as
/// `geodex embed --hard-negatives`. One thread and one seed
/// give the same vectors.
#[pyfunction]
#[pyo3(signature = (pairs, *, model="poincare", dim=10, epochs=400, lr=0.3, lr_schedule="constant", negatives=50, local_negatives=0.0, hard_negatives=0.0, burn_in=10, seed=0, num_threads=1, tau=None))]
#[allow(clippy::too_many_arguments)]
pub fn embed_hierarchy<'py>(
    py: Python<'py>,
    pairs: &Bound<'py, PyAny>,
    model: &str,
    dim: usize,
    epochs: usize,
    lr: f64,
    lr_schedule: &str,
    negatives: usize,
    local_negatives: f64,
    hard_negatives: f64,
    burn_in: usize,
    seed: u64,
    num_threads: usize,
    tau: Option<f64>,
) -> PyResult<Bound<'py, PyAny>> {
    let model: Model = raise(py, model.parse().map_err(Failure::from))?;
    let schedule: LrSchedule = raise(py, lr_schedule.parse().map_err(Failure::from))?;
    let hierarchy = raise(py, read_pairs(pairs))?;
    let info = PyDict::new(py);
    let (dim, vectors) = if model == Model::Sarkar {
        let built = raise(
            py,
            py.detach(|| sarkar::construct(&hierarchy, tau, dim))
                .map_err(Failure::from),
        )?;
        info.set_item("tau", built.tau)?;
        info.set_item("depth", built.depth)?;
        (dim, built.vectors)
    } else {
        let params = TrainParams {
            negatives,
            local_negatives,
            hard_negatives,
            burn_in,
            schedule,
            threads: num_threads,
            seed,
            ..TrainParams::new(dim, epochs, lr)
        };
        let trained = raise(
            py,
            py.detach(|| train(&hierarchy, model, &params, &|_, _| {}))
                .map_err(Failure::from),
        )?;
        info.set_item("losses", trained.losses)?;
        (trained.dim, trained.vectors)
    };
    let rows = hierarchy.len();
    let vectors = arrays::matrix(py, vectors, rows, dim)?;
    Ok((hierarchy.names().to_vec(), vectors, info)
        .into_pyobject(py)?
        .into_any())
}

/// The hierarchy of a TSV path or of an iterable of name pairs.
fn read_pairs(pairs: &Bound<'_, PyAny>) -> Result<Hierarchy, Failure> {
    if let Ok(path) = pairs.extract::<PathBuf>() {
        let file =
            std::fs::File::open(&path).map_err(|e| Failure::Input(format!("{}: {e}", path.display())))?;
        return Ok(Hierarchy::read_tsv(BufReader::new(file))?);
    }
    let mut named = Vec::new();
    for pair in pairs.try_iter()? {
        let (child, ancestor): (String, String) = pair?
            .extract()
            .map_err(|_| Failure::Input("every pair must be (child, ancestor) names".into()))?;
        if child == ancestor {
            return Err(Failure::Input(format!("'{child}' is its own ancestor")));
        }
        named.push((child, ancestor));
    }
    Ok(Hierarchy::from_named_pairs(&named)?)
}
