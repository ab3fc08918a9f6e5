//! The per-sequence record of a `predict` run: `seq_id, status, error, seconds` as Parquet.

use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{Float64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::file::properties::WriterProperties;

use crate::tables::{AtomicParquet, TableError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordStatus {
    /// The model ran and the entry was written.
    Computed,
    /// A valid entry was already there (written by another job since check-cache ran).
    Cached,
    /// Bad input bytes, a model error or a write error; `error` says which.
    Failed,
}

impl RecordStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordStatus::Computed => "computed",
            RecordStatus::Cached => "cached",
            RecordStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PredictRecord {
    pub seq_id: String,
    pub status: RecordStatus,
    pub error: Option<String>,
    /// Model seconds attributed to this sequence (its batch's time / batch size); null unless computed.
    pub seconds: Option<f64>,
}

impl PredictRecord {
    pub fn computed(seq_id: String, seconds: f64) -> Self {
        PredictRecord { seq_id, status: RecordStatus::Computed, error: None, seconds: Some(seconds) }
    }
    pub fn cached(seq_id: String) -> Self {
        PredictRecord { seq_id, status: RecordStatus::Cached, error: None, seconds: None }
    }
    pub fn failed(seq_id: String, error: String) -> Self {
        PredictRecord { seq_id, status: RecordStatus::Failed, error: Some(error), seconds: None }
    }
}

pub fn write(path: &Path, records: &[PredictRecord]) -> Result<(), TableError> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("seq_id", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("error", DataType::Utf8, true),
        Field::new("seconds", DataType::Float64, true),
    ]));
    let (mut id, mut st, mut err, mut secs) =
        (StringBuilder::new(), StringBuilder::new(), StringBuilder::new(), Float64Builder::new());
    for r in records {
        id.append_value(&r.seq_id);
        st.append_value(r.status.as_str());
        err.append_option(r.error.as_deref());
        secs.append_option(r.seconds);
    }
    let columns: Vec<ArrayRef> =
        vec![Arc::new(id.finish()), Arc::new(st.finish()), Arc::new(err.finish()), Arc::new(secs.finish())];
    let batch = RecordBatch::try_new(schema.clone(), columns)
        .map_err(|e| TableError::Write { path: path.display().to_string(), source: e.into() })?;
    let mut out = AtomicParquet::create(path, schema, WriterProperties::builder().build())?;
    out.write(&batch)?;
    out.finish()
}
