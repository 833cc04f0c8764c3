//! NGT's ε-search stop (Iwasaki & Miyazaki 2018) replayed on cap-beam traces: a search stops
//! once its best queued candidate lies beyond `(1 + ε)` times its k-th result's distance
//! (`ratio`), or once the ratio of ball volumes at the query's estimated local intrinsic
//! dimension passes a threshold (`volume`, a per-query ε). For each target, the threshold whose
//! replayed mean recall first reaches the fixed rule's is reported beside the fixed and learned
//! rules' real searches.
//!
//! ```text
//! cargo run --release -p geodex-adaptive --example epsilon -- INDEX QUERIES GROUNDTRUTH [TARGETS] [CHECK_EVERY] [ratio|volume]
//! ```
//!
//! The traces' recall is the walk's own top k: on a byte walk, before re-ranking, so below what
//! the real rule reaches — compare scores with each other there, not with the real rules.

mod common;

use geodex_adaptive::{QueryTrace, Workload};
use geodex_core::{AnyIndex, Component, Index, StopKind};
use geodex_io::AnyVectors;

const CANDIDATE_OVER_KTH: usize = 4;

fn main() -> Result<(), common::Failure> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err("usage: epsilon INDEX QUERIES GROUNDTRUTH [TARGETS] [CHECK_EVERY] [ratio|volume]".into());
    }
    let targets = common::targets(args.get(4))?;
    let every: u32 = args.get(5).map_or(Ok(8), |s| s.parse())?;
    let score: Score = match args.get(6).map_or("ratio", String::as_str) {
        "ratio" => ratio,
        "volume" => volume,
        other => return Err(format!("unknown score {other}: expected ratio or volume").into()),
    };
    let truth = common::truth(&args[3])?;
    match common::index_and_queries(&args[1], &args[2])? {
        (AnyIndex::F32(ix), AnyVectors::F32(q)) => report(&ix, q.as_slice(), &truth, &targets, every, score),
        (AnyIndex::U8(ix), AnyVectors::U8(q)) => report(&ix, q.as_slice(), &truth, &targets, every, score),
        _ => Err("the queries' element type differs from the index's".into()),
    }
}

const LID: usize = 6;

/// A check's stopping score: the search stops at the first check whose score reaches the
/// threshold.
type Score = fn(&[f32; 7]) -> f32;

/// The ε rule's score of a check: the frontier ratio `d_c / d_k`.
fn ratio(f: &[f32; 7]) -> f32 {
    f[CANDIDATE_OVER_KTH]
}

/// The volume score: `(d_c / d_k)^(lid / 2)`, the ratio of ball volumes at the query's local
/// intrinsic dimension (radii are square roots of the walk's distances).
fn volume(f: &[f32; 7]) -> f32 {
    f[CANDIDATE_OVER_KTH].max(1.0).powf(0.5 * f[LID].max(1.0))
}

/// Mean work and recall when every trace stops at its first check whose `score` is at least
/// `threshold`.
fn replay(traces: &[QueryTrace], score: Score, threshold: f32) -> (f64, f64) {
    let (mut work, mut recall) = (0.0, 0.0);
    for t in traces.iter().filter(|t| !t.rows.is_empty()) {
        let stop = t
            .rows
            .iter()
            .position(|(f, _)| score(f) >= threshold)
            .unwrap_or(t.rows.len() - 1);
        work += t.distances[stop] as f64;
        recall += t.rows[stop].1 as f64;
    }
    let n = traces.len() as f64;
    (work / n, recall / n)
}

fn report<T: Component>(
    index: &Index<T>,
    queries: &[T],
    truth: &[Vec<u64>],
    targets: &[f64],
    every: u32,
    score: Score,
) -> Result<(), common::Failure> {
    let model = index
        .stop_model()
        .ok_or("the index has no stop model: run geodex learn-stop")?;
    let w = Workload {
        queries,
        truth,
        k: model.k,
    };
    let traced = common::traces_every(index, model, &w, every)?;
    let curve: Vec<(f32, f64, f64)> = (0..=4000)
        .map(|i| 1.0 + i as f32 * 0.0025)
        .map(|t| {
            let (work, recall) = replay(&traced, score, t);
            (t, work, recall)
        })
        .collect();
    println!(
        "target  fixed (recall)   learned (recall)   threshold work (recall)  replay/fixed learned/fixed"
    );
    for &target in targets {
        let run = |kind| common::rule_work(index, model, &w, kind, target);
        let (fixed, learned) = (run(StopKind::Fixed)?, run(StopKind::Learned)?);
        let (fixed, fixed_recall, learned, learned_recall) =
            (fixed.mean, fixed.recall, learned.mean, learned.recall);
        let Some(&(threshold, work, recall)) = curve.iter().find(|c| c.2 >= fixed_recall) else {
            let last = curve[curve.len() - 1];
            println!("{target:<6} fixed {fixed:.0} ({fixed_recall:.4}): out of reach of the threshold sweep, at {:.3}: {:.0} ({:.4})", last.0, last.1, last.2);
            continue;
        };
        println!(
            "{target:<6} {fixed:>7.0} ({fixed_recall:.4}) {learned:>8.0} ({learned_recall:.4}) {threshold:>8.3} {work:>7.0} ({recall:.4}) {:>9.3} {:>9.3}",
            work / fixed,
            learned / fixed
        );
    }
    Ok(())
}
