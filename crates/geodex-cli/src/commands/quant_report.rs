//! `geodex quant-report`: the rate–distortion report of THEORY §1.3 / §1.1 for one data set —
//! for bit budgets from 0.5 to 8 bits per dimension, the measured mean squared error of SQ8 and
//! of PQ (several m, 16 or 256 centroids) next to the Gaussian bound from the data's own
//! variances (reverse water-filling), and each quantiser's recall@k by exhaustive asymmetric
//! search over the codes (PQ4 through fast-scan), so a budget's cost in search quality is seen
//! without a graph in the way.

use std::path::PathBuf;
use std::time::Instant;

use geodex_io::Role;
use geodex_quant::fastscan::{self, PackedCodes, QuantizedTable};
use geodex_quant::pq::ProductQuantizer;
use geodex_quant::rate_distortion::{gaussian_distortion, variances};
use geodex_quant::sq8::Sq8;
use rayon::prelude::*;
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
    /// Write the distortion-vs-bits plot here (.png).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// One JSON object on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// One quantiser configuration of the report.
#[derive(Clone, Copy, Debug)]
enum Config {
    Sq8,
    Pq { m: usize, bits: u32 },
}

impl Config {
    fn name(self) -> String {
        match self {
            Config::Sq8 => "sq8".into(),
            Config::Pq { m, bits } => format!("pq{bits} m={m}"),
        }
    }

    fn bits_per_vector(self, dim: usize) -> usize {
        match self {
            Config::Sq8 => 8 * dim,
            Config::Pq { m, bits } => m * bits as usize,
        }
    }
}

/// The configurations for dimension `dim`: SQ8, and PQ4 / PQ8 with m = d/8, d/4, d/2, d where
/// m divides d (0.5 … 8 bits per dimension); PQ4 only up to the 256 sub-spaces fast-scan's
/// 16-bit sums allow.
fn configs(dim: usize) -> Vec<Config> {
    let ms: Vec<usize> = [8, 4, 2, 1]
        .iter()
        .filter(|&&f| dim.checked_rem(f) == Some(0))
        .map(|f| dim / f)
        .collect();
    let mut out: Vec<Config> = [4, 8]
        .iter()
        .flat_map(|&bits| ms.iter().map(move |&m| Config::Pq { m, bits }))
        .filter(|c| !matches!(c, Config::Pq { m, bits: 4 } if *m > 256))
        .collect();
    out.push(Config::Sq8);
    out
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
    let query_rows = &queries.as_slice()[..nq * dim];
    let train = &base.as_slice()[..a.train.min(base.rows()) * dim];
    let var = variances(base.as_slice(), dim);
    let mut rows = Vec::new();
    for config in configs(dim) {
        let start = Instant::now();
        let measured = measure(config, train, base.as_slice(), query_rows, dim, a.k, a.seed)
            .map_err(|e| Failure::input(format!("{}: {e}", config.name())))?;
        let bits = config.bits_per_vector(dim);
        let bound = gaussian_distortion(&var, bits as f64);
        let recall = recall(&measured.found, &truth[..nq], a.k);
        progress_note(&a, &config, start.elapsed().as_secs_f64());
        rows.push(json!({
            "quantiser": config.name(),
            "bits_per_dim": bits as f64 / dim as f64,
            "bytes_per_vector": bits.div_ceil(8),
            "mse": measured.mse,
            "gaussian_bound": bound,
            "mse_over_bound": round(measured.mse / bound, 3),
            "recall": round(recall, 4),
        }));
    }
    rows.sort_by(|x, y| {
        x["bits_per_dim"]
            .as_f64()
            .partial_cmp(&y["bits_per_dim"].as_f64())
            .expect("finite")
    });
    if let Some(path) = &a.plot {
        plot(path, &rows, &var)?;
    }
    let total_variance: f64 = var.iter().sum();
    if a.json {
        print_json(
            &json!({ "dim": dim, "vectors": base.rows(), "total_variance": total_variance, "k": a.k, "queries": nq, "rows": rows }),
        );
    } else {
        println!("{} vectors × {dim}; total variance Σσ² = {total_variance:.4}; recall@{} over {nq} queries by exhaustive ADC", base.rows(), a.k);
        println!(
            "{:<12} {:>9} {:>8} {:>14} {:>14} {:>9} {:>8}",
            "quantiser", "bits/dim", "bytes", "MSE", "Gaussian bound", "MSE/bound", "recall"
        );
        for r in &rows {
            println!(
                "{:<12} {:>9} {:>8} {:>14.6} {:>14.6} {:>9} {:>8}",
                r["quantiser"].as_str().unwrap_or(""),
                r["bits_per_dim"].to_string(),
                r["bytes_per_vector"].to_string(),
                r["mse"].as_f64().unwrap_or(f64::NAN),
                r["gaussian_bound"].as_f64().unwrap_or(f64::NAN),
                r["mse_over_bound"].to_string(),
                r["recall"].to_string()
            );
        }
    }
    Ok(())
}

fn progress_note(a: &Args, config: &Config, seconds: f64) {
    if !a.json {
        eprintln!("{}: {seconds:.1} s", config.name());
    }
}

/// A configuration's mean squared error over the base and its exhaustive top-k per query.
struct Measured {
    mse: f64,
    found: Vec<Vec<u32>>,
}

fn measure(
    config: Config,
    train: &[f32],
    base: &[f32],
    queries: &[f32],
    dim: usize,
    k: usize,
    seed: u64,
) -> Result<Measured, geodex_quant::QuantError> {
    match config {
        Config::Sq8 => {
            let sq = Sq8::train(train, dim)?;
            let codes = sq.encode_all(base);
            let mse = mean_error(base, dim, |i, out| sq.decode(&codes[i * dim..(i + 1) * dim], out));
            let found = top_k_all(queries, dim, k, |q, out| {
                out.extend(codes.chunks_exact(dim).map(|c| sq.squared_l2(q, c)))
            });
            Ok(Measured { mse, found })
        }
        Config::Pq { m, bits } => {
            let pq = ProductQuantizer::train(train, dim, m, bits, seed)?;
            let codes = pq.encode_all(base);
            let mse = mean_error(base, dim, |i, out| pq.decode(&codes[i * m..(i + 1) * m], out));
            let found = if bits == 4 {
                let packed = PackedCodes::pack(&codes, m)?;
                top_k_all(queries, dim, k, |q, out| {
                    let table = QuantizedTable::new(&pq.distance_table(q));
                    let mut sums = Vec::new();
                    fastscan::scan(&table, &packed, &mut sums);
                    out.extend(sums.iter().map(|&s| table.distance(s)));
                })
            } else {
                top_k_all(queries, dim, k, |q, out| {
                    pq.scan(&pq.distance_table(q), &codes, out)
                })
            };
            Ok(Measured { mse, found })
        }
    }
}

/// Mean over the base of ‖x − decode(x)‖², `decode(i, out)` writing row i's reconstruction.
fn mean_error(base: &[f32], dim: usize, decode: impl Fn(usize, &mut [f32]) + Sync) -> f64 {
    let rows = base.len() / dim;
    let total: f64 = (0..rows)
        .into_par_iter()
        .map_init(
            || vec![0f32; dim],
            |rec, i| {
                decode(i, rec);
                base[i * dim..(i + 1) * dim]
                    .iter()
                    .zip(rec.iter())
                    .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
                    .sum::<f64>()
            },
        )
        .sum();
    total / rows as f64
}

/// The k smallest of the distances `scan(query, out)` writes, per query, ties by smaller id.
fn top_k_all(
    queries: &[f32],
    dim: usize,
    k: usize,
    scan: impl Fn(&[f32], &mut Vec<f32>) + Sync,
) -> Vec<Vec<u32>> {
    queries
        .par_chunks_exact(dim)
        .map(|q| {
            let mut d = Vec::new();
            scan(q, &mut d);
            let mut ids: Vec<u32> = (0..d.len() as u32).collect();
            let by = |a: &u32, b: &u32| d[*a as usize].total_cmp(&d[*b as usize]).then(a.cmp(b));
            let k = k.min(ids.len());
            ids.select_nth_unstable_by(k - 1, by);
            ids.truncate(k);
            ids.sort_unstable_by(by);
            ids
        })
        .collect()
}

fn recall(found: &[Vec<u32>], truth: &[Vec<u32>], k: usize) -> f64 {
    let hits: usize = found
        .iter()
        .zip(truth)
        .map(|(f, t)| f.iter().filter(|id| t[..k].contains(id)).count())
        .sum();
    hits as f64 / (found.len() * k) as f64
}

fn plot(path: &std::path::Path, rows: &[serde_json::Value], var: &[f64]) -> Result<(), Failure> {
    let dim = var.len() as f64;
    let series_of = |prefix: &str| Series {
        name: prefix.to_string(),
        points: rows
            .iter()
            .filter(|r| r["quantiser"].as_str().is_some_and(|q| q.starts_with(prefix)))
            .map(|r| {
                (
                    r["bits_per_dim"].as_f64().unwrap_or(0.0),
                    r["mse"].as_f64().unwrap_or(0.0),
                )
            })
            .collect(),
        mark: Mark::Dots,
    };
    let bound = Series {
        name: "Gaussian bound (reverse water-filling)".into(),
        points: (1..=64)
            .map(|i| i as f64 / 8.0)
            .map(|b| (b, gaussian_distortion(var, b * dim)))
            .collect(),
        mark: Mark::Line,
    };
    xy_chart(
        path,
        "distortion vs bits per dimension",
        ("bits per dimension", "mean squared error"),
        true,
        &[bound, series_of("pq4"), series_of("pq8"), series_of("sq8")],
    )
}
