//! Sequence tables: `shards/shard-NNNNN.parquet` from `extract-seqs` and the TODO file from `check-cache`.
//! Columns: `seq_id` (string, lower-case hex SHA-256 of the window), the window itself in exactly one of three
//! forms, and, for a window that is a substitution of another (an SNV's alt window of its reference, see
//! `substitution`), `base_seq_id`, `base_offset` and `base_bases` (null otherwise). The forms:
//! - `packed` (binary): two bits a base (see `packed`), for a window made only of A, C, G and T;
//! - `sequence` (string): the window's bytes, for any other window (one with `N`s);
//! - both null, and `bases` (string) set: the window is its base window (an earlier row of the same table, at
//!   most [`BASE_REACH`] rows back) with `bases` over the span `base_offset..`.
//!
//! Every reader goes through [`SequenceReader`], which hands out whole windows whatever the form. Tables
//! written by hand (pandas, polars) need only `seq_id` and `sequence`, as text or binary.
//!
//! Why not plain text under zstd: zstd compresses DNA text at ≈ 100 MB/s, ≈ 2 ms a window, most of
//! extract-seqs' time; packing costs a few microseconds and an SNV's alt window costs a few bytes. Windows are
//! written 64 rows per row group and read back in small batches, so memory stays bounded however large a shard
//! is.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::builder::StringBuilder;
use arrow_array::{Array, BinaryArray, LargeBinaryArray, LargeStringArray, RecordBatch, StringArray, UInt32Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_writer::{compute_leaves, ArrowColumnChunk, ArrowColumnWriter};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use super::packed;
use super::{AtomicRowGroups, TableError};
use crate::substitution::Substitution;

/// Rows per row group: the unit encoded (and zstd-compressed) on a worker thread, ~12.6 MB of 196-kb windows.
const ROWS_PER_GROUP: usize = 64;
/// Rows per data page (and per batch read back): each page is compressed on its own, so a window and its
/// near-duplicate (an SNV's alt window, next to its reference) should share a page.
const ROWS_PER_BATCH: usize = 32;
/// How far back (in rows of the same table) a window stored as a patch of its base may find that base. The
/// writer stores a window as a patch only when its base is this close; the reader keeps this many whole
/// windows. A variant's windows sit together (12 with --rc and three shifts), so its alt windows find their
/// references.
pub const BASE_REACH: usize = 32;

pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("seq_id", DataType::Utf8, false),
        Field::new("sequence", DataType::Utf8, true),
        Field::new("base_seq_id", DataType::Utf8, true),
        Field::new("base_offset", DataType::UInt32, true),
        Field::new("base_bases", DataType::Utf8, true),
        Field::new("packed", DataType::Binary, true),
        Field::new("bases", DataType::Utf8, true),
    ]))
}

fn props() -> WriterProperties {
    let mut props = WriterProperties::builder()
        // Packed random-looking bases are passed over by zstd at GB/s; repeats in a real genome still shrink.
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
        .set_max_row_group_row_count(Some(ROWS_PER_GROUP))
        .set_write_batch_size(ROWS_PER_BATCH)
        .set_data_page_size_limit(4 << 20);
    for col in ["sequence", "packed"] {
        let col = ColumnPath::from(col);
        props = props.set_column_dictionary_enabled(col.clone(), false);
        props = props.set_column_statistics_enabled(col, EnabledStatistics::None);
    }
    props.build()
}

type Encoded = Result<Vec<ArrowColumnChunk>, TableError>;

/// Writes a sequence table. Rows are buffered into row groups of [`ROWS_PER_GROUP`]; each full row group is
/// encoded and compressed as a rayon task (compression is most of the cost of a shard), while the caller goes
/// on, and the encoded row groups are appended to the file in order. At most a few row groups are in flight,
/// so memory stays bounded; the bytes written do not depend on the thread count.
pub struct SequenceWriter {
    out: AtomicRowGroups,
    path: PathBuf,
    buffered: Vec<(Arc<SequenceRow>, Form)>,
    /// The last [`BASE_REACH`] windows stored whole: the bases a window may be stored as a patch of (shared
    /// with the buffered rows, not copied).
    recent_whole: VecDeque<Arc<SequenceRow>>,
    in_flight: VecDeque<crossbeam_channel::Receiver<Encoded>>,
    max_in_flight: usize,
    rows: u64,
    /// Time spent encoding row groups, summed over the threads that did it (nanoseconds).
    encoding: Arc<AtomicU64>,
    /// Time the caller spent waiting for an encoded row group.
    waited: Duration,
}

/// Where a [`SequenceWriter`]'s time went.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteTimes {
    /// Encoding and compressing row groups, summed over threads.
    pub encoding: Duration,
    /// The caller's time blocked on encodes still running (not work: it overlaps `encoding`).
    pub waited: Duration,
}

impl SequenceWriter {
    pub fn create(path: &Path) -> Result<Self, TableError> {
        Ok(SequenceWriter {
            out: AtomicRowGroups::create(path, schema(), props())?,
            path: path.to_path_buf(),
            buffered: Vec::with_capacity(ROWS_PER_GROUP),
            recent_whole: VecDeque::with_capacity(BASE_REACH),
            in_flight: VecDeque::new(),
            max_in_flight: rayon::current_num_threads() + 1,
            rows: 0,
            encoding: Arc::new(AtomicU64::new(0)),
            waited: Duration::ZERO,
        })
    }

    pub fn push(&mut self, seq_id: String, sequence: Vec<u8>) -> Result<(), TableError> {
        self.push_row(SequenceRow { seq_id, sequence, base: None })
    }

    pub fn push_row(&mut self, row: SequenceRow) -> Result<(), TableError> {
        // Decided here, in row order, so the reader meets the base before the patch; the packing itself runs
        // on the encoding workers.
        // Only a patch that rebuilds this very window from that base is written (a table edited by hand may
        // say otherwise; its rows are then stored whole, and read back as given).
        let row = Arc::new(row);
        let patch_of_recent = row.base.as_ref().is_some_and(|b| {
            self.recent_whole
                .iter()
                .rev()
                .find(|r| r.seq_id == b.base_seq_id)
                .is_some_and(|base| b.relates(&base.sequence, &row.sequence))
        });
        let form = if patch_of_recent {
            Form::Patch
        } else {
            if self.recent_whole.len() == BASE_REACH {
                self.recent_whole.pop_front();
            }
            self.recent_whole.push_back(Arc::clone(&row));
            Form::Whole
        };
        self.buffered.push((row, form));
        self.rows += 1;
        if self.buffered.len() >= ROWS_PER_GROUP {
            self.flush()?;
        }
        Ok(())
    }

    /// Starts encoding the buffered rows as one row group.
    fn flush(&mut self) -> Result<(), TableError> {
        if self.buffered.is_empty() {
            return Ok(());
        }
        let rows = std::mem::replace(&mut self.buffered, Vec::with_capacity(ROWS_PER_GROUP));
        let writers = self.out.column_writers()?;
        let path = self.path.display().to_string();
        let (tx, rx) = crossbeam_channel::bounded(1);
        let encoding = Arc::clone(&self.encoding);
        let job = move || {
            let started = Instant::now();
            let encoded = encode(rows, writers, &path);
            encoding.fetch_add(started.elapsed().as_nanos().min(u64::MAX as u128) as u64, Ordering::Relaxed);
            let _ = tx.send(encoded);
        };
        if rayon::current_thread_index().is_some() {
            // On a pool thread, waiting for a task of the same pool could starve it: encode here instead.
            job();
        } else {
            rayon::spawn(job);
        }
        self.in_flight.push_back(rx);
        while self.in_flight.len() > self.max_in_flight {
            self.append_oldest()?;
        }
        Ok(())
    }

    fn append_oldest(&mut self) -> Result<(), TableError> {
        let Some(rx) = self.in_flight.pop_front() else { return Ok(()) };
        let started = Instant::now();
        let received = rx.recv();
        self.waited += started.elapsed();
        let chunks = received.map_err(|_| TableError::Write {
            path: self.path.display().to_string(),
            source: "a row-group encoder stopped without a result".into(),
        })??;
        self.out.append(chunks)
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn finish(self) -> Result<u64, TableError> {
        self.finish_timed().map(|(rows, _)| rows)
    }

    /// [`SequenceWriter::finish`], also saying where the writer's time went.
    pub fn finish_timed(mut self) -> Result<(u64, WriteTimes), TableError> {
        self.flush()?;
        while !self.in_flight.is_empty() {
            self.append_oldest()?;
        }
        let rows = self.rows;
        self.out.finish()?;
        let times =
            WriteTimes { encoding: Duration::from_nanos(self.encoding.load(Ordering::Relaxed)), waited: self.waited };
        Ok((rows, times))
    }
}

/// How a row's window is stored (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// Packed, or as text when it cannot be packed.
    Whole,
    /// As its base with other bytes over the span.
    Patch,
}

/// One row group's columns, encoded and compressed.
fn encode(rows: Vec<(Arc<SequenceRow>, Form)>, mut writers: Vec<ArrowColumnWriter>, path: &str) -> Encoded {
    let werr = |e: Box<dyn std::error::Error + Send + Sync>| TableError::Write { path: path.to_string(), source: e };
    let batch = to_batch(rows).map_err(werr)?;
    let schema = batch.schema();
    let mut leaves = Vec::new();
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        leaves.extend(compute_leaves(field, column).map_err(|e| werr(e.into()))?);
    }
    if leaves.len() != writers.len() {
        return Err(werr(format!("{} columns for {} column writers", leaves.len(), writers.len()).into()));
    }
    drop(batch);
    let mut chunks = Vec::with_capacity(writers.len());
    for (leaf, mut writer) in leaves.iter().zip(writers.drain(..)) {
        writer.write(leaf).map_err(|e| werr(e.into()))?;
        chunks.push(writer.close().map_err(|e| werr(e.into()))?);
    }
    Ok(chunks)
}

/// The rows as one Arrow batch, each window in its form (packing runs here, on an encoding worker).
fn to_batch(rows: Vec<(Arc<SequenceRow>, Form)>) -> Result<RecordBatch, Box<dyn std::error::Error + Send + Sync>> {
    let n = rows.len();
    let mut texts: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut packs: Vec<Option<Vec<u8>>> = Vec::with_capacity(n);
    let mut patches: Vec<Option<&str>> = Vec::with_capacity(n);
    let (mut text_bytes, mut packed_bytes) = (0usize, 0usize);
    for (row, form) in &rows {
        let (mut text, mut pack, mut patch) = (None, None, None);
        match (form, &row.base) {
            (Form::Patch, Some(b)) => patch = Some(std::str::from_utf8(&row.sequence[b.span()])?),
            _ => match packed::pack(&row.sequence) {
                Some(p) => pack = Some(p),
                None => text = Some(std::str::from_utf8(&row.sequence)?),
            },
        }
        text_bytes += text.map_or(0, str::len);
        packed_bytes += pack.as_ref().map_or(0, Vec::len);
        texts.push(text);
        packs.push(pack);
        patches.push(patch);
    }
    if text_bytes.max(packed_bytes) > i32::MAX as usize {
        return Err(format!("more than 2 GiB of sequence in one row group of {n} rows").into());
    }
    let text = |s: &[u8]| std::str::from_utf8(s).map(str::to_string);
    let bases: Vec<Option<&crate::substitution::Substitution>> = rows.iter().map(|(r, _)| r.base.as_ref()).collect();
    let base_bases: Vec<Option<String>> =
        bases.iter().map(|b| b.map(|b| text(&b.base_bases)).transpose()).collect::<Result<_, _>>()?;
    let base_ids = StringArray::from_iter(bases.iter().map(|b| b.map(|b| b.base_seq_id.as_str())));
    let offsets: Vec<Option<u32>> =
        bases.iter().map(|b| b.map(|b| u32::try_from(b.offset)).transpose()).collect::<Result<_, _>>()?;
    let mut seqs = StringBuilder::with_capacity(n, text_bytes);
    texts.iter().for_each(|t| seqs.append_option(*t));
    Ok(RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|(r, _)| r.seq_id.as_str()))),
            Arc::new(seqs.finish()),
            Arc::new(base_ids),
            Arc::new(UInt32Array::from(offsets)),
            Arc::new(StringArray::from(base_bases)),
            Arc::new(BinaryArray::from_iter(packs.iter().map(|p| p.as_deref()))),
            Arc::new(StringArray::from(patches)),
        ],
    )?)
}

/// One sequence read back from a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceRow {
    pub seq_id: String,
    pub sequence: Vec<u8>,
    /// Set when the window is a substitution of another window (see `substitution`).
    pub base: Option<Substitution>,
}

/// Streams a sequence table in small batches, each window whole whatever its stored form. Accepts string or
/// binary `sequence` columns (pandas and polars users may write either) and extra columns (ignored).
pub struct SequenceReader {
    path: String,
    inner: super::Batches,
    rows: usize,
    /// The last [`BASE_REACH`] windows stored whole, for the patches that follow them.
    recent_whole: VecDeque<(String, Vec<u8>)>,
}

impl SequenceReader {
    pub fn open(path: &Path) -> Result<Self, TableError> {
        let shown = path.display().to_string();
        let builder = open_table(path)?;
        let rows = builder.metadata().file_metadata().num_rows().max(0) as usize;
        let schema = builder.schema().clone();
        let has = |col: &str| schema.field_with_name(col).is_ok();
        for col in ["seq_id", "sequence"] {
            if !(has(col) || (col == "sequence" && has("packed"))) {
                let seen: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                return Err(TableError::Schema {
                    path: shown,
                    what: "sequence",
                    why: format!(
                        "no '{col}' column (columns: {}); expected seq_id, sequence as written by extract-seqs",
                        seen.join(", ")
                    ),
                });
            }
        }
        let wanted = ["seq_id", "sequence", "base_seq_id", "base_offset", "base_bases", "packed", "bases"];
        let present: Vec<&str> = wanted.into_iter().filter(|c| has(c)).collect();
        let inner = super::read_columns(builder, path, "sequence", &present, ROWS_PER_BATCH)?;
        Ok(SequenceReader { path: shown, inner, rows, recent_whole: VecDeque::with_capacity(BASE_REACH) })
    }

    /// Row count from the file footer (no data read).
    pub fn rows(&self) -> usize {
        self.rows
    }

    fn convert(&mut self, batch: RecordBatch) -> Result<Vec<SequenceRow>, TableError> {
        let path = self.path.clone();
        let bad = |why: String| TableError::Schema { path: path.clone(), what: "sequence", why };
        let ids = string_values(batch.column_by_name("seq_id").ok_or_else(|| bad("no seq_id".into()))?)
            .ok_or_else(|| bad("seq_id must be a string column".into()))?;
        let optional = |name: &str, kind: &str| -> Result<Vec<Option<&[u8]>>, TableError> {
            match batch.column_by_name(name) {
                Some(col) => string_values(col).ok_or_else(|| bad(format!("{name} must be a {kind} column"))),
                None => Ok(vec![None; batch.num_rows()]),
            }
        };
        let seqs = optional("sequence", "string or binary")?;
        let (packs, patches) = (optional("packed", "binary")?, optional("bases", "string")?);
        let (base_ids, base_bases) = (optional("base_seq_id", "string")?, optional("base_bases", "string")?);
        let offsets: Vec<Option<u32>> = match batch.column_by_name("base_offset") {
            Some(col) => col
                .as_any()
                .downcast_ref::<UInt32Array>()
                .ok_or_else(|| bad("base_offset must be a uint32 column".into()))?
                .iter()
                .collect(),
            None => vec![None; batch.num_rows()],
        };
        let mut rows = Vec::with_capacity(batch.num_rows());
        for (i, id) in ids.into_iter().enumerate() {
            let Some(id) = id else { return Err(bad("null seq_id".into())) };
            let seq_id = String::from_utf8_lossy(id).into_owned();
            let base = match (base_ids[i], offsets[i], base_bases[i]) {
                (Some(b), Some(offset), Some(bases)) => Some(Substitution {
                    base_seq_id: String::from_utf8_lossy(b).into_owned(),
                    offset: offset as usize,
                    base_bases: bases.to_vec(),
                }),
                (None, None, None) => None,
                _ => {
                    return Err(bad(format!(
                        "row {seq_id}: base_seq_id, base_offset and base_bases must be all set or all null"
                    )))
                }
            };
            let sequence = match (seqs[i], packs[i], patches[i], &base) {
                (Some(text), None, None, _) => text.to_vec(),
                (None, Some(p), None, _) => packed::unpack(p).map_err(|e| bad(format!("row {seq_id}: {e}")))?,
                (None, None, Some(patch), Some(sub)) => {
                    let window = self.patched(sub, patch).map_err(|why| bad(format!("row {seq_id}: {why}")))?;
                    rows.push(SequenceRow { seq_id, sequence: window, base });
                    continue;
                }
                _ => {
                    return Err(bad(format!(
                        "row {seq_id}: exactly one of sequence, packed, or bases with a base must be set"
                    )))
                }
            };
            if self.recent_whole.len() == BASE_REACH {
                self.recent_whole.pop_front();
            }
            self.recent_whole.push_back((seq_id.clone(), sequence.clone()));
            rows.push(SequenceRow { seq_id, sequence, base });
        }
        Ok(rows)
    }

    /// A window stored as a patch: its base (a recent whole window) with `patch` over the span.
    fn patched(&self, sub: &Substitution, patch: &[u8]) -> Result<Vec<u8>, String> {
        let Some((_, base)) = self.recent_whole.iter().rev().find(|(id, _)| *id == sub.base_seq_id) else {
            return Err(format!("its base window {} is not among the {BASE_REACH} rows before it", sub.base_seq_id));
        };
        let span = sub.span();
        if patch.len() != span.len() || span.end > base.len() || base[span.clone()] != sub.base_bases[..] {
            return Err("bases, base_offset and base_bases do not fit its base window".into());
        }
        let mut window = base.clone();
        window[span].copy_from_slice(patch);
        Ok(window)
    }
}

/// The `seq_id` column of a shard or TODO file alone, in row order: the sequences themselves (196 kB each,
/// compressed) are not decoded, so checking a shard whose windows are all cached costs little more than its
/// keys.
pub fn read_seq_ids(path: &Path) -> Result<Vec<String>, TableError> {
    let shown = path.display().to_string();
    let builder = open_table(path)?;
    let bad = |why: String| TableError::Schema { path: shown.clone(), what: "sequence", why };
    if builder.schema().field_with_name("seq_id").is_err() {
        return Err(bad("no 'seq_id' column; expected seq_id, sequence as written by extract-seqs".into()));
    }
    let mut ids = Vec::new();
    for batch in super::read_columns(builder, path, "sequence", &["seq_id"], 8192)? {
        let batch = batch?;
        let col = batch.column_by_name("seq_id").ok_or_else(|| bad("no seq_id".into()))?;
        for id in string_values(col).ok_or_else(|| bad("seq_id must be a string column".into()))? {
            let id = id.ok_or_else(|| bad("null seq_id".into()))?;
            ids.push(String::from_utf8_lossy(id).into_owned());
        }
    }
    Ok(ids)
}

/// Opens a sequence table, or says what was expected of the file.
fn open_table(
    path: &Path,
) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder<std::fs::File>, TableError> {
    let expected = "a shard written by extract-seqs or a TODO file written by check-cache (seq_id, sequence)";
    super::open_parquet(path, "sequence", expected)
}

/// Values of a string or binary column as byte slices.
fn string_values(col: &dyn Array) -> Option<Vec<Option<&[u8]>>> {
    let any = col.as_any();
    if let Some(a) = any.downcast_ref::<StringArray>() {
        return Some(a.iter().map(|v| v.map(str::as_bytes)).collect());
    }
    if let Some(a) = any.downcast_ref::<LargeStringArray>() {
        return Some(a.iter().map(|v| v.map(str::as_bytes)).collect());
    }
    if let Some(a) = any.downcast_ref::<BinaryArray>() {
        return Some(a.iter().collect());
    }
    if let Some(a) = any.downcast_ref::<LargeBinaryArray>() {
        return Some(a.iter().collect());
    }
    None
}

impl Iterator for SequenceReader {
    type Item = Result<Vec<SequenceRow>, TableError>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch = self.inner.next()?;
        Some(batch.and_then(|b| self.convert(b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_many_batches() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.parquet");
        let mut w = SequenceWriter::create(&path).unwrap();
        let rows: Vec<SequenceRow> = (0..100)
            .map(|i| SequenceRow {
                seq_id: format!("{i:064x}"),
                sequence: format!("ACGT{i}N").into_bytes(),
                base: (i % 3 == 1).then(|| Substitution {
                    base_seq_id: format!("{:064x}", i - 1),
                    offset: i,
                    base_bases: b"GT".to_vec(),
                }),
            })
            .collect();
        for r in &rows {
            w.push_row(r.clone()).unwrap();
        }
        assert!(!path.exists(), "nothing visible before finish");
        assert_eq!(w.finish().unwrap(), 100);
        let reader = SequenceReader::open(&path).unwrap();
        assert_eq!(reader.rows(), 100);
        let back: Vec<SequenceRow> = reader.flat_map(|b| b.unwrap()).collect();
        assert_eq!(back, rows);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// Random ACGT windows, some with Ns (stored as text), each followed by substitutions of it (stored as
    /// patches) and some substitutions of a window too far back (stored whole): every row reads back as written.
    #[test]
    fn every_form_round_trips_and_patches_reach_only_recent_bases() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.parquet");
        let mut w = SequenceWriter::create(&path).unwrap();
        let mut state = 7u64;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        let mut rows: Vec<SequenceRow> = Vec::new();
        for v in 0..150 {
            let mut window: Vec<u8> = (0..1001).map(|_| b"ACGT"[next() % 4]).collect();
            if v % 5 == 0 {
                window[next() % 1001] = b'N';
            }
            let id = format!("{v:060x}base");
            rows.push(SequenceRow { seq_id: id.clone(), sequence: window.clone(), base: None });
            for k in 0..2 {
                let mut alt = window.clone();
                let at = next() % 1000;
                alt[at] = if alt[at] == b'A' { b'C' } else { b'A' };
                alt[at + 1] = b'G';
                let base = if v > 40 && k == 1 { rows[(v - 40) * 3].seq_id.clone() } else { id.clone() };
                let base_window = rows.iter().find(|r| r.seq_id == base).unwrap().sequence.clone();
                let mut alt_of_base = base_window.clone();
                alt_of_base[at..at + 2].copy_from_slice(&alt[at..at + 2]);
                let sub = Substitution::between(&base, &base_window, &alt_of_base);
                rows.push(SequenceRow { seq_id: format!("{v:060x}alt{k}"), sequence: alt_of_base, base: sub });
            }
        }
        for r in &rows {
            w.push_row(r.clone()).unwrap();
        }
        w.finish().unwrap();
        let back: Vec<SequenceRow> = SequenceReader::open(&path).unwrap().flat_map(|b| b.unwrap()).collect();
        assert_eq!(back.len(), rows.len());
        for (a, b) in back.iter().zip(&rows) {
            assert!(a == b, "row {} differs", b.seq_id);
        }
        // The forms actually used: text for windows with N, packed for the others, patches for alts whose
        // base is near, whole windows for alts whose base is 120 rows back.
        let file = std::fs::File::open(&path).unwrap();
        let batches = parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file, 1024).unwrap();
        let (mut text, mut packed, mut patch) = (0, 0, 0);
        for batch in batches {
            let batch = batch.unwrap();
            let set = |name: &str| batch.num_rows() - batch.column_by_name(name).unwrap().null_count();
            (text, packed, patch) = (text + set("sequence"), packed + set("packed"), patch + set("bases"));
        }
        let whole = |i: usize, r: &SequenceRow| r.base.is_none() || (r.seq_id.ends_with("alt1") && i / 3 > 40);
        let texts = rows.iter().enumerate().filter(|(i, r)| whole(*i, r) && r.sequence.contains(&b'N')).count();
        assert!(texts > 30, "windows with N in bases and far substitutions");
        assert_eq!((text, packed + text + patch), (texts, rows.len()));
        assert_eq!(patch, 150 + 41, "alt0 of every variant and alt1 of the first 41 are patches");
    }

    #[test]
    fn a_patch_without_its_base_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.parquet");
        let mut w = SequenceWriter::create(&path).unwrap();
        let base = b"ACGTACGT".to_vec();
        let alt = b"ACGAACGT".to_vec();
        let sub = Substitution::between("b", &base, &alt).unwrap();
        w.push_row(SequenceRow { seq_id: "b".into(), sequence: base, base: None }).unwrap();
        w.push_row(SequenceRow { seq_id: "a".into(), sequence: alt, base: Some(sub) }).unwrap();
        w.finish().unwrap();
        // Drop the base row: the patch that follows can no longer be rebuilt.
        let file = std::fs::File::open(&path).unwrap();
        let batch = parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file, 16)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .slice(1, 1);
        let cut = dir.path().join("cut.parquet");
        let mut out =
            parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&cut).unwrap(), batch.schema(), None).unwrap();
        out.write(&batch).unwrap();
        out.close().unwrap();
        let err = SequenceReader::open(&cut).unwrap().next().unwrap().unwrap_err().to_string();
        assert!(err.contains("cut.parquet") && err.contains("row a") && err.contains("base window b"), "{err}");
    }

    #[test]
    fn dropped_writer_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SequenceWriter::create(&dir.path().join("s.parquet")).unwrap();
        w.push("a".repeat(64), b"ACGT".to_vec()).unwrap();
        drop(w);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn wrong_table_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.parquet");
        std::fs::write(&p, b"not parquet").unwrap();
        assert!(SequenceReader::open(&p).err().unwrap().to_string().contains("x.parquet"));
    }
}
