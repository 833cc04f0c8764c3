//! A collection's points in memory: point id ↔ internal key, each point's payload, and the
//! payload indexes the filters use (top-level keyword, integer and boolean values → the keys
//! holding them). Rebuilt from the database when a collection opens; changed only by the
//! collection's writer, after the database committed the change.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value};

use crate::point_id::PointId;

/// A point's payload: a JSON object.
pub type Payload = Map<String, Value>;

/// A value a payload index and an exact `match` compare: keyword, integer or boolean
/// (Qdrant's `match` takes no floats).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scalar {
    /// A string.
    Keyword(String),
    /// An integer (a JSON number with an exact `i64` value).
    Integer(i64),
    /// A boolean.
    Bool(bool),
}

impl Scalar {
    /// The scalar a JSON value is, if it is one.
    pub fn of(value: &Value) -> Option<Scalar> {
        match value {
            Value::String(s) => Some(Scalar::Keyword(s.clone())),
            Value::Bool(b) => Some(Scalar::Bool(*b)),
            Value::Number(n) => n.as_i64().map(Scalar::Integer),
            _ => None,
        }
    }

    /// The scalar as JSON.
    pub fn to_json(&self) -> Value {
        match self {
            Scalar::Keyword(s) => Value::String(s.clone()),
            Scalar::Integer(i) => Value::from(*i),
            Scalar::Bool(b) => Value::Bool(*b),
        }
    }

    /// Whether `value` equals this scalar.
    pub fn matches(&self, value: &Value) -> bool {
        match (self, value) {
            (Scalar::Keyword(s), Value::String(v)) => s == v,
            (Scalar::Bool(b), Value::Bool(v)) => b == v,
            (Scalar::Integer(i), Value::Number(n)) => n.as_i64() == Some(*i),
            _ => false,
        }
    }
}

/// A set of internal keys as a bitset over `0..capacity` (keys are handed out densely).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeySet {
    words: Vec<u64>,
}

impl KeySet {
    /// The empty set over keys `0..capacity`.
    pub fn empty(capacity: u64) -> Self {
        KeySet {
            words: vec![0; capacity.div_ceil(64) as usize],
        }
    }

    /// Adds `key` (which must be below the capacity).
    pub fn insert(&mut self, key: u64) {
        self.words[(key / 64) as usize] |= 1 << (key % 64);
    }

    /// Whether `key` is in the set.
    pub fn contains(&self, key: u64) -> bool {
        self.words
            .get((key / 64) as usize)
            .is_some_and(|w| w >> (key % 64) & 1 == 1)
    }

    /// Keeps the keys also in `other`.
    pub fn intersect(&mut self, other: &KeySet) {
        self.words.iter_mut().zip(&other.words).for_each(|(a, b)| *a &= b);
    }

    /// Adds the keys of `other`.
    pub fn unite(&mut self, other: &KeySet) {
        self.words.iter_mut().zip(&other.words).for_each(|(a, b)| *a |= b);
    }

    /// Removes the keys of `other`.
    pub fn subtract(&mut self, other: &KeySet) {
        self.words
            .iter_mut()
            .zip(&other.words)
            .for_each(|(a, b)| *a &= !b);
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// The keys, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.words.iter().enumerate().flat_map(|(w, &word)| {
            let mut bits = word;
            std::iter::from_fn(move || {
                (bits != 0).then(|| {
                    let b = bits.trailing_zeros() as u64;
                    bits &= bits - 1;
                    w as u64 * 64 + b
                })
            })
        })
    }
}

/// One stored point.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The client's id.
    pub id: PointId,
    /// Its payload.
    pub payload: Payload,
}

/// The points of one collection.
#[derive(Debug, Default)]
pub struct Points {
    by_id: BTreeMap<PointId, u64>,
    /// Indexed by internal key; `None` for keys deleted or never used.
    entries: Vec<Option<Entry>>,
    /// Top-level payload key → scalar value → the keys holding it (in an array or alone).
    index: HashMap<String, HashMap<Scalar, HashSet<u64>>>,
    /// The keys in use.
    present: KeySet,
}

impl Points {
    /// An empty set of points.
    pub fn new() -> Self {
        Points {
            present: KeySet::empty(0),
            ..Default::default()
        }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// One more than the largest key ever stored here: the capacity of key sets.
    pub fn key_capacity(&self) -> u64 {
        self.entries.len() as u64
    }

    /// The internal key of `id`.
    pub fn key_of(&self, id: PointId) -> Option<u64> {
        self.by_id.get(&id).copied()
    }

    /// The point stored under `key`.
    pub fn entry(&self, key: u64) -> Option<&Entry> {
        self.entries.get(key as usize).and_then(Option::as_ref)
    }

    /// All keys in use.
    pub fn all(&self) -> KeySet {
        let mut all = self.present.clone();
        all.words.resize(self.key_capacity().div_ceil(64) as usize, 0);
        all
    }

    /// The points from `from` on, in id order (for scroll).
    pub fn from_id(&self, from: Option<PointId>) -> impl Iterator<Item = (PointId, u64)> + '_ {
        let start = from.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Included);
        self.by_id
            .range((start, std::ops::Bound::Unbounded))
            .map(|(&id, &key)| (id, key))
    }

    /// Every point, in key order.
    pub fn entries(&self) -> impl Iterator<Item = (u64, &Entry)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(k, e)| e.as_ref().map(|e| (k as u64, e)))
    }

    /// Stores `payload` for `id` under `key` (replacing what `key` held).
    pub fn put(&mut self, key: u64, id: PointId, payload: Payload) {
        self.unindex(key);
        let slot = key as usize;
        if self.entries.len() <= slot {
            self.entries.resize(slot + 1, None);
            self.present.words.resize(self.entries.len().div_ceil(64), 0);
        }
        for (field, value) in &payload {
            for v in leaf_values(value) {
                if let Some(s) = Scalar::of(v) {
                    self.index
                        .entry(field.clone())
                        .or_default()
                        .entry(s)
                        .or_default()
                        .insert(key);
                }
            }
        }
        self.by_id.insert(id, key);
        self.present.insert(key);
        self.entries[slot] = Some(Entry { id, payload });
    }

    /// Removes the point under `key`; returns it.
    pub fn remove(&mut self, key: u64) -> Option<Entry> {
        self.unindex(key);
        let entry = self.entries.get_mut(key as usize)?.take()?;
        self.by_id.remove(&entry.id);
        self.present.words[(key / 64) as usize] &= !(1 << (key % 64));
        Some(entry)
    }

    fn unindex(&mut self, key: u64) {
        let Some(Some(old)) = self.entries.get(key as usize) else {
            return;
        };
        for (field, value) in &old.payload {
            let Some(values) = self.index.get_mut(field) else {
                continue;
            };
            for v in leaf_values(value) {
                if let Some(s) = Scalar::of(v) {
                    if let Some(keys) = values.get_mut(&s) {
                        keys.remove(&key);
                        if keys.is_empty() {
                            values.remove(&s);
                        }
                    }
                }
            }
            if values.is_empty() {
                self.index.remove(field);
            }
        }
    }

    /// The keys whose top-level `field` holds `value` (alone or in an array), from the index.
    pub fn indexed(&self, field: &str, value: &Scalar) -> impl Iterator<Item = u64> + '_ {
        self.index
            .get(field)
            .and_then(|values| values.get(value))
            .into_iter()
            .flatten()
            .copied()
    }

    /// Per value of the top-level `field`: how many points (of `allowed`, if given) hold it.
    pub fn facet(&self, field: &str, allowed: Option<&KeySet>) -> Vec<(Scalar, usize)> {
        let Some(values) = self.index.get(field) else {
            return Vec::new();
        };
        values
            .iter()
            .map(|(value, keys)| {
                let n = match allowed {
                    Some(a) => keys.iter().filter(|&&k| a.contains(k)).count(),
                    None => keys.len(),
                };
                (value.clone(), n)
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// Per indexed top-level field: the JSON type of its values and how many points hold one
    /// (for the collection's `payload_schema`).
    pub fn schema(&self) -> Vec<(String, &'static str, usize)> {
        let mut out: Vec<_> = self
            .index
            .iter()
            .map(|(field, values)| {
                let kind = match values.keys().next() {
                    Some(Scalar::Integer(_)) => "integer",
                    Some(Scalar::Bool(_)) => "bool",
                    _ => "keyword",
                };
                let holders: HashSet<u64> = values.values().flatten().copied().collect();
                (field.clone(), kind, holders.len())
            })
            .collect();
        out.sort();
        out
    }
}

/// A value, or the elements of an array value: what a condition on a field sees.
pub fn leaf_values(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload(v: Value) -> Payload {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn the_index_follows_puts_replacements_and_removals() {
        let mut points = Points::new();
        points.put(
            0,
            PointId::Num(10),
            payload(json!({"color": "red", "tags": [1, 2]})),
        );
        points.put(
            1,
            PointId::Num(11),
            payload(json!({"color": "blue", "tags": [2]})),
        );
        let red = Scalar::Keyword("red".into());
        let two = Scalar::Integer(2);
        assert_eq!(points.indexed("color", &red).collect::<Vec<_>>(), vec![0]);
        let mut with_two: Vec<_> = points.indexed("tags", &two).collect();
        with_two.sort();
        assert_eq!(with_two, vec![0, 1]);
        points.put(0, PointId::Num(10), payload(json!({"color": "blue"})));
        assert_eq!(points.indexed("color", &red).count(), 0);
        assert_eq!(points.indexed("tags", &two).collect::<Vec<_>>(), vec![1]);
        assert_eq!(points.remove(1).unwrap().id, PointId::Num(11));
        assert_eq!(points.indexed("tags", &two).count(), 0);
        assert_eq!(points.all().iter().collect::<Vec<_>>(), vec![0]);
        assert_eq!(points.key_of(PointId::Num(11)), None);
        assert_eq!(points.len(), 1);
    }

    #[test]
    fn key_sets_compute_like_hash_sets() {
        let a_keys = [0u64, 3, 64, 65, 200];
        let b_keys = [3u64, 65, 199];
        let mut a = KeySet::empty(256);
        let mut b = KeySet::empty(256);
        a_keys.iter().for_each(|&k| a.insert(k));
        b_keys.iter().for_each(|&k| b.insert(k));
        let (ha, hb): (HashSet<u64>, HashSet<u64>) = (a_keys.into(), b_keys.into());
        let sorted = |s: HashSet<u64>| {
            let mut v: Vec<_> = s.into_iter().collect();
            v.sort();
            v
        };
        let mut i = a.clone();
        i.intersect(&b);
        assert_eq!(i.iter().collect::<Vec<_>>(), sorted(&ha & &hb));
        let mut u = a.clone();
        u.unite(&b);
        assert_eq!(u.iter().collect::<Vec<_>>(), sorted(&ha | &hb));
        let mut d = a.clone();
        d.subtract(&b);
        assert_eq!(d.iter().collect::<Vec<_>>(), sorted(&ha - &hb));
        assert_eq!(u.len(), (&ha | &hb).len());
    }
}
