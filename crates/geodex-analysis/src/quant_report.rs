//! The quantisers measured against the theory (THEORY.md §1.1, §1.3, §11.2), without a graph in
//! the way: for bit budgets from 0.5 to 8 bits per dimension, each quantiser's mean squared
//! error next to the Gaussian bounds (reverse water-filling over the per-component variances,
//! and over the covariance eigenvalues, the bound for correlated data) and the reference
//! text's "D ≈ σ²/k^(2/m)", and
//! its recall@k by exhaustive asymmetric search over the codes (PQ4 through fast-scan); for
//! random projections, the distribution of squared-distance ratios next to the ε the
//! Dasgupta–Gupta bound guarantees, and recall without and with exact re-ranking.
//!
//! `geodex quant-report` prints these rows; they live here so that every front end measures
//! with the same code.

use geodex_core::measure::recall_at_k;
use geodex_quant::fastscan::{self, PackedCodes, QuantizedTable};
use geodex_quant::pq::ProductQuantizer;
use geodex_quant::projection::{jl_dimension, jl_epsilon, PairSampler, ProjectionKind, RandomProjection};
use geodex_quant::rate_distortion::{gaussian_distortion, variances};
use geodex_quant::sq8::Sq8;
use geodex_quant::QuantError;
use rayon::prelude::*;
use serde::Serialize;

/// One quantiser configuration of the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantConfig {
    /// Scalar quantisation, one byte per component.
    Sq8,
    /// Product quantisation: `m` sub-spaces of `bits` bits (4: fast-scan, 8: byte codes).
    Pq {
        /// Sub-spaces.
        m: usize,
        /// Bits per sub-space code (4 or 8).
        bits: u32,
    },
}

impl QuantConfig {
    /// `sq8`, or `pq{bits} m={m}`.
    pub fn name(self) -> String {
        match self {
            QuantConfig::Sq8 => "sq8".into(),
            QuantConfig::Pq { m, bits } => format!("pq{bits} m={m}"),
        }
    }

    /// Code bits per vector of dimension `dim`.
    pub fn bits_per_vector(self, dim: usize) -> usize {
        match self {
            QuantConfig::Sq8 => 8 * dim,
            QuantConfig::Pq { m, bits } => m * bits as usize,
        }
    }

    /// The configurations for dimension `dim`: PQ4 and PQ8 with m = d/8, d/4, d/2, d where m
    /// divides d (0.5 … 8 bits per dimension), PQ4 only up to the 256 sub-spaces fast-scan's
    /// 16-bit sums allow, and SQ8.
    pub fn all_for(dim: usize) -> Vec<QuantConfig> {
        let ms: Vec<usize> = [8, 4, 2, 1]
            .iter()
            .filter(|&&f| dim.checked_rem(f) == Some(0))
            .map(|f| dim / f)
            .collect();
        let mut out: Vec<QuantConfig> = [4, 8]
            .iter()
            .flat_map(|&bits| ms.iter().map(move |&m| QuantConfig::Pq { m, bits }))
            .filter(|c| !matches!(c, QuantConfig::Pq { m, bits: 4 } if *m > 256))
            .collect();
        out.push(QuantConfig::Sq8);
        out
    }
}

/// The data a report measures: base rows, training rows, queries with their true neighbours
/// (keys = base row numbers), all row-major `f32` of dimension `dim`.
#[derive(Clone, Copy, Debug)]
pub struct QuantData<'a> {
    /// The vectors encoded.
    pub base: &'a [f32],
    /// The vectors the codecs are trained on.
    pub train: &'a [f32],
    /// The queries of the recall measurement.
    pub queries: &'a [f32],
    /// Per query, its true nearest base rows (at least `k`).
    pub truth: &'a [Vec<u64>],
    /// Components per vector.
    pub dim: usize,
    /// Neighbours per query of recall@k.
    pub k: usize,
    /// Seed of the k-means runs and of the projections.
    pub seed: u64,
}

impl QuantData<'_> {
    fn check(&self) -> Result<(), QuantError> {
        let dim = self.dim;
        let whole = |s: &[f32]| dim > 0 && s.len().is_multiple_of(dim) && !s.is_empty();
        let nq = self.queries.len() / dim.max(1);
        if !whole(self.base) || !whole(self.train) || !whole(self.queries) {
            return Err(QuantError::InvalidParameter(format!(
                "base, training and query rows must be non-empty whole rows of dimension {dim}"
            )));
        }
        if self.k == 0 || self.k > self.base.len() / dim || self.truth.len() != nq {
            return Err(QuantError::InvalidParameter(format!(
                "k {} must be in 1..={} and the ground truth must have one row per query ({} for {nq})",
                self.k,
                self.base.len() / dim,
                self.truth.len()
            )));
        }
        Ok(())
    }
}

/// One quantiser's row of the report.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct QuantRow {
    /// [`QuantConfig::name`].
    pub quantiser: String,
    /// Code bits per component.
    pub bits_per_dim: f64,
    /// Code bytes per vector.
    pub bytes_per_vector: usize,
    /// Mean over the base of ‖x − decode(encode(x))‖².
    pub mse: f64,
    /// The Gaussian distortion–rate bound at the same bits per vector for *independent*
    /// components (reverse water-filling over the per-component variances): what a code that
    /// treats the components separately can reach on Gaussian data with these variances.
    pub gaussian_bound: f64,
    /// The Gaussian distortion–rate bound of a source with the data's covariance (reverse
    /// water-filling over its eigenvalues, after the decorrelating rotation): no quantiser of
    /// Gaussian data with this covariance does better; ≤ `gaussian_bound`.
    pub covariance_bound: f64,
    /// The reference text's §1.3 estimate D ≈ σ²/k^(2/m), with σ² the total variance Σσᵢ²,
    /// k = 2^bits centroids per sub-space, m sub-spaces (SQ8: m = d, k = 256).
    pub text_estimate: f64,
    /// recall@k of exhaustive asymmetric search over the codes.
    pub recall: f64,
}

/// The rate–distortion part of the report.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RateDistortion {
    /// Per-component variances of the base (the Gaussian bound's input; a plot draws the bound
    /// as a curve from them).
    pub variances: Vec<f64>,
    /// Eigenvalues of the base's covariance, descending (the covariance bound's input).
    pub eigenvalues: Vec<f64>,
    /// One row per configuration, ordered by bits per dimension.
    pub rows: Vec<QuantRow>,
}

/// Every configuration of [`QuantConfig::all_for`] measured on `data`; `done(config,
/// seconds)` is called after each.
pub fn rate_distortion(
    data: &QuantData<'_>,
    done: &dyn Fn(QuantConfig, f64),
) -> Result<RateDistortion, QuantError> {
    data.check()?;
    let variances = variances(data.base, data.dim);
    let eigenvalues = covariance_eigenvalues(data.base, data.dim);
    let mut rows = Vec::new();
    for config in QuantConfig::all_for(data.dim) {
        let start = std::time::Instant::now();
        rows.push(measure(config, data, &variances, &eigenvalues)?);
        done(config, start.elapsed().as_secs_f64());
    }
    rows.sort_by(|x, y| x.bits_per_dim.total_cmp(&y.bits_per_dim));
    Ok(RateDistortion {
        variances,
        eigenvalues,
        rows,
    })
}

/// Eigenvalues of the covariance of the rows of `data` (`dim` components each), descending,
/// in `f64`: the variances of the principal components. Their sum is the total variance; the
/// Gaussian rate–distortion function of a correlated source is reverse water-filling over them
/// (Cover & Thomas, 2nd ed., §10.3.3, after the rotation that decorrelates the components).
/// The covariance accumulates in blocks of rows through `gemm` (nalgebra); the eigenvalues come
/// from its symmetric eigendecomposition.
pub fn covariance_eigenvalues(data: &[f32], dim: usize) -> Vec<f64> {
    const BLOCK: usize = 4096;
    let n = data.len() / dim.max(1);
    if n == 0 {
        return vec![0.0; dim];
    }
    let mut mean = vec![0f64; dim];
    for row in data.chunks_exact(dim) {
        mean.iter_mut().zip(row).for_each(|(m, &x)| *m += x as f64);
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut cov = nalgebra::DMatrix::<f64>::zeros(dim, dim);
    for block in data.chunks(BLOCK * dim) {
        let rows = block.len() / dim;
        let centred = nalgebra::DMatrix::from_fn(rows, dim, |i, j| block[i * dim + j] as f64 - mean[j]);
        cov.gemm_tr(1.0 / n as f64, &centred, &centred, 1.0);
    }
    let mut eigenvalues: Vec<f64> = cov
        .symmetric_eigen()
        .eigenvalues
        .iter()
        .map(|&e| e.max(0.0))
        .collect();
    eigenvalues.sort_by(|a, b| b.total_cmp(a));
    eigenvalues
}

/// The reference text's §1.3 estimate D ≈ σ²/k^(2/m) for `config`: σ² the total variance,
/// k centroids per sub-space, m sub-spaces (SQ8 as m = d scalar quantisers of 256 levels).
pub fn text_estimate(config: QuantConfig, dim: usize, total_variance: f64) -> f64 {
    let (m, bits) = match config {
        QuantConfig::Sq8 => (dim, 8),
        QuantConfig::Pq { m, bits } => (m, bits),
    };
    total_variance / 2f64.powf(bits as f64 * 2.0 / m as f64)
}

/// One configuration: trained on `data.train`, the base encoded, its error and recall, next to
/// the bounds from the per-component variances `var` and the covariance eigenvalues `eigen`.
pub fn measure(
    config: QuantConfig,
    data: &QuantData<'_>,
    var: &[f64],
    eigen: &[f64],
) -> Result<QuantRow, QuantError> {
    data.check()?;
    let (dim, k) = (data.dim, data.k);
    let (mse, found) = match config {
        QuantConfig::Sq8 => {
            let sq = Sq8::train(data.train, dim)?;
            let codes = sq.encode_all(data.base);
            let mse = mean_error(data.base, dim, |i, out| sq.decode(&codes[i * dim..][..dim], out));
            let found = top_k_all(data.queries, dim, k, |q, out| {
                out.extend(codes.chunks_exact(dim).map(|c| sq.squared_l2(q, c)))
            });
            (mse, found)
        }
        QuantConfig::Pq { m, bits } => {
            let pq = ProductQuantizer::train(data.train, dim, m, bits, data.seed)?;
            let codes = pq.encode_all(data.base);
            let mse = mean_error(data.base, dim, |i, out| pq.decode(&codes[i * m..][..m], out));
            let found = if bits == 4 {
                let packed = PackedCodes::pack(&codes, m)?;
                top_k_all(data.queries, dim, k, |q, out| {
                    let table = QuantizedTable::new(&pq.distance_table(q));
                    let mut sums = Vec::new();
                    fastscan::scan(&table, &packed, &mut sums);
                    out.extend(sums.iter().map(|&s| table.distance(s)));
                })
            } else {
                top_k_all(data.queries, dim, k, |q, out| {
                    pq.scan(&pq.distance_table(q), &codes, out)
                })
            };
            (mse, found)
        }
    };
    let bits = config.bits_per_vector(dim);
    Ok(QuantRow {
        quantiser: config.name(),
        bits_per_dim: bits as f64 / dim as f64,
        bytes_per_vector: bits.div_ceil(8),
        mse,
        gaussian_bound: gaussian_distortion(var, bits as f64),
        covariance_bound: gaussian_distortion(eigen, bits as f64),
        text_estimate: text_estimate(config, dim, var.iter().sum()),
        recall: recall_at_k(&found, data.truth, k),
    })
}

/// One random projection's row of the report (THEORY.md §11.2).
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectionRow {
    /// Gaussian or sparse (Achlioptas) entries.
    pub kind: ProjectionKind,
    /// Target dimension.
    pub k: usize,
    /// 1st, 50th and 99th percentile of ‖Pu − Pv‖² / ‖u − v‖² over the sampled pairs.
    pub ratio_percentiles: [f64; 3],
    /// The smallest and largest ratio over the sampled pairs.
    pub ratio_extremes: [f64; 2],
    /// Share of the sampled pairs whose ratio lies within 1 ± 0.1 (the text's "< 10 %").
    pub share_within_10pct: f64,
    /// The extremes a Gaussian map is expected to reach over the sampled pairs: the
    /// 1/(P + 1) and P/(P + 1) quantiles of χ²_k/k (the law of one pair's ratio).
    pub chi2_extremes_sampled: [f64; 2],
    /// The same over all n(n − 1)/2 pairs of the base: the distortion the lemma's guarantee
    /// is about, to set beside the Dasgupta–Gupta ε.
    pub chi2_extremes_all_pairs: [f64; 2],
    /// The ε the Dasgupta–Gupta bound guarantees at this k for this many base rows (none when
    /// k is too small for any ε < 1).
    pub jl_epsilon: Option<f64>,
    /// Share of the pairs whose ratio lies within 1 ± ε.
    pub share_within_epsilon: Option<f64>,
    /// recall@k of exhaustive search in the projected space.
    pub recall: f64,
    /// recall@k after re-ranking the projected search's top `rerank` by exact distance.
    pub recall_reranked: f64,
}

/// The projection part of the report.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectionReport {
    /// Random base pairs whose distortion was measured.
    pub pairs: usize,
    /// Candidates re-ranked exactly.
    pub rerank: usize,
    /// The k Dasgupta–Gupta asks for ε = 0.5 and for ε = 0.1 at this many base rows.
    pub jl_k_for_epsilon: [usize; 2],
    /// At those two k, the largest |χ²_k/k − 1| expected over all pairs: the ε a Gaussian map
    /// actually reaches where the bound promises 0.5 and 0.1.
    pub chi2_epsilon_at_jl_k: [f64; 2],
    /// One row per (target dimension, kind).
    pub rows: Vec<ProjectionRow>,
}

/// Random projections of `data` to each dimension of `ks`, Gaussian and sparse: distortion over
/// `pairs` random base pairs and recall@k without and with exact re-ranking of the top `rerank`.
pub fn projections(
    data: &QuantData<'_>,
    ks: &[usize],
    pairs: usize,
    rerank: usize,
) -> Result<ProjectionReport, QuantError> {
    data.check()?;
    let (base, queries, dim) = (data.base, data.queries, data.dim);
    let n = base.len() / dim;
    let mut sampler = PairSampler::new(n, data.seed);
    let pair_list: Vec<(usize, usize)> = (0..pairs).map(|_| sampler.pair()).collect();
    let row = |i: usize| &base[i * dim..][..dim];
    let mut rows = Vec::new();
    for &k in ks {
        for kind in [
            ProjectionKind::Gaussian,
            ProjectionKind::Sparse,
            ProjectionKind::Orthogonal,
        ] {
            let p = RandomProjection::new(kind, dim, k, data.seed)?;
            let projected = p.project_all(base);
            let projected_queries = p.project_all(queries);
            let mut ratios: Vec<f64> = pair_list
                .iter()
                .filter_map(|&(i, j)| {
                    let before = squared_l2(row(i), row(j));
                    (before > 0.0)
                        .then(|| squared_l2(&projected[i * k..][..k], &projected[j * k..][..k]) / before)
                })
                .collect();
            ratios.sort_by(f64::total_cmp);
            let epsilon = jl_epsilon(n, k);
            let scan = |pq: &[f32], out: &mut Vec<f32>| {
                out.extend(projected.chunks_exact(k).map(|v| squared_l2(pq, v) as f32))
            };
            let found = top_k_all(&projected_queries, k, rerank.max(data.k), scan);
            let plain: Vec<Vec<u64>> = found.iter().map(|f| f[..data.k.min(f.len())].to_vec()).collect();
            let reranked: Vec<Vec<u64>> = found
                .iter()
                .zip(queries.chunks_exact(dim))
                .map(|(candidates, q)| rerank_exact(candidates, q, |id| row(id as usize), data.k))
                .collect();
            let sampled = ratios.len() as f64;
            let all_pairs = n as f64 * (n as f64 - 1.0) / 2.0;
            let extremes =
                |count: f64| [1.0 / (count + 1.0), count / (count + 1.0)].map(|f| chi2_over_k_quantile(k, f));
            rows.push(ProjectionRow {
                kind,
                k,
                ratio_percentiles: [0.01, 0.5, 0.99].map(|f| quantile(&ratios, f)),
                ratio_extremes: [quantile(&ratios, 0.0), quantile(&ratios, 1.0)],
                share_within_10pct: share_within(&ratios, 0.1),
                chi2_extremes_sampled: extremes(sampled),
                chi2_extremes_all_pairs: extremes(all_pairs),
                jl_epsilon: epsilon,
                share_within_epsilon: epsilon.map(|e| share_within(&ratios, e)),
                recall: recall_at_k(&plain, data.truth, data.k),
                recall_reranked: recall_at_k(&reranked, data.truth, data.k),
            });
        }
    }
    let jl_k = [jl_dimension(n, 0.5), jl_dimension(n, 0.1)];
    let all_pairs = n as f64 * (n as f64 - 1.0) / 2.0;
    let worst = |k: usize| {
        let [low, high] =
            [1.0 / (all_pairs + 1.0), all_pairs / (all_pairs + 1.0)].map(|f| chi2_over_k_quantile(k, f));
        (1.0 - low).max(high - 1.0)
    };
    Ok(ProjectionReport {
        pairs: pair_list.len(),
        rerank,
        jl_k_for_epsilon: jl_k,
        chi2_epsilon_at_jl_k: jl_k.map(worst),
        rows,
    })
}

/// The standard normal CDF Φ(z), from the complementary error function approximation of
/// Numerical Recipes (Press et al., 3rd ed., §6.2.2, `erfcc`: fractional error < 1.2·10⁻⁷
/// everywhere, so the far tails keep their relative accuracy). Hand-written: std has no erf.
pub fn normal_cdf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x);
    let poly = -x * x - 1.26551223
        + t * (1.00002368
            + t * (0.37409196
                + t * (0.09678418
                    + t * (-0.18628806
                        + t * (0.27886807
                            + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    let upper_tail = 0.5 * t * poly.exp();
    if z >= 0.0 {
        1.0 - upper_tail
    } else {
        upper_tail
    }
}

/// Φ⁻¹(p) for p ∈ (0, 1), by bisection on [`normal_cdf`] (in the upper half through the
/// symmetry Φ⁻¹(p) = −Φ⁻¹(1 − p), so p close to 1 keeps its accuracy).
pub fn normal_quantile(p: f64) -> f64 {
    if p > 0.5 {
        return -normal_quantile(1.0 - p);
    }
    let (mut lo, mut hi) = (-40.0, 0.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if normal_cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The p-quantile of χ²_k / k — the law of ‖Pv‖²/‖v‖² for a Gaussian map to k dimensions —
/// by the Wilson–Hilferty cube-root approximation (1931): (1 − 2/(9k) + z_p·√(2/(9k)))³.
pub fn chi2_over_k_quantile(k: usize, p: f64) -> f64 {
    let c = 2.0 / (9.0 * k as f64);
    (1.0 - c + normal_quantile(p) * c.sqrt()).max(0.0).powi(3)
}

/// The `k` of `candidates` nearest to `q` by exact squared distance (ties: smaller id).
fn rerank_exact<'a>(candidates: &[u64], q: &[f32], row: impl Fn(u64) -> &'a [f32], k: usize) -> Vec<u64> {
    let mut exact: Vec<(f64, u64)> = candidates
        .iter()
        .map(|&id| (squared_l2(q, row(id)), id))
        .collect();
    exact.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
    exact.into_iter().take(k).map(|(_, id)| id).collect()
}

/// The nearest-rank quantile `f` ∈ [0, 1] of an ascending slice (NaN when empty).
fn quantile(sorted: &[f64], f: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * f).round() as usize]
}

/// Share of `ratios` within 1 ± `epsilon`.
fn share_within(ratios: &[f64], epsilon: f64) -> f64 {
    let inside = ratios
        .iter()
        .filter(|&&r| (1.0 - epsilon..=1.0 + epsilon).contains(&r))
        .count();
    inside as f64 / ratios.len().max(1) as f64
}

/// ‖a − b‖² accumulated in `f64` (the reference the quantisers' errors are measured against).
fn squared_l2(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum()
}

/// Mean over the base of ‖x − decode(x)‖², `decode(i, out)` writing row i's reconstruction.
fn mean_error(base: &[f32], dim: usize, decode: impl Fn(usize, &mut [f32]) + Sync) -> f64 {
    let rows = base.len() / dim;
    let total: f64 = (0..rows)
        .into_par_iter()
        .map_init(
            || vec![0f32; dim],
            |rec, i| {
                decode(i, rec);
                squared_l2(&base[i * dim..][..dim], rec)
            },
        )
        .sum();
    total / rows as f64
}

/// The k smallest of the distances `scan(query, out)` writes, per query, ties by smaller id.
fn top_k_all(
    queries: &[f32],
    dim: usize,
    k: usize,
    scan: impl Fn(&[f32], &mut Vec<f32>) + Sync,
) -> Vec<Vec<u64>> {
    queries
        .par_chunks_exact(dim)
        .map(|q| {
            let mut d = Vec::new();
            scan(q, &mut d);
            let mut ids: Vec<u32> = (0..d.len() as u32).collect();
            let by = |a: &u32, b: &u32| d[*a as usize].total_cmp(&d[*b as usize]).then(a.cmp(b));
            let k = k.min(ids.len());
            if k > 0 {
                ids.select_nth_unstable_by(k - 1, by);
            }
            ids.truncate(k);
            ids.sort_unstable_by(by);
            ids.into_iter().map(u64::from).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Clustered data with a small noise floor (a deterministic LCG, no dependency).
    fn data(n: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut next = move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) as f64 / (1u64 << 31) as f64) as f32 - 0.5
        };
        let centres: Vec<f32> = (0..8 * dim).map(|_| 4.0 * next()).collect();
        (0..n)
            .flat_map(|i| {
                let c = (i % 8) * dim;
                (0..dim).map(|j| centres[c + j] + next()).collect::<Vec<_>>()
            })
            .collect()
    }

    /// Exact top-k by the index crate's brute force (an independent implementation).
    fn truth(base: &[f32], queries: &[f32], dim: usize, k: usize) -> Vec<Vec<u64>> {
        geodex_core::exact::exact_knn(base, queries, dim, k, geodex_core::Metric::L2, &|_| {})
            .expect("exact search")
            .into_iter()
            .map(|row| row.into_iter().map(|n| u64::from(n.id)).collect())
            .collect()
    }

    /// Base and query rows with their exact neighbours.
    struct Fixture {
        base: Vec<f32>,
        queries: Vec<f32>,
        truth: Vec<Vec<u64>>,
        dim: usize,
        k: usize,
    }

    impl Fixture {
        fn new(n: usize, queries: usize, dim: usize, k: usize, seed: u64) -> Fixture {
            let base = data(n, dim, seed);
            let queries = data(queries, dim, seed + 1);
            let truth = truth(&base, &queries, dim, k);
            Fixture {
                base,
                queries,
                truth,
                dim,
                k,
            }
        }

        fn data(&self) -> QuantData<'_> {
            QuantData {
                base: &self.base,
                train: &self.base,
                queries: &self.queries,
                truth: &self.truth,
                dim: self.dim,
                k: self.k,
                seed: 3,
            }
        }
    }

    #[test]
    fn covariance_eigenvalues_are_the_principal_variances_and_bound_below_the_diagonal() {
        // x = Q·(s ⊙ z): z uniform on [−½, ½] (variance 1/12), s known, Q a fixed rotation
        // (the Q factor of a matrix of LCG numbers), so the covariance's eigenvalues are s²/12
        // while the per-component variances mix them.
        let (n, dim) = (40_000, 8);
        let scales = [8.0, 4.0, 2.0, 1.0, 0.5, 0.25, 0.125, 0.0625];
        let raw = data(dim, dim, 11);
        let q = nalgebra::DMatrix::from_fn(dim, dim, |i, j| raw[i * dim + j] as f64 + (i == j) as u8 as f64)
            .qr()
            .q();
        let mut state = 12u64;
        let mut uniform = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let mut rows = vec![0f32; n * dim];
        for row in rows.chunks_exact_mut(dim) {
            let z: Vec<f64> = (0..dim).map(|_| uniform()).collect();
            for (i, out) in row.iter_mut().enumerate() {
                *out = (0..dim).map(|j| q[(i, j)] * scales[j] * z[j]).sum::<f64>() as f32;
            }
        }
        let eigen = covariance_eigenvalues(&rows, dim);
        let expected: Vec<f64> = scales.iter().map(|s| s * s / 12.0).collect();
        for (e, x) in eigen.iter().zip(&expected) {
            assert!((e / x - 1.0).abs() < 0.06, "{eigen:?} vs {expected:?}");
        }
        let var = variances(&rows, dim);
        let trace: f64 = var.iter().sum();
        assert!((eigen.iter().sum::<f64>() / trace - 1.0).abs() < 1e-9);
        for bits in [4.0, 8.0, 16.0, 32.0] {
            let (diagonal, covariance) = (gaussian_distortion(&var, bits), gaussian_distortion(&eigen, bits));
            let truth = gaussian_distortion(&expected, bits);
            assert!(
                (covariance / truth - 1.0).abs() < 0.06,
                "{bits}: {covariance} vs {truth}"
            );
            assert!(covariance < 0.8 * diagonal, "{bits}: {covariance} vs {diagonal}");
        }
    }

    #[test]
    fn sq8_errs_by_at_most_half_a_step_and_more_pq_sub_spaces_err_less() {
        let f = Fixture::new(2000, 40, 16, 10, 1);
        let (base, dim, d) = (&f.base, f.dim, f.data());
        let report = rate_distortion(&d, &|_, _| {}).expect("report");
        let rows = &report.rows;
        // The variances the bound used are the base's own, per component.
        let mean0 = base.iter().step_by(dim).map(|&x| x as f64).sum::<f64>() / (base.len() / dim) as f64;
        let var0 = base
            .iter()
            .step_by(dim)
            .map(|&x| (x as f64 - mean0).powi(2))
            .sum::<f64>()
            / (base.len() / dim) as f64;
        assert!((report.variances[0] - var0).abs() <= 1e-9 * (1.0 + var0));
        assert_eq!(rows.len(), QuantConfig::all_for(dim).len());
        // Correlation can only lower the bound: the covariance's never exceeds the diagonal's.
        assert!(rows
            .iter()
            .all(|r| r.covariance_bound <= r.gaussian_bound * (1.0 + 1e-9)));
        assert!(rows.windows(2).all(|w| w[0].bits_per_dim <= w[1].bits_per_dim));
        let sq8 = rows.iter().find(|r| r.quantiser == "sq8").expect("sq8 row");
        assert!(sq8.recall >= 0.9, "sq8 recall {}", sq8.recall);
        // SQ8's error is at most one step² / 4 per component of the widest component range.
        let (lo, hi) = base
            .iter()
            .fold((f32::MAX, f32::MIN), |(l, h), &x| (l.min(x), h.max(x)));
        let step = (hi - lo) as f64 / 255.0;
        assert!(
            sq8.mse <= dim as f64 * step * step / 4.0 * (1.0 + 1e-4),
            "sq8 mse {}",
            sq8.mse
        );
        // More bits, less error, within one family (PQ8 with m = d/8 … d).
        let pq8: Vec<f64> = rows
            .iter()
            .filter(|r| r.quantiser.starts_with("pq8"))
            .map(|r| r.mse)
            .collect();
        assert!(pq8.windows(2).all(|w| w[1] <= w[0] * 1.05), "pq8 errors {pq8:?}");
    }

    #[test]
    fn reranking_every_projected_candidate_is_exact_search() {
        let f = Fixture::new(500, 20, 8, 5, 4);
        let report = projections(&f.data(), &[2], 300, 500).expect("report");
        assert_eq!(report.rows.len(), 3, "Gaussian, sparse, orthogonal");
        for row in &report.rows {
            // Re-ranking every base row exactly is exhaustive search (f64 against the f32 truth:
            // only a near-tie may differ).
            assert!(row.recall_reranked >= 0.99, "{row:?}");
            assert!(row.recall <= row.recall_reranked);
            let [p1, p50, p99] = row.ratio_percentiles;
            assert!(p1 <= p50 && p50 <= p99 && p1 >= 0.0);
        }
    }

    #[test]
    fn the_normal_and_chi_square_quantiles_match_their_tables() {
        assert!((normal_quantile(0.975) - 1.959_964).abs() < 1e-5);
        assert!((normal_quantile(1e-10) + 6.361_341).abs() < 1e-4);
        assert!((normal_quantile(1.0 - 1e-10) - 6.361_341).abs() < 1e-4);
        // χ² tables: χ²_10 at 0.95 is 18.307, χ²_100 at 0.05 is 77.929.
        assert!((chi2_over_k_quantile(10, 0.95) * 10.0 / 18.307 - 1.0).abs() < 0.005);
        assert!((chi2_over_k_quantile(100, 0.05) * 100.0 / 77.929 - 1.0).abs() < 0.003);
    }

    /// The text's "1024 → 100 dimensions with < 10 % distortion": for a Gaussian map each pair's
    /// ratio is χ²_100/100 whatever the data, so only about half the pairs stay within 10 %.
    #[test]
    fn a_gaussian_map_from_1024_to_100_keeps_about_half_the_pairs_within_ten_percent() {
        let f = Fixture::new(400, 10, 1024, 5, 9);
        let report = projections(&f.data(), &[100], 3000, 10).expect("report");
        let gaussian = report
            .rows
            .iter()
            .find(|r| r.kind == ProjectionKind::Gaussian)
            .expect("Gaussian row");
        let c = 2.0 / 900.0;
        let z = |x: f64| (x.cbrt() - (1.0 - c)) / c.sqrt();
        let predicted = normal_cdf(z(1.1)) - normal_cdf(z(0.9));
        assert!((0.45..0.6).contains(&predicted), "{predicted}");
        assert!(
            (gaussian.share_within_10pct - predicted).abs() < 0.05,
            "{} vs {predicted}",
            gaussian.share_within_10pct
        );
        // The sampled extremes lie near the χ² law's expected extremes for that many pairs.
        let [low, high] = gaussian.chi2_extremes_sampled;
        let [min, max] = gaussian.ratio_extremes;
        assert!(low < 1.0 && high > 1.0);
        assert!(
            (min - low).abs() < 0.12 && (max - high).abs() < 0.2,
            "{min} {max} vs {low} {high}"
        );
    }

    #[test]
    fn bad_shapes_are_refused() {
        let f = Fixture::new(10, 1, 4, 1, 1);
        // k beyond the base, then rows that are not whole rows of the dimension.
        assert!(rate_distortion(&QuantData { k: 20, ..f.data() }, &|_, _| {}).is_err());
        assert!(projections(&QuantData { dim: 3, ..f.data() }, &[2], 10, 10).is_err());
    }
}
