//! Request bodies of Qdrant's REST API (the fields `qdrant-client` sends), parsed strictly: an
//! unknown field is a 400, not silently ignored. Fields of Qdrant's API that only matter on a
//! cluster (`shard_key`, `consistency`, …) are accepted and have no effect on one node.

use serde::Deserialize;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::point_id::PointId;
use crate::points::Payload;

/// `PUT /collections/{name}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCollection {
    pub vectors: Option<Value>,
    pub hnsw_config: Option<HnswConfigDiff>,
    pub quantization_config: Option<Value>,
    pub shard_number: Option<u32>,
    pub sharding_method: Option<Value>,
    pub replication_factor: Option<u32>,
    pub write_consistency_factor: Option<u32>,
    pub on_disk_payload: Option<bool>,
    pub wal_config: Option<Value>,
    pub optimizers_config: Option<Value>,
    pub strict_mode_config: Option<Value>,
    pub metadata: Option<Value>,
    pub init_from: Option<Value>,
    pub sparse_vectors: Option<Value>,
}

/// `PATCH /collections/{name}` (only what changes nothing structural is honoured).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateCollection {
    pub vectors: Option<Value>,
    pub hnsw_config: Option<HnswConfigDiff>,
    pub optimizers_config: Option<Value>,
    pub params: Option<Value>,
    pub quantization_config: Option<Value>,
    pub sparse_vectors: Option<Value>,
    pub strict_mode_config: Option<Value>,
    pub metadata: Option<Value>,
}

/// `hnsw_config` of a collection.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HnswConfigDiff {
    pub m: Option<usize>,
    pub ef_construct: Option<usize>,
    pub full_scan_threshold: Option<usize>,
    pub max_indexing_threads: Option<usize>,
    pub on_disk: Option<bool>,
    pub payload_m: Option<usize>,
    pub inline_storage: Option<bool>,
}

/// `VectorParams`: the one (unnamed) vector of a collection.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorParams {
    pub size: usize,
    pub distance: String,
    pub hnsw_config: Option<HnswConfigDiff>,
    pub quantization_config: Option<Value>,
    pub on_disk: Option<bool>,
    pub datatype: Option<String>,
    pub multivector_config: Option<Value>,
}

impl VectorParams {
    /// The `vectors` of a create request: one `VectorParams`, or a map holding only the
    /// unnamed vector `""` (named vectors are not supported).
    pub fn from_config(value: &Value) -> ApiResult<VectorParams> {
        let single = match value {
            Value::Object(map) if map.contains_key("size") => value.clone(),
            Value::Object(map) if map.len() == 1 && map.contains_key("") => map[""].clone(),
            Value::Object(_) => return Err(ApiError::unsupported("named vectors")),
            _ => {
                return Err(ApiError::bad_request(
                    "`vectors` must be an object with `size` and `distance`",
                ))
            }
        };
        let params: VectorParams =
            serde_json::from_value(single).map_err(|e| ApiError::bad_request(format!("vectors: {e}")))?;
        if params.multivector_config.is_some() {
            return Err(ApiError::unsupported("multivectors"));
        }
        if params.datatype.as_deref().is_some_and(|d| d != "float32") {
            return Err(ApiError::unsupported("a vector datatype other than float32"));
        }
        Ok(params)
    }
}

/// A vector, a point id, or a query around one, as Qdrant's requests carry them, parsed
/// straight from the JSON (no intermediate `Value`: a 384-d query is most of a request's bytes).
#[derive(Clone, Debug, PartialEq)]
pub enum VectorInput {
    /// `[x, …]`, `{"": [x, …]}` or `{"name": "", "vector": [x, …]}`.
    Dense(Vec<f32>),
    /// `42` or `"uuid"`: the vector stored for that point.
    Point(PointId),
    /// `{"nearest": …}`.
    Nearest(Box<VectorInput>),
    /// A form geodex does not serve: the key that names it (a vector name, `indices` of a
    /// sparse vector, a query kind such as `recommend`).
    Unsupported(String),
}

impl VectorInput {
    /// The dense vector, or a 400 naming `what` was given instead.
    pub fn into_dense(self, what: &str) -> ApiResult<Vec<f32>> {
        match self {
            VectorInput::Dense(v) => Ok(v),
            VectorInput::Point(id) => Err(ApiError::bad_request(format!(
                "{what}: expected a vector, found point id {id}"
            ))),
            VectorInput::Nearest(_) => Err(ApiError::bad_request(format!(
                "{what}: expected a vector, found a query"
            ))),
            VectorInput::Unsupported(key) => Err(unsupported_form(&key)),
        }
    }
}

/// The 400 for a [`VectorInput::Unsupported`] key.
pub fn unsupported_form(key: &str) -> ApiError {
    match key {
        "indices" | "values" => ApiError::unsupported("sparse vectors"),
        "mmr" => ApiError::unsupported("`nearest` with `mmr`"),
        "recommend" | "discover" | "context" | "order_by" | "fusion" | "rrf" | "formula" | "sample" => {
            ApiError::unsupported(&format!("the `{key}` query"))
        }
        other => ApiError::unsupported(&format!("named vectors (`{other}`)")),
    }
}

impl<'de> serde::Deserialize<'de> for VectorInput {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = VectorInput;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a vector (a list of numbers), a point id, or a query object")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<VectorInput, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(x) = seq.next_element::<f64>()? {
                    let y = x as f32;
                    if !y.is_finite() {
                        return Err(de::Error::custom(format!("{x} is not a finite 32-bit float")));
                    }
                    out.push(y);
                }
                Ok(VectorInput::Dense(out))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<VectorInput, E> {
                Ok(VectorInput::Point(PointId::Num(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<VectorInput, E> {
                u64::try_from(v)
                    .map(|v| VectorInput::Point(PointId::Num(v)))
                    .map_err(|_| E::custom(format!("point id {v} is negative")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<VectorInput, E> {
                uuid::Uuid::parse_str(v)
                    .map(|u| VectorInput::Point(PointId::Uuid(u)))
                    .map_err(|_| E::custom(format!("point id {v:?} is not a UUID")))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<VectorInput, A::Error> {
                let (mut found, mut name, mut vector): (
                    Option<VectorInput>,
                    Option<String>,
                    Option<Vec<f32>>,
                ) = (None, None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "nearest" => found = Some(VectorInput::Nearest(Box::new(map.next_value()?))),
                        "" => found = Some(map.next_value()?),
                        "name" => name = Some(map.next_value()?),
                        "vector" => {
                            vector = Some(
                                map.next_value::<VectorInput>()?
                                    .into_dense("vector")
                                    .map_err(de::Error::custom)?,
                            )
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            found.get_or_insert(VectorInput::Unsupported(key));
                        }
                    }
                }
                match (found, name, vector) {
                    (Some(f), None, None) => Ok(f),
                    (None, name, Some(v)) => match name.as_deref() {
                        None | Some("") => Ok(VectorInput::Dense(v)),
                        Some(other) => Ok(VectorInput::Unsupported(other.to_owned())),
                    },
                    _ => Err(de::Error::custom(
                        "expected a vector, `{\"nearest\": …}` or `{\"name\", \"vector\"}`",
                    )),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// One point of an upsert.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointStruct {
    pub id: PointId,
    pub vector: VectorInput,
    pub payload: Option<Payload>,
}

/// The column form of an upsert.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    pub ids: Vec<PointId>,
    pub vectors: Vec<VectorInput>,
    pub payloads: Option<Vec<Option<Payload>>>,
}

/// `PUT /collections/{name}/points`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpsertPoints {
    pub points: Option<Vec<PointStruct>>,
    pub batch: Option<Batch>,
    pub shard_key: Option<Value>,
    pub update_filter: Option<Value>,
}

/// One point of `update_vectors`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointVectors {
    pub id: PointId,
    pub vector: VectorInput,
}

/// `PUT /collections/{name}/points/vectors`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateVectors {
    pub points: Vec<PointVectors>,
    pub shard_key: Option<Value>,
    pub update_filter: Option<Value>,
}

/// `POST /collections/{name}/points/batch`: operations applied in order.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBatch {
    pub operations: Vec<Value>,
}

/// `POST /collections/{name}/facet`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FacetRequest {
    pub key: String,
    pub limit: Option<usize>,
    pub filter: Option<Value>,
    pub exact: Option<bool>,
    pub shard_key: Option<Value>,
}

/// `POST /collections/aliases`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AliasActions {
    pub actions: Vec<Value>,
}

/// `params` of a search.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    pub hnsw_ef: Option<usize>,
    #[serde(default)]
    pub exact: bool,
    pub quantization: Option<Value>,
    pub indexed_only: Option<bool>,
    pub acorn: Option<Value>,
}

/// `POST /collections/{name}/points/search`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    pub vector: VectorInput,
    pub filter: Option<Value>,
    pub params: Option<SearchParams>,
    pub limit: usize,
    pub offset: Option<usize>,
    pub with_payload: Option<Value>,
    pub with_vector: Option<Value>,
    pub score_threshold: Option<f32>,
    pub shard_key: Option<Value>,
}

/// `POST /collections/{name}/points/search/batch`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchBatch {
    pub searches: Vec<SearchRequest>,
}

/// `POST /collections/{name}/points/query`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    pub query: Option<VectorInput>,
    pub prefetch: Option<Value>,
    pub using: Option<String>,
    pub filter: Option<Value>,
    pub params: Option<SearchParams>,
    pub score_threshold: Option<f32>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
    pub with_vector: Option<Value>,
    pub with_payload: Option<Value>,
    pub lookup_from: Option<Value>,
    pub shard_key: Option<Value>,
}

/// `POST /collections/{name}/points/query/groups`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryGroupsRequest {
    pub query: Option<VectorInput>,
    pub prefetch: Option<Value>,
    pub using: Option<String>,
    pub filter: Option<Value>,
    pub params: Option<SearchParams>,
    pub score_threshold: Option<f32>,
    pub with_vector: Option<Value>,
    pub with_payload: Option<Value>,
    pub lookup_from: Option<Value>,
    pub shard_key: Option<Value>,
    pub group_by: String,
    pub group_size: Option<usize>,
    pub limit: Option<usize>,
    pub with_lookup: Option<Value>,
}

impl QueryGroupsRequest {
    /// The query part (for the planner shared with `query`), and group_by, group_size
    /// (default 3, as Qdrant) and the number of groups (default 10).
    pub fn split(self) -> ApiResult<(QueryRequest, String, usize, usize)> {
        if self.with_lookup.is_some() {
            return Err(ApiError::unsupported("with_lookup"));
        }
        let (group_size, groups) = (self.group_size.unwrap_or(3), self.limit.unwrap_or(10));
        if group_size == 0 || groups == 0 {
            return Err(ApiError::bad_request("group_size and limit must be ≥ 1"));
        }
        let query = QueryRequest {
            query: self.query,
            prefetch: self.prefetch,
            using: self.using,
            filter: self.filter,
            params: self.params,
            score_threshold: self.score_threshold,
            limit: Some(groups),
            offset: None,
            with_vector: self.with_vector,
            with_payload: self.with_payload,
            lookup_from: self.lookup_from,
            shard_key: self.shard_key,
        };
        Ok((query, self.group_by, group_size, groups))
    }
}

/// `POST /collections/{name}/points/query/batch`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryBatch {
    pub searches: Vec<QueryRequest>,
}

/// `POST /collections/{name}/points` (retrieve).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrieveRequest {
    pub ids: Vec<PointId>,
    pub with_payload: Option<Value>,
    pub with_vector: Option<Value>,
    pub shard_key: Option<Value>,
}

/// `POST /collections/{name}/points/scroll`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrollRequest {
    pub offset: Option<PointId>,
    pub limit: Option<usize>,
    pub filter: Option<Value>,
    pub with_payload: Option<Value>,
    pub with_vector: Option<Value>,
    pub order_by: Option<Value>,
    pub shard_key: Option<Value>,
}

/// `POST /collections/{name}/points/count`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountRequest {
    pub filter: Option<Value>,
    pub exact: Option<bool>,
    pub shard_key: Option<Value>,
}

/// Which points an operation touches: listed ids or a filter.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointsSelector {
    pub points: Option<Vec<PointId>>,
    pub filter: Option<Value>,
    pub shard_key: Option<Value>,
}

/// `POST` / `PUT /collections/{name}/points/payload`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetPayload {
    pub payload: Payload,
    pub points: Option<Vec<PointId>>,
    pub filter: Option<Value>,
    pub key: Option<String>,
    pub shard_key: Option<Value>,
}

/// `POST /collections/{name}/points/payload/delete`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeletePayload {
    pub keys: Vec<String>,
    pub points: Option<Vec<PointId>>,
    pub filter: Option<Value>,
    pub shard_key: Option<Value>,
}

/// `PUT /collections/{name}/index`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateFieldIndex {
    pub field_name: String,
    pub field_schema: Option<Value>,
}

/// `PUT /collections/{name}/snapshots/recover`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotRecover {
    pub location: String,
    pub priority: Option<String>,
    pub checksum: Option<String>,
    pub api_key: Option<String>,
}

/// Which payload keys a response carries (`with_payload`).
#[derive(Clone, Debug, PartialEq)]
pub enum PayloadSelector {
    /// None.
    Nothing,
    /// All of it.
    All,
    /// Only these top-level keys.
    Include(Vec<String>),
    /// All but these top-level keys.
    Exclude(Vec<String>),
}

impl PayloadSelector {
    /// Parses `with_payload` (absent: `default`).
    pub fn parse(value: Option<&Value>, default: bool) -> ApiResult<PayloadSelector> {
        let keys = |v: &Value| -> ApiResult<Vec<String>> {
            serde_json::from_value(v.clone()).map_err(|e| ApiError::bad_request(format!("with_payload: {e}")))
        };
        Ok(match value {
            None | Some(Value::Null) => {
                if default {
                    PayloadSelector::All
                } else {
                    PayloadSelector::Nothing
                }
            }
            Some(Value::Bool(true)) => PayloadSelector::All,
            Some(Value::Bool(false)) => PayloadSelector::Nothing,
            Some(list @ Value::Array(_)) => PayloadSelector::Include(keys(list)?),
            Some(Value::Object(map)) if map.len() == 1 && map.contains_key("include") => {
                PayloadSelector::Include(keys(&map["include"])?)
            }
            Some(Value::Object(map)) if map.len() == 1 && map.contains_key("exclude") => {
                PayloadSelector::Exclude(keys(&map["exclude"])?)
            }
            Some(other) => return Err(ApiError::bad_request(format!("with_payload: unexpected {other}"))),
        })
    }

    /// The selected part of `payload` (`None` for [`PayloadSelector::Nothing`]).
    pub fn apply(&self, payload: &Payload) -> Option<Payload> {
        match self {
            PayloadSelector::Nothing => None,
            PayloadSelector::All => Some(payload.clone()),
            PayloadSelector::Include(keys) => Some(
                payload
                    .iter()
                    .filter(|(k, _)| keys.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            PayloadSelector::Exclude(keys) => Some(
                payload
                    .iter()
                    .filter(|(k, _)| !keys.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
        }
    }
}

/// Parses `with_vector`: a bool, or a list of vector names (only the unnamed `""` exists).
pub fn with_vector(value: Option<&Value>) -> ApiResult<bool> {
    match value {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::Array(names)) => Ok(names.iter().any(|n| n.as_str() == Some(""))),
        Some(other) => Err(ApiError::bad_request(format!("with_vector: unexpected {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<VectorInput, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn every_form_of_a_vector_or_query_parses_to_what_it_means() {
        let dense = VectorInput::Dense(vec![1.0, -2.5]);
        for json in [
            "[1, -2.5]",
            r#"{"": [1, -2.5]}"#,
            r#"{"name": "", "vector": [1, -2.5]}"#,
            r#"{"vector": [1.0, -2.5]}"#,
        ] {
            assert_eq!(parse(json).unwrap(), dense, "{json}");
        }
        assert_eq!(
            parse(r#"{"nearest": [1, -2.5]}"#).unwrap(),
            VectorInput::Nearest(Box::new(dense))
        );
        assert_eq!(parse("7").unwrap(), VectorInput::Point(PointId::Num(7)));
        assert_eq!(
            parse(r#"{"nearest": "550e8400-e29b-41d4-a716-446655440000"}"#).unwrap(),
            VectorInput::Nearest(Box::new(VectorInput::Point(PointId::Uuid(
                uuid::Uuid::from_u128(0x550e8400e29b41d4a716446655440000)
            ))))
        );
        assert_eq!(
            parse(r#"{"recommend": {"positive": [1]}}"#).unwrap(),
            VectorInput::Unsupported("recommend".into())
        );
        assert_eq!(
            parse(r#"{"indices": [1], "values": [0.5]}"#).unwrap(),
            VectorInput::Unsupported("indices".into())
        );
        assert_eq!(
            parse(r#"{"name": "image", "vector": [1]}"#).unwrap(),
            VectorInput::Unsupported("image".into())
        );
        for bad in ["[1, \"a\"]", "[1e39]", "-1", "\"x\"", "{}", "true"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(unsupported_form("indices").message.contains("sparse"));
    }
}
