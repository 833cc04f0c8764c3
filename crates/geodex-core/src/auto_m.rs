//! Choosing M from the data (HYPERBOLIC.md, "Choosing M"): build, probe the graph's recall,
//! double M while the probe falls short.
//!
//! M = 16 serves Euclidean data, but over a hierarchy embedded in the Poincaré ball the
//! neighbour-selection heuristic (paper Alg. 4) leaves most nodes one level-0 link and routes
//! everything through hubs: recall@10 at ef 10 falls to 0.64–0.79 on the 82k WordNet nouns at
//! M = 16, and a larger M restores it through longer upper-level lists and hub capacity
//! (measured in HYPERBOLIC.md, "Why: the level-0 degrees"). Neither the level-0 degree nor the
//! size predicts it — the 1,182 mammals collapse to the same median degree of 1 and keep 0.98 —
//! so the rule measures what M is for: after each build, [`AutoM::probe_queries`] indexed rows,
//! spread evenly over the data, are searched on the full vectors with beam [`AutoM::probe_ef`]
//! (the graph, not a quantiser's codes) and compared with brute force; while the recall is below
//! [`AutoM::target_recall`], M doubles, up to [`AutoM::max_m`]. Data that passes at the first M
//! pays one brute-force probe (`probe_queries` × n distances) and gets the index a fixed M would
//! have built. The query row itself is not its own neighbour: each probe asks for k + 1 and drops
//! it, the hierarchy task's convention, so the probe does not pass on self-matches.

use std::time::Instant;

use serde::Serialize;

use crate::exact::exact_knn_prepared;
use crate::index::rows_of;
use crate::measure::for_each_query;
use crate::validate::check_and_prepare;
use crate::{BuildParams, Component, CoreError, GraphView, Index, SearchContext, SearchParams};

/// Relative slack of the probe's recall: a returned neighbour counts when its distance is
/// within this factor of the true k-th distance, so ties (leaves a trained embedding places at
/// one point) are not misses — the distance-based recall of ann-benchmarks.
pub const TIE_TOLERANCE: f32 = 1e-4;

/// The M `auto` starts from: the paper's and hnswlib's usual value, enough for Euclidean data.
pub const FIRST_M: usize = 16;

/// What the automatic choice of M aims for.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct AutoM {
    /// The largest M tried; the build stops there even if the probe still falls short.
    pub max_m: usize,
    /// The probe's recall@k (ties counted, the query row excluded) that ends the search.
    pub target_recall: f64,
    /// Beam width of the probe's searches.
    pub probe_ef: usize,
    /// Indexed rows searched by the probe (all rows when there are fewer).
    pub probe_queries: usize,
    /// Neighbours per probe query.
    pub k: usize,
}

impl Default for AutoM {
    /// recall@10 ≥ 0.97 at ef 32 over 200 rows, M up to 64: 0.97 so that a 200-query probe
    /// (standard error ≈ 0.004 at that recall) still means ≥ 0.95 on a larger query set.
    fn default() -> Self {
        AutoM {
            max_m: 64,
            target_recall: 0.97,
            probe_ef: 32,
            probe_queries: 200,
            k: 10,
        }
    }
}

impl AutoM {
    fn validate(&self, first_m: usize) -> Result<(), CoreError> {
        let bad = |what: String| Err(CoreError::InvalidParameter(what));
        if !(self.target_recall > 0.0 && self.target_recall <= 1.0) {
            return bad(format!("target recall {} is not in (0, 1]", self.target_recall));
        }
        if self.k == 0 || self.probe_queries == 0 || self.probe_ef == 0 {
            return bad("the probe needs k, queries and ef ≥ 1".into());
        }
        if self.max_m < first_m {
            return bad(format!("max M {} is below the first M {first_m}", self.max_m));
        }
        Ok(())
    }
}

/// M as a user gives it: a number, or `auto` (the probe of this module, starting at 16).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MChoice {
    /// This M, no probe.
    Fixed(usize),
    /// Chosen by [`Index::build_choosing_m`] from M = 16.
    Auto,
}

impl std::str::FromStr for MChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(MChoice::Auto);
        }
        s.parse()
            .map(MChoice::Fixed)
            .map_err(|_| format!("'{s}' is neither a number nor 'auto'"))
    }
}

impl std::fmt::Display for MChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MChoice::Fixed(m) => write!(f, "{m}"),
            MChoice::Auto => f.write_str("auto"),
        }
    }
}

/// One build of the search for M.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct MTrial {
    /// M of this build.
    pub m: usize,
    /// The probe's recall@k (ties counted).
    pub recall: f64,
    /// Mean level-0 out-degree the selection heuristic left (of 2·M slots).
    pub level0_degree: f64,
    /// Seconds to build.
    pub build_seconds: f64,
    /// Seconds of the probe's searches (the brute force, done once, is not in it).
    pub probe_seconds: f64,
}

/// What the automatic choice tried and chose.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AutoMReport {
    /// The M of the returned index.
    pub chosen_m: usize,
    /// Whether its probe reached the target (false: stopped at `max_m`).
    pub reached: bool,
    /// The rule that was applied.
    pub rule: AutoM,
    /// Every build, in order; the last is the returned index.
    pub trials: Vec<MTrial>,
}

impl AutoMReport {
    /// The report as the index file keeps it: the timings left out, so that the file stays a
    /// function of the data, the parameters and the seed (one thread: bit-identical builds).
    pub fn without_timings(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).expect("a report of numbers serialises");
        for trial in value["trials"].as_array_mut().into_iter().flatten() {
            if let Some(trial) = trial.as_object_mut() {
                trial.remove("build_seconds");
                trial.remove("probe_seconds");
            }
        }
        value
    }
}

impl<T: Component> Index<T> {
    /// [`Index::build`] with `params.m` replaced by a fixed `m`, or [`Index::build_choosing_m`]
    /// from M = 16 under `rule`; the report when M was chosen.
    pub fn build_with_m(
        data: Vec<T>,
        dim: usize,
        params: &BuildParams,
        m: MChoice,
        rule: &AutoM,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<(Self, Option<AutoMReport>), CoreError> {
        let mut params = params.clone();
        match m {
            MChoice::Fixed(m) => {
                params.m = m;
                Ok((Index::build(data, dim, &params, progress)?, None))
            }
            MChoice::Auto => {
                params.m = FIRST_M;
                let (index, report) = Index::build_choosing_m(data, dim, &params, rule, progress)?;
                Ok((index, Some(report)))
            }
        }
    }

    /// Builds like [`Index::build`] starting at `params.m`, and rebuilds with twice the M while
    /// the recall probe of `rule` falls short (module doc). The index's metadata records the
    /// report under `"auto_m"`.
    pub fn build_choosing_m(
        mut data: Vec<T>,
        dim: usize,
        params: &BuildParams,
        rule: &AutoM,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<(Self, AutoMReport), CoreError> {
        params.validate()?;
        rule.validate(params.m)?;
        BuildParams {
            m: rule.max_m,
            ..params.clone()
        }
        .validate()?;
        rows_of(dim, data.len())?;
        check_and_prepare(params.metric, dim, &mut data)?;
        let probe = Probe::new(&data, dim, params.metric, rule)?;
        let mut params = params.clone();
        let mut trials = Vec::new();
        loop {
            let start = Instant::now();
            let index = Index::build_prepared(data, dim, &params, progress)?;
            let build_seconds = start.elapsed().as_secs_f64();
            let start = Instant::now();
            let recall = probe.recall(&index, rule)?;
            trials.push(MTrial {
                m: params.m,
                recall,
                level0_degree: mean_level0_degree(&index),
                build_seconds,
                probe_seconds: start.elapsed().as_secs_f64(),
            });
            let reached = recall >= rule.target_recall;
            let next_m = (params.m * 2).min(rule.max_m);
            if reached || next_m == params.m {
                let report = AutoMReport {
                    chosen_m: params.m,
                    reached,
                    rule: *rule,
                    trials,
                };
                let mut index = index;
                index.set_metadata("auto_m", report.without_timings());
                return Ok((index, report));
            }
            data = index.into_vectors();
            params.m = next_m;
        }
    }
}

/// The probe's query rows and their exact neighbours, computed once for every trial.
struct Probe<T> {
    /// Row ids of the query rows.
    rows: Vec<u32>,
    /// The query rows' vectors (prepared), row-major.
    queries: Vec<T>,
    /// Per query: the true k-th distance with the query row excluded.
    kth: Vec<f32>,
}

impl<T: Component> Probe<T> {
    fn new(data: &[T], dim: usize, metric: crate::Metric, rule: &AutoM) -> Result<Self, CoreError> {
        let n = data.len() / dim;
        let count = rule.probe_queries.min(n);
        let rows: Vec<u32> = (0..count).map(|i| (i * n / count) as u32).collect();
        let queries: Vec<T> = rows
            .iter()
            .flat_map(|&r| data[r as usize * dim..][..dim].iter().copied())
            .collect();
        let exact = exact_knn_prepared(data, &queries, dim, rule.k + 1, metric, &|_| {})?;
        let kth = exact
            .iter()
            .zip(&rows)
            .map(|(found, &row)| {
                let others = found.iter().filter(|n| n.id != row).take(rule.k);
                others.last().map_or(f32::INFINITY, |n| n.distance)
            })
            .collect();
        Ok(Probe { rows, queries, kth })
    }

    /// recall@k of `index` over the probe rows, the graph walked on the full vectors.
    fn recall(&self, index: &Index<T>, rule: &AutoM) -> Result<f64, CoreError> {
        let dim = index.dim();
        let search = SearchParams::new(rule.k + 1, rule.probe_ef.max(rule.k + 1));
        let n_others = (index.len() - 1).min(rule.k);
        if n_others == 0 {
            return Ok(1.0);
        }
        let hits = for_each_query(None, self.rows.len(), SearchContext::default, |ctx, i| {
            let query = &self.queries[i * dim..][..dim];
            let found = index.search_exact(query, &search, ctx)?;
            let bound = self.kth[i] * (1.0 + TIE_TOLERANCE);
            let within = found
                .iter()
                .filter(|h| h.node.0 != self.rows[i])
                .take(rule.k)
                .filter(|h| h.distance <= bound)
                .count();
            Ok(within)
        })?;
        Ok(hits.iter().sum::<usize>() as f64 / (n_others * self.rows.len()) as f64)
    }
}

/// Mean out-degree of level 0.
fn mean_level0_degree<T: Component>(index: &Index<T>) -> f64 {
    let graph = index.graph();
    let n = graph.node_count();
    let links: usize = (0..n as u32).map(|u| graph.links(u, 0).len()).sum();
    links as f64 / n.max(1) as f64
}
