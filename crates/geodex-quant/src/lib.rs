//! Vector compression: the quantisers an index can store instead of full vectors.
//!
//! - [`codec`]: a trained quantiser in the form an index stores (one fixed-size code per
//!   vector) with the per-query asymmetric distance a graph traversal calls.
//! - [`kmeans`]: Lloyd's k-means with k-means++ seeding (Arthur & Vassilvitskii 2007), seeded
//!   and parallel — the trainer of every codebook here.
//! - [`sq8`]: scalar quantisation to one byte per dimension over each dimension's range.
//! - [`pq`]: product quantisation (Jégou, Douze & Schmid, TPAMI 2011): m sub-spaces, 256
//!   (PQ8) or 16 (PQ4) centroids each, asymmetric distances through per-query lookup tables.
//! - [`fastscan`]: the PQ4 "fast-scan" layout (André, Kermarrec & Le Scouarnec, VLDB 2015;
//!   FAISS's `IndexPQFastScan`): codes of 32 vectors interleaved per sub-space so that one
//!   `pshufb` looks up 32 table entries at once, with 8-bit quantised tables; a scalar reference
//!   computes the same sums.
//! - [`projection`]: Gaussian and sparse (Achlioptas) Johnson–Lindenstrauss projections and
//!   the Dasgupta–Gupta dimension bound.
//! - [`rabitq`]: RaBitQ (Gao & Long, SIGMOD 2024) and its multi-bit extension — a random
//!   rotation, B bits per dimension, an unbiased distance estimate with an error bound per code.
//! - [`rate_distortion`]: the Gaussian rate–distortion bound by reverse water-filling over the
//!   data's own variances.
#![deny(missing_docs)]

pub mod codec;
pub mod fastscan;
pub mod kmeans;
pub mod pq;
pub mod projection;
pub mod rabitq;
pub mod rate_distortion;
pub mod sq8;

/// What can go wrong training or using a quantiser.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum QuantError {
    /// A parameter is out of range (the message says which and why).
    #[error("{0}")]
    InvalidParameter(String),
    /// Too few training vectors for the requested codebook.
    #[error("{vectors} training vectors cannot train {centroids} centroids")]
    TooFewVectors {
        /// Training vectors given.
        vectors: usize,
        /// Centroids asked for.
        centroids: usize,
    },
    /// A vector has the wrong dimension or a non-finite component.
    #[error("row {row}: {reason}")]
    BadVector {
        /// 0-based row.
        row: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Checks that `data` holds whole rows of `dim` finite components.
pub(crate) fn check_rows(data: &[f32], dim: usize) -> Result<usize, QuantError> {
    if dim == 0 {
        return Err(QuantError::InvalidParameter("dimension must be ≥ 1".into()));
    }
    if !data.len().is_multiple_of(dim) {
        return Err(QuantError::InvalidParameter(format!(
            "{} components is not a multiple of dimension {dim}",
            data.len()
        )));
    }
    if let Some(i) = data.iter().position(|x| !x.is_finite()) {
        return Err(QuantError::BadVector {
            row: i / dim,
            reason: format!("component {} is not finite", i % dim),
        });
    }
    Ok(data.len() / dim)
}

/// What the distance tables measure: the index metric's kernel value, up to a constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Similarity {
    /// ‖q − x̂‖² (L2).
    SquaredL2,
    /// −⟨q, x̂⟩ (inner product; cosine is 1 plus this on unit vectors).
    NegativeDot,
}
