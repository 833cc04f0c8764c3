//! ns per distance for each kernel and instruction set, against the scalar reference.
//! Run: `cargo bench -p geodex-distance --bench kernels`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use geodex_distance::{reference, Avx2, Avx512, IsaKernels, Portable};
use std::hint::black_box;

fn vectors_f32(dim: usize) -> (Vec<f32>, Vec<f32>) {
    let a = (0..dim).map(|i| (i as f32 * 0.37).sin()).collect();
    let b = (0..dim).map(|i| (i as f32 * 0.11).cos()).collect();
    (a, b)
}

fn bench_isa<I: IsaKernels>(c: &mut Criterion, name: &str, isa: I) {
    for dim in [96usize, 128, 384, 768] {
        let (a, b) = vectors_f32(dim);
        let ua: Vec<u8> = a.iter().map(|x| (x.abs() * 255.0) as u8).collect();
        let ub: Vec<u8> = b.iter().map(|x| (x.abs() * 255.0) as u8).collect();
        let mut g = c.benchmark_group(format!("d{dim}"));
        g.bench_with_input(BenchmarkId::new("l2_f32", name), &dim, |bn, _| {
            bn.iter(|| isa.squared_l2_f32(black_box(&a), black_box(&b)))
        });
        g.bench_with_input(BenchmarkId::new("dot_f32", name), &dim, |bn, _| {
            bn.iter(|| isa.dot_f32(black_box(&a), black_box(&b)))
        });
        g.bench_with_input(BenchmarkId::new("l2_u8", name), &dim, |bn, _| {
            bn.iter(|| isa.squared_l2_u8(black_box(&ua), black_box(&ub)))
        });
        g.bench_with_input(BenchmarkId::new("dot_u8", name), &dim, |bn, _| {
            bn.iter(|| isa.dot_u8(black_box(&ua), black_box(&ub)))
        });
        g.finish();
    }
}

fn bench_reference(c: &mut Criterion) {
    for dim in [96usize, 128, 384, 768] {
        let (a, b) = vectors_f32(dim);
        let ua: Vec<u8> = a.iter().map(|x| (x.abs() * 255.0) as u8).collect();
        let ub: Vec<u8> = b.iter().map(|x| (x.abs() * 255.0) as u8).collect();
        let mut g = c.benchmark_group(format!("d{dim}"));
        g.bench_function(BenchmarkId::new("l2_f32", "reference"), |bn| {
            bn.iter(|| reference::squared_l2_f32(black_box(&a), black_box(&b)))
        });
        g.bench_function(BenchmarkId::new("l2_u8", "reference"), |bn| {
            bn.iter(|| reference::squared_l2_u8(black_box(&ua), black_box(&ub)))
        });
        g.finish();
    }
}

fn kernels(c: &mut Criterion) {
    bench_reference(c);
    bench_isa(c, "portable", Portable);
    if let Some(t) = Avx2::new() {
        bench_isa(c, "avx2", t);
    }
    if let Some(t) = Avx512::new() {
        bench_isa(c, "avx512", t);
    }
}

criterion_group!(benches, kernels);
criterion_main!(benches);
