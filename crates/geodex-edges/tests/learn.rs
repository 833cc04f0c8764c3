//! End to end: learn a scorer from training queries, build with it, search; against brute force.

use geodex_core::{BuildParams, Index, Metric, SearchContext, SearchParams};
use geodex_edges::{
    learn_edges, mean_degree0, EdgesError, Labels, LearnEdgesOptions, ModelKind, TrainOptions,
};
use geodex_testkit::{clustered, naive_knn};

const DIM: usize = 12;

fn data() -> (Vec<f32>, Vec<f32>, Vec<Vec<u64>>) {
    let all = clustered(3_300, DIM, 12, 0.4, 5);
    let (base, queries) = all.split_at(3_000 * DIM);
    let truth = naive_knn(base, queries, DIM, 10, Metric::L2)
        .into_iter()
        .map(|row| row.into_iter().map(u64::from).collect())
        .collect();
    (base.to_vec(), queries.to_vec(), truth)
}

fn options(kind: ModelKind, labels: Labels) -> LearnEdgesOptions {
    LearnEdgesOptions {
        m: 8,
        ef_construction: 64,
        width: 32,
        threads: Some(1),
        calibration_rows: 1_500,
        train: TrainOptions {
            kind,
            hidden: 6,
            epochs: 8,
            learning_rate: 0.05,
            labels,
            seed: 3,
            ..TrainOptions::default()
        },
        ..LearnEdgesOptions::default()
    }
}

#[test]
fn a_learned_rule_builds_a_searchable_graph_at_the_heuristics_degree() {
    let (base, queries, truth) = data();
    for (kind, labels) in [
        (ModelKind::Logistic, Labels::Progress),
        (ModelKind::Mlp, Labels::Path),
    ] {
        let opts = options(kind, labels);
        let learned = learn_edges(base.clone(), DIM, &queries, &truth, &opts).unwrap();
        let again = learn_edges(base.clone(), DIM, &queries, &truth, &opts).unwrap();
        assert_eq!(learned.model, again.model, "one thread, same seed: same model");
        let r = &learned.report;
        assert!(r.train_nodes > 50 && r.positives_per_node >= 1.0, "{r:?}");
        // Calibrated by building the sample: degrees within 5 % of each other.
        let (h, l) = (r.sample_degree_heuristic, r.sample_degree_learned);
        assert!(
            (l - h).abs() <= 0.05 * h,
            "sample degrees: heuristic {h}, learned {l}"
        );

        // Build the full base with the rule; the graph must be navigable (brute force decides).
        let params = |edges| BuildParams {
            m: 8,
            ef_construction: 64,
            threads: Some(1),
            edges,
            ..Default::default()
        };
        let index = Index::build(
            base.clone(),
            DIM,
            &params(learned.model.clone().into_rule()),
            &|_| {},
        )
        .unwrap();
        let heuristic = Index::build(
            base.clone(),
            DIM,
            &params(geodex_core::EdgeRule::Heuristic),
            &|_| {},
        )
        .unwrap();
        let random = Index::build(
            base.clone(),
            DIM,
            &params(geodex_core::EdgeRule::Random { seed: 1 }),
            &|_| {},
        )
        .unwrap();
        let (dl, dh) = (mean_degree0(&index), mean_degree0(&heuristic));
        assert!(
            (dl - dh).abs() <= 0.1 * dh,
            "full build degrees: learned {dl}, heuristic {dh}"
        );
        let test = clustered(200, DIM, 12, 0.4, 99);
        let exact = naive_knn(&base, &test, DIM, 10, Metric::L2);
        let recall = |ix: &Index<f32>, ef: usize| {
            let mut ctx = SearchContext::new();
            let found: Vec<Vec<u32>> = test
                .chunks(DIM)
                .map(|q| {
                    let (hits, _) = ix.search(q, &SearchParams::new(10, ef), &mut ctx).unwrap();
                    hits.iter().map(|h| h.key.0 as u32).collect()
                })
                .collect();
            geodex_core::measure::recall_at_k(&found, &exact, 10)
        };
        // At equal degree the trained rule must beat links drawn at random (and be navigable).
        let (learned_recall, random_recall) = (recall(&index, 32), recall(&random, 32));
        eprintln!(
            "{kind:?}/{labels:?} ef 32: learned {learned_recall} random {random_recall} heuristic {}",
            recall(&heuristic, 32)
        );
        assert!(
            learned_recall > random_recall,
            "{kind:?}/{labels:?}: {learned_recall} vs random {random_recall}"
        );
        assert!(
            recall(&index, 256) > 0.9,
            "{kind:?}/{labels:?}: recall@10 {} at ef 256",
            recall(&index, 256)
        );
    }
}

#[test]
fn bad_inputs_are_typed_errors() {
    let (base, queries, truth) = data();
    let opts = options(ModelKind::Logistic, Labels::Progress);
    let mut short = truth.clone();
    short.pop();
    assert!(matches!(
        learn_edges(base.clone(), DIM, &queries, &short, &opts),
        Err(EdgesError::Invalid(_))
    ));
    let mut outside = truth.clone();
    outside[0][0] = 3_000;
    assert!(matches!(
        learn_edges(base.clone(), DIM, &queries, &outside, &opts),
        Err(EdgesError::Invalid(_))
    ));
    let ip = LearnEdgesOptions {
        metric: Metric::InnerProduct,
        ..opts.clone()
    };
    assert!(matches!(
        learn_edges(base.clone(), DIM, &queries, &truth, &ip),
        Err(EdgesError::Invalid(_))
    ));
    assert!(learn_edges(base[..5].to_vec(), DIM, &queries, &truth, &opts).is_err());
}

#[test]
fn annealing_tracks_its_objective_exactly_and_keeps_every_degree() {
    use geodex_edges::anneal::{anneal, AnnealOptions, Schedule};
    use geodex_edges::labels::candidate_lists;
    use geodex_edges::walk::beam;

    let (base, queries, truth) = data();
    let params = BuildParams {
        m: 8,
        ef_construction: 64,
        threads: Some(1),
        ..Default::default()
    };
    let mut index = Index::build(base, DIM, &params, &|_| {}).unwrap();
    let lists = candidate_lists(&index, 16, 64).unwrap();
    let before: Vec<Vec<u32>> = {
        use geodex_core::GraphView;
        let g = index.graph();
        (0..index.len() as u32).map(|u| g.links(u, 0).to_vec()).collect()
    };
    for schedule in [Schedule::Greedy, Schedule::Log] {
        let opts = AnnealOptions {
            ef: 16,
            steps: 1_500,
            schedule,
            t0: 3.0,
            ..AnnealOptions::default()
        };
        let (after, report) = anneal(&index, &lists, &queries, &truth, &opts);
        let (again, _) = anneal(&index, &lists, &queries, &truth, &opts);
        assert_eq!(after, again, "same seed, same lists");
        // Every list keeps its length; every new link is one of the node's candidates.
        for (u, (a, b)) in after.iter().zip(&before).enumerate() {
            assert_eq!(a.len(), b.len());
            assert!(a
                .iter()
                .all(|v| b.contains(v) || lists[u].iter().any(|c| c.0 == *v)));
        }
        // The objective it tracked incrementally equals the objective recomputed from scratch.
        let k = opts.k;
        let recomputed: f64 = queries
            .chunks(DIM)
            .zip(&truth)
            .map(|(q, t)| {
                let w = beam(&index, q, opts.ef, |b, visit| {
                    after[b as usize].iter().for_each(|&x| visit(x))
                });
                let found: Vec<u64> = w.best.iter().take(k).map(|&(_, id)| u64::from(id)).collect();
                let hits = t.iter().take(k).filter(|x| found.contains(x)).count();
                w.distances as f64 + opts.miss_cost * (k - hits) as f64
            })
            .sum::<f64>()
            / truth.len() as f64;
        assert!(
            (recomputed - report.final_cost).abs() < 1e-9,
            "{recomputed} vs {}",
            report.final_cost
        );
        if schedule == Schedule::Greedy {
            assert!(report.final_cost < report.initial_cost, "{report:?}");
        }
        assert!(report.accepted > 0);
    }
    index.replace_level0(&before).unwrap();
    let mut bad = before.clone();
    bad[0].push(0);
    assert!(index.replace_level0(&bad).is_err(), "a self-loop is refused");
}
