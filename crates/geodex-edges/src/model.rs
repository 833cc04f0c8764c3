//! Edge scorers s_θ(x) over the features of a candidate edge (`geodex_core::edges`): shared
//! weights, not one weight per edge, so a trained scorer applies to nodes it never saw.
//!
//! - **logistic**: s = θ·x (x holds a bias component);
//! - **mlp**: s = w₂·tanh(W₁x + b₁) + b₂, one hidden layer;
//! - **gnn**: a fixed-depth message-passing network over the candidate list ([`crate::gnn`]),
//!   which also sees the links kept so far in the list.
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

use crate::gnn::{self, JudgedInput, Shape};
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
}

impl std::str::FromStr for ModelKind {
    type Err = EdgesError;
    fn from_str(s: &str) -> Result<Self, EdgesError> {
        match s {
            "logistic" => Ok(ModelKind::Logistic),
            "mlp" => Ok(ModelKind::Mlp),
            "gnn" => Ok(ModelKind::Gnn),
            other => Err(EdgesError::Invalid(format!(
                "unknown edge model {other:?} (logistic, mlp, gnn)"
            ))),
        }
    }
}

/// A trained (or initial) scorer: its family, width and flat parameter vector θ.
///
/// Layout of θ: logistic — the `EDGE_FEATURES` weights; mlp — W₁ (hidden × features, row-major),
/// b₁ (hidden), w₂ (hidden), b₂; gnn — as documented in [`crate::gnn`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EdgeModel {
    /// Family.
    pub kind: ModelKind,
    /// Hidden units (mlp, gnn; 0 for logistic).
    pub hidden: usize,
    /// Message-passing layers (gnn only; 0 otherwise; absent in files written before gnn).
    #[serde(default)]
    pub layers: usize,
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
    /// counts for gnn only.
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
                ModelKind::Mlp | ModelKind::Gnn => scale * (2.0 * unit(&mut rng) - 1.0),
            })
            .collect();
        if kind == ModelKind::Gnn {
            // The linear skip starts at 0, as the logistic model does.
            params[len - EDGE_FEATURES..].iter_mut().for_each(|p| *p = 0.0);
        }
        EdgeModel {
            kind,
            hidden,
            layers,
            params,
            features: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
            threshold: 0.0,
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
        };
        if !shaped {
            return Err(EdgesError::Invalid(format!(
                "a {:?} model needs 1–{MAX_HIDDEN} hidden units (gnn: 1–{MAX_LAYERS} layers); the file has {} and {}",
                self.kind, self.hidden, self.layers
            )));
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
            states: Vec::new(),
        }
    }

    /// s_θ(x), and ∂s/∂θ scaled by `upstream` added into `grad` (same layout as θ).
    pub fn logit_and_grad(&self, x: &EdgeFeatures, upstream: f64, grad: &mut [f64]) -> f64 {
        self.forward(x, Some((upstream, grad)))
    }

    fn forward(&self, x: &EdgeFeatures, grad: Option<(f64, &mut [f64])>) -> f64 {
        let p = &self.params;
        match self.kind {
            ModelKind::Gnn => {
                let shape = self.shape();
                let mut state = vec![0.0; shape.state()];
                let s = gnn::forward(shape, p, x, 0.0, &[], |_| &[], &mut state);
                if let Some((up, g)) = grad {
                    let input = JudgedInput {
                        x,
                        e_bc: 0.0,
                        kept: &[],
                    };
                    gnn::backward(shape, p, &[input], &[&state], &[up], g);
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
        if self.kind != ModelKind::Gnn {
            return self.score(features);
        }
        let shape = self.shape();
        let width = shape.state();
        gnn::forward(
            shape,
            &self.params,
            features,
            e_bc,
            kept,
            |k| &kept_states[k * width..][..width],
            state,
        ) as f32
    }
}

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
    }
}

/// One list judged by a model, candidate by candidate in the rule's order: the logits, and
/// for the gnn the states every later candidate and the backward pass need.
pub struct ListPass<'m> {
    model: &'m EdgeModel,
    features: Vec<EdgeFeatures>,
    e_bc: Vec<f32>,
    /// Per judged candidate, the links kept before it: (judged index, geometry).
    kept: Vec<Vec<(usize, KeptLink)>>,
    /// Per judged candidate, its states (gnn; empty otherwise).
    states: Vec<Vec<f64>>,
}

impl ListPass<'_> {
    /// The logit of the next candidate (features `x`, e(b, c) = `e_bc`) against the links kept
    /// so far, given as (rank of the kept candidate, geometry): ranks are judged indexes, as
    /// the rule judges every candidate in order.
    pub fn judge(&mut self, x: &EdgeFeatures, e_bc: f32, kept: &[(usize, KeptLink)]) -> f64 {
        let model = self.model;
        let s = match model.kind {
            ModelKind::Gnn => {
                let shape = model.shape();
                let links: Vec<KeptLink> = kept.iter().map(|&(_, k)| k).collect();
                let mut state = vec![0.0; shape.state()];
                let states = &self.states;
                let s = gnn::forward(
                    shape,
                    &model.params,
                    x,
                    e_bc,
                    &links,
                    |k| states[kept[k].0].as_slice(),
                    &mut state,
                );
                self.states.push(state);
                s
            }
            ModelKind::Logistic | ModelKind::Mlp => model.logit(x),
        };
        self.features.push(*x);
        self.e_bc.push(e_bc);
        self.kept.push(kept.to_vec());
        s
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
            .map(|j| pass.judge(&self.features[j], self.e_bc[j], &self.kept[j]))
            .collect();
        (pass, logits)
    }

    /// Adds Σ_j `upstream[j]`·∂s_j/∂θ over the judged candidates into `grad`.
    pub fn backward(&self, upstream: &[f64], grad: &mut [f64]) {
        let model = self.model;
        match model.kind {
            ModelKind::Gnn => {
                let inputs: Vec<JudgedInput<'_>> = (0..self.len())
                    .map(|j| JudgedInput {
                        x: &self.features[j],
                        e_bc: self.e_bc[j],
                        kept: &self.kept[j],
                    })
                    .collect();
                let states: Vec<&[f64]> = self.states.iter().map(Vec::as_slice).collect();
                gnn::backward(model.shape(), &model.params, &inputs, &states, upstream, grad);
            }
            ModelKind::Logistic | ModelKind::Mlp => {
                for (x, &up) in self.features.iter().zip(upstream) {
                    model.logit_and_grad(x, up, grad);
                }
            }
        }
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
        for kind in [ModelKind::Logistic, ModelKind::Mlp, ModelKind::Gnn] {
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
        let (pass, logits) = judge_list(&model, 10, 4);
        let weights: Vec<f64> = (0..logits.len()).map(|j| 1.0 + 0.3 * j as f64).collect();
        let mut grad = vec![0.0; model.params.len()];
        pass.backward(&weights, &mut grad);
        let loss = |m: &EdgeModel| {
            let (_, replayed) = pass.replay(m);
            replayed.iter().zip(&weights).map(|(s, w)| s * w).sum::<f64>()
        };
        assert_gradient(&model, &loss, &grad);
        // The later candidates' logits depend on the kept links' states: messages flow.
        let mut changed = model.clone();
        changed.params[0] += 0.5;
        let (_, replayed) = pass.replay(&changed);
        assert!(replayed.iter().zip(&logits).any(|(a, b)| (a - b).abs() > 1e-6));
    }

    #[test]
    fn the_build_path_of_the_gnn_scores_a_list_as_training_does() {
        let mut model = EdgeModel::new(ModelKind::Gnn, 4, 3, 9);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
        for p in &mut model.params {
            *p = 2.0 * unit(&mut rng) - 1.0;
        }
        let (pass, logits) = judge_list(&model, 12, 8);
        let width = model.state_width();
        let mut kept_states: Vec<f64> = Vec::new();
        for (j, &logit) in logits.iter().enumerate() {
            let links: Vec<KeptLink> = pass.kept[j].iter().map(|&(_, k)| k).collect();
            let mut state = vec![0.0; width];
            let s = model.score_in_list(&pass.features[j], pass.e_bc[j], &links, &kept_states, &mut state);
            assert!(
                (f64::from(s) - logit).abs() < 1e-5 * (1.0 + logit.abs()),
                "{s} vs {logit}"
            );
            if j % 3 == 0 {
                kept_states.extend(state);
            }
        }
    }

    #[test]
    fn the_gnn_with_a_zero_network_is_the_logistic_model() {
        let mut logistic = EdgeModel::new(ModelKind::Logistic, 0, 0, 1);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        for p in &mut logistic.params {
            *p = unit(&mut rng) - 0.5;
        }
        let mut gnn = EdgeModel::new(ModelKind::Gnn, 4, 2, 1);
        let skip = gnn.params.len() - EDGE_FEATURES;
        gnn.params[..skip].iter_mut().for_each(|p| *p = 0.0);
        gnn.params[skip..].copy_from_slice(&logistic.params);
        let (_, a) = judge_list(&gnn, 9, 5);
        let (_, b) = judge_list(&logistic, 9, 5);
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-12);
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
    }
}
