//! `geodex tune` through the binary: the parameters file holds what the issue names and
//! describes the index `--build` writes (read back by `info`), the choice meets its target on
//! queries it never saw (`bench` against `groundtruth`), and bad input gets exit 2 with nothing
//! written.

mod common;

use std::path::Path;

use common::*;
use geodex_io::Matrix;
use serde_json::Value;

struct Files {
    dir: tempfile::TempDir,
    base: String,
    learn: String,
    test: String,
    test_gt: String,
}

impl Files {
    fn p(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }
}

const DIM: usize = 16;

/// One clustered draw cut into base, learning and test rows; the test ground truth by the binary.
fn files() -> Files {
    let dir = tempfile::tempdir().unwrap();
    let all = geodex_testkit::clustered(5_400, DIM, 30, 1.0, 9);
    let at = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let write = |name: &str, rows: &[f32]| {
        write_vecs(Path::new(&at(name)), &Matrix::new(DIM, rows.to_vec()).unwrap());
        at(name)
    };
    let base = write("base.fvecs", &all[..4_000 * DIM]);
    let learn = write("learn.fvecs", &all[4_000 * DIM..4_400 * DIM]);
    let test = write("test.fvecs", &all[4_400 * DIM..]);
    let test_gt = at("test-gt.ivecs");
    ok(&[
        "groundtruth",
        "--data",
        &base,
        "--queries",
        &test,
        "--k",
        "10",
        "--metric",
        "l2",
        "--out",
        &test_gt,
        "--quiet",
    ]);
    Files {
        dir,
        base,
        learn,
        test,
        test_gt,
    }
}

fn tune_args<'a>(f: &'a Files, out: &'a str, target: &'a str) -> Vec<&'a str> {
    vec![
        "tune",
        "--data",
        &f.base,
        "--queries",
        &f.learn,
        "--target-recall",
        target,
        "--sample",
        "2000",
        "--out",
        out,
        "--quiet",
    ]
}

#[test]
fn tune_writes_the_parameters_of_the_index_it_builds_and_meets_the_target_unseen() {
    let f = files();
    let (params, index) = (f.p("params.json"), f.p("tuned.gdx"));
    let mut args = tune_args(&f, &params, "0.9");
    args.extend(["--build", &index]);
    let stdout = ok(&args);
    assert!(
        stdout.contains("predicted recall@10") && stdout.contains("holdout"),
        "{stdout}"
    );
    let p: Value = serde_json::from_str(&std::fs::read_to_string(&params).unwrap()).unwrap();
    for key in [
        "m",
        "ef_construction",
        "ef",
        "quant",
        "rerank",
        "predicted_recall",
        "recall_interval",
    ] {
        assert!(p.get(key).is_some(), "params.json lacks {key}: {p}");
    }
    let interval = p["recall_interval"].as_array().unwrap();
    let (low, high) = (interval[0].as_f64().unwrap(), interval[1].as_f64().unwrap());
    let predicted = p["predicted_recall"].as_f64().unwrap();
    assert!(low >= 0.9 && low <= predicted && predicted <= high, "{p}");
    assert_eq!(p["quant"], "none");
    // The file `--build` wrote is the index the parameters describe.
    let info: Value = serde_json::from_str(&ok(&["info", "--index", &index, "--json"])).unwrap();
    assert_eq!(info["m"], p["m"]);
    assert_eq!(info["ef_construction"], p["ef_construction"]);
    assert_eq!(info["count"], 4_000);
    // On queries tune never saw, at its ef: the target, and inside the interval up to the test
    // set's own sampling error.
    let ef = p["ef"].to_string();
    let bench: Value = serde_json::from_str(&ok(&[
        "bench",
        "--index",
        &index,
        "--queries",
        &f.test,
        "--groundtruth",
        &f.test_gt,
        "--ef",
        &ef,
        "--runs",
        "1",
        "--quiet",
        "--json",
    ]))
    .unwrap();
    let recall = bench["rows"][0]["recall"].as_f64().unwrap();
    assert!(
        recall >= 0.9 - 0.005 && recall >= low - 0.01 && recall <= high + 0.01,
        "{recall} vs {p}"
    );
}

#[test]
fn bad_tune_input_exits_2_and_writes_nothing() {
    let f = files();
    let out = f.p("params.json");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (tune_args(&f, &out, "0"), "outside (0, 1]"),
        (tune_args(&f, &out, "1.5"), "outside (0, 1]"),
        (
            [tune_args(&f, &out, "0.9"), vec!["--max-ram", "-5"]].concat(),
            "--max-ram",
        ),
        (
            [tune_args(&f, &out, "0.9"), vec!["--max-ram", "0.001"]].concat(),
            "RAM",
        ),
        (
            [tune_args(&f, &out, "0.9"), vec!["--max-build-s", "0"]].concat(),
            "--max-build-s",
        ),
    ];
    for (args, want) in cases {
        let (code, msg) = fails(&args);
        assert_eq!(code, 2, "{args:?}: {msg}");
        assert!(msg.contains(want), "{args:?}: {msg}");
        assert!(!Path::new(&out).exists(), "{args:?} wrote {out}");
    }
    // Queries of another dimension, and ground truth for another number of queries.
    let wrong_dim = f.p("q3.fvecs");
    write_vecs(
        Path::new(&wrong_dim),
        &Matrix::new(3, vec![0.5f32; 3 * 200]).unwrap(),
    );
    let mut args = tune_args(&f, &out, "0.9");
    args[4] = &wrong_dim;
    assert_eq!(fails(&args).0, 2);
    let mut args = tune_args(&f, &out, "0.9");
    args.extend(["--groundtruth", &f.test_gt]);
    let (code, msg) = fails(&args);
    assert_eq!(code, 2);
    assert!(msg.contains("test-gt.ivecs"), "{msg}");
    assert!(!Path::new(&out).exists());
}
