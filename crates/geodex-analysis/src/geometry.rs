//! Geometry of the data (THEORY.md §2.3, §3.1): intrinsic dimension by the Levina–Bickel
//! maximum-likelihood estimator and by TwoNN, distance concentration (coefficient of variation
//! of squared distances against √(2/d)), relative contrast, and per-query local intrinsic
//! dimension as a predictor of search difficulty.
//!
//! All distances here are Euclidean on the stored vectors (for cosine indexes those are unit
//! vectors, so Euclidean is the chord length, a monotone function of the angle). Estimators
//! use ratios of a point's neighbour distances, so they are scale-free.

use geodex_core::exact::exact_knn;
use geodex_core::{CoreError, Metric};
use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;

/// Settings of [`geometry_report`].
#[derive(Clone, Copy, Debug)]
pub struct GeometryOptions {
    /// Points (drawn without replacement) whose neighbourhoods the estimators use.
    pub sample: usize,
    /// Neighbours per point for the MLE (Levina & Bickel use k between 10 and 20).
    pub k: usize,
    /// Random pairs for the distance-concentration statistics.
    pub pairs: usize,
    /// Seed of every random choice.
    pub seed: u64,
}

impl Default for GeometryOptions {
    fn default() -> Self {
        GeometryOptions {
            sample: 2000,
            k: 20,
            pairs: 20_000,
            seed: 7,
        }
    }
}

/// The geometry section of `geodex analyze`.
#[derive(Clone, Debug, Serialize)]
pub struct GeometryReport {
    /// Points in the data set.
    pub points: usize,
    /// Ambient dimension D.
    pub ambient_dim: usize,
    /// Points whose neighbourhoods were used.
    pub sample: usize,
    /// Neighbours per point of the MLE.
    pub k: usize,
    /// Levina–Bickel MLE of the intrinsic dimension (MacKay–Ghahramani pooling).
    pub intrinsic_dim_mle: f64,
    /// TwoNN estimate (Facco et al. 2017).
    pub intrinsic_dim_twonn: f64,
    /// Coefficient of variation std/mean of squared distances between random pairs.
    pub cv_squared_distances: f64,
    /// √(2/D): the CV for i.i.d. Gaussian coordinates in the ambient dimension.
    pub cv_predicted_ambient: f64,
    /// √(2/d) with d the MLE intrinsic dimension.
    pub cv_predicted_intrinsic: f64,
    /// Mean over sampled points of (mean distance to the data) / (nearest-neighbour distance)
    /// (He, Kumar & Chang, ICML 2012).
    pub relative_contrast: f64,
    /// Sampled points left out because a duplicate sits at distance 0.
    pub duplicates_skipped: usize,
}

/// Local intrinsic dimension at one point from its neighbour distances `t` (ascending, the
/// point itself excluded, all > 0): the Levina–Bickel (NeurIPS 2004) MLE
/// m̂ = [ (1/(k−1)) Σ_{j<k} ln(t_k / t_j) ]⁻¹. `None` with fewer than 3 distances or when all
/// distances are equal.
pub fn mle_lid(t: &[f64]) -> Option<f64> {
    let k = t.len();
    if k < 3 || t[0] <= 0.0 {
        return None;
    }
    let tk = t[k - 1];
    let s: f64 = t[..k - 1].iter().map(|&tj| (tk / tj).ln()).sum();
    (s > 0.0).then(|| (k - 1) as f64 / s)
}

/// The data set's MLE dimension from per-point estimates, pooled as MacKay & Ghahramani
/// (2005) recommend: the inverse of the mean of inverses (averaging the estimates themselves
/// is biased upwards).
pub fn pooled_mle(local: &[f64]) -> f64 {
    let inv: f64 = local.iter().map(|m| 1.0 / m).sum::<f64>() / local.len() as f64;
    1.0 / inv
}

/// TwoNN (Facco, d'Errico, Rodriguez & Laio, Sci. Rep. 2017): with μ = r₂/r₁ per point, μ is
/// Pareto with exponent d, so −ln(1 − F(μ)) = d·ln μ; d is the least-squares slope through
/// the origin of the empirical pairs, after discarding the largest 10 % of μ (their eq. 5 and
/// the paper's recommended trimming).
pub fn twonn(mut mu: Vec<f64>) -> f64 {
    mu.retain(|m| m.is_finite() && *m >= 1.0);
    mu.sort_by(f64::total_cmp);
    let n = mu.len();
    let keep = (n as f64 * 0.9) as usize;
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for (i, &m) in mu.iter().take(keep).enumerate() {
        let f = i as f64 / n as f64;
        let (x, y) = (m.ln(), -(1.0 - f).ln());
        sxx += x * x;
        sxy += x * y;
    }
    if sxx > 0.0 {
        sxy / sxx
    } else {
        f64::NAN
    }
}

/// Spearman's rank correlation of `a` and `b` (ties get their mean rank); NaN when either is
/// constant or they are shorter than 2.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let (ra, rb) = (ranks(a), ranks(b));
    pearson(&ra, &rb)
}

fn ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && v[order[j + 1]] == v[order[i]] {
            j += 1;
        }
        let mean = (i + j) as f64 / 2.0 + 1.0;
        for &o in &order[i..=j] {
            r[o] = mean;
        }
        i = j + 1;
    }
    r
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n < 2 {
        return f64::NAN;
    }
    let (ma, mb) = (a.iter().sum::<f64>() / n as f64, b.iter().sum::<f64>() / n as f64);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    sab / (saa * sbb).sqrt()
}

/// `count` distinct indices below `n` (all of them when `count ≥ n`), in increasing order.
pub(crate) fn sample_indices(n: usize, count: usize, rng: &mut Xoshiro256PlusPlus) -> Vec<usize> {
    if count >= n {
        return (0..n).collect();
    }
    // Floyd's algorithm: `count` distinct values with `count` draws.
    let mut chosen = std::collections::BTreeSet::new();
    for j in n - count..n {
        let t = (rng.next_u64() % (j as u64 + 1)) as usize;
        if !chosen.insert(t) {
            chosen.insert(j);
        }
    }
    chosen.into_iter().collect()
}

fn squared_distance(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum()
}

/// Euclidean distances from each row of `queries` to its `k` nearest rows of `data`, closest
/// first, with each query's own row (same id, when the queries are rows of `data`) dropped.
pub fn neighbour_distances(
    data: &[f32],
    queries: &[f32],
    query_ids: Option<&[usize]>,
    dim: usize,
    k: usize,
) -> Result<Vec<Vec<f64>>, CoreError> {
    let extra = usize::from(query_ids.is_some());
    let knn = exact_knn(data, queries, dim, k + extra, Metric::L2, &|_| {})?;
    Ok(knn
        .into_iter()
        .enumerate()
        .map(|(q, hits)| {
            let own = query_ids.map(|ids| ids[q] as u32);
            hits.into_iter()
                .filter(|h| Some(h.id) != own)
                .take(k)
                .map(|h| (h.distance as f64).max(0.0).sqrt())
                .collect()
        })
        .collect())
}

/// Intrinsic dimension, distance concentration and relative contrast of `data` (row-major,
/// `dim` components, Euclidean).
pub fn geometry_report(
    data: &[f32],
    dim: usize,
    options: &GeometryOptions,
) -> Result<GeometryReport, CoreError> {
    if dim == 0 || data.len() < 3 * dim {
        return Err(CoreError::Empty);
    }
    let n = data.len() / dim;
    let row = |i: usize| &data[i * dim..][..dim];
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(options.seed);
    let ids = sample_indices(n, options.sample, &mut rng);
    let queries: Vec<f32> = ids.iter().flat_map(|&i| row(i).iter().copied()).collect();
    let k = options.k.min(n - 1).max(2);
    let dists = neighbour_distances(data, &queries, Some(&ids), dim, k)?;

    let mut local = Vec::new();
    let mut mu = Vec::new();
    let mut duplicates = 0;
    for t in &dists {
        if t.first().is_none_or(|&d| d <= 0.0) {
            duplicates += 1;
            continue;
        }
        if let Some(m) = mle_lid(t) {
            local.push(m);
        }
        if t.len() >= 2 {
            mu.push(t[1] / t[0]);
        }
    }
    let intrinsic_mle = if local.is_empty() {
        f64::NAN
    } else {
        pooled_mle(&local)
    };

    let mut sq = Vec::with_capacity(options.pairs);
    while sq.len() < options.pairs {
        let (i, j) = (
            (rng.next_u64() % n as u64) as usize,
            (rng.next_u64() % n as u64) as usize,
        );
        if i != j {
            sq.push(squared_distance(row(i), row(j)));
        }
    }
    let mean = sq.iter().sum::<f64>() / sq.len() as f64;
    let var = sq.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (sq.len() - 1) as f64;

    // Relative contrast: each sampled point's mean distance to 1,000 random points over its
    // nearest-neighbour distance.
    let mut contrast = Vec::new();
    for (&i, t) in ids.iter().zip(&dists) {
        let Some(&nearest) = t.first().filter(|&&d| d > 0.0) else {
            continue;
        };
        let m = (0..1000)
            .map(|_| squared_distance(row(i), row((rng.next_u64() % n as u64) as usize)).sqrt())
            .sum::<f64>()
            / 1000.0;
        contrast.push(m / nearest);
    }
    Ok(GeometryReport {
        points: n,
        ambient_dim: dim,
        sample: ids.len(),
        k,
        intrinsic_dim_mle: intrinsic_mle,
        intrinsic_dim_twonn: twonn(mu),
        cv_squared_distances: var.sqrt() / mean,
        cv_predicted_ambient: (2.0 / dim as f64).sqrt(),
        cv_predicted_intrinsic: (2.0 / intrinsic_mle).sqrt(),
        relative_contrast: contrast.iter().sum::<f64>() / contrast.len().max(1) as f64,
        duplicates_skipped: duplicates,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_of_monotone_and_reversed_orders() {
        let a = [1.0, 5.0, 2.0, 8.0, 3.0];
        let b: Vec<f64> = a.iter().map(|x: &f64| x.powi(3) + 1.0).collect();
        assert!((spearman(&a, &b) - 1.0).abs() < 1e-12);
        let c: Vec<f64> = a.iter().map(|x| -x).collect();
        assert!((spearman(&a, &c) + 1.0).abs() < 1e-12);
        // Ties get mean ranks: ranks of [1, 2, 2, 3] are [1, 2.5, 2.5, 4].
        assert_eq!(ranks(&[1.0, 2.0, 2.0, 3.0]), vec![1.0, 2.5, 2.5, 4.0]);
    }

    #[test]
    fn mle_of_a_uniform_line_segment_is_about_one() {
        // Neighbours of a point on a line at distances 1, 2, …, k: the MLE is
        // (k−1) / Σ ln(k/j), which tends to 1 as k grows.
        let t: Vec<f64> = (1..=200).map(|j| j as f64).collect();
        let m = mle_lid(&t).unwrap();
        assert!((m - 1.0).abs() < 0.03, "{m}");
        assert_eq!(mle_lid(&[1.0, 1.0, 1.0]), None);
    }

    #[test]
    fn sample_indices_are_distinct_and_in_range() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let s = sample_indices(100, 40, &mut rng);
        assert_eq!(s.len(), 40);
        assert!(s.windows(2).all(|w| w[0] < w[1]) && *s.last().unwrap() < 100);
    }
}
