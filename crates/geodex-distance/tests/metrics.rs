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
        let d = dist(Metric::Poincare, &[0.0f32; 3], &x) as f64;
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
