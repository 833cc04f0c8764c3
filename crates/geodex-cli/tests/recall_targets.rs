//! The recall targets on the bundled 20k slice of `sift-debian` (u8, L2): recall@10 ≥ 0.95 at
//! some ef ≤ 128 and ≥ 0.99 at some ef ≤ 512, with M = 16 and ef_construction = 200. The
//! text-embedding set is checked in `shared_data.rs`; the 100k SIFT figures are in
//! BENCHMARKS.md.

mod common;

use common::*;

#[test]
fn sift_20k_u8_l2() {
    let t = repo().join("testdata/sift20k");
    assert_recall_targets(
        s(&t.join("base.bvecs")),
        s(&t.join("query.bvecs")),
        s(&t.join("groundtruth.ivecs")),
        "l2",
    );
}
