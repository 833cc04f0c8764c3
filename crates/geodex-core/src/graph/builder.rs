//! The graph while it is being built: one reader-writer lock per adjacency list, so threads
//! inserting different nodes only meet when they touch the same list.
//!
//! Memory: the level-0 lists — every node has one — are one array of locks around inline
//! lists of [`INLINE`] ids, one allocation for all nodes (returned to the OS as a whole when
//! the builder is dropped). Only nodes above level 0 (1 in M) own a boxed slice of upper lists.
//! A list of more than [`INLINE`] ids (M > 16) moves to the heap, as every list did before:
//! 161 bytes per node at M 16 (lock and list 144, upper-list slice 16, level 1) against ≈ 210
//! for a boxed slice of `Vec`s with their heap chunks per node, which at
//! 10M nodes was the largest item of a build's peak memory (BENCHMARKS.md, ten million vectors).

use parking_lot::{MappedRwLockReadGuard, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use smallvec::SmallVec;

use super::GraphView;

/// Ids a list holds without a heap allocation: M0 = 2·M at the default M 16.
pub const INLINE: usize = 32;

/// One adjacency list under construction.
pub type List = SmallVec<[u32; INLINE]>;

/// A growable HNSW graph for parallel insertion. Node levels are fixed up front.
#[derive(Debug)]
pub struct BuilderGraph {
    levels: Vec<u8>,
    /// `level0[node]`: every node's level-0 list.
    level0: Vec<RwLock<List>>,
    /// `upper[node][level - 1]`, for `level` in `1..=levels[node]` (empty, unallocated, for
    /// nodes on level 0 only).
    upper: Vec<Box<[RwLock<List>]>>,
    entry: Mutex<Option<(u32, usize)>>,
    m: usize,
    m0: usize,
}

impl BuilderGraph {
    /// An edgeless graph of `levels.len()` nodes with the given levels and degree bounds.
    pub fn new(levels: Vec<u8>, m: usize, m0: usize) -> Self {
        let level0 = levels.iter().map(|_| RwLock::default()).collect();
        let upper = levels.iter().map(|&l| Self::upper_lists(l)).collect();
        BuilderGraph {
            levels,
            level0,
            upper,
            entry: Mutex::new(None),
            m,
            m0,
        }
    }

    /// A graph holding `view`'s nodes, levels, links and entry point, ready to grow.
    pub fn thaw<G: GraphView>(view: &G) -> Self {
        let n = view.node_count() as u32;
        let levels: Vec<u8> = (0..n).map(|u| view.level(u) as u8).collect();
        let mut g = BuilderGraph::new(levels, view.max_degree(1), view.max_degree(0));
        for u in 0..n {
            for level in 0..=view.level(u) {
                g.list_mut(u, level).extend_from_slice(&view.links(u, level));
            }
        }
        *g.entry.get_mut() = view.entry_point();
        g
    }

    /// Appends a node without links on levels `0..=level`; returns its id.
    pub fn push_node(&mut self, level: u8) -> u32 {
        let id = self.levels.len() as u32;
        self.levels.push(level);
        self.level0.push(RwLock::default());
        self.upper.push(Self::upper_lists(level));
        id
    }

    fn upper_lists(level: u8) -> Box<[RwLock<List>]> {
        (0..level).map(|_| RwLock::default()).collect()
    }

    fn lock(&self, node: u32, level: usize) -> &RwLock<List> {
        match level {
            0 => &self.level0[node as usize],
            _ => &self.upper[node as usize][level - 1],
        }
    }

    fn list_mut(&mut self, node: u32, level: usize) -> &mut List {
        match level {
            0 => self.level0[node as usize].get_mut(),
            _ => self.upper[node as usize][level - 1].get_mut(),
        }
    }

    /// Sets (or clears) the entry point and top level, replacing whatever was there.
    pub fn set_entry(&self, entry: Option<(u32, usize)>) {
        *self.entry.lock() = entry;
    }

    /// The list of `node` on `level`, for writing.
    pub fn write(&self, node: u32, level: usize) -> RwLockWriteGuard<'_, List> {
        self.lock(node, level).write()
    }

    /// Makes `node` the entry point if the graph is empty or `node` is above its top level.
    pub fn raise_entry(&self, node: u32) {
        let level = self.levels[node as usize] as usize;
        let mut entry = self.entry.lock();
        if entry.is_none_or(|(_, top)| level > top) {
            *entry = Some((node, level));
        }
    }

    /// Degree bound on upper levels.
    pub fn m(&self) -> usize {
        self.m
    }

    /// Degree bound on level 0.
    pub fn m0(&self) -> usize {
        self.m0
    }

    /// Every node's level.
    pub fn levels(&self) -> &[u8] {
        &self.levels
    }
}

impl GraphView for BuilderGraph {
    type Links<'a> = MappedRwLockReadGuard<'a, [u32]>;

    fn node_count(&self) -> usize {
        self.levels.len()
    }

    fn level(&self, node: u32) -> usize {
        self.levels[node as usize] as usize
    }

    #[inline]
    fn links(&self, node: u32, level: usize) -> Self::Links<'_> {
        RwLockReadGuard::map(self.lock(node, level).read(), |v| v.as_slice())
    }

    fn entry_point(&self) -> Option<(u32, usize)> {
        *self.entry.lock()
    }

    fn max_degree(&self, level: usize) -> usize {
        if level == 0 {
            self.m0
        } else {
            self.m
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-node cost the module documentation states: a level-0 lock with its inline list,
    /// and the (empty) boxed slice of upper lists.
    #[test]
    fn a_level0_list_stays_inline_up_to_m0_32() {
        assert_eq!(std::mem::size_of::<RwLock<List>>(), 8 + 8 + 4 * INLINE);
        let g = BuilderGraph::new(vec![0, 2], 16, 32);
        g.write(0, 0).extend(1..=32);
        assert!(!g.write(0, 0).spilled(), "32 ids spilled to the heap");
        g.write(1, 2).push(0);
        assert_eq!(
            (&*g.links(0, 0), &*g.links(1, 2)),
            (&(1..=32).collect::<Vec<u32>>()[..], &[0u32][..])
        );
        assert!(g.links(1, 1).is_empty());
    }
}
