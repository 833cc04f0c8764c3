//! The index file (ARCHITECTURE.md §4), format version 1. Little-endian throughout.
//!
//! ```text
//! offset  size  field
//! 0       8     magic "GEODEXIX"
//! 8       4     format version (1)
//! 12      4     header size (128)
//! 16      4     metric code (0 l2, 1 ip, 2 cosine, 3 poincare)
//! 20      4     element code (0 f32, 1 u8)
//! 24      4     dimension
//! 28      4     M
//! 32      4     M0
//! 36      4     ef_construction
//! 40      8     vector count N
//! 48      4     entry point (node id)
//! 52      4     top level
//! 56      8     seed
//! 64      4     section count S
//! 68      4     quantiser code (0 none, 1 sq8, 2 pq8, 3 pq4, 4 proj, 5 proj-sparse, 6 proj-orth,
//!               7 rabitq)
//! 72      4     PQ sub-spaces m, the projection's k or RaBitQ's bits (0 for none and sq8)
//! 76      4     level-0 layout (0 fixed rows, 1 compressed)
//! 80      4     slot bytes of the compressed layout (0 for fixed rows)
//! 84      36    zero
//! 120     8     xxh3-64 of bytes 0..120 followed by the section table
//! 128     32·S  section table: kind u32, zero u32, offset u64, length u64 (bytes), xxh3-64 u64
//! …             sections, each starting at a multiple of 64
//! ```
//! Sections (kind: content): 1 vectors (N·dim elements), 2 levels (N × u8), 3 level-0 links
//! (N × (1+M0) × u32: count, links, zero padding), 4 upper offsets ((N+1) × u64, in u32 words),
//! 5 upper links (u32), 6 keys (N × u64), 7 tombstones (⌈N/64⌉ × u64 bit set), 8 metadata (JSON);
//! only in quantised files: 9 codebook (f32, [`geodex_quant::codec::Codec::parameters`]),
//! 10 codes (N × code bytes, node by node); optional: 11 stop model (JSON,
//! [`crate::StopModel`], written by `geodex learn-stop`); 12 compressed level-0 links
//! (`crate::graph::packed`: n slots, the spill area, 8 zero bytes), in place of section 3 in a
//! file written with `--links compressed`. Files without a quantiser, a stop model or
//! compressed links are byte-identical to those written before any of them existed.
//!
//! Opening ([`crate::AnyIndex::open`]) checks, before any search can run: magic, version, header checksum, every section's
//! bounds, alignment, length and checksum, and the graph's content (levels ≤ top, the entry point
//! on the top level, offsets consistent with levels, list lengths ≤ bounds, every link id < N
//! and on a node that has that level, no self-links), finite vectors and unique keys, and for a
//! quantised file a known quantiser, a codebook of the exact size with finite values, and codes
//! of the exact size.

use std::path::Path;
use std::sync::Arc;

use geodex_distance::{ElementKind, Isa, Metric};
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

use crate::buf::{Backing, Buf};
use crate::graph::packed::PackedRows;
use crate::graph::{FrozenGraph, Level0};
use crate::index::Index;
use crate::levels::MAX_LEVEL;
use crate::quantized::Quantized;
use crate::AnyIndex;
use crate::{Codec, CodecSpec, Component, CoreError};
use geodex_quant::projection::ProjectionKind;

/// The file's first eight bytes.
pub const MAGIC: &[u8; 8] = b"GEODEXIX";
/// The format version this build writes and reads.
pub const VERSION: u32 = 1;
const HEADER_BYTES: usize = 128;
const ENTRY_BYTES: usize = 32;
const ALIGN: usize = 64;

/// Section kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
enum Kind {
    Vectors = 1,
    Levels = 2,
    Level0 = 3,
    UpperOffsets = 4,
    Upper = 5,
    Keys = 6,
    Tombstones = 7,
    Metadata = 8,
    Codebook = 9,
    Codes = 10,
    StopModel = 11,
    Level0Packed = 12,
}

const KINDS: [Kind; 12] = [
    Kind::Vectors,
    Kind::Levels,
    Kind::Level0,
    Kind::UpperOffsets,
    Kind::Upper,
    Kind::Keys,
    Kind::Tombstones,
    Kind::Metadata,
    Kind::Codebook,
    Kind::Codes,
    Kind::StopModel,
    Kind::Level0Packed,
];

/// The header's quantiser code and PQ sub-space count.
fn quant_code(quant: Option<&Codec>) -> (u32, u32) {
    match quant.map(Codec::spec) {
        None => (0, 0),
        Some(CodecSpec::Sq8) => (1, 0),
        Some(CodecSpec::Pq { m, bits: 8 }) => (2, m as u32),
        Some(CodecSpec::Pq { m, .. }) => (3, m as u32),
        Some(CodecSpec::Projection {
            k,
            kind: ProjectionKind::Gaussian,
        }) => (4, k as u32),
        Some(CodecSpec::Projection {
            k,
            kind: ProjectionKind::Sparse,
        }) => (5, k as u32),
        Some(CodecSpec::Projection {
            k,
            kind: ProjectionKind::Orthogonal,
        }) => (6, k as u32),
        Some(CodecSpec::RaBitQ { bits }) => (7, bits),
    }
}

fn quant_from_code(code: u32, m: u32) -> Result<Option<CodecSpec>, Invalid> {
    let m = m as usize;
    Ok(match code {
        0 => None,
        1 => Some(CodecSpec::Sq8),
        2 => Some(CodecSpec::Pq { m, bits: 8 }),
        3 => Some(CodecSpec::Pq { m, bits: 4 }),
        4 => Some(CodecSpec::Projection {
            k: m,
            kind: ProjectionKind::Gaussian,
        }),
        5 => Some(CodecSpec::Projection {
            k: m,
            kind: ProjectionKind::Sparse,
        }),
        6 => Some(CodecSpec::Projection {
            k: m,
            kind: ProjectionKind::Orthogonal,
        }),
        7 => Some(CodecSpec::RaBitQ { bits: m as u32 }),
        c => return Err(Invalid(format!("unknown quantiser code {c}"))),
    })
}

fn element_code(k: ElementKind) -> u32 {
    match k {
        ElementKind::F32 => 0,
        ElementKind::U8 => 1,
    }
}

/// Calls `f` with the index's sections in file order, as (kind, bytes).
fn with_sections<T: Component, R>(index: &Index<T>, f: impl FnOnce(&[(Kind, &[u8])]) -> R) -> R {
    let metadata = serde_json::to_vec(&index.metadata).expect("JSON values serialise");
    let codebook = index.quant.as_ref().map(|q| q.codec.parameters());
    let stop_model = index
        .stop_model
        .as_ref()
        .map(|m| serde_json::to_vec(&**m).expect("a stop model serialises"));
    let mut sections: Vec<(Kind, &[u8])> = vec![
        (Kind::Vectors, bytemuck::cast_slice(index.vectors.as_slice())),
        (Kind::Levels, index.graph.levels.as_slice()),
        match &index.graph.level0 {
            Level0::Fixed(words) => (Kind::Level0, bytemuck::cast_slice(words.as_slice())),
            Level0::Packed { bytes, .. } => (Kind::Level0Packed, bytes.as_slice()),
        },
        (
            Kind::UpperOffsets,
            bytemuck::cast_slice(index.graph.upper_offsets.as_slice()),
        ),
        (Kind::Upper, bytemuck::cast_slice(index.graph.upper.as_slice())),
        (Kind::Keys, bytemuck::cast_slice(index.keys.as_slice())),
        (
            Kind::Tombstones,
            bytemuck::cast_slice(index.tombstones.as_slice()),
        ),
        (Kind::Metadata, &metadata),
    ];
    if let (Some(q), Some(codebook)) = (&index.quant, &codebook) {
        sections.push((Kind::Codebook, bytemuck::cast_slice(codebook)));
        sections.push((Kind::Codes, q.codes.as_slice()));
    }
    if let Some(model) = &stop_model {
        sections.push((Kind::StopModel, model));
    }
    f(&sections)
}

/// Writing: the index's file form lives here, so `index.rs` does not depend on this module.
impl<T: Component> Index<T> {
    /// Each section of the index file with its exact byte length, in file order (`Vectors`,
    /// `Levels`, `Level0`, `UpperOffsets`, `Upper`, `Keys`, `Tombstones`, `Metadata`, and for a
    /// quantised index `Codebook`, `Codes`; named as [`Kind`]).
    pub fn section_sizes(&self) -> Vec<(String, usize)> {
        with_sections(self, |sections| {
            sections
                .iter()
                .map(|(kind, bytes)| (format!("{kind:?}"), bytes.len()))
                .collect()
        })
    }

    /// Saves to `path` atomically: temporary file in the same directory, fsync, rename, fsync
    /// of the directory. A crash leaves the old file or the new one, never a mix.
    pub fn save(&self, path: &Path) -> Result<(), CoreError> {
        with_sections(self, |sections| write_sections(self, sections, path))
    }
}

fn write_sections<T: Component>(
    index: &Index<T>,
    sections: &[(Kind, &[u8])],
    path: &Path,
) -> Result<(), CoreError> {
    let mut table = Vec::with_capacity(sections.len() * ENTRY_BYTES);
    let mut offset = align_up(HEADER_BYTES + sections.len() * ENTRY_BYTES);
    for (kind, bytes) in sections {
        table.extend_from_slice(&(*kind as u32).to_le_bytes());
        table.extend_from_slice(&0u32.to_le_bytes());
        table.extend_from_slice(&(offset as u64).to_le_bytes());
        table.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        table.extend_from_slice(&xxh3_64(bytes).to_le_bytes());
        offset = align_up(offset + bytes.len());
    }
    let header = header_bytes(index, sections.len() as u32, &table);
    let io_err = |source| CoreError::Io {
        path: path.display().to_string(),
        source,
    };
    geodex_io::atomic::write_file(path, |w| {
        w.write_all(&header)?;
        w.write_all(&table)?;
        let mut at = HEADER_BYTES + table.len();
        for (_, bytes) in sections {
            let pad = align_up(at) - at;
            w.write_all(&[0u8; ALIGN][..pad])?;
            w.write_all(bytes)?;
            at += pad + bytes.len();
        }
        Ok(())
    })
    .map_err(|e| match e {
        geodex_io::IoError::Io { source, .. } => io_err(source),
        other => io_err(std::io::Error::other(other.to_string())),
    })
}

fn align_up(x: usize) -> usize {
    x.div_ceil(ALIGN) * ALIGN
}

fn header_bytes<T: Component>(index: &Index<T>, sections: u32, table: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_BYTES);
    h.extend_from_slice(MAGIC);
    for v in [
        VERSION,
        HEADER_BYTES as u32,
        index.metric.code(),
        element_code(T::KIND),
        index.dim as u32,
        index.graph.m as u32,
        index.graph.m0 as u32,
        index.ef_construction as u32,
    ] {
        h.extend_from_slice(&v.to_le_bytes());
    }
    h.extend_from_slice(&(index.len() as u64).to_le_bytes());
    h.extend_from_slice(&index.graph.entry.to_le_bytes());
    h.extend_from_slice(&(index.graph.max_level as u32).to_le_bytes());
    h.extend_from_slice(&index.seed.to_le_bytes());
    h.extend_from_slice(&sections.to_le_bytes());
    let (quant, pq_m) = quant_code(index.quant.as_ref().map(|q| &q.codec));
    h.extend_from_slice(&quant.to_le_bytes());
    h.extend_from_slice(&pq_m.to_le_bytes());
    let (layout, slot) = match &index.graph.level0 {
        Level0::Fixed(_) => (0u32, 0u32),
        Level0::Packed { slot, .. } => (1, *slot as u32),
    };
    h.extend_from_slice(&layout.to_le_bytes());
    h.extend_from_slice(&slot.to_le_bytes());
    h.resize(120, 0);
    let sum = xxh3_64(&[h.as_slice(), table].concat());
    h.extend_from_slice(&sum.to_le_bytes());
    h
}

/// A validation failure, before the file name is attached.
struct Invalid(String);

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(Invalid(format!($($fmt)+)));
        }
    };
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// One section-table entry: (kind, offset, length, checksum).
type Entry = (u32, usize, usize, u64);

/// The fixed header, decoded and range-checked.
struct Header {
    metric: Metric,
    element: ElementKind,
    dim: usize,
    m: usize,
    m0: usize,
    ef_construction: usize,
    count: usize,
    entry: u32,
    max_level: usize,
    seed: u64,
    quant: Option<CodecSpec>,
    /// Slot bytes of compressed level-0 links; `None`: fixed rows.
    packed_slot: Option<usize>,
}

fn parse_header(b: &[u8]) -> Result<(Header, Vec<Entry>), Invalid> {
    ensure!(
        b.len() >= HEADER_BYTES,
        "file is {} bytes, shorter than the {HEADER_BYTES}-byte header",
        b.len()
    );
    ensure!(&b[..8] == MAGIC, "not a geodex index (bad magic)");
    let version = u32_at(b, 8);
    ensure!(
        version == VERSION,
        "format version {version} is not supported (this geodex reads version {VERSION})"
    );
    ensure!(
        u32_at(b, 12) as usize == HEADER_BYTES,
        "unexpected header size {}",
        u32_at(b, 12)
    );
    let sections = u32_at(b, 64) as usize;
    ensure!(sections <= 64, "implausible section count {sections}");
    let table_end = HEADER_BYTES + sections * ENTRY_BYTES;
    ensure!(b.len() >= table_end, "file ends inside the section table");
    let table = &b[HEADER_BYTES..table_end];
    ensure!(
        xxh3_64(&[&b[..120], table].concat()) == u64_at(b, 120),
        "header checksum mismatch"
    );
    let metric = Metric::from_code(u32_at(b, 16))
        .ok_or_else(|| Invalid(format!("unknown metric code {}", u32_at(b, 16))))?;
    let element = match u32_at(b, 20) {
        0 => ElementKind::F32,
        1 => ElementKind::U8,
        c => return Err(Invalid(format!("unknown element code {c}"))),
    };
    let h = Header {
        metric,
        element,
        dim: u32_at(b, 24) as usize,
        m: u32_at(b, 28) as usize,
        m0: u32_at(b, 32) as usize,
        ef_construction: u32_at(b, 36) as usize,
        count: usize::try_from(u64_at(b, 40)).map_err(|_| Invalid("count overflows".into()))?,
        entry: u32_at(b, 48),
        max_level: u32_at(b, 52) as usize,
        seed: u64_at(b, 56),
        quant: quant_from_code(u32_at(b, 68), u32_at(b, 72))?,
        packed_slot: match u32_at(b, 76) {
            0 => None,
            1 => Some(u32_at(b, 80) as usize),
            c => return Err(Invalid(format!("unknown level-0 layout code {c}"))),
        },
    };
    ensure!(
        b[84..120].iter().all(|&x| x == 0) && (h.packed_slot.is_some() || u32_at(b, 80) == 0),
        "reserved header bytes are not zero"
    );
    ensure!(
        (1..=geodex_io::MAX_DIM).contains(&h.dim),
        "dimension {} out of range",
        h.dim
    );
    ensure!(
        (2..=256).contains(&h.m) && (h.m..=512).contains(&h.m0),
        "degree bounds M={} M0={} out of range",
        h.m,
        h.m0
    );
    ensure!(
        h.count >= 1 && h.count < u32::MAX as usize,
        "vector count {} out of range",
        h.count
    );
    ensure!(
        (h.entry as usize) < h.count,
        "entry point {} ≥ count {}",
        h.entry,
        h.count
    );
    ensure!(
        h.max_level <= MAX_LEVEL,
        "top level {} above {MAX_LEVEL}",
        h.max_level
    );
    let entries = table
        .chunks_exact(ENTRY_BYTES)
        .map(|e| {
            (
                u32_at(e, 0),
                u64_at(e, 8) as usize,
                u64_at(e, 16) as usize,
                u64_at(e, 24),
            )
        })
        .collect();
    Ok((h, entries))
}

/// Bytes per step of the passes that read a whole section at open (checksums, the vectors'
/// check).
const PASS_STEP: usize = 64 << 20;

/// Calls `visit` on the `len` bytes at `offset` in steps of `step` bytes (the last one shorter)
/// and, of a memory-mapped file, gives each step's pages back to the OS after its visit.
/// Opening reads the whole file once (checksums); without this every page would stay in the
/// process's resident set until the OS needed it back — at ten million vectors a 2.4 GB file for
/// an index that keeps 1.2 GB resident to search. What the searches read is faulted in again,
/// from the page cache while it is there. A failed `madvise` only leaves pages resident, so its
/// error is not one of the file's.
fn pass(
    backing: &Backing,
    offset: usize,
    len: usize,
    step: usize,
    mut visit: impl FnMut(&[u8]) -> Result<(), Invalid>,
) -> Result<(), Invalid> {
    let bytes = &backing.bytes()[offset..offset + len];
    let mut start = 0;
    for part in bytes.chunks(step.max(1)) {
        visit(part)?;
        let _ = backing.page_out(offset + start, part.len());
        start += part.len();
    }
    Ok(())
}

/// xxh3-64 of `len` bytes at `offset`, read by [`pass`]: equal to `xxh3_64` of the slice.
fn checksum(backing: &Backing, offset: usize, len: usize, step: usize) -> u64 {
    let mut hasher = Xxh3::new();
    let _ = pass(backing, offset, len, step, |part| {
        hasher.update(part);
        Ok(())
    });
    hasher.digest()
}

/// Finds section `kind`, checks bounds, alignment, checksum and (when given) its exact length.
fn section(
    backing: &Backing,
    table: &[Entry],
    kind: Kind,
    expected_len: Option<usize>,
) -> Result<(usize, usize), Invalid> {
    let b = backing.bytes();
    let mut found = table.iter().filter(|e| e.0 == kind as u32);
    let &(_, offset, len, sum) = found
        .next()
        .ok_or_else(|| Invalid(format!("missing section {kind:?}")))?;
    ensure!(found.next().is_none(), "section {kind:?} appears twice");
    ensure!(
        offset % ALIGN == 0,
        "section {kind:?} at offset {offset} is not {ALIGN}-byte aligned"
    );
    let end = offset.checked_add(len).filter(|&e| e <= b.len());
    ensure!(
        end.is_some(),
        "section {kind:?} ({len} bytes at {offset}) runs past the end of the file ({} bytes)",
        b.len()
    );
    if let Some(want) = expected_len {
        ensure!(len == want, "section {kind:?} is {len} bytes, expected {want}");
    }
    ensure!(
        checksum(backing, offset, len, PASS_STEP) == sum,
        "section {kind:?} checksum mismatch"
    );
    Ok((offset, len))
}

/// Opens and fully validates an index file. With `mmap` the file is memory-mapped (nothing is
/// copied; the OS pages it in), otherwise it is read into memory.
pub(crate) fn open(path: &Path, mmap: bool) -> Result<AnyIndex, CoreError> {
    let name = path.display().to_string();
    let io_err = |source| CoreError::Io {
        path: name.clone(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io_err)?;
    let backing = if mmap {
        // SAFETY: the mapping is read-only and geodex never modifies an index file in place
        // (saves write a new file and rename it over the old), so no writer of ours can change
        // the bytes under the mapping. Another program truncating the file while it is mapped
        // would make later reads fault (SIGBUS) — the limitation every mmap-based index shares.
        Backing::Mapped(unsafe { memmap2::Mmap::map(&file) }.map_err(io_err)?)
    } else {
        let len = file.metadata().map_err(io_err)?.len() as usize;
        let mut words = vec![0u64; len.div_ceil(8)];
        std::io::Read::read_exact(
            &mut &file,
            &mut bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..len],
        )
        .map_err(io_err)?;
        Backing::Heap { words, len }
    };
    let backing = Arc::new(backing);
    let invalid = |Invalid(reason)| CoreError::InvalidIndex {
        path: name.clone(),
        reason,
    };
    let (h, table) = parse_header(backing.bytes()).map_err(invalid)?;
    let file_bytes = backing.bytes().len() as u64;
    match h.element {
        ElementKind::F32 => Ok(AnyIndex::F32(
            load::<f32>(&backing, &h, &table, file_bytes).map_err(invalid)?,
        )),
        ElementKind::U8 => Ok(AnyIndex::U8(
            load::<u8>(&backing, &h, &table, file_bytes).map_err(invalid)?,
        )),
    }
}

fn load<T: Component>(
    backing: &Arc<Backing>,
    h: &Header,
    table: &[Entry],
    file_bytes: u64,
) -> Result<Index<T>, Invalid> {
    let b = backing.bytes();
    ensure!(
        T::supports(h.metric),
        "metric {} is not supported for {} vectors",
        h.metric,
        T::KIND.name()
    );
    let n = h.count;
    let loc = |kind, len: Option<usize>| section(backing, table, kind, len);
    let buf =
        |off, len| Buf::from_file(backing, off, len).ok_or_else(|| Invalid("misaligned section".into()));
    let vec_len = n.checked_mul(h.dim).and_then(|x| x.checked_mul(T::KIND.size()));
    let (v_off, _) = loc(
        Kind::Vectors,
        Some(vec_len.ok_or_else(|| Invalid("vector section size overflows".into()))?),
    )?;
    let (lv_off, _) = loc(Kind::Levels, Some(n))?;
    let has = |kind: Kind| table.iter().any(|e| e.0 == kind as u32);
    ensure!(
        has(Kind::Level0) != has(Kind::Level0Packed) && has(Kind::Level0Packed) == h.packed_slot.is_some(),
        "level-0 sections do not match the header's layout"
    );
    let level0 = match h.packed_slot {
        None => {
            let (off, _) = loc(Kind::Level0, Some(n * (1 + h.m0) * 4))?;
            Level0::Fixed(
                Buf::<u32>::from_file(backing, off, n * (1 + h.m0))
                    .ok_or_else(|| Invalid("misaligned level-0 links".into()))?,
            )
        }
        Some(slot) => {
            let (off, len) = loc(Kind::Level0Packed, None)?;
            Level0::Packed {
                bytes: buf(off, len)?,
                slot,
            }
        }
    };
    let (uo_off, _) = loc(Kind::UpperOffsets, Some((n + 1) * 8))?;
    let (up_off, up_len) = loc(Kind::Upper, None)?;
    let (k_off, _) = loc(Kind::Keys, Some(n * 8))?;
    let (t_off, _) = loc(Kind::Tombstones, Some(n.div_ceil(64) * 8))?;
    let (md_off, md_len) = loc(Kind::Metadata, None)?;
    ensure!(
        up_len % 4 == 0,
        "upper-link section length {up_len} is not a whole number of u32"
    );
    for (kind, _, _, _) in table {
        ensure!(
            KINDS.iter().any(|k| *k as u32 == *kind),
            "unknown section kind {kind}"
        );
    }
    let graph = FrozenGraph {
        m: h.m,
        m0: h.m0,
        entry: h.entry,
        max_level: h.max_level,
        levels: buf(lv_off, n)?,
        level0,
        upper_offsets: Buf::<u64>::from_file(backing, uo_off, n + 1)
            .ok_or_else(|| Invalid("misaligned offsets".into()))?,
        upper: Buf::<u32>::from_file(backing, up_off, up_len / 4)
            .ok_or_else(|| Invalid("misaligned upper links".into()))?,
    };
    validate_graph(&graph, n)?;
    let vectors: Buf<T> =
        Buf::from_file(backing, v_off, n * h.dim).ok_or_else(|| Invalid("misaligned vectors".into()))?;
    let row_bytes = h.dim * T::KIND.size();
    let mut row = 0;
    pass(
        backing,
        v_off,
        n * row_bytes,
        (PASS_STEP / row_bytes).max(1) * row_bytes,
        |part| {
            let rows: &[T] =
                bytemuck::try_cast_slice(part).map_err(|_| Invalid("misaligned vectors".into()))?;
            for v in rows.chunks_exact(h.dim) {
                T::check(h.metric, row, v).map_err(|e| Invalid(format!("stored vector invalid: {e}")))?;
                row += 1;
            }
            Ok(())
        },
    )?;
    let keys: Buf<u64> =
        Buf::from_file(backing, k_off, n).ok_or_else(|| Invalid("misaligned keys".into()))?;
    let tombstones: Buf<u64> = Buf::from_file(backing, t_off, n.div_ceil(64))
        .ok_or_else(|| Invalid("misaligned tombstones".into()))?;
    // A replaced key is held by its deleted old node and its live new one: unique among live.
    let mut sorted: Vec<u64> = (0..n as u32)
        .filter(|&u| crate::query::is_live(tombstones.as_slice(), u))
        .map(|u| keys.as_slice()[u as usize])
        .collect();
    sorted.sort_unstable();
    ensure!(
        sorted.windows(2).all(|w| w[0] != w[1]),
        "duplicate keys among live nodes"
    );
    let tail_bits = n % 64;
    if tail_bits != 0 {
        let last = *tombstones.as_slice().last().expect("n ≥ 1");
        ensure!(last >> tail_bits == 0, "tombstone bits set beyond the last node");
    }
    let has_tombstones = tombstones.as_slice().iter().any(|&w| w != 0);
    ensure!(
        h.quant.is_none() || h.metric != Metric::Poincare,
        "a quantised index under the Poincaré metric (codes are Euclidean)"
    );
    ensure!(
        h.quant.is_some()
            || !table
                .iter()
                .any(|e| e.0 == Kind::Codebook as u32 || e.0 == Kind::Codes as u32),
        "codebook or codes section in a file without a quantiser"
    );
    let quant = h
        .quant
        .map(|spec| load_quantized(backing, table, spec, h.dim, n))
        .transpose()?;
    let metadata = serde_json::from_slice(&b[md_off..md_off + md_len])
        .map_err(|e| Invalid(format!("metadata is not JSON: {e}")))?;
    let stop_model = if table.iter().any(|e| e.0 == Kind::StopModel as u32) {
        let (off, len) = loc(Kind::StopModel, None)?;
        let model: crate::StopModel = serde_json::from_slice(&b[off..off + len])
            .map_err(|e| Invalid(format!("stop model is not a valid model: {e}")))?;
        model
            .validate(h.metric, h.dim)
            .map_err(|e| Invalid(e.to_string()))?;
        Some(Arc::new(model))
    } else {
        None
    };
    let engine = crate::engine::engine(h.metric, Isa::detect()).map_err(|e| Invalid(e.to_string()))?;
    Ok(Index {
        metric: h.metric,
        dim: h.dim,
        ef_construction: h.ef_construction,
        seed: h.seed,
        vectors,
        graph,
        quant,
        keys,
        tombstones,
        has_tombstones,
        metadata,
        engine,
        file_bytes: Some(file_bytes),
        byte_walk: true,
        code_walk: true,
        link_codes: None,
        bytes: std::sync::OnceLock::new(),
        stop_model,
    })
}

/// The codebook and codes of a quantised file, checked: the codebook has the size the header's
/// quantiser implies and finite values, the codes section exactly N codes. Every byte value is
/// a valid SQ8, PQ or RaBitQ bit-plane code; a RaBitQ code's three factors must be finite and
/// ≥ 0 ([`Codec::check_codes`]).
fn load_quantized(
    backing: &Arc<Backing>,
    table: &[Entry],
    spec: CodecSpec,
    dim: usize,
    n: usize,
) -> Result<Quantized, Invalid> {
    let b = backing.bytes();
    let (cb_off, cb_len) = section(backing, table, Kind::Codebook, None)?;
    ensure!(
        cb_len % 4 == 0,
        "codebook length {cb_len} is not a whole number of f32"
    );
    let params: &[f32] = bytemuck::try_cast_slice(&b[cb_off..cb_off + cb_len])
        .map_err(|_| Invalid("misaligned codebook".into()))?;
    let codec = Codec::from_parameters(spec, dim, params).map_err(|e| Invalid(format!("codebook: {e}")))?;
    let len = n * codec.code_bytes();
    let (c_off, _) = section(backing, table, Kind::Codes, Some(len))?;
    let codes = Buf::from_file(backing, c_off, len).ok_or_else(|| Invalid("misaligned codes".into()))?;
    codec
        .check_codes(codes.as_slice())
        .map_err(|e| Invalid(format!("codes: {e}")))?;
    Ok(Quantized { codec, codes })
}

/// Checks the graph arrays of an opened file: every invariant search relies on to stay in
/// bounds, plus the ones a correct build guarantees (no self-links).
fn validate_graph(g: &FrozenGraph, n: usize) -> Result<(), Invalid> {
    let levels = g.levels.as_slice();
    let offsets = g.upper_offsets.as_slice();
    let upper = g.upper.as_slice();
    ensure!(
        levels[g.entry as usize] as usize == g.max_level,
        "entry point is not on the top level"
    );
    ensure!(offsets[0] == 0, "upper offsets do not start at 0");
    ensure!(
        offsets[n] as usize == upper.len(),
        "upper offsets end at {} but the section holds {} words",
        offsets[n],
        upper.len()
    );
    let check_list = |node: usize, level: usize, list: &[u32], bound: usize| -> Result<(), Invalid> {
        let count = list[0] as usize;
        ensure!(
            count <= bound,
            "node {node} level {level}: {count} links exceed the bound {bound}"
        );
        for &t in &list[1..1 + count] {
            ensure!(
                (t as usize) < n,
                "node {node} level {level}: link {t} ≥ count {n}"
            );
            ensure!(t as usize != node, "node {node} level {level}: self-link");
            ensure!(
                levels[t as usize] as usize >= level,
                "node {node} level {level}: link to {t}, which has no level {level}"
            );
        }
        Ok(())
    };
    if let Level0::Packed { bytes, slot } = &g.level0 {
        PackedRows::new(bytes.as_slice(), *slot, n)
            .validate(g.m0)
            .map_err(Invalid)?;
    }
    for node in 0..n {
        let level = levels[node] as usize;
        // A deleted node may sit above the top level: the entry moves down when it is deleted.
        ensure!(level <= MAX_LEVEL, "node {node}: level {level} above {MAX_LEVEL}");
        if let Level0::Fixed(words) = &g.level0 {
            check_list(node, 0, &words.as_slice()[node * (1 + g.m0)..][..1 + g.m0], g.m0)?;
        }
        let (start, end) = (offsets[node] as usize, offsets[node + 1] as usize);
        ensure!(
            start <= end && end <= upper.len() && end - start == level * (1 + g.m),
            "node {node}: upper offsets inconsistent with its level"
        );
        for l in 1..=level {
            check_list(node, l, &upper[start + (l - 1) * (1 + g.m)..][..1 + g.m], g.m)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stepped checksum of the open equals the one-shot xxh3 of the slice whatever the step
    /// and the offset, on a heap copy and on a mapping whose pages it gives back as it goes —
    /// and the mapping reads the same bytes afterwards.
    #[test]
    fn stepped_checksums_equal_one_shot_checksums() {
        let bytes: Vec<u8> = (0..100_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, &bytes).unwrap();
        // SAFETY: the temporary file is private to this test and not written while mapped.
        let mapped = Backing::Mapped(unsafe { memmap2::Mmap::map(file.as_file()) }.unwrap());
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()].copy_from_slice(&bytes);
        let heap = Backing::Heap {
            words,
            len: bytes.len(),
        };
        for backing in [&heap, &mapped] {
            for (offset, len) in [(0, bytes.len()), (4096, 70_001), (13, 200), (5, 0)] {
                for step in [1, 7, 4096, 65_536, PASS_STEP] {
                    assert_eq!(
                        checksum(backing, offset, len, step),
                        xxh3_64(&bytes[offset..offset + len]),
                        "offset {offset}, {len} bytes, step {step}"
                    );
                }
            }
            assert_eq!(backing.bytes(), &bytes[..]);
        }
    }
}
