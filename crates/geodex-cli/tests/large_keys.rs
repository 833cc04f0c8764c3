//! Keys are u64 end to end: keys near 2⁶⁴ come back whole through `search --json`, `search
//! --out .npy`, `bench` and the living index, and `.ivecs` (int32) refuses them with an error
//! instead of truncating. Every answer is compared with brute force over the rows.

mod common;

use std::path::Path;

use common::*;
use geodex_io::Matrix;

const DIM: usize = 8;
const ROWS: usize = 300;

/// Keys far above 2³² (and 2⁶³), distinct, none the reserved 2⁶⁴ − 1.
fn big_keys() -> Vec<u64> {
    (0..ROWS as u64)
        .map(|i| u64::MAX - 1 - i * 7_919_000_003)
        .collect()
}

fn write_keys(path: &Path, keys: &[u64]) {
    let text: String = keys.iter().map(|k| format!("{k}\n")).collect();
    std::fs::write(path, text).unwrap();
}

/// The exact 10 nearest rows of each query by squared L2 in f64, ties by row.
fn brute_force(base: &[f32], queries: &[f32]) -> Vec<Vec<usize>> {
    queries
        .chunks(DIM)
        .map(|q| {
            let mut d: Vec<(f64, usize)> = base
                .chunks(DIM)
                .enumerate()
                .map(|(i, b)| {
                    let s = b
                        .iter()
                        .zip(q)
                        .map(|(x, y)| (*x as f64 - *y as f64).powi(2))
                        .sum();
                    (s, i)
                })
                .collect();
            d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            d.into_iter().take(10).map(|x| x.1).collect()
        })
        .collect()
}

fn json_ids(out: &str) -> Vec<Vec<u64>> {
    let v: serde_json::Value = serde_json::from_str(out).unwrap();
    v["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().expect("a u64 id"))
                .collect()
        })
        .collect()
}

#[test]
fn keys_near_two_to_the_64_survive_every_output_path() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let base = geodex_testkit::clustered(ROWS, DIM, 4, 0.5, 3);
    let queries = geodex_testkit::clustered(12, DIM, 4, 0.5, 4);
    write_vecs(&p("b.fvecs"), &Matrix::new(DIM, base.clone()).unwrap());
    write_vecs(&p("q.fvecs"), &Matrix::new(DIM, queries.clone()).unwrap());
    let keys = big_keys();
    write_keys(&p("keys.txt"), &keys);
    let index = p("i.gdx");
    ok(&[
        "build",
        "--data",
        s(&p("b.fvecs")),
        "--keys",
        s(&p("keys.txt")),
        "--out",
        s(&index),
        "--quiet",
    ]);
    let truth: Vec<Vec<u64>> = brute_force(&base, &queries)
        .into_iter()
        .map(|r| r.into_iter().map(|i| keys[i]).collect())
        .collect();
    // ef above the row count: the search is exhaustive, so the answer is the brute force one.
    let qpath = p("q.fvecs");
    let search = |extra: &[&str]| {
        let mut args = vec!["search", "--index", s(&index), "--queries", s(&qpath)];
        args.extend_from_slice(&["--k", "10", "--ef", "400", "--quiet"]);
        args.extend_from_slice(extra);
        args.iter().map(|a| a.to_string()).collect::<Vec<String>>()
    };
    let run = |args: Vec<String>| ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(json_ids(&run(search(&["--json"]))), truth);

    let npy = p("ids.npy");
    run(search(&["--out", s(&npy)]));
    let back = geodex_io::read_ids(&npy).unwrap();
    assert_eq!(back.iter().map(|r| r.to_vec()).collect::<Vec<_>>(), truth);

    let ivecs = p("ids.ivecs");
    let args = search(&["--out", s(&ivecs)]);
    let (code, msg) = fails(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        code == 2 && msg.contains(&truth[0][0].to_string()) && msg.contains(".npy"),
        "{msg}"
    );
    assert!(!ivecs.exists(), "a refused .ivecs was written");

    let gt = p("gt.npy");
    geodex_io::write_ids(&gt, &Matrix::from_rows(&truth).unwrap()).unwrap();
    let bench = ok(&[
        "bench",
        "--index",
        s(&index),
        "--queries",
        s(&p("q.fvecs")),
        "--groundtruth",
        s(&gt),
        "--ef",
        "400",
        "--runs",
        "1",
        "--json",
        "--quiet",
    ]);
    let v: serde_json::Value = serde_json::from_str(&bench).unwrap();
    assert_eq!(v["rows"][0]["recall"].as_f64(), Some(1.0), "{bench}");
}

#[test]
fn the_living_index_takes_and_returns_large_keys() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let base = geodex_testkit::clustered(ROWS, DIM, 4, 0.5, 5);
    let (first, second) = base.split_at(DIM * ROWS / 2);
    write_vecs(&p("a.fvecs"), &Matrix::new(DIM, first.to_vec()).unwrap());
    write_vecs(&p("b.fvecs"), &Matrix::new(DIM, second.to_vec()).unwrap());
    let keys = big_keys();
    let (ka, kb) = keys.split_at(ROWS / 2);
    write_keys(&p("ka.txt"), ka);
    geodex_io::write_ids(&p("kb.npy"), &Matrix::new(1, kb.to_vec()).unwrap()).unwrap();
    let index = p("i.gdx");
    ok(&[
        "build",
        "--data",
        s(&p("a.fvecs")),
        "--keys",
        s(&p("ka.txt")),
        "--out",
        s(&index),
        "--quiet",
    ]);
    ok(&[
        "insert",
        "--index",
        s(&index),
        "--data",
        s(&p("b.fvecs")),
        "--keys",
        s(&p("kb.npy")),
        "--quiet",
    ]);
    // Delete every third key, given as uint64 .npy.
    let gone: Vec<u64> = keys.iter().copied().step_by(3).collect();
    geodex_io::write_ids(&p("gone.npy"), &Matrix::new(1, gone.clone()).unwrap()).unwrap();
    ok(&[
        "delete",
        "--index",
        s(&index),
        "--keys",
        s(&p("gone.npy")),
        "--quiet",
    ]);

    let queries = geodex_testkit::clustered(8, DIM, 4, 0.5, 6);
    write_vecs(&p("q.fvecs"), &Matrix::new(DIM, queries.clone()).unwrap());
    let live: Vec<usize> = (0..ROWS).filter(|i| i % 3 != 0).collect();
    let live_rows: Vec<f32> = live
        .iter()
        .flat_map(|&i| base[i * DIM..(i + 1) * DIM].to_vec())
        .collect();
    let truth: Vec<Vec<u64>> = brute_force(&live_rows, &queries)
        .into_iter()
        .map(|r| r.into_iter().map(|j| keys[live[j]]).collect())
        .collect();
    let out = ok(&[
        "search",
        "--index",
        s(&index),
        "--queries",
        s(&p("q.fvecs")),
        "--k",
        "10",
        "--ef",
        "400",
        "--json",
        "--quiet",
    ]);
    assert_eq!(json_ids(&out), truth);

    write_keys(&p("reserved.txt"), &[u64::MAX]);
    write_vecs(&p("one.fvecs"), &Matrix::new(DIM, vec![0.5f32; DIM]).unwrap());
    let (code, msg) = fails(&[
        "insert",
        "--index",
        s(&index),
        "--data",
        s(&p("one.fvecs")),
        "--keys",
        s(&p("reserved.txt")),
    ]);
    assert!(code == 2 && msg.contains("reserved"), "{msg}");
}
