//! `geodex learn-stop` and `search/bench --target-recall` through the binary: the model is
//! written only when learning succeeds, the bench CSV gains its `target_recall` column, the
//! target is met on unseen queries (against `geodex groundtruth`), and bad input gets exit 2.

mod common;

use std::path::Path;

use common::*;
use geodex_io::Matrix;

struct Files {
    _dir: tempfile::TempDir,
    index: String,
    learn: String,
    learn_gt: String,
    test: String,
    test_gt: String,
    dir: std::path::PathBuf,
}

impl Files {
    fn p(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_string()
    }

    /// `learn-stop` at target 0.9 writing the index with its model to `out`; stdout.
    fn learn_stop(&self, out: &str) -> String {
        ok(&[
            "learn-stop",
            "--index",
            &self.index,
            "--queries",
            &self.learn,
            "--groundtruth",
            &self.learn_gt,
            "--target-recall",
            "0.9",
            "--ef-cap",
            "128",
            "--ppo",
            "--ppo-iterations",
            "40",
            "--gain-trees",
            "32",
            "--out",
            out,
        ])
    }
}

/// One clustered draw cut into base, learning and test rows; index and ground truths made by
/// the binary.
fn files() -> Files {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let dim = 16;
    let all = geodex_testkit::clustered(3_600, dim, 30, 2.0, 5);
    let at = |name: &str| path.join(name).to_str().unwrap().to_string();
    let write = |name: &str, rows: &[f32]| {
        write_vecs(Path::new(&at(name)), &Matrix::new(dim, rows.to_vec()).unwrap());
        at(name)
    };
    let base = write("base.fvecs", &all[..3_000 * dim]);
    let learn = write("learn.fvecs", &all[3_000 * dim..3_400 * dim]);
    let test = write("test.fvecs", &all[3_400 * dim..]);
    let index = at("i.gdx");
    build_small(&base, &index);
    for (q, gt) in [(&learn, "learn-gt.ivecs"), (&test, "test-gt.ivecs")] {
        groundtruth10(&base, q, "l2", &at(gt));
    }
    Files {
        index,
        learn,
        learn_gt: at("learn-gt.ivecs"),
        test,
        test_gt: at("test-gt.ivecs"),
        dir: path,
        _dir: dir,
    }
}

#[test]
fn learn_stop_then_bench_meets_the_target_on_unseen_queries() {
    let f = files();
    let with = f.p("with.gdx");
    let before = std::fs::read(&f.index).unwrap();
    let out = f.learn_stop(&with);
    assert!(out.contains("0.900"), "{out}");
    assert_eq!(
        std::fs::read(&f.index).unwrap(),
        before,
        "--out leaves the index alone"
    );
    let csv = f.p("t.csv");
    for rule in [
        "fixed", "patience", "ada", "learned", "ppo", "gbdt", "gain", "epsilon",
    ] {
        ok(&[
            "bench",
            "--index",
            &with,
            "--queries",
            &f.test,
            "--groundtruth",
            &f.test_gt,
            "--target-recall",
            "0.9",
            "--stop",
            rule,
            "--runs",
            "1",
            "--csv",
            &csv,
            "--quiet",
        ]);
        let text = std::fs::read_to_string(&csv).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "target_recall,ef,recall,qps,mean_distances,mean_hops,p50_us,p99_us,p99_distances,share_below_0.8,stop"
        );
        let row: Vec<&str> = lines.next().unwrap().split(',').collect();
        assert_eq!((row[0], row[10]), ("0.9", rule));
        let recall: f64 = row[2].parse().unwrap();
        assert!(
            (recall - 0.9).abs() < 0.04,
            "{rule}: recall {recall} on unseen queries"
        );
    }
    // search --target-recall writes the ids; their recall against the truth meets the target.
    let ids = f.p("ids.ivecs");
    let s = ok(&[
        "search",
        "--index",
        &with,
        "--queries",
        &f.test,
        "--k",
        "10",
        "--target-recall",
        "0.9",
        "--out",
        &ids,
    ]);
    assert!(s.contains("target recall 0.9, learned rule"), "{s}");
    let (found, truth) = (read_ivecs(Path::new(&ids)), read_ivecs(Path::new(&f.test_gt)));
    let hits: usize = found
        .iter()
        .zip(&truth)
        .map(|(f, t)| f.iter().filter(|id| t[..10].contains(id)).count())
        .sum();
    let recall = hits as f64 / (10 * found.len()) as f64;
    assert!((recall - 0.9).abs() < 0.04, "search recall {recall}");
}

#[test]
fn bad_input_is_refused_and_nothing_is_written() {
    let f = files();
    let before = std::fs::read(&f.index).unwrap();
    let learn = |extra: &[&str]| {
        let mut args = vec!["learn-stop", "--index", &f.index, "--queries", &f.learn];
        args.extend_from_slice(extra);
        fails(&args)
    };
    let (code, msg) = learn(&["--target-recall", "0.9"]);
    assert_eq!(code, 2);
    assert!(msg.contains("--groundtruth"), "{msg}");
    for t in ["1.5", "0", "-0.2"] {
        let (code, msg) = learn(&["--groundtruth", &f.learn_gt, "--target-recall", t]);
        assert_eq!(code, 2, "{t}: {msg}");
        assert!(msg.contains("outside (0, 1]"), "{msg}");
    }
    let (code, msg) = learn(&["--groundtruth", &f.test_gt, "--target-recall", "0.9"]);
    assert_eq!(code, 2, "ground truth of another query file: {msg}");
    assert_eq!(
        std::fs::read(&f.index).unwrap(),
        before,
        "a failed learn-stop writes nothing"
    );

    let search = |extra: &[&str]| {
        let mut args = vec!["search", "--index", &f.index, "--queries", &f.test, "--k", "10"];
        args.extend_from_slice(extra);
        fails(&args)
    };
    let (code, msg) = search(&["--target-recall", "0.9"]);
    assert_eq!(code, 2);
    assert!(msg.contains("learn-stop"), "no model: {msg}");
    assert_eq!(search(&["--target-recall", "0.9", "--ef", "20"]).0, 2);
    assert_eq!(search(&[]).0, 2, "neither --ef nor --target-recall");

    let with = f.p("with.gdx");
    f.learn_stop(&with);
    let search_on = |index: &str, extra: &[&str]| {
        let mut args = vec!["search", "--index", index, "--queries", &f.test];
        args.extend_from_slice(extra);
        fails(&args)
    };
    let search_with = |extra: &[&str]| search_on(&with, extra);
    let (code, msg) = search_with(&["--k", "5", "--target-recall", "0.9"]);
    assert_eq!(code, 2);
    assert!(msg.contains("k = 10"), "{msg}");
    let (code, msg) = search_with(&["--k", "10", "--target-recall", "1.5"]);
    assert_eq!(code, 2);
    assert!(msg.contains("outside (0, 1]"), "{msg}");
    let (code, msg) = search_with(&["--k", "10", "--target-recall", "0.9", "--stop", "oracle"]);
    assert_eq!(code, 2);
    assert!(
        msg.contains("expected one of fixed, patience, ada, adaef, learned, ppo, gbdt, gain, epsilon"),
        "{msg}"
    );
    let learn_stop = |extra: &[&str], out: &str| -> Vec<String> {
        let head = ["learn-stop", "--index", &f.index, "--queries", &f.learn];
        let tail = [
            "--groundtruth",
            &f.learn_gt,
            "--target-recall",
            "0.9",
            "--out",
            out,
        ];
        head.iter()
            .chain(extra)
            .chain(&tail)
            .map(|a| a.to_string())
            .collect()
    };
    let plain_model = f.p("plain-model.gdx");
    let args = learn_stop(&["--ef-cap", "128", "--gbdt-trees", "0"], &plain_model);
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    for (rule, fix) in [("ppo", "--ppo"), ("gbdt", "learn-stop"), ("gain", "--gain-trees")] {
        let (code, msg) = search_on(
            &plain_model,
            &["--k", "10", "--target-recall", "0.9", "--stop", rule],
        );
        assert_eq!(code, 2);
        assert!(msg.contains(fix), "{rule}: {msg}");
    }
    let args = learn_stop(&["--gbdt-depth", "12"], &f.p("never.gdx"));
    let (code, msg) = fails(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 2);
    assert!(msg.contains("gbdt") && msg.contains("depth"), "{msg}");
    assert!(!std::path::Path::new(&f.p("never.gdx")).exists());
    for bad in [["--adaef-axes", "0"], ["--adaef-warmup", "0"]] {
        let args = learn_stop(&bad, &f.p("never.gdx"));
        let (code, msg) = fails(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(code, 2, "{bad:?}: {msg}");
        assert!(msg.contains("axes ≥ 1"), "{bad:?}: {msg}");
        assert!(!std::path::Path::new(&f.p("never.gdx")).exists());
    }
    let bad_numbers = [
        ("--work-cap", ["0", "-0.5", "NaN", "inf"], "work cap"),
        ("--beam-factor", ["0.5", "NaN", "inf", "1.3,0.9"], "beam factor"),
    ];
    for (flag, values, named) in bad_numbers {
        for value in values {
            let args = learn_stop(&[flag, value], &f.p("never.gdx"));
            let (code, msg) = fails(&args.iter().map(String::as_str).collect::<Vec<_>>());
            assert_eq!(code, 2, "{flag} {value}: {msg}");
            assert!(msg.contains(named), "{flag} {value}: {msg}");
            assert!(!std::path::Path::new(&f.p("never.gdx")).exists());
        }
    }
    let (code, msg) = search_with(&["--k", "10", "--target-recall", "0.9", "--exact-walk"]);
    assert_eq!(code, 2);
    assert!(msg.contains("calibrated on byte codes"), "{msg}");
}
