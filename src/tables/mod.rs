//! The Parquet tables the steps exchange. Column-by-column documentation lives in the README; the schemas here
//! are the source of truth and are checked on read, so a hand-edited or foreign file gets a clear message.

pub mod sequences;
pub mod variants;

use std::fs::File;
use std::path::{Path, PathBuf};

use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

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
