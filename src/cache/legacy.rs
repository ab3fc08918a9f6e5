//! The legacy Python tool's cache: one `{seq_id}.pkl.gz` per window in a flat folder, a gzip-compressed
//! Python pickle of what Enformer returned for the window: a numpy array [bins, tracks] or [1, bins, tracks],
//! or a dict `{'human': array, 'mouse': array}`. The key is the same SHA-256 of the same window string as our
//! `seq_id` (see [`crate::window`]), so a legacy entry stands for exactly one of our entries.
//!
//! The pickle is read by a small pickle VM that knows only what numpy arrays need (protocols 2–5):
//! `numpy.core.multiarray._reconstruct` + `BUILD` (protocols 2–4; in protocol 2 the bytes come through
//! `_codecs.encode(str, 'latin1')`), `numpy.core.numeric._frombuffer` (protocol 5, in-band buffers), and
//! `numpy.dtype`. Nothing is ever called or imported: those few globals are recognised by name and
//! interpreted here, anything else (another global, an unknown opcode, an out-of-band buffer) is a typed
//! error. dtype float32, float16 or float64 (little- or big-endian) and C or Fortran order are accepted; the
//! result is always a C-ordered float32 [bins, tracks] array.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fs;
use std::io::{self, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use rayon::prelude::*;

use super::entry::{self, EntryData, EntryError};
use super::StoreMode;
use crate::window::is_seq_id;

/// File name suffix of a legacy entry: `{seq_id}.pkl.gz`.
pub const LEGACY_EXT: &str = "pkl.gz";

/// Refuse to inflate more than this (a full Enformer output is 19 MB; both heads 25 MB).
const MAX_PICKLE_BYTES: u64 = 1 << 32;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LegacyError {
    #[error("cannot read: {0}")]
    Io(String),
    #[error("not a gzip file, or a truncated one ({0})")]
    Gzip(String),
    #[error("inflates to more than {MAX_PICKLE_BYTES} bytes")]
    TooLarge,
    #[error("not a readable pickle: {msg} (at byte {offset})")]
    Pickle { offset: usize, msg: String },
    #[error(
        "pickle opcode 0x{op:02x} at byte {offset} is not supported (only numpy arrays and dicts of them are read)"
    )]
    Opcode { op: u8, offset: usize },
    #[error("the pickle refers to {0}, which is not read (only numpy arrays are; nothing in a pickle is executed)")]
    Global(String),
    #[error("array dtype {0} is not supported (float32, float16 or float64 expected)")]
    Dtype(String),
    #[error("array of shape {0:?}: expected [bins, tracks] or [1, bins, tracks]")]
    Shape(Vec<usize>),
    #[error("the pickled dict has no '{head}' array (keys: {keys})")]
    NoHead { head: String, keys: String },
    #[error("the pickle holds {0}, not a numpy array or a dict of arrays")]
    NotArray(String),
    #[error("array has shape [{got_bins}, {got_tracks}], but the model's '{head}' output is [{bins}, {tracks}]")]
    ShapeMismatch { head: String, got_bins: usize, got_tracks: usize, bins: usize, tracks: usize },
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
            StoreMode::Float32 => Ok(EntryData::Full(self.data.clone())),
            StoreMode::Float16 => {
                if let Some(&bad) = self.data.iter().find(|v| v.abs() > 65504.0 || v.is_nan()) {
                    return Err(EntryError::Float16Overflow(bad));
                }
                Ok(EntryData::Full(self.data.iter().map(|&v| half::f16::from_f32(v).to_f32()).collect()))
            }
            StoreMode::Summary => Ok(EntryData::Summary(entry::summarize(&self.data, self.tracks, center))),
        }
    }
}

/// Reads one `{seq_id}.pkl.gz` file and returns the array of `head` (a bare array counts for any head).
pub fn read_file(path: &Path, head: &str) -> Result<LegacyArray, LegacyError> {
    let file = fs::File::open(path).map_err(|e| LegacyError::Io(e.to_string()))?;
    let mut raw = Vec::new();
    flate2::read::MultiGzDecoder::new(io::BufReader::new(file))
        .take(MAX_PICKLE_BYTES + 1)
        .read_to_end(&mut raw)
        .map_err(|e| LegacyError::Gzip(e.to_string()))?;
    if raw.len() as u64 > MAX_PICKLE_BYTES {
        return Err(LegacyError::TooLarge);
    }
    if raw.is_empty() {
        return Err(LegacyError::Gzip("empty file".into()));
    }
    parse_pickle(&raw, head)
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
    pub fn open(dir: &Path) -> Result<LegacyCache, String> {
        if !dir.is_dir() {
            return Err(format!(
                "legacy cache {} is not a folder; fix: pass the folder holding the legacy tool's {{sha256}}.pkl.gz files",
                dir.display()
            ));
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

    /// Existence check only (a non-empty file), as for our own entries.
    pub fn contains(&self, seq_id: &str) -> bool {
        is_seq_id(seq_id)
            && !self.exclude.contains(seq_id)
            && fs::metadata(self.path(seq_id)).map(|m| m.is_file() && m.len() > 0).unwrap_or(false)
    }

    pub fn contains_many(&self, seq_ids: &[&str]) -> Vec<bool> {
        seq_ids.par_iter().with_min_len(64).map(|id| self.contains(id)).collect()
    }

    /// Reads the entry of `seq_id` for `head`; errors name the file.
    pub fn read(&self, seq_id: &str, head: &str) -> Result<LegacyArray, String> {
        let path = self.path(seq_id);
        read_file(&path, head).map_err(|e| format!("legacy entry {}: {e}", path.display()))
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

// ---------------------------------------------------------------------------------------------------------
// The pickle VM subset.

/// The few callables a numpy pickle names. Recognised by name, interpreted here, never imported.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Callable {
    Reconstruct,
    NdarrayType,
    DtypeType,
    CodecsEncode,
    FromBuffer,
    Bytes,
    Bytearray,
}

fn lookup_global(module: &str, name: &str) -> Result<Callable, LegacyError> {
    Ok(match (module, name) {
        ("numpy.core.multiarray" | "numpy._core.multiarray", "_reconstruct") => Callable::Reconstruct,
        ("numpy", "ndarray") => Callable::NdarrayType,
        ("numpy", "dtype") => Callable::DtypeType,
        ("_codecs", "encode") => Callable::CodecsEncode,
        ("numpy.core.numeric" | "numpy._core.numeric", "_frombuffer") => Callable::FromBuffer,
        ("__builtin__" | "builtins", "bytes") => Callable::Bytes,
        ("__builtin__" | "builtins", "bytearray") => Callable::Bytearray,
        _ => return Err(LegacyError::Global(format!("{module}.{name}"))),
    })
}

#[derive(Debug, Clone, PartialEq)]
struct DtypeObj {
    code: String,
    /// '<', '>', '=', '|'; None until BUILD sets it (native).
    byteorder: Option<String>,
}

#[derive(Debug, Clone)]
struct ArrayObj {
    shape: Vec<usize>,
    dtype: DtypeObj,
    fortran: bool,
    data: Rc<Vec<u8>>,
}

#[derive(Debug, Clone)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    Str(Rc<str>),
    Bytes(Rc<Vec<u8>>),
    Tuple(Rc<Vec<Value>>),
    List(Rc<RefCell<Vec<Value>>>),
    Dict(Rc<RefCell<Vec<(Value, Value)>>>),
    Global(Callable),
    Dtype(Rc<RefCell<DtypeObj>>),
    /// `_reconstruct(ndarray, ...)` returns an empty array that `BUILD` fills (shared, as in Python: the memo
    /// and the stack see the same object).
    Array(Rc<RefCell<Option<ArrayObj>>>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "a bool",
            Value::Int(_) => "an int",
            Value::Str(_) => "a str",
            Value::Bytes(_) => "bytes",
            Value::Tuple(_) => "a tuple",
            Value::List(_) => "a list",
            Value::Dict(_) => "a dict",
            Value::Global(_) => "a global",
            Value::Dtype(_) => "a dtype",
            Value::Array(_) => "an array",
        }
    }
}

struct Vm<'a> {
    data: &'a [u8],
    pos: usize,
    /// Offset of the opcode being executed (for messages).
    at: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: std::collections::HashMap<u32, Value>,
}

impl<'a> Vm<'a> {
    fn err(&self, msg: impl Into<String>) -> LegacyError {
        LegacyError::Pickle { offset: self.at, msg: msg.into() }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], LegacyError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len()).ok_or_else(|| self.err("truncated"))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, LegacyError> {
        Ok(self.take(1)?[0])
    }

    fn le<const N: usize>(&mut self) -> Result<[u8; N], LegacyError> {
        let mut b = [0u8; N];
        b.copy_from_slice(self.take(N)?);
        Ok(b)
    }

    fn len_u32(&mut self) -> Result<usize, LegacyError> {
        Ok(u32::from_le_bytes(self.le()?) as usize)
    }

    fn len_u64(&mut self) -> Result<usize, LegacyError> {
        usize::try_from(u64::from_le_bytes(self.le()?)).map_err(|_| self.err("length overflows"))
    }

    fn line(&mut self) -> Result<&'a str, LegacyError> {
        let rest = &self.data[self.pos..];
        let n = rest.iter().position(|&b| b == b'\n').ok_or_else(|| self.err("unterminated GLOBAL"))?;
        let s = std::str::from_utf8(&rest[..n]).map_err(|_| self.err("non-text GLOBAL"))?;
        self.pos += n + 1;
        Ok(s)
    }

    fn pop(&mut self) -> Result<Value, LegacyError> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err(self.err("pop across a MARK"));
        }
        self.stack.pop().ok_or_else(|| self.err("stack underflow"))
    }

    fn top(&mut self) -> Result<&mut Value, LegacyError> {
        let at = self.at;
        self.stack.last_mut().ok_or(LegacyError::Pickle { offset: at, msg: "stack underflow".into() })
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>, LegacyError> {
        let m = self.marks.pop().ok_or_else(|| self.err("no MARK"))?;
        if m > self.stack.len() {
            return Err(self.err("MARK beyond the stack"));
        }
        Ok(self.stack.split_off(m))
    }

    fn str(&mut self, n: usize) -> Result<Value, LegacyError> {
        let b = self.take(n)?;
        let s = std::str::from_utf8(b).map_err(|_| self.err("invalid UTF-8 in a str"))?;
        Ok(Value::Str(Rc::from(s)))
    }

    fn bytes(&mut self, n: usize) -> Result<Value, LegacyError> {
        Ok(Value::Bytes(Rc::new(self.take(n)?.to_vec())))
    }

    fn memo_put(&mut self, key: u32) -> Result<(), LegacyError> {
        let v = self.stack.last().cloned().ok_or_else(|| self.err("memo of an empty stack"))?;
        self.memo.insert(key, v);
        Ok(())
    }

    fn memo_get(&mut self, key: u32) -> Result<(), LegacyError> {
        let v = self.memo.get(&key).cloned().ok_or_else(|| self.err(format!("memo key {key} unset")))?;
        self.stack.push(v);
        Ok(())
    }

    fn run(mut self) -> Result<Value, LegacyError> {
        loop {
            self.at = self.pos;
            let op = self.u8()?;
            match op {
                0x80 => {
                    let proto = self.u8()?;
                    if !(2..=5).contains(&proto) {
                        return Err(self.err(format!("pickle protocol {proto} (2 to 5 are read)")));
                    }
                }
                0x95 => {
                    self.take(8)?; // FRAME: a length hint only
                }
                b'.' => {
                    let v = self.pop()?;
                    return Ok(v);
                }
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let v = self.top()?.clone();
                    self.stack.push(v);
                }
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Bool(true)),
                0x89 => self.stack.push(Value::Bool(false)),
                b'J' => {
                    let v = i32::from_le_bytes(self.le()?);
                    self.stack.push(Value::Int(v as i64));
                }
                b'K' => {
                    let v = self.u8()?;
                    self.stack.push(Value::Int(v as i64));
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.le()?);
                    self.stack.push(Value::Int(v as i64));
                }
                0x8a => {
                    // LONG1: little-endian two's complement, up to 8 bytes here.
                    let n = self.u8()? as usize;
                    if n > 8 {
                        return Err(self.err("integer too large"));
                    }
                    let b = self.take(n)?;
                    let mut buf = if b.last().is_some_and(|&x| x & 0x80 != 0) { [0xffu8; 8] } else { [0u8; 8] };
                    buf[..n].copy_from_slice(b);
                    self.stack.push(Value::Int(i64::from_le_bytes(buf)));
                }
                b'X' => {
                    let n = self.len_u32()?;
                    let v = self.str(n)?;
                    self.stack.push(v);
                }
                0x8c => {
                    let n = self.u8()? as usize;
                    let v = self.str(n)?;
                    self.stack.push(v);
                }
                0x8d => {
                    let n = self.len_u64()?;
                    let v = self.str(n)?;
                    self.stack.push(v);
                }
                // SHORT_BINBYTES, BINBYTES, BINBYTES8, BYTEARRAY8; SHORT_BINSTRING and BINSTRING (Python 2's
                // byte strings) read as bytes.
                b'C' | b'U' => {
                    let n = self.u8()? as usize;
                    let v = self.bytes(n)?;
                    self.stack.push(v);
                }
                b'B' | b'T' => {
                    let n = self.len_u32()?;
                    let v = self.bytes(n)?;
                    self.stack.push(v);
                }
                0x8e | 0x96 => {
                    let n = self.len_u64()?;
                    let v = self.bytes(n)?;
                    self.stack.push(v);
                }
                0x97 => return Err(self.err("out-of-band buffer (NEXT_BUFFER); the legacy entries are in-band")),
                0x98 => {} // READONLY_BUFFER: no-op on in-band data
                b')' => self.stack.push(Value::Tuple(Rc::new(Vec::new()))),
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::Tuple(Rc::new(items)));
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.stack.push(Value::Tuple(Rc::new(items)));
                }
                b']' => self.stack.push(Value::List(Rc::default())),
                b'l' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::List(Rc::new(RefCell::new(items))));
                }
                b'a' => {
                    let v = self.pop()?;
                    self.append(vec![v])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.append(items)?;
                }
                b'}' => self.stack.push(Value::Dict(Rc::default())),
                b'd' => {
                    let items = self.pop_mark()?;
                    let pairs = self.pairs(items)?;
                    self.stack.push(Value::Dict(Rc::new(RefCell::new(pairs))));
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.set_items(vec![(k, v)])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let pairs = self.pairs(items)?;
                    self.set_items(pairs)?;
                }
                b'q' => {
                    let k = self.u8()? as u32;
                    self.memo_put(k)?;
                }
                b'r' => {
                    let k = u32::from_le_bytes(self.le()?);
                    self.memo_put(k)?;
                }
                0x94 => {
                    let k = self.memo.len() as u32;
                    self.memo_put(k)?;
                }
                b'h' => {
                    let k = self.u8()? as u32;
                    self.memo_get(k)?;
                }
                b'j' => {
                    let k = u32::from_le_bytes(self.le()?);
                    self.memo_get(k)?;
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let g = lookup_global(module, name)?;
                    self.stack.push(Value::Global(g));
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Value::Str(module), Value::Str(name)) = (&module, &name) else {
                        return Err(self.err("STACK_GLOBAL needs two str"));
                    };
                    let g = lookup_global(module, name)?;
                    self.stack.push(Value::Global(g));
                }
                b'R' => {
                    let args = self.pop()?;
                    let func = self.pop()?;
                    let v = self.reduce(func, args)?;
                    self.stack.push(v);
                }
                b'b' => {
                    let state = self.pop()?;
                    let target = self.top()?.clone();
                    self.build(target, state)?;
                }
                _ => return Err(LegacyError::Opcode { op, offset: self.at }),
            }
        }
    }

    fn append(&mut self, items: Vec<Value>) -> Result<(), LegacyError> {
        match self.top()? {
            Value::List(l) => {
                l.borrow_mut().extend(items);
                Ok(())
            }
            other => {
                let kind = other.kind();
                Err(self.err(format!("APPEND to {kind}")))
            }
        }
    }

    fn pairs(&self, items: Vec<Value>) -> Result<Vec<(Value, Value)>, LegacyError> {
        if !items.len().is_multiple_of(2) {
            return Err(self.err("odd number of dict items"));
        }
        let mut it = items.into_iter();
        let mut out = Vec::new();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            out.push((k, v));
        }
        Ok(out)
    }

    fn set_items(&mut self, pairs: Vec<(Value, Value)>) -> Result<(), LegacyError> {
        match self.top()? {
            Value::Dict(d) => {
                d.borrow_mut().extend(pairs);
                Ok(())
            }
            other => {
                let kind = other.kind();
                Err(self.err(format!("SETITEM on {kind}")))
            }
        }
    }

    fn reduce(&self, func: Value, args: Value) -> Result<Value, LegacyError> {
        let Value::Global(g) = func else {
            return Err(self.err(format!("REDUCE of {}", func.kind())));
        };
        let Value::Tuple(args) = args else {
            return Err(self.err("REDUCE arguments are not a tuple"));
        };
        let args = args.as_slice();
        match (g, args) {
            (Callable::Reconstruct, [Value::Global(Callable::NdarrayType), ..]) => {
                Ok(Value::Array(Rc::new(RefCell::new(None))))
            }
            (Callable::DtypeType, [Value::Str(code), ..]) => {
                Ok(Value::Dtype(Rc::new(RefCell::new(DtypeObj { code: code.to_string(), byteorder: None }))))
            }
            (Callable::CodecsEncode, [Value::Str(s), Value::Str(enc)]) if is_latin1(enc) => {
                let bytes: Option<Vec<u8>> = s.chars().map(|c| u8::try_from(c as u32).ok()).collect();
                let bytes = bytes.ok_or_else(|| self.err("a latin-1 str holds a character above U+00FF"))?;
                Ok(Value::Bytes(Rc::new(bytes)))
            }
            (Callable::Bytes | Callable::Bytearray, []) => Ok(Value::Bytes(Rc::default())),
            (Callable::Bytes | Callable::Bytearray, [Value::Bytes(b)]) => Ok(Value::Bytes(b.clone())),
            (Callable::FromBuffer, [Value::Bytes(buf), Value::Dtype(dtype), shape, Value::Str(order)]) => {
                let shape = self.shape(shape)?;
                let fortran = match &**order {
                    "C" => false,
                    "F" => true,
                    o => return Err(self.err(format!("array order '{o}'"))),
                };
                let dtype = dtype.borrow().clone();
                let a = ArrayObj { shape, dtype, fortran, data: buf.clone() };
                Ok(Value::Array(Rc::new(RefCell::new(Some(a)))))
            }
            (g, args) => {
                let kinds: Vec<&str> = args.iter().map(Value::kind).collect();
                Err(self.err(format!("unexpected call {g:?}({})", kinds.join(", "))))
            }
        }
    }

    fn shape(&self, v: &Value) -> Result<Vec<usize>, LegacyError> {
        let Value::Tuple(t) = v else { return Err(self.err("array shape is not a tuple")) };
        t.iter()
            .map(|d| match d {
                Value::Int(n) if *n >= 0 => Ok(*n as usize),
                _ => Err(self.err("array shape holds a non-integer")),
            })
            .collect()
    }

    fn build(&self, target: Value, state: Value) -> Result<(), LegacyError> {
        match (target, state) {
            // dtype state: (version, byteorder, subarray, names, fields, elsize, alignment, flags)
            (Value::Dtype(d), Value::Tuple(t)) => {
                if let Some(Value::Str(order)) = t.get(1) {
                    d.borrow_mut().byteorder = Some(order.to_string());
                }
                Ok(())
            }
            // ndarray state: (version, shape, dtype, is_fortran, data)
            (Value::Array(a), Value::Tuple(t)) => {
                let [_, shape, Value::Dtype(dtype), Value::Bool(fortran), data] = t.as_slice() else {
                    return Err(self.err("array state is not (version, shape, dtype, fortran, data)"));
                };
                let Value::Bytes(data) = data else {
                    return Err(self.err(format!("array data is {} (object arrays are not read)", data.kind())));
                };
                let obj = ArrayObj {
                    shape: self.shape(shape)?,
                    dtype: dtype.borrow().clone(),
                    fortran: *fortran,
                    data: data.clone(),
                };
                *a.borrow_mut() = Some(obj);
                Ok(())
            }
            (t, s) => Err(self.err(format!("BUILD of {} with {}", t.kind(), s.kind()))),
        }
    }
}

fn is_latin1(enc: &str) -> bool {
    matches!(enc.to_ascii_lowercase().replace(['-', '_'], "").as_str(), "latin1" | "iso88591" | "l1")
}

/// Parses a (decompressed) legacy pickle and returns the array of `head`.
pub fn parse_pickle(bytes: &[u8], head: &str) -> Result<LegacyArray, LegacyError> {
    let vm = Vm { data: bytes, pos: 0, at: 0, stack: Vec::new(), marks: Vec::new(), memo: Default::default() };
    let top = vm.run()?;
    let array = match &top {
        Value::Array(_) => top.clone(),
        Value::Dict(d) => {
            let d = d.borrow();
            let found = d.iter().find(|(k, _)| matches!(k, Value::Str(s) if &**s == head));
            match found {
                Some((_, v)) => v.clone(),
                None => {
                    let keys: Vec<String> = d
                        .iter()
                        .map(|(k, _)| match k {
                            Value::Str(s) => format!("'{s}'"),
                            other => other.kind().to_string(),
                        })
                        .collect();
                    return Err(LegacyError::NoHead { head: head.to_string(), keys: keys.join(", ") });
                }
            }
        }
        other => return Err(LegacyError::NotArray(other.kind().to_string())),
    };
    let Value::Array(a) = array else { return Err(LegacyError::NotArray(array.kind().to_string())) };
    let a = a.borrow();
    let a = a.as_ref().ok_or_else(|| LegacyError::NotArray("an array without data (no BUILD)".into()))?;
    to_f32(a)
}

fn to_f32(a: &ArrayObj) -> Result<LegacyArray, LegacyError> {
    let (bins, tracks) = match a.shape.as_slice() {
        [b, t] | [1, b, t] if *b > 0 && *t > 0 => (*b, *t),
        _ => return Err(LegacyError::Shape(a.shape.clone())),
    };
    let order = a.dtype.byteorder.as_deref().unwrap_or("=");
    let big = match order {
        "<" | "=" | "|" => false,
        ">" => true,
        o => return Err(LegacyError::Dtype(format!("{o}{}", a.dtype.code))),
    };
    let code = a.dtype.code.trim_start_matches(['<', '>', '=', '|']);
    let size = match code {
        "f2" | "e" => 2,
        "f4" | "f" => 4,
        "f8" | "d" => 8,
        _ => return Err(LegacyError::Dtype(format!("{order}{code}"))),
    };
    let n = bins * tracks;
    if a.data.len() != n.saturating_mul(size) {
        return Err(LegacyError::Pickle {
            offset: 0,
            msg: format!("{} data bytes for {n} values of {size} bytes", a.data.len()),
        });
    }
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
    let flat: Vec<f32> = a.data.chunks_exact(size).map(value).collect();
    let data = if a.fortran && bins > 1 && tracks > 1 {
        // Column-major: element (b, t) at b + bins * t (a leading 1 changes nothing).
        let mut c = vec![0f32; n];
        for (t, col) in flat.chunks_exact(bins).enumerate() {
            for (b, &v) in col.iter().enumerate() {
                c[b * tracks + t] = v;
            }
        }
        c
    } else {
        flat
    };
    Ok(LegacyArray { bins, tracks, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pickle.dumps(np.arange(6, dtype='<f4').reshape(2, 3), protocol=2)` from numpy 2.4 (pickletools shows
    /// `_codecs.encode` carrying the bytes as a latin-1 str).
    const P2: &[u8] = b"\x80\x02cnumpy._core.multiarray\x0a_reconstruct\x0aq\x00cnumpy\x0andarray\x0aq\x01K\x00\x85q\x02c_codecs\x0aencode\x0aq\x03X\x01\x00\x00\x00bq\x04X\x06\x00\x00\x00latin1q\x05\x86q\x06Rq\x07\x87q\x08Rq\x09(K\x01K\x02K\x03\x86q\x0acnumpy\x0adtype\x0aq\x0bX\x02\x00\x00\x00f4q\x0c\x89\x88\x87q\x0dRq\x0e(K\x03X\x01\x00\x00\x00<q\x0fNNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tq\x10b\x89h\x03X\x1b\x00\x00\x00\x00\x00\x00\x00\x00\x00\xc2\x80?\x00\x00\x00@\x00\x00@@\x00\x00\xc2\x80@\x00\x00\xc2\xa0@q\x11h\x05\x86q\x12Rq\x13tq\x14b.";

    /// Protocol 5, Fortran-ordered: `pickle.dumps(np.asfortranarray(np.arange(6, dtype='<f4').reshape(2, 3)),
    /// protocol=5)` (in-band BYTEARRAY8 through `_frombuffer`).
    const P5_F: &[u8] = b"\x80\x05\x95\x8e\x00\x00\x00\x00\x00\x00\x00\x8c\x13numpy._core.numeric\x94\x8c\x0b_frombuffer\x94\x93\x94(\x96\x18\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00@@\x00\x00\x80?\x00\x00\x80@\x00\x00\x00@\x00\x00\xa0@\x94\x8c\x05numpy\x94\x8c\x05dtype\x94\x93\x94\x8c\x02f4\x94\x89\x88\x87\x94R\x94(K\x03\x8c\x01<\x94NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t\x94bK\x02K\x03\x86\x94\x8c\x01F\x94t\x94R\x94.";

    fn arange6() -> LegacyArray {
        LegacyArray { bins: 2, tracks: 3, data: vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0] }
    }

    #[test]
    fn numpy_protocol_2_latin1_and_protocol_5_fortran() {
        assert_eq!(parse_pickle(P2, "human").unwrap(), arange6());
        assert_eq!(parse_pickle(P5_F, "mouse").unwrap(), arange6(), "a bare array serves any head");
    }

    #[test]
    fn every_prefix_and_bit_flip_is_an_error_or_a_value_never_a_panic() {
        for n in 0..P2.len() {
            assert!(parse_pickle(&P2[..n], "human").is_err(), "prefix {n}");
        }
        for i in 0..P5_F.len() {
            for bit in [0x01u8, 0x80] {
                let mut b = P5_F.to_vec();
                b[i] ^= bit;
                let _ = parse_pickle(&b, "human");
            }
        }
    }

    #[test]
    fn foreign_globals_and_opcodes_are_refused() {
        // pickle.dumps(os.system) would name posix.system: refused before anything happens.
        let evil = b"\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03.";
        assert_eq!(parse_pickle(evil, "human"), Err(LegacyError::Global("posix.system".into())));
        assert!(matches!(
            parse_pickle(b"\x80\x04G\x3f\xf0\0\0\0\0\0\0.", "h"),
            Err(LegacyError::Opcode { op: b'G', .. })
        ));
        assert!(matches!(parse_pickle(b"\x80\x01N.", "h"), Err(LegacyError::Pickle { .. })), "protocol 1");
        assert_eq!(parse_pickle(b"\x80\x04K\x07.", "h"), Err(LegacyError::NotArray("an int".into())));
        assert!(matches!(parse_pickle(b"\x80\x05\x97.", "h"), Err(LegacyError::Pickle { .. })), "out-of-band");
        assert!(parse_pickle(b"not a pickle", "h").is_err());
    }

    #[test]
    fn dict_without_the_head_names_its_keys() {
        // pickle.dumps({'mouse': 1}, protocol=4)
        let p = b"\x80\x04\x95\x0e\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x05mouse\x94K\x01s.";
        assert_eq!(parse_pickle(p, "human"), Err(LegacyError::NoHead { head: "human".into(), keys: "'mouse'".into() }));
    }

    #[test]
    fn shapes_dtypes_and_byte_orders() {
        let mk = |shape: Vec<usize>, code: &str, order: &str, data: Vec<u8>| ArrayObj {
            shape,
            dtype: DtypeObj { code: code.into(), byteorder: Some(order.into()) },
            fortran: false,
            data: Rc::new(data),
        };
        let f4: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let want = LegacyArray { bins: 1, tracks: 2, data: vec![1.5, -2.0] };
        assert_eq!(to_f32(&mk(vec![1, 1, 2], "f4", "<", f4.clone())).unwrap(), want);
        let be: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|v| v.to_be_bytes()).collect();
        assert_eq!(to_f32(&mk(vec![1, 2], "f4", ">", be)).unwrap(), want);
        let f8: Vec<u8> = [1.5f64, -2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(to_f32(&mk(vec![1, 2], "f8", "<", f8)).unwrap(), want);
        let f2: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|&v| half::f16::from_f32(v).to_le_bytes()).collect();
        assert_eq!(to_f32(&mk(vec![1, 2], "f2", "<", f2)).unwrap(), want);
        assert_eq!(to_f32(&mk(vec![2], "f4", "<", f4.clone())), Err(LegacyError::Shape(vec![2])));
        assert_eq!(to_f32(&mk(vec![2, 1, 1], "f4", "<", f4.clone())), Err(LegacyError::Shape(vec![2, 1, 1])));
        assert!(matches!(to_f32(&mk(vec![1, 2], "i4", "<", f4.clone())), Err(LegacyError::Dtype(_))));
        assert!(matches!(to_f32(&mk(vec![1, 3], "f4", "<", f4)), Err(LegacyError::Pickle { .. })), "short data");
    }

    #[test]
    fn entry_data_equals_the_encode_decode_round_trip() {
        let a = LegacyArray { bins: 6, tracks: 3, data: (0..18).map(|i| (i as f32 * 0.731).sin() * 3.0).collect() };
        for store in [StoreMode::Float32, StoreMode::Float16, StoreMode::Summary] {
            let bytes = entry::encode(store, &a.data, 6, 3, 2..4).unwrap();
            assert_eq!(a.to_entry_data(store, 2..4).unwrap(), entry::decode(&bytes, store, 6, 3).unwrap(), "{store:?}");
        }
        assert!(a.clone().expect_shape("human", 6, 3).is_ok());
        assert!(matches!(a.expect_shape("human", 896, 3), Err(LegacyError::ShapeMismatch { .. })));
    }

    #[test]
    fn files_gzip_and_folder_listing() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let key = crate::window::seq_id(b"ACGT");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(P2).unwrap();
        let bytes = gz.finish().unwrap();
        fs::write(dir.path().join(format!("{key}.pkl.gz")), &bytes).unwrap();
        fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        let legacy = LegacyCache::open(dir.path()).unwrap();
        assert!(legacy.contains(&key) && !legacy.contains(&crate::window::seq_id(b"T")));
        assert!(!legacy.excluding([key.clone()]).contains(&key));
        assert_eq!(legacy.read(&key, "human").unwrap(), arange6());
        let (entries, others) = legacy.list().unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(others, vec![dir.path().join("notes.txt")]);
        fs::write(legacy.path(&key), &bytes[..bytes.len() - 5]).unwrap();
        assert!(matches!(read_file(&legacy.path(&key), "human"), Err(LegacyError::Gzip(_))));
        fs::write(legacy.path(&key), P2).unwrap();
        assert!(matches!(read_file(&legacy.path(&key), "human"), Err(LegacyError::Gzip(_))), "not gzip");
        assert!(LegacyCache::open(&dir.path().join("nope")).is_err());
    }
}
