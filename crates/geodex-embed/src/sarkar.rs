//! Sarkar's construction (Sarkar 2011; Sala et al., ICML 2018, Algorithm 1 and its
//! d-dimensional form, §3.2): a tree embedded in the Poincaré ball with every edge of
//! hyperbolic length τ.
//!
//! The root sits at the origin. Each node a, once placed, is moved to the origin by the ball
//! isometry z ↦ (−a) ⊕ z (Möbius addition; in the disk this is z ↦ (z − a)/(1 − āz)); there
//! its parent lies in some direction p, and its c children are placed at hyperbolic distance τ
//! (Euclidean radius tanh(τ/2)) in the directions of a spherical code of c + 1 points whose
//! first point is p — the children take the other c — and z ↦ a ⊕ z moves them back. In two
//! dimensions the code is the c + 1 evenly spaced angles (Sarkar's construction exactly); in d
//! ≥ 3, where Sala et al. use Hadamard-code points, geodex spreads the points by minimising a
//! Riesz energy on the sphere ([`spherical_code`]; substituted because a Hadamard code exists
//! only for some counts and dimensions, and the energy minimiser gives any count in any
//! dimension with a larger minimum angle than those codes for the small counts of taxonomies).
//! More dimensions let siblings sit at wide angles, so the same τ separates them far better.
//!
//! Larger τ gives lower distortion (Sala et al., Theorem 3) but pushes the leaves to the
//! boundary: a node at depth k has radius kτ, and a point written as `f32` must keep radius ≤
//! about 14.5 (1 − ‖x‖ ≥ 10⁻⁶), so [`Sarkar::fitting_tau`] caps τ at that radius over the tree's
//! depth. That cap is the precision trade-off Sala et al. discuss, measured instead of assumed.
//! The construction itself runs in `f64`.
//!
//! A closure that is not a tree (several parents) is embedded through its spanning tree
//! ([`Hierarchy::spanning_tree`]); several roots hang at distance τ around a virtual root at the
//! origin.

use std::collections::HashMap;

use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::hierarchy::Hierarchy;
use crate::manifold::{write_ball, OUTPUT_EPS};
use crate::EmbedError;

/// The construction's result.
#[derive(Clone, Debug)]
pub struct Sarkar {
    /// Edge length τ used.
    pub tau: f64,
    /// Depth of the spanning tree (edges from a root to its deepest leaf; +1 under a virtual root).
    pub depth: usize,
    /// Dimension of the ball.
    pub dim: usize,
    /// Row-major ball coordinates, `dim` per node (ids as in the hierarchy).
    pub vectors: Vec<f32>,
}

impl Sarkar {
    /// The hyperbolic radius a written `f32` point may have: 2·artanh(1 − 10⁻⁶).
    pub fn max_radius() -> f64 {
        2.0 * (1.0 - OUTPUT_EPS).atanh()
    }

    /// The largest τ whose deepest node stays within [`Sarkar::max_radius`].
    pub fn fitting_tau(depth: usize) -> f64 {
        Self::max_radius() / depth.max(1) as f64
    }
}

/// Embeds the spanning tree of `hierarchy` in the `dim`-dimensional Poincaré ball with edge
/// length `tau` (`None`: [`Sarkar::fitting_tau`] of the tree's depth).
pub fn construct(hierarchy: &Hierarchy, tau: Option<f64>, dim: usize) -> Result<Sarkar, EmbedError> {
    if dim < 2 {
        return Err(EmbedError::InvalidParameter(format!(
            "the construction needs at least 2 dimensions, not {dim}"
        )));
    }
    let (parent, roots) = hierarchy.spanning_tree();
    let n = hierarchy.len();
    let mut children = vec![Vec::new(); n];
    for (u, p) in parent.iter().enumerate() {
        if let Some(p) = p {
            children[*p as usize].push(u as u32);
        }
    }
    let virtual_root = roots.len() > 1;
    let depth = tree_depth(&children, &roots) + usize::from(virtual_root);
    let tau = tau.unwrap_or_else(|| Sarkar::fitting_tau(depth));
    if !(tau.is_finite() && tau > 0.0) {
        return Err(EmbedError::InvalidParameter(
            "tau must be a positive number".into(),
        ));
    }
    let mut placer = Placer {
        radius: (tau / 2.0).tanh(),
        dim,
        codes: HashMap::new(),
        position: vec![vec![0.0; dim]; n],
    };
    let origin = vec![0.0; dim];
    let mut stack: Vec<(u32, Option<Vec<f64>>)> = Vec::new();
    if virtual_root {
        placer.place_children(&origin, None, &roots);
        stack.extend(roots.iter().map(|&r| (r, Some(origin.clone()))));
    } else {
        stack.extend(roots.iter().map(|&r| (r, None)));
    }
    while let Some((node, parent_at)) = stack.pop() {
        let here = placer.position[node as usize].clone();
        placer.place_children(&here, parent_at.as_deref(), &children[node as usize]);
        stack.extend(children[node as usize].iter().map(|&c| (c, Some(here.clone()))));
    }
    let mut vectors = vec![0f32; n * dim];
    for (out, point) in vectors.chunks_exact_mut(dim).zip(&placer.position) {
        write_ball(point, out);
    }
    Ok(Sarkar {
        tau,
        depth,
        dim,
        vectors,
    })
}

/// The placement state: positions so far and the spherical codes made, by point count.
struct Placer {
    /// Euclidean radius of a child around its parent moved to the origin: tanh(τ/2).
    radius: f64,
    dim: usize,
    codes: HashMap<usize, Vec<Vec<f64>>>,
    position: Vec<Vec<f64>>,
}

impl Placer {
    /// Places `kids` of the node at `at` (whose parent is at `parent_at`) at distance τ around
    /// it, in the picture where the node is the origin.
    fn place_children(&mut self, at: &[f64], parent_at: Option<&[f64]>, kids: &[u32]) {
        if kids.is_empty() {
            return;
        }
        let (count, first, towards_parent) = match parent_at {
            Some(p) => (kids.len() + 1, 1, Some(towards(at, p))),
            None => (kids.len(), 0, None),
        };
        let dim = self.dim;
        let code = self
            .codes
            .entry(count)
            .or_insert_with(|| spherical_code(count, dim));
        for (j, &kid) in kids.iter().enumerate() {
            let mut direction = code[j + first].clone();
            if let Some(q) = &towards_parent {
                reflect_first_axis_onto(&mut direction, q);
            }
            let local: Vec<f64> = direction.iter().map(|x| x * self.radius).collect();
            let placed = mobius_add(at, &local);
            self.position[kid as usize] = if placed.iter().all(|x| x.is_finite()) {
                inside_f64_ball(placed)
            } else {
                at.to_vec()
            };
        }
    }
}

/// Möbius addition x ⊕ y in the Poincaré ball of curvature −1 (Ungar): z ↦ a ⊕ z is an
/// isometry taking 0 to a, and z ↦ (−a) ⊕ z its inverse.
fn mobius_add(x: &[f64], y: &[f64]) -> Vec<f64> {
    let (xy, xx, yy) = (dot(x, y), dot(x, x), dot(y, y));
    let denominator = 1.0 + 2.0 * xy + xx * yy;
    let (cx, cy) = ((1.0 + 2.0 * xy + yy) / denominator, (1.0 - xx) / denominator);
    x.iter().zip(y).map(|(a, b)| cx * a + cy * b).collect()
}

/// The direction of `p` seen from `a` moved to the origin: (−a) ⊕ p. Both near the boundary
/// (deeper than `f64` resolves) the Möbius sum is 0/0; the parent then lies towards the origin,
/// −a, to the precision there is.
fn towards(a: &[f64], p: &[f64]) -> Vec<f64> {
    let q = mobius_add(&negate(a), p);
    if q.iter().all(|x| x.is_finite()) && dot(&q, &q) > 1e-300 {
        return q;
    }
    if dot(a, a) > 0.0 {
        negate(a)
    } else {
        (0..a.len()).map(|i| f64::from(i == 0)).collect()
    }
}

/// Norm bound of a position while constructing: 1 − ‖x‖ must stay representable in `f64`
/// (hyperbolic radius ≈ 36.7), or the next Möbius addition divides 0 by 0.
const F64_EDGE: f64 = 1.0 - 1e-15;

/// `x` pulled back inside norm [`F64_EDGE`]: a node deeper than `f64` resolves shares its
/// ancestor's boundary point instead of becoming NaN.
fn inside_f64_ball(x: Vec<f64>) -> Vec<f64> {
    let norm = dot(&x, &x).sqrt();
    if norm <= F64_EDGE {
        return x;
    }
    x.into_iter().map(|v| v * F64_EDGE / norm).collect()
}

fn negate(x: &[f64]) -> Vec<f64> {
    x.iter().map(|v| -v).collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Applies to `v` the Householder reflection that takes the first axis e₁ to the direction of
/// `target` (an isometry of the sphere: every angle between code points is kept).
fn reflect_first_axis_onto(v: &mut [f64], target: &[f64]) {
    let norm = dot(target, target).sqrt();
    let mut w: Vec<f64> = target.iter().map(|t| -t / norm).collect();
    w[0] += 1.0; // w = e₁ − target/‖target‖; H = I − 2wwᵀ/‖w‖² maps e₁ onto target/‖target‖.
    let ww = dot(&w, &w);
    if ww < 1e-24 {
        return;
    }
    let scale = 2.0 * dot(&w, v) / ww;
    for (x, wi) in v.iter_mut().zip(&w) {
        *x -= scale * wi;
    }
}

/// Iterations of the energy minimisation of [`spherical_code`].
const CODE_ITERATIONS: usize = 300;

/// `count` unit vectors in `dim` dimensions, spread apart, the first one e₁. Two dimensions:
/// the evenly spaced angles 2πj/count. More: a seeded random start, then projected gradient
/// steps on the Riesz s-energy Σ 1/‖xᵢ − xⱼ‖ˢ with s = 2·dim (a large s approaches the
/// max–min-angle problem), the first point held at e₁, the step shrinking over the iterations.
pub fn spherical_code(count: usize, dim: usize) -> Vec<Vec<f64>> {
    let e1 = |d: usize| (0..d).map(|i| f64::from(i == 0)).collect::<Vec<f64>>();
    if dim == 2 {
        let step = 2.0 * std::f64::consts::PI / count as f64;
        return (0..count)
            .map(|j| vec![(step * j as f64).cos(), (step * j as f64).sin()])
            .collect();
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64((count * 1_000 + dim) as u64);
    let mut points: Vec<Vec<f64>> = (0..count)
        .map(|j| {
            if j == 0 {
                return e1(dim);
            }
            let v: Vec<f64> = (0..dim).map(|_| uniform(&mut rng) - 0.5).collect();
            normalised(v)
        })
        .collect();
    let s = 2.0 * dim as f64;
    for iteration in 0..CODE_ITERATIONS {
        let step = 0.2 * (1.0 - iteration as f64 / CODE_ITERATIONS as f64) + 0.005;
        let forces: Vec<Vec<f64>> = (1..count).map(|i| repulsion(&points, i, s)).collect();
        for (i, force) in (1..count).zip(forces) {
            let strongest = dot(&force, &force).sqrt().max(1e-300);
            let moved: Vec<f64> = points[i]
                .iter()
                .zip(&force)
                .map(|(x, f)| x + step * f / strongest)
                .collect();
            points[i] = normalised(moved);
        }
    }
    points
}

/// The negative gradient of the Riesz s-energy at point `i`: Σⱼ (xᵢ − xⱼ)/‖xᵢ − xⱼ‖^(s+2).
fn repulsion(points: &[Vec<f64>], i: usize, s: f64) -> Vec<f64> {
    let mut force = vec![0.0; points[i].len()];
    for (j, other) in points.iter().enumerate() {
        if j == i {
            continue;
        }
        let diff: Vec<f64> = points[i].iter().zip(other).map(|(a, b)| a - b).collect();
        let d2 = dot(&diff, &diff).max(1e-12);
        let weight = d2.powf(-(s + 2.0) / 2.0);
        for (f, d) in force.iter_mut().zip(&diff) {
            *f += weight * d;
        }
    }
    force
}

fn normalised(v: Vec<f64>) -> Vec<f64> {
    let norm = dot(&v, &v).sqrt().max(1e-300);
    v.into_iter().map(|x| x / norm).collect()
}

/// A uniform number in [0, 1) from the top 53 bits.
fn uniform(rng: &mut Xoshiro256PlusPlus) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

fn tree_depth(children: &[Vec<u32>], roots: &[u32]) -> usize {
    let mut deepest = 0;
    let mut stack: Vec<(u32, usize)> = roots.iter().map(|&r| (r, 0)).collect();
    while let Some((u, d)) = stack.pop() {
        deepest = deepest.max(d);
        stack.extend(children[u as usize].iter().map(|&c| (c, d + 1)));
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The complex-number disk maps the construction used before it had d dimensions.
    fn disk_to_origin(z: [f64; 2], a: [f64; 2]) -> [f64; 2] {
        // (z − a)/(1 − āz)
        let num = [z[0] - a[0], z[1] - a[1]];
        let az = [a[0] * z[0] + a[1] * z[1], a[0] * z[1] - a[1] * z[0]];
        let den = [1.0 - az[0], -az[1]];
        let d2 = den[0] * den[0] + den[1] * den[1];
        [
            (num[0] * den[0] + num[1] * den[1]) / d2,
            (num[1] * den[0] - num[0] * den[1]) / d2,
        ]
    }

    #[test]
    fn mobius_addition_is_the_disk_map_in_two_dimensions_and_inverts() {
        let a = [0.3, -0.5];
        for z in [[0.0, 0.0], [0.7, 0.1], [-0.2, 0.9]] {
            let ours = mobius_add(&negate(&a), &z);
            let disk = disk_to_origin(z, a);
            assert!((ours[0] - disk[0]).abs() < 1e-12 && (ours[1] - disk[1]).abs() < 1e-12);
            let back = mobius_add(&a, &ours);
            assert!((back[0] - z[0]).abs() < 1e-12 && (back[1] - z[1]).abs() < 1e-12);
        }
        let a5 = [0.1, -0.2, 0.3, 0.05, -0.4];
        let z5 = [0.5, 0.1, -0.3, 0.2, 0.1];
        let back = mobius_add(&a5, &mobius_add(&negate(&a5), &z5));
        assert!(
            back.iter().zip(z5).all(|(b, z)| (b - z).abs() < 1e-12),
            "{back:?}"
        );
    }

    fn min_angle(code: &[Vec<f64>]) -> f64 {
        let mut best = std::f64::consts::PI;
        for i in 0..code.len() {
            for j in 0..i {
                best = best.min(dot(&code[i], &code[j]).clamp(-1.0, 1.0).acos());
            }
        }
        best
    }

    #[test]
    fn spherical_codes_reach_the_known_optima() {
        // A regular simplex is the best code of d + 1 points: angle arccos(−1/d).
        for dim in [3, 5, 10] {
            let code = spherical_code(dim + 1, dim);
            let want = (-1.0 / dim as f64).acos();
            assert!(
                (min_angle(&code) - want).abs() < 0.01,
                "d {dim}: {}",
                min_angle(&code)
            );
            assert!(code.iter().all(|v| (dot(v, v) - 1.0).abs() < 1e-12));
            assert_eq!(code[0][0], 1.0, "the first point stays on e1");
        }
        // The cross-polytope, 2·d points at right angles, is optimal for 2·d points.
        let code = spherical_code(6, 3);
        assert!(
            (min_angle(&code) - std::f64::consts::FRAC_PI_2).abs() < 0.01,
            "{}",
            min_angle(&code)
        );
        // A 35-child mammal node's code (36 points with its parent) in 10 dimensions: the disk
        // would leave 10°.
        let wide = min_angle(&spherical_code(36, 10)).to_degrees();
        assert!(wide > 70.0, "{wide}");
        // The icosahedron: 12 points on S², angle 63.43°.
        let code = spherical_code(12, 3);
        assert!(
            (min_angle(&code).to_degrees() - 63.435).abs() < 0.5,
            "{}",
            min_angle(&code).to_degrees()
        );
    }

    #[test]
    fn the_reflection_takes_the_first_axis_onto_the_target_and_keeps_angles() {
        let target = [0.2, -0.7, 0.4, 0.1];
        let mut e1 = vec![1.0, 0.0, 0.0, 0.0];
        reflect_first_axis_onto(&mut e1, &target);
        let unit = normalised(target.to_vec());
        assert!(e1.iter().zip(&unit).all(|(a, b)| (a - b).abs() < 1e-12), "{e1:?}");
        let (mut u, mut v) = (vec![0.3, 0.1, -0.5, 0.2], vec![-0.1, 0.6, 0.2, 0.3]);
        let before = dot(&u, &v);
        reflect_first_axis_onto(&mut u, &target);
        reflect_first_axis_onto(&mut v, &target);
        assert!((dot(&u, &v) - before).abs() < 1e-12);
    }
}
