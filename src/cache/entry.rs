//! Cache entry format: a `.npy` array inside one zstd frame with a content checksum.
//!
//! - `float32` (default): the full [bins, tracks] output, `<f4`, lossless.
//! - `float16`: the same as `<f2` (half the size; values above 65,504 cannot be stored and fail the sequence).
//! - `summary`: `<f8` [2, tracks]: row 0 = Σ over all bins, row 1 = Σ over the `center_bins` bins nearest the
//!   variant, both accumulated in float64 at predict time. Enough for SAD, logSED and CENTER, not for D2.
//!
//! The zstd frame's XXH64 content checksum is verified on every read (zstd does it while decompressing), so
//! a bit flip or truncation is detected; the array's shape and dtype are checked against what the
//! namespace promises. In Python:
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
/// 19 MB entry, for about 9% more disk. Summaries are small and take the default level.
const LEVEL_FULL: i32 = -1;
const LEVEL_SUMMARY: i32 = 3;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EntryError {
    #[error("corrupt entry: {0}")]
    Corrupt(String),
    #[error("entry has shape {got:?}, expected {expected:?}")]
    Shape { got: Vec<usize>, expected: Vec<usize> },
    #[error("output value {0} exceeds the float16 range (±65504); use --store float32")]
    Float16Overflow(f32),
}

/// What an entry holds once read.
#[derive(Debug, Clone, PartialEq)]
pub enum EntryData {
    /// [bins, tracks], row-major.
    Full(Vec<f32>),
    /// Per-track Σ over all bins and over the centre bins.
    Summary { total: Vec<f64>, center: Vec<f64> },
}

/// Encodes one sequence's output ([bins, tracks] row-major) for `store`.
pub fn encode(
    store: StoreMode,
    output: &[f32],
    bins: usize,
    tracks: usize,
    center: Range<usize>,
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
            let (total, center) = summarize(output, tracks, center);
            let bytes = total.iter().chain(&center).flat_map(|v| v.to_le_bytes()).collect();
            (Dtype::F64, vec![2, tracks], bytes)
        }
    };
    let mut npy_bytes = npy::header(dtype, &shape);
    npy_bytes.extend_from_slice(&payload);
    let level = if store == StoreMode::Summary { LEVEL_SUMMARY } else { LEVEL_FULL };
    let mut enc = zstd::bulk::Compressor::new(level).map_err(|e| EntryError::Corrupt(e.to_string()))?;
    enc.include_checksum(true).map_err(|e| EntryError::Corrupt(e.to_string()))?;
    enc.include_contentsize(true).map_err(|e| EntryError::Corrupt(e.to_string()))?;
    enc.compress(&npy_bytes).map_err(|e| EntryError::Corrupt(e.to_string()))
}

/// Σ over all bins and over `center` bins, per track, in float64.
pub fn summarize(output: &[f32], tracks: usize, center: Range<usize>) -> (Vec<f64>, Vec<f64>) {
    let mut total = vec![0f64; tracks];
    let mut centre = vec![0f64; tracks];
    for (b, row) in output.chunks_exact(tracks).enumerate() {
        let in_center = center.contains(&b);
        for (t, &v) in row.iter().enumerate() {
            total[t] += v as f64;
            if in_center {
                centre[t] += v as f64;
            }
        }
    }
    (total, centre)
}

/// The array shape an entry must have: for full entries [bins, tracks], for summaries [2, tracks]. `None`
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

/// Decodes and verifies an entry written by `encode` for `store` with `bins` × `tracks`.
pub fn decode(bytes: &[u8], store: StoreMode, bins: usize, tracks: usize) -> Result<EntryData, EntryError> {
    decode_expecting(bytes, store, Expect::exact(bins, tracks)).map(|(d, _)| d)
}

/// Like [`decode`], checking only what `expect` fixes; returns the data and its (rows, tracks) shape.
pub fn decode_expecting(bytes: &[u8], store: StoreMode, expect: Expect) -> Result<(EntryData, [usize; 2]), EntryError> {
    let corrupt = |m: String| EntryError::Corrupt(m);
    let size = zstd::zstd_safe::get_frame_content_size(bytes)
        .map_err(|_| corrupt("not a zstd frame (truncated or foreign file)".into()))?
        .ok_or_else(|| corrupt("zstd frame without content size".into()))?;
    if size > (1 << 34) {
        return Err(corrupt(format!("implausible size {size}")));
    }
    let raw = zstd::bulk::decompress(bytes, size as usize)
        .map_err(|e| corrupt(format!("{e} (checksum mismatch or truncation)")))?;
    if raw.len() as u64 != size {
        return Err(corrupt("decompressed size differs from the frame header".into()));
    }
    let (dtype, shape, offset) = npy::parse_header(&raw).map_err(corrupt)?;
    let (want_dtype, want_rows) = match store {
        StoreMode::Float32 => (Dtype::F32, expect.bins),
        StoreMode::Float16 => (Dtype::F16, expect.bins),
        StoreMode::Summary => (Dtype::F64, Some(2)),
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
    match n.and_then(|n| Some((n, n.checked_mul(dtype.size())?))) {
        Some((_, bytes)) if bytes == data.len() => {}
        Some((n, _)) => return Err(corrupt(format!("{} data bytes for {n} values", data.len()))),
        None => return Err(corrupt(format!("implausible shape {shape:?}"))),
    }
    let shape2 = [shape[0], shape[1]];
    let data = match store {
        StoreMode::Float32 => {
            EntryData::Full(data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
        }
        StoreMode::Float16 => {
            EntryData::Full(data.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect())
        }
        StoreMode::Summary => {
            let v: Vec<f64> =
                data.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect();
            EntryData::Summary { total: v[..tracks].to_vec(), center: v[tracks..].to_vec() }
        }
    };
    Ok((data, shape2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(bins: usize, tracks: usize) -> Vec<f32> {
        (0..bins * tracks).map(|i| (i as f32 * 0.37).sin().abs() * 10.0 + 0.01).collect()
    }

    #[test]
    fn round_trips_every_store_mode() {
        let (bins, tracks) = (12, 5);
        let out = output(bins, tracks);
        let full =
            decode(&encode(StoreMode::Float32, &out, bins, tracks, 4..8).unwrap(), StoreMode::Float32, bins, tracks);
        assert_eq!(full.unwrap(), EntryData::Full(out.clone()));
        let EntryData::Full(h) =
            decode(&encode(StoreMode::Float16, &out, bins, tracks, 4..8).unwrap(), StoreMode::Float16, bins, tracks)
                .unwrap()
        else {
            panic!()
        };
        assert!(h.iter().zip(&out).all(|(a, b)| (a - b).abs() <= b.abs() * 1e-3));
        let EntryData::Summary { total, center } =
            decode(&encode(StoreMode::Summary, &out, bins, tracks, 4..8).unwrap(), StoreMode::Summary, bins, tracks)
                .unwrap()
        else {
            panic!()
        };
        let t2: f64 = (0..bins).map(|b| out[b * tracks + 2] as f64).sum();
        let c2: f64 = (4..8).map(|b| out[b * tracks + 2] as f64).sum();
        assert_eq!((total[2], center[2]), (t2, c2));
    }

    #[test]
    fn corruption_truncation_and_wrong_shape_are_detected() {
        let (bins, tracks) = (12, 5);
        let bytes = encode(StoreMode::Float32, &output(bins, tracks), bins, tracks, 0..1).unwrap();
        for i in [0, 5, bytes.len() / 2, bytes.len() - 2] {
            let mut flipped = bytes.clone();
            flipped[i] ^= 0x10;
            assert!(decode(&flipped, StoreMode::Float32, bins, tracks).is_err(), "bit flip at {i}");
        }
        assert!(decode(&bytes[..bytes.len() - 1], StoreMode::Float32, bins, tracks).is_err());
        assert!(decode(&[], StoreMode::Float32, bins, tracks).is_err());
        assert!(matches!(decode(&bytes, StoreMode::Float32, bins, 6), Err(EntryError::Shape { .. })));
        assert!(decode(&bytes, StoreMode::Float16, bins, tracks).is_err(), "dtype checked");
    }

    #[test]
    fn a_shape_whose_size_wraps_around_is_corrupt_not_a_panic() {
        // Found by tests/proptest_parsers.rs: 1 × 2^62 float32 values "need" 2^64 ≡ 0 bytes, so an entry with
        // no data passed the size check (and a summary of 2 × 2^63 tracks then panicked slicing its data).
        let frame = |raw: &[u8]| zstd::bulk::compress(raw, 1).unwrap();
        for (dtype, shape, store) in [
            (npy::Dtype::F32, vec![1, 1 << 62], StoreMode::Float32),
            (npy::Dtype::F16, vec![1 << 63, 2], StoreMode::Float16),
            (npy::Dtype::F64, vec![2, 1 << 63], StoreMode::Summary),
        ] {
            let bytes = frame(&npy::header(dtype, &shape));
            let err = decode_expecting(&bytes, store, Expect::default()).unwrap_err();
            assert_eq!(err, EntryError::Corrupt(format!("implausible shape {shape:?}")));
        }
    }

    #[test]
    fn float16_overflow_is_refused() {
        assert_eq!(encode(StoreMode::Float16, &[1.0, 70000.0], 1, 2, 0..1), Err(EntryError::Float16Overflow(70000.0)));
    }
}
