//! `geodex continual` through the binary: the three drifts on a clustered set whose ground truths
//! (before and after the insert) come from `geodex groundtruth`; the topics partition the
//! learning queries, the hardness groups cut them evenly, the insert drift uses one split for both tasks, every arm's rule reaches
//! the target on the current task's unseen test queries (so the recall after the insert is
//! measured against the right keys), the output does not depend on threads, and bad input gets
//! exit 2.

mod common;

use std::path::Path;

use common::*;
use geodex_io::Matrix;
use serde_json::Value;

const DIM: usize = 16;

struct Files {
    _dir: tempfile::TempDir,
    index: String,
    learn: String,
    insert: String,
    gt_before: String,
    gt_after: String,
}

/// 3,000 rows indexed, 1,200 learning queries, 300 rows to insert, from one clustered draw.
fn files() -> Files {
    let dir = tempfile::tempdir().unwrap();
    let all = geodex_testkit::clustered(4_500, DIM, 30, 2.0, 5);
    let at = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let write = |name: &str, rows: &[f32]| {
        write_vecs(Path::new(&at(name)), &Matrix::new(DIM, rows.to_vec()).unwrap());
        at(name)
    };
    let base = write("base.fvecs", &all[..3_000 * DIM]);
    let learn = write("learn.fvecs", &all[3_000 * DIM..4_200 * DIM]);
    let insert = write("insert.fvecs", &all[4_200 * DIM..]);
    let grown: Vec<f32> = all[..3_000 * DIM]
        .iter()
        .chain(&all[4_200 * DIM..])
        .copied()
        .collect();
    let grown = write("grown.fvecs", &grown);
    let index = at("i.gdx");
    build_small(&base, &index);
    groundtruth10(&base, &learn, "l2", &at("gt-before.ivecs"));
    groundtruth10(&grown, &learn, "l2", &at("gt-after.ivecs"));
    Files {
        index,
        learn,
        insert,
        gt_before: at("gt-before.ivecs"),
        gt_after: at("gt-after.ivecs"),
        _dir: dir,
    }
}

impl Files {
    fn args<'a>(&'a self, extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec![
            "continual",
            "--index",
            &self.index,
            "--queries",
            &self.learn,
            "--groundtruth",
            &self.gt_before,
            "--insert",
            &self.insert,
            "--insert-groundtruth",
            &self.gt_after,
            "--ef-cap",
            "128",
            "--target-recall",
            "0.9",
            "--topics",
            "3",
            "--lambdas",
            "1",
            "--replay",
            "0.05",
            "--json",
        ];
        args.extend_from_slice(extra);
        args
    }
}

#[test]
fn both_drifts_run_every_arm_and_meet_the_target_on_the_current_task() {
    let f = files();
    let out = ok(&f.args(&[]));
    let v: Value = serde_json::from_str(&out).unwrap();
    let studies = v["studies"].as_array().unwrap();
    assert_eq!(studies.len(), 3);
    let count = |t: &Value| -> u64 {
        ["fit_queries", "calibration_queries", "test_queries"]
            .iter()
            .map(|k| t[*k].as_u64().unwrap())
            .sum()
    };
    // The topics partition the 1,200 learning queries (every search reaches a check).
    let topics = studies[0]["tasks"].as_array().unwrap();
    assert_eq!(topics.len(), 3);
    assert_eq!(topics.iter().map(count).sum::<u64>(), 1200);
    // Hardness groups: equal shares of the 1,200 queries.
    let groups = studies[1]["tasks"].as_array().unwrap();
    assert_eq!(groups.iter().map(count).collect::<Vec<_>>(), [400, 400, 400]);
    // The insert drift: the same 1,200 queries, one split for both tasks.
    let insert = studies[2]["tasks"].as_array().unwrap();
    assert_eq!(insert.len(), 2);
    assert_eq!(count(&insert[0]), 1200);
    assert_eq!(insert[0]["test_queries"], insert[1]["test_queries"]);
    assert_eq!(insert[1]["name"], "after 300 inserts");
    for study in studies {
        let arms: Vec<&str> = study["arms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["arm"].as_str().unwrap())
            .collect();
        assert_eq!(
            arms,
            [
                "frozen",
                "naive",
                "ewc:1",
                "replay:0.05",
                "ewc:1+replay:0.05",
                "scratch"
            ]
        );
        for arm in study["arms"].as_array().unwrap() {
            for (t, stage) in arm["stages"].as_array().unwrap().iter().enumerate() {
                // Calibrated on task t's calibration queries, replayed on its test queries.
                let recall = stage["recall"][t].as_f64().unwrap();
                assert!(
                    recall > 0.85,
                    "{} {} stage {t}: recall {recall}",
                    study["drift"],
                    arm["arm"]
                );
            }
        }
    }
    // Threads do not change the traces, so nothing changes.
    assert_eq!(ok(&f.args(&["--threads", "1"])), out);
    // Another seed, other topics.
    assert_ne!(ok(&f.args(&["--seed", "7"])), out);
}

#[test]
fn bad_input_is_refused() {
    let f = files();
    let drop_flag = |flag: &str| -> Vec<String> {
        let args = f.args(&[]);
        let at = args.iter().position(|a| *a == flag).unwrap();
        args.iter()
            .enumerate()
            .filter(|(i, _)| *i != at && *i != at + 1)
            .map(|(_, a)| a.to_string())
            .collect()
    };
    let run = |args: Vec<String>| fails(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let (code, msg) = run(drop_flag("--groundtruth"));
    assert_eq!(code, 2);
    assert!(msg.contains("--groundtruth"), "{msg}");
    let (code, msg) = run(drop_flag("--insert-groundtruth"));
    assert_eq!(code, 2);
    assert!(msg.contains("go together"), "{msg}");
    for (flag, value, says) in [
        ("--target-recall", "1.5", "outside (0, 1]"),
        ("--topics", "1", "≥ 2"),
        ("--lambdas", "-1", "≥ 0"),
        ("--replay", "0", "(0, 1]"),
    ] {
        let mut args = drop_flag(flag);
        args.extend([flag.to_string(), value.to_string()]);
        let (code, msg) = run(args);
        assert_eq!(code, 2, "{flag} {value}: {msg}");
        assert!(msg.contains(says), "{flag} {value}: {msg}");
    }
    // Vectors of another dimension cannot be inserted.
    let wrong = f.index.replace("i.gdx", "wrong.fvecs");
    write_vecs(Path::new(&wrong), &Matrix::new(8, vec![0.5f32; 80]).unwrap());
    let mut args = drop_flag("--insert");
    args.extend(["--insert".to_string(), wrong]);
    let (code, msg) = run(args);
    assert_eq!(code, 2, "{msg}");
}
