//! Collection endpoints: list, create, info, update, exists, delete, payload indexes.

use std::time::Instant;

use axum::extract::Path;
use axum::response::Response;
use serde_json::{json, Value};

use super::{blocking, reply, update_result, Body, Shared};
use crate::collection::{Collection, Distance};
use crate::error::{ApiError, ApiResult};
use crate::model::{AliasActions, CreateCollection, CreateFieldIndex, HnswConfigDiff, UpdateCollection};
use crate::registry::{check_name, config_of};

/// `GET /collections`.
pub async fn list(state: Shared) -> Response {
    let started = Instant::now();
    let names: Vec<Value> = state
        .registry
        .all()
        .iter()
        .map(|c| json!({ "name": c.name() }))
        .collect();
    reply(started, json!({ "collections": names }))
}

/// `PUT /collections/{name}`.
pub async fn create(
    state: Shared,
    Path(name): Path<String>,
    Body(request): Body<CreateCollection>,
) -> ApiResult<Response> {
    let started = Instant::now();
    check_name(&name)?;
    let config = config_of(&request)?;
    let st = state.0.clone();
    blocking(move || st.registry.create(&name, &config)).await?;
    Ok(reply(started, true))
}

/// `PATCH /collections/{name}`: accepted when it changes nothing geodex stores (optimizer and
/// cluster settings); a new `hnsw_config` applies to points inserted from now on.
pub async fn update(
    state: Shared,
    Path(name): Path<String>,
    Body(request): Body<UpdateCollection>,
) -> ApiResult<Response> {
    let started = Instant::now();
    let collection = state.registry.get(&name)?;
    if request.vectors.is_some() || request.sparse_vectors.is_some() {
        return Err(ApiError::unsupported("changing a collection's vectors"));
    }
    if request.quantization_config.is_some() {
        return Err(ApiError::unsupported("changing a collection's quantization"));
    }
    if let Some(HnswConfigDiff { m: Some(_), .. }) = request.hnsw_config {
        return Err(ApiError::unsupported("changing m of an existing graph"));
    }
    let ef = request.hnsw_config.as_ref().and_then(|h| h.ef_construct);
    let scan = request.hnsw_config.as_ref().and_then(|h| h.full_scan_threshold);
    blocking(move || {
        collection.update_config(|c| {
            c.ef_construct = ef.unwrap_or(c.ef_construct);
            c.full_scan_threshold = scan.unwrap_or(c.full_scan_threshold);
        })
    })
    .await?;
    Ok(reply(started, true))
}

/// `DELETE /collections/{name}`: `true` if it existed.
pub async fn delete(state: Shared, Path(name): Path<String>) -> ApiResult<Response> {
    let started = Instant::now();
    let st = state.0.clone();
    let existed = blocking(move || st.registry.delete(&name)).await?;
    Ok(reply(started, existed))
}

/// `GET /collections/{name}/exists`.
pub async fn exists(state: Shared, Path(name): Path<String>) -> Response {
    let started = Instant::now();
    reply(started, json!({ "exists": state.registry.exists(&name) }))
}

fn distance_name(d: Distance) -> &'static str {
    match d {
        Distance::Cosine => "Cosine",
        Distance::Euclid => "Euclid",
        Distance::Dot => "Dot",
    }
}

/// The `CollectionInfo` of Qdrant's API.
fn describe(collection: &Collection) -> Value {
    let config = collection.config();
    let points = collection.len();
    let indexed = collection.payload_fields();
    let schema: serde_json::Map<String, Value> = config
        .payload_schema
        .iter()
        .map(|(field, declared)| {
            let data_type = declared.get("type").unwrap_or(declared).clone();
            let holders = indexed.iter().find(|f| &f.0 == field).map_or(0, |f| f.2);
            (
                field.clone(),
                json!({ "data_type": data_type, "points": holders }),
            )
        })
        .collect();
    json!({
        "status": "green",
        "optimizer_status": "ok",
        "indexed_vectors_count": points,
        "points_count": points,
        "segments_count": 1,
        "config": {
            "params": {
                "vectors": { "size": config.size, "distance": distance_name(config.distance) },
                "shard_number": 1,
                "replication_factor": 1,
                "write_consistency_factor": 1,
                "on_disk_payload": false,
            },
            "hnsw_config": {
                "m": config.m,
                "ef_construct": config.ef_construct,
                "full_scan_threshold": config.full_scan_threshold,
                "max_indexing_threads": 0,
                "on_disk": false,
            },
            "optimizer_config": {
                "deleted_threshold": 0.2,
                "vacuum_min_vector_number": 1000,
                "default_segment_number": 1,
                "flush_interval_sec": 5,
            },
            "wal_config": { "wal_capacity_mb": 32, "wal_segments_ahead": 0 },
            "quantization_config": config.quantization_config,
        },
        "payload_schema": schema,
    })
}

/// `GET /collections/{name}`.
pub async fn info(state: Shared, Path(name): Path<String>) -> ApiResult<Response> {
    let started = Instant::now();
    let collection = state.registry.get(&name)?;
    Ok(reply(started, describe(&collection)))
}

/// `PUT /collections/{name}/index`: declares a payload index. geodex indexes every top-level
/// keyword, integer and boolean value already; the declaration is recorded and reported.
pub async fn create_field_index(
    state: Shared,
    Path(name): Path<String>,
    Body(request): Body<CreateFieldIndex>,
) -> ApiResult<Response> {
    let started = Instant::now();
    let collection = state.registry.get(&name)?;
    let schema = request.field_schema.unwrap_or_else(|| json!("keyword"));
    const TYPES: [&str; 8] = [
        "keyword", "integer", "float", "bool", "geo", "text", "datetime", "uuid",
    ];
    let kind = schema
        .get("type")
        .unwrap_or(&schema)
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if !TYPES.contains(&kind.as_str()) {
        return Err(ApiError::bad_request(format!(
            "field_schema: unknown type {schema}"
        )));
    }
    let field = request.field_name;
    blocking(move || collection.update_config(|c| drop(c.payload_schema.insert(field, schema)))).await?;
    Ok(reply(started, update_result(0)))
}

/// `DELETE /collections/{name}/index/{field}`.
pub async fn delete_field_index(
    state: Shared,
    Path((name, field)): Path<(String, String)>,
) -> ApiResult<Response> {
    let started = Instant::now();
    let collection = state.registry.get(&name)?;
    blocking(move || collection.update_config(|c| drop(c.payload_schema.remove(&field)))).await?;
    Ok(reply(started, update_result(0)))
}

/// `POST /collections/aliases`.
pub async fn change_aliases(state: Shared, Body(request): Body<AliasActions>) -> ApiResult<Response> {
    let started = Instant::now();
    let st = state.0.clone();
    blocking(move || st.registry.change_aliases(&request.actions)).await?;
    Ok(reply(started, true))
}

fn alias_list(pairs: Vec<(String, String)>) -> Value {
    let aliases: Vec<Value> = pairs
        .into_iter()
        .map(|(alias, collection)| json!({ "alias_name": alias, "collection_name": collection }))
        .collect();
    json!({ "aliases": aliases })
}

/// `GET /aliases`.
pub async fn all_aliases(state: Shared) -> Response {
    let started = Instant::now();
    reply(started, alias_list(state.registry.aliases(None)))
}

/// `GET /collections/{name}/aliases`.
pub async fn collection_aliases(state: Shared, Path(name): Path<String>) -> ApiResult<Response> {
    let started = Instant::now();
    let collection = state.registry.get(&name)?;
    Ok(reply(
        started,
        alias_list(state.registry.aliases(Some(collection.name()))),
    ))
}

/// `GET /cluster`: one node, no distributed mode.
pub async fn cluster(_state: Shared) -> Response {
    reply(Instant::now(), json!({ "status": "disabled" }))
}

/// `GET /collections/{name}/cluster`: one local shard holding every point.
pub async fn collection_cluster(state: Shared, Path(name): Path<String>) -> ApiResult<Response> {
    let started = Instant::now();
    let collection = state.registry.get(&name)?;
    Ok(reply(
        started,
        json!({
            "peer_id": 0,
            "shard_count": 1,
            "local_shards": [{ "shard_id": 0, "points_count": collection.len(), "state": "Active" }],
            "remote_shards": [],
            "shard_transfers": [],
        }),
    ))
}
