//! Cache maintenance: `cache stats` ([`stats()`]), `cache verify` ([`verify()`]) and `cache gc` ([`gc()`]), over
//! the listing this module makes.
//!
//! A cache holds, per namespace folder `v1/<fingerprint>/`: `fingerprint.json`, entries `<ab>/<seq_id>.npy.zst`,
//! and possibly debris: hidden temp files (`.<name>.<pid>.<n>.<nanos>.tmp`, left by a writer that crashed
//! before its rename) and corrupt entries moved aside by a reader (`.<seq_id>.npy.zst.corrupt`). Anything else
//! is reported as "other" and never touched. So is anything at such a name that is not a regular file (a
//! FIFO, a device, a directory, a symbolic link: the cache writes none of these, see [`super::readfile`]):
//! it is listed as [`FileKind::NotRegular`], never opened and never removed.
//!
//! Removal acts only on the file that was examined: [`remove_if_unchanged`] moves the path aside and deletes
//! it only if it is still that file (device, inode, size, modification time); a file renamed over the path
//! since (a writer's good copy) is put back.

mod gc;
mod stats;
mod verify;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rayon::prelude::*;
use serde::Serialize;

pub use gc::{gc, GcOptions, GcReport, RemovedNamespace};
pub use stats::{human_bytes, stats, CacheStats, NamespaceStats};
pub use verify::{verify, VerifyOptions, VerifyReport};

use super::readfile::{self, FileId, Renamed, Symlinks};
use super::{entry_key, Fingerprint, LAYOUT_VERSION};
use crate::fsutil;

/// A temp file older than this is debris from a crashed writer (a live write renames within seconds).
pub const STALE_TEMP: Duration = Duration::from_secs(60 * 60);

#[derive(Debug, thiserror::Error)]
pub enum MaintenanceError {
    #[error("cache folder {0} does not exist; fix: pass the folder given to --cache when predicting")]
    NoCache(String),
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("'{0}' is not a duration; write a number and a unit: 45s, 90m, 12h, 30d or 2w")]
    Duration(String),
    #[error("none of the --keep-model models ({0}) has a namespace in this cache, so gc would remove every namespace; nothing was removed. fix: check the model path (or remove the cache folder by hand)")]
    KeepMatchesNothing(String),
    #[error("cache gc needs --keep-model or --older-than (or both)")]
    NothingToDo,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> MaintenanceError + '_ {
    move |source| MaintenanceError::Io { path: path.display().to_string(), source }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    Entry,
    Temp,
    Corrupt,
    /// An entry, temp or corrupt name on something that is not a regular file.
    NotRegular,
    Other,
}

#[derive(Debug, Clone)]
pub struct CacheFile {
    pub path: PathBuf,
    pub kind: FileKind,
    pub bytes: u64,
    pub modified: SystemTime,
    /// What the listing saw (`lstat`): removal checks the path still names this file.
    pub id: FileId,
    /// "a FIFO", "a symbolic link", ... for a file that is not a regular one.
    pub special: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BadFile {
    pub path: String,
    pub reason: String,
}

/// One namespace folder and what its `fingerprint.json` says (or why it cannot be read).
#[derive(Debug, Clone)]
pub struct NamespaceDir {
    pub id: String,
    pub dir: PathBuf,
    pub fingerprint: Result<Fingerprint, String>,
}

/// The namespace folders of a cache, sorted by id. A missing cache folder is an error; a cache without any
/// entry yet has no namespaces.
pub fn namespaces(cache: &Path) -> Result<Vec<NamespaceDir>, MaintenanceError> {
    if !cache.is_dir() {
        return Err(MaintenanceError::NoCache(cache.display().to_string()));
    }
    let root = cache.join(LAYOUT_VERSION);
    let listing = match fs::read_dir(&root) {
        Ok(l) => l,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(&root)(e)),
    };
    let mut out = Vec::new();
    for e in listing {
        let e = e.map_err(io_err(&root))?;
        if !e.file_type().map_err(io_err(&root))?.is_dir() {
            continue;
        }
        let id = e.file_name().to_string_lossy().into_owned();
        let dir = e.path();
        out.push(NamespaceDir { fingerprint: read_fingerprint(&dir, &id), id, dir });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

fn read_fingerprint(dir: &Path, id: &str) -> Result<Fingerprint, String> {
    let path = dir.join("fingerprint.json");
    let (text, _) = readfile::read_regular(&path, 1 << 20, Symlinks::Follow)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let fp: Fingerprint =
        serde_json::from_slice(&text).map_err(|e| format!("{} is not a fingerprint: {e}", path.display()))?;
    if fp.id() != id {
        return Err(format!("{} describes namespace {}, not {id}", path.display(), fp.id()));
    }
    Ok(fp)
}

fn classify(name: &str, fan: Option<&str>) -> FileKind {
    if name.starts_with('.') && name.ends_with(".tmp") {
        return FileKind::Temp;
    }
    if let Some(id) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".corrupt")) {
        if entry_key(id).is_some() {
            return FileKind::Corrupt;
        }
    }
    match (fan, entry_key(name)) {
        (Some(fan), Some(id)) if id[..2] == *fan => FileKind::Entry,
        _ => FileKind::Other,
    }
}

fn is_fan_name(name: &str) -> bool {
    name.len() == 2 && name.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The listing's view of one folder entry (`lstat`: a symbolic link is seen as one, not followed).
fn file_of(e: &fs::DirEntry, kind: FileKind) -> Option<CacheFile> {
    let m = e.metadata().ok()?;
    let special = (!m.is_file()).then(|| readfile::kind_name(m.file_type()));
    let kind = if special.is_some() && kind != FileKind::Other { FileKind::NotRegular } else { kind };
    Some(CacheFile {
        path: e.path(),
        kind,
        bytes: m.len(),
        modified: m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        id: FileId::of(&m),
        special,
    })
}

/// Every file of a namespace (except `fingerprint.json`), the fan-out folders listed in parallel.
pub fn scan(ns: &NamespaceDir) -> Result<Vec<CacheFile>, MaintenanceError> {
    let mut fans = Vec::new();
    let mut files = Vec::new();
    for e in fs::read_dir(&ns.dir).map_err(io_err(&ns.dir))? {
        let e = e.map_err(io_err(&ns.dir))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().map_err(io_err(&ns.dir))?.is_dir() {
            if is_fan_name(&name) {
                fans.push((name, e.path()));
            } else {
                files.extend(file_of(&e, FileKind::Other));
            }
        } else if name != "fingerprint.json" {
            files.extend(file_of(&e, classify(&name, None)));
        }
    }
    let per_fan: Vec<Result<Vec<CacheFile>, MaintenanceError>> = fans
        .par_iter()
        .map(|(fan, dir)| {
            let mut out = Vec::new();
            for e in fs::read_dir(dir).map_err(io_err(dir))? {
                let e = e.map_err(io_err(dir))?;
                let name = e.file_name().to_string_lossy().into_owned();
                let kind = classify(&name, Some(fan));
                out.extend(file_of(&e, kind));
            }
            Ok(out)
        })
        .collect();
    for f in per_fan {
        files.extend(f?);
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// `2024-06-01T12:00:00Z` (UTC, whole seconds).
pub fn format_utc(t: SystemTime) -> String {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// `45s`, `90m`, `12h`, `30d`, `2w`.
pub fn parse_duration(s: &str) -> Result<Duration, MaintenanceError> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| MaintenanceError::Duration(s.to_string()))?;
    let secs = match unit.trim() {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(MaintenanceError::Duration(s.to_string())),
    };
    n.checked_mul(secs).map(Duration::from_secs).ok_or_else(|| MaintenanceError::Duration(s.to_string()))
}

fn older_than(f: &CacheFile, age: Duration, now: SystemTime) -> bool {
    now.duration_since(f.modified).is_ok_and(|a| a > age)
}

/// What [`remove_if_unchanged`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    Removed,
    /// The path names another file than the one examined (a writer renamed a new copy over it): kept.
    Changed,
    /// Nothing at the path any more.
    Gone,
}

/// Removes `path` only if it is still the file `id` describes. The path is first renamed aside (atomically,
/// to a hidden temp name in the same folder), then the renamed file is compared with `id`: the examined file
/// is deleted; any other file (renamed over the path between the examination and now) is renamed back. So a
/// good copy that replaced a bad entry is never deleted, however the two race. (A crash between the two
/// renames leaves the file under its temp name: stale debris an hour later, as a crashed writer's.)
pub fn remove_if_unchanged(path: &Path, id: &FileId) -> io::Result<Removal> {
    let aside = fsutil::temp_path_for(path);
    Ok(match readfile::rename_if_unchanged(path, &aside, id)? {
        Renamed::Moved => {
            fs::remove_file(&aside)?;
            Removal::Removed
        }
        Renamed::Changed => Removal::Changed,
        Renamed::Gone => Removal::Gone,
    })
}

#[cfg(test)]
mod tests;
