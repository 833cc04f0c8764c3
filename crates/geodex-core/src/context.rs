//! Per-thread scratch space, reused across queries so the hot path never allocates.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::stop::Trace;
use crate::visited::VisitedSet;
use crate::Neighbor;

/// What one layer traversal ([`crate::search::search_layer`]) needs.
#[derive(Debug, Default)]
pub(crate) struct LayerScratch {
    pub(crate) visited: VisitedSet,
    /// Min-heap of nodes still to expand (closest on top).
    pub(crate) candidates: BinaryHeap<Reverse<Neighbor>>,
    /// Max-heap of the best `ef` accepted nodes (worst on top).
    pub(crate) results: BinaryHeap<Neighbor>,
    /// Unvisited neighbours of the node being expanded, whose vectors are being prefetched.
    pub(crate) fresh: Vec<u32>,
}

/// Buffers of the neighbour-selection heuristic.
#[derive(Debug, Default)]
pub(crate) struct SelectScratch {
    pub(crate) candidates: Vec<Neighbor>,
    pub(crate) selected: Vec<Neighbor>,
    pub(crate) pruned: Vec<Neighbor>,
}

/// Everything one search or insertion needs besides the index. Create one per thread and
/// reuse it: once its buffers have grown to their working size, searching allocates nothing.
#[derive(Debug, Default)]
pub struct SearchContext {
    pub(crate) layer: LayerScratch,
    /// The query after per-metric preparation (cosine: a normalised copy).
    pub(crate) query: Vec<f32>,
    /// The prepared query as `f32`, for the distance tables of a search on codes.
    pub(crate) query_f32: Vec<f32>,
    /// The per-query lookup table of a search on codes.
    pub(crate) table: Vec<f32>,
    /// The same table quantised to 8 bits, for a walk on per-list code blocks.
    pub(crate) lane_table: geodex_quant::fastscan::QuantizedTable,
    /// The query's byte code, for the reduced-precision walk (`byte_walk.rs`).
    pub(crate) query_code: Vec<u8>,
    /// Output of the last layer search, closest first.
    pub(crate) found: Vec<Neighbor>,
    /// Entry points of the next layer search.
    pub(crate) entry: Vec<Neighbor>,
    /// Selection of a new node's neighbours.
    pub(crate) select: SelectScratch,
    /// Shrinking of an existing node's list.
    pub(crate) shrink: SelectScratch,
    /// A new node's chosen neighbours (level, neighbour), linked back once all are chosen.
    pub(crate) chosen: Vec<(u8, Neighbor)>,
    /// The top k a stopping rule tracks (`stop.rs`).
    pub(crate) stop_top: Vec<Neighbor>,
    /// The trace of the last search run with [`crate::StopRule::tracing`].
    pub(crate) trace: Trace,
}

impl SearchContext {
    /// An empty context; buffers grow on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// The trace the last search with a [`crate::StopRule::tracing`] rule recorded (empty
    /// after taking it, or when the search never filled its top k).
    pub fn take_trace(&mut self) -> Trace {
        std::mem::take(&mut self.trace)
    }
}
