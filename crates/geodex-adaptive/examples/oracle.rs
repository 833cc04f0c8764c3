//! The least work any stopping rule could spend (`oracle.rs`) on an index that holds a stop
//! model, beside what the model's fixed and learned rules spend, for each target:
//!
//! ```text
//! cargo run --release -p geodex-adaptive --example oracle -- INDEX QUERIES GROUNDTRUTH 0.9,0.95,0.99 [CHECK_EVERY]
//! ```
//!
//! Trajectories are traced at the model's cap ef with a check every `CHECK_EVERY` distance
//! evaluations (default 8). Prints one line per target: the oracle's mean distance evaluations,
//! the oracle's within a budget of fixed ef's 99th-percentile distance evaluations on these
//! queries (`least_work_within`: the least work of any truncating rule that meets issue 17's p99
//! target by a budget), and the fixed, learned and epsilon rules' mean and p99 distance
//! evaluations with their recall (each rule with the model's own budget, if it has one); every
//! mean also ÷ fixed ef's.

mod common;

use common::RuleWork;
use geodex_adaptive::oracle::{least_work, least_work_within, Trajectory};
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
    println!(
        "target  oracle (/fixed)  within p99 (/fixed)  fixed: mean p99 recall  \
         learned: mean (/fixed) p99 recall  epsilon: mean (/fixed) p99 recall"
    );
    for &target in targets {
        let fixed = common::rule_work(index, model, &w, StopKind::Fixed, target)?;
        let learned = common::rule_work(index, model, &w, StopKind::Learned, target)?;
        let epsilon = common::rule_work(index, model, &w, StopKind::Epsilon, target)?;
        // The oracle meets the recall fixed ef actually reached, so all are compared at equal
        // recall (the rules to within their calibration's miss).
        let oracle = least_work(&trajectories, fixed.recall).ok_or("target out of reach at the cap")?;
        let within = least_work_within(&trajectories, fixed.recall, fixed.p99 as f64);
        let within = within.map_or("out of reach".to_string(), |o| {
            format!("{o:.0} ({:.3})", o / fixed.mean)
        });
        println!(
            "{target:<6} {oracle:>6.0} ({:.3})  {within:>19}  {:>6.0} {:>5} {:.4}  {}  {}",
            oracle / fixed.mean,
            fixed.mean,
            fixed.p99,
            fixed.recall,
            row(&learned, fixed.mean),
            row(&epsilon, fixed.mean),
        );
    }
    Ok(())
}

/// A rule's columns, its mean also ÷ fixed ef's `fixed_mean`.
fn row(rule: &RuleWork, fixed_mean: f64) -> String {
    format!(
        "{:>6.0} ({:.3}) {:>5} {:.4}",
        rule.mean,
        rule.mean / fixed_mean,
        rule.p99,
        rule.recall
    )
}
