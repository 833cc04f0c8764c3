//! The least work any stopping rule could spend (`oracle.rs`) on an index that holds a stop
//! model, beside what the model's fixed and learned rules spend, for each target:
//!
//! ```text
//! cargo run --release -p geodex-adaptive --example oracle -- INDEX QUERIES GROUNDTRUTH 0.9,0.95,0.99 [CHECK_EVERY]
//! ```
//!
//! Trajectories are traced at the model's cap ef with a check every `CHECK_EVERY` distance
//! evaluations (default 8). Prints one line per target: oracle, fixed and learned mean distance
//! evaluations and the ratios to fixed.

mod common;

use geodex_adaptive::oracle::{least_work, Trajectory};
use geodex_adaptive::{QueryTrace, Workload};
use geodex_core::{AnyIndex, Component, Index, StopKind};
use geodex_io::AnyVectors;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        return Err("usage: oracle INDEX QUERIES GROUNDTRUTH TARGETS [CHECK_EVERY]".into());
    }
    let every: u32 = args.get(5).map_or(Ok(8), |s| s.parse())?;
    let targets: Vec<f64> = args[4].split(',').map(str::parse).collect::<Result<_, _>>()?;
    let truth = common::truth(&args[3])?;
    match common::index_and_queries(&args[1], &args[2])? {
        (AnyIndex::F32(ix), AnyVectors::F32(q)) => report(&ix, q.as_slice(), &truth, &targets, every),
        (AnyIndex::U8(ix), AnyVectors::U8(q)) => report(&ix, q.as_slice(), &truth, &targets, every),
        _ => Err("the queries' element type differs from the index's".into()),
    }
}

fn report<T: Component>(
    index: &Index<T>,
    queries: &[T],
    truth: &[Vec<u64>],
    targets: &[f64],
    every: u32,
) -> Result<(), Box<dyn std::error::Error>> {
    let model = index
        .stop_model()
        .ok_or("the index has no stop model: run geodex learn-stop")?;
    let w = Workload {
        queries,
        truth,
        k: model.k,
    };
    let trajectories: Vec<Trajectory> = common::traces_every(index, model, &w, every)?
        .iter()
        .map(QueryTrace::trajectory)
        .collect();
    println!("target  oracle   fixed (recall)   learned (recall)   oracle/fixed  learned/fixed");
    for &target in targets {
        let run = |kind| common::rule_work(index, model, &w, kind, target);
        let (fixed, fixed_recall) = run(StopKind::Fixed)?;
        let (learned, learned_recall) = run(StopKind::Learned)?;
        // The oracle meets the recall fixed ef actually reached, so the two are compared at
        // equal recall.
        let oracle = least_work(&trajectories, fixed_recall).ok_or("target out of reach at the cap")?;
        println!(
            "{target:<6} {oracle:>7.0} {fixed:>7.0} ({fixed_recall:.4}) {learned:>8.0} ({learned_recall:.4}) {:>13.3} {:>14.3}",
            oracle / fixed,
            learned / fixed
        );
    }
    Ok(())
}
