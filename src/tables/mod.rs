//! The Parquet tables the steps exchange. Column-by-column documentation lives in the README; the schemas here
//! are the source of truth and are checked on read, so a hand-edited or foreign file gets a clear message.

pub mod packed;
pub mod sequences;
pub mod variants;

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory};
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;

use crate::fsutil;

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: Box<dyn std::error::Error + Send + Sync> },
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: Box<dyn std::error::Error + Send + Sync> },
    #[error("{path} is not a {what} table: {why}")]
    Schema { path: String, what: &'static str, why: String },
}

/// Opens a Parquet file for reading. A file that is not Parquet at all (a VCF given by mistake, an incomplete
/// copy) gets a message saying so and what was expected, instead of the Parquet reader's "corrupt footer".
pub(crate) fn open_parquet(
    path: &Path,
    what: &'static str,
    expected: &str,
) -> Result<ParquetRecordBatchReaderBuilder<File>, TableError> {
    use std::io::{Read, Seek, SeekFrom};
    let shown = path.display().to_string();
    let rerr = |e: Box<dyn std::error::Error + Send + Sync>| TableError::Read { path: shown.clone(), source: e };
    let mut file = File::open(path).map_err(|e| rerr(e.into()))?;
    let len = file.metadata().map_err(|e| rerr(e.into()))?.len();
    let mut magic = |from: SeekFrom| -> std::io::Result<bool> {
        let mut m = [0u8; 4];
        file.seek(from)?;
        file.read_exact(&mut m)?;
        Ok(&m == b"PAR1")
    };
    let is_parquet = len >= 12
        && magic(SeekFrom::Start(0)).map_err(|e| rerr(e.into()))?
        && magic(SeekFrom::End(-4)).map_err(|e| rerr(e.into()))?;
    if !is_parquet {
        let why = format!(
            "it is not a Parquet file (no 'PAR1' mark at its start and end: another format, or an incomplete \
             copy); expected {expected}"
        );
        return Err(TableError::Schema { path: shown, what, why });
    }
    file.seek(SeekFrom::Start(0)).map_err(|e| rerr(e.into()))?;
    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| rerr(e.into()))
}

/// The batches of an opened file (see [`open_parquet`]) with only the top-level columns `names` decoded, so a
/// reader that wants a few columns of a wide table (scores with per-track lists) does not pay for the rest.
/// The batches hold the columns in file order, `batch_size` rows each. A name the file lacks is a
/// [`TableError::Schema`] error naming it (a caller with a more specific message checks before).
pub(crate) fn read_columns(
    builder: ParquetRecordBatchReaderBuilder<File>,
    path: &Path,
    what: &'static str,
    names: &[impl AsRef<str>],
    batch_size: usize,
) -> Result<Batches, TableError> {
    let shown = path.display().to_string();
    let schema = builder.schema().clone();
    let indices = names
        .iter()
        .map(|n| {
            let n = n.as_ref();
            schema.index_of(n).map_err(|_| TableError::Schema {
                path: shown.clone(),
                what,
                why: format!("no column {n}"),
            })
        })
        .collect::<Result<Vec<usize>, TableError>>()?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
    match builder.with_projection(mask).with_batch_size(batch_size).build() {
        Ok(inner) => Ok(Batches { path: shown, inner }),
        Err(e) => Err(TableError::Read { path: shown, source: e.into() }),
    }
}

/// Record batches of one file, a read error naming the file (see [`read_columns`]).
pub(crate) struct Batches {
    path: String,
    inner: ParquetRecordBatchReader,
}

impl Iterator for Batches {
    type Item = Result<RecordBatch, TableError>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch = self.inner.next()?;
        Some(batch.map_err(|e| TableError::Read { path: self.path.clone(), source: e.into() }))
    }
}

/// The temp file beside an output path that becomes the output only when [`TempOutput::commit`] renames it into
/// place; dropped before that, it removes the temp file. A crashed or failed step therefore never leaves a file
/// that a workflow engine would take as complete output. Shared by both Parquet writers below.
struct TempOutput {
    path: PathBuf,
    tmp: PathBuf,
    committed: bool,
}

impl TempOutput {
    fn create(path: &Path) -> Result<(Self, File), TableError> {
        let werr = |e: std::io::Error| TableError::Write { path: path.display().to_string(), source: e.into() };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(werr)?;
        }
        fsutil::check_replaceable(path).map_err(werr)?;
        let tmp = fsutil::temp_path_for(path);
        let file = File::create(&tmp).map_err(werr)?;
        Ok((TempOutput { path: path.to_path_buf(), tmp, committed: false }, file))
    }

    /// Makes the written file durable and renames it over the output path.
    fn commit(mut self, file: File) -> Result<(), TableError> {
        file.sync_all().map_err(|e| self.err(e.into()))?;
        drop(file);
        fsutil::check_replaceable(&self.path).map_err(|e| self.err(e.into()))?;
        std::fs::rename(&self.tmp, &self.path).map_err(|e| self.err(e.into()))?;
        self.committed = true;
        fsutil::sync_dir(self.path.parent().unwrap_or(Path::new(".")));
        Ok(())
    }

    fn err(&self, source: Box<dyn std::error::Error + Send + Sync>) -> TableError {
        TableError::Write { path: self.path.display().to_string(), source }
    }
}

impl Drop for TempOutput {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// An ArrowWriter into a [`TempOutput`]: the file appears under its name only once `finish` has written it
/// whole.
pub(crate) struct AtomicParquet {
    out: TempOutput,
    writer: ArrowWriter<File>,
}

impl AtomicParquet {
    pub fn create(path: &Path, schema: arrow_schema::SchemaRef, props: WriterProperties) -> Result<Self, TableError> {
        let (out, file) = TempOutput::create(path)?;
        let writer = ArrowWriter::try_new(file, schema, Some(props)).map_err(|e| out.err(e.into()))?;
        Ok(AtomicParquet { out, writer })
    }

    pub fn write(&mut self, batch: &arrow_array::RecordBatch) -> Result<(), TableError> {
        self.writer.write(batch).map_err(|e| self.out.err(e.into()))
    }

    pub fn finish(self) -> Result<(), TableError> {
        let file = self.writer.into_inner().map_err(|e| self.out.err(e.into()))?;
        self.out.commit(file)
    }
}

/// Like [`AtomicParquet`], for row groups encoded elsewhere (e.g. on other threads, see
/// `ArrowColumnWriter`): [`AtomicRowGroups::column_writers`] hands out the next row group's encoders, and
/// [`AtomicRowGroups::append`] writes their chunks, in the order the row groups were handed out. The file
/// (with the same footer and Arrow schema as `AtomicParquet` writes) is renamed into place only by `finish`.
pub(crate) struct AtomicRowGroups {
    out: TempOutput,
    writer: SerializedFileWriter<File>,
    factory: ArrowRowGroupWriterFactory,
    handed_out: usize,
}

impl AtomicRowGroups {
    pub fn create(path: &Path, schema: arrow_schema::SchemaRef, props: WriterProperties) -> Result<Self, TableError> {
        let AtomicParquet { out, writer } = AtomicParquet::create(path, schema, props)?;
        let (writer, factory) = writer.into_serialized_writer().map_err(|e| out.err(e.into()))?;
        Ok(AtomicRowGroups { out, writer, factory, handed_out: 0 })
    }

    /// Encoders of the next row group's columns, one per leaf column; `Send`, so they can run elsewhere.
    pub fn column_writers(&mut self) -> Result<Vec<ArrowColumnWriter>, TableError> {
        let writers = self.factory.create_column_writers(self.handed_out).map_err(|e| self.out.err(e.into()))?;
        self.handed_out += 1;
        Ok(writers)
    }

    /// Appends one encoded row group (its column chunks in schema order).
    pub fn append(&mut self, chunks: Vec<ArrowColumnChunk>) -> Result<(), TableError> {
        let err = |e: parquet::errors::ParquetError| self.out.err(e.into());
        let mut group = self.writer.next_row_group().map_err(err)?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut group).map_err(err)?;
        }
        group.close().map_err(err)?;
        Ok(())
    }

    pub fn finish(self) -> Result<(), TableError> {
        let file = self.writer.into_inner().map_err(|e| self.out.err(e.into()))?;
        self.out.commit(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_parquet_says_so() {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in
            [("v.vcf", &b"##fileformat=VCFv4.2\n#CHROM\tPOS\n"[..]), ("e.parquet", b""), ("p", b"PAR1")]
        {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            let err = open_parquet(&p, "sequence", "a shard").err().unwrap().to_string();
            assert!(err.contains(name) && err.contains("is not a sequence table: it is not a Parquet file"), "{err}");
            assert!(err.ends_with("expected a shard"), "{err}");
        }
        let err = open_parquet(&dir.path().join("absent"), "sequence", "a shard").err().unwrap().to_string();
        assert!(err.starts_with("cannot read") && err.contains("absent"), "{err}");
    }

    #[test]
    fn read_columns_decodes_only_the_named_columns_and_names_a_missing_one() {
        use arrow_array::{ArrayRef, Int64Array, StringArray};
        use std::sync::Arc;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.parquet");
        let batch = RecordBatch::try_from_iter([
            ("a", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
            ("b", Arc::new(StringArray::from(vec!["x", "y", "z"])) as ArrayRef),
            ("c", Arc::new(Int64Array::from(vec![7, 8, 9])) as ArrayRef),
        ])
        .unwrap();
        let mut w = ArrowWriter::try_new(File::create(&p).unwrap(), batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();

        let open = || open_parquet(&p, "test", "a test table").unwrap();
        let batches: Vec<RecordBatch> =
            read_columns(open(), &p, "test", &["c", "a"], 2).unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(batches.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(), [2, 1], "batch_size rows each");
        let names: Vec<&str> = batches[0].schema_ref().fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["a", "c"], "the named columns only, in file order");

        let err = read_columns(open(), &p, "test", &["a", "nope"], 2).err().unwrap().to_string();
        assert!(err.contains("t.parquet is not a test table: no column nope"), "{err}");
    }
}
