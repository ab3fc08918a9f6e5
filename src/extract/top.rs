//! `--top N` in one pass over the input, so that it reads a pipe too: the N best variants so far are held in a
//! bounded heap, every bad row is kept (spilled to a temporary file beyond a memory cap), and at the end both
//! come out merged in input order.
//!
//! Memory: N variants (the heap) plus at most [`BAD_ROWS_IN_MEMORY`] bytes of bad rows, whatever the input.
//! The heap's worst p-value is published to the parsing workers ([`Threshold`]) so that a row that
//! cannot enter the heap is dropped before its strings are allocated: on a GWAS table almost every row.

use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Context;

use crate::variants::{BadRow, RawVariant, Record};

/// Bytes of bad rows kept in memory (about 150,000 typical rows) before they go to the spill file.
const BAD_ROWS_IN_MEMORY: usize = 32 << 20;

/// The N variants with the smallest p-values so far (ties: the earlier row), and every bad row.
pub struct TopN {
    n: usize,
    heap: BinaryHeap<Ranked>,
    bad: BadRows,
    threshold: Threshold,
}

/// The p-value a variant must not exceed to enter the heap (+inf until the heap is full), shared with the
/// parsing threads.
#[derive(Clone)]
pub struct Threshold(Arc<AtomicU64>);

impl Threshold {
    /// Whether a variant with p-value `p` may still enter. A row beyond it can never enter: the threshold only
    /// falls. Equal p-values are let through (the heap breaks the tie by line).
    pub fn may_enter(&self, p: f64) -> bool {
        p <= f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

struct Ranked(RawVariant);

impl Ranked {
    fn key(&self) -> (f64, u64) {
        (self.0.pvalue.unwrap_or(f64::INFINITY), self.0.line)
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let ((p, l), (q, m)) = (self.key(), other.key());
        p.total_cmp(&q).then(l.cmp(&m))
    }
}

impl TopN {
    /// `spill_dir` receives the temporary file of bad rows, if there are that many.
    pub fn new(n: usize, spill_dir: &Path) -> TopN {
        let threshold = if n == 0 { f64::NEG_INFINITY } else { f64::INFINITY };
        TopN {
            n,
            heap: BinaryHeap::with_capacity(n.min(1 << 20) + 1),
            bad: BadRows::new(spill_dir),
            threshold: Threshold(Arc::new(AtomicU64::new(threshold.to_bits()))),
        }
    }

    pub fn threshold(&self) -> Threshold {
        self.threshold.clone()
    }

    /// The next kept record in input order; returns how many variants fell out of (or never entered) the top.
    pub fn push(&mut self, record: Record) -> anyhow::Result<u64> {
        let v = match record {
            Record::Bad(b) => {
                self.bad.push(b)?;
                return Ok(0);
            }
            Record::Variant(v) => Ranked(v),
        };
        let out = if self.heap.len() < self.n {
            self.heap.push(v);
            0
        } else if self.heap.peek().is_some_and(|worst| v < *worst) {
            self.heap.pop();
            self.heap.push(v);
            1
        } else {
            return Ok(1);
        };
        if self.heap.len() == self.n {
            if let Some(worst) = self.heap.peek() {
                self.threshold.0.store(worst.key().0.to_bits(), Ordering::Relaxed);
            }
        }
        Ok(out)
    }

    /// The chosen variants and every bad row, in input order.
    pub fn finish(self) -> anyhow::Result<impl Iterator<Item = anyhow::Result<Record>>> {
        let mut chosen: Vec<RawVariant> = self.heap.into_iter().map(|r| r.0).collect();
        chosen.sort_unstable_by_key(|v| v.line);
        let bad = self.bad.finish()?;
        Ok(Merge { chosen: chosen.into_iter().peekable(), bad: bad.peekable() })
    }
}

struct Merge<B: Iterator<Item = anyhow::Result<BadRow>>> {
    chosen: std::iter::Peekable<std::vec::IntoIter<RawVariant>>,
    bad: std::iter::Peekable<B>,
}

impl<B: Iterator<Item = anyhow::Result<BadRow>>> Iterator for Merge<B> {
    type Item = anyhow::Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        let bad_line = match self.bad.peek() {
            Some(Ok(b)) => Some(b.line),
            Some(Err(_)) => return self.bad.next().map(|r| r.map(Record::Bad)),
            None => None,
        };
        match (self.chosen.peek().map(|v| v.line), bad_line) {
            (Some(v), Some(b)) if b < v => self.bad.next().map(|r| r.map(Record::Bad)),
            (Some(_), _) => self.chosen.next().map(|v| Ok(Record::Variant(v))),
            (None, _) => self.bad.next().map(|r| r.map(Record::Bad)),
        }
    }
}

/// Bad rows in input order: in memory up to [`BAD_ROWS_IN_MEMORY`] bytes, then all of them so far are appended
/// to an unnamed temporary file in the output folder (created, then removed at once where the system allows,
/// so that nothing is left behind even after a crash) and memory starts again from empty.
struct BadRows {
    dir: std::path::PathBuf,
    rows: Vec<BadRow>,
    bytes: usize,
    spill: Option<BufWriter<File>>,
}

impl BadRows {
    fn new(dir: &Path) -> BadRows {
        BadRows { dir: dir.to_path_buf(), rows: Vec::new(), bytes: 0, spill: None }
    }

    fn push(&mut self, b: BadRow) -> anyhow::Result<()> {
        self.bytes += size_of::<BadRow>()
            + b.message.len()
            + b.id.as_ref().map_or(0, String::len)
            + b.chrom.as_ref().map_or(0, String::len);
        self.rows.push(b);
        if self.bytes > BAD_ROWS_IN_MEMORY {
            self.spill_rows()?;
        }
        Ok(())
    }

    fn spill_rows(&mut self) -> anyhow::Result<()> {
        if self.spill.is_none() {
            let path = self.dir.join(format!(".top-bad-rows-{}.tmp", std::process::id()));
            let file = File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .with_context(|| format!("cannot create the temporary file {}", path.display()))?;
            // Unlinked while open (Unix): the data stays reachable through `file` only.
            let _ = std::fs::remove_file(&path);
            self.spill = Some(BufWriter::with_capacity(1 << 20, file));
        }
        let Some(w) = self.spill.as_mut() else { unreachable!() };
        for b in self.rows.drain(..) {
            write_row(w, &b).context("cannot write the temporary file of bad rows")?;
        }
        self.bytes = 0;
        Ok(())
    }

    fn finish(self) -> anyhow::Result<impl Iterator<Item = anyhow::Result<BadRow>>> {
        let spilled = match self.spill {
            None => None,
            Some(w) => {
                let mut file = w.into_inner().map_err(|e| e.into_error())?;
                file.rewind()?;
                Some(BufReader::with_capacity(1 << 20, file))
            }
        };
        let from_file = spilled.into_iter().flat_map(|mut r| std::iter::from_fn(move || read_row(&mut r).transpose()));
        Ok(from_file.chain(self.rows.into_iter().map(Ok)))
    }
}

fn write_str(w: &mut impl Write, s: Option<&str>) -> std::io::Result<()> {
    match s {
        None => w.write_all(&u64::MAX.to_le_bytes()),
        Some(s) => {
            w.write_all(&(s.len() as u64).to_le_bytes())?;
            w.write_all(s.as_bytes())
        }
    }
}

fn write_row(w: &mut impl Write, b: &BadRow) -> std::io::Result<()> {
    w.write_all(&b.line.to_le_bytes())?;
    w.write_all(&[u8::from(b.pos.is_some())])?;
    w.write_all(&b.pos.unwrap_or(0).to_le_bytes())?;
    write_str(w, b.id.as_deref())?;
    write_str(w, b.chrom.as_deref())?;
    write_str(w, Some(&b.message))
}

fn read_u64(r: &mut impl Read) -> std::io::Result<u64> {
    let mut buf = [0u8; 8];
    r.read_exact(&mut buf)?;
    Ok(u64::from_le_bytes(buf))
}

fn read_str(r: &mut impl Read) -> anyhow::Result<Option<String>> {
    let len = read_u64(r)?;
    if len == u64::MAX {
        return Ok(None);
    }
    let mut buf = vec![0u8; usize::try_from(len)?];
    r.read_exact(&mut buf)?;
    Ok(Some(String::from_utf8(buf)?))
}

/// The next row of the spill file, `None` at its end.
fn read_row(r: &mut BufReader<File>) -> anyhow::Result<Option<BadRow>> {
    use std::io::BufRead;
    if r.fill_buf()?.is_empty() {
        return Ok(None);
    }
    let line = read_u64(r)?;
    let mut flag = [0u8; 1];
    r.read_exact(&mut flag)?;
    let pos = read_u64(r)? as i64;
    let id = read_str(r)?;
    let chrom = read_str(r)?;
    let message = read_str(r)?.unwrap_or_default();
    Ok(Some(BadRow { line, id, chrom, pos: (flag[0] == 1).then_some(pos), message }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variants::AlleleSource;

    fn var(line: u64, p: f64) -> Record {
        Record::Variant(RawVariant {
            line,
            id: None,
            chrom: "1".into(),
            pos: 10,
            effect_allele: "A".into(),
            other_allele: "G".into(),
            beta: None,
            se: None,
            pvalue: Some(p),
            source: AlleleSource::Table,
        })
    }

    fn bad(line: u64) -> Record {
        Record::Bad(BadRow {
            line,
            id: Some(format!("rs{line}")),
            chrom: None,
            pos: Some(line as i64),
            message: format!("line {line}: P '-1' is not a p-value"),
        })
    }

    fn line(r: &Record) -> u64 {
        match r {
            Record::Variant(v) => v.line,
            Record::Bad(b) => b.line,
        }
    }

    #[test]
    fn keeps_smallest_in_input_order_and_every_bad_row() {
        let dir = tempfile::tempdir().unwrap();
        let mut top = TopN::new(2, dir.path());
        let mut beyond = 0;
        for (i, p) in [Some(0.5), Some(0.01), None, Some(0.2), Some(0.01), Some(0.9)].into_iter().enumerate() {
            let line = i as u64 + 2;
            beyond += top.push(p.map_or_else(|| bad(line), |p| var(line, p))).unwrap();
        }
        assert!(top.threshold().may_enter(0.01) && !top.threshold().may_enter(0.011));
        let kept: Vec<u64> = top.finish().unwrap().map(|r| line(&r.unwrap())).collect();
        assert_eq!(kept, vec![3, 4, 6], "the two smallest (ties: the earlier row) and the bad row, in input order");
        assert_eq!(beyond, 3);
        assert!(
            TopN::new(0, dir.path()).push(var(2, 0.0)).unwrap() == 1
                && !TopN::new(0, dir.path()).threshold().may_enter(0.0)
        );
    }

    #[test]
    fn many_bad_rows_spill_to_disk_and_come_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut top = TopN::new(3, dir.path());
        let rows = 400_000u64;
        for line in 2..rows {
            let rec = if line % 1000 == 7 { var(line, 1.0 / line as f64) } else { bad(line) };
            top.push(rec).unwrap();
        }
        assert!(top.bad.spill.is_some(), "spilled");
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "the spill file has no name");
        let out: Vec<Record> = top.finish().unwrap().map(Result::unwrap).collect();
        let lines: Vec<u64> = out.iter().map(line).collect();
        assert!(lines.windows(2).all(|w| w[0] < w[1]), "input order");
        let variants: Vec<u64> = out.iter().filter(|r| matches!(r, Record::Variant(_))).map(line).collect();
        assert_eq!(
            variants,
            vec![(rows / 1000 - 3) * 1000 + 7, (rows / 1000 - 2) * 1000 + 7, (rows / 1000 - 1) * 1000 + 7]
        );
        assert_eq!(out.len() as u64, rows - 2 - rows / 1000 + 3);
        assert_eq!(out[1], bad(3), "fields survive the round trip");
    }
}
