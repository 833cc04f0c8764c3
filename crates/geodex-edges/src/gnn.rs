//! The message-passing scorer over the candidate list (issue 18 item 1: "a fixed-depth
//! message-passing network over the candidate list").
//!
//! The graph is the one the selection itself builds: when candidate c of base b is judged,
//! its neighbours are the links r kept so far in the same list, each edge carrying the
//! geometry g_cr = (ln e(c,r)/e(b,c), ln e(b,r)/e(b,c)) (squared-like dissimilarities,
//! clamped to ±8 like the features). With hidden width H and depth L:
//!
//! - h⁰_c = tanh(W_in·x_c) (x_c the candidate's features, [`geodex_core::edges::edge_features`]);
//! - m^ℓ_c = mean over kept r of tanh(A^ℓ·h^ℓ_r + B^ℓ·g_cr + a^ℓ) (0 when none is kept), the
//!   mean aggregator of GraphSAGE (Hamilton et al., NeurIPS 2017);
//! - h^{ℓ+1}_c = tanh(U^ℓ·h^ℓ_c + m^ℓ_c + c^ℓ), ℓ = 0 … L−1;
//! - s_c = w_out·h^L_c + w_lin·x_c.
//!
//! The graph is causal: a kept link's states h^ℓ_r were computed when r was judged, against
//! the links kept before it, so a list is scored in one pass with every kept link's states
//! cached (the build holds them through [`geodex_core::EdgeScorer::score_in_list`]), and
//! information travels L hops along the keep order. The linear skip w_lin·x makes the logistic
//! scorer (and with it the heuristic) a special case.
//!
//! Layout of θ: W_in (H × F, row-major); per layer U (H × H), A (H × H), B (H × 2), a (H),
//! c (H); then w_out (H), w_lin (F). Gradients by hand, through the whole list (a kept link's
//! states receive the adjoints of every later candidate), checked against central finite
//! differences in the tests.

use geodex_core::edges::{EdgeFeatures, EDGE_FEATURES};

use crate::list::{affine, geometry, Judged, Senders, GEOMETRY};

/// Width and depth of the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shape {
    /// H.
    pub hidden: usize,
    /// L.
    pub layers: usize,
}

impl Shape {
    /// Length of θ.
    pub fn params(self) -> usize {
        let h = self.hidden;
        h * EDGE_FEATURES + self.layers * self.per_layer() + h + EDGE_FEATURES
    }

    /// Numbers of one candidate's states h⁰ … h^L.
    pub fn state(self) -> usize {
        (self.layers + 1) * self.hidden
    }

    fn per_layer(self) -> usize {
        let h = self.hidden;
        2 * h * h + GEOMETRY * h + 2 * h
    }
}

/// The parameter blocks of θ for one layer.
struct Layer<'p> {
    u: &'p [f64],
    a: &'p [f64],
    b: &'p [f64],
    a_bias: &'p [f64],
    c_bias: &'p [f64],
}

/// The offsets of θ's blocks.
struct Offsets {
    layer0: usize,
    w_out: usize,
    w_lin: usize,
}

impl Shape {
    fn offsets(self) -> Offsets {
        let layer0 = self.hidden * EDGE_FEATURES;
        let w_out = layer0 + self.layers * self.per_layer();
        Offsets {
            layer0,
            w_out,
            w_lin: w_out + self.hidden,
        }
    }

    /// The offsets of layer ℓ's U, A, B, a, c.
    fn layer_offsets(self, l: usize) -> [usize; 5] {
        let h = self.hidden;
        let u = self.offsets().layer0 + l * self.per_layer();
        let a = u + h * h;
        let b = a + h * h;
        let a_bias = b + GEOMETRY * h;
        [u, a, b, a_bias, a_bias + h]
    }

    fn layer(self, p: &[f64], l: usize) -> Layer<'_> {
        let h = self.hidden;
        let [u, a, b, a_bias, c_bias] = self.layer_offsets(l);
        Layer {
            u: &p[u..][..h * h],
            a: &p[a..][..h * h],
            b: &p[b..][..GEOMETRY * h],
            a_bias: &p[a_bias..][..h],
            c_bias: &p[c_bias..][..h],
        }
    }
}

/// One message tanh(A·h_r + B·g + a) into `t`.
fn message(layer: &Layer<'_>, h_r: &[f64], g: &[f64; GEOMETRY], t: &mut [f64]) {
    affine(layer.a, h_r, Some(layer.a_bias), t);
    for (i, ti) in t.iter_mut().enumerate() {
        *ti = (*ti + layer.b[i * GEOMETRY] * g[0] + layer.b[i * GEOMETRY + 1] * g[1]).tanh();
    }
}

/// Widths up to this keep the forward pass's two scratch vectors on the stack (the build
/// calls [`forward`] once per judged candidate).
const STACK_HIDDEN: usize = 64;

/// The logit of a candidate with features `x` at e(b, c) = `e_bc` against the kept links
/// (`senders`, whose states are h⁰ … h^L, [`Shape::state`] numbers each); writes the
/// candidate's own states into `state`.
pub(crate) fn forward(
    shape: Shape,
    p: &[f64],
    x: &EdgeFeatures,
    e_bc: f32,
    senders: &impl Senders,
    state: &mut [f64],
) -> f64 {
    let (h, o) = (shape.hidden, shape.offsets());
    let x64: [f64; EDGE_FEATURES] = x.map(f64::from);
    let (first, _) = state.split_at_mut(h);
    affine(&p[..h * EDGE_FEATURES], &x64, None, first);
    first.iter_mut().for_each(|v| *v = v.tanh());
    let mut stack = [0.0f64; 2 * STACK_HIDDEN];
    let mut heap = Vec::new();
    let scratch = if h <= STACK_HIDDEN {
        &mut stack[..2 * h]
    } else {
        heap.resize(2 * h, 0.0);
        &mut heap[..]
    };
    let (m, t) = scratch.split_at_mut(h);
    for l in 0..shape.layers {
        let layer = shape.layer(p, l);
        m.iter_mut().for_each(|v| *v = 0.0);
        for k in 0..senders.count() {
            message(
                &layer,
                &senders.state(k)[l * h..][..h],
                &geometry(e_bc, &senders.link(k)),
                t,
            );
            m.iter_mut().zip(t.iter()).for_each(|(mi, ti)| *mi += ti);
        }
        let inv = 1.0 / senders.count().max(1) as f64;
        let (below, above) = state.split_at_mut((l + 1) * h);
        let next = &mut above[..h];
        affine(layer.u, &below[l * h..], Some(layer.c_bias), next);
        for (v, mi) in next.iter_mut().zip(m.iter()) {
            *v = (*v + mi * inv).tanh();
        }
    }
    let top = &state[shape.layers * h..][..h];
    let out: f64 = p[o.w_out..][..h].iter().zip(top).map(|(w, v)| w * v).sum();
    out + p[o.w_lin..][..EDGE_FEATURES]
        .iter()
        .zip(&x64)
        .map(|(w, v)| w * v)
        .sum::<f64>()
}

/// Adds Σ_j `upstream[j]`·∂s_j/∂θ over a whole list into `grad`, given the judged candidates
/// in judgement order and their states (`states[j]`, from [`forward`]).
pub(crate) fn backward(
    shape: Shape,
    p: &[f64],
    judged: &[Judged<'_>],
    states: &[&[f64]],
    upstream: &[f64],
    grad: &mut [f64],
) {
    let (h, o, width) = (shape.hidden, shape.offsets(), shape.state());
    // adjoint[j] = ∂(Σ upstream·s)/∂(states of j) from the candidates judged after j.
    let mut adjoint = vec![0.0; judged.len() * width];
    let mut bar = vec![0.0; width];
    let (mut z_bar, mut t, mut q_bar) = (vec![0.0; h], vec![0.0; h], vec![0.0; h]);
    for j in (0..judged.len()).rev() {
        let (input, state, up) = (&judged[j], states[j], upstream[j]);
        let x64: [f64; EDGE_FEATURES] = input.x.map(f64::from);
        bar.copy_from_slice(&adjoint[j * width..][..width]);
        let top = shape.layers * h;
        for i in 0..h {
            grad[o.w_out + i] += up * state[top + i];
            bar[top + i] += up * p[o.w_out + i];
        }
        for (g, v) in grad[o.w_lin..][..EDGE_FEATURES].iter_mut().zip(&x64) {
            *g += up * v;
        }
        for l in (0..shape.layers).rev() {
            let layer = shape.layer(p, l);
            let [u_off, a_off, b_off, ab_off, cb_off] = shape.layer_offsets(l);
            let (below, above) = bar.split_at_mut((l + 1) * h);
            for i in 0..h {
                let next = state[(l + 1) * h + i];
                z_bar[i] = above[i] * (1.0 - next * next);
            }
            let h_l = &state[l * h..][..h];
            for i in 0..h {
                grad[cb_off + i] += z_bar[i];
                for k in 0..h {
                    grad[u_off + i * h + k] += z_bar[i] * h_l[k];
                    below[l * h + k] += layer.u[i * h + k] * z_bar[i];
                }
            }
            if input.kept.is_empty() {
                continue;
            }
            let inv = 1.0 / input.kept.len() as f64;
            for &(r, link) in input.kept {
                let g = geometry(input.e_bc, &link);
                let h_r = &states[r][l * h..][..h];
                message(&layer, h_r, &g, &mut t);
                for i in 0..h {
                    q_bar[i] = z_bar[i] * inv * (1.0 - t[i] * t[i]);
                }
                let adj_r = &mut adjoint[r * width + l * h..][..h];
                for i in 0..h {
                    grad[ab_off + i] += q_bar[i];
                    grad[b_off + i * GEOMETRY] += q_bar[i] * g[0];
                    grad[b_off + i * GEOMETRY + 1] += q_bar[i] * g[1];
                    for k in 0..h {
                        grad[a_off + i * h + k] += q_bar[i] * h_r[k];
                        adj_r[k] += layer.a[i * h + k] * q_bar[i];
                    }
                }
            }
        }
        for i in 0..h {
            let z = bar[i] * (1.0 - state[i] * state[i]);
            for (g, v) in grad[i * EDGE_FEATURES..][..EDGE_FEATURES].iter_mut().zip(&x64) {
                *g += z * v;
            }
        }
    }
}
