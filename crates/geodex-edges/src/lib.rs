//! Learned edge selection (issue 18; THEORY §4, §5.1): does a scorer trained on search paths
//! choose better links than the heuristic of Malkov & Yashunin (2018, Alg. 4) at the same degree?
//!
//! - [`model`]: the scorers (logistic, one-hidden-layer MLP, message passing over the candidate
//!   list in fixed depth, `gnn.rs`, and in continuous depth, [`ode`]) over the features of a
//!   candidate edge that `geodex_core::edges` computes at build time, with hand-written
//!   gradients; [`flow_cost`] measures the ode's solvers;
//! - [`labels`]: the training signal — candidate edges labelled by whether training queries'
//!   paths on a union graph (heuristic links ∪ all candidates) use them;
//! - [`train`]: roll-outs of the rule as the build runs it, DAgger roll-in, class-balanced
//!   cross-entropy with a degree penalty, Adam or SGD with momentum, and the threshold that
//!   equalises the degree with the heuristic's;
//! - [`step`]: the relaxed set objective — binary-concrete keep decisions, a straight-through
//!   top-k at the degree budget, and how near the greedy step brings each demand;
//! - [`reinforce`]: REINFORCE on the training queries' recall at fixed ef, the objective itself
//!   rather than the surrogate.
//!
//! [`learn_edges`] runs the pipeline; the model it returns becomes a build's edge rule with
//! [`EdgeModel::into_rule`] (`geodex build --edges learned:MODEL`). The resulting index file is
//! an ordinary one: same format, same search loop.

#![deny(missing_docs)]

pub mod anneal;
mod draw;
pub mod flow_cost;
mod gnn;
pub mod labels;
pub mod landscape;
mod list;
pub mod model;
pub mod ode;
pub mod reinforce;
pub mod relax;
pub mod spectral;
pub mod step;
pub mod train;
pub mod walk;

use std::time::Instant;

use geodex_core::edges::FEATURE_NAMES;
use geodex_core::{BuildParams, Component, CoreError, Index, Metric, NodeId};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;

pub use labels::Example;
pub use model::{EdgeModel, ModelKind};
pub use train::{EpochStats, Labels, Optimizer, RuleStats, TrainOptions};

/// Why learning failed.
#[derive(Debug, thiserror::Error)]
pub enum EdgesError {
    /// A build or a search failed.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The options, the queries, the ground truth or a model file cannot be used.
    #[error("{0}")]
    Invalid(String),
}

/// Options of [`learn_edges`].
#[derive(Clone, Debug)]
pub struct LearnEdgesOptions {
    /// The dissimilarity (not inner product: the features need a distance).
    pub metric: Metric,
    /// M of the heuristic index the labels come from; the level-0 budget is 2·M.
    pub m: usize,
    /// ef_construction of that index.
    pub ef_construction: usize,
    /// Candidates per node (labelled and offered to the walk).
    pub width: usize,
    /// Beam width of the labelling walks: narrow, so the paths are the routing paths.
    pub walk_ef: usize,
    /// True neighbours per query whose paths count.
    pub k: usize,
    /// Share of the labelled nodes held out for validation.
    pub validation_share: f64,
    /// At most this many labelled nodes are used (a seeded sample).
    pub max_examples: usize,
    /// Threads (default: all cores).
    pub threads: Option<usize>,
    /// Rows of the sample the threshold is calibrated on by building (module docs of
    /// [`calibrate_on_builds`]).
    pub calibration_rows: usize,
    /// The training settings (its `budget` is set to 2·M).
    pub train: TrainOptions,
    /// Also study the loss landscape at the trained scorer (`landscape.rs`, §4.1–4.2, §8.1).
    pub landscape: Option<landscape::LandscapeOptions>,
    /// The spectral regulariser −μ·λ₂ (`spectral.rs`, §5.1); `None`: off; μ = 0: λ₂ is
    /// tracked per epoch but does not move the scorer (the control).
    pub spectral: Option<spectral::SpectralOptions>,
    /// REINFORCE on recall at fixed ef after the surrogate training (`reinforce.rs`, item 3);
    /// `None` or 0 iterations: off.
    pub reinforce: Option<reinforce::ReinforceOptions>,
}

impl Default for LearnEdgesOptions {
    fn default() -> Self {
        LearnEdgesOptions {
            metric: Metric::L2,
            m: 16,
            ef_construction: 200,
            width: 64,
            walk_ef: 16,
            k: 10,
            validation_share: 0.2,
            max_examples: 20_000,
            threads: None,
            calibration_rows: 20_000,
            train: TrainOptions::default(),
            landscape: None,
            spectral: None,
            reinforce: None,
        }
    }
}

/// What learning measured.
#[derive(Clone, Debug, Serialize)]
pub struct EdgesReport {
    /// Labelled nodes used for training and for validation.
    pub train_nodes: usize,
    /// Held-out labelled nodes.
    pub validation_nodes: usize,
    /// Mean positive (path) edges per labelled node.
    pub positives_per_node: f64,
    /// Loss per epoch.
    pub history: Vec<EpochStats>,
    /// The heuristic on the validation nodes.
    pub heuristic: RuleStats,
    /// The learned rule (at its calibrated threshold) on the validation nodes.
    pub learned: RuleStats,
    /// Share of decisions on the validation nodes where the learned rule, rolled out on its
    /// own, agrees with the heuristic's test on the same features.
    pub agreement_with_heuristic: f64,
    /// Level-0 mean degree of the heuristic graph on the calibration sample.
    pub sample_degree_heuristic: f64,
    /// Level-0 mean degree of the learned rule's graph on the sample at the final threshold.
    pub sample_degree_learned: f64,
    /// Bias and variance of the binary-concrete relaxation (§4.3) of the trained rule's own
    /// decisions (logits minus the threshold, on the validation nodes) at τ = 1, 0.5 (the text's
    /// floor), 0.25, 0.1 and 0.05.
    pub relaxation: Vec<relax::RelaxationRow>,
    /// θ by feature name (logistic models; empty for the MLP).
    pub weights: Vec<(String, f64)>,
    /// Seconds building the heuristic index, finding candidates and labelling.
    pub label_seconds: f64,
    /// Seconds training and calibrating.
    pub train_seconds: f64,
    /// The landscape study, when asked for.
    pub landscape: Option<landscape::LandscapeReport>,
    /// What the ode's solves cost on the validation nodes (ode models only).
    pub flow_cost: Option<flow_cost::FlowCost>,
    /// The REINFORCE run, when asked for.
    pub reinforce: Option<reinforce::ReinforceReport>,
}

/// Lists [`flow_cost::measure`] times (one thread).
const FLOW_COST_LISTS: usize = 400;

/// A trained model and its report.
#[derive(Clone, Debug)]
pub struct LearnedEdges {
    /// The scorer, its threshold calibrated.
    pub model: EdgeModel,
    /// What was measured.
    pub report: EdgesReport,
}

/// Learns an edge scorer for `base` (rows of `dim`) from training `queries` and their true
/// neighbours `truth` (row numbers of `base`, best first, at least `opts.k` per query).
pub fn learn_edges<T: Component>(
    base: Vec<T>,
    dim: usize,
    queries: &[T],
    truth: &[Vec<u64>],
    opts: &LearnEdgesOptions,
) -> Result<LearnedEdges, EdgesError> {
    check(base.len(), dim, queries.len(), truth, opts)?;
    let pool = geodex_core::measure::thread_pool(opts.threads)?;
    pool.install(|| learn_in_pool(base, dim, queries, truth, opts))
}

fn check(
    base: usize,
    dim: usize,
    queries: usize,
    truth: &[Vec<u64>],
    opts: &LearnEdgesOptions,
) -> Result<(), EdgesError> {
    let rows = geodex_core::rows_of(dim, base)?;
    let nq = geodex_core::rows_of(dim, queries)?;
    if truth.len() != nq {
        return Err(EdgesError::Invalid(format!(
            "{nq} queries but {} ground-truth rows",
            truth.len()
        )));
    }
    if let Some(q) = truth.iter().position(|t| t.len() < opts.k) {
        return Err(EdgesError::Invalid(format!(
            "ground-truth row {q} has fewer than k = {} ids",
            opts.k
        )));
    }
    if let Some(id) = truth.iter().flatten().find(|&&id| id >= rows as u64) {
        return Err(EdgesError::Invalid(format!(
            "ground truth names row {id}, the base has {rows}"
        )));
    }
    if opts.width < 2 || opts.walk_ef == 0 || opts.k == 0 {
        return Err(EdgesError::Invalid("width must be ≥ 2 and walk_ef, k ≥ 1".into()));
    }
    if !(0.0..1.0).contains(&opts.validation_share) {
        return Err(EdgesError::Invalid("validation_share must be in [0, 1)".into()));
    }
    if opts.train.epochs == 0
        || opts.train.batch == 0
        || opts.train.learning_rate.is_nan()
        || opts.train.learning_rate <= 0.0
    {
        return Err(EdgesError::Invalid(
            "epochs, batch and learning rate must be positive".into(),
        ));
    }
    if opts.metric == Metric::InnerProduct {
        return Err(EdgesError::Invalid(
            "learned edges need a distance; inner product has none".into(),
        ));
    }
    if opts.train.kind == ModelKind::Gnn {
        let t = &opts.train;
        if !(1..=model::MAX_HIDDEN).contains(&t.hidden) || !(1..=model::MAX_LAYERS).contains(&t.layers) {
            return Err(EdgesError::Invalid(format!(
                "a gnn needs 1–{} hidden units and 1–{} layers (got {} and {})",
                model::MAX_HIDDEN,
                model::MAX_LAYERS,
                t.hidden,
                t.layers
            )));
        }
    }
    if opts.train.kind == ModelKind::Ode {
        if !(1..=model::MAX_HIDDEN).contains(&opts.train.hidden) {
            return Err(EdgesError::Invalid(format!(
                "an ode needs 1–{} hidden units (got {})",
                model::MAX_HIDDEN,
                opts.train.hidden
            )));
        }
        opts.train.ode.validate().map_err(EdgesError::Invalid)?;
    }
    if let Some(r) = &opts.reinforce {
        let steps_ok = r.learning_rate > 0.0 && r.learning_rate.is_finite();
        if r.k == 0 || r.ef < r.k || r.queries_per_iteration == 0 || !steps_ok {
            return Err(EdgesError::Invalid(format!(
                "REINFORCE needs ef ≥ k ≥ 1, at least one query per step and a positive finite learning rate (got ef {}, k {}, {} queries, rate {})",
                r.ef, r.k, r.queries_per_iteration, r.learning_rate
            )));
        }
    }
    if matches!(opts.train.kind, ModelKind::Gnn | ModelKind::Ode) && opts.landscape.is_some() {
        return Err(EdgesError::Invalid(format!(
            "the landscape study freezes candidates one by one; it supports logistic and mlp, not {}",
            if opts.train.kind == ModelKind::Gnn {
                "gnn"
            } else {
                "ode"
            }
        )));
    }
    Ok(())
}

fn learn_in_pool<T: Component>(
    base: Vec<T>,
    dim: usize,
    queries: &[T],
    truth: &[Vec<u64>],
    opts: &LearnEdgesOptions,
) -> Result<LearnedEdges, EdgesError> {
    let started = Instant::now();
    let params = BuildParams {
        metric: opts.metric,
        m: opts.m,
        ef_construction: opts.ef_construction,
        seed: opts.train.seed,
        threads: opts.threads,
        ..Default::default()
    };
    let index = Index::build(base, dim, &params, &|_| {})?;
    let sample = sample_rows(&index, opts.calibration_rows, opts.train.seed);
    let lists = labels::candidate_lists(&index, opts.width, opts.ef_construction)?;
    let mut prepared = queries.to_vec();
    geodex_core::check_and_prepare(opts.metric, dim, &mut prepared)?;
    let mut examples = labels::path_labels(&index, &lists, &prepared, truth, opts.k, opts.walk_ef);
    if examples.len() < 2 {
        return Err(EdgesError::Invalid(format!(
            "the training queries' paths labelled {} nodes; need at least 2 (more queries?)",
            examples.len()
        )));
    }
    sample_in_place(&mut examples, opts.max_examples, opts.train.seed);
    let held = ((examples.len() as f64 * opts.validation_share).round() as usize).min(examples.len() - 1);
    let validation = examples.split_off(examples.len() - held);
    let train_set = examples;
    let label_seconds = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let metric = opts.metric;
    let pair = |ex: &Example, i: usize, j: usize| {
        labels::squared_like(
            metric,
            index.vector(NodeId(ex.candidates[i])),
            index.vector(NodeId(ex.candidates[j])),
        )
    };
    let train_opts = TrainOptions {
        budget: 2 * opts.m,
        ..opts.train.clone()
    };
    let budget = train_opts.budget;
    let background = fixed_arcs(&index, &train_set);
    let term = opts.spectral.map(|options| spectral::SpectralTerm {
        options,
        nodes: index.len(),
        background: &background,
    });
    let (mut model, history) = train::train(&train_set, &validation, &pair, &train_opts, term.as_ref());
    let landscape = opts.landscape.as_ref().map(|o| {
        let curve: Vec<f64> = history.iter().map(|h| h.train_loss).collect();
        landscape::study(&train_set, &pair, &train_opts, &model, &curve, o)
    });
    let reinforced = opts.reinforce.as_ref().filter(|r| r.iterations > 0).map(|r| {
        let ids: Vec<Vec<u64>> = truth
            .iter()
            .map(|t| t.iter().take(opts.k).copied().collect())
            .collect();
        reinforce::reinforce(
            &index,
            &train_set,
            &pair,
            budget,
            &mut model,
            &prepared,
            &ids,
            &train_opts,
            r,
        )
    });
    let target = train::heuristic_stats(&train_set, &pair, budget).mean_kept;
    train::calibrate_threshold(&mut model, &train_set, &pair, budget, target);
    let (sample_degree_heuristic, sample_degree_learned) =
        calibrate_on_builds(&mut model, &sample, dim, &params)?;
    let threshold = model.threshold;
    let evaluate = if validation.is_empty() {
        &train_set
    } else {
        &validation
    };
    let learned = train::rule_stats(evaluate, &pair, budget, train::Rule::Model(&model, threshold));
    let report = EdgesReport {
        train_nodes: train_set.len(),
        validation_nodes: validation.len(),
        positives_per_node: mean_positives(&train_set),
        history,
        heuristic: train::heuristic_stats(evaluate, &pair, budget),
        learned,
        agreement_with_heuristic: train::agreement(evaluate, &pair, budget, &model),
        sample_degree_heuristic,
        sample_degree_learned,
        relaxation: relax::profile(
            &train::judged_logits(evaluate, &pair, budget, &model),
            &RELAXATION_TAUS,
            64,
            opts.train.seed,
        ),
        weights: match model.kind {
            ModelKind::Logistic => FEATURE_NAMES
                .iter()
                .map(|s| s.to_string())
                .zip(model.params.iter().copied())
                .collect(),
            ModelKind::Mlp | ModelKind::Gnn | ModelKind::Ode => Vec::new(),
        },
        label_seconds,
        train_seconds: started.elapsed().as_secs_f64(),
        landscape,
        flow_cost: flow_cost::measure(
            evaluate,
            &pair,
            budget,
            &model,
            opts.train.labels,
            FLOW_COST_LISTS,
        ),
        reinforce: reinforced,
    };
    Ok(LearnedEdges { model, report })
}

/// Anneals a built index's level 0 in place (`geodex build --edges anneal`): candidate lists
/// of `width` from searches at `ef_construction`, then [`anneal::anneal`] on the training
/// `queries` (raw rows; prepared here) with their true neighbours `truth` (row numbers).
pub fn anneal_index<T: Component>(
    index: &mut Index<T>,
    queries: &[T],
    truth: &[Vec<u64>],
    width: usize,
    ef_construction: usize,
    opts: &anneal::AnnealOptions,
) -> Result<anneal::AnnealReport, EdgesError> {
    let dim = index.dim();
    let nq = geodex_core::rows_of(dim, queries.len())?;
    if truth.len() != nq || truth.iter().any(|t| t.len() < opts.k) {
        return Err(EdgesError::Invalid(format!(
            "{nq} training queries need as many ground-truth rows of at least k = {} ids",
            opts.k
        )));
    }
    if let Some(id) = truth.iter().flatten().find(|&&id| id >= index.len() as u64) {
        return Err(EdgesError::Invalid(format!(
            "ground truth names row {id}, the index has {}",
            index.len()
        )));
    }
    if opts.steps == 0 || opts.ef == 0 || width < 2 || !(opts.t0 >= 0.0 && opts.t0.is_finite()) {
        return Err(EdgesError::Invalid(
            "anneal: steps, ef must be ≥ 1, width ≥ 2, t0 ≥ 0".into(),
        ));
    }
    let mut prepared = queries.to_vec();
    geodex_core::check_and_prepare(index.metric(), dim, &mut prepared)?;
    let lists = labels::candidate_lists(index, width, ef_construction)?;
    let (level0, report) = anneal::anneal(index, &lists, &prepared, truth, opts);
    index.replace_level0(&level0)?;
    Ok(report)
}

/// The level-0 links of every node of `index` that is not a training node (the part of the
/// spectral regulariser's graph that does not learn).
fn fixed_arcs<T: Component>(index: &Index<T>, train: &[Example]) -> Vec<(u32, u32)> {
    use geodex_core::GraphView;
    let mut learning = vec![false; index.len()];
    train.iter().for_each(|ex| learning[ex.node as usize] = true);
    let g = index.graph();
    (0..index.len() as u32)
        .filter(|&u| !learning[u as usize])
        .flat_map(|u| g.links(u, 0).iter().map(move |&v| (u, v)).collect::<Vec<_>>())
        .collect()
}

/// A seeded sample of at most `rows` of the index's (prepared) vectors, in row order.
fn sample_rows<T: Component>(index: &Index<T>, rows: usize, seed: u64) -> Vec<T> {
    let n = index.len();
    let mut ids: Vec<u32> = (0..n as u32).collect();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0xca11b);
    draw::sample_prefix(&mut ids, rows.clamp(2, n.max(2)), &mut rng);
    ids.sort_unstable();
    ids.iter()
        .flat_map(|&v| index.vector(NodeId(v)).iter().copied())
        .collect()
}

/// Temperatures the relaxation is profiled at.
const RELAXATION_TAUS: [f64; 5] = [1.0, 0.5, 0.25, 0.1, 0.05];

/// Bisection steps of [`calibrate_on_builds`] (each builds the sample once).
const CALIBRATION_STEPS: usize = 8;
/// Doublings of the step that brackets the degree target (up to ±2⁸ around the start).
const BRACKET_STEPS: usize = 9;

/// Moves `model.threshold` until the graph the rule builds on `sample` has the level-0 mean
/// degree of the heuristic's graph on the same rows: the threshold set on the training lists
/// (width `width`) does not carry over exactly to the build, whose lists come from beams of
/// ef_construction and are shrunk when reverse links overflow them. From the list-calibrated
/// threshold, steps doubling from 0.5 bracket the target, then [`CALIBRATION_STEPS`] bisections;
/// the threshold whose degree came closest is kept. Returns the heuristic's and the rule's
/// degrees.
pub fn calibrate_on_builds<T: Component>(
    model: &mut EdgeModel,
    sample: &[T],
    dim: usize,
    params: &BuildParams,
) -> Result<(f64, f64), EdgesError> {
    let degree = |edges: geodex_core::EdgeRule| -> Result<f64, EdgesError> {
        let p = BuildParams {
            edges,
            ..params.clone()
        };
        let index = Index::build(sample.to_vec(), dim, &p, &|_| {})?;
        Ok(mean_degree0(&index))
    };
    let target = degree(geodex_core::EdgeRule::Heuristic)?;
    let at = |threshold: f64| {
        degree(
            EdgeModel {
                threshold,
                ..model.clone()
            }
            .into_rule(),
        )
    };
    let t0 = model.threshold;
    let d0 = at(t0)?;
    let mut best = ((d0 - target).abs(), t0, d0);
    // Bracket: step away from t0 in the direction that moves the degree toward the target,
    // doubling the step, until the degree crosses it (the degree falls as the threshold rises).
    let direction = if d0 > target { 1.0 } else { -1.0 };
    let (mut near, mut step) = (t0, 0.5);
    let mut far = t0;
    for _ in 0..BRACKET_STEPS {
        far = near + direction * step;
        let d = at(far)?;
        if (d - target).abs() < best.0 {
            best = ((d - target).abs(), far, d);
        }
        if (d > target) != (d0 > target) {
            break;
        }
        near = far;
        step *= 2.0;
    }
    let (mut low, mut high) = if direction > 0.0 { (near, far) } else { (far, near) };
    for _ in 0..CALIBRATION_STEPS {
        let mid = 0.5 * (low + high);
        let d = at(mid)?;
        if (d - target).abs() < best.0 {
            best = ((d - target).abs(), mid, d);
        }
        if d > target {
            low = mid;
        } else {
            high = mid;
        }
    }
    model.threshold = best.1;
    Ok((target, best.2))
}

/// Mean number of level-0 links per node of `index`.
pub fn mean_degree0<T: Component>(index: &Index<T>) -> f64 {
    use geodex_core::GraphView;
    let g = index.graph();
    let n = g.node_count();
    (0..n as u32).map(|v| g.links(v, 0).len()).sum::<usize>() as f64 / n.max(1) as f64
}

fn mean_positives(examples: &[Example]) -> f64 {
    let total: usize = examples
        .iter()
        .map(|ex| ex.positive.iter().filter(|&&p| p).count())
        .sum();
    total as f64 / examples.len().max(1) as f64
}

/// Keeps a seeded sample of at most `max` examples, in a seeded order.
fn sample_in_place(examples: &mut Vec<Example>, max: usize, seed: u64) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0xe6_9e5);
    draw::shuffle(examples, &mut rng);
    examples.truncate(max.max(2));
}
