//! Edge scorers s_θ(x) over the features of a candidate edge (`geodex_core::edges`): shared
//! weights, not one weight per edge, so a trained scorer applies to nodes it never saw.
//!
//! - **logistic**: s = θ·x (x holds a bias component);
//! - **mlp**: s = w₂·tanh(W₁x + b₁) + b₂, one hidden layer.
//!
//! Gradients are written by hand (a few dozen parameters; a tensor framework would cost more
//! build time than the model) and checked against central finite differences in the tests.

use geodex_core::edges::{EdgeFeatures, EDGE_FEATURES, FEATURE_NAMES};
use geodex_core::EdgeScorer;
use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use crate::EdgesError;

/// The scorer's family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// θ·x.
    Logistic,
    /// One tanh hidden layer.
    Mlp,
}

impl std::str::FromStr for ModelKind {
    type Err = EdgesError;
    fn from_str(s: &str) -> Result<Self, EdgesError> {
        match s {
            "logistic" => Ok(ModelKind::Logistic),
            "mlp" => Ok(ModelKind::Mlp),
            other => Err(EdgesError::Invalid(format!(
                "unknown edge model {other:?} (logistic, mlp)"
            ))),
        }
    }
}

/// A trained (or initial) scorer: its family, width and flat parameter vector θ.
///
/// Layout of θ: logistic — the `EDGE_FEATURES` weights; mlp — W₁ (hidden × features, row-major),
/// b₁ (hidden), w₂ (hidden), b₂.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EdgeModel {
    /// Family.
    pub kind: ModelKind,
    /// Hidden units (mlp only; 0 for logistic).
    pub hidden: usize,
    /// θ.
    pub params: Vec<f64>,
    /// The feature names the parameters were trained on, in order (checked on load).
    pub features: Vec<String>,
    /// The score a candidate needs to be kept: chosen after training so that the rule keeps, on
    /// the training nodes, as many links as the heuristic does.
    pub threshold: f64,
}

impl EdgeModel {
    /// A model of `kind` with small random weights (seeded), or zeros for logistic.
    pub fn new(kind: ModelKind, hidden: usize, seed: u64) -> EdgeModel {
        let hidden = if kind == ModelKind::Mlp { hidden.max(1) } else { 0 };
        let len = match kind {
            ModelKind::Logistic => EDGE_FEATURES,
            ModelKind::Mlp => hidden * EDGE_FEATURES + 2 * hidden + 1,
        };
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let scale = 1.0 / (EDGE_FEATURES as f64).sqrt();
        let params = (0..len)
            .map(|_| match kind {
                ModelKind::Logistic => 0.0,
                ModelKind::Mlp => scale * (2.0 * unit(&mut rng) - 1.0),
            })
            .collect();
        EdgeModel {
            kind,
            hidden,
            params,
            features: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
            threshold: 0.0,
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
        let want = match self.kind {
            ModelKind::Logistic => EDGE_FEATURES,
            ModelKind::Mlp => self.hidden * EDGE_FEATURES + 2 * self.hidden + 1,
        };
        if self.params.len() != want || (self.kind == ModelKind::Mlp && self.hidden == 0) {
            return Err(EdgesError::Invalid(format!(
                "a {:?} model with {} hidden units needs {want} parameters, the file has {}",
                self.kind,
                self.hidden,
                self.params.len()
            )));
        }
        if !self.threshold.is_finite() || self.params.iter().any(|p| !p.is_finite()) {
            return Err(EdgesError::Invalid("the model holds a non-finite number".into()));
        }
        Ok(())
    }

    /// s_θ(x).
    pub fn logit(&self, x: &EdgeFeatures) -> f64 {
        self.forward(x, None)
    }

    /// s_θ(x), and ∂s/∂θ scaled by `upstream` added into `grad` (same layout as θ).
    pub fn logit_and_grad(&self, x: &EdgeFeatures, upstream: f64, grad: &mut [f64]) -> f64 {
        self.forward(x, Some((upstream, grad)))
    }

    fn forward(&self, x: &EdgeFeatures, grad: Option<(f64, &mut [f64])>) -> f64 {
        let p = &self.params;
        match self.kind {
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
        for kind in [ModelKind::Logistic, ModelKind::Mlp] {
            let mut model = EdgeModel::new(kind, 5, 3);
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

    #[test]
    fn validate_rejects_what_the_build_cannot_use() {
        let good = EdgeModel::new(ModelKind::Mlp, 4, 1);
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
    }
}
