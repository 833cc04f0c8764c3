//! `geodex graph`: one layer of the graph as `u<TAB>v` lines, one per directed link.

use std::path::PathBuf;

use geodex_core::GraphView;

use crate::failure::Failure;

/// Arguments of `geodex graph`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Index file.
    #[arg(long)]
    pub index: PathBuf,
    /// Layer (0 is the bottom layer, holding every node).
    #[arg(long)]
    pub layer: usize,
    /// Output file (TSV, no header; node ids are positions in the data file).
    #[arg(long)]
    pub out: PathBuf,
    /// No progress output on stderr.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(a: Args) -> Result<(), Failure> {
    let index = crate::data::open_index(&a.index)?;
    let g = index.graph();
    let top = g.entry_point().map_or(0, |(_, top)| top);
    if a.layer > top {
        return Err(Failure::input(format!(
            "--layer {}: the index has layers 0..={top}",
            a.layer
        )));
    }
    let mut links = 0usize;
    let bar = crate::progress::bar(g.node_count() as u64, "writing", a.quiet);
    geodex_io::atomic::write_file(&a.out, |w| {
        for u in 0..g.node_count() as u32 {
            if u % 4096 == 0 {
                bar.set_position(u as u64);
            }
            if g.level(u) < a.layer {
                continue;
            }
            for &v in g.links(u, a.layer).iter() {
                writeln!(w, "{u}\t{v}")?;
                links += 1;
            }
        }
        Ok(())
    })?;
    bar.finish_and_clear();
    println!("wrote {links} links of layer {} to {}", a.layer, a.out.display());
    Ok(())
}
