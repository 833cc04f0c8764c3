//! The two graph forms and the read-only view search and analysis use.
//!
//! - [`BuilderGraph`]: one lock per (node, level) list, written while inserting in parallel.
//! - [`FrozenGraph`]: flat arrays — level-0 lists at a fixed stride of `1 + M0` words
//!   (count, then links) or compressed (`packed.rs`), upper levels packed per node (CSR) — the
//!   form that is saved and memory-mapped.

mod builder;
mod check;
mod frozen;
pub mod packed;

pub use builder::BuilderGraph;
pub use check::{check_graph, check_live_graph, GraphReport};
pub use frozen::{AnyRows, FixedRows, FrozenGraph, FrozenView, Level0Lists, LinkLayout};
pub(crate) use frozen::{Level0, Split};

use std::ops::Deref;

/// Read access to an HNSW graph: levels, entry point and adjacency lists.
pub trait GraphView: Sync {
    /// A borrowed adjacency list.
    type Links<'a>: Deref<Target = [u32]>
    where
        Self: 'a;

    /// Number of nodes (valid ids are `0..node_count()`).
    fn node_count(&self) -> usize;

    /// The top level of `node` (it has lists on levels `0..=level`).
    fn level(&self, node: u32) -> usize;

    /// The out-links of `node` on `level` (`level ≤ self.level(node)`).
    fn links(&self, node: u32, level: usize) -> Self::Links<'_>;

    /// Calls `f` with each out-link of `node` on `level`, in list order: how the search loop
    /// reads a list, so that a compressed one is decoded as it goes, into no buffer.
    #[inline(always)]
    fn for_each_link(&self, node: u32, level: usize, mut f: impl FnMut(u32)) {
        for &n in self.links(node, level).iter() {
            f(n);
        }
    }

    /// The entry point and the graph's top level; `None` while the graph is empty.
    fn entry_point(&self) -> Option<(u32, usize)>;

    /// The degree bound of `level`: M0 on level 0, M above.
    fn max_degree(&self, level: usize) -> usize;

    /// Hints the CPU to start loading `node`'s list on `level`, which the search is likely to
    /// read soon. A hint only; graphs whose lists sit behind locks do nothing.
    #[inline(always)]
    fn prefetch_links(&self, node: u32, level: usize) {
        let _ = (node, level);
    }
}
