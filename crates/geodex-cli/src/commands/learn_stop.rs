//! `geodex learn-stop`: trains and calibrates the stopping rules of an index on learning
//! queries with ground truth (`geodex_adaptive`), and stores the model in the index file (its
//! optional `StopModel` section). `search` and `bench` then take `--target-recall`.

use std::path::PathBuf;

use geodex_adaptive::gbdt::GbdtOptions;
use geodex_adaptive::law::AdaEfOptions;
use geodex_adaptive::ppo::PpoOptions;
use geodex_adaptive::{learn, LearnError, LearnOptions, PpoTrial, Workload};
use geodex_core::AnyIndex;
use geodex_core::StopKind;
use geodex_io::{AnyVectors, Role};

use crate::failure::{in_file, Failure};
use crate::with_typed;

/// What `learn-stop` and `continual` both read: an index, learning queries with their ground
/// truth, and the shape of the traced searches.
#[derive(clap::Args, Debug)]
pub struct StopInput {
    /// Index file (learn-stop writes its model into it, atomically, unless --out is given).
    #[arg(long)]
    pub index: PathBuf,
    /// Learning queries — never the test queries (hold out base rows, or make more queries
    /// with the data generators).
    #[arg(long)]
    pub queries: PathBuf,
    /// True neighbour ids of the learning queries (.ivecs, .npy, or `neighbors` of an .hdf5).
    #[arg(long)]
    pub groundtruth: Option<PathBuf>,
    /// Neighbours per query the model serves.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Beam width cap of the adaptive rules (the beam of the traced searches).
    #[arg(long, default_value_t = 512)]
    pub ef_cap: usize,
    /// Distance evaluations between two checks of the learned rule.
    #[arg(long, default_value_t = 64)]
    pub interval: u32,
    /// Work on the walk over the float vectors instead of their one-byte codes (searches with
    /// the model must then pass --exact-walk).
    #[arg(long)]
    pub exact_walk: bool,
}

impl StopInput {
    /// The index (with the walk chosen), the learning queries and their ground truth;
    /// `needs_truth` is the message when --groundtruth is missing.
    pub fn load(&self, needs_truth: &str) -> Result<(AnyIndex, AnyVectors, Vec<Vec<u64>>), Failure> {
        let Some(gt_path) = &self.groundtruth else {
            return Err(Failure::input(needs_truth));
        };
        let mut index = crate::data::open_index(&self.index)?;
        index.set_byte_walk(!self.exact_walk);
        let queries = crate::data::read_vectors(&self.queries, Role::Queries, None)?;
        let truth = crate::data::read_groundtruth(gt_path, queries.rows(), self.k)?;
        Ok((index, queries, truth))
    }

    /// Learning options with these searches' shape and `seed`, the rest at their defaults.
    pub fn options(&self, seed: u64) -> LearnOptions {
        LearnOptions {
            k: self.k,
            ef_cap: self.ef_cap,
            interval: self.interval,
            seed,
            ..LearnOptions::default()
        }
    }

    /// A learning failure as the CLI reports it: a search error names the query file, an
    /// invalid input is exit 2.
    pub fn failure(&self, e: LearnError) -> Failure {
        match e {
            LearnError::Core(e) => in_file(&self.queries)(e),
            LearnError::Invalid(m) => Failure::input(m),
        }
    }
}

/// Arguments of `geodex learn-stop`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub input: StopInput,
    /// Mean recall@k targets the rules must be calibrated for, comma-separated, each in (0, 1].
    #[arg(long, value_delimiter = ',', required = true, allow_negative_numbers = true)]
    pub target_recall: Vec<f64>,
    /// Beam width of the patience and score rules, as a multiple of the fixed rule's ef for
    /// the same target, each finite and ≥ 1. Given several, comma-separated, each target gets
    /// the one whose logistic rule needs the fewest distance evaluations on the calibration
    /// queries (1 is a pure truncation of the fixed beam: no query works more than fixed ef's).
    /// The epsilon rule's radius, not a beam, decides what it expands (it keeps the k results,
    /// or on a byte walk the fixed rule's ef); the factor sets its beam only for a target no
    /// ε ≤ 4 meets, where it runs as a plain beam search.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1.3",
        allow_negative_numbers = true
    )]
    pub beam_factor: Vec<f64>,
    /// Bound the patience, score and epsilon rules' work per query at this multiple of the
    /// fixed rule's 99th-percentile distance evaluations for the same target (> 0): the knobs
    /// are calibrated with the bound in place. 1.0 holds their p99 work to fixed ef's; their
    /// p99 latency can stay higher, a distance costing more on the adaptive path (the epsilon
    /// rule on SIFT with 0.95: p99 latency level with fixed ef's, ADAPTIVE.md). Off by default.
    #[arg(long, allow_negative_numbers = true)]
    pub work_cap: Option<f64>,
    /// Seed of the split of the learning queries into fit and calibration halves.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Also train the PPO rule (`--stop ppo`): a policy over the same features trained with
    /// PPO on the reward recall − c·work, one per cost of --ppo-costs, the cheapest calibrated
    /// one kept.
    #[arg(long)]
    pub ppo: bool,
    /// With --ppo: the costs c swept (recall given up per cap search's worth of work).
    #[arg(long, value_delimiter = ',', default_values_t = PpoOptions::default().costs)]
    pub ppo_costs: Vec<f64>,
    /// With --ppo: batches of episodes per policy.
    #[arg(long, default_value_t = PpoOptions::default().iterations)]
    pub ppo_iterations: usize,
    /// Trees of the gbdt rule (`--stop gbdt`): gradient-boosted trees predicting the recall so
    /// far from the learned rule's features; 0 trains no trees.
    #[arg(long, default_value_t = GbdtOptions::default().trees)]
    pub gbdt_trees: usize,
    /// Depth of every gbdt tree (1–8): a check costs trees × depth comparisons.
    #[arg(long, default_value_t = GbdtOptions::default().depth)]
    pub gbdt_depth: u32,
    /// Shrinkage of every gbdt tree, in (0, 1]: fewer trees (cheaper checks) need a larger one.
    #[arg(long, default_value_t = GbdtOptions::default().learning_rate)]
    pub gbdt_rate: f32,
    /// Trees of the gain rule (`--stop gain`; 32 is a good count): gradient-boosted trees
    /// predicting the recall still to be gained over the next four checks from the features
    /// and their history. 0 (the default) trains none. An experiment: it is trained on traces at
    /// --ef-cap and only holds its own with a cap near the beam it runs at (ADAPTIVE.md).
    #[arg(long, default_value_t = 0)]
    pub gain_trees: usize,
    /// Depth of every gain tree (1–8).
    #[arg(long, default_value_t = GbdtOptions::gain().depth)]
    pub gain_depth: u32,
    /// Shrinkage of every gain tree, in (0, 1].
    #[arg(long, default_value_t = GbdtOptions::gain().learning_rate)]
    pub gain_rate: f32,
    /// Level-0 distance evaluations the adaef rule (`--stop adaef`, Ada-ef) scores against the
    /// law of the query's distances to the base before it chooses the query's beam width.
    #[arg(long, default_value_t = AdaEfOptions::default().warmup)]
    pub adaef_warmup: u32,
    /// Quantile step p of the adaef rule's five tail bins (a distance scores when it lies
    /// below the law's 5p quantile; the paper's 0.001).
    #[arg(long, default_value_t = AdaEfOptions::default().quantile_step)]
    pub adaef_quantile_step: f64,
    /// Principal axes of the base's covariance the adaef rule's law keeps for a query's variance
    /// (the rest is one calibrated variance); the law costs this many dot products per query.
    #[arg(long, default_value_t = AdaEfOptions::default().axes)]
    pub adaef_axes: usize,
    /// Write the index with its model here instead of over --index (written atomically).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Threads for the learning searches (default: all cores; results do not depend on it).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print the calibration as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Accepted for symmetry with every command: learn-stop prints no progress.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(a: Args) -> Result<(), Failure> {
    let (mut index, queries, truth) = a.input.load(
        "learn-stop needs --groundtruth: the rules are fitted and calibrated on the true \
         neighbours of the learning queries (make them with `geodex groundtruth`)",
    )?;
    super::check_target_recalls(&a.target_recall)?;
    let opts = LearnOptions {
        beam_factors: a.beam_factor.clone(),
        work_cap: a.work_cap,
        targets: a.target_recall.clone(),
        ppo: a.ppo.then(|| PpoOptions {
            costs: a.ppo_costs.clone(),
            iterations: a.ppo_iterations,
            seed: a.seed,
            ..PpoOptions::default()
        }),
        gbdt: (a.gbdt_trees > 0).then(|| GbdtOptions {
            trees: a.gbdt_trees,
            depth: a.gbdt_depth,
            learning_rate: a.gbdt_rate,
            ..GbdtOptions::default()
        }),
        gain: (a.gain_trees > 0).then(|| GbdtOptions {
            trees: a.gain_trees,
            depth: a.gain_depth,
            learning_rate: a.gain_rate,
            ..GbdtOptions::gain()
        }),
        adaef: Some(AdaEfOptions {
            warmup: a.adaef_warmup,
            quantile_step: a.adaef_quantile_step,
            axes: a.adaef_axes,
            ..AdaEfOptions::default()
        }),
        ..a.input.options(a.seed)
    };
    if let Some(c) = a.ppo_costs.iter().find(|c| !(c.is_finite() && **c >= 0.0)) {
        return Err(Failure::input(format!(
            "--ppo-costs {c}: costs must be finite and ≥ 0"
        )));
    }
    if let Some(f) = a.beam_factor.iter().find(|f| !(f.is_finite() && **f >= 1.0)) {
        return Err(Failure::input(format!(
            "--beam-factor {f}: beam factors must be finite and ≥ 1"
        )));
    }
    if let Some(c) = a.work_cap.filter(|c| !(c.is_finite() && *c > 0.0)) {
        return Err(Failure::input(format!(
            "--work-cap {c}: the work cap must be finite and > 0"
        )));
    }
    let pool = geodex_core::measure::thread_pool(a.threads)?;
    let learned = with_typed!(&index, queries, &a.input.queries, |ix, q| {
        let w = Workload {
            queries: q.as_slice(),
            truth: &truth,
            k: a.input.k,
        };
        pool.install(|| learn(ix, &w, &opts))
            .map_err(|e| a.input.failure(e))?
    });
    let out = a.out.as_deref().unwrap_or(&a.input.index);
    index.set_stop_model(Some(learned.model.clone()))?;
    index.save(out)?;
    let m = &learned.model;
    if a.json {
        super::print_json(&serde_json::json!({
            "index": out.display().to_string(),
            "fit_queries": learned.fit_queries,
            "calibration_queries": learned.calibration_queries,
            "fit_rows": learned.fit_rows,
            "cap_recall": learned.cap_recall,
            "ppo": learned.ppo.iter().map(ppo_json).collect::<Vec<_>>(),
            "model": m,
        }));
    } else {
        println!(
            "fitted on {} queries ({} checks), calibrated on {}; mean recall@{} at the cap ef {}: {:.4}",
            learned.fit_queries,
            learned.fit_rows,
            learned.calibration_queries,
            m.k,
            m.ef_cap,
            learned.cap_recall
        );
        println!(
            "{:>8} {:>6} {:>9} {:>10} {:>10} {:>10} {:>8}  ada ef per bin; adaef ef per bin",
            "target",
            StopKind::Fixed.name(),
            StopKind::Patience.name(),
            "threshold",
            StopKind::Gbdt.name(),
            StopKind::Gain.name(),
            StopKind::Epsilon.name()
        );
        let shown = |t: Option<f32>| t.map_or("-".into(), |t| format!("{t:.4}"));
        for c in &m.calibration {
            println!(
                "{:>8.3} {:>6} {:>9} {:>10.4} {:>10} {:>10} {:>8}  {:?}; {:?}",
                c.target,
                c.fixed_ef,
                c.patience,
                c.threshold,
                shown(c.gbdt_threshold),
                shown(c.gain_threshold),
                shown(c.epsilon),
                c.ada_ef,
                c.adaef_ef
            );
        }
        for t in &learned.ppo {
            println!(
                "ppo cost {:<5} reward {:.4}; as trained: recall {:.4} at work {:.3}; calibrated to {}: {:.1} distances{}",
                t.cost,
                t.final_reward,
                t.raw_recall,
                t.raw_work,
                t.selection_target,
                t.selection_distances,
                if t.chosen { "  (kept)" } else { "" }
            );
        }
        println!("wrote {}", out.display());
    }
    Ok(())
}

fn ppo_json(t: &PpoTrial) -> serde_json::Value {
    serde_json::json!({
        "cost": t.cost,
        "final_reward": t.final_reward,
        "raw_recall": t.raw_recall,
        "raw_work": t.raw_work,
        "selection_target": t.selection_target,
        "selection_distances": t.selection_distances,
        "chosen": t.chosen,
    })
}
