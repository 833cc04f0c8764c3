//! Snapshot endpoints: create, list, download, delete, recover from a location, upload.

use std::time::Instant;

use axum::body::Body as HttpBody;
use axum::extract::{Multipart, Path};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::{blocking, reply, Body, Shared};
use crate::error::{ApiError, ApiResult};
use crate::model::SnapshotRecover;
use crate::registry::check_name;
use crate::snapshot::{self, check_snapshot_name};

/// `POST /collections/{name}/snapshots`.
pub async fn create(state: Shared, Path(name): Path<String>) -> ApiResult<Response> {
    let started = Instant::now();
    let collection = state.registry.get(&name)?;
    let dir = state.registry.snapshot_dir(&name);
    let description = blocking(move || snapshot::create(&collection, &dir)).await?;
    Ok(reply(started, description))
}

/// `GET /collections/{name}/snapshots`.
pub async fn list(state: Shared, Path(name): Path<String>) -> ApiResult<Response> {
    let started = Instant::now();
    state.registry.get(&name)?;
    let dir = state.registry.snapshot_dir(&name);
    let list = blocking(move || snapshot::list(&dir)).await?;
    Ok(reply(started, list))
}

fn snapshot_path(state: &Shared, name: &str, file: &str) -> ApiResult<std::path::PathBuf> {
    check_name(name)?;
    check_snapshot_name(file)?;
    let path = state.registry.snapshot_dir(name).join(file);
    match path.is_file() {
        true => Ok(path),
        false => Err(ApiError::not_found(format!(
            "Snapshot {file} of collection {name} not found"
        ))),
    }
}

/// `GET /collections/{name}/snapshots/{snapshot}`: the file, streamed.
pub async fn download(state: Shared, Path((name, file)): Path<(String, String)>) -> ApiResult<Response> {
    let path = snapshot_path(&state, &name, &file)?;
    let handle = tokio::fs::File::open(&path).await?;
    let len = handle.metadata().await?.len();
    let stream = tokio_util::io::ReaderStream::new(handle);
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_LENGTH, len.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        HttpBody::from_stream(stream),
    )
        .into_response())
}

/// `DELETE /collections/{name}/snapshots/{snapshot}`.
pub async fn delete(state: Shared, Path((name, file)): Path<(String, String)>) -> ApiResult<Response> {
    let started = Instant::now();
    let path = snapshot_path(&state, &name, &file)?;
    tokio::fs::remove_file(path).await?;
    Ok(reply(started, true))
}

/// `PUT /collections/{name}/snapshots/recover`: from `file://…` or a snapshot URL of this
/// server; replaces the collection (or creates it).
pub async fn recover(
    state: Shared,
    Path(name): Path<String>,
    Body(request): Body<SnapshotRecover>,
) -> ApiResult<Response> {
    let started = Instant::now();
    check_name(&name)?;
    if request.checksum.is_some() {
        return Err(ApiError::unsupported("a snapshot checksum"));
    }
    let st = state.0.clone();
    blocking(move || {
        let file = snapshot::locate(&st.registry, &request.location)?;
        snapshot::restore(&st.registry, &name, &file)
    })
    .await?;
    Ok(reply(started, true))
}

/// `POST /collections/{name}/snapshots/upload`: a multipart form with the file in `snapshot`.
pub async fn upload(state: Shared, Path(name): Path<String>, mut form: Multipart) -> ApiResult<Response> {
    let started = Instant::now();
    check_name(&name)?;
    let dir = state.registry.snapshot_dir(&name);
    tokio::fs::create_dir_all(&dir).await?;
    let tmp = dir.join(format!(".upload-{}.tmp", std::process::id()));
    let mut received = false;
    while let Some(mut field) = form
        .next_field()
        .await
        .map_err(|e| ApiError::bad_request(format!("upload: {e}")))?
    {
        if field.name() != Some("snapshot") {
            continue;
        }
        let mut out = tokio::fs::File::create(&tmp).await?;
        while let Some(chunk) = field
            .chunk()
            .await
            .map_err(|e| ApiError::bad_request(format!("upload: {e}")))?
        {
            tokio::io::AsyncWriteExt::write_all(&mut out, &chunk).await?;
        }
        received = true;
    }
    if !received {
        return Err(ApiError::bad_request("upload: no `snapshot` field in the form"));
    }
    let st = state.0.clone();
    let result = blocking({
        let tmp = tmp.clone();
        move || snapshot::restore(&st.registry, &name, &tmp)
    })
    .await;
    let _ = tokio::fs::remove_file(&tmp).await;
    result?;
    Ok(reply(started, true))
}
