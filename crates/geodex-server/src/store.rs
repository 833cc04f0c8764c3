//! A collection's database (redb): point ids, payloads, and the log of vector changes since the
//! last checkpoint of the index file. One write transaction holds a write's ids, payloads and
//! vectors together and is fsynced when it commits, so a write is acknowledged only once all of
//! it is durable, and a crash leaves all of it or none.
//!
//! redb over SQLite: a pure-Rust embedded store with ACID transactions and copy-on-write
//! B-trees, no C library to build and no SQL layer between the server and four key-value
//! tables. The index's own write-ahead log (`geodex_core::wal`) is not used here: it would be a
//! second fsync per write, and a crash between the two would leave half a write.
//!
//! Tables:
//! - `ids`: encoded [`PointId`] → internal key (`u64`, handed out densely, never reused);
//! - `payloads`: internal key → payload as JSON;
//! - `oplog`: sequence number → vector change (op byte 1 upsert / 2 delete, key `u64` LE, then
//!   for an upsert the `f32` LE components); records at or below the index file's `wal_lsn` are
//!   in the file and are removed after each checkpoint;
//! - `meta`: `next_key`, `next_seq`.

use std::path::Path;

use geodex_core::wal::WalRecord;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};

use crate::error::{ApiError, ApiResult};
use crate::point_id::PointId;
use crate::points::{Payload, Points};

const IDS: TableDefinition<&[u8], u64> = TableDefinition::new("ids");
const PAYLOADS: TableDefinition<u64, &[u8]> = TableDefinition::new("payloads");
const OPLOG: TableDefinition<u64, &[u8]> = TableDefinition::new("oplog");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

const OP_UPSERT: u8 = 1;
const OP_DELETE: u8 = 2;

/// The open database of one collection.
#[derive(Debug)]
pub struct Store {
    db: Database,
}

/// Everything a collection reads from its database when it opens.
#[derive(Debug)]
pub struct Loaded {
    /// The points with their payloads.
    pub points: Points,
    /// The next internal key to hand out.
    pub next_key: u64,
    /// The next log sequence number.
    pub next_seq: u64,
    /// Vector changes after `after` (the index file's `wal_lsn`), in order.
    pub log: Vec<(u64, WalRecord<f32>)>,
    /// Bytes of the log records read.
    pub log_bytes: u64,
}

fn corrupt(what: String) -> ApiError {
    ApiError::internal(format!("database: {what}"))
}

fn encode_op(record: &WalRecord<f32>) -> Vec<u8> {
    match record {
        WalRecord::Upsert { key, vector } => {
            let mut out = Vec::with_capacity(9 + 4 * vector.len());
            out.push(OP_UPSERT);
            out.extend_from_slice(&key.to_le_bytes());
            vector
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
            out
        }
        WalRecord::Delete { key } => [&[OP_DELETE][..], &key.to_le_bytes()].concat(),
    }
}

fn decode_op(bytes: &[u8], dim: usize) -> Option<WalRecord<f32>> {
    let key = u64::from_le_bytes(bytes.get(1..9)?.try_into().ok()?);
    match (bytes[0], bytes.len()) {
        (OP_UPSERT, n) if n == 9 + 4 * dim => Some(WalRecord::Upsert {
            key,
            vector: bytes[9..]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect(),
        }),
        (OP_DELETE, 9) => Some(WalRecord::Delete { key }),
        _ => None,
    }
}

/// One write: its changes go into a single transaction, committed (and fsynced) by
/// [`Store::commit`].
pub struct Write<'a> {
    txn: &'a WriteTransaction,
    next_seq: u64,
    log_bytes: u64,
}

impl Write<'_> {
    /// Records `id` → `key` and the point's payload.
    pub fn put_point(&mut self, id: PointId, key: u64, payload: &Payload) -> ApiResult<()> {
        self.txn.open_table(IDS)?.insert(id.to_bytes().as_slice(), key)?;
        self.put_payload(key, payload)
    }

    /// Replaces the payload of `key`.
    pub fn put_payload(&mut self, key: u64, payload: &Payload) -> ApiResult<()> {
        let json = serde_json::to_vec(payload).map_err(ApiError::internal)?;
        self.txn.open_table(PAYLOADS)?.insert(key, json.as_slice())?;
        Ok(())
    }

    /// Removes `id` (stored under `key`) and its payload.
    pub fn remove_point(&mut self, id: PointId, key: u64) -> ApiResult<()> {
        self.txn.open_table(IDS)?.remove(id.to_bytes().as_slice())?;
        self.txn.open_table(PAYLOADS)?.remove(key)?;
        Ok(())
    }

    /// Appends a vector change to the log; returns its sequence number.
    pub fn log(&mut self, record: &WalRecord<f32>) -> ApiResult<u64> {
        let seq = self.next_seq;
        let bytes = encode_op(record);
        self.log_bytes += bytes.len() as u64;
        self.txn.open_table(OPLOG)?.insert(seq, bytes.as_slice())?;
        self.next_seq += 1;
        Ok(seq)
    }
}

/// What a committed write left behind.
#[derive(Clone, Copy, Debug)]
pub struct Committed {
    /// The next log sequence number (the last record written is one below).
    pub next_seq: u64,
    /// Bytes of log records the write added.
    pub log_bytes: u64,
}

impl Store {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path) -> ApiResult<Store> {
        let db = Database::create(path)?;
        let txn = db.begin_write()?;
        for t in [PAYLOADS, OPLOG] {
            txn.open_table(t)?;
        }
        txn.open_table(IDS)?;
        txn.open_table(META)?;
        txn.commit()?;
        Ok(Store { db })
    }

    /// Reads the points, counters and the log records after `after`.
    pub fn load(&self, dim: usize, after: u64) -> ApiResult<Loaded> {
        let txn = self.db.begin_read()?;
        let meta = txn.open_table(META)?;
        let counter = |name: &str| -> ApiResult<u64> { Ok(meta.get(name)?.map_or(0, |v| v.value())) };
        let (next_key, next_seq) = (counter("next_key")?, counter("next_seq")?.max(1));
        let payloads = txn.open_table(PAYLOADS)?;
        let mut points = Points::new();
        for row in txn.open_table(IDS)?.iter()? {
            let (id, key) = row?;
            let id = PointId::from_bytes(id.value()).ok_or_else(|| corrupt("a malformed point id".into()))?;
            let key = key.value();
            let payload = match payloads.get(key)? {
                Some(json) => serde_json::from_slice(json.value())
                    .map_err(|e| corrupt(format!("payload of {id}: {e}")))?,
                None => Payload::new(),
            };
            points.put(key, id, payload);
        }
        let mut log = Vec::new();
        let mut log_bytes = 0;
        for row in txn.open_table(OPLOG)?.range(after + 1..)? {
            let (seq, bytes) = row?;
            let record = decode_op(bytes.value(), dim)
                .ok_or_else(|| corrupt(format!("log record {}", seq.value())))?;
            log_bytes += bytes.value().len() as u64;
            log.push((seq.value(), record));
        }
        Ok(Loaded {
            points,
            next_key,
            next_seq,
            log,
            log_bytes,
        })
    }

    /// Runs `fill` in one write transaction and commits it durably; `next_key` is saved with it.
    /// Nothing is written if `fill` fails.
    pub fn commit<R>(
        &self,
        next_seq: u64,
        next_key: u64,
        fill: impl FnOnce(&mut Write<'_>) -> ApiResult<R>,
    ) -> ApiResult<(R, Committed)> {
        let txn = self.db.begin_write()?;
        let mut write = Write {
            txn: &txn,
            next_seq,
            log_bytes: 0,
        };
        let out = fill(&mut write)?;
        let done = Committed {
            next_seq: write.next_seq,
            log_bytes: write.log_bytes,
        };
        {
            let mut meta = txn.open_table(META)?;
            meta.insert("next_key", next_key)?;
            meta.insert("next_seq", done.next_seq)?;
        }
        txn.commit()?;
        Ok((out, done))
    }

    /// Removes the log records up to `upto` (the index file now holds them).
    pub fn truncate_log(&self, upto: u64) -> ApiResult<()> {
        let txn = self.db.begin_write()?;
        txn.open_table(OPLOG)?.retain_in(..=upto, |_, _| false)?;
        txn.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn log_records_round_trip() {
        for record in [
            WalRecord::Upsert {
                key: 7,
                vector: vec![1.5, -2.0, 0.25],
            },
            WalRecord::Delete { key: u64::MAX },
        ] {
            assert_eq!(decode_op(&encode_op(&record), 3), Some(record));
        }
        assert_eq!(
            decode_op(
                &encode_op(&WalRecord::Upsert {
                    key: 1,
                    vector: vec![1.0]
                }),
                3
            ),
            None
        );
    }

    #[test]
    fn a_failed_write_leaves_nothing_and_a_committed_one_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("points.redb");
        let store = Store::open(&path).unwrap();
        let payload = json!({"a": 1}).as_object().unwrap().clone();
        let failed = store.commit(1, 1, |w| {
            w.put_point(PointId::Num(5), 0, &payload)?;
            w.log(&WalRecord::Upsert {
                key: 0,
                vector: vec![1.0, 2.0],
            })?;
            Err::<(), _>(ApiError::bad_request("late failure"))
        });
        assert!(failed.is_err());
        let loaded = store.load(2, 0).unwrap();
        assert!(loaded.points.is_empty() && loaded.log.is_empty());
        let ((), done) = store
            .commit(1, 1, |w| {
                w.put_point(PointId::Num(5), 0, &payload)?;
                w.log(&WalRecord::Upsert {
                    key: 0,
                    vector: vec![1.0, 2.0],
                })?;
                w.log(&WalRecord::Delete { key: 3 }).map(drop)
            })
            .unwrap();
        assert_eq!(done.next_seq, 3);
        drop(store);
        let store = Store::open(&path).unwrap();
        let loaded = store.load(2, 0).unwrap();
        assert_eq!((loaded.next_key, loaded.next_seq), (1, 3));
        assert_eq!(loaded.points.entry(0).unwrap().payload, payload);
        assert_eq!(loaded.log.len(), 2);
        assert_eq!(
            store.load(2, 1).unwrap().log,
            vec![(2, WalRecord::Delete { key: 3 })]
        );
        store.truncate_log(1).unwrap();
        assert_eq!(store.load(2, 0).unwrap().log.len(), 1);
    }
}
