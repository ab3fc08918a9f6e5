//! Line reading over the decompressed stream, with start-of-file checks.

use std::io::BufRead;
use std::path::PathBuf;

use super::detect::{self, Compression};
use super::InputError;

/// Longest line kept (1 MiB). A longer line is read to its end without being stored (its length is counted),
/// so memory stays bounded whatever the input: one 6 GB line in a gzip costs 1 MiB, not 6 GB.
pub const MAX_LINE: usize = 1 << 20;

/// Line-by-line reader over the decompressed stream; strips `\n`, `\r\n` and a UTF-8 byte-order mark. A file
/// with old-Mac line ends (`\r` alone, told from the first line end) is read by `\r`.
pub(crate) struct LineReader {
    pub path: PathBuf,
    pub inner: Box<dyn BufRead + Send>,
    pub compression: Compression,
    /// Number of lines read so far (= 1-based number of the line in `buf`).
    pub line: u64,
    /// The line's first [`MAX_LINE`] bytes.
    pub buf: Vec<u8>,
    /// Bytes of the line that did not fit in `buf` (not stored); 0 for a line that fit.
    pub overflow: u64,
    /// The line terminator, found at the first line end.
    eol: Eol,
    /// A read error met by [`LineReader::next_block`] after some lines, returned by the next call.
    pending_error: Option<InputError>,
}

/// Whole lines read by [`LineReader::next_block`], for parsing on another thread. Every line (the last one too)
/// ends with `eol`; in a `\n` file a line's `\r` before the `\n` is still there (see [`Block::lines`]).
pub(crate) struct Block {
    pub data: Vec<u8>,
    /// 1-based number of the first line.
    pub first_line: u64,
    pub eol: u8,
    /// Lines longer than [`MAX_LINE`]: (index of the line's end in `data`, bytes of it not stored), in order.
    pub long: Vec<(usize, u64)>,
}

impl Block {
    /// Calls `f(line number, where the line's stored bytes are in `data`, bytes not stored)` for every line,
    /// as [`LineReader::next_line`] would give it (`\r\n` and a `\r` alone as for the whole file).
    pub fn lines(&self, mut f: impl FnMut(u64, std::ops::Range<usize>, u64)) {
        let mut start = 0;
        let mut long = self.long.iter().peekable();
        for (line, end) in (self.first_line..).zip(memchr::memchr_iter(self.eol, &self.data)) {
            let overflow = match long.peek() {
                Some(&&(at, overflow)) if at == end => {
                    long.next();
                    overflow
                }
                _ => 0,
            };
            let stop = if self.eol == b'\n' && overflow == 0 && end > start && self.data[end - 1] == b'\r' {
                end - 1
            } else {
                end
            };
            f(line, start..stop, overflow);
            start = end + 1;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Eol {
    /// Not seen yet.
    Unknown,
    /// `\n` or `\r\n`.
    Lf,
    /// Old-Mac line ends: `\r` alone.
    Cr,
}

/// The end of the line in `chunk` (the index of its terminator), and the line ending known after it. While
/// unknown: a `\r` followed by `\n` is CRLF; a `\r` followed by other bytes is an old-Mac line end unless a `\n`
/// comes later in the chunk (then it is a stray `\r` inside a line of an LF file); a `\r` at the very end of
/// the chunk ends the line and leaves the question to the caller.
fn find_eol(chunk: &[u8], eol: Eol) -> (Option<usize>, Eol) {
    match eol {
        Eol::Lf => (chunk.iter().position(|&b| b == b'\n'), eol),
        Eol::Cr => (chunk.iter().position(|&b| b == b'\r'), eol),
        Eol::Unknown => {
            let mut from = 0;
            loop {
                let Some(i) = chunk[from..].iter().position(|&b| b == b'\n' || b == b'\r').map(|i| from + i) else {
                    return (None, eol);
                };
                if chunk[i] == b'\n' {
                    return (Some(i), Eol::Lf);
                }
                match chunk.get(i + 1) {
                    None => return (Some(i), Eol::Unknown),
                    Some(b'\n') => return (Some(i + 1), Eol::Lf),
                    Some(_) if chunk[i + 1..].contains(&b'\n') => from = i + 1,
                    Some(_) => return (Some(i), Eol::Cr),
                }
            }
        }
    }
}

impl LineReader {
    pub fn new(path: PathBuf, inner: Box<dyn BufRead + Send>, compression: Compression) -> LineReader {
        LineReader {
            path,
            inner,
            compression,
            line: 0,
            buf: Vec::new(),
            overflow: 0,
            eol: Eol::Unknown,
            pending_error: None,
        }
    }

    fn read_error(&self, source: std::io::Error) -> InputError {
        let (path, line) = (self.path.clone(), self.line);
        match self.compression {
            Compression::Gzip => InputError::Truncated { path, line, source },
            Compression::Plain => InputError::Read { path, line, source },
        }
    }

    /// Fails on an empty file or binary content at the start of the (decompressed) stream.
    pub fn check_start(&mut self) -> Result<(), InputError> {
        let peeked = match self.inner.fill_buf() {
            Ok(bytes) => detect::sniff_text(&self.path, bytes),
            Err(e) => return Err(self.read_error(e)),
        };
        match peeked {
            Ok(true) => Ok(()),
            Ok(false) => Err(InputError::Empty { path: self.path.clone(), blank_only: false }),
            Err(e) => Err(e),
        }
    }

    /// Reads the next line into `buf` (at most [`MAX_LINE`] bytes of it; `overflow` counts the rest);
    /// `Ok(false)` at end of file.
    pub fn next_line(&mut self) -> Result<bool, InputError> {
        self.buf.clear();
        self.overflow = 0;
        let mut any = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.read_error(e)),
            };
            if chunk.is_empty() {
                break;
            }
            any = true;
            let (end, eol) = find_eol(chunk, self.eol);
            self.eol = eol;
            let content = &chunk[..end.unwrap_or(chunk.len())];
            let keep = content.len().min(MAX_LINE - self.buf.len());
            self.buf.extend_from_slice(&content[..keep]);
            self.overflow += (content.len() - keep) as u64;
            let used = end.map_or(chunk.len(), |i| i + 1);
            self.inner.consume(used);
            if end.is_some() {
                if self.eol == Eol::Unknown {
                    // A '\r' ended the buffer: the next bytes decide between CRLF and CR-only.
                    let next = match self.inner.fill_buf() {
                        Ok(next) => (next.first().copied(), next.contains(&b'\n')),
                        Err(e) => return Err(self.read_error(e)),
                    };
                    match next {
                        (Some(b'\n'), _) => {
                            self.inner.consume(1);
                            self.eol = Eol::Lf;
                        }
                        (Some(_), has_lf) => self.eol = if has_lf { Eol::Lf } else { Eol::Cr },
                        (None, _) => {}
                    }
                }
                break;
            }
        }
        if !any {
            return Ok(false);
        }
        self.line += 1;
        if self.eol != Eol::Cr && self.overflow == 0 && self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        if self.line == 1 && self.buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
            self.buf.drain(..3);
        }
        Ok(true)
    }

    /// Whether [`LineReader::next_block`] can be used: the line ending is known (it is, after any line that had
    /// a line end).
    pub fn blocks_ready(&self) -> bool {
        self.eol != Eol::Unknown
    }

    /// Reads the next lines, at least `target` bytes of them unless the input ends, into one [`Block`] for
    /// parsing on another thread: the same lines, line numbers, line-end handling and 1 MiB cap as
    /// [`LineReader::next_line`]. `Ok(None)` at end of file. A read error after some lines returns those lines
    /// first; the error comes with the next call (so that it names the same line as `next_line` would).
    pub fn next_block(&mut self, target: usize) -> Result<Option<Block>, InputError> {
        if let Some(e) = self.pending_error.take() {
            return Err(e);
        }
        let eol = match self.eol {
            Eol::Lf => b'\n',
            Eol::Cr => b'\r',
            Eol::Unknown => return Ok(None),
        };
        let mut block =
            Block { data: Vec::with_capacity(target + (64 << 10)), first_line: self.line + 1, eol, long: Vec::new() };
        let data = &mut block.data;
        // Start of the current (unfinished) line in `data`, and its bytes beyond the cap (not stored).
        let mut line_start = 0;
        let mut overflow = 0u64;
        let mut lines = 0u64;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // As `next_line`: the unfinished line is lost, the error names the last whole line.
                    data.truncate(line_start);
                    self.line += lines;
                    self.pending_error = Some(self.read_error(e));
                    break;
                }
            };
            if chunk.is_empty() {
                if data.len() > line_start || overflow > 0 {
                    data.push(eol);
                    lines += 1;
                    if overflow > 0 {
                        block.long.push((data.len() - 1, overflow));
                    }
                }
                self.line += lines;
                break;
            }
            // At most MAX_LINE bytes at a time, so that every line that ends inside the window but after its
            // first line end is shorter than the cap.
            let window = &chunk[..chunk.len().min(MAX_LINE)];
            let partial = data.len() - line_start;
            let Some(first) = memchr::memchr(eol, window) else {
                // No line end: all of it belongs to the current line.
                let keep = window.len().min(MAX_LINE.saturating_sub(partial).min(window.len()));
                let keep = if overflow > 0 { 0 } else { keep };
                data.extend_from_slice(&window[..keep]);
                overflow += (window.len() - keep) as u64;
                let n = window.len();
                self.inner.consume(n);
                continue;
            };
            if overflow > 0 || partial + first > MAX_LINE {
                // The current line is longer than the cap: its first MAX_LINE bytes are kept.
                let keep = if overflow > 0 { 0 } else { MAX_LINE - partial };
                data.extend_from_slice(&window[..keep]);
                overflow += (first - keep) as u64;
                self.inner.consume(first + 1);
                data.push(eol);
                lines += 1;
                block.long.push((data.len() - 1, overflow));
                overflow = 0;
                line_start = data.len();
            } else {
                let last = memchr::memrchr(eol, window).unwrap_or(first);
                data.extend_from_slice(&window[..=last]);
                lines += 1 + memchr::memchr_iter(eol, &window[first + 1..=last]).count() as u64;
                self.inner.consume(last + 1);
                line_start = data.len();
            }
            if data.len() >= target {
                self.line += lines;
                break;
            }
        }
        if block.data.is_empty() {
            return match self.pending_error.take() {
                Some(e) => Err(e),
                None => Ok(None),
            };
        }
        Ok(Some(block))
    }

    /// The length of the current line in bytes, stored or not.
    pub fn line_len(&self) -> u64 {
        self.buf.len() as u64 + self.overflow
    }

    /// Next non-blank line before the data; binary content here is fatal.
    pub fn next_header_line(&mut self) -> Result<Option<(u64, String)>, InputError> {
        while self.next_line()? {
            if self.overflow > 0 {
                let (path, line, bytes) = (self.path.clone(), self.line, self.line_len());
                return Err(InputError::LongHeaderLine { path, line, bytes });
            }
            let binary = |detail: String| InputError::Binary { path: self.path.clone(), detail };
            if self.buf.contains(&0) {
                return Err(binary(format!("line {} contains NUL bytes", self.line)));
            }
            let text = std::str::from_utf8(&self.buf)
                .map_err(|_| binary(format!("line {} is not valid UTF-8 text", self.line)))?;
            if !text.trim().is_empty() {
                return Ok(Some((self.line, text.to_string())));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn reader(bytes: &'static [u8]) -> LineReader {
        LineReader::new(PathBuf::from("x.txt"), Box::new(bytes), Compression::Plain)
    }

    #[test]
    fn strips_line_endings_and_bom_and_counts_blank_lines() {
        let mut r = reader(b"\xEF\xBB\xBFa\r\n\nb\nc");
        r.check_start().unwrap();
        let mut got = Vec::new();
        while r.next_line().unwrap() {
            got.push((r.line, String::from_utf8(r.buf.clone()).unwrap()));
        }
        let expected = [(1, "a"), (2, ""), (3, "b"), (4, "c")].map(|(n, s)| (n, s.to_string()));
        assert_eq!(got, expected);
    }

    #[test]
    fn old_mac_line_ends_are_line_ends() {
        let mut r = reader(b"CHR\tBP\rx\t1\r\ry\t2");
        r.check_start().unwrap();
        let mut got = Vec::new();
        while r.next_line().unwrap() {
            got.push((r.line, String::from_utf8(r.buf.clone()).unwrap()));
        }
        let expected = [(1, "CHR\tBP"), (2, "x\t1"), (3, ""), (4, "y\t2")].map(|(n, s)| (n, s.to_string()));
        assert_eq!(got, expected);
        // A CR inside a line of an LF file is left alone (only the CR of a CRLF end is removed).
        let mut r = reader(b"a\rb\r\nc\n");
        r.check_start().unwrap();
        assert!(r.next_line().unwrap());
        assert_eq!(r.buf, b"a\rb");
        // Whatever the buffer boundaries (the reader gets the first 8 bytes alone, as `open_stream` gives them).
        for text in
            [&b"CHR BP\r1 5\r2 6\r"[..], b"CHR BP\r\n1 5\r\n2 6\r\n", b"CHR BP\n1 5\n2 6", b"CHR BP\t\r1 5\r2 6"]
        {
            for head in [3, 6, 7, 8] {
                let (a, b) = text.split_at(head);
                let chained: Box<dyn BufRead + Send> = Box::new(std::io::BufReader::new(a.chain(b)));
                let mut r = LineReader::new(PathBuf::from("x.txt"), chained, Compression::Plain);
                let mut got = Vec::new();
                while r.next_line().unwrap() {
                    got.push(String::from_utf8(r.buf.clone()).unwrap().trim().to_string());
                }
                assert_eq!(got, ["CHR BP", "1 5", "2 6"], "{text:?} split at {head}");
            }
        }
    }

    #[test]
    fn a_line_longer_than_the_cap_is_counted_not_stored() {
        // Through a small buffer, so that the long line spans many reads.
        let mut text = b"short\n".to_vec();
        text.extend(std::iter::repeat_n(b'A', 3 * MAX_LINE + 5));
        text.extend_from_slice(b"\r\nnext\n");
        let text: &'static [u8] = Box::leak(text.into_boxed_slice());
        let mut r = LineReader::new(
            PathBuf::from("x.txt"),
            Box::new(std::io::BufReader::with_capacity(4096, text)),
            Compression::Plain,
        );
        assert!(r.next_line().unwrap());
        assert_eq!((r.buf.as_slice(), r.overflow), (&b"short"[..], 0));
        assert!(r.next_line().unwrap());
        assert_eq!((r.line, r.buf.len(), r.line_len()), (2, MAX_LINE, 3 * MAX_LINE as u64 + 6));
        assert!(r.buf.capacity() < 2 * MAX_LINE, "the line is not held in memory");
        assert!(r.next_line().unwrap());
        assert_eq!((r.line, r.buf.as_slice(), r.overflow), (3, &b"next"[..], 0));
        assert!(!r.next_line().unwrap());
        // A header line that long is fatal, naming the line.
        let mut long_header = vec![b'#'; MAX_LINE + 1];
        long_header.push(b'\n');
        let mut r = reader(Box::leak(long_header.into_boxed_slice()));
        let err = r.next_header_line().unwrap_err().to_string();
        assert!(err.contains("x.txt: line 1 is 1048577 bytes long"), "{err}");
    }

    #[test]
    fn header_lines_skip_blanks_and_reject_binary() {
        let mut r = reader(b"\n  \nCHR BP\n");
        assert_eq!(r.next_header_line().unwrap(), Some((3, "CHR BP".to_string())));
        assert_eq!(r.next_header_line().unwrap(), None);
        let mut r = reader(b"ok\nbad\x00\n");
        r.next_header_line().unwrap();
        assert!(r.next_header_line().unwrap_err().to_string().contains("line 2 contains NUL"));
        assert!(matches!(reader(b"").check_start(), Err(InputError::Empty { .. })));
    }
}
