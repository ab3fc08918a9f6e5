//! The samtools `.fai` index: one line per contig, `name length offset linebases linewidth`.
//!
//! Offsets are in uncompressed bytes, for plain and bgzip FASTA alike. Building an index scans the FASTA once
//! and checks that every sequence line but the last of each contig has the same length (what samtools
//! requires for random access).

use std::collections::HashMap;
use std::io::BufRead;

use super::GenomeError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaiRecord {
    pub name: String,
    pub length: u64,
    pub offset: u64,
    pub line_bases: u64,
    pub line_width: u64,
}

impl FaiRecord {
    /// Uncompressed byte offset of 0-based base `i` of this contig.
    pub fn byte_offset(&self, i: u64) -> u64 {
        self.offset + (i / self.line_bases) * self.line_width + i % self.line_bases
    }

    /// [`FaiRecord::end_offset`] for numbers read from a file: `None` when it does not fit in a u64.
    pub fn checked_end_offset(&self) -> Option<u64> {
        let Some(last) = self.length.checked_sub(1) else { return Some(self.offset) };
        (last.checked_div(self.line_bases)?)
            .checked_mul(self.line_width)?
            .checked_add(self.offset)?
            .checked_add(last % self.line_bases + 1)
    }

    /// Uncompressed byte offset just past the contig's last base.
    pub fn end_offset(&self) -> u64 {
        if self.length == 0 {
            self.offset
        } else {
            self.byte_offset(self.length - 1) + 1
        }
    }
}

/// Parses a `.fai`. An empty index, one that ends inside a line (an interrupted write), a malformed line and
/// a contig listed twice are errors naming the index and the fix.
pub fn parse(text: &str, fai_path: &str, fasta_path: &str) -> Result<Vec<FaiRecord>, GenomeError> {
    let empty = || GenomeError::EmptyIndex { index: fai_path.to_string(), fasta: fasta_path.to_string() };
    if text.trim().is_empty() {
        return Err(empty());
    }
    if !text.ends_with('\n') {
        let line = text.lines().count() as u64;
        let why = "the index ends in the middle of a line (truncated: an interrupted `samtools faidx` or copy?)";
        return Err(GenomeError::BadIndex { path: fai_path.to_string(), line, why: why.into() });
    }
    let mut records = Vec::new();
    let mut seen: HashMap<String, u64> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad =
            |why: &str| GenomeError::BadIndex { path: fai_path.to_string(), line: i as u64 + 1, why: why.to_string() };
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 5 {
            return Err(bad("expected 5 tab-separated fields: name length offset linebases linewidth"));
        }
        let num =
            |s: &str, what: &str| s.trim().parse::<u64>().map_err(|_| bad(&format!("{what} '{s}' is not a number")));
        let rec = FaiRecord {
            name: f[0].to_string(),
            length: num(f[1], "length")?,
            offset: num(f[2], "offset")?,
            line_bases: num(f[3], "linebases")?,
            line_width: num(f[4], "linewidth")?,
        };
        if rec.length > 0 && (rec.line_bases == 0 || rec.line_width < rec.line_bases) {
            return Err(bad("linebases must be > 0 and linewidth >= linebases"));
        }
        if let Some(first) = seen.insert(rec.name.clone(), i as u64 + 1) {
            return Err(bad(&format!("contig '{}' is listed twice (lines {first} and {})", rec.name, i + 1)));
        }
        records.push(rec);
    }
    Ok(records)
}

pub fn render(records: &[FaiRecord]) -> String {
    let mut out = String::new();
    for r in records {
        out.push_str(&format!("{}\t{}\t{}\t{}\t{}\n", r.name, r.length, r.offset, r.line_bases, r.line_width));
    }
    out
}

/// Scans an uncompressed FASTA stream and builds its index. Besides ragged lines, a contig name given twice
/// and a byte in a sequence line that is no base (a `>` not at the start of a line, a space, a tab, a control
/// or non-ASCII byte) are errors naming the line: they would make the index unusable for random access
/// (windows read through it would contain them), so they are found here rather than at the first window.
pub fn build(mut reader: impl BufRead, fasta_path: &str) -> Result<Vec<FaiRecord>, GenomeError> {
    struct Open {
        rec: FaiRecord,
        /// Set once a line shorter than `line_bases` was seen: any further sequence line is an error.
        short_line_seen: bool,
    }
    let mut records = Vec::new();
    let mut current: Option<Open> = None;
    let mut header_lines: HashMap<String, u64> = HashMap::new();
    let mut offset = 0u64;
    let mut line_no = 0u64;
    let mut buf = Vec::new();
    let bad = |line: u64, why: String| GenomeError::BadFasta { path: fasta_path.to_string(), line, why };
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| GenomeError::Io { path: fasta_path.to_string(), source: e })?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let line_start = offset;
        offset += n as u64;
        let width = n as u64;
        let mut content = &buf[..];
        while let Some((&last, rest)) = content.split_last() {
            if last == b'\n' || last == b'\r' {
                content = rest;
            } else {
                break;
            }
        }
        if content.first() == Some(&b'>') {
            if let Some(open) = current.take() {
                records.push(open.rec);
            }
            if content.contains(&b'\r') {
                let why = "a carriage return inside the header line: the file has old-Mac (CR-only) line ends; \
                           fix: convert them with `tr '\\r' '\\n' < in.fa > out.fa`";
                return Err(bad(line_no, why.into()));
            }
            let header = String::from_utf8_lossy(&content[1..]);
            let name = header.split_whitespace().next().unwrap_or("").to_string();
            if name.is_empty() {
                return Err(bad(line_no, "header line '>' has no sequence name".into()));
            }
            if let Some(first) = header_lines.insert(name.clone(), line_no) {
                return Err(bad(
                    line_no,
                    format!(
                        "contig '{name}' appears twice (headers on lines {first} and {line_no}): contig names must be \
                         unique, or a window could come from either; fix: rename or remove one of them (e.g. \
                         `seqkit rmdup -n` keeps the first)"
                    ),
                ));
            }
            current = Some(Open {
                rec: FaiRecord { name, length: 0, offset, line_bases: 0, line_width: 0 },
                short_line_seen: false,
            });
            continue;
        }
        let Some(open) = current.as_mut() else {
            if content.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            return Err(bad(line_no, "sequence before the first '>' header: is this a FASTA file?".into()));
        };
        // Branch-free test of the whole line (it vectorises); the position is looked up only on failure.
        if content.iter().fold(false, |bad, &c| bad | !c.is_ascii_graphic() | (c == b'>')) {
            let i = content.iter().position(|&c| !c.is_ascii_graphic() || c == b'>').unwrap_or(0);
            return Err(bad(line_no, not_a_base(&open.rec.name, content[i], i + 1)));
        }
        let bases = content.len() as u64;
        if bases == 0 {
            open.short_line_seen = true;
            continue;
        }
        if open.short_line_seen {
            return Err(bad(
                line_no,
                format!("contig '{}' has lines of different lengths; random access needs equal line lengths (reformat with `samtools faidx` or `seqkit seq -w 60`)", open.rec.name),
            ));
        }
        if open.rec.line_bases == 0 {
            open.rec.line_bases = bases;
            open.rec.line_width = width;
            open.rec.offset = line_start;
        } else if bases != open.rec.line_bases || width != open.rec.line_width {
            if bases > open.rec.line_bases {
                return Err(bad(
                    line_no,
                    format!("contig '{}' has lines of different lengths; random access needs equal line lengths (reformat with `seqkit seq -w 60`)", open.rec.name),
                ));
            }
            open.short_line_seen = true;
        }
        open.rec.length += bases;
    }
    if let Some(open) = current.take() {
        records.push(open.rec);
    }
    if records.is_empty() {
        return Err(bad(line_no, "no '>' header found: not a FASTA file".into()));
    }
    Ok(records)
}

/// Why byte `c` at 1-based `column` of a sequence line of `contig` cannot be a base.
fn not_a_base(contig: &str, c: u8, column: usize) -> String {
    let what = match c {
        b'>' => "a '>' (a header must start its own line: a lost line break?)".to_string(),
        b' ' => "a space".to_string(),
        b'\t' => "a tab".to_string(),
        b'\r' => "a carriage return inside the line".to_string(),
        c if c.is_ascii() => format!("the control byte 0x{c:02x}"),
        c => format!("the non-ASCII byte 0x{c:02x}"),
    };
    format!(
        "column {column} of this sequence line of contig '{contig}' is {what}; sequence lines hold only bases \
         (letters, '-', '*'); fix the FASTA at this line"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_same_index_as_samtools() {
        let fasta = b">a desc\nACGT\nAC\n>b\nAAAA\nCCCC\n>c\r\nGG\r\n";
        let recs = build(&fasta[..], "x.fa").unwrap();
        // samtools faidx output for this file, worked out by hand.
        assert_eq!(render(&recs), "a\t6\t8\t4\t5\nb\t8\t19\t4\t5\nc\t2\t33\t2\t4\n");
        assert_eq!(recs[1].byte_offset(5), 19 + 5 + 1);
        assert_eq!(recs[0].end_offset(), 8 + 5 + 2);
    }

    #[test]
    fn ragged_lines_are_an_error() {
        let fasta = b">a\nACGT\nAC\nACGT\n";
        let err = build(&fasta[..], "x.fa").unwrap_err().to_string();
        assert!(err.contains("different lengths"), "{err}");
    }

    #[test]
    fn not_a_fasta() {
        assert!(build(&b"hello\n"[..], "x.fa").is_err());
        assert!(build(&b""[..], "x.fa").is_err());
    }

    #[test]
    fn parse_round_trip_and_errors() {
        let text = "chr1\t10\t6\t4\t5\n";
        let recs = parse(text, "x.fai", "x").unwrap();
        assert_eq!(render(&recs), text);
        assert!(parse("chr1\tten\t6\t4\t5\n", "x.fai", "x").unwrap_err().to_string().contains("line 1"));
    }

    #[test]
    fn empty_truncated_and_duplicate_indexes_are_errors_with_the_fix() {
        for (text, why) in [
            ("", "x.fa.fai is empty"),
            ("\n\n", "x.fa.fai is empty"),
            ("chr1\t10\t6\t4\t5\nchr2\t10\t2", "x.fa.fai, line 2: the index ends in the middle of a line"),
            ("chr1\t10\t6\t4\t5\nchr2\t10\n", "x.fa.fai, line 2: expected 5 tab-separated fields"),
            ("chr1\t10\t6\t4\t5\nchr1\t10\t21\t4\t5\n", "contig 'chr1' is listed twice (lines 1 and 2)"),
        ] {
            let err = parse(text, "x.fa.fai", "x.fa").unwrap_err().to_string();
            assert!(err.contains(why) && err.contains("delete x.fa.fai"), "{text:?}: {err}");
            assert!(err.contains("samtools faidx x.fa"), "{text:?}: {err}");
        }
    }

    #[test]
    fn duplicate_contigs_and_non_bases_in_sequence_lines_are_found_while_building() {
        let err = build(&b">a\nACGT\n>b x\nAC\n>a\nGG\n"[..], "x.fa").unwrap_err().to_string();
        assert!(err.contains("x.fa, line 5: contig 'a' appears twice (headers on lines 1 and 5)"), "{err}");
        for (fasta, why) in [
            (&b">a\nACGT\nAC>b\nACGT\n"[..], "line 3: column 3 of this sequence line of contig 'a' is a '>'"),
            (b">a\nACGT\nAC G\n", "line 3: column 3 of this sequence line of contig 'a' is a space"),
            (b">a\nACGT \nACGT\n", "line 2: column 5 of this sequence line of contig 'a' is a space"),
            (b">a\nAC\tT\n", "line 2: column 3 of this sequence line of contig 'a' is a tab"),
            (b">a\nACGT\rACGT\n", "is a carriage return inside the line"),
            (b">a\nAC\xc3\xa9T\n", "the non-ASCII byte 0xc3"),
            (b">a\nAC\x01T\n", "the control byte 0x01"),
        ] {
            let err = build(fasta, "x.fa").unwrap_err().to_string();
            assert!(err.contains(why) && err.contains("fix the FASTA"), "{fasta:?}: {err}");
        }
        let err = build(&b">a\rACGT\rAC\r"[..], "x.fa").unwrap_err().to_string();
        assert!(err.contains("x.fa, line 1: a carriage return inside the header line") && err.contains("tr "), "{err}");
        // IUPAC codes, soft-masking, gaps and CRLF line ends are fine.
        build(&b">a\r\nACGTNnRYacgt-*\r\nAC\r\n"[..], "x.fa").unwrap();
    }
}
