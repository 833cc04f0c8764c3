//! What the adaptive path costs when it changes nothing (issue 17: on SIFT the learned rules run
//! below fixed ef's QPS though they do less work, ADAPTIVE.md "Timed on a quiet machine"):
//!
//! ```text
//! cargo run --release -p geodex-adaptive --example hook_cost -- INDEX QUERIES GROUNDTRUTH [TARGETS] [ROUNDS]
//! ```
//!
//! The index must hold a stop model (`geodex learn-stop`). For each target (default
//! 0.9,0.95,0.99) three searches run at the fixed rule's beam width (its mean recall@k against
//! GROUNDTRUTH is printed with it):
//! - `fixed`: the fixed rule, the plain loop with no hooks;
//! - `hooks`: the patience rule with a patience that never runs out, so the search calls every
//!   per-distance, per-insert and per-expansion hook of the adaptive state but makes no check;
//! - `checks`: the learned rule with a threshold it never reaches, so it also computes the
//!   features and the model's prediction every `interval` distances;
//! - `radius`: the epsilon rule's lean state with an ε beyond `stop::EPSILON_MAX`, so it runs as a
//!   plain beam search of the same width through every hook of `stop::Radius` (the top-k
//!   insertion, the widened admission and stop tests, the per-expansion radius check).
//!
//! The three do the same work: the example fails unless every query's distance evaluations and
//! results are equal in all three. They run in interleaved rounds (default 7; each round times
//! every variant over all queries, one after another on this thread, in a rotating order); the
//! median and the best per-query time of each are reported with their excess over `fixed`'s.

mod common;

use std::hint::black_box;
use std::time::Instant;

use geodex_adaptive::calibrate::EPSILON_NEVER;
use geodex_core::{AnyIndex, Component, Index, SearchContext, SearchParams, StopKind, StopRule};
use geodex_io::AnyVectors;

fn main() -> Result<(), common::Failure> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err("usage: hook_cost INDEX QUERIES GROUNDTRUTH [TARGETS] [ROUNDS]".into());
    }
    let truth = common::truth(&args[3])?;
    let targets = common::targets(args.get(4))?;
    let rounds: usize = args.get(5).map_or(Ok(7), |s| s.parse())?;
    match common::index_and_queries(&args[1], &args[2])? {
        (AnyIndex::F32(ix), AnyVectors::F32(q)) => report(&ix, q.as_slice(), &truth, &targets, rounds),
        (AnyIndex::U8(ix), AnyVectors::U8(q)) => report(&ix, q.as_slice(), &truth, &targets, rounds),
        _ => Err("the queries' element type differs from the index's".into()),
    }
}

/// Every query's result ids and distance evaluations under `params`.
type Outcome = Vec<(Vec<u64>, u64)>;

fn run<T: Component>(
    index: &Index<T>,
    queries: &[T],
    params: &SearchParams<'_>,
) -> Result<Outcome, common::Failure> {
    let mut ctx = SearchContext::new();
    queries
        .chunks_exact(index.dim())
        .map(|q| {
            let (hits, stats) = index.search(q, params, &mut ctx)?;
            Ok((hits.iter().map(|h| h.key.0).collect(), stats.distances))
        })
        .collect()
}

/// Microseconds per query of one pass over `queries`.
fn time<T: Component>(
    index: &Index<T>,
    queries: &[T],
    params: &SearchParams<'_>,
) -> Result<f64, common::Failure> {
    let mut ctx = SearchContext::new();
    let start = Instant::now();
    for q in queries.chunks_exact(index.dim()) {
        black_box(index.search(black_box(q), params, &mut ctx)?);
    }
    Ok(start.elapsed().as_secs_f64() * 1e6 / (queries.len() / index.dim()) as f64)
}

/// Mean recall@k of the outcomes against the first k ids of each query's ground truth.
fn mean_recall(outcome: &Outcome, truth: &[Vec<u64>], k: usize) -> f64 {
    let found: usize = outcome
        .iter()
        .zip(truth)
        .map(|((ids, _), t)| ids.iter().filter(|id| t[..k.min(t.len())].contains(id)).count())
        .sum();
    found as f64 / (k * outcome.len()) as f64
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn report<T: Component>(
    index: &Index<T>,
    queries: &[T],
    truth: &[Vec<u64>],
    targets: &[f64],
    rounds: usize,
) -> Result<(), common::Failure> {
    let model = index
        .stop_model()
        .ok_or("the index has no stop model: run geodex learn-stop")?;
    println!("target  ef  recall  variant  median_us  excess  best_us  excess");
    for &target in targets {
        let fixed = StopRule::new(model, StopKind::Fixed, target)?;
        let ef = fixed.beam_width();
        let mut knobs = model.calibration[0].clone();
        knobs.fixed_ef = ef;
        knobs.beam = ef;
        knobs.patience = u32::MAX;
        knobs.threshold = f32::INFINITY;
        let hooks = StopRule::with_knobs(model, StopKind::Patience, &knobs);
        let checks = StopRule::with_knobs(model, StopKind::Learned, &knobs);
        knobs.epsilon = Some(EPSILON_NEVER);
        knobs.budget = None;
        let radius = StopRule::with_knobs(model, StopKind::Epsilon, &knobs);
        let variants = [
            ("fixed", &fixed),
            ("hooks", &hooks),
            ("checks", &checks),
            ("radius", &radius),
        ];
        let params: Vec<SearchParams<'_>> = variants
            .iter()
            .map(|(_, rule)| SearchParams {
                stop: Some(rule),
                ..SearchParams::new(model.k, model.k)
            })
            .collect();
        let reference = run(index, queries, &params[0])?;
        let recall = mean_recall(&reference, truth, model.k);
        for (p, (name, _)) in params.iter().zip(&variants).skip(1) {
            if run(index, queries, p)? != reference {
                return Err(format!("the {name} variant changed the search at target {target}").into());
            }
        }
        let mut times = vec![Vec::with_capacity(rounds); variants.len()];
        for round in 0..rounds {
            for i in 0..variants.len() {
                let v = (i + round) % variants.len();
                times[v].push(time(index, queries, &params[v])?);
            }
        }
        let best = |t: &[f64]| t.iter().copied().fold(f64::INFINITY, f64::min);
        let (base_median, base_best) = (median(times[0].clone()), best(&times[0]));
        for ((name, _), t) in variants.iter().zip(times) {
            let (m, b) = (median(t.clone()), best(&t));
            println!(
                "{target:>6} {ef:>3} {recall:>7.4} {name:>8} {m:>10.2} {:>+6.1}% {b:>8.2} {:>+6.1}%",
                100.0 * (m / base_median - 1.0),
                100.0 * (b / base_best - 1.0)
            );
        }
    }
    Ok(())
}
