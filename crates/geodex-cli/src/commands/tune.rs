//! `geodex tune`: chooses M, ef_construction, ef (and a quantiser under `--max-ram`) for a
//! recall target from learning queries (`geodex_tune`), writes them to a JSON file, and with
//! `--build` saves the index built with them.

use std::io::Write;
use std::path::PathBuf;

use geodex_core::Component;
use geodex_tune::{tune, TuneError, TuneOptions, TuneReport, Tuned};

use crate::data::{LearningInput, LearningTask, QueryElement};
use crate::failure::{in_file, Failure};

/// Arguments of `geodex tune`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The base vectors, the learning queries (half choose the parameters, half check the
    /// choice) and their ground truth.
    #[command(flatten)]
    pub input: LearningInput,
    /// Mean recall@k wanted on unseen queries, in (0, 1].
    #[arg(long, allow_negative_numbers = true)]
    pub target_recall: f64,
    /// Neighbours per query.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Probability that the stated recall interval holds.
    #[arg(long, default_value_t = 0.95)]
    pub confidence: f64,
    /// Resident memory the index may take to search, MB (10⁶ bytes); a quantiser with
    /// re-ranking is chosen when the vectors do not fit.
    #[arg(long, allow_negative_numbers = true)]
    pub max_ram: Option<f64>,
    /// Seconds the full build may take (predicted from builds on the sample).
    #[arg(long, allow_negative_numbers = true)]
    pub max_build_s: Option<f64>,
    /// Base rows the candidates are built and timed on.
    #[arg(long, default_value_t = TuneOptions::default().sample_rows)]
    pub sample: usize,
    /// Queries per batch for the union-bound ef (§7.2).
    #[arg(long, default_value_t = TuneOptions::default().batch)]
    pub batch: usize,
    /// Wanted probability that every query of a batch reaches the target recall.
    #[arg(long, default_value_t = TuneOptions::default().batch_success)]
    pub batch_success: f64,
    /// Seed of the query split, the sample and the builds.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Build threads (default: all cores); timing runs on one thread.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Where to write the chosen parameters (JSON).
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the index built with the chosen parameters here.
    #[arg(long)]
    pub build: Option<PathBuf>,
    /// No progress lines.
    #[arg(long)]
    pub quiet: bool,
    /// Print the whole report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

fn options(a: &Args) -> Result<TuneOptions, Failure> {
    let max_ram_bytes = match a.max_ram {
        Some(mb) if !(mb > 0.0 && mb.is_finite()) => {
            return Err(Failure::input(format!(
                "--max-ram {mb}: expected a positive number of MB"
            )))
        }
        Some(mb) => Some((mb * 1e6) as u64),
        None => None,
    };
    if let Some(s) = a.max_build_s.filter(|s| !(*s > 0.0 && s.is_finite())) {
        return Err(Failure::input(format!(
            "--max-build-s {s}: expected a positive number of seconds"
        )));
    }
    Ok(TuneOptions {
        metric: a.input.metric,
        k: a.k,
        target_recall: a.target_recall,
        confidence: a.confidence,
        max_ram_bytes,
        max_build_seconds: a.max_build_s,
        sample_rows: a.sample,
        batch: a.batch,
        batch_success: a.batch_success,
        seed: a.seed,
        threads: a.threads,
        ..TuneOptions::default()
    })
}

pub fn run(a: Args) -> Result<(), Failure> {
    super::check_target_recalls(&[a.target_recall])?;
    let opts = options(&a)?;
    let report = a.input.run(a.k, Tune { a: &a, opts: &opts })?;
    print(&a, &report);
    Ok(())
}

/// Tuning on the data of `--data` and `--queries`.
struct Tune<'a> {
    a: &'a Args,
    opts: &'a TuneOptions,
}

impl LearningTask for Tune<'_> {
    type Output = TuneReport;
    fn run<T: Component + QueryElement>(
        self,
        base: Vec<T>,
        dim: usize,
        queries: &[T],
        truth: Option<Vec<Vec<u64>>>,
    ) -> Result<TuneReport, Failure> {
        let quiet = self.a.quiet;
        let progress = |line: &str| {
            if !quiet {
                eprintln!("{line}");
            }
        };
        finish(self.a, tune(base, dim, queries, truth, self.opts, &progress))
    }
}

/// Writes the parameters and, with `--build`, the index; returns the report.
fn finish<T: Component>(a: &Args, tuned: Result<Tuned<T>, TuneError>) -> Result<TuneReport, Failure> {
    let tuned = tuned.map_err(|e| match e {
        TuneError::Core(e) => in_file(&a.input.data)(e),
        TuneError::Invalid(m) | TuneError::Infeasible(m) => Failure::input(m),
    })?;
    if let Some(path) = &a.build {
        tuned.index.save(path)?;
    }
    let json = serde_json::to_vec_pretty(&tuned.report).expect("the report serialises");
    geodex_io::atomic::write_file(&a.out, |w: &mut dyn Write| w.write_all(&json))?;
    Ok(tuned.report)
}

fn print(a: &Args, r: &TuneReport) {
    if a.json {
        super::print_json(&serde_json::to_value(r).expect("the report serialises"));
        return;
    }
    println!(
        "M {} ef_construction {} ef {} quant {}{}: predicted recall@{} {:.4} in [{:.4}, {:.4}] ({:.0} % confidence){}",
        r.m,
        r.ef_construction,
        r.ef,
        r.quant,
        if r.rerank > 0 { format!(" rerank {}", r.rerank) } else { String::new() },
        r.k,
        r.predicted_recall,
        r.recall_interval[0],
        r.recall_interval[1],
        100.0 * r.confidence,
        if r.reached {
            String::new()
        } else {
            format!("; target {} NOT reached at the largest ef", r.target_recall)
        }
    );
    println!(
        "holdout ({} queries): recall {:.4} ({} the interval), {:.0} QPS on one thread",
        r.holdout_queries,
        r.holdout_recall,
        if r.holdout_inside_interval {
            "inside"
        } else {
            "OUTSIDE"
        },
        r.holdout_qps
    );
    match r.batch.ef {
        Some(ef) => println!(
            "a batch of {} queries all at recall ≥ {} with probability {}: ef {ef}",
            r.batch.size, r.target_recall, r.batch.success
        ),
        None => println!(
            "a batch of {} queries all at recall ≥ {} with probability {}: not certified up to ef {} (needs a per-query failure rate ≤ {:.2e}; {} queries certify {:.2e} at best)",
            r.batch.size,
            r.target_recall,
            r.batch.success,
            r.ladder.last().map_or(0, |s| s.ef),
            r.batch.per_query_failure_allowed,
            r.fit_queries,
            r.batch.resolution
        ),
    }
    println!("wrote {}", a.out.display());
    if let Some(b) = &a.build {
        println!("wrote {} ({} bytes in RAM to search)", b.display(), r.ram_bytes);
    }
}
