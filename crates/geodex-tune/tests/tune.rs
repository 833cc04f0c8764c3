//! `tune` judged from outside: its predicted and holdout recalls recomputed with the test kit's
//! brute force and the public search, the ef it certifies checked to be the smallest, the
//! recall on queries it never saw, the RAM budget, and bad options refused.

use geodex_core::{Metric, SearchContext, SearchParams};
use geodex_testkit::{clustered, naive_knn};
use geodex_tune::{split, tune, TuneError, TuneOptions, TuneReport, Tuned};

const DIM: usize = 16;
const BASE: usize = 4000;
const LEARN: usize = 400;
const TEST: usize = 1600;

/// Base, learning and test rows from one mixture (so all three share a distribution).
fn data() -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let all = clustered(BASE + LEARN + TEST, DIM, 20, 0.35, 11);
    let (base, rest) = all.split_at(BASE * DIM);
    let (learn, test) = rest.split_at(LEARN * DIM);
    (base.to_vec(), learn.to_vec(), test.to_vec())
}

fn options() -> TuneOptions {
    TuneOptions {
        target_recall: 0.9,
        sample_rows: 2000,
        ef_constructions: vec![40, 100],
        timing_rounds: 1,
        threads: Some(1),
        ..TuneOptions::default()
    }
}

fn run(base: &[f32], learn: &[f32], o: &TuneOptions) -> Result<Tuned<f32>, TuneError> {
    tune(base.to_vec(), DIM, learn, None, o, &|_| {})
}

/// Mean recall@10 of `queries` on the tuned index at the report's ef and re-ranking, against
/// the test kit's brute force over `base`.
fn outside_recall(t: &Tuned<f32>, base: &[f32], queries: &[f32]) -> f64 {
    let r: &TuneReport = &t.report;
    let truth = naive_knn(base, queries, DIM, r.k, Metric::L2);
    let params = SearchParams {
        rerank: r.rerank,
        ..SearchParams::new(r.k, r.ef)
    };
    let mut ctx = SearchContext::new();
    let mut hits = 0;
    for (q, want) in queries.chunks(DIM).zip(&truth) {
        let (found, _) = t.index.search(q, &params, &mut ctx).unwrap();
        hits += found.iter().filter(|h| want.contains(&(h.key.0 as u32))).count();
    }
    hits as f64 / (truth.len() * r.k) as f64
}

fn rows(queries: &[f32], at: &[usize]) -> Vec<f32> {
    at.iter()
        .flat_map(|&i| &queries[i * DIM..][..DIM])
        .copied()
        .collect()
}

#[test]
fn the_choice_is_certified_minimal_and_holds_on_unseen_queries() {
    let (base, learn, test) = data();
    let t = run(&base, &learn, &options()).unwrap();
    let r = &t.report;
    assert_eq!(
        (r.rows, r.sample_rows, r.fit_queries, r.holdout_queries),
        (BASE, 2000, 200, 200)
    );
    assert_eq!(t.index.len(), BASE);
    let info = t.index.info();
    assert_eq!((info.m, info.ef_construction), (r.m, r.ef_construction));
    // The prediction and the holdout check, recomputed from outside on the same halves.
    let (fit, holdout) = split(LEARN, 42);
    assert!((outside_recall(&t, &base, &rows(&learn, &fit)) - r.predicted_recall).abs() < 1e-9);
    assert!((outside_recall(&t, &base, &rows(&learn, &holdout)) - r.holdout_recall).abs() < 1e-9);
    // Certified: the chosen ef's lower bound reaches the target, the next smaller measured ef's
    // does not (the fixed-sequence walk stopped there), and the ladder is ascending.
    assert!(r.reached && r.recall_interval[0] >= r.target_recall);
    let at = r.ladder.iter().position(|s| s.ef == r.ef).unwrap();
    assert!(at == 0 || r.ladder[at - 1].interval.low < r.target_recall);
    assert!(r.ladder[at..].iter().all(|s| s.interval.low >= r.target_recall));
    assert!(r.ladder.windows(2).all(|w| w[0].ef < w[1].ef));
    assert!(r.recall_interval[0] <= r.predicted_recall && r.predicted_recall <= r.recall_interval[1]);
    // Queries tune never saw: the target met, inside the interval up to their own sampling
    // error (1,600 queries: a few thousandths).
    let unseen = outside_recall(&t, &base, &test);
    assert!(
        unseen >= r.target_recall - 0.005,
        "unseen recall {unseen}, report {r:?}"
    );
    assert!(unseen >= r.recall_interval[0] - 0.01 && unseen <= r.recall_interval[1] + 0.01);
    // Exactly one chosen trial, the fastest eligible one, with the report's parameters.
    let chosen: Vec<_> = r.trials.iter().filter(|t| t.verdict == "chosen").collect();
    assert_eq!(chosen.len(), 1);
    assert_eq!((chosen[0].m, chosen[0].ef_construction), (r.m, r.ef_construction));
    let fastest = r.trials.iter().filter_map(|t| t.qps).fold(0.0, f64::max);
    assert_eq!(chosen[0].qps, Some(fastest));
    // The batch ef, when certified, is where the certified failure rate meets the allowance.
    if let Some(ef) = r.batch.ef {
        let s = r.ladder.iter().find(|s| s.ef == ef).unwrap();
        assert!(s.failure_upper <= r.batch.per_query_failure_allowed);
    }
}

#[test]
fn a_ram_budget_below_the_flat_index_picks_a_quantiser_that_fits() {
    let (base, learn, _) = data();
    let flat = run(&base, &learn, &options()).unwrap().report;
    assert_eq!((flat.quant.as_str(), flat.rerank), ("none", 0));
    // Half the vectors' bytes less than the leanest flat candidate: SQ8 (a quarter of them) fits.
    let leanest = flat.trials.iter().map(|t| t.predicted_ram_bytes).min().unwrap();
    let budget = leanest - (BASE * DIM * 4 / 2) as u64;
    let o = TuneOptions {
        max_ram_bytes: Some(budget),
        ..options()
    };
    let t = run(&base, &learn, &o).unwrap();
    let r = &t.report;
    assert_eq!(r.quant, "sq8");
    assert_eq!(r.rerank, r.ef, "a quantised choice re-ranks its beam");
    assert!(r.ram_bytes <= budget, "{} > {budget}", r.ram_bytes);
    assert!(r
        .trials
        .iter()
        .any(|t| t.quant == "none" && t.verdict.contains("RAM")));
    let (fit, _) = split(LEARN, 42);
    assert!((outside_recall(&t, &base, &rows(&learn, &fit)) - r.predicted_recall).abs() < 1e-9);
    // Nothing fits one kilobyte.
    let tiny = TuneOptions {
        max_ram_bytes: Some(1000),
        ..options()
    };
    assert!(matches!(run(&base, &learn, &tiny), Err(TuneError::Infeasible(_))));
}

#[test]
fn bad_options_and_inputs_are_refused() {
    let (base, learn, _) = data();
    for target in [0.0, 1.5, f64::NAN, -0.1] {
        let o = TuneOptions {
            target_recall: target,
            ..options()
        };
        assert!(
            matches!(run(&base, &learn, &o), Err(TuneError::Invalid(_))),
            "{target}"
        );
    }
    for confidence in [0.0, 1.0] {
        let o = TuneOptions {
            confidence,
            ..options()
        };
        assert!(matches!(run(&base, &learn, &o), Err(TuneError::Invalid(_))));
    }
    let few = &learn[..50 * DIM];
    assert!(matches!(run(&base, few, &options()), Err(TuneError::Invalid(_))));
    let truth = |id: u64, rows: usize| vec![vec![id; 10]; rows];
    let bad_id = tune(
        base.clone(),
        DIM,
        &learn,
        Some(truth(BASE as u64, LEARN)),
        &options(),
        &|_| {},
    );
    assert!(matches!(bad_id, Err(TuneError::Invalid(m)) if m.contains("row 4000")));
    let bad_rows = tune(
        base.clone(),
        DIM,
        &learn,
        Some(truth(0, LEARN - 1)),
        &options(),
        &|_| {},
    );
    assert!(matches!(bad_rows, Err(TuneError::Invalid(_))));
    let slow = TuneOptions {
        max_build_seconds: Some(1e-9),
        ..options()
    };
    assert!(matches!(run(&base, &learn, &slow), Err(TuneError::Infeasible(m)) if m.contains("build")));
}
