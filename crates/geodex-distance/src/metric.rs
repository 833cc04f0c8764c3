//! The metric an index is built for.

use std::fmt;
use std::str::FromStr;

/// The dissimilarity an index orders neighbours by. Chosen once, when an index is created.
///
/// | variant | value returned by the kernel | note |
/// |---|---|---|
/// | `L2` | ‖a − b‖² | squared: same order as L2, no square root |
/// | `InnerProduct` | −⟨a, b⟩ | negated so that smaller is closer |
/// | `Cosine` | 1 − ⟨a, b⟩ | vectors are normalised to unit length when stored |
/// | `Poincare` | δ = ‖a−b‖² / ((1−‖a‖²)(1−‖b‖²)) | Poincaré ball, all norms < 1; reported as d = arcosh(1 + 2δ) |
///
/// The kernel value is the *rank key*; [`Metric::reported_distance`] maps it to what results
/// show (the identity except under Poincaré, whose rank key avoids an arcosh per candidate).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Squared Euclidean distance.
    L2,
    /// Negated inner product (maximum inner product search).
    InnerProduct,
    /// Cosine distance, 1 − cos θ, on vectors normalised when stored.
    Cosine,
    /// Geodesic distance of the Poincaré ball model of hyperbolic space (Nickel & Kiela 2017,
    /// eq. 1). Every vector must have Euclidean norm < 1.
    Poincare,
}

impl Metric {
    /// All metrics, in their on-disk code order.
    pub const ALL: [Metric; 4] = [Metric::L2, Metric::InnerProduct, Metric::Cosine, Metric::Poincare];

    /// The short name used on the command line and in JSON (`l2`, `ip`, `cosine`, `poincare`).
    pub fn name(self) -> &'static str {
        match self {
            Metric::L2 => "l2",
            Metric::InnerProduct => "ip",
            Metric::Cosine => "cosine",
            Metric::Poincare => "poincare",
        }
    }

    /// The dissimilarity a result reports for a kernel value `rank_key` (see the table above):
    /// the identity, except under Poincaré, where it is the geodesic distance
    /// d = arcosh(1 + 2δ), evaluated as 2·asinh(√δ) — the same function, without the
    /// cancellation arcosh suffers near 1 for close points.
    pub fn reported_distance(self, rank_key: f32) -> f32 {
        match self {
            Metric::Poincare => (2.0 * (rank_key.max(0.0) as f64).sqrt().asinh()) as f32,
            _ => rank_key,
        }
    }

    /// The stable code stored in index files.
    pub fn code(self) -> u32 {
        match self {
            Metric::L2 => 0,
            Metric::InnerProduct => 1,
            Metric::Cosine => 2,
            Metric::Poincare => 3,
        }
    }

    /// The metric with the stored `code`, if any.
    pub fn from_code(code: u32) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.code() == code)
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A metric name that is not one of `l2`, `ip`, `cosine`, `poincare`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown metric '{0}' (expected l2, ip, cosine or poincare)")]
pub struct MetricParseError(pub String);

impl FromStr for Metric {
    type Err = MetricParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "l2" | "euclidean" => Ok(Metric::L2),
            "ip" | "inner_product" | "dot" => Ok(Metric::InnerProduct),
            "cosine" | "angular" => Ok(Metric::Cosine),
            "poincare" | "poincaré" | "hyperbolic" => Ok(Metric::Poincare),
            _ => Err(MetricParseError(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        for m in Metric::ALL {
            assert_eq!(m.name().parse::<Metric>().unwrap(), m);
            assert_eq!(Metric::from_code(m.code()), Some(m));
        }
        assert!(Metric::from_code(4).is_none());
        assert!("manhattan".parse::<Metric>().is_err());
    }
}
