//! THEORY §5.2: a stopping policy learned with PPO (Schulman, Wolski, Dhariwal, Radford &
//! Klimov 2017, "Proximal Policy Optimization Algorithms").
//!
//! **The decision process.** An episode is one query's search traced at the cap beam width
//! (`QueryTrace`): at each check (every `interval` distance evaluations) the state is the
//! [`FEATURES`] scale-free features, standardised as the supervised rule's; the actions are
//! *continue* and *stop*. Stopping at check t ends the episode with reward
//! `recall_t − c · work_t`, work being distance evaluations over the mean final count of the
//! traces (so `c` is the recall a query may give up for one cap search's worth of work); the
//! trace's last check is the search's natural end, where stopping is forced. Rewards are
//! discounted by γ per check. Because a search's trajectory does not depend on when it will
//! stop, episodes replay recorded traces rather than searching again.
//!
//! **The learner.** A logistic policy π(stop | s) = σ(θ·s) over the same features as the
//! supervised rule (so the comparison is between two ways of fitting one decision boundary: to
//! the recall so far, or to the reward), a linear value baseline V(s) = φ·s, generalised
//! advantage estimation (Schulman et al. 2016, λ), the clipped surrogate objective
//! `min(ρA, clip(ρ, 1 − ε, 1 + ε)A)` with ε = 0.2, an entropy bonus, and Adam (Kingma & Ba
//! 2015) on minibatches for several epochs per batch of episodes. Written here rather than
//! with a learning framework: a 16-parameter policy and value need a dot product and one
//! closed-form gradient per step, and a framework would add minutes of build for nothing.

use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::episode::{dot, sigmoid, Adam};
pub use crate::episode::{episodes, replay, state, Episode, State, PARAMS};

/// Settings of [`train`]; the defaults follow §5.2 (clip 0.2, γ in 0.95–0.99) and the PPO
/// paper's common choices (λ 0.95, 4 epochs, Adam).
#[derive(Clone, Debug)]
pub struct PpoOptions {
    /// Costs `c` of one cap search's work in recall, swept; `learn` keeps the one whose
    /// calibrated rule needs the least work.
    pub costs: Vec<f64>,
    /// Discount per check.
    pub gamma: f64,
    /// GAE's λ.
    pub lambda: f64,
    /// The surrogate's clip ε.
    pub clip: f64,
    /// Batches of episodes (policy iterations).
    pub iterations: usize,
    /// Episodes per batch.
    pub episodes: usize,
    /// Passes over each batch.
    pub epochs: usize,
    /// Steps per gradient update.
    pub minibatch: usize,
    /// Adam's step size, for the policy and the value function.
    pub learning_rate: f64,
    /// Weight of the policy's entropy in the objective.
    pub entropy: f64,
    /// Seed of the episode draws and the actions.
    pub seed: u64,
}

impl Default for PpoOptions {
    fn default() -> Self {
        PpoOptions {
            costs: vec![0.01, 0.02, 0.05, 0.1, 0.2],
            gamma: 0.99,
            lambda: 0.95,
            clip: 0.2,
            iterations: 150,
            episodes: 256,
            epochs: 4,
            minibatch: 256,
            learning_rate: 0.01,
            entropy: 0.01,
            seed: 42,
        }
    }
}

/// One decision of a rollout.
#[derive(Clone, Copy, Debug)]
pub struct Step {
    /// The state.
    pub x: State,
    /// Whether the policy stopped.
    pub stop: bool,
    /// log π_old(action | x) when the step was taken.
    pub log_prob: f64,
    /// The advantage estimate (normalised over the batch).
    pub advantage: f64,
}

/// The clipped surrogate plus the entropy bonus, averaged over `steps`, and its gradient in
/// θ: for a logistic policy d log π(a)/dz = a − p, and dH/dz = −z·p·(1 − p).
pub fn surrogate(theta: &State, steps: &[Step], clip: f64, entropy: f64) -> (f64, State) {
    let (mut value, mut grad) = (0.0, [0.0; PARAMS]);
    for s in steps {
        let z = dot(theta, &s.x);
        let p = sigmoid(z);
        let (log_prob, dlog) = if s.stop {
            (p.ln(), 1.0 - p)
        } else {
            ((1.0 - p).ln(), -p)
        };
        let ratio = (log_prob - s.log_prob).exp();
        let a = s.advantage;
        let clipped = ratio.clamp(1.0 - clip, 1.0 + clip) * a;
        let unclipped = ratio * a;
        let h = -(p * p.ln() + (1.0 - p) * (1.0 - p).ln());
        value += unclipped.min(clipped) + entropy * h;
        // The unclipped term is the minimum (and carries the gradient) unless the ratio has
        // left the trust region in the direction the advantage favours.
        let mut dz = if unclipped <= clipped {
            a * ratio * dlog
        } else {
            0.0
        };
        dz += entropy * (-z * p * (1.0 - p));
        for (g, x) in grad.iter_mut().zip(&s.x) {
            *g += dz * x;
        }
    }
    let n = steps.len().max(1) as f64;
    grad.iter_mut().for_each(|g| *g /= n);
    (value / n, grad)
}

/// A trained policy.
#[derive(Clone, Debug)]
pub struct Policy {
    /// The cost it was trained for.
    pub cost: f64,
    /// θ: the stop logit's weights on the standardised state (bias first).
    pub weights: State,
    /// φ: the value baseline's weights.
    pub value: State,
    /// Mean episode reward of each batch (the learning curve).
    pub curve: Vec<f64>,
}

/// The stop logit's bias before training: σ(−3) ≈ 0.05 per check, so early rollouts reach
/// the long episodes where stopping matters instead of ending at the first check.
const INITIAL_BIAS: f64 = -3.0;

/// Trains a policy with PPO on `episodes` for reward `recall − cost·work`; with no episodes
/// (or no checks in them) the untrained policy comes back with an empty curve.
pub fn train(episodes: &[Episode], cost: f64, o: &PpoOptions) -> Policy {
    let episodes: Vec<&Episode> = episodes.iter().filter(|e| !e.states.is_empty()).collect();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(o.seed);
    let mut uniform = move || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let mut theta = [0.0; PARAMS];
    theta[0] = INITIAL_BIAS;
    let mut phi = [0.0; PARAMS];
    let (mut adam_theta, mut adam_phi) = (Adam::new(), Adam::new());
    let mut curve = Vec::with_capacity(o.iterations);
    let iterations = if episodes.is_empty() { 0 } else { o.iterations };
    for _ in 0..iterations {
        let mut batch = Vec::new();
        let mut total = 0.0;
        for _ in 0..o.episodes {
            let e = episodes[(uniform() * episodes.len() as f64) as usize % episodes.len()];
            total += rollout(e, &theta, &phi, cost, &mut uniform, &mut batch);
        }
        curve.push(total / o.episodes as f64);
        let (mut steps, returns) = advantages(&batch, o);
        normalise(&mut steps);
        for _ in 0..o.epochs {
            let mut order: Vec<usize> = (0..steps.len()).collect();
            for i in (1..order.len()).rev() {
                order.swap(i, (uniform() * (i + 1) as f64) as usize % (i + 1));
            }
            for chunk in order.chunks(o.minibatch.max(1)) {
                let mb: Vec<Step> = chunk.iter().map(|&i| steps[i]).collect();
                let (_, g) = surrogate(&theta, &mb, o.clip, o.entropy);
                adam_theta.ascend(&mut theta, &g, o.learning_rate);
                let mut gv = [0.0; PARAMS];
                for &i in chunk {
                    let err = returns[i].0 - dot(&phi, &returns[i].1);
                    for (g, x) in gv.iter_mut().zip(&returns[i].1) {
                        *g += err * x / chunk.len() as f64;
                    }
                }
                adam_phi.ascend(&mut phi, &gv, o.learning_rate);
            }
        }
    }
    Policy {
        cost,
        weights: theta,
        value: phi,
        curve,
    }
}

/// A recorded transition: state, action, log-probability, value, reward, and whether the
/// episode ended (and whether the stop was forced, carrying no decision).
struct Transition {
    x: State,
    stop: bool,
    log_prob: f64,
    value: f64,
    reward: f64,
    forced: bool,
}

/// Plays one episode with the stochastic policy, appending its transitions; returns its reward.
fn rollout(
    e: &Episode,
    theta: &State,
    phi: &State,
    cost: f64,
    uniform: &mut impl FnMut() -> f64,
    out: &mut Vec<Transition>,
) -> f64 {
    let last = e.states.len() - 1;
    for t in 0..=last {
        let x = e.states[t];
        let p = sigmoid(dot(theta, &x));
        let forced = t == last;
        let stop = forced || uniform() < p;
        let reward = if stop { e.recall[t] - cost * e.work[t] } else { 0.0 };
        out.push(Transition {
            x,
            stop,
            log_prob: if stop { p.ln() } else { (1.0 - p).ln() },
            value: dot(phi, &x),
            reward,
            forced,
        });
        if stop {
            return reward;
        }
    }
    unreachable!("the last check always stops")
}

/// GAE(γ, λ) advantages of the decision steps and the value targets (return, state) of every
/// step; episodes are contiguous in `batch` and each ends with a stop.
fn advantages(batch: &[Transition], o: &PpoOptions) -> (Vec<Step>, Vec<(f64, State)>) {
    let n = batch.len();
    let mut adv = vec![0.0; n];
    let (mut next_value, mut next_adv) = (0.0, 0.0);
    for i in (0..n).rev() {
        let t = &batch[i];
        let (v1, a1) = if t.stop {
            (0.0, 0.0)
        } else {
            (next_value, next_adv)
        };
        let delta = t.reward + o.gamma * v1 - t.value;
        adv[i] = delta + o.gamma * o.lambda * a1;
        next_value = t.value;
        next_adv = adv[i];
    }
    let returns = batch.iter().zip(&adv).map(|(t, a)| (a + t.value, t.x)).collect();
    let steps = batch
        .iter()
        .zip(&adv)
        .filter(|(t, _)| !t.forced)
        .map(|(t, &a)| Step {
            x: t.x,
            stop: t.stop,
            log_prob: t.log_prob,
            advantage: a,
        })
        .collect();
    (steps, returns)
}

/// Advantages to mean 0 and standard deviation 1 over the batch.
fn normalise(steps: &mut [Step]) {
    let n = steps.len().max(1) as f64;
    let mean = steps.iter().map(|s| s.advantage).sum::<f64>() / n;
    let sd = (steps.iter().map(|s| (s.advantage - mean).powi(2)).sum::<f64>() / n).sqrt();
    for s in steps {
        s.advantage = (s.advantage - mean) / sd.max(1e-8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps() -> Vec<Step> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let mut u = move || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
        (0..40)
            .map(|i| {
                let mut x = [1.0; PARAMS];
                x.iter_mut().skip(1).for_each(|v| *v = 2.0 * u());
                Step {
                    x,
                    stop: i % 3 == 0,
                    log_prob: (0.4 + 0.5 * u()).ln(),
                    advantage: 2.0 * u(),
                }
            })
            .collect()
    }

    #[test]
    fn the_surrogate_gradient_matches_finite_differences() {
        let s = steps();
        let mut theta = [0.0; PARAMS];
        theta
            .iter_mut()
            .enumerate()
            .for_each(|(j, t)| *t = 0.1 * j as f64 - 0.3);
        // A wide and a narrow clip: the second puts some steps outside the trust region.
        for clip in [10.0, 0.2] {
            let (_, g) = surrogate(&theta, &s, clip, 0.01);
            for j in 0..PARAMS {
                let h = 1e-6;
                let (mut up, mut down) = (theta, theta);
                up[j] += h;
                down[j] -= h;
                let fd = (surrogate(&up, &s, clip, 0.01).0 - surrogate(&down, &s, clip, 0.01).0) / (2.0 * h);
                assert!(
                    (fd - g[j]).abs() < 1e-5,
                    "clip {clip} param {j}: {fd} vs {}",
                    g[j]
                );
            }
        }
    }

    /// Episodes where recall jumps from 0.5 to 1 at a random check and feature 1 says whether it
    /// has: the best policy stops exactly when the feature turns on.
    fn signal_episodes(n: usize) -> Vec<Episode> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
        (0..n)
            .map(|_| {
                let len = 20;
                let jump = 2 + (rng.next_u64() % 15) as usize;
                let mut states = Vec::new();
                for t in 0..len {
                    let mut x = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
                    x[1] = if t >= jump { 1.0 } else { -1.0 };
                    x[2] = t as f64 / len as f64;
                    states.push(x);
                }
                Episode {
                    states,
                    recall: (0..len).map(|t| if t >= jump { 1.0 } else { 0.5 }).collect(),
                    work: (0..len).map(|t| (t + 1) as f64 / len as f64).collect(),
                }
            })
            .collect()
    }

    #[test]
    fn ppo_learns_to_stop_when_the_signal_says_so() {
        let eps = signal_episodes(400);
        let cost = 0.2;
        // Best possible mean reward: stop at each episode's jump.
        let best: f64 = eps
            .iter()
            .map(|e| {
                let t = e.recall.iter().position(|&r| r == 1.0).unwrap();
                1.0 - cost * e.work[t]
            })
            .sum::<f64>()
            / eps.len() as f64;
        let o = PpoOptions {
            iterations: 60,
            ..PpoOptions::default()
        };
        let policy = train(&eps, cost, &o);
        assert!(
            train(&[], cost, &o).curve.is_empty(),
            "no episodes: no training, no panic"
        );
        let (recall, work) = replay(&policy.weights, &eps, 0.5);
        let reward = recall - cost * work;
        assert!(recall > 0.99, "recall {recall}");
        assert!(best - reward < 0.01, "reward {reward} against the best {best}");
        // The learning curve rose from the untrained policy's.
        assert!(
            policy.curve.last().unwrap() > &(policy.curve[0] + 0.05),
            "{:?}",
            policy.curve
        );
        // Same seed, same policy.
        assert_eq!(train(&eps, cost, &o).weights, policy.weights);
    }
}
