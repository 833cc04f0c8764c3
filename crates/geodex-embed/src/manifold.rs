//! The geometries a trainer moves points in, each with its distance, the distance's Euclidean
//! gradient and a Riemannian SGD step. All arithmetic is `f64`: leaves of a hierarchy sit where
//! 1 − ‖x‖² is 10⁻⁵ or less, and `f32` cannot hold that difference to useful precision.

use std::fmt;
use std::str::FromStr;

use crate::EmbedError;

/// An embedding model: how points are represented and which distance ranks them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Model {
    /// Poincaré ball, Riemannian SGD (Nickel & Kiela, NeurIPS 2017).
    Poincare,
    /// Lorentz hyperboloid, Riemannian SGD with the exponential map (Nickel & Kiela, ICML 2018);
    /// written out in Poincaré-ball coordinates.
    Lorentz,
    /// Euclidean space, plain SGD on the same loss: the baseline.
    Euclidean,
    /// Sarkar's combinatorial construction of a tree in the hyperbolic plane (not trained).
    Sarkar,
}

impl Model {
    /// All models, in command-line order.
    pub const ALL: [Model; 4] = [Model::Poincare, Model::Lorentz, Model::Euclidean, Model::Sarkar];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Model::Poincare => "poincare",
            Model::Lorentz => "lorentz",
            Model::Euclidean => "euclidean",
            Model::Sarkar => "sarkar",
        }
    }

    /// Whether the model's written vectors are Poincaré-ball coordinates (so the Poincaré
    /// distance ranks them) rather than Euclidean ones.
    pub fn is_hyperbolic(self) -> bool {
        self != Model::Euclidean
    }

    /// The distance between two written vectors of this model: the Poincaré distance for the
    /// hyperbolic models, the Euclidean one for the baseline.
    pub fn distance(self, a: &[f32], b: &[f32]) -> f64 {
        if self.is_hyperbolic() {
            ball_distance(a, b)
        } else {
            a.iter()
                .zip(b)
                .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
                .sum::<f64>()
                .sqrt()
        }
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Model {
    type Err = EmbedError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Model::ALL
            .into_iter()
            .find(|m| m.name() == s.to_ascii_lowercase())
            .ok_or_else(|| {
                EmbedError::InvalidParameter(format!(
                    "unknown model '{s}' (expected poincare, lorentz, euclidean or sarkar)"
                ))
            })
    }
}

/// The Poincaré distance of two ball points, 2·asinh(√δ): the index's own rank key
/// ([`geodex_distance::portable::poincare_ratio_f32`], one `f64` pass) turned into the distance
/// as [`geodex_distance::Metric::reported_distance`] does, but kept in `f64`.
pub fn ball_distance(a: &[f32], b: &[f32]) -> f64 {
    2.0 * geodex_distance::portable::poincare_ratio_f32(a, b).sqrt().asinh()
}

/// A Riemannian manifold a trainer can run SGD on. Points are stored as [`Manifold::coords`]
/// `f64`s for an embedding of dimension `dim`.
pub trait Manifold: Copy + Send + Sync {
    /// Whether the written vectors are points of the Poincaré ball (the hyperbolic models), so
    /// distances between them are the ball's.
    const HYPERBOLIC: bool;
    /// Stored coordinates per point for dimension `dim`.
    fn coords(self, dim: usize) -> usize;
    /// A point near the origin from the uniform draws `noise` (each in [−1, 1], `dim` of them).
    fn init(self, noise: &[f64], point: &mut [f64]);
    /// The distance of `u` and `v`, with its Euclidean gradients written to `grad_u` and
    /// `grad_v` (ambient coordinates).
    fn distance_grad(self, u: &[f64], v: &[f64], grad_u: &mut [f64], grad_v: &mut [f64]) -> f64;
    /// One Riemannian SGD step: `point` moves along −`lr` times the Riemannian gradient that the
    /// Euclidean gradient `egrad` corresponds to, and stays on the manifold. `egrad` may be
    /// used as scratch space.
    fn step(self, point: &mut [f64], egrad: &mut [f64], lr: f64);
    /// The written vector of `point` (ball coordinates for the hyperbolic models).
    fn output(self, point: &[f64], out: &mut [f32]);
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Initial coordinates: uniform in ±10⁻³ (the reference implementation's scale), so training
/// starts near the origin, where the hyperbolic models are nearly Euclidean.
const INIT_SCALE: f64 = 1e-3;

/// The Poincaré ball of Nickel & Kiela (2017). Points are kept at norm ≤ 1 − `boundary_eps`
/// after every step (the paper's projection, eq. 6): a hyperbolic radius of at most
/// 2·artanh(1 − ε), 12.2 at the reference implementation's ε = 10⁻⁵ (the default) and 14.5 at
/// [`OUTPUT_EPS`] = 10⁻⁶, the most a written `f32` coordinate resolves.
#[derive(Clone, Copy, Debug)]
pub struct PoincareBall {
    /// 1 − the largest norm a trained point may have.
    pub boundary_eps: f64,
}

impl PoincareBall {
    /// The reference implementation's projection margin.
    pub const BOUNDARY_EPS: f64 = 1e-5;
}

impl Default for PoincareBall {
    fn default() -> Self {
        PoincareBall {
            boundary_eps: Self::BOUNDARY_EPS,
        }
    }
}

impl Manifold for PoincareBall {
    const HYPERBOLIC: bool = true;
    fn coords(self, dim: usize) -> usize {
        dim
    }

    fn init(self, noise: &[f64], point: &mut [f64]) {
        for (p, n) in point.iter_mut().zip(noise) {
            *p = n * INIT_SCALE;
        }
    }

    /// d = arcosh(γ), γ = 1 + 2‖u−v‖²/(αβ), α = 1−‖u‖², β = 1−‖v‖²; the gradient is eq. 4 of
    /// the paper, ∂d/∂u = 4/(β√(γ²−1)) · ((‖v‖² − 2⟨u,v⟩ + 1)/α² · u − v/α), and symmetrically
    /// for v. γ − 1 is computed directly, so γ² − 1 = (γ−1)(γ+1) keeps its digits for close
    /// points; coincident points get a zero gradient (the distance has none there).
    fn distance_grad(self, u: &[f64], v: &[f64], grad_u: &mut [f64], grad_v: &mut [f64]) -> f64 {
        let (uu, vv, uv) = (dot(u, u), dot(v, v), dot(u, v));
        let diff = (uu - 2.0 * uv + vv).max(0.0);
        let (alpha, beta) = ((1.0 - uu).max(1e-15), (1.0 - vv).max(1e-15));
        let gamma_minus_1 = 2.0 * diff / (alpha * beta);
        let root = (gamma_minus_1 * (gamma_minus_1 + 2.0)).sqrt();
        let distance = (1.0 + gamma_minus_1).acosh();
        if root < 1e-12 {
            grad_u.fill(0.0);
            grad_v.fill(0.0);
            return distance;
        }
        let (cu, cv) = (4.0 / (beta * root), 4.0 / (alpha * root));
        let (au, av) = (
            (vv - 2.0 * uv + 1.0) / (alpha * alpha),
            (uu - 2.0 * uv + 1.0) / (beta * beta),
        );
        for i in 0..u.len() {
            grad_u[i] = cu * (au * u[i] - v[i] / alpha);
            grad_v[i] = cv * (av * v[i] - u[i] / beta);
        }
        distance
    }

    /// u ← proj(u − lr · (1−‖u‖²)²/4 · ∇), eq. 5–6 of the paper: the inverse metric tensor of
    /// the ball rescales the Euclidean gradient.
    fn step(self, point: &mut [f64], egrad: &mut [f64], lr: f64) {
        let scale = lr * (1.0 - dot(point, point)).powi(2) / 4.0;
        for (p, g) in point.iter_mut().zip(egrad) {
            *p -= scale * *g;
        }
        let norm = dot(point, point).sqrt();
        let limit = 1.0 - self.boundary_eps;
        if norm >= limit {
            for p in point.iter_mut() {
                *p *= limit / norm;
            }
        }
    }

    fn output(self, point: &[f64], out: &mut [f32]) {
        write_ball(point, out);
    }
}

/// Writes a ball point as `f32`, pulled inside the ball if rounding would put it on the
/// boundary: at most norm 1 − [`OUTPUT_EPS`].
pub(crate) fn write_ball(point: &[f64], out: &mut [f32]) {
    let norm = dot(point, point).sqrt();
    let shrink = if norm > 1.0 - OUTPUT_EPS {
        (1.0 - OUTPUT_EPS) / norm
    } else {
        1.0
    };
    for (o, p) in out.iter_mut().zip(point) {
        *o = (p * shrink) as f32;
    }
}

/// The largest written norm is 1 − `OUTPUT_EPS` (hyperbolic radius ≈ 14.5): the nearest `f32`
/// values below 1 are 6·10⁻⁸ apart, so a point written closer to the boundary would lose its
/// radius to rounding.
pub const OUTPUT_EPS: f64 = 1e-6;

/// The Lorentz (hyperboloid) model of Nickel & Kiela (2018): points x ∈ ℝ^{d+1} with
/// ⟨x, x⟩_L = −1, x₀ > 0, where ⟨x, y⟩_L = −x₀y₀ + Σᵢ xᵢyᵢ and d(x, y) = arcosh(−⟨x, y⟩_L).
#[derive(Clone, Copy, Debug, Default)]
pub struct Hyperboloid;

/// The Minkowski inner product ⟨x, y⟩_L.
pub fn minkowski(x: &[f64], y: &[f64]) -> f64 {
    -x[0] * y[0] + dot(&x[1..], &y[1..])
}

impl Hyperboloid {
    /// The largest tangent step (in hyperbolic length) one update may take; longer steps are
    /// shortened to it. Keeps an early large gradient from throwing a point to infinity.
    pub const MAX_STEP: f64 = 1.0;
    /// Points are kept at x₀ ≤ `MAX_TIME` (hyperbolic radius arcosh(10⁶) ≈ 14.5, the same as
    /// the written ball's limit, see [`OUTPUT_EPS`]).
    pub const MAX_TIME: f64 = 1e6;

    /// Puts `x` back on the hyperboloid: x₀ = √(1 + Σᵢ xᵢ²), with the spatial part shrunk if x₀
    /// would exceed [`Hyperboloid::MAX_TIME`].
    fn renormalise(x: &mut [f64]) {
        let space = dot(&x[1..], &x[1..]);
        let max_space = Self::MAX_TIME * Self::MAX_TIME - 1.0;
        if space > max_space {
            let shrink = (max_space / space).sqrt();
            x[1..].iter_mut().for_each(|c| *c *= shrink);
        }
        x[0] = (1.0 + dot(&x[1..], &x[1..])).sqrt();
    }
}

impl Manifold for Hyperboloid {
    const HYPERBOLIC: bool = true;
    fn coords(self, dim: usize) -> usize {
        dim + 1
    }

    fn init(self, noise: &[f64], point: &mut [f64]) {
        for (p, n) in point[1..].iter_mut().zip(noise) {
            *p = n * INIT_SCALE;
        }
        Self::renormalise(point);
    }

    /// d = arcosh(γ), γ = −⟨u, v⟩_L; ∂γ/∂u = (v₀, −v₁, …, −v_d) in ambient coordinates, so
    /// ∂d/∂u = (v₀, −v₁, …)/√(γ²−1).
    fn distance_grad(self, u: &[f64], v: &[f64], grad_u: &mut [f64], grad_v: &mut [f64]) -> f64 {
        let gamma = (-minkowski(u, v)).max(1.0);
        let root = ((gamma - 1.0) * (gamma + 1.0)).sqrt();
        let distance = gamma.acosh();
        if root < 1e-12 {
            grad_u.fill(0.0);
            grad_v.fill(0.0);
            return distance;
        }
        grad_u[0] = v[0] / root;
        grad_v[0] = u[0] / root;
        for i in 1..u.len() {
            grad_u[i] = -v[i] / root;
            grad_v[i] = -u[i] / root;
        }
        distance
    }

    /// The Riemannian gradient is h = g⁻¹∇ (∇ with its time component negated) projected on
    /// the tangent space, grad = h + ⟨x, h⟩_L x; the point moves along the geodesic:
    /// x ← cosh(‖v‖_L) x + sinh(‖v‖_L) v/‖v‖_L with v = −lr · grad (eq. 9–10 of the paper).
    fn step(self, point: &mut [f64], egrad: &mut [f64], lr: f64) {
        let h = egrad;
        h[0] = -h[0];
        let xh = minkowski(point, h);
        for (hi, xi) in h.iter_mut().zip(point.iter()) {
            *hi = -lr * (*hi + xh * xi);
        }
        let length = minkowski(h, h).max(0.0).sqrt();
        if length > 1e-15 {
            let clipped = length.min(Self::MAX_STEP);
            let (c, s) = (clipped.cosh(), clipped.sinh() / length);
            for (x, v) in point.iter_mut().zip(h.iter()) {
                *x = c * *x + s * v;
            }
        }
        Self::renormalise(point);
    }

    /// Ball coordinates pᵢ = xᵢ / (1 + x₀).
    fn output(self, point: &[f64], out: &mut [f32]) {
        let ball: Vec<f64> = point[1..].iter().map(|x| x / (1.0 + point[0])).collect();
        write_ball(&ball, out);
    }
}

/// Euclidean space with the Euclidean distance ‖u − v‖ (not squared: the same loss sees a
/// metric in every model).
#[derive(Clone, Copy, Debug, Default)]
pub struct Flat;

impl Manifold for Flat {
    const HYPERBOLIC: bool = false;
    fn coords(self, dim: usize) -> usize {
        dim
    }

    fn init(self, noise: &[f64], point: &mut [f64]) {
        PoincareBall::default().init(noise, point);
    }

    fn distance_grad(self, u: &[f64], v: &[f64], grad_u: &mut [f64], grad_v: &mut [f64]) -> f64 {
        let distance = u
            .iter()
            .zip(v)
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt();
        if distance < 1e-15 {
            grad_u.fill(0.0);
            grad_v.fill(0.0);
            return distance;
        }
        for i in 0..u.len() {
            grad_u[i] = (u[i] - v[i]) / distance;
            grad_v[i] = -grad_u[i];
        }
        distance
    }

    fn step(self, point: &mut [f64], egrad: &mut [f64], lr: f64) {
        for (p, g) in point.iter_mut().zip(egrad) {
            *p -= lr * *g;
        }
    }

    fn output(self, point: &[f64], out: &mut [f32]) {
        for (o, p) in out.iter_mut().zip(point) {
            *o = *p as f32;
        }
    }
}
