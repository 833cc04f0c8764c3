//! The whole analysis of one index as `geodex analyze --json` prints it and the Python
//! package's `IndexFile.analyze()` returns it: graph health, spectra, topology, data geometry,
//! bounds and compression (THEORY.md §1.1, §2.3, §3.1, §3.3, §6.2, §7, §9.1, §9.3), one JSON
//! object per section with the seconds it took. The sections' typed results that plots draw
//! come back beside the JSON ([`Figures`]), so the CLI only formats and draws.

use std::time::Instant;

use geodex_core::{check_graph, AnyIndex, Component, CoreError, Index};
use serde_json::{json, Value};

use crate::{
    bit_accounting, exact_neighbours, geometry_report, hop_estimate, index_rows, level_health, percolation,
    percolation_recall, percolation_threshold, query_bounds, query_hardness, removal_order,
    smallest_eigenvalues, spectral_report, storage_report, topology_report, BoundsOptions, DirectedGraph,
    GeometryOptions, HardnessOptions, HardnessReport, Laplacian, LevelHealth, PercolationStep,
    SpectralOptions, TopologyReport, UndirectedGraph,
};

/// The sections, in report order.
pub const SECTIONS: [&str; 6] = [
    "graph",
    "spectral",
    "topology",
    "geometry",
    "bounds",
    "compression",
];

/// Eigenvalues of the normalised Laplacian computed for the spectrum figure (one Lanczos
/// solve each).
pub const SPECTRUM_PLOT_COUNT: usize = 10;

/// Fractions of level-0 links the percolation experiment removes.
pub const PERCOLATION_STEPS: [f64; 13] = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98];

/// The analysis settings (the CLI's flags, with its defaults).
#[derive(Clone, Debug)]
pub struct AnalyzeOptions {
    /// Beam width of the per-query searches.
    pub ef: usize,
    /// Neighbours per query (recall@k) of the per-query searches.
    pub k: usize,
    /// Points whose neighbourhoods the intrinsic-dimension estimators use.
    pub sample: usize,
    /// Breadth-first searches for the hop-distance estimate.
    pub sources: usize,
    /// Seed of the sampled sources and of the eigensolver's start vector.
    pub seed: u64,
    /// ε of the §1.1 space lower bound (approximation), in (0, 1).
    pub epsilon: f64,
    /// δ of the §1.1 space lower bound (failure probability), in (0, 1).
    pub delta: f64,
    /// Union-bound section: a query succeeds when its recall@k is at least this, in (0, 1].
    pub target_recall: f64,
    /// Union-bound section: queries per batch (≥ 1).
    pub batch: usize,
    /// Union-bound section: wanted probability that every query of a batch succeeds, in (0, 1).
    pub batch_success: f64,
    /// Also compute what only the figures show (the smallest normalised eigenvalues).
    pub figures: bool,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            ef: 32,
            k: 10,
            sample: 2000,
            sources: 32,
            seed: 42,
            epsilon: 0.1,
            delta: 0.01,
            target_recall: 0.9,
            batch: 100,
            batch_success: 0.99,
            figures: false,
        }
    }
}

impl AnalyzeOptions {
    /// Rejects values outside their ranges, naming the CLI flag.
    pub fn validate(&self) -> Result<(), CoreError> {
        let bad = |m: String| Err(CoreError::InvalidParameter(m));
        for (name, value) in [
            ("--epsilon", self.epsilon),
            ("--delta", self.delta),
            ("--batch-success", self.batch_success),
        ] {
            if !(value > 0.0 && value < 1.0) {
                return bad(format!("{name} must lie strictly between 0 and 1, got {value}"));
            }
        }
        if !(self.target_recall > 0.0 && self.target_recall <= 1.0) {
            return bad(format!(
                "--target-recall must lie in (0, 1], got {}",
                self.target_recall
            ));
        }
        if self.batch == 0 {
            return bad("--batch must be ≥ 1".into());
        }
        Ok(())
    }
}

/// Query vectors in the index's element type (a float index takes `F32`, a byte index `U8`).
#[derive(Clone, Copy, Debug)]
pub enum Queries<'a> {
    /// Float queries, row-major.
    F32(&'a [f32]),
    /// Byte queries, row-major.
    U8(&'a [u8]),
}

/// What the figures of `geodex analyze --plots` draw, from the sections computed.
#[derive(Debug, Default)]
pub struct Figures {
    /// Level-0 degree distribution (graph section).
    pub level0: Option<LevelHealth>,
    /// Smallest normalised-Laplacian eigenvalues (spectral section, with `figures`).
    pub spectrum: Option<Vec<f64>>,
    /// The topology report (β₀ deaths, redundant links), the percolation steps and, with
    /// queries, the recall after each step.
    pub topology: Option<(TopologyReport, Vec<PercolationStep>, Option<Vec<f64>>)>,
    /// Per-query hardness (geometry section, with queries).
    pub hardness: Option<HardnessReport>,
}

/// The report of the `sections` named (all of [`SECTIONS`] when empty): a JSON object with
/// `nodes` and one object per section (each with its `seconds`), and the figures' data.
/// `progress` is called with each section's name before it runs.
pub fn analyze(
    index: &AnyIndex,
    sections: &[&str],
    queries: Option<Queries<'_>>,
    options: &AnalyzeOptions,
    progress: &dyn Fn(&str),
) -> Result<(Value, Figures), CoreError> {
    options.validate()?;
    if let Some(bad) = sections.iter().find(|s| !SECTIONS.contains(s)) {
        return Err(CoreError::InvalidParameter(format!(
            "unknown section `{bad}` (known: {})",
            SECTIONS.join(", ")
        )));
    }
    let typed = Typed::new(index, queries)?;
    let mut out = json!({ "nodes": index.len() });
    let mut figures = Figures::default();
    for name in SECTIONS
        .iter()
        .filter(|s| sections.is_empty() || sections.contains(s))
    {
        progress(name);
        let started = Instant::now();
        let mut value = match *name {
            "graph" => graph_section(index, options, &mut figures),
            "spectral" => spectral_section(index, options, &mut figures),
            "topology" => topology_section(index, &typed, options, &mut figures)?,
            "geometry" => geometry_section(index, &typed, options, &mut figures)?,
            "bounds" => bounds_section(&typed, options)?,
            _ => compression_section(index),
        };
        value["seconds"] = json!((started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0);
        out[*name] = value;
    }
    Ok((out, figures))
}

/// The index with its queries in the same element type.
enum Typed<'a> {
    F32(&'a Index<f32>, Option<&'a [f32]>),
    U8(&'a Index<u8>, Option<&'a [u8]>),
}

impl<'a> Typed<'a> {
    fn new(index: &'a AnyIndex, queries: Option<Queries<'a>>) -> Result<Typed<'a>, CoreError> {
        let typed = match (index, queries) {
            (AnyIndex::F32(ix), None) => Typed::F32(ix, None),
            (AnyIndex::F32(ix), Some(Queries::F32(q))) => Typed::F32(ix, Some(q)),
            (AnyIndex::U8(ix), None) => Typed::U8(ix, None),
            (AnyIndex::U8(ix), Some(Queries::U8(q))) => Typed::U8(ix, Some(q)),
            (AnyIndex::F32(_), Some(Queries::U8(_))) | (AnyIndex::U8(_), Some(Queries::F32(_))) => {
                return Err(CoreError::InvalidParameter(
                    "the queries' element type is not the index's (f32 queries for an f32 index, u8 for u8)"
                        .into(),
                ))
            }
        };
        let (dim, len) = match typed {
            Typed::F32(ix, q) => (ix.dim(), q.map(<[f32]>::len)),
            Typed::U8(ix, q) => (ix.dim(), q.map(<[u8]>::len)),
        };
        if let Some(len) = len.filter(|len| len % dim != 0) {
            return Err(CoreError::InvalidParameter(format!(
                "{len} query components are not rows of the index's dimension {dim}"
            )));
        }
        Ok(typed)
    }
}

/// Runs `$body` with `$ix` the typed index and `$q` its queries.
macro_rules! with_queries {
    ($typed:expr, |$ix:ident, $q:ident| $body:expr) => {
        match *$typed {
            Typed::F32($ix, $q) => $body,
            Typed::U8($ix, $q) => $body,
        }
    };
}

/// The file's exact bytes per section next to each section's information-theoretic lower bound.
fn compression_section(index: &AnyIndex) -> Value {
    let report = match index {
        AnyIndex::F32(ix) => storage_report(ix),
        AnyIndex::U8(ix) => storage_report(ix),
    };
    let mut v = serde_json::to_value(report).expect("serialises");
    let info = index.info();
    v["quant"] = json!(info.quant);
    v["ram_bytes"] = json!(info.ram_bytes);
    // Resident besides the file's sections (`derived_bytes`, in the report): of them, the byte
    // codes a float index walks on, made in memory (never stored).
    v["walk_code_bytes"] = json!(if info.byte_walk { info.count * info.dim } else { 0 });
    v
}

/// Degrees per level, unreachable nodes, level-0 SCCs and hop distances.
fn graph_section(index: &AnyIndex, o: &AnalyzeOptions, figures: &mut Figures) -> Value {
    let view = index.graph();
    let level0 = DirectedGraph::from_level(&view, 0);
    let (labels, scc_count) = level0.strongly_connected_components();
    let mut sizes = vec![0usize; scc_count];
    labels.iter().for_each(|&l| sizes[l as usize] += 1);
    let levels = level_health(&view);
    figures.level0 = levels.first().cloned();
    json!({
        "unreachable": check_graph(&view).unreachable,
        "levels": levels,
        "level0_scc_count": scc_count,
        "level0_largest_scc": sizes.iter().max().copied().unwrap_or(0),
        "level0_hops": hop_estimate(&level0, o.sources, o.seed),
    })
}

/// λ₂ of both Laplacians, the sweep cut and the Cheeger check.
fn spectral_section(index: &AnyIndex, o: &AnalyzeOptions, figures: &mut Figures) -> Value {
    let g = UndirectedGraph::from_level(&index.graph(), 0);
    let options = SpectralOptions {
        seed: o.seed,
        ..Default::default()
    };
    let mut spectral = serde_json::to_value(spectral_report(&g, &options)).expect("serialises");
    if o.figures {
        let values = smallest_eigenvalues(&g, Laplacian::Normalized, SPECTRUM_PLOT_COUNT, &options);
        spectral["smallest_normalized"] = json!(values);
        figures.spectrum = Some(values);
    }
    spectral
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
fn topology_section(
    index: &AnyIndex,
    typed: &Typed<'_>,
    o: &AnalyzeOptions,
    figures: &mut Figures,
) -> Result<Value, CoreError> {
    let rows = stored_rows_f32(index);
    let g = UndirectedGraph::from_level(&index.graph(), 0);
    let report = topology_report(&g, link_length(&rows, index.info().dim));
    let steps = percolation(&g, &PERCOLATION_STEPS, o.seed);
    let recall = with_queries!(typed, |ix, q| match q {
        Some(q) => {
            let order = removal_order(&g, o.seed);
            let truth = exact_neighbours(ix, q, o.k)?;
            Some(percolation_recall(
                ix,
                &order,
                &PERCOLATION_STEPS,
                q,
                &truth,
                o.k,
                o.ef,
            )?)
        }
        None => None,
    });
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
    figures.topology = Some((report, steps, recall));
    Ok(topology)
}

/// Intrinsic dimension, distance concentration, relative contrast; per-query LID when
/// queries are given.
fn geometry_section(
    index: &AnyIndex,
    typed: &Typed<'_>,
    o: &AnalyzeOptions,
    figures: &mut Figures,
) -> Result<Value, CoreError> {
    let options = GeometryOptions {
        sample: o.sample,
        seed: o.seed,
        ..Default::default()
    };
    let rows = stored_rows_f32(index);
    let mut geometry =
        serde_json::to_value(geometry_report(&rows, index.info().dim, &options)?).expect("serialises");
    let options = HardnessOptions {
        k: o.k,
        ef: o.ef,
        ..Default::default()
    };
    let report = with_queries!(typed, |ix, q| q
        .map(|q| query_hardness(ix, q, &options))
        .transpose()?);
    if let Some(report) = report {
        geometry["queries"] = serde_json::to_value(&report).expect("serialises");
        figures.hardness = Some(report);
    }
    Ok(geometry)
}

/// Bit accounting (§1.1); with queries, approximation factor (§6.2), Chernoff (§7.1) and the
/// union-bound ef (§7.2).
fn bounds_section(typed: &Typed<'_>, o: &AnalyzeOptions) -> Result<Value, CoreError> {
    let options = BoundsOptions {
        k: o.k,
        ef: o.ef,
        target_recall: o.target_recall,
        batch: o.batch,
        batch_success: o.batch_success,
        ..Default::default()
    };
    with_queries!(typed, |ix, q| bounds_of(ix, q, o, &options))
}

fn bounds_of<T: Component>(
    ix: &Index<T>,
    queries: Option<&[T]>,
    o: &AnalyzeOptions,
    options: &BoundsOptions,
) -> Result<Value, CoreError> {
    let bits = serde_json::to_value(bit_accounting(ix, o.epsilon, o.delta)).expect("serialises");
    let mut out = json!({ "bits": bits });
    if let Some(q) = queries {
        let report = serde_json::to_value(query_bounds(ix, q, options)?).expect("serialises");
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
