//! Cache maintenance: `cache stats`, `cache verify` and `cache gc`.
//!
//! A cache holds, per namespace folder `v1/<fingerprint>/`: `fingerprint.json`, entries `<ab>/<seq_id>.npy.zst`,
//! and possibly debris: hidden temp files (`.<name>.<pid>.<n>.<nanos>.tmp`, left by a writer that crashed
//! before its rename) and corrupt entries moved aside by a reader (`.<seq_id>.npy.zst.corrupt`). Anything else
//! is reported as "other" and never touched.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rayon::prelude::*;
use serde::Serialize;

use super::entry::{self, Expect};
use super::{entry_key, Fingerprint, StoreMode, LAYOUT_VERSION};
use crate::progress::{Progress, ProgressMode};

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
    Other,
}

#[derive(Debug, Clone)]
pub struct CacheFile {
    pub path: PathBuf,
    pub kind: FileKind,
    pub bytes: u64,
    pub modified: SystemTime,
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
    let text = fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
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

fn file_of(e: &fs::DirEntry, kind: FileKind) -> Option<CacheFile> {
    let m = e.metadata().ok()?;
    Some(CacheFile { path: e.path(), kind, bytes: m.len(), modified: m.modified().unwrap_or(SystemTime::UNIX_EPOCH) })
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
                let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
                let kind = if is_dir { FileKind::Other } else { classify(&name, Some(fan)) };
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

// ---------------------------------------------------------------------------------------------------------
// stats

#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct NamespaceStats {
    pub id: String,
    pub model_sha256: Option<String>,
    pub head: Option<String>,
    pub store: Option<String>,
    pub n_encoding: Option<String>,
    pub window: Option<usize>,
    pub summary_center_bins: Option<usize>,
    /// Why `fingerprint.json` could not be read (the namespace is then unidentified).
    pub fingerprint_error: Option<String>,
    pub entries: u64,
    pub bytes: u64,
    pub oldest: Option<String>,
    pub newest: Option<String>,
    pub temp_files: u64,
    pub stale_temp_files: u64,
    pub temp_bytes: u64,
    pub corrupt_files: u64,
    pub corrupt_bytes: u64,
    pub other_files: u64,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct CacheStats {
    pub cache: String,
    pub namespaces: Vec<NamespaceStats>,
    pub entries: u64,
    pub bytes: u64,
    pub temp_files: u64,
    pub stale_temp_files: u64,
    pub corrupt_files: u64,
    pub other_files: u64,
}

pub fn stats(cache: &Path) -> Result<CacheStats, MaintenanceError> {
    let now = SystemTime::now();
    let mut out = CacheStats { cache: cache.display().to_string(), ..Default::default() };
    for ns in namespaces(cache)? {
        let files = scan(&ns)?;
        let mut s = NamespaceStats { id: ns.id.clone(), ..Default::default() };
        match &ns.fingerprint {
            Ok(fp) => {
                s.model_sha256 = Some(fp.model_sha256.clone());
                s.head = Some(fp.head.clone());
                s.store = Some(fp.store.as_str().to_string());
                s.n_encoding = Some(fp.n_encoding.as_str().to_string());
                s.window = Some(fp.window);
                s.summary_center_bins = fp.summary_center_bins;
            }
            Err(e) => s.fingerprint_error = Some(e.clone()),
        }
        let (mut oldest, mut newest): (Option<SystemTime>, Option<SystemTime>) = (None, None);
        for f in &files {
            match f.kind {
                FileKind::Entry => {
                    s.entries += 1;
                    s.bytes += f.bytes;
                    oldest = Some(oldest.map_or(f.modified, |o| o.min(f.modified)));
                    newest = Some(newest.map_or(f.modified, |n| n.max(f.modified)));
                }
                FileKind::Temp => {
                    s.temp_files += 1;
                    s.temp_bytes += f.bytes;
                    s.stale_temp_files += u64::from(older_than(f, STALE_TEMP, now));
                }
                FileKind::Corrupt => {
                    s.corrupt_files += 1;
                    s.corrupt_bytes += f.bytes;
                }
                FileKind::Other => s.other_files += 1,
            }
        }
        s.oldest = oldest.map(format_utc);
        s.newest = newest.map(format_utc);
        out.entries += s.entries;
        out.bytes += s.bytes;
        out.temp_files += s.temp_files;
        out.stale_temp_files += s.stale_temp_files;
        out.corrupt_files += s.corrupt_files;
        out.other_files += s.other_files;
        out.namespaces.push(s);
    }
    Ok(out)
}

/// `1.2 GB` (decimal units, as `du --si`).
pub fn human_bytes(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < units.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

impl CacheStats {
    /// The table `cache stats` prints.
    pub fn table(&self) -> String {
        let mut rows = vec![[
            "namespace".to_string(),
            "model".into(),
            "head".into(),
            "store".into(),
            "entries".into(),
            "size".into(),
            "oldest".into(),
            "newest".into(),
        ]];
        for n in &self.namespaces {
            let model = n.model_sha256.as_deref().map(|m| format!("{}…", &m[..m.len().min(12)]));
            rows.push([
                n.id.clone(),
                model.unwrap_or_else(|| "(no fingerprint.json)".into()),
                n.head.clone().unwrap_or_else(|| "?".into()),
                n.store.clone().unwrap_or_else(|| "?".into()),
                n.entries.to_string(),
                human_bytes(n.bytes),
                n.oldest.clone().unwrap_or_else(|| "-".into()),
                n.newest.clone().unwrap_or_else(|| "-".into()),
            ]);
        }
        rows.push([
            "total".into(),
            String::new(),
            String::new(),
            String::new(),
            self.entries.to_string(),
            human_bytes(self.bytes),
            String::new(),
            String::new(),
        ]);
        let widths: Vec<usize> = (0..8).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
        let mut text = String::new();
        for r in &rows {
            let cells: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(c, v)| {
                    let pad = widths[c] - v.chars().count();
                    if c == 4 || c == 5 {
                        format!("{}{v}", " ".repeat(pad))
                    } else {
                        format!("{v}{}", " ".repeat(pad))
                    }
                })
                .collect();
            text.push_str(cells.join("  ").trim_end());
            text.push('\n');
        }
        text.push_str(&format!(
            "temp files: {} ({} older than {} min: debris of crashed writers); corrupt entries moved aside: {}; other files: {}\n",
            self.temp_files,
            self.stale_temp_files,
            STALE_TEMP.as_secs() / 60,
            self.corrupt_files,
            self.other_files
        ));
        text
    }
}

// ---------------------------------------------------------------------------------------------------------
// verify

#[derive(Debug, Clone)]
pub struct VerifyOptions {
    pub cache: PathBuf,
    /// Only the namespaces of this model (its SHA-256); all namespaces when None.
    pub model_sha256: Option<String>,
    /// Remove bad entries, stale temp files and moved-aside corrupt entries.
    pub fix: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BadFile {
    pub path: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct VerifyReport {
    pub namespaces: usize,
    pub checked: u64,
    pub ok: u64,
    /// Entries that fail verification.
    pub bad: Vec<BadFile>,
    /// Namespaces whose fingerprint.json cannot be read (not fixable by `--fix`).
    pub bad_namespaces: Vec<BadFile>,
    pub stale_temp_files: Vec<String>,
    pub corrupt_files: Vec<String>,
    pub other_files: Vec<String>,
    /// Files `--fix` removed.
    pub removed: u64,
    /// Files `--fix` could not remove.
    pub remove_errors: Vec<BadFile>,
}

impl VerifyReport {
    /// Something bad remains: bad entries not removed (no `--fix`, or a removal failed) or a bad namespace.
    pub fn failed(&self, fixed: bool) -> bool {
        !self.remove_errors.is_empty() || !self.bad_namespaces.is_empty() || (!fixed && !self.bad.is_empty())
    }
}

/// Decodes one entry (checksum, `.npy` header, dtype of the store) and returns its [rows, tracks].
fn check_entry(path: &Path, store: Option<StoreMode>) -> Result<[usize; 2], String> {
    let bytes = fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    if bytes.is_empty() {
        return Err("empty file (a failed write)".into());
    }
    let stores = match store {
        Some(s) => vec![s],
        None => vec![StoreMode::Float32, StoreMode::Float16, StoreMode::Summary],
    };
    let mut last = String::new();
    for s in stores {
        match entry::decode_expecting(&bytes, s, Expect::default()) {
            Ok((_, shape)) => return Ok(shape),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

pub fn verify(opts: &VerifyOptions, mode: ProgressMode) -> Result<VerifyReport, MaintenanceError> {
    let now = SystemTime::now();
    let selected: Vec<NamespaceDir> = namespaces(&opts.cache)?
        .into_iter()
        .filter(|ns| match (&opts.model_sha256, &ns.fingerprint) {
            (None, _) => true,
            (Some(want), Ok(fp)) => fp.model_sha256 == *want,
            (Some(_), Err(_)) => false,
        })
        .collect();
    let mut report = VerifyReport { namespaces: selected.len(), ..Default::default() };
    let mut scanned = Vec::new();
    for ns in &selected {
        scanned.push(scan(ns)?);
    }
    let total: u64 = scanned.iter().flatten().filter(|f| f.kind == FileKind::Entry).count() as u64;
    let progress = Progress::new(mode, "cache verify", "entries", Some(total));
    let mut to_remove: Vec<PathBuf> = Vec::new();
    for (ns, files) in selected.iter().zip(&scanned) {
        let store = ns.fingerprint.as_ref().ok().map(|fp| fp.store);
        if let Err(e) = &ns.fingerprint {
            report.bad_namespaces.push(BadFile {
                path: ns.dir.join("fingerprint.json").display().to_string(),
                reason: format!("{e}; the entries are checked against every store mode"),
            });
        }
        let entries: Vec<&CacheFile> = files.iter().filter(|f| f.kind == FileKind::Entry).collect();
        let results: Vec<Result<[usize; 2], String>> = entries
            .par_iter()
            .map(|f| {
                let r = check_entry(&f.path, store);
                progress.inc(1);
                r
            })
            .collect();
        // The namespace's shape is the one most of its entries have; the others are wrong-shape entries.
        let mut counts: HashMap<[usize; 2], usize> = HashMap::new();
        for s in results.iter().flatten() {
            *counts.entry(*s).or_default() += 1;
        }
        let common = counts.into_iter().max_by_key(|(s, n)| (*n, std::cmp::Reverse(*s))).map(|(s, _)| s);
        for (f, r) in entries.iter().zip(results) {
            report.checked += 1;
            let reason = match r {
                Ok(s) if Some(s) == common => {
                    report.ok += 1;
                    continue;
                }
                Ok(s) => {
                    let c = common.unwrap_or_default();
                    format!("shape [{}, {}] where this namespace's entries are [{}, {}]", s[0], s[1], c[0], c[1])
                }
                Err(e) => e,
            };
            report.bad.push(BadFile { path: f.path.display().to_string(), reason });
            to_remove.push(f.path.clone());
        }
        for f in files {
            let shown = f.path.display().to_string();
            match f.kind {
                FileKind::Temp if older_than(f, STALE_TEMP, now) => {
                    report.stale_temp_files.push(shown);
                    to_remove.push(f.path.clone());
                }
                FileKind::Corrupt => {
                    report.corrupt_files.push(shown);
                    to_remove.push(f.path.clone());
                }
                FileKind::Other => report.other_files.push(shown),
                _ => {}
            }
        }
    }
    progress.finish();
    if opts.fix {
        for p in to_remove {
            match fs::remove_file(&p) {
                Ok(()) => report.removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => report.remove_errors.push(BadFile { path: p.display().to_string(), reason: e.to_string() }),
            }
        }
    }
    Ok(report)
}

// ---------------------------------------------------------------------------------------------------------
// gc

#[derive(Debug, Clone)]
pub struct GcOptions {
    pub cache: PathBuf,
    /// SHA-256 of the models whose namespaces are kept; every other namespace is removed. Empty: keep all.
    pub keep_models: Vec<String>,
    /// Remove entries written longer ago than this.
    pub older_than: Option<Duration>,
    pub dry_run: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RemovedNamespace {
    pub id: String,
    pub model_sha256: String,
    pub head: String,
    pub store: String,
    pub entries: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct GcReport {
    pub dry_run: bool,
    pub namespaces_removed: Vec<RemovedNamespace>,
    /// Entries removed for their age (outside removed namespaces).
    pub entries_removed: u64,
    pub temp_files_removed: u64,
    pub corrupt_files_removed: u64,
    /// Everything removed (or, with --dry-run, that would be).
    pub bytes_freed: u64,
    /// Namespaces without a readable fingerprint.json: never removed by --keep-model.
    pub unidentified_namespaces: Vec<String>,
    pub errors: Vec<BadFile>,
}

pub fn gc(opts: &GcOptions) -> Result<GcReport, MaintenanceError> {
    if opts.keep_models.is_empty() && opts.older_than.is_none() {
        return Err(MaintenanceError::NothingToDo);
    }
    let now = SystemTime::now();
    let all = namespaces(&opts.cache)?;
    let kept = |ns: &NamespaceDir| match &ns.fingerprint {
        Ok(fp) => opts.keep_models.is_empty() || opts.keep_models.contains(&fp.model_sha256),
        Err(_) => true,
    };
    let identified_kept = all.iter().filter(|ns| ns.fingerprint.is_ok() && kept(ns)).count();
    if !opts.keep_models.is_empty() && identified_kept == 0 && all.iter().any(|ns| ns.fingerprint.is_ok()) {
        return Err(MaintenanceError::KeepMatchesNothing(opts.keep_models.join(", ")));
    }
    let mut report = GcReport { dry_run: opts.dry_run, ..Default::default() };
    let remove = |path: &Path, report: &mut GcReport| -> bool {
        if opts.dry_run {
            return true;
        }
        match fs::remove_file(path) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => {
                report.errors.push(BadFile { path: path.display().to_string(), reason: e.to_string() });
                false
            }
        }
    };
    for ns in &all {
        if ns.fingerprint.is_err() {
            report.unidentified_namespaces.push(ns.dir.display().to_string());
        }
        let files = scan(ns)?;
        if let (false, Ok(fp)) = (kept(ns), &ns.fingerprint) {
            let entries: Vec<&CacheFile> = files.iter().filter(|f| f.kind == FileKind::Entry).collect();
            let fingerprint_file = fs::metadata(ns.dir.join("fingerprint.json")).map(|m| m.len()).unwrap_or(0);
            let bytes: u64 = files.iter().map(|f| f.bytes).sum::<u64>() + fingerprint_file;
            let removed = opts.dry_run
                || fs::remove_dir_all(&ns.dir)
                    .map_err(|e| {
                        report.errors.push(BadFile { path: ns.dir.display().to_string(), reason: e.to_string() })
                    })
                    .is_ok();
            if removed {
                report.bytes_freed += bytes;
                report.namespaces_removed.push(RemovedNamespace {
                    id: ns.id.clone(),
                    model_sha256: fp.model_sha256.clone(),
                    head: fp.head.clone(),
                    store: fp.store.as_str().to_string(),
                    entries: entries.len() as u64,
                    bytes,
                });
            }
            continue;
        }
        for f in &files {
            let (go, counter): (bool, fn(&mut GcReport) -> &mut u64) = match f.kind {
                FileKind::Entry => {
                    (opts.older_than.is_some_and(|age| older_than(f, age, now)), |r| &mut r.entries_removed)
                }
                FileKind::Temp => (older_than(f, STALE_TEMP, now), |r| &mut r.temp_files_removed),
                FileKind::Corrupt => (true, |r| &mut r.corrupt_files_removed),
                FileKind::Other => (false, |r| &mut r.entries_removed),
            };
            if go && remove(&f.path, &mut report) {
                *counter(&mut report) += 1;
                report.bytes_freed += f.bytes;
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{Cache, NEncoding};
    use crate::window::seq_id;

    #[test]
    fn utc_formatting_and_durations() {
        assert_eq!(format_utc(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400 + 3661); // 2000-02-29 01:01:01
        assert_eq!(format_utc(t), "2000-02-29T01:01:01Z");
        assert_eq!(format_utc(SystemTime::UNIX_EPOCH + Duration::from_secs(1_735_689_599)), "2024-12-31T23:59:59Z");
        assert_eq!(parse_duration("30d").unwrap(), Duration::from_secs(30 * 86_400));
        assert_eq!(parse_duration("12h").unwrap(), Duration::from_secs(12 * 3600));
        assert_eq!(parse_duration("90m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("2w").unwrap(), Duration::from_secs(14 * 86_400));
        for bad in ["", "d", "30", "30 days", "-1d", "1.5h", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(19_000_000), "19.0 MB");
    }

    #[test]
    fn files_are_classified() {
        let id = seq_id(b"A");
        assert_eq!(classify(&format!("{id}.npy.zst"), Some(&id[..2])), FileKind::Entry);
        assert_eq!(classify(&format!("{id}.npy.zst"), Some("00")), FileKind::Other, "wrong fan-out folder");
        assert_eq!(classify(&format!(".{id}.npy.zst.123.0.ff.tmp"), Some(&id[..2])), FileKind::Temp);
        assert_eq!(classify(&format!(".{id}.npy.zst.corrupt"), Some(&id[..2])), FileKind::Corrupt);
        assert_eq!(classify("notes.txt", Some("ab")), FileKind::Other);
        assert_eq!(classify(".fingerprint.json.1.2.3.tmp", None), FileKind::Temp);
    }

    #[test]
    fn stats_verify_and_gc_on_a_small_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let fp = |m: &str, store| Fingerprint::new(m.repeat(32), "human", NEncoding::Zeros, 196_608, store);
        let a = cache.namespace(&fp("aa", StoreMode::Float32));
        let b = cache.namespace(&fp("bb", StoreMode::Summary).with_center_bins(10));
        let out: Vec<f32> = (0..24).map(|i| i as f32).collect();
        let ids: Vec<String> = (0..5).map(|i| seq_id(format!("s{i}").as_bytes())).collect();
        for id in &ids {
            a.write_entry(id, &entry::encode(StoreMode::Float32, &out, 8, 3, 3..5).unwrap()).unwrap();
        }
        b.write_entry(&ids[0], &entry::encode(StoreMode::Summary, &out, 8, 3, 3..5).unwrap()).unwrap();
        // Damage: a wrong-shape entry, a truncated one, a stale temp file, a moved-aside corrupt entry.
        a.write_entry(&ids[3], &entry::encode(StoreMode::Float32, &out, 6, 4, 3..5).unwrap()).unwrap();
        let p4 = a.entry_path(&ids[4]).unwrap();
        let len = fs::metadata(&p4).unwrap().len();
        fs::OpenOptions::new().write(true).open(&p4).unwrap().set_len(len - 3).unwrap();
        let tmp = p4.with_file_name(format!(".{}.npy.zst.1.2.3.tmp", ids[4]));
        fs::write(&tmp, b"partial").unwrap();
        let old = SystemTime::now() - Duration::from_secs(2 * 3600);
        fs::File::options().write(true).open(&tmp).unwrap().set_modified(old).unwrap();
        fs::write(p4.with_file_name(format!(".{}.npy.zst.corrupt", ids[2])), b"bad").unwrap();

        let s = stats(dir.path()).unwrap();
        assert_eq!(s.namespaces.len(), 2);
        assert_eq!((s.entries, s.temp_files, s.stale_temp_files, s.corrupt_files), (6, 1, 1, 1));
        let sa = s.namespaces.iter().find(|n| n.id == a.fingerprint().id()).unwrap();
        assert_eq!(sa.entries, 5);
        let on_disk: u64 = ids.iter().map(|id| fs::metadata(a.entry_path(id).unwrap()).unwrap().len()).sum();
        assert_eq!(sa.bytes, on_disk);
        assert!(s.table().contains("total"));

        let opts = VerifyOptions { cache: dir.path().to_path_buf(), model_sha256: None, fix: false };
        let r = verify(&opts, ProgressMode::Quiet).unwrap();
        assert_eq!((r.checked, r.ok), (6, 4));
        let bad: Vec<&str> = r.bad.iter().map(|b| b.path.as_str()).collect();
        assert!(bad.iter().any(|p| p.contains(&ids[3])) && bad.iter().any(|p| p.contains(&ids[4])), "{bad:?}");
        assert!(r.bad.iter().any(|b| b.reason.contains("shape [6, 4]")), "{:?}", r.bad);
        assert!(r.failed(false));
        assert_eq!((r.stale_temp_files.len(), r.corrupt_files.len()), (1, 1));
        let only_b = VerifyOptions { model_sha256: Some("bb".repeat(32)), ..opts.clone() };
        assert_eq!(verify(&only_b, ProgressMode::Quiet).unwrap().checked, 1);
        let fixed = verify(&VerifyOptions { fix: true, ..opts.clone() }, ProgressMode::Quiet).unwrap();
        assert_eq!(fixed.removed, 4);
        assert!(!fixed.failed(true));
        let again = verify(&opts, ProgressMode::Quiet).unwrap();
        assert_eq!((again.checked, again.ok, again.bad.len()), (4, 4, 0));

        // gc: a dry run removes nothing; --keep-model removes the other namespace.
        let keep_a = GcOptions {
            cache: dir.path().to_path_buf(),
            keep_models: vec!["aa".repeat(32)],
            older_than: None,
            dry_run: true,
        };
        let dry = gc(&keep_a).unwrap();
        assert_eq!(dry.namespaces_removed.len(), 1);
        assert!(b.dir().exists());
        let done = gc(&GcOptions { dry_run: false, ..keep_a.clone() }).unwrap();
        assert_eq!(done.namespaces_removed, dry.namespaces_removed);
        assert!(!b.dir().exists() && a.dir().exists());
        let typo = GcOptions { keep_models: vec!["cc".repeat(32)], ..keep_a };
        assert!(matches!(gc(&typo), Err(MaintenanceError::KeepMatchesNothing(_))));
        assert!(a.dir().exists());
    }
}
