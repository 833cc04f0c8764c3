//! `geodex analyze`: graph health, spectra, topology and data geometry of an index (the theory
//! instrument: THEORY.md §2.3, §3.1, §3.3, §9.1, §9.3), computed by `geodex-analysis` through
//! the read-only graph view.

use std::path::PathBuf;
use std::time::Instant;

use geodex_analysis::{
    bit_accounting, exact_neighbours, geometry_report, hop_estimate, index_rows, level_health, percolation,
    percolation_recall, percolation_threshold, query_bounds, query_hardness, removal_order,
    smallest_eigenvalues, spectral_report, storage_report, topology_report, BoundsOptions, DirectedGraph,
    GeometryOptions, HardnessOptions, Laplacian, SpectralOptions, UndirectedGraph,
};
use geodex_core::{check_graph, AnyIndex};
use geodex_io::Role;
use serde_json::json;

use crate::failure::Failure;

mod plots;
mod table;

/// The sections `--only` can select.
const SECTIONS: [&str; 6] = [
    "graph",
    "spectral",
    "topology",
    "geometry",
    "bounds",
    "compression",
];

/// Eigenvalues of the normalised Laplacian drawn in `spectrum.png` (one Lanczos solve each).
const SPECTRUM_PLOT_COUNT: usize = 10;

/// Fractions of level-0 links the percolation experiment removes.
const PERCOLATION_STEPS: [f64; 13] = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98];

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
    let wanted = |s: &str| a.only.is_empty() || a.only.iter().any(|o| o == s);
    let index = crate::data::open_index(&a.index)?;
    let mut out = json!({ "index": a.index.display().to_string(), "nodes": index.len() });
    type Section = fn(&AnyIndex, &Args) -> Result<serde_json::Value, Failure>;
    let sections: [(&str, Section); 6] = [
        ("graph", graph_section),
        ("spectral", spectral_section),
        ("topology", topology_section),
        ("geometry", geometry_section),
        ("bounds", bounds_section),
        ("compression", compression_section),
    ];
    let chosen: Vec<(&str, Section)> = sections.into_iter().filter(|(name, _)| wanted(name)).collect();
    let bar = crate::progress::bar(chosen.len() as u64, "analyze", a.quiet);
    for (name, section) in chosen {
        bar.set_message(name);
        let started = Instant::now();
        let mut value = section(&index, &a)?;
        value["seconds"] = json!(super::round(started.elapsed().as_secs_f64(), 3));
        out[name] = value;
        bar.inc(1);
    }
    bar.finish_and_clear();
    if a.json {
        super::print_json(&out);
    } else {
        table::print_table(&out);
    }
    Ok(())
}

/// The file's exact bytes per section next to each section's information-theoretic lower bound.
fn compression_section(index: &AnyIndex, _: &Args) -> Result<serde_json::Value, Failure> {
    let report = match index {
        AnyIndex::F32(ix) => storage_report(ix),
        AnyIndex::U8(ix) => storage_report(ix),
    };
    let mut v = serde_json::to_value(report).expect("serialises");
    v["quant"] = json!(index.info().quant);
    v["ram_bytes"] = json!(index.info().ram_bytes);
    Ok(v)
}

/// Degrees per level, unreachable nodes, level-0 SCCs and hop distances.
fn graph_section(index: &AnyIndex, a: &Args) -> Result<serde_json::Value, Failure> {
    let view = index.graph();
    let level0 = DirectedGraph::from_level(&view, 0);
    let (labels, scc_count) = level0.strongly_connected_components();
    let mut sizes = vec![0usize; scc_count];
    labels.iter().for_each(|&l| sizes[l as usize] += 1);
    let levels = level_health(&view);
    if let Some(dir) = &a.plots {
        plots::degrees(&dir.join("degrees.png"), &levels[0])?;
    }
    Ok(json!({
        "unreachable": check_graph(&view).unreachable,
        "levels": levels,
        "level0_scc_count": scc_count,
        "level0_largest_scc": sizes.iter().max().copied().unwrap_or(0),
        "level0_hops": hop_estimate(&level0, a.sources, a.seed),
    }))
}

/// λ₂ of both Laplacians, the sweep cut and the Cheeger check.
fn spectral_section(index: &AnyIndex, a: &Args) -> Result<serde_json::Value, Failure> {
    let g = UndirectedGraph::from_level(&index.graph(), 0);
    let options = SpectralOptions {
        seed: a.seed,
        ..Default::default()
    };
    let mut spectral = serde_json::to_value(spectral_report(&g, &options)).expect("serialises");
    if let Some(dir) = &a.plots {
        let values = smallest_eigenvalues(&g, Laplacian::Normalized, SPECTRUM_PLOT_COUNT, &options);
        plots::spectrum(&dir.join("spectrum.png"), &values)?;
        spectral["smallest_normalized"] = json!(values);
    }
    Ok(spectral)
}

/// Euclidean length of the link between two stored vectors.
fn link_length(rows: &[f32], dim: usize) -> impl Fn(u32, u32) -> f64 + Sync + '_ {
    move |a, b| {
        let (x, y) = (&rows[a as usize * dim..][..dim], &rows[b as usize * dim..][..dim]);
        x.iter()
            .zip(y)
            .map(|(p, q)| ((p - q) as f64).powi(2))
            .sum::<f64>()
            .sqrt()
    }
}

/// β₀ barcode, β₁, redundant links, percolation (with recall when queries are given).
fn topology_section(index: &AnyIndex, a: &Args) -> Result<serde_json::Value, Failure> {
    let rows = stored_rows_f32(index);
    let g = UndirectedGraph::from_level(&index.graph(), 0);
    let report = topology_report(&g, link_length(&rows, index.info().dim));
    let steps = percolation(&g, &PERCOLATION_STEPS, a.seed);
    let recall = match &a.queries {
        Some(path) => {
            let order = removal_order(&g, a.seed);
            let queries = crate::data::read_vectors(path, Role::Queries, None)?;
            Some(crate::with_typed!(index, queries, path, |ix, q| {
                let truth = exact_neighbours(ix, q.as_slice(), a.k).map_err(crate::failure::in_file(path))?;
                percolation_recall(ix, &order, &PERCOLATION_STEPS, q.as_slice(), &truth, a.k, a.ef)
                    .map_err(crate::failure::in_file(path))?
            }))
        }
        None => None,
    };
    if let Some(path) = &a.redundant_out {
        let tsv: String = report
            .redundant
            .iter()
            .map(|e| format!("{}\t{}\t{}\n", e.u, e.v, e.length))
            .collect();
        geodex_io::atomic::write_file(path, |w| w.write_all(tsv.as_bytes()))?;
    }
    if let Some(dir) = &a.plots {
        plots::barcode(&dir.join("barcode.png"), &report.beta0_deaths)?;
        plots::percolation(&dir.join("percolation.png"), &steps, recall.as_deref())?;
    }
    let mut topology = serde_json::to_value(&report).expect("serialises");
    let mut perc = serde_json::to_value(&steps).expect("serialises");
    for (step, r) in perc
        .as_array_mut()
        .into_iter()
        .flatten()
        .zip(recall.iter().flatten())
    {
        step["recall"] = json!(r);
    }
    topology["percolation"] = perc;
    topology["percolation_threshold"] = json!(percolation_threshold(&steps));
    Ok(topology)
}

/// Intrinsic dimension, distance concentration, relative contrast; per-query LID when
/// queries are given.
fn geometry_section(index: &AnyIndex, a: &Args) -> Result<serde_json::Value, Failure> {
    let options = GeometryOptions {
        sample: a.sample,
        seed: a.seed,
        ..Default::default()
    };
    let rows = stored_rows_f32(index);
    let mut geometry =
        serde_json::to_value(geometry_report(&rows, index.info().dim, &options)?).expect("serialises");
    if let Some(path) = &a.queries {
        let queries = crate::data::read_vectors(path, Role::Queries, None)?;
        let options = HardnessOptions {
            k: a.k,
            ef: a.ef,
            ..Default::default()
        };
        let report = crate::with_typed!(index, queries, path, |ix, q| {
            query_hardness(ix, q.as_slice(), &options).map_err(crate::failure::in_file(path))?
        });
        if let Some(dir) = &a.plots {
            plots::lid_vs_recall(&dir.join("lid.png"), &report)?;
        }
        geometry["queries"] = serde_json::to_value(report).expect("serialises");
    }
    Ok(geometry)
}

/// Bit accounting (§1.1); with queries, approximation factor (§6.2), Chernoff (§7.1) and the
/// union-bound ef (§7.2).
fn bounds_section(index: &AnyIndex, a: &Args) -> Result<serde_json::Value, Failure> {
    for (name, value) in [
        ("--epsilon", a.epsilon),
        ("--delta", a.delta),
        ("--batch-success", a.batch_success),
    ] {
        if !(value > 0.0 && value < 1.0) {
            return Err(Failure::input(format!(
                "{name} must lie strictly between 0 and 1, got {value}"
            )));
        }
    }
    if !(a.target_recall > 0.0 && a.target_recall <= 1.0) {
        return Err(Failure::input(format!(
            "--target-recall must lie in (0, 1], got {}",
            a.target_recall
        )));
    }
    if a.batch == 0 {
        return Err(Failure::input("--batch must be ≥ 1"));
    }
    let bits = match index {
        AnyIndex::F32(ix) => serde_json::to_value(bit_accounting(ix, a.epsilon, a.delta)),
        AnyIndex::U8(ix) => serde_json::to_value(bit_accounting(ix, a.epsilon, a.delta)),
    }
    .expect("serialises");
    let mut out = json!({ "bits": bits });
    if let Some(path) = &a.queries {
        let queries = crate::data::read_vectors(path, Role::Queries, None)?;
        let options = BoundsOptions {
            k: a.k,
            ef: a.ef,
            target_recall: a.target_recall,
            batch: a.batch,
            batch_success: a.batch_success,
            ..Default::default()
        };
        let report = crate::with_typed!(index, queries, path, |ix, q| {
            query_bounds(ix, q.as_slice(), &options).map_err(crate::failure::in_file(path))?
        });
        let report = serde_json::to_value(report).expect("serialises");
        for key in ["mean_recall", "approximation", "chernoff", "union_bound"] {
            out[key] = report[key].clone();
        }
    }
    Ok(out)
}

/// The index's vectors as `f32` rows (normalised under cosine, as stored).
fn stored_rows_f32(index: &AnyIndex) -> Vec<f32> {
    match index {
        AnyIndex::F32(ix) => index_rows(ix),
        AnyIndex::U8(ix) => index_rows(ix),
    }
}
