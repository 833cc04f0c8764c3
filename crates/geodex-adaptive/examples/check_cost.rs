//! What one check of the learned, gbdt and gain rules costs, against the search it sits in (issue
//! 17: "model inference ≤ 5 % of query time"):
//!
//! ```text
//! cargo run --release -p geodex-adaptive --example check_cost -- INDEX QUERIES GROUNDTRUTH [TARGET]
//! ```
//!
//! The index must hold a stop model with trees (`geodex learn-stop`; the gain rule's row only
//! when it has gain trees). The queries are traced at the model's cap ef to collect the inputs
//! the rules see at their checks (the gain rule's with their history); each predictor is
//! then timed over all those feature vectors (best of five passes). The search time is the
//! fixed rule's at TARGET (default 0.95), queries one after another on this thread (best of five
//! passes); the share is the predictor's time
//! for the checks the learned rule makes at that target (its mean distance evaluations ÷ the
//! check interval) over that search time. The features themselves (one logarithm for the local
//! intrinsic dimension) are computed alike for both rules and not included.
//!
//! The adaef rule makes no checks; its cost is the law's moments, once per query (best of five
//! passes over the queries), plus the z-score and tail bin of each of its warm-up distances
//! (timed on z-scores spread over [−4, 2], most outside every tail bin, so each scans all the
//! bins: the dearest case), against the same search time.

mod common;

use std::hint::black_box;
use std::time::Instant;

use geodex_adaptive::evaluate::outcomes;
use geodex_adaptive::{traces, Workload};
use geodex_core::stop::law::WalkForm;
use geodex_core::stop::{FEATURES, GAIN_FEATURES};
use geodex_core::{AnyIndex, Component, Index, SearchContext, SearchParams, StopKind, StopRule};
use geodex_io::AnyVectors;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err("usage: check_cost INDEX QUERIES GROUNDTRUTH [TARGET]".into());
    }
    let target: f64 = args.get(4).map_or(Ok(0.95), |s| s.parse())?;
    let truth = common::truth(&args[3])?;
    match common::index_and_queries(&args[1], &args[2])? {
        (AnyIndex::F32(ix), AnyVectors::F32(q)) => report(&ix, q.as_slice(), &truth, target),
        (AnyIndex::U8(ix), AnyVectors::U8(q)) => report(&ix, q.as_slice(), &truth, target),
        _ => Err("the queries' element type differs from the index's".into()),
    }
}

/// Best of five passes of `f` over `rows`, in nanoseconds per row.
fn ns_per_row<const N: usize>(rows: &[[f32; N]], f: impl Fn(&[f32; N]) -> f32) -> f64 {
    (0..5)
        .map(|_| {
            let start = Instant::now();
            let mut sum = 0.0f32;
            for x in rows {
                sum += f(black_box(x));
            }
            black_box(sum);
            start.elapsed().as_nanos() as f64 / rows.len() as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn report<T: Component>(
    index: &Index<T>,
    queries: &[T],
    truth: &[Vec<u64>],
    target: f64,
) -> Result<(), Box<dyn std::error::Error>> {
    let model = index
        .stop_model()
        .ok_or("the index has no stop model: run geodex learn-stop")?;
    let forest = model.gbdt.as_ref().ok_or("the stop model has no trees")?;
    let w = Workload {
        queries,
        truth,
        k: model.k,
    };
    let traced = traces(index, model, &w)?;
    let rows: Vec<[f32; FEATURES]> = traced.iter().flat_map(|t| t.rows.iter().map(|r| r.0)).collect();
    let gain_rows: Vec<[f32; GAIN_FEATURES]> =
        traced.iter().flat_map(|t| t.gain_rows()).map(|r| r.0).collect();
    let linear = ns_per_row(&rows, |x| model.predict(x));
    let trees = ns_per_row(&rows, |x| model.predict_gbdt(x));
    let gain = model
        .gain
        .as_ref()
        .map(|g| (g.trees(), ns_per_row(&gain_rows, |x| model.gain_score(x))));
    let fixed = StopRule::new(model, StopKind::Fixed, target)?;
    let learned = StopRule::new(model, StopKind::Learned, target)?;
    let params = SearchParams {
        stop: Some(&fixed),
        ..SearchParams::new(model.k, model.k)
    };
    let mut ctx = SearchContext::new();
    let mut search_us = f64::INFINITY;
    for _ in 0..5 {
        let start = Instant::now();
        for q in queries.chunks_exact(index.dim()) {
            black_box(index.search(q, &params, &mut ctx)?);
        }
        search_us = search_us.min(start.elapsed().as_secs_f64() * 1e6 / w.len() as f64);
    }
    let o = outcomes(index, &w, 0, Some(&learned))?;
    let checks = o.iter().map(|o| o.distances as f64).sum::<f64>() / o.len() as f64 / model.interval as f64;
    println!(
        "{} trees of depth {}; {} feature vectors; fixed rule at {target}: {search_us:.1} µs per query, \
         the learned rule's checks per query: {checks:.1}",
        forest.trees(),
        forest.depth,
        rows.len()
    );
    let gain_row = gain.map(|(trees, ns)| (format!("gain ({trees} trees)"), ns));
    let named = [
        ("learned (logistic)".to_string(), linear),
        ("gbdt (trees)".to_string(), trees),
    ];
    for (name, ns) in named.into_iter().chain(gain_row) {
        println!(
            "{name:>20}: {ns:>7.1} ns per check, {:>5.2} % of the fixed rule's query time",
            100.0 * ns * checks / (search_us * 1e3)
        );
    }
    if let Some(adaef) = &model.adaef {
        let form = WalkForm::SQUARED_L2;
        let ns = (0..5)
            .map(|_| {
                let start = Instant::now();
                for q in queries.chunks_exact(index.dim()) {
                    black_box(adaef.law.moments(form, black_box(q)));
                }
                start.elapsed().as_nanos() as f64 / w.len() as f64
            })
            .fold(f64::INFINITY, f64::min);
        let warmup = adaef.warmup as usize;
        let z: Vec<f32> = (0..warmup)
            .map(|i| -4.0 + 6.0 * i as f32 / warmup as f32)
            .collect();
        let (mean, sd) = adaef.law.moments(form, &queries[..index.dim()]);
        let distances: Vec<f32> = z.iter().map(|z| mean + z * sd).collect();
        let scoring_ns = (0..5)
            .map(|_| {
                let start = Instant::now();
                for _ in 0..w.len() {
                    let mut counts = [0u32; geodex_core::stop::law::MAX_TAIL_BINS];
                    for &d in black_box(&distances) {
                        if let Some(bin) = adaef.tail_bin((d - mean) / sd) {
                            counts[bin] += 1;
                        }
                    }
                    black_box(adaef.score(&counts[..adaef.tail_z.len()], warmup as u32));
                }
                start.elapsed().as_nanos() as f64 / w.len() as f64
            })
            .fold(f64::INFINITY, f64::min);
        println!(
            "{:>20}: {ns:>7.1} ns per query ({} axes), {:>5.2} % of the fixed rule's query time",
            "adaef (law)",
            adaef.law.axis_var.len(),
            100.0 * ns / (search_us * 1e3)
        );
        println!(
            "{:>20}: {scoring_ns:>7.1} ns per query ({warmup} distances), {:>5.2} % of the fixed rule's query time",
            "adaef (warm-up)",
            100.0 * scoring_ns / (search_us * 1e3)
        );
        println!(
            "{:>20}: {:>7.1} ns per query, {:>5.2} % of the fixed rule's query time",
            "adaef (total)",
            ns + scoring_ns,
            100.0 * (ns + scoring_ns) / (search_us * 1e3)
        );
    }
    Ok(())
}
