//! `geodex serve`: a REST server that speaks the core of Qdrant's API, so an application using
//! `qdrant-client` can switch to geodex by changing the URL.
//!
//! Stack: axum on tokio (the most used Rust HTTP stack; tower middleware for auth, body limits
//! and metrics), redb for ids and payloads (`store.rs` says why), geodex's living index for the
//! vectors. Index work (searches, inserts, checkpoints) runs on tokio's blocking pool so it
//! never stalls the reactor.
//!
//! Layout: `registry.rs` (the data directory), `collection.rs` (one collection: index, database,
//! payloads, the write path), `points.rs` (payloads in memory and their indexes), `filter.rs`
//! (the filter language), `store.rs` (redb), `snapshot.rs`, `model.rs` (request bodies),
//! `routes/` (one file per group of endpoints), `metrics.rs`.

pub mod collection;
pub mod error;
pub mod filter;
pub mod metrics;
pub mod model;
pub mod point_id;
pub mod points;
pub mod registry;
mod routes;
pub mod snapshot;
pub mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::serve::ListenerExt;

use crate::metrics::Metrics;
use crate::registry::Registry;

pub use routes::router;

/// The Qdrant API version reported at `GET /`: the REST API as `qdrant-client` of this version
/// speaks it, which is what the end-to-end tests run against.
pub const QDRANT_API_VERSION: &str = "1.20.0";

/// Default request-body limit (Qdrant's default `max_request_size_mb`).
pub const DEFAULT_MAX_BODY: usize = 32 << 20;

/// Environment variable the API key may come from.
pub const API_KEY_ENV: &str = "GEODEX_API_KEY";

/// How to run the server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The data directory.
    pub data_dir: PathBuf,
    /// Address to listen on.
    pub addr: SocketAddr,
    /// Required in the `api-key` header (or `Authorization: Bearer`) on every route but the
    /// health checks.
    pub api_key: Option<String>,
    /// Largest request body, bytes.
    pub max_body: usize,
    /// Log one line per request.
    pub log_requests: bool,
}

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    /// The collections.
    pub registry: Registry,
    /// Request counters.
    pub metrics: Metrics,
    /// The API key, if one is required.
    pub api_key: Option<String>,
    /// Log one line per request.
    pub log_requests: bool,
    /// False once shutdown began (`/readyz` answers 503).
    pub ready: AtomicBool,
}

/// Opens the data directory, listens, serves until SIGTERM or SIGINT, drains the requests in
/// flight, and checkpoints every collection.
pub async fn run(config: ServerConfig) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let data_dir = config.data_dir.clone();
    let registry = tokio::task::spawn_blocking(move || Registry::open(&data_dir)).await??;
    let state = Arc::new(AppState {
        registry,
        metrics: Metrics::default(),
        api_key: config.api_key.clone(),
        log_requests: config.log_requests,
        ready: AtomicBool::new(true),
    });
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    // The one line on stdout: scripts (and the end-to-end tests) read the address from it.
    println!("geodex serve listening on http://{}", listener.local_addr()?);
    let app = router(Arc::clone(&state), config.max_body);
    // Replies are one write each: Nagle's algorithm would only hold them back.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let shutdown_state = Arc::clone(&state);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            shutdown_state.ready.store(false, Ordering::SeqCst);
            tracing::info!("shutting down: draining requests in flight");
        })
        .await?;
    let state_for_checkpoint = Arc::clone(&state);
    tokio::task::spawn_blocking(move || {
        for collection in state_for_checkpoint.registry.all() {
            if let Err(e) = collection.checkpoint() {
                tracing::error!(collection = collection.name(), error = %e, "checkpoint at shutdown failed");
            }
        }
    })
    .await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
