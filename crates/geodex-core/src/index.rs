//! The index: vectors, keys and a frozen HNSW graph, built once and then searched, saved,
//! or opened from a file.

use std::sync::{Arc, OnceLock};

use geodex_distance::{Isa, Metric};

use serde::Serialize;

use crate::buf::Buf;
use crate::byte_walk::{ByteCodes, ByteWalk};
use crate::edges::EdgeRule;
use crate::engine::{Engine, Graph, Rows};
use crate::graph::{BuilderGraph, FrozenGraph, FrozenView, GraphView, LinkLayout};
use crate::levels::draw_levels;
use crate::link_codes::LinkCodes;
use crate::quantized::Quantized;
use crate::query::{is_live, Stored};
use crate::search::SearchStats;
use crate::stop::StopModel;
use crate::validate::check_and_prepare;
use crate::{
    BuildParams, Codec, CodecSpec, Component, CoreError, Key, NodeId, NodeSet, SearchContext, SearchParams,
};

/// One search result.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Hit {
    /// The caller's id of the vector.
    pub key: Key,
    /// The node id (position in the index).
    #[serde(skip)]
    pub node: NodeId,
    /// Dissimilarity to the query under the index's metric ([`Metric::reported_distance`]:
    /// under Poincaré the geodesic distance, not the search's rank key).
    pub distance: f32,
}

impl Serialize for Key {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

/// An HNSW index over vectors of `T` (`f32` or `u8`).
#[derive(Debug, Clone)]
pub struct Index<T> {
    pub(crate) metric: Metric,
    pub(crate) dim: usize,
    pub(crate) ef_construction: usize,
    pub(crate) seed: u64,
    pub(crate) vectors: Buf<T>,
    pub(crate) graph: FrozenGraph,
    /// Codes the search walks on instead of `vectors` (which then serve only re-ranking).
    pub(crate) quant: Option<Quantized>,
    pub(crate) keys: Buf<u64>,
    /// One bit per node; a set bit hides the node from results (deletion, a later issue).
    pub(crate) tombstones: Buf<u64>,
    pub(crate) has_tombstones: bool,
    pub(crate) metadata: serde_json::Value,
    /// The kernel, chosen when the index was built or opened.
    pub(crate) engine: Arc<dyn Engine<T>>,
    pub(crate) file_bytes: Option<u64>,
    /// Whether the search walks on byte codes of the vectors ([`Index::set_byte_walk`]).
    pub(crate) byte_walk: bool,
    /// Whether a quantised index walks its codes (the default) or its full vectors
    /// ([`Index::set_code_walk`]).
    pub(crate) code_walk: bool,
    /// A PQ4 index's level-0 neighbour codes in per-list fast-scan blocks
    /// ([`Index::set_link_codes`]), made for this graph; `None` unless turned on.
    pub(crate) link_codes: Option<Arc<LinkCodes>>,
    /// The byte codes (`byte_walk.rs`), made on the first search that walks them (so that
    /// opening a file for `info` or analysis reads no vector); `None` inside when they do not
    /// apply (not `f32`, inner product or Poincaré, a quantised index).
    pub(crate) bytes: OnceLock<Option<Arc<ByteCodes>>>,
    /// The trained stopping model (`geodex learn-stop`), saved in the file's `StopModel`
    /// section; `None` in files without one.
    pub(crate) stop_model: Option<Arc<StopModel>>,
}

/// Summary of an index, as `geodex info --json` prints it.
#[derive(Clone, Debug, Serialize)]
pub struct IndexInfo {
    /// Live vectors.
    pub count: usize,
    /// Components per vector.
    pub dim: usize,
    /// Metric name.
    pub metric: String,
    /// Element type (`f32`, `u8`).
    pub element: String,
    /// Links per node above level 0.
    pub m: usize,
    /// Links per node on level 0.
    pub m0: usize,
    /// Beam width used while building.
    pub ef_construction: usize,
    /// Seed of the level draws.
    pub seed: u64,
    /// Vector compression: `none`, `sq8`, `pq8`, `pq4`, `proj`, `proj-sparse` or `proj-orth`.
    pub quant: String,
    /// PQ sub-spaces (0 unless `quant` is `pq8` or `pq4`).
    pub pq_m: usize,
    /// Output dimension of a random projection (0 unless `quant` is a `proj` kind).
    pub proj_k: usize,
    /// RaBitQ's bits per dimension (0 unless `quant` is `rabitq`).
    pub rabitq_bits: u32,
    /// RaBitQ's number of centres (0 unless `quant` is `rabitq`).
    pub rabitq_centres: usize,
    /// How level 0 is stored: `fixed` rows or `compressed` lists.
    pub links: LinkLayout,
    /// Bytes of level 0's links (counted in `ram_bytes`).
    pub level0_bytes: usize,
    /// Bytes of one stored code (0 without quantisation).
    pub code_bytes: usize,
    /// Size of the index file, if it came from one.
    pub file_bytes: Option<u64>,
    /// Bytes that must stay resident to search: graph plus what the traversal reads (the
    /// vectors, or the codes and codebook of a quantised index, whose full vectors are read
    /// only to re-rank and may stay memory-mapped).
    pub ram_bytes: usize,
    /// Nodes with a list on each level (index = level).
    pub levels: Vec<usize>,
    /// The entry point's node id.
    pub entry_point: u32,
    /// Instruction set the kernels run on.
    pub isa: String,
    /// Whether the index is memory-mapped from its file.
    pub mmap: bool,
    /// Whether the search walks on byte codes of the vectors and re-ranks exactly
    /// ([`Index::set_byte_walk`]); the codes are counted in `ram_bytes`.
    pub byte_walk: bool,
    /// Bytes of a PQ4 index's per-list code blocks ([`Index::set_link_codes`]), counted in
    /// `ram_bytes`; 0 when off.
    pub link_code_bytes: usize,
    /// The part of `ram_bytes` that is no file section: what search derives in memory from
    /// the file and keeps resident — the byte codes walked, the per-list code blocks and the
    /// codec's derived tables ([`Codec::derived_bytes`]). `ram_bytes` − this = the resident
    /// file sections.
    pub derived_bytes: usize,
}

/// Checks caller keys for `rows` vectors: one per row, each once, none the reserved
/// [`geodex_io::NO_ID`].
pub fn check_keys(keys: &[u64], rows: usize) -> Result<(), CoreError> {
    if keys.len() != rows {
        return Err(CoreError::InvalidParameter(format!(
            "{} keys for {rows} vectors",
            keys.len()
        )));
    }
    if keys.contains(&geodex_io::NO_ID) {
        return Err(CoreError::ReservedKey);
    }
    let mut sorted = keys.to_vec();
    sorted.sort_unstable();
    match sorted.windows(2).find(|w| w[0] == w[1]) {
        Some(w) => Err(CoreError::DuplicateKey { key: w[0] }),
        None => Ok(()),
    }
}

/// A frozen graph seen with other level-0 lists ([`Index::replace_level0`]).
struct Level0Replaced<'a> {
    graph: FrozenView<'a>,
    level0: &'a [Vec<u32>],
}

impl GraphView for Level0Replaced<'_> {
    type Links<'b>
        = std::borrow::Cow<'b, [u32]>
    where
        Self: 'b;

    fn node_count(&self) -> usize {
        self.graph.node_count()
    }
    fn level(&self, node: u32) -> usize {
        self.graph.level(node)
    }
    fn links(&self, node: u32, level: usize) -> Self::Links<'_> {
        if level == 0 {
            std::borrow::Cow::Borrowed(&self.level0[node as usize])
        } else {
            std::borrow::Cow::Owned(self.graph.links(node, level).to_vec())
        }
    }
    fn entry_point(&self) -> Option<(u32, usize)> {
        self.graph.entry_point()
    }
    fn max_degree(&self, level: usize) -> usize {
        self.graph.max_degree(level)
    }
}

/// The dim and rows of a flat vector buffer, checked.
pub fn rows_of(dim: usize, len: usize) -> Result<usize, CoreError> {
    if dim == 0 {
        return Err(CoreError::InvalidParameter("dimension must be ≥ 1".into()));
    }
    if !len.is_multiple_of(dim) {
        return Err(CoreError::DimensionMismatch {
            row: len / dim,
            expected: dim,
            found: len % dim,
        });
    }
    if len == 0 {
        return Err(CoreError::Empty);
    }
    Ok(len / dim)
}

impl<T: Component> Index<T> {
    /// Builds an index over `data`: rows of `dim` components, row-major. Vectors are validated
    /// first (dimension, finiteness, metric constraints); cosine vectors are normalised.
    /// `progress` is called with the number of vectors inserted so far.
    pub fn build(
        mut data: Vec<T>,
        dim: usize,
        params: &BuildParams,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Self, CoreError> {
        params.validate()?;
        rows_of(dim, data.len())?;
        check_and_prepare(params.metric, dim, &mut data)?;
        Self::build_prepared(data, dim, params, progress)
    }

    /// [`Index::build`] over rows already checked and prepared for `params.metric`
    /// ([`check_and_prepare`]), with valid `params`.
    pub(crate) fn build_prepared(
        data: Vec<T>,
        dim: usize,
        params: &BuildParams,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Self, CoreError> {
        let n = rows_of(dim, data.len())?;
        if n > u32::MAX as usize - 1 {
            return Err(CoreError::InvalidParameter(format!(
                "{n} vectors exceed the 2³² − 1 limit"
            )));
        }
        let codec = params
            .quant
            .map(|spec| Quantized::train_codec(spec, &data, dim, params.seed))
            .transpose()?;
        let graph = BuilderGraph::new(draw_levels(n, params.m, params.seed), params.m, params.m0());
        let engine = crate::engine::engine::<T>(params.metric, Isa::detect())?;
        // The byte codes of the search (`byte_walk.rs`), made now: the insertion walks them too.
        let codes = if codec.is_none() {
            ByteCodes::encode(params.metric, &data, dim, engine.isa()).map(Arc::new)
        } else {
            None
        };
        let rows = Rows {
            vectors: &data,
            dim,
            codes: codes.as_deref().filter(|_| params.build_on_codes),
        };
        let repaired = engine.build(rows, &graph, params, progress)?;
        // The builder's lists are given back before the codes are made: the build's peak is
        // then the vectors, the builder and the frozen graph, never all four.
        let frozen = FrozenGraph::freeze_as(&graph, params.links);
        drop(graph);
        let quant = codec.map(|codec| Quantized::encode(codec, &data, dim));
        let mut metadata = serde_json::json!({
            "geodex_version": env!("CARGO_PKG_VERSION"),
            "build_threads": params.threads.unwrap_or_else(rayon::current_num_threads),
            "repaired_unreachable": repaired,
            "heuristic": {
                "extend_candidates": params.heuristic.extend_candidates,
                "keep_pruned": params.heuristic.keep_pruned,
            },
        });
        // Only another rule is recorded: a default build writes the bytes it always wrote.
        if params.edges != EdgeRule::Heuristic {
            metadata["edges"] = params.edges.name().into();
        }
        Ok(Index {
            metric: params.metric,
            dim,
            ef_construction: params.ef_construction,
            seed: params.seed,
            vectors: Buf::Owned(data),
            graph: frozen,
            quant,
            keys: Buf::Owned((0..n as u64).collect()),
            tombstones: Buf::Owned(vec![0; n.div_ceil(64)]),
            has_tombstones: false,
            metadata,
            engine,
            file_bytes: None,
            byte_walk: true,
            code_walk: true,
            link_codes: None,
            bytes: OnceLock::from(codes),
            stop_model: None,
        })
    }

    /// Replaces the default keys (positions) with the caller's, checked by [`check_keys`].
    pub fn with_keys(mut self, keys: Vec<u64>) -> Result<Self, CoreError> {
        check_keys(&keys, self.len())?;
        self.keys = Buf::Owned(keys);
        Ok(self)
    }

    /// The stored (prepared) vectors, given back: a file section is copied.
    pub(crate) fn into_vectors(self) -> Vec<T> {
        let mut vectors = self.vectors;
        std::mem::take(vectors.to_mut())
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.vectors.as_slice().len() / self.dim
    }

    /// Whether the index holds no vectors (never true for a built or opened index).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Components per vector.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The metric.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// The stored vector of `node` (normalised under cosine).
    pub fn vector(&self, node: NodeId) -> &[T] {
        &self.vectors.as_slice()[node.index() * self.dim..][..self.dim]
    }

    /// The quantiser whose codes the search walks on, if the index was built with one.
    pub fn quantizer(&self) -> Option<&Codec> {
        self.quant.as_ref().map(|q| &q.codec)
    }

    /// The stored code of `node` ([`Codec::decode`] reconstructs it), if quantised.
    pub fn code(&self, node: NodeId) -> Option<&[u8]> {
        self.quant.as_ref().map(|q| {
            let bytes = q.codec.code_bytes();
            &q.codes.as_slice()[node.index() * bytes..][..bytes]
        })
    }

    /// The caller's key of `node`.
    pub fn key(&self, node: NodeId) -> Key {
        Key(self.keys.as_slice()[node.index()])
    }

    /// The graph, for analysis and invariant checks.
    pub fn graph(&self) -> FrozenView<'_> {
        self.graph.view()
    }

    /// Stores level 0 in `layout` (`geodex build --links`); searches return the same results
    /// in either (ties between equal distances aside).
    pub fn set_link_layout(&mut self, layout: LinkLayout) {
        self.graph.set_layout(layout);
        self.link_codes = None;
    }

    /// Replaces every node's level-0 list with `lists[node]` (upper levels, vectors and keys
    /// unchanged): how an optimiser that rewires a built graph (`geodex build --edges anneal`)
    /// hands its graph back, to be searched and saved like any other. Each list must hold
    /// distinct node ids other than its own, at most M_max0 of them.
    pub fn replace_level0(&mut self, lists: &[Vec<u32>]) -> Result<(), CoreError> {
        let n = self.len();
        let m0 = self.graph.m0;
        if lists.len() != n {
            return Err(CoreError::InvalidParameter(format!(
                "{} level-0 lists for {n} nodes",
                lists.len()
            )));
        }
        for (u, list) in lists.iter().enumerate() {
            let mut sorted = list.clone();
            sorted.sort_unstable();
            sorted.dedup();
            if list.len() > m0
                || sorted.len() != list.len()
                || list.iter().any(|&v| v as usize >= n || v as usize == u)
            {
                return Err(CoreError::InvalidParameter(format!(
                    "level-0 list of node {u}: {} ids, at most {m0} distinct ids of other nodes below {n} allowed",
                    list.len()
                )));
            }
        }
        let layout = self.graph.layout();
        let view = Level0Replaced {
            graph: self.graph.view(),
            level0: lists,
        };
        self.graph = FrozenGraph::freeze_as(&view, layout);
        self.link_codes = None;
        Ok(())
    }

    /// The stopping model stored with the index, if any.
    pub fn stop_model(&self) -> Option<&StopModel> {
        self.stop_model.as_deref()
    }

    /// Stores `model` with the index (saved with it), after checking it fits the index's
    /// metric and dimension; `None` removes it.
    pub fn set_stop_model(&mut self, model: Option<StopModel>) -> Result<(), CoreError> {
        if let Some(m) = &model {
            m.validate(self.metric, self.dim)?;
        }
        self.stop_model = model.map(Arc::new);
        Ok(())
    }

    /// The build's metadata (JSON), as stored in the index file.
    pub fn metadata(&self) -> &serde_json::Value {
        &self.metadata
    }

    /// Sets `key` of the metadata to `value` (saved with the index; bindings keep their own
    /// state here, e.g. the Python package's hnswlib accounting under `hnswlib`).
    pub fn set_metadata(&mut self, key: &str, value: serde_json::Value) {
        self.metadata[key] = value;
    }

    /// Finds the `params.k` nearest stored vectors to `query`, closest first, into `out`
    /// (cleared first). Allocates nothing once `ctx` and `out` have grown.
    /// `k` larger than the index returns every vector.
    pub fn search_into(
        &self,
        query: &[T],
        params: &SearchParams<'_>,
        ctx: &mut SearchContext,
        out: &mut Vec<crate::Hit>,
    ) -> Result<SearchStats, CoreError> {
        let view = self.graph.view();
        self.stored()
            .search(Graph::Frozen(&view), query, params, ctx, out)
    }

    /// [`Index::search`] walking the full vectors whatever the index walks by default (codes
    /// of a quantiser, byte codes): the graph's own recall, for the probe of `auto_m.rs`.
    pub(crate) fn search_exact(
        &self,
        query: &[T],
        params: &SearchParams<'_>,
        ctx: &mut SearchContext,
    ) -> Result<Vec<Hit>, CoreError> {
        let view = self.graph.view();
        let stored = Stored {
            quant: None,
            links: None,
            bytes: None,
            ..self.stored()
        };
        let mut out = Vec::with_capacity(params.k);
        stored.search(Graph::Frozen(&view), query, params, ctx, &mut out)?;
        Ok(out)
    }

    /// Searches this index's vectors over another graph on the same nodes: for experiments on
    /// perturbed graphs (links removed, rewired, learned), which `geodex-analysis` runs — any
    /// [`GraphView`] packed with [`FrozenGraph::freeze`], so the experiment's search is the
    /// index's own, compiled once. The graph must have exactly this index's node count.
    pub fn search_over(
        &self,
        graph: &FrozenGraph,
        query: &[T],
        params: &SearchParams<'_>,
        ctx: &mut SearchContext,
    ) -> Result<(Vec<Hit>, SearchStats), CoreError> {
        let view = graph.view();
        if view.node_count() != self.len() {
            return Err(CoreError::InvalidParameter(format!(
                "the graph has {} nodes, the index {}",
                view.node_count(),
                self.len()
            )));
        }
        let mut out = Vec::with_capacity(params.k);
        let stats = self
            .stored_on(view)
            .search(Graph::Frozen(&view), query, params, ctx, &mut out)?;
        Ok((out, stats))
    }

    /// The arrays a search reads, borrowed, with the search walking the index's own graph
    /// (and the per-list code blocks made for it, if any).
    pub(crate) fn stored(&self) -> Stored<'_, T> {
        Stored {
            links: self.link_codes.as_deref().filter(|_| self.code_walk),
            ..self.stored_on(self.graph.view())
        }
    }

    /// [`Index::stored`] for a search on `graph` (a graph over the same nodes).
    fn stored_on<'a>(&'a self, graph: FrozenView<'a>) -> Stored<'a, T> {
        Stored {
            metric: self.metric,
            dim: self.dim,
            engine: &*self.engine,
            vectors: self.vectors.as_slice(),
            keys: self.keys.as_slice(),
            tombstones: self.tombstones.as_slice(),
            has_tombstones: self.has_tombstones,
            quant: self.quant.as_ref().filter(|_| self.code_walk),
            links: None,
            bytes: self.byte_codes().map(|codes| ByteWalk { codes, graph }),
        }
    }

    /// The byte codes the search walks on, made on first use; `None` when the byte walk is
    /// off or does not apply.
    fn byte_codes(&self) -> Option<&ByteCodes> {
        if !self.walks_bytes() {
            return None;
        }
        self.bytes
            .get_or_init(|| {
                ByteCodes::encode(self.metric, self.vectors.as_slice(), self.dim, self.engine.isa())
                    .map(Arc::new)
            })
            .as_deref()
    }

    /// Whether a float index under L2 or cosine walks its graph on one-byte codes of the
    /// vectors and re-ranks the whole beam on the vectors (on by default; `byte_walk.rs`: a
    /// quarter of the memory traffic per distance, at equal final recall within noise). Off:
    /// the walk reads the float vectors. The codes (n·dim bytes) are made now when turned on,
    /// else on the first search that walks them.
    pub fn set_byte_walk(&mut self, on: bool) {
        self.byte_walk = on;
        self.byte_codes();
    }

    /// Whether a quantised index (`--quant`) walks its graph on the codes (on, the default) or
    /// on the full vectors of the file (off: the search an unquantised index of the same graph
    /// would run — the control that separates what the codes lose from what the graph loses;
    /// `--rerank` then has nothing to do). Nothing changes for an unquantised index.
    pub fn set_code_walk(&mut self, on: bool) {
        self.code_walk = on;
    }

    /// Whether a PQ4 index (`--quant pq4`) also keeps each node's level-0 neighbours' codes in
    /// one fast-scan block per 32 links, so that expanding a node scores its whole list with
    /// SIMD table lookups (`link_codes.rs`): M0 · m/2 more bytes per node, made now from the
    /// graph and the codes (not saved; a change to the graph drops them). Off frees them.
    /// Errors on an index without PQ4 codes or with level-0 lists over 128 links.
    pub fn set_link_codes(&mut self, on: bool) -> Result<(), CoreError> {
        if !on {
            self.link_codes = None;
            return Ok(());
        }
        let Some(Quantized {
            codec: Codec::Pq4(pq),
            codes,
        }) = &self.quant
        else {
            return Err(CoreError::InvalidParameter(
                "per-list code blocks need a PQ4 index (build with --quant pq4)".into(),
            ));
        };
        if self.link_codes.is_none() {
            let links = LinkCodes::build(&self.graph.view(), codes.as_slice(), pq.m())?;
            self.link_codes = Some(Arc::new(links));
        }
        Ok(())
    }

    /// Whether the search walks on byte codes ([`Index::set_byte_walk`], and the index is a
    /// float one under L2 or cosine without a quantiser).
    pub fn walks_bytes(&self) -> bool {
        self.byte_walk
            && self.quant.is_none()
            && ByteCodes::applies::<T>(self.metric)
            && self.bytes.get().is_none_or(Option::is_some)
    }

    /// Copies into memory what every search reads — the graph, the codes of a quantised index,
    /// the keys and tombstones, and the vectors when the walk reads them — and gives their
    /// mapped pages back, so that of a memory-mapped file only the vectors of a quantised index (read only to re-rank the
    /// walk's best candidates) and of a float index walking byte codes (made in memory on the
    /// first search) stay on disk, paged in per query. What `geodex bench --cold` measures.
    pub fn load_resident(&mut self) {
        self.graph.load_resident();
        if let Some(q) = &mut self.quant {
            q.codes.load();
        }
        self.keys.load();
        self.tombstones.load();
        if (self.quant.is_none() || !self.code_walk) && !self.walks_bytes() {
            self.vectors.load();
        }
    }

    /// Gives the pages of the memory-mapped vectors back to the OS (`madvise(DONTNEED)`), e.g.
    /// after opening read them all for the checksum, and turns off read-ahead for them
    /// (`MADV_RANDOM`): a quantised index then keeps in memory only what
    /// [`Index::load_resident`] copied, and reads each vector it re-ranks from the page cache
    /// or, one page per read, the disk. Searches are unchanged but for their speed. Nothing for
    /// an index in memory.
    pub fn release_vectors(&self) -> Result<(), CoreError> {
        self.vectors.release().map_err(|source| CoreError::Io {
            path: "(the index file's vector section)".into(),
            source,
        })
    }

    /// [`Index::search_into`] returning a fresh vector.
    pub fn search(
        &self,
        query: &[T],
        params: &SearchParams<'_>,
        ctx: &mut SearchContext,
    ) -> Result<(Vec<Hit>, SearchStats), CoreError> {
        let mut out = Vec::with_capacity(params.k);
        let stats = self.search_into(query, params, ctx, &mut out)?;
        Ok((out, stats))
    }

    /// Searches every row of `queries` (row-major, `dim` components each) in parallel on the
    /// current rayon pool, one [`SearchContext`] per worker; `tick` is called after each query.
    /// Results are in query order.
    pub fn search_batch(
        &self,
        queries: &[T],
        params: &SearchParams<'_>,
        tick: &(dyn Fn() + Sync),
    ) -> Result<Vec<(Vec<Hit>, SearchStats)>, CoreError> {
        let rows = rows_of(self.dim, queries.len())?;
        crate::measure::for_each_query(None, rows, SearchContext::new, |ctx, i| {
            let r = self.search(&queries[i * self.dim..][..self.dim], params, ctx);
            tick();
            r.map_err(|e| e.at_row(i))
        })
    }

    fn is_live(&self, node: u32) -> bool {
        is_live(self.tombstones.as_slice(), node)
    }

    /// Summary for `geodex info`.
    pub fn info(&self) -> IndexInfo {
        let report_levels = {
            let levels = self.graph.levels.as_slice();
            let top = levels.iter().copied().max().unwrap_or(0) as usize;
            (0..=top)
                .map(|l| levels.iter().filter(|&&x| x as usize >= l).count())
                .collect()
        };
        let live = self.len()
            - self
                .tombstones
                .as_slice()
                .iter()
                .map(|w| w.count_ones() as usize)
                .sum::<usize>();
        IndexInfo {
            count: live,
            dim: self.dim,
            metric: self.metric.name().into(),
            element: T::KIND.name().into(),
            m: self.graph.m,
            m0: self.graph.m0,
            ef_construction: self.ef_construction,
            seed: self.seed,
            quant: self.quant.as_ref().map_or("none", |q| q.codec.name()).into(),
            pq_m: match self.quant.as_ref().map(|q| q.codec.spec()) {
                Some(CodecSpec::Pq { m, .. }) => m,
                _ => 0,
            },
            proj_k: match self.quant.as_ref().map(|q| q.codec.spec()) {
                Some(CodecSpec::Projection { k, .. }) => k,
                _ => 0,
            },
            rabitq_bits: match self.quant.as_ref().map(|q| q.codec.spec()) {
                Some(CodecSpec::RaBitQ { bits }) => bits,
                _ => 0,
            },
            rabitq_centres: match self.quant.as_ref().map(|q| &q.codec) {
                Some(Codec::RaBitQ(r)) => r.centre_count(),
                _ => 0,
            },
            links: self.graph.layout(),
            level0_bytes: self.graph.level0_bytes(),
            code_bytes: self.quant.as_ref().map_or(0, |q| q.codec.code_bytes()),
            file_bytes: self.file_bytes,
            ram_bytes: self.graph.bytes()
                + self.quant.as_ref().map_or_else(
                    || std::mem::size_of_val(self.vectors.as_slice()),
                    Quantized::ram_bytes,
                )
                + self.walk_code_bytes()
                + self.link_code_bytes(),
            derived_bytes: self.walk_code_bytes()
                + self.link_code_bytes()
                + self.quant.as_ref().map_or(0, |q| q.codec.derived_bytes()),
            link_code_bytes: self.link_code_bytes(),
            byte_walk: self.walks_bytes(),
            levels: report_levels,
            entry_point: self.graph.entry,
            isa: self.engine.isa().name().into(),
            mmap: self.vectors.is_mapped(),
        }
    }

    /// Bytes of the byte codes a float index walks on ([`Index::set_byte_walk`]), 0 when off.
    fn walk_code_bytes(&self) -> usize {
        if self.walks_bytes() {
            self.len() * self.dim
        } else {
            0
        }
    }

    /// Bytes of the per-list code blocks ([`Index::set_link_codes`]), 0 when off.
    fn link_code_bytes(&self) -> usize {
        self.link_codes.as_ref().map_or(0, |l| l.ram_bytes())
    }

    /// The nodes of `keys`, as the set [`SearchParams::allowed`] takes, and how many of the keys
    /// the index does not hold (ignored, as Qdrant's `has_id` filter ignores unknown ids).
    pub fn node_set(&self, keys: &[u64]) -> (NodeSet, usize) {
        let stored = self.keys.as_slice();
        let positional = stored.iter().enumerate().all(|(i, &k)| k == i as u64);
        if positional {
            return NodeSet::of_keys(self.len(), keys, |key| {
                (key < stored.len() as u64).then_some(key as u32)
            });
        }
        // Keys are unique among live nodes only (a replaced key's old node keeps it).
        let by_key: std::collections::HashMap<u64, u32> = (0..stored.len() as u32)
            .filter(|&u| self.is_live(u))
            .map(|u| (stored[u as usize], u))
            .collect();
        NodeSet::of_keys(self.len(), keys, |key| by_key.get(&key).copied())
    }

    /// The graph's invariants ([`crate::check_live_graph`]: deleted nodes are not counted as
    /// unreachable).
    pub fn check(&self) -> crate::GraphReport {
        crate::check_live_graph(&self.graph.view(), |u| self.is_live(u))
    }

    /// Whether `node` is live (not deleted).
    pub fn is_live_node(&self, node: NodeId) -> bool {
        self.is_live(node.0)
    }
}
