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
//! same way). Beside a node's blocks lie its links' ids, so the walk on level 0 never reads the
//! graph's lists (in the file's 4 KiB pages, a TLB miss per expansion); the upper levels' lists
//! have blocks too, for the greedy descent. The price is memory: M0 copies of every code
//! (M0 · m/2 bytes per node) and 4 · M0 bytes of ids beside the per-node codes, which stay for
//! the entry point.
//!
//! The beam's bound (the worst result's distance, which a new node must beat) becomes a limit
//! on the integer sums, so a block's 32 lanes are compared at once and only the lanes that can
//! enter the beam touch the visited set.
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
use crate::search::{measure_each, QueryDistance, Sink};
use crate::visited::VisitedSet;
use crate::{CoreError, Neighbor};

/// Blocks of 32 lanes per list at most: lists of up to 128 links (M ≤ 64).
pub const MAX_BLOCKS: usize = 4;

/// The id of a lane past the end of a level-0 list.
const NO_LINK: u32 = u32::MAX;

/// Each node's neighbours' PQ4 codes, in fast-scan blocks, on every level: level 0 for the
/// beam search, the upper levels for the greedy descent (scored one code at a time, the
/// descent's ~15 lists of up to M links cost a tenth of a SIFT query).
#[derive(Debug)]
pub(crate) struct LinkCodes {
    /// Sub-spaces of the codes.
    m: usize,
    /// Blocks per level-0 list: ⌈longest level-0 list / 32⌉.
    blocks: usize,
    /// Node u's level-0 region at `u · region_bytes()`: the ids of its links (32 · `blocks`
    /// native-endian u32 in list order, [`NO_LINK`] past the end), then its blocks, lane i of
    /// block b holding link 32·b + i. The walk on level 0 reads only this region — not the
    /// graph's list, which sits in the file's 4 KiB pages: a TLB miss per expansion. An
    /// anonymous mapping backed by huge pages where the kernel gives them, for the same reason.
    bytes: memmap2::MmapMut,
    /// Blocks per list above level 0: ⌈longest upper list / 32⌉.
    upper_blocks: usize,
    /// Node u's list on level ℓ ≥ 1 is upper list `upper_first[u] + ℓ − 1` (n + 1 entries,
    /// ascending: node u has `level(u)` upper lists).
    upper_first: Vec<u32>,
    /// The upper lists' blocks, `upper_blocks` per list, in the order of `upper_first`.
    upper: Vec<u8>,
}

impl LinkCodes {
    /// The blocks of every list of `g` from the per-node PQ4 `codes` (`m` sub-spaces, two
    /// codes per byte, low nibble first). Fails when a list is longer than 32 · [`MAX_BLOCKS`].
    pub fn build<G: GraphView>(g: &G, codes: &[u8], m: usize) -> Result<LinkCodes, CoreError> {
        let n = g.node_count();
        let block_bytes = m * 16;
        let longest = |level: usize| {
            (0..n as u32)
                .into_par_iter()
                .filter(|&u| g.level(u) >= level)
                .map(|u| g.links(u, level).len())
                .max()
                .unwrap_or(0)
        };
        let blocks = blocks_for(longest(0))?;
        let upper_blocks = blocks_for(
            (1..=g.entry_point().map_or(0, |(_, top)| top))
                .map(longest)
                .max()
                .unwrap_or(0),
        )?;
        let mut bytes = huge_zeroed(n * blocks * (BLOCK * 4 + block_bytes))?;
        bytes
            .par_chunks_mut(blocks * (BLOCK * 4 + block_bytes))
            .enumerate()
            .for_each(|(u, own)| {
                let links = g.links(u as u32, 0);
                let (ids, own_blocks) = own.split_at_mut(blocks * BLOCK * 4);
                for (lane, id) in ids.chunks_exact_mut(4).enumerate() {
                    id.copy_from_slice(&links.get(lane).copied().unwrap_or(NO_LINK).to_ne_bytes());
                }
                put_list(own_blocks, &links, codes, m);
            });
        let mut upper_first = Vec::with_capacity(n + 1);
        let mut upper_lists = Vec::new();
        for u in 0..n as u32 {
            upper_first.push(upper_lists.len() as u32);
            upper_lists.extend((1..=g.level(u)).map(|level| (u, level)));
        }
        upper_first.push(upper_lists.len() as u32);
        let mut upper = vec![0u8; upper_lists.len() * upper_blocks * block_bytes];
        upper
            .par_chunks_mut((upper_blocks * block_bytes).max(1))
            .zip(&upper_lists)
            .for_each(|(own, &(u, level))| put_list(own, &g.links(u, level), codes, m));
        Ok(LinkCodes {
            m,
            blocks,
            bytes,
            upper_blocks,
            upper_first,
            upper,
        })
    }

    /// Bytes held (the blocks and their index; the per-node codes are counted with the
    /// quantiser).
    pub fn ram_bytes(&self) -> usize {
        self.bytes.len() + self.upper.len() + self.upper_first.len() * 4
    }

    /// Bytes of one block.
    #[inline(always)]
    fn block_bytes(&self) -> usize {
        self.m * 16
    }

    /// Bytes of a node's level-0 region: its lanes' ids, then its blocks.
    #[inline(always)]
    fn region_bytes(&self) -> usize {
        self.blocks * (BLOCK * 4 + self.block_bytes())
    }

    /// `node`'s level-0 region.
    #[inline(always)]
    fn region(&self, node: u32) -> &[u8] {
        &self.bytes[node as usize * self.region_bytes()..][..self.region_bytes()]
    }

    /// The ids of block `b`'s lanes of `region` ([`NO_LINK`] past the end of the list).
    #[inline(always)]
    fn lane_ids(&self, region: &[u8], b: usize) -> [u32; BLOCK] {
        let ids = &region[b * BLOCK * 4..][..BLOCK * 4];
        std::array::from_fn(|lane| u32::from_ne_bytes(ids[lane * 4..][..4].try_into().expect("4 bytes")))
    }

    /// All blocks of `node`'s list on `level`.
    #[inline(always)]
    fn list(&self, node: u32, level: usize) -> &[u8] {
        if level == 0 {
            return &self.region(node)[self.blocks * BLOCK * 4..];
        }
        let list_bytes = self.upper_blocks * self.block_bytes();
        let list = self.upper_first[node as usize] as usize + level - 1;
        &self.upper[list * list_bytes..][..list_bytes]
    }
}

/// Blocks a list of `longest` links needs (at least one), or the error for one too long.
fn blocks_for(longest: usize) -> Result<usize, CoreError> {
    let blocks = longest.div_ceil(BLOCK).max(1);
    if blocks > MAX_BLOCKS {
        return Err(CoreError::InvalidParameter(format!(
            "per-list codes hold lists of up to {} links, this graph has one of {longest} (M ≤ 64)",
            MAX_BLOCKS * BLOCK
        )));
    }
    Ok(blocks)
}

/// Writes the codes of `links` into the zeroed blocks `own`, link i into lane i % 32 of block
/// i / 32.
fn put_list(own: &mut [u8], links: &[u32], codes: &[u8], m: usize) {
    let (code_bytes, block_bytes) = (m.div_ceil(2), m * 16);
    for (lane, &v) in links.iter().enumerate() {
        let code = &codes[v as usize * code_bytes..][..code_bytes];
        let block = &mut own[lane / BLOCK * block_bytes..][..block_bytes];
        put_lane(block, lane % BLOCK, (0..m).map(|j| nibble(code, j)));
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
    /// The per-node PQ4 codes, for the entry point.
    pub codes: &'a [u8],
    /// The query's 8-bit table.
    pub table: &'a QuantizedTable,
    /// Multiplies every estimate so it estimates the metric's kernel value (cosine: ½).
    pub scale: f32,
}

/// Quantised sums at or above this are not representable: every sum is below it.
const ALL_SUMS: u32 = 1 << 16;

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

    /// The quantised sums of block `b` of `list` (one of [`LinkCodes::list`]).
    #[inline(always)]
    fn scan(&self, list: &[u8], b: usize) -> [u16; BLOCK] {
        let mut sums = [0u16; BLOCK];
        let block_bytes = self.links.block_bytes();
        scan_block(
            self.table,
            &list[b * block_bytes..][..block_bytes],
            self.links.m,
            &mut sums,
        );
        sums
    }

    /// The least quantised sum whose estimate is not below `bound` ([`ALL_SUMS`] when every
    /// sum's is): a lane's estimate beats `bound` iff its sum is below this, because
    /// [`Self::estimate`] is non-decreasing in the sum (each of its floating-point steps is
    /// monotone). The inverse of the estimate gives it at once but for rounding, which the
    /// check catches; a bisection settles the rest.
    #[inline]
    fn sum_limit(&self, bound: f32) -> u32 {
        let beats = |s: u32| s < ALL_SUMS && self.estimate(s as u16) < bound;
        let is_limit = |s: u32| (s == 0 || beats(s - 1)) && !beats(s);
        let guess = ((bound / self.scale - self.table.bias) / self.table.step).ceil();
        // NaN (a NaN bound) becomes 0; ±∞ and out-of-range guesses saturate.
        let guess = guess.clamp(0.0, ALL_SUMS as f32) as u32;
        if is_limit(guess) {
            return guess;
        }
        let (mut low, mut high) = (0, ALL_SUMS);
        while low < high {
            let mid = (low + high) / 2;
            if beats(mid) {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        low
    }
}

/// Bit i set iff `holds` is true of lane i: what the vectoriser turns into a compare and a
/// mask extraction, so that the walk branches once per lane that can enter the beam instead of
/// once per lane.
#[inline(always)]
fn lane_mask<T: Copy>(lanes: &[T; BLOCK], holds: impl Fn(T) -> bool) -> u32 {
    lanes
        .iter()
        .enumerate()
        .fold(0u32, |mask, (i, &x)| mask | (u32::from(holds(x)) << i))
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
    /// set (the fast-scan order of FAISS's IVF scans and of NGT-QG). The bound becomes a limit
    /// on the integer sums, compared for all lanes at once. Returns the lanes scanned.
    #[inline(always)]
    fn measure_links<G: GraphView>(
        &self,
        g: &G,
        node: u32,
        level: usize,
        bound: f32,
        visited: &mut VisitedSet,
        fresh: &mut Vec<u32>,
        sink: &mut impl Sink,
    ) -> usize {
        if level != 0 {
            return measure_each(self, g, node, level, visited, fresh, sink);
        }
        let limit = self.sum_limit(bound);
        let region = self.links.region(node);
        let list = &region[self.links.blocks * BLOCK * 4..];
        let mut scanned = 0;
        for b in 0..self.links.blocks {
            let ids = self.links.lane_ids(region, b);
            let links = lane_mask(&ids, |id| id != NO_LINK);
            if links == 0 {
                break;
            }
            scanned += links.count_ones() as usize;
            let sums = self.scan(list, b);
            let mut below = lane_mask(&sums, |s| u32::from(s) < limit) & links;
            while below != 0 {
                let lane = below.trailing_zeros() as usize;
                below &= below - 1;
                if visited.insert(ids[lane]) {
                    sink.take(Neighbor::new(ids[lane], self.estimate(sums[lane])));
                }
            }
        }
        scanned
    }

    /// The list's blocks scanned at once; the first least estimate, as
    /// [`crate::search::nearest_each`] finds.
    #[inline(always)]
    fn nearest_link<G: GraphView>(&self, g: &G, node: u32, level: usize) -> (Option<Neighbor>, usize) {
        let links = g.links(node, level);
        let list = self.links.list(node, level);
        let mut best = Neighbor::new(u32::MAX, f32::INFINITY);
        for (b, ids) in links.chunks(BLOCK).enumerate() {
            let sums = self.scan(list, b);
            for (&id, &sum) in ids.iter().zip(&sums) {
                let d = self.estimate(sum);
                if d < best.distance {
                    best = Neighbor::new(id, d);
                }
            }
        }
        ((best.distance < f32::INFINITY).then_some(best), links.len())
    }

    /// Level 0 never reads the graph's lists (the region holds the ids): prefetched for every
    /// new candidate, they cost page walks for nothing (a tenth of the walk's time on SIFT).
    const PREFETCH_OFFERED_LISTS: bool = false;

    /// Starts loading the node's level-0 region, ids and blocks (every 256 bytes:
    /// [`geodex_distance::prefetch`] covers four cache lines). All of it: prefetching the first 256 bytes and leaving the rest to
    /// the hardware's stream prefetcher was 6 % slower on SIFT (m = 64, 1 KiB per list).
    #[inline(always)]
    fn prefetch_expansion(&self, node: u32, level: usize) {
        if level == 0 {
            for part in self.links.region(node).chunks(256) {
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

    /// The bytes the blocks of `ix`'s graph take, from the graph itself: for each node a
    /// level-0 region of ⌈longest list / 32⌉ blocks of `m` · 16 bytes and 32 ids per block, for
    /// each upper list ⌈longest upper list / 32⌉ blocks, and the upper lists' index.
    fn expected_bytes(ix: &Index<f32>, m: usize) -> usize {
        let graph = ix.graph.view();
        let n = graph.node_count() as u32;
        let lists = |level0: bool| {
            (0..n).flat_map(move |u| {
                let levels = if level0 { 0..=0 } else { 1..=graph.level(u) };
                levels
                    .filter(move |&l| l <= graph.level(u))
                    .map(move |l| graph.links(u, l).len())
            })
        };
        let blocks = |level0| lists(level0).max().unwrap_or(0).div_ceil(BLOCK).max(1);
        let level0 = n as usize * blocks(true) * (BLOCK * 4 + m * 16);
        level0 + lists(false).count() * blocks(false) * m * 16 + (n as usize + 1) * 4
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
            assert_eq!(links.ram_bytes(), expected_bytes(&ix, m));
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

    /// The integer limit that replaces the float bound is exact: for tables of several scales
    /// and offsets (cosine's ½ among them) and bounds around, below and above the sums'
    /// range, ∞ and NaN, a sum is below the limit iff its estimate is below the bound — checked
    /// on all 2¹⁶ sums.
    #[test]
    fn the_sum_limit_is_the_bound_on_the_integer_sums() {
        let links = LinkCodes {
            m: 1,
            blocks: 1,
            bytes: huge_zeroed(1).unwrap(),
            upper_blocks: 1,
            upper_first: Vec::new(),
            upper: Vec::new(),
        };
        let mut rng = geodex_testkit::Rng::new(9);
        for (bias, step, scale) in [
            (0.0, 1.0, 1.0),
            (1.0e5, 37.3, 1.0),
            (-3.2, 1.0e-4, 0.5),
            (7.0e6, 0.01, 1.0),
        ] {
            let table = QuantizedTable {
                entries: vec![0; 16],
                bias,
                step,
            };
            let scan = LinkScan {
                links: &links,
                codes: &[],
                table: &table,
                scale,
            };
            let top = scan.estimate(u16::MAX);
            let mut bounds = vec![
                f32::INFINITY,
                f32::NAN,
                f32::NEG_INFINITY,
                top,
                top * 2.0,
                scan.estimate(0),
            ];
            bounds.extend((0..20).map(|_| scan.estimate(rng.below(1 << 16) as u16)));
            bounds
                .extend((0..20).map(|_| scan.estimate(0) + (top - scan.estimate(0)) * rng.uniform() as f32));
            for bound in bounds {
                let limit = scan.sum_limit(bound);
                let beating = (0..ALL_SUMS).filter(|&s| scan.estimate(s as u16) < bound).count() as u32;
                assert_eq!(
                    limit, beating,
                    "bias {bias} step {step} scale {scale} bound {bound}"
                );
                if limit > 0 {
                    assert!(
                        scan.estimate((limit - 1) as u16) < bound,
                        "the sums that beat it are a prefix"
                    );
                }
            }
        }
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
        let (without, derived) = (ix.info().ram_bytes, ix.info().derived_bytes);
        ix.set_link_codes(true).unwrap();
        let info = ix.info();
        assert_eq!(info.link_code_bytes, expected_bytes(&ix, 4));
        assert_eq!(info.ram_bytes, without + info.link_code_bytes);
        assert_eq!(info.derived_bytes, derived + info.link_code_bytes);
        ix.set_link_layout(crate::graph::LinkLayout::Compressed);
        let compressed = ix.info();
        assert_eq!(compressed.link_code_bytes, 0);
        assert!(compressed.ram_bytes < without, "compressed lists are smaller");
        ix.set_link_codes(true).unwrap();
        assert_eq!(ix.info().ram_bytes, compressed.ram_bytes + expected_bytes(&ix, 4));
        ix.set_link_codes(false).unwrap();
        assert_eq!(ix.info().ram_bytes, compressed.ram_bytes);
    }
}
