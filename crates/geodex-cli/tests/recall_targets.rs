//! The recall targets, on real data small enough for CI: recall@10 ≥ 0.95 at some
//! ef ≤ 128 and ≥ 0.99 at some ef ≤ 512, with M = 16 and ef_construction = 200.
//! SIFT: the bundled 20k slice of `sift-debian` (u8, L2). Text: all of `minilm-words-20k`
//! (384-d, cosine) from `../shared`. The 100k SIFT figures are in BENCHMARKS.md.

mod common;

use common::*;
use serde_json::Value;

fn best_recall_up_to(rows: &[Value], max_ef: u64) -> f64 {
    rows.iter()
        .filter(|r| r["ef"].as_u64().unwrap() <= max_ef)
        .map(|r| r["recall"].as_f64().unwrap())
        .fold(0.0, f64::max)
}

fn check(data: &str, queries: &str, gt: &str, metric: &str) {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("i.gdx");
    ok(&[
        "build",
        "--data",
        data,
        "--out",
        s(&index),
        "--metric",
        metric,
        "--m",
        "16",
        "--ef-construction",
        "200",
        "--quiet",
    ]);
    let info: Value = serde_json::from_str(&ok(&["info", "--index", s(&index), "--json"])).unwrap();
    let g = &info["graph"];
    for key in [
        "out_of_range",
        "self_links",
        "duplicates",
        "over_degree",
        "unreachable",
    ] {
        assert_eq!(g[key], 0, "{data}: graph invariant {key} broken: {g}");
    }
    let bench: Value = serde_json::from_str(&ok(&[
        "bench",
        "--index",
        s(&index),
        "--queries",
        queries,
        "--groundtruth",
        gt,
        "--k",
        "10",
        "--ef",
        "16,32,64,128,256,512",
        "--runs",
        "1",
        "--json",
        "--quiet",
    ]))
    .unwrap();
    let rows = bench["rows"].as_array().unwrap();
    let (r128, r512) = (best_recall_up_to(rows, 128), best_recall_up_to(rows, 512));
    assert!(r128 >= 0.95, "{data}: best recall@10 with ef ≤ 128 is {r128}");
    assert!(r512 >= 0.99, "{data}: best recall@10 with ef ≤ 512 is {r512}");
}

#[test]
fn sift_20k_u8_l2() {
    let t = repo().join("testdata/sift20k");
    check(
        s(&t.join("base.bvecs")),
        s(&t.join("query.bvecs")),
        s(&t.join("groundtruth.ivecs")),
        "l2",
    );
}

#[test]
fn minilm_words_20k_cosine() {
    let d = shared_data().join("minilm-words-20k");
    check(
        s(&d.join("base.fvecs")),
        s(&d.join("query.fvecs")),
        s(&d.join("groundtruth.ivecs")),
        "cosine",
    );
}
