//! Simulated annealing over level-0 edges at fixed degree (issue 18 item 7, THEORY §9.1).
//!
//! State: every node's level-0 list of a built index. A move replaces one link of a node u by a
//! candidate of u's list (its `width` nearest) it does not hold, so every list keeps its length
//! and the graph its degree. The objective is what search pays on a sample of training queries
//! at a fixed beam width ef: J = Σ_q (distance evaluations_q + miss_cost · missed true
//! neighbours_q) — a miss is priced in distance evaluations, so a move that saves work by losing
//! recall is charged for it. Only the queries whose walk read u's list can change; they alone
//! are walked again (the objective stays exact, not estimated).
//!
//! Moves are proposed where they matter: u is a node some query expanded. Metropolis
//! acceptance at temperature T(t), in the objective's unit (distance evaluations):
//! T0/ln(1 + t) (the logarithmic schedule of Geman & Geman 1984), T0·r^t with r such that T
//! falls a thousandfold over the run, or T = 0 (greedy hill climbing: accept what does not
//! worsen J) — the control that shows whether the temperature matters.

use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::Serialize;

use geodex_core::{Component, GraphView, Index};

use crate::model::unit;
use crate::walk::{beam, Walk};

/// The temperature schedule.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// T0 / ln(1 + t), t from 1.
    Log,
    /// T0 · r^t with r^steps = 10⁻³.
    Geometric,
    /// T = 0: accept a move iff it does not increase J.
    Greedy,
}

impl std::str::FromStr for Schedule {
    type Err = crate::EdgesError;
    fn from_str(s: &str) -> Result<Self, crate::EdgesError> {
        match s {
            "log" => Ok(Schedule::Log),
            "geometric" => Ok(Schedule::Geometric),
            "greedy" => Ok(Schedule::Greedy),
            other => Err(crate::EdgesError::Invalid(format!(
                "unknown schedule {other:?} (log, geometric, greedy)"
            ))),
        }
    }
}

/// Annealing settings.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AnnealOptions {
    /// Beam width of the objective's walks.
    pub ef: usize,
    /// True neighbours per query that count.
    pub k: usize,
    /// Moves proposed.
    pub steps: usize,
    /// The schedule.
    pub schedule: Schedule,
    /// T0, in distance evaluations.
    pub t0: f64,
    /// Distance evaluations a missed true neighbour costs.
    pub miss_cost: f64,
    /// Seed of the proposals and acceptances.
    pub seed: u64,
}

impl Default for AnnealOptions {
    fn default() -> Self {
        AnnealOptions {
            ef: 32,
            k: 10,
            steps: 20_000,
            schedule: Schedule::Log,
            t0: 5.0,
            miss_cost: 50.0,
            seed: 42,
        }
    }
}

/// What a run measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AnnealReport {
    /// J per query before and after.
    pub initial_cost: f64,
    /// J per query at the end.
    pub final_cost: f64,
    /// Mean distance evaluations per query before and after.
    pub initial_distances: f64,
    /// After.
    pub final_distances: f64,
    /// recall@k of the objective's walks before and after.
    pub initial_recall: f64,
    /// After.
    pub final_recall: f64,
    /// Moves accepted, and among them those that lowered J.
    pub accepted: usize,
    /// Accepted moves that lowered J.
    pub improving: usize,
    /// (step, J per query) twenty times over the run.
    pub history: Vec<(usize, f64)>,
}

/// One query's part of the objective.
struct QueryState {
    cost: f64,
    hits: usize,
    distances: usize,
    expanded: Vec<u32>,
}

/// Anneals `index`'s level-0 lists against `queries` (prepared rows) and their true neighbours
/// `truth` (node ids, best first), moving links only to the candidates `lists` names. Returns
/// the new lists (each as long as before) and the report.
pub fn anneal<T: Component>(
    index: &Index<T>,
    lists: &[Vec<(u32, f32)>],
    queries: &[T],
    truth: &[Vec<u64>],
    opts: &AnnealOptions,
) -> (Vec<Vec<u32>>, AnnealReport) {
    let g = index.graph();
    let n = g.node_count();
    let mut level0: Vec<Vec<u32>> = (0..n as u32).map(|u| g.links(u, 0).to_vec()).collect();
    let dim = index.dim();
    let walk_one = |level0: &[Vec<u32>], q: usize| -> QueryState {
        let w: Walk = beam(index, &queries[q * dim..][..dim], opts.ef, |b, visit| {
            level0[b as usize].iter().for_each(|&x| visit(x))
        });
        let found: Vec<u64> = w.best.iter().take(opts.k).map(|&(_, id)| u64::from(id)).collect();
        let hits = truth[q].iter().take(opts.k).filter(|t| found.contains(t)).count();
        let cost = w.distances as f64 + opts.miss_cost * (opts.k - hits) as f64;
        QueryState {
            cost,
            hits,
            distances: w.distances,
            expanded: w.expanded,
        }
    };
    let nq = truth.len();
    let mut states: Vec<QueryState> = (0..nq).into_par_iter().map(|q| walk_one(&level0, q)).collect();
    let mut readers: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (q, s) in states.iter().enumerate() {
        for &u in &s.expanded {
            readers[u as usize].push(q as u32);
        }
    }
    let per_query = |states: &[QueryState]| states.iter().map(|s| s.cost).sum::<f64>() / nq.max(1) as f64;
    let summary = |states: &[QueryState]| {
        let d = states.iter().map(|s| s.distances).sum::<usize>() as f64 / nq.max(1) as f64;
        let r = states.iter().map(|s| s.hits).sum::<usize>() as f64 / (nq * opts.k).max(1) as f64;
        (d, r)
    };
    let (initial_distances, initial_recall) = summary(&states);
    let initial_cost = per_query(&states);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(opts.seed);
    let (mut accepted, mut improving) = (0, 0);
    let mut history = Vec::new();
    let rate = 1e-3f64.powf(1.0 / opts.steps.max(1) as f64);
    for step in 0..opts.steps {
        if step % (opts.steps / 20).max(1) == 0 {
            history.push((step, per_query(&states)));
        }
        let Some((u, slot, c)) = propose(&states, &level0, lists, &mut rng) else {
            continue;
        };
        let old = std::mem::replace(&mut level0[u as usize][slot], c);
        let affected = readers[u as usize].clone();
        let walked: Vec<QueryState> = affected
            .par_iter()
            .map(|&q| walk_one(&level0, q as usize))
            .collect();
        let delta: f64 = affected
            .iter()
            .zip(&walked)
            .map(|(&q, s)| s.cost - states[q as usize].cost)
            .sum();
        let temperature = match opts.schedule {
            Schedule::Log => opts.t0 / (2.0 + step as f64).ln(),
            Schedule::Geometric => opts.t0 * rate.powi(step as i32),
            Schedule::Greedy => 0.0,
        };
        let accept = delta <= 0.0 || (temperature > 0.0 && unit(&mut rng) < (-delta / temperature).exp());
        if !accept {
            level0[u as usize][slot] = old;
            continue;
        }
        accepted += 1;
        improving += usize::from(delta < 0.0);
        for (&q, s) in affected.iter().zip(walked) {
            let before = std::mem::replace(&mut states[q as usize], s);
            for v in before.expanded {
                readers[v as usize].retain(|&x| x != q);
            }
            for &v in &states[q as usize].expanded {
                readers[v as usize].push(q);
            }
        }
    }
    let (final_distances, final_recall) = summary(&states);
    let report = AnnealReport {
        initial_cost,
        final_cost: per_query(&states),
        initial_distances,
        final_distances,
        initial_recall,
        final_recall,
        accepted,
        improving,
        history,
    };
    (level0, report)
}

/// A move: a node some query expanded, one of its links, and a candidate it does not hold.
fn propose(
    states: &[QueryState],
    level0: &[Vec<u32>],
    lists: &[Vec<(u32, f32)>],
    rng: &mut Xoshiro256PlusPlus,
) -> Option<(u32, usize, u32)> {
    let pick = |rng: &mut Xoshiro256PlusPlus, len: usize| (rng.next_u64() % len.max(1) as u64) as usize;
    let q = &states[pick(rng, states.len())];
    let u = *q.expanded.get(pick(rng, q.expanded.len()))?;
    let links = &level0[u as usize];
    let candidates = &lists[u as usize];
    if links.is_empty() || candidates.is_empty() {
        return None;
    }
    let c = candidates[pick(rng, candidates.len())].0;
    if c == u || links.contains(&c) {
        return None;
    }
    Some((u, pick(rng, links.len()), c))
}
