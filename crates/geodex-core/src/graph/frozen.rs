//! The graph after building: flat arrays, the form saved to and mapped from index files.

use std::borrow::Cow;
use std::ops::Deref;

use super::packed::{self, PackedRows};
use super::GraphView;
use crate::buf::Buf;

/// How level 0 is stored (`geodex build --links fixed|compressed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkLayout {
    /// Rows of `1 + M0` u32 words: count, links, zero padding. The fastest to read.
    #[default]
    Fixed,
    /// Sorted, gap-coded, bit-packed lists in fixed slots (`packed.rs`): about half the bytes.
    Compressed,
}

impl LinkLayout {
    /// The name the CLI and `info --json` use.
    pub fn name(self) -> &'static str {
        match self {
            LinkLayout::Fixed => "fixed",
            LinkLayout::Compressed => "compressed",
        }
    }
}

impl std::str::FromStr for LinkLayout {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "fixed" => Ok(LinkLayout::Fixed),
            "compressed" => Ok(LinkLayout::Compressed),
            other => Err(format!("unknown link layout '{other}' (fixed or compressed)")),
        }
    }
}

/// Level 0's lists, in one of the two layouts.
#[derive(Debug, Clone)]
pub(crate) enum Level0 {
    /// `n × (1 + M0)` words: count c, then c links, then unused slots (zero).
    Fixed(Buf<u32>),
    /// The compressed section (`packed.rs`) with its slot size in bytes.
    Packed { bytes: Buf<u8>, slot: usize },
}

/// An immutable HNSW graph in flat arrays.
///
/// Layout (all little-endian, see `format.rs`):
/// - `levels[i]`: top level of node i;
/// - `level0`: fixed rows (`level0[i·(1+M0) ..]`: count c, then c links, then zero), or the
///   compressed lists of `packed.rs`;
/// - `upper_offsets[i]`: where node i's upper lists start in `upper` (n + 1 entries);
///   node i owns `levels[i]` blocks of `1 + M` words (count, links, padding), for levels 1..=ℓ.
#[derive(Debug, Clone)]
pub struct FrozenGraph {
    pub(crate) m: usize,
    pub(crate) m0: usize,
    pub(crate) entry: u32,
    pub(crate) max_level: usize,
    pub(crate) levels: Buf<u8>,
    pub(crate) level0: Level0,
    pub(crate) upper_offsets: Buf<u64>,
    pub(crate) upper: Buf<u32>,
}

/// Level-0 lists as a [`FrozenView`] reads them: fixed rows, compressed lists, or either.
pub trait Level0Lists: Copy + Sync {
    /// A borrowed or decoded list; an upper level's (always a slice) converts into it.
    type List<'b>: Deref<Target = [u32]> + From<&'b [u32]>
    where
        Self: 'b;
    /// The level-0 links of `node`.
    fn list(&self, node: u32) -> Self::List<'_>;
    /// Calls `f` with each level-0 link of `node`.
    fn for_each(&self, node: u32, f: impl FnMut(u32));
    /// Starts loading `node`'s level-0 list.
    fn prefetch(&self, node: u32);
}

/// Fixed rows of `1 + M0` words.
#[derive(Clone, Copy, Debug)]
pub struct FixedRows<'a> {
    words: &'a [u32],
    m0: usize,
}

impl Level0Lists for FixedRows<'_> {
    type List<'b>
        = &'b [u32]
    where
        Self: 'b;

    #[inline]
    fn list(&self, node: u32) -> &[u32] {
        let row = &self.words[node as usize * (1 + self.m0)..][..1 + self.m0];
        &row[1..1 + (row[0] as usize).min(self.m0)]
    }

    #[inline(always)]
    fn for_each(&self, node: u32, mut f: impl FnMut(u32)) {
        for &n in self.list(node) {
            f(n);
        }
    }

    #[inline(always)]
    fn prefetch(&self, node: u32) {
        let start = node as usize * (1 + self.m0);
        if let Some(list) = self.words.get(start..start + 1 + self.m0) {
            geodex_distance::prefetch(list);
        }
    }
}

impl Level0Lists for PackedRows<'_> {
    type List<'b>
        = Cow<'b, [u32]>
    where
        Self: 'b;

    fn list(&self, node: u32) -> Cow<'_, [u32]> {
        PackedRows::list(self, node)
    }

    #[inline(always)]
    fn for_each(&self, node: u32, f: impl FnMut(u32)) {
        PackedRows::for_each(self, node, f);
    }

    #[inline(always)]
    fn prefetch(&self, node: u32) {
        PackedRows::prefetch(self, node);
    }
}

/// Either layout, for the code that is not the search loop (analysis, checks, thawing); the
/// search splits it ([`FrozenView::split`]) and runs a loop compiled for each layout.
#[derive(Clone, Copy, Debug)]
pub enum AnyRows<'a> {
    /// Fixed rows.
    Fixed(FixedRows<'a>),
    /// Compressed lists.
    Packed(PackedRows<'a>),
}

impl Level0Lists for AnyRows<'_> {
    type List<'b>
        = Cow<'b, [u32]>
    where
        Self: 'b;

    fn list(&self, node: u32) -> Cow<'_, [u32]> {
        match self {
            AnyRows::Fixed(r) => Cow::Borrowed(r.list(node)),
            AnyRows::Packed(r) => r.list(node),
        }
    }

    fn for_each(&self, node: u32, f: impl FnMut(u32)) {
        match self {
            AnyRows::Fixed(r) => r.for_each(node, f),
            AnyRows::Packed(r) => r.for_each(node, f),
        }
    }

    fn prefetch(&self, node: u32) {
        match self {
            AnyRows::Fixed(r) => r.prefetch(node),
            AnyRows::Packed(r) => r.prefetch(node),
        }
    }
}

/// A borrowed view of a [`FrozenGraph`]: plain slices, taken once per query, with level 0 in
/// the layout `L`.
#[derive(Clone, Copy, Debug)]
pub struct FrozenView<'a, L = AnyRows<'a>> {
    m: usize,
    m0: usize,
    entry: u32,
    max_level: usize,
    levels: &'a [u8],
    level0: L,
    upper_offsets: &'a [u64],
    upper: &'a [u32],
}

/// A [`FrozenView`] with its layout known at compile time: what the search loop runs on.
pub(crate) enum Split<'a> {
    Fixed(FrozenView<'a, FixedRows<'a>>),
    Packed(FrozenView<'a, PackedRows<'a>>),
}

impl<'a> FrozenView<'a> {
    /// The same view with level 0's layout as a type.
    pub(crate) fn split(&self) -> Split<'a> {
        match self.level0 {
            AnyRows::Fixed(rows) => Split::Fixed(self.with_rows(rows)),
            AnyRows::Packed(rows) => Split::Packed(self.with_rows(rows)),
        }
    }

    /// The layout of level 0.
    pub fn layout(&self) -> LinkLayout {
        match self.level0 {
            AnyRows::Fixed(_) => LinkLayout::Fixed,
            AnyRows::Packed(_) => LinkLayout::Compressed,
        }
    }

    fn with_rows<R>(&self, level0: R) -> FrozenView<'a, R> {
        FrozenView {
            m: self.m,
            m0: self.m0,
            entry: self.entry,
            max_level: self.max_level,
            levels: self.levels,
            level0,
            upper_offsets: self.upper_offsets,
            upper: self.upper,
        }
    }
}

impl FrozenGraph {
    /// Packs a graph (at least one node) into flat arrays with fixed level-0 rows: a built
    /// one, or any view of one (an analysis experiment's perturbed graph, which then searches
    /// at full speed). Lists keep their order (closest first, as the heuristic selected them).
    pub fn freeze(g: &impl GraphView) -> FrozenGraph {
        Self::freeze_as(g, LinkLayout::Fixed)
    }

    /// [`FrozenGraph::freeze`] with level 0 in `layout` (compressed lists are sorted by id).
    pub fn freeze_as(g: &impl GraphView, layout: LinkLayout) -> FrozenGraph {
        let (m, n) = (g.max_degree(1), g.node_count());
        let mut upper_offsets = Vec::with_capacity(n + 1);
        let mut upper = Vec::new();
        for node in 0..n as u32 {
            upper_offsets.push(upper.len() as u64);
            for lvl in 1..=g.level(node) {
                let links = g.links(node, lvl);
                upper.push(links.len() as u32);
                upper.extend_from_slice(&links);
                upper.resize(upper.len() + m - links.len(), 0);
            }
        }
        upper_offsets.push(upper.len() as u64);
        // No entry point: every node of a living index was deleted; node 0 (hidden) stands in.
        let (entry, max_level) = g.entry_point().unwrap_or_else(|| (0, g.level(0)));
        FrozenGraph {
            m,
            m0: g.max_degree(0),
            entry,
            max_level,
            levels: Buf::Owned((0..n as u32).map(|u| g.level(u) as u8).collect()),
            level0: level0_of(g, layout),
            upper_offsets: Buf::Owned(upper_offsets),
            upper: Buf::Owned(upper),
        }
    }

    /// Stores level 0 in `layout` (the upper levels are unchanged).
    pub fn set_layout(&mut self, layout: LinkLayout) {
        if self.layout() != layout {
            self.level0 = level0_of(&self.view(), layout);
        }
    }

    /// Copies every array read from a file into memory ([`crate::Index::load_resident`]).
    pub(crate) fn load_resident(&mut self) {
        self.levels.load();
        match &mut self.level0 {
            Level0::Fixed(words) => words.load(),
            Level0::Packed { bytes, .. } => bytes.load(),
        }
        self.upper_offsets.load();
        self.upper.load();
    }

    /// How level 0 is stored.
    pub fn layout(&self) -> LinkLayout {
        match self.level0 {
            Level0::Fixed(_) => LinkLayout::Fixed,
            Level0::Packed { .. } => LinkLayout::Compressed,
        }
    }

    /// The view search and analysis run on.
    #[inline]
    pub fn view(&self) -> FrozenView<'_> {
        let level0 = match &self.level0 {
            Level0::Fixed(words) => AnyRows::Fixed(FixedRows {
                words: words.as_slice(),
                m0: self.m0,
            }),
            Level0::Packed { bytes, slot } => AnyRows::Packed(PackedRows::new(
                bytes.as_slice(),
                *slot,
                self.levels.as_slice().len(),
            )),
        };
        FrozenView {
            m: self.m,
            m0: self.m0,
            entry: self.entry,
            max_level: self.max_level,
            levels: self.levels.as_slice(),
            level0,
            upper_offsets: self.upper_offsets.as_slice(),
            upper: self.upper.as_slice(),
        }
    }

    /// Bytes of level 0's section.
    pub fn level0_bytes(&self) -> usize {
        match &self.level0 {
            Level0::Fixed(words) => 4 * words.as_slice().len(),
            Level0::Packed { bytes, .. } => bytes.as_slice().len(),
        }
    }

    /// Bytes of the graph arrays (what must stay resident for traversal, besides vectors).
    pub fn bytes(&self) -> usize {
        self.levels.as_slice().len()
            + self.level0_bytes()
            + 8 * self.upper_offsets.as_slice().len()
            + 4 * self.upper.as_slice().len()
    }
}

/// Level 0 of `g` in `layout`.
fn level0_of(g: &impl GraphView, layout: LinkLayout) -> Level0 {
    let (n, m0) = (g.node_count(), g.max_degree(0));
    match layout {
        LinkLayout::Compressed => {
            let (bytes, slot) = packed::encode(n, |u, out| out.extend_from_slice(&g.links(u, 0)));
            Level0::Packed {
                bytes: Buf::Owned(bytes),
                slot,
            }
        }
        LinkLayout::Fixed => {
            let mut rows = vec![0u32; n * (1 + m0)];
            for (u, row) in rows.chunks_exact_mut(1 + m0).enumerate() {
                let list = g.links(u as u32, 0);
                row[0] = list.len() as u32;
                row[1..1 + list.len()].copy_from_slice(&list);
            }
            Level0::Fixed(Buf::Owned(rows))
        }
    }
}

impl<L: Level0Lists> FrozenView<'_, L> {
    /// An upper level's list of `node` (`1 ≤ level ≤ levels[node]`).
    #[inline]
    fn upper_list(&self, node: u32, level: usize) -> &[u32] {
        let start = self.upper_offsets[node as usize] as usize + (level - 1) * (1 + self.m);
        let list = &self.upper[start..][..1 + self.m];
        &list[1..1 + (list[0] as usize).min(self.m)]
    }
}

impl<L: Level0Lists> GraphView for FrozenView<'_, L> {
    type Links<'b>
        = L::List<'b>
    where
        Self: 'b;

    fn node_count(&self) -> usize {
        self.levels.len()
    }

    fn level(&self, node: u32) -> usize {
        self.levels[node as usize] as usize
    }

    #[inline]
    fn links(&self, node: u32, level: usize) -> L::List<'_> {
        if level == 0 {
            self.level0.list(node)
        } else {
            self.upper_list(node, level).into()
        }
    }

    #[inline(always)]
    fn for_each_link(&self, node: u32, level: usize, mut f: impl FnMut(u32)) {
        if level == 0 {
            self.level0.for_each(node, f);
        } else {
            for &n in self.upper_list(node, level) {
                f(n);
            }
        }
    }

    fn entry_point(&self) -> Option<(u32, usize)> {
        Some((self.entry, self.max_level))
    }

    #[inline(always)]
    fn prefetch_links(&self, node: u32, level: usize) {
        if level == 0 {
            self.level0.prefetch(node);
        }
    }

    fn max_degree(&self, level: usize) -> usize {
        if level == 0 {
            self.m0
        } else {
            self.m
        }
    }
}
