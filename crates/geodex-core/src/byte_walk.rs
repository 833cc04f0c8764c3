//! The reduced-precision walk of a float index: the graph walk compares byte codes
//! ([`Sq8Uniform`]: one range for every dimension, so the codes' squared L2 distance is the
//! vectors' up to a constant factor and rounding) with the byte kernels, then the whole beam
//! is re-ranked on the full vectors. A walk reads a quarter of the bytes per distance that it
//! reads on `f32`, which is what a search over vectors larger than the caches pays for (issue
//! 23: at 200k × 384-d the `f32` walk is bound by memory traffic, not arithmetic).
//!
//! Ordering by code distance is order by L2, and on unit vectors (cosine, stored normalised)
//! by cosine too; inner product on vectors of any length does not follow L2, so it keeps the
//! exact walk. The codes are a search-time copy, never stored in an index file: a living index
//! makes them when it freezes its graph, a built or opened [`crate::Index`] on its first
//! search.

use geodex_distance::{Distance, Element, ElementKind, Isa, KernelVisitor, Metric};
use geodex_quant::sq8::Sq8Uniform;

use crate::graph::{FrozenView, Split};
use crate::search::{knn_with, Exact, QueryDistance, SearchStats};
use crate::stop::Stopper;
use crate::{SearchContext, SearchParams};

/// Byte codes of every node's vector (node by node, `dim` bytes each) and the scale that
/// made them.
#[derive(Debug, Clone)]
pub(crate) struct ByteCodes {
    scale: Sq8Uniform,
    codes: Vec<u8>,
    dim: usize,
    /// The byte kernel's instruction set (the index engine's).
    isa: Isa,
}

impl ByteCodes {
    /// Whether codes can stand in for vectors of `T` under `metric`: `f32` under L2 or cosine.
    pub fn applies<T: Element>(metric: Metric) -> bool {
        T::KIND == ElementKind::F32 && matches!(metric, Metric::L2 | Metric::Cosine)
    }

    /// Codes for `vectors` (`T` = `f32`, stored prepared for `metric`) when the metric's order
    /// is the codes' L2 order and the components span a range; `None` otherwise.
    pub fn encode<T: Element>(metric: Metric, vectors: &[T], dim: usize, isa: Isa) -> Option<ByteCodes> {
        if !Self::applies::<T>(metric) {
            return None;
        }
        let floats: &[f32] = bytemuck::cast_slice(vectors);
        let scale = Sq8Uniform::fit(floats)?;
        Some(ByteCodes {
            scale,
            codes: scale.encode_all(floats),
            dim,
            isa,
        })
    }

    /// Runs `task` with these codes bound to the byte L2 kernel of their instruction set (one
    /// monomorphised instance per kernel, chosen once).
    pub fn visit<V: CodeTask>(&self, task: V) -> V::Output {
        struct Bind<'a, V> {
            codes: &'a ByteCodes,
            task: V,
        }
        impl<V: CodeTask> KernelVisitor<u8> for Bind<'_, V> {
            type Output = V::Output;
            fn visit<K: Distance<u8>>(self, kernel: K) -> V::Output {
                self.task.run(CodeRows {
                    codes: &self.codes.codes,
                    dim: self.codes.dim,
                    kernel,
                })
            }
        }
        u8::dispatch(Metric::L2, self.isa, Bind { codes: self, task })
            .expect("bytes have an L2 kernel on every instruction set")
    }
}

/// Work that runs on the codes with a concrete byte kernel ([`ByteCodes::visit`]).
pub(crate) trait CodeTask {
    /// What the work returns.
    type Output;
    /// Runs with the codes and their kernel.
    fn run<K: Distance<u8>>(self, rows: CodeRows<'_, K>) -> Self::Output;
}

/// Every node's code (`dim` bytes each, node by node) with the byte kernel comparing them.
#[derive(Clone, Copy)]
pub(crate) struct CodeRows<'a, K> {
    codes: &'a [u8],
    dim: usize,
    kernel: K,
}

impl<'a, K: Distance<u8>> CodeRows<'a, K> {
    #[inline(always)]
    fn code(&self, node: u32) -> &'a [u8] {
        &self.codes[node as usize * self.dim..][..self.dim]
    }

    /// Code distances from `query` (a code) to the nodes.
    pub fn bind(self, query: &'a [u8]) -> Codes<'a, K> {
        Codes { rows: self, query }
    }

    /// Code distances from node `node`'s own code (a node being inserted) to the others.
    pub fn bind_node(self, node: u32) -> Codes<'a, K> {
        self.bind(self.code(node))
    }
}

/// Byte codes with the frozen graph they were made for.
#[derive(Clone, Copy)]
pub(crate) struct ByteWalk<'a> {
    pub codes: &'a ByteCodes,
    pub graph: FrozenView<'a>,
}

impl ByteWalk<'_> {
    /// Code distance per unit of the vectors' squared L2 distance (1/step²: a code step is
    /// `step` in every dimension).
    pub fn code_unit(&self) -> f32 {
        let step = self.codes.scale.step;
        1.0 / (step * step)
    }

    /// K-NN search: the walk on codes with beam width `params.ef` keeps its whole beam, whose
    /// members then get their exact distance from `exact` and are re-sorted; leaves the best
    /// `params.k` in `ctx.found`. `accept` (`None`: every node) restricts the results as in
    /// the exact walk. A stopping rule `stop` may end the walk early; then only the best
    /// `rerank_width` nodes of its beam (all when `None`) are re-ranked.
    pub fn search<T: Element, D: Distance<T>, S: Stopper>(
        &self,
        exact: &Exact<'_, '_, T, D>,
        params: &SearchParams<'_>,
        ctx: &mut SearchContext,
        accept: Option<&dyn Fn(u32) -> bool>,
        stop: &mut S,
        rerank_width: Option<usize>,
    ) -> SearchStats {
        // Codes exist only for `f32` indexes (`ByteCodes::encode`), so the query is `f32`.
        let floats: &[f32] = bytemuck::cast_slice(exact.query());
        let mut query = std::mem::take(&mut ctx.query_code);
        query.resize(floats.len(), 0);
        self.codes.scale.encode(floats, &mut query);
        let ef = params.ef.max(params.k);
        let mut stats = walk(self, &query, ef, ctx, accept, stop);
        ctx.query_code = query;
        if let Some(width) = rerank_width {
            ctx.found.truncate(width.max(params.k));
        }
        rerank(exact, &mut ctx.found);
        stats.reranked = ctx.found.len() as u64;
        ctx.found.truncate(params.k);
        stats
    }
}

/// Replaces every found node's distance by the exact one, four nodes per kernel call, and
/// re-sorts (closest first). Every row is requested before the first is measured: the rows lie
/// scattered in the file (measured on the PQ4 walk's re-ranking, BENCHMARKS.md 2026-12-04).
pub(crate) fn rerank<T, D: Distance<T>>(exact: &Exact<'_, '_, T, D>, found: &mut [crate::Neighbor]) {
    for n in found.iter() {
        exact.prefetch(n.id);
    }
    let mut quads = found.chunks_exact_mut(4);
    for quad in &mut quads {
        let d = exact.to4([quad[0].id, quad[1].id, quad[2].id, quad[3].id]);
        for (n, d) in quad.iter_mut().zip(d) {
            n.distance = d;
        }
    }
    for n in quads.into_remainder() {
        n.distance = exact.to(n.id);
    }
    found.sort_unstable();
}

/// The walk on codes, keeping the best `ef` in `ctx.found`. Not generic over the float
/// kernel: one instance per byte kernel, whatever the index metric.
#[inline(never)]
fn walk<S: Stopper>(
    bw: &ByteWalk<'_>,
    query: &[u8],
    ef: usize,
    ctx: &mut SearchContext,
    accept: Option<&dyn Fn(u32) -> bool>,
    stop: &mut S,
) -> SearchStats {
    struct Walk<'a, 'c, S> {
        graph: Split<'a>,
        query: &'a [u8],
        ef: usize,
        ctx: &'c mut SearchContext,
        accept: Option<&'a dyn Fn(u32) -> bool>,
        stop: &'c mut S,
    }
    impl<S: Stopper> CodeTask for Walk<'_, '_, S> {
        type Output = SearchStats;
        fn run<K: Distance<u8>>(self, rows: CodeRows<'_, K>) -> SearchStats {
            let codes = rows.bind(self.query);
            let (ef, ctx, stop) = (self.ef, self.ctx, self.stop);
            match (self.graph, self.accept) {
                (Split::Fixed(g), None) => knn_with(&g, &codes, ef, ef, ctx, |_| true, stop),
                (Split::Fixed(g), Some(accept)) => knn_with(&g, &codes, ef, ef, ctx, accept, stop),
                (Split::Packed(g), None) => knn_with(&g, &codes, ef, ef, ctx, |_| true, stop),
                (Split::Packed(g), Some(accept)) => knn_with(&g, &codes, ef, ef, ctx, accept, stop),
            }
        }
    }
    bw.codes.visit(Walk {
        graph: bw.graph.split(),
        query,
        ef,
        ctx,
        accept,
        stop,
    })
}

/// The query's code-space squared L2 distance to every node's code.
pub(crate) struct Codes<'a, K> {
    rows: CodeRows<'a, K>,
    query: &'a [u8],
}

impl<K: Distance<u8>> QueryDistance for Codes<'_, K> {
    #[inline]
    fn to(&self, node: u32) -> f32 {
        self.rows.kernel.distance(self.query, self.rows.code(node))
    }
    #[inline]
    fn to4(&self, nodes: [u32; 4]) -> [f32; 4] {
        self.rows
            .kernel
            .distance4(self.query, nodes.map(|n| self.rows.code(n)))
    }
    #[inline(always)]
    fn prefetch(&self, node: u32) {
        geodex_distance::prefetch(self.rows.code(node));
    }
}
