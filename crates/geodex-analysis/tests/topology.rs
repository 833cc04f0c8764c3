//! The filtration against independent computations: β₀ deaths equal the minimum spanning
//! forest's edge lengths (Prim, O(n²)), β₀ at each threshold equals a breadth-first component
//! count of the sub-graph, β₁ follows Euler's formula on graphs of known cycle rank, redundant
//! links equal a brute-force triangle search, percolation components equal a recount, and
//! searching the unthinned view equals the index's own search.

mod common;

use common::{lcg, small_index};
use geodex_analysis::topology::{percolation, removal_order, topology_report, Thinned};
use geodex_analysis::UndirectedGraph;
use geodex_core::graph::FrozenGraph;
use geodex_core::{GraphView, SearchContext, SearchParams};

/// A random graph on points in the plane, edge length = Euclidean distance.
fn planar(n: usize, m: usize, seed: u64) -> (UndirectedGraph, Vec<[f64; 2]>) {
    let mut next = lcg(seed);
    let pts: Vec<[f64; 2]> = (0..n)
        .map(|_| [(next() % 10_000) as f64, (next() % 10_000) as f64])
        .collect();
    let edges: Vec<(u32, u32)> = (0..m)
        .map(|_| ((next() % n as u64) as u32, (next() % n as u64) as u32))
        .collect();
    (UndirectedGraph::from_edges(n, edges), pts)
}

fn dist(p: &[[f64; 2]]) -> impl Fn(u32, u32) -> f64 + Sync + '_ {
    move |a, b| {
        let (x, y) = (p[a as usize], p[b as usize]);
        ((x[0] - y[0]).powi(2) + (x[1] - y[1]).powi(2)).sqrt()
    }
}

/// Minimum spanning forest edge lengths by Prim's algorithm from every unvisited root.
fn prim(g: &UndirectedGraph, len: &impl Fn(u32, u32) -> f64) -> Vec<f64> {
    let n = g.node_count();
    let mut done = vec![false; n];
    let mut out = Vec::new();
    for root in 0..n {
        if done[root] {
            continue;
        }
        let mut best = vec![f64::INFINITY; n];
        best[root] = 0.0;
        loop {
            let next = (0..n)
                .filter(|&u| !done[u] && best[u].is_finite())
                .min_by(|&a, &b| best[a].total_cmp(&best[b]));
            let Some(u) = next else { break };
            if u != root {
                out.push(best[u]);
            }
            done[u] = true;
            for &v in g.neighbors(u) {
                if !done[v as usize] {
                    best[v as usize] = best[v as usize].min(len(u as u32, v));
                }
            }
        }
    }
    out.sort_by(f64::total_cmp);
    out
}

fn components_below(g: &UndirectedGraph, len: &impl Fn(u32, u32) -> f64, t: f64) -> usize {
    let n = g.node_count();
    let edges = (0..n).flat_map(|u| g.neighbors(u).iter().map(move |&v| (u as u32, v)));
    let sub = UndirectedGraph::from_edges(n, edges.filter(|&(u, v)| len(u, v) <= t).collect::<Vec<_>>());
    sub.components().1
}

#[test]
fn barcode_betti_numbers_and_redundant_links_match_independent_computations() {
    for seed in 0..15u64 {
        let (g, pts) = planar(60, 40 + 12 * seed as usize, seed);
        let len = dist(&pts);
        let r = topology_report(&g, &len);
        let mst = prim(&g, &len);
        assert_eq!(r.beta0_deaths.len(), mst.len(), "seed {seed}");
        for (a, b) in r.beta0_deaths.iter().zip(&mst) {
            assert!((a - b).abs() < 1e-9, "seed {seed}: barcode {a} vs Prim {b}");
        }
        let (_, comps) = g.components();
        assert_eq!(r.beta0_final, comps);
        assert_eq!(r.beta1_final, g.edge_count() + comps - g.node_count());
        for step in &r.filtration {
            assert_eq!(
                step.beta0,
                components_below(&g, &len, step.length),
                "seed {seed} at {}",
                step.length
            );
            assert_eq!(step.beta1, step.edges + step.beta0 - g.node_count());
        }
        // Brute force: an edge is redundant iff some third node w is adjacent to both ends
        // through links no longer than it.
        let mut brute = 0;
        for u in 0..g.node_count() as u32 {
            for &v in g.neighbors(u as usize).iter().filter(|&&v| u < v) {
                let l = len(u, v);
                let adjacent = |a: u32, b: u32| g.neighbors(a as usize).contains(&b);
                if (0..g.node_count() as u32)
                    .any(|w| adjacent(u, w) && adjacent(w, v) && len(u, w) <= l && len(w, v) <= l)
                {
                    brute += 1;
                }
            }
        }
        assert_eq!(r.redundant_links, brute, "seed {seed}");
    }
}

#[test]
fn cycle_rank_of_known_graphs() {
    let n = 12u32;
    let cycle = UndirectedGraph::from_edges(n as usize, (0..n).map(|i| (i, (i + 1) % n)));
    let r = topology_report(&cycle, |a, b| (a + b) as f64);
    assert_eq!((r.beta0_final, r.beta1_final), (1, 1));
    let complete = UndirectedGraph::from_edges(n as usize, (0..n).flat_map(|i| (0..i).map(move |j| (i, j))));
    let r = topology_report(&complete, |a, b| (a * 31 + b * 17) as f64);
    assert_eq!(r.beta1_final, (n * (n - 1) / 2 - n + 1) as usize);
    // A triangle with sides 1, 1, 2: only the long side closes a cycle the short ones fill.
    let tri = UndirectedGraph::from_edges(3, [(0, 1), (1, 2), (0, 2)]);
    let r = topology_report(&tri, |a, b| if a + b == 2 { 2.0 } else { 1.0 });
    assert_eq!(r.redundant_links, 1);
}

#[test]
fn percolation_components_match_a_recount() {
    let (g, _) = planar(200, 600, 77);
    let fractions = [0.0, 0.2, 0.5, 0.8, 1.0];
    let steps = percolation(&g, &fractions, 5);
    let order = removal_order(&g, 5);
    for (s, &f) in steps.iter().zip(&fractions) {
        let keep = ((1.0 - f) * order.len() as f64).round() as usize;
        let sub = UndirectedGraph::from_edges(200, order[..keep].to_vec());
        let (labels, count) = sub.components();
        let mut sizes = vec![0usize; count];
        labels.iter().for_each(|&l| sizes[l as usize] += 1);
        assert_eq!(s.components, count);
        assert!((s.giant_fraction - *sizes.iter().max().unwrap() as f64 / 200.0).abs() < 1e-12);
    }
    assert_eq!(steps.last().unwrap().components, 200);
    assert!(steps
        .windows(2)
        .all(|w| w[1].giant_fraction <= w[0].giant_fraction));
}

#[test]
fn thinned_views_remove_exactly_the_chosen_links_and_search_over_the_full_view_is_search() {
    let (n, dim) = (800usize, 6usize);
    let (data, index) = small_index(n, dim, 3);
    let full = index.graph();
    let sym = UndirectedGraph::from_level(&full, 0);
    let order = removal_order(&sym, 9);
    let none = Thinned::new(&full, &order, 0.0);
    let half = Thinned::new(&full, &order, 0.5);
    let removed: std::collections::HashSet<(u32, u32)> =
        order[order.len() - order.len() / 2..].iter().copied().collect();
    for u in 0..n as u32 {
        assert_eq!(none.links(u, 0), full.links(u, 0).to_vec());
        let kept: Vec<u32> = full
            .links(u, 0)
            .iter()
            .copied()
            .filter(|&v| !removed.contains(&(u.min(v), u.max(v))))
            .collect();
        assert_eq!(half.links(u, 0), kept);
    }
    let mut ctx = SearchContext::new();
    let p = SearchParams::new(5, 20);
    for q in data.chunks(dim).take(50) {
        assert_eq!(
            index
                .search_over(&FrozenGraph::freeze(&none), q, &p, &mut ctx)
                .unwrap(),
            index.search(q, &p, &mut ctx).unwrap()
        );
    }
}
