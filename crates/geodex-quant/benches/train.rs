//! Training cost of a product quantiser at the size a build trains on (`TRAIN_SAMPLE` = 65,536
//! rows) and of encoding 100k rows: the PQ8 m = 32 and PQ4 m = 64 codebooks of a 128-d set.
//! `cargo bench -p geodex-quant --bench train` (compare two commits with criterion's
//! `--save-baseline before` / `--baseline before`).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use geodex_quant::pq::ProductQuantizer;
use std::hint::black_box;
use std::time::Duration;

fn training(c: &mut Criterion) {
    let dim = 128;
    let train = geodex_testkit::clustered(65_536, dim, 256, 1.0, 1);
    let data = geodex_testkit::clustered(100_000, dim, 256, 1.0, 2);
    let mut group = c.benchmark_group("pq");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_secs(5));
    for (bits, m) in [(8u32, 32usize), (4, 64)] {
        group.bench_function(BenchmarkId::new(format!("train-pq{bits}"), m), |b| {
            b.iter(|| ProductQuantizer::train(black_box(&train), dim, m, bits, 7).unwrap())
        });
        let pq = ProductQuantizer::train(&train, dim, m, bits, 7).unwrap();
        group.bench_function(BenchmarkId::new(format!("encode-100k-pq{bits}"), m), |b| {
            b.iter(|| pq.encode_all(black_box(&data)))
        });
    }
    group.finish();
}

criterion_group!(benches, training);
criterion_main!(benches);
