//! Filtered search: the set of nodes a search may return, the estimate of how many a filter
//! allows, and the exact scan a search switches to when so few are allowed that walking the
//! graph would cost more than measuring them all.
//!
//! The walk applies the filter *inside* the traversal (rejected nodes are expanded but never
//! enter the results; `search.rs`), so it always returns k allowed nodes when k exist. Its cost
//! grows as the allowed share s falls: it stops only once ef allowed nodes are found, after
//! about C/s distance evaluations, C ≈ the unfiltered search's (≈ 16·ef on SIFT and minilm with
//! M = 16). An exact scan of the allowed nodes costs s·n. The crossover, s² = C/n, is the default
//! switch ([`exact_scan_threshold`]); `SearchParams::exact_below` overrides it.

use std::collections::BinaryHeap;

use crate::search::{QueryDistance, SearchStats};
use crate::{Neighbor, NodeId};

/// A set of node ids (a bitset over `0..capacity`) that knows its size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSet {
    words: Vec<u64>,
    capacity: usize,
    len: usize,
}

impl NodeSet {
    /// The nodes `lookup` maps `keys` to, in a set able to hold `0..capacity`, and how many of
    /// the keys it did not find (ignored, as Qdrant's `has_id` filter ignores unknown ids).
    pub(crate) fn of_keys(
        capacity: usize,
        keys: &[u64],
        lookup: impl Fn(u64) -> Option<u32>,
    ) -> (NodeSet, usize) {
        let mut set = NodeSet::new(capacity);
        let mut unknown = 0;
        for &key in keys {
            match lookup(key) {
                Some(node) => {
                    set.insert(crate::NodeId(node));
                }
                None => unknown += 1,
            }
        }
        (set, unknown)
    }

    /// An empty set able to hold the ids `0..capacity`.
    pub fn new(capacity: usize) -> Self {
        NodeSet {
            words: vec![0; capacity.div_ceil(64)],
            capacity,
            len: 0,
        }
    }

    /// Adds `node`; returns whether it was new. Ids ≥ capacity are ignored (returns false).
    pub fn insert(&mut self, node: NodeId) -> bool {
        let i = node.index();
        if i >= self.capacity {
            return false;
        }
        let (w, b) = (i / 64, i % 64);
        let fresh = self.words[w] >> b & 1 == 0;
        self.words[w] |= 1 << b;
        self.len += fresh as usize;
        fresh
    }

    /// Whether `node` is in the set.
    #[inline]
    pub fn contains(&self, node: u32) -> bool {
        self.words
            .get(node as usize / 64)
            .is_some_and(|w| w >> (node % 64) & 1 == 1)
    }

    /// Number of nodes in the set.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The ids the set can hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The members, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(w, &word)| {
            let mut bits = word;
            std::iter::from_fn(move || {
                (bits != 0).then(|| {
                    let b = bits.trailing_zeros();
                    bits &= bits - 1;
                    (w * 64) as u32 + b
                })
            })
        })
    }
}

/// Nodes a key predicate is evaluated on to estimate its selectivity.
pub const SELECTIVITY_SAMPLE: usize = 512;

/// The share of nodes below which a filtered search scans the allowed nodes exactly instead of
/// walking the graph: √(16·ef / n), the crossover of the two costs in the module comment.
pub fn exact_scan_threshold(n: usize, ef: usize) -> f64 {
    (16.0 * ef as f64 / n.max(1) as f64).sqrt()
}

/// The share of `0..n` for which `accept` holds, estimated on [`SELECTIVITY_SAMPLE`] evenly
/// spaced nodes (the middle of each stratum; all nodes when n is smaller). Deterministic.
pub(crate) fn estimate_selectivity(n: usize, accept: &impl Fn(u32) -> bool) -> f64 {
    let s = SELECTIVITY_SAMPLE.min(n);
    if s == 0 {
        return 0.0;
    }
    let hits = (0..s)
        .filter(|&i| accept(((2 * i + 1) * n / (2 * s)) as u32))
        .count();
    hits as f64 / s as f64
}

/// Exact k-NN over `candidates` (node ids) for which `accept` holds: the best `k` into `out`,
/// closest first, ties by id. `heap` is scratch space.
pub(crate) fn exact_scan(
    q: &impl QueryDistance,
    candidates: impl Iterator<Item = u32>,
    k: usize,
    accept: impl Fn(u32) -> bool,
    heap: &mut BinaryHeap<Neighbor>,
    out: &mut Vec<Neighbor>,
) -> SearchStats {
    let mut stats = SearchStats {
        exact_scans: 1,
        ..Default::default()
    };
    heap.clear();
    for n in candidates.filter(|&n| accept(n)) {
        let cand = Neighbor::new(n, q.to(n));
        stats.distances += 1;
        if heap.len() < k {
            heap.push(cand);
        } else if heap.peek().is_some_and(|w| cand < *w) {
            heap.pop();
            heap.push(cand);
        }
    }
    out.clear();
    out.extend(heap.drain());
    out.sort_unstable();
    stats
}
