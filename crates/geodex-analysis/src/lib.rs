//! The theory instrument: measurements of a built index and its data that the reference text
//! (`THEORY.md`) makes claims about. Everything reads the index through the read-only
//! [`geodex_core::GraphView`], so it works on a freshly built graph and on a memory-mapped file
//! alike.
//!
//! - [`adjacency`]: the symmetrised level-0 graph in compressed rows, its components;
//! - [`hierarchy_search`]: HNSW over an embedded hierarchy against exact search in the same
//!   geometry (recall, the hierarchy task, work per query);
//! - [`hardness`]: per-query local intrinsic dimension against recall and work;
//! - [`health`]: degree distributions per level, strongly connected components, hop distances;
//! - [`bounds`]: bit accounting against the space bound, approximation factor, Chernoff and
//!   union bounds (THEORY.md §1.1, §6.2, §7.1, §7.2);
//! - [`geometry`]: intrinsic dimension (MLE, TwoNN), distance concentration, relative
//!   contrast, per-query local intrinsic dimension (THEORY.md §2.3, §3.1);
//! - [`lanczos`]: the sparse symmetric eigensolver (Lanczos with full reorthogonalisation);
//! - [`quant_report`]: the quantisers' error against the Gaussian rate–distortion bound, their
//!   recall by exhaustive search over the codes, random projections against the
//!   Johnson–Lindenstrauss bound (THEORY.md §1.1, §1.3, §11.2);
//! - [`spectral`]: λ₂ and the Fiedler vector of the combinatorial and normalised Laplacians,
//!   the Fiedler sweep cut's conductance and the Cheeger check (THEORY.md §3.3);
//! - [`report`]: all of the above for one index, as `geodex analyze --json` prints it;
//! - [`storage`]: the index file's exact bytes per section next to each section's
//!   information-theoretic lower bound (counting bounds for links, entropy for codes);
//! - [`topology`]: β₀ barcode and β₁ of the edge-length filtration, redundant links,
//!   percolation of level 0 with recall (THEORY.md §9.1, §9.3).
#![deny(missing_docs)]

pub mod adjacency;
pub mod bounds;
pub mod geometry;
pub mod hardness;
pub mod health;
pub mod hierarchy_search;
pub mod lanczos;
pub mod quant_report;
pub mod report;
pub mod spectral;
pub mod storage;
pub mod topology;

pub use adjacency::UndirectedGraph;
pub use bounds::{bit_accounting, query_bounds, BitAccounting, BoundsOptions, QueryBounds};
pub use geometry::{geometry_report, GeometryOptions, GeometryReport};
pub use hardness::{exact_neighbours, index_rows, query_hardness, HardnessOptions, HardnessReport};
pub use health::{hop_estimate, level_health, DegreeSummary, DirectedGraph, HopEstimate, LevelHealth};
pub use report::{analyze, AnalyzeOptions, Figures, Queries};
pub use spectral::{
    fiedler, smallest_eigenvalues, spectral_report, Fiedler, Laplacian, SpectralOptions, SpectralReport,
    SweepCut,
};
pub use storage::{log2_binomial, storage_report, SectionBytes, StorageReport};
pub use topology::{
    percolation, percolation_recall, percolation_threshold, removal_order, topology_report, PercolationStep,
    TopologyReport,
};
