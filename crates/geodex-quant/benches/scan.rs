//! Per-code cost of the PQ8 float table scan against PQ4 fast-scan, same run, same m.
//! `cargo bench -p geodex-quant --bench scan`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use geodex_quant::fastscan::{self, PackedCodes, QuantizedTable};
use geodex_quant::pq::ProductQuantizer;
use std::hint::black_box;
use std::time::Duration;

const CODES: usize = 65_536;

fn scans(c: &mut Criterion) {
    let dim = 128;
    let train = geodex_testkit::clustered(4096, dim, 32, 1.0, 1);
    let data = geodex_testkit::clustered(CODES, dim, 32, 1.0, 2);
    let query = &train[..dim];
    let mut group = c.benchmark_group("scan");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    group.throughput(Throughput::Elements(CODES as u64));
    for m in [16, 32] {
        let pq8 = ProductQuantizer::train(&train, dim, m, 8, 1).unwrap();
        let codes8 = pq8.encode_all(&data);
        let table8 = pq8.distance_table(query);
        let mut out8 = Vec::with_capacity(CODES);
        group.bench_function(BenchmarkId::new("pq8-table", m), |b| {
            b.iter(|| pq8.scan(black_box(&table8), black_box(&codes8), &mut out8))
        });
        let pq4 = ProductQuantizer::train(&train, dim, m, 4, 1).unwrap();
        let packed = PackedCodes::pack(&pq4.encode_all(&data), m).unwrap();
        let table4 = QuantizedTable::new(&pq4.distance_table(query));
        let mut out4 = Vec::with_capacity(CODES);
        group.bench_function(BenchmarkId::new("pq4-fastscan", m), |b| {
            b.iter(|| fastscan::scan(black_box(&table4), black_box(&packed), &mut out4))
        });
        group.bench_function(BenchmarkId::new("pq4-scalar", m), |b| {
            b.iter(|| fastscan::scan_scalar(black_box(&table4), black_box(&packed), &mut out4))
        });
    }
    group.finish();
}

criterion_group!(benches, scans);
criterion_main!(benches);
