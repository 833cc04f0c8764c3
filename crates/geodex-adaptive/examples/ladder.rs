//! Per-query beam width by iterative deepening, replayed on a ladder of fixed-ef searches:
//! how much a rule that decides only where a beam has converged could save, and what the
//! simplest such rule — widen until the top k stops changing — does save, at equal mean recall
//! with fixed ef.
//!
//! ```text
//! cargo run --release -p geodex-adaptive --example ladder -- INDEX QUERIES GROUNDTRUTH 0.9,0.95,0.99 [K]
//! ```
//!
//! Every query is searched at each beam width of a geometric ladder (ratio 2^¼ from k to 512).
//! Printed per target: fixed ef's work at the target (interpolated on the ladder), the ef
//! oracle (each query at its best rung, the linear relaxation of `oracle.rs`), and the best
//! "stable" rule found on the test queries themselves — an upper bound on what a calibrated
//! one would save, for deciding whether the rule is worth building in the search loop. A stable
//! rule starts at rung `s`, climbs `j` rungs at a time and stops at the first rung whose top-k
//! set equals the one `j` rungs below; its work is counted as the fixed search's at the rung it
//! stops at (the deepening search in the loop continues from the narrower beam instead of
//! starting over, which this replay does not model).

mod common;

use geodex_adaptive::evaluate::recall;
use geodex_adaptive::oracle::{least_work, Trajectory};
use geodex_core::{AnyIndex, Component, Index, SearchContext, SearchParams};
use geodex_io::AnyVectors;

fn main() -> Result<(), common::Failure> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        return Err("usage: ladder INDEX QUERIES GROUNDTRUTH TARGETS [K]".into());
    }
    let targets: Vec<f64> = args[4].split(',').map(str::parse).collect::<Result<_, _>>()?;
    let k: usize = args.get(5).map_or(Ok(10), |s| s.parse())?;
    let truth = common::truth(&args[3])?;
    match common::index_and_queries(&args[1], &args[2])? {
        (AnyIndex::F32(ix), AnyVectors::F32(q)) => report(&ix, q.as_slice(), &truth, &targets, k),
        (AnyIndex::U8(ix), AnyVectors::U8(q)) => report(&ix, q.as_slice(), &truth, &targets, k),
        _ => Err("the queries' element type differs from the index's".into()),
    }
}

/// One query at one rung: distance evaluations, recall@k, the top-k keys sorted.
struct Rung {
    distances: f64,
    recall: f64,
    top: Vec<u64>,
}

fn report<T: Component>(
    index: &Index<T>,
    queries: &[T],
    truth: &[Vec<u64>],
    targets: &[f64],
    k: usize,
) -> Result<(), common::Failure> {
    let ladder: Vec<usize> = (0..)
        .map(|i| (k as f64 * 2f64.powf(i as f64 / 4.0)).round() as usize)
        .take_while(|&e| e <= 512)
        .collect();
    let dim = index.dim();
    let n = queries.len() / dim;
    let mut ctx = SearchContext::new();
    let mut rungs: Vec<Vec<Rung>> = Vec::with_capacity(n);
    for (q, t) in queries.chunks_exact(dim).zip(truth) {
        let mut row = Vec::with_capacity(ladder.len());
        for &ef in &ladder {
            let (hits, stats) = index.search(q, &SearchParams::new(k, ef), &mut ctx)?;
            let mut top: Vec<u64> = hits.iter().map(|h| h.key.0).collect();
            top.sort_unstable();
            row.push(Rung {
                distances: stats.distances as f64,
                recall: recall(top.iter().copied(), t, k),
                top,
            });
        }
        rungs.push(row);
    }
    let mean = |f: &dyn Fn(&[Rung]) -> f64| rungs.iter().map(|r| f(r)).sum::<f64>() / n as f64;
    let fixed: Vec<(f64, f64)> = (0..ladder.len())
        .map(|i| (mean(&|r| r[i].recall), mean(&|r| r[i].distances)))
        .collect();
    let fixed_at = |target: f64| interpolate(&fixed, target);
    let trajectories: Vec<Trajectory> = rungs
        .iter()
        .map(|r| r.iter().map(|x| (x.distances, x.recall)).collect())
        .collect();
    let mut stable = Vec::new();
    for (start, &start_ef) in ladder.iter().enumerate() {
        for jump in 1..=4 {
            let outcome = |r: &[Rung]| {
                let mut i = start;
                while i + jump < r.len() && r[i + jump].top != r[i].top {
                    i += jump;
                }
                let stop = (i + jump).min(r.len() - 1);
                (r[stop].recall, r[stop].distances)
            };
            let recall = mean(&|r| outcome(r).0);
            let work = mean(&|r| outcome(r).1);
            stable.push((start_ef, jump, recall, work));
        }
    }
    println!("ladder: {ladder:?}");
    println!(
        "target  fixed   ef-oracle (/fixed)   best stable: start jump recall work (/fixed at its recall)"
    );
    for &target in targets {
        let Some(fixed_work) = fixed_at(target) else {
            println!("{target:<6}  out of reach at ef 512");
            continue;
        };
        let oracle = least_work(&trajectories, target).unwrap_or(f64::NAN);
        let best = stable
            .iter()
            .filter(|s| s.2 >= target)
            .filter_map(|s| fixed_at(s.2).map(|f| (s, s.3 / f)))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        print!(
            "{target:<6} {fixed_work:>7.0} {oracle:>9.0} ({:.3})",
            oracle / fixed_work
        );
        match best {
            Some((s, ratio)) => println!("   {:>4} {} {:.4} {:>7.0} ({ratio:.3})", s.0, s.1, s.2, s.3),
            None => println!("   none reaches the target"),
        }
    }
    Ok(())
}

/// The work at which the (recall, work) curve — ascending in both — reaches `target`,
/// interpolated linearly between its points; `None` beyond its end.
fn interpolate(curve: &[(f64, f64)], target: f64) -> Option<f64> {
    let i = curve.iter().position(|p| p.0 >= target)?;
    if i == 0 {
        return Some(curve[0].1);
    }
    let (a, b) = (curve[i - 1], curve[i]);
    let t = (target - a.0) / (b.0 - a.0).max(1e-12);
    Some(a.1 + t * (b.1 - a.1))
}
