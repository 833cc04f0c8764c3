//! Strongly connected components against a transitive-closure computation, hop distances on
//! graphs with known eccentricities, degree summaries of a real index against a direct count.

mod common;

use common::{lcg, small_index};
use geodex_analysis::{hop_estimate, level_health, DirectedGraph};
use geodex_core::GraphView;

/// SCC labels from reachability: u and v share a component iff each reaches the other.
fn scc_by_closure(n: usize, links: &[(u32, u32)]) -> Vec<Vec<bool>> {
    let mut r = vec![vec![false; n]; n];
    for (u, row) in r.iter_mut().enumerate() {
        row[u] = true;
    }
    for &(a, b) in links {
        r[a as usize][b as usize] = true;
    }
    // Warshall: after step k, r[i][j] says whether j is reachable from i through 0..=k.
    for k in 0..n {
        let via = r[k].clone();
        for row in r.iter_mut().filter(|row| row[k]) {
            row.iter_mut().zip(&via).for_each(|(x, &y)| *x |= y);
        }
    }
    (0..n)
        .map(|i| (0..n).map(|j| r[i][j] && r[j][i]).collect())
        .collect()
}

#[test]
fn strongly_connected_components_match_transitive_closure() {
    for seed in 0..30u64 {
        let mut next = lcg(seed);
        let n = 5 + (next() % 40) as usize;
        let m = (next() % (3 * n as u64)) as usize;
        let links: Vec<(u32, u32)> = (0..m)
            .map(|_| ((next() % n as u64) as u32, (next() % n as u64) as u32))
            .collect();
        let g = DirectedGraph::from_links(n, links.iter().copied());
        let (label, count) = g.strongly_connected_components();
        let same = scc_by_closure(n, &links);
        for i in 0..n {
            for j in 0..n {
                assert_eq!(label[i] == label[j], same[i][j], "seed {seed}: nodes {i}, {j}");
            }
        }
        let mut distinct = label.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), count);
    }
}

#[test]
fn directed_cycle_hops() {
    // From any source of a directed n-cycle, the targets are 1..n−1 hops away.
    let n = 40u32;
    let g = DirectedGraph::from_links(n as usize, (0..n).map(|i| (i, (i + 1) % n)));
    let h = hop_estimate(&g, 5, 1);
    assert_eq!(h.diameter_lower_bound, n - 1);
    assert!((h.mean_distance - n as f64 / 2.0).abs() < 1e-12);
    assert_eq!(g.strongly_connected_components().1, 1);
}

#[test]
fn degree_summaries_of_a_built_index_match_a_direct_count() {
    let (n, dim) = (600usize, 8usize);
    let (_, index) = small_index(n, dim, 9);
    let g = index.graph();
    let health = level_health(&g);
    let top = g.entry_point().unwrap().1;
    assert_eq!(health.len(), top + 1);
    for h in &health {
        let members: Vec<u32> = (0..n as u32).filter(|&u| g.level(u) >= h.level).collect();
        let links: usize = members.iter().map(|&u| g.links(u, h.level).len()).sum();
        assert_eq!(h.nodes, members.len());
        assert!((h.out_degree.mean - links as f64 / members.len() as f64).abs() < 1e-12);
        // Every link lands on a member of the level, so in- and out-degrees have the same mean.
        assert!((h.in_degree.mean - h.out_degree.mean).abs() < 1e-12);
        assert!(h.out_degree.max <= g.max_degree(h.level));
        assert_eq!(h.out_degree.histogram.iter().sum::<usize>(), members.len());
    }
}
