//! One `geodex embed` training run carried to its end: the progress bar, the validation
//! measurements with early stopping, and checkpoints written while it runs and on Ctrl-C.

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use geodex_embed::{link_prediction, Checkpoint, Hierarchy, TrainParams, Trained, Training};
use serde_json::json;

use crate::commands::embed::Args;
use crate::failure::Failure;
use crate::progress;

/// One training run: its data, settings, checkpoint file and, for a validation run, the
/// held-out pairs it is measured on.
pub struct Run<'h> {
    pub hierarchy: &'h Hierarchy,
    pub params: TrainParams,
    pub checkpoint: Option<PathBuf>,
    pub validation: Option<&'h Validation<'h>>,
}

/// The held-out pairs of a validation split and how to measure them.
pub struct Validation<'h> {
    pub train: &'h Hierarchy,
    pub held_out: &'h [(u32, u32)],
    pub every: usize,
    pub patience: usize,
    pub sample: usize,
}

/// What a run produced.
pub struct Outcome {
    pub trained: Trained,
    /// (epoch, link-prediction MAP, mean rank) of every validation measurement.
    pub curve: Vec<(usize, f64, f64)>,
    pub seconds_per_epoch: f64,
    pub sampling_share: f64,
    /// Epochs taken over from a checkpoint.
    pub resumed_at: usize,
}

impl Outcome {
    /// The measurement with the best MAP (the earliest of equals).
    pub fn best(&self) -> Option<(usize, f64, f64)> {
        best_index(&self.curve).map(|i| self.curve[i])
    }
}

/// Index of the measurement with the best MAP (the earliest of equals).
fn best_index(curve: &[(usize, f64, f64)]) -> Option<usize> {
    (0..curve.len()).reduce(|b, i| if curve[i].1 > curve[b].1 { i } else { b })
}

/// Runs (or resumes) one training run to its end, or for a validation run until its patience
/// runs out, with a progress bar, validation measurements and checkpoints.
pub fn execute(a: &Args, run: &Run, title: &str) -> Result<Outcome, Failure> {
    let mut training;
    let mut curve = Vec::new();
    let mut stopped = false;
    match run.checkpoint.as_ref().filter(|p| a.resume && p.exists()) {
        Some(path) => {
            let checkpoint = read_checkpoint(path)?;
            training = Training::resume(run.hierarchy, a.model, run.params.clone(), &checkpoint)
                .map_err(|e| Failure::from(e).context(path.display()))?;
            curve = serde_json::from_value(checkpoint.header.extra["curve"].clone()).unwrap_or_default();
            stopped = checkpoint.header.extra["stopped"].as_bool().unwrap_or(false);
        }
        None => training = Training::new(run.hierarchy, a.model, run.params.clone())?,
    }
    let resumed_at = training.epochs_done();
    let epochs = run.params.epochs;
    let bar = progress::bar(epochs as u64, title, a.quiet);
    bar.set_position(resumed_at as u64);
    let (mut seconds, mut sampling) = (0.0, 0.0);
    while training.epochs_done() < epochs && !stopped {
        let stats = match training.run_epoch() {
            Ok(stats) => stats,
            Err(e) => {
                // Interrupted between two epochs: keep the state reached so --resume loses
                // nothing, then report the interruption.
                if let Some(path) = run
                    .checkpoint
                    .as_ref()
                    .filter(|_| training.epochs_done() > resumed_at)
                {
                    write_checkpoint(path, &training, &curve, stopped)?;
                }
                return Err(e.into());
            }
        };
        seconds += stats.seconds;
        sampling += stats.sampling_share * stats.seconds;
        let mut message = format!("loss {:.3}", stats.loss);
        if let Some(v) = run.validation {
            if stats.epoch % v.every == 0 || stats.epoch == epochs {
                let r = link_prediction(
                    v.train,
                    v.held_out,
                    &training.vectors(),
                    run.params.dim,
                    a.model,
                    Some(v.sample),
                    run.params.threads,
                )?;
                curve.push((stats.epoch, r.map, r.mean_rank));
                stopped = v.patience > 0 && measurements_since_best(&curve) >= v.patience;
            }
            if let Some(&(_, map, _)) = curve.last() {
                message = format!("{message}, val MAP {map:.3}");
            }
        }
        bar.set_position(stats.epoch as u64);
        bar.set_message(message);
        let due = stats.epoch % a.checkpoint_every.max(1) == 0 || stats.epoch == epochs || stopped;
        if let Some(path) = run.checkpoint.as_ref().filter(|_| due) {
            write_checkpoint(path, &training, &curve, stopped)?;
        }
    }
    bar.finish_and_clear();
    let ran = training.epochs_done() - resumed_at;
    Ok(Outcome {
        trained: training.finish(),
        curve,
        seconds_per_epoch: if ran > 0 { seconds / ran as f64 } else { 0.0 },
        sampling_share: if seconds > 0.0 { sampling / seconds } else { 0.0 },
        resumed_at,
    })
}

/// How many measurements came after the best one.
fn measurements_since_best(curve: &[(usize, f64, f64)]) -> usize {
    curve.len() - 1 - best_index(curve).unwrap_or(0)
}

fn read_checkpoint(path: &Path) -> Result<Checkpoint, Failure> {
    let file = std::fs::File::open(path).map_err(|e| Failure::input(format!("{}: {e}", path.display())))?;
    Checkpoint::read_from(&mut BufReader::new(file)).map_err(|e| Failure::from(e).context(path.display()))
}

/// Writes the run's checkpoint atomically, with the validation curve so far beside it.
fn write_checkpoint(
    path: &Path,
    training: &Training,
    curve: &[(usize, f64, f64)],
    stopped: bool,
) -> Result<(), Failure> {
    let mut checkpoint = training.checkpoint();
    checkpoint.header.extra = json!({ "curve": curve, "stopped": stopped });
    geodex_io::atomic::write_file(path, |w: &mut dyn Write| checkpoint.write_to(w))?;
    Ok(())
}
