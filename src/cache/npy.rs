//! The `.npy` v1.0 format (numpy's own), enough for C-ordered little-endian 2-D float arrays.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    U8,
    F16,
    F32,
    F64,
}

impl Dtype {
    pub fn descr(self) -> &'static str {
        match self {
            Dtype::U8 => "|u1",
            Dtype::F16 => "<f2",
            Dtype::F32 => "<f4",
            Dtype::F64 => "<f8",
        }
    }
    pub fn size(self) -> usize {
        match self {
            Dtype::U8 => 1,
            Dtype::F16 => 2,
            Dtype::F32 => 4,
            Dtype::F64 => 8,
        }
    }
}

const MAGIC: &[u8] = b"\x93NUMPY";

/// The header bytes for a C-ordered array of `shape`, padded so the data starts at a multiple of 64.
pub fn header(dtype: Dtype, shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_txt = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut dict = format!("{{'descr': '{}', 'fortran_order': False, 'shape': {shape_txt}, }}", dtype.descr());
    let unpadded = MAGIC.len() + 2 + 2 + dict.len() + 1;
    dict.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    dict.push('\n');
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + dict.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Parses a header: (dtype, shape, offset of the data). Only what `header` writes is accepted.
pub fn parse_header(bytes: &[u8]) -> Result<(Dtype, Vec<usize>, usize), String> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not a .npy array".into());
    }
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let dict = bytes.get(start..start + len).ok_or("truncated .npy header")?;
    let dict = std::str::from_utf8(dict).map_err(|_| "non-text .npy header")?;
    let field = |key: &str| -> Option<&str> {
        let at = dict.find(&format!("'{key}':"))? + key.len() + 3;
        Some(dict[at..].trim_start())
    };
    let descr = field("descr").ok_or("no descr in .npy header")?;
    let dtype = [Dtype::U8, Dtype::F16, Dtype::F32, Dtype::F64]
        .into_iter()
        .find(|d| descr.starts_with(&format!("'{}'", d.descr())))
        .ok_or_else(|| format!("unsupported dtype {}", descr.split(',').next().unwrap_or("")))?;
    if !field("fortran_order").is_some_and(|f| f.starts_with("False")) {
        return Err("Fortran-ordered arrays are not supported".into());
    }
    let shape_txt = field("shape").ok_or("no shape in .npy header")?;
    let inner = shape_txt.strip_prefix('(').and_then(|s| s.split(')').next()).ok_or("bad shape in .npy header")?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| format!("bad shape '{inner}'")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((dtype, shape, start + len))
}

/// Reads a whole `.npy` file: (dtype, shape, raw little-endian data).
pub fn read_file(path: &std::path::Path) -> Result<(Dtype, Vec<usize>, Vec<u8>), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (dtype, shape, offset) = parse_header(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((dtype, shape, bytes[offset..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_alignment() {
        for (dtype, shape) in [(Dtype::F32, vec![896, 5313]), (Dtype::F64, vec![2, 16]), (Dtype::F16, vec![7])] {
            let h = header(dtype, &shape);
            assert_eq!(h.len() % 64, 0);
            assert_eq!(parse_header(&h).unwrap(), (dtype, shape, h.len()));
        }
        // What numpy 1.x/2.x writes for np.zeros((2, 3), '<f4').
        let numpy = b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }                                                            \n";
        assert_eq!(parse_header(numpy).unwrap(), (Dtype::F32, vec![2, 3], 128));
        assert!(parse_header(b"garbage").is_err());
    }
}
