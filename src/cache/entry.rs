//! Cache entry format: a `.npy` array inside one zstd frame with a content checksum.
//!
//! - `float32` (default): the full [bins, tracks] output, `<f4`, lossless.
//! - `float16`: the same as `<f2` (half the size; values above 65,504 cannot be stored and fail the sequence).
//! - `summary`: `<f8` [6, tracks], per-track sums accumulated in float64 at predict time, each split at the
//!   stitch bin c = ⌈bins/2⌉ (448) into bins [0, c) and [c, bins): rows 0–1 Σ over all bins, rows 2–3 Σ over
//!   the `center_bins` bins nearest the variant, rows 4–5 Σ over the mirror image of those bins (b ↔ bins−1−b,
//!   which a reverse-complemented window's centre maps to). Split sums are what stitching an indel's alt
//!   prediction and flipping a reverse complement need; enough for SAD, logSED and CENTER, not for D2.
//!
//! After the array's data comes one line that says what the entry is, its [`Identity`]:
//! `#enformer-vep-entry v1 seq_id=<64 hex> namespace=<namespace id>`. Every read checks it against the key and
//! namespace the entry was found under, so an entry copied onto another key or into another namespace (e.g.
//! the `--n-encoding uniform` one, same shape) is refused, not served. numpy reads only the bytes the `.npy`
//! header announces, so the line is invisible to `np.load`. Entries written before identities were added
//! have no such line: see [`Binding`].
//!
//! The zstd frame's XXH64 content checksum (covering the identity line too) is verified on every read (zstd
//! does it while decompressing), so a bit flip or truncation is detected; a frame without one is refused; the
//! array's shape and dtype are checked against what the namespace promises. In Python:
//!
//! ```python
//! import io, numpy as np, zstandard
//! arr = np.load(io.BytesIO(zstandard.ZstdDecompressor().decompress(open(path, "rb").read())))
//! ```

use std::ops::Range;

use super::npy::{self, Dtype};
use super::StoreMode;

/// zstd level for full outputs. Float outputs barely compress (~91% at level 1), and a negative level stores
/// literals without Huffman coding, so reading decompresses at memcpy speed: a few ms instead of ~18 ms for a
/// 19 MB entry, for about 9% more disk.
const LEVEL_FULL: i32 = -1;
/// zstd level for summaries. Their float64 sums of float32 values end in runs of zero bytes, which level 3
/// turns into many short matches that decode at ~0.7 GB/s; level -1 keeps most of the gain (105 kB instead of
/// 102 kB of 255 kB, measured on 300 entries) and decodes 1.3x faster, and decoding is a quarter of a warm run.
const LEVEL_SUMMARY: i32 = -1;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EntryError {
    #[error("corrupt entry: {0}")]
    Corrupt(String),
    #[error("entry has shape {got:?}, expected {expected:?}")]
    Shape { got: Vec<usize>, expected: Vec<usize> },
    #[error("output value {0} exceeds the float16 range (±65504); use --store float32")]
    Float16Overflow(f32),
    #[error("entry of {found} found as {expected} (copied or moved by hand?): not this key's prediction")]
    Identity { found: String, expected: String },
    #[error("entry carries no identity, but this namespace's entries all do (stripped or re-encoded by hand?)")]
    Unbound,
}

/// What an entry is: the key (`seq_id`, the SHA-256 of its window) and the namespace (model fingerprint id)
/// it was written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity<'a> {
    pub seq_id: &'a str,
    pub namespace: &'a str,
}

impl std::fmt::Display for Identity<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "seq_id {} in namespace {}", self.seq_id, self.namespace)
    }
}

const IDENTITY_PREFIX: &[u8] = b"#enformer-vep-entry v1 ";
/// An identity line is ~180 bytes; anything much longer after the array is not one.
const MAX_IDENTITY_LEN: usize = 1024;

impl Identity<'_> {
    fn line(&self) -> Vec<u8> {
        let mut line = IDENTITY_PREFIX.to_vec();
        line.extend_from_slice(format!("seq_id={} namespace={}\n", self.seq_id, self.namespace).as_bytes());
        line
    }
}

/// Whether an entry without an identity line is accepted. Namespaces created since identities were added
/// record that their entries carry one ([`Binding::Required`]); in an older namespace, entries written by an
/// older version have none and are read unchecked ([`Binding::Optional`]), which the reader reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    Required,
    Optional,
}

/// A decoded entry: its data, its [rows, tracks] shape, and whether it carried an identity (false only for an
/// entry written before identities, accepted under [`Binding::Optional`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub data: EntryData,
    pub shape: [usize; 2],
    pub bound: bool,
}

/// What an entry holds once read.
#[derive(Debug, Clone, PartialEq)]
pub enum EntryData {
    /// [bins, tracks], row-major.
    Full(Values),
    /// Per-track sums, split at the stitch bin.
    Summary(Sums),
}

/// A full entry's values, [bins, tracks] row-major, as a slice of the buffer they were decoded in (a float32
/// entry is decompressed in place, its header ahead of the values): no copy to move them to the front.
#[derive(Debug, Clone, Default)]
pub struct Values {
    buf: Vec<f32>,
    start: usize,
    len: usize,
}

impl Values {
    /// The buffer, for the next read to fill.
    pub fn into_buffer(self) -> Vec<f32> {
        self.buf
    }
}

impl From<Vec<f32>> for Values {
    fn from(buf: Vec<f32>) -> Values {
        Values { len: buf.len(), start: 0, buf }
    }
}

impl std::ops::Deref for Values {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.buf[self.start..self.start + self.len]
    }
}

impl PartialEq for Values {
    fn eq(&self, other: &Values) -> bool {
        **self == **other
    }
}

/// Rows of a summary entry.
pub const SUMMARY_ROWS: usize = 6;

/// Per-track sums of one prediction, each as [bins before the stitch bin, bins from it on].
#[derive(Debug, Clone, PartialEq)]
pub struct Sums {
    pub total: [Vec<f64>; 2],
    pub center: [Vec<f64>; 2],
    /// Over the mirror image of the centre bins (what the centre becomes when the bins are flipped).
    pub mirror: [Vec<f64>; 2],
}

impl Sums {
    pub fn zeros(tracks: usize) -> Sums {
        let z = || [vec![0.0; tracks], vec![0.0; tracks]];
        Sums { total: z(), center: z(), mirror: z() }
    }

    /// The sums of the same prediction with its bins reversed (b ↔ bins − 1 − b), as for a reverse-complemented
    /// window. Exact when the split is at bins/2 (an even bin count), which [`summarize`] requires for it.
    pub fn flipped(&self) -> Sums {
        let swap = |h: &[Vec<f64>; 2]| [h[1].clone(), h[0].clone()];
        Sums { total: swap(&self.total), center: swap(&self.mirror), mirror: swap(&self.center) }
    }

    fn rows(&self) -> [&Vec<f64>; SUMMARY_ROWS] {
        [&self.total[0], &self.total[1], &self.center[0], &self.center[1], &self.mirror[0], &self.mirror[1]]
    }

    fn rows_mut(&mut self) -> [&mut Vec<f64>; SUMMARY_ROWS] {
        let Sums { total: [t0, t1], center: [c0, c1], mirror: [m0, m1] } = self;
        [t0, t1, c0, c1, m0, m1]
    }

    /// Adds `other`, track `keep[i]` of it into track i of self.
    pub fn add_kept(&mut self, other: &Sums, keep: &[usize]) {
        for (mine, theirs) in self.rows_mut().into_iter().zip(other.rows()) {
            for (i, &t) in keep.iter().enumerate() {
                mine[i] += theirs[t];
            }
        }
    }

    pub fn scale(&mut self, by: f64) {
        for row in self.rows_mut() {
            row.iter_mut().for_each(|v| *v *= by);
        }
    }
}

/// Encodes one sequence's output ([bins, tracks] row-major) for `store`, as the entry `id`.
pub fn encode(
    store: StoreMode,
    output: &[f32],
    bins: usize,
    tracks: usize,
    center: Range<usize>,
    id: &Identity,
) -> Result<Vec<u8>, EntryError> {
    debug_assert_eq!(output.len(), bins * tracks);
    let (dtype, shape, payload): (Dtype, Vec<usize>, Vec<u8>) = match store {
        StoreMode::Float32 => (Dtype::F32, vec![bins, tracks], output.iter().flat_map(|v| v.to_le_bytes()).collect()),
        StoreMode::Float16 => {
            if let Some(&bad) = output.iter().find(|v| v.abs() > 65504.0 || v.is_nan()) {
                return Err(EntryError::Float16Overflow(bad));
            }
            (
                Dtype::F16,
                vec![bins, tracks],
                output.iter().flat_map(|&v| half::f16::from_f32(v).to_le_bytes()).collect(),
            )
        }
        StoreMode::Summary => {
            let sums = summarize(output, tracks, center);
            let bytes = sums.rows().into_iter().flatten().flat_map(|v| v.to_le_bytes()).collect();
            (Dtype::F64, vec![SUMMARY_ROWS, tracks], bytes)
        }
    };
    let mut npy_bytes = npy::header(dtype, &shape);
    npy_bytes.extend_from_slice(&payload);
    npy_bytes.extend_from_slice(&id.line());
    let level = if store == StoreMode::Summary { LEVEL_SUMMARY } else { LEVEL_FULL };
    let mut enc = zstd::bulk::Compressor::new(level).map_err(|e| EntryError::Corrupt(e.to_string()))?;
    enc.include_checksum(true).map_err(|e| EntryError::Corrupt(e.to_string()))?;
    enc.include_contentsize(true).map_err(|e| EntryError::Corrupt(e.to_string()))?;
    enc.compress(&npy_bytes).map_err(|e| EntryError::Corrupt(e.to_string()))
}

/// The summary sums of a [bins, tracks] output: over all bins, over `center` and over its mirror image, each
/// split at the stitch bin, per track, in float64.
pub fn summarize(output: &[f32], tracks: usize, center: Range<usize>) -> Sums {
    let bins = output.len().checked_div(tracks).unwrap_or(0);
    let split = crate::window::stitch_bin_for(bins);
    let mirror = bins.saturating_sub(center.end)..bins.saturating_sub(center.start);
    let mut sums = Sums::zeros(tracks);
    for (b, row) in output.chunks_exact(tracks).enumerate() {
        let half = usize::from(b >= split);
        let (in_center, in_mirror) = (center.contains(&b), mirror.contains(&b));
        for (t, &v) in row.iter().enumerate() {
            sums.total[half][t] += v as f64;
            if in_center {
                sums.center[half][t] += v as f64;
            }
            if in_mirror {
                sums.mirror[half][t] += v as f64;
            }
        }
    }
    sums
}

/// The array shape an entry must have: for full entries [bins, tracks], for summaries [6, tracks]. `None`
/// accepts any size (the first entry a step reads), whose shape is then returned for checking the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Expect {
    pub bins: Option<usize>,
    pub tracks: Option<usize>,
}

impl Expect {
    pub fn exact(bins: usize, tracks: usize) -> Self {
        Expect { bins: Some(bins), tracks: Some(tracks) }
    }
}

/// Decodes and verifies an entry written by `encode` for `store` with `bins` × `tracks` as `id`.
pub fn decode(
    bytes: &[u8],
    store: StoreMode,
    bins: usize,
    tracks: usize,
    id: &Identity,
) -> Result<EntryData, EntryError> {
    decode_expecting(bytes, store, Expect::exact(bins, tracks), id, Binding::Required).map(|d| d.data)
}

/// Like [`decode`], checking only what `expect` fixes, and accepting an entry without identity line when
/// `binding` allows.
pub fn decode_expecting(
    bytes: &[u8],
    store: StoreMode,
    expect: Expect,
    id: &Identity,
    binding: Binding,
) -> Result<Decoded, EntryError> {
    decode_with(bytes, store, expect, id, binding, &mut ReadBuffers::default())
}

/// Buffers reused from one entry read to the next by one thread: the file's bytes, the decompressed `.npy`,
/// and spare value vectors (full entries' data, handed back with [`ReadBuffers::recycle`] when used). A
/// merge of thousands of 19 MB entries then allocates a few entries' worth per thread, once. The zstd
/// decompression context is kept too: creating one per entry cost more than decompressing a summary entry.
#[derive(Default)]
pub struct ReadBuffers {
    pub(crate) file: Vec<u8>,
    raw: Vec<u8>,
    spare: Vec<Vec<f32>>,
    decompressor: zstd::bulk::Decompressor<'static>,
}

impl std::fmt::Debug for ReadBuffers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadBuffers")
            .field("file", &self.file.capacity())
            .field("raw", &self.raw.capacity())
            .field("spare", &self.spare.len())
            .finish_non_exhaustive()
    }
}

impl ReadBuffers {
    /// At most this many spare vectors are kept: the members of one variant that are in use at once.
    const MAX_SPARE: usize = 4;

    /// Gives an entry's data back for the next read to fill.
    pub fn recycle(&mut self, data: EntryData) {
        if let EntryData::Full(v) = data {
            if self.spare.len() < Self::MAX_SPARE {
                self.spare.push(v.into_buffer());
            }
        }
    }

    /// A spare vector, or a new one: its contents are to be overwritten.
    fn values(spare: &mut Vec<Vec<f32>>) -> Vec<f32> {
        spare.pop().unwrap_or_default()
    }
}

/// [`decode_expecting`] with reused buffers.
pub fn decode_with(
    bytes: &[u8],
    store: StoreMode,
    expect: Expect,
    id: &Identity,
    binding: Binding,
    buffers: &mut ReadBuffers,
) -> Result<Decoded, EntryError> {
    let corrupt = |m: String| EntryError::Corrupt(m);
    // Every entry is written with zstd's content checksum, and it is what makes a changed value detectable:
    // a frame without one (re-encoded by hand or by another tool) is refused, not trusted.
    const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
    const CHECKSUM_FLAG: u8 = 0x04;
    match bytes {
        [m0, m1, m2, m3, descriptor, ..] if [*m0, *m1, *m2, *m3] == ZSTD_MAGIC => {
            if descriptor & CHECKSUM_FLAG == 0 {
                return Err(corrupt("zstd frame without a content checksum (not written by enformer-vep)".into()));
            }
        }
        _ => return Err(corrupt("not a zstd frame (truncated or foreign file)".into())),
    }
    let size = zstd::zstd_safe::get_frame_content_size(bytes)
        .map_err(|_| corrupt("not a zstd frame (truncated or foreign file)".into()))?
        .ok_or_else(|| corrupt("zstd frame without content size".into()))?;
    // The frame header's size is the file's claim: allocate no more than the expected array can need.
    let max = super::max_entry_len(store, expect).saturating_mul(2);
    if size > max {
        return Err(corrupt(format!(
            "the frame claims {size} bytes, more than an entry of this shape can hold ({max})"
        )));
    }
    let size = size as usize;
    // A float32 entry is decompressed straight into the value vector it is read as (its `.npy` header ahead of
    // the values), which saves a copy of 19 MB an entry; other stores go through the byte buffer.
    let in_place = store == StoreMode::Float32 && cfg!(target_endian = "little");
    let mut values = if in_place { ReadBuffers::values(&mut buffers.spare) } else { Vec::new() };
    let failed = |e: std::io::Error| corrupt(format!("{e} (checksum mismatch or truncation)"));
    // A failed frame leaves the context mid-frame: the next call starts a new frame (zstd resets the session
    // at each one-shot decompression), so reuse after an error is safe.
    let written = if in_place {
        let len = size.div_ceil(4);
        values
            .try_reserve_exact(len.saturating_sub(values.len()))
            .map_err(|e| corrupt(format!("cannot allocate {size} bytes: {e}")))?;
        // A recycled vector of the same shape is not written here; a new one is zeroed once.
        values.resize(len, 0.0);
        buffers.decompressor.decompress_to_buffer(bytes, &mut as_bytes_mut(&mut values)[..size]).map_err(failed)?
    } else {
        let raw = &mut buffers.raw;
        raw.clear();
        raw.try_reserve_exact(size).map_err(|e| corrupt(format!("cannot allocate {size} bytes: {e}")))?;
        // Into the spare capacity (no zero-filling first); fails if the frame holds more than `size`.
        buffers.decompressor.decompress_to_buffer(bytes, raw).map_err(failed)?
    };
    if written != size {
        return Err(corrupt("decompressed size differs from the frame header".into()));
    }
    let ReadBuffers { raw, spare, .. } = buffers;
    let raw: &[u8] = if in_place { &as_bytes_mut(&mut values)[..size] } else { raw };
    let (dtype, shape, offset) = npy::parse_header(raw).map_err(corrupt)?;
    let (want_dtype, want_rows) = match store {
        StoreMode::Float32 => (Dtype::F32, expect.bins),
        StoreMode::Float16 => (Dtype::F16, expect.bins),
        StoreMode::Summary => (Dtype::F64, Some(SUMMARY_ROWS)),
    };
    if dtype != want_dtype {
        return Err(corrupt(format!("dtype {} where {} was expected", dtype.descr(), want_dtype.descr())));
    }
    let shape_ok = shape.len() == 2
        && want_rows.is_none_or(|r| r == shape[0])
        && expect.tracks.is_none_or(|t| t == shape[1])
        && shape[1] > 0;
    if !shape_ok {
        let expected = vec![want_rows.unwrap_or(0), expect.tracks.unwrap_or(0)];
        return Err(EntryError::Shape { got: shape, expected });
    }
    let tracks = shape[1];
    let data = &raw[offset..];
    // Checked: the shape comes from the file, and a product that wraps around must not pass for a match.
    let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let (data, trailer) = match n.and_then(|n| Some((n, n.checked_mul(dtype.size())?))) {
        Some((_, bytes)) if bytes <= data.len() => data.split_at(bytes),
        Some((n, _)) => return Err(corrupt(format!("{} data bytes for {n} values", data.len()))),
        None => return Err(corrupt(format!("implausible shape {shape:?}"))),
    };
    let bound = check_identity(trailer, id, binding)?;
    let shape2 = [shape[0], shape[1]];
    let data = match store {
        StoreMode::Float32 if in_place && offset % 4 == 0 => {
            let start = offset / 4;
            EntryData::Full(Values { start, len: data.len() / 4, buf: values })
        }
        StoreMode::Float32 => {
            let mut v = ReadBuffers::values(spare);
            v.clear();
            v.extend(data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])));
            EntryData::Full(v.into())
        }
        StoreMode::Float16 => {
            let mut v = ReadBuffers::values(spare);
            v.clear();
            v.extend(data.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()));
            EntryData::Full(v.into())
        }
        StoreMode::Summary => {
            // Each row straight from the bytes into its own vector (no whole-array copy first).
            let mut rows = data.chunks_exact(tracks * 8).map(|row| {
                row.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect::<Vec<f64>>()
            });
            let mut next = || rows.next().unwrap_or_default();
            EntryData::Summary(Sums { total: [next(), next()], center: [next(), next()], mirror: [next(), next()] })
        }
    };
    Ok(Decoded { data, shape: shape2, bound })
}

/// The bytes of `values`, to copy little-endian data into in one go.
fn as_bytes_mut(values: &mut [f32]) -> &mut [u8] {
    // SAFETY: the pointer and length cover exactly the slice's memory, u8 has no alignment requirement, the
    // borrow is tied to `values`, and every bit pattern written through it is a valid f32.
    unsafe { std::slice::from_raw_parts_mut(values.as_mut_ptr().cast::<u8>(), std::mem::size_of_val(values)) }
}

/// Checks what follows the array against the identity the reader expects: true when the entry carries an
/// identity (it must be `id`), false for an entry without one (accepted only under [`Binding::Optional`]).
fn check_identity(trailer: &[u8], id: &Identity, binding: Binding) -> Result<bool, EntryError> {
    if trailer.is_empty() {
        return match binding {
            Binding::Optional => Ok(false),
            Binding::Required => Err(EntryError::Unbound),
        };
    }
    let text = trailer
        .strip_prefix(IDENTITY_PREFIX)
        .filter(|_| trailer.len() <= MAX_IDENTITY_LEN)
        .and_then(|t| t.strip_suffix(b"\n"))
        .and_then(|t| std::str::from_utf8(t).ok())
        .ok_or_else(|| {
            EntryError::Corrupt(format!("{} bytes after the array that are not an identity line", trailer.len()))
        })?;
    let field = |key: &str| text.split(' ').find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='));
    match (field("seq_id"), field("namespace")) {
        (Some(seq_id), Some(namespace)) if seq_id == id.seq_id && namespace == id.namespace => Ok(true),
        (Some(seq_id), Some(namespace)) => {
            Err(EntryError::Identity { found: Identity { seq_id, namespace }.to_string(), expected: id.to_string() })
        }
        _ => Err(EntryError::Corrupt(format!("identity line without seq_id and namespace: {text:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: Identity = Identity { seq_id: KEY, namespace: "ns0" };
    const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn output(bins: usize, tracks: usize) -> Vec<f32> {
        (0..bins * tracks).map(|i| (i as f32 * 0.37).sin().abs() * 10.0 + 0.01).collect()
    }

    #[test]
    fn round_trips_every_store_mode() {
        let (bins, tracks) = (12, 5);
        let out = output(bins, tracks);
        let full = decode(
            &encode(StoreMode::Float32, &out, bins, tracks, 4..8, &ID).unwrap(),
            StoreMode::Float32,
            bins,
            tracks,
            &ID,
        );
        assert_eq!(full.unwrap(), EntryData::Full(out.clone().into()));
        let EntryData::Full(h) = decode(
            &encode(StoreMode::Float16, &out, bins, tracks, 4..8, &ID).unwrap(),
            StoreMode::Float16,
            bins,
            tracks,
            &ID,
        )
        .unwrap() else {
            panic!()
        };
        assert!(h.iter().zip(&out).all(|(a, b)| (a - b).abs() <= b.abs() * 1e-3));
        let EntryData::Summary(sums) = decode(
            &encode(StoreMode::Summary, &out, bins, tracks, 4..7, &ID).unwrap(),
            StoreMode::Summary,
            bins,
            tracks,
            &ID,
        )
        .unwrap() else {
            panic!()
        };
        // 12 bins split at 6; centre 4..7 (bins 4, 5 | 6); its mirror 5..8 (bins 5 | 6, 7).
        let sum = |bins: Range<usize>| bins.map(|b| out[b * tracks + 2] as f64).sum::<f64>();
        assert_eq!([sums.total[0][2], sums.total[1][2]], [sum(0..6), sum(6..12)]);
        assert_eq!([sums.center[0][2], sums.center[1][2]], [sum(4..6), sum(6..7)]);
        assert_eq!([sums.mirror[0][2], sums.mirror[1][2]], [sum(5..6), sum(6..8)]);
        // Flipping the output along bins flips the sums.
        let reversed: Vec<f32> = out.chunks_exact(tracks).rev().flatten().copied().collect();
        assert_eq!(summarize(&reversed, tracks, 4..7), sums.flipped());
    }

    /// One thread's buffers (and zstd context) serve every read: a corrupt or truncated entry in between
    /// leaves nothing behind that changes the next entry's values.
    #[test]
    fn reused_buffers_read_good_entries_after_bad_ones() {
        let (bins, tracks) = (12, 5);
        let expect = Expect::exact(bins, tracks);
        let mut buffers = ReadBuffers::default();
        for (i, store) in [StoreMode::Float32, StoreMode::Summary, StoreMode::Float32].into_iter().enumerate() {
            let out: Vec<f32> = output(bins, tracks).iter().map(|v| v + i as f32).collect();
            let bytes = encode(store, &out, bins, tracks, 4..8, &ID).unwrap();
            let mut flipped = bytes.clone();
            flipped[bytes.len() / 2] ^= 0x10;
            for bad in [&flipped[..], &bytes[..bytes.len() / 2]] {
                assert!(decode_with(bad, store, expect, &ID, Binding::Required, &mut buffers).is_err());
            }
            let got = decode_with(&bytes, store, expect, &ID, Binding::Required, &mut buffers).unwrap().data;
            assert_eq!(got, decode(&bytes, store, bins, tracks, &ID).unwrap(), "entry {i} read with used buffers");
            buffers.recycle(got);
        }
    }

    #[test]
    fn corruption_truncation_and_wrong_shape_are_detected() {
        let (bins, tracks) = (12, 5);
        let bytes = encode(StoreMode::Float32, &output(bins, tracks), bins, tracks, 0..1, &ID).unwrap();
        for i in [0, 5, bytes.len() / 2, bytes.len() - 2] {
            let mut flipped = bytes.clone();
            flipped[i] ^= 0x10;
            assert!(decode(&flipped, StoreMode::Float32, bins, tracks, &ID).is_err(), "bit flip at {i}");
        }
        assert!(decode(&bytes[..bytes.len() - 1], StoreMode::Float32, bins, tracks, &ID).is_err());
        assert!(decode(&[], StoreMode::Float32, bins, tracks, &ID).is_err());
        assert!(matches!(decode(&bytes, StoreMode::Float32, bins, 6, &ID), Err(EntryError::Shape { .. })));
        assert!(decode(&bytes, StoreMode::Float16, bins, tracks, &ID).is_err(), "dtype checked");
    }

    #[test]
    fn a_shape_whose_size_wraps_around_is_corrupt_not_a_panic() {
        // Found by tests/proptest_parsers.rs: 1 × 2^62 float32 values "need" 2^64 ≡ 0 bytes, so an entry with
        // no data passed the size check (and a summary of 2 × 2^63 tracks then panicked slicing its data).
        let frame = |raw: &[u8]| {
            let mut c = zstd::bulk::Compressor::new(1).unwrap();
            c.include_checksum(true).unwrap();
            c.compress(raw).unwrap()
        };
        for (dtype, shape, store) in [
            (npy::Dtype::F32, vec![1, 1 << 62], StoreMode::Float32),
            (npy::Dtype::F16, vec![1 << 63, 2], StoreMode::Float16),
            (npy::Dtype::F64, vec![SUMMARY_ROWS, 1 << 62], StoreMode::Summary),
        ] {
            let bytes = frame(&npy::header(dtype, &shape));
            let err = decode_expecting(&bytes, store, Expect::default(), &ID, Binding::Optional).unwrap_err();
            assert_eq!(err, EntryError::Corrupt(format!("implausible shape {shape:?}")));
        }
    }

    #[test]
    fn frames_without_a_checksum_or_with_an_inflated_size_are_refused() {
        let (bins, tracks) = (12, 5);
        let bytes = encode(StoreMode::Float32, &output(bins, tracks), bins, tracks, 0..1, &ID).unwrap();
        let raw = zstd::bulk::decompress(&bytes, 1 << 20).unwrap();
        // The same array re-encoded without a checksum: refused although it decodes.
        let mut enc = zstd::bulk::Compressor::new(3).unwrap();
        enc.include_checksum(false).unwrap();
        let unchecked = enc.compress(&raw).unwrap();
        let err = decode(&unchecked, StoreMode::Float32, bins, tracks, &ID).unwrap_err();
        assert!(matches!(err, EntryError::Corrupt(ref m) if m.contains("without a content checksum")), "{err}");
        // A frame claiming far more bytes than a [12, 5] entry can hold is refused before allocating.
        let mut big = zstd::bulk::Compressor::new(1).unwrap();
        big.include_checksum(true).unwrap();
        let huge = big.compress(&vec![0u8; 8 << 20]).unwrap();
        let err = decode(&huge, StoreMode::Float32, bins, tracks, &ID).unwrap_err();
        assert!(matches!(err, EntryError::Corrupt(ref m) if m.contains("more than an entry of this shape")), "{err}");
    }

    /// Issue 10 item 1: an entry is what it says it is, or it is refused.
    #[test]
    fn entries_are_bound_to_their_key_and_namespace() {
        let (bins, tracks) = (12, 5);
        let out = output(bins, tracks);
        for store in [StoreMode::Float32, StoreMode::Float16, StoreMode::Summary] {
            let bytes = encode(store, &out, bins, tracks, 4..8, &ID).unwrap();
            let read =
                |id: &Identity, binding| decode_expecting(&bytes, store, Expect::exact(bins, tracks), id, binding);
            assert!(read(&ID, Binding::Required).unwrap().bound);
            let other_key = "f".repeat(64);
            for wrong in [Identity { seq_id: &other_key, namespace: "ns0" }, Identity { seq_id: KEY, namespace: "ns1" }]
            {
                for binding in [Binding::Required, Binding::Optional] {
                    let err = read(&wrong, binding).unwrap_err();
                    assert_eq!(err, EntryError::Identity { found: ID.to_string(), expected: wrong.to_string() });
                }
            }
        }
        // An entry without identity line (as written before identities): accepted, as unbound, only where the
        // namespace allows it.
        let raw = zstd::bulk::decompress(&encode(StoreMode::Float32, &out, bins, tracks, 0..1, &ID).unwrap(), 1 << 20)
            .unwrap();
        let line = ID.line();
        let frame = |raw: &[u8]| {
            let mut c = zstd::bulk::Compressor::new(1).unwrap();
            c.include_checksum(true).unwrap();
            c.include_contentsize(true).unwrap();
            c.compress(raw).unwrap()
        };
        let old = frame(&raw[..raw.len() - line.len()]);
        let read = |bytes: &[u8], binding| {
            decode_expecting(bytes, StoreMode::Float32, Expect::exact(bins, tracks), &ID, binding)
        };
        assert_eq!(
            read(&old, Binding::Optional).unwrap(),
            Decoded { data: EntryData::Full(out.clone().into()), shape: [12, 5], bound: false }
        );
        assert_eq!(read(&old, Binding::Required).unwrap_err(), EntryError::Unbound);
        // Anything else after the array is corruption.
        let mut junk = raw[..raw.len() - line.len()].to_vec();
        junk.extend_from_slice(b"#something else\n");
        assert!(matches!(read(&frame(&junk), Binding::Optional), Err(EntryError::Corrupt(_))));
        // And the line is invisible to numpy: it reads exactly the announced bytes (checked with numpy itself
        // in tests/cache_commands.rs).
    }

    #[test]
    fn float16_overflow_is_refused() {
        assert_eq!(
            encode(StoreMode::Float16, &[1.0, 70000.0], 1, 2, 0..1, &ID),
            Err(EntryError::Float16Overflow(70000.0))
        );
    }
}
