//! The PNGs of `geodex analyze --plots DIR`.

use std::path::Path;

use geodex_analysis::{HardnessReport, LevelHealth, PercolationStep};

use crate::failure::Failure;
use crate::plot::{xy_chart, Mark, Series};

/// Bars drawn at most in the barcode (a uniform subsample of the sorted bars beyond that).
const MAX_BARS: usize = 400;

/// Level-0 out- and in-degree histograms.
pub fn degrees(path: &Path, level0: &LevelHealth) -> Result<(), Failure> {
    let histogram = |name: &str, h: &[usize]| Series {
        name: name.into(),
        points: h.iter().enumerate().map(|(d, &c)| (d as f64, c as f64)).collect(),
        mark: Mark::Line,
    };
    xy_chart(
        path,
        "level-0 degree distribution",
        ("degree", "nodes"),
        false,
        &[
            histogram("out-degree", &level0.out_degree.histogram),
            histogram("in-degree", &level0.in_degree.histogram),
        ],
    )
}

/// The smallest non-trivial eigenvalues of the normalised Laplacian.
pub fn spectrum(path: &Path, values: &[f64]) -> Result<(), Failure> {
    let points: Vec<(f64, f64)> = values
        .iter()
        .enumerate()
        .map(|(i, &v)| ((i + 2) as f64, v))
        .collect();
    xy_chart(
        path,
        "smallest eigenvalues of the normalised Laplacian (symmetrised level 0)",
        ("i (λᵢ)", "eigenvalue"),
        false,
        &[
            Series {
                name: "λᵢ".into(),
                points: points.clone(),
                mark: Mark::Line,
            },
            Series {
                name: "".into(),
                points,
                mark: Mark::Dots,
            },
        ],
    )
}

/// The β₀ barcode: one bar per merge, from 0 to its death length, sorted.
pub fn barcode(path: &Path, deaths: &[f64]) -> Result<(), Failure> {
    let step = deaths.len().div_ceil(MAX_BARS).max(1);
    let bars: Vec<(f64, f64)> = deaths
        .iter()
        .step_by(step)
        .enumerate()
        .map(|(i, &d)| (d, i as f64))
        .collect();
    let title = format!(
        "β₀ barcode of the edge-length filtration ({} bars, every {step}th shown)",
        deaths.len()
    );
    xy_chart(
        path,
        &title,
        ("edge length", "bar"),
        false,
        &[Series {
            name: "β₀ bar".into(),
            points: bars,
            mark: Mark::Bars,
        }],
    )
}

/// Giant-component fraction (and recall, when measured) against the fraction of links removed.
pub fn percolation(path: &Path, steps: &[PercolationStep], recall: Option<&[f64]>) -> Result<(), Failure> {
    let mut series = vec![Series {
        name: "giant component (fraction of nodes)".into(),
        points: steps.iter().map(|s| (s.removed, s.giant_fraction)).collect(),
        mark: Mark::Line,
    }];
    if let Some(r) = recall {
        series.push(Series {
            name: "recall@k at fixed ef".into(),
            points: steps.iter().zip(r).map(|(s, &r)| (s.removed, r)).collect(),
            mark: Mark::Line,
        });
    }
    xy_chart(
        path,
        "percolation of level 0: links removed uniformly at random",
        ("fraction of links removed", "fraction"),
        false,
        &series,
    )
}

/// Per-query local intrinsic dimension against recall.
pub fn lid_vs_recall(path: &Path, r: &HardnessReport) -> Result<(), Failure> {
    let title = format!(
        "per-query LID vs recall@{} at ef {} (Spearman ρ = {:+.3})",
        r.k, r.ef, r.spearman_lid_recall
    );
    let points = r.lid.iter().zip(&r.recall).map(|(&l, &q)| (l, q)).collect();
    xy_chart(
        path,
        &title,
        ("local intrinsic dimension (MLE)", "recall"),
        false,
        &[Series {
            name: "query".into(),
            points,
            mark: Mark::Dots,
        }],
    )
}
