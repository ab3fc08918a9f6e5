//! `cache verify [--fix]`: read every entry and say which are bad; with `--fix`, remove exactly those.
//!
//! What counts as bad is decided only from what was read: a file whose bytes fail the zstd checksum, the
//! `.npy` header, the store's dtype, the namespace's shape (the one recorded in `fingerprint.json`; for a
//! namespace written before shapes were recorded, the one most of its entries have) or the entry's identity
//! (it must name the key and namespace it is stored under), an empty file, or one larger than any entry of
//! the namespace can be. Entries written before entries carried an identity are counted as `unbound`. Anything that could not be read says nothing about its contents: an I/O error
//! (EACCES, EIO, ...) is reported as unreadable and never removed, and a file that is not a regular file (a
//! FIFO, a device, a directory, a symbolic link) is reported and never opened (opening a FIFO would block).
//!
//! Each entry is opened once and read from that handle; its identity (device, inode, size, modification time)
//! comes from the same handle, and `--fix` removes the path only while it still names that file
//! ([`super::remove_if_unchanged`]): an entry replaced by a good copy after it was checked stays.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rayon::prelude::*;
use serde::Serialize;

use super::{
    namespaces, older_than, remove_if_unchanged, scan, BadFile, CacheFile, FileKind, MaintenanceError, NamespaceDir,
    Removal, STALE_TEMP,
};
use crate::cache::entry::{self, Binding, Expect, Identity};
use crate::cache::readfile::{self, FileId, ReadError, Symlinks};
use crate::cache::{entry_key, max_entry_len, NamespaceFile, StoreMode};
use crate::fsutil::failpoint;
use crate::progress::{Progress, ProgressMode};

#[derive(Debug, Clone)]
pub struct VerifyOptions {
    pub cache: PathBuf,
    /// Only the namespaces of this model (its SHA-256); all namespaces when None.
    pub model_sha256: Option<String>,
    /// Remove bad entries, stale temp files and moved-aside corrupt entries.
    pub fix: bool,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct VerifyReport {
    pub namespaces: usize,
    pub checked: u64,
    pub ok: u64,
    /// Of the `ok` entries, those without identity (written before entries carried one): read unchecked.
    pub unbound: u64,
    /// Entries that were read and fail verification.
    pub bad: Vec<BadFile>,
    /// Entries that could not be read (an I/O error such as EACCES): not known to be bad, never removed.
    pub unreadable: Vec<BadFile>,
    /// Files with a cache file's name that are not regular files: never opened, never removed.
    pub not_regular: Vec<BadFile>,
    /// Namespaces whose fingerprint.json cannot be read (not fixable by `--fix`).
    pub bad_namespaces: Vec<BadFile>,
    pub stale_temp_files: Vec<String>,
    pub corrupt_files: Vec<String>,
    pub other_files: Vec<String>,
    /// Files `--fix` removed.
    pub removed: u64,
    /// Files `--fix` left because the path names another file than the one checked (a new copy).
    pub changed: Vec<String>,
    /// Files `--fix` could not remove.
    pub remove_errors: Vec<BadFile>,
}

impl VerifyReport {
    /// Something bad or unverified remains: bad entries not removed (no `--fix`, or a removal failed), entries
    /// that could not be read, files that are not regular files, or a bad namespace.
    pub fn failed(&self, fixed: bool) -> bool {
        !self.remove_errors.is_empty()
            || !self.bad_namespaces.is_empty()
            || !self.unreadable.is_empty()
            || !self.not_regular.is_empty()
            || (!fixed && !self.bad.is_empty())
    }
}

/// What reading one entry showed.
enum Checked {
    /// Decoded: its [rows, tracks] (checked against the namespace's majority shape afterwards when none is
    /// recorded) and whether it carried an identity.
    Decoded([usize; 2], bool, FileId),
    /// Read and proven bad.
    Bad(String, FileId),
    /// Not read: says nothing about the contents.
    Unreadable(String),
    NotRegular(&'static str),
    /// Removed since the listing (by a reader moving it aside, or gc).
    Vanished,
}

/// What an entry of a namespace must be.
struct Expected<'a> {
    store: Option<StoreMode>,
    /// The namespace's recorded output shape (fingerprint.json's `output_shape`) as the decoder checks it;
    /// any shape in a namespace written before shapes were recorded.
    shape: Expect,
    namespace: &'a str,
    binding: Binding,
}

/// Opens one entry once, reads it from that handle (no more than any entry of `store` can be) and decodes it
/// (checksum, `.npy` header, dtype of the store, shape, identity).
fn check_entry(path: &Path, want: &Expected) -> Checked {
    let (file, meta) = match readfile::open_regular(path, Symlinks::Refuse) {
        Ok(opened) => opened,
        Err(ReadError::NotFound) => return Checked::Vanished,
        Err(ReadError::NotRegular(kind)) => return Checked::NotRegular(kind),
        Err(e) => return Checked::Unreadable(e.to_string()),
    };
    let id = FileId::of(&meta);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let identity = Identity { seq_id: entry_key(name).unwrap_or(name), namespace: want.namespace };
    let stores = match want.store {
        Some(s) => vec![s],
        None => vec![StoreMode::Float32, StoreMode::Float16, StoreMode::Summary],
    };
    let max = stores.iter().map(|&s| max_entry_len(s, want.shape)).max().unwrap_or(0);
    let bytes = match readfile::read_opened(file, &meta, max) {
        Ok(b) => b,
        Err(e @ ReadError::TooLarge { .. }) => return Checked::Bad(e.to_string(), id),
        Err(e) => return Checked::Unreadable(e.to_string()),
    };
    if bytes.is_empty() {
        return Checked::Bad("empty file (a failed write)".into(), id);
    }
    let mut last = String::new();
    for s in stores {
        match entry::decode_expecting(&bytes, s, want.shape, &identity, want.binding) {
            Ok(d) => return Checked::Decoded(d.shape, d.bound, id),
            Err(e) => last = e.to_string(),
        }
    }
    Checked::Bad(last, id)
}

/// The [rows, tracks] most decoded entries have (as their `.npy` headers say), ties to the smaller shape so
/// that the answer does not depend on the listing order; None when no entry decoded.
fn majority_shape(results: &[Checked]) -> Option<[usize; 2]> {
    let mut counts: HashMap<[usize; 2], usize> = HashMap::new();
    for r in results {
        if let Checked::Decoded(s, _, _) = r {
            *counts.entry(*s).or_default() += 1;
        }
    }
    counts.into_iter().max_by_key(|(s, n)| (*n, std::cmp::Reverse(*s))).map(|(s, _)| s)
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
    // What --fix removes: each path with the identity of the file that was examined there.
    let mut to_remove: Vec<(PathBuf, FileId)> = Vec::new();
    for (ns, files) in selected.iter().zip(&scanned) {
        let file = NamespaceFile::read(&ns.dir);
        let recorded = file.as_ref().and_then(|f| f.output_shape);
        let want = Expected {
            store: ns.fingerprint.as_ref().ok().map(|fp| fp.store),
            shape: recorded.map_or(Expect::default(), |[bins, tracks]| Expect::exact(bins, tracks)),
            namespace: &ns.id,
            binding: file.as_ref().map_or(Binding::Optional, NamespaceFile::binding),
        };
        if let Err(e) = &ns.fingerprint {
            report.bad_namespaces.push(BadFile {
                path: ns.dir.join("fingerprint.json").display().to_string(),
                reason: format!("{e}; the entries are checked against every store mode"),
            });
        }
        let entries: Vec<&CacheFile> = files.iter().filter(|f| f.kind == FileKind::Entry).collect();
        let results: Vec<Checked> = entries
            .par_iter()
            .map(|f| {
                let r = check_entry(&f.path, &want);
                progress.inc(1);
                r
            })
            .collect();
        // With a recorded shape, the decoder held every entry to it: a decoded entry has it, however many
        // entries have another. Only a namespace older than recorded shapes falls back on its entries' majority.
        let common = if recorded.is_some() { None } else { majority_shape(&results) };
        for (f, r) in entries.iter().zip(results) {
            let shown = f.path.display().to_string();
            let (reason, id) = match r {
                Checked::Vanished => continue,
                Checked::NotRegular(kind) => {
                    let reason = format!("{kind}, not a regular file: not read, left in place (remove it by hand)");
                    report.not_regular.push(BadFile { path: shown, reason });
                    continue;
                }
                Checked::Unreadable(e) => {
                    report.checked += 1;
                    let reason = format!("{e}; not verified, so not removed (an I/O error is not corruption)");
                    report.unreadable.push(BadFile { path: shown, reason });
                    continue;
                }
                Checked::Decoded(s, bound, _) if common.is_none_or(|c| c == s) => {
                    report.checked += 1;
                    report.ok += 1;
                    report.unbound += u64::from(!bound);
                    continue;
                }
                Checked::Decoded(s, _, id) => {
                    let c = common.unwrap_or_default();
                    (format!("shape [{}, {}] where this namespace's entries are [{}, {}]", s[0], s[1], c[0], c[1]), id)
                }
                Checked::Bad(reason, id) => (reason, id),
            };
            report.checked += 1;
            report.bad.push(BadFile { path: shown, reason });
            to_remove.push((f.path.clone(), id));
        }
        for f in files {
            let shown = f.path.display().to_string();
            match f.kind {
                FileKind::Temp if older_than(f, STALE_TEMP, now) => {
                    report.stale_temp_files.push(shown);
                    to_remove.push((f.path.clone(), f.id));
                }
                FileKind::Corrupt => {
                    report.corrupt_files.push(shown);
                    to_remove.push((f.path.clone(), f.id));
                }
                FileKind::NotRegular => {
                    let kind = f.special.unwrap_or("a special file");
                    let reason = format!("{kind}, not a regular file: not read, left in place (remove it by hand)");
                    report.not_regular.push(BadFile { path: shown, reason });
                }
                FileKind::Other => report.other_files.push(shown),
                _ => {}
            }
        }
    }
    progress.finish();
    if opts.fix {
        for (path, id) in to_remove {
            failpoint::pause("verify-before-remove");
            match remove_if_unchanged(&path, &id) {
                Ok(Removal::Removed) => report.removed += 1,
                Ok(Removal::Gone) => {}
                Ok(Removal::Changed) => report.changed.push(path.display().to_string()),
                Err(e) => {
                    report.remove_errors.push(BadFile { path: path.display().to_string(), reason: e.to_string() })
                }
            }
        }
    }
    Ok(report)
}
