//! Stopping rules against independent computations: brute-force ground truth, the plain beam
//! search they must equal when they cannot stop, and the file format they are stored in.

use geodex_adaptive::evaluate::{mean_distances, mean_recall, outcomes, recall};
use geodex_adaptive::gbdt::GbdtOptions;
use geodex_adaptive::ppo::PpoOptions;
use geodex_adaptive::{learn, split, traces, LearnOptions, Workload};
use geodex_core::stop::{Calibration, GAIN_FEATURES};
use geodex_core::{
    AnyIndex, BuildParams, CoreError, Index, Metric, SearchContext, SearchParams, StopKind, StopModel,
    StopRule,
};
use geodex_testkit::naive_knn;

const DIM: usize = 16;
const K: usize = 10;

struct Set {
    index: Index<f32>,
    learn_q: Vec<f32>,
    learn_t: Vec<Vec<u64>>,
    test_q: Vec<f32>,
    test_t: Vec<Vec<u64>>,
}

/// One draw of clustered points cut into base (3,000), learning (400) and test (300) rows, so
/// that all three come from the same clusters; truth by brute force. The spread and the sparse
/// graph make the queries hard enough that ef = k stays below the targets.
fn set(byte_walk: bool) -> Set {
    let all = geodex_testkit::clustered(3_700, DIM, 30, 2.0, 11);
    let (base, rest) = all.split_at(3_000 * DIM);
    let (learn_q, test_q) = rest.split_at(400 * DIM);
    let truth = |q: &[f32]| -> Vec<Vec<u64>> {
        naive_knn(base, q, DIM, K, Metric::L2)
            .into_iter()
            .map(|r| r.into_iter().map(u64::from).collect())
            .collect()
    };
    let params = BuildParams {
        metric: Metric::L2,
        m: 8,
        ef_construction: 60,
        threads: Some(1),
        ..Default::default()
    };
    let mut index = Index::build(base.to_vec(), DIM, &params, &|_| {}).unwrap();
    index.set_byte_walk(byte_walk);
    Set {
        learn_t: truth(learn_q),
        test_t: truth(test_q),
        learn_q: learn_q.to_vec(),
        test_q: test_q.to_vec(),
        index,
    }
}

fn opts(targets: &[f64]) -> LearnOptions {
    LearnOptions {
        k: K,
        ef_cap: 128,
        interval: 16,
        targets: targets.to_vec(),
        gain: Some(GbdtOptions::gain()),
        ..LearnOptions::default()
    }
}

/// [`opts`] with a small PPO run, so every rule (the PPO one included) is calibrated.
fn opts_with_ppo(targets: &[f64]) -> LearnOptions {
    LearnOptions {
        ppo: Some(PpoOptions {
            costs: vec![0.05, 0.2],
            iterations: 40,
            episodes: 128,
            ..PpoOptions::default()
        }),
        ..opts(targets)
    }
}

/// The model learned on `s`'s learning queries for target 0.9 with [`opts`].
fn model_at_0_9(s: &Set) -> StopModel {
    learn(&s.index, &workload(&s.learn_q, &s.learn_t), &opts(&[0.9]))
        .unwrap()
        .model
}

/// Knobs with which no rule of `model` stops before the beam of `width` converges: patience
/// never reached, every score threshold above every score, every ada bin at `width`.
fn never_stopping(model: &StopModel, width: usize) -> Calibration {
    Calibration {
        target: 0.9,
        fixed_ef: width,
        beam: width,
        patience: u32::MAX,
        threshold: 2.0,
        ada_ef: vec![width; model.ada_edges.len() + 1],
        adaef_ef: vec![width; model.adaef.as_ref().map_or(0, |a| a.edges.len() + 1)],
        ppo_threshold: None,
        gbdt_threshold: Some(2.0),
        gain_threshold: Some(2.0),
        epsilon: None,
        budget: None,
    }
}

fn workload<'a>(q: &'a [f32], t: &'a [Vec<u64>]) -> Workload<'a, f32> {
    Workload {
        queries: q,
        truth: t,
        k: K,
    }
}

/// Calibrated on the learning queries, every rule meets its mean-recall target on queries it
/// never saw, within the sampling error of 300 queries; and learning is deterministic.
#[test]
fn every_rule_meets_its_target_on_unseen_queries() {
    for byte_walk in [false, true] {
        let s = set(byte_walk);
        let o = opts_with_ppo(&[0.85, 0.95]);
        let learned = learn(&s.index, &workload(&s.learn_q, &s.learn_t), &o).unwrap();
        let again = learn(&s.index, &workload(&s.learn_q, &s.learn_t), &o).unwrap();
        // One policy per cost, the kept one the cheapest at the median target.
        assert_eq!(learned.ppo.len(), 2);
        let kept: Vec<_> = learned.ppo.iter().filter(|t| t.chosen).collect();
        assert_eq!(kept.len(), 1);
        assert!(learned
            .ppo
            .iter()
            .all(|t| t.selection_distances >= kept[0].selection_distances));
        assert_eq!(learned.model, again.model, "same seed, same model");
        let model = &learned.model;
        assert_eq!(model.byte_walk, byte_walk);
        let test = workload(&s.test_q, &s.test_t);
        for target in [0.85, 0.95] {
            for kind in StopKind::ALL {
                let rule = StopRule::new(model, kind, target).unwrap();
                let got = mean_recall(&outcomes(&s.index, &test, 0, Some(&rule)).unwrap());
                assert!(
                    (got - target).abs() < 0.03,
                    "byte walk {byte_walk}, {} at {target}: mean recall {got}",
                    kind.name()
                );
            }
        }
    }
}

/// The adaef rule's law of a query's distances to the base has the mean and standard
/// deviation of the distances themselves, computed one by one over every stored vector — for
/// squared L2 and for the cosine distance on unit vectors — exactly with every principal axis
/// kept, and close with a few.
#[test]
fn the_distance_law_has_the_moments_of_the_distances() {
    use geodex_core::stop::law::WalkForm;
    let s = set(false);
    let rows: Vec<&[f32]> = (0..s.index.len())
        .map(|i| s.index.vector(geodex_core::NodeId(i as u32)))
        .collect();
    let brute = |q: &[f32], d: &dyn Fn(&[f32], &[f32]) -> f64| {
        let all: Vec<f64> = rows.iter().map(|x| d(q, x)).collect();
        let m = all.iter().sum::<f64>() / all.len() as f64;
        let var = all.iter().map(|v| (v - m).powi(2)).sum::<f64>() / all.len() as f64;
        (m, var.sqrt())
    };
    let l2 = |q: &[f32], x: &[f32]| {
        q.iter()
            .zip(x)
            .map(|(a, b)| ((a - b) as f64).powi(2))
            .sum::<f64>()
    };
    let exact = geodex_adaptive::law::fit(&s.index, DIM);
    let reduced = geodex_adaptive::law::fit(&s.index, 4);
    let form = WalkForm {
        alpha: 1.0,
        beta: 1.0,
        gamma: 0.0,
    };
    for q in s.test_q.chunks_exact(DIM).take(20) {
        let (m, sd) = brute(q, &l2);
        let (lm, lsd) = exact.moments(form, q);
        assert!((lm as f64 - m).abs() < 1e-4 * m, "mean {lm} vs {m}");
        assert!((lsd as f64 - sd).abs() < 1e-3 * sd, "sd {lsd} vs {sd}");
        let (_, rsd) = reduced.moments(form, q);
        assert!((rsd as f64 - sd).abs() < 0.25 * sd, "4 axes: sd {rsd} vs {sd}");
    }
    // Cosine: the law of 1 − q·x over unit rows.
    let unit: Vec<f32> = s
        .test_q
        .chunks_exact(DIM)
        .flat_map(|r| {
            let n = r.iter().map(|x| x * x).sum::<f32>().sqrt();
            r.iter().map(move |x| x / n)
        })
        .collect();
    let params = BuildParams {
        metric: Metric::Cosine,
        m: 8,
        ef_construction: 40,
        threads: Some(1),
        ..Default::default()
    };
    let base: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    let cosine = Index::build(base, DIM, &params, &|_| {}).unwrap();
    let stored: Vec<&[f32]> = (0..cosine.len())
        .map(|i| cosine.vector(geodex_core::NodeId(i as u32)))
        .collect();
    let law = geodex_adaptive::law::fit(&cosine, DIM);
    let form = WalkForm {
        alpha: 0.0,
        beta: 0.5,
        gamma: 1.0,
    };
    for q in unit.chunks_exact(DIM).take(20) {
        let all: Vec<f64> = stored
            .iter()
            .map(|x| 1.0 - q.iter().zip(*x).map(|(a, b)| (a * b) as f64).sum::<f64>())
            .collect();
        let m = all.iter().sum::<f64>() / all.len() as f64;
        let sd = (all.iter().map(|v| (v - m).powi(2)).sum::<f64>() / all.len() as f64).sqrt();
        let (lm, lsd) = law.moments(form, q);
        assert!((lm as f64 - m).abs() < 1e-4, "cosine mean {lm} vs {m}");
        assert!((lsd as f64 - sd).abs() < 1e-3 * sd, "cosine sd {lsd} vs {sd}");
    }
}

/// With few axes kept, the law's variance of `q·x` — `qᵀΣq` from the kept axes and the
/// calibrated variance per unit of norm on the rest — is exact on average over the base's own
/// rows as queries: its mean over them equals the mean of `Var_x(q·x)` computed one stored row
/// at a time. (The mean of the dropped eigenvalues in its place, probabilistic PCA's, fails it:
/// 1.6 % low with 2 axes.)
#[test]
fn the_reduced_law_is_exact_on_average_over_the_base() {
    use geodex_core::stop::law::WalkForm;
    let s = set(false);
    let rows: Vec<&[f32]> = (0..s.index.len())
        .map(|i| s.index.vector(geodex_core::NodeId(i as u32)))
        .collect();
    let dot = |q: &[f32], x: &[f32]| q.iter().zip(x).map(|(a, b)| (a * b) as f64).sum::<f64>();
    let brute_var = |q: &[f32]| {
        let all: Vec<f64> = rows.iter().map(|x| dot(q, x)).collect();
        let m = all.iter().sum::<f64>() / all.len() as f64;
        all.iter().map(|v| (v - m).powi(2)).sum::<f64>() / all.len() as f64
    };
    let want = rows.iter().map(|q| brute_var(q)).sum::<f64>() / rows.len() as f64;
    // Var(−q·x) = qᵀΣq: the negated inner product's law, α = 0, β = ½.
    for axes in [2, 4, 8] {
        let law = geodex_adaptive::law::fit(&s.index, axes);
        let got = rows
            .iter()
            .map(|q| (law.moments(WalkForm::NEGATED_DOT, q).1 as f64).powi(2))
            .sum::<f64>()
            / rows.len() as f64;
        assert!(
            (got - want).abs() < 1e-3 * want,
            "{axes} axes: mean qᵀΣq {got} vs {want}"
        );
    }
}

/// A rule that cannot stop leaves the search exactly as the paper's loop at the same width:
/// patience never reached, a threshold above every prediction, ada with every bin at the
/// width it starts with.
#[test]
fn a_rule_that_cannot_stop_changes_nothing() {
    let s = set(false);
    let model = model_at_0_9(&s);
    let width = 48;
    let knobs = never_stopping(&model, width);
    let mut ctx = SearchContext::new();
    for kind in StopKind::ALL {
        let rule = StopRule::with_knobs(&model, kind, &knobs);
        assert_eq!(rule.beam_width(), width);
        for q in s.test_q.chunks_exact(DIM).take(100) {
            let plain = s.index.search(q, &SearchParams::new(K, width), &mut ctx).unwrap();
            let p = SearchParams {
                stop: Some(&rule),
                ..SearchParams::new(K, K)
            };
            let watched = s.index.search(q, &p, &mut ctx).unwrap();
            assert_eq!(plain, watched, "{}", kind.name());
        }
    }
}

/// A work budget stops the rules that decide while they search within one expansion of it —
/// their searches otherwise the plain beam's, as with no budget — and changes nothing for the
/// fixed and bin-width rules. Level-0 lists hold at most 2m = 16 links, so an expansion adds at
/// most 16 evaluations.
#[test]
fn a_budget_bounds_the_work_of_the_rules_that_decide_while_they_search() {
    let s = set(false);
    let model = model_at_0_9(&s);
    let width = 96;
    let test = workload(&s.test_q, &s.test_t);
    let plain = outcomes(&s.index, &test, width, None).unwrap();
    let mut work: Vec<u64> = plain.iter().map(|o| o.distances).collect();
    work.sort_unstable();
    let budget = work[work.len() / 2];
    let knobs = Calibration {
        budget: Some(budget),
        ..never_stopping(&model, width)
    };
    for kind in StopKind::ALL {
        let rule = StopRule::with_knobs(&model, kind, &knobs);
        let got = outcomes(&s.index, &test, 0, Some(&rule)).unwrap();
        let mut cut = 0;
        for (i, (p, g)) in plain.iter().zip(&got).enumerate() {
            if !kind.uses_budget() || p.distances < budget {
                // Never reached the budget: the search the rule would run without it.
                assert_eq!(p, g, "{} query {i}", kind.name());
            } else {
                cut += 1;
                assert!(
                    (budget..budget + 16).contains(&g.distances),
                    "{} query {i}: {} evaluations, budget {budget}",
                    kind.name(),
                    g.distances
                );
            }
        }
        assert_eq!(cut > 0, kind.uses_budget(), "{}", kind.name());
    }
}

/// Learned with a work cap, the rules still meet their targets on unseen queries, and every
/// budgeted rule's work stays within an expansion of its target's budget.
#[test]
fn rules_learned_under_a_work_cap_meet_their_targets_within_it() {
    let s = set(true);
    let o = LearnOptions {
        work_cap: Some(0.9),
        ..opts_with_ppo(&[0.85, 0.95])
    };
    let model = learn(&s.index, &workload(&s.learn_q, &s.learn_t), &o)
        .unwrap()
        .model;
    let test = workload(&s.test_q, &s.test_t);
    for c in model
        .calibration
        .iter()
        .filter(|c| [0.85, 0.95].contains(&c.target))
    {
        let budget = c.budget.expect("every target has a budget");
        let fixed = outcomes(&s.index, &test, c.fixed_ef, None).unwrap();
        let most = fixed.iter().map(|o| o.distances).max().unwrap();
        assert!(
            budget < most,
            "at {}: budget {budget}, fixed ef's most {most}",
            c.target
        );
        for kind in StopKind::ALL.into_iter().filter(|k| k.uses_budget()) {
            let rule = StopRule::new(&model, kind, c.target).unwrap();
            let got = outcomes(&s.index, &test, 0, Some(&rule)).unwrap();
            let recall = mean_recall(&got);
            assert!(
                (recall - c.target).abs() < 0.03,
                "{} at {}: mean recall {recall}",
                kind.name(),
                c.target
            );
            assert!(got.iter().all(|o| o.distances < budget + 16), "{}", kind.name());
        }
    }
}

/// Given several beam factors, each target gets the calibration of one factor learned alone
/// (same seed, so the same fit), the one whose logistic rule needs the fewest distance
/// evaluations on the calibration half — recomputed here from the single-factor models — the
/// narrower on a tie.
#[test]
fn several_beam_factors_keep_the_least_work_per_target() {
    let s = set(true);
    let w = workload(&s.learn_q, &s.learn_t);
    let factors = [1.0, 1.3, 2.0];
    let with = |beam_factors: Vec<f64>| {
        let o = LearnOptions {
            beam_factors,
            ..opts(&[0.85, 0.95])
        };
        learn(&s.index, &w, &o).unwrap().model
    };
    let chosen = with(factors.to_vec());
    let alone: Vec<StopModel> = factors.iter().map(|&f| with(vec![f])).collect();
    let (_, cal_rows) = split(w.len(), LearnOptions::default().seed);
    let (cal_q, cal_t) = w.select(DIM, &cal_rows);
    let cal = workload(&cal_q, &cal_t);
    let mut kept = [0; 3];
    for (i, c) in chosen.calibration.iter().enumerate() {
        let work: Vec<f64> = alone
            .iter()
            .map(|m| {
                let rule = StopRule::with_knobs(m, StopKind::Learned, &m.calibration[i]);
                mean_distances(&outcomes(&s.index, &cal, 0, Some(&rule)).unwrap())
            })
            .collect();
        // Narrowest first among equals: the factors ascend, and so do their beams.
        let best = (0..factors.len())
            .min_by(|&a, &b| {
                work[a]
                    .total_cmp(&work[b])
                    .then(alone[a].calibration[i].beam.cmp(&alone[b].calibration[i].beam))
            })
            .unwrap();
        let same_beam = alone
            .iter()
            .position(|m| m.calibration[i].beam == alone[best].calibration[i].beam)
            .unwrap();
        assert_eq!(
            c, &alone[same_beam].calibration[i],
            "target {}: work {work:?}",
            c.target
        );
        kept[best] += 1;
    }
    // The choice must be exercised: on this set some target keeps a factor other than the
    // default, so an implementation that always kept 1.3 would fail here.
    assert!(kept[0] + kept[2] > 0, "always 1.3: {kept:?}");
}

/// The gain rule in the search loop sees exactly the inputs training computes from traces: at
/// the cap beam width, each query stops at the first traced check whose replayed score reaches
/// the threshold (the natural end when none does) — distance evaluations and recall both as
/// the replay says.
#[test]
fn the_gain_rule_stops_where_its_trace_replay_stops() {
    let s = set(false);
    let model = model_at_0_9(&s);
    let w = workload(&s.test_q, &s.test_t);
    let traced = traces(&s.index, &model, &w).unwrap();
    let score = |x: &[f32; GAIN_FEATURES]| model.gain_score(x);
    let mut scores: Vec<f32> = traced
        .iter()
        .flat_map(|t| t.gain_rows())
        .map(|(x, _)| score(&x))
        .collect();
    scores.sort_by(f32::total_cmp);
    let knobs = Calibration {
        gain_threshold: Some(scores[scores.len() / 2]),
        ..never_stopping(&model, model.ef_cap)
    };
    let rule = StopRule::with_knobs(&model, StopKind::Gain, &knobs);
    let stopped = outcomes(&s.index, &w, 0, Some(&rule)).unwrap();
    let mut early = 0;
    for (i, (trace, got)) in traced.iter().zip(&stopped).enumerate() {
        let rows = trace.gain_rows();
        let at = rows
            .iter()
            .position(|(x, _)| score(x) >= knobs.gain_threshold.unwrap())
            .unwrap_or(rows.len() - 1);
        early += usize::from(at + 1 < rows.len());
        assert_eq!(got.distances, trace.distances[at], "query {i}");
        assert_eq!(got.recall as f32, trace.rows[at].1, "query {i}");
    }
    assert!(
        early > traced.len() / 4,
        "the threshold stops {early} queries early"
    );
}

/// The epsilon rule against a replay of its condition on traces checked after every expansion
/// that measured a distance: it never runs past the first recorded state whose best queued
/// candidate lies beyond (1 + ε)·d_k, stops exactly there unless an expansion that measured
/// nothing new (not recorded) met the condition earlier, and every stop is a recorded state
/// of the trace with its recall. The traces run at a beam as wide as the base, which queues
/// every node it measures: the rule explores by its radius, not by a beam, and a narrower
/// traced beam would leave out nodes within the radius that the rule expands.
#[test]
fn the_epsilon_rule_stops_where_its_trace_replay_stops() {
    const CANDIDATE_OVER_KTH: usize = 4;
    let s = set(false);
    let model = StopModel {
        interval: 1,
        ef_cap: s.index.len(),
        ..model_at_0_9(&s)
    };
    let w = workload(&s.test_q, &s.test_t);
    let traced = traces(&s.index, &model, &w).unwrap();
    let mut ratios: Vec<f32> = traced
        .iter()
        .flat_map(|t| t.rows.iter().map(|(f, _)| f[CANDIDATE_OVER_KTH]))
        .filter(|&r| r > 1.0 && r < 10.0)
        .collect();
    ratios.sort_by(f32::total_cmp);
    let epsilon = ratios[ratios.len() / 2] - 1.0;
    let knobs = Calibration {
        epsilon: Some(epsilon),
        ..never_stopping(&model, model.ef_cap)
    };
    let rule = StopRule::with_knobs(&model, StopKind::Epsilon, &knobs);
    let stopped = outcomes(&s.index, &w, 0, Some(&rule)).unwrap();
    let (mut early, mut exact) = (0, 0);
    for (i, (trace, got)) in traced.iter().zip(&stopped).enumerate() {
        let at = trace
            .rows
            .iter()
            .position(|(f, _)| f[CANDIDATE_OVER_KTH] > 1.0 + epsilon)
            .unwrap_or(trace.rows.len() - 1);
        let stop = trace.distances[..=at]
            .iter()
            .rposition(|&d| d == got.distances)
            .unwrap_or_else(|| panic!("query {i}: {} evaluations, no recorded state", got.distances));
        assert_eq!(got.recall as f32, trace.rows[stop].1, "query {i}");
        exact += usize::from(stop == at);
        early += usize::from(at + 1 < trace.rows.len());
    }
    assert!(
        early > traced.len() / 4,
        "ε {epsilon} stops {early} queries early"
    );
    // Late in a search whose queue holds every measured node, many expansions measure
    // nothing new: the rule checks after them too, the replay cannot (216 of 300 exact here).
    assert!(
        exact * 3 >= traced.len() * 2,
        "{exact} of {} stop at the replay's check",
        traced.len()
    );
}

/// A trace's recall labels, recomputed from its recorded ids against brute force: they never
/// fall on exact distances (a closer node only replaces a farther one), and the last equals the
/// recall of the plain search at the cap, whose best hit is the trace's last best key.
#[test]
fn traces_end_where_the_plain_search_ends() {
    let s = set(false);
    let model = model_at_0_9(&s);
    let w = workload(&s.test_q, &s.test_t);
    let t = traces(&s.index, &model, &w).unwrap();
    let mut ctx = SearchContext::new();
    for (i, trace) in t.iter().enumerate().take(100) {
        assert!(!trace.rows.is_empty());
        assert!(trace.rows.windows(2).all(|p| p[0].1 <= p[1].1), "query {i}");
        let q = &s.test_q[i * DIM..][..DIM];
        let (hits, _) = s
            .index
            .search(q, &SearchParams::new(K, model.ef_cap), &mut ctx)
            .unwrap();
        let plain = recall(hits.iter().map(|h| h.key.0), &s.test_t[i], K);
        assert_eq!(
            trace.rows.last().unwrap().1 as f64,
            plain as f32 as f64,
            "query {i}"
        );
        for (f, _) in &trace.rows {
            assert!(f.iter().all(|x| x.is_finite()));
        }
        assert_eq!(trace.best.len(), trace.rows.len());
        assert_eq!(trace.best.last(), Some(&hits[0].key.0), "query {i}");
        frontier_agrees_with_the_best_candidate(trace, i);
    }
}

/// The frontier (counted over the whole queue) against the best queued candidate (the queue's
/// top, a separate feature): candidates nearer than the k-th exist exactly when the best one is
/// nearer, their mean ratio is no smaller than the best's, counts are whole candidates, and the
/// natural end (empty queue) has none.
fn frontier_agrees_with_the_best_candidate(trace: &geodex_adaptive::QueryTrace, query: usize) {
    assert_eq!(trace.frontier.len(), trace.rows.len());
    for ((f, _), front) in trace.rows.iter().zip(&trace.frontier) {
        let best = f[4];
        let queued = front.queued_below_kth * K as f32;
        assert!((queued - queued.round()).abs() < 1e-4, "query {query}: {queued}");
        assert_eq!(queued > 0.5, best < 1.0, "query {query}: {front:?} best {best}");
        if queued > 0.5 {
            assert!(front.mean_below_kth >= best - 1e-6 && front.mean_below_kth < 1.0);
        } else {
            assert_eq!(front.mean_below_kth, 1.0);
        }
    }
    let last = trace.frontier.last().unwrap();
    assert_eq!(last.queued_below_kth, 0.0, "query {query}");
}

/// The model is stored in the index file and read back equal; a file without one has no
/// such section; bad models, targets and searches are refused with typed errors.
#[test]
fn the_model_persists_and_bad_input_is_refused() {
    let s = set(false);
    let model = model_at_0_9(&s);
    let dir = tempfile::tempdir().unwrap();
    let (plain_path, with_path) = (dir.path().join("plain.gdx"), dir.path().join("with.gdx"));
    s.index.save(&plain_path).unwrap();
    let mut index = s.index.clone();
    assert!(!index.section_sizes().iter().any(|(k, _)| k == "StopModel"));
    index.set_stop_model(Some(model.clone())).unwrap();
    assert!(index.section_sizes().iter().any(|(k, _)| k == "StopModel"));
    index.save(&with_path).unwrap();
    let AnyIndex::F32(opened) = AnyIndex::open(&with_path, true).unwrap() else {
        panic!()
    };
    assert_eq!(opened.stop_model(), Some(&model));
    let AnyIndex::F32(plain) = AnyIndex::open(&plain_path, true).unwrap() else {
        panic!()
    };
    assert_eq!(plain.stop_model(), None);

    // A byte changed inside the stored model: the file is refused as invalid.
    let mut bytes = std::fs::read(&with_path).unwrap();
    let at = bytes.windows(10).position(|w| w == b"\"ef_cap\":1").unwrap();
    bytes[at + 9] = b'x';
    let broken = dir.path().join("broken.gdx");
    std::fs::write(&broken, &bytes).unwrap();
    assert!(matches!(
        AnyIndex::open(&broken, true),
        Err(CoreError::InvalidIndex { .. })
    ));

    // Models that do not fit.
    let mut other_dim = model.clone();
    other_dim.dim = DIM + 1;
    assert!(index.set_stop_model(Some(other_dim)).is_err());
    let mut bad_knob = model.clone();
    bad_knob.calibration[0].fixed_ef = model.ef_cap + 1;
    assert!(index.set_stop_model(Some(bad_knob)).is_err());
    // A work budget persists; a model without one stores no budget field (files from before
    // the budget read the same); a budget of zero evaluations is refused.
    assert!(!std::fs::read(&with_path)
        .unwrap()
        .windows(6)
        .any(|w| w == b"budget"));
    let mut budgeted = model.clone();
    budgeted
        .calibration
        .iter_mut()
        .for_each(|c| c.budget = Some(1234));
    let mut with_budget = s.index.clone();
    with_budget.set_stop_model(Some(budgeted.clone())).unwrap();
    let budget_path = dir.path().join("budget.gdx");
    with_budget.save(&budget_path).unwrap();
    let AnyIndex::F32(reopened) = AnyIndex::open(&budget_path, true).unwrap() else {
        panic!()
    };
    assert_eq!(reopened.stop_model(), Some(&budgeted));
    budgeted.calibration[0].budget = Some(0);
    assert!(index.set_stop_model(Some(budgeted)).is_err());
    // Every calibration has its ε; a negative or non-finite one is refused, and a model from
    // before the epsilon rule (no ε) still opens but refuses that rule, naming the fix.
    assert!(model
        .calibration
        .iter()
        .all(|c| c.epsilon.is_some_and(|e| e >= 0.0)));
    for bad in [-0.1, f32::NAN, f32::INFINITY] {
        let mut bad_radius = model.clone();
        bad_radius.calibration[0].epsilon = Some(bad);
        assert!(index.set_stop_model(Some(bad_radius)).is_err(), "ε {bad}");
    }
    let mut older = model.clone();
    older.calibration.iter_mut().for_each(|c| c.epsilon = None);
    assert!(index.set_stop_model(Some(older.clone())).is_ok());
    assert!(matches!(
        StopRule::new(&older, StopKind::Epsilon, 0.9),
        Err(CoreError::InvalidParameter(m)) if m.contains("learn-stop")
    ));
    // An adaef law or bins that do not fit: a component short, a non-finite moment, a width
    // per bin missing.
    fn law_of(m: &mut StopModel) -> &mut geodex_core::stop::law::DistanceLaw {
        &mut m.adaef.as_mut().unwrap().law
    }
    let mut short = model.clone();
    law_of(&mut short).mean.pop();
    assert!(index.set_stop_model(Some(short)).is_err());
    let mut nan = model.clone();
    law_of(&mut nan).norm_var = f32::NAN;
    assert!(index.set_stop_model(Some(nan)).is_err());
    let mut missing = model.clone();
    missing.calibration[0].adaef_ef.pop();
    assert!(index.set_stop_model(Some(missing)).is_err());
    // Without a law the adaef rule is refused, naming the fix.
    let mut lawless = model.clone();
    lawless.adaef = None;
    lawless.calibration.iter_mut().for_each(|c| c.adaef_ef.clear());
    assert!(index.set_stop_model(Some(lawless.clone())).is_ok());
    assert!(matches!(
        StopRule::new(&lawless, StopKind::AdaEf, 0.9),
        Err(CoreError::InvalidParameter(m)) if m.contains("learn-stop")
    ));

    // A model trained without --ppo has no PPO policy: the rule is refused, naming the fix,
    // and the stored model carries no PPO fields (files from before the rule read the same).
    assert!(matches!(
        StopRule::new(&model, StopKind::Ppo, 0.9),
        Err(CoreError::InvalidParameter(m)) if m.contains("--ppo")
    ));
    assert!(!std::fs::read(&with_path).unwrap().windows(3).any(|w| w == b"ppo"));
    // The same for a model trained without trees and the gbdt and gain rules.
    let treeless = learn(
        &s.index,
        &workload(&s.learn_q, &s.learn_t),
        &LearnOptions {
            gbdt: None,
            gain: None,
            ..opts(&[0.9])
        },
    )
    .unwrap()
    .model;
    assert!(treeless.gbdt.is_none() && model.gbdt.is_some());
    assert!(treeless.gain.is_none() && model.gain.is_some());
    for kind in [StopKind::Gbdt, StopKind::Gain] {
        assert!(matches!(
            StopRule::new(&treeless, kind, 0.9),
            Err(CoreError::InvalidParameter(m)) if m.contains("learn-stop")
        ));
    }
    let treeless_path = dir.path().join("treeless.gdx");
    let mut treeless_index = s.index.clone();
    treeless_index.set_stop_model(Some(treeless.clone())).unwrap();
    treeless_index.save(&treeless_path).unwrap();
    let stored = std::fs::read(&treeless_path).unwrap();
    assert!(!stored.windows(4).any(|w| w == b"gbdt" || w == b"gain"));
    let mut half_trees = treeless.clone();
    half_trees.gbdt = model.gbdt.clone();
    assert!(
        index.set_stop_model(Some(half_trees)).is_err(),
        "trees without thresholds"
    );
    let mut bad_trees = model.clone();
    bad_trees.gbdt.as_mut().unwrap().features[0] = 200;
    assert!(
        index.set_stop_model(Some(bad_trees)).is_err(),
        "a split on no feature"
    );
    let mut beyond = model.clone();
    beyond.gain.as_mut().unwrap().features[0] = GAIN_FEATURES as u8;
    assert!(
        index.set_stop_model(Some(beyond)).is_err(),
        "a gain split beyond the history features"
    );
    let mut gain_only_thresholds = treeless.clone();
    gain_only_thresholds.calibration[0].gain_threshold = Some(0.5);
    assert!(
        index.set_stop_model(Some(gain_only_thresholds)).is_err(),
        "a gain threshold without gain trees"
    );
    let mut half_ppo = model.clone();
    half_ppo.ppo_weights = vec![0.0; model.weights.len()];
    assert!(
        index.set_stop_model(Some(half_ppo)).is_err(),
        "a policy without thresholds"
    );

    // Targets outside (0, 1] or the calibrated range.
    for t in [0.0, -0.5, 1.5, f64::NAN] {
        assert!(StopRule::new(&model, StopKind::Learned, t).is_err(), "{t}");
    }
    let (lo, _) = model.targets();
    assert!(StopRule::new(&model, StopKind::Learned, lo / 2.0).is_err());

    // Searches the model does not fit: another k, another walk.
    let rule = StopRule::new(&model, StopKind::Learned, 0.9).unwrap();
    let q = &s.test_q[..DIM];
    let mut ctx = SearchContext::new();
    let other_k = SearchParams {
        stop: Some(&rule),
        ..SearchParams::new(K + 1, K + 1)
    };
    assert!(matches!(
        index.search(q, &other_k, &mut ctx),
        Err(CoreError::InvalidParameter(m)) if m.contains("k = 10")
    ));
    let mut bytes_walk = index.clone();
    bytes_walk.set_byte_walk(true);
    let p = SearchParams {
        stop: Some(&rule),
        ..SearchParams::new(K, K)
    };
    assert!(matches!(
        bytes_walk.search(q, &p, &mut ctx),
        Err(CoreError::InvalidParameter(m)) if m.contains("calibrated on the full vectors")
    ));
}

/// Learning refuses what cannot make a model, naming the problem.
#[test]
fn learning_refuses_bad_input() {
    let s = set(false);
    let w = workload(&s.learn_q, &s.learn_t);
    let err = |o: &LearnOptions, w: &Workload<'_, f32>| learn(&s.index, w, o).unwrap_err().to_string();
    assert!(err(&opts(&[1.2]), &w).contains("outside (0, 1]"));
    assert!(err(&opts(&[]), &w).contains("no recall target"));
    let deep = LearnOptions {
        gbdt: Some(GbdtOptions {
            depth: 12,
            ..GbdtOptions::default()
        }),
        ..opts(&[0.9])
    };
    assert!(err(&deep, &w).contains("gbdt"));
    let few = workload(&s.learn_q[..10 * DIM], &s.learn_t[..10]);
    assert!(err(&opts(&[0.9]), &few).contains("at least 20"));
    for cap in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let capped = LearnOptions {
            work_cap: Some(cap),
            ..opts(&[0.9])
        };
        assert!(err(&capped, &w).contains("work cap"), "work cap {cap}");
    }
    for factors in [vec![], vec![0.5], vec![1.3, f64::NAN], vec![f64::INFINITY]] {
        let o = LearnOptions {
            beam_factors: factors.clone(),
            ..opts(&[0.9])
        };
        assert!(err(&o, &w).contains("beam factors"), "beam factors {factors:?}");
    }
    // A cap too narrow for the target: the error says what the cap reaches.
    let narrow = LearnOptions {
        ef_cap: K,
        ..opts(&[1.0])
    };
    let cap = mean_recall(&outcomes(&s.index, &w, K, None).unwrap());
    assert!(cap < 0.9, "ef = k on this set reaches {cap}");
    assert!(err(&narrow, &w).contains("out of reach"));
}
