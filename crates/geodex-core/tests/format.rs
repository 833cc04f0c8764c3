//! The index file: round trips bit for bit, rejects every corruption, and the golden file.

use std::path::{Path, PathBuf};

use geodex_core::{
    AnyIndex, BuildParams, CodecSpec, CoreError, Index, LinkLayout, Metric, ProjectionKind, SearchContext,
    SearchParams,
};
use geodex_testkit::clustered;
use geodex_testkit::index_file::{fix_checksums, section, section_ranges};
use proptest::prelude::*;

fn no_progress(_: usize) {}

fn small_index(n: usize, dim: usize, metric: Metric, seed: u64) -> Index<f32> {
    quantized_index(n, dim, metric, seed, None)
}

fn quantized_index(n: usize, dim: usize, metric: Metric, seed: u64, quant: Option<CodecSpec>) -> Index<f32> {
    let p = BuildParams {
        metric,
        m: 6,
        ef_construction: 40,
        seed,
        threads: Some(1),
        quant,
        ..Default::default()
    };
    Index::build(clustered(n, dim, 4, 0.5, seed), dim, &p, &no_progress).unwrap()
}

fn results<T: geodex_core::Component>(ix: &Index<T>, queries: &[T]) -> Vec<(u64, u32)> {
    results_with(ix, queries, &SearchParams::new(5, 20))
}

fn results_with<T: geodex_core::Component>(
    ix: &Index<T>,
    queries: &[T],
    params: &SearchParams<'_>,
) -> Vec<(u64, u32)> {
    let mut ctx = SearchContext::new();
    queries
        .chunks_exact(ix.dim())
        .flat_map(|q| ix.search(q, params, &mut ctx).unwrap().0)
        .map(|h| (h.key.0, h.distance.to_bits()))
        .collect()
}

fn as_f32(ix: AnyIndex) -> Index<f32> {
    match ix {
        AnyIndex::F32(i) => i,
        AnyIndex::U8(_) => panic!("expected an f32 index"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn build_save_open_gives_identical_results(
        n in 1usize..300, dim in 1usize..20, seed in any::<u64>(), metric_code in 0u32..3, mmap in any::<bool>(),
        compressed in any::<bool>()
    ) {
        let metric = Metric::from_code(metric_code).unwrap();
        let mut ix = small_index(n, dim, metric, seed);
        if compressed {
            ix.set_link_layout(LinkLayout::Compressed);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i.gdx");
        ix.save(&path).unwrap();
        let opened = as_f32(AnyIndex::open(&path, mmap).unwrap());
        let queries = clustered(10, dim, 4, 0.5, seed ^ 1);
        prop_assert_eq!(results(&ix, &queries), results(&opened, &queries));
        prop_assert_eq!(opened.info().levels, ix.info().levels);
        // Saving the opened index reproduces the file byte for byte.
        let again = dir.path().join("j.gdx");
        opened.save(&again).unwrap();
        prop_assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(&again).unwrap());
    }
}

/// Every codec, with PQ4 at an odd m (a half-used last byte).
const QUANTS: [CodecSpec; 9] = [
    CodecSpec::Sq8,
    CodecSpec::Pq { m: 4, bits: 8 },
    CodecSpec::Pq { m: 4, bits: 4 },
    CodecSpec::Pq { m: 3, bits: 4 },
    CodecSpec::Projection {
        k: 5,
        kind: ProjectionKind::Gaussian,
    },
    CodecSpec::Projection {
        k: 7,
        kind: ProjectionKind::Sparse,
    },
    CodecSpec::Projection {
        k: 6,
        kind: ProjectionKind::Orthogonal,
    },
    CodecSpec::RaBitQ { bits: 1 },
    CodecSpec::RaBitQ { bits: 3 },
];

#[test]
fn quantized_indexes_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    for (i, quant) in QUANTS.into_iter().enumerate() {
        for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
            let ix = quantized_index(400, 12, metric, i as u64, Some(quant));
            let path = dir.path().join("q.gdx");
            ix.save(&path).unwrap();
            let queries = clustered(10, 12, 4, 0.5, 9);
            for mmap in [true, false] {
                let opened = as_f32(AnyIndex::open(&path, mmap).unwrap());
                let codebook = |i: &Index<f32>| i.quantizer().map(|q| (q.spec(), q.parameters()));
                assert_eq!(codebook(&opened), codebook(&ix), "{quant:?} {metric}");
                for rerank in [0, 8] {
                    let p = SearchParams {
                        rerank,
                        ..SearchParams::new(5, 20)
                    };
                    assert_eq!(
                        results_with(&ix, &queries, &p),
                        results_with(&opened, &queries, &p)
                    );
                }
                let (a, b) = (ix.info(), opened.info());
                assert_eq!((a.quant, a.pq_m, a.ram_bytes), (b.quant, b.pq_m, b.ram_bytes));
                let again = dir.path().join("again.gdx");
                opened.save(&again).unwrap();
                assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(&again).unwrap());
            }
        }
    }
}

#[test]
fn a_corrupt_quantized_file_is_rejected() {
    let ix = quantized_index(300, 8, Metric::L2, 4, Some(CodecSpec::Pq { m: 2, bits: 8 }));
    let bytes = saved_bytes(&ix);
    let sections = section_ranges(&bytes);
    assert_eq!(sections.len(), 10, "codebook and codes sections");
    for &(off, len) in &sections[8..] {
        for i in (off..off + len).step_by(5) {
            let mut b = bytes.clone();
            b[i] ^= 0x21;
            expect_invalid(&b, &format!("quantised byte {i} flipped"));
        }
    }
    for cut in (sections[8].0..bytes.len()).step_by(11) {
        expect_invalid(&bytes[..cut], &format!("truncated at {cut}"));
    }
}

/// A RaBitQ code's centre and factors are part of the distance: a centre that does not exist,
/// a non-finite factor or a negative scale is refused on open even when every checksum matches,
/// and so is a rotation that is not orthonormal.
#[test]
fn a_rabitq_file_with_bad_factors_or_a_bent_rotation_is_rejected() {
    let ix = quantized_index(300, 12, Metric::L2, 4, Some(CodecSpec::RaBitQ { bits: 2 }));
    let bytes = saved_bytes(&ix);
    let code_bytes = ix.quantizer().unwrap().code_bytes();
    let (codes, _) = section(&bytes, 10);
    let (codebook, _) = section(&bytes, 9);
    // A code ends with its centre (u16) and the factors b, a, e (f32).
    let tail = |node: usize, at: usize| codes + node * code_bytes + code_bytes - 14 + at;
    let centres = ix.info().rabitq_centres;
    let cases: [(usize, Vec<u8>, &str); 5] = [
        (tail(7, 6), (-1.0f32).to_le_bytes().into(), "codes"),
        (tail(200, 2), f32::NAN.to_le_bytes().into(), "codes"),
        (tail(299, 10), f32::INFINITY.to_le_bytes().into(), "codes"),
        (tail(5, 0), (centres as u16).to_le_bytes().into(), "centre"),
        (
            codebook + 4 * (12 * centres + 5),
            0.9f32.to_le_bytes().into(),
            "orthonormal",
        ),
    ];
    for (at, value, what) in cases {
        let mut b = bytes.clone();
        b[at..at + value.len()].copy_from_slice(&value);
        fix_checksums(&mut b);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.gdx");
        std::fs::write(&path, &b).unwrap();
        match AnyIndex::open(&path, true) {
            Err(CoreError::InvalidIndex { reason, .. }) => assert!(reason.contains(what), "{reason}"),
            other => panic!("byte {at}: accepted or wrong error: {other:?}"),
        }
    }
    let mut b = bytes.clone();
    fix_checksums(&mut b);
    assert_eq!(b, bytes, "re-sealing an intact file changes nothing");
}

/// A well-formed file whose header says Poincaré but holds codes (which are Euclidean) is
/// refused: the header is patched and its checksum recomputed, so only the rule can catch it.
#[test]
fn a_quantised_poincare_file_is_rejected() {
    // Vectors well inside the unit ball, so the Poincaré vector check passes and only the rule
    // about codes can reject the file.
    let data: Vec<f32> = clustered(300, 8, 4, 0.5, 4).iter().map(|x| x * 0.01).collect();
    let p = BuildParams {
        quant: Some(CodecSpec::Sq8),
        threads: Some(1),
        ..Default::default()
    };
    let ix = Index::build(data, 8, &p, &no_progress).unwrap();
    let mut b = saved_bytes(&ix);
    b[16..20].copy_from_slice(&Metric::Poincare.code().to_le_bytes());
    fix_checksums(&mut b);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.gdx");
    std::fs::write(&path, &b).unwrap();
    match AnyIndex::open(&path, true) {
        Err(CoreError::InvalidIndex { reason, .. }) => assert!(reason.contains("Poincaré"), "{reason}"),
        other => panic!("accepted or wrong error: {other:?}"),
    }
}

#[test]
fn u8_index_round_trips() {
    let dim = 16;
    let data = geodex_testkit::clustered_u8(500, dim, 5, 3);
    let p = BuildParams {
        m: 8,
        ef_construction: 50,
        threads: Some(1),
        ..Default::default()
    };
    let ix = Index::build(data.clone(), dim, &p, &no_progress).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.gdx");
    ix.save(&path).unwrap();
    let AnyIndex::U8(opened) = AnyIndex::open(&path, true).unwrap() else {
        panic!("element type lost")
    };
    assert_eq!(
        results(&ix, &data[..10 * dim]),
        results(&opened, &data[..10 * dim])
    );
    assert!(opened.info().mmap);
}

fn expect_invalid(bytes: &[u8], what: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.gdx");
    std::fs::write(&path, bytes).unwrap();
    for mmap in [true, false] {
        match AnyIndex::open(&path, mmap) {
            Err(CoreError::InvalidIndex { path: p, reason }) => {
                assert!(p.ends_with("bad.gdx"));
                assert!(!reason.contains('\n'), "multi-line reason: {reason}");
            }
            Err(other) => panic!("{what}: wrong error {other:?}"),
            Ok(_) => panic!("{what}: corrupt file accepted"),
        }
    }
}

fn saved_bytes(ix: &Index<f32>) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.gdx");
    ix.save(&path).unwrap();
    std::fs::read(path).unwrap()
}

#[test]
fn every_truncation_is_rejected() {
    let bytes = saved_bytes(&small_index(120, 5, Metric::L2, 1));
    for cut in (0..bytes.len()).step_by(7).chain([bytes.len() - 1]) {
        expect_invalid(&bytes[..cut], &format!("truncated at {cut}"));
    }
}

#[test]
fn a_flipped_byte_anywhere_is_rejected() {
    let mut compressed = small_index(120, 5, Metric::Cosine, 2);
    compressed.set_link_layout(LinkLayout::Compressed);
    for ix in [small_index(120, 5, Metric::Cosine, 2), compressed] {
        every_flip_is_rejected(&saved_bytes(&ix));
    }
}

fn every_flip_is_rejected(bytes: &[u8]) {
    // Every byte of the header and table, then a stride through every section. Flips inside
    // the zero padding between sections are harmless by design and not covered by checksums.
    let sections = section_ranges(bytes);
    let in_section = |i: usize| sections.iter().any(|&(o, l)| i >= o && i < o + l);
    let header_end = 128 + 32 * sections.len();
    for i in (0..bytes.len())
        .filter(|&i| i < header_end || in_section(i))
        .step_by(3)
    {
        let mut b = bytes.to_vec();
        b[i] ^= 0x5A;
        expect_invalid(&b, &format!("byte {i} flipped"));
    }
}

#[test]
fn sections_are_64_byte_aligned() {
    let bytes = saved_bytes(&small_index(77, 3, Metric::L2, 5));
    let ranges = section_ranges(&bytes);
    assert_eq!(ranges.len(), 8);
    assert!(ranges.iter().all(|&(o, _)| o % 64 == 0));
}

#[test]
fn a_missing_file_is_an_io_error() {
    assert!(matches!(
        AnyIndex::open(Path::new("/nonexistent/x.gdx"), true),
        Err(CoreError::Io { .. })
    ));
}

/// The golden file: a small byte-vector index built with fixed data and seed on one thread,
/// committed in `testdata/`. Byte data makes every distance an exact integer, so the file is the
/// same on every instruction set. Opening it pins the reader to format version 1; rebuilding it
/// pins the writer and the algorithm. A deliberate change regenerates it with
/// `GEODEX_BLESS=1 cargo test -p geodex-core --test format golden` (and a format change must bump
/// `format::VERSION`).
#[test]
fn golden_index_file() {
    let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/golden-v1.gdx");
    let dim = 8;
    let data = geodex_testkit::clustered_u8(200, dim, 4, 2024);
    let p = BuildParams {
        m: 6,
        ef_construction: 40,
        seed: 2024,
        threads: Some(1),
        ..Default::default()
    };
    let built = Index::build(data.clone(), dim, &p, &no_progress).unwrap();
    if std::env::var_os("GEODEX_BLESS").is_some() {
        built.save(&golden).unwrap();
    }
    let AnyIndex::U8(opened) = AnyIndex::open(&golden, true).expect("golden file opens") else {
        panic!("golden is u8")
    };
    let info = opened.info();
    assert_eq!(
        (
            info.count,
            info.dim,
            info.m,
            info.m0,
            info.ef_construction,
            info.seed
        ),
        (200, 8, 6, 12, 40, 2024)
    );
    assert_eq!((info.metric.as_str(), info.element.as_str()), ("l2", "u8"));
    assert_eq!(
        results(&opened, &data[..5 * dim]),
        results(&built, &data[..5 * dim])
    );
    let dir = tempfile::tempdir().unwrap();
    built.save(&dir.path().join("now.gdx")).unwrap();
    assert_eq!(
        std::fs::read(&golden).unwrap(),
        std::fs::read(dir.path().join("now.gdx")).unwrap(),
        "writer output changed: bless, and bump VERSION if the format changed"
    );
}

/// A memory-mapped quantised file whose walk sections are copied to the heap and whose vector
/// pages are given back (what `geodex bench --cold` does) answers exactly as before, re-ranking
/// included, for both level-0 layouts; a heap-loaded file accepts the same calls.
#[test]
fn loading_resident_sections_and_releasing_vectors_changes_no_answer() {
    let dir = tempfile::tempdir().unwrap();
    let queries = clustered(20, 12, 4, 0.5, 77);
    let p = SearchParams {
        rerank: 16,
        ..SearchParams::new(5, 24)
    };
    for layout in [LinkLayout::Fixed, LinkLayout::Compressed] {
        let mut ix = quantized_index(500, 12, Metric::L2, 3, Some(CodecSpec::Pq { m: 4, bits: 8 }));
        ix.set_link_layout(layout);
        let path = dir.path().join("r.gdx");
        ix.save(&path).unwrap();
        let want = results_with(&ix, &queries, &p);
        for mmap in [true, false] {
            let mut opened = as_f32(AnyIndex::open(&path, mmap).unwrap());
            opened.load_resident();
            opened.release_vectors().unwrap();
            assert_eq!(
                results_with(&opened, &queries, &p),
                want,
                "{layout:?}, mmap {mmap}"
            );
            opened.release_vectors().unwrap();
            assert_eq!(
                results_with(&opened, &queries, &p),
                want,
                "{layout:?} released twice"
            );
        }
    }
}
