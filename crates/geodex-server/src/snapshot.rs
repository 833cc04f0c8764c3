//! A collection as one file: a tar archive of `config.json`, `index.gdx` (the index, checkpointed
//! while writes wait) and `points.jsonl` (one `{"id", "key", "payload"}` per line). Restoring
//! builds a new collection directory from it beside the live one and swaps it in.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::collection::{save_config, Collection, Config};
use crate::error::{ApiError, ApiResult};
use crate::point_id::PointId;
use crate::points::Payload;
use crate::registry::{check_name, Registry};
use crate::store::Store;

/// Suffix of snapshot files.
pub const SUFFIX: &str = ".snapshot";

/// A snapshot as the API lists it.
#[derive(Clone, Debug, Serialize)]
pub struct Description {
    /// File name.
    pub name: String,
    /// UTC creation time, `YYYY-MM-DDTHH:MM:SS`.
    pub creation_time: Option<String>,
    /// Bytes.
    pub size: u64,
}

#[derive(Serialize, Deserialize)]
struct Line {
    id: PointId,
    key: u64,
    payload: Payload,
}

/// Checks a snapshot file name (it becomes a path).
pub fn check_snapshot_name(name: &str) -> ApiResult<()> {
    match name.strip_suffix(SUFFIX) {
        Some(stem) if check_name(stem).is_ok() => Ok(()),
        _ => Err(ApiError::bad_request(format!("invalid snapshot name {name:?}"))),
    }
}

/// UTC calendar time of `secs` since the epoch (Hinnant's days-to-civil algorithm).
fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + (month <= 2) as i64;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn describe(path: &Path) -> ApiResult<Description> {
    let meta = std::fs::metadata(path)?;
    let created = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok());
    Ok(Description {
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        creation_time: created.map(|d| utc(d.as_secs())),
        size: meta.len(),
    })
}

fn append(tar: &mut tar::Builder<&mut dyn Write>, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, name, bytes)
}

/// Writes a snapshot of `collection` into `dir` (atomically) and describes it.
pub fn create(collection: &Collection, dir: &Path) -> ApiResult<Description> {
    std::fs::create_dir_all(dir)?;
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let path = dir.join(format!("{}-{millis}{SUFFIX}", collection.name()));
    let config = serde_json::to_vec_pretty(&collection.config()).map_err(ApiError::internal)?;
    collection.with_checkpoint(|points, index_file| {
        let mut lines = Vec::new();
        for (key, entry) in points.entries() {
            let line = Line {
                id: entry.id,
                key,
                payload: entry.payload.clone(),
            };
            serde_json::to_writer(&mut lines, &line).map_err(ApiError::internal)?;
            lines.push(b'\n');
        }
        let index = std::fs::read(index_file)?;
        geodex_io::atomic::write_file(&path, |w| {
            let mut tar = tar::Builder::new(w);
            append(&mut tar, "config.json", &config)?;
            append(&mut tar, "index.gdx", &index)?;
            append(&mut tar, "points.jsonl", &lines)?;
            tar.finish()
        })
        .map_err(ApiError::internal)
    })?;
    describe(&path)
}

/// The snapshots in `dir`, oldest first.
pub fn list(dir: &Path) -> ApiResult<Vec<Description>> {
    let mut out = Vec::new();
    if dir.exists() {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.to_string_lossy().ends_with(SUFFIX) {
                out.push(describe(&path)?);
            }
        }
    }
    out.sort_by(|a, b| (&a.creation_time, &a.name).cmp(&(&b.creation_time, &b.name)));
    Ok(out)
}

fn invalid(reason: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("invalid snapshot: {reason}"))
}

/// Restores `name` from the snapshot at `file`, replacing the collection if it exists.
pub fn restore(registry: &Registry, name: &str, file: &Path) -> ApiResult<()> {
    let staging = registry.staging_dir(name)?;
    let result = unpack(&staging, file);
    match result {
        Ok(()) => registry.replace(name, &staging),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(e)
        }
    }
}

fn unpack(staging: &Path, file: &Path) -> ApiResult<()> {
    let mut archive = tar::Archive::new(std::fs::File::open(file)?);
    let (mut config, mut lines, mut has_index): (Option<Config>, Vec<Line>, bool) = (None, Vec::new(), false);
    for entry in archive.entries().map_err(invalid)? {
        let mut entry = entry.map_err(invalid)?;
        let entry_name = entry.path().map_err(invalid)?.to_string_lossy().into_owned();
        match entry_name.as_str() {
            "config.json" => {
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).map_err(invalid)?;
                config = Some(serde_json::from_slice(&bytes).map_err(invalid)?);
            }
            "index.gdx" => {
                let mut out = std::fs::File::create(staging.join("index.gdx"))?;
                std::io::copy(&mut entry, &mut out)?;
                out.sync_all()?;
                has_index = true;
            }
            "points.jsonl" => {
                for line in std::io::BufReader::new(entry).lines() {
                    lines.push(serde_json::from_str(&line.map_err(invalid)?).map_err(invalid)?);
                }
            }
            other => return Err(invalid(format!("unexpected entry {other:?}"))),
        }
    }
    let config = config.ok_or_else(|| invalid("no config.json"))?;
    if !has_index {
        return Err(invalid("no index.gdx"));
    }
    let lsn = match geodex_core::AnyIndex::open_file(&staging.join("index.gdx"), false).map_err(invalid)? {
        geodex_core::AnyIndex::F32(index) if index.dim() == config.size => {
            index.metadata()["wal_lsn"].as_u64().unwrap_or(0)
        }
        _ => return Err(invalid("the index does not match the collection's vector size")),
    };
    save_config(staging, &config)?;
    let store = Store::open(&staging.join("points.redb"))?;
    let next_key = lines.iter().map(|l| l.key + 1).max().unwrap_or(0);
    store.commit(lsn + 1, next_key, |w| {
        lines
            .iter()
            .try_for_each(|l| w.put_point(l.id, l.key, &l.payload))
    })?;
    Ok(())
}

/// The local file a recover `location` names: `file:///path`, or an `http(s)://` URL of a
/// snapshot of this server (`…/collections/<c>/snapshots/<file>`), which is read from disk.
pub fn locate(registry: &Registry, location: &str) -> ApiResult<PathBuf> {
    if let Some(path) = location.strip_prefix("file://") {
        let path = PathBuf::from(path);
        return match path.is_file() {
            true => Ok(path),
            false => Err(ApiError::bad_request(format!(
                "snapshot file {} does not exist",
                path.display()
            ))),
        };
    }
    let rest = location
        .strip_prefix("http://")
        .or_else(|| location.strip_prefix("https://"))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "snapshot location {location:?} is not a file:// or http(s):// URL"
            ))
        })?;
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        [_, "collections", collection, "snapshots", file] => {
            check_name(collection)?;
            check_snapshot_name(file)?;
            let path = registry.snapshot_dir(collection).join(file);
            match path.is_file() {
                true => Ok(path),
                false => Err(ApiError::unsupported(
                    "recovering from a snapshot on another server (upload it instead)",
                )),
            }
        }
        _ => Err(ApiError::unsupported(
            "recovering from a URL that is not a snapshot of this server",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_matches_known_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00");
        assert_eq!(utc(1_798_761_599), "2026-12-31T23:59:59");
    }

    #[test]
    fn snapshot_names_cannot_name_other_paths() {
        for bad in ["../x.snapshot", "x", ".snapshot", "a/b.snapshot"] {
            assert!(check_snapshot_name(bad).is_err(), "{bad}");
        }
        assert!(check_snapshot_name("c-1700000000000.snapshot").is_ok());
    }
}
