//! Helpers for the CLI tests: run the binary, make small data files.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use geodex_io::{texmex, Matrix};

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

/// `../shared/data` beside the repository (present on developer machines and in CI).
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
    ok(&[
        "groundtruth",
        "--data",
        s(&bp),
        "--queries",
        s(&qp),
        "--k",
        "10",
        "--metric",
        metric,
        "--out",
        s(&gt),
        "--quiet",
    ]);
    (bp, qp, gt)
}
