//! `geodex build`: read vectors, build an HNSW index, save it atomically.

use std::path::PathBuf;
use std::time::Instant;

use geodex_core::{BuildParams, Index, Metric};
use geodex_io::{AnyVectors, Role};

use crate::failure::{in_file, Failure};
use crate::progress;

/// Arguments of `geodex build`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Vectors to index (.fvecs .bvecs .npy .hdf5 — `train` of an .hdf5).
    #[arg(long)]
    pub data: PathBuf,
    /// Where to write the index.
    #[arg(long)]
    pub out: PathBuf,
    /// Dissimilarity: l2, ip, cosine, poincare.
    #[arg(long, default_value = "l2")]
    pub metric: Metric,
    /// Links per node on upper levels (level 0 gets 2·M).
    #[arg(long, default_value_t = 16)]
    pub m: usize,
    /// Beam width while building.
    #[arg(long, default_value_t = 200)]
    pub ef_construction: usize,
    /// Build threads (default: all cores). With 1 thread the index is a function of the seed.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Seed of the random levels.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Vector compression: none (sq8, pq8 and pq4 arrive with geodex-quant).
    #[arg(long, default_value = "none")]
    pub quant: String,
    /// Index only the first N vectors of the file.
    #[arg(long)]
    pub limit: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> Result<(), Failure> {
    if a.quant != "none" {
        return Err(Failure::input(format!(
            "--quant {}: only 'none' is available in this version (sq8, pq8, pq4 are planned)",
            a.quant
        )));
    }
    let data = crate::data::fit_to_metric(crate::data::read_vectors(&a.data, Role::Base, a.limit)?, a.metric);
    let params = BuildParams {
        metric: a.metric,
        m: a.m,
        ef_construction: a.ef_construction,
        seed: a.seed,
        threads: a.threads,
        ..Default::default()
    };
    let (n, dim) = (data.rows(), data.dim());
    let bar = progress::bar(n as u64, "building", a.quiet);
    let tick = |done: usize| bar.set_position(done as u64);
    let start = Instant::now();
    let (info, save) = match data {
        AnyVectors::F32(m) => {
            let ix = Index::build(m.into_vec(), dim, &params, &tick).map_err(in_file(&a.data))?;
            (ix.info(), ix.save(&a.out))
        }
        AnyVectors::U8(m) => {
            let ix = Index::build(m.into_vec(), dim, &params, &tick).map_err(in_file(&a.data))?;
            (ix.info(), ix.save(&a.out))
        }
    };
    let build_s = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    save?;
    let file_bytes = std::fs::metadata(&a.out).map(|m| m.len()).unwrap_or(0);
    if a.json {
        super::print_json(&serde_json::json!({
            "index": a.out.display().to_string(),
            "count": info.count,
            "dim": info.dim,
            "metric": info.metric,
            "element": info.element,
            "m": info.m,
            "ef_construction": info.ef_construction,
            "threads": params.threads.unwrap_or_else(rayon::current_num_threads),
            "build_seconds": super::round(build_s, 3),
            "file_bytes": file_bytes,
            "levels": info.levels,
        }));
    } else {
        println!(
            "built {}: {} {} vectors of dim {}, {} metric, M={}, ef_construction={}, in {:.2} s ({} bytes)",
            a.out.display(),
            info.count,
            info.element,
            info.dim,
            info.metric,
            info.m,
            info.ef_construction,
            build_s,
            file_bytes
        );
    }
    Ok(())
}
