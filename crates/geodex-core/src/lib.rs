//! The geodex index: an HNSW graph (Malkov & Yashunin, "Efficient and robust approximate
//! nearest neighbor search using Hierarchical Navigable Small World graphs", TPAMI 2018),
//! exact k-NN for ground truth, and a validated, memory-mappable index file.
//!
//! Where things are:
//! - [`search`]: the search loop (greedy descent, then beam search; paper Alg. 2);
//! - [`select`]: the neighbour-selection heuristic (paper Alg. 4);
//! - `insert.rs`: graph construction (paper Alg. 1), parallel with rayon;
//! - [`graph`]: the builder graph (locks, growable) and the frozen graph (flat arrays), both
//!   behind the read-only [`GraphView`];
//! - [`format`](mod@format): the index file (DESIGN.md §4);
//! - [`exact`]: blocked, multi-threaded brute force.
#![deny(missing_docs)]

mod buf;
mod context;
mod error;
pub mod exact;
pub mod format;
pub mod graph;
mod ids;
mod index;
mod insert;
mod levels;
mod neighbor;
mod params;
mod repair;
pub mod search;
pub mod select;
mod validate;
mod visited;

pub use context::SearchContext;
pub use error::CoreError;
pub use geodex_distance::{Element, ElementKind, Isa, Metric};
pub use graph::{check_graph, GraphReport, GraphView};
pub use ids::{Key, NodeId};
pub use index::{AnyIndex, Hit, Index, IndexInfo};
pub use neighbor::Neighbor;
pub use params::{BuildParams, Heuristic, SearchParams};
pub use search::SearchStats;
pub use validate::Component;
