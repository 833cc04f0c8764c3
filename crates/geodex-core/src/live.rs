//! The living index: caller keys, insert, upsert, delete with graph repair, compaction — all
//! while other threads search.
//!
//! Concurrency model (one writer, many readers, no reader ever waits for a graph operation):
//! - `writer` serialises mutations. A batch insert still links its nodes in parallel inside.
//! - `state` is a reader-writer lock. Searches hold it shared. A mutation holds it exclusively
//!   only for bookkeeping that takes microseconds per key (appending vectors, flipping
//!   visibility bits, the key map) and shared while it does the graph work, which goes through
//!   the per-list locks of [`BuilderGraph`] exactly as a parallel build does.
//! - A batch's new nodes are appended *hidden* (tombstone bit set): traversable, never returned.
//!   When every one is linked, one exclusive step makes them visible and hides the nodes whose
//!   keys they replace. A search therefore sees a batch all or nothing, and a key at most once.
//!   Each new node writes all its own lists before anything links to it (see `insert.rs`), so no
//!   search reaches a half-linked node.
//! - Deleted nodes keep their vectors and lists until [`LiveIndex::compact`]: a search standing
//!   on one when it is deleted still moves on; [`crate::consolidate`] then rewrites every live
//!   list that links to it, and the reachability repair links in any live node the rewrite left
//!   without in-links.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use geodex_distance::{Isa, Metric};
use parking_lot::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::buf::Buf;
use crate::byte_walk::{ByteCodes, ByteWalk};
use crate::engine::{Engine, Graph, Rows};
use crate::graph::{check_live_graph, BuilderGraph, FrozenGraph, GraphReport, GraphView};
use crate::levels::draw_level;
use crate::quantized::Quantized;
use crate::query::{is_live, Stored};
use crate::validate::check_and_prepare;
use crate::{
    BuildParams, Cancel, Component, CoreError, Hit, Index, NodeSet, SearchContext, SearchParams, SearchStats,
};

/// What a batch insert or upsert changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Upserted {
    /// Keys that were not in the index before.
    pub inserted: usize,
    /// Keys whose old vector (and links) the batch replaced.
    pub replaced: usize,
    /// The repair around the replaced nodes was cancelled, as [`Deleted::repair_pending`].
    pub repair_pending: bool,
}

/// What a batch delete changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deleted {
    /// Keys removed.
    pub deleted: usize,
    /// Keys the index did not hold (not an error, as in Qdrant: deleting is idempotent).
    pub missing: usize,
    /// Live lists rewritten to route around the deleted nodes.
    pub lists_repaired: usize,
    /// Live nodes the rewrite left unreachable, linked back in by the reachability repair.
    pub relinked: usize,
    /// The repair was cancelled ([`LiveIndex::set_cancel`]): the keys are deleted (searches
    /// never return them), but some lists still route through their nodes. The next write,
    /// compaction or snapshot finishes it first.
    pub repair_pending: bool,
}

/// Invariants of a living index, as [`LiveIndex::check`] measures them.
#[derive(Clone, Debug, Default)]
pub struct LiveReport {
    /// The structural checks of [`check_live_graph`]: `unreachable` counts live nodes not
    /// reachable from the entry point over level-0 links between live nodes.
    pub graph: GraphReport,
    /// Links from a live node to a deleted one (0 after every completed delete).
    pub links_to_deleted: usize,
    /// Keys whose map entry does not point at a live node holding that key, plus live nodes the
    /// map does not point at.
    pub key_map_errors: usize,
}

impl LiveReport {
    /// Whether every invariant holds.
    pub fn is_valid(&self) -> bool {
        let g = &self.graph;
        g.is_valid() && self.links_to_deleted == 0 && self.key_map_errors == 0
    }
}

/// An HNSW index that grows, replaces and deletes while it is searched. `Send + Sync`: share it
/// behind an `Arc` and call any method from any thread.
#[derive(Debug)]
pub struct LiveIndex<T> {
    state: RwLock<State<T>>,
    writer: Mutex<()>,
}

#[derive(Debug)]
struct State<T> {
    metric: Metric,
    dim: usize,
    /// The kernel, chosen when the index was made or taken over.
    engine: Arc<dyn Engine<T>>,
    params: BuildParams,
    /// Row-major, `dim` components per node, deleted nodes included. Shared with the last
    /// snapshot while it lives (saved without a copy); a write copies it only then.
    vectors: Arc<Vec<T>>,
    /// The graph writes change (per-list locks). Empty while `frozen` holds the graph.
    graph: BuilderGraph,
    /// The graph packed for search (flat lists, prefetched: the frozen index's search speed)
    /// while no write comes; see [`LiveIndex::freeze`]. The next write thaws it into `graph`.
    frozen: Option<Frozen>,
    /// Whether a freeze also makes the byte codes a float index walks on
    /// ([`LiveIndex::set_byte_walk`]).
    byte_walk: bool,
    /// Searches since the last write or freeze (the automatic freeze's clock).
    searches: AtomicUsize,
    /// Codes the search walks on, for an index built with a quantiser: the trained codec is
    /// kept and new rows are encoded with it (it is not retrained as data drift).
    quant: Option<Quantized>,
    keys: Vec<u64>,
    /// One bit per node; set = hidden (deleted, or inserted by a batch not yet visible).
    tombstones: Vec<u64>,
    hidden: usize,
    /// Key → node, live nodes only.
    by_key: HashMap<u64, u32>,
    metadata: serde_json::Value,
    /// Sequence number of the last write-ahead-log record this state contains.
    lsn: u64,
    /// Rows inserted since the last reachability sweep.
    unswept: usize,
    /// Checked by the long graph work a write runs after its batch is applied (consolidation,
    /// the reachability sweep) and by compaction; linking a batch is not cancelled (its nodes
    /// become visible all at once or not at all).
    cancel: Cancel,
    /// A cancelled repair left lists that route through deleted nodes (set under the shared
    /// lock, hence atomic); every later write, compaction and snapshot finishes it first.
    repair_pending: AtomicBool,
}

/// The graph packed for search, with the byte codes a float index walks on (`byte_walk.rs`;
/// `None` for other element types and metrics, for a quantised index, or when turned off).
#[derive(Debug)]
struct Frozen {
    graph: FrozenGraph,
    bytes: Option<Arc<ByteCodes>>,
}

/// After inserts, the reachability sweep runs once the rows inserted since the last one reach
/// 1/`SWEEP_EVERY` of the node count (see `LiveIndex::repair`): a node orphaned by a list shrink
/// stays unreachable for at most that many inserted rows, and the sweep costs O(1) per row
/// amortised.
pub const SWEEP_EVERY: usize = 256;

impl<T> State<T> {
    fn node_count(&self) -> usize {
        self.keys.len()
    }

    fn live(&self, node: u32) -> bool {
        is_live(&self.tombstones, node)
    }

    fn set_hidden(&mut self, node: u32, hidden: bool) {
        let (word, bit) = (node as usize / 64, 1u64 << (node % 64));
        if (self.tombstones[word] & bit != 0) != hidden {
            self.tombstones[word] ^= bit;
            if hidden {
                self.hidden += 1;
            } else {
                self.hidden -= 1;
            }
        }
    }

    /// Keeps the entry point if it is live; otherwise the lowest-id live node of the highest
    /// level becomes the entry, or none if nothing is live.
    fn rechoose_entry(&self) {
        if self.graph.entry_point().is_some_and(|(e, _)| self.live(e)) {
            return;
        }
        let best = (0..self.node_count() as u32)
            .filter(|&u| self.live(u))
            .map(|u| (u, self.graph.level(u)))
            .fold(None, |best: Option<(u32, usize)>, (u, l)| match best {
                Some((_, bl)) if bl >= l => best,
                _ => Some((u, l)),
            });
        self.graph.set_entry(best);
    }

    /// Makes the graph writable again if it is frozen (a write's first step).
    fn thaw(&mut self) {
        if let Some(frozen) = self.frozen.take() {
            self.graph = BuilderGraph::thaw(&frozen.graph.view());
        }
        self.searches.store(0, Ordering::Relaxed);
    }

    fn stored(&self) -> Stored<'_, T> {
        Stored {
            metric: self.metric,
            dim: self.dim,
            engine: &*self.engine,
            vectors: &self.vectors,
            keys: &self.keys,
            tombstones: &self.tombstones,
            has_tombstones: self.hidden > 0,
            quant: self.quant.as_ref(),
            links: None,
            bytes: self.frozen.as_ref().and_then(|f| {
                Some(ByteWalk {
                    codes: f.bytes.as_ref()?,
                    graph: f.graph.view(),
                })
            }),
        }
    }
}

impl<T: Component> State<T> {
    /// Byte codes of every row for linking a batch of `batch` rows on them
    /// ([`BuildParams::build_on_codes`]): made only when the batch is at least an eighth of the
    /// rows, so that encoding all of them costs at most 8·dim per linked row (small batches
    /// walk the vectors).
    fn insertion_codes(&self, batch: usize) -> Option<ByteCodes> {
        let worth = self.params.build_on_codes && self.quant.is_none() && batch * 8 >= self.node_count();
        worth
            .then(|| ByteCodes::encode(self.metric, &self.vectors, self.dim, self.engine.isa()))
            .flatten()
    }

    /// `graph` packed for search, with byte codes of the vectors when they apply; `made`:
    /// codes of these vectors made before (by the index taken over), used instead.
    fn pack(&self, graph: FrozenGraph, made: Option<Arc<ByteCodes>>) -> Frozen {
        let bytes = if self.byte_walk && self.quant.is_none() {
            made.or_else(|| {
                ByteCodes::encode(self.metric, &self.vectors, self.dim, self.engine.isa()).map(Arc::new)
            })
        } else {
            None
        };
        Frozen { graph, bytes }
    }
}

impl<T: Component> LiveIndex<T> {
    /// An empty index of `dim`-component vectors. A quantiser needs data to train on: build an
    /// [`Index`] with `params.quant` and take it over with [`LiveIndex::from_index`] instead.
    pub fn new(dim: usize, params: &BuildParams) -> Result<Self, CoreError> {
        params.validate()?;
        if params.quant.is_some() {
            return Err(CoreError::InvalidParameter(
                "an empty index cannot train a quantiser: build one from data, then change it".into(),
            ));
        }
        if dim == 0 {
            return Err(CoreError::InvalidParameter("dimension must be ≥ 1".into()));
        }
        check_and_prepare::<T>(params.metric, dim, &mut [])?;
        Ok(Self::from_state(State {
            metric: params.metric,
            dim,
            engine: crate::engine::engine(params.metric, Isa::detect())?,
            // A batch is linked whole: the caller's flag does not reach into the living index.
            params: BuildParams {
                cancel: crate::Cancel::new(),
                ..params.clone()
            },
            vectors: Arc::new(Vec::new()),
            graph: BuilderGraph::new(Vec::new(), params.m, params.m0()),
            frozen: None,
            byte_walk: true,
            searches: AtomicUsize::new(0),
            quant: None,
            keys: Vec::new(),
            tombstones: Vec::new(),
            hidden: 0,
            by_key: HashMap::new(),
            metadata: serde_json::json!({ "geodex_version": env!("CARGO_PKG_VERSION") }),
            lsn: 0,
            unswept: 0,
            cancel: Cancel::new(),
            repair_pending: AtomicBool::new(false),
        }))
    }

    /// Takes over a built or opened index (copying a memory-mapped one into memory). Its build
    /// parameters, seed and neighbour-selection options carry over; insertions use all cores
    /// unless [`LiveIndex::set_threads`] says otherwise.
    pub fn from_index(index: Index<T>) -> Result<Self, CoreError> {
        let heuristic = &index.metadata["heuristic"];
        let params = BuildParams {
            metric: index.metric,
            m: index.graph.m,
            ef_construction: index.ef_construction,
            seed: index.seed,
            heuristic: crate::Heuristic {
                extend_candidates: heuristic["extend_candidates"].as_bool().unwrap_or(false),
                keep_pruned: heuristic["keep_pruned"].as_bool().unwrap_or(false),
            },
            ..BuildParams::default()
        };
        let keys = index.keys.as_slice().to_vec();
        let tombstones = index.tombstones.as_slice().to_vec();
        let mut by_key = HashMap::with_capacity(keys.len());
        for (node, &key) in keys.iter().enumerate() {
            if is_live(&tombstones, node as u32) && by_key.insert(key, node as u32).is_some() {
                return Err(CoreError::InvalidParameter(format!(
                    "key {key} is held by two live nodes"
                )));
            }
        }
        let lsn = index.metadata["wal_lsn"].as_u64().unwrap_or(0);
        let mut state = State {
            metric: index.metric,
            dim: index.dim,
            engine: index.engine,
            hidden: tombstones.iter().map(|w| w.count_ones() as usize).sum(),
            graph: BuilderGraph::new(Vec::new(), index.graph.m, index.graph.m0),
            frozen: None,
            byte_walk: index.byte_walk,
            searches: AtomicUsize::new(0),
            quant: index.quant,
            vectors: index.vectors.into_shared(),
            keys,
            tombstones,
            by_key,
            params,
            metadata: index.metadata,
            lsn,
            unswept: 0,
            cancel: Cancel::new(),
            repair_pending: AtomicBool::new(false),
        };
        state.frozen = Some(state.pack(index.graph, index.bytes.into_inner().flatten()));
        Ok(Self::from_state(state))
    }

    fn from_state(state: State<T>) -> Self {
        LiveIndex {
            state: RwLock::new(state),
            writer: Mutex::new(()),
        }
    }

    /// Threads that link a batch's nodes (`None`: all cores). With one thread, the same
    /// operations in the same order give the same index.
    pub fn set_threads(&self, threads: Option<usize>) -> Result<(), CoreError> {
        if threads == Some(0) {
            return Err(CoreError::InvalidParameter("threads must be ≥ 1".into()));
        }
        let _w = self.writer.lock();
        self.state.write().params.threads = threads;
        Ok(())
    }

    /// The flag that stops the graph repair after a delete or replacement, and compaction
    /// (Ctrl-C in the CLI). A cancelled repair leaves the write applied and the index correct
    /// — deleted keys are never returned — with [`Deleted::repair_pending`] set; a cancelled
    /// compaction changes nothing and returns [`CoreError::Cancelled`].
    pub fn set_cancel(&self, cancel: Cancel) {
        let _w = self.writer.lock();
        self.state.write().cancel = cancel;
    }

    /// Live vectors.
    pub fn len(&self) -> usize {
        self.state.read().by_key.len()
    }

    /// Whether no vector is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Nodes stored, deleted ones included (what [`LiveIndex::compact`] reclaims).
    pub fn node_count(&self) -> usize {
        self.state.read().node_count()
    }

    /// Components per vector.
    pub fn dim(&self) -> usize {
        self.state.read().dim
    }

    /// Whether `key` is live.
    pub fn contains(&self, key: u64) -> bool {
        self.state.read().by_key.contains_key(&key)
    }

    /// The stored vector of `key` (normalised under cosine), if live.
    pub fn get(&self, key: u64) -> Option<Vec<T>> {
        let st = self.state.read();
        let node = *st.by_key.get(&key)? as usize;
        Some(st.vectors[node * st.dim..][..st.dim].to_vec())
    }

    /// Every live key, in node order.
    pub fn keys(&self) -> Vec<u64> {
        let st = self.state.read();
        (0..st.node_count() as u32)
            .filter(|&u| st.live(u))
            .map(|u| st.keys[u as usize])
            .collect()
    }

    /// Sequence number of the last write-ahead-log record applied (0: none).
    pub fn lsn(&self) -> u64 {
        self.state.read().lsn
    }

    /// Records that the log records up to `lsn` are applied (the next snapshot saves it as
    /// `wal_lsn`). For a caller that keeps its own log, as the server keeps one in its database.
    pub fn set_lsn(&self, lsn: u64) {
        self.state.write().lsn = lsn;
    }

    /// Adds the rows of `data` (row-major, `dim` each) under `keys`; fails with
    /// [`CoreError::KeyExists`] — changing nothing — if any key is already live.
    pub fn insert(&self, keys: &[u64], data: &[T]) -> Result<usize, CoreError> {
        Ok(self.add(keys, data, false, &|_| {})?.inserted)
    }

    /// Adds the rows of `data` under `keys`; a key already live gets the new vector and new
    /// links, and its old node is deleted and repaired around. The batch becomes visible to
    /// searches at once, when all of it is linked. Rejected as a whole, changing nothing:
    /// a key twice in the batch ([`CoreError::DuplicateKey`]), a row of the wrong dimension,
    /// NaN or infinite components, or what the metric refuses. `progress` gets the number of
    /// rows linked so far.
    pub fn upsert(
        &self,
        keys: &[u64],
        data: &[T],
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Upserted, CoreError> {
        self.add(keys, data, true, progress)
    }

    /// Checks a batch as [`LiveIndex::upsert`] would, changing nothing (a write-ahead log
    /// checks before it logs).
    pub fn validate(&self, keys: &[u64], data: &[T]) -> Result<(), CoreError> {
        self.prepared(keys, data).map(drop)
    }

    /// The batch checked (shape, distinct keys, components) and prepared for the metric.
    fn prepared(&self, keys: &[u64], data: &[T]) -> Result<Vec<T>, CoreError> {
        let (dim, metric) = {
            let st = self.state.read();
            (st.dim, st.metric)
        };
        let rows = crate::index::rows_of(dim, data.len())?;
        crate::index::check_keys(keys, rows)?;
        let mut data = data.to_vec();
        check_and_prepare(metric, dim, &mut data)?;
        Ok(data)
    }

    fn add(
        &self,
        keys: &[u64],
        data: &[T],
        replace: bool,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Upserted, CoreError> {
        let data = self.prepared(keys, data)?;
        let rows = keys.len();
        let _w = self.writer.lock();
        let mut st = self.state.write();
        if !replace {
            if let Some(&key) = keys.iter().find(|k| st.by_key.contains_key(k)) {
                return Err(CoreError::KeyExists { key });
            }
        }
        if st.node_count() + rows > u32::MAX as usize - 1 {
            return Err(CoreError::InvalidParameter(format!(
                "{} nodes would exceed the 2³² − 1 limit (compact first)",
                st.node_count() + rows
            )));
        }
        st.thaw();
        let start = st.node_count() as u32;
        append_hidden(&mut st, keys, data);
        let st = RwLockWriteGuard::downgrade(st);
        dispatch(&st, Work::Link { start, progress })?;
        drop(st);
        let mut st = self.state.write();
        st.unswept += rows;
        let mut replaced = Vec::new();
        for (i, &key) in keys.iter().enumerate() {
            let node = start + i as u32;
            st.set_hidden(node, false);
            if let Some(old) = st.by_key.insert(key, node) {
                st.set_hidden(old, true);
                replaced.push(old);
            }
        }
        let (_, _, repair_pending) = self.repair(st, !replaced.is_empty())?;
        Ok(Upserted {
            inserted: rows - replaced.len(),
            replaced: replaced.len(),
            repair_pending,
        })
    }

    /// Deletes `keys`: their nodes are hidden from searches at once, then every live list that
    /// linked to them is rewritten (see `consolidate.rs`), the entry point moves if it was
    /// deleted, and live nodes left unreachable are linked back in. Unknown keys are counted in
    /// [`Deleted::missing`], not an error.
    pub fn delete(&self, keys: &[u64]) -> Result<Deleted, CoreError> {
        let _w = self.writer.lock();
        let mut st = self.state.write();
        st.thaw();
        let mut report = Deleted::default();
        for key in keys {
            match st.by_key.remove(key) {
                Some(node) => {
                    st.set_hidden(node, true);
                    report.deleted += 1;
                }
                None => report.missing += 1,
            }
        }
        let (lists, relinked, pending) = self.repair(st, report.deleted > 0)?;
        report.lists_repaired = lists;
        report.relinked = relinked;
        report.repair_pending = pending;
        Ok(report)
    }

    /// After a batch: re-chooses the entry point, then (shared) rewrites the lists around
    /// deleted nodes if there are new ones, and links in live nodes no search reaches.
    ///
    /// Inserting alone can orphan a node too — a neighbour's list that overflows is pruned and
    /// may drop its only in-link, the defect the build's repair pass fixes. Finding such nodes
    /// takes an O(links) reachability sweep (28 ms on 100k SIFT nodes), which would dominate
    /// small batches, so after inserts it runs once the rows inserted since the last sweep
    /// reach 1/[`SWEEP_EVERY`] of the node count; after every delete, and before every
    /// [`LiveIndex::snapshot`] (so saved files never hold an unreachable live node), it always
    /// runs. A repair an earlier write left pending (cancelled) runs as if this batch deleted.
    /// Returns (lists rewritten, nodes relinked, whether the repair was cancelled and is still
    /// pending).
    fn repair(
        &self,
        mut st: RwLockWriteGuard<'_, State<T>>,
        deleted: bool,
    ) -> Result<(usize, usize, bool), CoreError> {
        st.rechoose_entry();
        let consolidate = deleted || st.repair_pending.load(Ordering::Relaxed);
        let sweep = consolidate || st.unswept * SWEEP_EVERY >= st.node_count();
        if sweep {
            st.unswept = 0;
        }
        let st = RwLockWriteGuard::downgrade(st);
        let lists = if consolidate {
            dispatch(&st, Work::Consolidate)?
        } else {
            0
        };
        if consolidate && st.cancel.is_cancelled() {
            st.repair_pending.store(true, Ordering::Relaxed);
            return Ok((lists, 0, true));
        }
        st.repair_pending.store(false, Ordering::Relaxed);
        let relinked = if sweep { dispatch(&st, Work::Reconnect)? } else { 0 };
        Ok((lists, relinked, false))
    }

    /// Finishes a repair a cancelled write left pending; `Err(Cancelled)` if cancelled again.
    fn finish_repair(&self, st: RwLockWriteGuard<'_, State<T>>) -> Result<(), CoreError> {
        if !st.repair_pending.load(Ordering::Relaxed) {
            return Ok(());
        }
        match self.repair(st, false)? {
            (_, _, true) => Err(CoreError::Cancelled),
            _ => Ok(()),
        }
    }

    /// Rewrites the index without its deleted nodes: live nodes are renumbered in order, links
    /// to deleted nodes dropped (there are none after a completed delete; a pending repair is
    /// finished first). Searches wait while it runs (it replaces every array). Cancelled
    /// ([`LiveIndex::set_cancel`]), it changes nothing and returns [`CoreError::Cancelled`].
    /// Returns how many nodes it removed.
    pub fn compact(&self) -> Result<usize, CoreError> {
        let _w = self.writer.lock();
        self.finish_repair(self.state.write())?;
        let mut st = self.state.write();
        st.thaw();
        let n = st.node_count();
        let kept: Vec<u32> = (0..n as u32).filter(|&u| st.live(u)).collect();
        let removed = n - kept.len();
        if removed == 0 {
            return Ok(0);
        }
        let graph = compacted_graph(&st.graph, &kept, &st.cancel)?;
        let dim = st.dim;
        let vectors = kept
            .iter()
            .flat_map(|&u| st.vectors[u as usize * dim..][..dim].iter().copied())
            .collect();
        let codes = st.quant.as_ref().map(|q| {
            let bytes = q.codec.code_bytes();
            let codes = q.codes.as_slice();
            kept.iter()
                .flat_map(|&u| codes[u as usize * bytes..][..bytes].iter().copied())
                .collect()
        });
        st.cancel.check()?;
        st.vectors = Arc::new(vectors);
        st.keys = kept.iter().map(|&u| st.keys[u as usize]).collect();
        if let (Some(q), Some(codes)) = (&mut st.quant, codes) {
            q.codes = Buf::Owned(codes);
        }
        st.by_key = st.keys.iter().enumerate().map(|(i, &k)| (k, i as u32)).collect();
        st.tombstones = vec![0; kept.len().div_ceil(64)];
        st.hidden = 0;
        st.graph = graph;
        Ok(removed)
    }

    /// A frozen copy (flat graph, deleted nodes kept behind tombstones) to save or search at
    /// full speed; the write-ahead-log position is recorded in its metadata as `wal_lsn`.
    pub fn snapshot(&self) -> Result<Index<T>, CoreError> {
        let _w = self.writer.lock();
        let mut st = self.state.write();
        if st.repair_pending.load(Ordering::Relaxed) {
            self.finish_repair(st)?;
        } else if st.unswept > 0 {
            st.unswept = 0;
            dispatch(&RwLockWriteGuard::downgrade(st), Work::Reconnect)?;
        } else {
            drop(st);
        }
        let st = self.state.read();
        if st.node_count() == 0 {
            return Err(CoreError::Empty);
        }
        let mut metadata = st.metadata.clone();
        metadata["wal_lsn"] = st.lsn.into();
        Ok(Index {
            metric: st.metric,
            dim: st.dim,
            ef_construction: st.params.ef_construction,
            seed: st.params.seed,
            vectors: Buf::Shared(Arc::clone(&st.vectors)),
            graph: match &st.frozen {
                Some(frozen) => frozen.graph.clone(),
                None => FrozenGraph::freeze(&st.graph),
            },
            quant: st.quant.clone(),
            keys: Buf::Owned(st.keys.clone()),
            tombstones: Buf::Owned(st.tombstones.clone()),
            has_tombstones: st.hidden > 0,
            metadata,
            engine: st.engine.clone(),
            file_bytes: None,
            byte_walk: st.byte_walk,
            code_walk: true,
            link_codes: None,
            bytes: match st.frozen.as_ref().map(|f| f.bytes.clone()) {
                Some(Some(codes)) => std::sync::OnceLock::from(Some(codes)),
                _ => std::sync::OnceLock::new(),
            },
            // A stop model is calibrated on one graph; a living index's graph changes.
            stop_model: None,
        })
    }

    /// The `params.k` live vectors nearest to `query`, closest first, as [`Index::search`].
    pub fn search(
        &self,
        query: &[T],
        params: &SearchParams<'_>,
        ctx: &mut SearchContext,
    ) -> Result<(Vec<Hit>, SearchStats), CoreError> {
        let mut out = Vec::with_capacity(params.k);
        let st = self.state.read();
        let stats = match &st.frozen {
            Some(frozen) => {
                st.stored()
                    .search(Graph::Frozen(&frozen.graph.view()), query, params, ctx, &mut out)?
            }
            None => st
                .stored()
                .search(Graph::Builder(&st.graph), query, params, ctx, &mut out)?,
        };
        let due = st.frozen.is_none()
            && st.searches.fetch_add(1, Ordering::Relaxed) + 1 >= freeze_after(st.node_count());
        drop(st);
        if due {
            self.try_freeze()?;
        }
        Ok((out, stats))
    }

    /// Packs the graph for search: flat lists with prefetching instead of per-list locks, the
    /// frozen index's search path (the living graph searched 0.81× as fast, BENCHMARKS.md
    /// 2026-11-26). Searches do this by themselves once [`freeze_after`] of them ran since the
    /// last write; the next write unpacks it (both O(links), a few milliseconds per 100k
    /// nodes). Call it after a bulk load to search at full speed at once. Waits for a running
    /// write; returns whether the graph is frozen (not while a cancelled repair is pending).
    pub fn freeze(&self) -> Result<bool, CoreError> {
        self.freeze_with(self.writer.lock())
    }

    /// [`LiveIndex::freeze`] unless a write is running (a search never waits for one).
    fn try_freeze(&self) -> Result<bool, CoreError> {
        match self.writer.try_lock() {
            Some(w) => self.freeze_with(w),
            None => Ok(false),
        }
    }

    fn freeze_with(&self, _w: parking_lot::MutexGuard<'_, ()>) -> Result<bool, CoreError> {
        let mut st = self.state.write();
        if st.frozen.is_some() {
            return Ok(true);
        }
        if st.repair_pending.load(Ordering::Relaxed) || st.node_count() == 0 {
            return Ok(false);
        }
        if st.unswept > 0 {
            st.unswept = 0;
            let shared = RwLockWriteGuard::downgrade(st);
            dispatch(&shared, Work::Reconnect)?;
            drop(shared);
            st = self.state.write();
        }
        let frozen = FrozenGraph::freeze(&st.graph);
        st.graph = BuilderGraph::new(Vec::new(), frozen.m, frozen.m0);
        st.frozen = Some(st.pack(frozen, None));
        st.searches.store(0, Ordering::Relaxed);
        Ok(true)
    }

    /// Whether a frozen float index under L2 or cosine walks on byte codes (on by default):
    /// the walk reads a quarter of the bytes and re-ranks its whole beam exactly
    /// (`byte_walk.rs`; the codes take n·dim bytes beside the vectors). Off: the walk runs on
    /// the vectors, as before. Takes effect at once if the graph is frozen.
    pub fn set_byte_walk(&self, on: bool) {
        let _w = self.writer.lock();
        let mut st = self.state.write();
        if st.byte_walk == on {
            return;
        }
        st.byte_walk = on;
        if let Some(frozen) = st.frozen.take() {
            let packed = st.pack(frozen.graph, frozen.bytes);
            st.frozen = Some(packed);
        }
    }

    /// Whether the search walks on byte codes now ([`LiveIndex::set_byte_walk`]: frozen, a
    /// float index under L2 or cosine, turned on).
    pub fn walks_bytes(&self) -> bool {
        self.state
            .read()
            .frozen
            .as_ref()
            .is_some_and(|f| f.bytes.is_some())
    }

    /// Whether the graph is frozen for search ([`LiveIndex::freeze`]).
    pub fn is_frozen(&self) -> bool {
        self.state.read().frozen.is_some()
    }

    /// The nodes of `keys` as a set for [`SearchParams::allowed`], and how many keys are not
    /// live. Valid until the next insert changes the node count.
    pub fn node_set(&self, keys: &[u64]) -> (NodeSet, usize) {
        let st = self.state.read();
        NodeSet::of_keys(st.node_count(), keys, |key| st.by_key.get(&key).copied())
    }

    /// Measures the invariants (structure, no link to a deleted node, every live node reachable,
    /// key map consistent); for tests and `geodex info`.
    pub fn check(&self) -> LiveReport {
        let st = self.state.read();
        match &st.frozen {
            Some(frozen) => live_report(&st, &frozen.graph.view()),
            None => live_report(&st, &st.graph),
        }
    }
}

/// The invariants of `st` with its graph `g` (see [`LiveIndex::check`]).
fn live_report<T>(st: &State<T>, g: &impl GraphView) -> LiveReport {
    let n = st.node_count() as u32;
    let links_to_deleted = (0..n)
        .filter(|&u| st.live(u))
        .map(|u| {
            (0..=g.level(u))
                .map(|l| g.links(u, l).iter().filter(|&&t| !st.live(t)).count())
                .sum::<usize>()
        })
        .sum();
    let live_nodes = (0..n).filter(|&u| st.live(u));
    let mapped_wrong = st
        .by_key
        .iter()
        .filter(|&(&k, &u)| u >= n || !st.live(u) || st.keys[u as usize] != k)
        .count();
    LiveReport {
        graph: check_live_graph(g, |u| st.live(u)),
        links_to_deleted,
        key_map_errors: mapped_wrong + live_nodes.count().abs_diff(st.by_key.len()),
    }
}

/// Searches after which the graph freezes by itself ([`LiveIndex::freeze`]): packing costs
/// about as much as a few hundred searches per 100k nodes, so after max(512, nodes / 64)
/// searches without a write it has paid for itself many times over when more follow, and
/// costs at most a few per cent when writes and searches alternate.
pub fn freeze_after(nodes: usize) -> usize {
    (nodes / 64).max(512)
}

/// Nodes between two looks at the cancellation flag in [`compacted_graph`].
const CANCEL_CHECK_NODES: usize = 4096;

/// The graph of the `kept` nodes (ascending old ids), renumbered 0.. in that order, with the
/// links to other nodes dropped; `Err(Cancelled)` once `cancel` is set.
fn compacted_graph(old: &BuilderGraph, kept: &[u32], cancel: &Cancel) -> Result<BuilderGraph, CoreError> {
    let mut renumber = vec![u32::MAX; old.node_count()];
    for (new, &u) in kept.iter().enumerate() {
        renumber[u as usize] = new as u32;
    }
    let levels: Vec<u8> = kept.iter().map(|&u| old.level(u) as u8).collect();
    let graph = BuilderGraph::new(levels, old.m(), old.m0());
    for (chunk, nodes) in kept.chunks(CANCEL_CHECK_NODES).enumerate() {
        cancel.check()?;
        for (i, &u) in nodes.iter().enumerate() {
            let new = (chunk * CANCEL_CHECK_NODES + i) as u32;
            for level in 0..=old.level(u) {
                let links = old.links(u, level);
                let kept_links = links
                    .iter()
                    .map(|&t| renumber[t as usize])
                    .filter(|&t| t != u32::MAX);
                graph.write(new, level).extend(kept_links);
            }
        }
    }
    graph.set_entry(
        old.entry_point()
            .map(|(e, top)| (renumber[e as usize], top))
            .filter(|&(e, _)| e != u32::MAX),
    );
    Ok(graph)
}

/// Appends the batch as hidden nodes with their drawn levels (and codes).
fn append_hidden<T: Component>(st: &mut State<T>, keys: &[u64], data: Vec<T>) {
    if let Some(q) = &mut st.quant {
        let rows: Vec<f32> = data.iter().map(|x| x.to_f32()).collect();
        q.codes.to_mut().extend(q.codec.encode_all(&rows));
    }
    Arc::make_mut(&mut st.vectors).extend(data);
    for &key in keys {
        let node = st.keys.len() as u32;
        st.keys.push(key);
        if st.tombstones.len() * 64 <= node as usize {
            st.tombstones.push(0);
        }
        st.set_hidden(node, true);
        let level = draw_level(st.params.m, st.params.seed, node);
        st.graph.push_node(level);
    }
}

/// Graph work that needs the distance kernel.
enum Work<'a> {
    /// Link the hidden nodes from `start` on (a batch just appended).
    Link {
        start: u32,
        progress: &'a (dyn Fn(usize) + Sync),
    },
    /// Rewrite live lists around hidden (deleted) nodes.
    Consolidate,
    /// Link in live nodes no level-0 search reaches.
    Reconnect,
}

/// Runs `work` with the index's engine; returns its count (lists repaired, nodes relinked).
fn dispatch<T: Component>(st: &RwLockReadGuard<'_, State<T>>, work: Work<'_>) -> Result<usize, CoreError> {
    let mut rows = Rows {
        vectors: &st.vectors,
        dim: st.dim,
        codes: None,
    };
    Ok(match work {
        Work::Link { start, progress } => {
            let nodes = start..st.node_count() as u32;
            let codes = st.insertion_codes(nodes.len());
            rows.codes = codes.as_ref();
            st.engine
                .link(rows, &st.graph, &st.params, nodes, &st.tombstones, progress)?;
            0
        }
        Work::Consolidate => {
            st.engine
                .consolidate(rows, &st.graph, st.params.heuristic, &st.tombstones, &st.cancel)
        }
        Work::Reconnect => st
            .engine
            .reconnect(rows, &st.graph, st.params.ef_construction, &st.tombstones),
    })
}
