//! The text's bounds next to measurements (THEORY.md §1.1, §6.2, §7.1, §7.2): the index's
//! exact bit accounting against the space lower bound, the distribution of the approximation
//! factor, per-query recall against the Chernoff–Hoeffding bound, and the beam width a batch
//! of queries needs by the union bound.

use geodex_core::exact::exact_knn;
use geodex_core::{check_graph, Component, CoreError, Index, IndexInfo, Metric, SearchContext, SearchParams};
use serde::Serialize;

use crate::hardness::stored_rows;

/// Where the index's bits go, next to the two formulas of §1.1.
///
/// The text states the lower bound as Ω((N·d / log(1/ε))·log(1/δ)) but its proof multiplies,
/// giving N·d·log(1/ε)·log(1/δ); and it writes HNSW's space as O(N·d·M·log N), a product,
/// where vector bits and link bits add: N·d·b + N·M·⌈log₂ N⌉. geodex reports the corrected
/// forms (constants taken as 1: the bound is asymptotic, so only its order is meaningful).
#[derive(Clone, Debug, Serialize)]
pub struct BitAccounting {
    /// N·d·b: the vectors as stored (b = 8 for bytes, 32 for floats).
    pub vector_bits: u64,
    /// Links actually present, all levels.
    pub links: u64,
    /// Link bits as stored: fixed-stride slots of 32 bits (count word included), all levels.
    pub link_slot_bits: u64,
    /// links · ⌈log₂ N⌉: the links at the information content of an id.
    pub link_information_bits: u64,
    /// Caller keys (64 bits per node) and the level array (8 bits per node).
    pub key_and_level_bits: u64,
    /// The file's size in bits, when the index came from a file (adds headers, checksums,
    /// alignment padding, tombstones and metadata to the above).
    pub file_bits: Option<u64>,
    /// N·d·b + N·M₀·⌈log₂ N⌉: the corrected form of the text's "O(N·d·M·log N)".
    pub corrected_hnsw_bits: u64,
    /// The text's product N·d·M·⌈log₂ N⌉, for comparison.
    pub text_product_bits: u64,
    /// ε of the lower bound.
    pub epsilon: f64,
    /// δ of the lower bound.
    pub delta: f64,
    /// N·d·log₂(1/ε)·log₂(1/δ): the lower bound as the text's proof derives it.
    pub lower_bound_bits: f64,
    /// (vector + link-information bits) / lower bound.
    pub overhead_over_bound: f64,
}

/// Bit accounting of `index` for the lower bound at (`epsilon`, `delta`).
pub fn bit_accounting<T: Component>(index: &Index<T>, epsilon: f64, delta: f64) -> BitAccounting {
    let info: IndexInfo = index.info();
    let (n, d) = (index.len() as u64, index.dim() as u64);
    let b = 8 * std::mem::size_of::<T>() as u64;
    let id_bits = (n.max(2) as f64).log2().ceil() as u64;
    let report = check_graph(&index.graph());
    let links: u64 = report.links_per_level.iter().map(|&l| l as u64).sum();
    let upper_lists: u64 = info.levels.iter().skip(1).map(|&c| c as u64).sum();
    let link_slot_bits = 32 * (n * (1 + info.m0 as u64) + upper_lists * (1 + info.m as u64));
    let vector_bits = n * d * b;
    let lower = n as f64 * d as f64 * (1.0 / epsilon).log2() * (1.0 / delta).log2();
    BitAccounting {
        vector_bits,
        links,
        link_slot_bits,
        link_information_bits: links * id_bits,
        key_and_level_bits: n * (64 + 8),
        file_bits: info.file_bytes.map(|f| 8 * f),
        corrected_hnsw_bits: vector_bits + n * info.m0 as u64 * id_bits,
        text_product_bits: n * d * info.m as u64 * id_bits,
        epsilon,
        delta,
        lower_bound_bits: lower,
        overhead_over_bound: (vector_bits + links * id_bits) as f64 / lower,
    }
}

/// Settings of [`query_bounds`].
#[derive(Clone, Debug)]
pub struct BoundsOptions {
    /// Neighbours per query.
    pub k: usize,
    /// Beam widths measured (ascending).
    pub efs: Vec<usize>,
    /// Beam width of the approximation-factor and Chernoff sections.
    pub ef: usize,
    /// A query "succeeds" when its recall@k is at least this (union-bound section).
    pub target_recall: f64,
    /// Queries per batch in the union-bound section.
    pub batch: usize,
    /// Wanted probability that every query of a batch succeeds.
    pub batch_success: f64,
}

impl Default for BoundsOptions {
    fn default() -> Self {
        BoundsOptions {
            k: 10,
            efs: vec![10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512],
            ef: 32,
            target_recall: 0.9,
            batch: 100,
            batch_success: 0.99,
        }
    }
}

/// Distribution of c = dist(returned k-th) / dist(true k-th) (§6.2; the text claims 1.05–1.2).
#[derive(Clone, Debug, Serialize)]
pub struct ApproximationFactor {
    /// Beam width.
    pub ef: usize,
    /// Queries with a defined ratio (true k-th distance > 0, k results returned).
    pub queries: usize,
    /// Mean of c.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest c.
    pub max: f64,
    /// Share of queries with c ≤ 1.05.
    pub within_1_05: f64,
    /// Share of queries with c ≤ 1.2.
    pub within_1_2: f64,
}

/// One ε of the Chernoff check (§7.1).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ChernoffRow {
    /// Deviation ε.
    pub epsilon: f64,
    /// Measured share of queries with recall ≥ p − ε (p the mean recall).
    pub measured: f64,
    /// 1 − exp(−2kε²): Hoeffding's bound for k independent successes of probability p.
    pub bound: f64,
    /// The text's form, P[recall ≥ 1 − ε] ≥ 1 − exp(−2kε²) (which silently assumes p = 1), measured.
    pub measured_text_form: f64,
}

/// The union-bound choice of ef for a batch (§7.2).
#[derive(Clone, Debug, Serialize)]
pub struct UnionBoundChoice {
    /// Queries per batch Q.
    pub batch: usize,
    /// Wanted P[every query of the batch succeeds].
    pub batch_success: f64,
    /// Success = recall@k ≥ this.
    pub target_recall: f64,
    /// (1 − batch_success) / Q: the per-query failure rate the union bound asks for.
    pub per_query_failure_allowed: f64,
    /// Measured per-query failure rate at each ef: (ef, rate).
    pub failure_by_ef: Vec<(usize, f64)>,
    /// At each ef, the one-sided 95 % upper confidence bound on the failure rate (Clopper–
    /// Pearson): what the measurement certifies. 0 failures in n certify 1 − 0.05^(1/n) ≈ 3/n
    /// (the rule of three), not 0.
    pub failure_upper_95: Vec<(usize, f64)>,
    /// The smallest measured ef whose certified failure rate (the upper bound) is within the
    /// allowance, if any.
    pub ef_required: Option<usize>,
    /// The smallest rate these queries can certify (the bound at 0 failures): a choice whose
    /// allowance is below it is resolution-limited — about 3 / allowance queries are needed.
    pub resolution: f64,
}

/// Everything of §6.2, §7.1 and §7.2 from one set of queries.
#[derive(Clone, Debug, Serialize)]
pub struct QueryBounds {
    /// Mean recall@k at `ef` (p of the Chernoff check).
    pub mean_recall: f64,
    /// §6.2.
    pub approximation: Option<ApproximationFactor>,
    /// §7.1.
    pub chernoff: Vec<ChernoffRow>,
    /// §7.2.
    pub union_bound: UnionBoundChoice,
}

/// The metric's dissimilarity turned into a true distance, where it has one: √ of squared L2,
/// the chord √(2·(1 − cos)) for cosine, arcosh as is for Poincaré; `None` for inner product.
fn as_distance(metric: Metric, dissimilarity: f32) -> Option<f64> {
    let x = dissimilarity as f64;
    match metric {
        Metric::L2 => Some(x.max(0.0).sqrt()),
        Metric::Cosine => Some((2.0 * x).max(0.0).sqrt()),
        Metric::Poincare => Some(x),
        Metric::InnerProduct => None,
    }
}

/// Sorted-sample quantile (nearest rank).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// The smallest ef (of `failure_by_ef`, ascending) whose failure rate is ≤ `allowed`.
/// The one-sided upper confidence bound, at `confidence`, on a rate of which `failures` of
/// `trials` were seen: the Clopper–Pearson p with P[Binomial(trials, p) ≤ failures] =
/// 1 − confidence (Clopper & Pearson 1934), by bisection on the binomial CDF summed in log
/// space. 0 failures give 1 − (1 − confidence)^(1/trials); no trials give 1.
pub fn failure_upper_bound(failures: usize, trials: usize, confidence: f64) -> f64 {
    if failures >= trials {
        return 1.0;
    }
    let cdf = |p: f64| -> f64 {
        // ln P[X = i], from ln P[X = 0] = n·ln(1 − p) by the ratio of successive terms.
        let (n, odds) = (trials as f64, (p / (1.0 - p)).ln());
        let mut term = n * (1.0 - p).ln();
        let mut terms = vec![term];
        for i in 0..failures {
            term += ((n - i as f64) / (i as f64 + 1.0)).ln() + odds;
            terms.push(term);
        }
        let top = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        top.exp() * terms.iter().map(|t| (t - top).exp()).sum::<f64>()
    };
    let (mut lo, mut hi) = (failures as f64 / trials as f64, 1.0);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if cdf(mid) > 1.0 - confidence {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The first ef (in the order given) whose failure rate is within `allowed`.
pub fn union_bound_ef(failure_by_ef: &[(usize, f64)], allowed: f64) -> Option<usize> {
    failure_by_ef
        .iter()
        .find(|&&(_, f)| f <= allowed)
        .map(|&(ef, _)| ef)
}

/// Per-query recall at each ef of `options.efs` (and at `options.ef`), the approximation
/// factor at `options.ef`, the Chernoff check and the union-bound ef.
pub fn query_bounds<T: Component>(
    index: &Index<T>,
    queries: &[T],
    options: &BoundsOptions,
) -> Result<QueryBounds, CoreError> {
    let (dim, metric, k) = (index.dim(), index.metric(), options.k);
    let truth = exact_knn(&stored_rows(index), queries, dim, k, metric, &|_| {})?;
    let mut ctx = SearchContext::new();
    let mut recall_at = |ef: usize, ratios: Option<&mut Vec<f64>>| -> Result<Vec<f64>, CoreError> {
        let params = SearchParams::new(k, ef.max(k));
        let mut out = Vec::new();
        let mut ratios = ratios;
        for (q, t) in queries.chunks(dim).zip(&truth) {
            let (hits, _) = index.search(q, &params, &mut ctx)?;
            let found = hits
                .iter()
                .filter(|h| t.iter().any(|n| n.id as usize == h.node.index()))
                .count();
            out.push(found as f64 / t.len().max(1) as f64);
            if let (Some(r), Some(last), Some(true_last)) = (ratios.as_deref_mut(), hits.last(), t.last()) {
                if hits.len() == t.len() {
                    if let (Some(a), Some(b)) = (
                        as_distance(metric, last.distance),
                        as_distance(metric, true_last.distance),
                    ) {
                        if b > 0.0 {
                            r.push(a / b);
                        }
                    }
                }
            }
        }
        Ok(out)
    };
    let mut ratios = Vec::new();
    let recall = recall_at(options.ef, Some(&mut ratios))?;
    let p = recall.iter().sum::<f64>() / recall.len().max(1) as f64;
    ratios.sort_by(f64::total_cmp);
    let approximation = (!ratios.is_empty() && metric != Metric::InnerProduct).then(|| {
        let share = |c: f64| ratios.iter().filter(|&&r| r <= c).count() as f64 / ratios.len() as f64;
        ApproximationFactor {
            ef: options.ef,
            queries: ratios.len(),
            mean: ratios.iter().sum::<f64>() / ratios.len() as f64,
            p50: quantile(&ratios, 0.5),
            p90: quantile(&ratios, 0.9),
            p99: quantile(&ratios, 0.99),
            max: *ratios.last().expect("non-empty"),
            within_1_05: share(1.05),
            within_1_2: share(1.2),
        }
    });
    let share = |pred: &dyn Fn(f64) -> bool| {
        recall.iter().filter(|&&r| pred(r)).count() as f64 / recall.len().max(1) as f64
    };
    let chernoff = [0.05, 0.1, 0.2, 0.3, 0.5]
        .into_iter()
        .map(|eps: f64| ChernoffRow {
            epsilon: eps,
            // A small slack absorbs the float rounding of recall values like 0.9 − 0.1.
            measured: share(&|r| r >= p - eps - 1e-12),
            bound: 1.0 - (-2.0 * k as f64 * eps * eps).exp(),
            measured_text_form: share(&|r| r >= 1.0 - eps - 1e-12),
        })
        .collect();
    let (mut failure_by_ef, mut failure_upper_95) = (Vec::new(), Vec::new());
    for &ef in &options.efs {
        let r = recall_at(ef, None)?;
        let failures = r.iter().filter(|&&x| x < options.target_recall - 1e-12).count();
        failure_by_ef.push((ef, failures as f64 / r.len().max(1) as f64));
        failure_upper_95.push((ef, failure_upper_bound(failures, r.len(), 0.95)));
    }
    let allowed = (1.0 - options.batch_success) / options.batch as f64;
    Ok(QueryBounds {
        mean_recall: p,
        approximation,
        chernoff,
        union_bound: UnionBoundChoice {
            batch: options.batch,
            batch_success: options.batch_success,
            target_recall: options.target_recall,
            per_query_failure_allowed: allowed,
            ef_required: union_bound_ef(&failure_upper_95, allowed),
            failure_by_ef,
            failure_upper_95,
            resolution: failure_upper_bound(0, recall.len(), 0.95),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upper_bound_is_clopper_pearsons() {
        // 0 failures: the closed form 1 − 0.05^(1/n), ≈ 3/n (the rule of three).
        for n in [1, 10, 1000, 30_000] {
            let closed = 1.0 - 0.05f64.powf(1.0 / n as f64);
            assert!((failure_upper_bound(0, n, 0.95) - closed).abs() < 1e-12, "{n}");
        }
        assert!((failure_upper_bound(0, 30_000, 0.95) * 30_000.0 - 3.0).abs() < 0.01);
        // Published one-sided 95 % (= two-sided 90 %) Clopper–Pearson limits.
        assert!((failure_upper_bound(1, 10, 0.95) - 0.3942).abs() < 1e-4);
        assert!((failure_upper_bound(5, 100, 0.95) - 0.1023).abs() < 1e-4);
        assert_eq!(failure_upper_bound(3, 3, 0.95), 1.0);
        // More failures, or fewer trials, never certify a lower rate.
        assert!(failure_upper_bound(2, 100, 0.95) > failure_upper_bound(1, 100, 0.95));
        assert!(failure_upper_bound(1, 50, 0.95) > failure_upper_bound(1, 100, 0.95));
    }

    #[test]
    fn union_bound_picks_the_first_ef_within_the_allowance() {
        let rates = [(10, 0.2), (32, 0.01), (64, 0.0004), (128, 0.0)];
        assert_eq!(union_bound_ef(&rates, 0.01 / 20.0), Some(64));
        assert_eq!(union_bound_ef(&rates, 0.05), Some(32));
        assert_eq!(union_bound_ef(&rates[..2], 1e-4), None);
    }

    #[test]
    fn distances_from_dissimilarities() {
        assert_eq!(as_distance(Metric::L2, 9.0), Some(3.0));
        // Cosine 1 − cos = 1 (orthogonal unit vectors): chord √2.
        assert!((as_distance(Metric::Cosine, 1.0).unwrap() - 2f64.sqrt()).abs() < 1e-12);
        assert_eq!(as_distance(Metric::InnerProduct, -3.0), None);
    }
}
