//! Reference genome access: plain FASTA through a memory map and its `.fai`, or bgzip FASTA through `.fai` +
//! `.gzi`. Indexes are built when missing (and the folder is writable). Window reads pad with `N` past either
//! contig end and upper-case the bases (soft-masked FASTA is common).

pub mod bgzf;
pub mod contigs;
pub mod fai;

use std::borrow::Cow;
use std::collections::HashSet;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::fsutil::write_atomic;
use bgzf::GziIndex;
use contigs::ContigIndex;
pub use fai::FaiRecord;

#[derive(Debug, thiserror::Error)]
pub enum GenomeError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path} is empty: expected a FASTA file")]
    Empty { path: String },
    #[error("{path} is gzip-compressed but not with bgzip, so it cannot be read at random positions; fix: `gunzip -c {path} | bgzip > genome.fa.gz && samtools faidx genome.fa.gz`, or decompress it")]
    PlainGzip { path: String },
    #[error("{path}, line {line}: {why}")]
    BadFasta { path: String, line: u64, why: String },
    #[error(
        "{path}, line {line}: {why}; fix: delete {path} so it is rebuilt, or run `samtools faidx {}`",
        fasta_of(.path)
    )]
    BadIndex { path: String, line: u64, why: String },
    #[error(
        "{index} is empty (an interrupted `samtools faidx`?), so no contig of {fasta} can be found; fix: delete \
         {index} so it is rebuilt, or run `samtools faidx {fasta}`"
    )]
    EmptyIndex { index: String, fasta: String },
    #[error("{fasta} has no index and {index} cannot be created ({source}); fix: run `samtools faidx {fasta}` where the folder is writable, or copy the FASTA to a writable folder")]
    IndexNotWritable { fasta: String, index: String, source: std::io::Error },
    #[error(
        "{index} does not match {fasta}: {why}; fix: delete {index} so it is rebuilt, or run `samtools faidx {fasta}`"
    )]
    IndexMismatch { fasta: String, index: String, why: String },
    #[error("{path}: {source}")]
    Bgzf { path: String, source: bgzf::BgzfError },
}

/// The FASTA a `.fai` path indexes, for messages.
fn fasta_of(fai: &str) -> &str {
    fai.strip_suffix(".fai").unwrap_or(fai)
}

enum Source {
    Plain(Mmap),
    Bgzf { data: Mmap, gzi: GziIndex },
}

pub struct Genome {
    path: PathBuf,
    records: Vec<FaiRecord>,
    index: ContigIndex,
    source: Source,
}

fn sidecar(path: &Path, ext: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(ext);
    PathBuf::from(s)
}

impl Genome {
    pub fn open(path: &Path) -> Result<Genome, GenomeError> {
        let shown = path.display().to_string();
        let io = |e| GenomeError::Io { path: shown.clone(), source: e };
        let file = File::open(path).map_err(io)?;
        if file.metadata().map_err(io)?.len() == 0 {
            return Err(GenomeError::Empty { path: shown });
        }
        // SAFETY: the genome is opened read-only; like every mmap-based reader (samtools included) we rely on
        // nobody truncating it while we run.
        let data = unsafe { Mmap::map(&file) }.map_err(io)?;
        let is_gzip = data.starts_with(&[0x1f, 0x8b]);
        let is_bgzf = is_gzip && bgzf::inflate_block(&data, 0, &mut Vec::new()).is_ok();
        if is_gzip && !is_bgzf {
            return Err(GenomeError::PlainGzip { path: shown });
        }
        let fai_path = sidecar(path, ".fai");
        let fai_shown = fai_path.display().to_string();
        let records =
            if fai_path.exists() {
                let text = std::fs::read_to_string(&fai_path)
                    .map_err(|e| GenomeError::Io { path: fai_shown.clone(), source: e })?;
                fai::parse(&text, &fai_shown, &shown)?
            } else {
                let records = if is_bgzf {
                    let decoder = flate2::read::MultiGzDecoder::new(&data[..]);
                    fai::build(BufReader::with_capacity(1 << 20, decoder), &shown)?
                } else {
                    fai::build(&data[..], &shown)?
                };
                write_atomic(&fai_path, fai::render(&records).as_bytes()).map_err(|e| {
                    GenomeError::IndexNotWritable { fasta: shown.clone(), index: fai_shown.clone(), source: e }
                })?;
                records
            };
        let source = if is_bgzf {
            let gzi_path = sidecar(path, ".gzi");
            let gzi_shown = gzi_path.display().to_string();
            let gzi = if gzi_path.exists() {
                let bytes =
                    std::fs::read(&gzi_path).map_err(|e| GenomeError::Io { path: gzi_shown.clone(), source: e })?;
                GziIndex::parse(&bytes).map_err(|e| GenomeError::Bgzf { path: gzi_shown.clone(), source: e })?
            } else {
                let gzi = GziIndex::build(&data).map_err(|e| GenomeError::Bgzf { path: shown.clone(), source: e })?;
                write_atomic(&gzi_path, &gzi.render()).map_err(|e| GenomeError::IndexNotWritable {
                    fasta: shown.clone(),
                    index: gzi_shown,
                    source: e,
                })?;
                gzi
            };
            check_nothing_after_the_last_contig(&records, &shown, &fai_shown, |from, to| {
                bgzf::read_range(&data, &gzi, from, to)
                    .map_err(|e| GenomeError::Bgzf { path: shown.clone(), source: e })
            })?;
            Source::Bgzf { data, gzi }
        } else {
            check_plain_index(&data, &records, &shown, &fai_shown)?;
            check_every_header_is_indexed(&data, &records, &shown, &fai_shown)?;
            Source::Plain(data)
        };
        let index = ContigIndex::new(records.iter().map(|r| r.name.as_str()));
        Ok(Genome { path: path.to_path_buf(), records, index, source })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn contigs(&self) -> &[FaiRecord] {
        &self.records
    }

    /// The genome contig a table's chromosome name refers to (`20` finds `chr20`).
    pub fn resolve(&self, chrom: &str) -> Option<usize> {
        self.index.resolve(chrom)
    }

    /// Fills `out` with `len` bases of contig `contig` starting at 0-based `start` (which may be negative):
    /// upper-cased, `N` outside the contig.
    pub fn fetch(&self, contig: usize, start: i64, len: usize, out: &mut Vec<u8>) -> Result<(), GenomeError> {
        out.clear();
        out.resize(len, b'N');
        let rec = &self.records[contig];
        let a = start.max(0) as u64;
        let b = (start + len as i64).clamp(0, rec.length as i64) as u64;
        if a >= b {
            return Ok(());
        }
        let raw_from = rec.byte_offset(a);
        let raw_to = rec.byte_offset(b - 1) + 1;
        let mismatch = |why: String| GenomeError::IndexMismatch {
            fasta: self.path.display().to_string(),
            index: sidecar(&self.path, ".fai").display().to_string(),
            why,
        };
        let raw: Cow<[u8]> = match &self.source {
            Source::Plain(data) => Cow::Borrowed(
                data.get(raw_from as usize..raw_to as usize)
                    .ok_or_else(|| mismatch(format!("contig '{}' runs past the end of the file", rec.name)))?,
            ),
            Source::Bgzf { data, gzi } => Cow::Owned(
                bgzf::read_range(data, gzi, raw_from, raw_to)
                    .map_err(|e| GenomeError::Bgzf { path: self.path.display().to_string(), source: e })?,
            ),
        };
        if raw.len() as u64 != raw_to - raw_from {
            return Err(mismatch(format!("contig '{}' runs past the end of the file", rec.name)));
        }
        let mut i = a;
        while i < b {
            let n = (rec.line_bases - i % rec.line_bases).min(b - i) as usize;
            let src = (rec.byte_offset(i) - raw_from) as usize;
            let dst = (i as i64 - start) as usize;
            out[dst..dst + n].copy_from_slice(&raw[src..src + n]);
            i += n as u64;
        }
        // One pass over the copied bases, branch-free so that it vectorises: any byte that is not a
        // printable base character means the index does not describe this file.
        let copied = &mut out[(a as i64 - start) as usize..(b as i64 - start) as usize];
        let bad = copied.iter().fold(false, |bad, &c| bad | !c.is_ascii_graphic() | (c == b'>'));
        if bad {
            return Err(mismatch(format!(
                "found a line break, header or non-ASCII byte inside contig '{}' where bases were expected",
                rec.name
            )));
        }
        copied.make_ascii_uppercase();
        Ok(())
    }
}

/// Cheap consistency checks of a `.fai` against a plain FASTA, per contig: its first base follows a header line
/// naming it, its first line has the length and line ending the index says, and its last base is followed by
/// the end of a line and then the next header (or the end of the file). Catches an index left over from
/// another FASTA, or from an earlier version of this one (other length or line width), before any window is
/// read from the wrong bytes.
fn check_plain_index(data: &[u8], records: &[FaiRecord], fasta: &str, index: &str) -> Result<(), GenomeError> {
    let mismatch = |why: String| GenomeError::IndexMismatch { fasta: fasta.to_string(), index: index.to_string(), why };
    let is_eol = |c: &u8| *c == b'\n' || *c == b'\r';
    for rec in records.iter().filter(|r| r.length > 0) {
        let off = rec.offset.min(data.len() as u64) as usize;
        if off == 0 || data[off - 1] != b'\n' {
            return Err(mismatch(format!("contig '{}' does not start at a line start", rec.name)));
        }
        let line_start = data[..off - 1].iter().rposition(|&c| c == b'\n').map_or(0, |p| p + 1);
        let header = &data[line_start..off - 1];
        let named = header.strip_prefix(b">").and_then(|h| h.strip_prefix(rec.name.as_bytes()));
        if !matches!(named, Some(rest) if rest.is_empty() || rest[0].is_ascii_whitespace()) {
            return Err(mismatch(format!("the line before contig '{}' is not its '>' header", rec.name)));
        }
        // The first line: no line break among its first bases (a bounded look), then only line-ending bytes
        // up to `line_width` when the contig continues on the next line.
        let first_bases = rec.line_bases.min(rec.length) as usize;
        let early_break = data[off..].iter().take(first_bases.min(4096)).any(is_eol);
        let first_eol = (rec.length > rec.line_bases).then(|| {
            let (from, to) = (off.saturating_add(first_bases), off.saturating_add(rec.line_width as usize));
            data.get(from..to).is_some_and(|e| !e.is_empty() && e.iter().all(is_eol))
        });
        if early_break || first_eol == Some(false) {
            return Err(mismatch(format!(
                "contig '{}' has lines of {} bases in the index but not in the file",
                rec.name, rec.line_bases
            )));
        }
        // Checked arithmetic: the numbers come from a file and may be anything.
        let end = (rec.length - 1)
            .checked_div(rec.line_bases)
            .and_then(|lines| lines.checked_mul(rec.line_width))
            .and_then(|b| b.checked_add(rec.offset))
            .and_then(|b| b.checked_add((rec.length - 1) % rec.line_bases + 1));
        let Some(end) = end.filter(|&e| e <= data.len() as u64).map(|e| e as usize) else {
            return Err(mismatch(format!("contig '{}' would end past the end of the file", rec.name)));
        };
        // After the last base: the line ends, then blank lines, then the next header or the end of the file.
        let after = data[end..].iter().find(|c| !c.is_ascii_whitespace());
        if !data[end..].first().is_none_or(is_eol) || after.is_some_and(|&c| c != b'>') {
            return Err(mismatch(format!(
                "contig '{}' is {} bases long in the index but not in the file",
                rec.name, rec.length
            )));
        }
    }
    Ok(())
}

/// The first line of `gap` that is neither blank nor the `>` header of a zero-length contig of the index:
/// the name on it (a header the index does not list, or bases no contig covers), or None.
fn unlisted_in(gap: &[u8], empty_contigs: &HashSet<&str>) -> Option<String> {
    gap.split(|&c| c == b'\n').map(|l| l.trim_ascii()).filter(|l| !l.is_empty()).find_map(|line| {
        let header = String::from_utf8_lossy(line.strip_prefix(b">").unwrap_or(line));
        let name = header.split_whitespace().next().unwrap_or("").to_string();
        (line[0] != b'>' || !empty_contigs.contains(name.as_str())).then_some(name)
    })
}

fn unindexed(fasta: &str, index: &str, name: &str) -> GenomeError {
    GenomeError::IndexMismatch {
        fasta: fasta.to_string(),
        index: index.to_string(),
        why: format!("the FASTA has a contig '{name}' that the index does not list (a truncated or older index?)"),
    }
}

fn empty_contigs(records: &[FaiRecord]) -> HashSet<&str> {
    records.iter().filter(|r| r.length == 0).map(|r| r.name.as_str()).collect()
}

/// A `.fai` cut short at a line end (an interrupted copy) lists fewer contigs than the FASTA: every variant
/// on the missing ones would be `contig_not_in_genome`. Looks at the bytes between the indexed contigs (in a
/// matching file only line ends and `>` headers: a few bytes each, whatever the genome size) and fails on any
/// header the index does not list. Runs after [`check_plain_index`], which validated the offsets.
fn check_every_header_is_indexed(
    data: &[u8],
    records: &[FaiRecord],
    fasta: &str,
    index: &str,
) -> Result<(), GenomeError> {
    let empty = empty_contigs(records);
    let mut contigs: Vec<&FaiRecord> = records.iter().filter(|r| r.length > 0).collect();
    contigs.sort_by_key(|r| r.offset);
    // Each gap: from the end of the previous contig to the start of the next one's header line. A gap that
    // holds a contig the index lacks is only read up to that contig's header line.
    let mut from = 0usize;
    let mut gaps = Vec::with_capacity(contigs.len() + 1);
    for rec in &contigs {
        let off = (rec.offset as usize).min(data.len());
        let header_start = data[..off.saturating_sub(1)].iter().rposition(|&c| c == b'\n').map_or(0, |p| p + 1);
        gaps.push(from..header_start.max(from));
        from = (rec.end_offset() as usize).clamp(from, data.len());
    }
    gaps.push(from..data.len());
    for gap in gaps {
        if let Some(name) = unlisted_in(&data[gap], &empty) {
            return Err(unindexed(fasta, index, &name));
        }
    }
    Ok(())
}

/// The bgzip counterpart of [`check_every_header_is_indexed`], kept cheap (a block or two inflated): after
/// the last indexed contig only line ends (and headers of empty contigs) may follow, not another contig.
fn check_nothing_after_the_last_contig(
    records: &[FaiRecord],
    fasta: &str,
    index: &str,
    read: impl Fn(u64, u64) -> Result<Vec<u8>, GenomeError>,
) -> Result<(), GenomeError> {
    let Some(last) = records.iter().filter(|r| r.length > 0).max_by_key(|r| r.offset) else { return Ok(()) };
    let Some(end) = last.checked_end_offset() else {
        let why = format!("contig '{}' would end past the end of the file", last.name);
        return Err(GenomeError::IndexMismatch { fasta: fasta.to_string(), index: index.to_string(), why });
    };
    let mut tail = read(end, end.saturating_add(4096))?;
    if tail.len() == 4096 {
        // Only whole lines: the last one may be cut.
        tail.truncate(tail.iter().rposition(|&c| c == b'\n').unwrap_or(0));
    }
    match unlisted_in(&tail, &empty_contigs(records)) {
        Some(name) => Err(unindexed(fasta, index, &name)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    const FASTA: &[u8] = b">chr1 test\nacgtA\nCCGGT\nTT\n>chr2\nGGGG\n";

    #[test]
    fn windows_are_padded_and_upper_cased_at_both_ends() {
        let dir = tempfile::tempdir().unwrap();
        let g = Genome::open(&write(dir.path(), "g.fa", FASTA)).unwrap();
        assert!(dir.path().join("g.fa.fai").exists());
        let c = g.resolve("1").unwrap();
        let mut w = Vec::new();
        g.fetch(c, -3, 8, &mut w).unwrap();
        assert_eq!(w, b"NNNACGTA");
        g.fetch(c, 9, 6, &mut w).unwrap();
        assert_eq!(w, b"TTTNNN");
        g.fetch(c, -2, 16, &mut w).unwrap();
        assert_eq!(w, b"NNACGTACCGGTTTNN");
        g.fetch(c, 20, 4, &mut w).unwrap();
        assert_eq!(w, b"NNNN");
        g.fetch(g.resolve("chr2").unwrap(), 1, 2, &mut w).unwrap();
        assert_eq!(w, b"GG");
    }

    #[test]
    fn bgzip_fasta_reads_the_same_windows() {
        let dir = tempfile::tempdir().unwrap();
        let plain = Genome::open(&write(dir.path(), "g.fa", FASTA)).unwrap();
        let gz = Genome::open(&write(dir.path(), "g.fa.gz", &bgzf::tests::bgzip(FASTA, 7))).unwrap();
        assert!(dir.path().join("g.fa.gz.gzi").exists());
        assert_eq!(plain.contigs(), gz.contigs());
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for start in -5..20 {
            plain.fetch(0, start, 9, &mut a).unwrap();
            gz.fetch(0, start, 9, &mut b).unwrap();
            assert_eq!(a, b, "start {start}");
        }
    }

    #[test]
    fn plain_gzip_and_stale_index_are_clear_errors() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(FASTA).unwrap();
        let p = write(dir.path(), "p.fa.gz", &enc.finish().unwrap());
        assert!(matches!(Genome::open(&p), Err(GenomeError::PlainGzip { .. })));

        let p = write(dir.path(), "s.fa", FASTA);
        write(dir.path(), "s.fa.fai", b"chr1\t12\t3\t5\t6\nchr2\t4\t33\t4\t5\n");
        let err = Genome::open(&p).err().unwrap().to_string();
        assert!(err.contains("does not match") && err.contains("samtools faidx"), "{err}");
        assert!(matches!(Genome::open(&write(dir.path(), "e.fa", b"")), Err(GenomeError::Empty { .. })));
    }

    #[test]
    fn an_index_that_lists_fewer_contigs_than_the_fasta_is_detected() {
        const THREE: &[u8] = b">chr1 test\nacgtA\nCCGGT\nTT\n>empty\n>chr2\nGGGG\n\n>chr3\nAC\n";
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in [("g.fa", THREE.to_vec()), ("g.fa.gz", bgzf::tests::bgzip(THREE, 7))] {
            let fasta = write(dir.path(), name, &bytes);
            let g = Genome::open(&fasta).unwrap();
            assert_eq!(g.contigs().len(), 4);
            let fai = dir.path().join(format!("{name}.fai"));
            let full = std::fs::read_to_string(&fai).unwrap();
            let lines: Vec<&str> = full.lines().collect();
            // Cut at a line end: the last contig(s) missing.
            for keep in [2, 3] {
                std::fs::write(&fai, lines[..keep].iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
                let err = Genome::open(&fasta).err().unwrap().to_string();
                let missing = if keep == 2 { "chr2" } else { "chr3" };
                assert!(
                    err.contains(&format!("the FASTA has a contig '{missing}' that the index does not list"))
                        && err.contains(&format!("delete {}", fai.display())),
                    "{name}, {keep} lines: {err}"
                );
            }
            // Empty, and cut inside a line.
            for (text, why) in [(String::new(), "is empty"), (full[..full.len() - 3].to_string(), "middle of a line")] {
                std::fs::write(&fai, &text).unwrap();
                let err = Genome::open(&fasta).err().unwrap().to_string();
                assert!(err.contains(why) && err.contains("samtools faidx"), "{name}: {err}");
            }
            std::fs::remove_file(&fai).unwrap();
        }
        // A contig missing in the middle of a plain FASTA's index.
        let fasta = write(dir.path(), "m.fa", THREE);
        Genome::open(&fasta).unwrap();
        let fai = dir.path().join("m.fa.fai");
        let full = std::fs::read_to_string(&fai).unwrap();
        let without_chr2: String = full.lines().filter(|l| !l.starts_with("chr2")).map(|l| format!("{l}\n")).collect();
        std::fs::write(&fai, without_chr2).unwrap();
        let err = Genome::open(&fasta).err().unwrap().to_string();
        assert!(err.contains("contig 'chr2' that the index does not list"), "{err}");
    }

    #[test]
    fn a_fasta_that_cannot_be_indexed_names_its_line_and_leaves_no_index() {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes, why) in [
            ("dup.fa", &b">chr1\nACGT\n>chr2\nAC\n>chr1\nGG\n"[..], "line 5: contig 'chr1' appears twice"),
            (
                "gt.fa",
                b">chr1\nACGT\nAC>chr2\nGGGG\n",
                "line 3: column 3 of this sequence line of contig 'chr1' is a '>'",
            ),
        ] {
            let fasta = write(dir.path(), name, bytes);
            for _ in 0..2 {
                let err = Genome::open(&fasta).err().unwrap().to_string();
                assert!(err.contains(&format!("{name}, {why}")), "{err}");
                assert!(!err.contains("delete"), "the index is not the problem: {err}");
            }
            assert!(!dir.path().join(format!("{name}.fai")).exists());
        }
    }

    #[test]
    fn an_index_from_another_version_of_the_fasta_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let fasta = write(dir.path(), "g.fa", FASTA);
        Genome::open(&fasta).unwrap();
        let good = std::fs::read_to_string(dir.path().join("g.fa.fai")).unwrap();
        assert_eq!(good, "chr1\t12\t11\t5\t6\nchr2\t4\t32\t4\t5\n");
        for (stale, why) in [
            ("chr1\t12\t11\t4\t5\nchr2\t4\t32\t4\t5\n", "lines of 4 bases"),
            ("chr1\t12\t11\t6\t7\nchr2\t4\t32\t4\t5\n", "lines of 6 bases"),
            ("chr1\t11\t11\t5\t6\nchr2\t4\t32\t4\t5\n", "is 11 bases long"),
            ("chr1\t7\t11\t5\t6\nchr2\t4\t32\t4\t5\n", "is 7 bases long"),
            ("chr1\t12\t11\t5\t6\nchr2\t3\t32\t4\t5\n", "is 3 bases long"),
            // Offsets near u64::MAX must not wrap around (this panicked before).
            ("chr1\t10\t18446744073709551610\t60\t61\n", "is not its '>' header"),
            ("chr1\t18446744073709551615\t11\t1\t18446744073709551615\n", "lines of 1 bases"),
            ("chr1\t18446744073709551615\t11\t5\t6\n", "would end past the end of the file"),
        ] {
            std::fs::write(dir.path().join("g.fa.fai"), stale).unwrap();
            let err = Genome::open(&fasta).err().unwrap().to_string();
            assert!(err.contains("does not match") && err.contains(why), "{stale:?}: {err}");
        }
        // CRLF FASTA, blank lines between contigs, no final newline: the built index passes the checks.
        for (i, text) in
            [&b">a\r\nACGT\r\nAC\r\n>b\r\nGG"[..], b">a\nACGT\nAC\n\n\n>b\nGG\n", b">a\nACG"].iter().enumerate()
        {
            let p = write(dir.path(), &format!("ok{i}.fa"), text);
            Genome::open(&p).unwrap();
            Genome::open(&p).unwrap();
        }
    }
}
