//! `geodex analyze`: graph health, spectra, topology and data geometry of an index (the theory
//! instrument: THEORY.md §2.3, §3.1, §3.3, §9.1, §9.3), computed by `geodex-analysis` through
//! the read-only graph view.

use std::path::PathBuf;
use std::time::Instant;

use geodex_analysis::{
    exact_neighbours, geometry_report, hop_estimate, index_rows, level_health, percolation,
    percolation_recall, percolation_threshold, query_hardness, removal_order, spectral_report,
    topology_report, DirectedGraph, GeometryOptions, HardnessOptions, SpectralOptions, UndirectedGraph,
};
use geodex_core::{check_graph, AnyIndex};
use geodex_io::Role;
use serde_json::json;

use crate::failure::Failure;

/// The sections `--only` can select.
const SECTIONS: [&str; 4] = ["graph", "spectral", "topology", "geometry"];

/// Fractions of level-0 links the percolation experiment removes.
const PERCOLATION_STEPS: [f64; 13] = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98];

/// Arguments of `geodex analyze`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Index file.
    #[arg(long)]
    pub index: PathBuf,
    /// Sections to compute, comma-separated (graph, spectral, topology, geometry); all by default.
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
    if wanted("topology") {
        let started = Instant::now();
        let rows = stored_rows_f32(&index);
        let dim = index.info().dim;
        let length = |a: u32, b: u32| {
            let (x, y) = (&rows[a as usize * dim..][..dim], &rows[b as usize * dim..][..dim]);
            x.iter()
                .zip(y)
                .map(|(p, q)| ((p - q) as f64).powi(2))
                .sum::<f64>()
                .sqrt()
        };
        let g = UndirectedGraph::from_level(&view, 0);
        let mut topology = serde_json::to_value(topology_report(&g, length)).expect("serialises");
        let steps = percolation(&g, &PERCOLATION_STEPS, a.seed);
        let mut perc = serde_json::to_value(&steps).expect("serialises");
        if let Some(path) = &a.queries {
            let order = removal_order(&g, a.seed);
            let queries = crate::data::read_vectors(path, Role::Queries, None)?;
            let recall = crate::with_typed!(&index, queries, path, |ix, q| {
                let truth = exact_neighbours(ix, q.as_slice(), a.k).map_err(crate::failure::in_file(path))?;
                percolation_recall(ix, &order, &PERCOLATION_STEPS, q.as_slice(), &truth, a.k, a.ef)
                    .map_err(crate::failure::in_file(path))?
            });
            for (step, r) in perc.as_array_mut().into_iter().flatten().zip(recall) {
                step["recall"] = json!(r);
            }
        }
        topology["percolation"] = perc;
        topology["percolation_threshold"] = json!(percolation_threshold(&steps));
        topology["seconds"] = json!(super::round(started.elapsed().as_secs_f64(), 3));
        out["topology"] = topology;
    }
    if wanted("geometry") {
        let started = Instant::now();
        let options = GeometryOptions {
            sample: a.sample,
            seed: a.seed,
            ..Default::default()
        };
        let rows = stored_rows_f32(&index);
        let mut geometry =
            serde_json::to_value(geometry_report(&rows, index.info().dim, &options)?).expect("serialises");
        if let Some(path) = &a.queries {
            let queries = crate::data::read_vectors(path, Role::Queries, None)?;
            let options = HardnessOptions {
                k: a.k,
                ef: a.ef,
                ..Default::default()
            };
            let report = crate::with_typed!(&index, queries, path, |ix, q| {
                query_hardness(ix, q.as_slice(), &options).map_err(crate::failure::in_file(path))?
            });
            geometry["queries"] = serde_json::to_value(report).expect("serialises");
        }
        geometry["seconds"] = json!(super::round(started.elapsed().as_secs_f64(), 3));
        out["geometry"] = geometry;
    }
    if a.json {
        super::print_json(&out);
    } else {
        print_table(&out);
    }
    Ok(())
}

/// The index's vectors as `f32` rows (normalised under cosine, as stored).
fn stored_rows_f32(index: &AnyIndex) -> Vec<f32> {
    match index {
        AnyIndex::F32(ix) => index_rows(ix),
        AnyIndex::U8(ix) => index_rows(ix),
    }
}

fn print_topology(t: &serde_json::Value) {
    let f = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    println!(
        "-- topology of the level-0 edge-length filtration ({} s)",
        t["seconds"]
    );
    println!(
        "β₀ / β₁ at the end    {} / {} ({} nodes, {} edges)",
        t["beta0_final"], t["beta1_final"], t["nodes"], t["edges"]
    );
    let q = t["beta0_death_quantiles"].as_array().cloned().unwrap_or_default();
    let at = |i: usize| q.get(i).and_then(|x| x.as_f64()).unwrap_or(f64::NAN);
    println!(
        "β₀ bar deaths         min {:.4}, median {:.4}, 90 % {:.4}, max {:.4}",
        at(0),
        at(5),
        at(9),
        at(10)
    );
    println!(
        "redundant links       {} ({:.1} %): each closes a cycle a triangle of shorter links fills",
        t["redundant_links"],
        100.0 * f(t, "redundant_share")
    );
    println!("percolation           removed  giant  components  recall");
    for s in t["percolation"].as_array().into_iter().flatten() {
        let recall = s
            .get("recall")
            .and_then(|r| r.as_f64())
            .map_or("-".to_string(), |r| format!("{r:.4}"));
        println!(
            "                      {:>6.2}  {:>6.4}  {:>10}  {recall:>6}",
            f(s, "removed"),
            f(s, "giant_fraction"),
            s["components"]
        );
    }
    let threshold = t["percolation_threshold"]
        .as_f64()
        .map_or("not reached".to_string(), |x| format!("{x:.2}"));
    println!("giant < 50 % from     {threshold} of links removed");
}

fn print_geometry(g: &serde_json::Value) {
    let f = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    println!(
        "-- geometry ({} s; {} sampled points, k = {})",
        g["seconds"], g["sample"], g["k"]
    );
    println!("ambient dimension     {}", g["ambient_dim"]);
    println!(
        "intrinsic dimension   MLE {:.2}, TwoNN {:.2}",
        f(g, "intrinsic_dim_mle"),
        f(g, "intrinsic_dim_twonn")
    );
    println!(
        "CV of squared dists   {:.4} (√(2/D) = {:.4}, √(2/d_MLE) = {:.4})",
        f(g, "cv_squared_distances"),
        f(g, "cv_predicted_ambient"),
        f(g, "cv_predicted_intrinsic")
    );
    println!("relative contrast     {:.3}", f(g, "relative_contrast"));
    if let Some(q) = g.get("queries") {
        println!(
            "queries               {} at ef {}: mean recall@{} {:.4}, mean LID {:.2}",
            q["queries"],
            q["ef"],
            q["k"],
            f(q, "mean_recall"),
            f(q, "mean_lid")
        );
        println!(
            "LID vs work           Spearman ρ(LID, recall) = {:+.3}, ρ(LID, distances) = {:+.3}",
            f(q, "spearman_lid_recall"),
            f(q, "spearman_lid_distances")
        );
    }
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
    if let Some(t) = v.get("topology") {
        print_topology(t);
    }
    if let Some(g) = v.get("geometry") {
        print_geometry(g);
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
        println!("sweep cut             {} nodes on its first side", s["cut_size"]);
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
