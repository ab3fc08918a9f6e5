//! The samtools `.fai` index: one line per contig, `name length offset linebases linewidth`.
//!
//! Offsets are in uncompressed bytes, for plain and bgzip FASTA alike. Building an index scans the FASTA once
//! and checks that every sequence line but the last of each contig has the same length (what samtools
//! requires for random access).

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

    /// Uncompressed byte offset just past the contig's last base.
    pub fn end_offset(&self) -> u64 {
        if self.length == 0 {
            self.offset
        } else {
            self.byte_offset(self.length - 1) + 1
        }
    }
}

pub fn parse(text: &str, fai_path: &str) -> Result<Vec<FaiRecord>, GenomeError> {
    let mut records = Vec::new();
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

/// Scans an uncompressed FASTA stream and builds its index.
pub fn build(mut reader: impl BufRead, fasta_path: &str) -> Result<Vec<FaiRecord>, GenomeError> {
    struct Open {
        rec: FaiRecord,
        /// Set once a line shorter than `line_bases` was seen: any further sequence line is an error.
        short_line_seen: bool,
    }
    let mut records = Vec::new();
    let mut current: Option<Open> = None;
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
            let header = String::from_utf8_lossy(&content[1..]);
            let name = header.split_whitespace().next().unwrap_or("").to_string();
            if name.is_empty() {
                return Err(bad(line_no, "header line '>' has no sequence name".into()));
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
        let recs = parse(text, "x.fai").unwrap();
        assert_eq!(render(&recs), text);
        assert!(parse("chr1\tten\t6\t4\t5\n", "x.fai").unwrap_err().to_string().contains("line 1"));
    }
}
