//! Traced searches as episodes of a stopping decision, shared by the PPO policy (`ppo.rs`) and
//! the continual-learning study (`continual.rs`): at each check of a trace the standardised
//! features (the state), the recall reached so far and the work done. Both learners fit a
//! linear model over the same state with Adam, and both judge a model the same way: replay
//! the deterministic rule "stop at the first check where σ(w·s) ≥ threshold" on the episodes.

use geodex_core::stop::FEATURES;

use crate::QueryTrace;

/// Parameters of a linear model over the stopping features: bias, then one per feature.
pub const PARAMS: usize = FEATURES + 1;

/// A standardised state with its bias input (first component 1).
pub type State = [f64; PARAMS];

/// One traced search as an episode.
#[derive(Clone, Debug)]
pub struct Episode {
    /// The state at each check.
    pub states: Vec<State>,
    /// Recall@k reached at each check.
    pub recall: Vec<f64>,
    /// Distance evaluations at each check over the mean final count of all episodes.
    pub work: Vec<f64>,
}

/// Episodes of the traces with at least one check, states standardised by `scale`.
pub fn episodes(traces: &[QueryTrace], scale: &[(f32, f32)]) -> Vec<Episode> {
    let kept: Vec<&QueryTrace> = traces.iter().filter(|t| !t.rows.is_empty()).collect();
    let finals = kept
        .iter()
        .map(|t| *t.distances.last().unwrap_or(&1) as f64)
        .sum::<f64>();
    let unit = (finals / kept.len().max(1) as f64).max(1.0);
    kept.iter()
        .map(|t| Episode {
            states: t.rows.iter().map(|(f, _)| state(f, scale)).collect(),
            recall: t.rows.iter().map(|r| r.1 as f64).collect(),
            work: t.distances.iter().map(|&d| d as f64 / unit).collect(),
        })
        .collect()
}

/// The standardised state of features `f`.
pub fn state(f: &[f32; FEATURES], scale: &[(f32, f32)]) -> State {
    let mut x = [1.0; PARAMS];
    for (j, (v, (m, s))) in f.iter().zip(scale).enumerate() {
        x[j + 1] = ((v - m) / s) as f64;
    }
    x
}

/// The dot product of two parameter-sized vectors.
pub(crate) fn dot(a: &State, b: &State) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The logistic function.
pub(crate) fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Adam's state for one parameter vector (Kingma & Ba 2015: β₁ 0.9, β₂ 0.999, ε 1e-8).
pub(crate) struct Adam {
    m: State,
    v: State,
    t: i32,
}

impl Adam {
    pub(crate) fn new() -> Self {
        Adam {
            m: [0.0; PARAMS],
            v: [0.0; PARAMS],
            t: 0,
        }
    }

    /// Moves `w` along `grad` (ascent) by Adam's rule with step size `lr`.
    pub(crate) fn ascend(&mut self, w: &mut State, grad: &State, lr: f64) {
        let (b1, b2, eps) = (0.9, 0.999, 1e-8);
        self.t += 1;
        for j in 0..PARAMS {
            self.m[j] = b1 * self.m[j] + (1.0 - b1) * grad[j];
            self.v[j] = b2 * self.v[j] + (1.0 - b2) * grad[j] * grad[j];
            let m_hat = self.m[j] / (1.0 - b1.powi(self.t));
            let v_hat = self.v[j] / (1.0 - b2.powi(self.t));
            w[j] += lr * m_hat / (v_hat.sqrt() + eps);
        }
    }
}

/// The deterministic rule `stop when σ(θ·s) ≥ threshold` replayed on `episodes`: mean recall
/// and mean work at the stop.
pub fn replay(weights: &State, episodes: &[Episode], threshold: f64) -> (f64, f64) {
    let (mut recall, mut work) = (0.0, 0.0);
    for e in episodes {
        let t = (0..e.states.len())
            .find(|&t| sigmoid(dot(weights, &e.states[t])) >= threshold)
            .unwrap_or(e.states.len() - 1);
        recall += e.recall[t];
        work += e.work[t];
    }
    let n = episodes.len().max(1) as f64;
    (recall / n, work / n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_stops_at_the_first_check_over_the_threshold() {
        let e = Episode {
            states: vec![
                [1.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            ],
            recall: vec![0.4, 0.9],
            work: vec![0.5, 1.0],
        };
        let mut w = [0.0; PARAMS];
        w[1] = 5.0; // σ(−5) ≈ 0.007, σ(5) ≈ 0.993
        assert_eq!(replay(&w, std::slice::from_ref(&e), 0.5), (0.9, 1.0));
        assert_eq!(replay(&w, std::slice::from_ref(&e), 0.001), (0.4, 0.5));
        // A threshold above 1 never stops early: the natural end.
        assert_eq!(replay(&w, &[e], 2.0), (0.9, 1.0));
    }
}
