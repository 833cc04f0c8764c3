//! One collection: a living geodex index of `f32` vectors (the graph), its database (ids,
//! payloads and the log of vector changes, `store.rs`) and its points in memory (payloads and
//! payload indexes, `points.rs`).
//!
//! Every write commits to the database first — one durable transaction holding the ids,
//! payloads and vectors of the write — and only then changes the index and the points in
//! memory, under one writer lock so the order of application is the order of the log. The
//! index file is a checkpoint: saved atomically with the log position it holds (`wal_lsn`),
//! after which the log records it holds are removed. Opening replays the records after it.
//! A write is acknowledged after both steps; a crash before the commit leaves nothing of it,
//! a crash after it is replayed on restart.
//!
//! Order towards concurrent searches: an upsert stores the payload before the index shows the
//! vector; a delete hides the vector before the payload goes. A search therefore never returns
//! a deleted point once the delete is acknowledged, and never a point without its payload.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use geodex_core::wal::WalRecord;
use geodex_core::{AnyIndex, BuildParams, LiveIndex, Metric, NodeSet, SearchContext};
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::filter::Filter;
use crate::model::PayloadSelector;
use crate::point_id::PointId;
use crate::points::{Payload, Points};
use crate::store::Store;

/// Log records after which a write also checkpoints the index file (restart replays at most
/// this many vector changes).
pub const CHECKPOINT_RECORDS: u64 = 20_000;

/// Qdrant's distance names and the metric each is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Distance {
    /// Cosine similarity (vectors normalised when stored).
    Cosine,
    /// Euclidean distance.
    Euclid,
    /// Dot product.
    Dot,
}

impl Distance {
    /// Parses Qdrant's name.
    pub fn parse(name: &str) -> ApiResult<Distance> {
        match name {
            "Cosine" => Ok(Distance::Cosine),
            "Euclid" => Ok(Distance::Euclid),
            "Dot" => Ok(Distance::Dot),
            "Manhattan" => Err(ApiError::unsupported("the Manhattan distance")),
            other => Err(ApiError::bad_request(format!(
                "unknown distance {other:?} (expected Cosine, Euclid or Dot)"
            ))),
        }
    }

    /// The geodex metric.
    pub fn metric(self) -> Metric {
        match self {
            Distance::Cosine => Metric::Cosine,
            Distance::Euclid => Metric::L2,
            Distance::Dot => Metric::InnerProduct,
        }
    }

    /// Qdrant's score for a geodex distance: cosine similarity 1 − d, dot product −d,
    /// Euclidean distance √d (geodex ranks by the square).
    pub fn score(self, distance: f32) -> f32 {
        match self {
            Distance::Cosine => 1.0 - distance,
            Distance::Dot => -distance,
            Distance::Euclid => distance.max(0.0).sqrt(),
        }
    }

    /// Whether `score` passes `score_threshold`: at least it for similarities, at most it for
    /// the Euclidean distance.
    pub fn passes(self, score: f32, threshold: f32) -> bool {
        match self {
            Distance::Euclid => score <= threshold,
            _ => score >= threshold,
        }
    }
}

/// What a collection was created with, saved as `config.json` beside its files.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Config {
    /// Vector dimension.
    pub size: usize,
    /// The distance.
    pub distance: Distance,
    /// HNSW M (links per node on the upper levels; 2M on level 0).
    pub m: usize,
    /// HNSW ef_construction, also the default search ef (as in Qdrant).
    pub ef_construct: usize,
    /// Qdrant's `full_scan_threshold`, stored and reported (geodex decides the scan itself).
    pub full_scan_threshold: usize,
    /// The `quantization_config` as given (scalar int8 only; see `registry.rs`).
    pub quantization_config: Option<Value>,
    /// Payload indexes the client declared: field → schema as given.
    #[serde(default)]
    pub payload_schema: serde_json::Map<String, Value>,
    /// Seconds since the Unix epoch at creation.
    pub created_at: u64,
}

/// One hit of a search, before it is rendered.
#[derive(Clone, Debug)]
pub struct Scored {
    /// The point.
    pub id: PointId,
    /// Qdrant's score (see [`Distance::score`]).
    pub score: f32,
    /// The selected payload.
    pub payload: Option<Payload>,
    /// The stored vector, if asked for.
    pub vector: Option<Vec<f32>>,
}

/// A search as the endpoints describe it.
#[derive(Debug)]
pub struct Search {
    /// The query vector.
    pub vector: Vec<f32>,
    /// Only points passing this.
    pub filter: Option<Filter>,
    /// Results wanted after `offset`.
    pub limit: usize,
    /// Results skipped.
    pub offset: usize,
    /// Beam width (default: the collection's ef_construct).
    pub ef: Option<usize>,
    /// Exact search (a scan of every allowed point).
    pub exact: bool,
    /// See [`Distance::passes`].
    pub score_threshold: Option<f32>,
    /// Payload in the results.
    pub with_payload: PayloadSelector,
    /// Vectors in the results.
    pub with_vector: bool,
}

impl Search {
    /// The `limit` nearest points to `vector` at the collection's default ef: no filter, no
    /// offset, no threshold, ids and scores only. Set the fields to change any of it.
    pub fn nearest(vector: Vec<f32>, limit: usize) -> Search {
        Search {
            vector,
            filter: None,
            limit,
            offset: 0,
            ef: None,
            exact: false,
            score_threshold: None,
            with_payload: PayloadSelector::Nothing,
            with_vector: false,
        }
    }
}

struct Writer {
    next_key: u64,
    next_seq: u64,
}

/// A collection, shared by the request handlers.
pub struct Collection {
    name: String,
    dir: PathBuf,
    config: RwLock<Config>,
    index: LiveIndex<f32>,
    store: Store,
    points: RwLock<Points>,
    writer: Mutex<Writer>,
    /// Log records and bytes since the last checkpoint (for `/metrics` and the checkpoint rule).
    log_records: AtomicU64,
    log_bytes: AtomicU64,
}

impl std::fmt::Debug for Collection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collection").field("name", &self.name).finish()
    }
}

fn index_path(dir: &Path) -> PathBuf {
    dir.join("index.gdx")
}

fn config_path(dir: &Path) -> PathBuf {
    dir.join("config.json")
}

/// Writes `config` to `dir/config.json` atomically.
pub fn save_config(dir: &Path, config: &Config) -> ApiResult<()> {
    let json = serde_json::to_vec_pretty(config).map_err(ApiError::internal)?;
    geodex_io::atomic::write_file(&config_path(dir), |w| w.write_all(&json)).map_err(ApiError::internal)
}

thread_local! {
    static CONTEXT: std::cell::RefCell<SearchContext> = std::cell::RefCell::new(SearchContext::new());
}

impl Collection {
    /// Opens the collection stored in `dir` (made by [`save_config`] and earlier writes):
    /// loads the checkpoint, replays the log after it, and checks that the index and the
    /// database hold the same points.
    pub fn open(name: &str, dir: &Path) -> ApiResult<Collection> {
        let text = std::fs::read(config_path(dir))?;
        let config: Config = serde_json::from_slice(&text)
            .map_err(|e| ApiError::internal(format!("{}: {e}", config_path(dir).display())))?;
        let store = Store::open(&dir.join("points.redb"))?;
        let index = match index_path(dir).exists() {
            true => match AnyIndex::open_file(&index_path(dir), false)? {
                AnyIndex::F32(index) => LiveIndex::from_index(index)?,
                AnyIndex::U8(_) => return Err(ApiError::internal("index.gdx holds byte vectors")),
            },
            false => LiveIndex::new(config.size, &build_params(&config))?,
        };
        let loaded = store.load(config.size, index.lsn())?;
        geodex_core::apply_log(&index, &loaded.log)?;
        if index.len() != loaded.points.len() || loaded.points.entries().any(|(k, _)| !index.contains(k)) {
            return Err(ApiError::internal(format!(
                "collection {name}: the index holds {} points and the database {}",
                index.len(),
                loaded.points.len()
            )));
        }
        Ok(Collection {
            name: name.to_owned(),
            dir: dir.to_path_buf(),
            config: RwLock::new(config),
            index,
            store,
            points: RwLock::new(loaded.points),
            writer: Mutex::new(Writer {
                next_key: loaded.next_key,
                next_seq: loaded.next_seq,
            }),
            log_records: AtomicU64::new(loaded.log.len() as u64),
            log_bytes: AtomicU64::new(loaded.log_bytes),
        })
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The directory holding its files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The configuration.
    pub fn config(&self) -> Config {
        self.config.read().clone()
    }

    /// Changes the stored configuration with `change` and saves it.
    pub fn update_config(&self, change: impl FnOnce(&mut Config)) -> ApiResult<()> {
        let _writer = self.writer.lock();
        let mut config = self.config.write();
        change(&mut config);
        save_config(&self.dir, &config)
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.points.read().len()
    }

    /// Whether it holds no points.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Payload fields with an index: name, type, points holding a value.
    pub fn payload_fields(&self) -> Vec<(String, &'static str, usize)> {
        self.points.read().schema()
    }

    /// Log records and bytes since the last checkpoint.
    pub fn log_size(&self) -> (u64, u64) {
        (
            self.log_records.load(Ordering::Relaxed),
            self.log_bytes.load(Ordering::Relaxed),
        )
    }

    /// Inserts or replaces points (ids, vectors, payloads of equal length; an id given twice
    /// keeps its last row, as Qdrant does). A payload of `None` keeps the point's stored payload
    /// (`update_vectors`); a new point then gets an empty one. Durable when this returns;
    /// returns the operation id.
    pub fn upsert(
        &self,
        ids: Vec<PointId>,
        vectors: Vec<Vec<f32>>,
        payloads: Vec<Option<Payload>>,
    ) -> ApiResult<u64> {
        let rows = dedup_last(ids, vectors, payloads);
        let dim = self.config.read().size;
        let mut writer = self.writer.lock();
        let mut next_key = writer.next_key;
        let keyed: Vec<(u64, PointId, Vec<f32>, Payload)> = {
            let points = self.points.read();
            rows.into_iter()
                .map(|(id, v, p)| {
                    let key = points.key_of(id).unwrap_or_else(|| {
                        next_key += 1;
                        next_key - 1
                    });
                    let payload =
                        p.unwrap_or_else(|| points.entry(key).map(|e| e.payload.clone()).unwrap_or_default());
                    (key, id, v, payload)
                })
                .collect()
        };
        let keys: Vec<u64> = keyed.iter().map(|r| r.0).collect();
        let mut data = Vec::with_capacity(keyed.len() * dim);
        keyed.iter().for_each(|r| data.extend_from_slice(&r.2));
        if keyed.iter().any(|r| r.2.len() != dim) {
            let bad = keyed.iter().find(|r| r.2.len() != dim).expect("found");
            return Err(ApiError::bad_request(format!(
                "point {}: vector dimension error: expected dim: {dim}, got {}",
                bad.1,
                bad.2.len()
            )));
        }
        self.index.validate(&keys, &data)?;
        let (last, done) = self.store.commit(writer.next_seq, next_key, |w| {
            let mut last = 0;
            for (key, id, vector, payload) in &keyed {
                w.put_point(*id, *key, payload)?;
                last = w.log(&WalRecord::Upsert {
                    key: *key,
                    vector: vector.clone(),
                })?;
            }
            Ok(last)
        })?;
        writer.next_key = next_key;
        writer.next_seq = done.next_seq;
        {
            let mut points = self.points.write();
            for (key, id, _, payload) in keyed {
                points.put(key, id, payload);
            }
        }
        self.index.upsert(&keys, &data, &|_| {})?;
        self.index.set_lsn(last);
        self.logged(keys.len() as u64, done.log_bytes);
        self.checkpoint_if_due(&writer)?;
        Ok(last)
    }

    /// Deletes the points `which` selects (unknown ids are ignored); returns the operation id.
    pub fn delete(&self, which: &Selection) -> ApiResult<u64> {
        let mut writer = self.writer.lock();
        let doomed: Vec<(u64, PointId)> = {
            let points = self.points.read();
            self.selected(&points, which)
                .into_iter()
                .map(|k| (k, points.entry(k).expect("selected keys exist").id))
                .collect()
        };
        if doomed.is_empty() {
            return Ok(writer.next_seq.saturating_sub(1));
        }
        let (last, done) = self.store.commit(writer.next_seq, writer.next_key, |w| {
            let mut last = 0;
            for &(key, id) in &doomed {
                w.remove_point(id, key)?;
                last = w.log(&WalRecord::Delete { key })?;
            }
            Ok(last)
        })?;
        writer.next_seq = done.next_seq;
        let keys: Vec<u64> = doomed.iter().map(|d| d.0).collect();
        self.index.delete(&keys)?;
        self.index.set_lsn(last);
        {
            let mut points = self.points.write();
            keys.iter().for_each(|&k| drop(points.remove(k)));
        }
        self.logged(keys.len() as u64, done.log_bytes);
        self.checkpoint_if_due(&writer)?;
        Ok(last)
    }

    /// Rewrites the payloads of the points `which` selects with `change` (set, overwrite,
    /// delete keys, clear); returns the operation id.
    pub fn change_payloads(&self, which: &Selection, change: impl Fn(&mut Payload)) -> ApiResult<u64> {
        let writer = self.writer.lock();
        let changed: Vec<(u64, PointId, Payload)> = {
            let points = self.points.read();
            self.selected(&points, which)
                .into_iter()
                .map(|k| {
                    let entry = points.entry(k).expect("selected keys exist");
                    let mut payload = entry.payload.clone();
                    change(&mut payload);
                    (k, entry.id, payload)
                })
                .collect()
        };
        self.store.commit(writer.next_seq, writer.next_key, |w| {
            changed
                .iter()
                .try_for_each(|(key, _, payload)| w.put_payload(*key, payload))
        })?;
        let mut points = self.points.write();
        for (key, id, payload) in changed {
            points.put(key, id, payload);
        }
        Ok(writer.next_seq.saturating_sub(1))
    }

    fn selected(&self, points: &Points, which: &Selection) -> Vec<u64> {
        match which {
            Selection::Ids(ids) => {
                let mut keys: Vec<u64> = ids.iter().filter_map(|&id| points.key_of(id)).collect();
                keys.sort_unstable();
                keys.dedup();
                keys
            }
            Selection::Filter(filter) => filter.evaluate(points).iter().collect(),
        }
    }

    fn logged(&self, records: u64, bytes: u64) {
        self.log_records.fetch_add(records, Ordering::Relaxed);
        self.log_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    fn checkpoint_if_due(&self, writer: &Writer) -> ApiResult<()> {
        if self.log_records.load(Ordering::Relaxed) >= CHECKPOINT_RECORDS {
            self.checkpoint_locked(writer)?;
        }
        Ok(())
    }

    /// Saves the index file with the log position it holds and drops those log records.
    pub fn checkpoint(&self) -> ApiResult<()> {
        let writer = self.writer.lock();
        self.checkpoint_locked(&writer)
    }

    fn checkpoint_locked(&self, _writer: &Writer) -> ApiResult<()> {
        let lsn = self.index.lsn();
        self.index.snapshot()?.save(&index_path(&self.dir))?;
        self.store.truncate_log(lsn)?;
        self.log_records.store(0, Ordering::Relaxed);
        self.log_bytes.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// Runs `f` with writes held off and the index file checkpointed (for snapshots).
    pub fn with_checkpoint<R>(&self, f: impl FnOnce(&Points, &Path) -> ApiResult<R>) -> ApiResult<R> {
        let writer = self.writer.lock();
        self.checkpoint_locked(&writer)?;
        let points = self.points.read();
        f(&points, &index_path(&self.dir))
    }

    /// The points `ids` names that exist, in the order asked.
    pub fn retrieve(&self, ids: &[PointId], payload: &PayloadSelector, vector: bool) -> Vec<Scored> {
        let points = self.points.read();
        ids.iter()
            .filter_map(|&id| points.key_of(id))
            .map(|key| self.render(&points, key, 0.0, payload, vector))
            .collect()
    }

    fn render(
        &self,
        points: &Points,
        key: u64,
        score: f32,
        payload: &PayloadSelector,
        vector: bool,
    ) -> Scored {
        let entry = points.entry(key).expect("rendered keys exist");
        Scored {
            id: entry.id,
            score,
            payload: payload.apply(&entry.payload),
            vector: if vector { self.index.get(key) } else { None },
        }
    }

    /// The vector stored for `id`.
    pub fn vector_of(&self, id: PointId) -> ApiResult<Vec<f32>> {
        let key = self.points.read().key_of(id);
        key.and_then(|k| self.index.get(k))
            .ok_or_else(|| ApiError::not_found(format!("No point with id {id} found")))
    }

    /// A page of points in id order from `offset`, and the id that starts the next page.
    pub fn scroll(
        &self,
        offset: Option<PointId>,
        limit: usize,
        filter: Option<&Filter>,
        payload: &PayloadSelector,
        vector: bool,
    ) -> (Vec<Scored>, Option<PointId>) {
        let points = self.points.read();
        let allowed = filter.map(|f| f.evaluate(&points));
        let mut page: Vec<(PointId, u64)> = points
            .from_id(offset)
            .filter(|(_, k)| allowed.as_ref().is_none_or(|a| a.contains(*k)))
            .take(limit + 1)
            .collect();
        let next = (page.len() > limit).then(|| page.pop().expect("limit + 1 rows").0);
        let rows = page
            .into_iter()
            .map(|(_, key)| self.render(&points, key, 0.0, payload, vector))
            .collect();
        (rows, next)
    }

    /// The ids of `ids` that are not stored.
    pub fn missing(&self, ids: &[PointId]) -> Vec<PointId> {
        let points = self.points.read();
        ids.iter()
            .filter(|&&id| points.key_of(id).is_none())
            .copied()
            .collect()
    }

    /// The most frequent values of the top-level payload key `field` among the points passing
    /// `filter`: (value, points holding it), most frequent first, then by value; at most `limit`.
    pub fn facet(
        &self,
        field: &str,
        filter: Option<&Filter>,
        limit: usize,
    ) -> Vec<(crate::points::Scalar, usize)> {
        let points = self.points.read();
        let allowed = filter.map(|f| f.evaluate(&points));
        let mut counts = points.facet(field, allowed.as_ref());
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        counts.truncate(limit);
        counts
    }

    /// Number of points passing `filter` (all without one); always exact.
    pub fn count(&self, filter: Option<&Filter>) -> usize {
        let points = self.points.read();
        match filter {
            Some(f) => f.evaluate(&points).len(),
            None => points.len(),
        }
    }

    /// Searches the index. A filter becomes the set of allowed nodes, applied inside the graph
    /// walk (or an exact scan of the allowed nodes when few are allowed); `exact` scans.
    pub fn search(&self, search: &Search) -> ApiResult<Vec<Scored>> {
        let (size, distance, ef_construct) = {
            let c = self.config.read();
            (c.size, c.distance, c.ef_construct)
        };
        if search.vector.len() != size {
            return Err(ApiError::bad_request(format!(
                "Vector dimension error: expected dim: {size}, got {}",
                search.vector.len()
            )));
        }
        let k = search.limit + search.offset;
        if k == 0 || self.index.is_empty() {
            return Ok(Vec::new());
        }
        let ef = search.ef.unwrap_or(ef_construct).max(k);
        let allowed: Option<NodeSet> = match (&search.filter, search.exact) {
            (Some(filter), _) => {
                let keys: Vec<u64> = filter.evaluate(&self.points.read()).iter().collect();
                if keys.is_empty() {
                    return Ok(Vec::new());
                }
                Some(self.index.node_set(&keys).0)
            }
            (None, true) => Some(self.index.node_set(&self.index.keys()).0),
            (None, false) => None,
        };
        let mut params = geodex_core::SearchParams::new(k, ef);
        params.allowed = allowed.as_ref();
        if search.exact {
            params.exact_below = Some(f64::INFINITY);
        }
        let hits = CONTEXT
            .with(|ctx| self.index.search(&search.vector, &params, &mut ctx.borrow_mut()))?
            .0;
        let points = self.points.read();
        Ok(hits
            .into_iter()
            .skip(search.offset)
            .map(|hit| (hit.key.0, distance.score(hit.distance)))
            .filter(|&(_, score)| search.score_threshold.is_none_or(|t| distance.passes(score, t)))
            // A point deleted after the walk (its delete not yet acknowledged) is left out.
            .filter(|&(key, _)| points.entry(key).is_some())
            .map(|(key, score)| self.render(&points, key, score, &search.with_payload, search.with_vector))
            .collect())
    }
}

/// Hits grouped by a payload key, best group first.
pub type Groups = Vec<(Value, Vec<Scored>)>;

impl Collection {
    /// Up to `groups` groups of up to `group_size` hits each, grouped by the values of the
    /// payload key `group_by` (keyword or integer; a point with an array of them is in each of
    /// its groups; a point without one is in none), groups in the order of their best hit, as
    /// Qdrant's `query/groups`. Searches `groups·group_size·2` hits first and four times as many
    /// until the groups are full or the collection is exhausted. `exclude` is left out.
    pub fn search_groups(
        &self,
        search: &Search,
        group_by: &str,
        group_size: usize,
        groups: usize,
        exclude: Option<PointId>,
    ) -> ApiResult<Groups> {
        let total = self.len();
        let mut k = (groups * group_size * 2).max(16);
        loop {
            let probe = Search {
                vector: search.vector.clone(),
                filter: search.filter.clone(),
                limit: k,
                offset: 0,
                ef: search.ef,
                exact: search.exact,
                score_threshold: search.score_threshold,
                with_payload: PayloadSelector::All,
                with_vector: search.with_vector,
            };
            let hits = self.search(&probe)?;
            let found = hits.len();
            let mut out: Groups = Vec::new();
            for hit in hits.into_iter().filter(|h| Some(h.id) != exclude) {
                let full = hit.payload.clone().unwrap_or_default();
                for value in crate::filter::values_of(&full, group_by) {
                    if !(value.is_string() || value.is_i64() || value.is_u64()) {
                        continue;
                    }
                    let at = match out.iter().position(|g| &g.0 == value) {
                        Some(at) => at,
                        None if out.len() < groups => {
                            out.push((value.clone(), Vec::new()));
                            out.len() - 1
                        }
                        None => continue,
                    };
                    if out[at].1.len() < group_size {
                        let mut member = hit.clone();
                        member.payload = search.with_payload.apply(&full);
                        out[at].1.push(member);
                    }
                }
            }
            let complete = out.len() == groups && out.iter().all(|g| g.1.len() == group_size);
            if complete || found < k || k >= total {
                return Ok(out);
            }
            k *= 4;
        }
    }
}

/// Which points a delete or payload change touches.
#[derive(Debug)]
pub enum Selection {
    /// These ids.
    Ids(Vec<PointId>),
    /// The points passing this filter.
    Filter(Filter),
}

/// The geodex build parameters of a collection.
pub fn build_params(config: &Config) -> BuildParams {
    BuildParams {
        metric: config.distance.metric(),
        m: config.m,
        ef_construction: config.ef_construct,
        ..BuildParams::default()
    }
}

/// Rows with an id given twice keep the last one, in the order of first appearance.
fn dedup_last<P>(ids: Vec<PointId>, vectors: Vec<Vec<f32>>, payloads: Vec<P>) -> Vec<(PointId, Vec<f32>, P)> {
    let mut at: std::collections::HashMap<PointId, usize> = std::collections::HashMap::new();
    let mut rows: Vec<(PointId, Vec<f32>, P)> = Vec::with_capacity(ids.len());
    for ((id, v), p) in ids.into_iter().zip(vectors).zip(payloads) {
        match at.get(&id) {
            Some(&i) => rows[i] = (id, v, p),
            None => {
                at.insert(id, rows.len());
                rows.push((id, v, p));
            }
        }
    }
    rows
}
