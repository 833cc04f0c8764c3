//! Helpers for the CLI tests: run the binary, make small data files.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use geodex_io::{texmex, Matrix};
use serde_json::Value;

/// Runs `geodex` with `args`.
pub fn geodex(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_geodex"))
        .args(args)
        .output()
        .expect("geodex runs")
}

/// Runs `geodex` and requires success; returns stdout.
pub fn ok(args: &[&str]) -> String {
    let out = geodex(args);
    assert!(
        out.status.success(),
        "geodex {args:?} failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

/// Runs `geodex`, requires failure with exit code 1 or 2 and exactly one `error: ` line on
/// stderr (warnings aside) and no panic; returns (code, message).
pub fn fails(args: &[&str]) -> (i32, String) {
    let out = geodex(args);
    let code = out.status.code().expect("exited, not killed by a signal");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        code == 1 || code == 2,
        "geodex {args:?}: exit code {code}, stderr: {err}"
    );
    assert!(
        !err.contains("panicked") && !err.contains("internal error") && !err.contains("RUST_BACKTRACE"),
        "panic: {err}"
    );
    let lines: Vec<&str> = err.lines().filter(|l| !l.starts_with("warning: ")).collect();
    assert_eq!(lines.len(), 1, "geodex {args:?}: expected one line, got {err:?}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(
        out.stdout.is_empty(),
        "stdout on failure: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    (code, lines[0].to_string())
}

/// The repository's root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `../shared/data` beside the repository (present on developer machines and in CI; the
/// tests that read it are in `shared_data.rs`, ignored unless run with `--ignored`).
pub fn shared_data() -> PathBuf {
    let p = repo().join("../shared/data");
    assert!(
        p.is_dir(),
        "{} is missing: the shared data sets are needed by this test",
        p.display()
    );
    p
}

/// Writes the first `n` rows of a TEXMEX file to `out`.
pub fn head_bvecs(src: &Path, n: usize, out: &Path) {
    let m: Matrix<u8> = texmex::parse(&std::fs::read(src).unwrap(), "src").unwrap();
    write_vecs(out, &m.truncated(n));
}

/// Writes any TEXMEX matrix.
pub fn write_vecs<T: bytemuck::Pod>(path: &Path, m: &Matrix<T>) {
    let mut bytes = Vec::new();
    texmex::write(&mut bytes, m).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Reads an .ivecs file into rows.
pub fn read_ivecs(path: &Path) -> Vec<Vec<i32>> {
    let m: Matrix<i32> = texmex::parse(&std::fs::read(path).unwrap(), "ivecs").unwrap();
    m.iter().map(|r| r.to_vec()).collect()
}

/// Path as &str.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Writes `base` and `queries` (`dim` components per row) as `b.fvecs` and `q.fvecs` in `dir`,
/// and their exact 10 nearest neighbours under `metric` (by `geodex groundtruth`) as
/// `gt.ivecs`; returns the three paths.
pub fn data_set_with_truth(
    dir: &Path,
    dim: usize,
    base: &[f32],
    queries: &[f32],
    metric: &str,
) -> (PathBuf, PathBuf, PathBuf) {
    let (bp, qp, gt) = (dir.join("b.fvecs"), dir.join("q.fvecs"), dir.join("gt.ivecs"));
    write_vecs(&bp, &Matrix::new(dim, base.to_vec()).unwrap());
    write_vecs(&qp, &Matrix::new(dim, queries.to_vec()).unwrap());
    groundtruth10(s(&bp), s(&qp), metric, s(&gt));
    (bp, qp, gt)
}

/// The exact 10 nearest rows of `data` to every query under `metric`, written to `out` by
/// `geodex groundtruth`.
pub fn groundtruth10(data: &str, queries: &str, metric: &str, out: &str) {
    ok(&[
        "groundtruth",
        "--data",
        data,
        "--queries",
        queries,
        "--k",
        "10",
        "--metric",
        metric,
        "--out",
        out,
        "--quiet",
    ]);
}

/// A small L2 index of `data` at `out` (M 8, ef_construction 60), built by `geodex build` on
/// one thread, so the same data always gives the same graph.
pub fn build_small(data: &str, out: &str) {
    ok(&[
        "build",
        "--data",
        data,
        "--out",
        out,
        "--m",
        "8",
        "--ef-construction",
        "60",
        "--threads",
        "1",
        "--quiet",
    ]);
}

pub fn best_recall_up_to(rows: &[Value], max_ef: u64) -> f64 {
    rows.iter()
        .filter(|r| r["ef"].as_u64().unwrap() <= max_ef)
        .map(|r| r["recall"].as_f64().unwrap())
        .fold(0.0, f64::max)
}

/// Builds `data` with M 16, ef_construction 200, checks the graph invariants, and requires
/// recall@10 ≥ 0.95 at some ef ≤ 128 and ≥ 0.99 at some ef ≤ 512 against `gt`.
pub fn assert_recall_targets(data: &str, queries: &str, gt: &str, metric: &str) {
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

/// The closure of a complete `branching`-ary tree of `depth` levels as TSV, node names `nI`.
pub fn tree_closure_tsv(branching: usize, depth: usize) -> String {
    let mut parent: Vec<Option<usize>> = vec![None];
    let mut level = vec![0];
    for _ in 0..depth {
        let mut next = Vec::new();
        for &p in &level {
            for _ in 0..branching {
                parent.push(Some(p));
                next.push(parent.len() - 1);
            }
        }
        level = next;
    }
    let mut out = String::new();
    for node in 0..parent.len() {
        let mut up = parent[node];
        while let Some(a) = up {
            out.push_str(&format!("n{node}\tn{a}\n"));
            up = parent[a];
        }
    }
    out
}
