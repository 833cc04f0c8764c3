//! The write-ahead log: records round-trip; every truncation inside the last record and a
//! zero-filled tail are a torn tail (dropped, no error); a damaged byte in any earlier record is
//! an error naming its offset; a log of another shape is refused; replay after a checkpoint
//! applies nothing twice; and a durable index recovers exactly its acknowledged writes.

use geodex_core::wal::{wal_path, Wal, WalRecord};
use geodex_core::{
    AnyIndex, BuildParams, CoreError, DurableIndex, Index, Metric, SearchContext, SearchParams,
};

const DIM: usize = 3;

fn records() -> Vec<WalRecord<f32>> {
    (0..6u64)
        .map(|i| {
            if i % 3 == 2 {
                WalRecord::Delete { key: i - 1 }
            } else {
                WalRecord::Upsert {
                    key: i,
                    vector: vec![i as f32, 0.5, -1.0],
                }
            }
        })
        .collect()
}

/// A log holding `records()`, committed in two groups; returns its bytes and record offsets.
fn written(dir: &std::path::Path) -> (std::path::PathBuf, Vec<u8>, Vec<u64>) {
    let path = dir.join("x.gdx.wal");
    let (mut wal, replay) = Wal::<f32>::open(&path, DIM, 0, true).unwrap();
    assert!(replay.records.is_empty());
    let mut offsets = Vec::new();
    for (i, r) in records().iter().enumerate() {
        offsets.push(std::fs::metadata(&path).unwrap().len());
        assert_eq!(wal.append(r), i as u64 + 1);
        wal.commit().unwrap();
    }
    (path.clone(), std::fs::read(&path).unwrap(), offsets)
}

#[test]
fn records_round_trip_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _, _) = written(dir.path());
    let replay = Wal::<f32>::read(&path, DIM, 0).unwrap();
    let got: Vec<_> = replay.records.iter().map(|(_, r)| r.clone()).collect();
    assert_eq!(got, records());
    assert_eq!(
        replay.records.iter().map(|r| r.0).collect::<Vec<_>>(),
        (1..=6).collect::<Vec<_>>()
    );
    assert_eq!(replay.torn_bytes, 0);
    // Records at or below the checkpoint are skipped.
    let after = Wal::<f32>::read(&path, DIM, 4).unwrap();
    assert_eq!(after.records.iter().map(|r| r.0).collect::<Vec<_>>(), vec![5, 6]);
    assert_eq!(after.last_lsn, 6);
}

#[test]
fn a_torn_tail_is_dropped_at_every_cut() {
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes, offsets) = written(dir.path());
    let last = *offsets.last().unwrap() as usize;
    for cut in last..bytes.len() {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let replay = Wal::<f32>::read(&path, DIM, 0).unwrap();
        assert_eq!(replay.records.len(), 5, "cut at {cut}");
        assert_eq!(replay.torn_bytes as usize, cut - last);
    }
    // A final record with a damaged byte is a torn write too.
    for at in last..bytes.len() {
        let mut b = bytes.clone();
        b[at] ^= 0x5a;
        std::fs::write(&path, &b).unwrap();
        let replay = Wal::<f32>::read(&path, DIM, 0).unwrap();
        assert_eq!(replay.records.len(), 5, "byte {at}");
    }
    // A tail of zeros (file extended, data never written).
    let mut b = bytes.clone();
    b.extend_from_slice(&[0; 300]);
    std::fs::write(&path, &b).unwrap();
    assert_eq!(Wal::<f32>::read(&path, DIM, 0).unwrap().records.len(), 6);
    // Opening cuts the tail, so a new record follows the valid prefix and reads back.
    let (mut wal, replay) = Wal::<f32>::open(&path, DIM, 0, true).unwrap();
    assert_eq!(replay.torn_bytes, 300);
    assert_eq!(wal.append(&WalRecord::Delete { key: 9 }), 7);
    wal.commit().unwrap();
    let replay = Wal::<f32>::read(&path, DIM, 0).unwrap();
    assert_eq!(replay.records.last().unwrap(), &(7, WalRecord::Delete { key: 9 }));
    assert_eq!(replay.torn_bytes, 0);
}

#[test]
fn damage_before_the_tail_is_an_error_naming_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes, offsets) = written(dir.path());
    let last = *offsets.last().unwrap() as usize;
    for at in 32..last {
        let mut b = bytes.clone();
        b[at] ^= 0x01;
        std::fs::write(&path, &b).unwrap();
        let record_start = *offsets.iter().filter(|&&o| o as usize <= at).max().unwrap();
        match Wal::<f32>::read(&path, DIM, 0) {
            Err(CoreError::InvalidWal { offset, .. }) => assert_eq!(offset, record_start, "byte {at}"),
            other => panic!("byte {at}: {other:?}"),
        }
    }
    // The header: another dimension, another element type, not a log at all.
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        Wal::<f32>::read(&path, DIM + 1, 0),
        Err(CoreError::InvalidWal { offset: 0, .. })
    ));
    assert!(matches!(
        Wal::<u8>::read(&path, DIM, 0),
        Err(CoreError::InvalidWal { offset: 0, .. })
    ));
    std::fs::write(&path, b"definitely not a write-ahead log, no").unwrap();
    assert!(matches!(
        Wal::<f32>::read(&path, DIM, 0),
        Err(CoreError::InvalidWal { offset: 0, .. })
    ));
    // A checkpoint ahead of a gap: records 1..=2 missing.
    std::fs::write(&path, &bytes).unwrap();
    let mut b = bytes[..32].to_vec();
    b.extend_from_slice(&bytes[offsets[2] as usize..]);
    std::fs::write(&path, &b).unwrap();
    assert!(matches!(
        Wal::<f32>::read(&path, DIM, 0),
        Err(CoreError::InvalidWal { .. })
    ));
    assert_eq!(Wal::<f32>::read(&path, DIM, 2).unwrap().records.len(), 4);
}

fn keys_of(index: &AnyIndex) -> Vec<u64> {
    let AnyIndex::F32(ix) = index else { unreachable!() };
    let mut ctx = SearchContext::new();
    let (hits, _) = ix
        .search(&[0.0; DIM], &SearchParams::new(100, 200), &mut ctx)
        .unwrap();
    let mut keys: Vec<u64> = hits.iter().map(|h| h.key.0).collect();
    keys.sort_unstable();
    keys
}

#[test]
fn a_durable_index_recovers_its_acknowledged_writes_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.gdx");
    let base: Vec<f32> = (0..30).map(|i| i as f32 * 0.1).collect();
    let p = BuildParams {
        metric: Metric::L2,
        threads: Some(1),
        ..Default::default()
    };
    Index::build(base, DIM, &p, &|_| {}).unwrap().save(&path).unwrap();
    let AnyIndex::F32(ix) = AnyIndex::open_file(&path, true).unwrap() else {
        unreachable!()
    };
    let (db, recovered) = DurableIndex::open(ix, &path, true).unwrap();
    assert_eq!(recovered.replayed, 0);
    db.upsert(&[100, 3], &[1.0, 1.0, 1.0, 9.0, 9.0, 9.0], &|_| {})
        .unwrap();
    let (gone, lsn) = db.delete(&[0, 4, 77]).unwrap();
    assert_eq!((gone.deleted, gone.missing, lsn), (2, 1, 5));
    drop(db); // a crash: no checkpoint
    let want: Vec<u64> = (1..10).filter(|&k| k != 4).chain([100]).collect();
    // A read-only open replays the log in memory…
    assert_eq!(keys_of(&AnyIndex::open(&path, true).unwrap()), want);
    // …and leaves both files as they were.
    assert_eq!(
        keys_of(&AnyIndex::open_file(&path, true).unwrap()),
        (0..10).collect::<Vec<_>>()
    );
    let log = std::fs::read(wal_path(&path)).unwrap();
    // Reopened for writing: replayed, then checkpointed into the file, the log emptied.
    let AnyIndex::F32(ix) = AnyIndex::open_file(&path, true).unwrap() else {
        unreachable!()
    };
    let (db, recovered) = DurableIndex::open(ix, &path, true).unwrap();
    assert_eq!(recovered.replayed, 5);
    assert_eq!(db.index().get(3).unwrap(), vec![9.0, 9.0, 9.0]);
    db.checkpoint().unwrap();
    drop(db);
    assert_eq!(std::fs::metadata(wal_path(&path)).unwrap().len(), 32);
    assert_eq!(keys_of(&AnyIndex::open_file(&path, true).unwrap()), want);
    // A crash between saving the checkpoint and emptying the log: the old log is back, and
    // replay skips what the file already holds (deleting 0 and 4 twice would be harmless, but
    // re-inserting 100 would create a second node).
    std::fs::write(wal_path(&path), &log).unwrap();
    let AnyIndex::F32(ix) = AnyIndex::open_file(&path, true).unwrap() else {
        unreachable!()
    };
    let nodes = ix.len();
    let (db, recovered) = DurableIndex::open(ix, &path, true).unwrap();
    assert_eq!(recovered.replayed, 0);
    assert_eq!(db.index().node_count(), nodes);
    // Compaction drops the deleted and replaced nodes from the file.
    assert_eq!(db.compact().unwrap(), 3);
    drop(db);
    let reopened = AnyIndex::open(&path, true).unwrap();
    assert_eq!(reopened.len(), want.len());
    assert_eq!(keys_of(&reopened), want);
}

#[test]
fn one_writer_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.gdx.wal");
    let (mut first, _) = Wal::<f32>::open(&path, DIM, 0, true).unwrap();
    assert!(matches!(
        Wal::<f32>::open(&path, DIM, 0, true),
        Err(CoreError::Locked { .. })
    ));
    // Readers are not blocked, and see what the writer committed.
    first.append(&WalRecord::Delete { key: 1 });
    first.commit().unwrap();
    assert_eq!(Wal::<f32>::read(&path, DIM, 0).unwrap().records.len(), 1);
    drop(first);
    let (_, replay) = Wal::<f32>::open(&path, DIM, 0, true).unwrap();
    assert_eq!(replay.records.len(), 1);
}
