//! The index's exact bytes per file section next to an information-theoretic lower bound for
//! what that section encodes (issue 6 item 4; THEORY.md §1.1, §1.3).
//!
//! Each bound is a counting or entropy bound for *lossless* storage of the section's content
//! under a stated model, so "bytes ÷ bound" is the overhead of geodex's fixed-width layout:
//! - links: a list of `deg` distinct ids out of the level's other nodes is one of
//!   C(n_ℓ − 1, deg) sets, so any code that can store every such list needs log₂ C(n_ℓ − 1, deg)
//!   bits for some (order within a list carries no information for search); the same bound for
//!   the fixed rows (`Level0`) and the compressed lists (`Level0Packed`, `build --links
//!   compressed`), so the two overheads compare directly;
//! - levels: n · H(level), the empirical entropy of the level distribution (memoryless model);
//! - keys: 0 when the keys are the positions 0…n−1, else log₂ C(2⁶⁴, n) for a set of n
//!   distinct 64-bit keys (the key-to-node order is part of the graph's numbering);
//! - tombstones: log₂ C(n, deleted);
//! - codes: n · Σⱼ H(cⱼ), the empirical entropy of each code byte position (a memoryless
//!   entropy coder's floor; the rate–distortion bound of `geodex quant-report` is the floor
//!   for *any* code at the codes' distortion under a Gaussian model);
//! - byte vectors: n · Σⱼ H(xⱼ) per dimension; float vectors and the derived sections (upper
//!   offsets, which the levels determine: bound 0) are reported without an entropy estimate
//!   where one would be meaningless (distinct floats carry ~log₂ n bits of identity each).

use geodex_core::{Component, ElementKind, GraphView, Index, NodeId};
use serde::Serialize;

/// One file section.
#[derive(Clone, Debug, Serialize)]
pub struct SectionBytes {
    /// Section name as the file format calls it (`Level0`, `Codes`, …).
    pub section: String,
    /// Exact bytes in the file (padding between sections excluded).
    pub bytes: usize,
    /// Whether search keeps it resident (counted in `ram_bytes`).
    pub resident: bool,
    /// The lower bound in bytes, when one is defined for the section.
    pub bound_bytes: Option<f64>,
    /// bytes ÷ bound.
    pub overhead: Option<f64>,
}

/// All sections, with totals.
#[derive(Clone, Debug, Serialize)]
pub struct StorageReport {
    /// Section by section, in file order.
    pub sections: Vec<SectionBytes>,
    /// Sum of section bytes.
    pub total_bytes: usize,
    /// Sum of the bounds that are defined.
    pub total_bound_bytes: f64,
    /// Resident bytes that are no file section, made in memory from the file
    /// (`IndexInfo::derived_bytes`): the resident sections plus these are `ram_bytes`.
    pub derived_bytes: usize,
}

/// ln n! by Stirling's series (error below 1/(360 n³); exact table below 2).
fn ln_factorial(n: f64) -> f64 {
    if n < 2.0 {
        return 0.0;
    }
    n * n.ln() - n + 0.5 * (2.0 * std::f64::consts::PI * n).ln() + 1.0 / (12.0 * n)
}

/// log₂ C(n, k) for real n ≥ k ≥ 0: exact product for small k, Stirling otherwise.
pub fn log2_binomial(n: f64, k: f64) -> f64 {
    if k <= 0.0 || k >= n {
        return 0.0;
    }
    if k <= 64.0 {
        return (0..k as u64)
            .map(|i| ((n - i as f64) / (i as f64 + 1.0)).log2())
            .sum();
    }
    (ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k)) / std::f64::consts::LN_2
}

/// Empirical entropy in bits of the symbols counted in `counts` (total `n`), times `n`.
fn entropy_bits(counts: &[u64]) -> f64 {
    let n: u64 = counts.iter().sum();
    if n == 0 {
        return 0.0;
    }
    let nf = n as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| c as f64 * (nf / c as f64).log2())
        .sum()
}

/// n · Σⱼ H(byte position j) over rows of `width` bytes.
fn byte_columns_entropy_bits<'a>(rows: impl Iterator<Item = &'a [u8]>, width: usize) -> f64 {
    let mut counts = vec![[0u64; 256]; width];
    for row in rows {
        for (c, &b) in counts.iter_mut().zip(row) {
            c[b as usize] += 1;
        }
    }
    counts.iter().map(|c| entropy_bits(c)).sum()
}

/// Bits of the counting bound for every adjacency list on `levels` (0, or 1 and above).
fn links_bound_bits<G: GraphView>(g: &G, upper: bool, nodes_per_level: &[usize]) -> f64 {
    let mut bits = 0.0;
    for u in 0..g.node_count() as u32 {
        let levels = if upper { 1..=g.level(u) } else { 0..=0 };
        for l in levels {
            let others = nodes_per_level[l].saturating_sub(1) as f64;
            bits += log2_binomial(others, g.links(u, l).len() as f64);
        }
    }
    bits
}

/// The storage report of `index`.
pub fn storage_report<T: Component>(index: &Index<T>) -> StorageReport {
    let g = index.graph();
    let n = index.len();
    let info = index.info();
    let nodes_per_level = &info.levels;
    let mut level_counts = vec![0u64; nodes_per_level.len()];
    for u in 0..n as u32 {
        level_counts[g.level(u)] += 1;
    }
    let identity_keys = (0..n).all(|i| index.key(NodeId(i as u32)).0 == i as u64);
    let deleted = (0..n).filter(|&i| !index.is_live_node(NodeId(i as u32))).count();
    let quantised = index.quantizer().is_some();
    let bound_bits = |section: &str| -> Option<f64> {
        Some(match section {
            "Vectors" if T::KIND == ElementKind::U8 => {
                let bytes: Vec<u8> = (0..n)
                    .flat_map(|i| index.vector(NodeId(i as u32)).iter().map(|x| x.to_f32() as u8))
                    .collect();
                byte_columns_entropy_bits(bytes.chunks_exact(index.dim()), index.dim())
            }
            "Levels" => entropy_bits(&level_counts),
            "Level0" | "Level0Packed" => links_bound_bits(&g, false, nodes_per_level),
            "Upper" => links_bound_bits(&g, true, nodes_per_level),
            "UpperOffsets" => 0.0,
            "Keys" if identity_keys => 0.0,
            "Keys" => log2_binomial(2f64.powi(64), n as f64),
            "Tombstones" => log2_binomial(n as f64, deleted as f64),
            "Codes" => {
                let width = index.quantizer().map_or(0, |c| c.code_bytes());
                let rows = (0..n).filter_map(|i| index.code(NodeId(i as u32)));
                byte_columns_entropy_bits(rows, width)
            }
            _ => return None,
        })
    };
    let sections: Vec<SectionBytes> = index
        .section_sizes()
        .into_iter()
        .map(|(section, bytes)| {
            let bound_bytes = bound_bits(&section).map(|b| b / 8.0);
            let resident = match section.as_str() {
                "Vectors" => !quantised,
                "Level0" | "Level0Packed" | "Upper" | "UpperOffsets" | "Levels" | "Codebook" | "Codes" => {
                    true
                }
                _ => false,
            };
            SectionBytes {
                overhead: bound_bytes.filter(|&b| b > 0.0).map(|b| bytes as f64 / b),
                section,
                bytes,
                resident,
                bound_bytes,
            }
        })
        .collect();
    StorageReport {
        total_bytes: sections.iter().map(|s| s.bytes).sum(),
        total_bound_bytes: sections.iter().filter_map(|s| s.bound_bytes).sum(),
        derived_bytes: info.derived_bytes,
        sections,
    }
}
