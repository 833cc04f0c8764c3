//! The HTTP surface: routes (Qdrant's paths), the JSON envelope, the body extractor, and the
//! middleware for the API key, metrics and request logs.

mod collections;
mod points;
mod search;
mod service;
mod snapshots;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{FromRequest, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Serialize;
use subtle::ConstantTimeEq;

use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// Shared state as handlers take it.
pub type Shared = State<Arc<AppState>>;

/// The router with every route, the body limit and the middleware.
pub fn router(state: Arc<AppState>, max_body: usize) -> Router {
    let c = "/collections/{name}";
    Router::new()
        .route("/", get(service::root))
        .route("/healthz", get(service::health))
        .route("/livez", get(service::health))
        .route("/readyz", get(service::ready))
        .route("/metrics", get(service::metrics))
        .route("/collections", get(collections::list))
        .route("/collections/aliases", post(collections::change_aliases))
        .route("/aliases", get(collections::all_aliases))
        .route("/cluster", get(collections::cluster))
        .route(&format!("{c}/aliases"), get(collections::collection_aliases))
        .route(&format!("{c}/cluster"), get(collections::collection_cluster))
        .route(&format!("{c}/facet"), post(points::facet))
        .route(&format!("{c}/points/vectors"), put(points::update_vectors))
        .route(&format!("{c}/points/batch"), post(points::batch))
        .route(
            c,
            get(collections::info)
                .put(collections::create)
                .patch(collections::update)
                .delete(collections::delete),
        )
        .route(&format!("{c}/exists"), get(collections::exists))
        .route(&format!("{c}/index"), put(collections::create_field_index))
        .route(
            &format!("{c}/index/{{field}}"),
            axum::routing::delete(collections::delete_field_index),
        )
        .route(&format!("{c}/points"), put(points::upsert).post(points::retrieve))
        .route(&format!("{c}/points/{{id}}"), get(points::get_one))
        .route(&format!("{c}/points/delete"), post(points::delete))
        .route(
            &format!("{c}/points/payload"),
            post(points::set_payload).put(points::overwrite_payload),
        )
        .route(
            &format!("{c}/points/payload/delete"),
            post(points::delete_payload),
        )
        .route(&format!("{c}/points/payload/clear"), post(points::clear_payload))
        .route(&format!("{c}/points/scroll"), post(points::scroll))
        .route(&format!("{c}/points/count"), post(points::count))
        .route(&format!("{c}/points/search"), post(search::search))
        .route(&format!("{c}/points/search/batch"), post(search::search_batch))
        .route(&format!("{c}/points/query"), post(search::query))
        .route(&format!("{c}/points/query/batch"), post(search::query_batch))
        .route(
            &format!("{c}/snapshots"),
            get(snapshots::list).post(snapshots::create),
        )
        .route(&format!("{c}/snapshots/recover"), put(snapshots::recover))
        .route(&format!("{c}/snapshots/upload"), post(snapshots::upload))
        .route(
            &format!("{c}/snapshots/{{snapshot}}"),
            get(snapshots::download).delete(snapshots::delete),
        )
        .fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError {
                status: StatusCode::METHOD_NOT_ALLOWED,
                message: "method not allowed on this route".into(),
            }
        })
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), authorize))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), observe))
        .with_state(state)
}

/// Routes open without the API key (probes of orchestrators carry no secrets).
const OPEN_ROUTES: [&str; 3] = ["/healthz", "/livez", "/readyz"];

/// Requires the API key, compared in constant time, from `api-key` or `Authorization: Bearer`.
async fn authorize(State(state): Shared, request: Request, next: Next) -> Response {
    let Some(key) = state.api_key.as_deref() else {
        return next.run(request).await;
    };
    if OPEN_ROUTES.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let given = headers.get("api-key").and_then(|v| v.to_str().ok()).or_else(|| {
        headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
    });
    match given {
        Some(given) if bool::from(given.as_bytes().ct_eq(key.as_bytes())) => next.run(request).await,
        _ => ApiError {
            status: StatusCode::UNAUTHORIZED,
            message: "Unauthorized: must provide a valid API key in the `api-key` header or an Authorization bearer token".into(),
        }
        .into_response(),
    }
}

/// Counts and times every request by route, and logs it.
async fn observe(State(state): Shared, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let took = started.elapsed();
    let status = response.status().as_u16();
    state.metrics.record(&method, &route, status, took);
    if state.log_requests {
        tracing::info!(%method, %path, status, ms = took.as_secs_f64() * 1e3, "request");
    }
    response
}

/// A JSON body, with rejections (malformed JSON, unknown fields, too large) in Qdrant's shape.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let Json(value) = Json::<T>::from_request(request, state).await?;
        Ok(Body(value))
    }
}

/// Qdrant's success envelope: `{"result": ..., "status": "ok", "time": seconds}`.
pub fn reply<T: Serialize>(started: Instant, result: T) -> Response {
    Json(serde_json::json!({
        "result": result,
        "status": "ok",
        "time": started.elapsed().as_secs_f64(),
    }))
    .into_response()
}

/// Runs index or storage work on the blocking pool; a panic there is a 500, not a crash.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ApiError::internal)?
}

/// `{"operation_id": id, "status": "completed"}`: every write is applied before it is answered.
pub fn update_result(operation_id: u64) -> serde_json::Value {
    serde_json::json!({ "operation_id": operation_id, "status": "completed" })
}
