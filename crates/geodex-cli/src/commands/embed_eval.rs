//! `geodex embed-eval`: how well an embedding holds its hierarchy — reconstruction mean rank and
//! MAP, distortion, and (with `--ef`) HNSW search over the embedding: recall against exact
//! search in the same geometry, and the hierarchy task (how many of a node's k nearest are its
//! ancestors or descendants) at each beam width, with the distance evaluations it cost.

use std::path::PathBuf;

use geodex_analysis::hierarchy_search::{hierarchy_search, HierarchySearchOptions};
use geodex_core::auto_m::MChoice;
use geodex_core::Metric;
use geodex_embed::{distortion, reconstruction, Hierarchy, Model, Relevant};
use geodex_io::Role;
use serde_json::json;

use crate::commands::embed::read_hierarchy;
use crate::commands::{print_json, round};
use crate::failure::{in_file, Failure};

/// Arguments of `geodex embed-eval`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Transitive closure, one `child<TAB>ancestor` pair per line.
    #[arg(long)]
    pub edges: PathBuf,
    /// The embedding (.fvecs), one vector per node.
    #[arg(long)]
    pub embedding: PathBuf,
    /// Node names, one per line, in the order of the embedding's rows.
    #[arg(long)]
    pub names: PathBuf,
    /// The model that made the embedding: decides the distance (Poincaré for poincare,
    /// lorentz and sarkar; Euclidean for euclidean).
    #[arg(long)]
    pub model: Model,
    /// Nodes whose rankings the MAP averages (default: all when ≤ 5000 nodes, else 2000).
    #[arg(long)]
    pub sample: Option<usize>,
    /// Source nodes of the distortion's hop distances (default: all when ≤ 2000 nodes, else 200).
    #[arg(long)]
    pub sources: Option<usize>,
    /// Beam widths for the HNSW search evaluation (comma list); without it the search is not
    /// evaluated.
    #[arg(long, value_delimiter = ',')]
    pub ef: Vec<usize>,
    /// Neighbours per node in the search evaluation.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Query nodes of the search evaluation (default: all when ≤ 10000 nodes, else 2000).
    #[arg(long)]
    pub queries: Option<usize>,
    /// M of the HNSW index built over the embedding, or `auto` (as `geodex build --m auto`).
    #[arg(long, default_value = "auto")]
    pub m: MChoice,
    /// ef_construction of that index.
    #[arg(long, default_value_t = 200)]
    pub ef_construction: usize,
    /// Threads (default: all cores); searches are timed on one thread.
    #[arg(long)]
    pub threads: Option<usize>,
    /// One JSON object on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// No progress output on stderr.
    #[arg(long)]
    pub quiet: bool,
}

fn default_below(n: usize, all_up_to: usize, otherwise: usize) -> Option<usize> {
    (n > all_up_to).then_some(otherwise)
}

pub fn run(a: Args) -> Result<(), Failure> {
    let hierarchy = read_hierarchy(&a.edges)?;
    let (dim, vectors) = read_embedding(&a, &hierarchy)?;
    let threads = a.threads.unwrap_or_else(rayon::current_num_threads);
    let n = hierarchy.len();
    let sample = a.sample.or(default_below(n, 5000, 2000));
    let rec = reconstruction(
        &hierarchy,
        &vectors,
        dim,
        a.model,
        Relevant::Ancestors,
        sample,
        threads,
    )
    .map_err(|e| Failure::from(e).context(a.embedding.display()))?;
    let graph = reconstruction(
        &hierarchy,
        &vectors,
        dim,
        a.model,
        Relevant::GraphNeighbours,
        sample,
        threads,
    )?;
    let sources = a.sources.or(default_below(n, 2000, 200));
    let dis = distortion(&hierarchy, &vectors, dim, a.model, sources, threads)?;
    let search = if a.ef.is_empty() {
        serde_json::Value::Null
    } else {
        search_quality(&a, &hierarchy, dim, vectors, threads)?
    };
    if a.json {
        print_json(&json!({
            "model": a.model.name(),
            "nodes": n,
            "dim": dim,
            "mean_rank": round(rec.mean_rank, 4),
            "map": round(rec.map, 4),
            "mean_rank_graph": round(graph.mean_rank, 4),
            "map_graph": round(graph.map, 4),
            "distortion_avg": round(dis.average, 4),
            "distortion_worst": round(dis.worst, 4),
            "distortion_scale": dis.scale,
            "reconstruction_nodes": rec.nodes,
            "distortion_sources": dis.sources,
            "distortion_pairs": dis.pairs,
            "search": search,
        }));
    } else {
        println!("model {} · {n} nodes · dimension {dim}", a.model);
        println!(
            "reconstruction  mean rank {:.3}   MAP {:.4}   ({} nodes)",
            rec.mean_rank, rec.map, rec.nodes
        );
        println!(
            "graph neighbours mean rank {:.3}   MAP {:.4}",
            graph.mean_rank, graph.map
        );
        println!(
            "distortion      average {:.4}   worst {:.3}   (scale {:.4}, {} pairs)",
            dis.average, dis.worst, dis.scale, dis.pairs
        );
        print_search_table(&search);
    }
    Ok(())
}

/// Reads the embedding and reorders its rows into hierarchy id order by the names file.
fn read_embedding(a: &Args, hierarchy: &Hierarchy) -> Result<(usize, Vec<f32>), Failure> {
    let m = crate::data::read_vectors(&a.embedding, Role::Base, None)?.into_f32();
    let names = std::fs::read_to_string(&a.names)
        .map_err(|e| Failure::input(format!("{}: {e}", a.names.display())))?;
    let names: Vec<&str> = names.lines().collect();
    if names.len() != m.rows() {
        return Err(Failure::input(format!(
            "{}: {} names for {} vectors in {}",
            a.names.display(),
            names.len(),
            m.rows(),
            a.embedding.display()
        )));
    }
    let row_of: std::collections::HashMap<&str, usize> =
        names.iter().enumerate().map(|(i, &s)| (s, i)).collect();
    let dim = m.dim();
    let mut vectors = Vec::with_capacity(hierarchy.len() * dim);
    for name in hierarchy.names() {
        let row = row_of.get(name.as_str()).ok_or_else(|| {
            Failure::input(format!(
                "{}: node '{name}' of the closure has no vector",
                a.names.display()
            ))
        })?;
        vectors.extend_from_slice(m.row(*row));
    }
    Ok((dim, vectors))
}

/// HNSW over the embedding against exact search in the same geometry, per beam width.
fn search_quality(
    a: &Args,
    hierarchy: &Hierarchy,
    dim: usize,
    vectors: Vec<f32>,
    threads: usize,
) -> Result<serde_json::Value, Failure> {
    if a.k == 0 || a.k >= hierarchy.len() {
        return Err(Failure::input(format!("--k must be in 1..{}", hierarchy.len())));
    }
    let metric = if a.model.is_hyperbolic() {
        Metric::Poincare
    } else {
        Metric::L2
    };
    let opts = HierarchySearchOptions {
        metric,
        k: a.k,
        queries: a.queries.or(default_below(hierarchy.len(), 10_000, 2000)),
        m: a.m,
        ef_construction: a.ef_construction,
        threads: Some(threads),
        efs: a.ef.clone(),
    };
    let measured = hierarchy_search(hierarchy, vectors, dim, &opts).map_err(in_file(&a.embedding))?;
    let rows: Vec<_> = measured
        .by_ef
        .iter()
        .map(|r| {
            json!({
                "ef": r.ef,
                "recall": round(r.recall, 4),
                "recall_by_distance": round(r.recall_by_distance, 4),
                "hierarchy_precision": round(r.hierarchy_precision, 4),
                "mean_distances": round(r.mean_distances, 1),
                "qps": round(r.qps, 0),
            })
        })
        .collect();
    Ok(json!({
        "metric": metric.name(),
        "k": a.k,
        "queries": measured.queries,
        "build_seconds": round(measured.build_seconds, 3),
        "m": measured.m,
        "auto_m": measured.auto_m,
        "exact_hierarchy_precision": round(measured.exact_hierarchy_precision, 4),
        "by_ef": rows,
    }))
}

fn print_search_table(search: &serde_json::Value) {
    let Some(rows) = search["by_ef"].as_array() else {
        return;
    };
    println!(
        "search ({} HNSW, M {}, k {}, {} queries): exact k-NN hierarchy precision {}",
        search["metric"], search["m"], search["k"], search["queries"], search["exact_hierarchy_precision"]
    );
    println!(
        "{:>6} {:>8} {:>12} {:>14} {:>10}",
        "ef", "recall", "hier. prec.", "distances/q", "QPS"
    );
    for r in rows {
        let cell = |key: &str| r[key].to_string();
        println!(
            "{:>6} {:>8} {:>12} {:>14} {:>10}",
            cell("ef"),
            cell("recall"),
            cell("hierarchy_precision"),
            cell("mean_distances"),
            cell("qps")
        );
    }
}
