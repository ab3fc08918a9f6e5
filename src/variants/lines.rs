//! Line reading over the decompressed stream, with start-of-file checks.

use std::io::BufRead;
use std::path::PathBuf;

use super::detect::{self, Compression};
use super::InputError;

/// Line-by-line reader over the decompressed stream; strips `\n`, `\r\n` and a UTF-8 byte-order mark.
pub(crate) struct LineReader {
    pub path: PathBuf,
    pub inner: Box<dyn BufRead + Send>,
    pub compression: Compression,
    /// Number of lines read so far (= 1-based number of the line in `buf`).
    pub line: u64,
    pub buf: Vec<u8>,
}

impl LineReader {
    pub fn new(path: PathBuf, inner: Box<dyn BufRead + Send>, compression: Compression) -> LineReader {
        LineReader { path, inner, compression, line: 0, buf: Vec::new() }
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

    /// Reads the next line into `buf`; `Ok(false)` at end of file.
    pub fn next_line(&mut self) -> Result<bool, InputError> {
        self.buf.clear();
        match self.inner.read_until(b'\n', &mut self.buf) {
            Ok(0) => return Ok(false),
            Ok(_) => {}
            Err(e) => return Err(self.read_error(e)),
        }
        self.line += 1;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        if self.line == 1 && self.buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
            self.buf.drain(..3);
        }
        Ok(true)
    }

    /// Next non-blank line before the data; binary content here is fatal.
    pub fn next_header_line(&mut self) -> Result<Option<(u64, String)>, InputError> {
        while self.next_line()? {
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
