//! ns per distance for each kernel and instruction set, against two scalar baselines: the `f64`
//! reference the tests judge by, and a plain `f32` loop (one accumulator, which the compiler
//! cannot vectorise without reordering the sum: what a straightforward implementation costs).
//! The `_x4` rows measure the four-row kernels on four distances per iteration.
//! All vectors are in L1: this is compute cost, not memory cost.
//!
//! Run: `cargo bench -p geodex-distance --bench kernels`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use geodex_distance::{reference, Avx2, Avx512, IsaKernels, Portable};
use std::hint::black_box;
use std::time::Duration;

const DIMS: [usize; 4] = [96, 128, 384, 768];

/// A query and four rows of `dim` floats, and the same as bytes.
struct Inputs {
    a: Vec<f32>,
    rows: Vec<Vec<f32>>,
    ua: Vec<u8>,
    urows: Vec<Vec<u8>>,
}

impl Inputs {
    fn new(dim: usize) -> Self {
        let wave = |f: f32| (0..dim).map(|i| (i as f32 * f).sin()).collect::<Vec<f32>>();
        let bytes = |v: &[f32]| v.iter().map(|x| (x.abs() * 255.0) as u8).collect::<Vec<u8>>();
        let a = wave(0.37);
        let rows: Vec<Vec<f32>> = [0.11, 0.23, 0.41, 0.53].into_iter().map(wave).collect();
        let (ua, urows) = (bytes(&a), rows.iter().map(|r| bytes(r)).collect());
        Inputs { a, rows, ua, urows }
    }
    fn four(&self) -> [&[f32]; 4] {
        [&self.rows[0], &self.rows[1], &self.rows[2], &self.rows[3]]
    }
    fn four_u8(&self) -> [&[u8]; 4] {
        [&self.urows[0], &self.urows[1], &self.urows[2], &self.urows[3]]
    }
}

fn bench_isa<I: IsaKernels>(c: &mut Criterion, name: &str, isa: I) {
    for dim in DIMS {
        let x = Inputs::new(dim);
        let (a, b, ua, ub) = (&x.a, &x.rows[0], &x.ua, &x.urows[0]);
        let mut g = c.benchmark_group(format!("d{dim}"));
        g.throughput(Throughput::Elements(1));
        g.bench_function(BenchmarkId::new("l2_f32", name), |bn| {
            bn.iter(|| isa.squared_l2_f32(black_box(a), black_box(b)))
        });
        g.bench_function(BenchmarkId::new("dot_f32", name), |bn| {
            bn.iter(|| isa.dot_f32(black_box(a), black_box(b)))
        });
        g.bench_function(BenchmarkId::new("l2_u8", name), |bn| {
            bn.iter(|| isa.squared_l2_u8(black_box(ua), black_box(ub)))
        });
        g.bench_function(BenchmarkId::new("dot_u8", name), |bn| {
            bn.iter(|| isa.dot_u8(black_box(ua), black_box(ub)))
        });
        g.throughput(Throughput::Elements(4));
        g.bench_function(BenchmarkId::new("l2_f32_x4", name), |bn| {
            bn.iter(|| isa.squared_l2_f32_x4(black_box(a), black_box(x.four())))
        });
        g.bench_function(BenchmarkId::new("l2_u8_x4", name), |bn| {
            bn.iter(|| isa.squared_l2_u8_x4(black_box(ua), black_box(x.four_u8())))
        });
        g.finish();
    }
}

fn scalar_l2_f32(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

fn scalar_dot_f32(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn bench_scalar(c: &mut Criterion) {
    for dim in DIMS {
        let x = Inputs::new(dim);
        let (a, b, ua, ub) = (&x.a, &x.rows[0], &x.ua, &x.urows[0]);
        let mut g = c.benchmark_group(format!("d{dim}"));
        g.throughput(Throughput::Elements(1));
        g.bench_function(BenchmarkId::new("l2_f32", "scalar-f32"), |bn| {
            bn.iter(|| scalar_l2_f32(black_box(a), black_box(b)))
        });
        g.bench_function(BenchmarkId::new("dot_f32", "scalar-f32"), |bn| {
            bn.iter(|| scalar_dot_f32(black_box(a), black_box(b)))
        });
        g.bench_function(BenchmarkId::new("l2_f32", "reference-f64"), |bn| {
            bn.iter(|| reference::squared_l2_f32(black_box(a), black_box(b)))
        });
        g.bench_function(BenchmarkId::new("l2_u8", "reference-u64"), |bn| {
            bn.iter(|| reference::squared_l2_u8(black_box(ua), black_box(ub)))
        });
        g.finish();
    }
}

fn kernels(c: &mut Criterion) {
    bench_scalar(c);
    bench_isa(c, "portable", Portable);
    if let Some(t) = Avx2::new() {
        bench_isa(c, "avx2", t);
    }
    if let Some(t) = Avx512::new() {
        bench_isa(c, "avx512", t);
    }
}

criterion_group! {
    name = benches;
    // Short windows: ~100 benchmarks in about three minutes; criterion still reports medians.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1200));
    targets = kernels
}
criterion_main!(benches);
