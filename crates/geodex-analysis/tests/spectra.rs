//! λ₂ against closed forms (path, cycle, complete graph, hypercube, grid) and against a dense
//! eigendecomposition on small random graphs; the Cheeger check; the sweep cut against the
//! true minimum conductance found by enumeration on tiny graphs.

use geodex_analysis::spectral::{sweep_cut, CutSize};
use geodex_analysis::{fiedler, spectral_report, Laplacian, SpectralOptions, UndirectedGraph};
use nalgebra::DMatrix;
use std::f64::consts::PI;

fn path(n: u32) -> UndirectedGraph {
    UndirectedGraph::from_edges(n as usize, (0..n - 1).map(|i| (i, i + 1)))
}

fn cycle(n: u32) -> UndirectedGraph {
    UndirectedGraph::from_edges(n as usize, (0..n).map(|i| (i, (i + 1) % n)))
}

fn complete(n: u32) -> UndirectedGraph {
    UndirectedGraph::from_edges(n as usize, (0..n).flat_map(|i| (0..i).map(move |j| (i, j))))
}

fn hypercube(d: u32) -> UndirectedGraph {
    let n = 1u32 << d;
    UndirectedGraph::from_edges(
        n as usize,
        (0..n).flat_map(|u| (0..d).map(move |b| (u, u ^ (1 << b)))),
    )
}

fn grid(a: u32, b: u32) -> UndirectedGraph {
    let id = move |i: u32, j: u32| i * b + j;
    let right = (0..a).flat_map(move |i| (0..b - 1).map(move |j| (id(i, j), id(i, j + 1))));
    let down = (0..a - 1).flat_map(move |i| (0..b).map(move |j| (id(i, j), id(i + 1, j))));
    UndirectedGraph::from_edges((a * b) as usize, right.chain(down))
}

fn lambda2(g: &UndirectedGraph, kind: Laplacian) -> f64 {
    let f = fiedler(g, kind, &SpectralOptions::default());
    assert!(f.converged, "{kind:?} did not converge (residual {})", f.residual);
    f.lambda2
}

fn close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-6 * want.max(1.0),
        "{what}: got {got}, closed form {want}"
    );
}

#[test]
fn combinatorial_closed_forms() {
    for n in [2u32, 3, 10, 57, 400] {
        close(
            lambda2(&path(n), Laplacian::Combinatorial),
            2.0 - 2.0 * (PI / n as f64).cos(),
            &format!("path {n}"),
        );
    }
    for n in [3u32, 4, 11, 64, 300] {
        close(
            lambda2(&cycle(n), Laplacian::Combinatorial),
            2.0 - 2.0 * (2.0 * PI / n as f64).cos(),
            &format!("cycle {n}"),
        );
    }
    for n in [2u32, 5, 40] {
        close(
            lambda2(&complete(n), Laplacian::Combinatorial),
            n as f64,
            &format!("complete {n}"),
        );
    }
    for d in [1u32, 3, 8] {
        close(
            lambda2(&hypercube(d), Laplacian::Combinatorial),
            2.0,
            &format!("hypercube {d}"),
        );
    }
    for (a, b) in [(3u32, 5u32), (20, 30)] {
        let want = (2.0 - 2.0 * (PI / a as f64).cos()).min(2.0 - 2.0 * (PI / b as f64).cos());
        close(
            lambda2(&grid(a, b), Laplacian::Combinatorial),
            want,
            &format!("grid {a}x{b}"),
        );
    }
}

#[test]
fn normalized_closed_forms() {
    // Regular graphs: 𝓛 = L / d.
    close(
        lambda2(&cycle(50), Laplacian::Normalized),
        (2.0 - 2.0 * (2.0 * PI / 50.0).cos()) / 2.0,
        "cycle 50",
    );
    close(
        lambda2(&complete(12), Laplacian::Normalized),
        12.0 / 11.0,
        "complete 12",
    );
    close(
        lambda2(&hypercube(6), Laplacian::Normalized),
        2.0 / 6.0,
        "hypercube 6",
    );
    // Path P_n: eigenvalues 1 − cos(πk/(n−1)) (Chung 1997, Example 1.4).
    close(
        lambda2(&path(30), Laplacian::Normalized),
        1.0 - (PI / 29.0).cos(),
        "path 30",
    );
}

#[test]
fn disconnected_graphs_have_lambda2_zero_and_a_zero_cut() {
    let g = UndirectedGraph::from_edges(7, [(0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 6)]);
    for kind in [Laplacian::Combinatorial, Laplacian::Normalized] {
        let f = fiedler(&g, kind, &SpectralOptions::default());
        assert_eq!(f.lambda2, 0.0);
        // The returned vector is in the null space: on the triangle (all degrees 2) it is
        // constant, and it is a unit vector.
        assert!((f.vector[0] - f.vector[2]).abs() < 1e-12);
        assert!((f.vector.iter().map(|x| x * x).sum::<f64>() - 1.0).abs() < 1e-12);
    }
    let r = spectral_report(&g, &SpectralOptions::default());
    assert_eq!(r.conductance, 0.0);
    assert!(r.cheeger_holds);
}

/// Deterministic random graph: each pair an edge with probability `p`, plus a spanning path so
/// it is connected.
fn random_graph(n: u32, p: f64, seed: u64) -> UndirectedGraph {
    let mut state = seed;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut edges: Vec<(u32, u32)> = (0..n - 1).map(|i| (i, i + 1)).collect();
    for i in 0..n {
        for j in 0..i {
            if next() < p {
                edges.push((i, j));
            }
        }
    }
    UndirectedGraph::from_edges(n as usize, edges)
}

fn dense_lambda2(g: &UndirectedGraph, kind: Laplacian) -> f64 {
    let n = g.node_count();
    let deg = |u: usize| g.degree(u) as f64;
    let m = DMatrix::from_fn(n, n, |i, j| {
        let a = if g.neighbors(i).contains(&(j as u32)) {
            1.0
        } else {
            0.0
        };
        match kind {
            Laplacian::Combinatorial => {
                if i == j {
                    deg(i)
                } else {
                    -a
                }
            }
            Laplacian::Normalized => {
                if i == j {
                    1.0
                } else {
                    -a / (deg(i) * deg(j)).sqrt()
                }
            }
        }
    });
    let mut values: Vec<f64> = m.symmetric_eigen().eigenvalues.iter().copied().collect();
    values.sort_by(f64::total_cmp);
    values[1]
}

#[test]
fn matches_dense_eigendecomposition_on_random_graphs() {
    for seed in 0..12u64 {
        let n = 20 + (seed as u32 * 7) % 60;
        let g = random_graph(n, 0.02 + 0.03 * (seed % 4) as f64, seed);
        for kind in [Laplacian::Combinatorial, Laplacian::Normalized] {
            let want = dense_lambda2(&g, kind);
            let got = lambda2(&g, kind);
            assert!(
                (got - want).abs() <= 1e-7 * want.max(1.0),
                "seed {seed} {kind:?}: {got} vs dense {want}"
            );
        }
    }
}

/// min over all non-trivial S of cut(S) / min(size S, size S̄), by enumeration, where a node
/// weighs `weight(u)` in a side's size (its degree: conductance; 1: edge expansion).
fn min_cut_ratio(g: &UndirectedGraph, weight: impl Fn(usize) -> usize) -> f64 {
    let n = g.node_count();
    let total: usize = (0..n).map(&weight).sum();
    (1u32..(1 << n) - 1)
        .map(|mask| {
            let inside = |u: usize| mask >> u & 1 == 1;
            let size: usize = (0..n).filter(|&u| inside(u)).map(&weight).sum();
            let cut = (0..n)
                .filter(|&u| inside(u))
                .map(|u| g.neighbors(u).iter().filter(|&&v| !inside(v as usize)).count())
                .sum::<usize>();
            cut as f64 / size.min(total - size) as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// The graph's conductance h(G), by enumeration.
fn min_conductance(g: &UndirectedGraph) -> f64 {
    min_cut_ratio(g, |u| g.degree(u))
}

#[test]
fn cheeger_inequality_brackets_the_true_conductance_and_the_sweep_cut() {
    for seed in 0..10u64 {
        let g = random_graph(12, 0.15 + 0.05 * (seed % 3) as f64, 100 + seed);
        let r = spectral_report(&g, &SpectralOptions::default());
        let h = min_conductance(&g);
        assert!(
            r.cheeger_lower <= h + 1e-9,
            "seed {seed}: λ₂/2 = {} > h = {h}",
            r.cheeger_lower
        );
        assert!(
            h <= r.conductance + 1e-12,
            "sweep cut {} below the minimum {h}",
            r.conductance
        );
        assert!(
            r.conductance <= r.cheeger_upper + 1e-9,
            "seed {seed}: sweep {} > √(2λ₂) {}",
            r.conductance,
            r.cheeger_upper
        );
        assert!(r.cheeger_holds);
    }
}

#[test]
fn sweep_of_a_dumbbell_finds_the_bridge() {
    // Two K₆ joined by one edge: the best cut is the bridge, conductance 1 / (6·5 + 1).
    let mut edges: Vec<(u32, u32)> = (0..6).flat_map(|i| (0..i).map(move |j| (i, j))).collect();
    edges.extend((6..12).flat_map(|i| (6..i).map(move |j| (i, j))));
    edges.push((0, 6));
    let g = UndirectedGraph::from_edges(12, edges);
    let r = spectral_report(&g, &SpectralOptions::default());
    assert_eq!(r.cut_size, 6);
    close(r.conductance, 1.0 / 31.0, "dumbbell conductance");
    let f = fiedler(&g, Laplacian::Normalized, &SpectralOptions::default());
    let cut = sweep_cut(&g, &f.vector, CutSize::Volume).expect("a cut");
    assert_eq!(cut.cut_edges, 1);
    // Edge expansion: the same bridge over six nodes a side.
    assert_eq!(r.expansion_cut_size, 6);
    close(r.edge_expansion, 1.0 / 6.0, "dumbbell edge expansion");
    assert_eq!(r.max_degree, 6);
}

/// The graph's edge expansion, by enumeration.
fn min_edge_expansion(g: &UndirectedGraph) -> f64 {
    min_cut_ratio(g, |_| 1)
}

#[test]
fn edge_expansion_bounds_bracket_the_true_expansion_and_the_sweep_cut() {
    for seed in 0..10u64 {
        let g = random_graph(12, 0.15 + 0.05 * (seed % 3) as f64, 200 + seed);
        let r = spectral_report(&g, &SpectralOptions::default());
        let h = min_edge_expansion(&g);
        let d_max = (0..12).map(|u| g.degree(u)).max().unwrap();
        assert_eq!(r.max_degree, d_max);
        assert!(
            r.expansion_lower <= h + 1e-9,
            "seed {seed}: λ₂(L)/2 = {} > h = {h}",
            r.expansion_lower
        );
        assert!(
            h <= r.edge_expansion + 1e-12,
            "sweep {} below the minimum {h}",
            r.edge_expansion
        );
        assert!(
            r.edge_expansion <= r.expansion_upper + 1e-9,
            "seed {seed}: sweep {} > √(2·d_max·λ₂(L)) {}",
            r.edge_expansion,
            r.expansion_upper
        );
        close(
            r.expansion_upper,
            (2.0 * d_max as f64 * r.lambda2).sqrt(),
            "upper bound",
        );
        assert!(r.expansion_bounds_hold);
    }
}

#[test]
fn smallest_eigenvalues_with_multiplicity() {
    use geodex_analysis::smallest_eigenvalues;
    // Cycle C_n: 2 − 2cos(2πj/n), j = 1, 1, 2, 2, … (each twice).
    let n = 40u32;
    let got = smallest_eigenvalues(
        &cycle(n),
        Laplacian::Combinatorial,
        6,
        &SpectralOptions::default(),
    );
    for (i, g) in got.iter().enumerate() {
        let j = (i / 2 + 1) as f64;
        let want = 2.0 - 2.0 * (2.0 * PI * j / n as f64).cos();
        assert!((g - want).abs() < 1e-6, "eigenvalue {i}: {g} vs {want}");
    }
    // A random graph against the dense spectrum.
    let g = random_graph(50, 0.08, 3);
    let n = g.node_count();
    let dense = DMatrix::from_fn(n, n, |i, j| {
        let a = if g.neighbors(i).contains(&(j as u32)) {
            1.0
        } else {
            0.0
        };
        if i == j {
            1.0
        } else {
            -a / ((g.degree(i) * g.degree(j)) as f64).sqrt()
        }
    });
    let mut want: Vec<f64> = dense.symmetric_eigen().eigenvalues.iter().copied().collect();
    want.sort_by(f64::total_cmp);
    let got = smallest_eigenvalues(&g, Laplacian::Normalized, 5, &SpectralOptions::default());
    for (i, g) in got.iter().enumerate() {
        assert!(
            (g - want[i + 1]).abs() < 1e-6,
            "eigenvalue {}: {g} vs dense {}",
            i + 2,
            want[i + 1]
        );
    }
}
