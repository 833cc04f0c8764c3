//! The query front end shared by the frozen and the living index: checks a query and its
//! parameters, applies the filter policy (walk the graph, or scan the allowed nodes exactly
//! when too few are allowed for the walk to pay), walks on full vectors or on codes, and turns
//! the found nodes into [`Hit`]s. The walk itself is `search.rs`; the kernel is chosen once per
//! index (`engine.rs`).

use geodex_distance::{Distance, Metric};

use crate::byte_walk::ByteWalk;
use crate::engine::{Engine, Graph};
use crate::filter::{estimate_selectivity, exact_scan, exact_scan_threshold};
use crate::graph::GraphView;
use crate::link_codes::LinkCodes;
use crate::quantized::Quantized;
use crate::search::{knn_with, Exact, SearchStats};
use crate::stop::{Adaptive, HeapRadius, NoStop, Radius, Stopper};
use crate::{Component, CoreError, Hit, Key, NodeId, SearchContext, SearchParams, StopKind};

/// Whether bit `node` of a tombstone bitset is clear.
#[inline]
pub(crate) fn is_live(tombstones: &[u64], node: u32) -> bool {
    tombstones[node as usize / 64] >> (node % 64) & 1 == 0
}

/// How a walk reads vectors, for messages.
fn walk_name(bytes: bool) -> &'static str {
    if bytes {
        "byte codes (the default walk)"
    } else {
        "the full vectors (--exact-walk)"
    }
}

/// What a search reads besides the graph, borrowed from a frozen [`crate::Index`] or a living
/// index.
pub(crate) struct Stored<'a, T> {
    pub metric: Metric,
    pub dim: usize,
    pub engine: &'a dyn Engine<T>,
    /// Row-major, `dim` components per node.
    pub vectors: &'a [T],
    pub keys: &'a [u64],
    /// One bit per node; set = deleted.
    pub tombstones: &'a [u64],
    pub has_tombstones: bool,
    pub quant: Option<&'a Quantized>,
    /// The per-list code blocks of a PQ4 index, when made and the walk is on its own graph.
    pub links: Option<&'a LinkCodes>,
    /// Byte codes of a frozen living float index, walked instead of the vectors (the walk
    /// then runs on their graph).
    pub bytes: Option<ByteWalk<'a>>,
}

impl<T: Component> Stored<'_, T> {
    fn len(&self) -> usize {
        self.keys.len()
    }

    /// Searches `graph` with the index's engine and writes the hits into `out`.
    pub(crate) fn search(
        &self,
        graph: Graph<'_>,
        query: &[T],
        params: &SearchParams<'_>,
        ctx: &mut SearchContext,
        out: &mut Vec<Hit>,
    ) -> Result<SearchStats, CoreError> {
        self.run(query, params, ctx, out, |ctx| {
            Ok(self.engine.search(self, graph, query, params, ctx))
        })
    }

    /// Checks the query and parameters, runs `search`, and collects its hits into `out`.
    fn run(
        &self,
        query: &[T],
        params: &SearchParams<'_>,
        ctx: &mut SearchContext,
        out: &mut Vec<Hit>,
        search: impl FnOnce(&mut SearchContext) -> Result<SearchStats, CoreError>,
    ) -> Result<SearchStats, CoreError> {
        params.validate()?;
        if params.rerank_bound.is_some() && self.quant.is_none_or(|q| !q.codec.has_error_bound()) {
            return Err(CoreError::InvalidParameter(
                "re-ranking by the error bound needs an index whose codes carry one (--quant rabitq)".into(),
            ));
        }
        if let Some(rule) = params.stop {
            let model = rule.model;
            if model.metric != self.metric.name() || model.dim != self.dim {
                return Err(CoreError::InvalidParameter(format!(
                    "the stop model was trained for {} vectors of dimension {}, the index holds {} \
                     of dimension {}",
                    model.metric,
                    model.dim,
                    self.metric.name(),
                    self.dim
                )));
            }
            if model.byte_walk != self.bytes.is_some() {
                return Err(CoreError::InvalidParameter(format!(
                    "the stop model was calibrated on {}, this search walks {}",
                    walk_name(model.byte_walk),
                    walk_name(self.bytes.is_some())
                )));
            }
            if params.k != model.k {
                return Err(CoreError::InvalidParameter(format!(
                    "the stop model was trained for k = {}, the search asks for k = {}",
                    model.k, params.k
                )));
            }
        }
        if let Some(set) = params.allowed.filter(|s| s.capacity() != self.len()) {
            return Err(CoreError::InvalidParameter(format!(
                "the allowed-node set holds ids below {}, the index has {} nodes",
                set.capacity(),
                self.len()
            )));
        }
        if query.len() != self.dim {
            return Err(CoreError::DimensionMismatch {
                row: 0,
                expected: self.dim,
                found: query.len(),
            });
        }
        T::check(self.metric, 0, query)?;
        let stats = search(ctx)?;
        out.clear();
        out.extend(ctx.found.iter().map(|n| Hit {
            key: Key(self.keys[n.id as usize]),
            node: NodeId(n.id),
            distance: self.metric.reported_distance(n.distance),
        }));
        Ok(stats)
    }

    /// The filter policy, then the walk on full vectors or on codes, watched by the stopping
    /// rule of `p` if any; results in `ctx.found`.
    pub(crate) fn walk<G: GraphView, D: Distance<T>>(
        &self,
        g: &G,
        exact: &Exact<'_, '_, T, D>,
        p: &SearchParams<'_>,
        ctx: &mut SearchContext,
    ) -> SearchStats {
        let Some(rule) = p.stop else {
            return self.walk_with(g, exact, p, ctx, &mut NoStop, None);
        };
        let p = &SearchParams {
            ef: rule.beam_width().max(p.k),
            ..*p
        };
        if !rule.adaptive() {
            return self.walk_with(g, exact, p, ctx, &mut NoStop, None);
        }
        // The epsilon rule on an exact walk keeps a result heap of k, whose worst is its k-th.
        let exact_walk = self.bytes.is_none() && self.quant.is_none();
        if rule.explores_by_radius() && exact_walk && p.ef == p.k {
            let mut stopper = HeapRadius::new(rule, p.k);
            return self.walk_with(g, exact, p, ctx, &mut stopper, rule.rerank_width());
        }
        let top = std::mem::take(&mut ctx.stop_top);
        if rule.kind == StopKind::Epsilon && !rule.trace {
            let mut stopper = Radius::new(rule, p.k, top);
            let stats = self.walk_with(g, exact, p, ctx, &mut stopper, rule.rerank_width());
            ctx.stop_top = stopper.into_buffer();
            return stats;
        }
        let mut trace = std::mem::take(&mut ctx.trace);
        let law = rule.law_moments(
            self.metric,
            exact.query(),
            self.bytes.as_ref().map(ByteWalk::code_unit),
        );
        let mut stopper = Adaptive::new(rule, p.k, top, rule.trace.then_some(&mut trace), law);
        let stats = self.walk_with(g, exact, p, ctx, &mut stopper, rule.rerank_width());
        ctx.stop_top = stopper.into_buffer();
        ctx.trace = trace;
        stats
    }

    /// [`Stored::walk`] with the rule's state `stop`; a byte walk re-ranks the best
    /// `rerank_width` nodes of its beam (all when `None`).
    fn walk_with<G: GraphView, D: Distance<T>, S: Stopper>(
        &self,
        g: &G,
        exact: &Exact<'_, '_, T, D>,
        p: &SearchParams<'_>,
        ctx: &mut SearchContext,
        stop: &mut S,
        rerank_width: Option<usize>,
    ) -> SearchStats {
        let keys = self.keys;
        let accept = |n: u32| {
            is_live(self.tombstones, n)
                && p.allowed.is_none_or(|s| s.contains(n))
                && p.filter.is_none_or(|f| f(Key(keys[n as usize])))
        };
        let filtered = p.filter.is_some() || p.allowed.is_some();
        if filtered {
            let n = self.len();
            let share = match (p.allowed, p.filter) {
                (Some(set), None) => set.len() as f64 / n as f64,
                _ => estimate_selectivity(n, &accept),
            };
            if share < p.exact_below.unwrap_or_else(|| exact_scan_threshold(n, p.ef)) {
                let (heap, out) = (&mut ctx.layer.results, &mut ctx.found);
                return match p.allowed {
                    Some(set) => exact_scan(exact, set.iter(), p.k, accept, heap, out),
                    None => exact_scan(exact, 0..n as u32, p.k, accept, heap, out),
                };
            }
        }
        let unfiltered = !filtered && !self.has_tombstones;
        if let Some(bytes) = &self.bytes {
            let accept: Option<&dyn Fn(u32) -> bool> = if unfiltered { None } else { Some(&accept) };
            return bytes.search(exact, p, ctx, accept, stop, rerank_width);
        }
        match self.quant {
            None if unfiltered => knn_with(g, exact, p.k, p.ef, ctx, |_| true, stop),
            None => knn_with(g, exact, p.k, p.ef, ctx, accept, stop),
            Some(codes) if unfiltered => {
                codes.search(self.metric, g, exact, p, ctx, |_| true, stop, self.links)
            }
            Some(codes) => codes.search(self.metric, g, exact, p, ctx, accept, stop, self.links),
        }
    }
}
