//! One module per subcommand.

pub mod bench;
pub mod build;
pub mod demo;
pub mod graph;
pub mod groundtruth;
pub mod info;
pub mod search;

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
