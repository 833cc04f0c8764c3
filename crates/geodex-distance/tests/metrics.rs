//! The metric-level distances against closed forms.

use geodex_distance::{reference, Distance, Element, Isa, KernelVisitor, Metric};

struct Eval<'a, T>(&'a [T], &'a [T]);
impl<T: Element> KernelVisitor<T> for Eval<'_, T> {
    type Output = f32;
    fn visit<D: Distance<T>>(self, d: D) -> f32 {
        d.distance(self.0, self.1)
    }
}

fn dist<T: Element>(metric: Metric, a: &[T], b: &[T]) -> f32 {
    T::dispatch(metric, Isa::detect(), Eval(a, b)).expect("metric supported")
}

#[test]
fn closed_forms() {
    let a = [3.0f32, 0.0];
    let b = [0.0f32, 4.0];
    assert_eq!(dist(Metric::L2, &a, &b), 25.0);
    assert_eq!(dist(Metric::InnerProduct, &[1.0f32, 2.0], &[3.0, 4.0]), -11.0);
    // Orthogonal unit vectors: cos = 0, distance 1; opposite: 2.
    assert!((dist(Metric::Cosine, &[1.0f32, 0.0], &[0.0, 1.0]) - 1.0).abs() < 1e-7);
    assert!((dist(Metric::Cosine, &[1.0f32, 0.0], &[-1.0, 0.0]) - 2.0).abs() < 1e-7);
    assert_eq!(dist(Metric::L2, &[0u8, 255], &[255u8, 0]), 2.0 * 255.0 * 255.0);
    assert_eq!(dist(Metric::InnerProduct, &[2u8, 3], &[5u8, 7]), -31.0);
}

#[test]
fn poincare_distance_from_origin_is_2_artanh_r() {
    // d(0, x) = 2·artanh(‖x‖) in the Poincaré ball.
    for r in [0.0f32, 0.1, 0.5, 0.9, 0.99] {
        let x = [r * 0.6, r * 0.8, 0.0];
        let d = Metric::Poincare.reported_distance(dist(Metric::Poincare, &[0.0f32; 3], &x)) as f64;
        let expected = 2.0 * (r as f64).atanh();
        assert!(
            (d - expected).abs() < 1e-4 * (1.0 + expected),
            "r={r}: {d} vs {expected}"
        );
        assert!((reference::poincare_f32(&[0.0; 3], &x) - expected).abs() < 1e-6 * (1.0 + expected));
    }
}

#[test]
fn bytes_have_no_cosine_or_poincare_kernel() {
    assert!(u8::dispatch(Metric::Cosine, Isa::detect(), Eval(&[1u8], &[1u8])).is_none());
    assert!(!u8::supports(Metric::Poincare));
    assert!(f32::supports(Metric::Poincare));
}

/// `distance4` of every metric equals four `distance` calls bit for bit.
struct FourAtOnce<'a, T>(&'a [T], [&'a [T]; 4]);
impl<T: Element> KernelVisitor<T> for FourAtOnce<'_, T> {
    type Output = ([u32; 4], [u32; 4]);
    fn visit<D: Distance<T>>(self, d: D) -> Self::Output {
        let batched = d.distance4(self.0, self.1).map(f32::to_bits);
        let single = self.1.map(|r| d.distance(self.0, r).to_bits());
        (batched, single)
    }
}

#[test]
fn distance4_equals_four_single_distances_for_every_metric() {
    let rows_f32: Vec<Vec<f32>> = (0..5)
        .map(|r| {
            (0..37)
                .map(|i| ((i * 7 + r * 13) % 11) as f32 / 40.0 - 0.12)
                .collect()
        })
        .collect();
    let rows_u8: Vec<Vec<u8>> = (0..5)
        .map(|r| (0..37).map(|i| ((i * 31 + r * 17) % 256) as u8).collect())
        .collect();
    for isa in Isa::available() {
        for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine, Metric::Poincare] {
            let (batched, single) =
                f32::dispatch(metric, isa, FourAtOnce(&rows_f32[0], rows_1_to_4(&rows_f32))).unwrap();
            assert_eq!(batched, single, "{metric:?} f32 on {isa:?}");
            if let Some((batched, single)) =
                u8::dispatch(metric, isa, FourAtOnce(&rows_u8[0], rows_1_to_4(&rows_u8)))
            {
                assert_eq!(batched, single, "{metric:?} u8 on {isa:?}");
            }
        }
    }
}

fn rows_1_to_4<T>(v: &[Vec<T>]) -> [&[T]; 4] {
    [&v[1][..], &v[2][..], &v[3][..], &v[4][..]]
}
