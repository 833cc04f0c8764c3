//! Hierarchy embeddings: the geometry half of the claim that "hierarchies embed in the Poincaré
//! ball with low distortion" (THEORY §3.2, §9.2), built so that it can be measured.
//!
//! - [`hierarchy`]: a partial order read from its transitive closure (`child<TAB>ancestor`).
//! - [`manifold`]: the three geometries a trainer moves points in — the Poincaré ball, the
//!   Lorentz hyperboloid and Euclidean space — each with its distance, the distance's gradient
//!   and its Riemannian SGD step.
//! - [`train`]: the loss and sampler of Nickel & Kiela (NeurIPS 2017), shared by all three
//!   geometries so the comparison is at equal loss, sampler and budget; Hogwild threads.
//! - [`sarkar`]: Sarkar's combinatorial construction of a tree in the hyperbolic plane.
//! - `hard`: each node's nearest unrelated nodes in the current embedding, the trainer's hard
//!   negatives.
//! - [`checkpoint`]: a run's state between epochs, written and read with a checksum.
//! - [`eval`]: reconstruction mean rank and MAP (as the 2017 paper and its reference code define
//!   them) and average / worst-case distortion against hop distances.
#![deny(missing_docs)]

pub mod checkpoint;
pub mod eval;
mod hard;
pub mod hierarchy;
pub mod manifold;
pub mod sarkar;
pub mod train;

pub use checkpoint::Checkpoint;
pub use eval::{distortion, link_prediction, reconstruction, Distortion, Reconstruction, Relevant};
pub use hierarchy::Hierarchy;
pub use manifold::Model;
pub use train::{train, EpochStats, LrSchedule, TrainParams, Trained, Training};

/// Everything that can go wrong reading a hierarchy or training on it.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The closure file could not be read.
    #[error("cannot read the closure: {0}")]
    Io(String),
    /// A line of the closure is not `child<TAB>ancestor`.
    #[error("closure line {line}: {reason}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The closure has no pairs.
    #[error("the closure has no pairs")]
    Empty,
    /// A parameter is out of its range.
    #[error("{0}")]
    InvalidParameter(String),
    /// An embedding does not match the hierarchy or the model.
    #[error("embedding: {0}")]
    Embedding(String),
    /// A checkpoint could not be read or does not fit the run.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// Training was cancelled ([`train::TrainParams::cancel`]) before it finished.
    #[error("interrupted")]
    Cancelled,
}
