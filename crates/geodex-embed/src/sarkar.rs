//! Sarkar's construction (Sarkar 2011; Sala et al., ICML 2018, Algorithm 1): a tree embedded
//! in the Poincaré disk with every edge of hyperbolic length τ.
//!
//! The root sits at the origin. Each node, once placed, is moved to the origin by the disk
//! isometry z ↦ (z − a)/(1 − āz); there its parent lies in some direction θ, and its c children
//! are placed at hyperbolic distance τ (Euclidean radius tanh(τ/2)) at the angles
//! θ + 2πj/(c + 1), j = 1…c, spread evenly around the parent's direction (at 2πj/c for the
//! root); the inverse isometry z ↦ (z + a)/(1 + āz) moves them back. Larger τ gives lower
//! distortion (Sala et al., Theorem 3) but pushes the leaves to the boundary: a node at depth k
//! has radius kτ, and a point written as `f32` must keep radius ≤ about 14.5 (1 − ‖x‖ ≥ 10⁻⁶),
//! so [`Sarkar::fitting_tau`] caps τ at that radius over the tree's depth. That cap is the
//! precision trade-off Sala et al. discuss, measured instead of assumed.
//!
//! A closure that is not a tree (several parents) is embedded through its spanning tree
//! ([`Hierarchy::spanning_tree`]); several roots hang at distance τ around a virtual root at the
//! origin.

use crate::hierarchy::Hierarchy;
use crate::manifold::{write_ball, OUTPUT_EPS};
use crate::EmbedError;

/// A complex number (x + iy) for the disk's Möbius maps.
#[derive(Clone, Copy, Debug, PartialEq)]
struct C(f64, f64);

impl C {
    fn add(self, o: C) -> C {
        C(self.0 + o.0, self.1 + o.1)
    }
    fn sub(self, o: C) -> C {
        C(self.0 - o.0, self.1 - o.1)
    }
    fn mul(self, o: C) -> C {
        C(self.0 * o.0 - self.1 * o.1, self.0 * o.1 + self.1 * o.0)
    }
    fn conj(self) -> C {
        C(self.0, -self.1)
    }
    fn div(self, o: C) -> C {
        let d = o.0 * o.0 + o.1 * o.1;
        let n = self.mul(o.conj());
        C(n.0 / d, n.1 / d)
    }
    /// z ↦ (z − a)/(1 − āz): the disk isometry taking a to 0.
    fn to_origin(self, a: C) -> C {
        self.sub(a).div(C(1.0, 0.0).sub(a.conj().mul(self)))
    }
    /// z ↦ (z + a)/(1 + āz): the inverse of [`C::to_origin`].
    fn back_from_origin(self, a: C) -> C {
        self.add(a).div(C(1.0, 0.0).add(a.conj().mul(self)))
    }
}

/// The construction's result.
#[derive(Clone, Debug)]
pub struct Sarkar {
    /// Edge length τ used.
    pub tau: f64,
    /// Depth of the spanning tree (edges from a root to its deepest leaf; +1 under a virtual root).
    pub depth: usize,
    /// Row-major disk coordinates, two per node (ids as in the hierarchy).
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

/// Embeds the spanning tree of `hierarchy` in the Poincaré disk with edge length `tau`
/// (`None`: [`Sarkar::fitting_tau`] of the tree's depth).
pub fn construct(hierarchy: &Hierarchy, tau: Option<f64>) -> Result<Sarkar, EmbedError> {
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
    let radius = (tau / 2.0).tanh();
    let mut position = vec![C(0.0, 0.0); n];
    let mut stack: Vec<(u32, Option<C>)> = Vec::new();
    if virtual_root {
        place_children(C(0.0, 0.0), None, &roots, radius, &mut position);
        stack.extend(roots.iter().map(|&r| (r, Some(C(0.0, 0.0)))));
    } else {
        stack.extend(roots.iter().map(|&r| (r, None)));
    }
    while let Some((node, parent_at)) = stack.pop() {
        let here = position[node as usize];
        place_children(here, parent_at, &children[node as usize], radius, &mut position);
        stack.extend(children[node as usize].iter().map(|&c| (c, Some(here))));
    }
    let vectors = position.iter().flat_map(|z| clamp_to_disk(*z)).collect();
    Ok(Sarkar { tau, depth, vectors })
}

/// Places `kids` of the node at `at` (whose parent is at `parent_at`) at Euclidean radius
/// `radius` around it in the isometric picture where the node is the origin.
fn place_children(at: C, parent_at: Option<C>, kids: &[u32], radius: f64, position: &mut [C]) {
    let (theta, slots, first) = match parent_at {
        Some(p) => {
            let q = p.to_origin(at);
            (q.1.atan2(q.0), kids.len() + 1, 1)
        }
        None => (0.0, kids.len(), 0),
    };
    for (j, &kid) in kids.iter().enumerate() {
        let angle = theta + 2.0 * std::f64::consts::PI * (j + first) as f64 / slots as f64;
        let local = C(radius * angle.cos(), radius * angle.sin());
        position[kid as usize] = local.back_from_origin(at);
    }
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

/// The `f32` coordinates of a disk point, pulled inside norm 1 − 10⁻⁶ if needed.
fn clamp_to_disk(z: C) -> [f32; 2] {
    let mut out = [0f32; 2];
    write_ball(&[z.0, z.1], &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobius_maps_are_inverse_isometries() {
        let a = C(0.3, -0.5);
        for z in [C(0.0, 0.0), C(0.7, 0.1), C(-0.2, 0.9)] {
            let back = z.to_origin(a).back_from_origin(a);
            assert!((back.0 - z.0).abs() < 1e-12 && (back.1 - z.1).abs() < 1e-12);
        }
        assert!(a.to_origin(a).0.abs() < 1e-15);
    }
}
