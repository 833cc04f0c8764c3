//! What `insert`, `delete` and `compact` share: opening an index for changes (replaying its
//! write-ahead log), the typed dispatch, the `durable N` lines, and the closing checkpoint.

use std::path::Path;

use geodex_core::{AnyIndex, Component, DurableIndex};

use crate::data::QueryElement;
use crate::failure::Failure;

/// A change to an index, run on the typed index (a trait because closures cannot be generic).
pub trait Change {
    /// Applies the change; print `durable N` lines through [`acknowledge`].
    fn apply<T: QueryElement + Component>(self, db: &DurableIndex<T>) -> Result<(), Failure>;
}

/// Opens `path` for changes (replaying `<path>.wal`), runs `change`, then checkpoints: the index
/// file is rewritten atomically and the log emptied. If the process dies before that, the log
/// keeps every acknowledged record and the next open replays them.
pub fn run(
    path: &Path,
    sync: bool,
    threads: Option<usize>,
    quiet: bool,
    change: impl Change,
) -> Result<(), Failure> {
    match AnyIndex::open_file(path, true)? {
        AnyIndex::F32(ix) => run_typed(DurableIndex::open(ix, path, sync), threads, quiet, change),
        AnyIndex::U8(ix) => run_typed(DurableIndex::open(ix, path, sync), threads, quiet, change),
    }
    .map_err(|f| f.context(path.display()))
}

fn run_typed<T: QueryElement + Component>(
    opened: Result<(DurableIndex<T>, geodex_core::Recovered), geodex_core::CoreError>,
    threads: Option<usize>,
    quiet: bool,
    change: impl Change,
) -> Result<(), Failure> {
    let (db, recovered) = opened?;
    if recovered.replayed > 0 || recovered.torn_bytes > 0 {
        crate::progress::note(
            quiet,
            format!(
                "recovered {} logged changes from an interrupted run ({} bytes of a torn record dropped)",
                recovered.replayed, recovered.torn_bytes
            ),
        );
    }
    db.index().set_threads(threads)?;
    // Ctrl-C also stops a delete's graph repair (finished by the next run, which replays the
    // log) and a compaction (which then changes nothing).
    db.index().set_cancel(crate::interrupt::flag());
    match change.apply(&db) {
        // Ctrl-C between batches: what was acknowledged is checkpointed, then exit 130.
        Err(f) if f.is_interrupted() => {
            db.checkpoint()?;
            Err(f)
        }
        applied => {
            applied?;
            Ok(db.checkpoint()?)
        }
    }
}

/// Prints `durable N` (ARCHITECTURE.md §5): the first `n` records of this run are on disk.
pub fn acknowledge(n: usize) {
    println!("durable {n}");
}
