//! `geodex bench`: recall@k, queries per second and work per query over a sweep of ef.
//!
//! Queries are issued one at a time, as ann-benchmarks does; with `--threads N` each of N
//! threads issues its share one at a time. Each ef is run `--runs` times and the fastest run is
//! reported (ann-benchmarks' best-of-N); recall and work are identical across runs. The
//! measuring is `geodex_core::measure`; this file parses, prints and plots.

use std::path::{Path, PathBuf};

use geodex_core::measure::{sweep, SweepPlan, SweepRow as Row};
use geodex_io::Role;

use crate::failure::{in_file, Failure};
use crate::{progress, with_typed};

/// The CSV header, exactly as ARCHITECTURE.md §5 fixes it.
pub const CSV_HEADER: &str = "ef,recall,qps,mean_distances,mean_hops,p50_us,p99_us";

/// Arguments of `geodex bench`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub files: super::IndexAndQueries,
    /// True neighbour ids (.ivecs, .npy, or `neighbors` of an .hdf5).
    #[arg(long)]
    pub groundtruth: PathBuf,
    /// Neighbours per query (recall@k).
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Beam widths to try, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "10,16,32,64,128,256")]
    pub ef: Vec<usize>,
    #[command(flatten)]
    pub options: super::SearchOptions,
    /// Search threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Timed runs per ef; the fastest is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Also write the rows as CSV.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Also draw recall against queries per second (log scale) as a PNG.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Print one JSON object on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// The rows as CSV, header first.
pub fn to_csv(rows: &[Row]) -> String {
    let mut s = format!("{CSV_HEADER}\n");
    for r in rows {
        s.push_str(&format!(
            "{},{:.6},{:.1},{:.2},{:.2},{:.1},{:.1}\n",
            r.ef, r.recall, r.qps, r.mean_distances, r.mean_hops, r.p50_us, r.p99_us
        ));
    }
    s
}

/// The rows as an aligned table for a terminal.
pub fn to_table(rows: &[Row]) -> String {
    let mut s = format!(
        "{:>6} {:>8} {:>10} {:>14} {:>10} {:>9} {:>9}\n",
        "ef", "recall", "qps", "mean_distances", "mean_hops", "p50_us", "p99_us"
    );
    for r in rows {
        s.push_str(&format!(
            "{:>6} {:>8.4} {:>10.0} {:>14.1} {:>10.1} {:>9.1} {:>9.1}\n",
            r.ef, r.recall, r.qps, r.mean_distances, r.mean_hops, r.p50_us, r.p99_us
        ));
    }
    s
}

/// Writes the CSV and plot files a bench or demo asked for.
pub fn write_outputs(
    rows: &[Row],
    csv: Option<&Path>,
    plot: Option<&Path>,
    title: &str,
) -> Result<(), Failure> {
    if let Some(path) = csv {
        let text = to_csv(rows);
        geodex_io::atomic::write_file(path, |w| w.write_all(text.as_bytes()))?;
    }
    if let Some(path) = plot {
        crate::plot::recall_vs_qps(path, title, &[(String::from("geodex"), rows.to_vec())])?;
    }
    Ok(())
}

pub fn run(a: Args) -> Result<(), Failure> {
    if a.threads == 0 || a.runs == 0 {
        return Err(Failure::input("--threads and --runs must be ≥ 1"));
    }
    if a.ef.is_empty() {
        return Err(Failure::input("--ef needs at least one value"));
    }
    let index = a.options.open(&a.files.index)?;
    let queries = crate::data::read_vectors(&a.files.queries, Role::Queries, None)?;
    let truth = crate::data::read_groundtruth(&a.groundtruth, queries.rows(), a.k)?;
    let (k, _) = crate::commands::search::clamp_k(
        a.k,
        a.ef.iter().copied().max().unwrap_or(a.k).max(a.k),
        index.len(),
    )?;
    let allowed = a.options.allowed(&index)?;
    let template = a.options.params(k, k, allowed.as_ref());
    let bar = progress::bar((a.ef.len() * a.runs) as u64, "benchmark", a.quiet);
    let tick = || bar.inc(1);
    let rows = with_typed!(&index, queries, &a.files.queries, |ix, q| {
        let plan = SweepPlan {
            efs: &a.ef,
            threads: a.threads,
            runs: a.runs,
        };
        sweep(ix, q.as_slice(), &truth, &template, &plan, &tick).map_err(in_file(&a.files.queries))?
    });
    bar.finish_and_clear();
    let title = format!(
        "{} (k={k}, {} thread{})",
        a.files.index.display(),
        a.threads,
        if a.threads == 1 { "" } else { "s" }
    );
    write_outputs(&rows, a.csv.as_deref(), a.plot.as_deref(), &title)?;
    if a.json {
        super::print_json(&serde_json::json!({
            "index": a.files.index.display().to_string(),
            "queries": truth.len(),
            "k": k,
            "rerank": a.options.rerank,
            "allowed": allowed.as_ref().map(|s| s.len()),
            "threads": a.threads,
            "runs": a.runs,
            "rows": rows,
        }));
    } else {
        print!("{}", to_table(&rows));
    }
    Ok(())
}
