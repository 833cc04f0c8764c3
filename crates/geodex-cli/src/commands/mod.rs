//! One module per subcommand.

pub mod analyze;
pub mod bench;
pub mod build;
pub mod demo;
pub mod embed;
pub mod embed_eval;
pub mod graph;
pub mod groundtruth;
pub mod info;
pub mod quant_report;
pub mod search;

/// The index and query files that `search` and `bench` take.
#[derive(clap::Args, Debug)]
pub struct IndexAndQueries {
    /// Index file.
    #[arg(long)]
    pub index: std::path::PathBuf,
    /// Query vectors (`test` of an .hdf5).
    #[arg(long)]
    pub queries: std::path::PathBuf,
}

/// Prints `value` as the one JSON object on stdout.
pub fn print_json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON values serialise")
    );
}

/// Rounds for display in JSON (keeps output stable and readable).
pub fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}
