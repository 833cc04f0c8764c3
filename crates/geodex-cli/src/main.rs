//! `geodex`: the command-line tool. Thin by design: it parses arguments, reads files, shows
//! progress, and calls `geodex-core` and `geodex-io`. The contract (commands, flags, JSON keys,
//! the bench CSV header, exit codes) is ARCHITECTURE.md §5 and must only ever be extended.

mod commands;
mod data;
mod failure;
mod interrupt;
mod plot;
mod procstat;
mod progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::failure::Failure;

/// geodex: HNSW vector search — build, search, measure.
#[derive(Parser, Debug)]
#[command(name = "geodex", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Build an HNSW index from a vector file and save it.
    Build(commands::build::Args),
    /// Search an index with a file of queries.
    Search(commands::search::Args),
    /// Exact k nearest neighbours by brute force (ground truth).
    Groundtruth(commands::groundtruth::Args),
    /// Recall and queries per second over a sweep of ef values (or of recall targets).
    Bench(commands::bench::Args),
    /// Train and calibrate per-query stopping rules on learning queries; stored in the index.
    LearnStop(commands::learn_stop::Args),
    /// Choose M, ef_construction, ef (and a quantiser under a RAM budget) for a recall target
    /// from learning queries, with a confidence interval; optionally build the index.
    Tune(commands::tune::Args),
    /// Train an edge scorer on the search paths of learning queries, for `build --edges
    /// learned:MODEL`.
    LearnEdges(commands::learn_edges::Args),
    /// Continual learning of the stopping model under drifting queries and inserts (THEORY
    /// §5.3): naive fine-tuning, EWC, replay, retraining, with their forgetting.
    Continual(commands::continual::Args),
    /// Add vectors to an index under keys (replacing keys it holds), durably.
    Insert(commands::insert::Args),
    /// Delete keys from an index and repair its graph around them, durably.
    Delete(commands::delete::Args),
    /// Rewrite an index without its deleted nodes.
    Compact(commands::compact::Args),
    /// Describe an index file (and check its graph).
    Info(commands::info::Args),
    /// Write one layer of the graph as a list of directed links.
    Graph(commands::graph::Args),
    /// Graph health and spectra of an index (degrees, components, hops, λ₂, Cheeger).
    Analyze(commands::analyze::Args),
    /// Embed a hierarchy (a transitive closure) in the Poincaré ball, the hyperboloid or
    /// Euclidean space.
    Embed(commands::embed::Args),
    /// Reconstruction, distortion and HNSW search quality of a hierarchy embedding.
    EmbedEval(commands::embed_eval::Args),
    /// Rate–distortion report: SQ and PQ distortion and recall against the Gaussian bound.
    QuantReport(commands::quant_report::Args),
    /// Build, benchmark and plot the bundled demo data set.
    Demo(commands::demo::Args),
    /// Serve collections over a Qdrant-compatible REST API.
    Serve(commands::serve::Args),
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Build(a) => commands::build::run(a),
        Command::Search(a) => commands::search::run(a),
        Command::Groundtruth(a) => commands::groundtruth::run(a),
        Command::Bench(a) => commands::bench::run(a),
        Command::LearnStop(a) => commands::learn_stop::run(a),
        Command::Tune(a) => commands::tune::run(a),
        Command::LearnEdges(a) => commands::learn_edges::run(a),
        Command::Continual(a) => commands::continual::run(a),
        Command::Info(a) => commands::info::run(a),
        Command::Insert(a) => commands::insert::run(a),
        Command::Delete(a) => commands::delete::run(a),
        Command::Compact(a) => commands::compact::run(a),
        Command::Graph(a) => commands::graph::run(a),
        Command::Demo(a) => commands::demo::run(a),
        Command::Analyze(a) => commands::analyze::run(a),
        Command::Embed(a) => commands::embed::run(a),
        Command::EmbedEval(a) => commands::embed_eval::run(a),
        Command::QuantReport(a) => commands::quant_report::run(a),
        Command::Serve(a) => commands::serve::run(a),
    }
}

fn main() -> ExitCode {
    failure::install_panic_hook();
    interrupt::install();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return failure::report_clap(e),
    };
    match std::panic::catch_unwind(|| run(cli)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(f)) => f.report(),
        Err(_) if failure::stdout_was_closed() => ExitCode::from(failure::CLOSED_STDOUT_EXIT),
        Err(_) => ExitCode::from(1),
    }
}
