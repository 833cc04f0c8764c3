//! Fitting the adaef rule's distance law (`geodex_core::stop::law`) to an index's stored
//! vectors: their mean, the mean and variance of their squared norms, the covariance of the
//! squared norm with each component, and the leading principal axes of their covariance.
//!
//! The covariance accumulates in `f64` blocks of rows through `gemm` (nalgebra) and its axes
//! come from nalgebra's symmetric eigendecomposition; only the first `axes` are kept, so a
//! query's variance costs `dim·axes` multiply-adds. One number stands in for the other axes: the
//! variance per unit of squared norm that a vector drawn like the base has outside the kept
//! axes, `ρ = Σᵢ λᵢ(λᵢ + mᵢ²) / Σᵢ (λᵢ + mᵢ²)` over the axes not kept (`λᵢ` their eigenvalues,
//! `mᵢ = vᵢ·μ`). It is `E[x_restᵀ Σ x_rest] / E[‖x_rest‖²]` in closed form, so the quadratic
//! form is exact on average over the base's own rows as queries. Probabilistic PCA's mean of the
//! remaining eigenvalues (Tipping & Bishop 1999) assumes the query's residual is spread evenly
//! over the dropped axes; real queries, like the base, put it on the larger ones, and with it
//! the standard deviation came out 4.6 % low on average on minilm-words-20k with 64 axes (0.06 %
//! on sift-debian), 0.07 % and 0.00 % with `ρ` (`bench/law_residual.py`).

use geodex_core::stop::law::{AdaEf, DistanceLaw};
use geodex_core::{Component, Index, Metric, NodeId};
use nalgebra::DMatrix;

/// Rows per block of the covariance accumulation.
const BLOCK: usize = 4096;

/// Options of the adaef rule (Zhang & Miller, SIGMOD 2026).
#[derive(Clone, Debug, PartialEq)]
pub struct AdaEfOptions {
    /// Level-0 distance evaluations scored before the rule chooses a query's beam width.
    pub warmup: u32,
    /// Quantile step p of the tail bins: bin i holds z-scores in [Φ⁻¹(p·(i−1)), Φ⁻¹(p·i)).
    pub quantile_step: f64,
    /// Number of tail bins (the paper's 5: its weights decay as e^(−i), so later bins add
    /// little).
    pub tail_bins: usize,
    /// Principal axes of the covariance kept for the query's variance. 32 by default: with the
    /// calibrated variance on the rest, 32 axes estimate a query's standard deviation as well
    /// as 64 did with probabilistic PCA's (`bench/law_residual.py`) at half the cost, and the
    /// rule's work is the same within 1 % on one build (ADAPTIVE.md, "Ada-ef itself").
    pub axes: usize,
}

impl Default for AdaEfOptions {
    fn default() -> Self {
        AdaEfOptions {
            warmup: 64,
            quantile_step: 0.001,
            tail_bins: 5,
            axes: 32,
        }
    }
}

impl AdaEfOptions {
    /// Why the options cannot make a rule, if they cannot.
    pub fn problem(&self) -> Option<String> {
        let top = self.quantile_step * self.tail_bins as f64;
        let bins = 1..=geodex_core::stop::law::MAX_TAIL_BINS;
        (self.warmup == 0 || !bins.contains(&self.tail_bins) || !(self.quantile_step > 0.0 && top < 0.5) || self.axes == 0)
            .then(|| {
                format!(
                    "warm-up and axes ≥ 1, 1 to {} tail bins and a quantile step with step × bins in (0, 0.5)",
                    geodex_core::stop::law::MAX_TAIL_BINS
                )
            })
    }
}

/// The adaef rule for `index` (its score bins still empty), or `None` under Poincaré, whose
/// distance has no closed-form law, or for an empty index.
pub fn rule<T: Component>(index: &Index<T>, o: &AdaEfOptions) -> Option<AdaEf> {
    if index.metric() == Metric::Poincare || index.is_empty() {
        return None;
    }
    let tail_z = (1..=o.tail_bins)
        .map(|i| geodex_analysis::quant_report::normal_quantile(o.quantile_step * i as f64) as f32)
        .collect();
    let tail_weight = (0..o.tail_bins)
        .map(|i| (100.0 * (-(i as f64)).exp()) as f32)
        .collect();
    Some(AdaEf {
        law: fit(index, o.axes),
        warmup: o.warmup,
        tail_z,
        tail_weight,
        edges: Vec::new(),
    })
}

/// The distance law of `index`'s stored vectors, keeping `axes` principal axes.
pub fn fit<T: Component>(index: &Index<T>, axes: usize) -> DistanceLaw {
    let (n, dim) = (index.len(), index.dim());
    let row = |i: usize| index.vector(NodeId(i as u32)).iter().map(|x| x.to_f32() as f64);
    let mut mean = vec![0f64; dim];
    let mut norm_mean = 0f64;
    for i in 0..n {
        let mut norm = 0.0;
        for (m, x) in mean.iter_mut().zip(row(i)) {
            *m += x;
            norm += x * x;
        }
        norm_mean += norm;
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    norm_mean /= n as f64;
    let (mut norm_var, mut norm_cov) = (0f64, vec![0f64; dim]);
    let mut cov = DMatrix::<f64>::zeros(dim, dim);
    for start in (0..n).step_by(BLOCK) {
        let rows = BLOCK.min(n - start);
        let mut centred = DMatrix::<f64>::zeros(rows, dim);
        for r in 0..rows {
            let x: Vec<f64> = row(start + r).collect();
            let norm_dev = x.iter().map(|v| v * v).sum::<f64>() - norm_mean;
            norm_var += norm_dev * norm_dev;
            for (j, v) in x.iter().enumerate() {
                let dev = v - mean[j];
                centred[(r, j)] = dev;
                norm_cov[j] += norm_dev * dev;
            }
        }
        cov.gemm_tr(1.0 / n as f64, &centred, &centred, 1.0);
    }
    let eigen = cov.symmetric_eigen();
    let mut order: Vec<usize> = (0..dim).collect();
    order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
    let kept = axes.min(dim);
    let value = |j: usize| eigen.eigenvalues[j].max(0.0);
    let residual_var = residual_variance(&eigen, &mean, &order[kept..]);
    DistanceLaw {
        mean: mean.iter().map(|&m| m as f32).collect(),
        norm_mean: norm_mean as f32,
        norm_var: (norm_var / n as f64) as f32,
        norm_cov: norm_cov.iter().map(|&c| (c / n as f64) as f32).collect(),
        axes: order[..kept]
            .iter()
            .flat_map(|&j| {
                eigen
                    .eigenvectors
                    .column(j)
                    .iter()
                    .map(|&v| v as f32)
                    .collect::<Vec<_>>()
            })
            .collect(),
        axis_var: order[..kept].iter().map(|&j| value(j) as f32).collect(),
        residual_var: residual_var as f32,
    }
}

/// `ρ` of the module comment over the axes `rest` (columns of `eigen`'s eigenvectors): the
/// dropped eigenvalues weighted by a base vector's mean squared length along each,
/// `λᵢ + (vᵢ·μ)²`. 0 when nothing is dropped or the base has no length there.
fn residual_variance(
    eigen: &nalgebra::SymmetricEigen<f64, nalgebra::Dyn>,
    mean: &[f64],
    rest: &[usize],
) -> f64 {
    let (mut weighted, mut energy) = (0.0, 0.0);
    for &j in rest {
        let lambda = eigen.eigenvalues[j].max(0.0);
        let along_mean: f64 = eigen
            .eigenvectors
            .column(j)
            .iter()
            .zip(mean)
            .map(|(v, m)| v * m)
            .sum();
        let length = lambda + along_mean * along_mean;
        weighted += lambda * length;
        energy += length;
    }
    if energy > 0.0 {
        weighted / energy
    } else {
        0.0
    }
}
