//! The query hot path allocates nothing once a `SearchContext` and the output vector have
//! grown: checked with a counting global allocator, per thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use geodex_core::{BuildParams, Component, Index, Metric, SearchContext, SearchParams};

struct Counting;

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

fn note_alloc() {
    // try_with: the allocator may run while thread-locals are being torn down.
    let _ = TRACKING.try_with(|t| {
        if t.get() {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
    });
}

// SAFETY: every method forwards to the system allocator with the caller's arguments unchanged;
// counting touches only const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc();
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr came from System.alloc with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_alloc();
        // SAFETY: ptr came from System.alloc with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    COUNT.with(|c| c.set(0));
    TRACKING.with(|t| t.set(true));
    f();
    TRACKING.with(|t| t.set(false));
    COUNT.with(|c| c.get())
}

/// Warm searches of an index of `data` allocate nothing; with `link_codes` the index is PQ4,
/// walks its per-list code blocks and re-ranks.
fn check<T: Component>(data: Vec<T>, dim: usize, metric: Metric, link_codes: bool) {
    let p = BuildParams {
        metric,
        m: 8,
        ef_construction: 60,
        threads: Some(1),
        quant: link_codes.then_some(geodex_core::CodecSpec::Pq { m: dim / 2, bits: 4 }),
        ..Default::default()
    };
    let queries: Vec<T> = data[..50 * dim].to_vec();
    let mut index = Index::build(data, dim, &p, &|_| {}).unwrap();
    index.set_link_codes(link_codes).unwrap();
    let params = SearchParams {
        rerank: if link_codes { 20 } else { 0 },
        ..SearchParams::new(10, 64)
    };
    let (mut ctx, mut out) = (SearchContext::new(), Vec::new());
    for q in queries.chunks_exact(dim) {
        index.search_into(q, &params, &mut ctx, &mut out).unwrap();
    }
    let n = allocations_during(|| {
        for q in queries.chunks_exact(dim) {
            index.search_into(q, &params, &mut ctx, &mut out).unwrap();
        }
    });
    assert_eq!(n, 0, "{metric}: {n} allocations in 50 warm searches");
    // The counter itself works: a fresh context must allocate.
    let fresh = allocations_during(|| {
        index
            .search_into(
                &queries[..dim],
                &params,
                &mut SearchContext::new(),
                &mut Vec::new(),
            )
            .unwrap();
    });
    assert!(fresh > 0);
}

#[test]
fn warm_searches_do_not_allocate() {
    check(
        geodex_testkit::clustered(2000, 16, 8, 0.5, 1),
        16,
        Metric::L2,
        false,
    );
    check(
        geodex_testkit::clustered(2000, 16, 8, 0.5, 2),
        16,
        Metric::Cosine,
        false,
    );
    check(
        geodex_testkit::clustered_u8(2000, 32, 8, 3),
        32,
        Metric::L2,
        false,
    );
    check(
        geodex_testkit::clustered(2000, 16, 8, 0.5, 4),
        16,
        Metric::Cosine,
        true,
    );
    check(geodex_testkit::clustered_u8(2000, 32, 8, 5), 32, Metric::L2, true);
}
