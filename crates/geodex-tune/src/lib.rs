//! Choosing an index's parameters for a recall target (`geodex tune`; THEORY.md §7.1, §7.2,
//! §10.1; ADAPTIVE.md, "Choosing the parameters").
//!
//! [`tune`] takes the base vectors and learning queries (never the test queries) and returns
//! the index and a [`TuneReport`]:
//!
//! 1. The learning queries are split with the seed into a **fit** half, on which everything is
//!    chosen, and a **holdout** half, touched once at the end to check the choice.
//! 2. **Prior** (`prior.rs`): the Levina–Bickel intrinsic dimension of a sample of the base
//!    picks M on a ladder; the prior and its two ladder neighbours, each with ef_construction
//!    100, 200 and 400, are the first candidates.
//! 3. **Sweep on a sample** of the base (all of it when small): each candidate is built, its
//!    smallest ef certified for the target on the fit queries (exact ground truth on the
//!    sample; the same confidence rule as step 4) is found, and its single-thread QPS at that
//!    ef is timed in interleaved rounds (median of rounds, each the fastest of 3 passes).
//!    While the fastest candidate has the largest (or smallest) M measured, the next ladder M
//!    in that direction joins the sweep: the prior decides where the search starts, the
//!    measurements where it ends. With `max_ram_bytes`, when the flat index at the prior M,
//!    its resident bytes scaled to the full set, exceeds the budget, every candidate uses the
//!    first quantiser (`sq8`, `pq8`, `pq4`) that fits at the prior M, its beam re-ranked on
//!    the full vectors, and candidates still over the budget are dropped; with
//!    `max_build_seconds`, candidates whose build time scaled to the full set (n·ln n) exceeds
//!    it are dropped. The fastest remaining candidate wins.
//! 4. **ef on the full index**: per-query recall on the fit half along an ef ladder; the chosen
//!    ef is the smallest whose lower confidence bound on the mean recall of unseen queries
//!    (`interval.rs`) reaches the target, certified by a fixed-sequence test from the largest
//!    ef down, so the target holds on new queries with the stated confidence, not just on
//!    these. The ef a batch of Q queries needs to succeed together (§7.2) is the smallest
//!    whose certified per-query failure rate (Clopper–Pearson upper bound) is within
//!    (1 − batch success) / Q — the union bound.
//! 5. **Validation**: recall and QPS of the choice on the holdout half, next to the prediction.

pub mod interval;
pub mod prior;

use std::time::Instant;

use geodex_analysis::bounds::{failure_upper_bound, union_bound_ef};
use geodex_analysis::geometry::{mle_lid, neighbour_distances, pooled_mle};
use geodex_analysis::hardness::euclidean_rows;
use geodex_core::exact::exact_knn;
use geodex_core::measure::{for_each_query, sweep, SweepPlan};
use geodex_core::{
    BuildParams, CodecOptions, CodecSpec, Component, CoreError, Index, Metric, SearchContext, SearchParams,
};
use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;

use interval::{mean_interval, Interval};

/// Why tuning failed.
#[derive(Debug, thiserror::Error)]
pub enum TuneError {
    /// A build or a search failed.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The options, the queries or the ground truth cannot be used.
    #[error("{0}")]
    Invalid(String),
    /// No candidate meets the constraints (`max_ram_bytes`, `max_build_seconds`, the target).
    #[error("{0}")]
    Infeasible(String),
}

/// Options of [`tune`].
#[derive(Clone, Debug)]
pub struct TuneOptions {
    /// The dissimilarity.
    pub metric: Metric,
    /// Results per query; recall is recall@k.
    pub k: usize,
    /// Mean recall@k wanted on unseen queries, in (0, 1].
    pub target_recall: f64,
    /// Probability that the stated recall interval holds (and that the target is met), in (0, 1).
    pub confidence: f64,
    /// Resident bytes the index may take to search (`IndexInfo::ram_bytes`).
    pub max_ram_bytes: Option<u64>,
    /// Seconds the full build may take (predicted from the sample builds).
    pub max_build_seconds: Option<f64>,
    /// Base rows the candidates are built on (all rows when the base is smaller).
    pub sample_rows: usize,
    /// The ef ladder, ascending.
    pub efs: Vec<usize>,
    /// ef_construction values tried with each candidate M.
    pub ef_constructions: Vec<usize>,
    /// Quantisers tried, in order, when the flat index exceeds `max_ram_bytes`.
    pub quantisers: Vec<String>,
    /// Queries per batch of the union-bound choice (§7.2).
    pub batch: usize,
    /// Wanted probability that every query of a batch reaches the target recall.
    pub batch_success: f64,
    /// Interleaved timing rounds per candidate (the median is used).
    pub timing_rounds: usize,
    /// Seed of the split, the sample and the builds.
    pub seed: u64,
    /// Build threads (`None`: all cores); timing always runs on one thread.
    pub threads: Option<usize>,
}

impl Default for TuneOptions {
    fn default() -> Self {
        TuneOptions {
            metric: Metric::L2,
            k: 10,
            target_recall: 0.95,
            confidence: 0.95,
            max_ram_bytes: None,
            max_build_seconds: None,
            sample_rows: 50_000,
            efs: vec![
                10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 256, 320, 384,
                512, 768, 1024,
            ],
            ef_constructions: vec![100, 200, 400],
            quantisers: vec!["sq8".into(), "pq8".into(), "pq4".into()],
            batch: 10,
            batch_success: 0.9,
            timing_rounds: 3,
            seed: 42,
            threads: None,
        }
    }
}

impl TuneOptions {
    fn validate(&self) -> Result<(), TuneError> {
        let bad = |m: String| Err(TuneError::Invalid(m));
        if !(self.target_recall > 0.0 && self.target_recall <= 1.0) {
            return bad(format!("target recall {} is outside (0, 1]", self.target_recall));
        }
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return bad(format!("confidence {} is outside (0, 1)", self.confidence));
        }
        if !(self.batch_success > 0.0 && self.batch_success < 1.0) || self.batch == 0 {
            return bad(format!(
                "batch of {} queries succeeding with probability {}: need ≥ 1 query and a probability in (0, 1)",
                self.batch, self.batch_success
            ));
        }
        if self.k == 0 || self.efs.is_empty() || self.ef_constructions.is_empty() || self.timing_rounds == 0 {
            return bad(
                "k, the ef ladder, ef_construction values and timing rounds must not be empty or 0".into(),
            );
        }
        if self.efs.windows(2).any(|w| w[0] >= w[1]) || self.efs[0] == 0 {
            return bad(format!("the ef ladder {:?} is not ascending from ≥ 1", self.efs));
        }
        if self.sample_rows < 2 {
            return bad(format!(
                "a sample of {} rows cannot be searched",
                self.sample_rows
            ));
        }
        if self.max_ram_bytes == Some(0) || self.max_build_seconds.is_some_and(|s| s.is_nan() || s <= 0.0) {
            return bad("the RAM and build-time budgets must be positive".into());
        }
        Ok(())
    }
}

/// The fewest learning queries tune accepts: each half must bound a mean recall usefully.
pub const MIN_QUERIES: usize = 100;

/// One candidate measured on the sample.
#[derive(Clone, Debug, Serialize)]
pub struct Trial {
    /// Links per node (level 0: 2·M).
    pub m: usize,
    /// Beam width while building.
    pub ef_construction: usize,
    /// Quantiser the walk runs on (`none`: the vectors).
    pub quant: String,
    /// Seconds to build the sample.
    pub build_seconds: f64,
    /// The full build's seconds predicted from the sample's (n·ln n).
    pub predicted_build_seconds: f64,
    /// Resident bytes to search the full set, scaled from the sample's.
    pub predicted_ram_bytes: u64,
    /// Smallest ladder ef whose lower confidence bound on the fit queries' mean recall (over
    /// the sample) reaches the target, if any.
    pub sample_ef: Option<usize>,
    /// Mean recall at `sample_ef` (at the largest ef when none reaches the target).
    pub sample_recall: f64,
    /// Median single-thread QPS at `sample_ef` over the timing rounds.
    pub qps: Option<f64>,
    /// `chosen`, `slower`, or why the candidate was not eligible.
    pub verdict: String,
}

/// The recall measured on the fit queries at one ef of the full index.
#[derive(Clone, Debug, Serialize)]
pub struct LadderStep {
    /// Beam width.
    pub ef: usize,
    /// Mean recall@k.
    pub recall: f64,
    /// Confidence interval on the mean recall of unseen queries.
    pub interval: Interval,
    /// Share of queries below the target recall.
    pub failure_rate: f64,
    /// Clopper–Pearson upper bound on that share at the confidence.
    pub failure_upper: f64,
}

/// The union-bound choice of ef for a batch of queries (§7.2).
#[derive(Clone, Debug, Serialize)]
pub struct BatchChoice {
    /// Queries per batch Q.
    pub size: usize,
    /// Wanted probability that every query of the batch reaches the target recall.
    pub success: f64,
    /// (1 − success) / Q: the per-query failure rate the union bound allows.
    pub per_query_failure_allowed: f64,
    /// Smallest ladder ef whose certified failure rate is within the allowance, if any.
    pub ef: Option<usize>,
    /// The lowest rate the fit queries can certify (0 failures); an allowance below it needs
    /// about 3 / allowance queries.
    pub resolution: f64,
}

/// What [`tune`] chose, what it predicts, and what the holdout queries gave.
#[derive(Clone, Debug, Serialize)]
pub struct TuneReport {
    /// Links per node (level 0: 2·M).
    pub m: usize,
    /// Beam width while building.
    pub ef_construction: usize,
    /// Beam width of searches.
    pub ef: usize,
    /// Results per query the choice is for.
    pub k: usize,
    /// Quantiser the walk runs on (`none`: the vectors).
    pub quant: String,
    /// Candidates re-ranked on the full vectors per query (0: none; a quantised choice
    /// re-ranks its beam).
    pub rerank: usize,
    /// The dissimilarity.
    pub metric: String,
    /// The target asked for.
    pub target_recall: f64,
    /// Whether the chosen ef's lower confidence bound reaches the target (false: the largest
    /// ladder ef was taken and falls short).
    pub reached: bool,
    /// Mean recall@k of the fit queries at the chosen ef: the prediction for unseen queries.
    pub predicted_recall: f64,
    /// Where the mean recall of unseen queries lies with probability `confidence`.
    pub recall_interval: [f64; 2],
    /// Confidence of the interval.
    pub confidence: f64,
    /// Mean recall@k of the holdout queries at the chosen settings.
    pub holdout_recall: f64,
    /// Whether the holdout recall falls inside the predicted interval.
    pub holdout_inside_interval: bool,
    /// Median single-thread QPS of the holdout queries.
    pub holdout_qps: f64,
    /// Learning queries the choice was made on.
    pub fit_queries: usize,
    /// Learning queries kept for the check.
    pub holdout_queries: usize,
    /// Levina–Bickel MLE of the base's intrinsic dimension (pooled, k = 20).
    pub intrinsic_dimension: f64,
    /// M the intrinsic dimension suggested.
    pub prior_m: usize,
    /// Base rows.
    pub rows: usize,
    /// Rows the candidates were built on.
    pub sample_rows: usize,
    /// The batch ef (§7.2).
    pub batch: BatchChoice,
    /// Seconds of the full build.
    pub build_seconds: f64,
    /// Resident bytes to search the built index.
    pub ram_bytes: u64,
    /// Every candidate, in the order measured.
    pub trials: Vec<Trial>,
    /// The fit queries' recall along the ef ladder of the full index.
    pub ladder: Vec<LadderStep>,
}

/// The index built with the chosen parameters, and the report.
pub struct Tuned<T: Component> {
    /// The index (on all base rows, keys = row numbers).
    pub index: Index<T>,
    /// What was chosen and measured.
    pub report: TuneReport,
}

/// Queries with their true nearest base rows.
struct Workload<'a, T> {
    queries: &'a [T],
    truth: &'a [Vec<u64>],
}

/// Chooses M, ef_construction, ef and (under a RAM budget) a quantiser for `base` (row-major,
/// `dim` components) to reach `options.target_recall` on queries like `learn`, whose true
/// nearest base rows are `truth` (closest first, ≥ k per row; computed by brute force when
/// `None`). See the crate documentation for the procedure. `progress` receives one line per
/// stage.
pub fn tune<T: Component>(
    base: Vec<T>,
    dim: usize,
    learn: &[T],
    truth: Option<Vec<Vec<u64>>>,
    options: &TuneOptions,
    progress: &dyn Fn(&str),
) -> Result<Tuned<T>, TuneError> {
    options.validate()?;
    let rows = geodex_core::rows_of(dim, base.len())?;
    let queries = geodex_core::rows_of(dim, learn.len())?;
    if queries < MIN_QUERIES {
        return Err(TuneError::Invalid(format!(
            "{queries} learning queries: tune needs at least {MIN_QUERIES} (half to choose, half to check)"
        )));
    }
    if rows <= options.k {
        return Err(TuneError::Invalid(format!(
            "{rows} base rows: tune needs more than k = {}",
            options.k
        )));
    }
    let truth = match truth {
        Some(t) => checked_truth(t, queries, rows, options.k)?,
        None => {
            progress("ground truth of the learning queries (brute force)");
            exact_keys(&base, learn, dim, options.k, options.metric)?
        }
    };
    let (fit_rows, holdout_rows) = split(queries, options.seed);
    let (fit_q, fit_t) = select(learn, &truth, dim, &fit_rows);
    let (hold_q, hold_t) = select(learn, &truth, dim, &holdout_rows);

    let sample = sample_rows(rows, options.sample_rows, options.seed);
    let sample_base: Vec<T> = sample
        .iter()
        .flat_map(|&r| &base[r * dim..][..dim])
        .copied()
        .collect();
    let intrinsic_dimension = intrinsic_dimension(&sample_base, dim, options.metric)?;
    let prior_m = prior::prior_m(intrinsic_dimension);
    progress(&format!(
        "intrinsic dimension {intrinsic_dimension:.1}: prior M {prior_m}; sweeping on {} of {rows} rows",
        sample.len()
    ));
    let sample_truth = if sample.len() == rows {
        fit_t.clone()
    } else {
        exact_keys(&sample_base, &fit_q, dim, options.k, options.metric)?
    };
    let fit_on_sample = Workload {
        queries: &fit_q,
        truth: &sample_truth,
    };
    let ctx = Sweep {
        dim,
        rows,
        options,
        progress,
    };
    let mut measured = ctx.sweep_sample(&sample_base, &fit_on_sample, prior_m)?;
    let trials: Vec<Trial> = measured.iter().map(|(t, _)| t.clone()).collect();
    let chosen = trials
        .iter()
        .position(|t| t.verdict == "chosen")
        .expect("sweep_sample marks a chosen trial");
    let choice = trials[chosen].clone();
    let (index, build_seconds) = if sample.len() == rows {
        (measured.swap_remove(chosen).1, choice.build_seconds)
    } else {
        drop(measured);
        progress(&format!(
            "building all {rows} rows: M {}, ef_construction {}, quant {}",
            choice.m, choice.ef_construction, choice.quant
        ));
        ctx.build(base, choice.m, choice.ef_construction, &choice.quant)?
    };
    let quantised = choice.quant != "none";
    let fit = Workload {
        queries: &fit_q,
        truth: &fit_t,
    };
    let (ladder, chosen_step, batch) = ctx.ladder(&index, &fit, quantised)?;
    let step = &ladder[chosen_step];
    let ef = step.ef;
    let rerank = if quantised { ef } else { 0 };
    let holdout = Workload {
        queries: &hold_q,
        truth: &hold_t,
    };
    let holdout_recall = mean(&recalls(&index, &holdout, options.k, ef, rerank)?);
    let holdout_qps =
        median((0..options.timing_rounds).map(|_| qps(&index, &holdout, options.k, ef, rerank)))?;
    let report = TuneReport {
        m: choice.m,
        ef_construction: choice.ef_construction,
        ef,
        k: options.k,
        quant: choice.quant.clone(),
        rerank,
        metric: options.metric.to_string(),
        target_recall: options.target_recall,
        reached: step.interval.low >= options.target_recall,
        predicted_recall: step.recall,
        recall_interval: [step.interval.low, step.interval.high],
        confidence: options.confidence,
        holdout_recall,
        holdout_inside_interval: step.interval.contains(holdout_recall),
        holdout_qps,
        fit_queries: fit_rows.len(),
        holdout_queries: holdout_rows.len(),
        intrinsic_dimension,
        prior_m,
        rows,
        sample_rows: sample.len(),
        batch,
        build_seconds,
        ram_bytes: index.info().ram_bytes as u64,
        trials,
        ladder,
    };
    Ok(Tuned { index, report })
}

/// Checks caller-supplied ground truth: one row per query, ≥ k ids each, all below `rows`.
fn checked_truth(
    truth: Vec<Vec<u64>>,
    queries: usize,
    rows: usize,
    k: usize,
) -> Result<Vec<Vec<u64>>, TuneError> {
    if truth.len() != queries {
        return Err(TuneError::Invalid(format!(
            "{} rows of ground truth for {queries} learning queries",
            truth.len()
        )));
    }
    if let Some((i, r)) = truth.iter().enumerate().find(|(_, r)| r.len() < k) {
        return Err(TuneError::Invalid(format!(
            "ground truth row {i} has {} ids, fewer than k = {k}",
            r.len()
        )));
    }
    if let Some(id) = truth.iter().flat_map(|r| &r[..k]).find(|&&id| id >= rows as u64) {
        return Err(TuneError::Invalid(format!(
            "ground truth names row {id}, but the base has {rows} rows"
        )));
    }
    Ok(truth)
}

/// The exact k nearest rows (as keys = row numbers) of every query.
fn exact_keys<T: Component>(
    base: &[T],
    queries: &[T],
    dim: usize,
    k: usize,
    metric: Metric,
) -> Result<Vec<Vec<u64>>, TuneError> {
    let knn = exact_knn(base, queries, dim, k, metric, &|_| {})?;
    Ok(knn
        .into_iter()
        .map(|hits| hits.into_iter().map(|h| h.id as u64).collect())
        .collect())
}

/// A seeded permutation of `0..n`.
fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
    order
}

/// The learning queries split in halves by a seeded permutation: (fit, holdout), each sorted
/// — the positions [`tune`] chooses on and checks on.
pub fn split(queries: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let order = permutation(queries, seed);
    let (mut fit, mut holdout) = (order[..queries / 2].to_vec(), order[queries / 2..].to_vec());
    fit.sort_unstable();
    holdout.sort_unstable();
    (fit, holdout)
}

/// `want` base rows drawn without replacement (sorted), or all rows in order when there are
/// no more than that.
fn sample_rows(rows: usize, want: usize, seed: u64) -> Vec<usize> {
    if rows <= want {
        return (0..rows).collect();
    }
    let mut pick = permutation(rows, seed ^ 0x5a17_5a17)[..want].to_vec();
    pick.sort_unstable();
    pick
}

/// The queries at positions `at` and their truth (copies).
fn select<T: Copy>(queries: &[T], truth: &[Vec<u64>], dim: usize, at: &[usize]) -> (Vec<T>, Vec<Vec<u64>>) {
    let q = at
        .iter()
        .flat_map(|&i| &queries[i * dim..][..dim])
        .copied()
        .collect();
    (q, at.iter().map(|&i| truth[i].clone()).collect())
}

/// Rows of the intrinsic-dimension estimate: 500 points against up to 10,000, k = 20 — the
/// settings of the analysis crate's geometry report.
const LID_POINTS: usize = 500;
const LID_REFERENCE: usize = 10_000;
const LID_K: usize = 20;

/// Pooled Levina–Bickel MLE of the intrinsic dimension of `rows` (Euclidean geometry of the
/// rows as stored: normalised under cosine). NaN when no point has distinct neighbours.
fn intrinsic_dimension<T: Component>(rows: &[T], dim: usize, metric: Metric) -> Result<f64, TuneError> {
    let n = rows.len() / dim;
    let reference = &rows[..n.min(LID_REFERENCE) * dim];
    let data = euclidean_rows(reference, dim, metric);
    let points = n.min(LID_POINTS).min(reference.len() / dim);
    if points == 0 || reference.len() / dim <= LID_K {
        return Ok(f64::NAN);
    }
    let ids: Vec<usize> = (0..points).collect();
    let dists = neighbour_distances(&data, &data[..points * dim], Some(&ids), dim, LID_K)?;
    let local: Vec<f64> = dists.iter().filter_map(|t| mle_lid(t)).collect();
    Ok(if local.is_empty() {
        f64::NAN
    } else {
        pooled_mle(&local)
    })
}

/// Per-query recall@k at beam `ef` (re-ranking `rerank`), untimed, on the current rayon pool.
fn recalls<T: Component>(
    index: &Index<T>,
    w: &Workload<'_, T>,
    k: usize,
    ef: usize,
    rerank: usize,
) -> Result<Vec<f64>, CoreError> {
    let dim = index.dim();
    let params = SearchParams {
        rerank,
        ..SearchParams::new(k, ef.max(k))
    };
    for_each_query(None, w.truth.len(), SearchContext::new, |ctx, i| {
        let (hits, _) = index.search(&w.queries[i * dim..][..dim], &params, ctx)?;
        let truth = &w.truth[i][..k];
        let found = hits.iter().filter(|h| truth.contains(&h.key.0)).count();
        Ok(found as f64 / k as f64)
    })
}

/// Timed single-thread passes per timing round; the fastest counts (a pass over a thousand
/// queries takes tens of milliseconds, short enough for one interruption to spoil it).
const PASSES_PER_ROUND: usize = 3;

/// Queries per second of the fastest of [`PASSES_PER_ROUND`] timed single-thread passes at
/// beam `ef`.
fn qps<T: Component>(
    index: &Index<T>,
    w: &Workload<'_, T>,
    k: usize,
    ef: usize,
    rerank: usize,
) -> Result<f64, CoreError> {
    let template = SearchParams {
        rerank,
        ..SearchParams::new(k, ef)
    };
    let plan = SweepPlan {
        efs: &[ef],
        threads: 1,
        runs: PASSES_PER_ROUND,
    };
    Ok(sweep(index, w.queries, w.truth, &template, &plan, &|| {})?[0].qps)
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// The median of fallible measurements (the upper middle for an even count).
fn median(values: impl Iterator<Item = Result<f64, CoreError>>) -> Result<f64, CoreError> {
    let mut v = values.collect::<Result<Vec<f64>, CoreError>>()?;
    v.sort_by(f64::total_cmp);
    Ok(v[v.len() / 2])
}

/// What the sweep and the ladder share.
struct Sweep<'a> {
    dim: usize,
    rows: usize,
    options: &'a TuneOptions,
    progress: &'a dyn Fn(&str),
}

/// A candidate measured on the sample, with its index.
type Measured<T> = (Trial, Index<T>);

/// A candidate before measurement.
struct Candidate {
    m: usize,
    ef_construction: usize,
    quant: String,
}

impl Sweep<'_> {
    /// Builds `rows` (row-major) with the given parameters; returns the index and its seconds.
    fn build<T: Component>(
        &self,
        rows: Vec<T>,
        m: usize,
        ef_construction: usize,
        quant: &str,
    ) -> Result<(Index<T>, f64), TuneError> {
        let spec = CodecSpec::parse(quant, CodecOptions::default(), self.dim)
            .map_err(|e| TuneError::Invalid(format!("quantiser {quant}: {e}")))?;
        let params = BuildParams {
            metric: self.options.metric,
            m,
            ef_construction,
            seed: self.options.seed,
            threads: self.options.threads,
            quant: spec,
            ..BuildParams::default()
        };
        let start = Instant::now();
        let index = Index::build(rows, self.dim, &params, &|_| {})?;
        Ok((index, start.elapsed().as_secs_f64()))
    }

    /// The quantiser the candidates use: `none` when the flat index fits the RAM budget (or
    /// there is none), else the first of `options.quantisers` that fits, judged by building the
    /// prior M on the sample. Returns the builds made on the way as trials.
    fn pick_quantiser<T: Component>(
        &self,
        sample: &[T],
        w: &Workload<'_, T>,
        prior_m: usize,
    ) -> Result<(String, Vec<Measured<T>>), TuneError> {
        let efc = self.options.ef_constructions[self.options.ef_constructions.len() / 2];
        let mut names = vec!["none".to_string()];
        if let Some(budget) = self.options.max_ram_bytes {
            let single_byte = std::mem::size_of::<T>() == 1;
            names.extend(
                self.options
                    .quantisers
                    .iter()
                    .filter(|q| !(single_byte && q.as_str() == "sq8"))
                    .cloned(),
            );
            let mut tried = Vec::new();
            for name in names {
                if CodecSpec::parse(&name, CodecOptions::default(), self.dim).is_err() {
                    continue;
                }
                let c = Candidate {
                    m: prior_m,
                    ef_construction: efc,
                    quant: name.clone(),
                };
                let (trial, index) = self.measure(sample, w, &c)?;
                let fits = trial.predicted_ram_bytes <= budget;
                tried.push((trial, index));
                if fits {
                    return Ok((name, tried));
                }
            }
            let smallest = tried
                .iter()
                .map(|(t, _)| t.predicted_ram_bytes)
                .min()
                .unwrap_or(0);
            return Err(TuneError::Infeasible(format!(
                "no quantiser fits {budget} bytes of RAM: the smallest index needs about {smallest} bytes"
            )));
        }
        Ok((names.remove(0), Vec::new()))
    }

    /// Builds candidate `c` on the sample and finds its smallest ef reaching the target.
    fn measure<T: Component>(
        &self,
        sample: &[T],
        w: &Workload<'_, T>,
        c: &Candidate,
    ) -> Result<Measured<T>, TuneError> {
        let (index, seconds) = self.build(sample.to_vec(), c.m, c.ef_construction, &c.quant)?;
        let sample_rows = index.len();
        let ram_per_row = index.info().ram_bytes as f64 / sample_rows as f64;
        let quantised = c.quant != "none";
        // The same rule the final ef obeys (its lower confidence bound reaches the target), so
        // candidates are ranked at the margin they will be run with, not at a lucky point
        // estimate on a coarse ladder.
        let delta = 1.0 - self.options.confidence;
        let (mut sample_ef, mut sample_recall) = (None, 0.0);
        for &ef in self.ladder_efs() {
            let r = recalls(&index, w, self.options.k, ef, if quantised { ef } else { 0 })?;
            let (recall, interval) = mean_interval(&r, delta);
            sample_recall = recall;
            if interval.low >= self.options.target_recall {
                sample_ef = Some(ef);
                break;
            }
        }
        (self.progress)(&format!(
            "  M {:>2} ef_construction {:>3} quant {}: built in {seconds:.1} s; {}",
            c.m,
            c.ef_construction,
            c.quant,
            match sample_ef {
                Some(ef) => format!("recall {sample_recall:.4} at ef {ef}"),
                None => format!("recall {sample_recall:.4} at the largest ef"),
            }
        ));
        let trial = Trial {
            m: c.m,
            ef_construction: c.ef_construction,
            quant: c.quant.clone(),
            build_seconds: seconds,
            predicted_build_seconds: prior::predicted_build_seconds(seconds, sample_rows, self.rows),
            predicted_ram_bytes: (ram_per_row * self.rows as f64).round() as u64,
            sample_ef,
            sample_recall,
            qps: None,
            verdict: String::new(),
        };
        Ok((trial, index))
    }

    /// The ladder's beam widths of at least k.
    fn ladder_efs(&self) -> &[usize] {
        let first = self.options.efs.iter().position(|&ef| ef >= self.options.k);
        &self.options.efs[first.unwrap_or(self.options.efs.len() - 1)..]
    }

    /// Builds and measures every candidate on the sample, times the eligible ones in
    /// interleaved rounds, and marks the fastest `chosen`. Candidates start at the prior M and
    /// its ladder neighbours; while the fastest sits at the largest (or smallest) M measured,
    /// the next ladder M in that direction is added and every eligible candidate timed again,
    /// so the prior only decides where the search starts.
    fn sweep_sample<T: Component>(
        &self,
        sample: &[T],
        w: &Workload<'_, T>,
        prior_m: usize,
    ) -> Result<Vec<Measured<T>>, TuneError> {
        let (quant, mut measured) = self.pick_quantiser(sample, w, prior_m)?;
        let mut ms = prior::m_candidates(prior_m);
        let best = loop {
            for &m in &ms {
                for &efc in &self.options.ef_constructions {
                    let done = measured
                        .iter()
                        .any(|(t, _)| t.m == m && t.ef_construction == efc && t.quant == quant);
                    if !done {
                        let c = Candidate {
                            m,
                            ef_construction: efc,
                            quant: quant.clone(),
                        };
                        measured.push(self.measure(sample, w, &c)?);
                    }
                }
            }
            let best = self.time_eligible(&mut measured, &quant, w)?;
            match prior::extend(&ms, measured[best].0.m) {
                Some(m) => ms.push(m),
                None => break best,
            }
        };
        for (i, (t, _)) in measured.iter_mut().enumerate() {
            if t.verdict.is_empty() {
                t.verdict = if i == best { "chosen" } else { "slower" }.into();
            }
        }
        Ok(measured)
    }

    /// Marks why each measured trial is not eligible (eligible ones keep an empty verdict),
    /// times the eligible ones in interleaved rounds on one thread (median QPS), and returns the
    /// fastest one's position.
    fn time_eligible<T: Component>(
        &self,
        measured: &mut [Measured<T>],
        quant: &str,
        w: &Workload<'_, T>,
    ) -> Result<usize, TuneError> {
        for (t, _) in measured.iter_mut() {
            t.verdict = self.eligibility(t, quant);
        }
        let eligible: Vec<usize> = (0..measured.len())
            .filter(|&i| measured[i].0.verdict.is_empty())
            .collect();
        if eligible.is_empty() {
            let why: Vec<String> = measured
                .iter()
                .map(|(t, _)| format!("M {} ef_construction {}: {}", t.m, t.ef_construction, t.verdict))
                .collect();
            return Err(TuneError::Infeasible(format!(
                "no candidate meets the constraints ({})",
                why.join("; ")
            )));
        }
        (self.progress)(&format!(
            "timing {} candidates, {} interleaved rounds, one thread",
            eligible.len(),
            self.options.timing_rounds
        ));
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); measured.len()];
        for _ in 0..self.options.timing_rounds {
            for &i in &eligible {
                let (t, index) = &measured[i];
                let ef = t.sample_ef.expect("eligible trials reach the target");
                let rerank = if t.quant == "none" { 0 } else { ef };
                times[i].push(qps(index, w, self.options.k, ef, rerank)?);
            }
        }
        for &i in &eligible {
            measured[i].0.qps = Some(median(times[i].iter().map(|&x| Ok(x)))?);
        }
        let qps_of = |i: usize| measured[i].0.qps.unwrap_or(0.0);
        Ok(*eligible
            .iter()
            .max_by(|&&a, &&b| qps_of(a).total_cmp(&qps_of(b)))
            .expect("non-empty"))
    }

    /// Why a measured trial cannot be chosen, or "" when it can.
    fn eligibility(&self, t: &Trial, quant: &str) -> String {
        if t.quant != quant {
            return format!("{} exceeds the RAM budget", t.quant);
        }
        if t.sample_ef.is_none() {
            return "misses the target at the largest ef".into();
        }
        if self
            .options
            .max_build_seconds
            .is_some_and(|s| t.predicted_build_seconds > s)
        {
            return format!(
                "predicted build {:.0} s exceeds the budget",
                t.predicted_build_seconds
            );
        }
        if self
            .options
            .max_ram_bytes
            .is_some_and(|b| t.predicted_ram_bytes > b)
        {
            return "exceeds the RAM budget".into();
        }
        String::new()
    }

    /// The fit queries' recall along the ladder of the full index, and the chosen step.
    ///
    /// The choice is a fixed-sequence test (Bauer 1991; the Learn-then-Test procedure of
    /// Angelopoulos, Bates, Candès, Jordan & Lei, 2021): starting from the largest ef, each
    /// ef is certified while its interval's lower end reaches the target, and the walk down
    /// stops at the first ef that is not. Testing in a fixed order and stopping at the first
    /// failure keeps the chance that *any* certified ef misses the target within the interval's
    /// error, with no correction for the ladder's length. The chosen ef is the smallest
    /// certified one; when even the largest is not, the largest is taken and reported as not
    /// reached. Returns the steps measured in ascending ef, the chosen one's position and the
    /// batch choice (the smallest measured ef whose certified failure rate is within the union
    /// bound's allowance).
    fn ladder<T: Component>(
        &self,
        index: &Index<T>,
        w: &Workload<'_, T>,
        quantised: bool,
    ) -> Result<(Vec<LadderStep>, usize, BatchChoice), TuneError> {
        let o = self.options;
        let delta = 1.0 - o.confidence;
        let n = w.truth.len();
        let allowed = (1.0 - o.batch_success) / o.batch as f64;
        let mut steps = Vec::new();
        for &ef in self.ladder_efs().iter().rev() {
            let r = recalls(index, w, o.k, ef, if quantised { ef } else { 0 })?;
            let (recall, interval) = mean_interval(&r, delta);
            let failures = r.iter().filter(|&&x| x < o.target_recall - 1e-12).count();
            steps.push(LadderStep {
                ef,
                recall,
                interval,
                failure_rate: failures as f64 / n as f64,
                failure_upper: failure_upper_bound(failures, n, o.confidence),
            });
            if interval.low < o.target_recall {
                break;
            }
        }
        steps.reverse();
        let certified = |s: &LadderStep| s.interval.low >= o.target_recall;
        // Ascending: the first step is the one that failed (unless every ef was certified).
        let chosen = steps.iter().position(certified).unwrap_or(steps.len() - 1);
        let s = &steps[chosen];
        (self.progress)(&format!(
            "ef {}: recall {:.4} on {n} fit queries, [{:.4}, {:.4}] at {:.0} % confidence",
            s.ef,
            s.recall,
            s.interval.low,
            s.interval.high,
            100.0 * o.confidence
        ));
        let uppers: Vec<(usize, f64)> = steps.iter().map(|s| (s.ef, s.failure_upper)).collect();
        let batch = BatchChoice {
            size: o.batch,
            success: o.batch_success,
            per_query_failure_allowed: allowed,
            ef: union_bound_ef(&uppers, allowed),
            resolution: failure_upper_bound(0, n, o.confidence),
        };
        Ok((steps, chosen, batch))
    }
}
