//! A Python pickle reader that knows numpy arrays and nothing else (protocols 2–5).
//!
//! Supported: `numpy.core.multiarray._reconstruct` + `BUILD` (protocols 2–4; in protocol 2 the bytes come
//! through `_codecs.encode(str, 'latin1')`), `numpy.core.numeric._frombuffer` (protocol 5, in-band buffers) and
//! `numpy.dtype`, plus the containers that hold them (tuples, lists, dicts). Nothing is ever called or
//! imported: those few globals are recognised by name and interpreted here, anything else (another global, an
//! unknown opcode, an out-of-band buffer) is a typed error.
//!
//! The input is untrusted, so nothing here is proportional to anything but the input's length, and nothing
//! recurses over the input's structure:
//! - the VM is a loop over opcodes with its own stacks (never the call stack);
//! - values nest at most [`MAX_DEPTH`] deep (a numpy pickle nests 3 deep). The check happens when a container
//!   is built, and lists and dicts (the only mutable containers) may not hold lists or dicts, so no later
//!   mutation can deepen a value beyond twice the limit and no value can contain itself. Dropping a value
//!   therefore recurses at most 2 × [`MAX_DEPTH`] levels;
//! - at most [`MAX_OPS`] opcodes run (a numpy pickle needs about 60);
//! - strings and buffers are borrowed from the input, never copied; the only allocation a pickle controls,
//!   `_codecs.encode`, may produce at most as many bytes in total as the input has.

use std::rc::Rc;

mod vm;

/// How deep values may nest (tuples in tuples ...).
pub const MAX_DEPTH: usize = 64;
/// How many opcodes one pickle may run.
pub const MAX_OPS: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PickleError {
    #[error("not a readable pickle: {msg} (at byte {offset})")]
    Malformed { offset: usize, msg: String },
    #[error(
        "pickle opcode 0x{op:02x} at byte {offset} is not supported (only numpy arrays and dicts of them are read)"
    )]
    Opcode { op: u8, offset: usize },
    #[error("the pickle refers to {0}, which is not read (only numpy arrays are; nothing in a pickle is executed)")]
    Global(String),
    #[error("values nested more than {MAX_DEPTH} deep at byte {offset} (a numpy array's pickle nests 3 deep)")]
    TooDeep { offset: usize },
    #[error("more than {MAX_OPS} pickle operations (a numpy array's pickle needs about 60)")]
    TooManyOps,
    #[error("the pickle builds more bytes than it holds (at byte {offset})")]
    TooLarge { offset: usize },
    #[error("array dtype {0} is not supported (float32, float16 or float64 expected)")]
    Dtype(String),
    #[error("array of shape {shape:?} holds {bytes} data bytes, not {values} values of {size} bytes")]
    DataSize { shape: Vec<usize>, bytes: usize, values: String, size: usize },
    #[error("the pickled dict has no '{key}' array (keys: {keys})")]
    NoKey { key: String, keys: String },
    #[error("the pickle holds {0}, not a numpy array or a dict of arrays")]
    NotArray(String),
}

/// A numpy array's element type, as far as this reader goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Float {
    F16,
    F32,
    F64,
}

impl Float {
    pub fn size(self) -> usize {
        match self {
            Float::F16 => 2,
            Float::F32 => 4,
            Float::F64 => 8,
        }
    }
}

/// Bytes borrowed from the input, or made by `_codecs.encode`.
#[derive(Debug, Clone)]
enum Buf<'a> {
    In(&'a [u8]),
    Own(Rc<[u8]>),
}

impl Buf<'_> {
    fn as_slice(&self) -> &[u8] {
        match self {
            Buf::In(b) => b,
            Buf::Own(b) => b,
        }
    }
}

/// A numpy array read from a pickle: its shape, element type, memory order and raw bytes.
#[derive(Debug, Clone)]
pub struct NdArray<'a> {
    pub shape: Vec<usize>,
    pub float: Float,
    pub big_endian: bool,
    pub fortran: bool,
    data: Buf<'a>,
}

impl NdArray<'_> {
    pub fn data(&self) -> &[u8] {
        self.data.as_slice()
    }

    /// The number of elements, None when the shape's product overflows (no array that large exists).
    pub fn len(&self) -> Option<usize> {
        self.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
    }

    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// The elements as C-ordered float32 of a `rows` × `cols` matrix. The caller has checked that the shape is
    /// [rows, cols] up to leading 1s (so a Fortran-ordered array is column-major `rows` × `cols`). The data must
    /// hold exactly the shape's elements (checked arithmetic: a shape whose byte size wraps is refused).
    pub fn to_f32_matrix(&self, rows: usize, cols: usize) -> Result<Vec<f32>, PickleError> {
        let size = self.float.size();
        let data = self.data();
        let want = self.len().and_then(|n| Some((n, n.checked_mul(size)?)));
        let n = match want {
            Some((n, bytes)) if bytes == data.len() && Some(n) == rows.checked_mul(cols) => n,
            _ => {
                let values = self.len().map_or_else(|| "an overflowing number of".into(), |n| n.to_string());
                return Err(PickleError::DataSize { shape: self.shape.clone(), bytes: data.len(), values, size });
            }
        };
        let big = self.big_endian;
        let value = |c: &[u8]| -> f32 {
            let mut b = [0u8; 8];
            b[..size].copy_from_slice(c);
            if big {
                b[..size].reverse();
            }
            match size {
                2 => half::f16::from_le_bytes([b[0], b[1]]).to_f32(),
                4 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
                _ => f64::from_le_bytes(b) as f32,
            }
        };
        let flat: Vec<f32> = data.chunks_exact(size).map(value).collect();
        if !self.fortran || rows <= 1 || cols <= 1 {
            return Ok(flat);
        }
        // Column-major: element (r, c) at r + rows * c.
        let mut out = vec![0f32; n];
        for (c, col) in flat.chunks_exact(rows).enumerate() {
            for (r, &v) in col.iter().enumerate() {
                out[r * cols + c] = v;
            }
        }
        Ok(out)
    }
}

/// Reads a pickle holding a numpy array, or a dict whose `key` entry is one (a bare array serves any key).
pub fn load_array<'a>(bytes: &'a [u8], key: &str) -> Result<NdArray<'a>, PickleError> {
    let a = vm::load(bytes, key)?;
    let order = a.byteorder.unwrap_or("=");
    let big_endian = match order {
        "<" | "=" | "|" => false,
        ">" => true,
        o => return Err(PickleError::Dtype(format!("{o}{}", a.code))),
    };
    let float = match a.code.trim_start_matches(['<', '>', '=', '|']) {
        "f2" | "e" => Float::F16,
        "f4" | "f" => Float::F32,
        "f8" | "d" => Float::F64,
        code => return Err(PickleError::Dtype(format!("{order}{code}"))),
    };
    Ok(NdArray { shape: a.shape, float, big_endian, fortran: a.fortran, data: a.data })
}

#[cfg(test)]
pub(crate) mod tests;
