//! Argument loading shared by the examples: ground truth as id lists, and an index opened with
//! its query file.

use std::path::Path;

use geodex_core::AnyIndex;
use geodex_io::{AnyVectors, Role};

/// What the examples return on bad input or unreadable files.
pub type Failure = Box<dyn std::error::Error>;

/// The ground-truth file at `path` (ivecs or the `geodex groundtruth` format), one id list per
/// query.
pub fn truth(path: &str) -> Result<Vec<Vec<u64>>, Failure> {
    Ok(geodex_io::read_ids(Path::new(path))?
        .iter()
        .map(<[u64]>::to_vec)
        .collect())
}

/// The index at `index` (vectors memory-mapped) and the query vectors at `queries`.
pub fn index_and_queries(index: &str, queries: &str) -> Result<(AnyIndex, AnyVectors), Failure> {
    let queries = geodex_io::read_vectors(Path::new(queries), Role::Queries)?;
    Ok((AnyIndex::open(Path::new(index), true)?, queries))
}

/// The comma-separated items of `arg` (`default` when it is absent), each parsed by `parse`.
#[allow(dead_code)] // not every example takes a list
pub fn list<T, E: Into<Failure>>(
    arg: Option<&String>,
    default: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Vec<T>, Failure> {
    arg.map_or(default, String::as_str)
        .split(',')
        .map(|item| parse(item).map_err(Into::into))
        .collect()
}

/// The recall targets of `arg`, 0.9,0.95,0.99 when it is absent.
#[allow(dead_code)] // not every example takes targets this way
pub fn targets(arg: Option<&String>) -> Result<Vec<f64>, Failure> {
    list(arg, "0.9,0.95,0.99", str::parse::<f64>)
}

/// One rule's work on a workload: mean and 99th-percentile (nearest rank) distance evaluations,
/// and mean recall@k.
#[allow(dead_code)] // not every example compares rules
pub struct RuleWork {
    pub mean: f64,
    pub p99: u64,
    pub recall: f64,
}

/// The work of `model`'s rule `kind` at `target` on `w` (with the model's budget, if any).
#[allow(dead_code)] // not every example compares rules
pub fn rule_work<T: geodex_core::Component>(
    index: &geodex_core::Index<T>,
    model: &geodex_core::StopModel,
    w: &geodex_adaptive::Workload<'_, T>,
    kind: geodex_core::StopKind,
    target: f64,
) -> Result<RuleWork, Failure> {
    use geodex_adaptive::evaluate::{mean_distances, mean_recall, outcomes};
    let rule = geodex_core::StopRule::new(model, kind, target)?;
    let o = outcomes(index, w, 0, Some(&rule))?;
    Ok(RuleWork {
        mean: mean_distances(&o),
        p99: geodex_adaptive::calibrate::budget(&o, 1.0),
        recall: mean_recall(&o),
    })
}

/// `w`'s searches traced at `model`'s cap beam with a check every `every` distance evaluations.
#[allow(dead_code)] // not every example replays traces
pub fn traces_every<T: geodex_core::Component>(
    index: &geodex_core::Index<T>,
    model: &geodex_core::StopModel,
    w: &geodex_adaptive::Workload<'_, T>,
    every: u32,
) -> Result<Vec<geodex_adaptive::QueryTrace>, Failure> {
    let fine = geodex_core::StopModel {
        interval: every,
        ..model.clone()
    };
    Ok(geodex_adaptive::traces(index, &fine, w)?)
}
