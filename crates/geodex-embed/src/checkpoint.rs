//! Checkpoints of a training run, so that a run of hours can stop and resume.
//!
//! Layout (little-endian): the magic `GDXEMBCK`, a `u32` format version (1), a `u32` header
//! length and the header as JSON ([`Header`]: model, dimension, seed, the epochs done and their
//! losses, the hierarchy's node count and fingerprint, the settings and a caller's `extra`),
//! then the point table — `nodes × coords` `f64`s, the trainer's own coordinates (Lorentz
//! included), so a resumed run continues from the exact state — and last an FNV-1a-64 checksum
//! of every byte before it. Reading checks all of it: a truncated or altered file is an error,
//! never a resumed run from damaged points.

use std::io::{Read, Write};

use serde::{Deserialize, Serialize};

use crate::hierarchy::Hierarchy;
use crate::manifold::Model;
use crate::train::TrainParams;
use crate::EmbedError;

const MAGIC: &[u8; 8] = b"GDXEMBCK";
const VERSION: u32 = 1;
/// Larger headers are not written by this code; refusing them bounds the allocation.
const MAX_HEADER: usize = 64 << 20;

/// What a checkpoint says about the run it came from.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Header {
    /// The model's command-line name.
    pub model: String,
    /// Dimension of the written vectors.
    pub dim: usize,
    /// Coordinates per node in the table (dim + 1 for Lorentz).
    pub coords: usize,
    /// Nodes of the hierarchy trained on.
    pub nodes: usize,
    /// Closure pairs trained on.
    pub pairs: usize,
    /// [`fingerprint`] of those pairs, hex.
    pub fingerprint: String,
    /// The run's seed.
    pub seed: u64,
    /// Epochs done.
    pub epoch: usize,
    /// Mean loss of each epoch done.
    pub losses: Vec<f64>,
    /// Learning rate after burn-in.
    pub lr: f64,
    /// Learning-rate schedule.
    pub schedule: String,
    /// Epochs the run was asked for.
    pub epochs: usize,
    /// Negatives per pair.
    pub negatives: usize,
    /// Burn-in epochs.
    pub burn_in: usize,
    /// Whatever the caller keeps beside the run (the CLI: its validation curve).
    #[serde(default)]
    pub extra: serde_json::Value,
}

/// A training run's state between two epochs.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// Epochs done.
    pub epoch: usize,
    /// Mean loss of each epoch done.
    pub losses: Vec<f64>,
    /// The point table, `coords` per node, in the trainer's coordinates.
    pub coords: Vec<f64>,
    /// The header as read or to be written.
    pub header: Header,
}

/// FNV-1a-64 of the closure pairs and the node count: names the training data in a checkpoint
/// without storing it. Hand-written because it is eight lines and no crate is needed for it.
pub fn fingerprint(hierarchy: &Hierarchy) -> u64 {
    let mut h = Fnv::new();
    h.write(&(hierarchy.len() as u64).to_le_bytes());
    for &(c, a) in hierarchy.pairs() {
        h.write(&c.to_le_bytes());
        h.write(&a.to_le_bytes());
    }
    h.0
}

struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

impl Checkpoint {
    /// The checkpoint of a run at `epoch` with table `coords`.
    pub(crate) fn of_run(
        hierarchy: &Hierarchy,
        model: Model,
        params: &TrainParams,
        epoch: usize,
        losses: Vec<f64>,
        coords: Vec<f64>,
    ) -> Checkpoint {
        let header = Header {
            model: model.name().into(),
            dim: params.dim,
            coords: coords.len() / hierarchy.len().max(1),
            nodes: hierarchy.len(),
            pairs: hierarchy.pairs().len(),
            fingerprint: format!("{:016x}", fingerprint(hierarchy)),
            seed: params.seed,
            epoch,
            losses: losses.clone(),
            lr: params.lr,
            schedule: params.schedule.name().into(),
            epochs: params.epochs,
            negatives: params.negatives,
            burn_in: params.burn_in,
            extra: serde_json::Value::Null,
        };
        Checkpoint {
            epoch,
            losses,
            coords,
            header,
        }
    }

    /// Writes the checkpoint (use an atomic writer: a half-written file is caught on reading,
    /// but the previous checkpoint would be lost).
    pub fn write_to(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let header = serde_json::to_vec(&self.header).map_err(std::io::Error::other)?;
        let mut bytes = Vec::with_capacity(16 + header.len() + self.coords.len() * 8 + 8);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&header);
        for c in &self.coords {
            bytes.extend_from_slice(&c.to_le_bytes());
        }
        let mut sum = Fnv::new();
        sum.write(&bytes);
        bytes.extend_from_slice(&sum.0.to_le_bytes());
        out.write_all(&bytes)
    }

    /// Reads and checks a checkpoint: magic, version, header, table size, checksum, finite
    /// coordinates.
    pub fn read_from(input: &mut dyn Read) -> Result<Checkpoint, EmbedError> {
        let bad = |m: String| EmbedError::Checkpoint(m);
        let mut bytes = Vec::new();
        input
            .read_to_end(&mut bytes)
            .map_err(|e| EmbedError::Io(e.to_string()))?;
        if bytes.len() < 24 || &bytes[..8] != MAGIC {
            return Err(bad("not a geodex training checkpoint".into()));
        }
        let (body, tail) = bytes.split_at(bytes.len() - 8);
        let mut sum = Fnv::new();
        sum.write(body);
        if sum.0.to_le_bytes() != tail {
            return Err(bad("checksum mismatch: the file is truncated or damaged".into()));
        }
        let word = |at: usize| u32::from_le_bytes(body[at..at + 4].try_into().expect("4 bytes")) as usize;
        if word(8) != VERSION as usize {
            return Err(bad(format!(
                "format version {} (this build reads {VERSION})",
                word(8)
            )));
        }
        let header_len = word(12);
        if header_len > MAX_HEADER || 16 + header_len > body.len() {
            return Err(bad(format!("header of {header_len} bytes does not fit the file")));
        }
        let header: Header =
            serde_json::from_slice(&body[16..16 + header_len]).map_err(|e| bad(format!("header: {e}")))?;
        let table = &body[16 + header_len..];
        let want = header
            .nodes
            .checked_mul(header.coords)
            .and_then(|n| n.checked_mul(8));
        if want != Some(table.len()) {
            return Err(bad(format!(
                "{} bytes of points for {} nodes × {} coordinates",
                table.len(),
                header.nodes,
                header.coords
            )));
        }
        let coords: Vec<f64> = table
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect();
        if let Some(i) = coords.iter().position(|c| !c.is_finite()) {
            return Err(bad(format!(
                "node {} has a non-finite coordinate",
                i / header.coords.max(1)
            )));
        }
        if header.losses.len() != header.epoch {
            return Err(bad(format!(
                "{} losses for {} epochs",
                header.losses.len(),
                header.epoch
            )));
        }
        Ok(Checkpoint {
            epoch: header.epoch,
            losses: header.losses.clone(),
            coords,
            header,
        })
    }

    /// Whether this checkpoint can continue a run of `model` with `params` on `hierarchy`: same
    /// data, model, dimension and seed (other settings may change between sessions — more
    /// epochs, another rate — and the header keeps what they were).
    pub fn check_fits(
        &self,
        hierarchy: &Hierarchy,
        model: Model,
        params: &TrainParams,
    ) -> Result<(), EmbedError> {
        let h = &self.header;
        let mismatch = |what: &str, had: String, want: String| {
            Err(EmbedError::Checkpoint(format!(
                "it was written for {what} {had}, this run has {want}"
            )))
        };
        if h.model != model.name() {
            return mismatch("model", h.model.clone(), model.name().into());
        }
        if h.dim != params.dim {
            return mismatch("dimension", h.dim.to_string(), params.dim.to_string());
        }
        if h.seed != params.seed {
            return mismatch("seed", h.seed.to_string(), params.seed.to_string());
        }
        let print = format!("{:016x}", fingerprint(hierarchy));
        if h.nodes != hierarchy.len() || h.fingerprint != print {
            return mismatch(
                "another closure: fingerprint",
                format!("{} ({} nodes)", h.fingerprint, h.nodes),
                format!("{print} ({} nodes)", hierarchy.len()),
            );
        }
        if self.coords.len() != hierarchy.len() * h.coords || h.coords < params.dim {
            return mismatch(
                "coordinates per node",
                h.coords.to_string(),
                format!("at least {}", params.dim),
            );
        }
        if self.epoch > params.epochs {
            return Err(EmbedError::Checkpoint(format!(
                "it is at epoch {}, past the {} epochs asked for",
                self.epoch, params.epochs
            )));
        }
        Ok(())
    }
}
