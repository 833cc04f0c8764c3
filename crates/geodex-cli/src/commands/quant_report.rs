//! `geodex quant-report`: the rate–distortion report of THEORY §1.3 / §1.1 for one data set —
//! for bit budgets from 0.5 to 8 bits per dimension, the measured mean squared error of SQ8 and
//! of PQ (several m, 16 or 256 centroids) next to the Gaussian bounds (reverse water-filling
//! over the per-component variances and over the covariance eigenvalues) and the reference
//! text's D ≈ σ²/k^(2/m), each quantiser's recall@k by exhaustive asymmetric search over the
//! codes (PQ4 through fast-scan), so a budget's cost in search quality is seen without a graph
//! in the way, and per bit budget the quantiser that measured best.

use std::path::PathBuf;

use geodex_analysis::quant_report::{projections, rate_distortion, ProjectionReport, QuantData, QuantRow};
use geodex_io::Role;
use geodex_quant::projection::ProjectionKind;
use geodex_quant::rate_distortion::gaussian_distortion;
use serde_json::json;

use crate::commands::{print_json, round};
use crate::failure::Failure;
use crate::plot::{xy_chart, Mark, Series};

/// Arguments of `geodex quant-report`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Base vectors.
    #[arg(long)]
    pub data: PathBuf,
    /// Query vectors.
    #[arg(long)]
    pub queries: PathBuf,
    /// Ground truth of the queries against the base (.ivecs).
    #[arg(long)]
    pub groundtruth: PathBuf,
    /// Neighbours per query for recall.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Training vectors (the first N of the base).
    #[arg(long, default_value_t = 20_000)]
    pub train: usize,
    /// Queries used for recall (the first N).
    #[arg(long, default_value_t = 200)]
    pub query_limit: usize,
    /// Seed of the k-means runs.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Random-projection dimensions to measure (default d/8, d/4, d/2).
    #[arg(long, value_delimiter = ',')]
    pub projections: Vec<usize>,
    /// Candidates re-ranked exactly after a search in projected space.
    #[arg(long, default_value_t = 100)]
    pub rerank: usize,
    /// Random pairs of base vectors whose distance distortion is measured.
    #[arg(long, default_value_t = 2000)]
    pub pairs: usize,
    /// Write the distortion-vs-bits plot here (.png).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// One JSON object on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// No progress output on stderr.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(a: Args) -> Result<(), Failure> {
    let base = crate::data::read_vectors(&a.data, Role::Base, None)?.into_f32();
    let queries = crate::data::read_vectors(&a.queries, Role::Queries, None)?.into_f32();
    if base.dim() != queries.dim() {
        return Err(Failure::input(format!(
            "{}: queries have dimension {}, base vectors {}",
            a.queries.display(),
            queries.dim(),
            base.dim()
        )));
    }
    if a.k == 0 || a.k > base.rows() {
        return Err(Failure::input(format!("--k must be in 1..={}", base.rows())));
    }
    let truth = crate::data::read_groundtruth(&a.groundtruth, queries.rows(), a.k)?;
    let dim = base.dim();
    let nq = a.query_limit.min(queries.rows()).max(1);
    let data = QuantData {
        base: base.as_slice(),
        train: &base.as_slice()[..a.train.min(base.rows()) * dim],
        queries: &queries.as_slice()[..nq * dim],
        truth: &truth[..nq],
        dim,
        k: a.k,
        seed: a.seed,
    };
    let quiet = a.json || a.quiet;
    let report = rate_distortion(&data, &|config, seconds| {
        crate::progress::note(quiet, format!("{}: {seconds:.1} s", config.name()))
    })?;
    let ks: Vec<usize> = if a.projections.is_empty() {
        [dim / 8, dim / 4, dim / 2]
            .into_iter()
            .filter(|&k| k > 0)
            .collect()
    } else {
        a.projections.clone()
    };
    let projection = projections(&data, &ks, a.pairs, a.rerank)?;
    let (rows, var, eigen) = (report.rows, report.variances, report.eigenvalues);
    if let Some(path) = &a.plot {
        plot(path, &rows, &var, &eigen)?;
    }
    let best = best_per_budget(&rows);
    let total_variance: f64 = var.iter().sum();
    if a.json {
        let rows: Vec<_> = rows.iter().map(quant_json).collect();
        print_json(
            &json!({ "dim": dim, "vectors": base.rows(), "total_variance": total_variance,
                "participation_ratio": participation_ratio(&eigen), "k": a.k, "queries": nq, "rows": rows,
                "best_per_budget": best, "projection": projection_json(&projection) }),
        );
    } else {
        println!(
            "{} vectors × {dim}; total variance Σσ² = {total_variance:.4}; covariance participation ratio {:.1}; recall@{} over {nq} queries by exhaustive ADC",
            base.rows(),
            participation_ratio(&eigen),
            a.k
        );
        println!(
            "{:<12} {:>9} {:>6} {:>12} {:>9} {:>9} {:>9} {:>8}",
            "quantiser", "bits/dim", "bytes", "MSE", "/diagonal", "/covar.", "/text", "recall"
        );
        for r in &rows {
            println!(
                "{:<12} {:>9} {:>6} {:>12.6} {:>9} {:>9} {:>9} {:>8}",
                r.quantiser,
                r.bits_per_dim,
                r.bytes_per_vector,
                r.mse,
                round(r.mse / r.gaussian_bound, 3),
                round(r.mse / r.covariance_bound, 3),
                round(r.mse / r.text_estimate, 3),
                round(r.recall, 4)
            );
        }
        println!("(MSE over: the Gaussian bound of independent components, of the covariance, the text's σ²/k^(2/m))");
        for b in &best {
            println!(
                "best at {} bits/dim: {} (recall {})",
                b["bits_per_dim"], b["quantiser"], b["recall"]
            );
        }
        print_projection_table(&projection_json(&projection));
    }
    Ok(())
}

/// A quantiser row as the report's JSON prints it.
fn quant_json(r: &QuantRow) -> serde_json::Value {
    json!({
        "quantiser": r.quantiser,
        "bits_per_dim": r.bits_per_dim,
        "bytes_per_vector": r.bytes_per_vector,
        "mse": r.mse,
        "gaussian_bound": r.gaussian_bound,
        "mse_over_bound": round(r.mse / r.gaussian_bound, 3),
        "covariance_bound": r.covariance_bound,
        "mse_over_covariance_bound": round(r.mse / r.covariance_bound, 3),
        "text_estimate": r.text_estimate,
        "mse_over_text_estimate": round(r.mse / r.text_estimate, 3),
        "recall": round(r.recall, 4),
    })
}

/// The projection report as JSON (THEORY §11.2): per kind and k, the squared-distance ratios'
/// percentiles, the Dasgupta–Gupta ε and the share of pairs within it, recall plain and
/// re-ranked.
fn projection_json(p: &ProjectionReport) -> serde_json::Value {
    let rows: Vec<_> = p
        .rows
        .iter()
        .map(|r| {
            let [p01, p50, p99] = r.ratio_percentiles;
            let kind = match r.kind {
                ProjectionKind::Gaussian => "gaussian",
                ProjectionKind::Sparse => "sparse",
                ProjectionKind::Orthogonal => "orthogonal",
            };
            json!({
                "kind": kind,
                "k": r.k,
                "ratio_p01": round(p01, 4),
                "ratio_p50": round(p50, 4),
                "ratio_p99": round(p99, 4),
                "ratio_min": round(r.ratio_extremes[0], 4),
                "ratio_max": round(r.ratio_extremes[1], 4),
                "share_within_10pct": round(r.share_within_10pct, 4),
                "chi2_min_sampled": round(r.chi2_extremes_sampled[0], 4),
                "chi2_max_sampled": round(r.chi2_extremes_sampled[1], 4),
                "chi2_min_all_pairs": round(r.chi2_extremes_all_pairs[0], 4),
                "chi2_max_all_pairs": round(r.chi2_extremes_all_pairs[1], 4),
                "jl_epsilon": r.jl_epsilon.map(|e| round(e, 4)),
                "share_within_epsilon": r.share_within_epsilon.map(|w| round(w, 4)),
                "recall": round(r.recall, 4),
                "recall_reranked": round(r.recall_reranked, 4),
            })
        })
        .collect();
    json!({ "pairs": p.pairs, "rerank": p.rerank, "jl_k_for_epsilon_0_5": p.jl_k_for_epsilon[0], "jl_k_for_epsilon_0_1": p.jl_k_for_epsilon[1],
        "chi2_epsilon_at_jl_k_0_5": round(p.chi2_epsilon_at_jl_k[0], 4), "chi2_epsilon_at_jl_k_0_1": round(p.chi2_epsilon_at_jl_k[1], 4), "rows": rows })
}

fn print_projection_table(p: &serde_json::Value) {
    println!(
        "random projection (§11.2): {} pairs; Dasgupta–Gupta asks k = {} for ε = 0.5, {} for ε = 0.1, where a Gaussian map's expected worst pair reaches ε = {}, {}",
        p["pairs"], p["jl_k_for_epsilon_0_5"], p["jl_k_for_epsilon_0_1"], p["chi2_epsilon_at_jl_k_0_5"], p["chi2_epsilon_at_jl_k_0_1"]
    );
    println!(
        "{:<10} {:>5} {:>8} {:>8} {:>8} {:>8} {:>8} {:>15} {:>15} {:>7} {:>8} {:>8} {:>9}",
        "kind",
        "k",
        "min",
        "p1",
        "p50",
        "p99",
        "max",
        "χ² sampled",
        "χ² all pairs",
        "±10 %",
        "JL ε",
        "recall",
        "reranked"
    );
    for r in p["rows"].as_array().into_iter().flatten() {
        let c = |key: &str| r[key].to_string();
        let range = |low: &str, high: &str| format!("{}–{}", c(low), c(high));
        println!(
            "{:<10} {:>5} {:>8} {:>8} {:>8} {:>8} {:>8} {:>15} {:>15} {:>7} {:>8} {:>8} {:>9}",
            r["kind"].as_str().unwrap_or(""),
            c("k"),
            c("ratio_min"),
            c("ratio_p01"),
            c("ratio_p50"),
            c("ratio_p99"),
            c("ratio_max"),
            range("chi2_min_sampled", "chi2_max_sampled"),
            range("chi2_min_all_pairs", "chi2_max_all_pairs"),
            c("share_within_10pct"),
            c("jl_epsilon"),
            c("recall"),
            c("recall_reranked")
        );
    }
}

/// Per bit budget (bits per dimension), the quantiser with the highest recall (ties: the lower
/// MSE) — the report's (m, k) recommendation for that budget.
fn best_per_budget(rows: &[QuantRow]) -> Vec<serde_json::Value> {
    let mut budgets: Vec<f64> = rows.iter().map(|r| r.bits_per_dim).collect();
    budgets.dedup();
    budgets
        .into_iter()
        .filter_map(|b| {
            rows.iter()
                .filter(|r| r.bits_per_dim == b)
                .max_by(|x, y| x.recall.total_cmp(&y.recall).then(y.mse.total_cmp(&x.mse)))
        })
        .map(|r| json!({ "bits_per_dim": r.bits_per_dim, "quantiser": r.quantiser, "recall": round(r.recall, 4), "mse": r.mse }))
        .collect()
}

/// (Σλ)² / Σλ²: the number of equally strong directions the covariance spreads over.
fn participation_ratio(eigen: &[f64]) -> f64 {
    let (sum, squares) = eigen.iter().fold((0.0, 0.0), |(s, q), &l| (s + l, q + l * l));
    if squares > 0.0 {
        sum * sum / squares
    } else {
        0.0
    }
}

fn plot(path: &std::path::Path, rows: &[QuantRow], var: &[f64], eigen: &[f64]) -> Result<(), Failure> {
    let dim = var.len() as f64;
    let series_of = |prefix: &str| Series {
        name: prefix.to_string(),
        points: rows
            .iter()
            .filter(|r| r.quantiser.starts_with(prefix))
            .map(|r| (r.bits_per_dim, r.mse))
            .collect(),
        mark: Mark::Dots,
    };
    let bound = |name: &str, variances: &[f64]| Series {
        name: name.into(),
        points: (1..=64)
            .map(|i| i as f64 / 8.0)
            .map(|b| (b, gaussian_distortion(variances, b * dim)))
            .collect(),
        mark: Mark::Line,
    };
    xy_chart(
        path,
        "distortion vs bits per dimension",
        ("bits per dimension", "mean squared error"),
        true,
        &[
            bound("Gaussian bound, independent components", var),
            bound("Gaussian bound, covariance eigenvalues", eigen),
            series_of("pq4"),
            series_of("pq8"),
            series_of("sq8"),
        ],
    )
}
