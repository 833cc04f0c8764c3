//! REINFORCE on recall at a fixed beam width (issue 18 item 3: "a REINFORCE run on recall at
//! fixed ef shows whether the surrogate is the bottleneck"; Williams, Machine Learning 1992).
//!
//! The surrogate (`labels.rs`) rewards single edges; recall is a property of the whole graph.
//! This module optimises recall itself, starting from the surrogate-trained scorer:
//!
//! - **policy**: the scorer's roll-out over each training node's candidate list, exactly as the
//!   build runs it (features against the links kept so far), with each decision a Bernoulli draw
//!   of probability σ(s − τ_π); ln π(list) = Σ_i a_i·ln σ(s_i − τ) + (1 − a_i)·ln(1 − σ(s_i − τ)),
//!   so ∂ln π/∂s_i = a_i − σ(s_i − τ_π). Lists are rolled out at the level-0 bound 2·M.
//! - **graph**: the index's level 0 with every training node's list replaced by its draw.
//! - **reward**: recall@k of a training query walked at beam width ef on that graph (training
//!   queries only; the test queries are never seen).
//! - **estimator**: ∇E[R_q] = E[(R_q − b_q)·Σ_{u expanded by q} ∇ln π_u]. Crediting only the
//!   nodes q's walk expanded loses nothing in expectation: for fixed draws elsewhere, a node q
//!   does not expand is not read, so R_q does not depend on its draw and its term has mean 0
//!   (E[∇ln π_u] = 0); dropping it only removes variance. b_q is an exponential moving average
//!   of q's own past rewards (independent of the current draws, so unbiased).
//! - **degree**: recall at fixed ef rises with the degree, so the degree is held, not learned:
//!   τ_π is the shift at which the drawn lists keep as many links on average as the heuristic
//!   keeps on the same lists (bisection on draws with common random numbers), recalibrated
//!   every few steps, and each step's recall gradient is projected off the gradient of the
//!   expected mean count (its score-function estimate over all training lists, the heuristic's
//!   count as baseline), so to first order a step moves no links in or out on average: the
//!   gradient shapes only which links a list keeps. The deterministic rule
//!   is measured before and after at its own threshold τ (keep iff s ≥ τ) with the same count. (A Lagrangian degree penalty with dual ascent on its weight
//!   was tried first: it oscillated, the degree collapsing to half the heuristic's within 20
//!   steps.) The threshold is calibrated again on builds afterwards, like every scorer's.
//!
//! Updates go through the training optimiser (`train.rs`, Adam by default).

use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::Serialize;

use geodex_core::{Component, GraphView, Index};

use crate::labels::Example;
use crate::model::{unit, EdgeModel, ListPass};
use crate::train::{
    calibrate_threshold, heuristic_keeps, model_rollout, project_off, rollout, sigmoid, OptimizerState,
    PairDistance, TrainOptions,
};
use crate::walk::beam;

/// REINFORCE settings.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReinforceOptions {
    /// Policy-gradient steps.
    pub iterations: usize,
    /// Beam width of the rewarded walks.
    pub ef: usize,
    /// True neighbours per query that count.
    pub k: usize,
    /// Training queries walked per step (a seeded sample).
    pub queries_per_iteration: usize,
    /// Step size of the optimiser.
    pub learning_rate: f64,
    /// Steps between two calibrations of τ.
    pub recalibrate_every: usize,
    /// Seeds the draws and the query samples.
    pub seed: u64,
}

impl Default for ReinforceOptions {
    fn default() -> Self {
        ReinforceOptions {
            iterations: 0,
            ef: 32,
            k: 10,
            queries_per_iteration: 256,
            learning_rate: 3e-3,
            recalibrate_every: 25,
            seed: 42,
        }
    }
}

/// A rule's graph measured on every training query at the objective's ef.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct WalkStats {
    /// recall@k.
    pub recall: f64,
    /// Mean distance evaluations per query.
    pub distances: f64,
    /// Mean links per training node's list.
    pub mean_kept: f64,
}

/// One policy-gradient step.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ReinforceStep {
    /// The step, from 0.
    pub iteration: usize,
    /// Mean reward (recall@k) of the step's queries on the drawn graph.
    pub recall: f64,
    /// Mean links per drawn list.
    pub mean_kept: f64,
    /// τ_π of the step.
    pub policy_shift: f64,
}

/// What the run measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReinforceReport {
    /// Training nodes whose lists the policy draws, and training queries.
    pub nodes: usize,
    /// Training queries.
    pub queries: usize,
    /// The heuristic's lists (at 2·M) in place of the training nodes'.
    pub heuristic: WalkStats,
    /// The scorer's deterministic rule (keep when s ≥ τ, the heuristic's count) before the run.
    pub before: WalkStats,
    /// The same rule after the run.
    pub after: WalkStats,
    /// Every step (at most [`HISTORY_POINTS`], evenly spaced, and the last).
    pub history: Vec<ReinforceStep>,
}

/// Steps kept in [`ReinforceReport::history`].
pub const HISTORY_POINTS: usize = 50;

/// The level 0 a walk reads: the index's lists, with the training nodes' replaced.
struct Overlay<'i, T: Component> {
    index: &'i Index<T>,
    /// For each node, the training node it is (its position in `lists`), if any.
    slot: Vec<Option<u32>>,
    lists: Vec<Vec<u32>>,
}

impl<T: Component> Overlay<'_, T> {
    /// recall@k, distance evaluations and expanded nodes of query `q` at beam width `ef`.
    fn walk(&self, q: &[T], truth: &[u64], ef: usize, k: usize) -> (f64, usize, Vec<u32>) {
        let g = self.index.graph();
        let w = beam(self.index, q, ef, |b, visit| match self.slot[b as usize] {
            Some(e) => self.lists[e as usize].iter().for_each(|&x| visit(x)),
            None => g.links(b, 0).iter().for_each(|&x| visit(x)),
        });
        let found: Vec<u64> = w.best.iter().take(k).map(|&(_, id)| u64::from(id)).collect();
        let hits = truth.iter().take(k).filter(|t| found.contains(t)).count();
        (hits as f64 / k.max(1) as f64, w.distances, w.expanded)
    }

    /// Every query's walk, summarised.
    fn measure(&self, queries: &[T], truth: &[Vec<u64>], opts: &ReinforceOptions) -> WalkStats {
        let dim = self.index.dim();
        let (recall, distances) = (0..truth.len())
            .into_par_iter()
            .map(|q| {
                let (r, d, _) = self.walk(&queries[q * dim..][..dim], &truth[q], opts.ef, opts.k);
                (r, d)
            })
            .reduce(|| (0.0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        let n = truth.len().max(1) as f64;
        WalkStats {
            recall: recall / n,
            distances: distances as f64 / n,
            mean_kept: self.lists.iter().map(Vec::len).sum::<usize>() as f64 / self.lists.len().max(1) as f64,
        }
    }
}

/// One training node's drawn list: the kept candidates' ids, each judged decision and its
/// probability.
struct Draw<'m> {
    kept: Vec<u32>,
    actions: Vec<bool>,
    probabilities: Vec<f64>,
    /// The roll-out, kept for the backward pass.
    pass: ListPass<'m>,
}

/// Runs REINFORCE on `model` (updated in place) over the training nodes `examples` of `index`,
/// rewarded on the training `queries` (prepared rows) with their true neighbours `truth` (node
/// ids, best first); lists are rolled out at `bound` = 2·M.
#[allow(clippy::too_many_arguments)]
pub fn reinforce<T: Component>(
    index: &Index<T>,
    examples: &[Example],
    pair: &PairDistance<'_>,
    bound: usize,
    model: &mut EdgeModel,
    queries: &[T],
    truth: &[Vec<u64>],
    train: &TrainOptions,
    opts: &ReinforceOptions,
) -> ReinforceReport {
    let mut slot = vec![None; index.len()];
    for (e, ex) in examples.iter().enumerate() {
        slot[ex.node as usize] = Some(e as u32);
    }
    let table = pair_table(examples, pair);
    let row_of = slot.clone();
    let cached = |ex: &Example, i: usize, j: usize| {
        let e = row_of[ex.node as usize].map_or(0, |e| e as usize);
        table[e][i * ex.candidates.len() + j]
    };
    let pair: &PairDistance<'_> = &cached;
    let rule_lists = |keep: &(dyn Fn(&EdgeModel, &Example) -> Vec<usize> + Sync), model: &EdgeModel| {
        examples
            .par_iter()
            .map(|ex| keep(model, ex).into_iter().map(|i| ex.candidates[i]).collect())
            .collect::<Vec<Vec<u32>>>()
    };
    let heuristic_rule =
        |_: &EdgeModel, ex: &Example| rollout(ex, pair, bound, &mut |_, x| heuristic_keeps(x)).0;
    let model_rule =
        |m: &EdgeModel, ex: &Example| model_rollout(ex, pair, bound, m, &mut |_, _, s| s >= m.threshold).0;
    let mut overlay = Overlay {
        index,
        slot,
        lists: rule_lists(&heuristic_rule, model),
    };
    let heuristic = overlay.measure(queries, truth, opts);
    calibrate_threshold(model, examples, pair, bound, heuristic.mean_kept);
    overlay.lists = rule_lists(&model_rule, model);
    let before = overlay.measure(queries, truth, opts);

    let settings = TrainOptions {
        learning_rate: opts.learning_rate,
        ..train.clone()
    };
    let mut optimizer = OptimizerState::new(model.params.len(), opts.seed);
    let mut baseline: Vec<Option<f64>> = vec![None; truth.len()];
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(opts.seed ^ 0x7e1f_0ace);
    let mut history = Vec::new();
    let every = (opts.iterations / HISTORY_POINTS).max(1);
    let mut shift = 0.0;
    for iteration in 0..opts.iterations {
        if iteration % opts.recalibrate_every.max(1) == 0 {
            shift = policy_shift(
                examples,
                pair,
                bound,
                model,
                heuristic.mean_kept,
                opts.seed ^ iteration as u64,
            );
        }
        let draws = draw(
            examples,
            pair,
            bound,
            model,
            shift,
            opts.seed ^ (iteration as u64) << 32,
        );
        overlay.lists = draws.iter().map(|d| d.kept.clone()).collect();
        let batch = sample_queries(truth.len(), opts.queries_per_iteration, &mut rng);
        let dim = index.dim();
        let walks: Vec<(f64, usize, Vec<u32>)> = batch
            .par_iter()
            .map(|&q| overlay.walk(&queries[q * dim..][..dim], &truth[q], opts.ef, opts.k))
            .collect();
        let batch_mean = walks.iter().map(|w| w.0).sum::<f64>() / walks.len().max(1) as f64;
        // Per training node: Σ over the queries that expanded it of (R_q − b_q), over |batch|.
        let mut advantage = vec![0.0; examples.len()];
        for (&q, (reward, _, expanded)) in batch.iter().zip(&walks) {
            let base = baseline[q].unwrap_or(batch_mean);
            for &u in expanded {
                if let Some(e) = overlay.slot[u as usize] {
                    advantage[e as usize] += (reward - base) / batch.len() as f64;
                }
            }
            baseline[q] = Some(baseline[q].map_or(*reward, |b| 0.8 * b + 0.2 * reward));
        }
        let len = model.params.len();
        let recall_grad = policy_gradient(len, &draws, &advantage);
        let count: Vec<f64> = draws
            .iter()
            .map(|d| (d.kept.len() as f64 - heuristic.mean_kept) / draws.len() as f64)
            .collect();
        let count_grad = policy_gradient(len, &draws, &count);
        let grad = project_off(&recall_grad, &count_grad);
        let step = ReinforceStep {
            iteration,
            recall: batch_mean,
            mean_kept: mean_kept(&draws),
            policy_shift: shift,
        };
        drop(draws);
        optimizer.step(&mut model.params, &grad, &settings);
        if iteration % every == 0 || iteration + 1 == opts.iterations {
            history.push(step);
        }
    }
    calibrate_threshold(model, examples, pair, bound, heuristic.mean_kept);
    overlay.lists = rule_lists(&model_rule, model);
    let after = overlay.measure(queries, truth, opts);
    ReinforceReport {
        nodes: examples.len(),
        queries: truth.len(),
        heuristic,
        before,
        after,
        history,
    }
}

/// Every training list's candidate-to-candidate dissimilarities (row-major, candidates ×
/// candidates), computed once: REINFORCE rolls each list out hundreds of times, and every
/// roll-out's features read e(c, r) for the links kept so far.
fn pair_table(examples: &[Example], pair: &PairDistance<'_>) -> Vec<Vec<f32>> {
    examples
        .par_iter()
        .map(|ex| {
            let w = ex.candidates.len();
            let mut table = vec![0.0; w * w];
            for i in 0..w {
                for j in i..w {
                    let e = pair(ex, i, j);
                    table[i * w + j] = e;
                    table[j * w + i] = e;
                }
            }
            table
        })
        .collect()
}

/// Mean links per drawn list.
fn mean_kept(draws: &[Draw<'_>]) -> f64 {
    draws.iter().map(|d| d.kept.len()).sum::<usize>() as f64 / draws.len().max(1) as f64
}

/// The shift τ_π at which the lists drawn with `seed` keep `target` links on average
/// (bisection; the common random numbers make the count nearly monotone in τ_π).
fn policy_shift(
    examples: &[Example],
    pair: &PairDistance<'_>,
    bound: usize,
    model: &EdgeModel,
    target: f64,
    seed: u64,
) -> f64 {
    let (mut low, mut high) = (-50.0f64, 50.0f64);
    for _ in 0..24 {
        let mid = 0.5 * (low + high);
        if mean_kept(&draw(examples, pair, bound, model, mid, seed)) > target {
            low = mid;
        } else {
            high = mid;
        }
    }
    0.5 * (low + high)
}

/// Every training node's list drawn from the policy σ(s − `shift`), seeded per node.
fn draw<'m>(
    examples: &[Example],
    pair: &PairDistance<'_>,
    bound: usize,
    model: &'m EdgeModel,
    shift: f64,
    seed: u64,
) -> Vec<Draw<'m>> {
    examples
        .par_iter()
        .map(|ex| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ u64::from(ex.node));
            let (mut actions, mut probabilities) = (Vec::new(), Vec::new());
            let (kept, _, pass) = model_rollout(ex, pair, bound, model, &mut |_, _, s| {
                let p = sigmoid(s - shift);
                let keep = unit(&mut rng) < p;
                actions.push(keep);
                probabilities.push(p);
                keep
            });
            Draw {
                kept: kept.into_iter().map(|i| ex.candidates[i]).collect(),
                actions,
                probabilities,
                pass,
            }
        })
        .collect()
}

/// ∂(−objective)/∂θ = −Σ_u A_u·∂ln π_u/∂θ with A_u the recall advantage credited to u,
/// through each draw's own roll-out (`len` parameters).
fn policy_gradient(len: usize, draws: &[Draw<'_>], advantage: &[f64]) -> Vec<f64> {
    draws
        .par_iter()
        .zip(advantage)
        .map(|(d, &weight)| {
            let mut grad = vec![0.0; len];
            if weight != 0.0 {
                let upstream: Vec<f64> = d
                    .actions
                    .iter()
                    .zip(&d.probabilities)
                    .map(|(&act, &p)| -weight * (f64::from(u8::from(act)) - p))
                    .collect();
                d.pass.backward(&upstream, &mut grad);
            }
            grad
        })
        .reduce(
            || vec![0.0; len],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        )
}

/// `take` distinct query indexes of `count` (all when `take` ≥ `count`), seeded.
fn sample_queries(count: usize, take: usize, rng: &mut Xoshiro256PlusPlus) -> Vec<usize> {
    let mut ids: Vec<usize> = (0..count).collect();
    crate::draw::sample_prefix(&mut ids, take, rng);
    ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::{candidate_lists, path_labels, squared_like};
    use crate::model::ModelKind;
    use geodex_core::edges::OCCLUSION_LOG_RATIO;

    /// Index of rank/budget among the features.
    const RANK: usize = 2;
    use geodex_core::{BuildParams, Metric, NodeId};

    const DIM: usize = 8;

    /// A small clustered index (M = 6), its training nodes and 300 training queries with their
    /// exact 10 nearest neighbours.
    fn fixture() -> (Index<f32>, Vec<Example>, Vec<f32>, Vec<Vec<u64>>) {
        let all = geodex_testkit::clustered(1_800, DIM, 12, 0.6, 3);
        let (base, queries) = all.split_at(1_500 * DIM);
        let params = BuildParams {
            metric: Metric::L2,
            m: 6,
            ef_construction: 48,
            seed: 5,
            threads: Some(1),
            ..Default::default()
        };
        let index = Index::build(base.to_vec(), DIM, &params, &|_| {}).unwrap();
        let truth: Vec<Vec<u64>> = geodex_core::exact::exact_knn(base, queries, DIM, 10, Metric::L2, &|_| {})
            .unwrap()
            .into_iter()
            .map(|hits| hits.into_iter().map(|h| u64::from(h.id)).collect())
            .collect();
        let lists = candidate_lists(&index, 24, 48).unwrap();
        let examples = path_labels(&index, &lists, queries, &truth, 10, 12);
        (index, examples, queries.to_vec(), truth)
    }

    fn pair_of(index: &Index<f32>) -> impl Fn(&Example, usize, usize) -> f32 + Sync + '_ {
        |ex: &Example, i: usize, j: usize| {
            squared_like(
                Metric::L2,
                index.vector(NodeId(ex.candidates[i])),
                index.vector(NodeId(ex.candidates[j])),
            )
        }
    }

    /// ln π of a draw, replayed at `model`'s parameters with the draw's decisions.
    fn log_probability(
        model: &EdgeModel,
        ex: &Example,
        pair: &PairDistance<'_>,
        actions: &[bool],
        shift: f64,
    ) -> f64 {
        let mut next = actions.iter();
        let mut total = 0.0;
        model_rollout(ex, pair, 12, model, &mut |_, _, s| {
            let keep = *next.next().unwrap();
            let p = sigmoid(s - shift);
            total += if keep { p.ln() } else { (1.0 - p).ln() };
            keep
        });
        total
    }

    #[test]
    fn the_policy_gradient_is_the_score_function_of_the_draws() {
        let (index, examples, _, _) = fixture();
        let pair = pair_of(&index);
        let examples = &examples[..3];
        let mut model = EdgeModel::new(ModelKind::Mlp, 4, 0, 9);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        for p in &mut model.params {
            *p = unit(&mut rng) - 0.5;
        }
        let draws = draw(examples, &pair, 12, &model, 0.3, 7);
        assert!(draws
            .iter()
            .all(|d| !d.kept.is_empty() && d.kept.len() < d.actions.len()));
        let advantage = [0.7, -0.2, 0.4];
        let grad = policy_gradient(model.params.len(), &draws, &advantage);
        // −Σ_u A_u·ln π_u(θ) has `grad` as its gradient.
        let objective = |m: &EdgeModel| {
            examples
                .iter()
                .zip(&draws)
                .zip(&advantage)
                .map(|((ex, d), a)| -a * log_probability(m, ex, &pair, &d.actions, 0.3))
                .sum::<f64>()
        };
        crate::model::assert_gradient(&model, &objective, &grad);
    }

    #[test]
    fn reinforce_raises_the_recall_of_a_knn_rule_at_equal_degree() {
        let (index, examples, queries, truth) = fixture();
        let pair = pair_of(&index);
        // The closest candidates first, blind to occlusion: a k-NN graph, no diversity.
        let mut model = EdgeModel::new(ModelKind::Logistic, 0, 0, 1);
        model.params[RANK] = -4.0;
        let opts = ReinforceOptions {
            iterations: 200,
            ef: 10,
            queries_per_iteration: 150,
            learning_rate: 0.05,
            ..ReinforceOptions::default()
        };
        let report = reinforce(
            &index,
            &examples,
            &pair,
            12,
            &mut model,
            &queries,
            &truth,
            &TrainOptions::default(),
            &opts,
        );
        assert_eq!(report.history.last().unwrap().iteration, 199);
        assert!(
            report.before.recall + 0.05 < report.heuristic.recall,
            "the inverted rule starts worse: {report:?}"
        );
        assert!(
            report.after.recall > report.before.recall + 0.03,
            "recall at ef 10 rose: {:?} → {:?}",
            report.before,
            report.after
        );
        assert!(
            model.params[OCCLUSION_LOG_RATIO] > 0.0,
            "the occlusion weight took the heuristic's sign"
        );
    }
}
