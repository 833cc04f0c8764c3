//! `geodex analyze`: graph health and spectra of an index (the theory instrument, THEORY.md
//! §3.3), computed by `geodex-analysis` through the read-only graph view.

use std::path::PathBuf;
use std::time::Instant;

use geodex_analysis::{
    hop_estimate, level_health, spectral_report, DirectedGraph, SpectralOptions, UndirectedGraph,
};
use geodex_core::check_graph;
use serde_json::json;

use crate::failure::Failure;

/// The sections `--only` can select.
const SECTIONS: [&str; 2] = ["graph", "spectral"];

/// Arguments of `geodex analyze`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Index file.
    #[arg(long)]
    pub index: PathBuf,
    /// Sections to compute, comma-separated (graph, spectral); all by default.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Breadth-first searches for the hop-distance estimate.
    #[arg(long, default_value_t = 32)]
    pub sources: usize,
    /// Seed of the sampled sources and of the eigensolver's start vector.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> Result<(), Failure> {
    if let Some(bad) = a.only.iter().find(|s| !SECTIONS.contains(&s.as_str())) {
        return Err(Failure::input(format!(
            "--only: unknown section `{bad}` (known: {})",
            SECTIONS.join(", ")
        )));
    }
    let wanted = |s: &str| a.only.is_empty() || a.only.iter().any(|o| o == s);
    let index = crate::data::open_index(&a.index)?;
    let view = index.graph();
    let mut out = json!({ "index": a.index.display().to_string(), "nodes": index.len() });
    if wanted("graph") {
        let started = Instant::now();
        let level0 = DirectedGraph::from_level(&view, 0);
        let (labels, scc_count) = level0.strongly_connected_components();
        let mut sizes = vec![0usize; scc_count];
        labels.iter().for_each(|&l| sizes[l as usize] += 1);
        out["graph"] = json!({
            "unreachable": check_graph(&view).unreachable,
            "levels": level_health(&view),
            "level0_scc_count": scc_count,
            "level0_largest_scc": sizes.iter().max().copied().unwrap_or(0),
            "level0_hops": hop_estimate(&level0, a.sources, a.seed),
            "seconds": super::round(started.elapsed().as_secs_f64(), 3),
        });
    }
    if wanted("spectral") {
        let started = Instant::now();
        let g = UndirectedGraph::from_level(&view, 0);
        let options = SpectralOptions {
            seed: a.seed,
            ..Default::default()
        };
        let mut spectral = serde_json::to_value(spectral_report(&g, &options)).expect("serialises");
        spectral["seconds"] = json!(super::round(started.elapsed().as_secs_f64(), 3));
        out["spectral"] = spectral;
    }
    if a.json {
        super::print_json(&out);
    } else {
        print_table(&out);
    }
    Ok(())
}

fn print_table(v: &serde_json::Value) {
    println!("index                 {}", v["index"].as_str().unwrap_or(""));
    println!("nodes                 {}", v["nodes"]);
    if let Some(g) = v.get("graph") {
        println!("-- graph ({} s)", g["seconds"]);
        println!(
            "unreachable           {} (from the entry point, level 0)",
            g["unreachable"]
        );
        println!(
            "level-0 SCCs          {} (largest {} nodes)",
            g["level0_scc_count"], g["level0_largest_scc"]
        );
        let h = &g["level0_hops"];
        println!(
            "level-0 hops          mean {:.2}, diameter ≥ {} ({} BFS sources)",
            h["mean_distance"].as_f64().unwrap_or(0.0),
            h["diameter_lower_bound"],
            h["sources"]
        );
        for l in g["levels"].as_array().into_iter().flatten() {
            let (o, i) = (&l["out_degree"], &l["in_degree"]);
            println!(
                "level {:<2} {:>9} nodes  out-degree {}–{} mean {:.2}   in-degree {}–{} mean {:.2}",
                l["level"].as_u64().unwrap_or(0),
                l["nodes"],
                o["min"],
                o["max"],
                o["mean"].as_f64().unwrap_or(0.0),
                i["min"],
                i["max"],
                i["mean"].as_f64().unwrap_or(0.0)
            );
        }
    }
    if let Some(s) = v.get("spectral") {
        let f = |k: &str| s[k].as_f64().unwrap_or(f64::NAN);
        println!("-- spectral, symmetrised level 0 ({} s)", s["seconds"]);
        println!("edges                 {}", s["edges"]);
        println!("λ₂ (L = D − A)        {:.6}", f("lambda2"));
        println!("λ₂ (normalised)       {:.6}", f("lambda2_normalized"));
        println!(
            "Cheeger               λ₂/2 = {:.6} ≤ sweep conductance {:.6} ≤ √(2λ₂) = {:.6}: {}",
            f("cheeger_lower"),
            f("conductance"),
            f("cheeger_upper"),
            if s["cheeger_holds"] == json!(true) {
                "holds"
            } else {
                "VIOLATED"
            }
        );
        println!("sweep cut             {} nodes on the small side", s["cut_size"]);
        println!(
            "solver                {} operator applications, residuals {:.1e} / {:.1e}{}",
            s["matvecs"],
            f("residual"),
            f("residual_normalized"),
            if s["converged"] == json!(true) {
                ""
            } else {
                " (NOT converged)"
            }
        );
    }
}
