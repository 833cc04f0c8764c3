//! `geodex quant-report` on Gaussian data with unequal variances, where the Gaussian
//! rate–distortion bound is a true lower bound: every quantiser's measured error must sit above
//! it, the error must fall as bits grow, and SQ8 must nearly reproduce exact search.

mod common;

use common::*;
use serde_json::Value;

#[test]
fn measured_distortion_respects_the_gaussian_bound() {
    let dir = tempfile::tempdir().unwrap();
    let dim = 16;
    let mut rng = geodex_testkit::Rng::new(21);
    // Standard deviations 0.1 … 1.6: water-filling starves the small ones at low rates.
    let mut sample = |n: usize| -> Vec<f32> {
        (0..n * dim)
            .map(|i| (rng.normal() * 0.1 * (1 + i % dim) as f64) as f32)
            .collect()
    };
    let (base, queries) = (sample(3000), sample(30));
    let (bp, qp, gt) = data_set_with_truth(dir.path(), dim, &base, &queries, "l2");
    let out = ok(&[
        "quant-report",
        "--data",
        s(&bp),
        "--queries",
        s(&qp),
        "--groundtruth",
        s(&gt),
        "--train",
        "3000",
        "--projections",
        "8,16",
        "--json",
    ]);
    let report: Value = serde_json::from_str(&out).unwrap();
    let rows = report["rows"].as_array().unwrap();
    assert!(rows.len() >= 7, "SQ8 and PQ4/PQ8 at several m: {rows:?}");
    for r in rows {
        let (mse, bound) = (r["mse"].as_f64().unwrap(), r["gaussian_bound"].as_f64().unwrap());
        assert!(
            mse >= 0.95 * bound,
            "{}: MSE {mse} below the Gaussian bound {bound}",
            r["quantiser"]
        );
        // Independent components: the covariance's eigenvalues are the variances, up to the
        // sample's chance correlations, so the two bounds agree.
        let covariance = r["covariance_bound"].as_f64().unwrap();
        assert!(
            covariance <= bound * (1.0 + 1e-9) && covariance >= 0.9 * bound,
            "{}: {covariance} vs {bound}",
            r["quantiser"]
        );
    }
    // The recommendation per budget is the row of that budget with the best recall.
    for best in report["best_per_budget"].as_array().unwrap() {
        let budget = best["bits_per_dim"].as_f64().unwrap();
        let top = rows
            .iter()
            .filter(|r| r["bits_per_dim"].as_f64().unwrap() == budget)
            .map(|r| r["recall"].as_f64().unwrap())
            .fold(0.0, f64::max);
        assert_eq!(best["recall"].as_f64().unwrap(), top, "{best}");
    }
    let budgets = rows
        .iter()
        .map(|r| r["bits_per_dim"].to_string())
        .collect::<std::collections::BTreeSet<_>>();
    assert_eq!(report["best_per_budget"].as_array().unwrap().len(), budgets.len());
    let pq8: Vec<f64> = rows
        .iter()
        .filter(|r| r["quantiser"].as_str().unwrap().starts_with("pq8"))
        .map(|r| r["mse"].as_f64().unwrap())
        .collect();
    assert!(
        pq8.windows(2).all(|w| w[1] < w[0]),
        "PQ8 error falls with bits: {pq8:?}"
    );
    let sq8 = rows.iter().find(|r| r["quantiser"] == "sq8").unwrap();
    assert!(sq8["recall"].as_f64().unwrap() >= 0.9, "{sq8}");
    // Random projections (§11.2): squared-distance ratios centre near 1 (the median of χ²_k/k is
    // 0.92 at k = 8), and exact re-ranking of
    // 100 candidates can only help recall.
    let projection = report["projection"]["rows"].as_array().unwrap();
    assert_eq!(
        projection.len(),
        6,
        "gaussian, sparse and orthogonal at k = 8, 16"
    );
    for r in projection {
        let median = r["ratio_p50"].as_f64().unwrap();
        assert!((0.6..1.4).contains(&median), "{r}");
        let (min, max) = (r["ratio_min"].as_f64().unwrap(), r["ratio_max"].as_f64().unwrap());
        assert!(min <= r["ratio_p01"].as_f64().unwrap() && r["ratio_p99"].as_f64().unwrap() <= max);
        if r["kind"] == "orthogonal" && r["k"] == 16 {
            // k = d: a rotation keeps every distance.
            assert!((min - 1.0).abs() < 1e-3 && (max - 1.0).abs() < 1e-3, "{r}");
        }
        assert!(r["ratio_p01"].as_f64().unwrap() <= median && median <= r["ratio_p99"].as_f64().unwrap());
        assert!(
            r["recall_reranked"].as_f64().unwrap() >= r["recall"].as_f64().unwrap(),
            "{r}"
        );
    }
    let total: f64 = report["total_variance"].as_f64().unwrap();
    let expected: f64 = (1..=dim).map(|j| (0.1 * j as f64).powi(2)).sum();
    assert!(
        (total - expected).abs() < 0.1 * expected,
        "Σσ² {total} vs {expected}"
    );
}
