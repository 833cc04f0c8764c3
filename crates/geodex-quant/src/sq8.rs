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
