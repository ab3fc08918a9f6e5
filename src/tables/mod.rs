//! The Parquet tables the steps exchange. Column-by-column documentation lives in the README; the schemas here
//! are the source of truth and are checked on read, so a hand-edited or foreign file gets a clear message.

pub mod packed;
pub mod sequences;
pub mod variants;

use std::fs::File;
use std::path::{Path, PathBuf};

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory};
use parquet::arrow::ArrowWriter;
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

/// An ArrowWriter into a temp file beside `path`, renamed into place only by `finish`: a crashed or failed
/// step never leaves a file that a workflow engine would take as complete output.
pub(crate) struct AtomicParquet {
    path: PathBuf,
    tmp: PathBuf,
    writer: Option<ArrowWriter<File>>,
}

impl AtomicParquet {
    pub fn create(path: &Path, schema: arrow_schema::SchemaRef, props: WriterProperties) -> Result<Self, TableError> {
        let werr = |e: Box<dyn std::error::Error + Send + Sync>| TableError::Write {
            path: path.display().to_string(),
            source: e,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| werr(e.into()))?;
        }
        fsutil::check_replaceable(path).map_err(|e| werr(e.into()))?;
        let tmp = fsutil::temp_path_for(path);
        let file = File::create(&tmp).map_err(|e| werr(e.into()))?;
        let writer = ArrowWriter::try_new(file, schema, Some(props)).map_err(|e| werr(e.into()))?;
        Ok(AtomicParquet { path: path.to_path_buf(), tmp, writer: Some(writer) })
    }

    pub fn write(&mut self, batch: &arrow_array::RecordBatch) -> Result<(), TableError> {
        let path = self.path.display().to_string();
        let w = self
            .writer
            .as_mut()
            .ok_or_else(|| TableError::Write { path: path.clone(), source: "writer already closed".into() })?;
        w.write(batch).map_err(|e| TableError::Write { path: self.path.display().to_string(), source: e.into() })
    }

    pub fn finish(mut self) -> Result<(), TableError> {
        let w = self.writer.take().ok_or_else(|| self.err("writer already closed".into()))?;
        let file = w.into_inner().map_err(|e| self.err(e.into()))?;
        file.sync_all().map_err(|e| self.err(e.into()))?;
        drop(file);
        fsutil::check_replaceable(&self.path).map_err(|e| self.err(e.into()))?;
        std::fs::rename(&self.tmp, &self.path).map_err(|e| self.err(e.into()))?;
        fsutil::sync_dir(self.path.parent().unwrap_or(Path::new(".")));
        Ok(())
    }

    fn err(&self, source: Box<dyn std::error::Error + Send + Sync>) -> TableError {
        TableError::Write { path: self.path.display().to_string(), source }
    }
}

impl Drop for AtomicParquet {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Like [`AtomicParquet`], for row groups encoded elsewhere (e.g. on other threads, see
/// `ArrowColumnWriter`): [`AtomicRowGroups::column_writers`] hands out the next row group's encoders, and
/// [`AtomicRowGroups::append`] writes their chunks, in the order the row groups were handed out. The file
/// (with the same footer and Arrow schema as `AtomicParquet` writes) is renamed into place only by `finish`.
pub(crate) struct AtomicRowGroups {
    path: PathBuf,
    tmp: PathBuf,
    writer: Option<SerializedFileWriter<File>>,
    factory: ArrowRowGroupWriterFactory,
    handed_out: usize,
}

impl AtomicRowGroups {
    pub fn create(path: &Path, schema: arrow_schema::SchemaRef, props: WriterProperties) -> Result<Self, TableError> {
        let mut atomic = AtomicParquet::create(path, schema, props)?;
        // Taken out of `atomic`, whose drop then leaves the temp file alone: it is this writer's now.
        let arrow = atomic.writer.take().ok_or_else(|| atomic.err("writer already closed".into()))?;
        let tmp = atomic.tmp.clone();
        match arrow.into_serialized_writer() {
            Ok((writer, factory)) => {
                Ok(AtomicRowGroups { path: path.to_path_buf(), tmp, writer: Some(writer), factory, handed_out: 0 })
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(atomic.err(e.into()))
            }
        }
    }

    /// Encoders of the next row group's columns, one per leaf column; `Send`, so they can run elsewhere.
    pub fn column_writers(&mut self) -> Result<Vec<ArrowColumnWriter>, TableError> {
        let writers = self.factory.create_column_writers(self.handed_out).map_err(|e| self.err(e.into()))?;
        self.handed_out += 1;
        Ok(writers)
    }

    /// Appends one encoded row group (its column chunks in schema order).
    pub fn append(&mut self, chunks: Vec<ArrowColumnChunk>) -> Result<(), TableError> {
        let path = self.path.display().to_string();
        let werr = |e: parquet::errors::ParquetError| TableError::Write { path: path.clone(), source: e.into() };
        let w = self
            .writer
            .as_mut()
            .ok_or_else(|| TableError::Write { path: path.clone(), source: "writer already closed".into() })?;
        let mut group = w.next_row_group().map_err(werr)?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut group).map_err(werr)?;
        }
        group.close().map_err(werr)?;
        Ok(())
    }

    pub fn finish(mut self) -> Result<(), TableError> {
        let w = self.writer.take().ok_or_else(|| self.err("writer already closed".into()))?;
        let done = (|| -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
            let file = w.into_inner()?;
            file.sync_all()?;
            drop(file);
            fsutil::check_replaceable(&self.path)?;
            std::fs::rename(&self.tmp, &self.path)?;
            Ok(())
        })();
        match done {
            Ok(()) => {
                fsutil::sync_dir(self.path.parent().unwrap_or(Path::new(".")));
                Ok(())
            }
            Err(e) => {
                let _ = std::fs::remove_file(&self.tmp);
                Err(self.err(e))
            }
        }
    }

    fn err(&self, source: Box<dyn std::error::Error + Send + Sync>) -> TableError {
        TableError::Write { path: self.path.display().to_string(), source }
    }
}

impl Drop for AtomicRowGroups {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
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
}
