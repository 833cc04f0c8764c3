//! The command-line contract of ARCHITECTURE.md §5, end to end on the bundled SIFT slice.

mod common;

use common::*;
use serde_json::Value;

/// A 4,000-vector slice of the bundled data with its exact ground truth, built once per test.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(n: usize) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        head_bvecs(
            &repo().join("testdata/sift20k/base.bvecs"),
            n,
            &dir.path().join("base.bvecs"),
        );
        head_bvecs(
            &repo().join("testdata/sift20k/query.bvecs"),
            200,
            &dir.path().join("query.bvecs"),
        );
        let f = Fixture { dir };
        ok(&[
            "groundtruth",
            "--data",
            &f.p("base.bvecs"),
            "--queries",
            &f.p("query.bvecs"),
            "--k",
            "100",
            "--metric",
            "l2",
            "--out",
            &f.p("gt.ivecs"),
            "--quiet",
        ]);
        ok(&[
            "build",
            "--data",
            &f.p("base.bvecs"),
            "--out",
            &f.p("index.gdx"),
            "--m",
            "16",
            "--ef-construction",
            "100",
            "--quiet",
        ]);
        f
    }

    fn p(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    /// Builds `name` from the fixture's base on one thread with `extra` flags; its path.
    fn build_one_thread(&self, name: &str, extra: &[&str]) -> String {
        self.build_one_thread_stdout(name, extra);
        self.p(name)
    }

    /// [`Fixture::build_one_thread`], returning what the build printed on stdout.
    fn build_one_thread_stdout(&self, name: &str, extra: &[&str]) -> String {
        let (base, out) = (self.p("base.bvecs"), self.p(name));
        let fixed = [
            "build",
            "--data",
            &base,
            "--out",
            &out,
            "--threads",
            "1",
            "--quiet",
        ];
        let args: Vec<&str> = fixed.iter().copied().chain(extra.iter().copied()).collect();
        ok(&args)
    }

    /// The arguments of `geodex bench` on the fixture's index, queries and ground truth, plus
    /// `extra` flags.
    fn bench_args(&self, extra: &[&str]) -> Vec<String> {
        let (index, queries, gt) = (self.p("index.gdx"), self.p("query.bvecs"), self.p("gt.ivecs"));
        let fixed = [
            "bench",
            "--index",
            &index,
            "--queries",
            &queries,
            "--groundtruth",
            &gt,
            "--quiet",
        ];
        fixed.iter().chain(extra).map(|s| s.to_string()).collect()
    }

    /// `geodex bench` with [`Fixture::bench_args`], which must succeed; its stdout.
    fn bench(&self, extra: &[&str]) -> String {
        let args = self.bench_args(extra);
        ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// `geodex search` on the fixture's index and queries, plus `extra` flags.
    fn search(&self, extra: &[&str]) -> std::process::Output {
        let (index, queries) = (self.p("index.gdx"), self.p("query.bvecs"));
        let mut args = vec!["search", "--index", &index, "--queries", &queries, "--quiet"];
        args.extend_from_slice(extra);
        geodex(&args)
    }
}

#[test]
fn bench_recall_equals_recall_of_search_out() {
    let f = Fixture::new(4000);
    for ef in [10usize, 40] {
        let out = f.p(&format!("ids{ef}.ivecs"));
        let ef_s = ef.to_string();
        assert!(f
            .search(&["--k", "10", "--ef", &ef_s, "--out", &out])
            .status
            .success());
        let found = read_ivecs(std::path::Path::new(&out));
        let truth = read_ivecs(std::path::Path::new(&f.p("gt.ivecs")));
        let hits: usize = found
            .iter()
            .zip(&truth)
            .map(|(r, t)| r.iter().filter(|id| t[..10].contains(id)).count())
            .sum();
        let recall_from_files = hits as f64 / (10 * found.len()) as f64;
        let bench: Value =
            serde_json::from_str(&f.bench(&["--k", "10", "--ef", &ef_s, "--runs", "1", "--json"])).unwrap();
        let recall_bench = bench["rows"][0]["recall"].as_f64().unwrap();
        assert!(
            (recall_bench - recall_from_files).abs() < 1e-12,
            "ef={ef}: bench {recall_bench} vs files {recall_from_files}"
        );
    }
}

#[test]
fn bench_writes_the_exact_csv_header_and_a_png() {
    let f = Fixture::new(2000);
    let (csv, png) = (f.p("b.csv"), f.p("b.png"));
    let table = f.bench(&[
        "--k", "10", "--ef", "10,20,40", "--runs", "1", "--csv", &csv, "--plot", &png,
    ]);
    assert_eq!(table.lines().count(), 4, "{table}");
    let csv = std::fs::read_to_string(f.p("b.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("ef,recall,qps,mean_distances,mean_hops,p50_us,p99_us")
    );
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|x| x.parse().unwrap()).collect())
        .collect();
    assert_eq!(
        rows.iter().map(|r| r[0] as usize).collect::<Vec<_>>(),
        vec![10, 20, 40]
    );
    for r in &rows {
        assert_eq!(r.len(), 7);
        assert!(r[1] > 0.0 && r[1] <= 1.0 && r[2] > 0.0 && r[5] <= r[6]);
    }
    assert!(
        rows.windows(2).all(|w| w[1][3] >= w[0][3]),
        "distance evaluations must grow with ef"
    );
    let png = std::fs::read(f.p("b.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}

#[test]
fn info_json_has_the_stable_keys_and_matches_the_graph_file() {
    let f = Fixture::new(3000);
    let info: Value = serde_json::from_str(&ok(&["info", "--index", &f.p("index.gdx"), "--json"])).unwrap();
    for key in [
        "count",
        "dim",
        "metric",
        "m",
        "ef_construction",
        "quant",
        "file_bytes",
        "ram_bytes",
        "levels",
    ] {
        assert!(info.get(key).is_some(), "info --json lacks {key}");
    }
    assert_eq!(info["count"], 3000);
    assert_eq!(info["dim"], 128);
    assert_eq!(info["metric"], "l2");
    assert_eq!(info["m"], 16);
    assert_eq!(info["quant"], "none");
    assert_eq!(info["levels"][0], 3000);
    assert_eq!(info["graph"]["unreachable"], 0);
    assert_eq!(
        info["file_bytes"].as_u64().unwrap(),
        std::fs::metadata(f.p("index.gdx")).unwrap().len()
    );
    for layer in 0..info["levels"].as_array().unwrap().len() {
        ok(&[
            "graph",
            "--index",
            &f.p("index.gdx"),
            "--layer",
            &layer.to_string(),
            "--out",
            &f.p("edges.tsv"),
        ]);
        let tsv = std::fs::read_to_string(f.p("edges.tsv")).unwrap();
        assert_eq!(
            tsv.lines().count() as u64,
            info["graph"]["links_per_level"][layer].as_u64().unwrap()
        );
        assert!(tsv.lines().all(|l| {
            let (u, v) = l.split_once('\t').unwrap();
            u != v && u.parse::<u32>().unwrap() < 3000 && v.parse::<u32>().unwrap() < 3000
        }));
    }
}

#[test]
fn one_thread_cli_builds_are_bit_identical() {
    let f = Fixture::new(1500);
    for name in ["a.gdx", "b.gdx"] {
        ok(&[
            "build",
            "--data",
            &f.p("base.bvecs"),
            "--out",
            &f.p(name),
            "--threads",
            "1",
            "--seed",
            "5",
            "--quiet",
        ]);
    }
    assert_eq!(
        std::fs::read(f.p("a.gdx")).unwrap(),
        std::fs::read(f.p("b.gdx")).unwrap()
    );
}

/// `--m auto` (the default) on Euclidean data: the probe passes at M = 16 and the index is the
/// one `--m 16` builds (one thread, same seed: the same level-0 links); the choice is printed
/// in `build --json` and kept in the file's metadata without its timings.
#[test]
fn m_auto_keeps_16_on_euclidean_data_and_builds_the_fixed_m_index() {
    let f = Fixture::new(1500);
    let build = |name: &str, extra: &[&str]| -> Value {
        serde_json::from_str(&f.build_one_thread_stdout(name, &[extra, &["--json"]].concat())).unwrap()
    };
    let auto = build("auto.gdx", &[]);
    let fixed = build("fixed.gdx", &["--m", "16"]);
    assert_eq!(fixed["auto_m"], Value::Null);
    assert_eq!((auto["m"].as_u64(), fixed["m"].as_u64()), (Some(16), Some(16)));
    let report = &auto["auto_m"];
    assert_eq!(report["chosen_m"], 16);
    assert_eq!(report["reached"], true);
    let trials = report["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 1, "{report}");
    let probe = trials[0]["recall"].as_f64().unwrap();
    assert!((0.97..=1.0).contains(&probe), "{report}");
    let links = |name: &str| {
        ok(&[
            "graph",
            "--index",
            &f.p(name),
            "--layer",
            "0",
            "--out",
            &f.p("l0.tsv"),
        ]);
        std::fs::read_to_string(f.p("l0.tsv")).unwrap()
    };
    assert_eq!(links("auto.gdx"), links("fixed.gdx"));
    let info: Value = serde_json::from_str(&ok(&["info", "--index", &f.p("auto.gdx"), "--json"])).unwrap();
    let kept = &info["metadata"]["auto_m"];
    assert_eq!(kept["chosen_m"], 16);
    assert_eq!(kept["trials"][0]["recall"], trials[0]["recall"]);
    assert_eq!(
        kept["trials"][0].get("build_seconds"),
        None,
        "timings in the file: {kept}"
    );

    // A target the first M misses: M doubles, and the file is the last build's.
    let strict = build(
        "strict.gdx",
        &["--auto-recall", "1.0", "--auto-ef", "11", "--max-m", "32"],
    );
    let ms: Vec<u64> = strict["auto_m"]["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["m"].as_u64().unwrap())
        .collect();
    assert_eq!(ms, [16, 32], "{strict}");
    let info: Value = serde_json::from_str(&ok(&["info", "--index", &f.p("strict.gdx"), "--json"])).unwrap();
    assert_eq!((strict["m"].as_u64(), info["m"].as_u64()), (Some(32), Some(32)));
}

#[test]
fn keep_pruned_fills_the_lists_the_heuristic_thins_and_is_recorded() {
    let f = Fixture::new(1500);
    // (fewest, mean) level-0 out-degree and the recorded flag of a one-thread M = 8 build.
    let level0 = |name: &str, extra: &[&str]| {
        let out = f.build_one_thread(name, &[&["--m", "8"], extra].concat());
        let graph: Value =
            serde_json::from_str(&ok(&["analyze", "--index", &out, "--only", "graph", "--json"])).unwrap();
        let info: Value = serde_json::from_str(&ok(&["info", "--index", &out, "--json"])).unwrap();
        let degree = &graph["graph"]["levels"][0]["out_degree"];
        (
            degree["min"].as_u64().unwrap(),
            degree["mean"].as_f64().unwrap(),
            info["metadata"]["heuristic"]["keep_pruned"].clone(),
        )
    };
    let (plain_min, plain_mean, plain_flag) = level0("plain.gdx", &[]);
    let (kept_min, kept_mean, kept_flag) = level0("kept.gdx", &["--keep-pruned"]);
    assert_eq!(plain_flag, Value::Bool(false));
    assert_eq!(kept_flag, Value::Bool(true));
    // An insertion keeps M = 8 links when it found that many candidates (ef_construction 200
    // over 1,500 points always does), pruned ones included; reverse links add up to 2·M.
    assert!(kept_min >= 8, "a list below M with keep_pruned: {kept_min}");
    assert!(
        kept_mean > plain_mean,
        "mean degree {kept_mean} vs {plain_mean} without"
    );
    assert!(
        plain_min < kept_min,
        "the heuristic thinned no list: min {plain_min}"
    );
}

/// `build --links compressed`: the same one-thread graph as fixed rows, so `search --json`
/// returns the same ids and distances; `info --json` names the layout and counts fewer level-0
/// bytes in `ram_bytes`; a misspelt layout is a usage error (exit 2).
#[test]
fn compressed_links_search_like_fixed_rows_with_fewer_resident_bytes() {
    let f = Fixture::new(2000);
    let run = |name: &str, links: &str| {
        let (out, queries) = (f.build_one_thread(name, &["--links", links]), f.p("query.bvecs"));
        let info: Value = serde_json::from_str(&ok(&["info", "--index", &out, "--json"])).unwrap();
        let search = [
            "search",
            "--index",
            &out,
            "--queries",
            &queries,
            "--k",
            "10",
            "--ef",
            "40",
        ];
        let hits: Value = serde_json::from_str(&ok(&[&search[..], &["--json", "--quiet"]].concat())).unwrap();
        (info, hits)
    };
    let (fixed, fixed_hits) = run("fixed.gdx", "fixed");
    let (packed, packed_hits) = run("packed.gdx", "compressed");
    assert_eq!(
        (fixed["links"].as_str(), packed["links"].as_str()),
        (Some("fixed"), Some("compressed"))
    );
    assert_eq!(fixed_hits["ids"], packed_hits["ids"]);
    assert_eq!(fixed_hits["distances"], packed_hits["distances"]);
    let bytes = |v: &Value, key: &str| v[key].as_u64().unwrap();
    assert!(bytes(&packed, "level0_bytes") * 2 <= bytes(&fixed, "level0_bytes"));
    assert_eq!(
        bytes(&fixed, "ram_bytes") - bytes(&packed, "ram_bytes"),
        bytes(&fixed, "level0_bytes") - bytes(&packed, "level0_bytes")
    );
    let (base, out) = (f.p("base.bvecs"), f.p("bad.gdx"));
    let (code, msg) = fails(&["build", "--data", &base, "--out", &out, "--links", "tight"]);
    assert!(code == 2 && msg.contains("tight"), "{msg}");
}

/// `bench --cold` reopens the index per ef after dropping it from the page cache: the same
/// searches as a plain bench (equal recall per ef), a warm run that faults no more pages than
/// the cold one, and the resident memory of the process. A usage error beside `--target-recall`.
#[test]
#[cfg(target_os = "linux")]
fn bench_cold_counts_faults_for_the_same_searches() {
    let f = Fixture::new(3000);
    let common = ["--k", "10", "--ef", "16,48", "--runs", "2", "--json"];
    let plain: Value = serde_json::from_str(&f.bench(&common)).unwrap();
    let cold: Value = serde_json::from_str(&f.bench(&[&common[..], &["--cold"]].concat())).unwrap();
    let rows = cold["cold"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for (c, p) in rows.iter().zip(plain["rows"].as_array().unwrap()) {
        assert_eq!((&c["ef"], &c["recall"]), (&p["ef"], &p["recall"]));
        let per_query = |key: &str| c[key].as_f64().unwrap();
        assert!(per_query("warm_major_faults_per_query") <= per_query("cold_major_faults_per_query"));
        assert!(per_query("cold_qps") > 0.0 && per_query("warm_qps") > 0.0);
        // The walk's sections were copied to the heap; the process holds at least them.
        let anon = c["resident"]["anon_bytes"].as_u64().unwrap();
        let rss = c["resident"]["rss_bytes"].as_u64().unwrap();
        assert!(anon > 3000 * 4 * 33 && rss >= anon, "anon {anon}, rss {rss}");
    }
    let args = f.bench_args(&["--cold", "--target-recall", "0.9"]);
    let (code, _) = fails(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 2);
}

#[test]
fn search_json_and_k_above_count() {
    let f = Fixture::new(50);
    let out = f.search(&["--k", "80", "--ef", "100", "--json"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("warning: k = 80 exceeds the 50 vectors"));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids = v["ids"].as_array().unwrap();
    assert_eq!(ids.len(), 200);
    let mut first: Vec<u64> = ids[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect();
    first.sort();
    assert_eq!(
        first,
        (0..50).collect::<Vec<_>>(),
        "k > N must return every vector once"
    );
    for key in ["qps", "mean_distances", "mean_hops", "distances"] {
        assert!(v.get(key).is_some(), "{key}");
    }
}

/// A reader that leaves early (`geodex search --json | head -c 1`): the command ends with
/// SIGPIPE's status 141 and says nothing, where it used to report an internal error. The read
/// end is closed before the child can write (it still has to open the index and search), and the
/// JSON is larger than a pipe's buffer, so the write fails either way.
#[test]
fn a_reader_that_leaves_early_ends_the_command_quietly() {
    use std::process::{Command, Stdio};
    let f = Fixture::new(500);
    let (index, queries) = (f.p("index.gdx"), f.p("query.bvecs"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_geodex"))
        .args(["search", "--index", &index, "--queries", &queries, "--quiet"])
        .args(["--k", "100", "--ef", "100", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "stderr: {err}");
    assert!(err.is_empty(), "stderr: {err}");
}

#[test]
fn hdf5_and_npy_inputs_work_like_texmex() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let data = geodex_testkit::clustered(600, 8, 5, 0.4, 3);
    let base = geodex_io::Matrix::new(8, data[..500 * 8].to_vec()).unwrap();
    let queries = geodex_io::Matrix::new(8, data[500 * 8..].to_vec()).unwrap();
    write_vecs(std::path::Path::new(&p("b.fvecs")), &base);
    write_vecs(std::path::Path::new(&p("q.fvecs")), &queries);
    std::fs::write(p("b.npy"), geodex_io::npy::encode("<f4", &base)).unwrap();
    ok(&[
        "groundtruth",
        "--data",
        &p("b.fvecs"),
        "--queries",
        &p("q.fvecs"),
        "--k",
        "10",
        "--metric",
        "l2",
        "--out",
        &p("gt.ivecs"),
    ]);
    let nn = geodex_io::Matrix::new(10, read_ivecs(std::path::Path::new(&p("gt.ivecs"))).concat()).unwrap();
    geodex_io::hdf5::write_ann_benchmarks(std::path::Path::new(&p("ab.hdf5")), &base, &queries, &nn, None)
        .unwrap();
    ok(&[
        "build",
        "--data",
        &p("ab.hdf5"),
        "--out",
        &p("h.gdx"),
        "--threads",
        "1",
        "--quiet",
    ]);
    ok(&[
        "build",
        "--data",
        &p("b.npy"),
        "--out",
        &p("n.gdx"),
        "--threads",
        "1",
        "--quiet",
    ]);
    ok(&[
        "build",
        "--data",
        &p("b.fvecs"),
        "--out",
        &p("f.gdx"),
        "--threads",
        "1",
        "--quiet",
    ]);
    let h = std::fs::read(p("h.gdx")).unwrap();
    assert_eq!(
        h,
        std::fs::read(p("n.gdx")).unwrap(),
        "npy and hdf5 indexes differ"
    );
    assert_eq!(
        h,
        std::fs::read(p("f.gdx")).unwrap(),
        "fvecs and hdf5 indexes differ"
    );
    let bench: Value = serde_json::from_str(&ok(&[
        "bench",
        "--index",
        &p("h.gdx"),
        "--queries",
        &p("ab.hdf5"),
        "--groundtruth",
        &p("ab.hdf5"),
        "--k",
        "10",
        "--ef",
        "64",
        "--runs",
        "1",
        "--json",
    ]))
    .unwrap();
    assert!(bench["rows"][0]["recall"].as_f64().unwrap() >= 0.95);
}

#[test]
fn demo_runs_and_writes_its_plot() {
    let dir = tempfile::tempdir().unwrap();
    let v: Value = serde_json::from_str(&ok(&[
        "demo",
        "--out-dir",
        dir.path().to_str().unwrap(),
        "--json",
        "--quiet",
    ]))
    .unwrap();
    assert_eq!(v["count"], 20000);
    let rows = v["rows"].as_array().unwrap();
    let best = rows
        .iter()
        .map(|r| r["recall"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(best >= 0.99, "demo recall {best}");
    assert!(dir.path().join("geodex-demo.png").exists() && dir.path().join("geodex-demo.csv").exists());
}

#[test]
fn groundtruth_distances_are_the_metric_distances_of_the_ids() {
    let f = Fixture::new(500);
    ok(&[
        "groundtruth",
        "--data",
        &f.p("base.bvecs"),
        "--queries",
        &f.p("query.bvecs"),
        "--k",
        "5",
        "--metric",
        "l2",
        "--out",
        &f.p("g5.ivecs"),
        "--distances-out",
        &f.p("g5.fvecs"),
        "--quiet",
    ]);
    let base: geodex_io::Matrix<u8> =
        geodex_io::texmex::parse(&std::fs::read(f.p("base.bvecs")).unwrap(), "b").unwrap();
    let queries: geodex_io::Matrix<u8> =
        geodex_io::texmex::parse(&std::fs::read(f.p("query.bvecs")).unwrap(), "q").unwrap();
    let ids = read_ivecs(std::path::Path::new(&f.p("g5.ivecs")));
    let dists: geodex_io::Matrix<f32> =
        geodex_io::texmex::parse(&std::fs::read(f.p("g5.fvecs")).unwrap(), "d").unwrap();
    for (q, (row, d)) in ids.iter().zip(dists.iter()).enumerate() {
        for (&id, &dist) in row.iter().zip(d) {
            let exact = geodex_distance::reference::squared_l2_u8(queries.row(q), base.row(id as usize));
            assert_eq!(dist as u64, exact, "query {q}, id {id}");
        }
        assert!(d.windows(2).all(|w| w[0] <= w[1]), "not sorted");
    }
}

#[test]
fn every_command_accepts_quiet() {
    let help = ok(&["--help"]);
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|&c| c != "help")
        .collect();
    assert!(commands.len() >= 14, "{commands:?}");
    for command in commands {
        let text = ok(&[command, "--help"]);
        assert!(
            text.contains("--quiet"),
            "`geodex {command}` does not accept --quiet"
        );
    }
}
