//! `geodex continual`: the §5.3 study — continual learning of the learned stopping rule while
//! the queries drift (`geodex_adaptive::continual`). Three drifts: the learning queries split
//! into k-means topics presented one after another; the same queries cut into groups of
//! growing hardness (distance evaluations of their cap search), easiest first; and (with
//! `--insert`) the same queries on the index before and after new vectors arrive. Every arm (frozen, naive fine-tuning, EWC per
//! λ, replay per share, EWC + replay, retraining from scratch) is run on the same tasks and
//! reported with its forgetting. Nothing is written to the index.

use std::path::PathBuf;

use geodex_adaptive::continual::{self, Arm, ArmRun, ContinualOptions, Stage, Task};
use geodex_adaptive::{provisional, traces, LearnError, LearnOptions, QueryTrace, Workload};

use super::learn_stop::StopInput;
use geodex_core::{Component, Index, LiveIndex};
use geodex_io::{AnyVectors, Role};
use serde_json::{json, Value};

use crate::data::QueryElement;
use crate::failure::{in_file, Failure};
use crate::with_typed;

/// Arguments of `geodex continual`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub input: StopInput,
    /// Topics the learning queries are split into (k-means), presented one after another; also
    /// the number of hardness groups.
    #[arg(long, default_value_t = 4)]
    pub topics: usize,
    /// Also run the insert drift: these vectors are added (in memory) under the keys after
    /// the index's largest, and the same queries are traced again.
    #[arg(long)]
    pub insert: Option<PathBuf>,
    /// With --insert: true neighbour ids of the learning queries after the insert (ids of the
    /// inserted rows count on from the index's largest key + 1).
    #[arg(long)]
    pub insert_groundtruth: Option<PathBuf>,
    /// The mean recall@k the stop threshold is calibrated for.
    #[arg(long, default_value_t = 0.95, allow_negative_numbers = true)]
    pub target_recall: f64,
    /// Passes over a task's checks per update.
    #[arg(long, default_value_t = ContinualOptions::default().epochs)]
    pub epochs: usize,
    /// Checks per Adam step.
    #[arg(long, default_value_t = ContinualOptions::default().batch)]
    pub batch: usize,
    /// Adam's step size.
    #[arg(long, default_value_t = ContinualOptions::default().learning_rate)]
    pub learning_rate: f64,
    /// EWC penalty weights λ swept.
    #[arg(long, value_delimiter = ',', default_values_t = vec![0.1, 1.0, 10.0, 100.0], allow_negative_numbers = true)]
    pub lambdas: Vec<f64>,
    /// Replay buffer shares swept (of each earlier task's checks).
    #[arg(long, value_delimiter = ',', default_values_t = vec![0.01, 0.05], allow_negative_numbers = true)]
    pub replay: Vec<f64>,
    /// Seed of the topics, the splits, the shuffles and the replay draws.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Threads for the traced searches (results do not depend on it).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print the study as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Accepted for symmetry with every command: continual prints no progress.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(a: Args) -> Result<(), Failure> {
    let (index, queries, truth) = a.input.load(
        "continual needs --groundtruth: the recall the stopping model predicts is measured \
         against the true neighbours (make them with `geodex groundtruth`)",
    )?;
    check(&a)?;
    let insert = match (&a.insert, &a.insert_groundtruth) {
        (Some(v), Some(g)) => Some((
            crate::data::read_vectors(v, Role::Base, None)?,
            crate::data::read_groundtruth(g, queries.rows(), a.input.k)?,
        )),
        _ => None,
    };
    let pool = geodex_core::measure::thread_pool(a.threads)?;
    let studies = with_typed!(index, queries, &a.input.queries, |ix, q| {
        pool.install(|| studies(&a, ix, q.as_slice(), &truth, insert))?
    });
    if a.json {
        super::print_json(&json!({
            "target_recall": a.target_recall,
            "studies": studies,
        }));
    } else {
        for s in &studies {
            print_table(s, a.target_recall);
        }
    }
    Ok(())
}

fn check(a: &Args) -> Result<(), Failure> {
    if a.insert.is_some() != a.insert_groundtruth.is_some() {
        return Err(Failure::input(
            "--insert and --insert-groundtruth go together: the recall after the insert needs \
             the neighbours among the new vectors too",
        ));
    }
    super::check_target_recalls(&[a.target_recall])?;
    if a.topics < 2 {
        return Err(Failure::input("--topics must be ≥ 2: a drift needs two tasks"));
    }
    if let Some(l) = a.lambdas.iter().find(|l| !(l.is_finite() && **l >= 0.0)) {
        return Err(Failure::input(format!(
            "--lambdas {l}: weights must be finite and ≥ 0"
        )));
    }
    if let Some(s) = a.replay.iter().find(|s| !(**s > 0.0 && **s <= 1.0)) {
        return Err(Failure::input(format!("--replay {s}: shares must be in (0, 1]")));
    }
    Ok(())
}

/// Both drifts on one typed index: the topics, then (with --insert) before/after.
fn studies<T: Component + QueryElement>(
    a: &Args,
    index: Index<T>,
    queries: &[T],
    truth: &[Vec<u64>],
    insert: Option<(AnyVectors, Vec<Vec<u64>>)>,
) -> Result<Vec<Value>, Failure> {
    let learn = a.input.options(a.seed);
    let fail = |e: LearnError| a.input.failure(e);
    let before = trace(&index, queries, truth, &learn).map_err(fail)?;
    let labels = continual::topics(queries, index.dim(), a.topics, a.seed).map_err(fail)?;
    let topic_stages: Vec<Stage<'_>> = (0..a.topics)
        .map(|t| Stage {
            name: format!("topic {t}"),
            traces: &before,
            positions: (0..labels.len()).filter(|&i| labels[i] == t).collect(),
        })
        .collect();
    let mut out = vec![study(a, "topics", &topic_stages).map_err(fail)?];
    out.push(study(a, "hardness", &hardness_stages(&before, a.topics)).map_err(fail)?);
    if let Some((vectors, after_truth)) = insert {
        let path = a.insert.as_deref().expect("checked");
        let data = crate::data::queries_as::<T>(vectors, path)?;
        let byte_walk = index.walks_bytes();
        let live = LiveIndex::from_index(index).map_err(in_file(&a.input.index))?;
        // One linking thread: the grown graph, and so the study, is the same for a seed.
        live.set_threads(Some(1)).map_err(in_file(&a.input.index))?;
        let next = live.keys().into_iter().max().map_or(0, |k| k + 1);
        let keys: Vec<u64> = (next..next + data.rows() as u64).collect();
        live.insert(&keys, data.as_slice()).map_err(in_file(path))?;
        let mut grown = live.snapshot().map_err(in_file(&a.input.index))?;
        grown.set_byte_walk(byte_walk);
        let after = trace(&grown, queries, &after_truth, &learn).map_err(fail)?;
        let all: Vec<usize> = (0..queries.len() / grown.dim()).collect();
        let stages = [
            Stage {
                name: "before the insert".into(),
                traces: &before,
                positions: all.clone(),
            },
            Stage {
                name: format!("after {} inserts", keys.len()),
                traces: &after,
                positions: all,
            },
        ];
        out.push(study(a, "insert", &stages).map_err(fail)?);
    }
    Ok(out)
}

/// The learning queries cut into `groups` equal groups by the distance evaluations their cap
/// search needed, easiest first: a workload that grows harder over time.
fn hardness_stages(traces: &[QueryTrace], groups: usize) -> Vec<Stage<'_>> {
    let work = |i: usize| traces[i].distances.last().copied().unwrap_or(0);
    let mut order: Vec<usize> = (0..traces.len()).collect();
    order.sort_by_key(|&i| (work(i), i));
    (0..groups)
        .map(|g| Stage {
            name: format!("hardness quantile {}", g + 1),
            traces,
            positions: order[g * order.len() / groups..(g + 1) * order.len() / groups].to_vec(),
        })
        .collect()
}

fn trace<T: Component>(
    index: &Index<T>,
    queries: &[T],
    truth: &[Vec<u64>],
    learn: &LearnOptions,
) -> Result<Vec<QueryTrace>, LearnError> {
    let w = Workload {
        queries,
        truth,
        k: learn.k,
    };
    Ok(traces(index, &provisional(index, learn), &w)?)
}

/// Every arm on the tasks of `stages`, as JSON.
fn study(a: &Args, drift: &str, stages: &[Stage<'_>]) -> Result<Value, LearnError> {
    let tasks = continual::tasks(stages, a.seed)?;
    let o = ContinualOptions {
        epochs: a.epochs,
        batch: a.batch,
        learning_rate: a.learning_rate,
        target: a.target_recall,
        seed: a.seed,
    };
    let runs = Arm::all(&a.lambdas, &a.replay)
        .into_iter()
        .map(|arm| continual::run(&tasks, arm, &o))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({
        "drift": drift,
        "tasks": tasks.iter().map(task_json).collect::<Vec<_>>(),
        "arms": runs.iter().map(|r| run_json(r, a.target_recall)).collect::<Vec<_>>(),
    }))
}

fn task_json(t: &Task) -> Value {
    json!({
        "name": t.name,
        "optimum_loss": continual::optimum_loss(t),
        "fit_queries": t.fit.len(),
        "calibration_queries": t.calibration.len(),
        "test_queries": t.test.len(),
    })
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn run_json(r: &ArmRun, target: f64) -> Value {
    let last = r.last();
    let errors: Vec<f64> = last.recall.iter().map(|x| (x - target).abs()).collect();
    json!({
        "arm": r.arm.name(),
        "forgetting_loss": r.forgetting_loss,
        "forgetting_recall": r.forgetting_recall,
        "final_loss": mean(&last.loss),
        "final_recall_error": mean(&errors),
        "final_worst_recall": last.recall.iter().copied().fold(f64::INFINITY, f64::min),
        "final_work": mean(&last.work),
        "stages": r.stages.iter().map(|s| json!({
            "threshold": s.threshold,
            "loss": s.loss,
            "recall": s.recall,
            "work": s.work,
        })).collect::<Vec<_>>(),
    })
}

fn print_table(s: &Value, target: f64) {
    println!(
        "drift: {} (target recall {target})",
        s["drift"].as_str().unwrap_or("")
    );
    for t in s["tasks"].as_array().into_iter().flatten() {
        println!(
            "  {}: {} fit, {} calibration, {} test queries; excess loss of its own exact fit {:.4}",
            t["name"].as_str().unwrap_or(""),
            t["fit_queries"],
            t["calibration_queries"],
            t["test_queries"],
            t["optimum_loss"].as_f64().unwrap_or(f64::NAN)
        );
    }
    println!(
        "{:<22} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8}",
        "arm", "forget_kl", "forget_err", "final_kl", "final_err", "worst_rec", "work"
    );
    for r in s["arms"].as_array().into_iter().flatten() {
        let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
        println!(
            "{:<22} {:>10.4} {:>10.4} {:>10.4} {:>10.4} {:>10.4} {:>8.3}",
            r["arm"].as_str().unwrap_or(""),
            f("forgetting_loss"),
            f("forgetting_recall"),
            f("final_loss"),
            f("final_recall_error"),
            f("final_worst_recall"),
            f("final_work")
        );
    }
}
