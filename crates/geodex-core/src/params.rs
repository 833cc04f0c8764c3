//! Build and search parameters.

use crate::graph::LinkLayout;
use crate::{Cancel, CodecSpec, CoreError, EdgeRule, Key, Metric, NodeSet, StopRule};

/// Options of the neighbour-selection heuristic (Malkov & Yashunin, Alg. 4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Heuristic {
    /// Also consider the candidates' own neighbours (`extendCandidates`); off by default, as
    /// in the paper's experiments and hnswlib (it helps only on extremely clustered data).
    pub extend_candidates: bool,
    /// Fill the list up to the degree budget with pruned candidates (`keepPrunedConnections`).
    pub keep_pruned: bool,
}

/// How to build an index.
#[derive(Clone, Debug, PartialEq)]
pub struct BuildParams {
    /// The dissimilarity.
    pub metric: Metric,
    /// Links per node on upper levels (M); level 0 allows `2·M` (M_max0 in the paper).
    pub m: usize,
    /// Beam width while inserting.
    pub ef_construction: usize,
    /// Seed of the level draws; with one thread the whole index is a function of (data, params).
    pub seed: u64,
    /// Threads for the build; `None` uses all cores.
    pub threads: Option<usize>,
    /// Neighbour-selection options.
    pub heuristic: Heuristic,
    /// Which candidates become links (`edges.rs`): the heuristic by default.
    pub edges: EdgeRule,
    /// Keep codes of this quantiser for search (trained on at most [`crate::TRAIN_SAMPLE`]
    /// rows with `seed`); the full vectors stay in the index for re-ranking. `None`: search
    /// on the full vectors.
    pub quant: Option<CodecSpec>,
    /// After building, link in every node no level-0 search can reach (see `repair.rs`; not in
    /// the paper). On by default.
    pub repair_reachability: bool,
    /// A float index under L2 or cosine without a quantiser finds each new node's candidates by
    /// walking one-byte codes of the vectors (`byte_walk.rs`), then gives the candidates their
    /// exact distances before the selection heuristic: the insertion's beam search reads a
    /// quarter of the bytes. On by default; off walks the float vectors (Alg. 1 as written).
    pub build_on_codes: bool,
    /// How the built graph stores level 0: fixed rows (fastest) or compressed lists (about
    /// half the bytes; `graph::packed`).
    pub links: LinkLayout,
    /// Checked between nodes: once set, the build stops and returns
    /// [`CoreError::Cancelled`].
    pub cancel: Cancel,
}

impl Default for BuildParams {
    fn default() -> Self {
        BuildParams {
            metric: Metric::L2,
            m: 16,
            ef_construction: 200,
            seed: 42,
            threads: None,
            heuristic: Heuristic::default(),
            edges: EdgeRule::Heuristic,
            quant: None,
            repair_reachability: true,
            build_on_codes: true,
            links: LinkLayout::Fixed,
            cancel: Cancel::default(),
        }
    }
}

impl BuildParams {
    /// M_max0, the level-0 degree bound: 2·M (paper §4.2, "M_max0 = 2·M is a good choice").
    pub fn m0(&self) -> usize {
        2 * self.m
    }

    /// Rejects parameters the algorithm cannot run with.
    pub fn validate(&self) -> Result<(), CoreError> {
        if !(2..=256).contains(&self.m) {
            return Err(CoreError::InvalidParameter(format!(
                "m = {} (must be 2..=256)",
                self.m
            )));
        }
        if self.ef_construction == 0 {
            return Err(CoreError::InvalidParameter("ef_construction must be ≥ 1".into()));
        }
        if self.quant.is_some() && self.metric == Metric::Poincare {
            return Err(CoreError::InvalidParameter(
                "quantisation is not supported under the Poincaré metric (codes are Euclidean)".into(),
            ));
        }
        self.edges.validate(self.metric)?;
        if self.threads == Some(0) {
            return Err(CoreError::InvalidParameter("threads must be ≥ 1".into()));
        }
        Ok(())
    }
}

/// How to search: `k` results from a beam of width `ef`, optionally restricted by `filter`.
#[derive(Clone, Copy)]
pub struct SearchParams<'a> {
    /// Number of results wanted (more than the index holds returns all of them).
    pub k: usize,
    /// Beam width on level 0; must be ≥ k.
    pub ef: usize,
    /// Only keys for which this returns true are returned. Applied *inside* the traversal:
    /// rejected nodes are still walked through, so the graph stays connected, but never
    /// enter the results.
    pub filter: Option<&'a (dyn Fn(Key) -> bool + Sync)>,
    /// Only these nodes may be returned (a bitset over node ids; [`crate::Index::node_set`]
    /// builds one from keys). Applied inside the traversal like `filter`; both may be given.
    pub allowed: Option<&'a NodeSet>,
    /// With a filter: scan the allowed nodes exactly when the share allowed is below this
    /// (exact for `allowed`, estimated on a sample for `filter`). `None`: the cost crossover
    /// [`crate::exact_scan_threshold`]; `Some(0.0)`: always walk the graph.
    pub exact_below: Option<f64>,
    /// On a quantised index: re-rank the best max(`rerank`, k) candidates of the walk on codes
    /// with exact distances on the full vectors (the beam widens to hold them). 0: no
    /// re-ranking, distances are the codes' estimates. Ignored by unquantised indexes.
    pub rerank: usize,
    /// On a RaBitQ index: re-rank by the codes' error bound with this ε₀ (RaBitQ Theorem 3.2;
    /// [`geodex_quant::rabitq::EPSILON0`] is the paper's 1.9) instead of a fixed count. The walk
    /// keeps its whole beam of max(ef, `rerank`, k) candidates; they are taken in order of
    /// their lower bound (estimate − ε₀·bound) and get their exact distance until the next lower
    /// bound is no smaller than the k-th exact distance found. An index without bounds rejects it.
    pub rerank_bound: Option<f32>,
    /// A stopping rule (`stop.rs`) decides the beam width or when to end the level-0 search,
    /// in place of `ef`; `k` must be the k its model was trained for. `None`: the beam of
    /// width `ef` as in the paper.
    pub stop: Option<&'a StopRule<'a>>,
}

impl std::fmt::Debug for SearchParams<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchParams")
            .field("k", &self.k)
            .field("ef", &self.ef)
            .field("filter", &self.filter.is_some())
            .field("rerank", &self.rerank)
            .field("rerank_bound", &self.rerank_bound)
            .field("allowed", &self.allowed.map(NodeSet::len))
            .field("exact_below", &self.exact_below)
            .field("stop", &self.stop.map(|r| r.kind()))
            .finish()
    }
}

impl<'a> SearchParams<'a> {
    /// `k` results with beam width `ef`, no filter, no re-ranking.
    pub fn new(k: usize, ef: usize) -> Self {
        SearchParams {
            k,
            ef,
            filter: None,
            allowed: None,
            exact_below: None,
            rerank: 0,
            rerank_bound: None,
            stop: None,
        }
    }

    /// Rejects k = 0, ef < k and an ε₀ that is not finite and > 0.
    pub fn validate(&self) -> Result<(), CoreError> {
        if let Some(eps) = self.rerank_bound.filter(|e| !(e.is_finite() && *e > 0.0)) {
            return Err(CoreError::InvalidParameter(format!(
                "the re-ranking bound's ε₀ must be finite and > 0, not {eps}"
            )));
        }
        if self.k == 0 {
            return Err(CoreError::InvalidParameter("k must be ≥ 1".into()));
        }
        if self.ef < self.k {
            return Err(CoreError::InvalidParameter(format!(
                "ef = {} is below k = {}",
                self.ef, self.k
            )));
        }
        Ok(())
    }
}
