//! Sequence tables: `shards/shard-NNNNN.parquet` from `extract-seqs` and the TODO file from `check-cache`.
//! Columns: `seq_id` (string, lower-case hex SHA-256 of `sequence`), `sequence` (string, the window's bytes),
//! and, for a window that is a substitution of another (an SNV's alt window of its reference, see
//! `substitution`), `base_seq_id`, `base_offset` and `base_bases` (null otherwise). Tables without the last
//! three (written before them, or by hand) read as windows without a base.
//!
//! Windows are written a few hundred rows per row group and read back in small batches, so memory stays
//! bounded however large a shard is. zstd level 1 on large pages catches the near-duplicate ref/alt windows
//! that sit side by side, so the alt window of a SNP costs almost nothing on disk.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::builder::StringBuilder;
use arrow_array::{Array, BinaryArray, LargeBinaryArray, LargeStringArray, RecordBatch, StringArray, UInt32Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReader;
use parquet::arrow::arrow_writer::{compute_leaves, ArrowColumnChunk, ArrowColumnWriter};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use super::{AtomicRowGroups, TableError};
use crate::substitution::Substitution;

/// Rows per row group: the unit encoded (and zstd-compressed) on a worker thread, ~12.6 MB of 196-kb windows.
const ROWS_PER_GROUP: usize = 64;
/// Rows per data page (and per batch read back): each page is compressed on its own, so a window and its
/// near-duplicate (an SNV's alt window, next to its reference) should share a page.
const ROWS_PER_BATCH: usize = 32;

pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("seq_id", DataType::Utf8, false),
        Field::new("sequence", DataType::Utf8, false),
        Field::new("base_seq_id", DataType::Utf8, true),
        Field::new("base_offset", DataType::UInt32, true),
        Field::new("base_bases", DataType::Utf8, true),
    ]))
}

fn props() -> WriterProperties {
    let seq = ColumnPath::from("sequence");
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
        .set_max_row_group_row_count(Some(ROWS_PER_GROUP))
        .set_write_batch_size(ROWS_PER_BATCH)
        .set_column_dictionary_enabled(seq.clone(), false)
        .set_column_statistics_enabled(seq, EnabledStatistics::None)
        .set_data_page_size_limit(4 << 20)
        .build()
}

type Encoded = Result<Vec<ArrowColumnChunk>, TableError>;

/// Writes a sequence table. Rows are buffered into row groups of [`ROWS_PER_GROUP`]; each full row group is
/// encoded and compressed as a rayon task (compression is most of the cost of a shard), while the caller goes
/// on, and the encoded row groups are appended to the file in order. At most a few row groups are in flight,
/// so memory stays bounded; the bytes written do not depend on the thread count.
pub struct SequenceWriter {
    out: AtomicRowGroups,
    path: PathBuf,
    buffered: Vec<SequenceRow>,
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
        self.buffered.push(row);
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

/// One row group's columns, encoded and compressed.
fn encode(rows: Vec<SequenceRow>, mut writers: Vec<ArrowColumnWriter>, path: &str) -> Encoded {
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

/// The rows as one Arrow batch; each window is copied once, into the `sequence` column's buffer.
fn to_batch(rows: Vec<SequenceRow>) -> Result<RecordBatch, Box<dyn std::error::Error + Send + Sync>> {
    let total: usize = rows.iter().map(|r| r.sequence.len()).sum();
    if total > i32::MAX as usize {
        return Err(format!("{total} bytes of sequence in one row group of {} rows (at most 2 GiB)", rows.len()).into());
    }
    let mut seqs = StringBuilder::with_capacity(rows.len(), total);
    let mut ids = Vec::with_capacity(rows.len());
    let mut bases = Vec::with_capacity(rows.len());
    for row in rows {
        seqs.append_value(std::str::from_utf8(&row.sequence)?);
        ids.push(row.seq_id);
        bases.push(row.base);
    }
    let seqs = seqs.finish();
    let text = |s: &[u8]| std::str::from_utf8(s).map(str::to_string);
    let base_bases: Vec<Option<String>> =
        bases.iter().map(|b| b.as_ref().map(|b| text(&b.base_bases)).transpose()).collect::<Result<_, _>>()?;
    let base_ids = StringArray::from_iter(bases.iter().map(|b| b.as_ref().map(|b| b.base_seq_id.as_str())));
    let offsets: Vec<Option<u32>> =
        bases.iter().map(|b| b.as_ref().map(|b| u32::try_from(b.offset)).transpose()).collect::<Result<_, _>>()?;
    Ok(RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(StringArray::from_iter_values(&ids)),
            Arc::new(seqs),
            Arc::new(base_ids),
            Arc::new(UInt32Array::from(offsets)),
            Arc::new(StringArray::from(base_bases)),
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

/// Streams a sequence table in small batches. Accepts string or binary `sequence` columns (pandas and
/// polars users may write either) and extra columns (ignored).
pub struct SequenceReader {
    path: String,
    inner: ParquetRecordBatchReader,
    rows: usize,
}

impl SequenceReader {
    pub fn open(path: &Path) -> Result<Self, TableError> {
        let shown = path.display().to_string();
        let rerr = |e: Box<dyn std::error::Error + Send + Sync>| TableError::Read { path: shown.clone(), source: e };
        let expected = "a shard written by extract-seqs or a TODO file written by check-cache (seq_id, sequence)";
        let builder = super::open_parquet(path, "sequence", expected)?;
        let rows = builder.metadata().file_metadata().num_rows().max(0) as usize;
        let schema = builder.schema().clone();
        for col in ["seq_id", "sequence"] {
            if schema.field_with_name(col).is_err() {
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
        let wanted = ["seq_id", "sequence", "base_seq_id", "base_offset", "base_bases"];
        let present = wanted.into_iter().filter(|c| schema.field_with_name(c).is_ok());
        let mask = parquet::arrow::ProjectionMask::columns(builder.parquet_schema(), present);
        let inner =
            builder.with_projection(mask).with_batch_size(ROWS_PER_BATCH).build().map_err(|e| rerr(e.into()))?;
        Ok(SequenceReader { path: shown, inner, rows })
    }

    /// Row count from the file footer (no data read).
    pub fn rows(&self) -> usize {
        self.rows
    }

    fn convert(&self, batch: RecordBatch) -> Result<Vec<SequenceRow>, TableError> {
        let bad = |why: String| TableError::Schema { path: self.path.clone(), what: "sequence", why };
        let ids = string_values(batch.column_by_name("seq_id").ok_or_else(|| bad("no seq_id".into()))?)
            .ok_or_else(|| bad("seq_id must be a string column".into()))?;
        let seqs = string_values(batch.column_by_name("sequence").ok_or_else(|| bad("no sequence".into()))?)
            .ok_or_else(|| bad("sequence must be a string or binary column".into()))?;
        let optional = |name: &str| -> Result<Vec<Option<&[u8]>>, TableError> {
            match batch.column_by_name(name) {
                Some(col) => string_values(col).ok_or_else(|| bad(format!("{name} must be a string column"))),
                None => Ok(vec![None; batch.num_rows()]),
            }
        };
        let (base_ids, base_bases) = (optional("base_seq_id")?, optional("base_bases")?);
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
        for (i, (id, seq)) in ids.into_iter().zip(seqs).enumerate() {
            let (Some(id), Some(seq)) = (id, seq) else { return Err(bad("null seq_id or sequence".into())) };
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
            rows.push(SequenceRow { seq_id, sequence: seq.to_vec(), base });
        }
        Ok(rows)
    }
}

/// The `seq_id` column of a shard or TODO file alone, in row order: the sequences themselves (196 kB each,
/// compressed) are not decoded, so checking a shard whose windows are all cached costs little more than its
/// keys.
pub fn read_seq_ids(path: &Path) -> Result<Vec<String>, TableError> {
    let shown = path.display().to_string();
    let expected = "a shard written by extract-seqs or a TODO file written by check-cache (seq_id, sequence)";
    let builder = super::open_parquet(path, "sequence", expected)?;
    let bad = |why: String| TableError::Schema { path: shown.clone(), what: "sequence", why };
    if builder.schema().field_with_name("seq_id").is_err() {
        return Err(bad("no 'seq_id' column; expected seq_id, sequence as written by extract-seqs".into()));
    }
    let mask = parquet::arrow::ProjectionMask::columns(builder.parquet_schema(), ["seq_id"]);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(8192)
        .build()
        .map_err(|e| TableError::Read { path: shown.clone(), source: e.into() })?;
    let mut ids = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| TableError::Read { path: shown.clone(), source: e.into() })?;
        let col = batch.column_by_name("seq_id").ok_or_else(|| bad("no seq_id".into()))?;
        for id in string_values(col).ok_or_else(|| bad("seq_id must be a string column".into()))? {
            let id = id.ok_or_else(|| bad("null seq_id".into()))?;
            ids.push(String::from_utf8_lossy(id).into_owned());
        }
    }
    Ok(ids)
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
        Some(
            batch
                .map_err(|e| TableError::Read { path: self.path.clone(), source: e.into() })
                .and_then(|b| self.convert(b)),
        )
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
