//! The spectral regulariser of the reference text (THEORY §5.1, issue 18 item 4), with the
//! correct gradient.
//!
//! The text adds −λ₂ + γ·Tr(L) to the edge-selection loss: reward algebraic connectivity, pay
//! for edge weight. Here the graph is the symmetrised level 0 with soft weights: a training
//! node u offers an arc u → c of weight a_uc = σ(s_θ(x_uc)) to every candidate c its roll-out
//! judges; every other node keeps its heuristic links at weight 1; the undirected weight is
//! w_uv = (a_uv + a_vu)/2.
//!
//! Gradients (Hellmann–Feynman: a simple eigenvalue's derivative is the eigenvector's Rayleigh
//! quotient of the perturbation):
//! - combinatorial L = D − W, unit Fiedler vector v: ∂λ₂/∂w_uv = (v_u − v_v)². The text's
//!   v_u·v_v is wrong (THEORY "Known errors"); the finite-difference test below shows both.
//! - normalised 𝓛 = I − D^{-1/2} W D^{-1/2}: with f = D^{-1/2}φ (φ the unit eigenvector,
//!   so fᵀDf = 1), λ₂ = fᵀLf / fᵀDf is the generalised Rayleigh quotient and
//!   ∂λ₂/∂w_uv = (f_u − f_v)² − λ₂·(f_u² + f_v²) (both degrees grow with w_uv).
//!
//! Tr(L) = Σ_u d_u = Σ_{u,v} a_uv: the γ·Tr(L) term is the L1 degree penalty training already
//! has (`TrainOptions::degree_penalty`), so only −λ₂ is added here.
//!
//! λ₂ and its vector come from [`geodex_analysis::lanczos`] (σI − Laplacian on the null
//! vector's complement), refreshed once per epoch and warm-started from the last vector.

use geodex_analysis::lanczos::LanczosOptions;
pub use geodex_analysis::spectral::Laplacian;
use geodex_analysis::spectral::{random_vector, weighted_fiedler, WeightedAdjacency};
use rayon::prelude::*;
use serde::Serialize;

use crate::labels::Example;
use crate::model::EdgeModel;
use crate::train::{model_rollout, sigmoid, training_budget, PairDistance};

/// Settings of the regulariser: the loss gains −`weight`·λ₂/λ₂⁰, λ₂⁰ the value at the start of
/// training, so `weight` is in nats per candidate for a relative change of λ₂ (0 = off).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SpectralOptions {
    /// μ ≥ 0.
    pub weight: f64,
    /// Which Laplacian.
    pub laplacian: Laplacian,
}

/// The regulariser as training uses it: its settings and the part of the graph that does not
/// learn.
#[derive(Clone, Copy, Debug)]
pub struct SpectralTerm<'a> {
    /// μ and the Laplacian.
    pub options: SpectralOptions,
    /// Nodes of the level-0 graph (the index's rows).
    pub nodes: usize,
    /// The fixed arcs (weight 1): the level-0 links of every node that is not a training node.
    pub background: &'a [(u32, u32)],
}

impl SpectralTerm<'_> {
    /// λ₂ of the soft graph of `model`: every training node rolled out with the model's own
    /// decisions (threshold 0), an arc of weight σ(s) to each candidate it judges, plus the
    /// background; warm-started from `warm`. Also returns the training nodes' mean number of
    /// judged candidates and mean soft out-degree Σσ(s) (what the roll-out's budget does to
    /// the graph the gradient cannot see: judging stops once the budget is kept).
    pub fn refresh(
        &self,
        model: &EdgeModel,
        train: &[Example],
        pair: &PairDistance<'_>,
        budget: usize,
        warm: Option<&[f64]>,
        seed: u64,
    ) -> (Fiedler, SoftArcs) {
        let mut arcs: Vec<(u32, u32, f64)> = train
            .par_iter()
            .flat_map_iter(|ex| {
                let mut soft = Vec::new();
                model_rollout(ex, pair, training_budget(ex, budget), model, &mut |i, _, s| {
                    soft.push((ex.node, ex.candidates[i], sigmoid(s)));
                    s >= 0.0
                });
                soft
            })
            .collect();
        let nodes = train.len().max(1) as f64;
        let soft = SoftArcs {
            judged: arcs.len() as f64 / nodes,
            soft_degree: arcs.iter().map(|a| a.2).sum::<f64>() / nodes,
        };
        arcs.extend(self.background.iter().map(|&(u, v)| (u, v, 1.0)));
        let graph = WeightedGraph::from_arcs(self.nodes, &arcs);
        (fiedler(&graph, self.options.laplacian, warm, seed), soft)
    }
}

/// The training nodes' share of a soft graph.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SoftArcs {
    /// Mean candidates judged per training node (its soft arcs).
    pub judged: f64,
    /// Mean Σσ(s) over a training node's soft arcs.
    pub soft_degree: f64,
}

/// A symmetric weighted graph in compressed rows (no self-loops, weights > 0 merged).
#[derive(Clone, Debug)]
pub struct WeightedGraph {
    offsets: Vec<usize>,
    targets: Vec<u32>,
    weights: Vec<f64>,
    degree: Vec<f64>,
}

impl WeightedGraph {
    /// The graph on `nodes` nodes with w_uv = (a_uv + a_vu)/2 for directed arcs (u, v, a_uv);
    /// repeated arcs add up, self-loops and arcs of weight ≤ 0 are dropped.
    pub fn from_arcs(nodes: usize, arcs: &[(u32, u32, f64)]) -> Self {
        let mut half: Vec<(u32, u32, f64)> = Vec::with_capacity(2 * arcs.len());
        for &(u, v, a) in arcs {
            if u != v && a > 0.0 {
                half.push((u, v, 0.5 * a));
                half.push((v, u, 0.5 * a));
            }
        }
        half.sort_unstable_by_key(|&(u, v, _)| (u, v));
        let mut offsets = vec![0usize; nodes + 1];
        let (mut targets, mut weights) = (Vec::with_capacity(half.len()), Vec::with_capacity(half.len()));
        let mut degree = vec![0.0; nodes];
        let mut last: Option<(u32, u32)> = None;
        for (u, v, w) in half {
            degree[u as usize] += w;
            if last == Some((u, v)) {
                *weights.last_mut().expect("a merged arc follows its first") += w;
            } else {
                targets.push(v);
                weights.push(w);
                offsets[u as usize + 1] += 1;
                last = Some((u, v));
            }
        }
        for u in 0..nodes {
            offsets[u + 1] += offsets[u];
        }
        WeightedGraph {
            offsets,
            targets,
            weights,
            degree,
        }
    }

    /// Number of nodes.
    pub fn nodes(&self) -> usize {
        self.degree.len()
    }
}

impl WeightedAdjacency for WeightedGraph {
    fn node_count(&self) -> usize {
        self.nodes()
    }

    fn weighted_degree(&self, u: usize) -> f64 {
        self.degree[u]
    }

    fn adjacency_apply(&self, x: &[f64], y: &mut [f64]) {
        for (u, yu) in y.iter_mut().enumerate() {
            let row = self.offsets[u]..self.offsets[u + 1];
            *yu = self.targets[row.clone()]
                .iter()
                .zip(&self.weights[row])
                .map(|(&v, &w)| w * x[v as usize])
                .sum();
        }
    }
}

/// λ₂ of a weighted graph and what its gradient needs.
#[derive(Clone, Debug)]
pub struct Fiedler {
    /// Which Laplacian.
    pub laplacian: Laplacian,
    /// The second-smallest eigenvalue.
    pub lambda2: f64,
    /// The vector the gradient uses: the unit Fiedler vector v (combinatorial) or f = D^{-1/2}φ
    /// (normalised).
    pub vector: Vec<f64>,
    /// The unit eigenvector itself (v or φ), the warm start of the next refresh.
    pub eigenvector: Vec<f64>,
    /// Operator applications the solver spent.
    pub matvecs: usize,
    /// Whether the solver met its tolerance.
    pub converged: bool,
}

impl Fiedler {
    /// ∂λ₂/∂w_uv for the undirected weight w_uv (module docs).
    pub fn edge_gradient(&self, u: usize, v: usize) -> f64 {
        let (a, b) = (self.vector[u], self.vector[v]);
        match self.laplacian {
            Laplacian::Combinatorial => (a - b) * (a - b),
            Laplacian::Normalized => (a - b) * (a - b) - self.lambda2 * (a * a + b * b),
        }
    }

    /// ∂λ₂/∂a_uv for a directed arc weight (half the undirected one: w_uv = (a_uv + a_vu)/2;
    /// 0 for a self-loop, which the graph drops).
    pub fn arc_gradient(&self, u: usize, v: usize) -> f64 {
        if u == v {
            0.0
        } else {
            0.5 * self.edge_gradient(u, v)
        }
    }

    /// Participation ratio 1/(n·Σ v_i⁴) of the unit eigenvector: 1 when spread evenly over the
    /// nodes, 1/n when on one node — how many nodes the regulariser's gradient reaches.
    pub fn participation(&self) -> f64 {
        let n = self.eigenvector.len().max(1) as f64;
        let fourth: f64 = self.eigenvector.iter().map(|x| x.powi(4)).sum();
        if fourth > 0.0 {
            1.0 / (n * fourth)
        } else {
            0.0
        }
    }
}

/// λ₂ of `laplacian` for `g` (at least 2 nodes, connected: a disconnected graph has λ₂ = 0 and
/// the solver returns some vector of the null space), by the analysis crate's solve from `start`
/// (a previous eigenvector) or a seeded random vector, to a tighter tolerance than its report
/// (the gradient uses the vector).
pub fn fiedler(g: &WeightedGraph, laplacian: Laplacian, start: Option<&[f64]>, seed: u64) -> Fiedler {
    let n = g.nodes();
    let start = match start {
        Some(s) if s.len() == n => s.to_vec(),
        _ => random_vector(n, seed ^ 0x0f1e_d1e4),
    };
    let options = LanczosOptions {
        tolerance: 1e-8,
        ..LanczosOptions::default()
    };
    let solved = weighted_fiedler(g, laplacian, start, &options);
    let vector = match laplacian {
        Laplacian::Combinatorial => solved.vector.clone(),
        Laplacian::Normalized => solved
            .vector
            .iter()
            .zip(&g.degree)
            .map(|(p, &d)| if d > 0.0 { p / d.sqrt() } else { 0.0 })
            .collect(),
    };
    Fiedler {
        laplacian,
        lambda2: solved.lambda2,
        vector,
        eigenvector: solved.vector,
        matvecs: solved.matvecs,
        converged: solved.converged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::DMatrix;
    use rand_core::{RngCore, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    /// A connected random weighted graph: a path through every node plus random chords.
    fn random_arcs(n: usize, extra: usize, seed: u64) -> Vec<(u32, u32, f64)> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut unit = || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let mut arcs: Vec<(u32, u32, f64)> = (1..n as u32).map(|v| (v - 1, v, 0.2 + unit())).collect();
        for _ in 0..extra {
            let u = (unit() * n as f64) as u32 % n as u32;
            let v = (unit() * n as f64) as u32 % n as u32;
            arcs.push((u, v, 0.1 + unit()));
        }
        arcs
    }

    /// λ₂ by a dense eigen-decomposition (independent of Lanczos).
    fn dense_lambda2(n: usize, arcs: &[(u32, u32, f64)], laplacian: Laplacian) -> f64 {
        let mut w = DMatrix::<f64>::zeros(n, n);
        for &(u, v, a) in arcs {
            if u != v {
                w[(u as usize, v as usize)] += 0.5 * a;
                w[(v as usize, u as usize)] += 0.5 * a;
            }
        }
        let d: Vec<f64> = (0..n).map(|i| w.row(i).sum()).collect();
        let l = DMatrix::from_fn(n, n, |i, j| {
            let lij = if i == j { d[i] - w[(i, j)] } else { -w[(i, j)] };
            match laplacian {
                Laplacian::Combinatorial => lij,
                Laplacian::Normalized => lij / (d[i] * d[j]).sqrt(),
            }
        });
        let mut values: Vec<f64> = l.symmetric_eigen().eigenvalues.iter().copied().collect();
        values.sort_by(f64::total_cmp);
        values[1]
    }

    #[test]
    fn lambda2_matches_a_dense_eigensolver_on_both_laplacians() {
        let (n, arcs) = (40, random_arcs(40, 60, 3));
        let g = WeightedGraph::from_arcs(n, &arcs);
        for laplacian in [Laplacian::Combinatorial, Laplacian::Normalized] {
            let f = fiedler(&g, laplacian, None, 1);
            let dense = dense_lambda2(n, &arcs, laplacian);
            assert!(f.converged);
            assert!(
                (f.lambda2 - dense).abs() < 1e-7 * dense.max(1.0),
                "{laplacian:?}: {} vs {dense}",
                f.lambda2
            );
        }
    }

    #[test]
    fn the_arc_gradient_matches_finite_differences_and_the_texts_formula_does_not() {
        let (n, arcs) = (30, random_arcs(30, 45, 8));
        let g = WeightedGraph::from_arcs(n, &arcs);
        let h = 1e-5;
        for laplacian in [Laplacian::Combinatorial, Laplacian::Normalized] {
            let f = fiedler(&g, laplacian, None, 2);
            let mut text_error = 0.0f64;
            for (k, &(u, v, _)) in arcs.iter().enumerate().step_by(5) {
                let shifted = |delta: f64| {
                    let mut moved = arcs.clone();
                    moved[k].2 += delta;
                    dense_lambda2(n, &moved, laplacian)
                };
                let fd = (shifted(h) - shifted(-h)) / (2.0 * h);
                let ours = f.arc_gradient(u as usize, v as usize);
                assert!(
                    (fd - ours).abs() < 1e-5 * (1.0 + fd.abs()),
                    "{laplacian:?} arc {k}: fd {fd} vs {ours}"
                );
                let text = 0.5 * f.vector[u as usize] * f.vector[v as usize];
                text_error = text_error.max((fd - text).abs() / fd.abs().max(1e-12));
            }
            // v_u·v_v has the wrong sign or size on some arc: not the derivative.
            assert!(
                text_error > 0.5,
                "{laplacian:?}: the text's formula came within {text_error}"
            );
        }
    }

    #[test]
    fn repeated_arcs_add_up_and_self_loops_are_dropped() {
        let g = WeightedGraph::from_arcs(
            3,
            &[(0, 1, 1.0), (1, 0, 3.0), (0, 1, 1.0), (2, 2, 5.0), (1, 2, 0.0)],
        );
        // w_01 = (2 + 3)/2.
        assert_eq!(g.weighted_degree(0), 2.5);
        assert_eq!(g.weighted_degree(1), 2.5);
        assert_eq!(g.weighted_degree(2), 0.0);
    }

    #[test]
    fn a_warm_start_converges_to_the_same_value_in_fewer_steps() {
        let (n, arcs) = (200, random_arcs(200, 400, 11));
        let g = WeightedGraph::from_arcs(n, &arcs);
        let cold = fiedler(&g, Laplacian::Combinatorial, None, 5);
        let warm = fiedler(&g, Laplacian::Combinatorial, Some(&cold.eigenvector), 6);
        assert!((cold.lambda2 - warm.lambda2).abs() < 1e-8 * cold.lambda2.max(1.0));
        assert!(
            warm.matvecs < cold.matvecs,
            "{} vs {}",
            warm.matvecs,
            cold.matvecs
        );
        assert!(cold.participation() > 0.0 && cold.participation() <= 1.0);
    }
}
