//! Graph invariants, checked after every build in the tests and reported by `geodex info`.

use serde::Serialize;

use super::GraphView;

/// What [`check_graph`] found. A valid HNSW graph has every count below at zero.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GraphReport {
    /// Nodes with a list on each level (index = level).
    pub nodes_per_level: Vec<usize>,
    /// Directed links on each level.
    pub links_per_level: Vec<usize>,
    /// Links to an id ≥ node count, or to a node that has no list on that level.
    pub out_of_range: usize,
    /// Links from a node to itself.
    pub self_links: usize,
    /// Repeated entries within one list.
    pub duplicates: usize,
    /// Lists longer than the level's degree bound (M above level 0, M0 on level 0).
    pub over_degree: usize,
    /// Nodes not reachable from the entry point by following level-0 links.
    pub unreachable: usize,
}

impl GraphReport {
    /// Whether no invariant is broken (reachability included).
    pub fn is_valid(&self) -> bool {
        self.out_of_range == 0
            && self.self_links == 0
            && self.duplicates == 0
            && self.over_degree == 0
            && self.unreachable == 0
    }
}

/// Checks link ranges, self-links, duplicates and degree bounds on every level, and counts
/// the nodes a breadth-first walk over level 0 from the entry point does not reach.
pub fn check_graph<G: GraphView>(g: &G) -> GraphReport {
    check_live_graph(g, |_| true)
}

/// [`check_graph`] of an index with deleted nodes: `unreachable` counts only live nodes not
/// reachable over level-0 links between live nodes (deleted nodes are meant to be cut off).
pub fn check_live_graph<G: GraphView>(g: &G, live: impl Fn(u32) -> bool) -> GraphReport {
    let n = g.node_count();
    let mut r = GraphReport::default();
    let mut seen = Vec::new();
    for node in 0..n as u32 {
        let top = g.level(node);
        if r.nodes_per_level.len() <= top {
            r.nodes_per_level.resize(top + 1, 0);
            r.links_per_level.resize(top + 1, 0);
        }
        for lvl in 0..=top {
            r.nodes_per_level[lvl] += 1;
            let links = g.links(node, lvl);
            r.links_per_level[lvl] += links.len();
            r.over_degree += usize::from(links.len() > g.max_degree(lvl));
            r.self_links += links.iter().filter(|&&t| t == node).count();
            r.out_of_range += links
                .iter()
                .filter(|&&t| t as usize >= n || g.level(t) < lvl)
                .count();
            seen.clear();
            seen.extend_from_slice(&links);
            seen.sort_unstable();
            r.duplicates += seen.windows(2).filter(|w| w[0] == w[1]).count();
        }
    }
    let live_nodes = (0..n as u32).filter(|&u| live(u)).count();
    r.unreachable = live_nodes - reachable_on_level0(g, &live);
    r
}

/// Live nodes reachable from a live entry point over level-0 links between live nodes.
fn reachable_on_level0<G: GraphView>(g: &G, live: &impl Fn(u32) -> bool) -> usize {
    let n = g.node_count();
    let Some((entry, _)) = g.entry_point().filter(|&(e, _)| live(e)) else {
        return 0;
    };
    let mut reached = vec![false; n];
    let mut stack = vec![entry];
    reached[entry as usize] = true;
    let mut count = 1;
    while let Some(node) = stack.pop() {
        for &t in g.links(node, 0).iter() {
            if (t as usize) < n && live(t) && !reached[t as usize] {
                reached[t as usize] = true;
                count += 1;
                stack.push(t);
            }
        }
    }
    count
}
