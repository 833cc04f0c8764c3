//! `embed`, `embed-eval` and the Poincaré metric through the CLI: exact Poincaré k-NN against
//! an f64 reference, and the bad inputs of the two commands. The WordNet mammal numbers are in
//! `shared_data.rs`.

mod common;

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
