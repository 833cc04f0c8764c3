//! The graph after building: flat arrays, the form saved to and mapped from index files.

use super::GraphView;
use crate::buf::Buf;

/// An immutable HNSW graph in flat arrays.
///
/// Layout (all little-endian, see `format.rs`):
/// - `levels[i]`: top level of node i;
/// - `level0[i·(1+M0) ..]`: count c, then c links, then unused slots (zero);
/// - `upper_offsets[i]`: where node i's upper lists start in `upper` (n + 1 entries);
///   node i owns `levels[i]` blocks of `1 + M` words (count, links, padding), for levels 1..=ℓ.
#[derive(Debug, Clone)]
pub struct FrozenGraph {
    pub(crate) m: usize,
    pub(crate) m0: usize,
    pub(crate) entry: u32,
    pub(crate) max_level: usize,
    pub(crate) levels: Buf<u8>,
    pub(crate) level0: Buf<u32>,
    pub(crate) upper_offsets: Buf<u64>,
    pub(crate) upper: Buf<u32>,
}

/// A borrowed view of a [`FrozenGraph`]: plain slices, taken once per query.
#[derive(Clone, Copy, Debug)]
pub struct FrozenView<'a> {
    m: usize,
    m0: usize,
    entry: u32,
    max_level: usize,
    levels: &'a [u8],
    level0: &'a [u32],
    upper_offsets: &'a [u64],
    upper: &'a [u32],
}

impl FrozenGraph {
    /// Packs a graph (at least one node) into flat arrays: a built one, or any view of one
    /// (an analysis experiment's perturbed graph, which then searches at full speed). Lists
    /// keep their order (closest first, as the heuristic selected them).
    pub fn freeze(g: &impl GraphView) -> FrozenGraph {
        let (m, m0) = (g.max_degree(1), g.max_degree(0));
        let n = g.node_count();
        let mut level0 = vec![0u32; n * (1 + m0)];
        let mut upper_offsets = Vec::with_capacity(n + 1);
        let mut upper = Vec::new();
        for node in 0..n as u32 {
            let links = g.links(node, 0);
            let slot = &mut level0[node as usize * (1 + m0)..][..1 + m0];
            slot[0] = links.len() as u32;
            slot[1..1 + links.len()].copy_from_slice(&links);
            upper_offsets.push(upper.len() as u64);
            for lvl in 1..=g.level(node) {
                let links = g.links(node, lvl);
                upper.push(links.len() as u32);
                upper.extend_from_slice(&links);
                upper.resize(upper.len() + m - links.len(), 0);
            }
        }
        upper_offsets.push(upper.len() as u64);
        // No entry point: every node of a living index was deleted; node 0 (hidden) stands in.
        let (entry, max_level) = g.entry_point().unwrap_or_else(|| (0, g.level(0)));
        FrozenGraph {
            m,
            m0,
            entry,
            max_level,
            levels: Buf::Owned((0..n as u32).map(|u| g.level(u) as u8).collect()),
            level0: Buf::Owned(level0),
            upper_offsets: Buf::Owned(upper_offsets),
            upper: Buf::Owned(upper),
        }
    }

    /// The view search runs on.
    #[inline]
    pub fn view(&self) -> FrozenView<'_> {
        FrozenView {
            m: self.m,
            m0: self.m0,
            entry: self.entry,
            max_level: self.max_level,
            levels: self.levels.as_slice(),
            level0: self.level0.as_slice(),
            upper_offsets: self.upper_offsets.as_slice(),
            upper: self.upper.as_slice(),
        }
    }

    /// Bytes of the graph arrays (what must stay resident for traversal, besides vectors).
    pub fn bytes(&self) -> usize {
        self.levels.as_slice().len()
            + 4 * self.level0.as_slice().len()
            + 8 * self.upper_offsets.as_slice().len()
            + 4 * self.upper.as_slice().len()
    }
}

impl<'a> GraphView for FrozenView<'a> {
    type Links<'b>
        = &'b [u32]
    where
        Self: 'b;

    fn node_count(&self) -> usize {
        self.levels.len()
    }

    fn level(&self, node: u32) -> usize {
        self.levels[node as usize] as usize
    }

    #[inline]
    fn links(&self, node: u32, level: usize) -> &[u32] {
        let (list, stride) = if level == 0 {
            (&self.level0[node as usize * (1 + self.m0)..], 1 + self.m0)
        } else {
            let start = self.upper_offsets[node as usize] as usize + (level - 1) * (1 + self.m);
            (&self.upper[start..], 1 + self.m)
        };
        let count = (list[0] as usize).min(stride - 1);
        &list[1..1 + count]
    }

    fn entry_point(&self) -> Option<(u32, usize)> {
        Some((self.entry, self.max_level))
    }

    #[inline(always)]
    fn prefetch_links(&self, node: u32, level: usize) {
        if level == 0 {
            let start = node as usize * (1 + self.m0);
            if let Some(list) = self.level0.get(start..start + 1 + self.m0) {
                geodex_distance::prefetch(list);
            }
        }
    }

    fn max_degree(&self, level: usize) -> usize {
        if level == 0 {
            self.m0
        } else {
            self.m
        }
    }
}
