//! HNSW against brute force: recall, graph invariants, determinism, filters, bad input.

use geodex_core::exact::exact_knn;
use geodex_core::measure::recall_at_k;
use geodex_core::{
    check_graph, BuildParams, CoreError, GraphView, Index, Key, Metric, SearchContext, SearchParams,
};
use geodex_testkit::{clustered, clustered_u8, naive_knn};

fn no_progress(_: usize) {}

fn params(metric: Metric, threads: usize) -> BuildParams {
    BuildParams {
        metric,
        m: 12,
        ef_construction: 100,
        seed: 7,
        threads: Some(threads),
        ..Default::default()
    }
}

fn search_all<T: geodex_core::Component>(
    index: &Index<T>,
    queries: &[T],
    k: usize,
    ef: usize,
) -> Vec<Vec<u32>> {
    let mut ctx = SearchContext::new();
    queries
        .chunks_exact(index.dim())
        .map(|q| {
            let (hits, stats) = index.search(q, &SearchParams::new(k, ef), &mut ctx).unwrap();
            assert!(stats.distances > 0 && stats.hops > 0);
            assert!(
                hits.windows(2).all(|w| w[0].distance <= w[1].distance),
                "results not sorted"
            );
            hits.iter().map(|h| h.key.0 as u32).collect()
        })
        .collect()
}

#[test]
fn recall_against_naive_brute_force_for_every_metric() {
    let (n, nq, dim, k) = (3000, 100, 24, 10);
    let data = clustered(n + nq, dim, 20, 0.4, 1);
    let (base, queries) = data.split_at(n * dim);
    for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
        let index = Index::build(base.to_vec(), dim, &params(metric, 2), &no_progress).unwrap();
        let report = check_graph(&index.graph());
        assert!(report.is_valid(), "{metric}: {report:?}");
        assert_eq!(report.nodes_per_level[0], n);
        let truth = naive_knn(base, queries, dim, k, metric);
        let recall = recall_at_k(&search_all(&index, queries, k, 128), &truth, k);
        assert!(recall >= 0.95, "{metric}: recall@10 at ef=128 is {recall}");
        let low = recall_at_k(&search_all(&index, queries, k, 10), &truth, k);
        assert!(
            low <= recall + 1e-9,
            "{metric}: recall fell as ef grew ({low} > {recall})"
        );
    }
}

#[test]
fn poincare_index_finds_hyperbolic_neighbours() {
    let (n, nq, dim, k) = (1500, 50, 5, 10);
    let raw = clustered(n + nq, dim, 10, 0.3, 3);
    // Squash into the ball: x / (1 + ‖x‖) has norm < 1.
    let data: Vec<f32> = raw
        .chunks_exact(dim)
        .flat_map(|v| {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter().map(move |x| x / (1.0 + norm)).collect::<Vec<_>>()
        })
        .collect();
    let (base, queries) = data.split_at(n * dim);
    let index = Index::build(base.to_vec(), dim, &params(Metric::Poincare, 1), &no_progress).unwrap();
    assert!(check_graph(&index.graph()).is_valid());
    let truth = naive_knn(base, queries, dim, k, Metric::Poincare);
    let recall = recall_at_k(&search_all(&index, queries, k, 100), &truth, k);
    assert!(recall >= 0.95, "poincare recall {recall}");
}

#[test]
fn u8_index_matches_f32_index_on_the_same_values() {
    let (n, dim) = (1500, 32);
    let data = clustered_u8(n + 40, dim, 12, 5);
    let (base, queries) = data.split_at(n * dim);
    let ib = Index::build(base.to_vec(), dim, &params(Metric::L2, 1), &no_progress).unwrap();
    let as_f32 = |v: &[u8]| v.iter().map(|&x| x as f32).collect::<Vec<_>>();
    let iff = Index::build(as_f32(base), dim, &params(Metric::L2, 1), &no_progress).unwrap();
    // Integer squared distances are exact in both, so the two graphs — and results — agree.
    assert_eq!(
        search_all(&ib, queries, 10, 64),
        search_all(&iff, &as_f32(queries), 10, 64)
    );
    let truth = naive_knn(&as_f32(base), &as_f32(queries), dim, 10, Metric::L2);
    assert!(recall_at_k(&search_all(&ib, queries, 10, 128), &truth, 10) >= 0.95);
}

#[test]
fn one_thread_builds_are_identical_and_the_seed_matters() {
    let dim = 16;
    let data = clustered(2000, dim, 8, 0.5, 9);
    let dir = tempfile::tempdir().unwrap();
    let bytes = |seed: u64, name: &str| {
        let p = BuildParams {
            seed,
            ..params(Metric::L2, 1)
        };
        let path = dir.path().join(name);
        Index::build(data.clone(), dim, &p, &no_progress)
            .unwrap()
            .save(&path)
            .unwrap();
        std::fs::read(path).unwrap()
    };
    let a = bytes(1, "a");
    assert_eq!(a, bytes(1, "b"), "same seed, one thread: index files differ");
    assert_ne!(a, bytes(2, "c"), "different seeds gave the same index");
}

#[test]
fn parallel_build_is_valid_and_as_good() {
    let (n, nq, dim, k) = (4000, 100, 16, 10);
    let data = clustered(n + nq, dim, 16, 0.5, 11);
    let (base, queries) = data.split_at(n * dim);
    let truth = naive_knn(base, queries, dim, k, Metric::L2);
    let one = Index::build(base.to_vec(), dim, &params(Metric::L2, 1), &no_progress).unwrap();
    let many = Index::build(base.to_vec(), dim, &params(Metric::L2, 4), &no_progress).unwrap();
    assert!(check_graph(&many.graph()).is_valid());
    let r1 = recall_at_k(&search_all(&one, queries, k, 64), &truth, k);
    let r4 = recall_at_k(&search_all(&many, queries, k, 64), &truth, k);
    assert!(r4 >= r1 - 0.02, "4 threads recall {r4} vs 1 thread {r1}");
}

/// Linking on byte codes (the default for float L2 and cosine) gives a graph whose recall per
/// ef — searched the same way, on the vectors — is within 0.01 of Alg. 1 run on the vectors,
/// while the graphs themselves differ (the option reaches the build).
#[test]
fn a_build_on_byte_codes_is_as_good_as_one_on_the_vectors() {
    let (n, nq, dim, k) = (4000, 100, 32, 10);
    let data = clustered(n + nq, dim, 16, 0.5, 13);
    let (base, queries) = data.split_at(n * dim);
    for metric in [Metric::L2, Metric::Cosine] {
        let truth = naive_knn(base, queries, dim, k, metric);
        let build = |on_codes: bool| {
            let p = BuildParams {
                build_on_codes: on_codes,
                ..params(metric, 1)
            };
            let mut ix = Index::build(base.to_vec(), dim, &p, &no_progress).unwrap();
            ix.set_byte_walk(false);
            ix
        };
        let (codes, exact) = (build(true), build(false));
        assert!(check_graph(&codes.graph()).is_valid());
        let lists = |ix: &Index<f32>| {
            (0..n as u32)
                .map(|u| ix.graph().links(u, 0).to_vec())
                .collect::<Vec<_>>()
        };
        assert_ne!(
            lists(&codes),
            lists(&exact),
            "{metric}: the option did not reach the build"
        );
        for ef in [16, 32, 64] {
            let rc = recall_at_k(&search_all(&codes, queries, k, ef), &truth, k);
            let re = recall_at_k(&search_all(&exact, queries, k, ef), &truth, k);
            assert!(
                (rc - re).abs() <= 0.01,
                "{metric} ef {ef}: on codes {rc}, on vectors {re}"
            );
        }
    }
}

#[test]
fn batch_search_equals_one_by_one() {
    let dim = 8;
    let data = clustered(1200, dim, 6, 0.5, 4);
    let (base, queries) = data.split_at(1000 * dim);
    let index = Index::build(base.to_vec(), dim, &params(Metric::L2, 2), &no_progress).unwrap();
    let batch = index
        .search_batch(queries, &SearchParams::new(5, 40), &|| {})
        .unwrap();
    let single = search_all(&index, queries, 5, 40);
    let batch_ids: Vec<Vec<u32>> = batch
        .iter()
        .map(|(h, _)| h.iter().map(|h| h.key.0 as u32).collect())
        .collect();
    assert_eq!(batch_ids, single);
}

#[test]
fn filter_is_applied_inside_the_traversal() {
    let (n, dim, k) = (2000, 12, 10);
    let data = clustered(n + 20, dim, 10, 0.5, 8);
    let (base, queries) = data.split_at(n * dim);
    let index = Index::build(base.to_vec(), dim, &params(Metric::L2, 2), &no_progress).unwrap();
    let even = |key: Key| key.0.is_multiple_of(2);
    let even_base: Vec<f32> = base.chunks_exact(dim).step_by(2).flatten().copied().collect();
    let truth: Vec<Vec<u32>> = naive_knn(&even_base, queries, dim, k, Metric::L2)
        .into_iter()
        .map(|ids| ids.into_iter().map(|i| i * 2).collect())
        .collect();
    let mut ctx = SearchContext::new();
    let found: Vec<Vec<u32>> = queries
        .chunks_exact(dim)
        .map(|q| {
            // The walk itself, not the exact scan a 50 % filter would switch to at this n.
            let p = SearchParams {
                filter: Some(&even),
                exact_below: Some(0.0),
                ..SearchParams::new(k, 128)
            };
            let (hits, _) = index.search(q, &p, &mut ctx).unwrap();
            assert!(
                hits.iter().all(|h| h.key.0.is_multiple_of(2)),
                "filtered-out key returned"
            );
            assert_eq!(hits.len(), k);
            hits.iter().map(|h| h.key.0 as u32).collect()
        })
        .collect();
    assert!(recall_at_k(&found, &truth, k) >= 0.9);
}

#[test]
fn k_above_count_returns_everything_once() {
    let dim = 4;
    let data = clustered(30, dim, 3, 0.5, 2);
    let index = Index::build(data.clone(), dim, &params(Metric::L2, 1), &no_progress).unwrap();
    let (hits, _) = index
        .search(
            &data[..dim],
            &SearchParams::new(50, 50),
            &mut SearchContext::new(),
        )
        .unwrap();
    let mut keys: Vec<u64> = hits.iter().map(|h| h.key.0).collect();
    keys.sort();
    assert_eq!(keys, (0..30).collect::<Vec<_>>());
}

#[test]
fn bad_input_is_a_typed_error() {
    let dim = 3;
    let good = clustered(20, dim, 2, 0.5, 1);
    let build = |data: Vec<f32>, metric| Index::build(data, dim, &params(metric, 1), &no_progress);
    assert!(matches!(build(vec![], Metric::L2), Err(CoreError::Empty)));
    assert!(matches!(
        build(good[..7].to_vec(), Metric::L2),
        Err(CoreError::DimensionMismatch { row: 2, .. })
    ));
    let mut nan = good.clone();
    nan[4] = f32::NAN;
    assert!(matches!(
        build(nan, Metric::L2),
        Err(CoreError::NonFinite {
            row: 1,
            component: 1,
            ..
        })
    ));
    let mut zero = good.clone();
    zero[3..6].fill(0.0);
    assert!(matches!(
        build(zero, Metric::Cosine),
        Err(CoreError::ZeroVector { row: 1 })
    ));
    assert!(matches!(
        build(good.clone(), Metric::Poincare),
        Err(CoreError::OutsideBall { .. })
    ));
    assert!(matches!(
        Index::build(vec![1u8, 2, 3], 3, &params(Metric::Cosine, 1), &no_progress),
        Err(CoreError::UnsupportedMetric { .. })
    ));
    let bad_m = BuildParams {
        m: 1,
        ..params(Metric::L2, 1)
    };
    assert!(matches!(
        Index::build(good.clone(), dim, &bad_m, &no_progress),
        Err(CoreError::InvalidParameter(_))
    ));

    let index = build(good, Metric::L2).unwrap();
    let mut ctx = SearchContext::new();
    assert!(matches!(
        index.search(&[0.0; 2], &SearchParams::new(1, 10), &mut ctx),
        Err(CoreError::DimensionMismatch { .. })
    ));
    assert!(matches!(
        index.search(&[0.0; 3], &SearchParams::new(0, 10), &mut ctx),
        Err(CoreError::InvalidParameter(_))
    ));
    assert!(matches!(
        index.search(&[0.0; 3], &SearchParams::new(10, 5), &mut ctx),
        Err(CoreError::InvalidParameter(_))
    ));
    assert!(matches!(
        index.search(&[f32::INFINITY, 0.0, 0.0], &SearchParams::new(1, 5), &mut ctx),
        Err(CoreError::NonFinite { .. })
    ));
}

#[test]
fn exact_knn_matches_the_naive_implementation() {
    let (dim, k) = (10, 7);
    let data = clustered(2600, dim, 5, 0.5, 13);
    let (base, queries) = data.split_at(2500 * dim);
    for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
        let fast = exact_knn(base, queries, dim, k, metric, &no_progress).unwrap();
        let fast_ids: Vec<Vec<u32>> = fast.iter().map(|r| r.iter().map(|n| n.id).collect()).collect();
        let naive = naive_knn(base, queries, dim, k, metric);
        // f32 kernels vs f64 reference may swap near-ties; demand agreement on ≥ 99.5 %.
        assert!(recall_at_k(&fast_ids, &naive, k) >= 0.995, "{metric}");
    }
    // Integer data: exact in both, so identical including tie order.
    let bytes = clustered_u8(1100, dim, 4, 3);
    let (bb, bq) = bytes.split_at(1000 * dim);
    let fast: Vec<Vec<u32>> = exact_knn(bb, bq, dim, k, Metric::L2, &no_progress)
        .unwrap()
        .iter()
        .map(|r| r.iter().map(|n| n.id).collect())
        .collect();
    let to_f = |v: &[u8]| v.iter().map(|&x| x as f32).collect::<Vec<_>>();
    assert_eq!(fast, naive_knn(&to_f(bb), &to_f(bq), dim, k, Metric::L2));
    assert!(exact_knn(bb, bq, dim, 0, Metric::L2, &no_progress).is_err());
    assert_eq!(
        exact_knn(&bb[..3 * dim], bq, dim, 10, Metric::L2, &no_progress).unwrap()[0].len(),
        3
    );
}

#[test]
fn a_cancelled_build_stops_with_cancelled_and_a_fresh_flag_builds() {
    let data = geodex_testkit::clustered(2000, 8, 4, 0.5, 9);
    let cancel = geodex_core::Cancel::new();
    let params = BuildParams {
        cancel: cancel.clone(),
        threads: Some(2),
        ..Default::default()
    };
    // Cancelled from the progress callback after the first report: the build stops early.
    let reports = std::sync::atomic::AtomicUsize::new(0);
    let stop = |_done: usize| {
        reports.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        cancel.cancel();
    };
    let r = Index::build(data.clone(), 8, &params, &stop);
    assert!(matches!(r, Err(geodex_core::CoreError::Cancelled)), "{r:?}");
    let fresh = BuildParams {
        cancel: geodex_core::Cancel::new(),
        ..params
    };
    assert_eq!(Index::build(data, 8, &fresh, &|_| {}).unwrap().len(), 2000);
}
