//! `geodex embed`: train (or construct) a hierarchy embedding and write it as `.fvecs` with the
//! node names beside it.

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use geodex_embed::sarkar;
use geodex_embed::{reconstruction, train, Hierarchy, Model, Relevant, TrainParams};
use geodex_io::Matrix;
use serde_json::json;

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
    /// Burn-in epochs (lr/10, degree-proportional negatives).
    #[arg(long, default_value_t = 10)]
    pub burn_in: usize,
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

/// Trains at every learning rate asked for and keeps the best by reconstruction MAP.
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
    let mut best: Option<(f64, f64, geodex_embed::Trained, f64)> = None;
    let mut grid = Vec::new();
    for &lr in &rates {
        let params = TrainParams {
            negatives: a.negatives,
            burn_in: a.burn_in,
            threads,
            seed: a.seed,
            cancel: Some(crate::interrupt::flag().shared()),
            ..TrainParams::new(a.dim.unwrap_or(10), a.epochs, lr)
        };
        let bar = progress::bar(a.epochs as u64, &format!("lr {lr}"), a.quiet);
        let start = Instant::now();
        let out = train(hierarchy, a.model, &params, &|epoch, loss| {
            bar.set_position(epoch as u64);
            bar.set_message(format!("loss {loss:.3}"));
        })?;
        bar.finish_and_clear();
        let per_epoch = start.elapsed().as_secs_f64() / a.epochs.max(1) as f64;
        let map = if rates.len() > 1 {
            reconstruction(
                hierarchy,
                &out.vectors,
                out.dim,
                a.model,
                Relevant::Ancestors,
                Some(TUNING_SAMPLE),
                threads,
            )?
            .map
        } else {
            f64::NAN
        };
        let loss = out.losses.last().copied().unwrap_or(f64::NAN);
        progress::note(
            a.quiet,
            format!(
                "lr {lr}: final loss {loss:.4}, {per_epoch:.3} s/epoch{}",
                tuning_note(map)
            ),
        );
        grid.push(json!({ "lr": lr, "loss": loss, "map": finite(map), "seconds_per_epoch": per_epoch }));
        if best.as_ref().is_none_or(|b| map > b.1 || b.1.is_nan()) {
            best = Some((lr, map, out, per_epoch));
        }
    }
    let (lr, _, out, per_epoch) = best.expect("at least one learning rate");
    let summary = json!({
        "lr": lr,
        "epochs": a.epochs,
        "negatives": a.negatives,
        "burn_in": a.burn_in,
        "threads": threads,
        "seed": a.seed,
        "final_loss": out.losses.last(),
        "seconds_per_epoch": round(per_epoch, 4),
        "lr_grid": grid,
    });
    Ok((out.dim, out.vectors, summary))
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
