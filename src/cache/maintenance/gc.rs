//! `cache gc`: remove the namespaces of other models, old entries, and the debris of crashed writers.

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::{
    namespaces, older_than, remove_if_unchanged, scan, BadFile, CacheFile, FileKind, MaintenanceError, NamespaceDir,
    Removal, STALE_TEMP,
};

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
    // Only the file that was examined goes: one renamed over the path since (a new copy) stays.
    let remove = |f: &CacheFile, report: &mut GcReport| -> bool {
        if opts.dry_run {
            return true;
        }
        match remove_if_unchanged(&f.path, &f.id) {
            Ok(Removal::Removed) => true,
            Ok(Removal::Changed | Removal::Gone) => false,
            Err(e) => {
                report.errors.push(BadFile { path: f.path.display().to_string(), reason: e.to_string() });
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
                FileKind::Other | FileKind::NotRegular => (false, |r| &mut r.entries_removed),
            };
            if go && remove(f, &mut report) {
                *counter(&mut report) += 1;
                report.bytes_freed += f.bytes;
            }
        }
    }
    Ok(report)
}
