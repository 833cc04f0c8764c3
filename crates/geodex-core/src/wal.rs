//! The write-ahead log next to an index file (`<index>.wal`): every upsert and delete is
//! appended and fsynced before it is applied, so an acknowledged write survives `kill -9` and
//! power loss; opening the index replays what its last checkpoint does not contain.
//!
//! Layout (little-endian):
//! ```text
//! header, 32 bytes: "GDXWAL\0\x01" | element code u32 (0 f32, 1 u8) | dim u32 | zero u64 |
//!                   xxh3-64 of bytes 0..24
//! record:           body length u32 | op u32 (1 upsert, 2 delete) | sequence number u64 |
//!                   xxh3-64 of (bytes 0..16 of the record ‖ body) u64 | body
//! body:             key u64, then for an upsert the vector's dim components
//! ```
//! Sequence numbers rise by one per record. The index file's metadata records the last one it
//! contains (`wal_lsn`); replay skips records at or below it, so a crash between saving a
//! checkpoint and emptying the log applies nothing twice.
//!
//! Reading tells a torn tail from corruption: a final record cut short by the end of the file, a
//! final record whose checksum fails, or a tail of zero bytes (a file extended but never written)
//! is what a crash mid-append leaves, and is dropped (those records were never acknowledged: the
//! fsync that acknowledges them had not returned). A record that fails its checks with bytes after
//! it is corruption of acknowledged data and an error, [`CoreError::InvalidWal`], naming the offset.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use geodex_distance::ElementKind;
use xxhash_rust::xxh3::xxh3_64;

use crate::{Component, CoreError};

const MAGIC: &[u8; 8] = b"GDXWAL\0\x01";
const HEADER_BYTES: usize = 32;
const RECORD_HEAD: usize = 24;
const OP_UPSERT: u32 = 1;
const OP_DELETE: u32 = 2;

/// The log file of the index at `index`: the same path with `.wal` appended.
pub fn wal_path(index: &Path) -> PathBuf {
    let mut s = index.as_os_str().to_owned();
    s.push(".wal");
    s.into()
}

/// One logged mutation.
#[derive(Clone, Debug, PartialEq)]
pub enum WalRecord<T> {
    /// Insert or replace `key` with `vector` (as the caller gave it, before normalisation).
    Upsert {
        /// The key.
        key: u64,
        /// The vector.
        vector: Vec<T>,
    },
    /// Delete `key`.
    Delete {
        /// The key.
        key: u64,
    },
}

/// A log open for appending. Records are buffered by [`Wal::append`] and made durable together
/// by [`Wal::commit`] (group commit: one write and one fsync per batch).
#[derive(Debug)]
pub struct Wal<T> {
    file: File,
    path: PathBuf,
    dim: usize,
    next_lsn: u64,
    pending: Vec<u8>,
    sync: bool,
    _element: PhantomData<T>,
}

/// What reading a log found.
#[derive(Debug)]
pub struct Replay<T> {
    /// Records after the checkpoint, with their sequence numbers, in order.
    pub records: Vec<(u64, WalRecord<T>)>,
    /// Bytes of the valid prefix (header and whole, verified records).
    pub valid_bytes: u64,
    /// Bytes of a torn tail dropped after the valid prefix.
    pub torn_bytes: u64,
    /// The last sequence number in the log (or the checkpoint's, if the log holds none after it).
    pub last_lsn: u64,
}

fn element_code(kind: ElementKind) -> u32 {
    match kind {
        ElementKind::F32 => 0,
        ElementKind::U8 => 1,
    }
}

fn header<T: Component>(dim: usize) -> [u8; HEADER_BYTES] {
    let mut h = [0u8; HEADER_BYTES];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&element_code(T::KIND).to_le_bytes());
    h[12..16].copy_from_slice(&(dim as u32).to_le_bytes());
    let sum = xxh3_64(&h[..24]);
    h[24..].copy_from_slice(&sum.to_le_bytes());
    h
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Parses a whole log. `after`: the checkpoint's sequence number (records up to it are skipped).
fn parse<T: Component>(bytes: &[u8], dim: usize, after: u64) -> Result<Replay<T>, (u64, String)> {
    let mut replay = Replay {
        records: Vec::new(),
        valid_bytes: 0,
        torn_bytes: 0,
        last_lsn: after,
    };
    if bytes.len() < HEADER_BYTES {
        // A crash while creating the log: nothing was ever acknowledged.
        replay.torn_bytes = bytes.len() as u64;
        return Ok(replay);
    }
    if bytes[..HEADER_BYTES] != header::<T>(dim) {
        let found = (u32_at(bytes, 8), u32_at(bytes, 12));
        let reason = if &bytes[..8] != MAGIC {
            "not a geodex write-ahead log".to_string()
        } else if found != (element_code(T::KIND), dim as u32) {
            format!(
                "log of element code {} and dimension {}, the index holds {} × {dim}",
                found.0,
                found.1,
                T::KIND.name()
            )
        } else {
            "header checksum mismatch".to_string()
        };
        return Err((0, reason));
    }
    let upsert_body = 8 + dim * std::mem::size_of::<T>();
    let mut at = HEADER_BYTES;
    let mut prev: Option<u64> = None;
    while at < bytes.len() {
        let rest = &bytes[at..];
        let torn = |replay: &mut Replay<T>| replay.torn_bytes = rest.len() as u64;
        if rest.iter().all(|&b| b == 0) || rest.len() < RECORD_HEAD {
            torn(&mut replay);
            break;
        }
        let (len, op, lsn) = (u32_at(rest, 0) as usize, u32_at(rest, 4), u64_at(rest, 8));
        let expected = match op {
            OP_UPSERT => upsert_body,
            OP_DELETE => 8,
            _ => usize::MAX,
        };
        let end = RECORD_HEAD.saturating_add(len);
        let well_formed = len == expected;
        if well_formed && end > rest.len() {
            torn(&mut replay);
            break;
        }
        // The final record (or, if its head is garbage, bytes that could be no more than one).
        let last = if well_formed {
            end == rest.len()
        } else {
            rest.len() <= RECORD_HEAD + upsert_body
        };
        let bad = if !well_formed {
            Some(format!("record of op {op} with a {len}-byte body"))
        } else if xxh3_64(&[&rest[..16], &rest[RECORD_HEAD..end]].concat()) != u64_at(rest, 16) {
            Some("record checksum mismatch".to_string())
        } else if prev.is_some_and(|p| lsn != p + 1) {
            Some(format!("sequence number {lsn} after {}", prev.unwrap_or(0)))
        } else {
            None
        };
        if let Some(reason) = bad {
            if last {
                torn(&mut replay);
                break;
            }
            return Err((at as u64, reason));
        }
        prev = Some(lsn);
        let body = &rest[RECORD_HEAD..end];
        let key = u64_at(body, 0);
        if lsn > after {
            if replay.records.is_empty() && lsn != after + 1 {
                return Err((
                    at as u64,
                    format!(
                        "records {} to {} are missing (the checkpoint holds up to {after})",
                        after + 1,
                        lsn - 1
                    ),
                ));
            }
            replay.records.push((
                lsn,
                match op {
                    OP_UPSERT => WalRecord::Upsert {
                        key,
                        vector: bytemuck::pod_collect_to_vec(&body[8..]),
                    },
                    _ => WalRecord::Delete { key },
                },
            ));
        }
        replay.last_lsn = replay.last_lsn.max(lsn);
        at += end;
        replay.valid_bytes = at as u64;
    }
    replay.valid_bytes = replay.valid_bytes.max(HEADER_BYTES as u64);
    Ok(replay)
}

impl<T: Component> Wal<T> {
    /// Reads the log at `path` without changing it (a missing file is an empty log); records
    /// at or below `after` are skipped.
    pub fn read(path: &Path, dim: usize, after: u64) -> Result<Replay<T>, CoreError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(io_err(path, source)),
        };
        parse(&bytes, dim, after).map_err(|(offset, reason)| CoreError::InvalidWal {
            path: path.display().to_string(),
            offset,
            reason,
        })
    }

    /// Opens (or creates) the log for appending after reading it: a torn tail is cut off so new
    /// records follow the valid prefix directly. With `sync` false, commits skip the fsync
    /// (faster, and durable only against a process crash, not power loss). The log stays
    /// exclusively locked (`flock`, on Unix) while this value lives: a second writer, in this
    /// process or another, gets [`CoreError::Locked`]. The lock is taken before the log is
    /// read, so what is replayed is what the previous writer left.
    pub fn open(path: &Path, dim: usize, after: u64, sync: bool) -> Result<(Self, Replay<T>), CoreError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| io_err(path, e))?;
        lock_exclusive(&file, path)?;
        let replay = Self::read(path, dim, after)?;
        let mut wal = Wal {
            file,
            path: path.to_path_buf(),
            dim,
            next_lsn: replay.last_lsn + 1,
            pending: Vec::new(),
            sync,
            _element: PhantomData,
        };
        wal.cut(replay.valid_bytes)?;
        Ok((wal, replay))
    }

    /// Truncates the file to `len` bytes (rewriting the header if the file was shorter than one)
    /// and syncs it, including the directory entry of a new file.
    fn cut(&mut self, len: u64) -> Result<(), CoreError> {
        let err = |e| io_err(&self.path, e);
        let size = self.file.metadata().map_err(err)?.len();
        if size < HEADER_BYTES as u64 {
            self.file.set_len(0).map_err(err)?;
            write_at_end(&mut self.file, &header::<T>(self.dim)).map_err(err)?;
        } else if size != len {
            self.file.set_len(len).map_err(err)?;
        } else {
            return Ok(());
        }
        self.file.sync_all().map_err(err)?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir).and_then(|d| d.sync_all()).map_err(err)?;
        }
        Ok(())
    }

    /// Buffers one record; returns its sequence number. Not durable until [`Wal::commit`].
    pub fn append(&mut self, record: &WalRecord<T>) -> u64 {
        let lsn = self.next_lsn;
        self.next_lsn += 1;
        let (op, key, vector): (u32, u64, &[T]) = match record {
            WalRecord::Upsert { key, vector } => (OP_UPSERT, *key, vector),
            WalRecord::Delete { key } => (OP_DELETE, *key, &[]),
        };
        let body_len = 8 + std::mem::size_of_val(vector);
        let start = self.pending.len();
        self.pending.extend_from_slice(&(body_len as u32).to_le_bytes());
        self.pending.extend_from_slice(&op.to_le_bytes());
        self.pending.extend_from_slice(&lsn.to_le_bytes());
        self.pending.extend_from_slice(&[0; 8]);
        self.pending.extend_from_slice(&key.to_le_bytes());
        self.pending.extend_from_slice(bytemuck::cast_slice(vector));
        let rec = &self.pending[start..];
        let sum = xxh3_64(&[&rec[..16], &rec[RECORD_HEAD..]].concat());
        self.pending[start + 16..start + 24].copy_from_slice(&sum.to_le_bytes());
        lsn
    }

    /// Writes the buffered records in one append and fsyncs (group commit); returns the
    /// sequence number of the last durable record.
    pub fn commit(&mut self) -> Result<u64, CoreError> {
        if !self.pending.is_empty() {
            let err = |e| io_err(&self.path, e);
            write_at_end(&mut self.file, &self.pending).map_err(err)?;
            self.pending.clear();
            if self.sync {
                self.file.sync_data().map_err(err)?;
            }
        }
        Ok(self.next_lsn - 1)
    }

    /// Empties the log after a checkpoint saved everything up to the last record (sequence
    /// numbers continue).
    pub fn reset(&mut self) -> Result<(), CoreError> {
        self.pending.clear();
        self.cut(HEADER_BYTES as u64)
    }
}

/// Takes the exclusive advisory lock on the log without waiting; released when `file` closes
/// (also when the process dies, so a crash never leaves a stale lock).
#[cfg(unix)]
fn lock_exclusive(file: &File, path: &Path) -> Result<(), CoreError> {
    use rustix::fs::{flock, FlockOperation};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Err(CoreError::Locked {
            path: path.display().to_string(),
        }),
        Err(e) => Err(io_err(path, e.into())),
    }
}

/// No lock off Unix: one writer per index is the caller's to ensure.
#[cfg(not(unix))]
fn lock_exclusive(_file: &File, _path: &Path) -> Result<(), CoreError> {
    Ok(())
}

fn write_at_end(file: &mut File, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Seek;
    file.seek(std::io::SeekFrom::End(0))?;
    file.write_all(bytes)
}

fn io_err(path: &Path, source: std::io::Error) -> CoreError {
    CoreError::Io {
        path: path.display().to_string(),
        source,
    }
}
