//! Helpers shared by the analysis tests.

#![allow(dead_code)]

use geodex_core::{BuildParams, Index, Metric};

/// A small deterministic generator (64-bit LCG, high bits) so tests need no RNG crate.
pub fn lcg(seed: u64) -> impl FnMut() -> u64 {
    let mut s = seed;
    move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        s >> 33
    }
}

/// A one-thread L2 index over `data` (M = 6, ef_construction = 40: small, but with several
/// levels).
pub fn small_index_over(data: &[f32], dim: usize) -> Index<f32> {
    let params = BuildParams {
        metric: Metric::L2,
        m: 6,
        ef_construction: 40,
        threads: Some(1),
        ..Default::default()
    };
    Index::build(data.to_vec(), dim, &params, &|_| {}).unwrap()
}

/// `n` uniform points in [0, 1)^dim (row-major) and [`small_index_over`] them.
pub fn small_index(n: usize, dim: usize, seed: u64) -> (Vec<f32>, Index<f32>) {
    let mut next = lcg(seed);
    let data: Vec<f32> = (0..n * dim).map(|_| (next() % 1000) as f32 / 1000.0).collect();
    let index = small_index_over(&data, dim);
    (data, index)
}
