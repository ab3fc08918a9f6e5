//! The legacy Python tool's cache: one `{seq_id}.pkl.gz` per window in a flat folder, a gzip-compressed
//! Python pickle of what Enformer returned for the window: a numpy array [bins, tracks] or [1, bins, tracks],
//! or a dict `{'human': array, 'mouse': array}`. The key is the same SHA-256 of the same window string as our
//! `seq_id` (see [`crate::window`]), so a legacy entry stands for exactly one of our entries.
//!
//! The pickle is read by [`super::pickle`], which executes nothing. dtype float32, float16 or float64
//! (little- or big-endian) and C or Fortran order are accepted; the result is always a C-ordered float32
//! [bins, tracks] array of the shape the caller expects (the model's output for the head): any other shape is
//! an error, found before the values are converted.
//!
//! Reading is bounded by that shape: the file must be a regular file (symbolic links are followed: a legacy
//! folder is an input the cache does not own; a FIFO, device or directory is reported, never read), and it
//! is inflated only up to [`inflate_limit`] bytes, so a gzip bomb costs at most that much memory.

use std::collections::HashSet;
use std::fs;
use std::io::{self, BufReader, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use super::entry::{self, EntryData, EntryError};
use super::pickle::{self, PickleError};
use super::readfile::{self, ReadError, Symlinks};
use super::StoreMode;
use crate::window::is_seq_id;

/// File name suffix of a legacy entry: `{seq_id}.pkl.gz`.
pub const LEGACY_EXT: &str = "pkl.gz";

/// The most a legacy entry holding a [bins, tracks] array may inflate to: four times the largest encoding of
/// such an array (float64, 8 bytes a value), which leaves room for protocol 2's latin-1 text (up to 2 bytes a
/// byte) and for a dict that also holds the other head (Enformer's human head is 3.2 times the mouse head),
/// plus 1 MiB for the pickle's own opcodes. 153 MB for Enformer's human head, whose float32 pickle is 19 MB.
pub fn inflate_limit(bins: usize, tracks: usize) -> u64 {
    (bins as u64).saturating_mul(tracks as u64).saturating_mul(32).saturating_add(1 << 20)
}

/// The shape assumed for the bound when a caller cannot say which it expects: Enformer's human head.
const ENFORMER_HUMAN: (usize, usize) = (896, 5313);

#[derive(Debug, thiserror::Error)]
pub enum LegacyError {
    #[error(
        "legacy cache {0} is not a folder; fix: pass the folder holding the legacy tool's {{sha256}}.pkl.gz files"
    )]
    NotAFolder(PathBuf),
    #[error("{0}")]
    File(ReadError),
    #[error("not a gzip file, or a truncated one ({0})")]
    Gzip(#[source] io::Error),
    #[error("empty file")]
    Empty,
    #[error("inflates to more than {limit} bytes, more than any pickle of a [{bins}, {tracks}] array needs (not read further)")]
    TooLarge { limit: u64, bins: usize, tracks: usize },
    #[error(transparent)]
    Pickle(#[from] PickleError),
    #[error("array of shape {0:?}: expected [bins, tracks] or [1, bins, tracks]")]
    Shape(Vec<usize>),
    #[error("array has shape [{got_bins}, {got_tracks}], but the model's '{head}' output is [{bins}, {tracks}]")]
    ShapeMismatch { head: String, got_bins: usize, got_tracks: usize, bins: usize, tracks: usize },
}

/// A [`LegacyError`] with the file it concerns.
#[derive(Debug, thiserror::Error)]
#[error("legacy entry {}: {error}", path.display())]
pub struct LegacyEntryError {
    pub path: PathBuf,
    pub error: LegacyError,
}

/// One legacy entry's array for one head: C-ordered float32 [bins, tracks].
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyArray {
    pub bins: usize,
    pub tracks: usize,
    pub data: Vec<f32>,
}

impl LegacyArray {
    /// Checks the shape against the model's output for `head`.
    pub fn expect_shape(self, head: &str, bins: usize, tracks: usize) -> Result<Self, LegacyError> {
        if (self.bins, self.tracks) != (bins, tracks) {
            return Err(LegacyError::ShapeMismatch {
                head: head.to_string(),
                got_bins: self.bins,
                got_tracks: self.tracks,
                bins,
                tracks,
            });
        }
        Ok(self)
    }

    /// What an entry of `store` holds for this output: exactly what decoding `entry::encode(store, ..)`
    /// gives, without the round trip (float16 rounds, summary sums the `center` bins in float64).
    pub fn to_entry_data(&self, store: StoreMode, center: Range<usize>) -> Result<EntryData, EntryError> {
        match store {
            StoreMode::Float32 => Ok(EntryData::Full(self.data.clone().into())),
            StoreMode::Float16 => {
                if let Some(&bad) = self.data.iter().find(|v| v.abs() > 65504.0 || v.is_nan()) {
                    return Err(EntryError::Float16Overflow(bad));
                }
                Ok(EntryData::Full(
                    self.data.iter().map(|&v| half::f16::from_f32(v).to_f32()).collect::<Vec<f32>>().into(),
                ))
            }
            StoreMode::Summary => Ok(EntryData::Summary(entry::summarize(&self.data, self.tracks, center))),
        }
    }
}

/// Reads one `{seq_id}.pkl.gz` file and returns the array of `head` (a bare array counts for any head), which
/// must have the model's output shape [bins, tracks] (or [1, bins, tracks]).
pub fn read_file(path: &Path, head: &str, bins: usize, tracks: usize) -> Result<LegacyArray, LegacyError> {
    read_bounded(path, head, Some((bins, tracks)))
}

fn read_bounded(path: &Path, head: &str, expect: Option<(usize, usize)>) -> Result<LegacyArray, LegacyError> {
    let (limit_bins, limit_tracks) = expect.unwrap_or(ENFORMER_HUMAN);
    let (file, meta) = readfile::open_regular(path, Symlinks::Follow).map_err(LegacyError::File)?;
    if meta.len() == 0 {
        return Err(LegacyError::Empty);
    }
    let raw = inflate(file, limit_bins, limit_tracks)?;
    let a = pickle::load_array(&raw, head)?;
    let (bins, tracks) = match a.shape.as_slice() {
        [b, t] | [1, b, t] if *b > 0 && *t > 0 => (*b, *t),
        _ => return Err(LegacyError::Shape(a.shape.clone())),
    };
    if let Some((want_bins, want_tracks)) = expect {
        if (bins, tracks) != (want_bins, want_tracks) {
            return Err(LegacyError::ShapeMismatch {
                head: head.to_string(),
                got_bins: bins,
                got_tracks: tracks,
                bins: want_bins,
                tracks: want_tracks,
            });
        }
    }
    let data = a.to_f32_matrix(bins, tracks)?;
    Ok(LegacyArray { bins, tracks, data })
}

/// The whole decompressed pickle, refused (without reading further) beyond [`inflate_limit`]. The buffer
/// grows by doubling, never past the limit.
fn inflate(file: fs::File, bins: usize, tracks: usize) -> Result<Vec<u8>, LegacyError> {
    let limit = inflate_limit(bins, tracks);
    let too_large = || LegacyError::TooLarge { limit, bins, tracks };
    let mut gz = flate2::read::MultiGzDecoder::new(BufReader::new(file));
    let mut raw: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = match gz.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(LegacyError::Gzip(e)),
        };
        let room = usize::try_from(limit).unwrap_or(usize::MAX) - raw.len();
        if n > room {
            return Err(too_large());
        }
        if raw.capacity() - raw.len() < n {
            raw.reserve_exact(raw.len().max(n).max(1 << 16).min(room));
        }
        raw.extend_from_slice(&chunk[..n]);
    }
    if raw.is_empty() {
        return Err(LegacyError::Empty);
    }
    Ok(raw)
}

/// The `{seq_id}.pkl.gz` files of a legacy folder as (key, path), sorted, and the other files found there.
pub type LegacyListing = (Vec<(String, PathBuf)>, Vec<PathBuf>);

/// A legacy cache folder (flat: `{seq_id}.pkl.gz` files). Read-only: nothing is ever written there.
#[derive(Debug, Clone)]
pub struct LegacyCache {
    dir: PathBuf,
    /// Keys not to take from this folder (their files could not be read; `run` recomputes them).
    exclude: Arc<HashSet<String>>,
}

impl LegacyCache {
    pub fn open(dir: &Path) -> Result<LegacyCache, LegacyError> {
        if !dir.is_dir() {
            return Err(LegacyError::NotAFolder(dir.to_path_buf()));
        }
        Ok(LegacyCache { dir: dir.to_path_buf(), exclude: Arc::default() })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The same folder with `ids` treated as absent.
    pub fn excluding(&self, ids: impl IntoIterator<Item = String>) -> LegacyCache {
        let mut set: HashSet<String> = (*self.exclude).clone();
        set.extend(ids);
        LegacyCache { dir: self.dir.clone(), exclude: Arc::new(set) }
    }

    pub fn path(&self, seq_id: &str) -> PathBuf {
        self.dir.join(format!("{seq_id}.{LEGACY_EXT}"))
    }

    /// Existence check only (a non-empty regular file, through symbolic links), as for our own entries.
    pub fn contains(&self, seq_id: &str) -> bool {
        is_seq_id(seq_id)
            && !self.exclude.contains(seq_id)
            && fs::metadata(self.path(seq_id)).map(|m| m.is_file() && m.len() > 0).unwrap_or(false)
    }

    pub fn contains_many(&self, seq_ids: &[&str]) -> Vec<bool> {
        seq_ids.par_iter().with_min_len(64).map(|id| self.contains(id)).collect()
    }

    /// Reads the entry of `seq_id` for `head`, which must have the model's output shape [bins, tracks].
    pub fn read_expecting(
        &self,
        seq_id: &str,
        head: &str,
        bins: usize,
        tracks: usize,
    ) -> Result<LegacyArray, LegacyEntryError> {
        let path = self.path(seq_id);
        read_file(&path, head, bins, tracks).map_err(|error| LegacyEntryError { path, error })
    }

    /// Reads the entry of `seq_id` for `head` whatever its shape (the caller checks it: prefer
    /// [`LegacyCache::read_expecting`]); inflating is bounded as for Enformer's human head. Errors name the file.
    pub fn read(&self, seq_id: &str, head: &str) -> Result<LegacyArray, String> {
        let path = self.path(seq_id);
        read_bounded(&path, head, None).map_err(|error| LegacyEntryError { path, error }.to_string())
    }

    /// Every `{seq_id}.pkl.gz` in the folder (sorted by key), and the other files found there.
    pub fn list(&self) -> io::Result<LegacyListing> {
        let mut entries = Vec::new();
        let mut others = Vec::new();
        for e in fs::read_dir(&self.dir)? {
            let e = e?;
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            let key = name.strip_suffix(LEGACY_EXT).and_then(|s| s.strip_suffix('.'));
            match key {
                Some(k) if is_seq_id(k) && !e.file_type()?.is_dir() => entries.push((k.to_string(), path)),
                _ => others.push(path),
            }
        }
        entries.sort();
        others.sort();
        Ok((entries, others))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::pickle::tests::{P2, P5_F};
    use std::io::Write;

    fn arange6() -> LegacyArray {
        LegacyArray { bins: 2, tracks: 3, data: vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0] }
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn entry_data_equals_the_encode_decode_round_trip() {
        let a = LegacyArray { bins: 6, tracks: 3, data: (0..18).map(|i| (i as f32 * 0.731).sin() * 3.0).collect() };
        for store in [StoreMode::Float32, StoreMode::Float16, StoreMode::Summary] {
            let id = entry::Identity { seq_id: "k", namespace: "n" };
            let bytes = entry::encode(store, &a.data, 6, 3, 2..4, &id).unwrap();
            assert_eq!(
                a.to_entry_data(store, 2..4).unwrap(),
                entry::decode(&bytes, store, 6, 3, &id).unwrap(),
                "{store:?}"
            );
        }
        assert!(a.clone().expect_shape("human", 6, 3).is_ok());
        assert!(matches!(a.expect_shape("human", 896, 3), Err(LegacyError::ShapeMismatch { .. })));
    }

    #[test]
    fn files_gzip_and_folder_listing() {
        let dir = tempfile::tempdir().unwrap();
        let key = crate::window::seq_id(b"ACGT");
        let bytes = gz(P2);
        fs::write(dir.path().join(format!("{key}.pkl.gz")), &bytes).unwrap();
        fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        let legacy = LegacyCache::open(dir.path()).unwrap();
        assert!(legacy.contains(&key) && !legacy.contains(&crate::window::seq_id(b"T")));
        assert!(!legacy.excluding([key.clone()]).contains(&key));
        assert_eq!(legacy.read_expecting(&key, "human", 2, 3).unwrap(), arange6());
        assert_eq!(legacy.read(&key, "human").unwrap(), arange6());
        let (entries, others) = legacy.list().unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(others, vec![dir.path().join("notes.txt")]);
        let path = legacy.path(&key);
        fs::write(&path, gz(P5_F)).unwrap();
        assert_eq!(read_file(&path, "mouse", 2, 3).unwrap(), arange6(), "protocol 5, Fortran order");
        fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
        assert!(matches!(read_file(&path, "human", 2, 3), Err(LegacyError::Gzip(_))));
        fs::write(&path, P2).unwrap();
        assert!(matches!(read_file(&path, "human", 2, 3), Err(LegacyError::Gzip(_))), "not gzip");
        fs::write(&path, b"").unwrap();
        assert!(matches!(read_file(&path, "human", 2, 3), Err(LegacyError::Empty)));
        assert!(matches!(LegacyCache::open(&dir.path().join("nope")), Err(LegacyError::NotAFolder(_))));
    }

    /// Issue 10 item 3: a legacy entry must have the shape the caller expects; [2, 3] is not [2, 8].
    #[test]
    fn a_foreign_shape_is_refused_before_conversion() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pkl.gz");
        fs::write(&path, gz(P2)).unwrap();
        let err = read_file(&path, "human", 2, 8).unwrap_err();
        assert!(matches!(err, LegacyError::ShapeMismatch { got_bins: 2, got_tracks: 3, bins: 2, tracks: 8, .. }));
        let legacy = LegacyCache::open(dir.path()).unwrap();
        let key = crate::window::seq_id(b"A");
        fs::rename(&path, legacy.path(&key)).unwrap();
        let err = legacy.read_expecting(&key, "human", 896, 3).unwrap_err();
        assert!(err.to_string().contains(&key) && err.to_string().contains("[896, 3]"), "{err}");
    }

    /// Issue 10 item 12: a gzip bomb (1 GiB of zeros in 1 MB) is cut off at the bound the expected shape gives,
    /// and only regular files are opened (a FIFO would block a plain open forever, /dev/zero never ends).
    #[test]
    fn inflating_is_bounded_by_the_expected_shape_and_only_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let bomb = dir.path().join("bomb.pkl.gz");
        let mut e = flate2::write::GzEncoder::new(fs::File::create(&bomb).unwrap(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..1024 {
            e.write_all(&zeros).unwrap();
        }
        e.finish().unwrap();
        assert!(fs::metadata(&bomb).unwrap().len() < 2 << 20);
        let err = read_file(&bomb, "human", 896, 16).unwrap_err();
        assert!(matches!(err, LegacyError::TooLarge { limit, .. } if limit == inflate_limit(896, 16)), "{err}");
        assert_eq!(inflate_limit(896, 16), 896 * 16 * 32 + (1 << 20));

        let fifo = dir.path().join("fifo.pkl.gz");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(matches!(read_file(&fifo, "human", 2, 3), Err(LegacyError::File(ReadError::NotRegular("a FIFO")))));
        let zero = dir.path().join("zero.pkl.gz");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert!(matches!(read_file(&zero, "human", 2, 3), Err(LegacyError::File(ReadError::NotRegular(_)))));
        let good = dir.path().join("good.pkl.gz");
        fs::write(&good, gz(P2)).unwrap();
        let link = dir.path().join("link.pkl.gz");
        std::os::unix::fs::symlink(&good, &link).unwrap();
        assert_eq!(read_file(&link, "human", 2, 3).unwrap(), arange6(), "a link to a regular file is followed");
        assert!(matches!(read_file(dir.path(), "human", 2, 3), Err(LegacyError::File(ReadError::NotRegular(_)))));
    }

    /// Issue 10 item 10: the 332-byte file of deeply nested tuples is an error, not a stack overflow.
    #[test]
    fn the_nested_tuple_bomb_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested.pkl.gz");
        let mut p = b"\x80\x02)".to_vec();
        p.extend(std::iter::repeat_n(0x85u8, 300_000));
        fs::write(&path, gz(&p)).unwrap();
        let err = read_file(&path, "human", 896, 16).unwrap_err();
        assert!(matches!(err, LegacyError::Pickle(PickleError::TooDeep { .. })), "{err}");
    }
}
