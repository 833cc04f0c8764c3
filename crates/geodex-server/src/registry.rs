//! The collections of a data directory: `DIR/collections/<name>/` holds one collection's
//! `config.json`, `index.gdx` (the checkpointed index) and `points.redb`; `DIR/snapshots/<name>/`
//! its snapshots. Names are checked before they touch the file system.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::RwLock;
use serde_json::Value;

use crate::collection::{save_config, Collection, Config, Distance};
use crate::error::{ApiError, ApiResult};
use crate::model::{CreateCollection, VectorParams};

/// Longest collection name accepted.
pub const MAX_NAME: usize = 255;

/// Largest vector dimension accepted (Qdrant's limit).
pub const MAX_DIM: usize = 65_536;

/// Rejects names that could leave the data directory or that no file system takes: only
/// ASCII letters, digits, `_`, `-` and `.`, not starting with `.`, at most [`MAX_NAME`] bytes.
pub fn check_name(name: &str) -> ApiResult<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "Validation error in path parameters: [name: collection name {name:?} must be 1–{MAX_NAME} \
             characters of A–Z, a–z, 0–9, '_', '-', '.', not starting with '.']"
        )))
    }
}

/// The collections of one data directory, and the aliases naming them (`DIR/aliases.json`).
#[derive(Debug)]
pub struct Registry {
    root: PathBuf,
    collections: RwLock<BTreeMap<String, Arc<Collection>>>,
    /// Alias → collection name.
    aliases: RwLock<BTreeMap<String, String>>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The configuration a create request asks for, checked.
pub fn config_of(request: &CreateCollection) -> ApiResult<Config> {
    let vectors = request
        .vectors
        .as_ref()
        .ok_or_else(|| ApiError::bad_request("a collection needs `vectors` (size and distance)"))?;
    let params = VectorParams::from_config(vectors)?;
    if params.size == 0 || params.size > MAX_DIM {
        return Err(ApiError::bad_request(format!(
            "vector size must be 1..={MAX_DIM}, got {}",
            params.size
        )));
    }
    if request.sparse_vectors.as_ref().is_some_and(|v| !v.is_null()) {
        return Err(ApiError::unsupported("sparse vectors"));
    }
    if request.init_from.is_some() {
        return Err(ApiError::unsupported("init_from"));
    }
    let hnsw = request.hnsw_config.as_ref().or(params.hnsw_config.as_ref());
    let m = hnsw.and_then(|h| h.m).unwrap_or(16);
    let ef_construct = hnsw.and_then(|h| h.ef_construct).unwrap_or(100);
    if !(2..=256).contains(&m) {
        return Err(ApiError::bad_request(format!(
            "hnsw_config.m must be 2..=256 (geodex), got {m}"
        )));
    }
    if !(4..=4096).contains(&ef_construct) {
        return Err(ApiError::bad_request(format!(
            "hnsw_config.ef_construct must be 4..=4096, got {ef_construct}"
        )));
    }
    let quantization = request
        .quantization_config
        .clone()
        .or(params.quantization_config.clone());
    check_quantization(quantization.as_ref())?;
    Ok(Config {
        size: params.size,
        distance: Distance::parse(&params.distance)?,
        m,
        ef_construct,
        full_scan_threshold: hnsw.and_then(|h| h.full_scan_threshold).unwrap_or(10_000),
        quantization_config: quantization.filter(|q| !q.is_null()),
        payload_schema: Default::default(),
        created_at: now_secs(),
    })
}

/// Scalar int8 quantisation is what geodex's search already does for Cosine and Euclid (the
/// walk compares one-byte codes, then re-measures exactly), so it is accepted; product and
/// binary quantisation of Qdrant's kind are not offered over the API.
fn check_quantization(q: Option<&Value>) -> ApiResult<()> {
    match q {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(map)) if map.len() == 1 && map.contains_key("scalar") => {
            match map["scalar"].get("type").and_then(Value::as_str) {
                Some("int8") => Ok(()),
                other => Err(ApiError::bad_request(format!(
                    "scalar quantization type {other:?} (expected int8)"
                ))),
            }
        }
        Some(Value::Object(map)) if map.contains_key("product") || map.contains_key("binary") => {
            Err(ApiError::unsupported("product and binary quantization"))
        }
        Some(other) => Err(ApiError::bad_request(format!(
            "quantization_config: unexpected {other}"
        ))),
    }
}

impl Registry {
    /// Opens every collection under `root` (creating the directories if needed).
    pub fn open(root: &Path) -> ApiResult<Registry> {
        let dir = root.join("collections");
        std::fs::create_dir_all(&dir)?;
        std::fs::create_dir_all(root.join("snapshots"))?;
        let mut collections = BTreeMap::new();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                finish_interrupted(&dir, &name)?;
                continue;
            }
            let collection = Collection::open(&name, &entry.path())?;
            tracing::info!(collection = %name, points = collection.len(), "opened");
            collections.insert(name, Arc::new(collection));
        }
        let aliases_file = root.join("aliases.json");
        let mut aliases: BTreeMap<String, String> = match aliases_file.exists() {
            true => serde_json::from_slice(&std::fs::read(&aliases_file)?)
                .map_err(|e| ApiError::internal(format!("{}: {e}", aliases_file.display())))?,
            false => BTreeMap::new(),
        };
        aliases.retain(|_, target| collections.contains_key(target));
        Ok(Registry {
            root: root.to_path_buf(),
            collections: RwLock::new(collections),
            aliases: RwLock::new(aliases),
        })
    }

    fn save_aliases(&self, aliases: &BTreeMap<String, String>) -> ApiResult<()> {
        let json = serde_json::to_vec_pretty(aliases).map_err(ApiError::internal)?;
        geodex_io::atomic::write_file(&self.root.join("aliases.json"), |w| w.write_all(&json))
            .map_err(ApiError::internal)
    }

    /// Applies Qdrant's alias actions (`create_alias`, `delete_alias`, `rename_alias`) in order,
    /// all or none, and saves the result.
    pub fn change_aliases(&self, actions: &[Value]) -> ApiResult<()> {
        let collections = self.collections.read();
        let mut aliases = self.aliases.write();
        let mut next = aliases.clone();
        for action in actions {
            let field = |obj: &Value, name: &str| -> ApiResult<String> {
                obj.get(name)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| ApiError::bad_request(format!("alias action: `{name}` is required")))
            };
            let (kind, body) = match action.as_object().map(|m| m.iter().collect::<Vec<_>>()) {
                Some(entries) if entries.len() == 1 => (entries[0].0.as_str(), entries[0].1),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "alias action: expected one action, found {action}"
                    )))
                }
            };
            match kind {
                "create_alias" => {
                    let (collection, alias) = (field(body, "collection_name")?, field(body, "alias_name")?);
                    check_name(&alias)?;
                    if !collections.contains_key(&collection) {
                        return Err(ApiError::no_collection(&collection));
                    }
                    if collections.contains_key(&alias) {
                        return Err(ApiError::bad_request(format!(
                            "alias {alias:?} is the name of a collection"
                        )));
                    }
                    next.insert(alias, collection);
                }
                "delete_alias" => {
                    let alias = field(body, "alias_name")?;
                    if next.remove(&alias).is_none() {
                        return Err(ApiError::not_found(format!("Alias {alias} does not exists!")));
                    }
                }
                "rename_alias" => {
                    let (old, new) = (field(body, "old_alias_name")?, field(body, "new_alias_name")?);
                    check_name(&new)?;
                    let target = next
                        .remove(&old)
                        .ok_or_else(|| ApiError::not_found(format!("Alias {old} does not exists!")))?;
                    next.insert(new, target);
                }
                other => return Err(ApiError::bad_request(format!("unknown alias action `{other}`"))),
            }
        }
        self.save_aliases(&next)?;
        *aliases = next;
        Ok(())
    }

    /// (alias, collection) pairs, of one collection or of all.
    pub fn aliases(&self, collection: Option<&str>) -> Vec<(String, String)> {
        self.aliases
            .read()
            .iter()
            .filter(|(_, target)| collection.is_none_or(|c| c == target.as_str()))
            .map(|(a, t)| (a.clone(), t.clone()))
            .collect()
    }

    /// The data directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The collection called `name`.
    pub fn get(&self, name: &str) -> ApiResult<Arc<Collection>> {
        let collections = self.collections.read();
        collections
            .get(name)
            .or_else(|| {
                self.aliases
                    .read()
                    .get(name)
                    .and_then(|target| collections.get(target))
            })
            .cloned()
            .ok_or_else(|| ApiError::no_collection(name))
    }

    /// Whether `name` exists.
    pub fn exists(&self, name: &str) -> bool {
        self.collections.read().contains_key(name)
    }

    /// All collections, by name.
    pub fn all(&self) -> Vec<Arc<Collection>> {
        self.collections.read().values().cloned().collect()
    }

    /// Creates a collection; its directory appears complete or not at all.
    pub fn create(&self, name: &str, config: &Config) -> ApiResult<()> {
        check_name(name)?;
        let mut collections = self.collections.write();
        if collections.contains_key(name) {
            return Err(ApiError::bad_request(format!(
                "Wrong input: Collection `{name}` already exists!"
            )));
        }
        if self.aliases.read().contains_key(name) {
            return Err(ApiError::bad_request(format!(
                "Wrong input: `{name}` is already an alias"
            )));
        }
        let dir = self.root.join("collections");
        let staging = dir.join(format!(".creating-{name}"));
        if staging.exists() {
            std::fs::remove_dir_all(&staging)?;
        }
        std::fs::create_dir_all(&staging)?;
        save_config(&staging, config)?;
        let fin = dir.join(name);
        std::fs::rename(&staging, &fin)?;
        sync_dir(&dir)?;
        collections.insert(name.to_owned(), Arc::new(Collection::open(name, &fin)?));
        Ok(())
    }

    /// Puts a collection built elsewhere (a restored snapshot in `staging`) in place of `name`.
    pub fn replace(&self, name: &str, staging: &Path) -> ApiResult<()> {
        let mut collections = self.collections.write();
        let dir = self.root.join("collections");
        let fin = dir.join(name);
        let old = dir.join(format!("{REPLACED}{name}"));
        let had_old = collections.remove(name).is_some();
        if had_old {
            std::fs::rename(&fin, &old)?;
        }
        std::fs::rename(staging, &fin)?;
        sync_dir(&dir)?;
        if had_old {
            std::fs::remove_dir_all(&old)?;
        }
        collections.insert(name.to_owned(), Arc::new(Collection::open(name, &fin)?));
        Ok(())
    }

    /// Deletes a collection and its files; returns whether it existed.
    pub fn delete(&self, name: &str) -> ApiResult<bool> {
        let mut collections = self.collections.write();
        if collections.remove(name).is_none() {
            return Ok(false);
        }
        let mut aliases = self.aliases.write();
        if aliases.values().any(|t| t == name) {
            let mut next = aliases.clone();
            next.retain(|_, t| t != name);
            self.save_aliases(&next)?;
            *aliases = next;
        }
        let dir = self.root.join("collections");
        let trash = dir.join(format!("{DELETED}{name}"));
        std::fs::rename(dir.join(name), &trash)?;
        sync_dir(&dir)?;
        std::fs::remove_dir_all(&trash)?;
        Ok(true)
    }

    /// A fresh directory for building a collection before [`Registry::replace`].
    pub fn staging_dir(&self, name: &str) -> ApiResult<PathBuf> {
        check_name(name)?;
        let staging = self.root.join("collections").join(format!(".restoring-{name}"));
        if staging.exists() {
            std::fs::remove_dir_all(&staging)?;
        }
        std::fs::create_dir_all(&staging)?;
        Ok(staging)
    }

    /// Where the snapshots of `name` live.
    pub fn snapshot_dir(&self, name: &str) -> PathBuf {
        self.root.join("snapshots").join(name)
    }
}

/// Prefix of a collection directory whose delete is decided (renamed, not yet removed).
const DELETED: &str = ".deleted-";
/// Prefix of a collection directory a restore is replacing (moved aside until the restored
/// one is in place).
const REPLACED: &str = ".replaced-";

/// Finishes what a crash interrupted in `dir`, from the name of a hidden directory: a deleted
/// collection is removed; a collection moved aside by a restore comes back if the restored one
/// never took its place (the restore was not acknowledged), else it is removed; a collection
/// being created or restored (never acknowledged) is removed.
fn finish_interrupted(dir: &Path, hidden: &str) -> ApiResult<()> {
    let path = dir.join(hidden);
    if let Some(name) = hidden.strip_prefix(REPLACED) {
        if !dir.join(name).exists() {
            std::fs::rename(&path, dir.join(name))?;
            return Ok(sync_dir(dir)?);
        }
    }
    tracing::info!(directory = hidden, "removing what an interrupted operation left");
    Ok(std::fs::remove_dir_all(&path)?)
}

/// Makes a rename in `dir` durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interrupted_operations_are_finished_or_undone_on_open() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("collections");
        std::fs::create_dir_all(&dir).unwrap();
        for hidden in [
            ".creating-a",
            ".restoring-b",
            ".deleted-c",
            ".replaced-d",
            ".replaced-e",
        ] {
            std::fs::create_dir_all(dir.join(hidden)).unwrap();
            std::fs::write(dir.join(hidden).join("marker"), hidden).unwrap();
        }
        // `d` was restored in full before the crash; `e` was moved aside and nothing replaced it.
        std::fs::create_dir_all(dir.join("d")).unwrap();
        for hidden in [
            ".creating-a",
            ".restoring-b",
            ".deleted-c",
            ".replaced-d",
            ".replaced-e",
        ] {
            finish_interrupted(&dir, hidden).unwrap();
        }
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["d", "e"]);
        assert_eq!(
            std::fs::read_to_string(dir.join("e").join("marker")).unwrap(),
            ".replaced-e"
        );
        assert!(!dir.join("d").join("marker").exists());
    }

    #[test]
    fn names_that_could_escape_the_data_directory_are_refused() {
        for bad in [
            "",
            "..",
            ".hidden",
            "a/b",
            "../etc",
            "a\\b",
            "a b",
            "ü",
            &"x".repeat(256),
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        for good in ["a", "my_collection-2", "v1.2", &"x".repeat(255)] {
            assert!(check_name(good).is_ok(), "{good:?}");
        }
    }
}
