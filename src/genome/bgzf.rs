//! Random access into bgzip-compressed FASTA through its `.gzi` index.
//!
//! A BGZF file is a series of gzip members ("blocks") of at most 64 KiB uncompressed each, whose header
//! carries the block's compressed size (`BC` extra subfield). The `.gzi` file lists (compressed offset,
//! uncompressed offset) for every block start after the first, so a window read decompresses only the
//! handful of blocks that overlap it.

use flate2::{Crc, Decompress, FlushDecompress};

pub const MAGIC: [u8; 4] = [0x1f, 0x8b, 0x08, 0x04];

#[derive(Debug, thiserror::Error)]
pub enum BgzfError {
    #[error("not a BGZF block at compressed offset {0} (plain gzip is not seekable: recompress with `bgzip`)")]
    NotBgzf(u64),
    #[error("corrupt BGZF block at compressed offset {0}: {1}")]
    Corrupt(u64, String),
    #[error("the .gzi index is malformed: {0}")]
    BadGzi(String),
}

/// Block starts as (compressed offset, uncompressed offset), including the implicit first block (0, 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GziIndex(pub Vec<(u64, u64)>);

impl GziIndex {
    pub fn parse(bytes: &[u8]) -> Result<Self, BgzfError> {
        let read_u64 = |i: usize| -> Option<u64> { Some(u64::from_le_bytes(bytes.get(i..i + 8)?.try_into().ok()?)) };
        let n = read_u64(0).ok_or_else(|| BgzfError::BadGzi("shorter than 8 bytes".into()))? as usize;
        if bytes.len() != 8 + n.saturating_mul(16) {
            return Err(BgzfError::BadGzi(format!("declares {n} entries but is {} bytes long", bytes.len())));
        }
        let mut entries = vec![(0, 0)];
        for k in 0..n {
            let c = read_u64(8 + 16 * k).unwrap_or(0);
            let u = read_u64(16 + 16 * k).unwrap_or(0);
            entries.push((c, u));
        }
        if entries.windows(2).any(|w| w[1].0 <= w[0].0 || w[1].1 < w[0].1) {
            return Err(BgzfError::BadGzi("offsets are not increasing".into()));
        }
        Ok(GziIndex(entries))
    }

    pub fn render(&self) -> Vec<u8> {
        let body = &self.0[1..];
        let mut out = Vec::with_capacity(8 + 16 * body.len());
        out.extend_from_slice(&(body.len() as u64).to_le_bytes());
        for (c, u) in body {
            out.extend_from_slice(&c.to_le_bytes());
            out.extend_from_slice(&u.to_le_bytes());
        }
        out
    }

    /// Scans the block headers of a whole BGZF file (decompressing each block to learn its size).
    pub fn build(data: &[u8]) -> Result<Self, BgzfError> {
        let mut entries = Vec::new();
        let (mut coff, mut uoff) = (0u64, 0u64);
        let mut scratch = Vec::new();
        while (coff as usize) < data.len() {
            entries.push((coff, uoff));
            let size = inflate_block(data, coff, &mut scratch)?;
            uoff += scratch.len() as u64;
            coff += size as u64;
        }
        if entries.is_empty() {
            entries.push((0, 0));
        }
        // A trailing empty EOF block shares its uncompressed offset with nothing after it: harmless to keep.
        Ok(GziIndex(entries))
    }
}

/// Decompresses the block at `coff` into `out` (cleared first); returns the block's compressed size.
pub fn inflate_block(data: &[u8], coff: u64, out: &mut Vec<u8>) -> Result<usize, BgzfError> {
    let start = coff as usize;
    let header = data.get(start..start + 12).ok_or(BgzfError::NotBgzf(coff))?;
    if header[..4] != MAGIC {
        return Err(BgzfError::NotBgzf(coff));
    }
    let xlen = u16::from_le_bytes([header[10], header[11]]) as usize;
    let extra = data.get(start + 12..start + 12 + xlen).ok_or(BgzfError::NotBgzf(coff))?;
    let mut bsize = None;
    let mut i = 0;
    while i + 4 <= extra.len() {
        let slen = u16::from_le_bytes([extra[i + 2], extra[i + 3]]) as usize;
        if extra[i] == b'B' && extra[i + 1] == b'C' && slen == 2 && i + 6 <= extra.len() {
            bsize = Some(u16::from_le_bytes([extra[i + 4], extra[i + 5]]) as usize + 1);
        }
        i += 4 + slen;
    }
    let size = bsize.ok_or(BgzfError::NotBgzf(coff))?;
    let block = data
        .get(start..start + size)
        .ok_or_else(|| BgzfError::Corrupt(coff, "block runs past the end of the file (truncated?)".into()))?;
    if size < 12 + xlen + 8 {
        return Err(BgzfError::Corrupt(coff, "block too small".into()));
    }
    let cdata = &block[12 + xlen..size - 8];
    let crc_expected = u32::from_le_bytes(block[size - 8..size - 4].try_into().unwrap_or_default());
    let isize = u32::from_le_bytes(block[size - 4..].try_into().unwrap_or_default()) as usize;
    out.clear();
    out.reserve(isize);
    let mut inflater = Decompress::new(false);
    inflater
        .decompress_vec(cdata, out, FlushDecompress::Finish)
        .map_err(|e| BgzfError::Corrupt(coff, e.to_string()))?;
    if out.len() != isize {
        return Err(BgzfError::Corrupt(coff, format!("inflated to {} bytes, header says {isize}", out.len())));
    }
    let mut crc = Crc::new();
    crc.update(out);
    if crc.sum() != crc_expected {
        return Err(BgzfError::Corrupt(coff, "CRC32 mismatch".into()));
    }
    Ok(size)
}

/// Uncompressed bytes [from, to) of a BGZF file.
pub fn read_range(data: &[u8], gzi: &GziIndex, from: u64, to: u64) -> Result<Vec<u8>, BgzfError> {
    let mut out = Vec::with_capacity((to - from) as usize);
    let first = gzi.0.partition_point(|&(_, u)| u <= from).saturating_sub(1);
    let (mut coff, mut uoff) = gzi.0[first];
    let mut block = Vec::new();
    while uoff < to && (coff as usize) < data.len() {
        let size = inflate_block(data, coff, &mut block)?;
        let block_end = uoff + block.len() as u64;
        if block_end > from {
            let a = from.saturating_sub(uoff) as usize;
            let b = (to.min(block_end) - uoff) as usize;
            out.extend_from_slice(&block[a..b]);
        }
        uoff = block_end;
        coff += size as u64;
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use flate2::{write::DeflateEncoder, Compression};
    use std::io::Write;

    /// Writes BGZF the way bgzip does: blocks of `block_size` uncompressed bytes plus the empty EOF block.
    pub fn bgzip(data: &[u8], block_size: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut chunks: Vec<&[u8]> = data.chunks(block_size).collect();
        chunks.push(&[]);
        for chunk in chunks {
            let mut enc = DeflateEncoder::new(Vec::new(), Compression::default());
            enc.write_all(chunk).unwrap();
            let cdata = enc.finish().unwrap();
            let bsize = (12 + 6 + cdata.len() + 8 - 1) as u16;
            out.extend_from_slice(&[0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 6, 0, b'B', b'C', 2, 0]);
            out.extend_from_slice(&bsize.to_le_bytes());
            out.extend_from_slice(&cdata);
            let mut crc = Crc::new();
            crc.update(chunk);
            out.extend_from_slice(&crc.sum().to_le_bytes());
            out.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
        }
        out
    }

    #[test]
    fn random_ranges_match_the_plain_bytes() {
        let plain: Vec<u8> = (0..5000u32).map(|i| b"ACGT\n"[(i * 7 % 5) as usize]).collect();
        let data = bgzip(&plain, 700);
        let gzi = GziIndex::build(&data).unwrap();
        assert_eq!(GziIndex::parse(&gzi.render()).unwrap(), gzi);
        for (a, b) in [(0, 1), (0, 5000), (699, 701), (1400, 1400), (4999, 5000), (1234, 3456)] {
            assert_eq!(read_range(&data, &gzi, a, b).unwrap(), &plain[a as usize..b as usize], "{a}..{b}");
        }
    }

    #[test]
    fn corruption_is_detected() {
        let plain = vec![b'A'; 3000];
        let mut data = bgzip(&plain, 1000);
        let gzi = GziIndex::build(&data).unwrap();
        let n = data.len();
        data[n / 2] ^= 0x40;
        assert!(read_range(&data, &gzi, 0, 3000).is_err());
        assert!(matches!(
            inflate_block(b"\x1f\x8b\x08\x00xxxxxxxxxxxx", 0, &mut Vec::new()),
            Err(BgzfError::NotBgzf(0))
        ));
        assert!(GziIndex::parse(&[1, 0, 0]).is_err());
    }
}
