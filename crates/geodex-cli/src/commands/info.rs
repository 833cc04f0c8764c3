//! `geodex info`: what an index file holds, and a check of its graph's invariants.

use std::path::PathBuf;

use crate::failure::Failure;

/// Arguments of `geodex info`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Index file.
    #[arg(long)]
    pub index: PathBuf,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress output on stderr.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(a: Args) -> Result<(), Failure> {
    let index = crate::data::open_index(&a.index)?;
    let info = index.info();
    let report = index.check();
    if a.json {
        let mut v = serde_json::to_value(&info).expect("info serialises");
        v["graph"] = serde_json::to_value(&report).expect("report serialises");
        v["metadata"] = index.metadata().clone();
        super::print_json(&v);
        return Ok(());
    }
    println!("index            {}", a.index.display());
    println!(
        "vectors          {} × {} ({})",
        info.count, info.dim, info.element
    );
    println!("metric           {}", info.metric);
    println!("M / M0           {} / {}", info.m, info.m0);
    println!("ef_construction  {}", info.ef_construction);
    println!("seed             {}", info.seed);
    match info.quant.as_str() {
        "none" => println!("quantisation     none"),
        q if info.pq_m > 0 => println!(
            "quantisation     {q}, m = {}, {} bytes per code",
            info.pq_m, info.code_bytes
        ),
        q if info.proj_k > 0 => println!(
            "quantisation     {q} to k = {}, {} bytes per code",
            info.proj_k, info.code_bytes
        ),
        q if info.rabitq_bits > 0 => println!(
            "quantisation     {q}:{}, {} centres, {} bytes per code",
            info.rabitq_bits, info.rabitq_centres, info.code_bytes
        ),
        q => println!("quantisation     {q}, {} bytes per code", info.code_bytes),
    }
    println!(
        "level-0 links    {}, {} bytes",
        info.links.name(),
        info.level0_bytes
    );
    println!(
        "file             {} bytes{}",
        info.file_bytes.unwrap_or(0),
        if info.mmap { " (memory-mapped)" } else { "" }
    );
    let resident = if info.byte_walk {
        "graph + byte codes walked + vectors re-ranking the beam"
    } else if info.quant == "none" {
        "graph + vectors"
    } else {
        "graph + codes + codebook; full vectors only re-rank"
    };
    println!("resident         {} bytes ({resident})", info.ram_bytes);
    println!("kernels          {}", info.isa);
    println!(
        "entry point      node {} on level {}",
        info.entry_point,
        info.levels.len() - 1
    );
    for (l, (nodes, links)) in report
        .nodes_per_level
        .iter()
        .zip(&report.links_per_level)
        .enumerate()
    {
        println!(
            "level {l:<2}         {nodes} nodes, {links} links, mean degree {:.2}",
            *links as f64 / *nodes as f64
        );
    }
    if let Some(r) = index.metadata().get("repaired_unreachable") {
        println!("repaired         {r} nodes were unreachable after insertion and were linked in");
    }
    let verdict = if report.is_valid() {
        "ok".to_string()
    } else {
        format!("{report:?}")
    };
    println!("graph check      {verdict}");
    Ok(())
}
