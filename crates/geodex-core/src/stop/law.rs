//! The Ada-ef rule's model of a query's distances to the whole base (Zhang & Miller, SIGMOD
//! 2026, "Distribution-Aware Exploration for Adaptive HNSW Search"): the distance from a query
//! `q` to a uniformly drawn base vector `x` is close to normal in high dimensions, with moments
//! that follow in closed form from the base's mean, covariance and the moments of its squared
//! norms. The rule scores a query by how many of its first measured distances fall into the
//! far lower tail of that law ([`AdaEf::score`]).
//!
//! Every distance geodex walks with is, on the stored vectors, of the form
//! `D(q, x) = α(‖q‖² + ‖x‖²) − 2β q·x + γ` ([`WalkForm`]): squared L2 (α = β = 1), cosine
//! distance on unit vectors (α = 0, β = ½, γ = 1), negated inner product (β = ½), and the byte
//! walk's code distance (α = β = 1/step², up to rounding). So, with μ = E x, Σ = Cov x,
//! s = Var ‖x‖² and c = Cov(‖x‖², x):
//!
//! - `E D = α(‖q‖² + E‖x‖²) − 2β q·μ + γ`,
//! - `Var D = α² s − 4αβ q·c + 4β² qᵀΣq`,
//!
//! exactly (only normality is an approximation). The paper's squared-Euclidean variance drops
//! the cross-covariance between ‖x‖² and x to its diagonal (`diag Cov(x², x)·q` in its published
//! code); the form above keeps it whole, which costs one more dot product. `qᵀΣq` uses the
//! leading principal axes of Σ and one variance per unit of squared norm for the rest of `q`
//! (calibrated on the base, `geodex-adaptive`'s `law` module): `d·r` multiply-adds per query
//! instead of `d²`, exact when all axes are kept.

use geodex_distance::{Avx2, Avx512, Element, ElementKind, Isa, IsaKernels, Portable};
use serde::{Deserialize, Serialize};

/// Moments of the base vectors (as stored: unit length under cosine) that fix the law of a
/// query's distances to them. Made by `geodex-adaptive` (`law::fit`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DistanceLaw {
    /// E x, `dim` components.
    pub mean: Vec<f32>,
    /// E ‖x‖².
    pub norm_mean: f32,
    /// Var ‖x‖².
    pub norm_var: f32,
    /// Cov(‖x‖², x), `dim` components.
    pub norm_cov: Vec<f32>,
    /// Leading principal axes of Cov x, row after row (`dim` components each, unit length).
    pub axes: Vec<f32>,
    /// The variance along each axis (eigenvalues, descending).
    pub axis_var: Vec<f32>,
    /// Variance per unit of squared norm outside the kept axes: `qᵀΣq` ≈ Σ along the axes +
    /// this × the rest of ‖q‖² (0 when all axes are kept).
    pub residual_var: f32,
}

/// The distance a walk measures, as `α(‖q‖² + ‖x‖²) − 2β q·x + γ` on the stored vectors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WalkForm {
    /// Weight of the squared norms.
    pub alpha: f32,
    /// Weight of −2 q·x.
    pub beta: f32,
    /// Constant.
    pub gamma: f32,
}

impl WalkForm {
    /// Squared L2 distance (and, scaled by 1/step², a byte walk's code distance).
    pub const SQUARED_L2: WalkForm = WalkForm {
        alpha: 1.0,
        beta: 1.0,
        gamma: 0.0,
    };
    /// Cosine distance 1 − q·x on unit vectors.
    pub const COSINE: WalkForm = WalkForm {
        alpha: 0.0,
        beta: 0.5,
        gamma: 1.0,
    };
    /// Negated inner product −q·x.
    pub const NEGATED_DOT: WalkForm = WalkForm {
        alpha: 0.0,
        beta: 0.5,
        gamma: 0.0,
    };

    /// The walk's form scaled by `unit` (a byte walk's code distance is the float one ÷ step²).
    pub fn scaled(self, unit: f32) -> WalkForm {
        WalkForm {
            alpha: self.alpha * unit,
            beta: self.beta * unit,
            gamma: self.gamma * unit,
        }
    }
}

impl DistanceLaw {
    /// Vector dimension the law was fitted for.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Mean and standard deviation of `D(q, x)` over the base, for the walk's `form` and the
    /// query `q` as stored (`dim` components, unit length under cosine).
    ///
    /// The cost is `r + 3` dot products of `dim` components (`r` kept axes), computed by the
    /// distance crate's SIMD kernels four rows at a time: a `u8` query is widened to `f32` once.
    pub fn moments<T: Element>(&self, form: WalkForm, q: &[T]) -> (f32, f32) {
        let widened: Vec<f32>;
        let q: &[f32] = if T::KIND == ElementKind::F32 {
            bytemuck::cast_slice(q)
        } else {
            widened = q.iter().map(|x| x.to_f32()).collect();
            &widened
        };
        match Isa::detect() {
            Isa::Avx512 => Avx512::new().map(|k| self.moments_with(k, form, q)),
            Isa::Avx2 => Avx2::new().map(|k| self.moments_with(k, form, q)),
            Isa::Portable => None,
        }
        .unwrap_or_else(|| self.moments_with(Portable, form, q))
    }

    /// [`DistanceLaw::moments`] on the kernels `k`.
    fn moments_with<K: IsaKernels>(&self, k: K, form: WalkForm, q: &[f32]) -> (f32, f32) {
        let [q_norm, q_mean, q_cov, _] = k.dot_f32_x4(q, [q, &self.mean, &self.norm_cov, q]);
        let (a, b) = (form.alpha, form.beta);
        let mean = a * (q_norm + self.norm_mean) - 2.0 * b * q_mean + form.gamma;
        let var = a * a * self.norm_var - 4.0 * a * b * q_cov + 4.0 * b * b * self.quadratic(k, q, q_norm);
        (mean, var.max(0.0).sqrt())
    }

    /// `qᵀΣq` from the kept axes and the residual variance on the rest of `q` (norm² `q_norm`).
    fn quadratic<K: IsaKernels>(&self, k: K, q: &[f32], q_norm: f32) -> f32 {
        let dim = self.dim();
        if dim == 0 {
            return 0.0;
        }
        let (mut along, mut kept) = (0f32, 0f32);
        let mut add = |p: f32, var: f32| {
            along += var * p * p;
            kept += p * p;
        };
        let blocks = self.axes.chunks_exact(4 * dim);
        let rest = blocks.remainder();
        for (block, vars) in blocks.zip(self.axis_var.chunks_exact(4)) {
            let rows = [0, 1, 2, 3].map(|i| &block[i * dim..(i + 1) * dim]);
            for (p, &var) in k.dot_f32_x4(q, rows).into_iter().zip(vars) {
                add(p, var);
            }
        }
        let rest_vars = &self.axis_var[self.axis_var.len() - rest.len() / dim..];
        for (axis, &var) in rest.chunks_exact(dim).zip(rest_vars) {
            add(k.dot_f32(q, axis), var);
        }
        along + self.residual_var * (q_norm - kept).max(0.0)
    }

    /// Whether the law is internally consistent for vectors of `dim` components.
    pub fn check(&self, dim: usize) -> Result<(), String> {
        let finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
        let r = self.axis_var.len();
        if self.mean.len() != dim || self.norm_cov.len() != dim || self.axes.len() != r * dim || r > dim {
            return Err(format!(
                "distance law: component counts do not fit dimension {dim}"
            ));
        }
        let scalars = [self.norm_mean, self.norm_var, self.residual_var];
        let ok = finite(&self.mean)
            && finite(&self.norm_cov)
            && finite(&self.axes)
            && finite(&self.axis_var)
            && scalars.iter().all(|x| x.is_finite() && *x >= 0.0)
            && self.axis_var.iter().all(|&v| v >= 0.0);
        if !ok {
            return Err("distance law: non-finite or negative moments".into());
        }
        Ok(())
    }
}

/// The Ada-ef rule's model: the distance law, the score's tail bins and the score's bins to
/// beam widths (the widths are per target, in [`super::Calibration::adaef_ef`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdaEf {
    /// The law of a query's distances to the base.
    pub law: DistanceLaw,
    /// Level-0 distance evaluations scored before the beam width is chosen.
    pub warmup: u32,
    /// Ascending standard-normal quantiles Φ⁻¹(p·i), i = 1…B, bounding the tail bins: a
    /// distance whose z-score under the law lies below the i-th (and not a lower one) falls in
    /// bin i.
    pub tail_z: Vec<f32>,
    /// The weight of each tail bin (the paper's exponential decay, 100·e^(−i)).
    pub tail_weight: Vec<f32>,
    /// Ascending score thresholds between the rule's width bins.
    pub edges: Vec<f32>,
}

impl AdaEf {
    /// The tail bin of a distance with z-score `z`, if it falls in one.
    #[inline]
    pub fn tail_bin(&self, z: f32) -> Option<usize> {
        self.tail_z.iter().position(|&t| z < t)
    }

    /// The query's score from the counts of its scored distances per tail bin, out of `n`:
    /// the weighted share of distances in the law's far lower tail (high: the query's
    /// neighbourhood stands out from the base, an easy query).
    pub fn score(&self, counts: &[u32], n: u32) -> f32 {
        let sum: f32 = counts
            .iter()
            .zip(&self.tail_weight)
            .map(|(&c, w)| c as f32 * w)
            .sum();
        sum / n.max(1) as f32
    }

    /// The width bin of a score.
    pub fn bin(&self, score: f32) -> usize {
        self.edges.partition_point(|&e| e <= score)
    }

    /// Whether the model is consistent for vectors of `dim` components.
    pub fn check(&self, dim: usize) -> Result<(), String> {
        self.law.check(dim)?;
        let finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
        if self.warmup == 0
            || self.tail_z.is_empty()
            || self.tail_z.len() != self.tail_weight.len()
            || self.tail_z.len() > MAX_TAIL_BINS
            || !finite(&self.tail_z)
            || !finite(&self.tail_weight)
            || !finite(&self.edges)
            || !self.tail_z.is_sorted()
            || !self.edges.is_sorted()
        {
            return Err("adaef: warm-up, tail bins or edges out of range".into());
        }
        Ok(())
    }
}

/// Most tail bins a model may have (the search counts them in a fixed array).
pub const MAX_TAIL_BINS: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    /// A law with every axis kept, from explicit rows (the fit is `geodex-adaptive`'s; here
    /// the moments are computed naively from the definition).
    fn law_of(rows: &[Vec<f32>]) -> DistanceLaw {
        let n = rows.len() as f64;
        let dim = rows[0].len();
        let mean: Vec<f64> = (0..dim)
            .map(|j| rows.iter().map(|r| r[j] as f64).sum::<f64>() / n)
            .collect();
        let norms: Vec<f64> = rows
            .iter()
            .map(|r| r.iter().map(|&x| (x as f64).powi(2)).sum())
            .collect();
        let norm_mean = norms.iter().sum::<f64>() / n;
        let norm_var = norms.iter().map(|v| (v - norm_mean).powi(2)).sum::<f64>() / n;
        let norm_cov: Vec<f32> = (0..dim)
            .map(|j| {
                (rows
                    .iter()
                    .zip(&norms)
                    .map(|(r, v)| (v - norm_mean) * (r[j] as f64 - mean[j]))
                    .sum::<f64>()
                    / n) as f32
            })
            .collect();
        // Two dimensions: the covariance's eigendecomposition in closed form.
        let c = |a: usize, b: usize| {
            rows.iter()
                .map(|r| (r[a] as f64 - mean[a]) * (r[b] as f64 - mean[b]))
                .sum::<f64>()
                / n
        };
        assert_eq!(dim, 2);
        let (a, b, d) = (c(0, 0), c(0, 1), c(1, 1));
        let tr = a + d;
        let disc = ((a - d).powi(2) / 4.0 + b * b).sqrt();
        let (l1, l2) = (tr / 2.0 + disc, tr / 2.0 - disc);
        let v1 = if b.abs() > 1e-12 {
            [l1 - d, b]
        } else if a >= d {
            [1.0, 0.0]
        } else {
            [0.0, 1.0]
        };
        let len = (v1[0] * v1[0] + v1[1] * v1[1]).sqrt();
        let (x, y) = (v1[0] / len, v1[1] / len);
        DistanceLaw {
            mean: mean.iter().map(|&m| m as f32).collect(),
            norm_mean: norm_mean as f32,
            norm_var: norm_var as f32,
            norm_cov,
            axes: vec![x as f32, y as f32, -y as f32, x as f32],
            axis_var: vec![l1 as f32, l2.max(0.0) as f32],
            residual_var: 0.0,
        }
    }

    #[test]
    fn moments_match_the_distances_to_every_row() {
        let rows: Vec<Vec<f32>> = (0..400)
            .map(|i| {
                let t = i as f32 * 0.37;
                vec![
                    t.sin() * 2.0 + 0.3 * t.cos(),
                    0.5 * t.cos() + (i % 7) as f32 * 0.1,
                ]
            })
            .collect();
        let law = law_of(&rows);
        let q = [0.7f32, -1.3];
        for form in [
            WalkForm {
                alpha: 1.0,
                beta: 1.0,
                gamma: 0.0,
            },
            WalkForm {
                alpha: 0.0,
                beta: 0.5,
                gamma: 0.0,
            },
            WalkForm {
                alpha: 1.0,
                beta: 1.0,
                gamma: 0.0,
            }
            .scaled(37.0),
        ] {
            let d: Vec<f64> = rows
                .iter()
                .map(|r| {
                    let (qq, xx, qx) = (
                        q[0] * q[0] + q[1] * q[1],
                        r[0] * r[0] + r[1] * r[1],
                        q[0] * r[0] + q[1] * r[1],
                    );
                    (form.alpha * (qq + xx) - 2.0 * form.beta * qx + form.gamma) as f64
                })
                .collect();
            let m = d.iter().sum::<f64>() / d.len() as f64;
            let sd = (d.iter().map(|x| (x - m).powi(2)).sum::<f64>() / d.len() as f64).sqrt();
            let (lm, lsd) = law.moments(form, &q);
            assert!((lm as f64 - m).abs() < 1e-3 * m.abs().max(1.0), "{lm} vs {m}");
            assert!((lsd as f64 - sd).abs() < 1e-3 * sd.max(1.0), "{lsd} vs {sd}");
        }
    }

    /// `E D` and `sd D` from the law's fields by the formulas, in `f64` and one term at a time.
    fn moments_by_definition(law: &DistanceLaw, form: WalkForm, q: &[f64]) -> (f64, f64) {
        let dot = |v: &[f32]| q.iter().zip(v).map(|(x, y)| x * *y as f64).sum::<f64>();
        let q_norm = q.iter().map(|x| x * x).sum::<f64>();
        let dim = law.dim();
        let (mut along, mut kept) = (0.0, 0.0);
        for (axis, &var) in law.axes.chunks_exact(dim).zip(&law.axis_var) {
            let p = dot(axis);
            along += var as f64 * p * p;
            kept += p * p;
        }
        let quadratic = along + law.residual_var as f64 * (q_norm - kept).max(0.0);
        let (a, b, g) = (form.alpha as f64, form.beta as f64, form.gamma as f64);
        let mean = a * (q_norm + law.norm_mean as f64) - 2.0 * b * dot(&law.mean) + g;
        let var = a * a * law.norm_var as f64 - 4.0 * a * b * dot(&law.norm_cov) + 4.0 * b * b * quadratic;
        (mean, var.max(0.0).sqrt())
    }

    #[test]
    fn every_kernel_computes_the_moments_of_the_formulas() {
        // 37 components (not a multiple of any lane count) and 6 axes (a block of four and two
        // more), with seeded pseudo-random fields; a u8 and an f32 query.
        let (dim, r) = (37, 6);
        let mut state = 0x9e37_79b9_u32;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state % 2000) as f32 / 1000.0 - 1.0
        };
        let mut field = |n: usize| (0..n).map(|_| next()).collect::<Vec<f32>>();
        let law = DistanceLaw {
            mean: field(dim),
            norm_mean: 40.0,
            norm_var: 9.0,
            norm_cov: field(dim),
            axes: field(r * dim),
            axis_var: vec![5.0, 4.0, 3.0, 2.0, 1.5, 1.0],
            residual_var: 0.25,
        };
        let bytes: Vec<u8> = (0..dim).map(|i| (i * 37 % 251) as u8).collect();
        let floats: Vec<f32> = field(dim).iter().map(|x| x * 3.0).collect();
        let isas = Isa::available();
        let close = |got: f32, want: f64| ((got as f64) - want).abs() <= 1e-4 * want.abs().max(1.0);
        for form in [
            WalkForm::SQUARED_L2,
            WalkForm::COSINE,
            WalkForm::NEGATED_DOT.scaled(0.01),
        ] {
            let byte_q: Vec<f64> = bytes.iter().map(|&x| x as f64).collect();
            let float_q: Vec<f64> = floats.iter().map(|&x| x as f64).collect();
            let cases = [
                (
                    moments_by_definition(&law, form, &byte_q),
                    bytes.iter().map(|&x| x as f32).collect(),
                ),
                (moments_by_definition(&law, form, &float_q), floats.clone()),
            ];
            for ((mean, sd), q) in cases {
                let mut results = vec![law.moments_with(Portable, form, &q)];
                if isas.contains(&Isa::Avx2) {
                    results.push(law.moments_with(Avx2::new().unwrap(), form, &q));
                }
                if isas.contains(&Isa::Avx512) {
                    results.push(law.moments_with(Avx512::new().unwrap(), form, &q));
                }
                for (m, s) in results {
                    assert!(close(m, mean) && close(s, sd), "({m}, {s}) vs ({mean}, {sd})");
                }
            }
            // The public entry point widens the byte query itself.
            let (m, s) = law.moments(form, &bytes);
            let (want_m, want_s) = moments_by_definition(&law, form, &byte_q);
            assert!(
                close(m, want_m) && close(s, want_s),
                "({m}, {s}) vs ({want_m}, {want_s})"
            );
        }
    }

    #[test]
    fn the_score_weights_the_tail_bins() {
        let law = law_of(&[vec![0.0, 1.0], vec![1.0, 0.0], vec![1.0, 1.0]]);
        let rule = AdaEf {
            law,
            warmup: 4,
            tail_z: vec![-3.0, -2.5],
            tail_weight: vec![100.0, 36.8],
            edges: vec![10.0, 50.0],
        };
        assert_eq!(rule.tail_bin(-3.1), Some(0));
        assert_eq!(rule.tail_bin(-2.7), Some(1));
        assert_eq!(rule.tail_bin(-2.0), None);
        assert!((rule.score(&[1, 2], 4) - (100.0 + 73.6) / 4.0).abs() < 1e-4);
        assert_eq!(rule.bin(5.0), 0);
        assert_eq!(rule.bin(10.0), 1);
        assert_eq!(rule.bin(60.0), 2);
        assert!(rule.check(2).is_ok());
        let unsorted = AdaEf {
            tail_z: vec![-2.5, -3.0],
            ..rule.clone()
        };
        assert!(unsorted.check(2).is_err());
        assert!(rule.check(3).is_err());
    }
}
