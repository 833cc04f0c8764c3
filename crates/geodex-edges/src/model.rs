//! Edge scorers s_θ(x) over the features of a candidate edge (`geodex_core::edges`): shared
//! weights, not one weight per edge, so a trained scorer applies to nodes it never saw.
//!
//! - **logistic**: s = θ·x (x holds a bias component);
//! - **mlp**: s = w₂·tanh(W₁x + b₁) + b₂, one hidden layer;
//! - **gnn**: a fixed-depth message-passing network over the candidate list ([`crate::gnn`]),
//!   which also sees the links kept so far in the list;
//! - **ode**: the same message passing in continuous depth, a Neural ODE ([`crate::ode`]).
//!
//! A list is judged through a [`ListPass`], which keeps what a list-aware scorer needs (the
//! kept links' states) and what the backward pass needs; context-free scorers ignore it.
//! Gradients are written by hand (a few hundred parameters at most; a tensor framework would
//! cost more build time than the model) and checked against central finite differences in the
//! tests.

use geodex_core::edges::{EdgeFeatures, KeptLink, EDGE_FEATURES, FEATURE_NAMES};
use geodex_core::EdgeScorer;
use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use crate::gnn::{self, Shape};
use crate::list::{BuildSenders, Judged, PassSenders};
use crate::ode::{self, Effort, Gradient, Net, OdeSpec, Tape};
use crate::EdgesError;

/// The scorer's family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// θ·x.
    Logistic,
    /// One tanh hidden layer.
    Mlp,
    /// Message passing over the candidate list ([`crate::gnn`]).
    Gnn,
    /// Message passing in continuous depth ([`crate::ode`]).
    Ode,
}

impl std::str::FromStr for ModelKind {
    type Err = EdgesError;
    fn from_str(s: &str) -> Result<Self, EdgesError> {
        match s {
            "logistic" => Ok(ModelKind::Logistic),
            "mlp" => Ok(ModelKind::Mlp),
            "gnn" => Ok(ModelKind::Gnn),
            "ode" => Ok(ModelKind::Ode),
            other => Err(EdgesError::Invalid(format!(
                "unknown edge model {other:?} (logistic, mlp, gnn, ode)"
            ))),
        }
    }
}

/// A trained (or initial) scorer: its family, width and flat parameter vector θ.
///
/// Layout of θ: logistic — the `EDGE_FEATURES` weights; mlp — W₁ (hidden × features, row-major),
/// b₁ (hidden), w₂ (hidden), b₂; gnn and ode — as documented in [`crate::gnn`], [`crate::ode`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EdgeModel {
    /// Family.
    pub kind: ModelKind,
    /// Hidden units (mlp, gnn, ode; 0 for logistic).
    pub hidden: usize,
    /// Message-passing layers (gnn only; 0 otherwise; absent in files written before gnn).
    #[serde(default)]
    pub layers: usize,
    /// The flow of an ode model (absent for the others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ode: Option<OdeSpec>,
    /// θ.
    pub params: Vec<f64>,
    /// The feature names the parameters were trained on, in order (checked on load).
    pub features: Vec<String>,
    /// The score a candidate needs to be kept: chosen after training so that the rule keeps, on
    /// the training nodes, as many links as the heuristic does.
    pub threshold: f64,
}

impl EdgeModel {
    /// A model of `kind` with small random weights (seeded), or zeros for logistic; `layers`
    /// counts for gnn only; an ode model gets the default flow ([`OdeSpec::default`]).
    pub fn new(kind: ModelKind, hidden: usize, layers: usize, seed: u64) -> EdgeModel {
        let hidden = if kind == ModelKind::Logistic {
            0
        } else {
            hidden.max(1)
        };
        let layers = if kind == ModelKind::Gnn { layers.max(1) } else { 0 };
        let len = param_count(kind, hidden, layers);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let scale = 1.0 / (EDGE_FEATURES as f64).sqrt();
        let mut params: Vec<f64> = (0..len)
            .map(|_| match kind {
                ModelKind::Logistic => 0.0,
                ModelKind::Mlp | ModelKind::Gnn | ModelKind::Ode => scale * (2.0 * unit(&mut rng) - 1.0),
            })
            .collect();
        if matches!(kind, ModelKind::Gnn | ModelKind::Ode) {
            // The linear skip starts at 0, as the logistic model does.
            params[len - EDGE_FEATURES..].iter_mut().for_each(|p| *p = 0.0);
        }
        EdgeModel {
            kind,
            hidden,
            layers,
            ode: (kind == ModelKind::Ode).then(OdeSpec::default),
            params,
            features: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
            threshold: 0.0,
        }
    }

    /// The ode model's network (the default flow if a file lacks one; validation refuses that).
    fn net(&self) -> Net<'_> {
        Net {
            spec: self.ode.as_ref().unwrap_or(&DEFAULT_FLOW),
            hidden: self.hidden,
            params: &self.params,
        }
    }

    fn shape(&self) -> Shape {
        Shape {
            hidden: self.hidden,
            layers: self.layers,
        }
    }

    /// Checks a loaded model: known features in the build's order, a parameter vector of the
    /// right length, finite values.
    pub fn validate(&self) -> Result<(), EdgesError> {
        if self.features != FEATURE_NAMES {
            return Err(EdgesError::Invalid(format!(
                "the model was trained on features {:?}; this geodex computes {:?}",
                self.features, FEATURE_NAMES
            )));
        }
        let shaped = match self.kind {
            ModelKind::Logistic => true,
            ModelKind::Mlp => self.hidden > 0 && self.hidden <= MAX_HIDDEN,
            ModelKind::Gnn => {
                self.hidden > 0 && self.hidden <= MAX_HIDDEN && self.layers > 0 && self.layers <= MAX_LAYERS
            }
            ModelKind::Ode => self.hidden > 0 && self.hidden <= MAX_HIDDEN && self.layers == 0,
        };
        if !shaped {
            return Err(EdgesError::Invalid(format!(
                "a {:?} model needs 1–{MAX_HIDDEN} hidden units (gnn: 1–{MAX_LAYERS} layers; ode: none); the file has {} and {}",
                self.kind, self.hidden, self.layers
            )));
        }
        match (self.kind, &self.ode) {
            (ModelKind::Ode, None) => {
                return Err(EdgesError::Invalid(
                    "an ode model needs its flow (\"ode\")".into(),
                ))
            }
            (ModelKind::Ode, Some(spec)) => spec.validate().map_err(EdgesError::Invalid)?,
            _ => {}
        }
        let want = param_count(self.kind, self.hidden, self.layers);
        if self.params.len() != want {
            return Err(EdgesError::Invalid(format!(
                "a {:?} model with {} hidden units and {} layers needs {want} parameters, the file has {}",
                self.kind,
                self.hidden,
                self.layers,
                self.params.len()
            )));
        }
        if !self.threshold.is_finite() || self.params.iter().any(|p| !p.is_finite()) {
            return Err(EdgesError::Invalid("the model holds a non-finite number".into()));
        }
        Ok(())
    }

    /// s_θ(x) with no link kept yet (for gnn; the other models never see the list).
    pub fn logit(&self, x: &EdgeFeatures) -> f64 {
        self.forward(x, None)
    }

    /// A pass over one list, judging its candidates in order.
    pub fn list(&self) -> ListPass<'_> {
        ListPass {
            model: self,
            features: Vec::new(),
            e_bc: Vec::new(),
            kept: Vec::new(),
            kept_start: vec![0],
            states: Vec::new(),
            tapes: Vec::new(),
            effort: Effort::default(),
        }
    }

    /// s_θ(x), and ∂s/∂θ scaled by `upstream` added into `grad` (same layout as θ).
    pub fn logit_and_grad(&self, x: &EdgeFeatures, upstream: f64, grad: &mut [f64]) -> f64 {
        self.forward(x, Some((upstream, grad)))
    }

    fn forward(&self, x: &EdgeFeatures, grad: Option<(f64, &mut [f64])>) -> f64 {
        let p = &self.params;
        match self.kind {
            ModelKind::Gnn | ModelKind::Ode => {
                let mut pass = self.list();
                let s = pass.judge(x, 0.0, &[]);
                if let Some((up, g)) = grad {
                    pass.backward(&[up], g);
                }
                s
            }
            ModelKind::Logistic => {
                let s = x.iter().zip(p).map(|(&xi, w)| xi as f64 * w).sum();
                if let Some((up, g)) = grad {
                    for (gi, &xi) in g.iter_mut().zip(x) {
                        *gi += up * xi as f64;
                    }
                }
                s
            }
            ModelKind::Mlp => {
                let h = self.hidden;
                let (w1, rest) = p.split_at(h * EDGE_FEATURES);
                let (b1, rest) = rest.split_at(h);
                let (w2, b2) = rest.split_at(h);
                let mut s = b2[0];
                let mut act = [0.0f64; 64];
                let act = if h <= 64 {
                    &mut act[..h]
                } else {
                    &mut vec![0.0; h][..]
                };
                for j in 0..h {
                    let row = &w1[j * EDGE_FEATURES..][..EDGE_FEATURES];
                    let z: f64 = b1[j] + row.iter().zip(x).map(|(w, &xi)| w * xi as f64).sum::<f64>();
                    act[j] = z.tanh();
                    s += w2[j] * act[j];
                }
                if let Some((up, g)) = grad {
                    let (gw1, rest) = g.split_at_mut(h * EDGE_FEATURES);
                    let (gb1, rest) = rest.split_at_mut(h);
                    let (gw2, gb2) = rest.split_at_mut(h);
                    gb2[0] += up;
                    for j in 0..h {
                        gw2[j] += up * act[j];
                        let dz = up * w2[j] * (1.0 - act[j] * act[j]);
                        gb1[j] += dz;
                        for (gw, &xi) in gw1[j * EDGE_FEATURES..][..EDGE_FEATURES].iter_mut().zip(x) {
                            *gw += dz * xi as f64;
                        }
                    }
                }
                s
            }
        }
    }

    /// The model as the build's edge rule: keep a candidate when s_θ(x) ≥ the threshold.
    pub fn into_rule(self) -> geodex_core::EdgeRule {
        let threshold = self.threshold as f32;
        geodex_core::EdgeRule::Scored {
            scorer: std::sync::Arc::new(self),
            threshold,
        }
    }
}

impl EdgeScorer for EdgeModel {
    fn score(&self, features: &EdgeFeatures) -> f32 {
        self.logit(features) as f32
    }

    fn state_width(&self) -> usize {
        match self.kind {
            ModelKind::Gnn => self.shape().state(),
            ModelKind::Ode => self.hidden,
            ModelKind::Logistic | ModelKind::Mlp => 0,
        }
    }

    fn score_in_list(
        &self,
        features: &EdgeFeatures,
        e_bc: f32,
        kept: &[KeptLink],
        kept_states: &[f64],
        state: &mut [f64],
    ) -> f32 {
        let senders = BuildSenders {
            links: kept,
            states: kept_states,
            width: self.state_width(),
        };
        let logit = match self.kind {
            ModelKind::Gnn => gnn::forward(self.shape(), &self.params, features, e_bc, &senders, state),
            ModelKind::Ode => ode::forward(self.net(), features, e_bc, &senders, state, None).0,
            ModelKind::Logistic | ModelKind::Mlp => return self.score(features),
        };
        logit as f32
    }
}

/// The flow [`EdgeModel::net`] falls back to.
const DEFAULT_FLOW: OdeSpec = OdeSpec {
    horizon: 1.0,
    solver: ode::Solver::Rk4 { steps: 4 },
    gradient: Gradient::Backprop,
};

/// Largest hidden width a model file may ask for.
pub(crate) const MAX_HIDDEN: usize = 256;
/// Largest message-passing depth a model file may ask for.
pub(crate) const MAX_LAYERS: usize = 16;

/// Length of θ for a model of `kind`.
fn param_count(kind: ModelKind, hidden: usize, layers: usize) -> usize {
    match kind {
        ModelKind::Logistic => EDGE_FEATURES,
        ModelKind::Mlp => hidden * EDGE_FEATURES + 2 * hidden + 1,
        ModelKind::Gnn => Shape { hidden, layers }.params(),
        ModelKind::Ode => ode::param_count(hidden),
    }
}

/// One list judged by a model, candidate by candidate in the rule's order: the logits, and
/// for the list-aware models the states every later candidate and the backward pass need.
pub struct ListPass<'m> {
    model: &'m EdgeModel,
    features: Vec<EdgeFeatures>,
    e_bc: Vec<f32>,
    /// The links kept before each judged candidate, back to back: (judged index, link).
    kept: Vec<(usize, KeptLink)>,
    /// Where each judged candidate's links start in `kept`, and one past the last.
    kept_start: Vec<usize>,
    /// The judged candidates' states, [`EdgeScorer::state_width`] numbers each.
    states: Vec<f64>,
    /// The ode's forward solves, when it back-propagates through them.
    tapes: Vec<Tape>,
    /// The ode's forward effort.
    effort: Effort,
}

impl ListPass<'_> {
    /// The logit of the next candidate (features `x`, e(b, c) = `e_bc`) against the links kept
    /// so far, given as (rank of the kept candidate, geometry): ranks are judged indexes, as
    /// the rule judges every candidate in order.
    pub fn judge(&mut self, x: &EdgeFeatures, e_bc: f32, kept: &[(usize, KeptLink)]) -> f64 {
        let model = self.model;
        let width = model.state_width();
        let start = self.states.len();
        self.states.resize(start + width, 0.0);
        let (before, state) = self.states.split_at_mut(start);
        let senders = PassSenders {
            links: kept,
            states: before,
            width,
        };
        let s = match model.kind {
            ModelKind::Gnn => gnn::forward(model.shape(), &model.params, x, e_bc, &senders, state),
            ModelKind::Ode => {
                let net = model.net();
                let mut tape = (net.spec.gradient == Gradient::Backprop).then(Tape::default);
                let (s, effort) = ode::forward(net, x, e_bc, &senders, state, tape.as_mut());
                self.effort += effort;
                self.tapes.extend(tape);
                s
            }
            ModelKind::Logistic | ModelKind::Mlp => model.logit(x),
        };
        self.features.push(*x);
        self.e_bc.push(e_bc);
        self.kept.extend_from_slice(kept);
        self.kept_start.push(self.kept.len());
        s
    }

    /// The links kept before judged candidate `j`.
    fn kept_of(&self, j: usize) -> &[(usize, KeptLink)] {
        &self.kept[self.kept_start[j]..self.kept_start[j + 1]]
    }

    /// Judged candidates so far.
    pub fn len(&self) -> usize {
        self.features.len()
    }

    /// Whether none has been judged.
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    /// The same list (same candidates, same kept links) judged again by `model`, whose shape
    /// must be this pass's: the logits at other parameters with the decisions frozen.
    pub fn replay<'n>(&self, model: &'n EdgeModel) -> (ListPass<'n>, Vec<f64>) {
        let mut pass = model.list();
        let logits = (0..self.len())
            .map(|j| pass.judge(&self.features[j], self.e_bc[j], self.kept_of(j)))
            .collect();
        (pass, logits)
    }

    /// Adds Σ_j `upstream[j]`·∂s_j/∂θ over the judged candidates into `grad`.
    pub fn backward(&self, upstream: &[f64], grad: &mut [f64]) {
        let method = self.model.ode.map_or(Gradient::Backprop, |spec| spec.gradient);
        self.backward_by(method, upstream, grad);
    }

    /// [`ListPass::backward`] with the ode differentiated by `method` (back-propagation needs
    /// a pass that recorded its solves; without, the adjoint is used); returns the adjoint
    /// solves' effort and the largest augmented state they held (zeros otherwise).
    pub(crate) fn backward_by(
        &self,
        method: Gradient,
        upstream: &[f64],
        grad: &mut [f64],
    ) -> (Effort, usize) {
        let model = self.model;
        let judged = || -> Vec<Judged<'_>> {
            (0..self.len())
                .map(|j| Judged {
                    x: &self.features[j],
                    e_bc: self.e_bc[j],
                    kept: self.kept_of(j),
                })
                .collect()
        };
        match model.kind {
            ModelKind::Gnn => {
                let states: Vec<&[f64]> = self.states.chunks_exact(model.state_width()).collect();
                gnn::backward(model.shape(), &model.params, &judged(), &states, upstream, grad);
                (Effort::default(), 0)
            }
            ModelKind::Ode => ode::backward(
                model.net(),
                &judged(),
                &self.tapes,
                &self.states,
                upstream,
                method,
                grad,
            ),
            ModelKind::Logistic | ModelKind::Mlp => {
                for (x, &up) in self.features.iter().zip(upstream) {
                    model.logit_and_grad(x, up, grad);
                }
                (Effort::default(), 0)
            }
        }
    }

    /// The ode's forward solves so far.
    pub(crate) fn effort(&self) -> Effort {
        self.effort
    }

    /// Numbers the recorded solves hold (the back-propagation's memory beyond the states).
    pub(crate) fn tape_floats(&self) -> usize {
        self.tapes.iter().map(Tape::floats).sum()
    }
}

/// A uniform draw in [0, 1) from 53 random bits.
pub(crate) fn unit(rng: &mut Xoshiro256PlusPlus) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A standard normal draw (Box–Muller on two uniform draws).
pub(crate) fn normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
    let u = 1.0 - unit(rng); // (0, 1]: ln u is finite
    let v = unit(rng);
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// Asserts that `grad` is the gradient of `f` at `model`'s parameters, by central finite
/// differences (step 1e-6, tolerance 1e-6 relative).
#[cfg(test)]
pub(crate) fn assert_gradient(model: &EdgeModel, f: &dyn Fn(&EdgeModel) -> f64, grad: &[f64]) {
    let h = 1e-6;
    for (i, &g) in grad.iter().enumerate() {
        let mut plus = model.clone();
        plus.params[i] += h;
        let mut minus = model.clone();
        minus.params[i] -= h;
        let fd = (f(&plus) - f(&minus)) / (2.0 * h);
        assert!(
            (fd - g).abs() < 1e-6 * (1.0 + fd.abs()),
            "{:?} θ{i}: {fd} vs {g}",
            model.kind
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(seed: u64) -> EdgeFeatures {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut x = [0.0f32; EDGE_FEATURES];
        x[0] = 1.0;
        for xi in &mut x[1..] {
            *xi = (4.0 * unit(&mut rng) - 2.0) as f32;
        }
        x
    }

    #[test]
    fn gradients_match_central_finite_differences() {
        for kind in [
            ModelKind::Logistic,
            ModelKind::Mlp,
            ModelKind::Gnn,
            ModelKind::Ode,
        ] {
            let mut model = EdgeModel::new(kind, 5, 2, 3);
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
            for p in &mut model.params {
                *p = 2.0 * unit(&mut rng) - 1.0;
            }
            for seed in 0..5 {
                let x = features(seed);
                let mut grad = vec![0.0; model.params.len()];
                model.logit_and_grad(&x, 1.0, &mut grad);
                assert_gradient(&model, &|m| m.logit(&x), &grad);
            }
        }
    }

    /// A synthetic list of `n` judged candidates: random features and e(b, c), and every third
    /// candidate kept, with random geometry to the links kept before it.
    fn judge_list<'m>(model: &'m EdgeModel, n: usize, seed: u64) -> (ListPass<'m>, Vec<f64>) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut pass = model.list();
        let mut kept: Vec<(usize, KeptLink)> = Vec::new();
        let mut logits = Vec::new();
        for j in 0..n {
            let x = features(seed * 100 + j as u64);
            let e_bc = (0.5 + unit(&mut rng)) as f32;
            let links: Vec<(usize, KeptLink)> = kept
                .iter()
                .map(|&(r, _)| {
                    let link = KeptLink {
                        e_br: (0.2 + unit(&mut rng)) as f32,
                        e_cr: (0.1 + 2.0 * unit(&mut rng)) as f32,
                    };
                    (r, link)
                })
                .collect();
            logits.push(pass.judge(&x, e_bc, &links));
            if j % 3 == 0 {
                kept.push((j, KeptLink { e_br: 0.0, e_cr: 0.0 }));
            }
        }
        (pass, logits)
    }

    #[test]
    fn the_gnn_gradient_through_a_whole_list_matches_central_finite_differences() {
        let mut model = EdgeModel::new(ModelKind::Gnn, 3, 2, 7);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(13);
        for p in &mut model.params {
            *p = unit(&mut rng) - 0.5;
        }
        assert_list_gradient(&model);
    }

    /// The whole-list gradient (back-propagation) of Σ_j w_j·s_j against central finite
    /// differences of the replayed list.
    fn assert_list_gradient(model: &EdgeModel) {
        let (pass, weights, grad) = weighted_list_gradient(model, Gradient::Backprop);
        let loss = |m: &EdgeModel| {
            let (_, replayed) = pass.replay(m);
            replayed.iter().zip(&weights).map(|(s, w)| s * w).sum::<f64>()
        };
        assert_gradient(model, &loss, &grad);
    }

    /// An ode model of width `hidden` with parameters uniform in [−0.5, 0.5) and `flow`.
    fn random_ode(hidden: usize, flow: OdeSpec, seed: u64) -> EdgeModel {
        let mut model = EdgeModel::new(ModelKind::Ode, hidden, 0, 7);
        model.ode = Some(flow);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        for p in &mut model.params {
            *p = unit(&mut rng) - 0.5;
        }
        model
    }

    fn flow(horizon: f64, solver: ode::Solver, gradient: Gradient) -> OdeSpec {
        OdeSpec {
            horizon,
            solver,
            gradient,
        }
    }

    /// Σ_j w_j·s_j of a replayed list and its gradient by `method`.
    fn weighted_list_gradient(model: &EdgeModel, method: Gradient) -> (ListPass<'_>, Vec<f64>, Vec<f64>) {
        let (pass, logits) = judge_list(model, 10, 4);
        let weights: Vec<f64> = (0..logits.len()).map(|j| 1.0 + 0.3 * j as f64).collect();
        let mut grad = vec![0.0; model.params.len()];
        pass.backward_by(method, &weights, &mut grad);
        (pass, weights, grad)
    }

    #[test]
    fn the_ode_gradient_through_rk4_steps_matches_central_finite_differences() {
        let model = random_ode(
            3,
            flow(1.5, ode::Solver::Rk4 { steps: 3 }, Gradient::Backprop),
            13,
        );
        assert_list_gradient(&model);
    }

    #[test]
    fn back_propagation_through_the_adaptive_solver_is_the_gradient_of_its_logits() {
        let model = random_ode(
            3,
            flow(2.0, ode::Solver::Dopri5 { tolerance: 1e-9 }, Gradient::Backprop),
            17,
        );
        let (pass, weights, grad) = weighted_list_gradient(&model, Gradient::Backprop);
        assert!(
            pass.effort().rejected + pass.effort().steps > pass.len(),
            "the solver adapted"
        );
        // The step sizes are constants of the gradient, so finite differences (which move them)
        // agree to the step-size sensitivity, O(tolerance), not to 1e-6.
        let h = 1e-5;
        for (i, &g) in grad.iter().enumerate() {
            let at = |delta: f64| {
                let mut m = model.clone();
                m.params[i] += delta;
                let (_, replayed) = pass.replay(&m);
                replayed.iter().zip(&weights).map(|(s, w)| s * w).sum::<f64>()
            };
            let fd = (at(h) - at(-h)) / (2.0 * h);
            assert!((fd - g).abs() < 1e-4 * (1.0 + fd.abs()), "θ{i}: {fd} vs {g}");
        }
    }

    /// ‖g_adjoint − g_backprop‖ / ‖g_backprop‖ on one list.
    fn adjoint_error(model: &EdgeModel) -> f64 {
        let (_, _, exact) = weighted_list_gradient(model, Gradient::Backprop);
        let (_, _, adjoint) = weighted_list_gradient(model, Gradient::Adjoint);
        let diff: f64 = exact.iter().zip(&adjoint).map(|(a, b)| (a - b).powi(2)).sum();
        let norm: f64 = exact.iter().map(|a| a * a).sum();
        (diff / norm).sqrt()
    }

    #[test]
    fn the_adjoint_gradient_converges_to_back_propagation_as_the_solver_refines() {
        let at = |solver| adjoint_error(&random_ode(4, flow(2.0, solver, Gradient::Backprop), 21));
        let coarse = at(ode::Solver::Rk4 { steps: 2 });
        let fine = at(ode::Solver::Rk4 { steps: 16 });
        assert!(coarse > 1e-4, "a coarse adjoint solve is visibly off: {coarse}");
        assert!(fine < coarse / 500.0, "fourth order: {coarse} → {fine}");
        let adaptive = at(ode::Solver::Dopri5 { tolerance: 1e-10 });
        assert!(adaptive < 1e-6, "{adaptive}");
    }

    #[test]
    fn the_build_path_of_the_list_aware_scorers_scores_a_list_as_training_does() {
        let mut gnn = EdgeModel::new(ModelKind::Gnn, 4, 3, 9);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
        for p in &mut gnn.params {
            *p = 2.0 * unit(&mut rng) - 1.0;
        }
        let rk4 = random_ode(4, flow(1.0, ode::Solver::Rk4 { steps: 4 }, Gradient::Backprop), 3);
        let dopri5 = random_ode(
            4,
            flow(3.0, ode::Solver::Dopri5 { tolerance: 1e-6 }, Gradient::Adjoint),
            4,
        );
        for model in [gnn, rk4, dopri5] {
            let (pass, logits) = judge_list(&model, 12, 8);
            let width = model.state_width();
            let mut kept_states: Vec<f64> = Vec::new();
            for (j, &logit) in logits.iter().enumerate() {
                let links: Vec<KeptLink> = pass.kept_of(j).iter().map(|&(_, k)| k).collect();
                let mut state = vec![0.0; width];
                let s =
                    model.score_in_list(&pass.features[j], pass.e_bc[j], &links, &kept_states, &mut state);
                assert!(
                    (f64::from(s) - logit).abs() < 1e-5 * (1.0 + logit.abs()),
                    "{:?}: {s} vs {logit}",
                    model.kind
                );
                if j % 3 == 0 {
                    kept_states.extend(state);
                }
            }
        }
    }

    #[test]
    fn the_list_aware_scorers_with_a_zero_network_are_the_logistic_model() {
        let mut logistic = EdgeModel::new(ModelKind::Logistic, 0, 0, 1);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        for p in &mut logistic.params {
            *p = unit(&mut rng) - 0.5;
        }
        let mut gnn = EdgeModel::new(ModelKind::Gnn, 4, 2, 1);
        let skip = gnn.params.len() - EDGE_FEATURES;
        gnn.params[..skip].iter_mut().for_each(|p| *p = 0.0);
        gnn.params[skip..].copy_from_slice(&logistic.params);
        let mut ode = random_ode(
            4,
            flow(2.0, ode::Solver::Dopri5 { tolerance: 1e-6 }, Gradient::Adjoint),
            5,
        );
        let skip = ode.params.len() - EDGE_FEATURES;
        ode.params[..skip].iter_mut().for_each(|p| *p = 0.0);
        ode.params[skip..].copy_from_slice(&logistic.params);
        let (_, expected) = judge_list(&logistic, 9, 5);
        for model in [gnn, ode] {
            let (_, logits) = judge_list(&model, 9, 5);
            for (x, y) in logits.iter().zip(&expected) {
                assert!((x - y).abs() < 1e-12, "{:?}", model.kind);
            }
        }
    }

    #[test]
    fn validate_rejects_what_the_build_cannot_use() {
        let good = EdgeModel::new(ModelKind::Mlp, 4, 0, 1);
        assert!(good.validate().is_ok());
        let mut short = good.clone();
        short.params.pop();
        assert!(short.validate().is_err());
        let mut renamed = good.clone();
        renamed.features[2] = "something_else".into();
        assert!(renamed.validate().is_err());
        let mut nan = good;
        nan.params[0] = f64::NAN;
        assert!(nan.validate().is_err());
        let gnn = EdgeModel::new(ModelKind::Gnn, 4, 2, 1);
        assert!(gnn.validate().is_ok());
        let mut deeper = gnn.clone();
        deeper.layers = 3;
        assert!(
            deeper.validate().is_err(),
            "the parameter count follows the depth"
        );
        let mut flat = gnn;
        flat.layers = 0;
        assert!(flat.validate().is_err());
        let ode = EdgeModel::new(ModelKind::Ode, 4, 0, 1);
        assert!(ode.validate().is_ok());
        let mut no_flow = ode.clone();
        no_flow.ode = None;
        assert!(no_flow.validate().is_err());
        let mut layered = ode.clone();
        layered.layers = 2;
        assert!(layered.validate().is_err());
        let mut endless = ode;
        endless.ode = Some(OdeSpec {
            horizon: 1e9,
            ..OdeSpec::default()
        });
        assert!(endless.validate().is_err());
    }
}
