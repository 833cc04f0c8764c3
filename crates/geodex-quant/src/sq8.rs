//! SQ8: every dimension quantised to one byte over its own range (FAISS `QT_8bit`).
//!
//! Dimension j keeps `min[j]` and `step[j] = (max[j] − min[j]) / 255`; x encodes to
//! round((x − min) / step) clamped to 0…255 and decodes to min + code · step. Inside the
//! training range the round-trip error is at most step/2 per dimension.

use crate::{check_rows, QuantError};

/// A trained scalar quantiser.
#[derive(Clone, Debug, PartialEq)]
pub struct Sq8 {
    /// Per-dimension lower end of the range.
    pub min: Vec<f32>,
    /// Per-dimension step (0 for a constant dimension).
    pub step: Vec<f32>,
}

impl Sq8 {
    /// Learns each dimension's range from the rows of `data`.
    pub fn train(data: &[f32], dim: usize) -> Result<Sq8, QuantError> {
        let n = check_rows(data, dim)?;
        if n == 0 {
            return Err(QuantError::TooFewVectors {
                vectors: 0,
                centroids: 1,
            });
        }
        let mut min = vec![f32::INFINITY; dim];
        let mut max = vec![f32::NEG_INFINITY; dim];
        for v in data.chunks_exact(dim) {
            for j in 0..dim {
                min[j] = min[j].min(v[j]);
                max[j] = max[j].max(v[j]);
            }
        }
        let step = min.iter().zip(&max).map(|(lo, hi)| (hi - lo) / 255.0).collect();
        Ok(Sq8 { min, step })
    }

    /// Dimension of the vectors.
    pub fn dim(&self) -> usize {
        self.min.len()
    }

    /// Encodes `v` into `code` (one byte per dimension).
    pub fn encode(&self, v: &[f32], code: &mut [u8]) {
        for j in 0..self.dim() {
            let level = if self.step[j] > 0.0 {
                ((v[j] - self.min[j]) / self.step[j]).round()
            } else {
                0.0
            };
            code[j] = level.clamp(0.0, 255.0) as u8;
        }
    }

    /// Decodes `code` into `out`.
    pub fn decode(&self, code: &[u8], out: &mut [f32]) {
        for j in 0..self.dim() {
            out[j] = self.min[j] + code[j] as f32 * self.step[j];
        }
    }

    /// Encodes every row of `data`.
    pub fn encode_all(&self, data: &[f32]) -> Vec<u8> {
        let dim = self.dim();
        let mut codes = vec![0u8; data.len()];
        for (v, c) in data.chunks_exact(dim).zip(codes.chunks_exact_mut(dim)) {
            self.encode(v, c);
        }
        codes
    }

    /// ‖q − decode(code)‖², the asymmetric distance (the query stays exact).
    pub fn squared_l2(&self, query: &[f32], code: &[u8]) -> f32 {
        let mut sum = 0f32;
        for j in 0..self.dim() {
            let d = query[j] - (self.min[j] + code[j] as f32 * self.step[j]);
            sum += d * d;
        }
        sum
    }

    /// ⟨q, decode(code)⟩, the asymmetric inner product.
    pub fn dot(&self, query: &[f32], code: &[u8]) -> f32 {
        (0..self.dim())
            .map(|j| query[j] * (self.min[j] + code[j] as f32 * self.step[j]))
            .sum()
    }
}

/// SQ8 with one range for every dimension (FAISS `QT_8bit_uniform`): x encodes to
/// round((x − lo) / step) clamped to 0…255. Because the step is shared, ‖c(a) − c(b)‖² over
/// the codes is step⁻² · ‖a − b‖² up to rounding, so codes compare with the exact byte
/// kernels (no lookup table, a quarter of `f32`'s memory traffic): the reduced-precision walk
/// of a float index, whose candidates are then re-ranked on the full vectors.
///
/// The range is fitted to the 10⁻⁴ and 1 − 10⁻⁴ quantiles of the components, not to their
/// extremes, so one outlying component does not coarsen every other one (clamped components
/// only perturb the walk; the re-ranking is exact).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sq8Uniform {
    /// Value of code 0.
    pub lo: f32,
    /// Value of one code step (> 0).
    pub step: f32,
}

/// Components at most that [`Sq8Uniform::fit`] reads (evenly strided) to find the quantiles.
const FIT_SAMPLE: usize = 1 << 20;

impl Sq8Uniform {
    /// Fits the range to the components of `data` (finite; any number of rows). `None` when
    /// the components span no range (all equal or no data): codes would say nothing.
    pub fn fit(data: &[f32]) -> Option<Sq8Uniform> {
        let stride = data.len().div_ceil(FIT_SAMPLE).max(1);
        let mut sample: Vec<f32> = data.iter().step_by(stride).copied().collect();
        if sample.is_empty() {
            return None;
        }
        sample.sort_unstable_by(f32::total_cmp);
        let at = |q: f64| sample[((sample.len() - 1) as f64 * q).round() as usize];
        let (lo, hi) = (at(1e-4), at(1.0 - 1e-4));
        let step = (hi - lo) / 255.0;
        (step > 0.0 && step.is_finite()).then_some(Sq8Uniform { lo, step })
    }

    /// Encodes `v` into `code` (one byte per component).
    pub fn encode(&self, v: &[f32], code: &mut [u8]) {
        let inv = 1.0 / self.step;
        // round(y) clamped to 0…255 as ⌊clamp(y + ½)⌋ (the cast truncates): the same code for
        // every y, NaN included (→ 0), without a libm `roundf` call per component, so it
        // vectorises — encoding 10⁸ components at index open is then memory-bound.
        for (c, &x) in code.iter_mut().zip(v) {
            *c = ((x - self.lo) * inv + 0.5).clamp(0.0, 255.0) as u8;
        }
    }

    /// Encodes every component of `data`.
    pub fn encode_all(&self, data: &[f32]) -> Vec<u8> {
        let mut codes = vec![0u8; data.len()];
        self.encode(data, &mut codes);
        codes
    }

    /// The value code `c` stands for.
    pub fn decode(&self, c: u8) -> f32 {
        self.lo + c as f32 * self.step
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_codes_are_within_half_a_step_inside_the_range_and_clamp_outside() {
        let data: Vec<f32> = (0..10_000)
            .map(|i| ((i * 7919) % 10_007) as f32 / 10_007.0 - 0.5)
            .collect();
        let q = Sq8Uniform::fit(&data).unwrap();
        let (lo, hi) = (q.decode(0), q.decode(255));
        let codes = q.encode_all(&data);
        for (&x, &c) in data.iter().zip(&codes) {
            if (lo..=hi).contains(&x) {
                assert!((q.decode(c) - x).abs() <= q.step * 0.5 + 1e-6, "{x} → {c}");
            } else {
                assert_eq!(c, if x < lo { 0 } else { 255 });
            }
        }
        // The range is fitted to quantiles: 10⁻⁴ of 10⁴ values is the one extreme on each side.
        assert!(lo > -0.5 && lo < -0.49 && hi < 0.5 && hi > 0.49, "{lo} {hi}");
    }

    #[test]
    fn code_distances_are_proportional_to_the_true_ones() {
        // Rows on the code lattice: the code distance is exactly step⁻² times the true one.
        let q = Sq8Uniform { lo: -1.0, step: 0.01 };
        let a: Vec<f32> = [3u8, 200, 17, 90].iter().map(|&c| q.decode(c)).collect();
        let b: Vec<f32> = [250u8, 0, 17, 91].iter().map(|&c| q.decode(c)).collect();
        let (ca, cb) = (q.encode_all(&a), q.encode_all(&b));
        let codes: u32 = ca
            .iter()
            .zip(&cb)
            .map(|(&x, &y)| (x as i32 - y as i32).pow(2) as u32)
            .sum();
        let exact: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
        assert!((codes as f32 * q.step * q.step - exact).abs() < 1e-3 * exact);
    }

    #[test]
    fn constant_data_has_no_range() {
        assert_eq!(Sq8Uniform::fit(&[0.25; 64]), None);
        assert_eq!(Sq8Uniform::fit(&[]), None);
    }
}
