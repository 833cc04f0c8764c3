//! Errors as Qdrant reports them: an HTTP status and the body
//! `{"status": {"error": "..."}, "time": 0.0}`, which `qdrant-client` turns into an exception.
//! Bad input is a 4xx; a 500 means the server itself failed (a disk error, a bug).

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use geodex_core::CoreError;

/// An error answered to the client.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The message, one line.
    pub message: String,
}

impl ApiError {
    /// 400: the request is wrong.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: format!("Bad request: {}", message.into()),
        }
    }

    /// 404: the named thing does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: format!("Not found: {}", message.into()),
        }
    }

    /// 404 for a collection, in Qdrant's words.
    pub fn no_collection(name: &str) -> Self {
        Self::not_found(format!("Collection `{name}` doesn't exist!"))
    }

    /// 409: the request conflicts with the state (the collection already exists).
    pub fn conflict(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::CONFLICT,
            message: message.into(),
        }
    }

    /// 500: the server failed (storage, a bug); never for bad input.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("Service internal error: {message}"),
        }
    }

    /// 400 for a feature of Qdrant's API that geodex does not implement.
    pub fn unsupported(what: &str) -> Self {
        Self::bad_request(format!("{what} is not supported by geodex serve"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "status": { "error": self.message }, "time": 0.0 });
        (self.status, Json(body)).into_response()
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Empty
            | CoreError::DimensionMismatch { .. }
            | CoreError::NonFinite { .. }
            | CoreError::ZeroVector { .. }
            | CoreError::OutsideBall { .. }
            | CoreError::UnsupportedMetric { .. }
            | CoreError::DuplicateKey { .. }
            | CoreError::KeyExists { .. }
            | CoreError::ReservedKey
            | CoreError::InvalidParameter(_) => ApiError::bad_request(e.to_string()),
            other => ApiError::internal(other),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        let status = match &e {
            JsonRejection::BytesRejection(_) => e.status(),
            JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError {
            status,
            message: format!("Format error in JSON body: {}", e.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError::bad_request(format!("query parameters: {}", e.body_text()))
    }
}

macro_rules! storage_errors {
    ($($t:ty),*) => {$(
        impl From<$t> for ApiError {
            fn from(e: $t) -> Self {
                ApiError::internal(format!("storage: {e}"))
            }
        }
    )*};
}
storage_errors!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    std::io::Error
);

/// The result type of handlers and collection operations.
pub type ApiResult<T> = Result<T, ApiError>;
