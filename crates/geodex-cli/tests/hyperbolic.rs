//! `embed`, `embed-eval` and the Poincaré metric through the CLI, on the WordNet mammal closure
//! of `../shared/data/wordnet/`: the numbers of issue 7 at a reduced epoch budget, and the bad
//! inputs of the two commands.

mod common;

use std::path::Path;

use common::*;
use geodex_io::Matrix;
use serde_json::Value;

fn mammals() -> String {
    s(&shared_data().join("wordnet/mammal_closure.tsv")).to_string()
}

/// Trains `model` at d = 10 for `epochs` and returns embed-eval's JSON (with a search sweep).
fn embed_and_eval(dir: &Path, model: &str, epochs: usize) -> Value {
    let out = dir.join(format!("{model}.fvecs"));
    let names = dir.join(format!("{model}.txt"));
    let edges = mammals();
    let epochs = epochs.to_string();
    let common_args = ["--edges", &edges, "--names", s(&names)];
    ok(&[
        &[
            "embed",
            "--model",
            model,
            "--dim",
            "10",
            "--epochs",
            &epochs,
            "--lr",
            "0.3",
            "--threads",
            "2",
        ][..],
        &common_args,
        &["--out", s(&out), "--quiet"],
    ]
    .concat());
    let json = ok(&[
        &[
            "embed-eval",
            "--model",
            model,
            "--embedding",
            s(&out),
            "--ef",
            "10,40",
            "--json",
        ][..],
        &common_args,
    ]
    .concat());
    serde_json::from_str(&json).unwrap()
}

#[test]
fn poincare_beats_euclidean_on_mammals_and_hyperbolic_hnsw_finds_exact_neighbours() {
    let dir = tempfile::tempdir().unwrap();
    let poincare = embed_and_eval(dir.path(), "poincare", 60);
    for key in ["mean_rank", "map", "distortion_avg", "distortion_worst"] {
        assert!(poincare[key].is_number(), "embed-eval --json lacks {key}");
    }
    let map = poincare["map"].as_f64().unwrap();
    assert!(map >= 0.90, "Poincaré d = 10 reconstruction MAP {map}");
    assert!(poincare["mean_rank"].as_f64().unwrap() >= 1.0);
    let rows = poincare["search"]["by_ef"].as_array().unwrap();
    let recall = rows.last().unwrap()["recall"].as_f64().unwrap();
    assert!(recall >= 0.95, "Poincaré HNSW recall@10 {recall} at ef 40");

    let euclidean = embed_and_eval(dir.path(), "euclidean", 60);
    let baseline = euclidean["map"].as_f64().unwrap();
    assert!(
        map > baseline,
        "Poincaré MAP {map} not above Euclidean {baseline}"
    );
}

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
    let recall = geodex_testkit::recall_at_k(&found, &truth, 10);
    assert!(
        recall >= 0.999,
        "exact Poincaré k-NN agrees with the f64 reference: {recall}"
    );
}

#[test]
fn embed_commands_reject_bad_input_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("bad.tsv"), "a\tb\nc\n").unwrap();
    let (code, msg) = fails(&[
        "embed",
        "--edges",
        s(&p("bad.tsv")),
        "--model",
        "poincare",
        "--out",
        s(&p("e.fvecs")),
        "--names",
        s(&p("n.txt")),
    ]);
    assert!(
        code == 2 && msg.contains("bad.tsv") && msg.contains("line 2"),
        "{msg}"
    );
    assert!(!p("e.fvecs").exists(), "a failed embed left a file");

    std::fs::write(p("tree.tsv"), "b\ta\nc\ta\n").unwrap();
    let (code, msg) = fails(&[
        "embed",
        "--edges",
        s(&p("tree.tsv")),
        "--model",
        "poincare",
        "--dim",
        "0",
        "--out",
        s(&p("e.fvecs")),
        "--names",
        s(&p("n.txt")),
    ]);
    assert!(code == 2 && msg.contains("dim"), "{msg}");

    // A Poincaré embedding with a point on the boundary, and a names file that misses a node.
    write_vecs(
        &p("e.fvecs"),
        &Matrix::new(2, vec![0.0f32, 0.0, 0.6, 0.8, 0.1, 0.1]).unwrap(),
    );
    std::fs::write(p("n.txt"), "a\nb\nc\n").unwrap();
    let eval = |names: &str| {
        fails(&[
            "embed-eval",
            "--edges",
            s(&p("tree.tsv")),
            "--embedding",
            s(&p("e.fvecs")),
            "--names",
            names,
            "--model",
            "poincare",
        ])
    };
    let (code, msg) = eval(s(&p("n.txt")));
    assert!(
        code == 2 && msg.contains("row 1") && msg.contains("Poincaré"),
        "{msg}"
    );
    std::fs::write(p("short.txt"), "a\nb\nx\n").unwrap();
    let (code, msg) = eval(s(&p("short.txt")));
    assert!(code == 2 && msg.contains("'c'"), "{msg}");
}
