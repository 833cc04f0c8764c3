//! `geodex analyze`: graph health, spectra, topology and data geometry of an index (the theory
//! instrument: THEORY.md §2.3, §3.1, §3.3, §9.1, §9.3), computed by `geodex-analysis` through
//! the read-only graph view (`geodex_analysis::report`); this command reads files, formats and draws.

use std::path::{Path, PathBuf};

use geodex_analysis::report::SECTIONS;
use geodex_analysis::{analyze, AnalyzeOptions, Figures, Queries};
use geodex_core::AnyIndex;
use geodex_io::Role;
use serde_json::json;

use crate::failure::Failure;

mod plots;
mod table;

/// Arguments of `geodex analyze`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Index file.
    #[arg(long)]
    pub index: PathBuf,
    /// Sections to compute, comma-separated (graph, spectral, topology, geometry, bounds,
    /// compression); all by default.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Query vectors: adds per-query local intrinsic dimension against recall and work.
    #[arg(long)]
    pub queries: Option<PathBuf>,
    /// Beam width of the per-query searches.
    #[arg(long, default_value_t = 32)]
    pub ef: usize,
    /// Neighbours per query (recall@k) of the per-query searches.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Points whose neighbourhoods the intrinsic-dimension estimators use.
    #[arg(long, default_value_t = 2000)]
    pub sample: usize,
    /// Breadth-first searches for the hop-distance estimate.
    #[arg(long, default_value_t = 32)]
    pub sources: usize,
    /// Seed of the sampled sources and of the eigensolver's start vector.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress output on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// ε of the §1.1 space lower bound (approximation).
    #[arg(long, default_value_t = 0.1)]
    pub epsilon: f64,
    /// δ of the §1.1 space lower bound (failure probability).
    #[arg(long, default_value_t = 0.01)]
    pub delta: f64,
    /// Union-bound section: a query succeeds when its recall@k is at least this.
    #[arg(long, default_value_t = 0.9)]
    pub target_recall: f64,
    /// Union-bound section: queries per batch.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Union-bound section: wanted probability that every query of a batch succeeds.
    #[arg(long, default_value_t = 0.99)]
    pub batch_success: f64,
    /// Write the redundant level-0 links (topology section) to this file: `u<TAB>v<TAB>length`.
    #[arg(long)]
    pub redundant_out: Option<PathBuf>,
    /// Write PNG plots into this directory (degrees, spectrum, barcode, percolation, lid).
    #[arg(long)]
    pub plots: Option<PathBuf>,
}

pub fn run(a: Args) -> Result<(), Failure> {
    if let Some(bad) = a.only.iter().find(|s| !SECTIONS.contains(&s.as_str())) {
        return Err(Failure::input(format!(
            "--only: unknown section `{bad}` (known: {})",
            SECTIONS.join(", ")
        )));
    }
    if let Some(dir) = &a.plots {
        std::fs::create_dir_all(dir).map_err(|e| {
            Failure::runtime(format!(
                "{}: cannot create the plot directory: {e}",
                dir.display()
            ))
        })?;
    }
    let options = AnalyzeOptions {
        ef: a.ef,
        k: a.k,
        sample: a.sample,
        sources: a.sources,
        seed: a.seed,
        epsilon: a.epsilon,
        delta: a.delta,
        target_recall: a.target_recall,
        batch: a.batch,
        batch_success: a.batch_success,
        figures: a.plots.is_some(),
    };
    options.validate()?;
    let index = crate::data::open_index(&a.index)?;
    let sections: Vec<&str> = a.only.iter().map(String::as_str).collect();
    let count = if sections.is_empty() {
        SECTIONS.len()
    } else {
        sections.len()
    };
    let bar = crate::progress::bar(count as u64, "analyze", a.quiet);
    let progress = |name: &str| {
        bar.set_message(name.to_string());
        bar.inc(1);
    };
    let (mut out, figures) = match &a.queries {
        Some(path) => {
            let queries = crate::data::read_vectors(path, Role::Queries, None)?;
            let (floats, bytes);
            let q = match &index {
                AnyIndex::F32(ix) => {
                    floats = crate::data::queries_for::<f32>(ix.dim(), queries, path)?;
                    Queries::F32(floats.as_slice())
                }
                AnyIndex::U8(ix) => {
                    bytes = crate::data::queries_for::<u8>(ix.dim(), queries, path)?;
                    Queries::U8(bytes.as_slice())
                }
            };
            analyze(&index, &sections, Some(q), &options, &progress).map_err(crate::failure::in_file(path))?
        }
        None => analyze(&index, &sections, None, &options, &progress)?,
    };
    bar.finish_and_clear();
    out["index"] = json!(a.index.display().to_string());
    write_outputs(&a, &figures)?;
    if a.json {
        super::print_json(&out);
    } else {
        table::print_table(&out);
    }
    Ok(())
}

/// The redundant-link list and the figures, where the flags ask for them.
fn write_outputs(a: &Args, figures: &Figures) -> Result<(), Failure> {
    if let (Some(path), Some((report, _, _))) = (&a.redundant_out, &figures.topology) {
        let tsv: String = report
            .redundant
            .iter()
            .map(|e| format!("{}\t{}\t{}\n", e.u, e.v, e.length))
            .collect();
        geodex_io::atomic::write_file(path, |w| w.write_all(tsv.as_bytes()))?;
    }
    let Some(dir) = &a.plots else {
        return Ok(());
    };
    let at = |name: &str| -> PathBuf { Path::new(dir).join(name) };
    if let Some(level0) = &figures.level0 {
        plots::degrees(&at("degrees.png"), level0)?;
    }
    if let Some(values) = &figures.spectrum {
        plots::spectrum(&at("spectrum.png"), values)?;
    }
    if let Some((report, steps, recall)) = &figures.topology {
        plots::barcode(&at("barcode.png"), &report.beta0_deaths)?;
        plots::percolation(&at("percolation.png"), steps, recall.as_deref())?;
    }
    if let Some(report) = &figures.hardness {
        plots::lid_vs_recall(&at("lid.png"), report)?;
    }
    Ok(())
}
