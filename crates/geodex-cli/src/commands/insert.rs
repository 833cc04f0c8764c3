//! `geodex insert`: add vectors to an existing index under caller keys (a key already present
//! is replaced, as Qdrant's upsert does), logged and fsynced batch by batch.

use std::path::PathBuf;
use std::time::Instant;

use geodex_core::{Component, DurableIndex};
use geodex_io::Role;

use super::durable::{acknowledge, Change};
use crate::data::QueryElement;
use crate::failure::{in_file, Failure};

/// Arguments of `geodex insert`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Index file to change (its log is `<index>.wal`).
    #[arg(long)]
    pub index: PathBuf,
    /// Vectors to add (.fvecs .bvecs .npy .hdf5).
    #[arg(long)]
    pub data: PathBuf,
    /// Their keys, one per row (.txt one per line, or .npy/.ivecs). Default: consecutive
    /// integers after the largest live key.
    #[arg(long)]
    pub keys: Option<PathBuf>,
    /// Rows per batch: each batch is logged with one fsync, acknowledged with a `durable N`
    /// line, then linked into the graph.
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
    /// Do not fsync the log: survives a crash of geodex, not of the machine.
    #[arg(long)]
    pub no_fsync: bool,
    /// Threads that link each batch (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Add only the first N rows of the file.
    #[arg(long)]
    pub limit: Option<usize>,
    /// No progress bar or notes.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(a: Args) -> Result<(), Failure> {
    if a.batch == 0 {
        return Err(Failure::input("--batch must be ≥ 1"));
    }
    let vectors = crate::data::read_vectors(&a.data, Role::Base, a.limit)?;
    let keys = a.keys.as_deref().map(crate::data::read_keys).transpose()?;
    if let Some(k) = &keys {
        if k.len() != vectors.rows() {
            return Err(Failure::input(format!(
                "{} keys for {} vectors in {}",
                k.len(),
                vectors.rows(),
                a.data.display()
            ))
            .context(a.keys.as_ref().expect("keys given").display()));
        }
    }
    super::durable::run(
        &a.index,
        !a.no_fsync,
        a.threads,
        a.quiet,
        Insert {
            args: &a,
            vectors,
            keys,
        },
    )
}

struct Insert<'a> {
    args: &'a Args,
    vectors: geodex_io::AnyVectors,
    keys: Option<Vec<u64>>,
}

impl Change for Insert<'_> {
    fn apply<T: QueryElement + Component>(self, db: &DurableIndex<T>) -> Result<(), Failure> {
        let a = self.args;
        let data = crate::data::queries_as::<T>(self.vectors, &a.data)?;
        let live = db.index();
        let keys = self.keys.unwrap_or_else(|| {
            let next = live.keys().into_iter().max().map_or(0, |k| k + 1);
            (next..next + data.rows() as u64).collect()
        });
        // The whole input is checked before the first batch is logged: a bad row anywhere
        // changes nothing.
        live.validate(&keys, data.as_slice()).map_err(in_file(&a.data))?;
        let bar = crate::progress::bar(keys.len() as u64, "inserting", a.quiet);
        let start = Instant::now();
        let (mut inserted, mut replaced) = (0, 0);
        let dim = data.dim();
        for (i, chunk) in keys.chunks(a.batch).enumerate() {
            let first = i * a.batch;
            crate::interrupt::check(|| format!("the first {first} rows are in the index"))?;
            let rows = &data.as_slice()[first * dim..(first + chunk.len()) * dim];
            let tick = |done: usize| bar.set_position((first + done) as u64);
            let (done, _) = db.upsert(chunk, rows, &tick).map_err(in_file(&a.data))?;
            acknowledge(first + chunk.len());
            inserted += done.inserted;
            replaced += done.replaced;
        }
        bar.finish_and_clear();
        crate::progress::note(
            a.quiet,
            format!(
                "inserted {inserted} and replaced {replaced} vectors in {:.2} s; {} live",
                start.elapsed().as_secs_f64(),
                live.len()
            ),
        );
        Ok(())
    }
}
