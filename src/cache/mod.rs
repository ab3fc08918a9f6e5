//! The content-addressed prediction cache.
//!
//! Layout (uv-style: versioned, temp-then-rename writes):
//!
//! ```text
//! CACHE/v1/<fingerprint>/fingerprint.json      what the fingerprint stands for (model SHA-256, head, ...)
//! CACHE/v1/<fingerprint>/<ab>/<seq_id>.npy.zst one entry per window; <ab> = first two hex digits of seq_id
//! ```
//!
//! The fingerprint namespaces everything that changes the stored numbers: the ONNX file's SHA-256, the output
//! head, the N encoding, the window length and the store mode. Two models (or one model with `--n-encoding
//! uniform`) never share entries. The key `seq_id` is `sha256(window)` (see [`crate::window`]).

pub mod digest;
pub mod entry;
pub mod fingerprint;
pub mod import;
pub mod legacy;
pub mod maintenance;
pub mod npy;
pub mod pickle;
pub mod readfile;
pub mod store;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

pub use fingerprint::{Fingerprint, NEncoding, StoreMode};

use crate::fsutil;
use crate::window::is_seq_id;

pub const LAYOUT_VERSION: &str = "v1";
pub const ENTRY_EXT: &str = "npy.zst";

/// Room beyond an entry's array for its `.npy` header and any metadata the entry format carries.
const ENTRY_HEADER_SLACK: u64 = 64 * 1024;

/// The largest entry file read when the array's shape is not known: 256 MiB, 13 times an Enformer float32 entry.
pub const MAX_ENTRY_BYTES: u64 = 256 << 20;

/// Entries at least this large (full outputs, 19 MB in float32) are decompressed straight from the page cache
/// through a read-only mapping: reading one into a buffer first was one more pass over its bytes, a quarter of
/// the CPU of a warm float32 run. Summary entries (~100 kB) are read into a reused buffer as before.
const MAP_FROM: u64 = 1 << 20;

/// The most bytes an entry file of `store` with the `expect`ed shape can have: its array, header slack and
/// zstd's worst-case expansion ([`MAX_ENTRY_BYTES`] when the shape is not known). A bigger file is not such an
/// entry, and is refused before anything is allocated or read.
pub fn max_entry_len(store: StoreMode, expect: entry::Expect) -> u64 {
    let (rows, size) = match store {
        StoreMode::Float32 => (expect.bins, 4u64),
        StoreMode::Float16 => (expect.bins, 2),
        StoreMode::Summary => (Some(entry::SUMMARY_ROWS), 8),
    };
    match (rows, expect.tracks) {
        (Some(rows), Some(tracks)) => {
            let raw =
                (rows as u64).saturating_mul(tracks as u64).saturating_mul(size).saturating_add(ENTRY_HEADER_SLACK);
            raw.saturating_add(raw / 128).saturating_add(ENTRY_HEADER_SLACK)
        }
        _ => MAX_ENTRY_BYTES,
    }
}

/// The sequence key of an entry file name (`<seq_id>.npy.zst`), or None for any other file.
pub fn entry_key(file_name: &str) -> Option<&str> {
    file_name.strip_suffix(ENTRY_EXT)?.strip_suffix('.').filter(|id| is_seq_id(id))
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache path {0} exists but is not a directory; fix: pass a folder to --cache")]
    NotADirectory(String),
    #[error("cannot create cache folder {path}: {source}")]
    Create { path: String, source: io::Error },
    #[error("'{0}' is not a sequence key (expected 64 lower-case hex digits, the SHA-256 of a window)")]
    BadKey(String),
    #[error("{path} records the model's output shape {recorded:?}, but the model gives {got:?}; the namespace is for another model file (was {path} edited or copied?)")]
    ShapeConflict { path: String, recorded: [usize; 2], got: [usize; 2] },
    #[error("cannot write cache entry {path}: {source}")]
    Write { path: String, source: io::Error },
}

/// What `fingerprint.json` holds: the fingerprint's fields, once known the model's output shape, and whether
/// the namespace's entries carry their identity (see [`entry::Identity`]).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct NamespaceFile {
    #[serde(flatten)]
    pub fingerprint: Fingerprint,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_shape: Option<[usize; 2]>,
    /// [`ENTRY_IDENTITY`] in a namespace created since entries carry their identity; absent in older ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<String>,
}

/// The `entries` value of a namespace whose entries all carry an identity line.
pub const ENTRY_IDENTITY: &str = "identity-v1";

impl NamespaceFile {
    pub fn read(dir: &Path) -> Option<NamespaceFile> {
        serde_json::from_slice(&fs::read(dir.join("fingerprint.json")).ok()?).ok()
    }

    /// Whether an entry without identity is accepted here: only in a namespace older than identities.
    pub fn binding(&self) -> entry::Binding {
        match self.entries.as_deref() {
            Some(ENTRY_IDENTITY) => entry::Binding::Required,
            _ => entry::Binding::Optional,
        }
    }
}

/// A cache folder. Opening never creates anything; writes create folders as needed.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    pub fn open(root: &Path) -> Result<Cache, CacheError> {
        if root.exists() && !root.is_dir() {
            return Err(CacheError::NotADirectory(root.display().to_string()));
        }
        Ok(Cache { root: root.to_path_buf() })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether any model's namespace folder exists: without one, nothing is cached for any model and a run
    /// will certainly predict (a cheap test, made before the namespace is known).
    pub fn has_namespaces(&self) -> bool {
        fs::read_dir(self.root.join(LAYOUT_VERSION))
            .is_ok_and(|mut dir| dir.any(|e| e.is_ok_and(|e| e.file_type().is_ok_and(|t| t.is_dir()))))
    }

    pub fn namespace(&self, fingerprint: &Fingerprint) -> Namespace {
        let id = fingerprint.id();
        Namespace {
            dir: self.root.join(LAYOUT_VERSION).join(&id),
            id,
            fingerprint: fingerprint.clone(),
            binding: std::sync::Arc::new(std::sync::OnceLock::new()),
        }
    }
}

/// The outcome of reading an entry.
#[derive(Debug)]
pub enum Lookup {
    /// Verified; `bound` is false for an entry written before entries carried their identity.
    Hit(entry::Decoded),
    Missing,
    /// Unreadable or failing verification: treated as missing (and recomputed by `predict`), never used.
    Corrupt(String),
}

/// The entries of one model fingerprint.
#[derive(Debug, Clone)]
pub struct Namespace {
    dir: PathBuf,
    id: String,
    fingerprint: Fingerprint,
    /// Read from `fingerprint.json` once, on the first read of an entry.
    binding: std::sync::Arc<std::sync::OnceLock<entry::Binding>>,
}

/// Above this many keys, listing the 256 fan-out folders once beats one `stat` per key.
pub const LISTING_THRESHOLD: usize = 20_000;

impl Namespace {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// The namespace id (the fingerprint's hash, the folder's name), which every entry carries.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The identity an entry stored under `seq_id` here must carry.
    pub fn identity<'a>(&'a self, seq_id: &'a str) -> entry::Identity<'a> {
        entry::Identity { seq_id, namespace: &self.id }
    }

    /// Whether entries without identity are accepted (fixed at the first call: a namespace that gains its
    /// `fingerprint.json` later, by this process's first write, is one whose entries carry identities).
    fn binding(&self) -> entry::Binding {
        *self.binding.get_or_init(|| match NamespaceFile::read(&self.dir) {
            Some(file) => file.binding(),
            // No namespace file: no entries either, or only entries this version writes.
            None => entry::Binding::Required,
        })
    }

    pub fn entry_path(&self, seq_id: &str) -> Result<PathBuf, CacheError> {
        if !is_seq_id(seq_id) {
            return Err(CacheError::BadKey(seq_id.to_string()));
        }
        Ok(self.dir.join(&seq_id[..2]).join(format!("{seq_id}.{ENTRY_EXT}")))
    }

    /// Existence check only (no read): a zero-length file is a failed write from a crashed writer on a
    /// filesystem without atomic rename, and does not count; nor does anything but a regular file (a symbolic
    /// link is not followed, see [`readfile`]).
    pub fn contains(&self, seq_id: &str) -> bool {
        match self.entry_path(seq_id) {
            Ok(p) => fs::symlink_metadata(p).map(|m| m.is_file() && m.len() > 0).unwrap_or(false),
            Err(_) => false,
        }
    }

    /// `contains` for many keys, in parallel. For large key sets it lists the fan-out folders instead.
    pub fn contains_many(&self, seq_ids: &[&str]) -> Vec<bool> {
        if seq_ids.len() >= LISTING_THRESHOLD {
            self.contains_many_by_listing(seq_ids)
        } else {
            self.contains_many_by_stat(seq_ids)
        }
    }

    pub fn contains_many_by_stat(&self, seq_ids: &[&str]) -> Vec<bool> {
        seq_ids.par_iter().with_min_len(64).map(|id| self.contains(id)).collect()
    }

    pub fn contains_many_by_listing(&self, seq_ids: &[&str]) -> Vec<bool> {
        let present: std::collections::HashSet<String> = (0..256u32)
            .into_par_iter()
            .flat_map_iter(|fan| {
                let dir = self.dir.join(format!("{fan:02x}"));
                fs::read_dir(dir)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .filter_map(|e| {
                        let name = e.file_name().into_string().ok()?;
                        let id = entry_key(&name)?;
                        let nonempty = e.metadata().map(|m| m.is_file() && m.len() > 0).unwrap_or(false);
                        nonempty.then(|| id.to_string())
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        seq_ids.iter().map(|id| present.contains(*id)).collect()
    }

    /// Writes one entry atomically (temp file in the same folder, fsync, rename). Concurrent writers of the
    /// same key each rename a complete file; a crash leaves at most a hidden `.tmp` file, never a torn entry.
    pub fn write_entry(&self, seq_id: &str, bytes: &[u8]) -> Result<PathBuf, CacheError> {
        let path = self.entry_path(seq_id)?;
        let parent = path.parent().unwrap_or(&self.dir);
        if !parent.is_dir() {
            self.write_fingerprint_file()?;
            fs::create_dir_all(parent)
                .map_err(|e| CacheError::Create { path: parent.display().to_string(), source: e })?;
        }
        fsutil::write_atomic(&path, bytes)
            .map_err(|e| CacheError::Write { path: path.display().to_string(), source: e })?;
        Ok(path)
    }

    /// Reads and verifies one entry. A corrupt entry is reported (with its path) and never returned. Only a
    /// regular file of at most [`max_entry_len`] bytes is read (see [`readfile`]).
    pub fn read_entry(&self, seq_id: &str, expect: entry::Expect) -> Lookup {
        self.read_entry_with(seq_id, expect, &mut entry::ReadBuffers::default())
    }

    /// [`Namespace::read_entry`] reusing `buffers` (one per thread) for the file and the decoded data.
    pub fn read_entry_with(&self, seq_id: &str, expect: entry::Expect, buffers: &mut entry::ReadBuffers) -> Lookup {
        let path = match self.entry_path(seq_id) {
            Ok(p) => p,
            Err(e) => return Lookup::Corrupt(e.to_string()),
        };
        let max = max_entry_len(self.fingerprint.store, expect);
        let (file, meta) = match readfile::open_regular(&path, readfile::Symlinks::Refuse) {
            Ok(opened) => opened,
            Err(readfile::ReadError::NotFound) => return Lookup::Missing,
            // Not read (an I/O error, a FIFO, a link ...): reported, left in place; predict renames an entry over it.
            Err(e) => return Lookup::Corrupt(format!("{}: {e}", path.display())),
        };
        let id = readfile::FileId::of(&meta);
        let mapped = if (MAP_FROM..=max).contains(&meta.len()) {
            // SAFETY: entries are only ever replaced by a rename, never truncated or written in place, so the
            // mapped file stays whole while it is read; like the genome's mapping (and samtools'), this relies
            // on nobody truncating a cache entry by hand while a step runs. A failed mapping is read instead.
            unsafe { memmap2::MmapOptions::new().populate().map(&file) }.ok()
        } else {
            None
        };
        // Taken out while `buffers` lends its other parts to the decoder, and put back on every path.
        let mut bytes = std::mem::take(&mut buffers.file);
        let read = match mapped {
            Some(_) => Ok(()),
            None => readfile::read_opened_into(file, &meta, max, &mut bytes),
        };
        let decoded = match read {
            Ok(()) => {
                let (store, identity) = (self.fingerprint.store, self.identity(seq_id));
                let data = mapped.as_deref().unwrap_or(&bytes);
                entry::decode_with(data, store, expect, &identity, self.binding(), buffers).map_err(|e| e.to_string())
            }
            Err(e @ readfile::ReadError::TooLarge { .. }) => Err(e.to_string()),
            Err(e) => {
                buffers.file = bytes;
                return Lookup::Corrupt(format!("{}: {e}", path.display()));
            }
        };
        buffers.file = bytes;
        match decoded {
            Ok(decoded) => Lookup::Hit(decoded),
            Err(e) => {
                // Move it aside so that existence checks (check-cache) also see it as missing and the
                // sequence is recomputed; only the file that was read (a good entry renamed over it meanwhile
                // stays where it is).
                let aside = path.with_file_name(format!(".{seq_id}.{ENTRY_EXT}.corrupt"));
                let note = match readfile::rename_if_unchanged(&path, &aside, &id) {
                    Ok(readfile::Renamed::Moved) => format!("; moved aside to {}", aside.display()),
                    Ok(readfile::Renamed::Changed) => "; replaced by another copy meanwhile, which stays".into(),
                    Ok(readfile::Renamed::Gone) | Err(_) => String::new(),
                };
                Lookup::Corrupt(format!("{}: {e}{note}", path.display()))
            }
        }
    }

    /// The model's output shape [bins, tracks] recorded in `fingerprint.json` by the first predict (or
    /// import-legacy) into this namespace; None for a namespace written before shapes were recorded.
    pub fn output_shape(&self) -> Option<[usize; 2]> {
        NamespaceFile::read(&self.dir)?.output_shape
    }

    /// Records the model's output shape in `fingerprint.json`, so that every later reader holds every entry
    /// to it (not to whichever entry it happens to read first). A different recorded shape is an error: the
    /// fingerprint names one model file, which has one shape.
    pub fn record_output_shape(&self, bins: usize, tracks: usize) -> Result<(), CacheError> {
        match self.output_shape() {
            Some(shape) if shape == [bins, tracks] => return Ok(()),
            Some(shape) => {
                return Err(CacheError::ShapeConflict {
                    path: self.dir.join("fingerprint.json").display().to_string(),
                    recorded: shape,
                    got: [bins, tracks],
                })
            }
            None => {}
        }
        fs::create_dir_all(&self.dir)
            .map_err(|e| CacheError::Create { path: self.dir.display().to_string(), source: e })?;
        let path = self.dir.join("fingerprint.json");
        // A namespace file without the entries' identity mark is an older namespace's, and stays one.
        let entries = match NamespaceFile::read(&self.dir) {
            Some(old) => old.entries,
            None if path.exists() => None,
            None => Some(ENTRY_IDENTITY.to_string()),
        };
        let file = NamespaceFile { fingerprint: self.fingerprint.clone(), output_shape: Some([bins, tracks]), entries };
        let json = serde_json::to_vec_pretty(&file).unwrap_or_default();
        fsutil::write_atomic(&path, &json)
            .map_err(|e| CacheError::Write { path: path.display().to_string(), source: e })
    }

    /// `fingerprint.json` beside the fan-out folders says what the namespace's hash stands for.
    pub fn write_fingerprint_file(&self) -> Result<(), CacheError> {
        let path = self.dir.join("fingerprint.json");
        if path.exists() {
            return Ok(());
        }
        fs::create_dir_all(&self.dir)
            .map_err(|e| CacheError::Create { path: self.dir.display().to_string(), source: e })?;
        // The namespace folder is CACHE/v1/<fingerprint>: the root is two levels up. Best effort: the tag is
        // a hint to backup tools, and a cache that cannot take it (full, read-only) fails on the next write
        // with that write's path.
        if let Some(root) = self.dir.parent().and_then(Path::parent) {
            let _ = write_cachedir_tag(root);
        }
        let file = NamespaceFile {
            fingerprint: self.fingerprint.clone(),
            output_shape: None,
            entries: Some(ENTRY_IDENTITY.to_string()),
        };
        let json = serde_json::to_vec_pretty(&file).unwrap_or_default();
        fsutil::write_atomic(&path, &json)
            .map_err(|e| CacheError::Write { path: path.display().to_string(), source: e })
    }
}

/// The name and first line of a cache directory tag (<https://bford.info/cachedir/>): backup tools such as
/// `tar --exclude-caches`, borg and restic skip the folder that holds one.
pub const CACHEDIR_TAG: &str = "CACHEDIR.TAG";
const CACHEDIR_TAG_CONTENT: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
    # This file is a cache directory tag created by enformer-vep: backup tools may skip this folder.\n\
    # For information about cache directory tags see https://bford.info/cachedir/\n";

/// Puts `CACHEDIR.TAG` in the cache root unless one is there: written to a temp file and renamed, so a
/// reader never sees half a tag (not through `fsutil::write_atomic`, whose fault-injection points count the
/// cache's own writes).
pub fn write_cachedir_tag(root: &Path) -> io::Result<()> {
    let path = root.join(CACHEDIR_TAG);
    if path.exists() {
        return Ok(());
    }
    let tmp = fsutil::temp_path_for(&path);
    fs::write(&tmp, CACHEDIR_TAG_CONTENT).and_then(|()| fs::rename(&tmp, &path)).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::seq_id;

    fn ns(dir: &Path) -> Namespace {
        let fp = Fingerprint::new("ab".repeat(32), "human", NEncoding::Zeros, 196_608, StoreMode::Float32);
        Cache::open(dir).unwrap().namespace(&fp)
    }

    #[test]
    fn layout_is_versioned_namespaced_and_fanned_out() {
        let dir = tempfile::tempdir().unwrap();
        let ns = ns(dir.path());
        let key = seq_id(b"ACGT");
        let p = ns.entry_path(&key).unwrap();
        let rel = p.strip_prefix(dir.path()).unwrap().to_string_lossy().into_owned();
        assert_eq!(rel, format!("v1/{}/1d/{key}.npy.zst", ns.fingerprint().id()));
        assert!(ns.entry_path("../../etc/passwd").is_err());
    }

    #[test]
    fn the_cache_root_gets_a_cachedir_tag_when_first_written() {
        let dir = tempfile::tempdir().unwrap();
        let ns = ns(dir.path());
        assert!(!dir.path().join(CACHEDIR_TAG).exists(), "opening creates nothing");
        ns.write_entry(&seq_id(b"ACGT"), b"payload").unwrap();
        let tag = std::fs::read_to_string(dir.path().join(CACHEDIR_TAG)).unwrap();
        assert!(tag.starts_with("Signature: 8a477f597d28d172789f06886806bc55\n# "), "{tag}");
    }

    #[test]
    fn write_then_lookup_both_strategies() {
        let dir = tempfile::tempdir().unwrap();
        let ns = ns(dir.path());
        let keys: Vec<String> = (0..50).map(|i| seq_id(format!("seq{i}").as_bytes())).collect();
        for k in keys.iter().step_by(2) {
            ns.write_entry(k, b"payload").unwrap();
        }
        // A zero-length file (a crashed non-atomic writer) does not count as cached.
        fs::write(ns.entry_path(&keys[1]).unwrap().with_file_name(format!("{}.npy.zst", keys[1])), b"").ok();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let expected: Vec<bool> = (0..50).map(|i| i % 2 == 0).collect();
        assert_eq!(ns.contains_many_by_stat(&refs), expected);
        assert_eq!(ns.contains_many_by_listing(&refs), expected);
        assert!(ns.dir().join("fingerprint.json").exists());
        // The output shape is recorded once and held to.
        assert_eq!(ns.output_shape(), None);
        ns.record_output_shape(896, 16).unwrap();
        ns.record_output_shape(896, 16).unwrap();
        assert_eq!(ns.output_shape(), Some([896, 16]));
        assert!(matches!(ns.record_output_shape(896, 8), Err(CacheError::ShapeConflict { .. })));
        let json: serde_json::Value =
            serde_json::from_slice(&fs::read(ns.dir().join("fingerprint.json")).unwrap()).unwrap();
        assert_eq!(json["head"], "human", "the fingerprint's fields stay readable");
    }

    #[test]
    fn concurrent_writers_of_one_key_leave_a_whole_entry() {
        let dir = tempfile::tempdir().unwrap();
        let ns = ns(dir.path());
        let key = seq_id(b"same");
        let payloads: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 1 << 20]).collect();
        std::thread::scope(|s| {
            for p in &payloads {
                let ns = &ns;
                let key = &key;
                s.spawn(move || ns.write_entry(key, p).unwrap());
            }
        });
        let got = fs::read(ns.entry_path(&key).unwrap()).unwrap();
        assert!(payloads.contains(&got), "entry is one writer's complete payload");
        let names: Vec<_> = fs::read_dir(ns.entry_path(&key).unwrap().parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temp files left");
    }

    /// Issue 10 item 12: a FIFO, a link to /dev/zero and a 3 GB sparse file at entry paths are reported at
    /// once; nothing is allocated or read beyond the entry size expected (a plain read hangs or floods memory).
    #[test]
    fn read_entry_reads_only_regular_files_no_larger_than_an_entry() {
        let dir = tempfile::tempdir().unwrap();
        let ns = ns(dir.path());
        let ids: Vec<String> = (0..3).map(|i| seq_id(format!("hostile{i}").as_bytes())).collect();
        let path = |i: usize| {
            let p = ns.entry_path(&ids[i]).unwrap();
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            p
        };
        let c = std::ffi::CString::new(path(0).to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        std::os::unix::fs::symlink("/dev/zero", path(1)).unwrap();
        fs::File::create(path(2)).unwrap().set_len(3 << 30).unwrap();
        assert_eq!(max_entry_len(StoreMode::Float32, entry::Expect::exact(896, 16)), 57_344 + 65_536 + 960 + 65_536);
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = ns.clone();
        let keys = ids.clone();
        std::thread::spawn(move || {
            let got: Vec<String> = keys
                .iter()
                .map(|k| match reader.read_entry(k, entry::Expect::exact(896, 16)) {
                    Lookup::Corrupt(msg) => msg,
                    other => format!("{other:?}"),
                })
                .collect();
            let _ = tx.send(got);
        });
        let msgs = rx.recv_timeout(std::time::Duration::from_secs(20)).expect("read_entry hangs");
        assert!(msgs[0].contains("a FIFO, not a regular file"), "{msgs:?}");
        assert!(msgs[1].contains("a symbolic link, not a regular file"), "{msgs:?}");
        assert!(msgs[2].contains("3221225472 bytes, more than the 189376 bytes"), "{msgs:?}");
        assert!(fs::symlink_metadata(path(0)).is_ok() && fs::symlink_metadata(path(1)).is_ok(), "left in place");
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        assert_eq!(ns.contains_many_by_stat(&refs), [false, false, false]);
        assert_eq!(ns.contains_many_by_listing(&refs), [false, false, false]);
    }

    /// Full entries from `MAP_FROM` bytes up are decoded from a mapping: the values are the ones written, read
    /// after read with reused buffers; a bit flip or a truncation is still caught by the checksum, reported and
    /// moved aside, and the next good entry reads right with the same buffers.
    #[test]
    fn large_entries_are_read_through_a_mapping_and_still_verified() {
        let dir = tempfile::tempdir().unwrap();
        let ns = ns(dir.path());
        let (bins, tracks) = (896, 640);
        let expect = entry::Expect::exact(bins, tracks);
        let mut buffers = entry::ReadBuffers::default();
        let keys: Vec<String> = (0..4).map(|i| seq_id(format!("large{i}").as_bytes())).collect();
        let outputs: Vec<Vec<f32>> = (0..4u64)
            .map(|i| {
                (0..(bins * tracks) as u64)
                    .map(|j| ((i + j).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 41) as f32)
                    .collect()
            })
            .collect();
        for (k, out) in keys.iter().zip(&outputs) {
            let bytes = entry::encode(StoreMode::Float32, out, bins, tracks, 443..453, &ns.identity(k)).unwrap();
            assert!(bytes.len() as u64 >= MAP_FROM, "the test must take the mapped path");
            ns.write_entry(k, &bytes).unwrap();
        }
        let read_values = |k: &str, buffers: &mut entry::ReadBuffers| match ns.read_entry_with(k, expect, buffers) {
            Lookup::Hit(entry::Decoded { data: entry::EntryData::Full(v), .. }) => {
                let got = v.to_vec();
                buffers.recycle(entry::EntryData::Full(v));
                Ok(got)
            }
            Lookup::Corrupt(msg) => Err(msg),
            other => Err(format!("{other:?}")),
        };
        assert_eq!(read_values(&keys[0], &mut buffers).unwrap(), outputs[0]);
        // A flipped byte in the middle, and a file cut short.
        let p1 = ns.entry_path(&keys[1]).unwrap();
        let mut b = fs::read(&p1).unwrap();
        let mid = b.len() / 2;
        b[mid] ^= 0x10;
        fs::write(&p1, &b).unwrap();
        let p2 = ns.entry_path(&keys[2]).unwrap();
        let len = fs::metadata(&p2).unwrap().len();
        fs::OpenOptions::new().write(true).open(&p2).unwrap().set_len(len - 4096).unwrap();
        for (k, p) in [(&keys[1], &p1), (&keys[2], &p2)] {
            let msg = read_values(k, &mut buffers).unwrap_err();
            assert!(msg.contains("corrupt entry") && msg.contains("moved aside"), "{msg}");
            assert!(!p.exists(), "a corrupt entry is moved aside");
        }
        assert_eq!(read_values(&keys[3], &mut buffers).unwrap(), outputs[3]);
        assert_eq!(read_values(&keys[0], &mut buffers).unwrap(), outputs[0]);
    }

    #[test]
    fn a_file_as_cache_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("file");
        fs::write(&f, b"x").unwrap();
        assert!(matches!(Cache::open(&f), Err(CacheError::NotADirectory(_))));
    }
}
