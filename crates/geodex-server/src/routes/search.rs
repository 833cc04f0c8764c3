//! Search endpoints: `search`, `search/batch`, and `query` / `query/batch` (what
//! `query_points` sends: `{"query": {"nearest": vector or id}}`, or the vector or id alone).

use std::time::Instant;

use axum::extract::Path;
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;

use super::{blocking, record, reply, Body, PointOut, Shared};
use crate::collection::{Collection, Search};
use crate::error::{ApiError, ApiResult};
use crate::filter::Filter;
use crate::model::{
    unsupported_form, with_vector, PayloadSelector, QueryBatch, QueryGroupsRequest, QueryRequest,
    SearchBatch, SearchParams, SearchRequest, VectorInput,
};
use crate::point_id::PointId;

/// The parts of a search shared by both request shapes.
struct Common {
    filter: Option<Value>,
    params: Option<SearchParams>,
    limit: usize,
    offset: Option<usize>,
    with_payload: Option<Value>,
    with_vector: Option<Value>,
    score_threshold: Option<f32>,
}

fn plan(vector: Vec<f32>, c: Common) -> ApiResult<Search> {
    let params = c.params.unwrap_or_default();
    if params.hnsw_ef == Some(0) {
        return Err(ApiError::bad_request("params.hnsw_ef must be ≥ 1"));
    }
    Ok(Search {
        vector,
        filter: c.filter.as_ref().map(Filter::parse).transpose()?.flatten(),
        limit: c.limit,
        offset: c.offset.unwrap_or(0),
        ef: params.hnsw_ef,
        exact: params.exact,
        score_threshold: c.score_threshold,
        with_payload: PayloadSelector::parse(c.with_payload.as_ref(), false)?,
        with_vector: with_vector(c.with_vector.as_ref())?,
    })
}

fn search_plan(request: SearchRequest) -> ApiResult<Search> {
    let vector = request.vector.into_dense("vector")?;
    plan(
        vector,
        Common {
            filter: request.filter,
            params: request.params,
            limit: request.limit,
            offset: request.offset,
            with_payload: request.with_payload,
            with_vector: request.with_vector,
            score_threshold: request.score_threshold,
        },
    )
}

/// A query's target: a vector, or the id of a stored point (whose vector is used, and which is
/// left out of the results, as Qdrant does for queries by example).
enum Target {
    Vector(Vec<f32>),
    Point(PointId),
}

fn target(query: Option<VectorInput>) -> ApiResult<Target> {
    let query = query.ok_or_else(|| ApiError::unsupported("a query without `query` (ordering by id)"))?;
    let nearest = match query {
        VectorInput::Nearest(inner) => *inner,
        other => other,
    };
    match nearest {
        VectorInput::Dense(v) => Ok(Target::Vector(v)),
        VectorInput::Point(id) => Ok(Target::Point(id)),
        VectorInput::Nearest(_) => Err(ApiError::bad_request("query: `nearest` inside `nearest`")),
        VectorInput::Unsupported(key) => Err(unsupported_form(&key)),
    }
}

fn query_plan(collection: &Collection, request: QueryRequest) -> ApiResult<(Search, Option<PointId>)> {
    if request.prefetch.as_ref().is_some_and(|p| !p.is_null()) {
        return Err(ApiError::unsupported("prefetch"));
    }
    if request.lookup_from.is_some() {
        return Err(ApiError::unsupported("lookup_from"));
    }
    if request.using.as_deref().is_some_and(|u| !u.is_empty()) {
        return Err(ApiError::unsupported("named vectors (`using`)"));
    }
    let (vector, exclude) = match target(request.query)? {
        Target::Vector(v) => (v, None),
        Target::Point(id) => (collection.vector_of(id)?, Some(id)),
    };
    let mut search = plan(
        vector,
        Common {
            filter: request.filter,
            params: request.params,
            limit: request.limit.unwrap_or(10),
            offset: request.offset,
            with_payload: request.with_payload,
            with_vector: request.with_vector,
            score_threshold: request.score_threshold,
        },
    )?;
    if exclude.is_some() {
        search.limit += 1;
    }
    Ok((search, exclude))
}

fn run(collection: &Collection, search: &Search, exclude: Option<PointId>) -> ApiResult<Vec<PointOut>> {
    let limit = search.limit - exclude.is_some() as usize;
    Ok(collection
        .search(search)?
        .into_iter()
        .filter(|p| Some(p.id) != exclude)
        .take(limit)
        .map(|p| record(p, true))
        .collect())
}

/// Qdrant's `QueryResponse`.
#[derive(Serialize)]
struct Points {
    points: Vec<PointOut>,
}

/// Runs `work` on the blocking pool, or right here when `light`: a graph search without a
/// filter takes tens of microseconds, less than handing it to another thread costs (measured
/// in BENCHMARKS.md); a filter (evaluated over the payloads) or an exact scan can take
/// milliseconds and must not hold up the reactor.
async fn run_where<T: Send + 'static>(
    light: bool,
    work: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    if light {
        work()
    } else {
        blocking(work).await
    }
}

fn light(search: &Search) -> bool {
    !search.exact && search.filter.is_none()
}

/// `POST /collections/{name}/points/search`.
pub async fn search(
    state: Shared,
    Path(name): Path<String>,
    Body(request): Body<SearchRequest>,
) -> ApiResult<Response> {
    let started = Instant::now();
    let collection = state.registry.get(&name)?;
    let search = search_plan(request)?;
    let hits = run_where(light(&search), move || run(&collection, &search, None)).await?;
    Ok(reply(started, hits))
}

/// `POST /collections/{name}/points/search/batch`.
pub async fn search_batch(
    state: Shared,
    Path(name): Path<String>,
    Body(request): Body<SearchBatch>,
) -> ApiResult<Response> {
    let started = Instant::now();
    let collection = state.registry.get(&name)?;
    let searches = request
        .searches
        .into_iter()
        .map(search_plan)
        .collect::<ApiResult<Vec<_>>>()?;
    let out = blocking(move || {
        searches
            .iter()
            .map(|s| run(&collection, s, None))
            .collect::<ApiResult<Vec<_>>>()
    })
    .await?;
    Ok(reply(started, out))
}

/// `POST /collections/{name}/points/query`.
pub async fn query(
    state: Shared,
    Path(name): Path<String>,
    Body(request): Body<QueryRequest>,
) -> ApiResult<Response> {
    let started = Instant::now();
    let collection = state.registry.get(&name)?;
    let (search, exclude) = query_plan(&collection, request)?;
    let points = run_where(light(&search), move || run(&collection, &search, exclude)).await?;
    Ok(reply(started, Points { points }))
}

/// `POST /collections/{name}/points/query/batch`.
pub async fn query_batch(
    state: Shared,
    Path(name): Path<String>,
    Body(request): Body<QueryBatch>,
) -> ApiResult<Response> {
    let started = Instant::now();
    let collection = state.registry.get(&name)?;
    let out = blocking(move || {
        request
            .searches
            .into_iter()
            .map(|r| {
                let (search, exclude) = query_plan(&collection, r)?;
                Ok(Points {
                    points: run(&collection, &search, exclude)?,
                })
            })
            .collect::<ApiResult<Vec<_>>>()
    })
    .await?;
    Ok(reply(started, out))
}

/// Qdrant's `PointGroup`.
#[derive(Serialize)]
struct Group {
    id: Value,
    hits: Vec<PointOut>,
}

/// `POST /collections/{name}/points/query/groups`.
pub async fn query_groups(
    state: Shared,
    Path(name): Path<String>,
    Body(request): Body<QueryGroupsRequest>,
) -> ApiResult<Response> {
    let started = Instant::now();
    let collection = state.registry.get(&name)?;
    let (query, group_by, group_size, groups) = request.split()?;
    let (search, exclude) = query_plan(&collection, query)?;
    let out =
        blocking(move || collection.search_groups(&search, &group_by, group_size, groups, exclude)).await?;
    let groups: Vec<Group> = out
        .into_iter()
        .map(|(id, hits)| Group {
            id,
            hits: hits.into_iter().map(|h| record(h, true)).collect(),
        })
        .collect();
    Ok(reply(started, serde_json::json!({ "groups": groups })))
}
