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
        let lists = levels
            .iter()
            .map(|&l| {
                (0..=l as usize)
                    .map(|lvl| RwLock::new(Vec::with_capacity(if lvl == 0 { m0 } else { m } + 1)))
                    .collect()
            })
            .collect();
        BuilderGraph {
            levels,
            lists,
            entry: Mutex::new(None),
            m,
            m0,
        }
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
