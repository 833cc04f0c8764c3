//! Compressed level-0 links (`build --links compressed`): the same graph as fixed rows, so the
//! same search — results, distances and work — in every walk, through save and open; about half
//! the bytes; and a file whose compressed lists are corrupt is rejected or searched safely.

use geodex_core::{
    check_graph, AnyIndex, BuildParams, CodecSpec, Component, CoreError, Index, LinkLayout, Metric,
    SearchContext, SearchParams, SearchStats,
};
use geodex_testkit::index_file::{fix_checksums, section};
use geodex_testkit::{clustered, clustered_u8};

fn build<T: Component>(
    data: Vec<T>,
    dim: usize,
    metric: Metric,
    quant: Option<CodecSpec>,
    links: LinkLayout,
) -> Index<T> {
    let p = BuildParams {
        metric,
        m: 8,
        ef_construction: 60,
        threads: Some(1),
        quant,
        links,
        ..Default::default()
    };
    Index::build(data, dim, &p, &|_| {}).unwrap()
}

/// Every query's hits (key, distance bits) and the summed work.
fn answers<T: Component>(ix: &Index<T>, queries: &[T]) -> (Vec<(u64, u32)>, SearchStats) {
    let mut ctx = SearchContext::new();
    let mut total = SearchStats::default();
    let mut hits = Vec::new();
    for q in queries.chunks_exact(ix.dim()) {
        let (h, s) = ix.search(q, &SearchParams::new(10, 40), &mut ctx).unwrap();
        hits.extend(h.iter().map(|h| (h.key.0, h.distance.to_bits())));
        total += s;
    }
    (hits, total)
}

fn reopen<T: Component>(ix: &Index<T>, mmap: bool) -> AnyIndex {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.gdx");
    ix.save(&path).unwrap();
    AnyIndex::open(&path, mmap).unwrap()
}

/// The opened index as its element type.
fn typed<T: Component>(any: AnyIndex) -> Index<T> {
    let boxed: Box<dyn std::any::Any> = match any {
        AnyIndex::F32(i) => Box::new(i),
        AnyIndex::U8(i) => Box::new(i),
    };
    *boxed.downcast().expect("element type kept")
}

/// Builds both layouts and checks they answer alike, before and after a save and open.
fn same_answers<T: Component>(
    data: &[T],
    dim: usize,
    metric: Metric,
    quant: Option<CodecSpec>,
    queries: &[T],
) {
    let fixed = build(data.to_vec(), dim, metric, quant, LinkLayout::Fixed);
    let packed = build(data.to_vec(), dim, metric, quant, LinkLayout::Compressed);
    let what = format!("{metric} {quant:?}");
    assert!(check_graph(&packed.graph()).is_valid(), "{what}");
    let want = answers(&fixed, queries);
    assert!(want.1.distances > 0);
    assert_eq!(answers(&packed, queries), want, "{what}");
    let (f, p) = (fixed.info(), packed.info());
    assert_eq!((f.links, p.links), (LinkLayout::Fixed, LinkLayout::Compressed));
    assert!(
        (p.level0_bytes as f64) < 0.6 * f.level0_bytes as f64,
        "{what}: {} compressed bytes against {} fixed",
        p.level0_bytes,
        f.level0_bytes
    );
    assert_eq!(
        p.ram_bytes + f.level0_bytes,
        f.ram_bytes + p.level0_bytes,
        "{what}"
    );
    for mmap in [true, false] {
        let opened: Index<T> = typed(reopen(&packed, mmap));
        assert_eq!(answers(&opened, queries), want, "{what} reopened (mmap {mmap})");
        assert_eq!(opened.info().level0_bytes, p.level0_bytes);
    }
    let mut back = packed.clone();
    back.set_link_layout(LinkLayout::Fixed);
    assert_eq!(answers(&back, queries), want, "{what} decompressed");
}

#[test]
fn compressed_links_answer_like_fixed_rows() {
    let dim = 12;
    let data = clustered(1500, dim, 6, 0.6, 3);
    let queries = clustered(40, dim, 6, 0.6, 99);
    for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
        same_answers(&data, dim, metric, None, &queries);
    }
    for quant in [CodecSpec::Sq8, CodecSpec::Pq { m: 4, bits: 4 }] {
        same_answers(&data, dim, Metric::L2, Some(quant), &queries);
    }
    let bytes = clustered_u8(1500, dim, 6, 4);
    same_answers(&bytes, dim, Metric::L2, None, &clustered_u8(40, dim, 6, 98));
    let ball: Vec<f32> = data.iter().map(|x| x * 0.05).collect();
    let ball_queries: Vec<f32> = queries.iter().map(|x| x * 0.05).collect();
    same_answers(&ball, dim, Metric::Poincare, None, &ball_queries);
}

/// Flips bytes of the compressed section with every checksum recomputed, so that only the
/// structural validation stands between the bytes and the decoder: each file is rejected
/// with a typed error, or opens with every graph invariant but reachability intact and
/// searches without a panic, returning stored keys.
#[test]
fn corrupt_compressed_lists_are_rejected_or_searched_safely() {
    let dim = 6;
    let ix = build(
        clustered(300, dim, 4, 0.5, 5),
        dim,
        Metric::L2,
        None,
        LinkLayout::Compressed,
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.gdx");
    ix.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let (off, len) = section(&bytes, 12);
    let queries = clustered(5, dim, 4, 0.5, 6);
    let (mut rejected, mut accepted) = (0, 0);
    for at in (off..off + len).step_by(3) {
        for flip in [0x01u8, 0x10, 0xff] {
            let mut b = bytes.clone();
            b[at] ^= flip;
            fix_checksums(&mut b);
            std::fs::write(&path, &b).unwrap();
            match AnyIndex::open(&path, true) {
                Err(CoreError::InvalidIndex { .. }) => rejected += 1,
                Err(other) => panic!("byte {at}: wrong error {other:?}"),
                Ok(AnyIndex::F32(opened)) => {
                    accepted += 1;
                    let report = check_graph(&opened.graph());
                    let broken =
                        report.out_of_range + report.self_links + report.duplicates + report.over_degree;
                    assert_eq!(
                        broken, 0,
                        "byte {at}: an accepted file breaks an invariant: {report:?}"
                    );
                    let mut ctx = SearchContext::new();
                    for q in queries.chunks_exact(dim) {
                        let (hits, _) = opened.search(q, &SearchParams::new(5, 20), &mut ctx).unwrap();
                        assert!(hits.iter().all(|h| h.key.0 < 300));
                    }
                }
                Ok(AnyIndex::U8(_)) => panic!("element type changed"),
            }
        }
    }
    // A flipped gap bit often names another valid node: both outcomes must occur.
    assert!(
        rejected > 0 && accepted > 0,
        "{rejected} rejected, {accepted} accepted"
    );
}
