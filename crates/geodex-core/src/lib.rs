//! The geodex index: an HNSW graph (Malkov & Yashunin, "Efficient and robust approximate
//! nearest neighbor search using Hierarchical Navigable Small World graphs", TPAMI 2018),
//! exact k-NN for ground truth, and a validated, memory-mappable index file.
//!
//! Where things are:
//! - [`search`]: the search loop (greedy descent, then beam search; paper Alg. 2);
//! - [`stop`]: per-query stopping rules the beam search runs when asked (issue 17);
//! - `query.rs`: the query front end (checks, the filter policy, hits), `engine.rs`: the
//!   distance kernel chosen once per index, behind one `dyn` boundary;
//! - [`select`]: the neighbour-selection heuristic (paper Alg. 4); [`edges`]: the other
//!   edge rules (Vamana α-pruning, random, a learned scorer) and the features a scorer sees;
//! - `insert.rs`: graph construction (paper Alg. 1), parallel with rayon; [`auto_m`]: M chosen
//!   by a recall probe (`geodex build --m auto`);
//! - [`graph`]: the builder graph (locks, growable) and the frozen graph (flat arrays), both
//!   behind the read-only [`GraphView`];
//! - [`format`](mod@format): the index file (ARCHITECTURE.md §4);
//! - `quantized.rs`: search on codes (SQ8, PQ8, PQ4) with exact re-ranking; `byte_walk.rs`:
//!   the living float index's walk on byte codes, re-ranked exactly;
//! - `filter.rs`: filtered search's node sets, selectivity estimate and exact-scan fallback;
//! - `live.rs`: the living index (keys, insert, upsert, delete, compact, concurrent search),
//!   `consolidate.rs` its delete repair, [`wal`] and `durable.rs` its write-ahead log;
//! - [`exact`]: blocked, multi-threaded brute force;
//! - [`measure`]: recall@k and the timed sweep over ef that `geodex bench` reports.
//!
//! ```
//! use geodex_core::{AnyIndex, BuildParams, Index, Metric, SearchContext, SearchParams};
//!
//! let dim = 2;
//! let data: Vec<f32> = vec![0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 5.0, 5.0];
//! let params = BuildParams { metric: Metric::L2, m: 16, ef_construction: 200, ..Default::default() };
//! let index = Index::build(data, dim, &params, &|_inserted| {})?;
//! let mut ctx = SearchContext::new(); // one per thread, reused: no allocation per query
//! let (hits, stats) = index.search(&[0.9, 0.1], &SearchParams::new(2, 32), &mut ctx)?;
//! assert_eq!(hits[0].key.0, 1); // (1, 0) is nearest
//! assert!(stats.distances >= 2);
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("tiny.gdx");
//! index.save(&path)?; // atomic: temporary file, fsync, rename, fsync of the directory
//! let AnyIndex::F32(opened) = AnyIndex::open(&path, true)? else { unreachable!() };
//! assert_eq!(opened.search(&[0.9, 0.1], &SearchParams::new(2, 32), &mut ctx)?.0, hits);
//! # Ok::<(), geodex_core::CoreError>(())
//! ```
#![deny(missing_docs)]

mod any;
pub mod auto_m;
mod buf;
mod byte_walk;
mod cancel;
mod consolidate;
mod context;
mod durable;
pub mod edges;
mod engine;
mod error;
pub mod exact;
mod filter;
pub mod format;
pub mod graph;
mod ids;
mod index;
mod insert;
mod levels;
mod link_codes;
mod live;
pub mod measure;
mod neighbor;
mod params;
mod quantized;
mod query;
mod repair;
pub mod search;
pub mod select;
pub mod stop;
mod validate;
mod visited;
pub mod wal;

pub use any::AnyIndex;
pub use cancel::Cancel;
pub use context::SearchContext;
pub use durable::{apply as apply_log, DurableIndex, Recovered};
pub use edges::{EdgeRule, EdgeScorer, KeptLink};
pub use error::CoreError;
pub use filter::{exact_scan_threshold, NodeSet, SELECTIVITY_SAMPLE};
pub use geodex_distance::{Element, ElementKind, Isa, Metric};
pub use geodex_quant::codec::{Codec, CodecOptions, CodecSpec};
pub use geodex_quant::projection::ProjectionKind;
pub use graph::{check_graph, check_live_graph, GraphReport, GraphView, LinkLayout};
pub use ids::{Key, NodeId};
pub use index::{check_keys, rows_of, Hit, Index, IndexInfo};
pub use live::{freeze_after, Deleted, LiveIndex, LiveReport, Upserted, SWEEP_EVERY};
pub use neighbor::Neighbor;
pub use params::{BuildParams, Heuristic, SearchParams};
pub use quantized::TRAIN_SAMPLE;
pub use search::SearchStats;
pub use stop::{Frontier, StopKind, StopModel, StopRule, Trace};
pub use validate::{check_and_prepare, Component};
