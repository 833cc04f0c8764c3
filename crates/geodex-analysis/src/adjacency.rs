//! The graph forms the analyses run on, both in compressed rows: one HNSW level as a directed
//! graph ([`crate::DirectedGraph`], in `health.rs`) and its symmetrised form, on which
//! Laplacians, cuts and components are defined ([`UndirectedGraph`]).

use geodex_core::GraphView;

/// Compressed rows on nodes `0..n`: row u is `targets[offsets[u]..offsets[u + 1]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rows {
    offsets: Vec<usize>,
    targets: Vec<u32>,
}

impl Rows {
    /// The rows of `pairs` (sorted by source; every id < n).
    pub(crate) fn from_sorted(n: usize, pairs: Vec<(u32, u32)>) -> Self {
        let mut offsets = vec![0usize; n + 1];
        for &(a, _) in &pairs {
            offsets[a as usize + 1] += 1;
        }
        for u in 0..n {
            offsets[u + 1] += offsets[u];
        }
        Rows {
            offsets,
            targets: pairs.into_iter().map(|(_, b)| b).collect(),
        }
    }

    /// Number of rows (nodes).
    pub(crate) fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Number of entries over all rows.
    pub(crate) fn entries(&self) -> usize {
        self.targets.len()
    }

    /// Row `u`.
    #[inline]
    pub(crate) fn row(&self, u: usize) -> &[u32] {
        &self.targets[self.offsets[u]..self.offsets[u + 1]]
    }
}

/// Undirected graph without self-loops or parallel edges; node `u`'s neighbours are sorted and
/// every edge appears in both rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UndirectedGraph(Rows);

impl UndirectedGraph {
    /// The graph on nodes `0..n` with the given edges (in either direction, repeats and
    /// self-loops ignored). Edges naming a node ≥ `n` are ignored too.
    pub fn from_edges(n: usize, edges: impl IntoIterator<Item = (u32, u32)>) -> Self {
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        for (a, b) in edges {
            if a != b && (a as usize) < n && (b as usize) < n {
                pairs.push((a, b));
                pairs.push((b, a));
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        UndirectedGraph(Rows::from_sorted(n, pairs))
    }

    /// The symmetrised `level` of an HNSW graph: u ~ v iff u → v or v → u. Nodes without a
    /// list on `level` are kept as isolated nodes (so ids stay the index's ids); use level 0,
    /// where every node has a list, for the spectral measurements.
    pub fn from_level<G: GraphView>(g: &G, level: usize) -> Self {
        Self::from_edges(g.node_count(), level_links(g, level))
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.0.len()
    }

    /// Number of undirected edges.
    pub fn edge_count(&self) -> usize {
        self.0.entries() / 2
    }

    /// The sorted neighbours of `u`.
    #[inline]
    pub fn neighbors(&self, u: usize) -> &[u32] {
        self.0.row(u)
    }

    /// The degree of `u`.
    #[inline]
    pub fn degree(&self, u: usize) -> usize {
        self.0.row(u).len()
    }

    /// The largest degree (0 for an empty graph).
    pub fn max_degree(&self) -> usize {
        (0..self.node_count()).map(|u| self.degree(u)).max().unwrap_or(0)
    }

    /// Connected-component label of every node (labels `0..count`, in order of first node),
    /// and the number of components. Breadth-first, iterative.
    pub fn components(&self) -> (Vec<u32>, usize) {
        let n = self.node_count();
        let mut label = vec![u32::MAX; n];
        let mut queue = Vec::new();
        let mut count = 0u32;
        for s in 0..n {
            if label[s] != u32::MAX {
                continue;
            }
            label[s] = count;
            queue.clear();
            queue.push(s as u32);
            while let Some(u) = queue.pop() {
                for &v in self.neighbors(u as usize) {
                    if label[v as usize] == u32::MAX {
                        label[v as usize] = count;
                        queue.push(v);
                    }
                }
            }
            count += 1;
        }
        (label, count as usize)
    }

    /// y = A·x (the adjacency operator), in parallel over rows.
    pub(crate) fn adjacency_apply(&self, x: &[f64], y: &mut [f64]) {
        use rayon::prelude::*;
        y.par_iter_mut().enumerate().for_each(|(u, yu)| {
            *yu = self.neighbors(u).iter().map(|&v| x[v as usize]).sum();
        });
    }
}

/// Every directed link `(u, v)` of `level`.
pub(crate) fn level_links<G: GraphView>(g: &G, level: usize) -> Vec<(u32, u32)> {
    let mut links = Vec::new();
    for u in (0..g.node_count() as u32).filter(|&u| g.level(u) >= level) {
        links.extend(g.links(u, level).iter().map(|&v| (u, v)));
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetrises_and_drops_loops_and_repeats() {
        let g = UndirectedGraph::from_edges(4, [(0, 1), (1, 0), (1, 1), (2, 1), (0, 1), (3, 9)]);
        assert_eq!(g.neighbors(0), &[1]);
        assert_eq!(g.neighbors(1), &[0, 2]);
        assert_eq!(g.neighbors(3), &[] as &[u32]);
        assert_eq!(g.edge_count(), 2);
        let (labels, count) = g.components();
        assert_eq!(count, 2);
        assert_eq!(labels, vec![0, 0, 0, 1]);
    }
}
