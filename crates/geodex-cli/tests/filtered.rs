//! `--filter-keys` end to end on the bundled 20k SIFT slice: `groundtruth --filter-keys` gives
//! the filtered truth, `bench --filter-keys` reaches recall@10 ≥ 0.95 against it at 50 %, 10 %
//! and 1 % of the keys allowed (on whichever path the cost switch picks, and on the walk alone
//! at 50 % and 10 %), and bad key files are refused with one line.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

fn write_keys(path: &Path, share: f64, seed: u64) {
    let mut rng = geodex_testkit::Rng::new(seed);
    let keys: Vec<String> = (0..20_000u64)
        .filter(|_| rng.uniform() < share)
        .map(|k| k.to_string())
        .collect();
    std::fs::write(path, keys.join("\n")).unwrap();
}

#[test]
fn filtered_recall_at_50_10_and_1_percent() {
    let t = repo().join("testdata/sift20k");
    let (base, queries) = (t.join("base.bvecs"), t.join("query.bvecs"));
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("i.gdx");
    ok(&["build", "--data", s(&base), "--out", s(&index), "--quiet"]);
    for (share, seed) in [(0.5, 1), (0.1, 2), (0.01, 3)] {
        let keys = dir.path().join(format!("keys-{seed}.txt"));
        let gt = dir.path().join(format!("gt-{seed}.ivecs"));
        write_keys(&keys, share, seed);
        ok(&[
            "groundtruth",
            "--data",
            s(&base),
            "--queries",
            s(&queries),
            "--k",
            "10",
            "--metric",
            "l2",
            "--out",
            s(&gt),
            "--filter-keys",
            s(&keys),
            "--quiet",
        ]);
        let allowed: std::collections::HashSet<i32> = std::fs::read_to_string(&keys)
            .unwrap()
            .lines()
            .map(|l| l.parse().unwrap())
            .collect();
        assert!(
            read_ivecs(&gt).iter().flatten().all(|id| allowed.contains(id)),
            "truth outside the filter"
        );
        let bench = |extra: &[&str]| -> Vec<Value> {
            let mut args = vec![
                "bench",
                "--index",
                s(&index),
                "--queries",
                s(&queries),
                "--groundtruth",
                s(&gt),
                "--ef",
                "64,128",
                "--filter-keys",
                s(&keys),
                "--runs",
                "1",
                "--json",
                "--quiet",
            ];
            args.extend(extra);
            let v: Value = serde_json::from_str(&ok(&args)).unwrap();
            assert_eq!(v["allowed"].as_u64().unwrap() as usize, allowed.len());
            v["rows"].as_array().unwrap().clone()
        };
        let rows = bench(&[]);
        let best = rows
            .iter()
            .map(|r| r["recall"].as_f64().unwrap())
            .fold(0.0, f64::max);
        assert!(best >= 0.95, "{share}: recall@10 {best}");
        if share >= 0.1 {
            let walk = bench(&["--exact-below", "0"]);
            assert!(walk.iter().all(|r| r["exact_share"] == 0.0));
            let best = walk
                .iter()
                .map(|r| r["recall"].as_f64().unwrap())
                .fold(0.0, f64::max);
            assert!(best >= 0.95, "{share}, walk only: recall@10 {best}");
        } else {
            assert!(
                rows.iter().all(|r| r["exact_share"] == 1.0),
                "1 % should scan exactly"
            );
        }
    }
}

/// `geodex search` of `q` over `index` with k results, filtered by `keys`.
fn search_args<'a>(index: &'a Path, q: &'a Path, keys: &'a Path, k: &'a str) -> Vec<&'a str> {
    vec![
        "search",
        "--index",
        s(index),
        "--queries",
        s(q),
        "--k",
        k,
        "--ef",
        "10",
        "--filter-keys",
        s(keys),
    ]
}

#[test]
fn bad_key_files_are_refused() {
    let t = repo().join("testdata/sift20k");
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("i.gdx");
    ok(&[
        "build",
        "--data",
        s(&t.join("base.bvecs")),
        "--out",
        s(&index),
        "--limit",
        "500",
        "--quiet",
    ]);
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, "1\n2\nthree\n").unwrap();
    let q = t.join("query.bvecs");
    let (code, msg) = fails(&search_args(&index, &q, &bad, "5"));
    assert!(
        code == 2 && msg.contains("line 3") && msg.contains("bad.txt"),
        "{msg}"
    );
    let out_of_range = dir.path().join("far.txt");
    std::fs::write(&out_of_range, "1\n999999\n").unwrap();
    let (code, msg) = fails(&[
        "groundtruth",
        "--data",
        s(&t.join("base.bvecs")),
        "--queries",
        s(&q),
        "--k",
        "5",
        "--metric",
        "l2",
        "--out",
        s(&dir.path().join("gt.ivecs")),
        "--limit",
        "500",
        "--filter-keys",
        s(&out_of_range),
    ]);
    assert!(code == 2 && msg.contains("999999"), "{msg}");
    // Keys the index does not hold are ignored with a warning; the search still runs.
    let out = geodex(&[search_args(&index, &q, &out_of_range, "1"), vec!["--json"]].concat());
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 of 2 keys are not in the index"));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["ids"].as_array().unwrap().iter().all(|r| r[0] == 1));
}
