//! Quantisers against independent computations: exact distances to reconstructions, the SQ8
//! half-step bound, distortion falling with m, k-means on separated clusters, and fast-scan
//! against the scalar look-up sum.

use geodex_distance::{Isa, Metric};
use geodex_quant::fastscan::{self, PackedCodes, QuantizedTable};
use geodex_quant::kmeans::{self, KMeansParams};
use geodex_quant::pq::ProductQuantizer;
use geodex_quant::sq8::Sq8;
use geodex_quant::QuantError;
use geodex_testkit::{clustered, reference_distance};

#[test]
fn sq8_round_trip_error_is_at_most_half_a_step() {
    let dim = 24;
    let data = clustered(2000, dim, 8, 1.5, 3);
    let sq = Sq8::train(&data, dim).unwrap();
    let codes = sq.encode_all(&data);
    let mut back = vec![0f32; dim];
    for (v, c) in data.chunks_exact(dim).zip(codes.chunks_exact(dim)) {
        sq.decode(c, &mut back);
        for j in 0..dim {
            let bound = sq.step[j] / 2.0 * (1.0 + 1e-4) + 1e-6;
            assert!(
                (v[j] - back[j]).abs() <= bound,
                "dim {j}: {} vs {}",
                v[j],
                back[j]
            );
        }
        let exact = reference_distance(Metric::L2, &data[..dim], &back);
        let adc = sq.squared_l2(&data[..dim], c) as f64;
        assert!(
            (adc - exact).abs() <= 1e-4 * exact.max(1.0),
            "ADC {adc} vs {exact}"
        );
    }
}

/// Every entry of a query's table — squared distance or negated dot product — is that of the
/// query's sub-vector and the centroid, computed here in f64 from the codebooks, for
/// sub-spaces of 1, 2, 3, 4 and 8 components (the table is computed from a component-major
/// copy of the centroids for up to 8, directly otherwise) and 16 or 256 centroids.
#[test]
fn pq_tables_hold_each_centroids_distance() {
    use geodex_quant::codec::Similarity;
    let dim = 24;
    let data = clustered(1200, dim, 10, 1.0, 6);
    let query = &data[1100 * dim..1101 * dim];
    for (m, bits) in [(24, 4), (12, 8), (8, 4), (6, 8), (3, 8)] {
        let pq = ProductQuantizer::train(&data[..1000 * dim], dim, m, bits, 2).unwrap();
        let dsub = dim / m;
        for similarity in [Similarity::SquaredL2, Similarity::NegativeDot] {
            let mut table = Vec::new();
            pq.fill_table(query, similarity, &mut table);
            assert_eq!(table.len(), m * pq.ksub());
            for (i, &entry) in table.iter().enumerate() {
                let (j, c) = (i / pq.ksub(), i % pq.ksub());
                let centroid = &pq.codebook(j).centroids[c * dsub..][..dsub];
                let q = &query[j * dsub..][..dsub];
                let expected: f64 = match similarity {
                    Similarity::SquaredL2 => q
                        .iter()
                        .zip(centroid)
                        .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
                        .sum(),
                    Similarity::NegativeDot => -q
                        .iter()
                        .zip(centroid)
                        .map(|(&a, &b)| a as f64 * b as f64)
                        .sum::<f64>(),
                };
                assert!(
                    (entry as f64 - expected).abs() <= 1e-5 * expected.abs().max(1.0),
                    "m {m}, {bits} bits, {similarity:?}, entry {i}: {entry} vs {expected}"
                );
            }
        }
    }
}

#[test]
fn pq_asymmetric_distance_is_the_distance_to_the_reconstruction() {
    let dim = 32;
    let data = clustered(3000, dim, 10, 1.0, 5);
    for bits in [4, 8] {
        let pq = ProductQuantizer::train(&data, dim, 8, bits, 1).unwrap();
        let codes = pq.encode_all(&data[..200 * dim]);
        let query = &data[2500 * dim..2501 * dim];
        let table = pq.distance_table(query);
        let mut rec = vec![0f32; dim];
        for code in codes.chunks_exact(pq.m()) {
            pq.decode(code, &mut rec);
            let exact = reference_distance(Metric::L2, query, &rec);
            let adc = pq.table_distance(&table, code) as f64;
            assert!(
                (adc - exact).abs() <= 1e-4 * exact.max(1.0),
                "{bits} bits: {adc} vs {exact}"
            );
        }
    }
}

#[test]
fn pq_distortion_falls_as_m_grows() {
    let dim = 32;
    let data = clustered(4000, dim, 20, 2.0, 7);
    let distortion: Vec<f64> = [1, 2, 4, 8, 16]
        .iter()
        .map(|&m| {
            ProductQuantizer::train(&data, dim, m, 8, 2)
                .unwrap()
                .distortion(&data)
        })
        .collect();
    for pair in distortion.windows(2) {
        assert!(
            pair[1] < pair[0],
            "distortion by m = 1, 2, 4, 8, 16: {distortion:?}"
        );
    }
}

#[test]
fn kmeans_finds_well_separated_clusters() {
    // Four tight clusters at the corners of a square: k-means++ and Lloyd must find them.
    let centres = [[0.0f32, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]];
    let mut rng = geodex_testkit::Rng::new(9);
    let data: Vec<f32> = (0..400)
        .flat_map(|i| {
            let c = centres[i % 4];
            [c[0] + 0.1 * rng.normal() as f32, c[1] + 0.1 * rng.normal() as f32]
        })
        .collect();
    let book = kmeans::train(&data, 2, &KMeansParams::new(4, 1)).unwrap();
    for c in centres {
        let (_, d) = book.nearest(&c);
        assert!(d < 0.01, "no centroid near {c:?}");
    }
    assert!(book.mse < 0.05);
    assert_eq!(
        book,
        kmeans::train(&data, 2, &KMeansParams::new(4, 1)).unwrap(),
        "seeded"
    );
}

#[test]
fn blocked_assignment_finds_the_brute_force_nearest_centroid() {
    // The sgemm expansion against every distance computed directly; rows far from a tie must
    // get the true nearest centroid, near-ties (closer than the expansion's rounding) either.
    for (dim, k, seed) in [(2, 16, 1), (4, 256, 2), (8, 100, 3), (24, 256, 4)] {
        let data = clustered(1500, dim, 12, 1.0, seed);
        let book = kmeans::train(&data, dim, &KMeansParams::new(k, seed)).unwrap();
        let assigned = book.nearest_all(&data);
        for (i, v) in data.chunks_exact(dim).enumerate() {
            let exact: Vec<f64> = (0..k)
                .map(|c| reference_distance(Metric::L2, v, book.centroid(c)))
                .collect();
            let best = exact.iter().copied().fold(f64::INFINITY, f64::min);
            let got = exact[assigned[i] as usize];
            let scale: f64 = v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>() + 1.0;
            assert!(
                got - best <= 1e-5 * scale,
                "dim {dim} k {k} row {i}: centroid at {got}, nearest at {best}"
            );
            assert_eq!(
                book.nearest(v).0,
                assigned[i] as usize,
                "one row and the batch agree"
            );
        }
    }
}

#[test]
fn pq_encodes_a_batch_as_row_by_row_and_trains_the_same_on_any_thread_count() {
    let dim = 32;
    let data = clustered(4000, dim, 20, 1.0, 11);
    let train_on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| ProductQuantizer::train(&data, dim, 8, 8, 5).unwrap())
    };
    let pq = train_on(1);
    assert_eq!(pq, train_on(3), "codebooks depend on the thread count");
    let batch = pq.encode_all(&data);
    let mut one = vec![0u8; pq.m()];
    for (v, code) in data.chunks_exact(dim).zip(batch.chunks_exact(pq.m())) {
        pq.encode(v, &mut one);
        assert_eq!(one, code);
    }
}

#[test]
fn sq8_kernels_match_a_double_precision_sum_and_the_avx2_build_matches_bit_for_bit() {
    use geodex_quant::codec;
    let mut rng = geodex_testkit::Rng::new(17);
    for dim in [1usize, 7, 8, 9, 31, 384] {
        let a: Vec<f32> = (0..dim).map(|_| rng.normal() as f32).collect();
        let step: Vec<f32> = (0..dim).map(|_| 0.01 + 0.02 * rng.uniform() as f32).collect();
        let code: Vec<u8> = (0..dim).map(|_| rng.below(256) as u8).collect();
        let l2 = codec::sq8_l2(&a, &step, &code);
        let dot = codec::sq8_dot(&a, &code);
        let want_l2: f64 = (0..dim)
            .map(|j| (a[j] as f64 - code[j] as f64 * step[j] as f64).powi(2))
            .sum();
        let want_dot: f64 = (0..dim).map(|j| a[j] as f64 * code[j] as f64).sum();
        assert!(
            (l2 as f64 - want_l2).abs() <= 1e-4 * want_l2.max(1.0),
            "dim {dim}: {l2} vs {want_l2}"
        );
        let dot_scale: f64 = (0..dim).map(|j| (a[j] as f64 * code[j] as f64).abs()).sum();
        assert!(
            (dot as f64 - want_dot).abs() <= 1e-5 * dot_scale.max(1.0),
            "dim {dim}: {dot} vs {want_dot}"
        );
        #[cfg(target_arch = "x86_64")]
        if codec::avx2_fma() {
            // SAFETY: the CPU has AVX2 and FMA (checked).
            let (l2_avx2, dot_avx2) = unsafe {
                (
                    codec::sq8_l2_avx2(&a, &step, &code),
                    codec::sq8_dot_avx2(&a, &code),
                )
            };
            assert_eq!(l2.to_bits(), l2_avx2.to_bits(), "dim {dim}");
            assert_eq!(dot.to_bits(), dot_avx2.to_bits(), "dim {dim}");
        }
    }
}

/// Every block kernel this CPU runs (AVX2: two sub-spaces per step, AVX-512: four, sums
/// carried in 16-bit words without widening) against the scalar reference on synthetic tables
/// and codes: every m from 1 to 256 (every remainder of the wider steps; odd m take the
/// 128-bit tail), random entries and the extreme where every entry is 255 and
/// the sum reaches 255 · m — the largest a 16-bit word must hold.
#[test]
fn the_block_kernel_equals_the_scalar_sums_for_every_m_up_to_the_overflow_edge() {
    let mut rng = geodex_testkit::Rng::new(17);
    for m in 1..=256 {
        let block: Vec<u8> = (0..m * 16).map(|_| rng.below(256) as u8).collect();
        for full in [false, true] {
            let table = QuantizedTable {
                entries: (0..m * 16)
                    .map(|_| if full { 255 } else { rng.below(256) as u8 })
                    .collect(),
                bias: 0.0,
                step: 1.0,
            };
            let mut scalar = [0u16; 32];
            fastscan::scan_block_scalar(&table, &block, m, &mut scalar);
            if full {
                assert!(scalar.iter().all(|&s| s as usize == 255 * m), "m = {m}");
            }
            for isa in Isa::available() {
                let mut fast = [0u16; 32];
                fastscan::scan_block_on(isa, &table, &block, m, &mut fast);
                assert_eq!(fast, scalar, "m = {m}, all 255: {full}, {isa:?}");
            }
        }
    }
}

#[test]
fn fast_scan_equals_the_scalar_lookup_sum() {
    let dim = 64;
    let data = clustered(1000, dim, 10, 1.0, 11);
    for m in [1, 8, 16, 32] {
        let pq = ProductQuantizer::train(&data, dim, m, 4, 3).unwrap();
        // 997 vectors: the last block is partial.
        let codes = pq.encode_all(&data[..997 * dim]);
        let packed = PackedCodes::pack(&codes, m).unwrap();
        let table = pq.distance_table(&data[998 * dim..999 * dim]);
        let quantised = QuantizedTable::new(&table);
        let (mut fast, mut scalar) = (Vec::new(), Vec::new());
        fastscan::scan(&quantised, &packed, &mut fast);
        fastscan::scan_scalar(&quantised, &packed, &mut scalar);
        assert_eq!(fast, scalar, "m = {m}");
        // The scalar sum is the 8-bit table's sum of the unpacked codes, computed directly…
        for (v, code) in codes.chunks_exact(m).enumerate() {
            let direct: u32 = code
                .iter()
                .enumerate()
                .map(|(j, &c)| quantised.entries[j * 16 + c as usize] as u32)
                .sum();
            assert_eq!(scalar[v] as u32, direct);
            // …and stands for the float table's sum within m·Δ/2.
            let float = pq.table_distance(&table, code);
            let err = (quantised.distance(scalar[v]) - float).abs();
            assert!(
                err <= m as f32 * quantised.step / 2.0 * 1.001 + 1e-4,
                "m = {m}: error {err}"
            );
        }
    }
}

#[test]
fn bad_parameters_are_typed_errors() {
    let data = clustered(100, 8, 2, 1.0, 1);
    assert!(matches!(
        ProductQuantizer::train(&data, 8, 3, 8, 0),
        Err(QuantError::InvalidParameter(_))
    ));
    assert!(matches!(
        ProductQuantizer::train(&data, 8, 2, 5, 0),
        Err(QuantError::InvalidParameter(_))
    ));
    assert_eq!(
        ProductQuantizer::train(&data, 8, 2, 8, 0).unwrap_err(),
        QuantError::TooFewVectors {
            vectors: 100,
            centroids: 256
        }
    );
    let mut bad = data.clone();
    bad[17] = f32::NAN;
    assert!(matches!(
        Sq8::train(&bad, 8),
        Err(QuantError::BadVector { row: 2, .. })
    ));
    assert!(matches!(
        PackedCodes::pack(&[1, 2, 16], 3),
        Err(QuantError::BadVector { row: 0, .. })
    ));
}

#[test]
fn projections_keep_pairwise_distances_at_the_jl_dimension() {
    use geodex_quant::projection::{jl_dimension, ProjectionKind, RandomProjection};
    let (n, dim, eps) = (60, 400, 0.5);
    let data = clustered(n, dim, 5, 1.0, 13);
    let k = jl_dimension(n, eps);
    for kind in [ProjectionKind::Gaussian, ProjectionKind::Sparse] {
        let p = RandomProjection::new(kind, dim, k, 17).unwrap();
        let projected = p.project_all(&data);
        for i in 0..n {
            for j in i + 1..n {
                let before = reference_distance(
                    Metric::L2,
                    &data[i * dim..(i + 1) * dim],
                    &data[j * dim..(j + 1) * dim],
                );
                let after = reference_distance(
                    Metric::L2,
                    &projected[i * k..(i + 1) * k],
                    &projected[j * k..(j + 1) * k],
                );
                let ratio = after / before;
                assert!(
                    (1.0 - eps..=1.0 + eps).contains(&ratio),
                    "{kind:?} pair {i},{j}: ratio {ratio}"
                );
            }
        }
    }
}

#[test]
fn projected_squared_norms_are_unbiased() {
    use geodex_quant::projection::{ProjectionKind, RandomProjection};
    let v: Vec<f32> = (0..64).map(|i| (i as f32 * 0.37).sin()).collect();
    let norm: f64 = v.iter().map(|&x| x as f64 * x as f64).sum();
    for kind in [ProjectionKind::Gaussian, ProjectionKind::Sparse] {
        let mut mean = 0.0;
        let runs = 400;
        for seed in 0..runs {
            let p = RandomProjection::new(kind, 64, 16, seed).unwrap();
            let mut out = vec![0f32; 16];
            p.project(&v, &mut out);
            mean += out.iter().map(|&x| x as f64 * x as f64).sum::<f64>() / runs as f64;
        }
        // Var of ‖Pv‖²/‖v‖² is about 2/k = 1/8, so the mean of 400 runs is within ±0.06 (3.4σ).
        assert!(
            (mean / norm - 1.0).abs() < 0.06,
            "{kind:?}: E‖Pv‖² / ‖v‖² = {}",
            mean / norm
        );
    }
}

/// The stored form: PQ4 codes packed two per byte decode to the same reconstruction as the
/// one-byte-per-sub-space codes, and a codec rebuilt from its parameters encodes identically.
#[test]
fn codec_storage_round_trips() {
    use geodex_quant::codec::{Codec, CodecSpec};
    let dim = 12;
    let data = clustered(600, dim, 6, 0.7, 4);
    for m in [3, 6] {
        let pq = ProductQuantizer::train(&data, dim, m, 4, 1).unwrap();
        let codec = Codec::Pq4(pq.clone());
        let packed = codec.encode_all(&data);
        assert_eq!(packed.len(), 600 * m.div_ceil(2));
        let (mut a, mut b) = (vec![0f32; dim], vec![0f32; dim]);
        for (code, packed) in pq
            .encode_all(&data)
            .chunks_exact(m)
            .zip(packed.chunks_exact(m.div_ceil(2)))
        {
            pq.decode(code, &mut a);
            codec.decode(packed, &mut b);
            assert_eq!(a, b);
        }
        let again = Codec::from_parameters(codec.spec(), dim, &codec.parameters()).unwrap();
        assert_eq!(again.encode_all(&data), packed);
    }
    let sq = Codec::Sq8(Sq8::train(&data, dim).unwrap());
    let mut params = sq.parameters();
    assert_eq!(Codec::from_parameters(CodecSpec::Sq8, dim, &params).unwrap(), sq);
    assert!(Codec::from_parameters(CodecSpec::Sq8, dim, &params[1..]).is_err());
    params[dim] = -1.0;
    assert!(Codec::from_parameters(CodecSpec::Sq8, dim, &params).is_err());
    params[dim] = f32::NAN;
    assert!(Codec::from_parameters(CodecSpec::Sq8, dim, &params).is_err());
}
