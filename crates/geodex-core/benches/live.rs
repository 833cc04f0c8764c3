//! Search cost of the living index against the frozen one on the same graph: the builder
//! graph (a lock and a separate allocation per list) against flat arrays, on the bundled 20k
//! SIFT slice, one thread, ef 64, 100 queries per iteration. Also single-row insert into the
//! living index. `cargo bench -p geodex-core --bench live`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use geodex_core::{BuildParams, Index, LiveIndex, SearchContext, SearchParams};
use geodex_io::{texmex, Matrix};

const QUERIES: usize = 100;

fn sift20k(name: &str) -> Matrix<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/sift20k/").to_string() + name;
    texmex::parse(&std::fs::read(&path).expect("testdata/sift20k"), name).unwrap()
}

fn searches(c: &mut Criterion) {
    let base = sift20k("base.bvecs");
    let queries = sift20k("query.bvecs");
    let dim = base.dim();
    let frozen = Index::build(base.as_slice().to_vec(), dim, &BuildParams::default(), &|_| {}).unwrap();
    let live = LiveIndex::from_index(frozen.clone()).unwrap();
    let params = SearchParams::new(10, 64);
    let mut group = c.benchmark_group("search-ef64");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(QUERIES as u64));
    let mut ctx = SearchContext::new();
    let qs: Vec<&[u8]> = queries.iter().take(QUERIES).collect();
    group.bench_function("frozen", |b| {
        b.iter(|| {
            qs.iter()
                .map(|q| frozen.search(black_box(q), &params, &mut ctx).unwrap().0.len())
                .sum::<usize>()
        })
    });
    group.bench_function("live", |b| {
        b.iter(|| {
            qs.iter()
                .map(|q| live.search(black_box(q), &params, &mut ctx).unwrap().0.len())
                .sum::<usize>()
        })
    });
    group.finish();
    let mut group = c.benchmark_group("insert-one-row");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    live.set_threads(Some(1)).unwrap();
    // Rows of the base, each copy nudged in one component so that no two are equal.
    let mut key = 0u64;
    let n = base.rows() as u64;
    group.bench_function("live", |b| {
        b.iter(|| {
            key += 1;
            let mut row = base.row((key % n) as usize).to_vec();
            row[(key / n) as usize % dim] ^= 1u8.wrapping_add((key / n / dim as u64) as u8);
            live.insert(&[n + key], black_box(&row)).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, searches);
criterion_main!(benches);
