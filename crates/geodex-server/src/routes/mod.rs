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
        .route(&format!("{c}/points/query/groups"), post(search::query_groups))
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
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), authorize))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), observe))
        .with_state(state)
}

/// A handler that panicked (a bug, never bad input) answers a 500 in Qdrant's shape instead
/// of dropping the connection; the server goes on.
fn panicked(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    tracing::error!(panic = %what, "a handler panicked");
    ApiError::internal("the request failed inside the server").into_response()
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
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let path = state.log_requests.then(|| request.uri().path().to_owned());
    let response = next.run(request).await;
    let took = started.elapsed();
    let status = response.status().as_u16();
    let route = route.as_ref().map_or("unmatched", |r| r.as_str());
    state.metrics.record(method.as_str(), route, status, took);
    if let Some(path) = path {
        tracing::info!(%method, %path, status, ms = took.as_secs_f64() * 1e3, "request");
    }
    response
}

/// A JSON body, with rejections (malformed JSON, unknown fields, too large) in Qdrant's shape.
/// Parsed with `serde_json` straight from the bytes (axum's `Json` tracks the error path
/// through every element, a cost per number of a vector).
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let json = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json {
            return Err(ApiError {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                message: "Expected request with `Content-Type: application/json`".into(),
            });
        }
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|e| ApiError {
                status: e.status(),
                message: format!("Format error in JSON body: {}", e.body_text()),
            })?;
        serde_json::from_slice(&bytes)
            .map(Body)
            .map_err(|e| ApiError::bad_request(format!("Format error in JSON body: {e}")))
    }
}

/// Qdrant's success envelope: `{"result": ..., "status": "ok", "time": seconds}`.
#[derive(Serialize)]
struct Envelope<T> {
    result: T,
    status: &'static str,
    time: f64,
}

/// Answers `result` in Qdrant's envelope, serialised straight to bytes.
pub fn reply<T: Serialize>(started: Instant, result: T) -> Response {
    Json(Envelope {
        result,
        status: "ok",
        time: started.elapsed().as_secs_f64(),
    })
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

/// Qdrant's `UpdateResult`: every write is applied before it is answered, so `completed`.
#[derive(Serialize)]
pub struct UpdateResult {
    operation_id: u64,
    status: &'static str,
}

/// The [`UpdateResult`] of operation `operation_id`.
pub fn update_result(operation_id: u64) -> UpdateResult {
    UpdateResult {
        operation_id,
        status: "completed",
    }
}

/// A point as Qdrant's `Record` (retrieve, scroll) or `ScoredPoint` (searches) shows it.
#[derive(Serialize)]
pub struct PointOut {
    id: crate::point_id::PointId,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<crate::points::Payload>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vector: Option<Vec<f32>>,
}

/// Renders `point`; `scored` adds the score and version of a search hit.
pub fn record(point: crate::collection::Scored, scored: bool) -> PointOut {
    PointOut {
        id: point.id,
        version: scored.then_some(0),
        score: scored.then_some(point.score),
        payload: point.payload,
        vector: point.vector,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    async fn boom() -> &'static str {
        panic!("a bug")
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_a_500_with_a_json_error() {
        let app: Router = Router::new()
            .route("/boom", get(boom))
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked));
        let request = axum::http::Request::builder()
            .uri("/boom")
            .body(axum::body::Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert!(body["status"]["error"]
            .as_str()
            .unwrap()
            .contains("inside the server"));
    }
}
