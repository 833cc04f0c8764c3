//! `geodex demo`: the whole loop on the bundled data set, with no arguments.
//!
//! The data (20,000 SIFT descriptors of real photographs and 1,000 queries from held-out
//! images, a slice of `sift-debian`, u8, L2; ground truth made by `geodex groundtruth`) is
//! compiled into the binary, so the demo runs from any directory.

use std::path::PathBuf;
use std::time::Instant;

use geodex_core::measure::{sweep, SweepPlan};
use geodex_core::{AnyIndex, BuildParams, Index, Metric, SearchParams};
use geodex_io::{texmex, Matrix};

use crate::commands::bench;
use crate::failure::Failure;
use crate::progress;

static BASE: &[u8] = include_bytes!("../../../../testdata/sift20k/base.bvecs");
static QUERIES: &[u8] = include_bytes!("../../../../testdata/sift20k/query.bvecs");
static GROUNDTRUTH: &[u8] = include_bytes!("../../../../testdata/sift20k/groundtruth.ivecs");

/// Arguments of `geodex demo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where to write geodex-demo.png and geodex-demo.csv.
    #[arg(long, default_value = ".")]
    pub out_dir: PathBuf,
    /// Build threads (default: all cores); search is single-threaded, as in `bench`.
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bars.
    #[arg(long)]
    pub quiet: bool,
    /// Print one JSON object on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> Result<(), Failure> {
    let base: Matrix<u8> = texmex::parse(BASE, "bundled base.bvecs")?;
    let queries: Matrix<u8> = texmex::parse(QUERIES, "bundled query.bvecs")?;
    let k = 10;
    let truth: Vec<Vec<u64>> = texmex::parse::<i32>(GROUNDTRUTH, "bundled groundtruth.ivecs")?
        .iter()
        .map(|r| r[..k].iter().map(|&i| i as u64).collect())
        .collect();
    let params = BuildParams {
        metric: Metric::L2,
        m: 16,
        ef_construction: 200,
        threads: a.threads,
        ..Default::default()
    };
    progress::note(
        a.quiet || a.json,
        format!(
            "geodex demo: {} SIFT vectors (u8, dim {}), {} queries; M=16, ef_construction=200",
            base.rows(),
            base.dim(),
            queries.rows()
        ),
    );
    let bar = progress::bar(base.rows() as u64, "building", a.quiet);
    let start = Instant::now();
    let dim = base.dim();
    let built = Index::build(base.into_vec(), dim, &params, &|d| bar.set_position(d as u64))?;
    let build_s = start.elapsed().as_secs_f64();
    bar.finish_and_clear();

    // Round-trip through the index file, as a user would: save, then memory-map it back.
    let scratch = tempfile::tempdir().map_err(|e| Failure::runtime(format!("temporary directory: {e}")))?;
    let path = scratch.path().join("demo.gdx");
    built.save(&path)?;
    let file_bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let AnyIndex::U8(index) = AnyIndex::open(&path, true)? else {
        return Err(Failure::runtime(
            "demo index reopened with the wrong element type",
        ));
    };

    let efs = [10, 16, 32, 64, 128, 256, 512];
    let runs = 1;
    let bar = progress::bar((efs.len() * runs) as u64, "benchmark", a.quiet);
    let plan = SweepPlan {
        efs: &efs,
        threads: 1,
        runs,
    };
    let rows = sweep(
        &index,
        queries.as_slice(),
        &truth,
        &SearchParams::new(k, k),
        &plan,
        &|| bar.inc(1),
    )?;
    bar.finish_and_clear();

    std::fs::create_dir_all(&a.out_dir)
        .map_err(|e| Failure::runtime(format!("{}: {e}", a.out_dir.display())))?;
    let plot = a.out_dir.join("geodex-demo.png");
    let csv = a.out_dir.join("geodex-demo.csv");
    bench::write_outputs(
        &rows,
        Some(&csv),
        Some(&plot),
        "geodex demo: SIFT 20k, u8, L2 (k=10, 1 thread)",
    )?;
    if a.json {
        super::print_json(&serde_json::json!({
            "count": index.len(),
            "build_seconds": super::round(build_s, 3),
            "file_bytes": file_bytes,
            "k": k,
            "rows": rows,
            "plot": plot.display().to_string(),
            "csv": csv.display().to_string(),
        }));
        return Ok(());
    }
    println!(
        "built {} vectors in {:.2} s; index file {:.1} MB",
        index.len(),
        build_s,
        file_bytes as f64 / 1e6
    );
    print!("{}", bench::to_table(&rows));
    println!("plot: {}  csv: {}", plot.display(), csv.display());
    Ok(())
}
