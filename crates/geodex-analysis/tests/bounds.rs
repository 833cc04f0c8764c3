//! Bounds section against direct recomputation: link counts and file size, the approximation
//! factor's floor (c ≥ 1, = 1 under exhaustive search), per-ef failure rates and the union-bound
//! choice recomputed with the public search API and testkit's brute force.

mod common;

use geodex_analysis::{bit_accounting, query_bounds, BoundsOptions};
use geodex_core::{GraphView, Index, Metric, SearchContext, SearchParams};
use geodex_testkit::{clustered, naive_knn};

fn setup() -> (Vec<f32>, Vec<f32>, Index<f32>) {
    let dim = 16;
    let all = clustered(2200, dim, 12, 0.4, 5);
    let (data, queries) = all.split_at(2000 * dim);
    let index = common::small_index_over(data, dim);
    (data.to_vec(), queries.to_vec(), index)
}

#[test]
fn bit_accounting_counts_every_link_and_fits_in_the_file() {
    let (_, _, index) = setup();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("i.gdx");
    index.save(&path).unwrap();
    let opened = match geodex_core::AnyIndex::open(&path, true).unwrap() {
        geodex_core::AnyIndex::F32(ix) => ix,
        _ => unreachable!(),
    };
    let b = bit_accounting(&opened, 0.5, 0.5);
    let g = opened.graph();
    let links: u64 = (0..2000u32)
        .map(|u| (0..=g.level(u)).map(|l| g.links(u, l).len() as u64).sum::<u64>())
        .sum();
    assert_eq!(b.links, links);
    assert_eq!(b.vector_bits, 2000 * 16 * 32);
    assert_eq!(b.link_information_bits, links * 11); // ⌈log₂ 2000⌉ = 11
    let file = b.file_bits.unwrap();
    assert_eq!(file, 8 * std::fs::metadata(&path).unwrap().len());
    assert!(b.vector_bits + b.link_slot_bits + b.key_and_level_bits <= file);
    // ε = δ = 1/2: log₂ 2 · log₂ 2 = 1, so the bound is N·d.
    assert!((b.lower_bound_bits - 2000.0 * 16.0).abs() < 1e-9);
}

#[test]
fn failure_rates_union_bound_and_approximation_factor_match_a_recount() {
    let (data, queries, index) = setup();
    let options = BoundsOptions {
        efs: vec![10, 16, 32, 64, 2000],
        ef: 16,
        target_recall: 0.9,
        batch: 10,
        batch_success: 0.9,
        ..Default::default()
    };
    let r = query_bounds(&index, &queries, &options).unwrap();
    let truth = naive_knn(&data, &queries, 16, 10, Metric::L2);
    let mut ctx = SearchContext::new();
    let recall_per_query = |ef: usize, ctx: &mut SearchContext| -> Vec<f64> {
        queries
            .chunks(16)
            .zip(&truth)
            .map(|(q, t)| {
                let (hits, _) = index.search(q, &SearchParams::new(10, ef), ctx).unwrap();
                hits.iter().filter(|h| t.contains(&h.node.0)).count() as f64 / 10.0
            })
            .collect()
    };
    for &(ef, rate) in &r.union_bound.failure_by_ef {
        let rec = recall_per_query(ef, &mut ctx);
        let want = rec.iter().filter(|&&x| x < 0.9 - 1e-12).count() as f64 / rec.len() as f64;
        assert!((rate - want).abs() < 1e-12, "ef {ef}: {rate} vs recount {want}");
    }
    // The choice rests on what the queries certify: each rate's upper bound lies above it,
    // and the chosen ef is the first whose bound is within the allowance.
    let allowed = (1.0 - 0.9) / 10.0;
    for (&(ef, rate), &(ef_u, upper)) in r
        .union_bound
        .failure_by_ef
        .iter()
        .zip(&r.union_bound.failure_upper_95)
    {
        assert_eq!(ef, ef_u);
        assert!(upper > rate && upper <= 1.0, "ef {ef}: {upper} vs {rate}");
    }
    let want_ef = r
        .union_bound
        .failure_upper_95
        .iter()
        .find(|p| p.1 <= allowed)
        .map(|p| p.0);
    assert_eq!(r.union_bound.ef_required, want_ef);
    assert_eq!(
        r.union_bound.failure_by_ef.last().unwrap().1,
        0.0,
        "exhaustive ef must not fail"
    );
    let c = r.approximation.unwrap();
    assert!(
        c.p50 >= 1.0 - 1e-6 && c.mean >= 1.0 - 1e-6,
        "returned k-th closer than the true k-th: {c:?}"
    );
    let rec = recall_per_query(16, &mut ctx);
    assert!((r.mean_recall - rec.iter().sum::<f64>() / rec.len() as f64).abs() < 1e-12);
    for row in &r.chernoff {
        let want = rec
            .iter()
            .filter(|&&x| x >= r.mean_recall - row.epsilon - 1e-12)
            .count() as f64
            / rec.len() as f64;
        assert!((row.measured - want).abs() < 1e-12);
        assert!((row.bound - (1.0 - (-20.0 * row.epsilon * row.epsilon).exp())).abs() < 1e-12);
    }
    // Exhaustive search returns the true neighbours: every ratio is exactly 1.
    let exact = query_bounds(
        &index,
        &queries,
        &BoundsOptions {
            ef: 2000,
            efs: vec![2000],
            ..Default::default()
        },
    )
    .unwrap();
    let c = exact.approximation.unwrap();
    assert!((c.max - 1.0).abs() < 1e-6 && (c.p50 - 1.0).abs() < 1e-6, "{c:?}");
}
