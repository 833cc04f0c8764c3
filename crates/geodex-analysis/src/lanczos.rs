//! The largest eigenpair of a sparse symmetric operator on the orthogonal complement of a known
//! eigenvector, by the Lanczos method with full reorthogonalisation and explicit restarts
//! (Lanczos 1950; Golub & Van Loan, *Matrix Computations*, 4th ed., §10.1–10.3; the
//! "twice is enough" re-orthogonalisation of Giraud et al. 2005).
//!
//! Written here rather than taken from a crate: the maintained Rust sparse eigensolvers either
//! work only on dense or `nalgebra_sparse` matrices, or do not let the caller deflate a known
//! null vector, which λ₂ of a Laplacian needs (its smallest eigenvalue is always 0, with the
//! constant vector). The operator is given as a closure, so the Laplacians are never formed.
//!
//! Used on B = σI − L (σ ≥ λ_max(L)): the largest eigenvalue of B on 1⊥ is σ − λ₂(L). Lanczos
//! converges fastest at the ends of the spectrum, so this finds λ₂ without a linear solver.

use nalgebra::DMatrix;

/// Settings of [`largest_eigenpair`].
#[derive(Clone, Copy, Debug)]
pub struct LanczosOptions {
    /// Largest Krylov basis before a restart (memory: `max_basis` vectors of n `f64`s).
    pub max_basis: usize,
    /// Restarts allowed before giving up (the best Ritz pair so far is returned, unconverged).
    pub max_restarts: usize,
    /// Converged when ‖B·x − θ·x‖ ≤ `tolerance` · `scale` (`scale` is the caller's bound on
    /// the operator's norm).
    pub tolerance: f64,
}

impl Default for LanczosOptions {
    fn default() -> Self {
        LanczosOptions {
            max_basis: 200,
            max_restarts: 40,
            tolerance: 1e-7,
        }
    }
}

/// A Ritz pair and how it was reached.
#[derive(Clone, Debug)]
pub struct EigenPair {
    /// The eigenvalue estimate θ.
    pub value: f64,
    /// The unit eigenvector estimate x (orthogonal to the deflated vector).
    pub vector: Vec<f64>,
    /// ‖B·x − θ·x‖, the true residual (recomputed, not the Lanczos estimate).
    pub residual: f64,
    /// Operator applications spent.
    pub matvecs: usize,
    /// Whether the residual met the tolerance.
    pub converged: bool,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// w ← w − (w·v) v for each v: one Gram–Schmidt pass.
fn orthogonalise(w: &mut [f64], basis: &[Vec<f64>]) {
    for v in basis {
        let c = dot(w, v);
        w.iter_mut().zip(v).for_each(|(wi, vi)| *wi -= c * vi);
    }
}

/// The eigenvector of the largest eigenvalue of the tridiagonal matrix with diagonal `alpha`
/// and off-diagonal `beta` (dense solve: the basis is at most a few hundred).
fn top_ritz(alpha: &[f64], beta: &[f64]) -> Vec<f64> {
    let k = alpha.len();
    let t = DMatrix::from_fn(k, k, |i, j| {
        if i == j {
            alpha[i]
        } else if i + 1 == j {
            beta[i]
        } else if j + 1 == i {
            beta[j]
        } else {
            0.0
        }
    });
    let eig = t.symmetric_eigen();
    let top = eig.eigenvalues.imax();
    eig.eigenvectors.column(top).iter().copied().collect()
}

/// The largest eigenpair of the symmetric operator `apply` (y ← B·x) restricted to the
/// orthogonal complement of the orthonormal vectors `deflate` (known eigenvectors), starting
/// from `start`.
///
/// `scale` should bound ‖B‖ (it sets the convergence test). Invariant: every basis vector is
/// orthogonal to `deflate` and to the others to working precision (two Gram–Schmidt passes).
pub fn largest_eigenpair(
    apply: impl Fn(&[f64], &mut [f64]),
    deflate: &[Vec<f64>],
    start: Vec<f64>,
    scale: f64,
    options: &LanczosOptions,
) -> EigenPair {
    let n = start.len();
    let mut x = start;
    let deflation = deflate;
    orthogonalise(&mut x, deflation);
    orthogonalise(&mut x, deflation);
    let mut matvecs = 0;
    let mut best = EigenPair {
        value: f64::NAN,
        vector: x.clone(),
        residual: f64::INFINITY,
        matvecs: 0,
        converged: false,
    };
    let mut w = vec![0.0; n];
    for _restart in 0..=options.max_restarts {
        let nx = norm(&x);
        if nx == 0.0 || n <= 1 {
            break;
        }
        x.iter_mut().for_each(|v| *v /= nx);
        let mut basis: Vec<Vec<f64>> = vec![x.clone()];
        let (mut alpha, mut beta) = (Vec::new(), Vec::new());
        let limit = options.max_basis.min(n - 1).max(1);
        loop {
            let v = basis.last().expect("basis is never empty");
            apply(v, &mut w);
            matvecs += 1;
            alpha.push(dot(&w, v));
            orthogonalise(&mut w, &basis);
            orthogonalise(&mut w, &basis);
            orthogonalise(&mut w, deflation);
            let b = norm(&w);
            let full = basis.len() >= limit || b <= 1e-12 * scale;
            let check = full || basis.len().is_multiple_of(16);
            if check {
                // The Lanczos residual estimate of the top Ritz pair: β_j · |s_last|.
                let s = top_ritz(&alpha, &beta);
                let estimate = b * s.last().map_or(0.0, |l| l.abs());
                if full || estimate <= options.tolerance * scale {
                    x = ritz_vector(&basis, &s, n);
                    break;
                }
            }
            beta.push(b);
            basis.push(w.iter().map(|wi| wi / b).collect());
        }
        let (value, residual) = rayleigh(&apply, &x, &mut w);
        matvecs += 1;
        best = EigenPair {
            value,
            vector: x.clone(),
            residual,
            matvecs,
            converged: residual <= options.tolerance * scale,
        };
        if best.converged {
            break;
        }
    }
    best.matvecs = matvecs;
    best
}

/// Σ s_i · basis_i, normalised.
fn ritz_vector(basis: &[Vec<f64>], s: &[f64], n: usize) -> Vec<f64> {
    let mut x = vec![0.0; n];
    for (v, &c) in basis.iter().zip(s) {
        x.iter_mut().zip(v).for_each(|(xi, vi)| *xi += c * vi);
    }
    let nx = norm(&x);
    x.iter_mut().for_each(|xi| *xi /= nx);
    x
}

/// The Rayleigh quotient θ = xᵀBx of unit `x` and the residual ‖Bx − θx‖.
fn rayleigh(apply: &impl Fn(&[f64], &mut [f64]), x: &[f64], w: &mut [f64]) -> (f64, f64) {
    apply(x, w);
    let theta = dot(w, x);
    let r = w
        .iter()
        .zip(x)
        .map(|(wi, xi)| (wi - theta * xi).powi(2))
        .sum::<f64>()
        .sqrt();
    (theta, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagonal_operator_with_deflated_top() {
        // B = diag(10, 7, 3, 1, …): deflating e₀ leaves 7 as the largest eigenvalue.
        let d: Vec<f64> = (0..50)
            .map(|i| [10.0, 7.0, 3.0][i.min(2)] - (i as f64) * 1e-3)
            .collect();
        let apply = |x: &[f64], y: &mut [f64]| y.iter_mut().zip(x).zip(&d).for_each(|((y, x), d)| *y = d * x);
        let mut e0 = vec![0.0; 50];
        e0[0] = 1.0;
        let start = (0..50).map(|i| 1.0 + i as f64).collect();
        let p = largest_eigenpair(apply, &[e0], start, 10.0, &LanczosOptions::default());
        assert!(p.converged);
        assert!((p.value - (7.0 - 1e-3)).abs() < 1e-9, "{}", p.value);
        assert!(p.vector[1].abs() > 1.0 - 1e-9);
    }
}
