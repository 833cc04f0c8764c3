//! Checking and preparing vectors per metric, for the element types geodex stores.

use geodex_distance::{Element, Metric};

use crate::{CoreError, SearchContext};

/// An element type the index can store: how to validate a row and prepare it for a metric.
pub trait Component: Element {
    /// Checks row `row` for `metric`: finite components, a direction under cosine, norm < 1
    /// under Poincaré.
    fn check(metric: Metric, row: usize, v: &[Self]) -> Result<(), CoreError>;

    /// Rewrites a stored vector into the form the kernel expects (cosine: unit length).
    fn prepare_in_place(metric: Metric, v: &mut [Self]);

    /// Runs `f` on the query in the form the kernel expects, using the context's buffer when
    /// a copy is needed (no allocation once the buffer has grown).
    fn with_prepared<R>(
        metric: Metric,
        q: &[Self],
        ctx: &mut SearchContext,
        f: impl FnOnce(&[Self], &mut SearchContext) -> R,
    ) -> R;
}

fn norm_squared(v: &[f32]) -> f64 {
    v.iter().map(|&x| x as f64 * x as f64).sum()
}

impl Component for f32 {
    fn check(metric: Metric, row: usize, v: &[f32]) -> Result<(), CoreError> {
        if let Some(component) = v.iter().position(|x| !x.is_finite()) {
            return Err(CoreError::NonFinite {
                row,
                component,
                value: v[component],
            });
        }
        match metric {
            Metric::Cosine if norm_squared(v) == 0.0 => Err(CoreError::ZeroVector { row }),
            Metric::Poincare if norm_squared(v) >= 1.0 => Err(CoreError::OutsideBall {
                row,
                norm: norm_squared(v).sqrt(),
            }),
            _ => Ok(()),
        }
    }

    fn prepare_in_place(metric: Metric, v: &mut [f32]) {
        if metric == Metric::Cosine {
            let inv = (1.0 / norm_squared(v).sqrt()) as f32;
            v.iter_mut().for_each(|x| *x *= inv);
        }
    }

    fn with_prepared<R>(
        metric: Metric,
        q: &[f32],
        ctx: &mut SearchContext,
        f: impl FnOnce(&[f32], &mut SearchContext) -> R,
    ) -> R {
        if metric != Metric::Cosine {
            return f(q, ctx);
        }
        let mut buf = std::mem::take(&mut ctx.query);
        buf.clear();
        buf.extend_from_slice(q);
        f32::prepare_in_place(metric, &mut buf);
        let out = f(&buf, ctx);
        ctx.query = buf;
        out
    }
}

impl Component for u8 {
    fn check(metric: Metric, _row: usize, _v: &[u8]) -> Result<(), CoreError> {
        if u8::supports(metric) {
            Ok(())
        } else {
            Err(CoreError::UnsupportedMetric {
                metric,
                element: "u8",
            })
        }
    }

    fn prepare_in_place(_metric: Metric, _v: &mut [u8]) {}

    fn with_prepared<R>(
        _metric: Metric,
        q: &[u8],
        ctx: &mut SearchContext,
        f: impl FnOnce(&[u8], &mut SearchContext) -> R,
    ) -> R {
        f(q, ctx)
    }
}

/// Checks every row of `data` (rows of `dim`), then prepares them in place: the validation
/// every build, insert and query goes through (finite values; under cosine no zero rows, then
/// normalised; under Poincaré norms < 1), for bindings that store vectors themselves.
pub fn check_and_prepare<T: Component>(metric: Metric, dim: usize, data: &mut [T]) -> Result<(), CoreError> {
    if !T::supports(metric) {
        return Err(CoreError::UnsupportedMetric {
            metric,
            element: T::KIND.name(),
        });
    }
    for (row, v) in data.chunks_exact(dim).enumerate() {
        T::check(metric, row, v)?;
    }
    data.chunks_exact_mut(dim)
        .for_each(|v| T::prepare_in_place(metric, v));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_what_design_md_lists() {
        assert!(matches!(
            f32::check(Metric::L2, 3, &[1.0, f32::NAN]),
            Err(CoreError::NonFinite {
                row: 3,
                component: 1,
                ..
            })
        ));
        assert!(matches!(
            f32::check(Metric::L2, 0, &[f32::INFINITY]),
            Err(CoreError::NonFinite { .. })
        ));
        assert!(matches!(
            f32::check(Metric::Cosine, 5, &[0.0, 0.0]),
            Err(CoreError::ZeroVector { row: 5 })
        ));
        assert!(matches!(
            f32::check(Metric::Poincare, 1, &[0.6, 0.8]),
            Err(CoreError::OutsideBall { row: 1, .. })
        ));
        assert!(f32::check(Metric::Poincare, 1, &[0.6, 0.7]).is_ok());
        let mut data = vec![3.0f32, 4.0];
        check_and_prepare(Metric::Cosine, 2, &mut data).unwrap();
        assert!((data[0] - 0.6).abs() < 1e-7 && (data[1] - 0.8).abs() < 1e-7);
        assert!(check_and_prepare::<u8>(Metric::Cosine, 1, &mut [1u8]).is_err());
    }
}
