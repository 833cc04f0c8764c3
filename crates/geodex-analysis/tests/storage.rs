//! Bytes per section against the saved file, and the lower bounds against closed forms: a
//! complete graph's lists carry no information, constant bytes have zero entropy, positional
//! keys cost nothing, and Stirling's binomial agrees with the exact product.

mod common;

use geodex_analysis::{log2_binomial, storage_report, StorageReport};
use geodex_core::{BuildParams, CodecSpec, Heuristic, Index};
use geodex_testkit::{clustered, clustered_u8};

fn section<'a>(r: &'a StorageReport, name: &str) -> &'a geodex_analysis::SectionBytes {
    r.sections.iter().find(|s| s.section == name).unwrap()
}

#[test]
fn binomial_matches_the_exact_product_and_symmetry() {
    let exact = |n: f64, k: u64| -> f64 { (0..k).map(|i| ((n - i as f64) / (i as f64 + 1.0)).log2()).sum() };
    for (n, k) in [(1000.0, 100u64), (5000.0, 500), (1e6, 65), (1e6, 2000)] {
        let (s, e) = (log2_binomial(n, k as f64), exact(n, k));
        assert!((s - e).abs() <= 1e-6 * e, "C({n}, {k}): {s} vs {e}");
        assert!((log2_binomial(n, n - k as f64) - e).abs() <= 1e-6 * e);
    }
    assert_eq!(log2_binomial(10.0, 0.0), 0.0);
    assert_eq!(log2_binomial(10.0, 10.0), 0.0);
    assert!((log2_binomial(4.0, 2.0) - 6f64.log2()).abs() < 1e-12);
}

#[test]
fn sections_add_up_to_the_saved_file() {
    let (_, index) = common::small_index(500, 8, 3);
    let r = storage_report(&index);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("i.gdx");
    index.save(&path).unwrap();
    let file = std::fs::metadata(&path).unwrap().len() as usize;
    // Header (128) + section table (32 per section) + padding to 64-byte boundaries.
    let fixed = 128 + 32 * r.sections.len();
    assert!(r.total_bytes + fixed <= file && file < r.total_bytes + fixed + 64 * (r.sections.len() + 1));
    assert_eq!(section(&r, "Vectors").bytes, 500 * 8 * 4);
    assert_eq!(section(&r, "Keys").bytes, 500 * 8);
    assert_eq!(
        section(&r, "Keys").bound_bytes,
        Some(0.0),
        "positional keys cost nothing"
    );
    assert!(
        section(&r, "Vectors").bound_bytes.is_none(),
        "no entropy estimate for floats"
    );
    for s in &r.sections {
        if let Some(b) = s.bound_bytes {
            assert!(
                b <= s.bytes as f64 + 1e-9,
                "{}: bound {b} above the {} bytes stored",
                s.section,
                s.bytes
            );
        }
    }
}

#[test]
fn a_complete_graph_and_constant_bytes_carry_no_information() {
    // 12 nodes with M = 16, pruned candidates kept: every node links to all 11 others, the
    // only such list.
    let dim = 4;
    let mut data = clustered_u8(12, dim, 3, 1);
    for row in data.chunks_exact_mut(dim) {
        row[0] = 7; // a constant dimension: zero entropy
    }
    let params = BuildParams {
        threads: Some(1),
        heuristic: Heuristic {
            keep_pruned: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let index = Index::build(data.clone(), dim, &params, &|_| {}).unwrap();
    let g = index.graph();
    assert!((0..12u32).all(|u| geodex_core::GraphView::links(&g, u, 0).len() == 11));
    let r = storage_report(&index);
    assert_eq!(section(&r, "Level0").bound_bytes, Some(0.0));
    // Vector bound = Σ over the other dimensions of their empirical entropy, computed directly.
    let direct: f64 = (1..dim)
        .map(|j| {
            let mut counts = std::collections::HashMap::new();
            for row in data.chunks_exact(dim) {
                *counts.entry(row[j]).or_insert(0u32) += 1;
            }
            counts
                .values()
                .map(|&c| c as f64 * (12.0 / c as f64).log2())
                .sum::<f64>()
        })
        .sum();
    let got = section(&r, "Vectors").bound_bytes.unwrap() * 8.0;
    assert!((got - direct).abs() < 1e-9, "{got} vs {direct}");
}

#[test]
fn quantised_codes_are_resident_and_bounded_by_their_entropy() {
    let dim = 16;
    let data = clustered(3000, dim, 6, 0.5, 2);
    let params = BuildParams {
        threads: Some(2),
        quant: Some(CodecSpec::Pq { m: 4, bits: 8 }),
        ..Default::default()
    };
    let index = Index::build(data, dim, &params, &|_| {}).unwrap();
    let r = storage_report(&index);
    let codes = section(&r, "Codes");
    assert_eq!(codes.bytes, 3000 * 4);
    assert!(codes.resident && !section(&r, "Vectors").resident);
    // 256 centroids per sub-space: at most 8 bits per code byte, and well above zero.
    let bits_per_byte = codes.bound_bytes.unwrap() * 8.0 / codes.bytes as f64;
    assert!((4.0..=8.0).contains(&bits_per_byte), "{bits_per_byte}");
    // Resident besides the file: the quantiser's component-major copy of its centroids, as
    // many floats as the codebook (256 centroids of 16 components).
    let resident: usize = r.sections.iter().filter(|s| s.resident).map(|s| s.bytes).sum();
    assert_eq!(r.derived_bytes, 256 * dim * 4);
    assert_eq!(section(&r, "Codebook").bytes, r.derived_bytes);
    assert_eq!(resident + r.derived_bytes, index.info().ram_bytes);
}
