//! `build --quant`, `search/bench --rerank` and `info --json` on a quantised index, on the
//! bundled 20k SIFT slice: the memory target (≤ 0.3× a flat f32 index in RAM) with recall@10
//! ≥ 0.95 after re-ranking, and bad requests refused with one line. The 100k figures are in
//! BENCHMARKS.md.

mod common;

use common::*;
use serde_json::Value;

fn sift() -> [String; 3] {
    let t = repo().join("testdata/sift20k");
    ["base.bvecs", "query.bvecs", "groundtruth.ivecs"].map(|f| s(&t.join(f)).to_string())
}

fn bench_recall(index: &str, rerank: &str) -> Vec<f64> {
    let out = bench_json(index, "32,64", &["--rerank", rerank]);
    assert_eq!(out["rerank"].as_u64().unwrap().to_string(), rerank);
    out["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["recall"].as_f64().unwrap())
        .collect()
}

/// `bench --json` of `index` at the beam widths `efs` with the search options `extra`.
fn bench_json(index: &str, efs: &str, extra: &[&str]) -> Value {
    let [_, queries, gt] = sift();
    let mut args = vec![
        "bench",
        "--index",
        index,
        "--queries",
        &queries,
        "--groundtruth",
        &gt,
        "--ef",
        efs,
        "--runs",
        "1",
        "--json",
        "--quiet",
    ];
    args.extend(extra);
    serde_json::from_str(&ok(&args)).unwrap()
}

/// `build --json` of the bundled SIFT slice into `index` with the quantiser options `quant`.
fn build_json(index: &std::path::Path, quant: &[&str]) -> Value {
    let [base, _, _] = sift();
    let mut args = vec!["build", "--data", &base, "--out", s(index), "--json", "--quiet"];
    args.extend(quant);
    serde_json::from_str(&ok(&args)).unwrap()
}

#[test]
fn pq8_with_re_ranking_meets_the_memory_and_recall_targets() {
    let [base, queries, _] = sift();
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("pq.gdx");
    let built = build_json(&index, &["--quant", "pq8", "--pq-m", "32"]);
    assert_eq!(built["quant"], "pq8");
    let info: Value = serde_json::from_str(&ok(&["info", "--index", s(&index), "--json"])).unwrap();
    assert_eq!(
        (info["quant"].as_str(), info["pq_m"].as_u64()),
        (Some("pq8"), Some(32))
    );
    let (n, dim) = (info["count"].as_u64().unwrap(), info["dim"].as_u64().unwrap());
    let ram = info["ram_bytes"].as_u64().unwrap();
    // What the traversal reads besides the graph: 32-byte codes and a 256 × 128 float codebook,
    // which it keeps a second time in memory in the order its tables read it.
    let codebook = 256 * dim * 4;
    assert_eq!(info["derived_bytes"].as_u64(), Some(codebook));
    let graph = ram - n * 32 - 2 * codebook;
    let flat_f32 = graph + n * dim * 4;
    assert!(
        (ram as f64) <= 0.3 * flat_f32 as f64,
        "in RAM {ram} bytes vs {flat_f32} for the flat f32 index"
    );
    assert!(
        info["file_bytes"].as_u64().unwrap() > n * dim,
        "full vectors stay in the file"
    );

    let plain = bench_recall(s(&index), "0");
    let reranked = bench_recall(s(&index), "50");
    assert!(
        reranked[1] >= 0.95,
        "recall@10 with --rerank 50 at ef 64: {reranked:?}"
    );
    assert!(
        reranked[1] > plain[1],
        "re-ranking did not help: {plain:?} → {reranked:?}"
    );

    // `search --rerank` reports exact distances: the nearest neighbour's distance from the
    // quantised index equals the flat index's.
    let flat = dir.path().join("flat.gdx");
    ok(&["build", "--data", &base, "--out", s(&flat), "--quiet"]);
    let top = |ix: &str, rerank: &str| -> Vec<f64> {
        let out: Value = serde_json::from_str(&ok(&[
            "search",
            "--index",
            ix,
            "--queries",
            &queries,
            "--k",
            "1",
            "--ef",
            "64",
            "--rerank",
            rerank,
            "--json",
            "--quiet",
        ]))
        .unwrap();
        out["distances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[0].as_f64().unwrap())
            .collect()
    };
    let (exact, approx) = (top(s(&flat), "0"), top(s(&index), "50"));
    let agree = exact.iter().zip(&approx).filter(|(a, b)| a == b).count();
    assert!(
        agree as f64 >= 0.95 * exact.len() as f64,
        "{agree} of {} agree",
        exact.len()
    );
}

#[test]
fn bad_quantiser_arguments_exit_2() {
    let [base, _, _] = sift();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.gdx");
    for args in [
        vec!["--quant", "pq7"],
        vec!["--quant", "pq8", "--pq-m", "5"],
        vec!["--quant", "sq8", "--pq-m", "4"],
        vec!["--quant", "rabitq:9"],
        vec!["--quant", "rabitq:x"],
    ] {
        let mut all = vec![
            "build",
            "--data",
            &base,
            "--out",
            s(&out),
            "--limit",
            "500",
            "--quiet",
        ];
        all.extend(args);
        let (code, msg) = fails(&all);
        assert_eq!(code, 2, "{msg}");
        assert!(msg.contains("--quant") || msg.contains("--pq-m"), "{msg}");
    }
    assert!(!out.exists(), "no file written on failure");
}

#[test]
fn rabitq_codes_re_rank_by_their_bound() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("rq.gdx");
    let built = build_json(&index, &["--quant", "rabitq:2"]);
    // 2 bit planes of 128/8 bytes, the centre and three factors; 20,000/256 centres.
    assert_eq!(
        (
            &built["quant"],
            &built["rabitq_bits"],
            &built["rabitq_centres"],
            &built["code_bytes"]
        ),
        (
            &Value::from("rabitq"),
            &Value::from(2),
            &Value::from(78),
            &Value::from(46)
        )
    );
    let fixed = bench_json(s(&index), "64", &["--rerank", "64"]);
    // Given without a value the bound takes the paper's ε₀ = 1.9.
    let bound = bench_json(s(&index), "64", &["--rerank-bound"]);
    assert_eq!(bound["rerank_bound"].as_f64().unwrap() as f32, 1.9);
    let row = |v: &Value, key: &str| v["rows"][0][key].as_f64().unwrap();
    assert_eq!(row(&fixed, "mean_reranked"), 64.0);
    assert!(row(&bound, "mean_reranked") < 64.0, "{bound}");
    assert!(row(&bound, "recall") >= 0.95 && row(&bound, "recall") >= row(&fixed, "recall") - 0.01);
    let [_, queries, gt] = sift();
    let (code, msg) = fails(&[
        "bench",
        "--index",
        s(&index),
        "--queries",
        &queries,
        "--groundtruth",
        &gt,
        "--rerank-bound",
        "0",
        "--quiet",
    ]);
    assert_eq!(code, 2, "{msg}");
    assert!(msg.contains("ε₀"), "{msg}");
}

/// (recall@10, the mean of the work column `work`) per ef of `bench --json` on `index`;
/// `work` is `mean_distances` or `mean_hops`.
fn recall_and_work(index: &std::path::Path, efs: &str, extra: &[&str], work: &str) -> Vec<(f64, f64)> {
    bench_json(s(index), efs, extra)["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["recall"].as_f64().unwrap(), r[work].as_f64().unwrap()))
        .collect()
}

/// `bench --exact-walk` on a quantised index walks its full vectors: the same recall and the
/// same distance evaluations as the flat index of the same one-thread build, where its code walk
/// differs from both.
#[test]
fn exact_walk_searches_a_quantised_index_as_its_flat_graph() {
    let dir = tempfile::tempdir().unwrap();
    let one_thread = ["--threads", "1", "--m", "16"];
    let (flat, coded) = (dir.path().join("flat.gdx"), dir.path().join("pq.gdx"));
    build_json(&flat, &one_thread);
    build_json(
        &coded,
        &[&one_thread[..], &["--quant", "pq8", "--pq-m", "16"]].concat(),
    );
    let rows =
        |index: &std::path::Path, extra: &[&str]| recall_and_work(index, "16,64", extra, "mean_distances");
    let on_vectors = rows(&flat, &[]);
    assert_eq!(rows(&coded, &["--exact-walk"]), on_vectors);
    assert_ne!(rows(&coded, &[]), on_vectors);
}

/// `--link-codes` walks a PQ4 index on per-list code blocks: the 8-bit tables change the
/// estimates a little, not the walk's expansions (hops) or its recall after re-ranking — its
/// distance count is not compared, as the block walk counts every lane it scans; any other index
/// refuses it with one line, and it cannot be combined with `--exact-walk`.
#[test]
fn link_codes_walk_a_pq4_index_as_its_per_node_codes_do() {
    let dir = tempfile::tempdir().unwrap();
    let (pq4, pq8) = (dir.path().join("pq4.gdx"), dir.path().join("pq8.gdx"));
    build_json(&pq4, &["--quant", "pq4", "--pq-m", "64"]);
    build_json(&pq8, &["--quant", "pq8", "--pq-m", "32"]);
    let rows =
        |extra: &[&str]| recall_and_work(&pq4, "32,64", &[&["--rerank", "64"], extra].concat(), "mean_hops");
    let (per_node, per_list) = (rows(&[]), rows(&["--link-codes"]));
    for ((recall, work), (list_recall, list_work)) in per_node.iter().zip(&per_list) {
        assert!(
            *list_recall >= 0.95,
            "recall@10 {list_recall} with per-list codes"
        );
        assert!((list_recall - recall).abs() <= 0.02, "{list_recall} vs {recall}");
        assert!(
            (list_work / work - 1.0).abs() <= 0.05,
            "{list_work} vs {work} hops"
        );
    }
    let [_, queries, _] = sift();
    let search = |index: &std::path::Path, extra: &[&str]| {
        let mut args = vec![
            "search",
            "--index",
            s(index),
            "--queries",
            &queries,
            "--k",
            "10",
            "--ef",
            "32",
        ];
        args.extend(extra);
        fails(&args)
    };
    let (code, msg) = search(&pq8, &["--link-codes"]);
    assert_eq!(code, 2);
    assert!(msg.contains("--link-codes") && msg.contains("PQ4"), "{msg}");
    let (code, msg) = search(&pq4, &["--link-codes", "--exact-walk"]);
    assert_eq!(code, 2, "{msg}");
}
