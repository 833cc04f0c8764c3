//! `geodex delete`: remove keys from an index — hidden at once, the graph repaired around them
//! (FreshDiskANN-style consolidation), logged and fsynced batch by batch.

use std::path::PathBuf;

use geodex_core::{Component, DurableIndex};

use super::durable::{acknowledge, Change};
use crate::data::QueryElement;
use crate::failure::{in_file, Failure};

/// Arguments of `geodex delete`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Index file to change (its log is `<index>.wal`).
    #[arg(long)]
    pub index: PathBuf,
    /// Keys to delete (.txt one per line, or .npy/.ivecs). Keys the index does not hold are
    /// counted and reported, not an error.
    #[arg(long)]
    pub keys: PathBuf,
    /// Keys per batch: each batch is logged with one fsync and acknowledged with a
    /// `durable N` line.
    #[arg(long, default_value_t = 10_000)]
    pub batch: usize,
    /// Do not fsync the log: survives a crash of geodex, not of the machine.
    #[arg(long)]
    pub no_fsync: bool,
    /// Threads for the graph repair (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// No notes on stderr.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(a: Args) -> Result<(), Failure> {
    if a.batch == 0 {
        return Err(Failure::input("--batch must be ≥ 1"));
    }
    let keys = crate::data::read_keys(&a.keys)?;
    super::durable::run(
        &a.index,
        !a.no_fsync,
        a.threads,
        a.quiet,
        Delete { args: &a, keys },
    )
}

struct Delete<'a> {
    args: &'a Args,
    keys: Vec<u64>,
}

impl Change for Delete<'_> {
    fn apply<T: QueryElement + Component>(self, db: &DurableIndex<T>) -> Result<(), Failure> {
        let a = self.args;
        let (mut deleted, mut missing, mut repaired) = (0, 0, 0);
        for (i, chunk) in self.keys.chunks(a.batch).enumerate() {
            crate::interrupt::check(|| format!("the first {} keys are deleted", i * a.batch))?;
            let (done, _) = db.delete(chunk).map_err(in_file(&a.keys))?;
            acknowledge(i * a.batch + chunk.len());
            deleted += done.deleted;
            missing += done.missing;
            repaired += done.lists_repaired;
        }
        if missing > 0 {
            eprintln!("warning: {missing} of the keys were not in the index");
        }
        crate::progress::note(
            a.quiet,
            format!(
                "deleted {deleted} vectors, repaired {repaired} adjacency lists; {} live",
                db.index().len()
            ),
        );
        Ok(())
    }
}
