//! PQ4 codes laid out per adjacency list, and the walk that scores a node's whole level-0 list
//! at once.
//!
//! A walk on per-node codes (`quantized.rs`) reads each neighbour's code from wherever the node
//! sits in the code array — one scattered cache line per neighbour — and sums one table entry
//! per sub-space in scalar code. Here every node also owns a copy of its level-0 neighbours'
//! codes in the fast-scan block layout (André, Kermarrec & Le Scouarnec, VLDB 2015;
//! `geodex_quant::fastscan`): lane i of the node's blocks holds the code of its i-th link, so
//! expanding a node reads its blocks contiguously and scores all of its neighbours with one
//! `vpshufb` per two sub-spaces (NGT-QG, Iwasaki & Miyazaki 2018, lays out its quantised graph the
//! same way). The price is memory: M0 copies of every code (M0 · m/2 bytes per node) beside the
//! per-node codes, which stay for the upper levels and the entry point.
//!
//! Every distance of this walk — in the blocks, on the upper levels, to the entry point — is the
//! query's 8-bit quantised table summed over a code ([`QuantizedTable`]), so a node's estimate
//! does not depend on where the walk met it. The blocks are made from the graph and the codes
//! (not stored in the file): they follow the graph's list order, so any change to the graph
//! drops them.

use geodex_quant::codec::nibble;
use geodex_quant::fastscan::{put_lane, scan_block, QuantizedTable, BLOCK};
use rayon::prelude::*;

use crate::graph::GraphView;
use crate::search::{measure_each, QueryDistance};
use crate::visited::VisitedSet;
use crate::{CoreError, Neighbor};

/// Blocks of 32 lanes per node at most: level-0 lists of up to 128 links (M ≤ 64).
pub const MAX_BLOCKS: usize = 4;

/// Each node's level-0 neighbours' PQ4 codes, in fast-scan blocks.
#[derive(Debug)]
pub(crate) struct LinkCodes {
    /// Sub-spaces of the codes.
    m: usize,
    /// Blocks per node: ⌈longest level-0 list / 32⌉.
    blocks: usize,
    /// Node u's blocks at `u · blocks · m · 16`, lane i of block b holding link 32·b + i. An
    /// anonymous mapping backed by huge pages where the kernel gives them: every expansion
    /// reads another node's blocks, and with 4 KiB pages each read was a TLB miss whose page
    /// walk stalled the walk's prefetches.
    bytes: memmap2::MmapMut,
}

impl LinkCodes {
    /// The blocks of every node of `g` from the per-node PQ4 `codes` (`m` sub-spaces, two
    /// codes per byte, low nibble first). Fails when a level-0 list is longer than
    /// 32 · [`MAX_BLOCKS`].
    pub fn build<G: GraphView>(g: &G, codes: &[u8], m: usize) -> Result<LinkCodes, CoreError> {
        let n = g.node_count();
        let code_bytes = m.div_ceil(2);
        let longest = (0..n as u32)
            .into_par_iter()
            .map(|u| {
                let mut degree = 0usize;
                g.for_each_link(u, 0, |_| degree += 1);
                degree
            })
            .max()
            .unwrap_or(0);
        let blocks = longest.div_ceil(BLOCK).max(1);
        if blocks > MAX_BLOCKS {
            return Err(CoreError::InvalidParameter(format!(
                "per-list codes hold level-0 lists of up to {} links, this graph has one of {longest} (M ≤ 64)",
                MAX_BLOCKS * BLOCK
            )));
        }
        let block_bytes = m * 16;
        let mut bytes = huge_zeroed(n * blocks * block_bytes)?;
        bytes
            .par_chunks_mut(blocks * block_bytes)
            .enumerate()
            .for_each(|(u, own)| {
                let mut lane = 0;
                g.for_each_link(u as u32, 0, |v| {
                    let code = &codes[v as usize * code_bytes..][..code_bytes];
                    let block = &mut own[lane / BLOCK * block_bytes..][..block_bytes];
                    put_lane(block, lane % BLOCK, (0..m).map(|j| nibble(code, j)));
                    lane += 1;
                });
            });
        Ok(LinkCodes { m, blocks, bytes })
    }

    /// Bytes held (the blocks only; the per-node codes are counted with the quantiser).
    pub fn ram_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// Block `b` of `node`.
    #[inline(always)]
    fn block(&self, node: u32, b: usize) -> &[u8] {
        let block_bytes = self.m * 16;
        &self.bytes[(node as usize * self.blocks + b) * block_bytes..][..block_bytes]
    }

    /// All of `node`'s blocks.
    #[inline(always)]
    fn node_bytes(&self, node: u32) -> &[u8] {
        let node_bytes = self.blocks * self.m * 16;
        &self.bytes[node as usize * node_bytes..][..node_bytes]
    }
}

/// `len` zeroed bytes in an anonymous mapping advised to use transparent huge pages (advice
/// only: without them it is an ordinary mapping).
fn huge_zeroed(len: usize) -> Result<memmap2::MmapMut, CoreError> {
    let map = memmap2::MmapMut::map_anon(len.max(1)).map_err(|source| CoreError::Io {
        path: "(memory for the per-list code blocks)".into(),
        source,
    })?;
    #[cfg(target_os = "linux")]
    let _ = map.advise(memmap2::Advice::HugePage);
    Ok(map)
}

/// A query bound to the per-list blocks: the quantised-table distance to every node.
pub(crate) struct LinkScan<'a> {
    pub links: &'a LinkCodes,
    /// The per-node PQ4 codes, for the upper levels and the entry point.
    pub codes: &'a [u8],
    /// The query's 8-bit table.
    pub table: &'a QuantizedTable,
    /// Multiplies every estimate so it estimates the metric's kernel value (cosine: ½).
    pub scale: f32,
}

impl LinkScan<'_> {
    #[inline(always)]
    fn code(&self, node: u32) -> &[u8] {
        let bytes = self.links.m.div_ceil(2);
        &self.codes[node as usize * bytes..][..bytes]
    }

    #[inline(always)]
    fn estimate(&self, sum: u16) -> f32 {
        self.table.distance(sum) * self.scale
    }
}

impl QueryDistance for LinkScan<'_> {
    #[inline]
    fn to(&self, node: u32) -> f32 {
        self.estimate(self.table.packed_sum(self.code(node)))
    }

    #[inline(always)]
    fn prefetch(&self, node: u32) {
        geodex_distance::prefetch(self.code(node));
    }

    /// On level 0: scans the node's blocks — 32 sums per block — first, and only the links
    /// whose estimate beats `bound` are looked up in `visited`, marked and handed on: once the
    /// beam is full most of a list cannot enter it, and those lanes never touch the visited
    /// set (the fast-scan order of FAISS's IVF scans and of NGT-QG). Returns the lanes scanned.
    #[inline(always)]
    fn measure_links<G: GraphView>(
        &self,
        g: &G,
        node: u32,
        level: usize,
        bound: f32,
        visited: &mut VisitedSet,
        fresh: &mut Vec<u32>,
        mut sink: impl FnMut(Neighbor),
    ) -> usize {
        if level != 0 {
            return measure_each(self, g, node, level, visited, fresh, sink);
        }
        fresh.clear();
        g.for_each_link(node, 0, |n| fresh.push(n));
        let mut sums = [[0u16; BLOCK]; MAX_BLOCKS];
        for (b, block_sums) in sums.iter_mut().enumerate().take(fresh.len().div_ceil(BLOCK)) {
            scan_block(self.table, self.links.block(node, b), self.links.m, block_sums);
        }
        for (lane, &n) in fresh.iter().enumerate() {
            let d = self.estimate(sums[lane / BLOCK][lane % BLOCK]);
            if d < bound && visited.insert(n) {
                sink(Neighbor::new(n, d));
            }
        }
        fresh.len()
    }

    /// Starts loading the node's blocks (every 256 bytes: [`geodex_distance::prefetch`] covers
    /// four cache lines).
    #[inline(always)]
    fn prefetch_expansion(&self, node: u32, level: usize) {
        if level == 0 {
            for part in self.links.node_bytes(node).chunks(256) {
                geodex_distance::prefetch(part);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use geodex_distance::Metric;
    use geodex_quant::codec::{Codec, CodecSpec, Similarity};
    use geodex_testkit::clustered;

    use super::*;
    use crate::search::knn;
    use crate::{BuildParams, Index, SearchContext};

    /// A second implementation of the walk's distance: the 8-bit table summed over the nibbles
    /// of each node's own code, one node at a time (no blocks, no lanes).
    struct PerNode<'a> {
        codes: &'a [u8],
        m: usize,
        table: &'a QuantizedTable,
    }

    impl QueryDistance for PerNode<'_> {
        fn to(&self, node: u32) -> f32 {
            let code = &self.codes[node as usize * self.m.div_ceil(2)..];
            let sum: u32 = (0..self.m)
                .map(|j| {
                    let c = if j % 2 == 0 {
                        code[j / 2] & 15
                    } else {
                        code[j / 2] >> 4
                    };
                    self.table.entries[j * 16 + c as usize] as u32
                })
                .sum();
            self.table.bias + self.table.step * sum as f32
        }
        fn prefetch(&self, _node: u32) {}
    }

    /// `n` lists of distinct random ids other than their owner's, of lengths in `lengths`.
    fn random_lists(n: usize, lengths: std::ops::RangeInclusive<usize>, seed: u64) -> Vec<Vec<u32>> {
        let mut rng = geodex_testkit::Rng::new(seed);
        (0..n)
            .map(|u| {
                let len = lengths.start() + rng.below(lengths.end() - lengths.start() + 1);
                let mut list = Vec::with_capacity(len);
                while list.len() < len {
                    let v = rng.below(n) as u32;
                    if v as usize != u && !list.contains(&v) {
                        list.push(v);
                    }
                }
                list
            })
            .collect()
    }

    /// The block walk meets every node with the estimate the per-node walk gives it and in the
    /// same order, so both walks expand the same nodes and return the same nodes and distances
    /// — for lists that fill one, two and four blocks. (It scans visited lanes too, so its
    /// count of estimates is the larger.)
    #[test]
    fn the_block_walk_equals_a_walk_on_per_node_codes() {
        let (n, dim, m) = (3000, 16, 8);
        let mut blocks_seen = Vec::new();
        let data = clustered(n + 30, dim, 12, 0.6, 11);
        let (base, queries) = data.split_at(n * dim);
        for links_m in [12, 24, 64] {
            let params = BuildParams {
                metric: Metric::L2,
                m: links_m,
                ef_construction: 80,
                threads: Some(1),
                quant: Some(CodecSpec::Pq { m, bits: 4 }),
                ..Default::default()
            };
            let mut ix = Index::build(base.to_vec(), dim, &params, &|_| {}).unwrap();
            if links_m == 64 {
                // The heuristic leaves lists far shorter than 128: give level 0 random ones.
                ix.replace_level0(&random_lists(n, 70..=128, 5)).unwrap();
            }
            ix.set_link_codes(true).unwrap();
            let quant = ix.quant.as_ref().unwrap();
            let Codec::Pq4(pq) = &quant.codec else {
                panic!("a PQ4 index")
            };
            let links = ix.link_codes.as_deref().unwrap();
            let graph = ix.graph.view();
            let longest = (0..n as u32).map(|u| graph.links(u, 0).len()).max().unwrap();
            assert_eq!(links.blocks, longest.div_ceil(BLOCK));
            assert_eq!(links.ram_bytes(), n * links.blocks * m * 16);
            let (mut float_table, mut ctx) = (Vec::new(), SearchContext::new());
            let mut full_answers = 0;
            for q in queries.chunks_exact(dim) {
                pq.fill_table(q, Similarity::SquaredL2, &mut float_table);
                let table = QuantizedTable::new(&float_table);
                let scan = LinkScan {
                    links,
                    codes: quant.codes.as_slice(),
                    table: &table,
                    scale: 1.0,
                };
                let per_node = PerNode {
                    codes: quant.codes.as_slice(),
                    m,
                    table: &table,
                };
                let by_blocks = knn(&graph, &scan, 10, 48, &mut ctx, |_| true);
                let found = std::mem::take(&mut ctx.found);
                let by_nodes = knn(&graph, &per_node, 10, 48, &mut ctx, |_| true);
                // The block walk counts every lane it scans, visited or not, so it evaluates
                // at least as many estimates; it expands exactly the same nodes.
                assert_eq!(by_blocks.hops, by_nodes.hops, "M {links_m}");
                assert!(by_blocks.distances >= by_nodes.distances, "M {links_m}");
                assert_eq!(found, ctx.found, "M {links_m}");
                full_answers += usize::from(found.len() == 10);
            }
            assert_eq!(full_answers, 30);
            blocks_seen.push(links.blocks);
        }
        assert_eq!(blocks_seen, [1, 2, 4], "the lists fill one, two and four blocks");
    }

    /// Per-list blocks need PQ4 codes and lists they can hold; turning them off frees them; a
    /// new level-0 layout drops them (their lanes follow the old lists' order).
    #[test]
    fn link_codes_need_pq4_and_follow_the_graph() {
        let (n, dim) = (500, 8);
        let data = clustered(n, dim, 5, 0.5, 2);
        let build = |quant, m| {
            let params = BuildParams {
                metric: Metric::L2,
                m,
                ef_construction: 40,
                threads: Some(1),
                quant,
                ..Default::default()
            };
            Index::build(data.clone(), dim, &params, &|_| {}).unwrap()
        };
        for quant in [None, Some(CodecSpec::Pq { m: 4, bits: 8 }), Some(CodecSpec::Sq8)] {
            let err = build(quant, 8).set_link_codes(true).unwrap_err();
            assert!(err.to_string().contains("PQ4"), "{err}");
        }
        let mut long = build(Some(CodecSpec::Pq { m: 4, bits: 4 }), 80);
        long.replace_level0(&random_lists(n, 129..=140, 3)).unwrap();
        let err = long.set_link_codes(true).unwrap_err();
        assert!(err.to_string().contains("M ≤ 64"), "{err}");
        let mut ix = build(Some(CodecSpec::Pq { m: 4, bits: 4 }), 8);
        let without = ix.info().ram_bytes;
        ix.set_link_codes(true).unwrap();
        let info = ix.info();
        assert_eq!(info.link_code_bytes, n * 4 * 16);
        assert_eq!(info.ram_bytes, without + info.link_code_bytes);
        ix.set_link_layout(crate::graph::LinkLayout::Compressed);
        let compressed = ix.info();
        assert_eq!(compressed.link_code_bytes, 0);
        assert!(compressed.ram_bytes < without, "compressed lists are smaller");
        ix.set_link_codes(true).unwrap();
        assert_eq!(ix.info().ram_bytes, compressed.ram_bytes + n * 4 * 16);
        ix.set_link_codes(false).unwrap();
        assert_eq!(ix.info().ram_bytes, compressed.ram_bytes);
    }
}
