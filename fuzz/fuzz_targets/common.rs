//! Shared by the index-loader targets: open bytes as an index file, then use it.

use std::io::Write;

use geodex_core::{check_graph, AnyIndex, SearchContext, SearchParams};

/// Writes `bytes` to a temporary file and opens it both ways; an index that opens must
/// survive an invariant check and a search from every stored vector's neighbourhood.
pub fn open_and_use(bytes: &[u8]) {
    let mut file = tempfile::NamedTempFile::new().expect("temporary file");
    file.write_all(bytes).expect("write");
    for mmap in [true, false] {
        if let Ok(index) = AnyIndex::open(file.path(), mmap) {
            let _ = check_graph(&index.graph());
            let _ = index.info();
            match &index {
                AnyIndex::F32(ix) => search_some(ix),
                AnyIndex::U8(ix) => search_some(ix),
            }
        }
    }
}

fn search_some<T: geodex_core::Component>(ix: &geodex_core::Index<T>) {
    let mut ctx = SearchContext::new();
    for node in 0..ix.len().min(8) {
        let q = ix.vector(geodex_core::NodeId(node as u32)).to_vec();
        let _ = ix.search(&q, &SearchParams::new(3, 16), &mut ctx);
    }
}
