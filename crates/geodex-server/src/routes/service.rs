//! `/`, the health checks and `/metrics`.

use std::sync::atomic::Ordering;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::{blocking, Shared};
use crate::error::ApiResult;
use crate::metrics::Gauge;

/// `GET /`: the name and the Qdrant API version `qdrant-client` checks.
pub async fn root() -> Response {
    Json(serde_json::json!({
        "title": "geodex - qdrant-compatible vector search",
        "version": crate::QDRANT_API_VERSION,
        "geodex_version": env!("CARGO_PKG_VERSION"),
    }))
    .into_response()
}

/// `GET /healthz`, `/livez`: the process answers.
pub async fn health() -> &'static str {
    "healthz check passed"
}

/// `GET /readyz`: collections are loaded and the server is not shutting down.
pub async fn ready(state: Shared) -> Response {
    if state.ready.load(Ordering::SeqCst) {
        (StatusCode::OK, "all shards are ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response()
    }
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(state: Shared) -> ApiResult<Response> {
    let st = state.0.clone();
    let text = blocking(move || {
        let mut gauges: Vec<Gauge> = Vec::new();
        for c in st.registry.all() {
            let label = vec![("collection", c.name().to_owned())];
            let (records, bytes) = c.log_size();
            gauges.push(("geodex_collection_points", label.clone(), c.len() as f64));
            gauges.push(("geodex_collection_log_records", label.clone(), records as f64));
            gauges.push(("geodex_collection_log_bytes", label, bytes as f64));
        }
        Ok(st.metrics.render(&gauges))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}
