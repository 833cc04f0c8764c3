//! The graph while it is being built: one reader-writer lock per adjacency list, so threads
//! inserting different nodes only meet when they touch the same list.

use parking_lot::{MappedRwLockReadGuard, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::GraphView;

/// A growable HNSW graph for parallel insertion. Node levels are fixed up front.
#[derive(Debug)]
pub struct BuilderGraph {
    levels: Vec<u8>,
    /// `lists[node][level]`, for `level` in `0..=levels[node]`.
    lists: Vec<Box<[RwLock<Vec<u32>>]>>,
    entry: Mutex<Option<(u32, usize)>>,
    m: usize,
    m0: usize,
}

impl BuilderGraph {
    /// An edgeless graph of `levels.len()` nodes with the given levels and degree bounds.
    pub fn new(levels: Vec<u8>, m: usize, m0: usize) -> Self {
        let lists = levels.iter().map(|&l| Self::empty_lists(l, m, m0)).collect();
        BuilderGraph {
            levels,
            lists,
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
            for (level, list) in g.lists[u as usize].iter_mut().enumerate() {
                list.get_mut().extend_from_slice(&view.links(u, level));
            }
        }
        *g.entry.get_mut() = view.entry_point();
        g
    }

    /// Appends a node without links on levels `0..=level`; returns its id.
    pub fn push_node(&mut self, level: u8) -> u32 {
        let id = self.levels.len() as u32;
        self.levels.push(level);
        self.lists.push(Self::empty_lists(level, self.m, self.m0));
        id
    }

    fn empty_lists(level: u8, m: usize, m0: usize) -> Box<[RwLock<Vec<u32>>]> {
        (0..=level as usize)
            .map(|lvl| RwLock::new(Vec::with_capacity(if lvl == 0 { m0 } else { m } + 1)))
            .collect()
    }

    /// Sets (or clears) the entry point and top level, replacing whatever was there.
    pub fn set_entry(&self, entry: Option<(u32, usize)>) {
        *self.entry.lock() = entry;
    }

    /// The list of `node` on `level`, for writing.
    pub fn write(&self, node: u32, level: usize) -> RwLockWriteGuard<'_, Vec<u32>> {
        self.lists[node as usize][level].write()
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
        RwLockReadGuard::map(self.lists[node as usize][level].read(), |v| v.as_slice())
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
