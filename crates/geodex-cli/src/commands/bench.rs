//! `geodex bench`: recall@k, queries per second and work per query over a sweep of ef.
//!
//! Queries are issued one at a time, as ann-benchmarks does; with `--threads N` each of N
//! threads issues its share one at a time. Each ef is run `--runs` times and the fastest run is
//! reported (ann-benchmarks' best-of-N); recall and work are identical across runs. The
//! measuring is `geodex_core::measure`; this file parses, prints and plots.

use std::path::{Path, PathBuf};

use geodex_core::measure::{sweep, sweep_settings, SweepPlan, SweepRow as Row};
use geodex_io::{AnyVectors, Role};

use crate::failure::{in_file, Failure};
use crate::{procstat, progress, with_typed};

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
    /// Instead of --ef: mean recall@k targets, comma-separated, each met by the index's stopping
    /// rule (`geodex learn-stop`; --stop picks it). One row per target; the CSV gains a first
    /// column `target_recall` and, last, `p99_distances`, `share_below_0.8` and `stop`.
    #[arg(
        long,
        value_delimiter = ',',
        conflicts_with = "ef",
        allow_negative_numbers = true
    )]
    pub target_recall: Vec<f64>,
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
    /// Measure the index on disk: for each ef, open the index again memory-mapped, copy into
    /// memory what every search reads (graph, codes, keys; the vectors only when the walk reads
    /// them), give the vectors' pages back and drop the file from the page cache, then time one
    /// cold run and --runs warm ones. Reports page faults per query of each and the process's
    /// resident memory. Linux.
    #[arg(long, conflicts_with_all = ["target_recall", "filter_keys"])]
    pub cold: bool,
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

/// Rows of a sweep over recall targets as CSV: the columns of [`to_csv`] after `target_recall`,
/// then the work and quality spread a per-query rule is judged by.
pub fn to_target_csv(targets: &[f64], stop: &str, rows: &[Row]) -> String {
    let mut s = format!("target_recall,{CSV_HEADER},p99_distances,share_below_0.8,stop\n");
    for (t, r) in targets.iter().zip(rows) {
        s.push_str(&format!(
            "{t},{},{:.6},{:.1},{:.2},{:.2},{:.1},{:.1},{:.1},{:.4},{stop}\n",
            r.ef,
            r.recall,
            r.qps,
            r.mean_distances,
            r.mean_hops,
            r.p50_us,
            r.p99_us,
            r.p99_distances,
            r.below_08
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

/// One ef of `--cold`: the cold run right after the file left the page cache, the warm runs
/// after it, and what each cost in page faults.
#[derive(serde::Serialize)]
struct ColdRow {
    ef: usize,
    recall: f64,
    cold_qps: f64,
    /// The fastest of the warm runs.
    warm_qps: f64,
    cold_major_faults_per_query: f64,
    cold_minor_faults_per_query: f64,
    warm_major_faults_per_query: f64,
    warm_minor_faults_per_query: f64,
    /// After the warm runs.
    resident: Option<procstat::Resident>,
}

/// `--cold`: per ef, reopen, load what every search reads, give the vectors' pages back, drop
/// the file from the page cache, then one cold run and `--runs` warm ones, page faults counted
/// around each.
fn run_cold(a: &Args, k: usize, queries: &AnyVectors, truth: &[Vec<u64>]) -> Result<Vec<ColdRow>, Failure> {
    let path = &a.files.index;
    let template = a.options.params(k, k, None);
    let per_query = |f: u64| f as f64 / truth.len() as f64;
    let mut rows = Vec::new();
    for &ef in &a.ef {
        // Opening reads the whole file (checksums): copy what every search reads to the heap,
        // give the mapped vectors' pages back, then drop the file from the page cache.
        let mut index = a.options.open(path)?;
        index.load_resident();
        index.release_vectors()?;
        procstat::drop_from_cache(path).map_err(|e| {
            Failure::runtime(format!(
                "{}: dropping it from the page cache: {e}",
                path.display()
            ))
        })?;
        let efs = [ef];
        let timed = |runs: usize| -> Result<(Row, procstat::Faults), Failure> {
            let plan = SweepPlan {
                efs: &efs,
                threads: a.threads,
                runs,
            };
            let before = procstat::faults().unwrap_or_default();
            let row = with_typed!(&index, queries.clone(), &a.files.queries, |ix, q| {
                sweep(ix, q.as_slice(), truth, &template, &plan, &|| {}).map_err(in_file(&a.files.queries))?
            });
            Ok((row[0].clone(), procstat::faults().unwrap_or_default() - before))
        };
        let (cold, cold_faults) = timed(1)?;
        let (warm, warm_faults) = timed(a.runs)?;
        rows.push(ColdRow {
            ef,
            recall: cold.recall,
            cold_qps: cold.qps,
            warm_qps: warm.qps,
            cold_major_faults_per_query: per_query(cold_faults.major),
            cold_minor_faults_per_query: per_query(cold_faults.minor),
            warm_major_faults_per_query: per_query(warm_faults.major) / a.runs as f64,
            warm_minor_faults_per_query: per_query(warm_faults.minor) / a.runs as f64,
            resident: procstat::resident(),
        });
    }
    Ok(rows)
}

/// Prints the rows of `--cold`.
fn report_cold(a: &Args, rows: &[ColdRow]) -> Result<(), Failure> {
    if a.json {
        super::print_json(&serde_json::json!({
            "index": a.files.index.display().to_string(),
            "k": a.k,
            "rerank": a.options.rerank,
            "rerank_bound": a.options.rerank_bound,
            "threads": a.threads,
            "runs": a.runs,
            "cold": rows,
        }));
        return Ok(());
    }
    println!(
        "{:>6} {:>8} {:>9} {:>9} {:>11} {:>11} {:>10} {:>10}",
        "ef", "recall", "cold_qps", "warm_qps", "cold_majflt", "warm_majflt", "anon_MB", "file_MB"
    );
    let mb = |b: Option<u64>| b.map_or(f64::NAN, |b| b as f64 / 1e6);
    for r in rows {
        println!(
            "{:>6} {:>8.4} {:>9.0} {:>9.0} {:>11.3} {:>11.3} {:>10.1} {:>10.1}",
            r.ef,
            r.recall,
            r.cold_qps,
            r.warm_qps,
            r.cold_major_faults_per_query,
            r.warm_major_faults_per_query,
            mb(r.resident.map(|m| m.anon_bytes)),
            mb(r.resident.map(|m| m.file_bytes)),
        );
    }
    println!("(page faults per query; resident memory after the warm runs)");
    Ok(())
}

/// Prints (and writes as CSV) the rows of a sweep over recall targets.
fn report_targets(a: &Args, k: usize, rows: &[Row]) -> Result<(), Failure> {
    let stop = &a.options.stop;
    if let Some(path) = &a.csv {
        let text = to_target_csv(&a.target_recall, stop, rows);
        geodex_io::atomic::write_file(path, |w| w.write_all(text.as_bytes()))?;
    }
    if a.json {
        let rows: Vec<_> = a
            .target_recall
            .iter()
            .zip(rows)
            .map(|(t, r)| serde_json::json!({"target_recall": t, "stop": stop, "row": r}))
            .collect();
        super::print_json(&serde_json::json!({
            "index": a.files.index.display().to_string(),
            "k": k,
            "threads": a.threads,
            "runs": a.runs,
            "rows": rows,
        }));
    } else {
        println!("{:>8} {}", "target", to_table(&[]).trim_end());
        for (t, line) in a.target_recall.iter().zip(to_table(rows).lines().skip(1)) {
            println!("{t:>8} {line}");
        }
        println!("(rule: {stop}; ef = the beam width the rule starts with)");
    }
    Ok(())
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
    if a.cold {
        let (k, _) = crate::commands::search::clamp_k(a.k, a.k, index.len())?;
        drop(index);
        return report_cold(&a, &run_cold(&a, k, &queries, &truth)?);
    }
    let (k, _) = crate::commands::search::clamp_k(
        a.k,
        a.ef.iter().copied().max().unwrap_or(a.k).max(a.k),
        index.len(),
    )?;
    let allowed = a.options.allowed(&index)?;
    let template = a.options.params(k, k, allowed.as_ref());
    let targets = &a.target_recall;
    let rules = if targets.is_empty() {
        Vec::new()
    } else {
        super::stop_rules(index.stop_model(), &a.options.stop, targets)?
    };
    let settings: Vec<_> = rules
        .iter()
        .map(|rule| geodex_core::SearchParams {
            stop: Some(rule),
            ef: rule.beam_width().max(k),
            ..template
        })
        .collect();
    let passes = if targets.is_empty() {
        a.ef.len()
    } else {
        targets.len()
    };
    let bar = progress::bar((passes * a.runs) as u64, "benchmark", a.quiet);
    let tick = || bar.inc(1);
    let rows = with_typed!(&index, queries, &a.files.queries, |ix, q| {
        let plan = SweepPlan {
            efs: &a.ef,
            threads: a.threads,
            runs: a.runs,
        };
        if targets.is_empty() {
            sweep(ix, q.as_slice(), &truth, &template, &plan, &tick)
        } else {
            sweep_settings(ix, q.as_slice(), &truth, &settings, &plan, &tick)
        }
        .map_err(in_file(&a.files.queries))?
    });
    bar.finish_and_clear();
    if !targets.is_empty() {
        return report_targets(&a, k, &rows);
    }
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
            "rerank_bound": a.options.rerank_bound,
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
