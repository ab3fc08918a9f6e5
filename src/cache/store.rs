//! Where a window's prediction is found: our namespace first, else the legacy tool's folder when one is given.
//!
//! One type answers "which of these keys are there" and "read this one" for both, so that check-cache, merge
//! and run agree on what counts as cached, and a legacy entry is held to the namespace's shape and converted
//! to what an entry of its store mode holds in one place. Problems met while reading (a corrupt entry moved
//! aside, an unreadable legacy file, entries without identity) are collected as warnings, not printed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::entry::{EntryData, Expect, ReadBuffers, SUMMARY_ROWS};
use super::legacy::LegacyCache;
use super::{Lookup, Namespace};
use crate::window::OutputGeometry;

/// Where a key's entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Ours,
    Legacy,
    Absent,
}

/// At most this many problems are kept word for word; the rest are counted.
const MAX_KEPT: usize = 20;

#[derive(Debug)]
pub struct Store {
    ns: Namespace,
    legacy: Option<LegacyCache>,
    /// Centre bins that summary entries converted from legacy arrays sum over (when the namespace does not fix it).
    center_bins: usize,
    unbound: AtomicU64,
    problems: Mutex<(Vec<String>, usize)>,
}

impl Store {
    pub fn new(ns: Namespace, legacy: Option<LegacyCache>, center_bins: usize) -> Store {
        Store { ns, legacy, center_bins, unbound: AtomicU64::new(0), problems: Mutex::default() }
    }

    pub fn namespace(&self) -> &Namespace {
        &self.ns
    }

    pub fn legacy(&self) -> Option<&LegacyCache> {
        self.legacy.as_ref()
    }

    /// Existence checks only (no read), ours first.
    pub fn locate_many(&self, ids: &[&str]) -> Vec<Source> {
        let ours = self.ns.contains_many(ids);
        let mut found: Vec<Source> = ours.iter().map(|&o| if o { Source::Ours } else { Source::Absent }).collect();
        if let Some(legacy) = &self.legacy {
            let absent: Vec<usize> = (0..ids.len()).filter(|&i| !ours[i]).collect();
            let names: Vec<&str> = absent.iter().map(|&i| ids[i]).collect();
            for (i, there) in absent.into_iter().zip(legacy.contains_many(&names)) {
                if there {
                    found[i] = Source::Legacy;
                }
            }
        }
        found
    }

    /// Our verified entry; when it is missing (or corrupt: moved aside) and a legacy folder is given, the legacy
    /// entry, checked against `expect` and converted to what an entry of the namespace's store mode holds.
    /// None means the window cannot be scored; why is kept for [`Store::warnings`].
    pub fn read(&self, id: &str, expect: Expect) -> Option<(EntryData, [usize; 2])> {
        self.read_with(id, expect, &mut ReadBuffers::default())
    }

    /// [`Store::read`] reusing `buffers` (one per thread) for our entries.
    pub fn read_with(&self, id: &str, expect: Expect, buffers: &mut ReadBuffers) -> Option<(EntryData, [usize; 2])> {
        match self.ns.read_entry_with(id, expect, buffers) {
            Lookup::Hit(d) => {
                if !d.bound {
                    self.unbound.fetch_add(1, Ordering::Relaxed);
                }
                return Some((d.data, d.shape));
            }
            Lookup::Corrupt(msg) => self.note(msg),
            Lookup::Missing => {}
        }
        let legacy = self.legacy.as_ref().filter(|l| l.contains(id))?;
        match self.read_legacy(legacy, id, expect) {
            Ok(v) => Some(v),
            Err(msg) => {
                self.note(format!(
                    "{msg}; not used. fix: move it out of {} (check-cache counts it as cached), or run `enformer-vep cache import-legacy`, which lists every unreadable legacy entry",
                    legacy.dir().display()
                ));
                None
            }
        }
    }

    fn read_legacy(&self, legacy: &LegacyCache, id: &str, expect: Expect) -> Result<(EntryData, [usize; 2]), String> {
        let fp = self.ns.fingerprint();
        let a = match (expect.bins, expect.tracks) {
            (Some(bins), Some(tracks)) => legacy.read_expecting(id, &fp.head, bins, tracks).map_err(|e| e.to_string()),
            _ => legacy.read(id, &fp.head),
        }?;
        let named = |e: &dyn std::fmt::Display| format!("legacy entry {}: {e}", legacy.path(id).display());
        let (bins, tracks) = (expect.bins.unwrap_or(a.bins), expect.tracks.unwrap_or(a.tracks));
        let a = a.expect_shape(&fp.head, bins, tracks).map_err(|e| named(&e))?;
        let center = OutputGeometry::new(fp.window, a.bins)
            .map_err(|e| named(&e))?
            .center_bins(fp.summary_center_bins.unwrap_or(self.center_bins));
        let data = a.to_entry_data(fp.store, center).map_err(|e| named(&e))?;
        let rows = if matches!(data, EntryData::Summary(_)) { SUMMARY_ROWS } else { a.bins };
        Ok((data, [rows, a.tracks]))
    }

    fn note(&self, msg: String) {
        if let Ok(mut p) = self.problems.lock() {
            if p.0.len() < MAX_KEPT {
                p.0.push(msg);
            } else {
                p.1 += 1;
            }
        }
    }

    /// What the reads so far met, as warnings for the user.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Ok(p) = self.problems.lock() {
            out.extend(p.0.iter().cloned());
            if p.1 > 0 {
                out.push(format!("... and {} more unusable cache entries", p.1));
            }
        }
        let unbound = self.unbound.load(Ordering::Relaxed);
        if unbound > 0 {
            out.push(format!(
                "{unbound} entries of {} were written before entries carried their key and namespace, so they were read without that check; `enformer-vep cache verify` counts them, and removing them (they are recomputed) makes the cache fully checked",
                self.ns.dir().display()
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{entry, Cache, Fingerprint, NEncoding, StoreMode};
    use crate::window::seq_id;

    #[test]
    fn ours_first_then_legacy_and_problems_are_kept_as_warnings() {
        let dir = tempfile::tempdir().unwrap();
        let fp = Fingerprint::new("ab".repeat(32), "human", NEncoding::Zeros, 2048, StoreMode::Float32);
        let ns = Cache::open(&dir.path().join("c")).unwrap().namespace(&fp);
        let legacy_dir = dir.path().join("legacy");
        std::fs::create_dir(&legacy_dir).unwrap();
        let ids: Vec<String> = (0..4).map(|i| seq_id(format!("w{i}").as_bytes())).collect();
        let out: Vec<f32> = (0..48).map(|i| i as f32).collect();
        ns.write_entry(&ids[0], &entry::encode(StoreMode::Float32, &out, 16, 3, 7..9, &ns.identity(&ids[0])).unwrap())
            .unwrap();
        // ids[1]: our entry is another key's (copied by hand); the legacy folder has garbage for it.
        ns.write_entry(&ids[1], &entry::encode(StoreMode::Float32, &out, 16, 3, 7..9, &ns.identity(&ids[0])).unwrap())
            .unwrap();
        std::fs::write(legacy_dir.join(format!("{}.pkl.gz", ids[1])), b"not gzip").unwrap();
        std::fs::write(legacy_dir.join(format!("{}.pkl.gz", ids[2])), b"not gzip").unwrap();
        let store = Store::new(ns, Some(LegacyCache::open(&legacy_dir).unwrap()), 2);
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        assert_eq!(store.locate_many(&refs), [Source::Ours, Source::Ours, Source::Legacy, Source::Absent]);
        let expect = Expect::exact(16, 3);
        assert_eq!(store.read(&ids[0], expect).map(|(_, s)| s), Some([16, 3]));
        assert!(store.read(&ids[1], expect).is_none());
        assert!(store.read(&ids[3], expect).is_none());
        let w = store.warnings();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains(&format!("entry of seq_id {}", ids[0])) && w[0].contains("moved aside"), "{w:?}");
        assert!(w[1].contains("legacy entry") && w[1].contains("not used"), "{w:?}");
    }

    /// An entry as versions before identities wrote it: the same array, nothing after it.
    fn unbound(bytes: &[u8]) -> Vec<u8> {
        let raw = zstd::bulk::decompress(bytes, 1 << 20).unwrap();
        let at = raw.windows(19).position(|w| w == b"#enformer-vep-entry").unwrap();
        let mut c = zstd::bulk::Compressor::new(1).unwrap();
        c.include_checksum(true).unwrap();
        c.include_contentsize(true).unwrap();
        c.compress(&raw[..at]).unwrap()
    }

    #[test]
    fn entries_without_identity_are_read_with_a_warning_only_in_a_namespace_older_than_identities() {
        let dir = tempfile::tempdir().unwrap();
        let out: Vec<f32> = (0..48).map(|i| i as f32).collect();
        let id = seq_id(b"old");
        for (old, model) in [(true, "ab"), (false, "cd")] {
            let fp = Fingerprint::new(model.repeat(32), "human", NEncoding::Zeros, 2048, StoreMode::Float32);
            let ns = Cache::open(dir.path()).unwrap().namespace(&fp);
            let bytes = entry::encode(StoreMode::Float32, &out, 16, 3, 7..9, &ns.identity(&id)).unwrap();
            ns.write_entry(&id, &unbound(&bytes)).unwrap();
            if old {
                // What fingerprint.json held before: the fingerprint's fields only.
                std::fs::write(ns.dir().join("fingerprint.json"), serde_json::to_vec(&fp).unwrap()).unwrap();
            }
            let store = Store::new(ns, None, 2);
            let read = store.read(&id, Expect::exact(16, 3));
            let w = store.warnings();
            if old {
                assert_eq!(read.map(|(d, _)| d), Some(EntryData::Full(out.clone().into())));
                assert!(
                    w.len() == 1 && w[0].starts_with("1 entries of ") && w[0].contains("without that check"),
                    "{w:?}"
                );
            } else {
                assert!(read.is_none(), "a namespace created since identities never serves an entry without one");
                assert!(w.len() == 1 && w[0].contains("carries no identity"), "{w:?}");
            }
        }
    }
}
