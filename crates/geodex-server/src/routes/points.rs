//! Point endpoints: upsert, update vectors, retrieve, delete, payload changes, batches of
//! updates, scroll, count, facet.

use std::time::Instant;

use axum::extract::Path;
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::{blocking, record, reply, update_result, Body, PointOut, Shared};
use crate::collection::{Collection, Selection};
use crate::error::{ApiError, ApiResult};
use crate::filter::Filter;
use crate::model::{
    with_vector, CountRequest, DeletePayload, FacetRequest, PayloadSelector, PointsSelector, RetrieveRequest,
    ScrollRequest, SetPayload, UpdateBatch, UpdateVectors, UpsertPoints,
};
use crate::point_id::PointId;
use crate::points::Payload;

type Rows = (Vec<PointId>, Vec<Vec<f32>>, Vec<Option<Payload>>);

/// The rows of an upsert: `points` (rows) or `batch` (columns); a missing payload is empty.
fn upsert_rows(request: UpsertPoints) -> ApiResult<Rows> {
    if request.update_filter.is_some() {
        return Err(ApiError::unsupported("a conditional upsert (update_filter)"));
    }
    match (request.points, request.batch) {
        (Some(points), None) => {
            let mut rows: Rows = (Vec::new(), Vec::new(), Vec::new());
            for p in points {
                rows.1
                    .push(p.vector.into_dense(&format!("point {}: vector", p.id))?);
                rows.0.push(p.id);
                rows.2.push(Some(p.payload.unwrap_or_default()));
            }
            Ok(rows)
        }
        (None, Some(batch)) => {
            if batch.vectors.len() != batch.ids.len() {
                return Err(ApiError::bad_request(format!(
                    "batch: {} ids but {} vectors",
                    batch.ids.len(),
                    batch.vectors.len()
                )));
            }
            let vectors = batch
                .vectors
                .into_iter()
                .zip(&batch.ids)
                .map(|(v, id)| v.into_dense(&format!("point {id}: vector")))
                .collect::<ApiResult<Vec<_>>>()?;
            let payloads = match batch.payloads {
                Some(p) if p.len() != batch.ids.len() => {
                    return Err(ApiError::bad_request(format!(
                        "batch: {} ids but {} payloads",
                        batch.ids.len(),
                        p.len()
                    )))
                }
                Some(p) => p.into_iter().map(|p| Some(p.unwrap_or_default())).collect(),
                None => vec![Some(Payload::new()); batch.ids.len()],
            };
            Ok((batch.ids, vectors, payloads))
        }
        _ => Err(ApiError::bad_request(
            "an upsert needs exactly one of `points` and `batch`",
        )),
    }
}

fn apply_upsert(collection: &Collection, request: UpsertPoints) -> ApiResult<u64> {
    let (ids, vectors, payloads) = upsert_rows(request)?;
    if ids.is_empty() {
        return Ok(0);
    }
    collection.upsert(ids, vectors, payloads)
}

/// New vectors for stored points, payloads kept; every id must exist (404 otherwise).
fn apply_update_vectors(collection: &Collection, request: UpdateVectors) -> ApiResult<u64> {
    if request.update_filter.is_some() {
        return Err(ApiError::unsupported("a conditional update (update_filter)"));
    }
    let ids: Vec<PointId> = request.points.iter().map(|p| p.id).collect();
    if let Some(id) = collection.missing(&ids).first() {
        return Err(ApiError::not_found(format!("No point with id {id} found")));
    }
    let vectors = request
        .points
        .into_iter()
        .map(|p| p.vector.into_dense(&format!("point {}: vector", p.id)))
        .collect::<ApiResult<Vec<_>>>()?;
    let keep = vec![None; ids.len()];
    collection.upsert(ids, vectors, keep)
}

fn selection(points: Option<Vec<PointId>>, filter: Option<Value>) -> ApiResult<Selection> {
    match (points, filter.as_ref().map(Filter::parse).transpose()?.flatten()) {
        (Some(ids), None) => Ok(Selection::Ids(ids)),
        (None, Some(filter)) => Ok(Selection::Filter(filter)),
        _ => Err(ApiError::bad_request(
            "select points with exactly one of `points` and `filter`",
        )),
    }
}

fn apply_delete(collection: &Collection, request: PointsSelector) -> ApiResult<u64> {
    collection.delete(&selection(request.points, request.filter)?)
}

fn no_nested_key(key: &Option<String>) -> ApiResult<()> {
    match key {
        Some(_) => Err(ApiError::unsupported("setting a payload under a nested `key`")),
        None => Ok(()),
    }
}

/// Merges keys into the payloads.
fn apply_set_payload(collection: &Collection, request: SetPayload) -> ApiResult<u64> {
    no_nested_key(&request.key)?;
    let new = request.payload;
    collection.change_payloads(&selection(request.points, request.filter)?, |p| {
        new.iter().for_each(|(k, v)| drop(p.insert(k.clone(), v.clone())))
    })
}

/// Replaces the payloads.
fn apply_overwrite_payload(collection: &Collection, request: SetPayload) -> ApiResult<u64> {
    no_nested_key(&request.key)?;
    let new = request.payload;
    collection.change_payloads(&selection(request.points, request.filter)?, |p| *p = new.clone())
}

fn apply_delete_payload(collection: &Collection, request: DeletePayload) -> ApiResult<u64> {
    let keys = request.keys;
    collection.change_payloads(&selection(request.points, request.filter)?, |p| {
        keys.iter().for_each(|k| drop(p.remove(k)))
    })
}

fn apply_clear_payload(collection: &Collection, request: PointsSelector) -> ApiResult<u64> {
    collection.change_payloads(&selection(request.points, request.filter)?, |p| p.clear())
}

/// Runs one write on the blocking pool and answers Qdrant's `UpdateResult`.
async fn write<R: Send + 'static>(
    state: Shared,
    name: String,
    request: R,
    apply: fn(&Collection, R) -> ApiResult<u64>,
) -> ApiResult<Response> {
    let started = Instant::now();
    let collection = state.registry.get(&name)?;
    let op = blocking(move || apply(&collection, request)).await?;
    Ok(reply(started, update_result(op)))
}

/// `PUT /collections/{name}/points`.
pub async fn upsert(
    state: Shared,
    Path(name): Path<String>,
    Body(r): Body<UpsertPoints>,
) -> ApiResult<Response> {
    write(state, name, r, apply_upsert).await
}

/// `PUT /collections/{name}/points/vectors`.
pub async fn update_vectors(
    state: Shared,
    Path(name): Path<String>,
    Body(r): Body<UpdateVectors>,
) -> ApiResult<Response> {
    write(state, name, r, apply_update_vectors).await
}

/// `POST /collections/{name}/points/delete`: by ids or by filter.
pub async fn delete(
    state: Shared,
    Path(name): Path<String>,
    Body(r): Body<PointsSelector>,
) -> ApiResult<Response> {
    write(state, name, r, apply_delete).await
}

/// `POST /collections/{name}/points/payload`.
pub async fn set_payload(
    state: Shared,
    Path(name): Path<String>,
    Body(r): Body<SetPayload>,
) -> ApiResult<Response> {
    write(state, name, r, apply_set_payload).await
}

/// `PUT /collections/{name}/points/payload`.
pub async fn overwrite_payload(
    state: Shared,
    Path(name): Path<String>,
    Body(r): Body<SetPayload>,
) -> ApiResult<Response> {
    write(state, name, r, apply_overwrite_payload).await
}

/// `POST /collections/{name}/points/payload/delete`.
pub async fn delete_payload(
    state: Shared,
    Path(name): Path<String>,
    Body(r): Body<DeletePayload>,
) -> ApiResult<Response> {
    write(state, name, r, apply_delete_payload).await
}

/// `POST /collections/{name}/points/payload/clear`.
pub async fn clear_payload(
    state: Shared,
    Path(name): Path<String>,
    Body(r): Body<PointsSelector>,
) -> ApiResult<Response> {
    write(state, name, r, apply_clear_payload).await
}

fn operation<R: DeserializeOwned>(kind: &str, body: Value) -> ApiResult<R> {
    serde_json::from_value(body).map_err(|e| ApiError::bad_request(format!("operations: {kind}: {e}")))
}

/// Applies one operation of a batch (an object with one key naming it).
fn apply_operation(collection: &Collection, op: Value) -> ApiResult<u64> {
    let Value::Object(map) = op else {
        return Err(ApiError::bad_request(
            "operations: each operation must be an object",
        ));
    };
    let mut entries = map.into_iter();
    let (Some((kind, body)), None) = (entries.next(), entries.next()) else {
        return Err(ApiError::bad_request(
            "operations: each operation names exactly one kind",
        ));
    };
    match kind.as_str() {
        "upsert" => apply_upsert(collection, operation(&kind, body)?),
        "delete" => apply_delete(collection, operation(&kind, body)?),
        "set_payload" => apply_set_payload(collection, operation(&kind, body)?),
        "overwrite_payload" => apply_overwrite_payload(collection, operation(&kind, body)?),
        "delete_payload" => apply_delete_payload(collection, operation(&kind, body)?),
        "clear_payload" => apply_clear_payload(collection, operation(&kind, body)?),
        "update_vectors" => apply_update_vectors(collection, operation(&kind, body)?),
        "delete_vectors" => Err(ApiError::unsupported("deleting a point's only vector")),
        other => Err(ApiError::bad_request(format!(
            "operations: unknown operation `{other}`"
        ))),
    }
}

/// `POST /collections/{name}/points/batch`: the operations in order, each durable before the
/// next starts (as in Qdrant, the batch as a whole is not one transaction).
pub async fn batch(
    state: Shared,
    Path(name): Path<String>,
    Body(request): Body<UpdateBatch>,
) -> ApiResult<Response> {
    let started = Instant::now();
    let collection = state.registry.get(&name)?;
    let results = blocking(move || {
        request
            .operations
            .into_iter()
            .map(|op| apply_operation(&collection, op).map(update_result))
            .collect::<ApiResult<Vec<_>>>()
    })
    .await?;
    Ok(reply(started, results))
}

/// `POST /collections/{name}/points`: the listed points that exist.
pub async fn retrieve(
    state: Shared,
    Path(name): Path<String>,
    Body(request): Body<RetrieveRequest>,
) -> ApiResult<Response> {
    let started = Instant::now();
    let collection = state.registry.get(&name)?;
    let payload = PayloadSelector::parse(request.with_payload.as_ref(), true)?;
    let vector = with_vector(request.with_vector.as_ref())?;
    let rows = blocking(move || Ok(collection.retrieve(&request.ids, &payload, vector))).await?;
    let out: Vec<PointOut> = rows.into_iter().map(|p| record(p, false)).collect();
    Ok(reply(started, out))
}

/// `GET /collections/{name}/points/{id}`.
pub async fn get_one(state: Shared, Path((name, id)): Path<(String, String)>) -> ApiResult<Response> {
    let started = Instant::now();
    let collection = state.registry.get(&name)?;
    let id: PointId = serde_json::from_value(match id.parse::<u64>() {
        Ok(n) => json!(n),
        Err(_) => json!(id),
    })
    .map_err(|e| ApiError::bad_request(format!("point id: {e}")))?;
    let mut rows = blocking(move || Ok(collection.retrieve(&[id], &PayloadSelector::All, true))).await?;
    match rows.pop() {
        Some(p) => Ok(reply(started, record(p, false))),
        None => Err(ApiError::not_found(format!("No point with id {id} found"))),
    }
}

/// `POST /collections/{name}/points/scroll`: a page in id order and the next page's first id.
pub async fn scroll(
    state: Shared,
    Path(name): Path<String>,
    Body(request): Body<ScrollRequest>,
) -> ApiResult<Response> {
    let started = Instant::now();
    let collection = state.registry.get(&name)?;
    if request.order_by.is_some() {
        return Err(ApiError::unsupported("scroll with order_by"));
    }
    let filter = request.filter.as_ref().map(Filter::parse).transpose()?.flatten();
    let payload = PayloadSelector::parse(request.with_payload.as_ref(), true)?;
    let vector = with_vector(request.with_vector.as_ref())?;
    let limit = request.limit.unwrap_or(10);
    let (rows, next) =
        blocking(move || Ok(collection.scroll(request.offset, limit, filter.as_ref(), &payload, vector)))
            .await?;
    let points: Vec<PointOut> = rows.into_iter().map(|p| record(p, false)).collect();
    Ok(reply(
        started,
        json!({ "points": points, "next_page_offset": next }),
    ))
}

/// `POST /collections/{name}/points/count`: exact in every case.
pub async fn count(
    state: Shared,
    Path(name): Path<String>,
    Body(request): Body<CountRequest>,
) -> ApiResult<Response> {
    let started = Instant::now();
    let collection = state.registry.get(&name)?;
    let filter = request.filter.as_ref().map(Filter::parse).transpose()?.flatten();
    let n = blocking(move || Ok(collection.count(filter.as_ref()))).await?;
    Ok(reply(started, json!({ "count": n })))
}

/// `POST /collections/{name}/facet`: value counts of a top-level payload key (exact).
pub async fn facet(
    state: Shared,
    Path(name): Path<String>,
    Body(request): Body<FacetRequest>,
) -> ApiResult<Response> {
    let started = Instant::now();
    let collection = state.registry.get(&name)?;
    let filter = request.filter.as_ref().map(Filter::parse).transpose()?.flatten();
    let limit = request.limit.unwrap_or(10);
    let hits = blocking(move || Ok(collection.facet(&request.key, filter.as_ref(), limit))).await?;
    let hits: Vec<Value> = hits
        .into_iter()
        .map(|(v, n)| json!({ "value": v.to_json(), "count": n }))
        .collect();
    Ok(reply(started, json!({ "hits": hits })))
}
