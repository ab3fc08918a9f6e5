//! The pickle VM: a loop over opcodes with its own stacks, and the few values numpy pickles are made of (see
//! the limits in the parent module's doc).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::{Buf, PickleError, MAX_DEPTH, MAX_OPS};

/// The array a pickle holds, as its pickle describes it (the dtype still to be interpreted).
pub(super) struct RawArray<'a> {
    pub shape: Vec<usize>,
    pub code: &'a str,
    pub byteorder: Option<&'a str>,
    pub fortran: bool,
    pub data: Buf<'a>,
}

/// Runs the pickle and returns its array, or the `key` entry of its dict.
pub(super) fn load<'a>(bytes: &'a [u8], key: &str) -> Result<RawArray<'a>, PickleError> {
    let vm = Vm {
        data: bytes,
        pos: 0,
        at: 0,
        ops: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        budget: bytes.len(),
    };
    let top = vm.run()?;
    let found = match &top {
        Value::Array(_) => top.clone(),
        Value::Dict(d) => {
            let d = d.borrow();
            match d.items.iter().find(|(k, _)| matches!(k, Value::Str(s) if *s == key)) {
                Some((_, v)) => v.clone(),
                None => {
                    let keys: Vec<String> = d
                        .items
                        .iter()
                        .map(|(k, _)| match k {
                            Value::Str(s) => format!("'{s}'"),
                            other => other.kind().to_string(),
                        })
                        .collect();
                    return Err(PickleError::NoKey { key: key.to_string(), keys: keys.join(", ") });
                }
            }
        }
        other => return Err(PickleError::NotArray(other.kind().to_string())),
    };
    let Value::Array(a) = found else { return Err(PickleError::NotArray(found.kind().to_string())) };
    let a = a.borrow();
    let a = a.as_ref().ok_or_else(|| PickleError::NotArray("an array without data (no BUILD)".into()))?;
    Ok(RawArray {
        shape: a.shape.clone(),
        code: a.dtype.code,
        byteorder: a.dtype.byteorder,
        fortran: a.fortran,
        data: a.data.clone(),
    })
}

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

fn lookup_global(module: &str, name: &str) -> Result<Callable, PickleError> {
    Ok(match (module, name) {
        ("numpy.core.multiarray" | "numpy._core.multiarray", "_reconstruct") => Callable::Reconstruct,
        ("numpy", "ndarray") => Callable::NdarrayType,
        ("numpy", "dtype") => Callable::DtypeType,
        ("_codecs", "encode") => Callable::CodecsEncode,
        ("numpy.core.numeric" | "numpy._core.numeric", "_frombuffer") => Callable::FromBuffer,
        ("__builtin__" | "builtins", "bytes") => Callable::Bytes,
        ("__builtin__" | "builtins", "bytearray") => Callable::Bytearray,
        _ => return Err(PickleError::Global(format!("{module}.{name}"))),
    })
}

#[derive(Debug, Clone, Copy)]
struct DtypeObj<'a> {
    code: &'a str,
    /// '<', '>', '=', '|'; None until BUILD sets it (native).
    byteorder: Option<&'a str>,
}

#[derive(Debug, Clone)]
struct ArrayObj<'a> {
    shape: Vec<usize>,
    dtype: DtypeObj<'a>,
    fortran: bool,
    data: Buf<'a>,
}

/// An immutable tuple with its nesting depth (1 + its deepest item's) and whether it holds a list or dict.
struct Tuple<'a> {
    items: Vec<Value<'a>>,
    depth: usize,
    holds_mutable: bool,
}

/// A list's or dict's items, and the depth of the deepest item + 1.
struct Items<T> {
    items: Vec<T>,
    depth: usize,
}

impl<T> Default for Items<T> {
    fn default() -> Self {
        Items { items: Vec::new(), depth: 1 }
    }
}

#[derive(Clone)]
enum Value<'a> {
    None,
    Bool(bool),
    Int(i64),
    Str(&'a str),
    Bytes(Buf<'a>),
    Tuple(Rc<Tuple<'a>>),
    List(Rc<RefCell<Items<Value<'a>>>>),
    Dict(Rc<RefCell<Items<(Value<'a>, Value<'a>)>>>),
    Global(Callable),
    Dtype(Rc<RefCell<DtypeObj<'a>>>),
    /// `_reconstruct(ndarray, ...)` returns an empty array that `BUILD` fills (shared, as in Python: the memo
    /// and the stack see the same object).
    Array(Rc<RefCell<Option<ArrayObj<'a>>>>),
}

impl Value<'_> {
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

    fn depth(&self) -> usize {
        match self {
            Value::Tuple(t) => t.depth,
            Value::List(l) => l.borrow().depth,
            Value::Dict(d) => d.borrow().depth,
            _ => 0,
        }
    }

    fn holds_mutable(&self) -> bool {
        match self {
            Value::List(_) | Value::Dict(_) => true,
            Value::Tuple(t) => t.holds_mutable,
            _ => false,
        }
    }
}

struct Vm<'a> {
    data: &'a [u8],
    pos: usize,
    /// Offset of the opcode being executed (for messages).
    at: usize,
    ops: usize,
    stack: Vec<Value<'a>>,
    marks: Vec<usize>,
    memo: HashMap<u32, Value<'a>>,
    /// Bytes `_codecs.encode` may still produce.
    budget: usize,
}

impl<'a> Vm<'a> {
    fn err(&self, msg: impl Into<String>) -> PickleError {
        PickleError::Malformed { offset: self.at, msg: msg.into() }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len()).ok_or_else(|| self.err("truncated"))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }

    fn le<const N: usize>(&mut self) -> Result<[u8; N], PickleError> {
        let mut b = [0u8; N];
        b.copy_from_slice(self.take(N)?);
        Ok(b)
    }

    fn len_u32(&mut self) -> Result<usize, PickleError> {
        Ok(u32::from_le_bytes(self.le()?) as usize)
    }

    fn len_u64(&mut self) -> Result<usize, PickleError> {
        usize::try_from(u64::from_le_bytes(self.le()?)).map_err(|_| self.err("length overflows"))
    }

    fn line(&mut self) -> Result<&'a str, PickleError> {
        let rest = &self.data[self.pos..];
        let n = rest.iter().position(|&b| b == b'\n').ok_or_else(|| self.err("unterminated GLOBAL"))?;
        let s = std::str::from_utf8(&rest[..n]).map_err(|_| self.err("non-text GLOBAL"))?;
        self.pos += n + 1;
        Ok(s)
    }

    fn push(&mut self, v: Value<'a>) {
        self.stack.push(v);
    }

    fn pop(&mut self) -> Result<Value<'a>, PickleError> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err(self.err("pop across a MARK"));
        }
        self.stack.pop().ok_or_else(|| self.err("stack underflow"))
    }

    fn top(&self) -> Result<&Value<'a>, PickleError> {
        self.stack.last().ok_or_else(|| self.err("stack underflow"))
    }

    fn pop_mark(&mut self) -> Result<Vec<Value<'a>>, PickleError> {
        let m = self.marks.pop().ok_or_else(|| self.err("no MARK"))?;
        if m > self.stack.len() {
            return Err(self.err("MARK beyond the stack"));
        }
        Ok(self.stack.split_off(m))
    }

    fn str(&mut self, n: usize) -> Result<Value<'a>, PickleError> {
        let b = self.take(n)?;
        let s = std::str::from_utf8(b).map_err(|_| self.err("invalid UTF-8 in a str"))?;
        Ok(Value::Str(s))
    }

    fn bytes(&mut self, n: usize) -> Result<Value<'a>, PickleError> {
        Ok(Value::Bytes(Buf::In(self.take(n)?)))
    }

    /// A tuple of `items`, refused when it would nest deeper than [`MAX_DEPTH`].
    fn tuple(&self, items: Vec<Value<'a>>) -> Result<Value<'a>, PickleError> {
        let depth = 1 + items.iter().map(Value::depth).max().unwrap_or(0);
        if depth > MAX_DEPTH {
            return Err(PickleError::TooDeep { offset: self.at });
        }
        let holds_mutable = items.iter().any(Value::holds_mutable);
        Ok(Value::Tuple(Rc::new(Tuple { items, depth, holds_mutable })))
    }

    /// Checks a value that goes into a list or dict; returns the container depth it needs.
    fn item_depth(&self, v: &Value<'a>) -> Result<usize, PickleError> {
        if v.holds_mutable() {
            return Err(self.err(format!("{} inside a list or dict (numpy pickles have none)", v.kind())));
        }
        let depth = 1 + v.depth();
        if depth > MAX_DEPTH {
            return Err(PickleError::TooDeep { offset: self.at });
        }
        Ok(depth)
    }

    fn memo_put(&mut self, key: u32) -> Result<(), PickleError> {
        let v = self.top()?.clone();
        self.memo.insert(key, v);
        Ok(())
    }

    fn memo_get(&mut self, key: u32) -> Result<(), PickleError> {
        let v = self.memo.get(&key).cloned().ok_or_else(|| self.err(format!("memo key {key} unset")))?;
        self.push(v);
        Ok(())
    }

    fn run(mut self) -> Result<Value<'a>, PickleError> {
        loop {
            self.at = self.pos;
            self.ops += 1;
            if self.ops > MAX_OPS {
                return Err(PickleError::TooManyOps);
            }
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
                b'.' => return self.pop(),
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let v = self.top()?.clone();
                    self.push(v);
                }
                b'N' => self.push(Value::None),
                0x88 => self.push(Value::Bool(true)),
                0x89 => self.push(Value::Bool(false)),
                b'J' => {
                    let v = i32::from_le_bytes(self.le()?);
                    self.push(Value::Int(v as i64));
                }
                b'K' => {
                    let v = self.u8()?;
                    self.push(Value::Int(v as i64));
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.le()?);
                    self.push(Value::Int(v as i64));
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
                    self.push(Value::Int(i64::from_le_bytes(buf)));
                }
                b'X' => {
                    let n = self.len_u32()?;
                    let v = self.str(n)?;
                    self.push(v);
                }
                0x8c => {
                    let n = self.u8()? as usize;
                    let v = self.str(n)?;
                    self.push(v);
                }
                0x8d => {
                    let n = self.len_u64()?;
                    let v = self.str(n)?;
                    self.push(v);
                }
                // SHORT_BINBYTES, BINBYTES, BINBYTES8, BYTEARRAY8; SHORT_BINSTRING and BINSTRING (Python 2's
                // byte strings) read as bytes.
                b'C' | b'U' => {
                    let n = self.u8()? as usize;
                    let v = self.bytes(n)?;
                    self.push(v);
                }
                b'B' | b'T' => {
                    let n = self.len_u32()?;
                    let v = self.bytes(n)?;
                    self.push(v);
                }
                0x8e | 0x96 => {
                    let n = self.len_u64()?;
                    let v = self.bytes(n)?;
                    self.push(v);
                }
                0x97 => return Err(self.err("out-of-band buffer (NEXT_BUFFER); the legacy entries are in-band")),
                0x98 => {} // READONLY_BUFFER: no-op on in-band data
                b')' => self.push(Value::Tuple(Rc::new(Tuple { items: Vec::new(), depth: 1, holds_mutable: false }))),
                b't' => {
                    let items = self.pop_mark()?;
                    let t = self.tuple(items)?;
                    self.push(t);
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    let t = self.tuple(items)?;
                    self.push(t);
                }
                b']' => self.push(Value::List(Rc::default())),
                b'l' => {
                    let items = self.pop_mark()?;
                    let list = Value::List(Rc::default());
                    self.push(list);
                    self.append(items)?;
                }
                b'a' => {
                    let v = self.pop()?;
                    self.append(vec![v])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.append(items)?;
                }
                b'}' => self.push(Value::Dict(Rc::default())),
                b'd' => {
                    let items = self.pop_mark()?;
                    self.push(Value::Dict(Rc::default()));
                    self.set_items(items)?;
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.set_items(vec![k, v])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    self.set_items(items)?;
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
                    self.push(Value::Global(g));
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Value::Str(module), Value::Str(name)) = (&module, &name) else {
                        return Err(self.err("STACK_GLOBAL needs two str"));
                    };
                    let g = lookup_global(module, name)?;
                    self.push(Value::Global(g));
                }
                b'R' => {
                    let args = self.pop()?;
                    let func = self.pop()?;
                    let v = self.reduce(func, args)?;
                    self.push(v);
                }
                b'b' => {
                    let state = self.pop()?;
                    let target = self.top()?.clone();
                    self.build(target, state)?;
                }
                _ => return Err(PickleError::Opcode { op, offset: self.at }),
            }
        }
    }

    fn append(&mut self, items: Vec<Value<'a>>) -> Result<(), PickleError> {
        let Value::List(l) = self.top()? else {
            let kind = self.top()?.kind();
            return Err(self.err(format!("APPEND to {kind}")));
        };
        let l = l.clone();
        let mut depth = l.borrow().depth;
        for v in &items {
            depth = depth.max(self.item_depth(v)?);
        }
        let mut l = l.borrow_mut();
        l.depth = depth;
        l.items.extend(items);
        Ok(())
    }

    /// SETITEM(S) on the dict at the top of the stack; `items` alternate keys and values.
    fn set_items(&mut self, items: Vec<Value<'a>>) -> Result<(), PickleError> {
        if !items.len().is_multiple_of(2) {
            return Err(self.err("odd number of dict items"));
        }
        let Value::Dict(d) = self.top()? else {
            let kind = self.top()?.kind();
            return Err(self.err(format!("SETITEM on {kind}")));
        };
        let d = d.clone();
        let mut depth = d.borrow().depth;
        for v in &items {
            depth = depth.max(self.item_depth(v)?);
        }
        let mut d = d.borrow_mut();
        d.depth = depth;
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            d.items.push((k, v));
        }
        Ok(())
    }

    fn reduce(&mut self, func: Value<'a>, args: Value<'a>) -> Result<Value<'a>, PickleError> {
        let Value::Global(g) = func else {
            return Err(self.err(format!("REDUCE of {}", func.kind())));
        };
        let Value::Tuple(args) = args else {
            return Err(self.err("REDUCE arguments are not a tuple"));
        };
        match (g, args.items.as_slice()) {
            (Callable::Reconstruct, [Value::Global(Callable::NdarrayType), ..]) => {
                Ok(Value::Array(Rc::new(RefCell::new(None))))
            }
            (Callable::DtypeType, [Value::Str(code), ..]) => {
                Ok(Value::Dtype(Rc::new(RefCell::new(DtypeObj { code, byteorder: None }))))
            }
            (Callable::CodecsEncode, [Value::Str(s), Value::Str(enc)]) if is_latin1(enc) => {
                // The one allocation a pickle controls: at most as many bytes in total as the input holds.
                let n = s.chars().count();
                self.budget = self.budget.checked_sub(n).ok_or(PickleError::TooLarge { offset: self.at })?;
                let bytes: Option<Vec<u8>> = s.chars().map(|c| u8::try_from(c as u32).ok()).collect();
                let bytes = bytes.ok_or_else(|| self.err("a latin-1 str holds a character above U+00FF"))?;
                Ok(Value::Bytes(Buf::Own(bytes.into())))
            }
            (Callable::Bytes | Callable::Bytearray, []) => Ok(Value::Bytes(Buf::In(&[]))),
            (Callable::Bytes | Callable::Bytearray, [Value::Bytes(b)]) => Ok(Value::Bytes(b.clone())),
            (Callable::FromBuffer, [Value::Bytes(buf), Value::Dtype(dtype), shape, Value::Str(order)]) => {
                let shape = self.shape(shape)?;
                let fortran = match *order {
                    "C" => false,
                    "F" => true,
                    o => return Err(self.err(format!("array order '{o}'"))),
                };
                let dtype = *dtype.borrow();
                let a = ArrayObj { shape, dtype, fortran, data: buf.clone() };
                Ok(Value::Array(Rc::new(RefCell::new(Some(a)))))
            }
            (g, args) => {
                let kinds: Vec<&str> = args.iter().map(Value::kind).collect();
                Err(self.err(format!("unexpected call {g:?}({})", kinds.join(", "))))
            }
        }
    }

    fn shape(&self, v: &Value<'a>) -> Result<Vec<usize>, PickleError> {
        let Value::Tuple(t) = v else { return Err(self.err("array shape is not a tuple")) };
        t.items
            .iter()
            .map(|d| match d {
                Value::Int(n) => usize::try_from(*n).map_err(|_| self.err("negative array dimension")),
                _ => Err(self.err("array shape holds a non-integer")),
            })
            .collect()
    }

    fn build(&self, target: Value<'a>, state: Value<'a>) -> Result<(), PickleError> {
        match (target, state) {
            // dtype state: (version, byteorder, subarray, names, fields, elsize, alignment, flags)
            (Value::Dtype(d), Value::Tuple(t)) => {
                if let Some(Value::Str(order)) = t.items.get(1) {
                    d.borrow_mut().byteorder = Some(*order);
                }
                Ok(())
            }
            // ndarray state: (version, shape, dtype, is_fortran, data)
            (Value::Array(a), Value::Tuple(t)) => {
                let [_, shape, Value::Dtype(dtype), Value::Bool(fortran), data] = t.items.as_slice() else {
                    return Err(self.err("array state is not (version, shape, dtype, fortran, data)"));
                };
                let Value::Bytes(data) = data else {
                    return Err(self.err(format!("array data is {} (object arrays are not read)", data.kind())));
                };
                let obj = ArrayObj {
                    shape: self.shape(shape)?,
                    dtype: *dtype.borrow(),
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
