//! Graph construction: INSERT of Malkov & Yashunin (2018), Alg. 1, run in parallel with rayon.
//!
//! Concurrency: every adjacency list has its own lock (see [`BuilderGraph`]); a search holds a
//! list's read lock only while scanning it, and a list is written only under its write lock,
//! never while holding another. A node whose level exceeds the current top holds `raise` for
//! its whole insertion (as hnswlib does), so two new tops cannot race.
//!
//! Publication order: a new node first chooses its neighbours on every level and writes all its
//! own lists, and only then is linked to from other nodes (and, last, becomes the entry point if
//! it is the new top). So a search running concurrently never reaches a node whose lists are
//! still being filled. With one thread this order gives the same graph as linking level by level
//! (the reverse links of level ℓ are never read by the searches on levels below ℓ).
//!
//! Walking codes: with byte codes of the vectors ([`BuildParams::build_on_codes`]), the
//! descent and the layer searches compare codes (a quarter of the bytes per distance: the
//! build at 200k × 384-d is bound by memory traffic like the search), and the candidates get
//! their exact distances before the selection heuristic, which — like the shrinking of
//! overflowing lists — runs on the vectors. The beam of width ef_construction keeps the
//! candidates a walk on the vectors would keep up to the codes' rounding near its far end.
//!
//! Determinism: levels come from one seeded stream in node order ([`crate::levels`]); with one
//! thread nodes are inserted in order 0, 1, 2, … and every tie breaks by node id, so the graph is
//! a function of (data, parameters). With several threads the insertion interleaving — and so
//! the exact lists — depend on scheduling; recall does not measurably change.

use std::sync::atomic::{AtomicUsize, Ordering};

use geodex_distance::Distance;
use parking_lot::Mutex;
use rayon::prelude::*;

use crate::byte_walk::{rerank, ByteCodes, CodeRows, CodeTask, Codes};
use crate::context::SelectScratch;
use crate::edges::select_by_rule;
use crate::graph::{BuilderGraph, GraphView};
use crate::search::{greedy_descent, search_layer, Exact, QueryDistance, SearchStats, Space};
use crate::{BuildParams, CoreError, Neighbor, SearchContext};

/// Progress is reported every this many insertions.
const PROGRESS_EVERY: usize = 1024;

/// Inserts every vector of `space` into `graph` (whose levels are already drawn), walking
/// `codes` if given.
pub(crate) fn build_graph<T: Sync, D: Distance<T>>(
    graph: &BuilderGraph,
    space: &Space<'_, T, D>,
    params: &BuildParams,
    codes: Option<&ByteCodes>,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<(), CoreError> {
    let n = graph.node_count() as u32;
    insert_nodes(graph, space, params, 0..n, &|_| true, codes, progress)
}

/// Links the nodes `nodes` (already in `graph` with their levels, vectors in `space`, no links
/// yet) into the graph, in parallel on `params.threads` threads. They choose neighbours only
/// among nodes `linkable` accepts (a living index excludes deleted nodes). The searches walk
/// `codes` (codes of every node of `space`) if given, else the vectors. `progress` is called
/// with the number linked so far.
pub(crate) fn insert_nodes<T: Sync, D: Distance<T>, A: Fn(u32) -> bool + Sync>(
    graph: &BuilderGraph,
    space: &Space<'_, T, D>,
    params: &BuildParams,
    nodes: std::ops::Range<u32>,
    linkable: &A,
    codes: Option<&ByteCodes>,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<(), CoreError> {
    let job = Job {
        graph,
        space,
        params,
        nodes,
        linkable,
        progress,
    };
    match codes {
        Some(codes) => codes.visit(job),
        None => job.link_with(&ExactWalk(space)),
    }
}

/// The arguments of [`insert_nodes`], run with the walk chosen there.
struct Job<'a, 's, T, D, A: ?Sized> {
    graph: &'a BuilderGraph,
    space: &'a Space<'s, T, D>,
    params: &'a BuildParams,
    nodes: std::ops::Range<u32>,
    linkable: &'a A,
    progress: &'a (dyn Fn(usize) + Sync),
}

impl<T: Sync, D: Distance<T>, A: Fn(u32) -> bool + Sync> CodeTask for Job<'_, '_, T, D, A> {
    type Output = Result<(), CoreError>;
    fn run<K: Distance<u8>>(self, rows: CodeRows<'_, K>) -> Self::Output {
        self.link_with(&rows)
    }
}

impl<T: Sync, D: Distance<T>, A: Fn(u32) -> bool + Sync> Job<'_, '_, T, D, A> {
    fn link_with<W: InsertWalk>(self, walk: &W) -> Result<(), CoreError> {
        let (graph, params, progress) = (self.graph, self.params, self.progress);
        let n = self.nodes.len();
        let mut rest = self.nodes.clone();
        let inserter = Inserter {
            job: &self,
            walk,
            raise: Mutex::new(()),
        };
        let done = AtomicUsize::new(0);
        let step = |ctx: &mut SearchContext, node: u32| {
            if params.cancel.is_cancelled() {
                return;
            }
            inserter.insert(node, ctx);
            let d = done.fetch_add(1, Ordering::Relaxed) + 1;
            if d.is_multiple_of(PROGRESS_EVERY) || d == n {
                progress(d);
            }
        };
        let threads = params.threads.unwrap_or_else(rayon::current_num_threads);
        if graph.entry_point().is_none() || threads <= 1 || n < 2 {
            // The first node alone: every later insertion needs an entry point.
            let mut ctx = SearchContext::new();
            let alone = if threads <= 1 { n } else { 1.min(n) };
            rest.by_ref().take(alone).for_each(|node| step(&mut ctx, node));
        }
        if rest.is_empty() {
            return params.cancel.check();
        }
        let pool = crate::measure::thread_pool(Some(threads))?;
        pool.install(|| {
            rest.into_par_iter()
                .with_min_len(64)
                .for_each_init(SearchContext::new, step)
        });
        params.cancel.check()
    }
}

/// What the insertion's searches measure from the node being inserted: the vectors' exact
/// distances, or the distances of byte codes (then the candidates are re-measured exactly).
trait InsertWalk: Sync {
    /// Distances from one node.
    type Query<'a>: QueryDistance
    where
        Self: 'a;
    /// Whether the query's distances are the exact ones.
    const EXACT: bool;
    /// Distances from node `q` (being inserted) to the others.
    fn distances_from(&self, q: u32) -> Self::Query<'_>;
}

/// The walk on the vectors.
struct ExactWalk<'a, 's, T, D>(&'a Space<'s, T, D>);

impl<T: Sync, D: Distance<T>> InsertWalk for ExactWalk<'_, '_, T, D> {
    type Query<'b>
        = Exact<'b, 'b, T, D>
    where
        Self: 'b;
    const EXACT: bool = true;
    fn distances_from(&self, q: u32) -> Exact<'_, '_, T, D> {
        self.0.bind(self.0.row(q))
    }
}

impl<K: Distance<u8>> InsertWalk for CodeRows<'_, K> {
    type Query<'b>
        = Codes<'b, K>
    where
        Self: 'b;
    const EXACT: bool = false;
    fn distances_from(&self, q: u32) -> Codes<'_, K> {
        self.bind_node(q)
    }
}

/// One insertion run: the job, the walk its searches take, and the lock a new top level holds.
struct Inserter<'a, 'j, 's, T, D, A: ?Sized, W> {
    job: &'a Job<'j, 's, T, D, A>,
    walk: &'a W,
    raise: Mutex<()>,
}

impl<T, D: Distance<T>, A: Fn(u32) -> bool, W: InsertWalk> Inserter<'_, '_, '_, T, D, A, W> {
    fn insert(&self, q: u32, ctx: &mut SearchContext) {
        let g = self.job.graph;
        let level = g.level(q);
        let Some((_, top)) = g.entry_point() else {
            g.raise_entry(q);
            return;
        };
        let _raising = (level > top).then(|| self.raise.lock());
        let (entry, top) = g.entry_point().expect("entry point set above");
        let qv = self.job.space.row(q);
        let query = self.walk.distances_from(q);
        let mut stats = SearchStats::default();
        let start = Neighbor::new(entry, query.to(entry));
        let cur = if top > level {
            greedy_descent(g, &query, start, top, level + 1, &mut stats)
        } else {
            start
        };
        ctx.entry.clear();
        ctx.entry.push(cur);
        ctx.chosen.clear();
        let linkable = |n: u32| n != q && (self.job.linkable)(n);
        for lc in (0..=level.min(top)).rev() {
            let ef = self.job.params.ef_construction;
            search_layer(
                g,
                &query,
                &ctx.entry,
                ef,
                lc,
                &mut ctx.layer,
                &mut ctx.found,
                linkable,
                &mut stats,
            );
            self.collect_candidates(q, qv, lc, ctx);
            select_by_rule(
                self.job.space,
                self.job.params.m,
                self.job.params.heuristic,
                &self.job.params.edges,
                q,
                lc,
                &mut ctx.select,
            );
            let mut own = g.write(q, lc);
            own.clear();
            own.extend(ctx.select.selected.iter().map(|n| n.id));
            ctx.chosen
                .extend(ctx.select.selected.iter().map(|&n| (lc as u8, n)));
            if ctx.found.is_empty() {
                // Every node the layer search met is unlinkable: descend from where it was.
                ctx.found.extend_from_slice(&ctx.entry);
            }
            std::mem::swap(&mut ctx.entry, &mut ctx.found);
        }
        // Only now, with every own list written, may other nodes link to q.
        for i in 0..ctx.chosen.len() {
            let (lc, s) = ctx.chosen[i];
            self.connect(s.id, q, s.distance, lc as usize, ctx);
        }
        if level > top {
            g.raise_entry(q);
        }
    }

    /// The heuristic's candidate set: the layer search's result (with exact distances, when it
    /// walked codes), plus (with `extend_candidates`) the neighbours of each result on this
    /// level (Alg. 4, lines 3–7), closest to `qv` first.
    fn collect_candidates(&self, q: u32, qv: &[T], level: usize, ctx: &mut SearchContext) {
        let SelectScratch {
            candidates,
            pruned: ids,
            ..
        } = &mut ctx.select;
        candidates.clear();
        candidates.extend_from_slice(&ctx.found);
        if !W::EXACT {
            rerank(&self.job.space.bind(qv), candidates);
        }
        if !self.job.params.heuristic.extend_candidates {
            return;
        }
        ids.clear();
        for e in ctx.found.iter() {
            ids.extend(
                self.job
                    .graph
                    .links(e.id, level)
                    .iter()
                    .map(|&adj| Neighbor::new(adj, 0.0)),
            );
        }
        ids.sort_unstable_by_key(|n| n.id);
        ids.dedup_by_key(|n| n.id);
        let mut known: Vec<u32> = ctx.found.iter().map(|n| n.id).collect();
        known.push(q);
        known.sort_unstable();
        let fresh = ids
            .iter()
            .filter(|n| known.binary_search(&n.id).is_err() && (self.job.linkable)(n.id));
        for n in fresh {
            candidates.push(Neighbor::new(n.id, self.job.space.to(qv, n.id)));
        }
        candidates.sort_unstable();
    }

    /// Adds the link `e → q` on `level`; if `e`'s list overflows its bound, shrinks it back
    /// with the edge rule over its old links plus `q` (Alg. 1, lines 11–16).
    fn connect(&self, e: u32, q: u32, dist_eq: f32, level: usize, ctx: &mut SearchContext) {
        let bound = self.job.graph.max_degree(level);
        let mut list = self.job.graph.write(e, level);
        if list.contains(&q) {
            return;
        }
        if list.len() < bound {
            list.push(q);
            return;
        }
        let s = &mut ctx.shrink;
        s.candidates.clear();
        s.candidates.push(Neighbor::new(q, dist_eq));
        s.candidates.extend(
            list.iter()
                .map(|&x| Neighbor::new(x, self.job.space.between(e, x))),
        );
        s.candidates.sort_unstable();
        let params = self.job.params;
        select_by_rule(
            self.job.space,
            bound,
            params.heuristic,
            &params.edges,
            e,
            level,
            s,
        );
        list.clear();
        list.extend(s.selected.iter().map(|n| n.id));
    }
}
