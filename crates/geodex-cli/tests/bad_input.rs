//! Every case of ARCHITECTURE.md §6 through the CLI: exit code 1 or 2, one `error:` line naming the
//! file, the row or the argument, never a panic, nothing on stdout, no file left half-written.

mod common;

use std::path::Path;

use common::*;
use geodex_io::Matrix;

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Dir {
        Dir(tempfile::tempdir().unwrap())
    }
    fn p(&self, name: &str) -> String {
        self.0.path().join(name).to_str().unwrap().to_string()
    }
    fn fvecs(&self, name: &str, dim: usize, data: Vec<f32>) -> String {
        write_vecs(Path::new(&self.p(name)), &Matrix::new(dim, data).unwrap());
        self.p(name)
    }
    /// A small valid f32 data set, its index and queries.
    fn with_index(&self) -> (String, String, String) {
        let data = self.fvecs("base.fvecs", 4, geodex_testkit::clustered(300, 4, 3, 0.5, 1));
        let q = self.fvecs("q.fvecs", 4, geodex_testkit::clustered(5, 4, 3, 0.5, 2));
        ok(&["build", "--data", &data, "--out", &self.p("i.gdx"), "--quiet"]);
        (data, q, self.p("i.gdx"))
    }
}

#[test]
fn bad_vectors_name_file_and_row() {
    let d = Dir::new();
    let mut v = geodex_testkit::clustered(10, 3, 2, 0.5, 1);
    v[7] = f32::NAN;
    let nan = d.fvecs("nan.fvecs", 3, v.clone());
    let (code, msg) = fails(&["build", "--data", &nan, "--out", &d.p("x.gdx")]);
    assert_eq!(code, 2);
    assert!(
        msg.contains("nan.fvecs") && msg.contains("row 2") && msg.contains("component 1"),
        "{msg}"
    );
    v[7] = f32::INFINITY;
    let inf = d.fvecs("inf.fvecs", 3, v.clone());
    assert_eq!(fails(&["build", "--data", &inf, "--out", &d.p("x.gdx")]).0, 2);

    let mut z = geodex_testkit::clustered(10, 3, 2, 0.5, 1);
    z[3..6].fill(0.0);
    let zero = d.fvecs("zero.fvecs", 3, z);
    let (code, msg) = fails(&[
        "build",
        "--data",
        &zero,
        "--out",
        &d.p("x.gdx"),
        "--metric",
        "cosine",
    ]);
    assert!(
        code == 2 && msg.contains("row 1") && msg.contains("zero vector"),
        "{msg}"
    );

    let ball = d.fvecs("ball.fvecs", 2, vec![0.1, 0.2, 0.6, 0.8, 0.0, 0.1]);
    let (code, msg) = fails(&[
        "build",
        "--data",
        &ball,
        "--out",
        &d.p("x.gdx"),
        "--metric",
        "poincare",
    ]);
    assert!(
        code == 2 && msg.contains("row 1") && msg.contains("Poincaré"),
        "{msg}"
    );
    assert!(
        !Path::new(&d.p("x.gdx")).exists(),
        "a failed build left an index file"
    );
}

#[test]
fn malformed_vector_files() {
    let d = Dir::new();
    let good = d.fvecs("g.fvecs", 4, (0..40).map(|i| i as f32).collect());
    let bytes = std::fs::read(&good).unwrap();
    for cut in [1, 3, 10, 25, 101, bytes.len() - 1] {
        let path = d.p(&format!("cut{cut}.fvecs"));
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let (code, msg) = fails(&["build", "--data", &path, "--out", &d.p("x.gdx")]);
        assert_eq!(code, 2);
        assert!(
            msg.contains(&format!("cut{cut}.fvecs: row {}", cut / 20)) && msg.contains("truncated"),
            "{msg}"
        );
    }
    let mut ragged = bytes.clone();
    ragged[20..24].copy_from_slice(&5i32.to_le_bytes());
    std::fs::write(d.p("ragged.fvecs"), ragged).unwrap();
    let (_, msg) = fails(&["build", "--data", &d.p("ragged.fvecs"), "--out", &d.p("x.gdx")]);
    assert!(msg.contains("row 1") && msg.contains("dimension 5"), "{msg}");
    std::fs::write(d.p("empty.fvecs"), b"").unwrap();
    let (code, msg) = fails(&["build", "--data", &d.p("empty.fvecs"), "--out", &d.p("x.gdx")]);
    assert!(code == 2 && msg.contains("no vectors"), "{msg}");
    std::fs::write(d.p("junk.npy"), b"\x93NUMPY\x01\x00\x05\x00{'de").unwrap();
    assert_eq!(
        fails(&["build", "--data", &d.p("junk.npy"), "--out", &d.p("x.gdx")]).0,
        2
    );
    std::fs::write(d.p("junk.hdf5"), b"not hdf5 at all").unwrap();
    let (_, msg) = fails(&["build", "--data", &d.p("junk.hdf5"), "--out", &d.p("x.gdx")]);
    assert!(msg.contains("junk.hdf5"), "{msg}");
    let (code, msg) = fails(&["build", "--data", &d.p("data.csv"), "--out", &d.p("x.gdx")]);
    assert!(code == 2 && msg.contains("unknown file type"), "{msg}");
    let (code, msg) = fails(&["build", "--data", &d.p("missing.fvecs"), "--out", &d.p("x.gdx")]);
    assert!(code == 1 && msg.contains("missing.fvecs"), "{msg}");
}

#[test]
fn bad_arguments() {
    let d = Dir::new();
    let (data, q, index) = d.with_index();
    let search =
        |k: &str, ef: &str| fails(&["search", "--index", &index, "--queries", &q, "--k", k, "--ef", ef]);
    let (code, msg) = search("0", "10");
    assert!(code == 2 && msg.contains("k must be"), "{msg}");
    let (code, msg) = search("10", "5");
    assert!(code == 2 && msg.contains("ef = 5 is below k = 10"), "{msg}");
    let (code, msg) = fails(&[
        "build",
        "--data",
        &data,
        "--out",
        &d.p("y.gdx"),
        "--metric",
        "manhattan",
    ]);
    assert!(code == 2 && msg.contains("manhattan"), "{msg}");
    let (code, msg) = fails(&["build", "--data", &data, "--out", &d.p("y.gdx"), "--quant", "pq3"]);
    assert!(code == 2 && msg.contains("--quant"), "{msg}");
    let (code, msg) = fails(&[
        "build",
        "--data",
        &data,
        "--out",
        &d.p("y.gdx"),
        "--quant",
        "sq8",
        "--metric",
        "poincare",
    ]);
    assert!(code == 2 && msg.contains("Poincaré"), "{msg}");
    let (code, msg) = fails(&["build", "--data", &data, "--out", &d.p("y.gdx"), "--m", "1"]);
    assert!(code == 2 && msg.contains("m = 1"), "{msg}");
    let (code, msg) = fails(&["build", "--data", &data, "--out", &d.p("y.gdx"), "--m", "many"]);
    assert!(
        code == 2 && msg.contains("'many' is neither a number nor 'auto'"),
        "{msg}"
    );
    for (flag, value, said) in [
        ("--auto-recall", "1.5", "target recall 1.5"),
        ("--max-m", "8", "max M 8"),
        ("--auto-ef", "0", "ef ≥ 1"),
    ] {
        let (code, msg) = fails(&["build", "--data", &data, "--out", &d.p("y.gdx"), flag, value]);
        assert!(code == 2 && msg.contains(said), "{flag} {value}: {msg}");
    }
    assert!(
        !std::path::Path::new(&d.p("y.gdx")).exists(),
        "a refused build wrote a file"
    );
    let (code, _) = fails(&["search", "--index", &index]);
    assert_eq!(code, 2);
    let (code, msg) = fails(&[
        "graph",
        "--index",
        &index,
        "--layer",
        "40",
        "--out",
        &d.p("e.tsv"),
    ]);
    assert!(code == 2 && msg.contains("--layer 40"), "{msg}");
    let (code, _) = fails(&["frobnicate"]);
    assert_eq!(code, 2);
}

#[test]
fn queries_that_do_not_fit_the_index() {
    let d = Dir::new();
    let (_, _, index) = d.with_index();
    let wrong_dim = d.fvecs("q3.fvecs", 3, vec![0.0; 6]);
    let (code, msg) = fails(&[
        "search",
        "--index",
        &index,
        "--queries",
        &wrong_dim,
        "--k",
        "1",
        "--ef",
        "10",
    ]);
    assert!(
        code == 2 && msg.contains("q3.fvecs") && msg.contains("dimension 3"),
        "{msg}"
    );
    let nan = d.fvecs("qn.fvecs", 4, vec![0.0, 0.0, 0.0, 0.0, 1.0, f32::NAN, 0.0, 0.0]);
    let (code, msg) = fails(&[
        "search",
        "--index",
        &index,
        "--queries",
        &nan,
        "--k",
        "1",
        "--ef",
        "10",
    ]);
    assert!(code == 2 && msg.contains("row 1"), "{msg}");
    // A byte index with fractional float queries.
    let bytes_index = d.p("b.gdx");
    let b = d.p("b.bvecs");
    head_bvecs(&repo().join("testdata/sift20k/base.bvecs"), 100, Path::new(&b));
    ok(&["build", "--data", &b, "--out", &bytes_index, "--quiet"]);
    let frac = d.fvecs("frac.fvecs", 128, vec![0.5; 128]);
    let (code, msg) = fails(&[
        "search",
        "--index",
        &bytes_index,
        "--queries",
        &frac,
        "--k",
        "1",
        "--ef",
        "10",
    ]);
    assert!(code == 2 && msg.contains("byte"), "{msg}");
    let gt_short = d.p("gt.ivecs");
    write_vecs(Path::new(&gt_short), &Matrix::new(2, vec![0i32; 4]).unwrap());
    let (code, msg) = fails(&[
        "bench",
        "--index",
        &index,
        "--queries",
        &d.p("q.fvecs"),
        "--groundtruth",
        &gt_short,
        "--k",
        "10",
        "--ef",
        "10",
    ]);
    assert!(code == 2 && msg.contains("gt.ivecs"), "{msg}");
    let (code, msg) = fails(&[
        "groundtruth",
        "--data",
        &d.p("base.fvecs"),
        "--queries",
        &wrong_dim,
        "--k",
        "1",
        "--metric",
        "l2",
        "--out",
        &d.p("o.ivecs"),
    ]);
    assert!(code == 2 && msg.contains("dimension"), "{msg}");
    assert!(!Path::new(&d.p("o.ivecs")).exists());
}

#[test]
fn corrupt_index_files() {
    let d = Dir::new();
    let (_, q, index) = d.with_index();
    let bytes = std::fs::read(&index).unwrap();
    let bad = d.p("bad.gdx");
    let check = |b: &[u8], what: &str| {
        std::fs::write(&bad, b).unwrap();
        for cmd in [
            vec!["info", "--index", &bad],
            vec![
                "search",
                "--index",
                &bad,
                "--queries",
                &q,
                "--k",
                "1",
                "--ef",
                "5",
            ],
        ] {
            let (code, msg) = fails(&cmd);
            assert_eq!(code, 1, "{what}: {msg}");
            assert!(
                msg.contains("bad.gdx") && msg.contains("invalid index file"),
                "{what}: {msg}"
            );
        }
    };
    let step = (bytes.len() / 40).max(1);
    for cut in (0..bytes.len()).step_by(step) {
        check(&bytes[..cut], &format!("truncated at {cut}"));
    }
    // Flip bytes in the header, the table and every section (start, middle, end).
    let count = u32::from_le_bytes(bytes[64..68].try_into().unwrap()) as usize;
    let mut spots = vec![0, 9, 17, 25, 41, 49, 121, 130, 128 + 32 * count - 1];
    for s in 0..count {
        let e = &bytes[128 + 32 * s..];
        let off = u64::from_le_bytes(e[8..16].try_into().unwrap()) as usize;
        let len = u64::from_le_bytes(e[16..24].try_into().unwrap()) as usize;
        spots.extend([off, off + len / 2, off + len - 1]);
    }
    for i in spots {
        let mut b = bytes.clone();
        b[i] ^= 0xA5;
        check(&b, &format!("byte {i} flipped"));
    }
}

#[test]
fn fuzz_found_hdf5_files_fail_cleanly() {
    // Inputs the `hdf5` fuzz target found against libhdf5 1.10.8: a segfault in
    // H5F__accum_read, an out-of-memory abort on a claimed 10¹¹-row data set, a huge malloc.
    // Each outcome is stated: two files hold no readable `train` and must be refused; the
    // third has valid `train` and `test` (8 × 2 and 2 × 2 floats) and only its `neighbors` is
    // damaged, so build and groundtruth must succeed on exactly that data and bench must
    // refuse it as ground truth.
    let d = Dir::new();
    for (name, data_readable) in [
        ("libhdf5-segfault.hdf5", false),
        ("oom-neighbors.hdf5", true),
        ("huge-malloc.hdf5", false),
    ] {
        let path = repo().join("testdata/hdf5").join(name);
        let p = s(&path);
        let build = ["build", "--data", p, "--out", &d.p("x.gdx"), "--quiet", "--json"];
        let groundtruth = [
            "groundtruth",
            "--data",
            p,
            "--queries",
            p,
            "--k",
            "1",
            "--metric",
            "l2",
            "--out",
            &d.p("g.ivecs"),
            "--quiet",
        ];
        if data_readable {
            let built: serde_json::Value = serde_json::from_str(&ok(&build)).unwrap();
            assert_eq!(
                (built["count"].as_u64(), built["dim"].as_u64()),
                (Some(8), Some(2)),
                "{name}"
            );
            ok(&groundtruth);
            assert_eq!(read_ivecs(Path::new(&d.p("g.ivecs"))).len(), 2, "{name}");
        } else {
            for args in [&build[..], &groundtruth[..]] {
                let (code, msg) = fails(args);
                assert!(code == 2 && msg.contains(name), "{name}: {msg}");
            }
        }
        // For the readable file, its own index and queries: only the ground truth is bad.
        let index = if data_readable {
            d.p("x.gdx")
        } else {
            d.with_index().2
        };
        let (code, msg) = fails(&[
            "bench",
            "--index",
            &index,
            "--queries",
            p,
            "--groundtruth",
            p,
            "--k",
            "1",
            "--ef",
            "4",
        ]);
        assert!(code == 2 && msg.contains(name), "{msg}");
    }
}
