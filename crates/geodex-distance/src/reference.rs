//! Reference kernels: the definitions, written as plainly as possible and accumulated in
//! `f64` (or exactly in `u64` for `u8` data). The SIMD and portable kernels are tested against
//! these; nothing on a hot path calls them.

/// ‖a − b‖² in `f64`.
pub fn squared_l2_f32(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "vectors of different lengths");
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum()
}

/// ⟨a, b⟩ in `f64`.
pub fn dot_f32(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "vectors of different lengths");
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

/// Σ |aᵢ·bᵢ| in `f64`: the scale against which a dot product's rounding error is measured
/// (a sum of terms of mixed sign can be near zero while each term is large).
pub fn dot_magnitude_f32(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| (x as f64 * y as f64).abs()).sum()
}

/// ‖a − b‖² for bytes, exact.
pub fn squared_l2_u8(a: &[u8], b: &[u8]) -> u64 {
    assert_eq!(a.len(), b.len(), "vectors of different lengths");
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as i64 - y as i64).pow(2) as u64)
        .sum()
}

/// ⟨a, b⟩ for bytes, exact.
pub fn dot_u8(a: &[u8], b: &[u8]) -> u64 {
    assert_eq!(a.len(), b.len(), "vectors of different lengths");
    a.iter().zip(b).map(|(&x, &y)| x as u64 * y as u64).sum()
}

/// Poincaré-ball distance arcosh(1 + 2‖a−b‖² / ((1−‖a‖²)(1−‖b‖²))) in `f64`
/// (Nickel & Kiela, "Poincaré Embeddings for Learning Hierarchical Representations", 2017, eq. 1).
pub fn poincare_f32(a: &[f32], b: &[f32]) -> f64 {
    let diff = squared_l2_f32(a, b);
    let alpha = 1.0 - dot_f32(a, a);
    let beta = 1.0 - dot_f32(b, b);
    (1.0 + 2.0 * diff / (alpha * beta)).acosh()
}
