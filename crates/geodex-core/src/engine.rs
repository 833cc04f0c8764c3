//! The distance kernel, chosen once. An [`Engine`] is the whole of geodex's graph work — build,
//! link, repair, search, exact scan — monomorphised for one element type and one kernel
//! (metric × instruction set), and held behind one `dyn` boundary by the index that chose it
//! when it was built or opened, as hnswlib binds its distance function in its constructor.
//! [`engine`] is the only place that turns a run-time metric into a kernel type, and the only
//! place that refuses a metric the element type has no kernel for; a query pays one virtual
//! call, not a dispatch.
//!
//! Other graph views (the analysis crate's perturbed graphs) are packed into a
//! [`crate::graph::FrozenGraph`] and searched through the engine too
//! ([`crate::Index::search_over`]): no graph work is generic outside this crate.

use std::any::Any;
use std::ops::Range;
use std::sync::Arc;

use geodex_distance::{Distance, ElementKind, Isa, KernelVisitor, Metric};

use crate::byte_walk::ByteCodes;
use crate::graph::{BuilderGraph, FrozenView, GraphView, Split};
use crate::query::{is_live, Stored};
use crate::search::{SearchStats, Space};
use crate::{BuildParams, Cancel, Component, CoreError, Heuristic, Neighbor, SearchContext, SearchParams};

/// Row-major vectors of `dim` components, the rows a graph's node ids index.
#[derive(Clone, Copy)]
pub(crate) struct Rows<'a, T> {
    pub vectors: &'a [T],
    pub dim: usize,
    /// Byte codes of the vectors for the insertion's walk ([`BuildParams::build_on_codes`]).
    pub codes: Option<&'a ByteCodes>,
}

/// The two graph forms an index searches: a frozen index's flat arrays, or the living
/// index's builder graph.
#[derive(Clone, Copy)]
pub(crate) enum Graph<'a> {
    /// A frozen index's graph (either level-0 layout; split into a loop per layout).
    Frozen(&'a FrozenView<'a>),
    /// The living index's graph.
    Builder(&'a BuilderGraph),
}

/// Graph work with the kernel bound. Every method takes vectors already checked and prepared
/// for the metric (`crate::validate`).
pub(crate) trait Engine<T>: Send + Sync {
    /// The metric the kernel computes.
    fn metric(&self) -> Metric;

    /// The instruction set the kernel runs on.
    fn isa(&self) -> Isa;

    /// Searches `graph`; `query` has the index's dimension and is finite.
    fn search(
        &self,
        stored: &Stored<'_, T>,
        graph: Graph<'_>,
        query: &[T],
        params: &SearchParams<'_>,
        ctx: &mut SearchContext,
    ) -> SearchStats;

    /// Inserts every node of `graph` (paper Alg. 1), then links in the nodes no level-0 search
    /// reaches when the parameters ask for it; returns how many it linked in.
    fn build(
        &self,
        rows: Rows<'_, T>,
        graph: &BuilderGraph,
        params: &BuildParams,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<usize, CoreError>;

    /// Links the nodes `nodes` (appended, hidden) into a graph whose other nodes are linkable
    /// when live in `tombstones` (a clear bit).
    fn link(
        &self,
        rows: Rows<'_, T>,
        graph: &BuilderGraph,
        params: &BuildParams,
        nodes: Range<u32>,
        tombstones: &[u64],
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<(), CoreError>;

    /// Rewrites every live list that links to a node hidden in `tombstones`; returns how many.
    /// Once `cancel` is set it stops starting new nodes (each list is rewritten whole or not).
    fn consolidate(
        &self,
        rows: Rows<'_, T>,
        graph: &BuilderGraph,
        heuristic: Heuristic,
        tombstones: &[u64],
        cancel: &Cancel,
    ) -> usize;

    /// Links in live nodes that no level-0 search from the entry reaches; returns how many.
    fn reconnect(&self, rows: Rows<'_, T>, graph: &BuilderGraph, ef: usize, tombstones: &[u64]) -> usize;

    /// The `k` nearest rows of `base` to each row of `queries`, by brute force in parallel,
    /// with the kernel's distances (rank keys under Poincaré). `progress` gets queries done.
    fn scan(
        &self,
        base: Rows<'_, T>,
        queries: &[T],
        k: usize,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Vec<Vec<Neighbor>>;
}

impl<T> std::fmt::Debug for dyn Engine<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Engine({}, {})", self.metric(), self.isa().name())
    }
}

/// The engine for `metric` on `isa` (falling back to what the CPU has), or
/// [`CoreError::UnsupportedMetric`] when the element type has no kernel for the metric.
///
/// The engines themselves are made by the non-generic [`engine_f32`] and [`engine_u8`], so the
/// whole of the graph work is compiled once, in this crate: an optimised build does not share
/// generic instances between crates, and a generic constructor here made every dependent crate
/// (each test binary, the CLI, the Python module) compile all of it again for every kernel —
/// minutes per crate. This function only moves the right one across the type parameter.
pub(crate) fn engine<T: Component>(metric: Metric, isa: Isa) -> Result<Arc<dyn Engine<T>>, CoreError> {
    let chosen: Box<dyn Any> = match T::KIND {
        ElementKind::F32 => Box::new(engine_f32(metric, isa)),
        ElementKind::U8 => Box::new(engine_u8(metric, isa)),
    };
    *chosen
        .downcast::<Result<Arc<dyn Engine<T>>, CoreError>>()
        .expect("Element::KIND names the element type")
}

/// The `f32` engines (see [`engine`] for why this is not generic).
#[inline(never)]
fn engine_f32(metric: Metric, isa: Isa) -> Result<Arc<dyn Engine<f32>>, CoreError> {
    make_engine(metric, isa)
}

/// The `u8` engines (see [`engine`] for why this is not generic).
#[inline(never)]
fn engine_u8(metric: Metric, isa: Isa) -> Result<Arc<dyn Engine<u8>>, CoreError> {
    make_engine(metric, isa)
}

fn make_engine<T: Component>(metric: Metric, isa: Isa) -> Result<Arc<dyn Engine<T>>, CoreError> {
    struct Choose {
        metric: Metric,
        isa: Isa,
    }
    impl<T: Component> KernelVisitor<T> for Choose {
        type Output = Arc<dyn Engine<T>>;
        fn visit<D: Distance<T>>(self, dist: D) -> Self::Output {
            Arc::new(Kernel {
                dist,
                metric: self.metric,
                isa: self.isa,
            })
        }
    }
    with_kernel(metric, isa, Choose { metric, isa })
}

/// Runs `visitor` with the kernel for `metric` on `isa`: the one run-time → compile-time
/// dispatch of the crate.
fn with_kernel<T: Component, V: KernelVisitor<T>>(
    metric: Metric,
    isa: Isa,
    visitor: V,
) -> Result<V::Output, CoreError> {
    T::dispatch(metric, isa, visitor).ok_or(CoreError::UnsupportedMetric {
        metric,
        element: T::KIND.name(),
    })
}

/// An [`Engine`] over the kernel `D`.
struct Kernel<D> {
    dist: D,
    metric: Metric,
    isa: Isa,
}

impl<D: Copy> Kernel<D> {
    fn space<'a, T>(&self, rows: Rows<'a, T>) -> Space<'a, T, D> {
        Space {
            vectors: rows.vectors,
            dim: rows.dim,
            dist: self.dist,
        }
    }
}

impl<T: Component, D: Distance<T>> Engine<T> for Kernel<D> {
    fn metric(&self) -> Metric {
        self.metric
    }

    fn isa(&self) -> Isa {
        self.isa
    }

    fn search(
        &self,
        stored: &Stored<'_, T>,
        graph: Graph<'_>,
        query: &[T],
        params: &SearchParams<'_>,
        ctx: &mut SearchContext,
    ) -> SearchStats {
        T::with_prepared(self.metric, query, ctx, |q, ctx| match graph {
            Graph::Frozen(g) => match g.split() {
                Split::Fixed(g) => search_graph(stored, self.dist, &g, q, params, ctx),
                Split::Packed(g) => search_graph(stored, self.dist, &g, q, params, ctx),
            },
            Graph::Builder(g) => search_graph(stored, self.dist, g, q, params, ctx),
        })
    }

    fn build(
        &self,
        rows: Rows<'_, T>,
        graph: &BuilderGraph,
        params: &BuildParams,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<usize, CoreError> {
        let space = self.space(rows);
        crate::insert::build_graph(graph, &space, params, rows.codes, progress)?;
        Ok(if params.repair_reachability {
            crate::repair::repair_reachability(graph, &space, params.ef_construction, &|_| true)
        } else {
            0
        })
    }

    fn link(
        &self,
        rows: Rows<'_, T>,
        graph: &BuilderGraph,
        params: &BuildParams,
        nodes: Range<u32>,
        tombstones: &[u64],
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<(), CoreError> {
        let start = nodes.start;
        let linkable = |u: u32| u >= start || is_live(tombstones, u);
        crate::insert::insert_nodes(
            graph,
            &self.space(rows),
            params,
            nodes,
            &linkable,
            rows.codes,
            progress,
        )
    }

    fn consolidate(
        &self,
        rows: Rows<'_, T>,
        graph: &BuilderGraph,
        heuristic: Heuristic,
        tombstones: &[u64],
        cancel: &Cancel,
    ) -> usize {
        let live = |u: u32| is_live(tombstones, u);
        crate::consolidate::consolidate(graph, &self.space(rows), heuristic, &live, cancel)
    }

    fn reconnect(&self, rows: Rows<'_, T>, graph: &BuilderGraph, ef: usize, tombstones: &[u64]) -> usize {
        let live = |u: u32| is_live(tombstones, u);
        crate::repair::repair_reachability(graph, &self.space(rows), ef, &live)
    }

    fn scan(
        &self,
        base: Rows<'_, T>,
        queries: &[T],
        k: usize,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Vec<Vec<Neighbor>> {
        crate::exact::scan(&self.space(base), queries, k, progress)
    }
}

/// The search body for any graph type: the filter policy (exact scan below the cost
/// crossover), then the walk on full vectors or on codes. `query` is prepared for the metric.
fn search_graph<T: Component, D: Distance<T>, G: GraphView>(
    stored: &Stored<'_, T>,
    dist: D,
    graph: &G,
    query: &[T],
    params: &SearchParams<'_>,
    ctx: &mut SearchContext,
) -> SearchStats {
    let space = Space {
        vectors: stored.vectors,
        dim: stored.dim,
        dist,
    };
    stored.walk(graph, &space.bind(query), params, ctx)
}
