//! `geodex learn-edges` and `geodex build --edges` through the binary: a model file that
//! encodes the heuristic rebuilds the heuristic's graph link for link; a trained model builds
//! at the heuristic's degree; bad rules and model files get exit 2 and write nothing.

mod common;

use std::path::Path;

use common::*;
use geodex_io::Matrix;
use serde_json::Value;

const DIM: usize = 8;

struct Files {
    dir: tempfile::TempDir,
    base: String,
    learn: String,
}

impl Files {
    fn p(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }
}

fn files() -> Files {
    let dir = tempfile::tempdir().unwrap();
    let all = geodex_testkit::clustered(2_300, DIM, 10, 0.5, 4);
    let at = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let write = |name: &str, rows: &[f32]| {
        write_vecs(Path::new(&at(name)), &Matrix::new(DIM, rows.to_vec()).unwrap());
        at(name)
    };
    let base = write("base.fvecs", &all[..2_000 * DIM]);
    let learn = write("learn.fvecs", &all[2_000 * DIM..]);
    Files { dir, base, learn }
}

fn build(f: &Files, edges: &str, out: &str) -> Value {
    let args = [
        "build",
        "--data",
        &f.base,
        "--m",
        "8",
        "--ef-construction",
        "64",
        "--threads",
        "1",
        "--edges",
        edges,
        "--out",
        out,
        "--json",
        "--quiet",
    ];
    serde_json::from_str(&ok(&args)).unwrap()
}

fn links(f: &Files, index: &str) -> String {
    let out = f.p(&format!(
        "{}.tsv",
        Path::new(index).file_name().unwrap().to_str().unwrap()
    ));
    ok(&[
        "graph", "--index", index, "--layer", "0", "--out", &out, "--quiet",
    ]);
    std::fs::read_to_string(out).unwrap()
}

/// A logistic model whose score is the occlusion log-ratio, kept at ≥ 0: the heuristic.
fn heuristic_model(weight_on_occlusion: f64) -> String {
    let features = geodex_core::edges::FEATURE_NAMES;
    let mut params = vec![0.0; 8];
    params[geodex_core::edges::OCCLUSION_LOG_RATIO] = weight_on_occlusion;
    serde_json::json!({"kind": "logistic", "hidden": 0, "params": params, "features": features, "threshold": 0.0})
        .to_string()
}

#[test]
fn a_model_encoding_the_heuristic_rebuilds_its_graph_link_for_link() {
    let f = files();
    let model = f.p("heuristic.json");
    std::fs::write(&model, heuristic_model(2.5)).unwrap();
    let (a, b) = (f.p("heuristic.gdx"), f.p("as-model.gdx"));
    let ha = build(&f, "heuristic", &a);
    let hb = build(&f, &format!("learned:{model}"), &b);
    assert_eq!(links(&f, &a), links(&f, &b));
    assert_eq!(ha["level0_mean_degree"], hb["level0_mean_degree"]);
    // The other rules change the graph: vamana keeps more links, random the same number.
    let v = build(&f, "vamana:1.3", &f.p("vamana.gdx"));
    assert!(v["level0_mean_degree"].as_f64() > ha["level0_mean_degree"].as_f64());
    let r = f.p("random.gdx");
    build(&f, "random:3", &r);
    assert_ne!(links(&f, &a), links(&f, &r));
}

/// `learn-edges` on the small set (M 8, 32 candidates, one thread) writing `model`, with
/// `extra` flags; its JSON report.
fn learn_small(f: &Files, model: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "learn-edges",
        "--data",
        &f.base,
        "--queries",
        &f.learn,
        "--m",
        "8",
        "--ef-construction",
        "64",
        "--candidates",
        "32",
        "--threads",
        "1",
        "--out",
        model,
        "--json",
    ];
    args.extend_from_slice(extra);
    serde_json::from_str(&ok(&args)).unwrap()
}

#[test]
fn learn_edges_writes_a_model_that_builds_at_the_heuristics_degree() {
    let f = files();
    let model = f.p("model.json");
    let report = learn_small(&f, &model, &["--epochs", "6", "--lr", "0.05"]);
    for key in [
        "train_nodes",
        "history",
        "heuristic",
        "learned",
        "weights",
        "sample_degree_learned",
    ] {
        assert!(report.get(key).is_some(), "{key} missing: {report}");
    }
    assert_eq!(report["history"].as_array().unwrap().len(), 6);
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    assert_eq!(saved["kind"], "logistic");
    let (h, l) = degrees_beside_the_heuristic(&f, &model);
    assert!((l - h).abs() <= 0.1 * h, "learned degree {l} vs heuristic {h}");
}

/// Level-0 mean degrees of the heuristic's index and of one built with the scorer `model`.
fn degrees_beside_the_heuristic(f: &Files, model: &str) -> (f64, f64) {
    let degree = |edges: &str, out: &str| build(f, edges, &f.p(out))["level0_mean_degree"].as_f64().unwrap();
    (
        degree("heuristic", "h.gdx"),
        degree(&format!("learned:{model}"), "l.gdx"),
    )
}

/// Training on the relaxed set objective (straight-through top-k), with and without the degree
/// held: the held-out objective — a soft minimum of remaining-distance ratios, so positive and
/// at most κ·(1 + ln n) above the hard minimum's 1 (n ≤ 33 ratios, κ 0.05) — falls over the
/// epochs, each scorer differs from the label-trained one of the same seed (and the held one from
/// the free one), and each builds at the heuristic's degree.
#[test]
fn a_set_trained_scorer_lowers_its_step_objective_and_builds_at_the_heuristics_degree() {
    let f = files();
    let labels = f.p("labels.json");
    let common = ["--epochs", "6", "--lr", "0.05"];
    learn_small(&f, &labels, &common);
    let read = |path: &str| std::fs::read_to_string(path).unwrap();
    let mut trained = vec![read(&labels)];
    for (file, hold) in [("set.json", &[][..]), ("set-held.json", &["--hold-degree"][..])] {
        let set = f.p(file);
        let extra = [
            &common[..],
            &["--relaxation", "straight-through", "--tau-floor", "0.1"],
            hold,
        ]
        .concat();
        let report = learn_small(&f, &set, &extra);
        let held_out: Vec<f64> = report["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["validation_loss"].as_f64().unwrap())
            .collect();
        assert_eq!(held_out.len(), 6);
        let ceiling = 1.0 + 0.05 * (1.0 + 33f64.ln());
        assert!(
            held_out.iter().all(|&l| 0.0 < l && l <= ceiling),
            "{hold:?}: {held_out:?}"
        );
        assert!(
            held_out[5] < held_out[0],
            "{hold:?}: the set objective did not fall: {held_out:?}"
        );
        assert!(
            !trained.contains(&read(&set)),
            "{hold:?}: the same scorer as another run"
        );
        trained.push(read(&set));
        let (h, l) = degrees_beside_the_heuristic(&f, &set);
        assert!(
            (l - h).abs() <= 0.1 * h,
            "{hold:?}: set-trained degree {l} vs heuristic {h}; sample degrees {} / {}, weights {}",
            report["sample_degree_heuristic"],
            report["sample_degree_learned"],
            report["weights"]
        );
    }
}

/// The message-passing scorer: it trains, builds at the heuristic's degree, and a file whose
/// network is zero and whose linear skip is the heuristic's test rebuilds the heuristic's graph
/// link for link (the build's list-aware path keeps the heuristic's decisions exactly).
#[test]
fn a_gnn_model_trains_builds_at_the_heuristics_degree_and_contains_the_heuristic() {
    let f = files();
    let model = f.p("gnn.json");
    let extra = [
        "--model", "gnn", "--hidden", "4", "--layers", "2", "--epochs", "4",
    ];
    let report = learn_small(&f, &model, &extra);
    assert_eq!(report["history"].as_array().unwrap().len(), 4);
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    assert_eq!(
        (saved["kind"].as_str(), saved["layers"].as_u64()),
        (Some("gnn"), Some(2))
    );
    let h = build(&f, "heuristic", &f.p("h.gdx"));
    let l = build(&f, &format!("learned:{model}"), &f.p("g.gdx"));
    let (h, l) = (
        h["level0_mean_degree"].as_f64().unwrap(),
        l["level0_mean_degree"].as_f64().unwrap(),
    );
    assert!((l - h).abs() <= 0.1 * h, "gnn degree {l} vs heuristic {h}");

    let (hidden, layers) = (2, 1);
    let len = hidden * 8 + layers * (2 * hidden * hidden + 4 * hidden) + hidden + 8;
    let mut params = vec![0.0; len];
    params[len - 8 + geodex_core::edges::OCCLUSION_LOG_RATIO] = 1.5;
    let features = geodex_core::edges::FEATURE_NAMES;
    let file = serde_json::json!({"kind": "gnn", "hidden": hidden, "layers": layers, "params": params,
        "features": features, "threshold": 0.0});
    assert_rebuilds_the_heuristic(&f, "gnn", &file);
}

/// The model file `file` (named after `kind`) builds the heuristic's graph link for link.
fn assert_rebuilds_the_heuristic(f: &Files, kind: &str, file: &Value) {
    let as_heuristic = f.p(&format!("{kind}-heuristic.json"));
    std::fs::write(&as_heuristic, file.to_string()).unwrap();
    let (a, b) = (f.p("heuristic.gdx"), f.p(&format!("{kind}-heuristic.gdx")));
    build(f, "heuristic", &a);
    build(f, &format!("learned:{as_heuristic}"), &b);
    assert_eq!(links(f, &a), links(f, &b));
}

/// The Neural-ODE scorer: it trains by back-propagation through RK4, reports its solves'
/// cost (whose fixed-step counts have closed forms), builds at the heuristic's degree, and a
/// file whose network is zero and whose skip is the heuristic's test rebuilds the heuristic's
/// graph link for link.
#[test]
fn an_ode_model_trains_reports_its_solves_and_contains_the_heuristic() {
    let f = files();
    let model = f.p("ode.json");
    let (hidden, steps) = (4usize, 3usize);
    let extra = [
        "--model",
        "ode",
        "--hidden",
        "4",
        "--ode-time",
        "2",
        "--ode-steps",
        "3",
        "--epochs",
        "3",
    ];
    let report = learn_small(&f, &model, &extra);
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    assert_eq!(saved["kind"].as_str(), Some("ode"));
    assert_eq!(saved["ode"]["horizon"].as_f64(), Some(2.0));
    assert_eq!(saved["ode"]["solver"]["steps"].as_u64(), Some(steps as u64));
    let cost = &report["flow_cost"];
    let number = |key: &str| cost[key].as_f64().unwrap();
    assert_eq!(number("steps_per_candidate"), steps as f64);
    assert_eq!(number("evaluations_per_candidate"), (4 * steps) as f64);
    // One step size and four stage inputs of H numbers per step.
    assert_eq!(
        number("tape_floats_per_candidate"),
        (steps * (4 * hidden + 1)) as f64
    );
    // h, a, Ū, D̄, c̄ and H per sender.
    assert!(number("peak_adjoint_floats") >= (2 * hidden + 2 * hidden * hidden + hidden) as f64);
    let (gradient_error, logit_error) = (number("adjoint_gradient_error"), number("logit_error"));
    assert!(gradient_error > 0.0 && gradient_error < 0.5, "{gradient_error}");
    assert!(logit_error > 0.0 && logit_error < 0.1, "{logit_error}");
    let h = build(&f, "heuristic", &f.p("h.gdx"));
    let l = build(&f, &format!("learned:{model}"), &f.p("o.gdx"));
    let (h, l) = (
        h["level0_mean_degree"].as_f64().unwrap(),
        l["level0_mean_degree"].as_f64().unwrap(),
    );
    assert!((l - h).abs() <= 0.1 * h, "ode degree {l} vs heuristic {h}");

    let features = geodex_core::edges::FEATURE_NAMES;
    let width = features.len();
    let len = hidden * width + 3 * hidden * hidden + 5 * hidden + width;
    let mut params = vec![0.0; len];
    params[len - width + geodex_core::edges::OCCLUSION_LOG_RATIO] = 1.5;
    let flow = serde_json::json!({"horizon": 3.0, "solver": {"method": "dopri5", "tolerance": 1e-6},
        "gradient": "adjoint"});
    let file = serde_json::json!({"kind": "ode", "hidden": hidden, "ode": flow, "params": params,
        "features": features, "threshold": 0.0});
    assert_rebuilds_the_heuristic(&f, "ode", &file);
}

/// `--reinforce N` runs N policy-gradient steps on the training queries' recall after the
/// surrogate training: the report holds every step, and the deterministic rule before and
/// after is measured at the heuristic's links per list.
#[test]
fn learn_edges_with_reinforce_reports_recall_at_the_heuristics_degree() {
    let f = files();
    let model = f.p("reinforced.json");
    let extra = [
        "--model",
        "mlp",
        "--hidden",
        "4",
        "--epochs",
        "2",
        "--reinforce",
        "6",
        "--reinforce-queries",
        "60",
        "--reinforce-ef",
        "12",
    ];
    let report = learn_small(&f, &model, &extra);
    let r = &report["reinforce"];
    assert_eq!(r["history"].as_array().unwrap().len(), 6);
    assert_eq!(r["queries"].as_u64(), Some(300));
    let kept = |key: &str| r[key]["mean_kept"].as_f64().unwrap();
    let heuristic = kept("heuristic");
    for key in ["before", "after"] {
        assert!(
            (kept(key) - heuristic).abs() <= 0.05 * heuristic,
            "{key}: {} vs {heuristic}",
            kept(key)
        );
        let recall = r[key]["recall"].as_f64().unwrap();
        assert!(recall > 0.0 && recall <= 1.0);
    }
    assert!(Path::new(&model).exists());
}

/// `--optimizer langevin` trains, and `--landscape` reports the Hessian spectrum (one eigenvalue
/// per parameter) at the initial and the trained scorer and one curve per descent; the trained
/// scorer sits lower on the frozen loss than the random start.
#[test]
fn learn_edges_with_langevin_reports_the_landscape() {
    let f = files();
    let model = f.p("mlp.json");
    let extra = [
        "--model",
        "mlp",
        "--hidden",
        "4",
        "--epochs",
        "4",
        "--optimizer",
        "langevin",
        "--temperature",
        "0.00001",
        "--landscape",
        "--landscape-passes",
        "5",
    ];
    let l = learn_small(&f, &model, &extra)["landscape"].clone();
    let parameters = 4 * 8 + 2 * 4 + 1;
    assert_eq!(l["parameters"], parameters);
    for at in ["at_init", "at_trained"] {
        assert_eq!(l[at]["eigenvalues"].as_array().unwrap().len(), parameters, "{at}");
    }
    assert!(
        l["at_trained"]["loss"].as_f64() < l["at_init"]["loss"].as_f64(),
        "{l}"
    );
    let methods: Vec<&str> = l["descents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            assert_eq!(d["curve"].as_array().unwrap().len(), 6);
            d["method"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        methods,
        [
            "gd",
            "sgd",
            "langevin:0.00001",
            "langevin:0.0001",
            "langevin:0.001"
        ]
    );
}

/// The per-epoch spectral entries of a learn-edges report.
fn spectral_epochs(report: &Value) -> Vec<Value> {
    report["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["spectral"].clone())
        .collect()
}

/// `--spectral 0` only tracks λ₂ (the model is byte-identical to a run without it); μ > 0
/// starts from the same soft graph and moves the scorer, on both Laplacians. The soft arcs are
/// the judged candidates: at most the 32 offered, with Σσ(s) below their count.
#[test]
fn the_spectral_regulariser_tracks_lambda2_and_moves_the_scorer_only_when_weighted() {
    let f = files();
    let common = ["--epochs", "4", "--lr", "0.05"];
    let (plain, tracked, weighted) = (f.p("plain.json"), f.p("tracked.json"), f.p("weighted.json"));
    learn_small(&f, &plain, &common);
    let read = |path: &str| std::fs::read_to_string(path).unwrap();
    for laplacian in ["combinatorial", "normalized"] {
        let with = |mu: &str, model: &str| {
            let extra = [
                &common[..],
                &["--spectral", mu, "--spectral-laplacian", laplacian],
            ]
            .concat();
            spectral_epochs(&learn_small(&f, model, &extra))
        };
        let control = with("0", &tracked);
        assert_eq!(read(&plain), read(&tracked), "μ = 0 must not move the scorer");
        let raised = with("20", &weighted);
        assert_ne!(
            read(&plain),
            read(&weighted),
            "{laplacian}: μ 20 left the scorer unchanged"
        );
        assert_eq!(control.len(), 4);
        let lambda = |e: &Value| e["lambda2"].as_f64().unwrap();
        assert!(
            lambda(&control[0]) > 0.0,
            "{laplacian}: a connected graph has λ₂ > 0"
        );
        assert_eq!(lambda(&raised[0]), lambda(&control[0]), "{laplacian}: same start");
        for e in control.iter().chain(&raised) {
            let (judged, soft) = (
                e["arcs"]["judged"].as_f64().unwrap(),
                e["arcs"]["soft_degree"].as_f64().unwrap(),
            );
            assert!(0.0 < soft && soft < judged && judged <= 32.0, "{e}");
            let p = e["participation"].as_f64().unwrap();
            assert!(0.0 < p && p <= 1.0, "{e}");
        }
    }
}

#[test]
fn bad_rules_and_model_files_exit_2_and_write_nothing() {
    let f = files();
    let out = f.p("never.gdx");
    let corrupt = f.p("corrupt.json");
    std::fs::write(&corrupt, "{\"kind\": \"logistic\", \"params\": [1.0]}").unwrap();
    let short = f.p("short.json");
    std::fs::write(&short, heuristic_model(1.0).replace("0.0,0.0,0.0,1.0", "1.0")).unwrap();
    let missing = f.p("missing.json");
    for edges in [
        "bogus".to_string(),
        "vamana:0.5".into(),
        "vamana:x".into(),
        format!("learned:{missing}"),
        format!("learned:{corrupt}"),
        format!("learned:{short}"),
    ] {
        let (code, message) = fails(&[
            "build", "--data", &f.base, "--m", "8", "--edges", &edges, "--out", &out,
        ]);
        assert_eq!(code, 2, "{edges}: {message}");
        assert!(
            message.contains("--edges") || message.contains("alpha"),
            "{message}"
        );
        assert!(!Path::new(&out).exists());
    }
    let (code, _) = fails(&[
        "build", "--data", &f.base, "--metric", "ip", "--m", "8", "--edges", "random", "--out", &out,
    ]);
    assert_eq!(code, 2);
    let model = f.p("m.json");
    for extra in [
        ["--metric", "ip"],
        ["--optimizer", "rmsprop"],
        ["--epochs", "0"],
        ["--temperature", "-1"],
        ["--spectral", "-1"],
        ["--spectral-laplacian", "bogus"],
        ["--model", "gnn --layers 0"],
        ["--model", "gnn --landscape"],
        ["--model", "ode --ode-time 0"],
        ["--model", "ode --ode-solver euler"],
        ["--model", "ode --ode-gradient magic"],
        ["--model", "ode --ode-steps 0"],
        ["--model", "ode --landscape"],
        ["--reinforce", "3 --reinforce-ef 5"],
        ["--reinforce", "3 --reinforce-lr 0"],
        ["--relaxation", "gumbel"],
        ["--relaxation", "concrete --tau-floor 0"],
        ["--relaxation", "straight-through --softness 0.001"],
        ["--hold-degree", "--model logistic"],
    ] {
        let mut args = vec![
            "learn-edges",
            "--data",
            &f.base,
            "--queries",
            &f.learn,
            "--out",
            &model,
        ];
        args.extend(extra.iter().flat_map(|e| e.split(' ')));
        let (code, message) = fails(&args);
        assert_eq!(code, 2, "{extra:?}: {message}");
        for kind in ["gnn", "ode"] {
            if extra[1].starts_with(kind) {
                assert!(message.contains(kind), "{message}");
            }
        }
        assert!(!Path::new(&model).exists());
    }
}

#[test]
fn anneal_rewires_the_heuristics_graph_at_its_exact_degree() {
    let f = files();
    let gt = f.p("learn-gt.ivecs");
    ok(&[
        "groundtruth",
        "--data",
        &f.base,
        "--queries",
        &f.learn,
        "--k",
        "10",
        "--metric",
        "l2",
        "--out",
        &gt,
        "--quiet",
    ]);
    let heuristic = build(&f, "heuristic", &f.p("h.gdx"));
    let out = f.p("annealed.gdx");
    let args = [
        "build",
        "--data",
        &f.base,
        "--m",
        "8",
        "--ef-construction",
        "64",
        "--threads",
        "1",
        "--edges",
        "anneal",
        "--queries",
        &f.learn,
        "--groundtruth",
        &gt,
        "--anneal-steps",
        "400",
        "--out",
        &out,
        "--json",
        "--quiet",
    ];
    let annealed: Value = serde_json::from_str(&ok(&args)).unwrap();
    assert_eq!(annealed["edges"], "anneal");
    // Moves swap links: every list keeps its length, so the degree is the heuristic's exactly.
    assert_eq!(annealed["level0_mean_degree"], heuristic["level0_mean_degree"]);
    assert_ne!(
        links(&f, &out),
        links(&f, &f.p("h.gdx")),
        "some move was accepted"
    );
    let info: Value = serde_json::from_str(&ok(&["info", "--index", &out, "--json"])).unwrap();
    assert!(
        info.to_string().contains("\"anneal\""),
        "the index records how it was built: {info}"
    );
    // Without training queries: exit 2, nothing written.
    let never = f.p("never.gdx");
    let (code, _) = fails(&["build", "--data", &f.base, "--edges", "anneal", "--out", &never]);
    assert_eq!(code, 2);
    assert!(!Path::new(&never).exists());
}
