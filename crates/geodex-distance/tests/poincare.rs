//! The Poincaré metric: axioms on random points, the Lorentz (hyperboloid) form as a second
//! implementation, the rank key's order against the reported distance, and precision near the
//! boundary where hierarchy embeddings put their leaves.

mod common;

use common::SplitMix;
use geodex_distance::{reference, Distance, Element, Isa, KernelVisitor, Metric};

struct RankKey<'a>(&'a [f32], &'a [f32]);
impl KernelVisitor<f32> for RankKey<'_> {
    type Output = f32;
    fn visit<D: Distance<f32>>(self, d: D) -> f32 {
        d.distance(self.0, self.1)
    }
}

fn rank_key(a: &[f32], b: &[f32], isa: Isa) -> f32 {
    f32::dispatch(Metric::Poincare, isa, RankKey(a, b)).expect("poincare on f32")
}

fn poincare(a: &[f32], b: &[f32]) -> f64 {
    Metric::Poincare.reported_distance(rank_key(a, b, Isa::detect())) as f64
}

/// A point of the ball with norm `radius`, in a uniformly random direction.
fn ball_point(rng: &mut SplitMix, dim: usize, radius: f64) -> Vec<f32> {
    let v: Vec<f64> = (0..dim).map(|_| rng.unit() * 2.0 - 1.0).collect();
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
    v.iter().map(|x| (x / norm * radius) as f32).collect()
}

/// A point whose norm is spread towards the boundary (1 − 10^−u, u up to 5).
fn deep_point(rng: &mut SplitMix, dim: usize) -> Vec<f32> {
    let depth = rng.unit() * 5.0;
    ball_point(rng, dim, 1.0 - 10f64.powf(-depth))
}

/// The hyperboloid point of a ball point p: ((1 + ‖p‖²), 2p) / (1 − ‖p‖²).
fn to_lorentz(p: &[f32]) -> Vec<f64> {
    let n2: f64 = p.iter().map(|&x| x as f64 * x as f64).sum();
    let mut x = vec![(1.0 + n2) / (1.0 - n2)];
    x.extend(p.iter().map(|&c| 2.0 * c as f64 / (1.0 - n2)));
    x
}

/// arcosh(−⟨x, y⟩_L), the distance of the Lorentz model (Nickel & Kiela 2018, eq. 3).
fn lorentz_distance(x: &[f64], y: &[f64]) -> f64 {
    let inner = -x[0] * y[0] + x[1..].iter().zip(&y[1..]).map(|(a, b)| a * b).sum::<f64>();
    (-inner).max(1.0).acosh()
}

#[test]
fn axioms_hold_on_random_points() {
    let mut rng = SplitMix(7);
    for dim in [2, 5, 10, 33] {
        for _ in 0..300 {
            let (a, b, c) = (
                deep_point(&mut rng, dim),
                deep_point(&mut rng, dim),
                deep_point(&mut rng, dim),
            );
            let (ab, ba, ac, cb) = (
                poincare(&a, &b),
                poincare(&b, &a),
                poincare(&a, &c),
                poincare(&c, &b),
            );
            assert_eq!(ab.to_bits(), ba.to_bits(), "symmetry");
            assert_eq!(poincare(&a, &a), 0.0, "identity");
            assert!(ab > 0.0 || a == b, "positivity");
            assert!(ab <= ac + cb + 1e-5 * (1.0 + ab), "triangle: {ab} > {ac} + {cb}");
        }
    }
}

#[test]
fn distance_from_the_origin_is_twice_artanh_of_the_norm() {
    for r in [1e-4, 0.3, 0.9, 0.999, 0.99999] {
        let x = [(r * 0.6) as f32, (r * 0.8) as f32];
        let norm = ((x[0] as f64).powi(2) + (x[1] as f64).powi(2)).sqrt();
        let expected = 2.0 * norm.atanh();
        let got = poincare(&[0.0, 0.0], &x);
        assert!(
            (got - expected).abs() <= 2e-6 * expected.max(1.0),
            "r={r}: {got} vs {expected}"
        );
    }
}

#[test]
fn agrees_with_the_lorentz_form_and_the_reference() {
    let mut rng = SplitMix(11);
    for dim in [2, 10, 50] {
        for _ in 0..300 {
            let (a, b) = (deep_point(&mut rng, dim), deep_point(&mut rng, dim));
            let lorentz = lorentz_distance(&to_lorentz(&a), &to_lorentz(&b));
            let got = poincare(&a, &b);
            let tolerance = 1e-5 * lorentz.max(1.0);
            assert!(
                (got - lorentz).abs() <= tolerance,
                "dim {dim}: {got} vs Lorentz {lorentz}"
            );
            assert!((reference::poincare_f32(&a, &b) - lorentz).abs() <= tolerance);
        }
    }
}

#[test]
fn the_rank_key_orders_pairs_like_the_distance_on_every_isa() {
    let mut rng = SplitMix(13);
    let dim = 10;
    let pairs: Vec<(Vec<f32>, Vec<f32>)> = (0..400)
        .map(|_| (deep_point(&mut rng, dim), deep_point(&mut rng, dim)))
        .collect();
    let exact: Vec<f64> = pairs
        .iter()
        .map(|(a, b)| lorentz_distance(&to_lorentz(a), &to_lorentz(b)))
        .collect();
    for isa in Isa::available() {
        let keys: Vec<f32> = pairs.iter().map(|(a, b)| rank_key(a, b, isa)).collect();
        for i in 0..pairs.len() {
            for j in 0..pairs.len() {
                // Pairs whose distances differ by more than the f32 rounding of the key must
                // be ordered the same way by the key.
                if exact[i] + 1e-5 * exact[i].max(1.0) < exact[j] {
                    assert!(
                        keys[i] < keys[j],
                        "{isa:?}: key order differs for {} < {}",
                        exact[i],
                        exact[j]
                    );
                }
            }
        }
    }
}

#[test]
fn close_points_near_the_boundary_keep_their_distance() {
    // Two leaves 1e-3 apart in angle at norm 1 − 1e-5: the f32 sums of squares would lose
    // the conformal factor; the f64 pass keeps the distance to 1e-4 relative.
    let r = 1.0 - 1e-5f64;
    let (t0, t1) = (0.3f64, 0.301f64);
    let a = [(r * t0.cos()) as f32, (r * t0.sin()) as f32];
    let b = [(r * t1.cos()) as f32, (r * t1.sin()) as f32];
    let lorentz = lorentz_distance(&to_lorentz(&a), &to_lorentz(&b));
    let got = poincare(&a, &b);
    assert!((got - lorentz).abs() <= 1e-4 * lorentz, "{got} vs {lorentz}");
}
