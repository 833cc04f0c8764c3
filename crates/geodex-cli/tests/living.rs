//! `insert`, `delete` and `compact` end to end on the bundled 20k SIFT slice (recall against
//! brute force after each, `durable N` lines, a graph with no unreachable live node), and their
//! bad input: each refused with one line, leaving the index and its log as they were.

mod common;

use std::path::Path;

use common::*;
use geodex_io::Matrix;
use serde_json::Value;

/// Recall@10 at ef 64 of `index` against `gt`.
fn recall(index: &Path, queries: &Path, gt: &Path) -> f64 {
    let out = ok(&[
        "bench",
        "--index",
        s(index),
        "--queries",
        s(queries),
        "--groundtruth",
        s(gt),
        "--ef",
        "64",
        "--json",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    v["rows"][0]["recall"].as_f64().unwrap()
}

fn info(index: &Path) -> Value {
    serde_json::from_str(&ok(&["info", "--index", s(index), "--json"])).unwrap()
}

/// The `durable N` lines of a run's stdout.
fn durable_lines(stdout: &str) -> Vec<usize> {
    stdout
        .lines()
        .map(|l| {
            l.strip_prefix("durable ")
                .expect("only durable lines")
                .parse()
                .unwrap()
        })
        .collect()
}

#[test]
fn insert_delete_compact_keep_recall_against_brute_force() {
    let t = repo().join("testdata/sift20k");
    let (base, queries) = (t.join("base.bvecs"), t.join("query.bvecs"));
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    let index = p("i.gdx");
    // Build on the first half, insert the second half (default keys continue at 10 000, so keys
    // stay the rows' positions in base.bvecs).
    ok(&[
        "build",
        "--data",
        s(&base),
        "--out",
        s(&index),
        "--limit",
        "10000",
        "--quiet",
    ]);
    let all: Matrix<u8> = geodex_io::texmex::parse(&std::fs::read(&base).unwrap(), "base").unwrap();
    write_vecs(
        &p("second.bvecs"),
        &Matrix::new(128, all.as_slice()[10_000 * 128..].to_vec()).unwrap(),
    );
    let out = ok(&[
        "insert",
        "--index",
        s(&index),
        "--data",
        s(&p("second.bvecs")),
        "--batch",
        "4000",
        "--quiet",
    ]);
    assert_eq!(durable_lines(&out), vec![4000, 8000, 10_000]);
    assert_eq!(
        std::fs::metadata(geodex_core::wal::wal_path(&index))
            .unwrap()
            .len(),
        32,
        "log emptied by the checkpoint"
    );
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
        s(&p("gt.ivecs")),
        "--quiet",
    ]);
    let after_insert = recall(&index, &queries, &p("gt.ivecs"));
    assert!(
        after_insert >= 0.95,
        "recall after inserting half: {after_insert}"
    );
    // Delete a random half; the truth is brute force over the other half.
    let mut rng = geodex_testkit::Rng::new(11);
    let (gone, kept): (Vec<u64>, Vec<u64>) = (0..20_000u64).partition(|_| rng.uniform() < 0.5);
    let lines = |keys: &[u64]| keys.iter().map(|k| format!("{k}\n")).collect::<String>();
    std::fs::write(p("gone.txt"), lines(&gone)).unwrap();
    std::fs::write(p("kept.txt"), lines(&kept)).unwrap();
    let out = ok(&[
        "delete",
        "--index",
        s(&index),
        "--keys",
        s(&p("gone.txt")),
        "--quiet",
    ]);
    assert_eq!(durable_lines(&out).last(), Some(&gone.len()));
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
        s(&p("gt-kept.ivecs")),
        "--filter-keys",
        s(&p("kept.txt")),
        "--quiet",
    ]);
    let after_delete = recall(&index, &queries, &p("gt-kept.ivecs"));
    assert!(after_delete >= 0.95, "recall after deleting half: {after_delete}");
    let i = info(&index);
    assert_eq!(i["count"].as_u64(), Some(kept.len() as u64));
    assert_eq!(i["graph"]["unreachable"].as_u64(), Some(0));
    // Compact: the file shrinks, answers stay.
    let before = std::fs::metadata(&index).unwrap().len();
    let c: Value = serde_json::from_str(&ok(&["compact", "--index", s(&index), "--json"])).unwrap();
    assert_eq!(c["removed"].as_u64(), Some(gone.len() as u64));
    assert!(std::fs::metadata(&index).unwrap().len() < before * 2 / 3);
    assert_eq!(recall(&index, &queries, &p("gt-kept.ivecs")), after_delete);
    let i = info(&index);
    assert_eq!(
        (i["count"].as_u64(), i["graph"]["unreachable"].as_u64()),
        (Some(kept.len() as u64), Some(0))
    );
}

#[test]
fn bad_changes_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let data = geodex_testkit::clustered(300, 4, 3, 0.5, 1);
    write_vecs(
        Path::new(&p("base.fvecs")),
        &Matrix::new(4, data.clone()).unwrap(),
    );
    ok(&[
        "build",
        "--data",
        &p("base.fvecs"),
        "--out",
        &p("i.gdx"),
        "--quiet",
    ]);
    let index_bytes = std::fs::read(p("i.gdx")).unwrap();
    let unchanged = || {
        assert_eq!(
            std::fs::read(p("i.gdx")).unwrap(),
            index_bytes,
            "index file changed"
        );
        let log = std::fs::read(p("i.gdx.wal")).unwrap_or_default();
        assert!(log.len() <= 32, "records logged for a refused change");
    };
    write_vecs(
        Path::new(&p("three.fvecs")),
        &Matrix::new(4, data[..12].to_vec()).unwrap(),
    );
    // Duplicate keys in one batch.
    std::fs::write(p("dup.txt"), "500\n501\n500\n").unwrap();
    let (code, msg) = fails(&[
        "insert",
        "--index",
        &p("i.gdx"),
        "--data",
        &p("three.fvecs"),
        "--keys",
        &p("dup.txt"),
    ]);
    assert_eq!(code, 2);
    assert!(msg.contains("500") && msg.contains("more than once"), "{msg}");
    unchanged();
    // Keys and rows of different counts.
    std::fs::write(p("two.txt"), "500\n501\n").unwrap();
    let (code, msg) = fails(&[
        "insert",
        "--index",
        &p("i.gdx"),
        "--data",
        &p("three.fvecs"),
        "--keys",
        &p("two.txt"),
    ]);
    assert_eq!(code, 2);
    assert!(msg.contains("2 keys for 3 vectors"), "{msg}");
    // Dimension mismatch.
    write_vecs(
        Path::new(&p("wide.fvecs")),
        &Matrix::new(6, vec![0.5; 12]).unwrap(),
    );
    let (code, msg) = fails(&["insert", "--index", &p("i.gdx"), "--data", &p("wide.fvecs")]);
    assert_eq!(code, 2);
    assert!(msg.contains("dimension") && msg.contains("wide.fvecs"), "{msg}");
    // A NaN in the last row: nothing of the earlier rows lands either.
    let mut bad = data[..12].to_vec();
    bad[9] = f32::NAN;
    write_vecs(Path::new(&p("nan.fvecs")), &Matrix::new(4, bad).unwrap());
    let (code, msg) = fails(&[
        "insert",
        "--index",
        &p("i.gdx"),
        "--data",
        &p("nan.fvecs"),
        "--batch",
        "1",
    ]);
    assert_eq!(code, 2);
    assert!(msg.contains("nan.fvecs") && msg.contains("row 2"), "{msg}");
    let (code, _) = fails(&[
        "insert",
        "--index",
        &p("i.gdx"),
        "--data",
        &p("three.fvecs"),
        "--batch",
        "0",
    ]);
    assert_eq!(code, 2);
    unchanged();
    // Deleting unknown keys is not an error: a warning, and the known ones go.
    std::fs::write(p("del.txt"), "7\n123456\n").unwrap();
    let out = geodex(&[
        "delete",
        "--index",
        &p("i.gdx"),
        "--keys",
        &p("del.txt"),
        "--quiet",
    ]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "durable 2\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning: 1 of the keys were not in the index"));
    assert_eq!(info(Path::new(&p("i.gdx")))["count"].as_u64(), Some(299));
    // A log damaged before its tail: refused (exit 1, naming the log and the record's offset),
    // for writers and readers alike, and the index file left alone. The log gets two records
    // from a process that "dies" (drops the index) before its checkpoint.
    let idx = Path::new(&p("i.gdx")).to_path_buf();
    let geodex_core::AnyIndex::F32(ix) = geodex_core::AnyIndex::open_file(&idx, true).unwrap() else {
        unreachable!()
    };
    let (db, _) = geodex_core::DurableIndex::open(ix, &idx, true).unwrap();
    db.delete(&[1, 2]).unwrap();
    // While this process holds the index for changes, another writer is refused.
    let (code, msg) = fails(&["delete", "--index", &p("i.gdx"), "--keys", &p("del.txt")]);
    assert_eq!(code, 1);
    assert!(msg.contains("another process is changing this index"), "{msg}");
    drop(db);
    let index_bytes = std::fs::read(&idx).unwrap();
    let mut log = std::fs::read(p("i.gdx.wal")).unwrap();
    assert_eq!(log.len(), 32 + 2 * (24 + 8), "header and two delete records");
    log[32 + 26] ^= 1; // inside the first record's key
    std::fs::write(p("i.gdx.wal"), &log).unwrap();
    for args in [
        vec!["delete", "--index", &p("i.gdx"), "--keys", &p("del.txt")],
        vec!["info", "--index", &p("i.gdx")],
    ] {
        let (code, msg) = fails(&args);
        assert_eq!(code, 1);
        assert!(msg.contains("i.gdx.wal") && msg.contains("byte 32"), "{msg}");
    }
    assert_eq!(std::fs::read(&idx).unwrap(), index_bytes);
    assert_eq!(
        std::fs::read(p("i.gdx.wal")).unwrap(),
        log,
        "the damaged log is kept for inspection"
    );
}
