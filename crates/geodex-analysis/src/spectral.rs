//! Spectral measurements of a graph (THEORY.md §3.3): the Fiedler value λ₂ and vector of the
//! combinatorial Laplacian L = D − A and of the normalised Laplacian 𝓛 = I − D^{-1/2} A D^{-1/2},
//! the conductance of the best Fiedler sweep cut, and the Cheeger check
//! λ₂(𝓛)/2 ≤ φ(G) ≤ √(2·λ₂(𝓛)) (Chung, *Spectral Graph Theory*, 1997, Thm. 2.2 and §2.2), where
//! φ divides the cut by the smaller side's volume. The reference text's h(G) divides by the
//! smaller side's node count (edge expansion); that one pairs with the combinatorial Laplacian,
//! λ₂(L)/2 ≤ h(G) ≤ √(2·d_max·λ₂(L)) (Mohar 1989; the upper bound is met by a sweep of L's
//! Fiedler vector), and is checked beside it.
//!
//! Both Laplacians are positive semi-definite with a known null vector (the constant vector
//! for L, D^{1/2}·1 for 𝓛), so λ₂ is σ minus the largest eigenvalue of σI − Laplacian on the
//! null vector's orthogonal complement, which [`crate::lanczos`] finds. σ = 2·d_max for L
//! (Gershgorin: λ_max(L) ≤ 2·d_max) and σ = 2 for 𝓛 (its spectrum lies in [0, 2]).
//!
//! A disconnected graph has λ₂ = 0 exactly, with the indicator of a component as eigenvector
//! and a zero-conductance cut; that case is decided by a component count, not by the solver.

use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;

use crate::adjacency::UndirectedGraph;
use crate::lanczos::{largest_eigenpair, LanczosOptions};

/// Which Laplacian.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Laplacian {
    /// L = D − A.
    Combinatorial,
    /// 𝓛 = I − D^{-1/2} A D^{-1/2} (isolated nodes contribute a 0 row).
    Normalized,
}

impl std::str::FromStr for Laplacian {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "combinatorial" => Ok(Laplacian::Combinatorial),
            "normalized" | "normalised" => Ok(Laplacian::Normalized),
            other => Err(format!("unknown Laplacian {other:?} (combinatorial, normalized)")),
        }
    }
}

/// Settings of the spectral measurements.
#[derive(Clone, Copy, Debug)]
pub struct SpectralOptions {
    /// Seed of the random start vector (same seed, same result).
    pub seed: u64,
    /// Eigensolver settings.
    pub lanczos: LanczosOptions,
}

impl Default for SpectralOptions {
    fn default() -> Self {
        SpectralOptions {
            seed: 0x5eed,
            lanczos: LanczosOptions::default(),
        }
    }
}

/// λ₂ and its eigenvector for one Laplacian.
#[derive(Clone, Debug)]
pub struct Fiedler {
    /// Which Laplacian.
    pub laplacian: Laplacian,
    /// The second-smallest eigenvalue (0 iff the graph is disconnected).
    pub lambda2: f64,
    /// A unit eigenvector of λ₂, orthogonal to the null vector.
    pub vector: Vec<f64>,
    /// ‖Laplacian·v − λ₂·v‖ of the returned pair.
    pub residual: f64,
    /// Operator applications the solver spent (0 when decided by components).
    pub matvecs: usize,
    /// Whether the solver met its tolerance (always true when decided by components).
    pub converged: bool,
}

/// A symmetric adjacency with non-negative weights, as the Laplacian solves need it: the node
/// count, the weighted degrees d_u = Σ_v w_uv and the product y = W·x. Implemented by the
/// unweighted [`UndirectedGraph`] (w ∈ {0, 1}) and by callers' weighted graphs (the spectral
/// regulariser of `geodex-edges`), so both share one operator and one solve.
pub trait WeightedAdjacency {
    /// Number of nodes.
    fn node_count(&self) -> usize;
    /// d_u = Σ_v w_uv.
    fn weighted_degree(&self, u: usize) -> f64;
    /// y = W·x.
    fn adjacency_apply(&self, x: &[f64], y: &mut [f64]);
}

impl WeightedAdjacency for UndirectedGraph {
    fn node_count(&self) -> usize {
        UndirectedGraph::node_count(self)
    }
    fn weighted_degree(&self, u: usize) -> f64 {
        self.degree(u) as f64
    }
    fn adjacency_apply(&self, x: &[f64], y: &mut [f64]) {
        UndirectedGraph::adjacency_apply(self, x, y)
    }
}

/// σI − Laplacian as an operator, with σ and the Laplacian's unit null vector.
struct Shifted<'g, G: WeightedAdjacency + ?Sized> {
    g: &'g G,
    laplacian: Laplacian,
    sigma: f64,
    degree: Vec<f64>,
    inv_sqrt_degree: Vec<f64>,
    null: Vec<f64>,
    scratch: std::cell::RefCell<Vec<f64>>,
}

impl<'g, G: WeightedAdjacency + ?Sized> Shifted<'g, G> {
    fn new(g: &'g G, laplacian: Laplacian) -> Self {
        let n = g.node_count();
        let degree: Vec<f64> = (0..n).map(|u| g.weighted_degree(u)).collect();
        let max_degree = degree.iter().copied().fold(0.0f64, f64::max);
        let (null, sigma) = match laplacian {
            Laplacian::Combinatorial => (vec![1.0; n], 2.0 * max_degree),
            Laplacian::Normalized => (degree.iter().map(|d| d.sqrt()).collect(), 2.0),
        };
        let inv_sqrt_degree = degree
            .iter()
            .map(|&d| if d > 0.0 { 1.0 / d.sqrt() } else { 0.0 })
            .collect();
        Shifted {
            g,
            laplacian,
            sigma,
            degree,
            inv_sqrt_degree,
            null: unit(null),
            scratch: std::cell::RefCell::new(vec![0.0; n]),
        }
    }

    /// y = (σI − Laplacian)·x.
    fn apply(&self, x: &[f64], y: &mut [f64]) {
        let (n, sigma) = (x.len(), self.sigma);
        match self.laplacian {
            Laplacian::Combinatorial => {
                self.g.adjacency_apply(x, y);
                for u in 0..n {
                    y[u] += (sigma - self.degree[u]) * x[u];
                }
            }
            Laplacian::Normalized => {
                // σI − 𝓛 = (σ − 1)I + D^{-1/2} W D^{-1/2}.
                let mut s = self.scratch.borrow_mut();
                for u in 0..n {
                    s[u] = x[u] * self.inv_sqrt_degree[u];
                }
                self.g.adjacency_apply(&s[..], y);
                for u in 0..n {
                    y[u] = y[u] * self.inv_sqrt_degree[u] + (sigma - 1.0) * x[u];
                }
            }
        }
    }

    /// The largest eigenpair of σI − Laplacian on the null vector's complement, from `start`,
    /// as λ₂ = σ − θ and its unit eigenvector.
    fn solve(&self, start: Vec<f64>, deflate: &[Vec<f64>], lanczos: &LanczosOptions) -> Fiedler {
        let pair = largest_eigenpair(
            |x, y| self.apply(x, y),
            deflate,
            start,
            self.sigma.max(1e-12),
            lanczos,
        );
        Fiedler {
            laplacian: self.laplacian,
            lambda2: (self.sigma - pair.value).max(0.0),
            vector: pair.vector,
            residual: pair.residual,
            matvecs: pair.matvecs,
            converged: pair.converged,
        }
    }
}

/// λ₂ of `laplacian` for `g` (at least 2 nodes; for fewer, λ₂ is undefined and 0 is returned).
pub fn fiedler(g: &UndirectedGraph, laplacian: Laplacian, options: &SpectralOptions) -> Fiedler {
    let n = g.node_count();
    let (labels, components) = g.components();
    if n < 2 || components > 1 {
        return disconnected(g, laplacian, &labels);
    }
    weighted_fiedler(g, laplacian, random_vector(n, options.seed), &options.lanczos)
}

/// λ₂ of `laplacian` for any weighted adjacency, by Lanczos from `start` (a previous
/// eigenvector makes a warm start). For a connected graph of at least 2 nodes: a disconnected
/// one has λ₂ = 0 and the solver returns some vector of the null space.
pub fn weighted_fiedler<G: WeightedAdjacency + ?Sized>(
    g: &G,
    laplacian: Laplacian,
    start: Vec<f64>,
    lanczos: &LanczosOptions,
) -> Fiedler {
    let op = Shifted::new(g, laplacian);
    op.solve(start, std::slice::from_ref(&op.null), lanczos)
}

/// The `count` smallest eigenvalues of `laplacian` above the trivial 0 (λ₂ ≤ λ₃ ≤ …), one
/// deflated Lanczos solve each (every solve deflates the null vector and the eigenvectors
/// found so far, so repeated eigenvalues appear as often as their multiplicity). For a
/// connected graph; a disconnected one gets zeros for its extra components first.
pub fn smallest_eigenvalues(
    g: &UndirectedGraph,
    laplacian: Laplacian,
    count: usize,
    options: &SpectralOptions,
) -> Vec<f64> {
    let n = g.node_count();
    let op = Shifted::new(g, laplacian);
    let mut found = vec![op.null.clone()];
    let mut values = Vec::new();
    for i in 0..count.min(n.saturating_sub(1)) {
        let start = random_vector(n, options.seed.wrapping_add(i as u64));
        let pair = op.solve(start, &found, &options.lanczos);
        values.push(pair.lambda2);
        found.push(pair.vector);
    }
    values
}

/// λ₂ = 0 with the (null-vector-orthogonal) indicator of the first component as eigenvector.
fn disconnected(g: &UndirectedGraph, laplacian: Laplacian, labels: &[u32]) -> Fiedler {
    let n = g.node_count();
    let weight = |u: usize| match laplacian {
        Laplacian::Combinatorial => 1.0,
        Laplacian::Normalized => (g.degree(u) as f64).sqrt(),
    };
    // v = w·(𝟙_C/|C|_w − 𝟙_rest/|rest|_w) is in the null space and orthogonal to the null vector w.
    let inside: f64 = (0..n)
        .filter(|&u| labels[u] == 0)
        .map(|u| weight(u).powi(2))
        .sum();
    let outside: f64 = (0..n)
        .filter(|&u| labels[u] != 0)
        .map(|u| weight(u).powi(2))
        .sum();
    let vector = (0..n)
        .map(|u| {
            let share = if labels[u] == 0 { inside } else { -outside };
            if share == 0.0 {
                0.0
            } else {
                weight(u) / share
            }
        })
        .collect();
    Fiedler {
        laplacian,
        lambda2: 0.0,
        vector: unit(vector),
        residual: 0.0,
        matvecs: 0,
        converged: true,
    }
}

fn unit(mut v: Vec<f64>) -> Vec<f64> {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// Uniform in [−1, 1)ⁿ from `seed`: the seeded start of a Lanczos solve.
pub fn random_vector(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..n)
        .map(|_| (rng.next_u64() >> 11) as f64 / (1u64 << 52) as f64 - 1.0)
        .collect()
}

/// What a cut's crossing edges are divided by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CutSize {
    /// min(vol S, vol S̄), the sum of degrees: conductance φ(S).
    Volume,
    /// min(|S|, |S̄|), the node count: edge expansion h(S).
    Nodes,
}

/// The best prefix cut of a vertex ordering.
#[derive(Clone, Debug, Serialize)]
pub struct SweepCut {
    /// |E(S, S̄)| / min(size S, size S̄) of the best prefix S, the size as [`CutSize`] says.
    pub ratio: f64,
    /// |S| of the best prefix (the smaller side by volume may be either).
    pub size: usize,
    /// Edges crossing the cut.
    pub cut_edges: usize,
}

/// Sweeps the nodes in increasing order of `score` and returns the prefix of least cut ratio
/// (Spielman & Teng's sweep). With [`CutSize::Volume`] and the normalised Fiedler vector scaled
/// by D^{-1/2} this is the cut Cheeger's inequality promises, φ ≤ √(2·λ₂(𝓛)); with
/// [`CutSize::Nodes`] and L's Fiedler vector, h ≤ √(2·d_max·λ₂(L)). O(E + n log n).
pub fn sweep_cut(g: &UndirectedGraph, score: &[f64], size: CutSize) -> Option<SweepCut> {
    let n = g.node_count();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| score[a].total_cmp(&score[b]).then(a.cmp(&b)));
    let weight = |u: usize| match size {
        CutSize::Volume => g.degree(u),
        CutSize::Nodes => 1,
    };
    let total: usize = (0..n).map(weight).sum();
    let mut inside = vec![false; n];
    let (mut measure, mut cut) = (0usize, 0isize);
    let mut best: Option<SweepCut> = None;
    for (i, &u) in order.iter().enumerate().take(n.saturating_sub(1)) {
        let to_inside = g.neighbors(u).iter().filter(|&&v| inside[v as usize]).count();
        inside[u] = true;
        measure += weight(u);
        cut += g.degree(u) as isize - 2 * to_inside as isize;
        let smaller = measure.min(total - measure);
        if smaller == 0 {
            continue;
        }
        let ratio = cut as f64 / smaller as f64;
        if best.as_ref().is_none_or(|b| ratio < b.ratio) {
            best = Some(SweepCut {
                ratio,
                size: i + 1,
                cut_edges: cut as usize,
            });
        }
    }
    best
}

/// The spectral section of `geodex analyze`.
#[derive(Clone, Debug, Serialize)]
pub struct SpectralReport {
    /// Nodes and undirected edges of the symmetrised graph.
    pub nodes: usize,
    /// Undirected edges.
    pub edges: usize,
    /// λ₂ of L = D − A.
    pub lambda2: f64,
    /// λ₂ of 𝓛 = I − D^{-1/2} A D^{-1/2}.
    pub lambda2_normalized: f64,
    /// Conductance of the best sweep cut of D^{-1/2}·(normalised Fiedler vector).
    pub conductance: f64,
    /// Nodes on the first side of that cut.
    pub cut_size: usize,
    /// λ₂(𝓛)/2, Cheeger's lower bound on the graph's conductance h(G).
    pub cheeger_lower: f64,
    /// √(2·λ₂(𝓛)), Cheeger's upper bound on h(G) (and on the sweep cut's conductance).
    pub cheeger_upper: f64,
    /// Whether λ₂/2 ≤ sweep conductance ≤ √(2λ₂) held (h(G) ≤ the sweep's conductance, so the
    /// left inequality bounds it as well).
    pub cheeger_holds: bool,
    /// Edge expansion |E(S, S̄)| / min(|S|, |S̄|) of the best sweep cut of L's Fiedler vector: an
    /// upper bound on the graph's h(G), the quantity the reference text's §3.3 names.
    pub edge_expansion: f64,
    /// Nodes on the first side of that cut.
    pub expansion_cut_size: usize,
    /// λ₂(L)/2, the lower bound on h(G).
    pub expansion_lower: f64,
    /// √(2·d_max·λ₂(L)), the upper bound on h(G) and on the sweep's edge expansion.
    pub expansion_upper: f64,
    /// The largest degree d_max of the symmetrised graph.
    pub max_degree: usize,
    /// Whether λ₂(L)/2 ≤ sweep edge expansion ≤ √(2·d_max·λ₂(L)) held.
    pub expansion_bounds_hold: bool,
    /// Solver residuals ‖Lv − λ₂v‖ of the two pairs.
    pub residual: f64,
    /// Residual of the normalised pair.
    pub residual_normalized: f64,
    /// Operator applications of both solves.
    pub matvecs: usize,
    /// Whether both solves converged.
    pub converged: bool,
}

/// λ₂ of both Laplacians, the sweep cut and the Cheeger check for `g`.
pub fn spectral_report(g: &UndirectedGraph, options: &SpectralOptions) -> SpectralReport {
    let comb = fiedler(g, Laplacian::Combinatorial, options);
    let norm = fiedler(g, Laplacian::Normalized, options);
    let score: Vec<f64> = norm
        .vector
        .iter()
        .enumerate()
        .map(|(u, v)| {
            let d = g.degree(u) as f64;
            if d > 0.0 {
                v / d.sqrt()
            } else {
                0.0
            }
        })
        .collect();
    let cut = sweep_cut(g, &score, CutSize::Volume);
    let conductance = cut.as_ref().map_or(0.0, |c| c.ratio);
    let (lower, upper) = (norm.lambda2 / 2.0, (2.0 * norm.lambda2).sqrt());
    // A relative slack of 1e-9 absorbs the solver's rounding at equality (e.g. K₂).
    let slack = 1e-9 * upper.max(1.0);
    let expansion_cut = sweep_cut(g, &comb.vector, CutSize::Nodes);
    let edge_expansion = expansion_cut.as_ref().map_or(0.0, |c| c.ratio);
    let max_degree = (0..g.node_count()).map(|u| g.degree(u)).max().unwrap_or(0);
    let (h_lower, h_upper) = (
        comb.lambda2 / 2.0,
        (2.0 * max_degree as f64 * comb.lambda2).sqrt(),
    );
    let h_slack = 1e-9 * h_upper.max(1.0);
    SpectralReport {
        nodes: g.node_count(),
        edges: g.edge_count(),
        lambda2: comb.lambda2,
        lambda2_normalized: norm.lambda2,
        conductance,
        cut_size: cut.as_ref().map_or(0, |c| c.size),
        cheeger_lower: lower,
        cheeger_upper: upper,
        cheeger_holds: lower <= conductance + slack && conductance <= upper + slack,
        edge_expansion,
        expansion_cut_size: expansion_cut.as_ref().map_or(0, |c| c.size),
        expansion_lower: h_lower,
        expansion_upper: h_upper,
        max_degree,
        expansion_bounds_hold: h_lower <= edge_expansion + h_slack && edge_expansion <= h_upper + h_slack,
        residual: comb.residual,
        residual_normalized: norm.residual,
        matvecs: comb.matvecs + norm.matvecs,
        converged: comb.converged && norm.converged,
    }
}
