//! Every kernel on every instruction set this CPU has, against the `f64`/`u64` reference, for
//! every dimension 1..=1024 (deterministic sweep) and for random shapes and values (proptest).
//!
//! The four-row kernels (`*_x4`) must equal four one-row calls bit for bit, with the rows in
//! every slot (the search loop relies on this: batching never changes a result).
//!
//! Tolerance: 1e-5 relative. For squared L2 all terms are non-negative, so relative to the
//! value itself; for dot products relative to Σ|aᵢbᵢ|, the scale of the rounding error of any
//! summation order (a dot product can cancel to ~0 while its terms are large).

mod common;

use common::SplitMix;
use geodex_distance::{reference, Avx2, Avx512, IsaKernels, Portable};
use proptest::prelude::*;

const TOL: f64 = 1e-5;

fn check_f32<I: IsaKernels>(isa: I, name: &str, a: &[f32], b: &[f32]) {
    let l2_ref = reference::squared_l2_f32(a, b);
    let l2 = isa.squared_l2_f32(a, b) as f64;
    assert!(
        (l2 - l2_ref).abs() <= TOL * l2_ref + 1e-30,
        "{name} squared_l2_f32 d={}: {l2} vs reference {l2_ref}",
        a.len()
    );
    let dot_ref = reference::dot_f32(a, b);
    let scale = reference::dot_magnitude_f32(a, b);
    let dot = isa.dot_f32(a, b) as f64;
    assert!(
        (dot - dot_ref).abs() <= TOL * scale + 1e-30,
        "{name} dot_f32 d={}: {dot} vs reference {dot_ref} (scale {scale})",
        a.len()
    );
    let (ra, rb) = (reversed(a), reversed(b));
    let rows = [b, &ra[..], &rb[..], a];
    let bits = |v: [f32; 4]| v.map(f32::to_bits);
    assert_eq!(
        bits(isa.squared_l2_f32_x4(a, rows)),
        bits(rows.map(|r| isa.squared_l2_f32(a, r))),
        "{name} squared_l2_f32_x4 d={}",
        a.len()
    );
    assert_eq!(
        bits(isa.dot_f32_x4(a, rows)),
        bits(rows.map(|r| isa.dot_f32(a, r))),
        "{name} dot_f32_x4 d={}",
        a.len()
    );
}

fn reversed<T: Copy>(v: &[T]) -> Vec<T> {
    v.iter().rev().copied().collect()
}

fn check_u8<I: IsaKernels>(isa: I, name: &str, a: &[u8], b: &[u8]) {
    assert_eq!(
        isa.squared_l2_u8(a, b) as u64,
        reference::squared_l2_u8(a, b),
        "{name} squared_l2_u8 d={}",
        a.len()
    );
    assert_eq!(
        isa.dot_u8(a, b) as u64,
        reference::dot_u8(a, b),
        "{name} dot_u8 d={}",
        a.len()
    );
    let (ra, rb) = (reversed(a), reversed(b));
    let rows = [&rb[..], a, b, &ra[..]];
    assert_eq!(
        isa.squared_l2_u8_x4(a, rows),
        rows.map(|r| isa.squared_l2_u8(a, r)),
        "{name} squared_l2_u8_x4 d={}",
        a.len()
    );
    assert_eq!(
        isa.dot_u8_x4(a, rows),
        rows.map(|r| isa.dot_u8(a, r)),
        "{name} dot_u8_x4 d={}",
        a.len()
    );
}

fn for_each_isa(mut f: impl FnMut(&dyn Fn(&[f32], &[f32]), &dyn Fn(&[u8], &[u8]))) {
    f(&|a, b| check_f32(Portable, "portable", a, b), &|a, b| {
        check_u8(Portable, "portable", a, b)
    });
    if let Some(t) = Avx2::new() {
        f(&|a, b| check_f32(t, "avx2", a, b), &|a, b| {
            check_u8(t, "avx2", a, b)
        });
    }
    if let Some(t) = Avx512::new() {
        f(&|a, b| check_f32(t, "avx512", a, b), &|a, b| {
            check_u8(t, "avx512", a, b)
        });
    }
}

/// Largest dimension swept: all of 1..=1024 natively; under Miri (which checks the `unsafe`
/// SIMD loads for out-of-bounds reads, ~10⁴× slower) enough to cover every tail length of
/// every kernel (16-float and 32-byte blocks, plus remainders).
const SWEEP_MAX: usize = if cfg!(miri) { 70 } else { 1024 };

#[test]
fn every_dimension_1_to_1024_matches_reference() {
    let mut rng = SplitMix(7);
    for dim in 1..=SWEEP_MAX {
        for scale in [1e-3f32, 1.0, 1e3] {
            let a: Vec<f32> = (0..dim).map(|_| rng.f32_in(scale)).collect();
            let b: Vec<f32> = (0..dim).map(|_| rng.f32_in(scale)).collect();
            let ua: Vec<u8> = (0..dim).map(|_| rng.next() as u8).collect();
            let ub: Vec<u8> = (0..dim).map(|_| rng.next() as u8).collect();
            for_each_isa(|f, u| {
                f(&a, &b);
                u(&ua, &ub);
            });
        }
    }
}

#[test]
fn extreme_bytes_are_exact() {
    let dims: &[usize] = if cfg!(miri) {
        &[1, 15, 16, 17, 31, 32, 33, 128]
    } else {
        &[1, 15, 16, 17, 31, 32, 33, 128, 1024, 4096, 65_536]
    };
    for &dim in dims {
        let zeros = vec![0u8; dim];
        let full = vec![255u8; dim];
        for_each_isa(|_, u| {
            u(&zeros, &full);
            u(&full, &full);
        });
    }
}

#[test]
fn available_isas_include_portable_and_detect_is_one_of_them() {
    let avail = geodex_distance::Isa::available();
    assert_eq!(avail[0], geodex_distance::Isa::Portable);
    assert!(avail.contains(&geodex_distance::Isa::detect()));
    // A build with the features enabled (as the Miri runs in scripts/miri do) must use them, so
    // those runs really exercise the SIMD kernels.
    if cfg!(all(target_feature = "avx2", target_feature = "fma")) {
        assert!(avail.contains(&geodex_distance::Isa::Avx2));
    }
    if cfg!(target_feature = "avx512f") {
        assert!(avail.contains(&geodex_distance::Isa::Avx512));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 512 }))]

    #[test]
    fn random_f32_vectors_match_reference(
        pairs in (1usize..=1024).prop_flat_map(|d| (
            prop::collection::vec(-1e4f32..1e4, d),
            prop::collection::vec(-1e4f32..1e4, d),
        ))
    ) {
        let (a, b) = pairs;
        for_each_isa(|f, _| f(&a, &b));
    }

    #[test]
    fn random_u8_vectors_match_reference(
        pairs in (1usize..=1024).prop_flat_map(|d| (
            prop::collection::vec(any::<u8>(), d),
            prop::collection::vec(any::<u8>(), d),
        ))
    ) {
        let (a, b) = pairs;
        for_each_isa(|_, u| u(&a, &b));
    }
}
