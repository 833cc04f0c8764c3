//! `--m auto`: the probe's recall against an independent brute force and search, the doubling,
//! the stop at the largest M, and that data passing at the first M gets the fixed-M index.

use geodex_core::auto_m::{AutoM, AutoMReport, MChoice, FIRST_M};
use geodex_core::{BuildParams, CoreError, GraphView, Index, Metric, SearchContext, SearchParams};
use geodex_testkit::{clustered, naive_knn};

fn no_progress(_: usize) {}

fn one_thread(metric: Metric, m: usize) -> BuildParams {
    BuildParams {
        metric,
        m,
        ef_construction: 64,
        seed: 3,
        threads: Some(1),
        ..Default::default()
    }
}

/// The probe recomputed from the outside: the same evenly spread rows, the f64 brute force of
/// the test kit (k + 1, the row itself dropped) and the index's public search, recall by id.
/// The probe also counts a hit within its tie slack of the k-th distance (and ranks in f32), so
/// it may exceed this by the few near-ties of continuous data, never fall below it.
/// The probe walks the full vectors, so the byte walk of float indexes is turned off here.
fn recall_from_outside(index: &mut Index<f32>, data: &[f32], rule: &AutoM) -> f64 {
    index.set_byte_walk(false);
    let (dim, n) = (index.dim(), index.len());
    let count = rule.probe_queries.min(n);
    let rows: Vec<usize> = (0..count).map(|i| i * n / count).collect();
    let queries: Vec<f32> = rows
        .iter()
        .flat_map(|&r| data[r * dim..][..dim].to_vec())
        .collect();
    let truth = naive_knn(data, &queries, dim, rule.k + 1, index.metric());
    let search = SearchParams::new(rule.k + 1, rule.probe_ef.max(rule.k + 1));
    let mut ctx = SearchContext::new();
    let mut hits = 0;
    for (i, &row) in rows.iter().enumerate() {
        let (found, _) = index
            .search(&queries[i * dim..][..dim], &search, &mut ctx)
            .unwrap();
        let wanted: Vec<u32> = truth[i]
            .iter()
            .copied()
            .filter(|&t| t as usize != row)
            .take(rule.k)
            .collect();
        hits += found
            .iter()
            .map(|h| h.node.0)
            .filter(|&f| f as usize != row)
            .take(rule.k)
            .filter(|f| wanted.contains(f))
            .count();
    }
    hits as f64 / (rule.k * count) as f64
}

fn assert_probe_matches(probe: f64, outside: f64) {
    assert!(
        probe >= outside - 1e-12 && probe <= outside + 0.002,
        "probe {probe} against outside {outside}"
    );
}

fn assert_report_is_consistent(report: &AutoMReport, rule: &AutoM, first_m: usize) {
    let ms: Vec<usize> = report.trials.iter().map(|t| t.m).collect();
    let expected: Vec<usize> = (0..ms.len()).map(|i| (first_m << i).min(rule.max_m)).collect();
    assert_eq!(ms, expected, "M doubles from the first, capped at the largest");
    let (last, earlier) = report.trials.split_last().unwrap();
    assert_eq!(report.chosen_m, last.m);
    assert!(
        earlier.iter().all(|t| t.recall < rule.target_recall),
        "it went on after passing: {report:?}"
    );
    assert_eq!(report.reached, last.recall >= rule.target_recall);
    for t in &report.trials {
        assert!(
            t.level0_degree > 0.0 && t.level0_degree <= 2.0 * t.m as f64,
            "{t:?}"
        );
    }
}

#[test]
fn the_probe_doubles_m_until_the_target_and_measures_what_an_outside_search_measures() {
    let (n, dim) = (3000, 16);
    let data = clustered(n, dim, 30, 0.5, 11);
    // A small first M and a narrow probe beam, so the first builds fall short.
    let rule = AutoM {
        max_m: 32,
        target_recall: 0.99,
        probe_ef: 11,
        probe_queries: 150,
        k: 10,
    };
    let params = one_thread(Metric::L2, 2);
    let (mut index, report) =
        Index::build_choosing_m(data.clone(), dim, &params, &rule, &no_progress).unwrap();
    assert!(
        report.trials.len() >= 2,
        "M = 2 passed a 0.99 probe at ef 11: {report:?}"
    );
    assert_report_is_consistent(&report, &rule, 2);
    assert_eq!(
        index.graph().max_degree(1),
        report.chosen_m,
        "the index returned is the last one built"
    );
    let outside = recall_from_outside(&mut index, &data, &rule);
    assert_probe_matches(report.trials.last().unwrap().recall, outside);
    assert_eq!(index.metadata()["auto_m"]["chosen_m"], report.chosen_m);
}

#[test]
fn an_unreachable_target_stops_at_the_largest_m() {
    let (n, dim) = (1500, 24);
    let data = clustered(n, dim, 10, 1.0, 5);
    let rule = AutoM {
        max_m: 6,
        target_recall: 1.0,
        probe_ef: 11,
        probe_queries: 300,
        k: 10,
    };
    let (mut index, report) =
        Index::build_choosing_m(data.clone(), dim, &one_thread(Metric::L2, 3), &rule, &no_progress).unwrap();
    assert!(
        !report.reached,
        "M 3 and 6 found every neighbour at ef 11: {report:?}"
    );
    assert_eq!(report.chosen_m, 6);
    assert_report_is_consistent(&report, &rule, 3);
    let outside = recall_from_outside(&mut index, &data, &rule);
    assert_probe_matches(report.trials[1].recall, outside);
}

#[test]
fn data_that_passes_at_the_first_m_gets_the_fixed_m_index() {
    let (n, dim) = (2000, 8);
    let data = clustered(n, dim, 8, 0.6, 2);
    let params = one_thread(Metric::Cosine, 16);
    let (auto, report) = Index::build_with_m(
        data.clone(),
        dim,
        &params,
        MChoice::Auto,
        &AutoM::default(),
        &no_progress,
    )
    .unwrap();
    let report = report.expect("auto reports");
    assert_eq!(
        (report.chosen_m, report.trials.len(), report.reached),
        (FIRST_M, 1, true)
    );
    let fixed = Index::build(data, dim, &params, &no_progress).unwrap();
    let (a, f) = (auto.graph(), fixed.graph());
    assert_eq!(a.entry_point(), f.entry_point());
    for u in 0..n as u32 {
        for level in 0..=f.level(u) {
            assert_eq!(*a.links(u, level), *f.links(u, level), "node {u} level {level}");
        }
    }
    assert_eq!(
        auto.vector(geodex_core::NodeId(7)),
        fixed.vector(geodex_core::NodeId(7))
    );
}

#[test]
fn bad_rules_and_choices_are_refused() {
    let data = clustered(100, 4, 2, 0.5, 1);
    let params = one_thread(Metric::L2, 16);
    for rule in [
        AutoM {
            target_recall: 0.0,
            ..AutoM::default()
        },
        AutoM {
            target_recall: 1.5,
            ..AutoM::default()
        },
        AutoM {
            target_recall: f64::NAN,
            ..AutoM::default()
        },
        AutoM {
            probe_ef: 0,
            ..AutoM::default()
        },
        AutoM {
            max_m: 8,
            ..AutoM::default()
        },
        AutoM {
            max_m: 1000,
            ..AutoM::default()
        },
    ] {
        let got = Index::build_choosing_m(data.clone(), 4, &params, &rule, &no_progress);
        assert!(matches!(got, Err(CoreError::InvalidParameter(_))), "{rule:?}");
    }
    assert_eq!("auto".parse::<MChoice>(), Ok(MChoice::Auto));
    assert_eq!("AUTO".parse::<MChoice>(), Ok(MChoice::Auto));
    assert_eq!("24".parse::<MChoice>(), Ok(MChoice::Fixed(24)));
    assert!("sixteen".parse::<MChoice>().is_err());
    assert_eq!(
        MChoice::Fixed(24).to_string().parse::<MChoice>(),
        Ok(MChoice::Fixed(24))
    );
}
