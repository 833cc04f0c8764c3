//! `geodex groundtruth`: exact k nearest neighbours by blocked, parallel brute force.

use std::path::PathBuf;
use std::time::Instant;

use geodex_core::exact::exact_knn;
use geodex_core::{Metric, Neighbor};
use geodex_io::{AnyVectors, Matrix, Role};

use crate::failure::{in_file, Failure};
use crate::progress;

/// Arguments of `geodex groundtruth`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Base vectors (`train` of an .hdf5).
    #[arg(long)]
    pub data: PathBuf,
    /// Query vectors (`test` of an .hdf5).
    #[arg(long)]
    pub queries: PathBuf,
    /// Neighbours per query.
    #[arg(long)]
    pub k: usize,
    /// Dissimilarity: l2, ip, cosine, poincare.
    #[arg(long)]
    pub metric: Metric,
    /// Where to write the ids (.ivecs, or .npy as uint64), nearest first, ties by smaller id.
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the distances (.fvecs), in the metric's own units (squared for l2).
    #[arg(long)]
    pub distances_out: Option<PathBuf>,
    /// Only these base rows (0-based positions: .txt one per line, or .ivecs/.npy) may be
    /// neighbours — the ground truth of `search/bench --filter-keys` with the same file.
    #[arg(long)]
    pub filter_keys: Option<PathBuf>,
    /// Use only the first N base vectors.
    #[arg(long)]
    pub limit: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// The allowed rows of a `--filter-keys` file, sorted, each checked against `rows`.
fn filtered_rows(rows: usize) -> impl Fn(&std::path::Path) -> Result<Vec<u64>, Failure> {
    move |path| {
        let mut keys = crate::data::read_keys(path)?;
        if let Some(&bad) = keys.iter().find(|&&k| k >= rows as u64) {
            return Err(
                Failure::input(format!("key {bad} is not a row of the {rows} base vectors"))
                    .context(path.display()),
            );
        }
        keys.sort_unstable();
        keys.dedup();
        Ok(keys)
    }
}

/// The base restricted to `rows`; an empty selection is bad input.
fn select(base: &AnyVectors, rows: &[u64]) -> Result<AnyVectors, Failure> {
    if rows.is_empty() {
        return Err(Failure::input("--filter-keys allows no base vector"));
    }
    Ok(match base {
        AnyVectors::U8(m) => AnyVectors::U8(crate::data::select_rows(m, rows)),
        AnyVectors::F32(m) => AnyVectors::F32(crate::data::select_rows(m, rows)),
    })
}

pub fn run(a: Args) -> Result<(), Failure> {
    let fit = |v| crate::data::fit_to_metric(v, a.metric);
    let base = fit(crate::data::read_vectors(&a.data, Role::Base, a.limit)?);
    let queries = fit(crate::data::read_vectors(&a.queries, Role::Queries, None)?);
    if base.dim() != queries.dim() {
        return Err(Failure::input(format!(
            "{}: queries have dimension {}, base vectors {}",
            a.queries.display(),
            queries.dim(),
            base.dim()
        )));
    }
    if a.k > base.rows() {
        eprintln!(
            "warning: k = {} exceeds the {} base vectors; returning all of them",
            a.k,
            base.rows()
        );
    }
    let allowed = a
        .filter_keys
        .as_deref()
        .map(filtered_rows(base.rows()))
        .transpose()?;
    let base = match &allowed {
        Some(rows) => select(&base, rows)?,
        None => base,
    };
    let bar = progress::bar(queries.rows() as u64, "exact k-NN", a.quiet);
    let tick = |done: usize| bar.set_position(done as u64);
    let start = Instant::now();
    let dim = base.dim();
    let result: Vec<Vec<Neighbor>> = match (base, queries) {
        (AnyVectors::U8(b), AnyVectors::U8(q)) => {
            exact_knn(b.as_slice(), q.as_slice(), dim, a.k, a.metric, &tick)
        }
        (b, q) => exact_knn(
            b.into_f32().as_slice(),
            q.into_f32().as_slice(),
            dim,
            a.k,
            a.metric,
            &tick,
        ),
    }
    .map_err(in_file(&a.data))?;
    bar.finish_and_clear();
    let k = result[0].len();
    let ids: Vec<u64> = result
        .iter()
        .flat_map(|r| {
            r.iter()
                .map(|n| allowed.as_ref().map_or(n.id as u64, |rows| rows[n.id as usize]))
        })
        .collect();
    geodex_io::write_ids(&a.out, &Matrix::new(k, ids).expect("k ≥ 1"))?;
    if let Some(path) = &a.distances_out {
        let d: Vec<f32> = result.iter().flat_map(|r| r.iter().map(|n| n.distance)).collect();
        geodex_io::write_fvecs(path, &Matrix::new(k, d).expect("k ≥ 1"))?;
    }
    println!(
        "exact {k}-NN of {} queries written to {} in {:.2} s",
        result.len(),
        a.out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
