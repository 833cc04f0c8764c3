//! `geodex learn-edges`: trains an edge scorer on the paths of learning queries
//! (`geodex_edges`) and writes it as JSON for `geodex build --edges learned:MODEL`.

use std::io::Write;
use std::path::PathBuf;

use geodex_core::{Component, Metric};
use geodex_edges::{
    learn_edges, EdgesError, EdgesReport, Labels, LearnEdgesOptions, ModelKind, Optimizer, TrainOptions,
};
use geodex_io::{AnyVectors, Role};

use crate::failure::{in_file, Failure};

/// Arguments of `geodex learn-edges`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Vectors the index will hold (.fvecs .bvecs .npy .hdf5).
    #[arg(long)]
    pub data: PathBuf,
    /// Dissimilarity: l2, cosine, poincare (inner product has no distance to learn from).
    #[arg(long, default_value = "l2")]
    pub metric: Metric,
    /// Learning queries — never the test queries.
    #[arg(long)]
    pub queries: PathBuf,
    /// True neighbour ids of the learning queries among the rows of --data; computed by brute
    /// force when absent.
    #[arg(long)]
    pub groundtruth: Option<PathBuf>,
    /// The scorer: logistic or mlp.
    #[arg(long, default_value = "logistic")]
    pub model: ModelKind,
    /// Surrogate labels: progress (a candidate some training query gets closer through than
    /// through every link kept before it) or path (edges on the queries' paths in the union
    /// graph).
    #[arg(long, default_value = "progress")]
    pub labels: Labels,
    /// Hidden units of the MLP.
    #[arg(long, default_value_t = TrainOptions::default().hidden)]
    pub hidden: usize,
    /// Where to write the model (JSON).
    #[arg(long)]
    pub out: PathBuf,
    /// M of the index the model is for (level-0 budget 2·M).
    #[arg(long, default_value_t = 16)]
    pub m: usize,
    /// ef_construction of the index the labels come from.
    #[arg(long, default_value_t = 200)]
    pub ef_construction: usize,
    /// Candidates per node, labelled and offered to the labelling walks.
    #[arg(long, default_value_t = LearnEdgesOptions::default().width)]
    pub candidates: usize,
    /// Beam width of the labelling walks.
    #[arg(long, default_value_t = LearnEdgesOptions::default().walk_ef)]
    pub walk_ef: usize,
    /// True neighbours per query whose paths count.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Passes over the labelled nodes.
    #[arg(long, default_value_t = TrainOptions::default().epochs)]
    pub epochs: usize,
    /// Labelled nodes per update.
    #[arg(long, default_value_t = TrainOptions::default().batch)]
    pub batch: usize,
    /// Step size.
    #[arg(long, default_value_t = TrainOptions::default().learning_rate)]
    pub lr: f64,
    /// adam, or sgd (with --momentum).
    #[arg(long, default_value = "adam")]
    pub optimizer: String,
    /// Momentum of sgd.
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f64,
    /// λ of the degree penalty (expected links).
    #[arg(long, default_value_t = 0.0)]
    pub degree_penalty: f64,
    /// At most this many labelled nodes are used.
    #[arg(long, default_value_t = LearnEdgesOptions::default().max_examples)]
    pub max_examples: usize,
    /// Seed of the index, the split, the weights and the order.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Threads (default: all cores; one thread makes the model a function of the seed).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Accepted for symmetry: learn-edges prints no progress.
    #[arg(long)]
    pub quiet: bool,
}

fn options(a: &Args) -> Result<LearnEdgesOptions, Failure> {
    let optimizer = match a.optimizer.as_str() {
        "adam" => Optimizer::Adam,
        "sgd" if (0.0..1.0).contains(&a.momentum) => Optimizer::Sgd { momentum: a.momentum },
        "sgd" => {
            return Err(Failure::input(format!(
                "--momentum {}: must be in [0, 1)",
                a.momentum
            )))
        }
        other => {
            return Err(Failure::input(format!(
                "--optimizer {other}: expected adam or sgd"
            )))
        }
    };
    if !(a.degree_penalty >= 0.0 && a.degree_penalty.is_finite()) {
        return Err(Failure::input(format!(
            "--degree-penalty {}: must be ≥ 0",
            a.degree_penalty
        )));
    }
    Ok(LearnEdgesOptions {
        metric: a.metric,
        m: a.m,
        ef_construction: a.ef_construction,
        width: a.candidates,
        walk_ef: a.walk_ef,
        k: a.k,
        max_examples: a.max_examples,
        threads: a.threads,
        train: TrainOptions {
            kind: a.model,
            hidden: a.hidden,
            epochs: a.epochs,
            batch: a.batch,
            learning_rate: a.lr,
            optimizer,
            degree_penalty: a.degree_penalty,
            labels: a.labels,
            seed: a.seed,
            ..TrainOptions::default()
        },
        ..LearnEdgesOptions::default()
    })
}

pub fn run(a: Args) -> Result<(), Failure> {
    let opts = options(&a)?;
    let data = crate::data::fit_to_metric(crate::data::read_vectors(&a.data, Role::Base, None)?, a.metric);
    let queries = crate::data::read_vectors(&a.queries, Role::Queries, None)?;
    let truth = a
        .groundtruth
        .as_deref()
        .map(|p| crate::data::read_groundtruth(p, queries.rows(), a.k))
        .transpose()?;
    let dim = data.dim();
    let report = match data {
        AnyVectors::F32(m) => {
            let q = crate::data::queries_for::<f32>(dim, queries, &a.queries)?;
            learn(&a, m.into_vec(), dim, q.as_slice(), truth, &opts)?
        }
        AnyVectors::U8(m) => {
            let q = crate::data::queries_for::<u8>(dim, queries, &a.queries)?;
            learn(&a, m.into_vec(), dim, q.as_slice(), truth, &opts)?
        }
    };
    print(&a, &report);
    Ok(())
}

fn learn<T: Component>(
    a: &Args,
    base: Vec<T>,
    dim: usize,
    queries: &[T],
    truth: Option<Vec<Vec<u64>>>,
    opts: &LearnEdgesOptions,
) -> Result<EdgesReport, Failure> {
    let truth = match truth {
        Some(t) => t,
        None => geodex_core::exact::exact_knn(&base, queries, dim, a.k, a.metric, &|_| {})
            .map_err(in_file(&a.queries))?
            .into_iter()
            .map(|hits| hits.into_iter().map(|h| u64::from(h.id)).collect())
            .collect(),
    };
    let learned = learn_edges(base, dim, queries, &truth, opts).map_err(|e| match e {
        EdgesError::Core(e) => in_file(&a.data)(e),
        EdgesError::Invalid(m) => Failure::input(m),
    })?;
    let json = serde_json::to_vec_pretty(&learned.model).expect("the model serialises");
    geodex_io::atomic::write_file(&a.out, |w: &mut dyn Write| w.write_all(&json))?;
    Ok(learned.report)
}

fn print(a: &Args, r: &EdgesReport) {
    if a.json {
        super::print_json(&serde_json::to_value(r).expect("the report serialises"));
        return;
    }
    println!(
        "trained on {} labelled nodes ({:.2} path edges each), validated on {}: loss {:.4} → {:.4}",
        r.train_nodes,
        r.positives_per_node,
        r.validation_nodes,
        r.history.first().map_or(f64::NAN, |e| e.validation_loss),
        r.history.last().map_or(f64::NAN, |e| e.validation_loss),
    );
    for (name, s) in [("heuristic", &r.heuristic), ("learned", &r.learned)] {
        println!(
            "{name:>9}: {:.2} links per node, {:.1} % of path edges kept, {:.1} % of links on paths, {:.1} % of demands' best candidate kept",
            s.mean_kept,
            100.0 * s.positives_kept,
            100.0 * s.precision,
            100.0 * s.demand_coverage
        );
    }
    println!(
        "level-0 mean degree on the calibration sample: heuristic {:.2}, learned {:.2}",
        r.sample_degree_heuristic, r.sample_degree_learned
    );
    for row in &r.relaxation {
        println!(
            "relaxation at τ {:<4}: |bias| {:.4} (τ² law {:.4}), variance {:.4} (Bernoulli {:.4})",
            row.tau, row.mean_abs_bias, row.predicted_abs_bias, row.mean_variance, row.bernoulli_variance
        );
    }
    println!(
        "the learned rule agrees with the heuristic on {:.1} % of decisions; model written to {}",
        100.0 * r.agreement_with_heuristic,
        a.out.display()
    );
}
