//! [`AnyIndex`]: an index whose element type is known only once its file is read.

use std::path::Path;

use crate::graph::FrozenView;
use crate::{CoreError, Index, IndexInfo, NodeSet};

/// An index of either element type, as opened from a file whose type is known only at run time.
#[derive(Debug, Clone)]
pub enum AnyIndex {
    /// Float vectors.
    F32(Index<f32>),
    /// Byte vectors.
    U8(Index<u8>),
}

impl AnyIndex {
    /// Opens and validates an index file (memory-mapped when `mmap` is true), then applies the
    /// records of its write-ahead log (`<path>.wal`) that the file does not hold yet — after a
    /// crash, in memory, changing neither file. With no such records the index stays mapped.
    pub fn open(path: &Path, mmap: bool) -> Result<AnyIndex, CoreError> {
        Ok(match Self::open_file(path, mmap)? {
            AnyIndex::F32(i) => AnyIndex::F32(crate::durable::with_log(i, path)?),
            AnyIndex::U8(i) => AnyIndex::U8(crate::durable::with_log(i, path)?),
        })
    }

    /// Opens and validates the index file alone, ignoring any write-ahead log (for
    /// [`crate::DurableIndex::open`], which replays the log itself).
    pub fn open_file(path: &Path, mmap: bool) -> Result<AnyIndex, CoreError> {
        crate::format::open(path, mmap)
    }

    /// [`Index::check`] of the inner index.
    pub fn check(&self) -> crate::GraphReport {
        match self {
            AnyIndex::F32(i) => i.check(),
            AnyIndex::U8(i) => i.check(),
        }
    }

    /// Summary for `geodex info`.
    pub fn info(&self) -> IndexInfo {
        match self {
            AnyIndex::F32(i) => i.info(),
            AnyIndex::U8(i) => i.info(),
        }
    }

    /// The graph.
    pub fn graph(&self) -> FrozenView<'_> {
        match self {
            AnyIndex::F32(i) => i.graph(),
            AnyIndex::U8(i) => i.graph(),
        }
    }

    /// The build's metadata (JSON) as stored in the file.
    pub fn metadata(&self) -> &serde_json::Value {
        match self {
            AnyIndex::F32(i) => i.metadata(),
            AnyIndex::U8(i) => i.metadata(),
        }
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        match self {
            AnyIndex::F32(i) => i.len(),
            AnyIndex::U8(i) => i.len(),
        }
    }

    /// Whether the index is empty (never, once built or opened).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// [`Index::node_set`] of the inner index.
    pub fn node_set(&self, keys: &[u64]) -> (NodeSet, usize) {
        match self {
            AnyIndex::F32(i) => i.node_set(keys),
            AnyIndex::U8(i) => i.node_set(keys),
        }
    }

    /// [`Index::set_byte_walk`] of the inner index (a byte index has nothing to change).
    pub fn set_byte_walk(&mut self, on: bool) {
        match self {
            AnyIndex::F32(i) => i.set_byte_walk(on),
            AnyIndex::U8(i) => i.set_byte_walk(on),
        }
    }

    /// [`Index::set_code_walk`] of the inner index.
    pub fn set_code_walk(&mut self, on: bool) {
        match self {
            AnyIndex::F32(i) => i.set_code_walk(on),
            AnyIndex::U8(i) => i.set_code_walk(on),
        }
    }

    /// [`Index::set_link_codes`] of the inner index.
    pub fn set_link_codes(&mut self, on: bool) -> Result<(), CoreError> {
        match self {
            AnyIndex::F32(i) => i.set_link_codes(on),
            AnyIndex::U8(i) => i.set_link_codes(on),
        }
    }

    /// [`Index::load_resident`] of the inner index.
    pub fn load_resident(&mut self) {
        match self {
            AnyIndex::F32(i) => i.load_resident(),
            AnyIndex::U8(i) => i.load_resident(),
        }
    }

    /// [`Index::release_vectors`] of the inner index.
    pub fn release_vectors(&self) -> Result<(), CoreError> {
        match self {
            AnyIndex::F32(i) => i.release_vectors(),
            AnyIndex::U8(i) => i.release_vectors(),
        }
    }

    /// [`Index::walks_bytes`] of the inner index.
    pub fn walks_bytes(&self) -> bool {
        match self {
            AnyIndex::F32(i) => i.walks_bytes(),
            AnyIndex::U8(i) => i.walks_bytes(),
        }
    }

    /// [`Index::stop_model`] of the inner index.
    pub fn stop_model(&self) -> Option<&crate::StopModel> {
        match self {
            AnyIndex::F32(i) => i.stop_model(),
            AnyIndex::U8(i) => i.stop_model(),
        }
    }

    /// [`Index::set_stop_model`] of the inner index.
    pub fn set_stop_model(&mut self, model: Option<crate::StopModel>) -> Result<(), CoreError> {
        match self {
            AnyIndex::F32(i) => i.set_stop_model(model),
            AnyIndex::U8(i) => i.set_stop_model(model),
        }
    }

    /// Saves to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<(), CoreError> {
        match self {
            AnyIndex::F32(i) => i.save(path),
            AnyIndex::U8(i) => i.save(path),
        }
    }
}
