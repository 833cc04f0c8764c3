//! hnswlib's three spaces and their geodex metrics.

use geodex_core::Metric;

use crate::errors::Failure;

/// A space name of hnswlib's API with its distance convention (hnswlib's README, "Supported
/// distances"): `l2` is the squared Euclidean distance, `ip` is 1 − ⟨a,b⟩, `cosine` is
/// 1 − ⟨a,b⟩ on vectors normalised on insert and query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    L2,
    Ip,
    Cosine,
}

impl Space {
    /// The space called `name`.
    pub fn parse(name: &str) -> Result<Space, Failure> {
        match name {
            "l2" => Ok(Space::L2),
            "ip" => Ok(Space::Ip),
            "cosine" => Ok(Space::Cosine),
            _ => Err(Failure::Input(format!(
                "Space name must be one of l2, ip, or cosine (got {name:?})."
            ))),
        }
    }

    /// The space called `name` and a dimension ≥ 1: the constructor arguments of both classes.
    pub fn with_dim(name: &str, dim: i64) -> Result<(Space, usize), Failure> {
        let space = Space::parse(name)?;
        if dim < 1 {
            return Err(Failure::Input(format!("dim = {dim} (must be ≥ 1)")));
        }
        Ok((space, dim as usize))
    }

    /// The name hnswlib uses.
    pub fn name(self) -> &'static str {
        match self {
            Space::L2 => "l2",
            Space::Ip => "ip",
            Space::Cosine => "cosine",
        }
    }

    /// The geodex metric that ranks as this space does.
    pub fn metric(self) -> Metric {
        match self {
            Space::L2 => Metric::L2,
            Space::Ip => Metric::InnerProduct,
            Space::Cosine => Metric::Cosine,
        }
    }

    /// The space of an index file's metric, if hnswlib has it.
    pub fn of_metric(metric: Metric) -> Option<Space> {
        match metric {
            Metric::L2 => Some(Space::L2),
            Metric::InnerProduct => Some(Space::Ip),
            Metric::Cosine => Some(Space::Cosine),
            Metric::Poincare => None,
        }
    }

    /// hnswlib's distance from geodex's: geodex ranks inner products by −⟨a,b⟩, hnswlib reports
    /// 1 − ⟨a,b⟩ (the same order); squared L2 and 1 − cos θ are the same in both.
    #[inline]
    pub fn reported(self, geodex_distance: f32) -> f32 {
        match self {
            Space::Ip => 1.0 + geodex_distance,
            Space::L2 | Space::Cosine => geodex_distance,
        }
    }
}
