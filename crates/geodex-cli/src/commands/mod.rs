//! One module per subcommand.

pub mod analyze;
pub mod bench;
pub mod build;
pub mod compact;
pub mod continual;
pub mod delete;
pub mod demo;
pub mod durable;
pub mod embed;
pub mod embed_eval;
mod embed_run;
pub mod graph;
pub mod groundtruth;
pub mod info;
pub mod insert;
pub mod learn_edges;
pub mod learn_stop;
pub mod quant_report;
pub mod search;
pub mod serve;
pub mod tune;

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

/// The search options `search` and `bench` share: re-ranking and filtering.
#[derive(clap::Args, Debug)]
pub struct SearchOptions {
    /// On a quantised index: re-rank the best R candidates of the walk on codes with exact
    /// distances (the beam widens to R). 0: results carry the codes' distance estimates.
    #[arg(long, default_value_t = 0)]
    pub rerank: usize,
    /// On a RaBitQ index (`--quant rabitq[:BITS]`): re-rank by the codes' error bound with
    /// this ε₀ (1.9, the paper's, when given without a value) instead of a fixed count: the whole
    /// beam, in order of lower bounds, until the bound rules the rest out.
    #[arg(long, num_args = 0..=1, default_missing_value = "1.9", value_name = "EPSILON0")]
    pub rerank_bound: Option<f32>,
    /// Only these keys may be returned (.txt one per line, or .ivecs/.npy): filtered search
    /// inside the traversal, or an exact scan when few are allowed.
    #[arg(long)]
    pub filter_keys: Option<std::path::PathBuf>,
    /// With --filter-keys: scan exactly below this allowed share (default √(16·ef/n), the cost
    /// crossover; 0 always walks the graph).
    #[arg(long)]
    pub exact_below: Option<f64>,
    /// Walk the graph on the full vectors instead of codes: a float index's one-byte codes (a
    /// float index under L2 or cosine walks them and re-ranks its whole beam exactly by default),
    /// or a quantised index's (`--quant`) codes, which makes it search as the same graph without
    /// codes would.
    #[arg(long)]
    pub exact_walk: bool,
    /// On a PQ4 index (`--quant pq4`): also keep each node's level-0 neighbours' codes in
    /// fast-scan blocks, made when the index opens, so the walk scores a whole list with SIMD
    /// table lookups (faster per hop; M0 · m/2 more resident bytes per vector).
    #[arg(long, conflicts_with = "exact_walk")]
    pub link_codes: bool,
    /// With --target-recall: the stopping rule (fixed | patience | ada | adaef | learned | ppo |
    /// gbdt | gain), as calibrated by `geodex learn-stop` (adaef: Ada-ef's score against the law
    /// of the query's distances to the base; ppo: trained with `learn-stop --ppo`; gbdt:
    /// the learned rule's prediction by gradient-boosted trees, `learn-stop --gbdt-trees`; gain:
    /// trees predicting the recall still to be gained, `learn-stop --gain-trees`).
    #[arg(long, default_value = "learned")]
    pub stop: String,
}

/// A one-line input error naming `--target-recall` when a target is outside (0, 1]: a mean
/// recall@k is a share of the true neighbours found.
pub fn check_target_recalls(targets: &[f64]) -> Result<(), crate::failure::Failure> {
    match targets.iter().find(|t| !(**t > 0.0 && **t <= 1.0)) {
        Some(t) => Err(crate::failure::Failure::input(format!(
            "--target-recall {t} is outside (0, 1]"
        ))),
        None => Ok(()),
    }
}

/// The rules of `index`'s stop model for each target in `targets`, of the kind `--stop` names;
/// clear errors when the index has no model or a target is outside its calibrated range.
pub fn stop_rules<'m>(
    model: Option<&'m geodex_core::StopModel>,
    kind: &str,
    targets: &[f64],
) -> Result<Vec<geodex_core::StopRule<'m>>, crate::failure::Failure> {
    use crate::failure::Failure;
    let kind = geodex_core::StopKind::parse(kind).ok_or_else(|| {
        let names: Vec<&str> = geodex_core::StopKind::ALL.iter().map(|k| k.name()).collect();
        Failure::input(format!("--stop {kind}: expected one of {}", names.join(", ")))
    })?;
    check_target_recalls(targets)?;
    let model = model.ok_or_else(|| {
        Failure::input("--target-recall: the index has no stop model; train one with `geodex learn-stop`")
    })?;
    targets
        .iter()
        .map(|&t| Ok(geodex_core::StopRule::new(model, kind, t)?))
        .collect()
}

impl SearchOptions {
    /// Opens the index at `path` (memory-mapped) for searching with these options: the byte
    /// codes of its walk, if any, are made now, outside any timing.
    pub fn open(&self, path: &std::path::Path) -> Result<geodex_core::AnyIndex, crate::failure::Failure> {
        let mut index = crate::data::open_index(path)?;
        index.set_byte_walk(!self.exact_walk);
        index.set_code_walk(!self.exact_walk);
        if self.link_codes {
            index
                .set_link_codes(true)
                .map_err(|e| crate::failure::Failure::input(format!("--link-codes: {e}")))?;
        }
        Ok(index)
    }

    /// The allowed-node set of `--filter-keys`, if given.
    pub fn allowed(
        &self,
        index: &geodex_core::AnyIndex,
    ) -> Result<Option<geodex_core::NodeSet>, crate::failure::Failure> {
        self.filter_keys
            .as_deref()
            .map(|p| search::allowed_nodes(index, p))
            .transpose()
    }

    /// Search parameters for `k` and `ef` with these options and the set [`SearchOptions::allowed`]
    /// returned.
    pub fn params<'a>(
        &self,
        k: usize,
        ef: usize,
        allowed: Option<&'a geodex_core::NodeSet>,
    ) -> geodex_core::SearchParams<'a> {
        geodex_core::SearchParams {
            rerank: self.rerank,
            rerank_bound: self.rerank_bound,
            allowed,
            exact_below: self.exact_below,
            ..geodex_core::SearchParams::new(k, ef)
        }
    }
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
