//! Ctrl-C (SIGINT) on long commands: `build` stops and writes no file, `insert` stops before
//! its next batch, checkpoints exactly what it acknowledged, and loses none of it; `embed`
//! with `--checkpoint` keeps the last finished epoch; all exit with 130 and one
//! `error: interrupted…` line.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{ok, repo, s, tree_closure_tsv, write_vecs};
use geodex_core::{AnyIndex, LiveIndex};
use geodex_io::Matrix;
use geodex_testkit::Rng;

fn sigint(pid: u32) {
    let status = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -INT {pid}");
}

/// Files other than `keep` in `dir`: an interrupted command must leave no temporary file.
fn stray_files(dir: &Path, keep: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|name| !keep.contains(&name.as_str()))
        .collect()
}

fn stderr_of(child: std::process::Child) -> (i32, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().expect("exited, not killed by the signal"),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn ctrl_c_stops_a_build_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let base = repo().join("testdata/sift20k/base.bvecs");
    std::fs::copy(&base, dir.path().join("base.bvecs")).unwrap();
    let out = dir.path().join("i.gdx");
    // A build that takes seconds (20k rows, a wide beam), interrupted well inside it.
    let child = Command::new(env!("CARGO_BIN_EXE_geodex"))
        .args([
            "build",
            "--data",
            s(&dir.path().join("base.bvecs")),
            "--out",
            s(&out),
        ])
        .args(["--m", "32", "--ef-construction", "500", "--threads", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    sigint(child.id());
    let (code, err) = stderr_of(child);
    assert_eq!(code, 130, "{err}");
    assert_eq!(err.trim(), "error: interrupted", "one line");
    assert!(!out.exists(), "an interrupted build wrote its index");
    assert_eq!(stray_files(dir.path(), &["base.bvecs"]), Vec::<String>::new());
}

#[test]
fn ctrl_c_stops_an_insert_between_batches_and_keeps_what_was_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    const DIM: usize = 8;
    let mut rng = Rng::new(3);
    let mut rows = |n: usize| -> Vec<f32> { (0..n * DIM).map(|_| rng.normal() as f32).collect() };
    let base = rows(500);
    let more = rows(20_000);
    write_vecs(&p("base.fvecs"), &Matrix::new(DIM, base).unwrap());
    write_vecs(&p("more.fvecs"), &Matrix::new(DIM, more.clone()).unwrap());
    ok(&[
        "build",
        "--data",
        s(&p("base.fvecs")),
        "--out",
        s(&p("i.gdx")),
        "--quiet",
    ]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_geodex"))
        .args(["insert", "--index", s(&p("i.gdx")), "--data", s(&p("more.fvecs"))])
        .args(["--batch", "20", "--threads", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a first acknowledgement").unwrap();
    assert_eq!(first, "durable 20");
    sigint(child.id());
    let acknowledged = lines
        .map(|l| {
            l.unwrap()
                .strip_prefix("durable ")
                .unwrap()
                .parse::<usize>()
                .unwrap()
        })
        .last()
        .unwrap_or(20);
    let (code, err) = stderr_of(child);
    assert_eq!(code, 130, "{err}");
    assert!(
        err.trim()
            == format!(
                "error: {}: interrupted; the first {acknowledged} rows are in the index",
                p("i.gdx").display()
            ),
        "{err}"
    );
    assert!(
        acknowledged < 20_000,
        "the insert ran to the end: SIGINT was ignored"
    );
    // Checkpointed: the log is empty, the file alone holds every acknowledged row.
    let wal = std::fs::metadata(p("i.gdx.wal")).map(|m| m.len()).unwrap_or(0);
    let AnyIndex::F32(ix) = AnyIndex::open_file(&p("i.gdx"), false).unwrap() else {
        unreachable!()
    };
    let live = LiveIndex::from_index(ix).unwrap();
    assert_eq!(live.len(), 500 + acknowledged, "log {wal} bytes");
    for key in [500u64, 500 + acknowledged as u64 - 1] {
        let row = (key - 500) as usize;
        assert_eq!(
            live.get(key).as_deref(),
            Some(&more[row * DIM..(row + 1) * DIM]),
            "key {key}"
        );
    }
    assert!(
        live.get(500 + acknowledged as u64).is_none(),
        "an unacknowledged batch landed"
    );
    assert_eq!(
        stray_files(dir.path(), &["base.fvecs", "more.fvecs", "i.gdx", "i.gdx.wal"]),
        Vec::<String>::new()
    );
}

#[test]
fn ctrl_c_stops_an_embedding_and_its_checkpoint_resumes_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("tree.tsv"), tree_closure_tsv(4, 5)).unwrap();
    let (tree, ck, out, names) = (p("tree.tsv"), p("run.ck"), p("e.fvecs"), p("n.txt"));
    let args = |epochs: usize| -> Vec<String> {
        let mut a = vec!["embed", "--edges", s(&tree), "--model", "poincare", "--dim", "5"];
        a.extend(["--threads", "1", "--out", s(&out), "--names", s(&names)]);
        // Checkpoints only at the end or on the interrupt.
        a.extend(["--checkpoint", s(&ck), "--checkpoint-every", "100000", "--resume"]);
        let mut a: Vec<String> = a.into_iter().map(String::from).collect();
        a.extend(["--epochs".to_string(), epochs.to_string()]);
        a
    };
    let child = Command::new(env!("CARGO_BIN_EXE_geodex"))
        .args(args(100_000))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    sigint(child.id());
    let (code, err) = stderr_of(child);
    assert_eq!(code, 130, "{err}");
    assert_eq!(err.trim(), "error: interrupted", "one line");
    assert!(!out.exists(), "an interrupted embed wrote its embedding");
    let checkpoint = geodex_embed::Checkpoint::read_from(&mut std::fs::File::open(&ck).unwrap()).unwrap();
    assert!(checkpoint.epoch >= 1, "the finished epochs were kept");
    assert_eq!(
        stray_files(dir.path(), &["tree.tsv", "run.ck"]),
        Vec::<String>::new()
    );
    // Two more epochs from there finish the run.
    let mut more = args(checkpoint.epoch + 2);
    more.extend(["--json".to_string(), "--quiet".to_string()]);
    let summary = ok(&more.iter().map(String::as_str).collect::<Vec<&str>>());
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(summary["details"]["resumed_at_epoch"], checkpoint.epoch);
    assert!(out.exists());
}
