//! Search on codes, re-rank exactly: the codes an index keeps in memory in place of its
//! vectors, the HNSW walk over them with asymmetric distances (ADC: the query stays exact,
//! Jégou et al. 2011 §3.1), and the exact re-ranking of the best R candidates with the full
//! vectors — which stay in the index file, memory-mapped, and are read only for those R.
//!
//! The graph is built on the full vectors (they are at hand at build time and give a better
//! graph than codes would); only search runs on codes. FAISS's `IndexHNSWPQ`/`IndexHNSWSQ`
//! build on the codes instead and pair with `IndexRefine` for re-ranking; here both are one
//! index.

use geodex_distance::{Distance, Element, Metric};
use geodex_quant::codec::{AdcVisitor, Codec, CodecSpec, Similarity};
use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

use crate::buf::Buf;
use crate::graph::GraphView;
use crate::link_codes::{LinkCodes, LinkScan};
use crate::search::{knn_with, Exact, QueryDistance, SearchStats};
use crate::stop::Stopper;
use crate::{CoreError, SearchContext, SearchParams};

/// Training rows at most: k-means for 256 centroids needs a few dozen points per centroid
/// (FAISS warns below 39·k); 2¹⁶ = 256 per centroid, and training time stays bounded.
pub const TRAIN_SAMPLE: usize = 1 << 16;

/// A trained codec and one code per node.
#[derive(Debug, Clone)]
pub(crate) struct Quantized {
    pub codec: Codec,
    /// `n · codec.code_bytes()` bytes, node by node.
    pub codes: Buf<u8>,
}

impl Quantized {
    /// Trains `spec` on at most [`TRAIN_SAMPLE`] rows of `data` drawn with `seed`. Cheap next
    /// to a build, and it is where bad quantiser parameters are found: a build trains first
    /// and encodes ([`Self::encode`]) only once its graph is frozen and the builder's memory is
    /// given back.
    pub fn train_codec<T: Element>(
        spec: CodecSpec,
        data: &[T],
        dim: usize,
        seed: u64,
    ) -> Result<Codec, CoreError> {
        let n = data.len() / dim;
        let sample: Vec<f32> = training_rows(n, seed)
            .into_iter()
            .flat_map(|r| data[r * dim..(r + 1) * dim].iter().map(|x| x.to_f32()))
            .collect();
        spec.train(&sample, dim, seed)
            .map_err(|e| CoreError::InvalidParameter(format!("training the quantiser: {e}")))
    }

    /// Encodes every row of `data` with `codec`, in parallel blocks of 1024 rows written straight
    /// into the one code array (no per-block buffers concatenated at the end: that doubled the
    /// codes' memory at the build's peak).
    pub fn encode<T: Element>(codec: Codec, data: &[T], dim: usize) -> Quantized {
        const BLOCK: usize = 1024;
        let code_bytes = codec.code_bytes();
        let mut codes = vec![0u8; data.len() / dim * code_bytes];
        codes
            .par_chunks_mut(code_bytes * BLOCK)
            .zip(data.par_chunks(dim * BLOCK))
            .for_each(|(out, rows)| {
                let rows: Vec<f32> = rows.iter().map(|x| x.to_f32()).collect();
                out.copy_from_slice(&codec.encode_all(&rows));
            });
        Quantized {
            codec,
            codes: Buf::Owned(codes),
        }
    }

    /// Bytes the traversal reads: the codes, the codebook and what the codec derives from it in
    /// memory ([`Codec::derived_bytes`]).
    pub fn ram_bytes(&self) -> usize {
        self.codes.as_slice().len() + self.codec.parameter_count() * 4 + self.codec.derived_bytes()
    }

    /// K-NN search on the codes: a beam of width max(ef, R, k) walks the graph with asymmetric
    /// distances; then, when `params.rerank` = R > 0, the best max(R, k) candidates get their
    /// exact distance from `exact` (the query bound to the full vectors) and are re-sorted; with
    /// `params.rerank_bound` the whole beam is re-ranked in order of the codes' lower bounds
    /// until the bound proves the rest cannot enter ([`rerank_by_bound`]). Leaves the best `k`
    /// in `ctx.found`; without re-ranking their distances are the ADC estimates. With `links`
    /// (the per-list blocks of a PQ4 index made for `g`) the walk scores each expanded node's
    /// level-0 list with one fast-scan block (`link_codes.rs`).
    #[allow(clippy::too_many_arguments)]
    pub fn search<G: GraphView, T: Element, D: Distance<T>, S: Stopper>(
        &self,
        metric: Metric,
        g: &G,
        exact: &Exact<'_, '_, T, D>,
        params: &SearchParams<'_>,
        ctx: &mut SearchContext,
        accept: impl Fn(u32) -> bool,
        stop: &mut S,
        links: Option<&LinkCodes>,
    ) -> SearchStats {
        let beam = params.ef.max(params.k).max(params.rerank);
        let candidates = if params.rerank_bound.is_some() {
            beam
        } else {
            params.k.max(params.rerank)
        };
        let mut query_f32 = std::mem::take(&mut ctx.query_f32);
        query_f32.clear();
        query_f32.extend(exact.query().iter().map(|x| x.to_f32()));
        let mut table = std::mem::take(&mut ctx.table);
        let (similarity, scale) = match metric {
            Metric::InnerProduct => (Similarity::NegativeDot, 1.0),
            // On unit vectors 1 − ⟨q, x⟩ = ½‖q − x‖². The halved squared distance to the
            // reconstruction x̂ = x + e estimates it with error −⟨q − x, e⟩ + ½‖e‖², small for
            // near neighbours; 1 − ⟨q, x̂⟩ would err by −⟨q, e⟩ whatever the distance (measured:
            // PQ recall@10 0.35 instead of 0.56 on a clustered test set).
            Metric::Cosine => (Similarity::SquaredL2, 0.5),
            Metric::L2 | Metric::Poincare => (Similarity::SquaredL2, 1.0),
        };
        let mut stats = match (links, &self.codec) {
            (Some(links), Codec::Pq4(pq)) => {
                pq.fill_table(&query_f32, similarity, &mut table);
                let mut lane_table = std::mem::take(&mut ctx.lane_table);
                lane_table.refill(&table);
                let scan = LinkScan {
                    links,
                    codes: self.codes.as_slice(),
                    table: &lane_table,
                    scale,
                };
                let stats = knn_with(g, &scan, candidates, beam, ctx, accept, stop);
                ctx.lane_table = lane_table;
                stats
            }
            _ => {
                let walk = Walk {
                    codes: self.codes.as_slice(),
                    bytes: self.codec.code_bytes(),
                    scale,
                    graph: g,
                    k: candidates,
                    ef: beam,
                    ctx: &mut *ctx,
                    accept,
                    stop,
                };
                self.codec.with_adc(&query_f32, similarity, &mut table, walk)
            }
        };
        if let Some(epsilon0) = params.rerank_bound.filter(|_| self.codec.has_error_bound()) {
            // `has_error_bound` holds, so every code has a bound.
            let width = |id: u32| {
                let bound = self.codec.error_bound(&table, self.code(id));
                epsilon0 * scale * bound.unwrap_or(f32::INFINITY)
            };
            stats.reranked = rerank_by_bound(&mut ctx.found, params.k, width, |id| exact.to(id));
        } else if params.rerank > 0 {
            crate::byte_walk::rerank(exact, &mut ctx.found);
            stats.reranked = ctx.found.len() as u64;
        }
        ctx.table = table;
        ctx.query_f32 = query_f32;
        ctx.found.truncate(params.k);
        stats
    }

    /// Node `id`'s code.
    fn code(&self, id: u32) -> &[u8] {
        code_of(self.codes.as_slice(), self.codec.code_bytes(), id)
    }
}

/// The code of `node` among `codes` of `bytes` bytes each.
#[inline(always)]
fn code_of(codes: &[u8], bytes: usize, node: u32) -> &[u8] {
    &codes[node as usize * bytes..][..bytes]
}

/// RaBitQ's re-ranking rule (Gao & Long 2024, §4): with each candidate's estimate and the
/// half-width of its confidence interval, take the candidates in order of their lower bound
/// (estimate − width) and compute exact distances until the next lower bound is at least the
/// k-th smallest exact distance so far — no later candidate can then enter the top k (with the
/// bound's probability). Leaves the best k, exact, in `found`; returns how many were re-ranked.
pub(crate) fn rerank_by_bound(
    found: &mut Vec<crate::Neighbor>,
    k: usize,
    width: impl Fn(u32) -> f32,
    exact: impl Fn(u32) -> f32,
) -> u64 {
    let mut by_lower: Vec<crate::Neighbor> = found
        .iter()
        .map(|n| crate::Neighbor::new(n.id, n.distance - width(n.id)))
        .collect();
    by_lower.sort_unstable();
    found.clear();
    let mut top = std::collections::BinaryHeap::with_capacity(k + 1);
    let mut reranked = 0;
    for candidate in by_lower {
        if top.len() == k
            && top
                .peek()
                .is_some_and(|kth: &crate::Neighbor| candidate.distance >= kth.distance)
        {
            break;
        }
        reranked += 1;
        top.push(crate::Neighbor::new(candidate.id, exact(candidate.id)));
        if top.len() > k {
            top.pop();
        }
    }
    found.extend(top.into_sorted_vec());
    reranked
}

/// `min(n, TRAIN_SAMPLE)` distinct row numbers, ascending, drawn with `seed` (all rows when
/// there are few enough).
fn training_rows(n: usize, seed: u64) -> Vec<usize> {
    let mut rows: Vec<usize> = (0..n).collect();
    if n <= TRAIN_SAMPLE {
        return rows;
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x5155_414e_5453_414d);
    for i in 0..TRAIN_SAMPLE {
        let j = i + (rng.next_u64() % (n - i) as u64) as usize;
        rows.swap(i, j);
    }
    rows.truncate(TRAIN_SAMPLE);
    rows.sort_unstable();
    rows
}

/// The per-query walk, run once [`Codec::with_adc`] has built the distance function.
struct Walk<'a, G, A, S> {
    codes: &'a [u8],
    bytes: usize,
    scale: f32,
    graph: &'a G,
    k: usize,
    ef: usize,
    ctx: &'a mut SearchContext,
    accept: A,
    stop: &'a mut S,
}

impl<G: GraphView, A: Fn(u32) -> bool, S: Stopper> AdcVisitor for Walk<'_, G, A, S> {
    type Output = SearchStats;
    fn visit<F: Fn(&[u8]) -> f32>(self, distance: F) -> SearchStats {
        let codes = Codes {
            codes: self.codes,
            bytes: self.bytes,
            scale: self.scale,
            distance,
        };
        knn_with(
            self.graph,
            &codes,
            self.k,
            self.ef,
            self.ctx,
            self.accept,
            self.stop,
        )
    }
}

/// The query's asymmetric distance to every node's code.
struct Codes<'a, F> {
    codes: &'a [u8],
    bytes: usize,
    /// Multiplies every ADC value so it estimates the metric's kernel value (cosine: ½).
    scale: f32,
    distance: F,
}

impl<F: Fn(&[u8]) -> f32> Codes<'_, F> {
    #[inline(always)]
    fn code(&self, node: u32) -> &[u8] {
        code_of(self.codes, self.bytes, node)
    }
}

impl<F: Fn(&[u8]) -> f32> QueryDistance for Codes<'_, F> {
    #[inline]
    fn to(&self, node: u32) -> f32 {
        (self.distance)(self.code(node)) * self.scale
    }
    #[inline(always)]
    fn prefetch(&self, node: u32) {
        geodex_distance::prefetch(self.code(node));
    }
}
