//! Qdrant's filter language — `must` / `should` / `must_not` over field conditions (`match`
//! value / any / except / text, `range`, `values_count`, `is_empty`, `is_null`), `has_id`, and
//! nested filters — parsed from JSON with messages that name the offending part, and evaluated
//! to the set of keys that pass. Exact matches on top-level fields come from the payload index;
//! other conditions test each point's payload. The search then walks the graph restricted to
//! that set (or scans it when it is small), so a filter is applied inside the traversal, never
//! after it.

use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::point_id::PointId;
use crate::points::{leaf_values, KeySet, Payload, Points, Scalar};

/// A parsed filter.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    must: Vec<Condition>,
    should: Vec<Condition>,
    must_not: Vec<Condition>,
    /// `min_should`: at least this many of its conditions.
    min_should: Option<(Vec<Condition>, usize)>,
}

#[derive(Clone, Debug, PartialEq)]
enum Condition {
    Field {
        path: Vec<Segment>,
        key: String,
        check: Check,
    },
    HasId(Vec<PointId>),
    Nested(Filter),
}

/// One step of a payload path: `a`, or `a[]` (every element of the array under `a`).
#[derive(Clone, Debug, PartialEq)]
struct Segment {
    name: String,
    each: bool,
}

#[derive(Clone, Debug, PartialEq)]
enum Check {
    Value(Scalar),
    Any(Vec<Scalar>),
    Except(Vec<Scalar>),
    Text(String),
    Range(Range),
    ValuesCount(Range),
    IsEmpty,
    IsNull,
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Range {
    gt: Option<f64>,
    gte: Option<f64>,
    lt: Option<f64>,
    lte: Option<f64>,
}

impl Range {
    fn holds(&self, x: f64) -> bool {
        self.gt.is_none_or(|b| x > b)
            && self.gte.is_none_or(|b| x >= b)
            && self.lt.is_none_or(|b| x < b)
            && self.lte.is_none_or(|b| x <= b)
    }
}

fn bad(message: String) -> ApiError {
    ApiError::bad_request(format!("filter: {message}"))
}

fn object<'a>(value: &'a Value, what: &str) -> ApiResult<&'a serde_json::Map<String, Value>> {
    value
        .as_object()
        .ok_or_else(|| bad(format!("{what} must be an object, found {value}")))
}

fn check_fields(map: &serde_json::Map<String, Value>, allowed: &[&str], what: &str) -> ApiResult<()> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(bad(format!(
            "unknown field `{k}` in {what} (expected one of {allowed:?})"
        ))),
        None => Ok(()),
    }
}

impl Filter {
    /// Parses a JSON filter (`null` is no filter).
    pub fn parse(value: &Value) -> ApiResult<Option<Filter>> {
        if value.is_null() {
            return Ok(None);
        }
        Self::parse_object(value).map(Some)
    }

    fn parse_object(value: &Value) -> ApiResult<Filter> {
        let map = object(value, "a filter")?;
        check_fields(map, &["must", "should", "must_not", "min_should"], "a filter")?;
        let list = |name: &str| -> ApiResult<Vec<Condition>> {
            match map.get(name) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => items.iter().map(Condition::parse).collect(),
                Some(one) => Ok(vec![Condition::parse(one)?]),
            }
        };
        let min_should = match map.get("min_should") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let m = object(v, "min_should")?;
                check_fields(m, &["conditions", "min_count"], "min_should")?;
                let conditions = match m.get("conditions") {
                    Some(Value::Array(items)) => {
                        items.iter().map(Condition::parse).collect::<ApiResult<_>>()?
                    }
                    _ => return Err(bad("min_should.conditions must be a list".into())),
                };
                let count = m
                    .get("min_count")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| bad("min_should.min_count must be an unsigned integer".into()))?;
                Some((conditions, count as usize))
            }
        };
        Ok(Filter {
            must: list("must")?,
            should: list("should")?,
            must_not: list("must_not")?,
            min_should,
        })
    }

    /// The keys of `points` that pass.
    pub fn evaluate(&self, points: &Points) -> KeySet {
        let mut out = points.all();
        for c in &self.must {
            out.intersect(&c.evaluate(points));
        }
        if !self.should.is_empty() {
            let mut any = KeySet::empty(points.key_capacity());
            for c in &self.should {
                any.unite(&c.evaluate(points));
            }
            out.intersect(&any);
        }
        for c in &self.must_not {
            out.subtract(&c.evaluate(points));
        }
        if let Some((conditions, min)) = &self.min_should {
            let sets: Vec<KeySet> = conditions.iter().map(|c| c.evaluate(points)).collect();
            let mut enough = KeySet::empty(points.key_capacity());
            for key in out.iter() {
                if sets.iter().filter(|s| s.contains(key)).count() >= *min {
                    enough.insert(key);
                }
            }
            out = enough;
        }
        out
    }
}

fn scalars(value: &Value, what: &str) -> ApiResult<Vec<Scalar>> {
    let items = value
        .as_array()
        .ok_or_else(|| bad(format!("match.{what} must be a list")))?;
    items
        .iter()
        .map(|v| {
            Scalar::of(v).ok_or_else(|| bad(format!("match.{what}: {v} is not a keyword, integer or bool")))
        })
        .collect()
}

fn parse_range(value: &Value, what: &str) -> ApiResult<Range> {
    let map = object(value, what)?;
    check_fields(map, &["gt", "gte", "lt", "lte"], what)?;
    let bound = |name: &str| -> ApiResult<Option<f64>> {
        match map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(Value::String(_)) => Err(ApiError::unsupported("a datetime range")),
            Some(other) => Err(bad(format!("{what}.{name} must be a number, found {other}"))),
        }
    };
    Ok(Range {
        gt: bound("gt")?,
        gte: bound("gte")?,
        lt: bound("lt")?,
        lte: bound("lte")?,
    })
}

fn parse_match(value: &Value) -> ApiResult<Check> {
    let map = object(value, "match")?;
    if map.len() != 1 {
        return Err(bad("match needs exactly one of value, any, except, text".into()));
    }
    let (kind, arg) = map.iter().next().expect("one entry");
    match kind.as_str() {
        "value" => Scalar::of(arg)
            .map(Check::Value)
            .ok_or_else(|| bad(format!("match.value: {arg} is not a keyword, integer or bool"))),
        "any" => scalars(arg, "any").map(Check::Any),
        "except" => scalars(arg, "except").map(Check::Except),
        "text" => arg
            .as_str()
            .map(|s| Check::Text(s.to_owned()))
            .ok_or_else(|| bad("match.text must be a string".into())),
        "phrase" | "text_any" => Err(ApiError::unsupported(&format!("match.{kind}"))),
        other => Err(bad(format!("unknown match `{other}`"))),
    }
}

fn parse_path(key: &str) -> ApiResult<Vec<Segment>> {
    key.split('.')
        .map(|part| {
            let (name, each) = match part.strip_suffix("[]") {
                Some(name) => (name, true),
                None => (part, false),
            };
            if name.is_empty() || name.contains(['[', ']']) {
                return Err(bad(format!("invalid payload key {key:?}")));
            }
            Ok(Segment {
                name: name.to_owned(),
                each,
            })
        })
        .collect()
}

impl Condition {
    fn parse(value: &Value) -> ApiResult<Condition> {
        let map = object(value, "a condition")?;
        if map.contains_key("must")
            || map.contains_key("should")
            || map.contains_key("must_not")
            || map.contains_key("min_should")
        {
            return Filter::parse_object(value).map(Condition::Nested);
        }
        if let Some(ids) = map.get("has_id") {
            check_fields(map, &["has_id"], "has_id")?;
            let ids: Vec<PointId> =
                serde_json::from_value(ids.clone()).map_err(|e| bad(format!("has_id: {e}")))?;
            return Ok(Condition::HasId(ids));
        }
        for (name, check) in [("is_empty", Check::IsEmpty), ("is_null", Check::IsNull)] {
            if let Some(inner) = map.get(name).filter(|v| v.is_object()) {
                check_fields(map, &[name], name)?;
                let inner = object(inner, name)?;
                check_fields(inner, &["key"], name)?;
                let key = inner
                    .get("key")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad(format!("{name}.key must be a string")))?;
                return Ok(Condition::Field {
                    path: parse_path(key)?,
                    key: key.to_owned(),
                    check,
                });
            }
        }
        for unsupported in ["nested", "has_vector"] {
            if map.contains_key(unsupported) {
                return Err(ApiError::unsupported(&format!("the `{unsupported}` condition")));
            }
        }
        let key = map.get("key").and_then(Value::as_str).ok_or_else(|| {
            bad(format!(
                "a condition needs `key`, `has_id`, `is_empty`, `is_null` or a nested filter; found {value}"
            ))
        })?;
        check_fields(
            map,
            &[
                "key",
                "match",
                "range",
                "values_count",
                "is_empty",
                "is_null",
                "geo_bounding_box",
                "geo_radius",
                "geo_polygon",
            ],
            "a field condition",
        )?;
        let mut checks = Vec::new();
        for (name, arg) in map.iter().filter(|(k, v)| k.as_str() != "key" && !v.is_null()) {
            checks.push(match name.as_str() {
                "match" => parse_match(arg)?,
                "range" => Check::Range(parse_range(arg, "range")?),
                "values_count" => Check::ValuesCount(parse_range(arg, "values_count")?),
                "is_empty" | "is_null" => match arg.as_bool() {
                    Some(true) if name == "is_empty" => Check::IsEmpty,
                    Some(true) => Check::IsNull,
                    _ => {
                        return Err(ApiError::unsupported(&format!(
                            "{name}: false in a field condition"
                        )))
                    }
                },
                geo => return Err(ApiError::unsupported(&format!("the `{geo}` condition"))),
            });
        }
        if checks.len() != 1 {
            return Err(bad(format!(
                "the condition on {key:?} needs exactly one check, found {}",
                checks.len()
            )));
        }
        Ok(Condition::Field {
            path: parse_path(key)?,
            key: key.to_owned(),
            check: checks.pop().expect("one check"),
        })
    }

    fn evaluate(&self, points: &Points) -> KeySet {
        let mut out = KeySet::empty(points.key_capacity());
        match self {
            Condition::Nested(filter) => return filter.evaluate(points),
            Condition::HasId(ids) => {
                ids.iter()
                    .filter_map(|&id| points.key_of(id))
                    .for_each(|k| out.insert(k));
            }
            Condition::Field { path, key, check } => match (check, path.as_slice()) {
                (Check::Value(v), [Segment { each: false, .. }]) => {
                    points.indexed(key, v).for_each(|k| out.insert(k))
                }
                (Check::Any(vs), [Segment { each: false, .. }]) => vs
                    .iter()
                    .for_each(|v| points.indexed(key, v).for_each(|k| out.insert(k))),
                _ => {
                    for (k, entry) in points.entries() {
                        if check.holds(&values_at(&entry.payload, path)) {
                            out.insert(k);
                        }
                    }
                }
            },
        }
        out
    }
}

impl Check {
    /// Whether the condition holds for the values found under its key (none: key absent).
    fn holds(&self, values: &[&Value]) -> bool {
        let non_null = || values.iter().filter(|v| !v.is_null());
        match self {
            Check::Value(s) => values.iter().any(|v| s.matches(v)),
            Check::Any(ss) => values.iter().any(|v| ss.iter().any(|s| s.matches(v))),
            // A point without the key also has no value in the list (Qdrant's reading).
            Check::Except(ss) => values.is_empty() || values.iter().any(|v| !ss.iter().any(|s| s.matches(v))),
            Check::Text(t) => values
                .iter()
                .any(|v| v.as_str().is_some_and(|s| s.contains(t.as_str()))),
            Check::Range(r) => values.iter().any(|v| v.as_f64().is_some_and(|x| r.holds(x))),
            Check::ValuesCount(r) => r.holds(non_null().count() as f64),
            Check::IsEmpty => non_null().next().is_none(),
            Check::IsNull => values.iter().any(|v| v.is_null()),
        }
    }
}

/// The values under the payload key `key` (a path as in conditions: `a.b`, `a[].b`), arrays
/// flattened; none for an invalid key.
pub fn values_of<'a>(payload: &'a Payload, key: &str) -> Vec<&'a Value> {
    parse_path(key)
        .map(|path| values_at(payload, &path))
        .unwrap_or_default()
}

/// The values under `path` in `payload`, arrays at the end (and at `[]` steps) flattened.
fn values_at<'a>(payload: &'a Payload, path: &[Segment]) -> Vec<&'a Value> {
    let mut current: Vec<&Value> = Vec::new();
    let Some((first, rest)) = path.split_first() else {
        return current;
    };
    let Some(root) = payload.get(&first.name) else {
        return current;
    };
    current.push(root);
    let mut each = first.each;
    for seg in rest {
        current = current
            .into_iter()
            .flat_map(|v| if each { leaf_values(v) } else { vec![v] })
            .filter_map(|v| v.get(&seg.name))
            .collect();
        each = seg.each;
    }
    current.into_iter().flat_map(leaf_values).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Points 0..n with payloads that exercise every kind of condition.
    fn sample() -> (Points, Vec<Payload>) {
        let mut points = Points::new();
        let mut payloads = Vec::new();
        for i in 0..60u64 {
            let color = ["red", "green", "blue"][i as usize % 3];
            let mut p = json!({
                "color": color,
                "n": i,
                "price": i as f64 * 0.5,
                "tags": (0..i % 4).map(|t| format!("t{t}")).collect::<Vec<_>>(),
                "shop": {"city": if i % 2 == 0 { "Oslo" } else { "Rome" }, "items": [{"qty": i % 5}]},
                "flag": i % 7 == 0,
            });
            if i % 10 == 0 {
                p["maybe"] = Value::Null;
            }
            let p = p.as_object().unwrap().clone();
            points.put(i, PointId::Num(i + 1000), p.clone());
            payloads.push(p);
        }
        (points, payloads)
    }

    /// Evaluates through the index/scan path and checks it against a closure written
    /// independently over the raw JSON.
    fn agrees(filter: Value, reference: impl Fn(u64, &Payload) -> bool) {
        let (points, payloads) = sample();
        let parsed = Filter::parse(&filter).unwrap().unwrap();
        let got: Vec<u64> = parsed.evaluate(&points).iter().collect();
        let want: Vec<u64> = (0..payloads.len() as u64)
            .filter(|&k| reference(k, &payloads[k as usize]))
            .collect();
        assert!(
            !want.is_empty() && want.len() < payloads.len(),
            "{filter}: a vacuous case"
        );
        assert_eq!(got, want, "{filter}");
    }

    #[test]
    fn conditions_agree_with_a_direct_reading_of_the_payloads() {
        agrees(
            json!({"must": [{"key": "color", "match": {"value": "red"}}]}),
            |_, p| p["color"] == "red",
        );
        agrees(
            json!({"must": {"key": "n", "match": {"any": [3, 4, 50]}}}),
            |k, _| [3, 4, 50].contains(&k),
        );
        agrees(
            json!({"must": [{"key": "color", "match": {"except": ["red", "blue"]}}]}),
            |_, p| p["color"] == "green",
        );
        agrees(
            json!({"must": [{"key": "price", "range": {"gte": 3.0, "lt": 10.0}}]}),
            |_, p| {
                let x = p["price"].as_f64().unwrap();
                (3.0..10.0).contains(&x)
            },
        );
        agrees(
            json!({"must": [{"key": "tags", "match": {"value": "t2"}}]}),
            |k, _| k % 4 == 3,
        );
        agrees(json!({"must": [{"is_empty": {"key": "tags"}}]}), |k, _| {
            k % 4 == 0
        });
        agrees(json!({"must": [{"is_null": {"key": "maybe"}}]}), |k, _| {
            k % 10 == 0
        });
        agrees(
            json!({"must": [{"key": "tags", "values_count": {"gte": 2}}]}),
            |k, _| k % 4 >= 2,
        );
        agrees(
            json!({"must": [{"key": "shop.city", "match": {"value": "Oslo"}}]}),
            |k, _| k % 2 == 0,
        );
        agrees(
            json!({"must": [{"key": "shop.items[].qty", "range": {"gt": 2}}]}),
            |k, _| k % 5 > 2,
        );
        agrees(
            json!({"must": [{"key": "shop.city", "match": {"text": "om"}}]}),
            |k, _| k % 2 == 1,
        );
        agrees(json!({"must": [{"has_id": [1000, 1005, 99]}]}), |k, _| {
            k == 0 || k == 5
        });
        agrees(
            json!({"must": [{"key": "flag", "match": {"value": true}}]}),
            |k, _| k % 7 == 0,
        );
        agrees(
            json!({"should": [{"key": "color", "match": {"value": "red"}}, {"key": "n", "range": {"lt": 5}}],
                   "must_not": [{"key": "flag", "match": {"value": true}}]}),
            |k, p| (p["color"] == "red" || k < 5) && k % 7 != 0,
        );
        agrees(
            json!({"must": [{"should": [{"key": "color", "match": {"value": "blue"}}, {"must_not": [{"key": "n", "range": {"gte": 10}}]}]}]}),
            |k, p| p["color"] == "blue" || k < 10,
        );
        agrees(
            json!({"min_should": {"conditions": [{"key": "color", "match": {"value": "red"}}, {"key": "flag", "match": {"value": true}}, {"key": "n", "range": {"lt": 20}}], "min_count": 2}}),
            |k, p| {
                [p["color"] == "red", k % 7 == 0, k < 20]
                    .iter()
                    .filter(|&&b| b)
                    .count()
                    >= 2
            },
        );
    }

    #[test]
    fn bad_filters_are_rejected_with_the_part_named() {
        for (filter, needle) in [
            (
                json!({"must": [{"key": "a", "match": {"value": 1.5}}]}),
                "match.value",
            ),
            (json!({"must": [{"key": "a", "mtch": {"value": 1}}]}), "mtch"),
            (json!({"mus": []}), "mus"),
            (json!({"must": [{"key": "a", "range": {"gt": "x"}}]}), "datetime"),
            (json!({"must": [{"key": "a", "geo_radius": {}}]}), "geo_radius"),
            (json!({"must": [{"key": "a"}]}), "exactly one"),
            (json!({"must": [{"has_id": ["nope"]}]}), "has_id"),
            (json!([1]), "object"),
        ] {
            let err = Filter::parse(&filter).unwrap_err();
            assert_eq!(err.status, axum::http::StatusCode::BAD_REQUEST);
            assert!(err.message.contains(needle), "{filter}: {}", err.message);
        }
        assert_eq!(Filter::parse(&Value::Null).unwrap(), None);
    }
}
