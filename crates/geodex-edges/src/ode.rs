//! The Neural-ODE scorer (issue 18 item 6, THEORY §8.2): message passing over the candidate
//! list in continuous depth (Chen et al., "Neural Ordinary Differential Equations", NeurIPS
//! 2018; for graphs Poli et al., "Graph Neural Ordinary Differential Equations", 2019).
//!
//! A judged candidate c's state h(t) ∈ ℝᴴ flows from h(0) = tanh(W_in·x_c) to h(T) under
//!
//! - dh/dt = f(h) = tanh(U·h + m(h) + c) − h,
//! - m(h) = mean over the kept links r of tanh(A·h_r + B·g_cr + D·h + a) (0 when none is kept),
//!
//! and its logit is s_c = w_out·h(T) + w_lin·x_c. The explicit Euler step of size 1 of the
//! −h-damped field is a tied-weight layer of the fixed-depth network ([`crate::gnn`]); T plays
//! the part of the depth. The messages are MPNN messages φ(h_c, h_r, g_cr) (Gilmer et al.,
//! ICML 2017): the receiver's evolving state enters through D·h, the sender r enters with
//! h_r = h_r(T), the state it was judged (and kept) with.
//!
//! **Substitution, and why.** A joint flow in which every sender's state evolves beside the
//! receiver's (h_r(t) in the message) is causal too, but an adaptive solver picks its own grid
//! per candidate, so each sender's whole trajectory would have to be kept as a dense
//! interpolant and the adjoint of every receiver would become a time-dependent forcing of each
//! sender's adjoint. Freezing the senders at h_r(T) keeps one ODE of dimension H per candidate,
//! on which fixed-step, adaptive and adjoint solvers are the textbook ones, while the receiver
//! still reads its messages at every depth.
//!
//! Solvers ([`Solver`]): classic RK4 with a fixed number of steps, and Dormand–Prince 5(4)
//! (Dormand & Prince 1980; Hairer, Nørsett & Wanner, *Solving ODEs I*, §II.4–5: FSAL, the
//! error norm, the initial-step heuristic and the step-size law 0.9·err^(−1/5) clamped to
//! [0.2, 5]). Gradients ([`Gradient`]):
//!
//! - **backprop**: reverse-mode through the accepted steps (the step sizes are constants of the
//!   gradient); memory grows with the steps taken, the gradient is that of the computed logit;
//! - **adjoint**: the augmented system (h, a = ∂L/∂h, ∫aᵀ∂f/∂θ) solved backwards from T to 0
//!   with the same solver (Chen et al. 2018, Alg. 1), h re-integrated backwards rather than
//!   stored; memory is constant in the steps, the gradient is the exact one of the ODE up to
//!   the solver's error, which grows with T because the damped forward flow expands backwards.
//!   The adaptive adjoint controls the error of (h, a) only, not of the parameter quadratures
//!   (Kidger, Chen & Lyons, "Hey, that's not an ODE", ICML 2021).
//!
//! Layout of θ: W_in (H × F, row-major), U, D, A (H × H each), B (H × 2), a (H), c (H),
//! w_out (H), w_lin (F).

use geodex_core::edges::{EdgeFeatures, EDGE_FEATURES};
use serde::{Deserialize, Serialize};

use crate::list::{add_outer, add_transposed, affine, geometry, Judged, Senders, GEOMETRY};

/// How the flow is integrated.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "method")]
pub enum Solver {
    /// Classic fourth-order Runge–Kutta with `steps` equal steps over [0, T].
    Rk4 {
        /// Steps over [0, T].
        steps: usize,
    },
    /// Dormand–Prince 5(4) with step-size control at relative and absolute `tolerance`.
    Dopri5 {
        /// rtol = atol.
        tolerance: f64,
    },
}

/// How the gradient of the logits is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gradient {
    /// Reverse mode through the solver's accepted steps.
    Backprop,
    /// The adjoint ODE solved backwards.
    Adjoint,
}

impl std::str::FromStr for Gradient {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "backprop" => Ok(Gradient::Backprop),
            "adjoint" => Ok(Gradient::Adjoint),
            other => Err(format!("unknown gradient {other:?} (backprop, adjoint)")),
        }
    }
}

/// The flow of an ODE scorer: integration time, solver and gradient method.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct OdeSpec {
    /// T, the integration time (the continuous depth).
    pub horizon: f64,
    /// The solver, forwards and (adjoint) backwards.
    pub solver: Solver,
    /// How training differentiates the flow (the build never does).
    pub gradient: Gradient,
}

impl Default for OdeSpec {
    fn default() -> Self {
        OdeSpec {
            horizon: 1.0,
            solver: Solver::Rk4 { steps: 4 },
            gradient: Gradient::Backprop,
        }
    }
}

/// Largest integration time a model may ask for (e^T bounds the backward expansion).
pub const MAX_HORIZON: f64 = 64.0;
/// Most fixed steps a model may ask for.
pub const MAX_STEPS: usize = 4096;
/// Attempted adaptive steps after which a solve accepts its steps unchecked (bounded work on
/// any input; the damped field never needs this many at a tolerance ≥ 1e-12).
const MAX_ATTEMPTS: usize = 10_000;

impl OdeSpec {
    /// Checks the numbers a model file or the command line gave.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.horizon > 0.0 && self.horizon <= MAX_HORIZON) {
            return Err(format!(
                "the ODE's integration time must be in (0, {MAX_HORIZON}], not {}",
                self.horizon
            ));
        }
        match self.solver {
            Solver::Rk4 { steps } if !(1..=MAX_STEPS).contains(&steps) => {
                Err(format!("rk4 needs 1–{MAX_STEPS} steps, not {steps}"))
            }
            Solver::Dopri5 { tolerance } if !(1e-12..=0.1).contains(&tolerance) => Err(format!(
                "dopri5 needs a tolerance in [1e-12, 0.1], not {tolerance}"
            )),
            _ => Ok(()),
        }
    }
}

/// Length of θ for width H.
pub(crate) fn param_count(hidden: usize) -> usize {
    let h = hidden;
    h * EDGE_FEATURES + 3 * h * h + GEOMETRY * h + 3 * h + EDGE_FEATURES
}

/// Offsets of θ's blocks for width H.
struct Offsets {
    u: usize,
    d: usize,
    a: usize,
    b: usize,
    a_bias: usize,
    c_bias: usize,
    w_out: usize,
    w_lin: usize,
}

impl Offsets {
    fn new(h: usize) -> Offsets {
        let u = h * EDGE_FEATURES;
        let d = u + h * h;
        let a = d + h * h;
        let b = a + h * h;
        let a_bias = b + GEOMETRY * h;
        let c_bias = a_bias + h;
        let w_out = c_bias + h;
        Offsets {
            u,
            d,
            a,
            b,
            a_bias,
            c_bias,
            w_out,
            w_lin: w_out + h,
        }
    }
}

/// An explicit Runge–Kutta method as a Butcher tableau.
struct Tableau {
    /// a\[i\]: the weights of k₀ … k_{i−1} in stage i's input.
    a: &'static [&'static [f64]],
    /// The solution's weights.
    b: &'static [f64],
    /// Stages the solution depends on (the rest only estimate the error).
    solution_stages: usize,
    /// The last stage is evaluated at the new solution (first same as last).
    fsal: bool,
}

/// Kutta's classic fourth-order method.
const RK4: Tableau = Tableau {
    a: &[&[], &[0.5], &[0.0, 0.5], &[0.0, 0.0, 1.0]],
    b: &[1.0 / 6.0, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 6.0],
    solution_stages: 4,
    fsal: false,
};

/// The weights of Dormand–Prince's fifth-order solution, which are also its last stage's input
/// weights (first same as last).
const DOPRI5_B: [f64; 7] = [
    35.0 / 384.0,
    0.0,
    500.0 / 1113.0,
    125.0 / 192.0,
    -2187.0 / 6784.0,
    11.0 / 84.0,
    0.0,
];

/// Dormand & Prince (1980), RK5(4)7M.
const DOPRI5: Tableau = Tableau {
    a: &[
        &[],
        &[1.0 / 5.0],
        &[3.0 / 40.0, 9.0 / 40.0],
        &[44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0],
        &[
            19372.0 / 6561.0,
            -25360.0 / 2187.0,
            64448.0 / 6561.0,
            -212.0 / 729.0,
        ],
        &[
            9017.0 / 3168.0,
            -355.0 / 33.0,
            46732.0 / 5247.0,
            49.0 / 176.0,
            -5103.0 / 18656.0,
        ],
        DOPRI5_B.split_at(6).0,
    ],
    b: &DOPRI5_B,
    solution_stages: 6,
    fsal: true,
};

/// The weights of Dormand–Prince's embedded fourth-order solution, for the error estimate.
const DOPRI5_LOW: [f64; 7] = [
    5179.0 / 57600.0,
    0.0,
    7571.0 / 16695.0,
    393.0 / 640.0,
    -92097.0 / 339200.0,
    187.0 / 2100.0,
    1.0 / 40.0,
];

/// The work one solve did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Effort {
    /// Accepted steps.
    pub steps: usize,
    /// Rejected steps.
    pub rejected: usize,
    /// Evaluations of the field.
    pub evaluations: usize,
}

impl std::ops::AddAssign for Effort {
    fn add_assign(&mut self, o: Effort) {
        self.steps += o.steps;
        self.rejected += o.rejected;
        self.evaluations += o.evaluations;
    }
}

/// A forward solve's accepted steps, kept for back-propagation: each step's size and the
/// inputs Y_i of its solution stages, back to back.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tape {
    sizes: Vec<f64>,
    stage_inputs: Vec<f64>,
}

impl Tape {
    /// Numbers held.
    pub fn floats(&self) -> usize {
        self.sizes.len() + self.stage_inputs.len()
    }
}

/// A vector field y' = f(y) (autonomous, as both flows here are).
type Field<'f> = dyn FnMut(&[f64], &mut [f64]) + 'f;

/// Integrates y' = f(y) over [0, `span`] in place; the adaptive solver's error norm covers
/// `y[..controlled]`. Accepted steps go to `tape` when given.
fn integrate(
    solver: Solver,
    span: f64,
    y: &mut [f64],
    controlled: usize,
    f: &mut Field<'_>,
    tape: Option<&mut Tape>,
) -> Effort {
    match solver {
        Solver::Rk4 { steps } => fixed_steps(&RK4, span, steps.max(1), y, f, tape),
        Solver::Dopri5 { tolerance } => {
            adaptive(&DOPRI5, &DOPRI5_LOW, span, tolerance, y, controlled, f, tape)
        }
    }
}

/// Stage derivatives k_i and inputs Y_i of one step of size `dt` from `y`; k₀ is given when
/// the method reuses its last stage. Returns the field evaluations spent.
fn stages(
    t: &Tableau,
    dt: f64,
    y: &[f64],
    ks: &mut [f64],
    ys: &mut [f64],
    k0_known: bool,
    f: &mut Field<'_>,
) -> usize {
    let n = y.len();
    let mut evaluations = 0;
    for (i, row) in t.a.iter().enumerate() {
        let (done, rest) = ks.split_at_mut(i * n);
        let input = &mut ys[i * n..][..n];
        input.copy_from_slice(y);
        for (j, &w) in row.iter().enumerate().filter(|(_, w)| **w != 0.0) {
            input
                .iter_mut()
                .zip(&done[j * n..][..n])
                .for_each(|(v, k)| *v += dt * w * k);
        }
        if i == 0 && k0_known {
            continue;
        }
        f(input, &mut rest[..n]);
        evaluations += 1;
    }
    evaluations
}

/// y + dt·Σ w_i·k_i into `out`.
fn combine(y: &[f64], dt: f64, weights: &[f64], ks: &[f64], out: &mut [f64]) {
    let n = y.len();
    out.copy_from_slice(y);
    for (i, &w) in weights.iter().enumerate().filter(|(_, w)| **w != 0.0) {
        out.iter_mut()
            .zip(&ks[i * n..][..n])
            .for_each(|(v, k)| *v += dt * w * k);
    }
}

fn record(tape: Option<&mut Tape>, t: &Tableau, dt: f64, ys: &[f64], n: usize) {
    if let Some(tape) = tape {
        tape.sizes.push(dt);
        tape.stage_inputs.extend_from_slice(&ys[..t.solution_stages * n]);
    }
}

fn fixed_steps(
    t: &Tableau,
    span: f64,
    steps: usize,
    y: &mut [f64],
    f: &mut Field<'_>,
    mut tape: Option<&mut Tape>,
) -> Effort {
    let (n, s) = (y.len(), t.a.len());
    let (mut ks, mut ys, mut next) = (vec![0.0; s * n], vec![0.0; s * n], vec![0.0; n]);
    let dt = span / steps as f64;
    let mut effort = Effort::default();
    for _ in 0..steps {
        effort.evaluations += stages(t, dt, y, &mut ks, &mut ys, false, f);
        combine(y, dt, t.b, &ks, &mut next);
        record(tape.as_deref_mut(), t, dt, &ys, n);
        y.copy_from_slice(&next);
        effort.steps += 1;
    }
    effort
}

/// Root mean square of v_i / (tol·(1 + max(|y_i|, |z_i|))) over the first `controlled`.
fn scaled_rms(v: &[f64], y: &[f64], z: &[f64], tol: f64, controlled: usize) -> f64 {
    let sum: f64 = (0..controlled)
        .map(|i| {
            let scale = tol * (1.0 + y[i].abs().max(z[i].abs()));
            (v[i] / scale).powi(2)
        })
        .sum();
    (sum / controlled.max(1) as f64).sqrt()
}

/// The initial step of Hairer, Nørsett & Wanner (§II.4) for a method of order 5.
fn initial_step(y: &[f64], k0: &[f64], tol: f64, controlled: usize, span: f64, f: &mut Field<'_>) -> f64 {
    let d0 = scaled_rms(y, y, y, tol, controlled);
    let d1 = scaled_rms(k0, y, y, tol, controlled);
    let h0 = if d0 < 1e-5 || d1 < 1e-5 {
        1e-6
    } else {
        0.01 * d0 / d1
    };
    let probe: Vec<f64> = y.iter().zip(k0).map(|(v, k)| v + h0 * k).collect();
    let mut k1 = vec![0.0; y.len()];
    f(&probe, &mut k1);
    let change: Vec<f64> = k1.iter().zip(k0).map(|(a, b)| (a - b) / h0).collect();
    let d2 = scaled_rms(&change, y, y, tol, controlled);
    let h1 = if d1.max(d2) <= 1e-15 {
        (h0 * 1e-3).max(1e-6)
    } else {
        (0.01 / d1.max(d2)).powf(0.2)
    };
    (100.0 * h0).min(h1).min(span)
}

/// [`integrate`] with step-size control: `t`'s solution against the embedded one of weights
/// `b_low`.
#[allow(clippy::too_many_arguments)]
fn adaptive(
    t: &Tableau,
    b_low: &[f64],
    span: f64,
    tol: f64,
    y: &mut [f64],
    controlled: usize,
    f: &mut Field<'_>,
    mut tape: Option<&mut Tape>,
) -> Effort {
    let (n, s) = (y.len(), t.a.len());
    let error_weights: Vec<f64> = t.b.iter().zip(b_low).map(|(b, l)| b - l).collect();
    let (mut ks, mut ys) = (vec![0.0; s * n], vec![0.0; s * n]);
    let (mut next, mut error) = (vec![0.0; n], vec![0.0; n]);
    f(y, &mut ks[..n]);
    let mut effort = Effort {
        evaluations: 1,
        ..Effort::default()
    };
    let mut dt = initial_step(y, &ks[..n], tol, controlled, span, f);
    effort.evaluations += 1;
    let mut time = 0.0;
    while span - time > span * 1e-12 {
        dt = dt.min(span - time);
        effort.evaluations += stages(t, dt, y, &mut ks, &mut ys, true, f);
        combine(y, dt, t.b, &ks, &mut next);
        for (i, e) in error.iter_mut().enumerate() {
            *e = dt * (0..s).map(|j| error_weights[j] * ks[j * n + i]).sum::<f64>();
        }
        let err = scaled_rms(&error, y, &next, tol, controlled);
        let attempts = effort.steps + effort.rejected;
        if err <= 1.0 || attempts >= MAX_ATTEMPTS {
            time += dt;
            record(tape.as_deref_mut(), t, dt, &ys, n);
            y.copy_from_slice(&next);
            if t.fsal {
                ks.copy_within((s - 1) * n..s * n, 0);
            } else {
                f(y, &mut ks[..n]);
                effort.evaluations += 1;
            }
            effort.steps += 1;
        } else {
            effort.rejected += 1;
        }
        let factor = if err == 0.0 { 5.0 } else { 0.9 * err.powf(-0.2) };
        dt *= factor.clamp(0.2, 5.0);
    }
    effort
}

/// The field of one candidate: θ's blocks and the senders' message inputs
/// q_r = A·h_r + B·g_cr + a, constant along the flow.
struct Flow<'p> {
    hidden: usize,
    u: &'p [f64],
    d: &'p [f64],
    c: &'p [f64],
    /// q_r, back to back.
    q: Vec<f64>,
    /// Scratch: D·h, then the tanh of the messages.
    dh: Vec<f64>,
    z: Vec<f64>,
    /// Scratch of [`Flow::vjp`]: Σ over senders of the messages' pre-activation adjoints.
    p_sum: Vec<f64>,
}

impl<'p> Flow<'p> {
    fn new(hidden: usize, p: &'p [f64], e_bc: f32, senders: &impl Senders) -> Flow<'p> {
        let (h, o) = (hidden, Offsets::new(hidden));
        let mut q = vec![0.0; senders.count() * h];
        for (k, q_r) in q.chunks_exact_mut(h).enumerate() {
            affine(
                &p[o.a..][..h * h],
                senders.state(k),
                Some(&p[o.a_bias..][..h]),
                q_r,
            );
            let g = geometry(e_bc, &senders.link(k));
            for (i, v) in q_r.iter_mut().enumerate() {
                *v += p[o.b + i * GEOMETRY] * g[0] + p[o.b + i * GEOMETRY + 1] * g[1];
            }
        }
        Flow {
            hidden,
            u: &p[o.u..][..h * h],
            d: &p[o.d..][..h * h],
            c: &p[o.c_bias..][..h],
            q,
            dh: vec![0.0; h],
            z: vec![0.0; h],
            p_sum: vec![0.0; h],
        }
    }

    fn senders(&self) -> usize {
        self.q.len() / self.hidden
    }

    /// z = U·h + c + m(h) into `self.z`, D·h into `self.dh`.
    fn pre_activation(&mut self, h: &[f64]) {
        affine(self.d, h, None, &mut self.dh);
        affine(self.u, h, Some(self.c), &mut self.z);
        let count = self.senders();
        if count > 0 {
            let inv = 1.0 / count as f64;
            for q_r in self.q.chunks_exact(self.hidden) {
                for ((z, q), dh) in self.z.iter_mut().zip(q_r).zip(&self.dh) {
                    *z += inv * (q + dh).tanh();
                }
            }
        }
    }

    /// f(h) into `out`.
    fn eval(&mut self, h: &[f64], out: &mut [f64]) {
        self.pre_activation(h);
        for ((o, z), v) in out.iter_mut().zip(&self.z).zip(h) {
            *o = z.tanh() - v;
        }
    }

    /// Given f̄, adds ∂(f̄·f)/∂h into `h_bar` and ∂(f̄·f)/∂(U, D, c, q) into `own`, laid out
    /// as [`Flow::own_len`] says.
    fn vjp(&mut self, h: &[f64], f_bar: &[f64], h_bar: &mut [f64], own: &mut [f64]) {
        let hid = self.hidden;
        self.pre_activation(h);
        let (u_bar, rest) = own.split_at_mut(hid * hid);
        let (d_bar, rest) = rest.split_at_mut(hid * hid);
        let (c_bar, q_bar) = rest.split_at_mut(hid);
        // z̄ = f̄ ⊙ (1 − tanh²z); self.z becomes z̄.
        for (z, fb) in self.z.iter_mut().zip(f_bar) {
            let y = z.tanh();
            *z = fb * (1.0 - y * y);
        }
        let z_bar = &self.z;
        h_bar.iter_mut().zip(f_bar).for_each(|(hb, fb)| *hb -= fb);
        add_transposed(self.u, z_bar, h_bar);
        add_outer(u_bar, z_bar, h);
        c_bar.iter_mut().zip(z_bar).for_each(|(cb, zb)| *cb += zb);
        let count = self.senders();
        if count == 0 {
            return;
        }
        let inv = 1.0 / count as f64;
        // Σ_r p̄_r into the scratch, with p̄_r = z̄/K ⊙ (1 − tanh²(q_r + D·h)).
        self.p_sum.iter_mut().for_each(|v| *v = 0.0);
        for (q_r, qb_r) in self.q.chunks_exact(hid).zip(q_bar.chunks_exact_mut(hid)) {
            for i in 0..hid {
                let t = (q_r[i] + self.dh[i]).tanh();
                let p_bar = z_bar[i] * inv * (1.0 - t * t);
                qb_r[i] += p_bar;
                self.p_sum[i] += p_bar;
            }
        }
        add_outer(d_bar, &self.p_sum, h);
        add_transposed(self.d, &self.p_sum, h_bar);
    }

    /// Length of the `own` gradient block: Ū, D̄ (H² each), c̄ (H), q̄ (H per sender).
    fn own_len(&self) -> usize {
        2 * self.hidden * self.hidden + self.hidden + self.q.len()
    }
}

/// h(0) = tanh(W_in·x).
fn initial_state(hidden: usize, p: &[f64], x: &[f64; EDGE_FEATURES]) -> Vec<f64> {
    let mut h = vec![0.0; hidden];
    affine(&p[..hidden * EDGE_FEATURES], x, None, &mut h);
    h.iter_mut().for_each(|v| *v = v.tanh());
    h
}

/// A scorer's flow, width and parameters θ.
#[derive(Clone, Copy)]
pub(crate) struct Net<'p> {
    pub spec: &'p OdeSpec,
    pub hidden: usize,
    pub params: &'p [f64],
}

/// The logit of a candidate with features `x` at e(b, c) = `e_bc` against the kept links
/// (`senders`, whose states are their h(T), H numbers each); writes h(T) into `state` and,
/// when given, the accepted steps into `tape`.
pub(crate) fn forward(
    net: Net<'_>,
    x: &EdgeFeatures,
    e_bc: f32,
    senders: &impl Senders,
    state: &mut [f64],
    tape: Option<&mut Tape>,
) -> (f64, Effort) {
    let Net {
        spec,
        hidden,
        params: p,
    } = net;
    let o = Offsets::new(hidden);
    let x64: [f64; EDGE_FEATURES] = x.map(f64::from);
    let mut h = initial_state(hidden, p, &x64);
    let mut flow = Flow::new(hidden, p, e_bc, senders);
    let effort = integrate(
        spec.solver,
        spec.horizon,
        &mut h,
        hidden,
        &mut |y, out| flow.eval(y, out),
        tape,
    );
    state.copy_from_slice(&h);
    let out: f64 = p[o.w_out..][..hidden].iter().zip(&h).map(|(w, v)| w * v).sum();
    let skip: f64 = p[o.w_lin..][..EDGE_FEATURES]
        .iter()
        .zip(&x64)
        .map(|(w, v)| w * v)
        .sum();
    (out + skip, effort)
}

/// Adds Σ_j `upstream[j]`·∂s_j/∂θ over a whole list into `grad` by `method`, given the judged
/// candidates in judgement order, their forward solves' `tapes` (back-propagation only) and
/// their final states `finals` (H numbers each, back to back). A sender's h(T) receives the adjoints of every later candidate's messages, so the
/// list is swept backwards; without tapes the adjoint is used whatever `method` says. Returns the backward solves' effort (adjoint) and the largest
/// augmented state it held.
pub(crate) fn backward(
    net: Net<'_>,
    judged: &[Judged<'_>],
    tapes: &[Tape],
    finals: &[f64],
    upstream: &[f64],
    method: Gradient,
    grad: &mut [f64],
) -> (Effort, usize) {
    let Net {
        spec,
        hidden,
        params: p,
    } = net;
    let (h, o) = (hidden, Offsets::new(hidden));
    debug_assert_eq!(finals.len(), judged.len() * h);
    let mut final_bar = vec![0.0; judged.len() * h];
    let mut effort = Effort::default();
    let mut widest = 0;
    for j in (0..judged.len()).rev() {
        let (input, up) = (&judged[j], upstream[j]);
        let x64: [f64; EDGE_FEATURES] = input.x.map(f64::from);
        let h_t = &finals[j * h..][..h];
        let mut a_t = final_bar[j * h..][..h].to_vec();
        for i in 0..h {
            grad[o.w_out + i] += up * h_t[i];
            a_t[i] += up * p[o.w_out + i];
        }
        grad[o.w_lin..][..EDGE_FEATURES]
            .iter_mut()
            .zip(&x64)
            .for_each(|(g, v)| *g += up * v);
        let senders = crate::list::PassSenders {
            links: input.kept,
            states: finals,
            width: h,
        };
        let mut flow = Flow::new(h, p, input.e_bc, &senders);
        let candidate = match (method, tapes.get(j)) {
            (Gradient::Backprop, Some(tape)) => through_tape(spec, &mut flow, tape, a_t),
            _ => {
                let (candidate, spent, width) = adjoint(spec, &mut flow, h_t, &a_t);
                effort += spent;
                widest = widest.max(width);
                candidate
            }
        };
        scatter(p, input, &candidate, finals, grad, &mut final_bar);
    }
    (effort, widest)
}

/// Reverse mode through the recorded steps: from ā(T) to ∂/∂h(0), with the own-parameter
/// gradient ([`Flow::own_len`] layout).
fn through_tape(spec: &OdeSpec, flow: &mut Flow<'_>, tape: &Tape, mut y_bar: Vec<f64>) -> CandidateGradient {
    let n = flow.hidden;
    let t = match spec.solver {
        Solver::Rk4 { .. } => &RK4,
        Solver::Dopri5 { .. } => &DOPRI5,
    };
    let s = t.solution_stages;
    let mut own = vec![0.0; flow.own_len()];
    let (mut k_bar, mut stage_bar) = (vec![0.0; s * n], vec![0.0; n]);
    for (step, &dt) in tape.sizes.iter().enumerate().rev() {
        let inputs = &tape.stage_inputs[step * s * n..][..s * n];
        for i in 0..s {
            let w = dt * t.b[i];
            k_bar[i * n..][..n]
                .iter_mut()
                .zip(&y_bar)
                .for_each(|(k, y)| *k = w * y);
        }
        for i in (0..s).rev() {
            stage_bar.iter_mut().for_each(|v| *v = 0.0);
            let (earlier, this) = k_bar.split_at_mut(i * n);
            flow.vjp(&inputs[i * n..][..n], &this[..n], &mut stage_bar, &mut own);
            y_bar.iter_mut().zip(&stage_bar).for_each(|(y, v)| *y += v);
            for (j, &w) in t.a[i].iter().enumerate().filter(|(_, w)| **w != 0.0) {
                earlier[j * n..][..n]
                    .iter_mut()
                    .zip(&stage_bar)
                    .for_each(|(k, v)| *k += dt * w * v);
            }
        }
    }
    CandidateGradient { h0_bar: y_bar, own }
}

/// The adjoint method: the augmented state (h, a, ∫aᵀ∂f/∂θ) from (h(T), ā(T), 0) integrated
/// over τ = T − t ∈ [0, T] with dh/dτ = −f(h), da/dτ = aᵀ∂f/∂h, dg/dτ = aᵀ∂f/∂θ. Returns
/// ∂/∂h(0), the own-parameter gradient, the effort and the augmented state's length.
fn adjoint(
    spec: &OdeSpec,
    flow: &mut Flow<'_>,
    h_t: &[f64],
    a_t: &[f64],
) -> (CandidateGradient, Effort, usize) {
    let n = flow.hidden;
    let own_len = flow.own_len();
    let mut augmented = vec![0.0; 2 * n + own_len];
    augmented[..n].copy_from_slice(h_t);
    augmented[n..2 * n].copy_from_slice(a_t);
    let mut field = |y: &[f64], out: &mut [f64]| {
        let (h, a) = (&y[..n], &y[n..2 * n]);
        let (dh, rest) = out.split_at_mut(n);
        let (da, dg) = rest.split_at_mut(n);
        flow.eval(h, dh);
        dh.iter_mut().for_each(|v| *v = -*v);
        da.iter_mut().for_each(|v| *v = 0.0);
        dg.iter_mut().for_each(|v| *v = 0.0);
        flow.vjp(h, a, da, dg);
    };
    let effort = integrate(spec.solver, spec.horizon, &mut augmented, 2 * n, &mut field, None);
    let width = augmented.len();
    let own = augmented.split_off(2 * n);
    let h0_bar = augmented.split_off(n);
    (CandidateGradient { h0_bar, own }, effort, width)
}

/// One candidate's gradient as the backward solve left it: ∂/∂h(0) and the own block.
struct CandidateGradient {
    h0_bar: Vec<f64>,
    own: Vec<f64>,
}

/// Adds one candidate's gradient into θ's layout: Ū, D̄, c̄ directly; each sender's q̄_r into Ā,
/// B̄, ā and Aᵀ·q̄_r into that sender's ∂/∂h_r(T) (`final_bar`); ∂/∂h(0) through tanh into
/// W̄_in. `finals` holds the judged candidates' h(T), H numbers each.
fn scatter(
    p: &[f64],
    input: &Judged<'_>,
    candidate: &CandidateGradient,
    finals: &[f64],
    grad: &mut [f64],
    final_bar: &mut [f64],
) {
    let h = candidate.h0_bar.len();
    let o = Offsets::new(h);
    let x64: [f64; EDGE_FEATURES] = input.x.map(f64::from);
    let (h0_bar, own) = (&candidate.h0_bar, &candidate.own);
    let (u_bar, rest) = own.split_at(h * h);
    let (d_bar, rest) = rest.split_at(h * h);
    let (c_bar, q_bar) = rest.split_at(h);
    grad[o.u..][..h * h]
        .iter_mut()
        .zip(u_bar)
        .for_each(|(g, v)| *g += v);
    grad[o.d..][..h * h]
        .iter_mut()
        .zip(d_bar)
        .for_each(|(g, v)| *g += v);
    grad[o.c_bias..][..h]
        .iter_mut()
        .zip(c_bar)
        .for_each(|(g, v)| *g += v);
    let a = &p[o.a..][..h * h];
    for (&(r, link), qb) in input.kept.iter().zip(q_bar.chunks_exact(h)) {
        let g = geometry(input.e_bc, &link);
        add_outer(&mut grad[o.a..][..h * h], qb, &finals[r * h..][..h]);
        for i in 0..h {
            grad[o.a_bias + i] += qb[i];
            grad[o.b + i * GEOMETRY] += qb[i] * g[0];
            grad[o.b + i * GEOMETRY + 1] += qb[i] * g[1];
        }
        add_transposed(a, qb, &mut final_bar[r * h..][..h]);
    }
    let h0 = initial_state(h, p, &x64);
    for i in 0..h {
        let z = h0_bar[i] * (1.0 - h0[i] * h0[i]);
        grad[i * EDGE_FEATURES..][..EDGE_FEATURES]
            .iter_mut()
            .zip(&x64)
            .for_each(|(g, v)| *g += z * v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// y₁' = −y₁/2 + 2y₂, y₂' = −2y₁ − y₂/2: z = y₁ + i·y₂ obeys z' = (−1/2 − 2i)·z, so
    /// z(t) = z(0)·e^(−t/2)·(cos 2t − i·sin 2t).
    fn spiral(y: &[f64], out: &mut [f64]) {
        out[0] = -0.5 * y[0] + 2.0 * y[1];
        out[1] = -2.0 * y[0] - 0.5 * y[1];
    }

    fn spiral_error(solver: Solver, span: f64) -> (f64, Effort) {
        let mut y = [1.0, 0.5];
        let effort = integrate(solver, span, &mut y, 2, &mut spiral, None);
        let (decay, (sin, cos)) = ((-0.5 * span).exp(), (2.0 * span).sin_cos());
        let exact = [decay * (cos + 0.5 * sin), decay * (0.5 * cos - sin)];
        let error = ((y[0] - exact[0]).powi(2) + (y[1] - exact[1]).powi(2)).sqrt();
        (error, effort)
    }

    #[test]
    fn rk4_converges_at_fourth_order_on_a_closed_form_flow() {
        let (coarse, _) = spiral_error(Solver::Rk4 { steps: 16 }, 3.0);
        let (fine, effort) = spiral_error(Solver::Rk4 { steps: 32 }, 3.0);
        let ratio = coarse / fine;
        assert!(
            (12.0..20.0).contains(&ratio),
            "halving the step divides the error by {ratio}"
        );
        assert_eq!(effort.evaluations, 4 * 32);
    }

    #[test]
    fn dopri5_meets_its_tolerance_and_spends_more_steps_on_a_tighter_one() {
        let (loose, loose_effort) = spiral_error(Solver::Dopri5 { tolerance: 1e-4 }, 3.0);
        let (tight, tight_effort) = spiral_error(Solver::Dopri5 { tolerance: 1e-9 }, 3.0);
        assert!(loose < 1e-3, "{loose}");
        assert!(tight < 1e-8, "{tight}");
        assert!(tight < loose / 100.0);
        assert!(tight_effort.steps > loose_effort.steps);
        // First same as last: six evaluations per attempted step, plus the start and the
        // initial-step probe.
        let attempts = tight_effort.steps + tight_effort.rejected;
        assert_eq!(tight_effort.evaluations, 6 * attempts + 2);
    }

    #[test]
    fn validate_refuses_flows_the_solvers_cannot_run() {
        let good = OdeSpec::default();
        assert!(good.validate().is_ok());
        for bad in [
            OdeSpec { horizon: 0.0, ..good },
            OdeSpec {
                horizon: f64::NAN,
                ..good
            },
            OdeSpec {
                horizon: 100.0,
                ..good
            },
            OdeSpec {
                solver: Solver::Rk4 { steps: 0 },
                ..good
            },
            OdeSpec {
                solver: Solver::Dopri5 { tolerance: 0.0 },
                ..good
            },
            OdeSpec {
                solver: Solver::Dopri5 { tolerance: f64::NAN },
                ..good
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
