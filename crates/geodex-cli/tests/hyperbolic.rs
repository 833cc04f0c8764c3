//! `embed`, `embed-eval` and the Poincaré metric through the CLI: exact Poincaré k-NN against
//! an f64 reference, and the bad inputs of the two commands. The WordNet mammal numbers are in
//! `shared_data.rs`.

mod common;

use std::path::Path;

use common::*;
use geodex_io::Matrix;

#[test]
fn poincare_groundtruth_matches_the_reference_distance() {
    let dir = tempfile::tempdir().unwrap();
    // Points spread towards the boundary, where the rank key must still order like arcosh.
    let mut rng = geodex_testkit::Rng::new(4);
    let dim = 5;
    let mut data = Vec::new();
    for _ in 0..400 {
        let v: Vec<f64> = (0..dim).map(|_| rng.normal()).collect();
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        let radius = 1.0 - 10f64.powf(-4.0 * rng.uniform());
        data.extend(v.iter().map(|x| (x / norm * radius) as f32));
    }
    let (base, queries) = data.split_at(350 * dim);
    let (_, _, gt) = data_set_with_truth(dir.path(), dim, base, queries, "poincare");
    let found: Vec<Vec<u32>> = read_ivecs(&gt)
        .into_iter()
        .map(|r| r.into_iter().map(|i| i as u32).collect())
        .collect();
    let truth = geodex_testkit::naive_knn(base, queries, dim, 10, geodex_core::Metric::Poincare);
    let recall = geodex_core::measure::recall_at_k(&found, &truth, 10);
    assert!(
        recall >= 0.999,
        "exact Poincaré k-NN agrees with the f64 reference: {recall}"
    );
}

#[test]
fn embed_commands_reject_bad_input_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let (out, names) = (p("e.fvecs"), p("n.txt"));
    // `geodex embed --edges EDGES --model poincare EXTRA…` into e.fvecs / n.txt: must fail.
    let embed = |edges: &str, extra: &[&str]| {
        let mut args = vec!["embed", "--edges", edges, "--model", "poincare"];
        args.extend_from_slice(extra);
        args.extend(["--out", s(&out), "--names", s(&names)]);
        fails(&args)
    };
    std::fs::write(p("bad.tsv"), "a\tb\nc\n").unwrap();
    let (code, msg) = embed(s(&p("bad.tsv")), &[]);
    assert!(
        code == 2 && msg.contains("bad.tsv") && msg.contains("line 2"),
        "{msg}"
    );
    assert!(!out.exists(), "a failed embed left a file");

    std::fs::write(p("tree.tsv"), "b\ta\nc\ta\n").unwrap();
    let (code, msg) = embed(s(&p("tree.tsv")), &["--dim", "0"]);
    assert!(code == 2 && msg.contains("dim"), "{msg}");
    let (code, msg) = embed(s(&p("tree.tsv")), &["--local-negatives", "1.5"]);
    assert!(code == 2 && msg.contains("local negatives"), "{msg}");
    // Validation needs a pair outside the reduction, and at least one epoch to measure.
    let (code, msg) = embed(s(&p("tree.tsv")), &["--validation", "0.5"]);
    assert!(code == 2 && msg.contains("transitive reduction"), "{msg}");
    std::fs::write(p("deep.tsv"), tree_closure_tsv(2, 3)).unwrap();
    let (code, msg) = embed(s(&p("deep.tsv")), &["--epochs", "0", "--validation", "0.5"]);
    assert!(code == 2 && msg.contains("--epochs"), "{msg}");
    assert!(!out.exists(), "a failed embed left a file");

    // A Poincaré embedding with a point on the boundary, and a names file that misses a node.
    write_vecs(
        &out,
        &Matrix::new(2, vec![0.0f32, 0.0, 0.6, 0.8, 0.1, 0.1]).unwrap(),
    );
    std::fs::write(&names, "a\nb\nc\n").unwrap();
    let eval = |names: &str| {
        fails(&[
            "embed-eval",
            "--edges",
            s(&p("tree.tsv")),
            "--embedding",
            s(&out),
            "--names",
            names,
            "--model",
            "poincare",
        ])
    };
    let (code, msg) = eval(s(&names));
    assert!(
        code == 2 && msg.contains("row 1") && msg.contains("Poincaré"),
        "{msg}"
    );
    std::fs::write(p("short.txt"), "a\nb\nx\n").unwrap();
    let (code, msg) = eval(s(&p("short.txt")));
    assert!(code == 2 && msg.contains("'c'"), "{msg}");
}

/// `geodex embed` on `tree.tsv` in `dir` at d = 4 with one thread, plus `extra`; its stdout.
fn embed_tree(dir: &Path, epochs: &str, out: &str, extra: &[&str]) -> String {
    let tree = dir.join("tree.tsv");
    let names = dir.join("n.txt");
    let mut args = vec!["embed", "--edges", s(&tree), "--model", "poincare", "--dim", "4"];
    args.extend(["--threads", "1", "--seed", "3", "--epochs", epochs, "--out", out]);
    args.extend(["--names", s(&names), "--quiet"]);
    args.extend(extra);
    ok(&args)
}

#[test]
fn an_embedding_resumed_from_its_checkpoint_is_the_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("tree.tsv"), tree_closure_tsv(3, 3)).unwrap();
    embed_tree(dir.path(), "40", s(&p("straight.fvecs")), &[]);
    // --resume without a checkpoint yet starts afresh; the run stops after 15 epochs.
    let (tree, ck_path, names2) = (p("tree.tsv"), p("run.ck"), p("n2.txt"));
    let ck = ["--checkpoint", s(&ck_path), "--resume"];
    embed_tree(dir.path(), "15", s(&p("part.fvecs")), &ck);
    let resumed = embed_tree(
        dir.path(),
        "40",
        s(&p("resumed.fvecs")),
        &[&ck[..], &["--json"]].concat(),
    );
    let summary: serde_json::Value = serde_json::from_str(&resumed).unwrap();
    assert_eq!(summary["details"]["resumed_at_epoch"], 15);
    assert_eq!(
        std::fs::read(p("resumed.fvecs")).unwrap(),
        std::fs::read(p("straight.fvecs")).unwrap(),
        "15 epochs, a checkpoint, 25 more: the same points as 40 in one go"
    );
    assert_ne!(
        std::fs::read(p("part.fvecs")).unwrap(),
        std::fs::read(p("straight.fvecs")).unwrap()
    );

    // A checkpoint of another seed, and a damaged one: one line, exit 2, nothing written.
    let other = p("other.fvecs");
    let embed_args = |seed: &'static str| {
        let mut a = vec!["embed", "--edges", s(&tree), "--model", "poincare", "--dim", "4"];
        a.extend([
            "--seed",
            seed,
            "--epochs",
            "40",
            "--out",
            s(&other),
            "--names",
            s(&names2),
        ]);
        a.extend(ck);
        a
    };
    let (code, msg) = fails(&embed_args("4"));
    assert!(
        code == 2 && msg.contains("seed") && msg.lines().count() == 1,
        "{msg}"
    );
    let mut bytes = std::fs::read(p("run.ck")).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(p("run.ck"), bytes).unwrap();
    let (code, msg) = fails(&embed_args("3"));
    assert!(
        code == 2 && msg.contains("run.ck") && msg.contains("checksum"),
        "{msg}"
    );
    assert!(!p("other.fvecs").exists() && !p("n2.txt").exists());
}

#[test]
fn validation_chooses_the_epochs_and_rate_from_its_held_out_curve() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("tree.tsv"), tree_closure_tsv(3, 4)).unwrap();
    let mut extra = vec![
        "--validation",
        "0.1",
        "--lr",
        "0.1,1",
        "--lr-schedule",
        "constant,linear",
    ];
    extra.extend(["--eval-every", "10", "--patience", "2", "--json"]);
    let out: serde_json::Value =
        serde_json::from_str(&embed_tree(dir.path(), "200", s(&p("v.fvecs")), &extra)).unwrap();
    let v = &out["details"]["validation"];
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4, "two schedules × two rates");
    // The choice is the best point of the curves, and the final run trains that long.
    let (mut best_map, mut best) = (-1.0, (0.0, String::new(), 0));
    for run in runs {
        let curve = run["curve"].as_array().unwrap();
        let epochs_run = run["epochs_run"].as_u64().unwrap() as usize;
        assert_eq!(curve.len(), epochs_run.div_ceil(10), "measured every 10 epochs");
        let maps: Vec<f64> = curve.iter().map(|c| c["map"].as_f64().unwrap()).collect();
        let top = maps.iter().cloned().fold(f64::MIN, f64::max);
        let at = maps.iter().position(|&m| m == top).unwrap();
        if epochs_run < 200 {
            assert_eq!(
                maps.len() - 1 - at,
                2,
                "stopped after 2 measurements without progress"
            );
        }
        if top > best_map {
            best_map = top;
            best = (
                run["lr"].as_f64().unwrap(),
                run["lr_schedule"].as_str().unwrap().to_string(),
                curve[at]["epoch"].as_u64().unwrap() as usize,
            );
        }
    }
    assert_eq!(v["chosen_lr"].as_f64().unwrap(), best.0);
    assert_eq!(v["chosen_lr_schedule"].as_str().unwrap(), best.1);
    assert_eq!(v["chosen_epochs"].as_u64().unwrap() as usize, best.2);
    assert_eq!(out["details"]["epochs"].as_u64().unwrap() as usize, best.2);
    assert_eq!(out["details"]["lr_schedule"].as_str().unwrap(), best.1);
    assert!(best_map > 0.5, "held-out MAP {best_map}");
    assert_eq!(v["held_out_pairs"], (0.1f64 * 426.0).round() as u64);
}
