//! A living index bound to its file and write-ahead log: every change is logged and fsynced
//! before it is applied, a checkpoint saves the index atomically and empties the log, and
//! opening replays what the last checkpoint does not hold. What [`DurableIndex::upsert`] or
//! [`DurableIndex::delete`] returned `Ok` for survives `kill -9` at any instant.

use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use crate::wal::{wal_path, Wal, WalRecord};
use crate::{Component, CoreError, Deleted, Index, LiveIndex, Upserted};

/// A [`LiveIndex`] whose changes go through the write-ahead log at `<path>.wal`.
#[derive(Debug)]
pub struct DurableIndex<T> {
    live: LiveIndex<T>,
    /// Held while logging *and* applying, so the log's order is the order of application.
    wal: Mutex<Wal<T>>,
    path: PathBuf,
}

/// What opening found in the log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Records replayed (acknowledged after the last checkpoint).
    pub replayed: usize,
    /// Bytes of a torn final record dropped (a crash mid-append; never acknowledged).
    pub torn_bytes: u64,
}

impl<T: Component> DurableIndex<T> {
    /// Takes over `index`, which was opened from `path`, and replays `<path>.wal` into it.
    /// With `sync` false, commits skip the fsync: durable against a crash of the process, not
    /// of the machine.
    pub fn open(index: Index<T>, path: &Path, sync: bool) -> Result<(Self, Recovered), CoreError> {
        Self::open_with_threads(index, path, sync, None)
    }

    /// [`DurableIndex::open`] with the threads that link inserted rows, the replay's included
    /// (`None`: all cores; see [`LiveIndex::set_threads`]): with one thread, the same file and
    /// log give the same index.
    pub fn open_with_threads(
        index: Index<T>,
        path: &Path,
        sync: bool,
        threads: Option<usize>,
    ) -> Result<(Self, Recovered), CoreError> {
        let live = LiveIndex::from_index(index)?;
        live.set_threads(threads)?;
        let (wal, replay) = Wal::open(&wal_path(path), live.dim(), live.lsn(), sync)?;
        apply(&live, &replay.records)?;
        let recovered = Recovered {
            replayed: replay.records.len(),
            torn_bytes: replay.torn_bytes,
        };
        let durable = DurableIndex {
            live,
            wal: Mutex::new(wal),
            path: path.to_path_buf(),
        };
        Ok((durable, recovered))
    }

    /// The index, for searching and inspection (change it only through this type).
    pub fn index(&self) -> &LiveIndex<T> {
        &self.live
    }

    /// Logs the batch (one record per row, one fsync), then applies it as
    /// [`LiveIndex::upsert`]. Returns the sequence number of its last record, durable once
    /// this returns. A batch the index would reject is rejected before anything is logged.
    pub fn upsert(
        &self,
        keys: &[u64],
        data: &[T],
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<(Upserted, u64), CoreError> {
        self.live.validate(keys, data)?;
        let dim = self.live.dim();
        let mut wal = self.wal.lock();
        for (&key, row) in keys.iter().zip(data.chunks_exact(dim)) {
            wal.append(&WalRecord::Upsert {
                key,
                vector: row.to_vec(),
            });
        }
        let lsn = wal.commit()?;
        let done = self.live.upsert(keys, data, progress)?;
        self.live.set_lsn(lsn);
        Ok((done, lsn))
    }

    /// Logs the deletes (one fsync), then applies them as [`LiveIndex::delete`]; returns the
    /// last record's sequence number with the report.
    pub fn delete(&self, keys: &[u64]) -> Result<(Deleted, u64), CoreError> {
        let mut wal = self.wal.lock();
        for &key in keys {
            wal.append(&WalRecord::Delete { key });
        }
        let lsn = wal.commit()?;
        let done = self.live.delete(keys)?;
        self.live.set_lsn(lsn);
        Ok((done, lsn))
    }

    /// Saves the index atomically (recording the last applied sequence number) and empties
    /// the log. A crash in between leaves a log whose records the saved file already holds;
    /// replay skips them.
    pub fn checkpoint(&self) -> Result<(), CoreError> {
        let mut wal = self.wal.lock();
        self.live.snapshot()?.save(&self.path)?;
        wal.reset()
    }

    /// Drops the deleted nodes ([`LiveIndex::compact`]) and checkpoints; returns how many
    /// nodes were removed.
    pub fn compact(&self) -> Result<usize, CoreError> {
        let removed = {
            let _wal = self.wal.lock();
            self.live.compact()?
        };
        self.checkpoint()?;
        Ok(removed)
    }
}

/// Applies logged records in order, batching runs of upserts with distinct keys and runs of
/// deletes (each batch has the effect of its records one by one), then records the last
/// sequence number with [`LiveIndex::set_lsn`].
pub fn apply<T: Component>(live: &LiveIndex<T>, records: &[(u64, WalRecord<T>)]) -> Result<(), CoreError> {
    let mut keys = Vec::new();
    let mut rows = Vec::new();
    let mut deletes = Vec::new();
    let mut in_batch = std::collections::HashSet::new();
    let flush_upserts =
        |keys: &mut Vec<u64>, rows: &mut Vec<T>, in_batch: &mut std::collections::HashSet<u64>| {
            in_batch.clear();
            if keys.is_empty() {
                return Ok(());
            }
            live.upsert(keys, rows, &|_| {})?;
            keys.clear();
            rows.clear();
            Ok::<(), CoreError>(())
        };
    for (_, record) in records {
        match record {
            WalRecord::Upsert { key, vector } => {
                if !deletes.is_empty() {
                    live.delete(&std::mem::take(&mut deletes))?;
                }
                if in_batch.contains(key) {
                    flush_upserts(&mut keys, &mut rows, &mut in_batch)?;
                }
                in_batch.insert(*key);
                keys.push(*key);
                rows.extend_from_slice(vector);
            }
            WalRecord::Delete { key } => {
                flush_upserts(&mut keys, &mut rows, &mut in_batch)?;
                deletes.push(*key);
            }
        }
    }
    flush_upserts(&mut keys, &mut rows, &mut in_batch)?;
    if !deletes.is_empty() {
        live.delete(&deletes)?;
    }
    if let Some((lsn, _)) = records.last() {
        live.set_lsn(*lsn);
    }
    Ok(())
}

/// `index` (opened from `path`) with the records of `<path>.wal` it does not hold applied,
/// without changing either file: what a read-only open sees after a crash.
pub(crate) fn with_log<T: Component>(index: Index<T>, path: &Path) -> Result<Index<T>, CoreError> {
    let after = index.metadata["wal_lsn"].as_u64().unwrap_or(0);
    let replay = Wal::<T>::read(&wal_path(path), index.dim, after)?;
    if replay.records.is_empty() {
        return Ok(index);
    }
    let file_bytes = index.file_bytes;
    let live = LiveIndex::from_index(index)?;
    apply(&live, &replay.records)?;
    let mut replayed = live.snapshot()?;
    replayed.file_bytes = file_bytes;
    Ok(replayed)
}
