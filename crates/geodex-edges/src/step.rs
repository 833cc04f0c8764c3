//! Training on the *set* a list keeps (issue 18 item 2; THEORY §4.3): every judged candidate's
//! keep decision relaxed by the binary concrete (`relax.rs`) at the text's temperature schedule,
//! a straight-through estimator whose forward lists hold at most the degree budget, and a set-valued
//! objective that the per-candidate labels cannot express — how much nearer the greedy step
//! from b brings each of b's demands (the training queries whose paths left b, `labels.rs`).
//!
//! **The objective.** For a demand q of node b and judged candidate i, ρ_i = e(q, c_i)/e(q, b)
//! is what is left of q's dissimilarity after the walk steps from b to c_i (< 1: progress). A
//! kept set S sends q to its best member, so the hard objective is min(1, min_{i∈S} ρ_i) — the
//! walk may also stay at b, ρ = 1. It rewards a set that covers *different* demands, which the
//! heuristic's occlusion test aims at and a sum of per-candidate labels cannot see. Relaxed with
//! weights h_i ∈ [0, 1] on the candidates and a soft minimum of width κ:
//!
//! L_q(h) = (a_b + Σ_i h_i·a_i·ρ_i) / (a_b + Σ_i h_i·a_i),  a_i = e^(−ρ_i/κ),  a_b = e^(−1/κ),
//!
//! with ∂L_q/∂h_i = a_i·(ρ_i − L_q) / (a_b + Σ_j h_j·a_j): adding a candidate nearer q than the
//! current soft minimum lowers the loss. As κ → 0 and h → 1[i ∈ S], L_q → min(1, min_S ρ_i).
//!
//! **The estimators.** X_i = σ((s_i + L_i)/τ) with logistic noise L_i. *Concrete*: h = X, a
//! pathwise gradient of a smooth function (checked against finite differences). *Straight
//! through* (Bengio et al. 2013): forward, the hard decisions the build's own rule takes on the
//! noisy logits — closest first, keep iff s_i + L_i ≥ 0 (a Bernoulli(σ(s_i)) draw, X's τ → 0
//! limit), until the list holds k links, k the heuristic's count on that list (the degree
//! budget the comparison holds fixed); backward, the concrete's ∂X_i/∂s_i = X_i(1 − X_i)/τ.
//! Biased, but the loss it reports is that of lists of at most the budget's degree, made the
//! way a build makes them, so the features each logit sees are those of its own decisions.
//! (A top-k of the samples over the whole list, the subset relaxation of Xie & Ermon 2019, was
//! tried first: it learns a ranking whose logits grow along the list, which a build's
//! sequential threshold cannot reproduce — its calibrated degree stayed 33 % above the
//! heuristic's on the CLI test's data.)

use serde::Serialize;

use crate::labels::Example;
use crate::relax::relaxed;

/// Demands whose dissimilarity to b is at most this are skipped (a query on b: no step to make).
const MIN_DEMAND_DISSIMILARITY: f32 = 1e-12;

/// The narrowest soft minimum: e^(1/κ) must stay far inside f64 (module docs of the shift).
pub const MIN_SOFTNESS: f64 = 0.01;

/// How a relaxed set is formed from the judged candidates' logits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Estimator {
    /// h = X (the binary concrete itself).
    Concrete,
    /// The roll-out's hard decisions forward (at most the budget), ∂X/∂s backward.
    StraightThrough,
}

impl std::str::FromStr for Estimator {
    type Err = crate::EdgesError;
    fn from_str(s: &str) -> Result<Self, crate::EdgesError> {
        match s {
            "concrete" => Ok(Estimator::Concrete),
            "straight-through" => Ok(Estimator::StraightThrough),
            other => Err(crate::EdgesError::Invalid(format!(
                "unknown relaxation {other:?} (concrete, straight-through)"
            ))),
        }
    }
}

/// Settings of the set objective.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Relaxation {
    /// Concrete or straight-through top-k.
    pub estimator: Estimator,
    /// Floor of τ(t) = max(floor, e^(−0.001·t)), t the update count (the text's floor: 0.5).
    pub tau_floor: f64,
    /// κ, the soft minimum's width in units of the ratio ρ.
    pub softness: f64,
    /// Hold the degree: each step's gradient is projected off the gradient of the batch's
    /// expected count of kept links, Σ σ(s_i) over the judged candidates, so that to first
    /// order a step changes which links a list keeps, not how many (the REINFORCE trainer's
    /// projection, `reinforce.rs`). Without it the set objective, which any added link can
    /// only lower, pushes every logit up.
    pub hold_degree: bool,
}

impl Default for Relaxation {
    fn default() -> Self {
        Relaxation {
            estimator: Estimator::StraightThrough,
            tau_floor: 0.5,
            softness: 0.05,
            hold_degree: false,
        }
    }
}

impl Relaxation {
    /// Checks the settings: τ floor in (0, 1], κ ≥ [`MIN_SOFTNESS`] and finite.
    pub fn validate(&self) -> Result<(), crate::EdgesError> {
        if !(self.tau_floor > 0.0 && self.tau_floor <= 1.0) {
            return Err(crate::EdgesError::Invalid(format!(
                "τ floor {}: must be in (0, 1]",
                self.tau_floor
            )));
        }
        if !(self.softness >= MIN_SOFTNESS && self.softness.is_finite()) {
            return Err(crate::EdgesError::Invalid(format!(
                "softness {}: must be finite and ≥ {MIN_SOFTNESS}",
                self.softness
            )));
        }
        Ok(())
    }
}

/// The mean over `ex`'s usable demands of L_q(h) (module docs), `h` over the first `h.len()`
/// candidates; adds ∂mean/∂h_i to `grad_h`. `None` (and no gradient) when no demand is usable.
pub fn step_loss(ex: &Example, h: &[f64], softness: f64, grad_h: &mut [f64]) -> Option<f64> {
    let usable: Vec<usize> = (0..ex.demands())
        .filter(|&d| {
            let row = ex.demand(d);
            row[row.len() - 1] > MIN_DEMAND_DISSIMILARITY
        })
        .collect();
    if usable.is_empty() {
        return None;
    }
    let share = 1.0 / usable.len() as f64;
    let mut total = 0.0;
    let mut weights = Vec::with_capacity(h.len());
    for d in usable {
        let row = ex.demand(d);
        let at_b = f64::from(row[row.len() - 1]);
        let ratios = row[..h.len()].iter().map(|&e| f64::from(e) / at_b);
        // Shift the exponents by the smallest ratio in the set (b's 1 or a member's with
        // h > 0): a common factor of every weight, so L and its gradient are unchanged, the
        // normaliser is at least that member's h (never 0/0), and with κ ≥ MIN_SOFTNESS no
        // weight overflows (a ratio below the shift is at least 0, so the exponent ≤ 1/κ).
        let lowest = ratios
            .clone()
            .zip(h)
            .filter(|&(_, &hi)| hi > 0.0)
            .fold(1.0f64, |m, (rho, _)| m.min(rho));
        let weight = |rho: f64| (-(rho - lowest) / softness).exp();
        weights.clear();
        weights.extend(ratios.map(|rho| (rho, weight(rho))));
        let (mut z, mut num) = (weight(1.0), weight(1.0));
        for (&(rho, a), &hi) in weights.iter().zip(h) {
            z += hi * a;
            num += hi * a * rho;
        }
        let loss = num / z;
        total += share * loss;
        for (g, &(rho, a)) in grad_h.iter_mut().zip(&weights) {
            *g += share * a * (rho - loss) / z;
        }
    }
    Some(total)
}

/// One list's relaxed set: the forward weights h and ∂h_i/∂s_i as the estimator defines them,
/// for logits `s`, uniform draws `u` (one per logit), temperature `tau`, and the ranks `kept`
/// that the roll-out's hard decisions kept (the straight-through forward set).
pub fn relaxed_set(
    estimator: Estimator,
    s: &[f64],
    u: &[f64],
    tau: f64,
    kept: &[usize],
) -> (Vec<f64>, Vec<f64>) {
    let x: Vec<f64> = s.iter().zip(u).map(|(&s, &u)| relaxed(s, tau, u)).collect();
    let slope = x.iter().map(|&x| x * (1.0 - x) / tau).collect();
    let h = match estimator {
        Estimator::Concrete => x,
        Estimator::StraightThrough => {
            let mut hard = vec![0.0; s.len()];
            kept.iter().for_each(|&i| hard[i] = 1.0);
            hard
        }
    };
    (h, slope)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An example with `n` candidates and the given demand rows (e to each candidate, then to b).
    fn example(n: usize, rows: &[Vec<f32>]) -> Example {
        Example {
            node: 0,
            candidates: (1..=n as u32).collect(),
            e_b: (1..=n).map(|i| i as f32).collect(),
            positive: vec![false; n],
            demand_e: rows.concat(),
        }
    }

    #[test]
    fn the_step_loss_gradient_matches_finite_differences() {
        let ex = example(
            5,
            &[
                vec![0.5, 1.4, 0.9, 2.0, 0.7, 1.0],
                vec![3.0, 0.2, 2.5, 1.1, 2.9, 2.0],
                vec![1.0, 1.0, 0.3, 0.8, 1.2, 0.9],
            ],
        );
        let h = [0.3, 0.8, 0.1, 0.55, 0.9];
        for softness in [0.05, 0.3] {
            let mut grad = vec![0.0; 5];
            step_loss(&ex, &h, softness, &mut grad).unwrap();
            for i in 0..5 {
                let at = |delta: f64| {
                    let mut moved = h;
                    moved[i] += delta;
                    step_loss(&ex, &moved, softness, &mut [0.0; 5]).unwrap()
                };
                let fd = (at(1e-6) - at(-1e-6)) / 2e-6;
                assert!(
                    (fd - grad[i]).abs() < 1e-6 * (1.0 + fd.abs()),
                    "κ {softness} h{i}: {fd} vs {}",
                    grad[i]
                );
            }
        }
    }

    #[test]
    fn the_hard_loss_tends_to_the_best_kept_ratio() {
        // Demand 0 is nearest candidate 2 (ratio 0.1), demand 1 candidate 0 (0.25); candidate 1
        // makes no progress for either.
        let ex = example(3, &[vec![0.9, 1.5, 0.1, 1.0], vec![0.5, 2.4, 1.8, 2.0]]);
        let cases: [([f64; 3], f64); 4] = [
            ([0.0, 0.0, 0.0], (1.0 + 1.0) / 2.0),
            ([0.0, 1.0, 0.0], (1.0 + 1.0) / 2.0),
            ([0.0, 0.0, 1.0], (0.1 + 0.9) / 2.0),
            ([1.0, 0.0, 1.0], (0.1 + 0.25) / 2.0),
        ];
        for (h, expected) in cases {
            // κ at its floor: the runner-up's weight is at most e^(−0.1/κ) = e^(−10) of the best's.
            let loss = step_loss(&ex, &h, MIN_SOFTNESS, &mut [0.0; 3]).unwrap();
            assert!((loss - expected).abs() < 1e-4, "{h:?}: {loss} vs {expected}");
        }
    }

    #[test]
    fn a_demand_on_b_itself_is_skipped_and_none_leaves_no_signal() {
        let on_b = example(2, &[vec![0.4, 0.7, 0.0]]);
        let mut grad = vec![0.0; 2];
        assert_eq!(step_loss(&on_b, &[1.0, 1.0], 0.05, &mut grad), None);
        assert_eq!(grad, vec![0.0; 2]);
    }

    #[test]
    fn straight_through_takes_the_kept_ranks_forward_and_the_concrete_slope_back() {
        let s = [2.0, -1.0, 0.5, 3.0, -0.2, 0.1];
        let u = [0.3, 0.6, 0.5, 0.9, 0.1, 0.5];
        let (h, slope) = relaxed_set(Estimator::StraightThrough, &s, &u, 0.5, &[0, 3, 5]);
        assert_eq!(h, vec![1.0, 0.0, 0.0, 1.0, 0.0, 1.0]);
        let (soft, same) = relaxed_set(Estimator::Concrete, &s, &u, 0.5, &[0, 3, 5]);
        assert_eq!(slope, same);
        for ((&si, &ui), (&g, &x)) in s.iter().zip(&u).zip(slope.iter().zip(&soft)) {
            assert_eq!(x, relaxed(si, 0.5, ui));
            let fd = (relaxed(si + 1e-6, 0.5, ui) - relaxed(si - 1e-6, 0.5, ui)) / 2e-6;
            assert!((fd - g).abs() < 1e-6, "{fd} vs {g}");
        }
    }

    #[test]
    fn bad_settings_are_refused() {
        for bad in [
            Relaxation {
                tau_floor: 0.0,
                ..Default::default()
            },
            Relaxation {
                tau_floor: 1.5,
                ..Default::default()
            },
            Relaxation {
                softness: 0.005,
                ..Default::default()
            },
            Relaxation {
                softness: f64::NAN,
                ..Default::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        assert!(Relaxation::default().validate().is_ok());
        assert_eq!(
            "straight-through".parse::<Estimator>().unwrap(),
            Estimator::StraightThrough
        );
        assert!("gumbel".parse::<Estimator>().is_err());
    }
}
