//! `geodex compact`: rewrite an index without its deleted nodes.

use std::path::PathBuf;

use geodex_core::{Component, DurableIndex};

use super::durable::Change;
use crate::data::QueryElement;
use crate::failure::Failure;

/// Arguments of `geodex compact`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Index file to rewrite (its log is replayed first, then emptied).
    #[arg(long)]
    pub index: PathBuf,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress output on stderr.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(a: Args) -> Result<(), Failure> {
    super::durable::run(&a.index, true, None, true, Compact { args: &a })
}

struct Compact<'a> {
    args: &'a Args,
}

impl Change for Compact<'_> {
    fn apply<T: QueryElement + Component>(self, db: &DurableIndex<T>) -> Result<(), Failure> {
        let removed = db.compact()?;
        let live = db.index().len();
        if self.args.json {
            super::print_json(&serde_json::json!({ "removed": removed, "count": live }));
        } else {
            println!(
                "compacted {}: removed {removed} deleted nodes, {live} live",
                self.args.index.display()
            );
        }
        Ok(())
    }
}
