//! `geodex analyze`: the JSON keys ARCHITECTURE.md §5 promises, checked against independent
//! computations on the same index — λ₂ of both Laplacians from a dense eigendecomposition of
//! the level-0 graph exported by `geodex graph`, unreachable nodes from `geodex info`.

mod common;

use common::{fails, ok, s, write_vecs};
use geodex_io::Matrix;
use nalgebra::DMatrix;
use serde_json::Value;

/// Spectra (ascending) of the combinatorial and normalised Laplacians of the undirected graph
/// of `tsv` (directed links `u<TAB>v`), by a dense symmetric eigendecomposition.
fn dense_spectra(tsv: &str, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = DMatrix::<f64>::zeros(n, n);
    for line in tsv.lines() {
        let (u, v) = line.split_once('\t').unwrap();
        let (u, v): (usize, usize) = (u.parse().unwrap(), v.parse().unwrap());
        a[(u, v)] = 1.0;
        a[(v, u)] = 1.0;
    }
    let d: Vec<f64> = (0..n).map(|i| a.row(i).sum()).collect();
    let comb = DMatrix::from_fn(n, n, |i, j| if i == j { d[i] } else { -a[(i, j)] });
    let norm = DMatrix::from_fn(n, n, |i, j| {
        if i == j {
            1.0
        } else {
            -a[(i, j)] / (d[i] * d[j]).sqrt()
        }
    });
    let sorted = |m: DMatrix<f64>| {
        let mut v: Vec<f64> = m.symmetric_eigen().eigenvalues.iter().copied().collect();
        v.sort_by(f64::total_cmp);
        v
    };
    (sorted(comb), sorted(norm))
}

#[test]
fn analyze_json_matches_dense_spectra_and_info() {
    let dir = tempfile::tempdir().unwrap();
    let p = |f: &str| dir.path().join(f);
    let n = 400;
    // A 2-sphere in 8 dimensions: the geometry section must find intrinsic dimension ≈ 2.
    let data = geodex_testkit::sphere(n, 2, 8, 11);
    write_vecs(&p("base.fvecs"), &Matrix::new(8, data).unwrap());
    ok(&[
        "build",
        "--data",
        s(&p("base.fvecs")),
        "--out",
        s(&p("i.gdx")),
        "--metric",
        "l2",
        "--m",
        "6",
        "--quiet",
    ]);
    let plots = p("plots");
    let v: Value = serde_json::from_str(&ok(&[
        "analyze",
        "--index",
        s(&p("i.gdx")),
        "--json",
        "--plots",
        s(&plots),
        "--redundant-out",
        s(&p("redundant.tsv")),
    ]))
    .unwrap();
    for png in ["degrees", "spectrum", "barcode", "percolation"] {
        let bytes = std::fs::read(plots.join(format!("{png}.png"))).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{png}.png is not a PNG");
    }
    for key in ["lambda2", "lambda2_normalized", "conductance"] {
        assert!(v["spectral"][key].is_f64(), "analyze --json lacks spectral.{key}");
    }
    for key in ["intrinsic_dim_mle", "intrinsic_dim_twonn"] {
        let d = v["geometry"][key]
            .as_f64()
            .unwrap_or_else(|| panic!("analyze --json lacks geometry.{key}"));
        assert!((d - 2.0).abs() < 0.3, "geometry.{key} = {d} on a 2-sphere");
    }
    let info: Value = serde_json::from_str(&ok(&["info", "--index", s(&p("i.gdx")), "--json"])).unwrap();
    assert_eq!(v["graph"]["unreachable"], info["graph"]["unreachable"]);
    assert_eq!(v["graph"]["levels"][0]["nodes"], n);

    ok(&[
        "graph",
        "--index",
        s(&p("i.gdx")),
        "--layer",
        "0",
        "--out",
        s(&p("l0.tsv")),
    ]);
    let level0 = std::fs::read_to_string(p("l0.tsv")).unwrap();
    // Every listed redundant link is a level-0 link, and the list has the reported length.
    let links: std::collections::HashSet<(u32, u32)> = level0
        .lines()
        .map(|l| {
            let (u, v) = l.split_once('\t').unwrap();
            let (u, v): (u32, u32) = (u.parse().unwrap(), v.parse().unwrap());
            (u.min(v), u.max(v))
        })
        .collect();
    let redundant = std::fs::read_to_string(p("redundant.tsv")).unwrap();
    assert_eq!(
        redundant.lines().count() as u64,
        v["topology"]["redundant_links"].as_u64().unwrap()
    );
    for line in redundant.lines() {
        let mut f = line.split('\t');
        let (u, w): (u32, u32) = (
            f.next().unwrap().parse().unwrap(),
            f.next().unwrap().parse().unwrap(),
        );
        assert!(
            links.contains(&(u.min(w), u.max(w))),
            "{line} is not a level-0 link"
        );
    }
    let (comb_spectrum, norm_spectrum) = dense_spectra(&level0, n);
    let (comb, norm) = (comb_spectrum[1], norm_spectrum[1]);
    // The spectrum plot's eigenvalues (separate deflated solves) against the dense spectrum.
    for (i, got) in v["spectral"]["smallest_normalized"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let want = norm_spectrum[i + 1];
        assert!(
            (got.as_f64().unwrap() - want).abs() < 1e-6,
            "λ{} {got} vs dense {want}",
            i + 2
        );
    }
    let got = |k: &str| v["spectral"][k].as_f64().unwrap();
    assert!(
        (got("lambda2") - comb).abs() < 1e-6 * comb.max(1.0),
        "λ₂ {} vs dense {comb}",
        got("lambda2")
    );
    assert!(
        (got("lambda2_normalized") - norm).abs() < 1e-6,
        "normalised λ₂ {} vs dense {norm}",
        got("lambda2_normalized")
    );
    assert!(got("cheeger_lower") <= got("conductance") && got("conductance") <= got("cheeger_upper"));
    assert!(
        got("expansion_lower") <= got("edge_expansion") && got("edge_expansion") <= got("expansion_upper"),
        "edge expansion outside its bounds"
    );

    let only: Value = serde_json::from_str(&ok(&[
        "analyze",
        "--index",
        s(&p("i.gdx")),
        "--only",
        "spectral",
        "--json",
    ]))
    .unwrap();
    assert!(only.get("graph").is_none() && only.get("spectral").is_some());
    let (code, msg) = fails(&["analyze", "--index", s(&p("i.gdx")), "--only", "spectra"]);
    assert_eq!(code, 2);
    assert!(msg.contains("spectra"), "{msg}");
    let (code, msg) = fails(&[
        "analyze",
        "--index",
        s(&p("i.gdx")),
        "--only",
        "bounds",
        "--epsilon",
        "1.5",
    ]);
    assert_eq!(code, 2);
    assert!(msg.contains("--epsilon"), "{msg}");
    // The bit accounting's vector bits are N·d·32 for this float index.
    let b: Value = serde_json::from_str(&ok(&[
        "analyze",
        "--index",
        s(&p("i.gdx")),
        "--only",
        "bounds",
        "--json",
    ]))
    .unwrap();
    assert_eq!(b["bounds"]["bits"]["vector_bits"], n * 8 * 32);
    // The compression section: section bytes add up to the file minus header, table and
    // padding, and the resident sections to `info`'s ram_bytes.
    let c: Value = serde_json::from_str(&ok(&[
        "analyze",
        "--index",
        s(&p("i.gdx")),
        "--only",
        "compression",
        "--json",
    ]))
    .unwrap();
    let c = &c["compression"];
    let sections = c["sections"].as_array().unwrap();
    assert_eq!(sections.len(), 8);
    let file = std::fs::metadata(p("i.gdx")).unwrap().len();
    let total = c["total_bytes"].as_u64().unwrap();
    assert!(total + 128 + 32 * 8 <= file && file < total + 128 + 32 * 8 + 64 * 9);
    let resident: u64 = sections
        .iter()
        .filter(|x| x["resident"] == true)
        .map(|x| x["bytes"].as_u64().unwrap())
        .sum();
    // A float index under L2 or cosine also keeps one byte per component to walk on.
    let walk_codes = c["walk_code_bytes"].as_u64().unwrap();
    assert_eq!(walk_codes, n as u64 * 8);
    assert_eq!(c["derived_bytes"].as_u64(), Some(walk_codes));
    assert_eq!(resident + walk_codes, c["ram_bytes"].as_u64().unwrap());
}
