//! What a stopping rule should predict: the recall reached so far (the learned rule, DARTH-style)
//! or the recall a query will still *gain* if it goes on. Replayed on traces at the model's cap
//! beam width, so both predictors see the same trajectories:
//!
//! ```text
//! cargo run --release -p geodex-adaptive --example stop_gain -- INDEX LEARN LEARN_GT TEST TEST_GT 0.9,0.95,0.99 [WINDOW]
//! ```
//!
//! Each predictor is the learned rule's logistic regression (`fit.rs`) on the same features,
//! fitted on the learning queries' traces with a different target:
//! - `so-far`: recall@k at the check (stop when the prediction reaches a threshold);
//! - `rest`: the recall still to come before the cap search ends by itself (stop when the
//!   prediction falls below a threshold);
//! - `window`: the recall gained over the next `WINDOW` checks (default 4).
//!
//! For each, every threshold of a fine grid is replayed on the test queries' traces; the work
//! (mean distance evaluations) at each target is interpolated on the resulting (recall, work)
//! curve, so the predictors are compared at equal test recall regardless of calibration. The
//! oracle (`oracle.rs`) is the floor on the same traces.

mod common;

use std::path::Path;

use geodex_adaptive::fit::{fit, Logistic, Row};
use geodex_adaptive::oracle::{least_work, Trajectory};
use geodex_adaptive::{traces, QueryTrace, Workload};
use geodex_core::stop::{FEATURES, FEATURE_NAMES};
use geodex_core::{AnyIndex, Component, Index};
use geodex_io::{AnyVectors, Role};

use common::Failure;

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 7 {
        return Err("usage: stop_gain INDEX LEARN LEARN_GT TEST TEST_GT TARGETS [WINDOW]".into());
    }
    let targets: Vec<f64> = args[6].split(',').map(str::parse).collect::<Result<_, _>>()?;
    let window: usize = args.get(7).map_or(Ok(4), |s| s.parse())?;
    let learn_truth = common::truth(&args[3])?;
    let test_truth = common::truth(&args[5])?;
    let (index, learn) = common::index_and_queries(&args[1], &args[2])?;
    let test = geodex_io::read_vectors(Path::new(&args[4]), Role::Queries)?;
    let sets = (learn, &learn_truth[..], test, &test_truth[..]);
    match (index, sets) {
        (AnyIndex::F32(ix), (AnyVectors::F32(l), lt, AnyVectors::F32(t), tt)) => {
            report(&ix, (l.as_slice(), lt), (t.as_slice(), tt), &targets, window)
        }
        (AnyIndex::U8(ix), (AnyVectors::U8(l), lt, AnyVectors::U8(t), tt)) => {
            report(&ix, (l.as_slice(), lt), (t.as_slice(), tt), &targets, window)
        }
        _ => Err("the queries' element type differs from the index's".into()),
    }
}

/// What a predictor is fitted to at check `t` of a trace, and which way its threshold stops.
#[derive(Clone, Copy)]
enum Target {
    SoFar,
    Rest,
    Window(usize),
}

impl Target {
    fn label(self, recall: &[f32], t: usize) -> f32 {
        let ahead = |j: usize| (recall[j.min(recall.len() - 1)] - recall[t]).max(0.0);
        match self {
            Target::SoFar => recall[t],
            Target::Rest => ahead(recall.len() - 1),
            Target::Window(w) => ahead(t + w),
        }
    }

    /// Whether a prediction `p` at threshold `theta` stops the search.
    fn stops(self, p: f64, theta: f64) -> bool {
        match self {
            Target::SoFar => p >= theta,
            Target::Rest | Target::Window(_) => p <= theta,
        }
    }
}

fn report<T: Component>(
    index: &Index<T>,
    learn: (&[T], &[Vec<u64>]),
    test: (&[T], &[Vec<u64>]),
    targets: &[f64],
    window: usize,
) -> Result<(), Failure> {
    let model = index
        .stop_model()
        .ok_or("the index has no stop model: run geodex learn-stop")?;
    let k = model.k;
    let learn = traces(
        index,
        model,
        &Workload {
            queries: learn.0,
            truth: learn.1,
            k,
        },
    )?;
    let test = traces(
        index,
        model,
        &Workload {
            queries: test.0,
            truth: test.1,
            k,
        },
    )?;
    if let Ok(prefix) = std::env::var("STOP_GAIN_DUMP") {
        dump(&learn, &format!("{prefix}-learn.csv"))?;
        dump(&test, &format!("{prefix}-test.csv"))?;
    }
    let trajectories: Vec<Trajectory> = test.iter().map(QueryTrace::trajectory).collect();
    let kinds = [
        ("so-far", Target::SoFar),
        ("rest", Target::Rest),
        ("window", Target::Window(window)),
    ];
    let curves: Vec<Vec<(f64, f64)>> = kinds
        .iter()
        .map(|&(_, target)| {
            let m = fit(&rows(&learn, target)).ok_or("no learning rows")?;
            Ok::<_, Failure>(curve(&m, &test, target))
        })
        .collect::<Result<_, _>>()?;
    let cap = trajectories
        .iter()
        .map(|t| t.last().map_or(0.0, |p| p.1))
        .sum::<f64>()
        / test.len() as f64;
    println!(
        "cap recall {cap:.4}; mean distance evaluations at equal test recall (traces at ef {})",
        model.ef_cap
    );
    println!("target   oracle   so-far     rest   window({window})   rest/so-far  window/so-far");
    for &target in targets {
        let oracle = least_work(&trajectories, target);
        let at: Vec<Option<f64>> = curves.iter().map(|c| work_at(c, target)).collect();
        let show = |x: Option<f64>| x.map_or("—".to_string(), |v| format!("{v:.0}"));
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => format!("{:.3}", a / b),
            _ => "—".into(),
        };
        println!(
            "{target:<7} {:>7} {:>8} {:>8} {:>10} {:>13} {:>14}",
            show(oracle),
            show(at[0]),
            show(at[1]),
            show(at[2]),
            ratio(at[1], at[0]),
            ratio(at[2], at[0])
        );
    }
    Ok(())
}

/// Writes `traces` as CSV (query, distances, the features, the queued frontier, the best
/// result's key, recall so far), one row per check: for fitting other models to the same traces
/// (`STOP_GAIN_DUMP=PREFIX`).
fn dump(traces: &[QueryTrace], path: &str) -> Result<(), Failure> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        out,
        "query,distances,{},queued_below_kth,mean_below_kth,best_key,recall",
        FEATURE_NAMES.join(",")
    )?;
    for (q, t) in traces.iter().enumerate() {
        let checks = t.rows.iter().zip(&t.distances).zip(&t.frontier).zip(&t.best);
        for ((((f, r), d), front), best) in checks {
            let f: Vec<String> = f.iter().map(|v| v.to_string()).collect();
            writeln!(
                out,
                "{q},{d},{},{},{},{best},{r}",
                f.join(","),
                front.queued_below_kth,
                front.mean_below_kth
            )?;
        }
    }
    Ok(())
}

/// The learning rows of `traces` with `target`'s label.
fn rows(traces: &[QueryTrace], target: Target) -> Vec<Row> {
    traces
        .iter()
        .flat_map(|t| {
            let recall: Vec<f32> = t.rows.iter().map(|r| r.1).collect();
            (0..t.rows.len()).map(move |i| (t.rows[i].0, target.label(&recall, i)))
        })
        .collect()
}

/// `m`'s prediction for features `f`.
fn predict(m: &Logistic, f: &[f32; FEATURES]) -> f64 {
    let z = m.weights[0] as f64
        + f.iter()
            .zip(&m.scale)
            .zip(&m.weights[1..])
            .map(|((v, (mean, sd)), w)| (*w as f64) * ((v - mean) / sd) as f64)
            .sum::<f64>();
    1.0 / (1.0 + (-z).exp())
}

/// (mean recall, mean work) of the rule "stop at the first check where `target.stops`" replayed
/// on `traces`, for thresholds spanning the predictions' range.
fn curve(m: &Logistic, traces: &[QueryTrace], target: Target) -> Vec<(f64, f64)> {
    let predictions: Vec<Vec<f64>> = traces
        .iter()
        .map(|t| t.rows.iter().map(|r| predict(m, &r.0)).collect())
        .collect();
    let mut all: Vec<f64> = predictions.iter().flatten().copied().collect();
    all.sort_by(f64::total_cmp);
    let steps = 400;
    (0..=steps)
        .map(|i| {
            let theta = all[((all.len() - 1) * i) / steps];
            let (mut recall, mut work) = (0.0, 0.0);
            for (t, p) in traces.iter().zip(&predictions) {
                let stop = (0..p.len())
                    .find(|&j| target.stops(p[j], theta))
                    .unwrap_or(p.len().saturating_sub(1));
                if let Some(r) = t.rows.get(stop) {
                    recall += r.1 as f64;
                    work += t.distances[stop] as f64;
                }
            }
            let n = traces.len() as f64;
            (recall / n, work / n)
        })
        .collect()
}

/// The least work among the curve's points reaching `target` recall, interpolated linearly
/// between the cheapest point below and above it; `None` when none reaches it.
fn work_at(curve: &[(f64, f64)], target: f64) -> Option<f64> {
    let above = curve
        .iter()
        .filter(|p| p.0 >= target)
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    let below = curve
        .iter()
        .filter(|p| p.0 < target && p.1 <= above.1)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    Some(match below {
        Some(b) if above.0 > b.0 => b.1 + (above.1 - b.1) * (target - b.0) / (above.0 - b.0),
        _ => above.1,
    })
}
