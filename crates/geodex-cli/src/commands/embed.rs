//! `geodex embed`: train (or construct) a hierarchy embedding and write it as `.fvecs` with the
//! node names beside it.

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use geodex_embed::sarkar;
use geodex_embed::{reconstruction, Hierarchy, LrSchedule, Model, Relevant, TrainParams};
use geodex_io::Matrix;
use serde_json::json;

use crate::commands::embed_run::{execute, Outcome, Run, Validation};
use crate::commands::{print_json, round};
use crate::failure::Failure;
use crate::progress;

/// Arguments of `geodex embed`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Transitive closure, one `child<TAB>ancestor` pair per line.
    #[arg(long)]
    pub edges: PathBuf,
    /// poincare, lorentz, euclidean (trained with the same loss and sampler) or sarkar (the
    /// combinatorial construction of the closure's spanning tree, in any dimension ≥ 2).
    #[arg(long)]
    pub model: Model,
    /// Dimension of the written vectors (default 10; sarkar: 2, Sarkar's original disk).
    #[arg(long)]
    pub dim: Option<usize>,
    /// Epochs, burn-in included.
    #[arg(long, default_value_t = 400)]
    pub epochs: usize,
    /// Learning rate; a comma list trains once per rate and keeps the embedding with the best
    /// reconstruction MAP (the tuning protocol of HYPERBOLIC.md). Default: the model's tuned rate.
    #[arg(long, value_delimiter = ',')]
    pub lr: Vec<f64>,
    /// Negatives per pair.
    #[arg(long, default_value_t = 50)]
    pub negatives: usize,
    /// Share of each pair's negatives (after burn-in) drawn near the node in the hierarchy — a
    /// descendant of one of its ancestors — instead of uniformly (0: the paper's sampler).
    #[arg(long, default_value_t = 0.0)]
    pub local_negatives: f64,
    /// Share of each pair's negatives (after burn-in) drawn from the node's nearest
    /// unrelated nodes in the current embedding, mined exactly every --hard-refresh epochs (0: none).
    #[arg(long, default_value_t = 0.0)]
    pub hard_negatives: f64,
    /// Nearest unrelated nodes kept per node for --hard-negatives.
    #[arg(long, default_value_t = 32)]
    pub hard_pool: usize,
    /// Epochs between two minings of the hard negatives.
    #[arg(long, default_value_t = 10)]
    pub hard_refresh: usize,
    /// Poincaré: trained points stay at norm ≤ 1 − this (the reference implementation's 1e-5,
    /// hyperbolic radius 12.2; at least 1e-6, radius 14.5, which written f32 coordinates resolve).
    #[arg(long, default_value_t = 1e-5)]
    pub boundary_eps: f64,
    /// Burn-in epochs (lr/10, degree-proportional negatives).
    #[arg(long, default_value_t = 10)]
    pub burn_in: usize,
    /// After burn-in: constant (the paper's) or linear decay to lr/epochs at the last epoch; a
    /// comma list is a grid with --lr, searched like it.
    #[arg(long, value_delimiter = ',', default_value = "constant")]
    pub lr_schedule: Vec<LrSchedule>,
    /// Hold out this share of the closure pairs (outside the transitive reduction) and choose
    /// the learning rate (among --lr) and the epoch count (up to --epochs) by link-prediction MAP
    /// on them; then train on all pairs with the choice.
    #[arg(long)]
    pub validation: Option<f64>,
    /// Epochs between two validation measurements.
    #[arg(long, default_value_t = 10)]
    pub eval_every: usize,
    /// Stop a validation run after this many measurements without a better MAP (0: never).
    #[arg(long, default_value_t = 5)]
    pub patience: usize,
    /// Held-out children ranked per validation measurement (a seeded sample).
    #[arg(long, default_value_t = 2000)]
    pub validation_sample: usize,
    /// Keep the run's state here every --checkpoint-every epochs and at its end (runs of a
    /// learning-rate grid or a validation add a suffix: PATH.lr0.3, PATH.val-lr0.3).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Epochs between checkpoints.
    #[arg(long, default_value_t = 10)]
    pub checkpoint_every: usize,
    /// Continue from the checkpoint(s) where they exist (same closure, model, dim and seed).
    #[arg(long, requires = "checkpoint")]
    pub resume: bool,
    /// Hogwild training threads (default: all cores; 1 is exactly reproducible).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Seed of initialisation, pair order and negatives.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Sarkar's edge length τ (default: the largest whose deepest node an f32 still resolves).
    #[arg(long)]
    pub tau: Option<f64>,
    /// Where to write the vectors (.fvecs), one per node.
    #[arg(long)]
    pub out: PathBuf,
    /// Where to write the node names, one per line in the order of the vectors.
    #[arg(long)]
    pub names: PathBuf,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// The learning rate each trained model uses when `--lr` is not given: the best of the grid in
/// HYPERBOLIC.md on the mammal closure at d = 10.
pub fn default_lr(model: Model) -> f64 {
    match model {
        Model::Poincare | Model::Lorentz | Model::Euclidean | Model::Sarkar => 0.3,
    }
}

/// Reads a closure file.
pub fn read_hierarchy(path: &Path) -> Result<Hierarchy, Failure> {
    let file = std::fs::File::open(path).map_err(|e| Failure::input(format!("{}: {e}", path.display())))?;
    Hierarchy::read_tsv(BufReader::new(file)).map_err(|e| Failure::from(e).context(path.display()))
}

/// Nodes sampled for the MAP that picks among learning rates on large hierarchies.
const TUNING_SAMPLE: usize = 2000;

pub fn run(a: Args) -> Result<(), Failure> {
    let hierarchy = read_hierarchy(&a.edges)?;
    let threads = a.threads.unwrap_or_else(rayon::current_num_threads);
    let start = Instant::now();
    let (dim, vectors, summary) = if a.model == Model::Sarkar {
        let s = sarkar::construct(&hierarchy, a.tau, a.dim.unwrap_or(2))?;
        let summary = json!({ "tau": s.tau, "depth": s.depth });
        (s.dim, s.vectors, summary)
    } else {
        trained(&a, &hierarchy, threads)?
    };
    let seconds = start.elapsed().as_secs_f64();
    geodex_io::write_fvecs(&a.out, &Matrix::new(dim, vectors).expect("dim ≥ 1"))?;
    write_names(&a.names, hierarchy.names())?;
    if a.json {
        print_json(&json!({
            "model": a.model.name(),
            "nodes": hierarchy.len(),
            "pairs": hierarchy.pairs().len(),
            "dim": dim,
            "seconds": round(seconds, 3),
            "details": summary,
        }));
    } else {
        println!(
            "{} embedding of {} nodes ({} pairs), dimension {dim}, written to {} in {seconds:.2} s",
            a.model,
            hierarchy.len(),
            hierarchy.pairs().len(),
            a.out.display()
        );
    }
    Ok(())
}

/// A point of the learning-rate grid.
#[derive(Clone, Copy, Debug)]
struct Setting {
    schedule: LrSchedule,
    lr: f64,
}

impl Setting {
    /// The checkpoint suffix of a run at this setting: `lr0.3` for the default constant
    /// schedule, `linear-lr0.3` otherwise.
    fn suffix(self) -> String {
        match self.schedule {
            LrSchedule::Constant => format!("lr{}", self.lr),
            other => format!("{other}-lr{}", self.lr),
        }
    }
}

impl std::fmt::Display for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.schedule {
            LrSchedule::Constant => write!(f, "lr {}", self.lr),
            other => write!(f, "lr {} {other}", self.lr),
        }
    }
}

/// Trains at every learning rate asked for and keeps the best: by validation MAP with
/// `--validation` (then trains once more on all pairs), else by reconstruction MAP.
fn trained(
    a: &Args,
    hierarchy: &Hierarchy,
    threads: usize,
) -> Result<(usize, Vec<f32>, serde_json::Value), Failure> {
    let rates = if a.lr.is_empty() {
        vec![default_lr(a.model)]
    } else {
        a.lr.clone()
    };
    let grid_points: Vec<Setting> = a
        .lr_schedule
        .iter()
        .flat_map(|&schedule| rates.iter().map(move |&lr| Setting { schedule, lr }))
        .collect();
    let params = |at: Setting, epochs: usize| TrainParams {
        negatives: a.negatives,
        local_negatives: a.local_negatives,
        hard_negatives: a.hard_negatives,
        hard_pool: a.hard_pool,
        hard_refresh: a.hard_refresh,
        boundary_eps: a.boundary_eps,
        burn_in: a.burn_in,
        threads,
        seed: a.seed,
        schedule: at.schedule,
        cancel: Some(crate::interrupt::flag().shared()),
        ..TrainParams::new(a.dim.unwrap_or(10), epochs, at.lr)
    };
    if let Some(fraction) = a.validation {
        return validated(a, hierarchy, &grid_points, fraction, &params);
    }
    let mut best: Option<(Setting, f64, Outcome)> = None;
    let mut grid = Vec::new();
    for &at in &grid_points {
        let suffix = (grid_points.len() > 1).then(|| at.suffix());
        let run = Run {
            hierarchy,
            params: params(at, a.epochs),
            checkpoint: checkpoint_path(a, suffix.as_deref()),
            validation: None,
        };
        let out = execute(a, &run, &at.to_string())?;
        let map = if rates.len() > 1 {
            reconstruction(
                hierarchy,
                &out.trained.vectors,
                out.trained.dim,
                a.model,
                Relevant::Ancestors,
                Some(TUNING_SAMPLE),
                threads,
            )?
            .map
        } else {
            f64::NAN
        };
        let loss = out.trained.losses.last().copied().unwrap_or(f64::NAN);
        progress::note(
            a.quiet,
            format!(
                "{at}: final loss {loss:.4}, {:.3} s/epoch{}",
                out.seconds_per_epoch,
                tuning_note(map)
            ),
        );
        grid.push(json!({
            "lr": at.lr,
            "lr_schedule": at.schedule.name(),
            "loss": loss,
            "map": finite(map),
            "seconds_per_epoch": out.seconds_per_epoch,
        }));
        if best.as_ref().is_none_or(|b| map > b.1 || b.1.is_nan()) {
            best = Some((at, map, out));
        }
    }
    let (at, _, out) = best.expect("at least one learning rate");
    let summary = run_summary(a, threads, at, a.epochs, &out, json!({ "lr_grid": grid }));
    Ok((out.trained.dim, out.trained.vectors, summary))
}

/// `--validation`: one run per grid point (schedule, rate) on the training split, measured every `--eval-every`
/// epochs; the best (schedule, rate, epoch) by held-out MAP is then trained on all pairs.
fn validated(
    a: &Args,
    hierarchy: &Hierarchy,
    grid: &[Setting],
    fraction: f64,
    params: &dyn Fn(Setting, usize) -> TrainParams,
) -> Result<(usize, Vec<f32>, serde_json::Value), Failure> {
    if a.eval_every == 0 {
        return Err(Failure::input("--eval-every must be at least 1"));
    }
    let (train_split, held_out) = hierarchy.split_validation(fraction, a.seed)?;
    let validation = Validation {
        train: &train_split,
        held_out: &held_out,
        every: a.eval_every,
        patience: a.patience,
        sample: a.validation_sample,
    };
    let mut choice: Option<(Setting, usize, f64)> = None;
    let mut runs = Vec::new();
    for &at in grid {
        let run = Run {
            hierarchy: &train_split,
            params: params(at, a.epochs),
            checkpoint: checkpoint_path(a, Some(&format!("val-{}", at.suffix()))),
            validation: Some(&validation),
        };
        let out = execute(a, &run, &format!("val {at}"))?;
        let Some((epoch, map, rank)) = out.best() else {
            return Err(Failure::input("--validation needs --epochs of at least 1"));
        };
        progress::note(
            a.quiet,
            format!(
                "validation {at}: best held-out MAP {map:.4} (mean rank {rank:.2}) at epoch {epoch} of {}, {:.3} s/epoch",
                out.trained.losses.len(),
                out.seconds_per_epoch
            ),
        );
        runs.push(json!({
            "lr": at.lr,
            "lr_schedule": at.schedule.name(),
            "epochs_run": out.trained.losses.len(),
            "best_epoch": epoch,
            "best_map": map,
            "curve": out.curve.iter().map(|&(e, m, r)| json!({ "epoch": e, "map": m, "mean_rank": r })).collect::<Vec<_>>(),
            "losses": out.trained.losses,
            "seconds_per_epoch": out.seconds_per_epoch,
        }));
        if choice.is_none_or(|c| map > c.2) {
            choice = Some((at, epoch, map));
        }
    }
    let (at, epochs, map) = choice.expect("at least one learning rate");
    progress::note(
        a.quiet,
        format!("chosen: {at}, {epochs} epochs; training on all pairs"),
    );
    let run = Run {
        hierarchy,
        params: params(at, epochs),
        checkpoint: checkpoint_path(a, None),
        validation: None,
    };
    let out = execute(a, &run, &at.to_string())?;
    let validation = json!({
        "fraction": fraction,
        "held_out_pairs": held_out.len(),
        "sample": a.validation_sample,
        "eval_every": a.eval_every,
        "patience": a.patience,
        "chosen_lr": at.lr,
        "chosen_lr_schedule": at.schedule.name(),
        "chosen_epochs": epochs,
        "chosen_map": map,
        "runs": runs,
    });
    let summary = run_summary(
        a,
        run.params.threads,
        at,
        epochs,
        &out,
        json!({ "validation": validation }),
    );
    Ok((out.trained.dim, out.trained.vectors, summary))
}

/// The JSON `details` of a trained embedding: its settings, speed and `more`.
fn run_summary(
    a: &Args,
    threads: usize,
    at: Setting,
    epochs: usize,
    out: &Outcome,
    more: serde_json::Value,
) -> serde_json::Value {
    let mut summary = json!({
        "lr": at.lr,
        "lr_schedule": at.schedule.name(),
        "epochs": epochs,
        "negatives": a.negatives,
        "local_negatives": a.local_negatives,
        "hard_negatives": a.hard_negatives,
        "hard_pool": a.hard_pool,
        "hard_refresh": a.hard_refresh,
        "boundary_eps": a.boundary_eps,
        "burn_in": a.burn_in,
        "threads": threads,
        "seed": a.seed,
        "final_loss": out.trained.losses.last(),
        "seconds_per_epoch": round(out.seconds_per_epoch, 4),
        "sampling_share": round(out.sampling_share, 4),
        "resumed_at_epoch": out.resumed_at,
    });
    if let (Some(s), Some(m)) = (summary.as_object_mut(), more.as_object()) {
        s.extend(m.clone());
    }
    summary
}

/// `--checkpoint` with the run's suffix, if any.
fn checkpoint_path(a: &Args, suffix: Option<&str>) -> Option<PathBuf> {
    let base = a.checkpoint.as_ref()?;
    Some(match suffix {
        Some(sfx) => {
            let mut name = base.as_os_str().to_owned();
            name.push(format!(".{sfx}"));
            PathBuf::from(name)
        }
        None => base.clone(),
    })
}

fn tuning_note(map: f64) -> String {
    if map.is_nan() {
        String::new()
    } else {
        format!(", reconstruction MAP {map:.4}")
    }
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// Writes one name per line, atomically.
fn write_names(path: &Path, names: &[String]) -> Result<(), Failure> {
    geodex_io::atomic::write_file(path, |w: &mut dyn Write| {
        for n in names {
            writeln!(w, "{n}")?;
        }
        Ok(())
    })?;
    Ok(())
}
