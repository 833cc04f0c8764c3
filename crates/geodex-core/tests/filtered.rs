//! Filtered search against filtered brute force: recall at 50 %, 10 % and 1 % selectivity on
//! both paths (graph walk, exact scan), the switch between them, key predicates against node
//! sets, and bad filter input.

use std::collections::HashSet;

use geodex_core::measure::recall_at_k;
use geodex_core::{BuildParams, CoreError, Index, Key, Metric, NodeId, NodeSet, SearchContext, SearchParams};
use geodex_testkit::{clustered, naive_knn, Rng};

const DIM: usize = 24;
const N: usize = 6000;

fn setup() -> (Vec<f32>, Vec<f32>, Index<f32>) {
    let data = clustered(N + 50, DIM, 30, 0.4, 21);
    let (base, queries) = data.split_at(N * DIM);
    let p = BuildParams {
        m: 16,
        ef_construction: 100,
        threads: Some(2),
        ..Default::default()
    };
    let index = Index::build(base.to_vec(), DIM, &p, &|_| {}).unwrap();
    (base.to_vec(), queries.to_vec(), index)
}

/// A random `share` of the node ids, seeded.
fn random_nodes(share: f64, seed: u64) -> Vec<u64> {
    let mut rng = Rng::new(seed);
    (0..N as u64).filter(|_| rng.uniform() < share).collect()
}

/// Exact k-NN restricted to `allowed`, as positions in the full base.
fn filtered_truth(base: &[f32], queries: &[f32], allowed: &[u64], k: usize) -> Vec<Vec<u32>> {
    let subset: Vec<f32> = allowed
        .iter()
        .flat_map(|&i| base[i as usize * DIM..(i as usize + 1) * DIM].iter().copied())
        .collect();
    naive_knn(&subset, queries, DIM, k, Metric::L2)
        .into_iter()
        .map(|row| row.into_iter().map(|j| allowed[j as usize] as u32).collect())
        .collect()
}

/// (ids per query, exact scans) for `params`; every hit must be allowed.
fn run(
    index: &Index<f32>,
    queries: &[f32],
    params: &SearchParams<'_>,
    allowed: &HashSet<u64>,
) -> (Vec<Vec<u32>>, u64) {
    let mut ctx = SearchContext::new();
    let mut scans = 0;
    let ids = queries
        .chunks_exact(DIM)
        .map(|q| {
            let (hits, stats) = index.search(q, params, &mut ctx).unwrap();
            scans += stats.exact_scans;
            assert!(
                hits.iter().all(|h| allowed.contains(&h.key.0)),
                "a disallowed node returned"
            );
            assert!(hits.windows(2).all(|w| w[0].distance <= w[1].distance));
            hits.iter().map(|h| h.key.0 as u32).collect()
        })
        .collect();
    (ids, scans)
}

#[test]
fn recall_at_every_selectivity_on_both_paths() {
    let (base, queries, index) = setup();
    let nq = (queries.len() / DIM) as u64;
    let k = 10;
    for (share, seed) in [(0.5, 1), (0.1, 2), (0.01, 3)] {
        let keys = random_nodes(share, seed);
        let truth = filtered_truth(&base, &queries, &keys, k);
        let allowed: HashSet<u64> = keys.iter().copied().collect();
        let (set, unknown) = index.node_set(&keys);
        assert_eq!((set.len(), unknown), (keys.len(), 0));
        let base_params = SearchParams {
            allowed: Some(&set),
            ..SearchParams::new(k, 64)
        };
        // Default switch: the crossover √(16·ef/n) = 0.41 here, so 50 % walks and the rest scan.
        let (ids, scans) = run(&index, &queries, &base_params, &allowed);
        let recall = recall_at_k(&ids, &truth, k);
        let expect_scan = share < geodex_core::exact_scan_threshold(N, 64);
        assert_eq!(scans, if expect_scan { nq } else { 0 }, "share {share}");
        assert!(recall >= 0.95, "share {share}: recall@10 {recall}");
        if expect_scan {
            assert_eq!(recall, 1.0, "the exact scan is exact");
        }
        // The walk alone, forced: the filter inside the traversal must still find them.
        let walk = SearchParams {
            exact_below: Some(0.0),
            ..base_params
        };
        let (ids, scans) = run(&index, &queries, &walk, &allowed);
        assert_eq!(scans, 0);
        let walked = recall_at_k(&ids, &truth, k);
        if share >= 0.1 {
            assert!(walked >= 0.95, "share {share}: walk-only recall@10 {walked}");
        }
        // The same filter as a key predicate: the same answers (the selectivity estimate may
        // pick the other path only near the threshold, which these shares are not).
        let predicate = |key: Key| allowed.contains(&key.0);
        let by_key = SearchParams {
            filter: Some(&predicate),
            ..SearchParams::new(k, 64)
        };
        let (ids_by_key, _) = run(&index, &queries, &by_key, &allowed);
        assert!(recall_at_k(&ids_by_key, &truth, k) >= 0.95);
    }
}

#[test]
fn node_sets_behave_like_hash_sets() {
    let mut rng = Rng::new(5);
    let mut set = NodeSet::new(1000);
    let mut model = HashSet::new();
    for _ in 0..3000 {
        let id = (rng.uniform() * 1100.0) as u32;
        let fresh = set.insert(NodeId(id));
        let want = id < 1000 && model.insert(id);
        assert_eq!(fresh, want, "insert {id}");
    }
    assert_eq!(set.len(), model.len());
    let mut members: Vec<u32> = model.iter().copied().collect();
    members.sort_unstable();
    assert_eq!(set.iter().collect::<Vec<_>>(), members);
    assert!((0..1100).all(|i| set.contains(i) == model.contains(&i)));
}

#[test]
fn keys_map_to_nodes_and_bad_filters_are_refused() {
    let data = clustered(300, 4, 3, 0.5, 2);
    let index = Index::build(data, 4, &BuildParams::default(), &|_| {})
        .unwrap()
        .with_keys((0..300).map(|i| 1000 + 7 * i).collect())
        .unwrap();
    let (set, unknown) = index.node_set(&[1000, 1007, 5, 1000 + 7 * 299]);
    assert_eq!((set.len(), unknown), (3, 1));
    assert_eq!(set.iter().collect::<Vec<_>>(), vec![0, 1, 299]);
    let mut ctx = SearchContext::new();
    let hits = index
        .search(
            &[0.0; 4],
            &SearchParams {
                allowed: Some(&set),
                ..SearchParams::new(5, 10)
            },
            &mut ctx,
        )
        .unwrap()
        .0;
    assert_eq!(hits.len(), 3, "only three nodes are allowed");
    let empty = NodeSet::new(300);
    let none = SearchParams {
        allowed: Some(&empty),
        ..SearchParams::new(5, 10)
    };
    assert!(index.search(&[0.0; 4], &none, &mut ctx).unwrap().0.is_empty());
    let wrong = NodeSet::new(10);
    let bad = SearchParams {
        allowed: Some(&wrong),
        ..SearchParams::new(5, 10)
    };
    assert!(matches!(
        index.search(&[0.0; 4], &bad, &mut ctx),
        Err(CoreError::InvalidParameter(_))
    ));
}
