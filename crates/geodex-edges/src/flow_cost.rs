//! What the Neural-ODE scorer's solves cost and how accurate they are (issue 18 item 6): on
//! the lists a trained ode judges, the forward effort, the memory of back-propagation (the
//! tape of accepted steps) against the adjoint's (one augmented state), the wall time of each
//! backward pass on one thread, how far the adjoint gradient lies from the back-propagated
//! one, and how far the logits lie from a reference solve.

use std::time::Instant;

use serde::Serialize;

use crate::model::EdgeModel;
use crate::ode::{Effort, Gradient, OdeSpec, Solver};
use crate::train::{judged_labels, model_rollout, sigmoid, training_budget, Labels, PairDistance};
use crate::Example;

/// The reference the logits are compared with: Dormand–Prince at this tolerance.
const REFERENCE_TOLERANCE: f64 = 1e-10;

/// The ode's solves on a set of lists.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FlowCost {
    /// Lists and judged candidates measured.
    pub lists: usize,
    /// Judged candidates.
    pub candidates: usize,
    /// Forward: accepted steps per candidate.
    pub steps_per_candidate: f64,
    /// Forward: rejected steps per candidate (adaptive solver).
    pub rejected_per_candidate: f64,
    /// Forward: field evaluations per candidate.
    pub evaluations_per_candidate: f64,
    /// Back-propagation: numbers its tape holds per candidate.
    pub tape_floats_per_candidate: f64,
    /// Back-propagation: the most numbers one list's tape held.
    pub peak_tape_floats: usize,
    /// Adjoint: field evaluations of the backward solves per candidate.
    pub adjoint_evaluations_per_candidate: f64,
    /// Adjoint: the largest augmented state (h, a, parameter quadratures) one solve held.
    pub peak_adjoint_floats: usize,
    /// Seconds of the forward passes (with tapes), one thread.
    pub forward_seconds: f64,
    /// Seconds of the back-propagation passes, one thread.
    pub backprop_seconds: f64,
    /// Seconds of the adjoint passes, one thread.
    pub adjoint_seconds: f64,
    /// ‖g_adjoint − g_backprop‖ / ‖g_backprop‖ of the unweighted cross-entropy's gradient,
    /// summed over the lists.
    pub adjoint_gradient_error: f64,
    /// Mean |s − s_ref| of the logits against Dormand–Prince at 1e-10, same lists and decisions.
    pub logit_error: f64,
}

/// The cost of `model`'s solves on at most `max_lists` of `examples`, each rolled out by the
/// model on its own at its threshold; `None` unless the model is an ode.
pub fn measure(
    examples: &[Example],
    pair: &PairDistance<'_>,
    budget: usize,
    model: &EdgeModel,
    labels: Labels,
    max_lists: usize,
) -> Option<FlowCost> {
    let spec = model.ode?;
    let mut taped = model.clone();
    taped.ode = Some(OdeSpec {
        gradient: Gradient::Backprop,
        ..spec
    });
    let mut reference = model.clone();
    reference.ode = Some(OdeSpec {
        solver: Solver::Dopri5 {
            tolerance: REFERENCE_TOLERANCE,
        },
        ..spec
    });
    let mut cost = Tally::default();
    for ex in examples.iter().take(max_lists) {
        cost.add(ex, pair, training_budget(ex, budget), &taped, &reference, labels);
    }
    Some(cost.finish())
}

/// Running sums of [`measure`].
#[derive(Default)]
struct Tally {
    lists: usize,
    candidates: usize,
    forward: Effort,
    adjoint: Effort,
    tape_floats: usize,
    peak_tape: usize,
    peak_adjoint: usize,
    seconds: [f64; 3],
    gradient_diff: f64,
    gradient_norm: f64,
    logit_error: f64,
}

impl Tally {
    fn add(
        &mut self,
        ex: &Example,
        pair: &PairDistance<'_>,
        budget: usize,
        taped: &EdgeModel,
        reference: &EdgeModel,
        labels: Labels,
    ) {
        let started = Instant::now();
        let mut logits = Vec::new();
        let (kept, seen, pass) = model_rollout(ex, pair, budget, taped, &mut |_, _, s| {
            logits.push(s);
            s >= taped.threshold
        });
        self.seconds[0] += started.elapsed().as_secs_f64();
        let upstream: Vec<f64> = judged_labels(ex, &kept, seen.len(), labels)
            .zip(&logits)
            .map(|(y, &s)| sigmoid(s) - f64::from(u8::from(y)))
            .collect();
        let len = taped.params.len();
        let (mut exact, mut adjoint) = (vec![0.0; len], vec![0.0; len]);
        let started = Instant::now();
        pass.backward_by(Gradient::Backprop, &upstream, &mut exact);
        self.seconds[1] += started.elapsed().as_secs_f64();
        let started = Instant::now();
        let (effort, width) = pass.backward_by(Gradient::Adjoint, &upstream, &mut adjoint);
        self.seconds[2] += started.elapsed().as_secs_f64();
        let (_, refined) = pass.replay(reference);
        self.lists += 1;
        self.candidates += pass.len();
        self.forward += pass.effort();
        self.adjoint += effort;
        self.tape_floats += pass.tape_floats();
        self.peak_tape = self.peak_tape.max(pass.tape_floats());
        self.peak_adjoint = self.peak_adjoint.max(width);
        self.gradient_diff += exact
            .iter()
            .zip(&adjoint)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>();
        self.gradient_norm += exact.iter().map(|a| a * a).sum::<f64>();
        self.logit_error += logits
            .iter()
            .zip(&refined)
            .map(|(a, b)| (a - b).abs())
            .sum::<f64>();
    }

    fn finish(self) -> FlowCost {
        let per = |v: usize| v as f64 / self.candidates.max(1) as f64;
        FlowCost {
            lists: self.lists,
            candidates: self.candidates,
            steps_per_candidate: per(self.forward.steps),
            rejected_per_candidate: per(self.forward.rejected),
            evaluations_per_candidate: per(self.forward.evaluations),
            tape_floats_per_candidate: per(self.tape_floats),
            peak_tape_floats: self.peak_tape,
            adjoint_evaluations_per_candidate: per(self.adjoint.evaluations),
            peak_adjoint_floats: self.peak_adjoint,
            forward_seconds: self.seconds[0],
            backprop_seconds: self.seconds[1],
            adjoint_seconds: self.seconds[2],
            adjoint_gradient_error: (self.gradient_diff / self.gradient_norm.max(1e-300)).sqrt(),
            logit_error: self.logit_error / self.candidates.max(1) as f64,
        }
    }
}
