//! `cache import-legacy`: the legacy tool's `{seq_id}.pkl.gz` entries into one namespace of our cache.
//!
//! The key is kept (it is the same SHA-256 of the same window), every array's shape is checked against the
//! model's output for the namespace's head, and the entry is written in the namespace's store mode by the
//! same encoder `predict` uses, atomically. Entries already in the namespace are skipped (so an interrupted
//! import resumes), unreadable files are skipped and reported, in parallel.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use serde::Serialize;

use super::legacy::{self, LegacyCache, LegacyError};
use super::maintenance::BadFile;
use super::{entry, Cache, CacheError, Fingerprint};
use crate::progress::{Progress, ProgressMode};
use crate::window::OutputGeometry;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Legacy(#[from] LegacyError),
    #[error("cannot list {path}: {source}")]
    List { path: String, source: io::Error },
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error("cannot write {path}: {source}")]
    Summary { path: String, source: io::Error },
    #[error("{0}")]
    Geometry(String),
}

#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The legacy folder (read only).
    pub from: PathBuf,
    pub cache: PathBuf,
    pub fingerprint: Fingerprint,
    /// The model's output shape for the fingerprint's head (from its ONNX contract).
    pub bins: usize,
    pub tracks: usize,
    /// Centre bins summed by `summary` entries (as `predict --center-bins`).
    pub center_bins: usize,
    /// JSON report file.
    pub summary: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct ImportReport {
    pub legacy_files: u64,
    pub imported: u64,
    pub skipped_existing: u64,
    pub failed: u64,
    /// Files in the folder that are not `{64 hex}.pkl.gz` (not read).
    pub ignored: u64,
    pub failures: Vec<BadFile>,
    pub ignored_files: Vec<String>,
    pub cache_namespace: String,
}

enum Outcome {
    Imported,
    Existing,
    Failed(BadFile),
}

pub fn import_legacy(opts: &ImportOptions, mode: ProgressMode) -> Result<ImportReport, ImportError> {
    let legacy = LegacyCache::open(&opts.from)?;
    let ns = Cache::open(&opts.cache)?.namespace(&opts.fingerprint);
    let (entries, others) =
        legacy.list().map_err(|source| ImportError::List { path: opts.from.display().to_string(), source })?;
    let (bins, tracks, head) = (opts.bins, opts.tracks, opts.fingerprint.head.as_str());
    let store = opts.fingerprint.store;
    let center = OutputGeometry::new(opts.fingerprint.window, bins)
        .map_err(ImportError::Geometry)?
        .center_bins(opts.center_bins);
    ns.record_output_shape(bins, tracks)?;
    let progress = Progress::new(mode, "cache import-legacy", "entries", Some(entries.len() as u64));
    let counts = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];
    let outcomes: Vec<Outcome> = entries
        .par_iter()
        .map(|(id, path)| {
            let outcome = if ns.contains(id) {
                Outcome::Existing
            } else {
                let written = legacy::read_file(path, head, bins, tracks)
                    .map_err(|e| e.to_string())
                    .and_then(|a| {
                        entry::encode(store, &a.data, bins, tracks, center.clone(), &ns.identity(id))
                            .map_err(|e| e.to_string())
                    })
                    .and_then(|bytes| ns.write_entry(id, &bytes).map_err(|e| e.to_string()));
                match written {
                    Ok(_) => Outcome::Imported,
                    Err(reason) => Outcome::Failed(BadFile { path: path.display().to_string(), reason }),
                }
            };
            let slot = match outcome {
                Outcome::Imported => 0,
                Outcome::Existing => 1,
                Outcome::Failed(_) => 2,
            };
            counts[slot].fetch_add(1, Ordering::Relaxed);
            let [i, s, f] = counts.each_ref().map(|c| c.load(Ordering::Relaxed));
            progress.set_message(format!("imported {i}, already cached {s}, failed {f}"));
            progress.inc(1);
            outcome
        })
        .collect();
    progress.finish();
    let mut report = ImportReport {
        legacy_files: entries.len() as u64,
        ignored: others.len() as u64,
        ignored_files: others.iter().map(|p| p.display().to_string()).collect(),
        cache_namespace: ns.dir().display().to_string(),
        ..Default::default()
    };
    for o in outcomes {
        match o {
            Outcome::Imported => report.imported += 1,
            Outcome::Existing => report.skipped_existing += 1,
            Outcome::Failed(b) => report.failures.push(b),
        }
    }
    report.failed = report.failures.len() as u64;
    if let Some(path) = &opts.summary {
        let json = serde_json::to_vec_pretty(&report).unwrap_or_default();
        crate::fsutil::write_atomic(path, &json)
            .map_err(|source| ImportError::Summary { path: path.display().to_string(), source })?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::entry::{Decoded, EntryData, Expect};
    use crate::cache::{Lookup, NEncoding, StoreMode};
    use crate::window::seq_id;
    use std::io::Write;

    /// A protocol-4 pickle of a C-ordered float32 array, as numpy writes it (via `_reconstruct` + BUILD).
    fn pickle_f32(shape: &[usize], data: &[f32]) -> Vec<u8> {
        let mut p = b"\x80\x04\x8c\x16numpy._core.multiarray\x94\x8c\x0c_reconstruct\x94\x93\x94".to_vec();
        p.extend_from_slice(b"\x8c\x05numpy\x94\x8c\x07ndarray\x94\x93\x94K\x00\x85\x94C\x01b\x94\x87\x94R\x94(K\x01");
        p.push(b'(');
        for d in shape {
            p.push(b'J');
            p.extend_from_slice(&(*d as i32).to_le_bytes());
        }
        p.push(b't');
        p.extend_from_slice(b"h\x03\x8c\x05dtype\x94\x93\x94\x8c\x02f4\x94\x89\x88\x87\x94R\x94(K\x03\x8c\x01<\x94NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t\x94b\x89");
        let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        p.push(b'B');
        p.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        p.extend_from_slice(&bytes);
        p.extend_from_slice(b"t\x94b.");
        p
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn imports_skips_existing_and_reports_failures() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("legacy");
        std::fs::create_dir(&from).unwrap();
        let (bins, tracks) = (8, 3);
        let out: Vec<f32> = (0..24).map(|i| i as f32 * 0.5 - 3.0).collect();
        let ids: Vec<String> = (0..4).map(|i| seq_id(format!("w{i}").as_bytes())).collect();
        std::fs::write(from.join(format!("{}.pkl.gz", ids[0])), gz(&pickle_f32(&[bins, tracks], &out))).unwrap();
        std::fs::write(from.join(format!("{}.pkl.gz", ids[1])), gz(&pickle_f32(&[1, bins, tracks], &out))).unwrap();
        std::fs::write(from.join(format!("{}.pkl.gz", ids[2])), gz(&pickle_f32(&[bins, 2], &out[..16]))).unwrap();
        std::fs::write(from.join(format!("{}.pkl.gz", ids[3])), b"\x1f\x8b truncated").unwrap();
        std::fs::write(from.join("README"), b"not an entry").unwrap();
        let fp = Fingerprint::new("ab".repeat(32), "human", NEncoding::Zeros, 196_608, StoreMode::Float32);
        let opts = ImportOptions {
            from: from.clone(),
            cache: dir.path().join("cache"),
            fingerprint: fp.clone(),
            bins,
            tracks,
            center_bins: 2,
            summary: Some(dir.path().join("import.json")),
        };
        let r = import_legacy(&opts, ProgressMode::Quiet).unwrap();
        assert_eq!((r.legacy_files, r.imported, r.skipped_existing, r.failed, r.ignored), (4, 2, 0, 2, 1));
        assert!(r.failures.iter().any(|f| f.path.contains(&ids[2]) && f.reason.contains("[8, 2]")), "{r:?}");
        assert!(r.failures.iter().any(|f| f.path.contains(&ids[3])), "{r:?}");
        let ns = Cache::open(&opts.cache).unwrap().namespace(&fp);
        for id in &ids[..2] {
            let Lookup::Hit(Decoded { data: EntryData::Full(got), shape: [8, 3], bound: true }) =
                ns.read_entry(id, Expect::exact(bins, tracks))
            else {
                panic!("{id} not imported")
            };
            assert_eq!(*got, out[..]);
        }
        let again = import_legacy(&opts, ProgressMode::Quiet).unwrap();
        assert_eq!((again.imported, again.skipped_existing, again.failed), (0, 2, 2), "resumable");
        let written: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("import.json")).unwrap()).unwrap();
        assert_eq!((written["imported"].as_u64(), written["skipped_existing"].as_u64()), (Some(0), Some(2)));
    }
}
