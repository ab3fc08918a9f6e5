//! Two bits per base: how a sequence table stores a window made only of `A`, `C`, `G` and `T`.
//!
//! Layout: the base count as a little-endian `u32`, then one byte per four bases, the first base in the lowest
//! two bits (`A`=0, `C`=1, `G`=2, `T`=3); the unused bits of the last byte are zero, so every window has exactly
//! one packed form. A window with any other byte (`N`, an IUPAC code) is stored as text instead.
//!
//! Why: a general-purpose compressor on a window's text runs at ≈ 100 MB/s on DNA (zstd level 1), ≈ 2 ms a
//! window, which made compression most of extract-seqs' time; packing runs at memory speed and stores the
//! same window in a quarter of the bytes.

/// Packed byte → its four bases.
const BASES: [[u8; 4]; 256] = {
    let alphabet = [b'A', b'C', b'G', b'T'];
    let mut t = [[0u8; 4]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [alphabet[i & 3], alphabet[(i >> 2) & 3], alphabet[(i >> 4) & 3], alphabet[(i >> 6) & 3]];
        i += 1;
    }
    t
};

/// The packed form of `seq`, or None when it holds a byte other than `A`, `C`, `G`, `T` (or is longer than
/// `u32::MAX` bases).
pub fn pack(seq: &[u8]) -> Option<Vec<u8>> {
    let n = u32::try_from(seq.len()).ok()?;
    // One branch-free pass that the compiler vectorises, then the packing itself, which may assume ACGT.
    if !seq.iter().fold(true, |ok, &c| ok & matches!(c, b'A' | b'C' | b'G' | b'T')) {
        return None;
    }
    let mut out = Vec::with_capacity(4 + seq.len().div_ceil(4));
    out.extend_from_slice(&n.to_le_bytes());
    let chunks = seq.chunks_exact(4);
    let rest = chunks.remainder();
    // Four bases at a time in a u32: `(c >> 1) ^ (c >> 2)` maps A, C, G, T (0x41, 0x43, 0x47, 0x54) to
    // 0, 1, 2, 3 in each byte's low two bits, and the shifts gather the four codes into one byte.
    out.extend(chunks.map(|c| {
        let x = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        let codes = ((x >> 1) ^ (x >> 2)) & 0x0303_0303;
        (codes | (codes >> 6) | (codes >> 12) | (codes >> 18)) as u8
    }));
    if !rest.is_empty() {
        out.push(rest.iter().enumerate().fold(0u8, |byte, (i, &c)| byte | (((c >> 1) ^ (c >> 2)) & 3) << (2 * i)));
    }
    Some(out)
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PackError {
    #[error("packed window of {0} bytes has no 4-byte length")]
    NoLength(usize),
    #[error("packed window says {bases} bases but holds {bytes} bytes of them")]
    Length { bases: u64, bytes: usize },
    #[error("packed window has non-zero bits after its last base")]
    Padding,
}

/// Unpacks into `out` (cleared first), so a reader can reuse one buffer.
pub fn unpack_into(packed: &[u8], out: &mut Vec<u8>) -> Result<(), PackError> {
    let (len, data) = packed.split_first_chunk::<4>().ok_or(PackError::NoLength(packed.len()))?;
    let n = u32::from_le_bytes(*len) as usize;
    if data.len() != n.div_ceil(4) {
        return Err(PackError::Length { bases: n as u64, bytes: data.len() });
    }
    let tail = n % 4;
    if tail != 0 && data.last().is_some_and(|&b| b >> (2 * tail) != 0) {
        return Err(PackError::Padding);
    }
    out.clear();
    out.reserve(data.len() * 4);
    for &b in data {
        out.extend_from_slice(&BASES[b as usize]);
    }
    out.truncate(n);
    Ok(())
}

pub fn unpack(packed: &[u8]) -> Result<Vec<u8>, PackError> {
    let mut out = Vec::new();
    unpack_into(packed, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_length_and_base() {
        for n in 0..40 {
            let seq: Vec<u8> = (0..n).map(|i| b"ACGT"[(i * 7 + i / 3) % 4]).collect();
            let p = pack(&seq).unwrap();
            assert_eq!(p.len(), 4 + n.div_ceil(4));
            assert_eq!(unpack(&p).unwrap(), seq, "length {n}");
        }
        assert_eq!(pack(b"ACGT").unwrap(), [4, 0, 0, 0, 0b11_10_01_00]);
    }

    #[test]
    fn other_bytes_are_not_packed() {
        for bad in [&b"ACGN"[..], b"acgt", b"ACGTR", b"N", b"ACGTACGT\n"] {
            assert!(pack(bad).is_none(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn corrupt_forms_are_refused_not_panicked() {
        assert_eq!(unpack(b"\x01\x00"), Err(PackError::NoLength(2)));
        assert_eq!(unpack(&[9, 0, 0, 0, 0]), Err(PackError::Length { bases: 9, bytes: 1 }));
        assert_eq!(unpack(&[0xff, 0xff, 0xff, 0xff]), Err(PackError::Length { bases: u32::MAX as u64, bytes: 0 }));
        assert_eq!(unpack(&[1, 0, 0, 0, 0b100]), Err(PackError::Padding));
        assert_eq!(unpack(&[1, 0, 0, 0, 0b11]).unwrap(), b"T");
    }
}
