//! `variants.parquet`: one row per input variant (every input row, scored or not), with its status.
//! See the README for what each column means.

use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, UInt32Builder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use super::{AtomicParquet, TableError};
use crate::orient::Status;

const ROWS_PER_BATCH: usize = 8192;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct VariantRow {
    pub line: u64,
    pub id: Option<String>,
    pub chrom: Option<String>,
    pub contig: Option<String>,
    pub pos: Option<i64>,
    pub ref_allele: Option<String>,
    pub alt_allele: Option<String>,
    pub effect_allele: Option<String>,
    pub other_allele: Option<String>,
    pub beta: Option<f64>,
    pub se: Option<f64>,
    pub pvalue: Option<f64>,
    pub flipped: Option<bool>,
    pub ambiguous_strand: Option<bool>,
    pub status: Option<Status>,
    pub status_detail: Option<String>,
    pub shard: Option<u32>,
    pub window_start: Option<i64>,
    pub ref_seq_id: Option<String>,
    pub alt_seq_id: Option<String>,
}

pub fn schema() -> SchemaRef {
    let s = |name: &str, nullable| Field::new(name, DataType::Utf8, nullable);
    Arc::new(Schema::new(vec![
        Field::new("line", DataType::UInt64, false),
        s("id", true),
        s("chrom", true),
        s("contig", true),
        Field::new("pos", DataType::Int64, true),
        s("ref", true),
        s("alt", true),
        s("effect_allele", true),
        s("other_allele", true),
        Field::new("beta", DataType::Float64, true),
        Field::new("se", DataType::Float64, true),
        Field::new("pvalue", DataType::Float64, true),
        Field::new("flipped", DataType::Boolean, true),
        Field::new("ambiguous_strand", DataType::Boolean, true),
        s("status", false),
        s("status_detail", true),
        Field::new("shard", DataType::UInt32, true),
        Field::new("window_start", DataType::Int64, true),
        s("ref_seq_id", true),
        s("alt_seq_id", true),
    ]))
}

pub struct VariantWriter {
    out: AtomicParquet,
    path: String,
    pending: Vec<VariantRow>,
}

impl VariantWriter {
    /// `metadata` goes into the file's key-value metadata (window length, genome, input, tool version).
    pub fn create(path: &Path, metadata: Vec<(String, String)>) -> Result<Self, TableError> {
        let kv = metadata.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect();
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
            .set_key_value_metadata(Some(kv))
            .build();
        Ok(VariantWriter {
            out: AtomicParquet::create(path, schema(), props)?,
            path: path.display().to_string(),
            pending: Vec::new(),
        })
    }

    pub fn push(&mut self, row: VariantRow) -> Result<(), TableError> {
        self.pending.push(row);
        if self.pending.len() >= ROWS_PER_BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), TableError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch =
            to_batch(&self.pending).map_err(|e| TableError::Write { path: self.path.clone(), source: e.into() })?;
        self.out.write(&batch)?;
        self.pending.clear();
        Ok(())
    }

    pub fn finish(mut self) -> Result<(), TableError> {
        self.flush()?;
        self.out.finish()
    }
}

fn to_batch(rows: &[VariantRow]) -> Result<RecordBatch, arrow_schema::ArrowError> {
    fn strings<'a>(rows: &'a [VariantRow], f: impl Fn(&'a VariantRow) -> Option<&'a str>) -> ArrayRef {
        let mut b = StringBuilder::new();
        for r in rows {
            b.append_option(f(r));
        }
        Arc::new(b.finish())
    }
    fn floats(rows: &[VariantRow], f: impl Fn(&VariantRow) -> Option<f64>) -> ArrayRef {
        let mut b = Float64Builder::new();
        rows.iter().for_each(|r| b.append_option(f(r)));
        Arc::new(b.finish())
    }
    fn ints(rows: &[VariantRow], f: impl Fn(&VariantRow) -> Option<i64>) -> ArrayRef {
        let mut b = Int64Builder::new();
        rows.iter().for_each(|r| b.append_option(f(r)));
        Arc::new(b.finish())
    }
    fn bools(rows: &[VariantRow], f: impl Fn(&VariantRow) -> Option<bool>) -> ArrayRef {
        let mut b = BooleanBuilder::new();
        rows.iter().for_each(|r| b.append_option(f(r)));
        Arc::new(b.finish())
    }
    let mut line = UInt64Builder::new();
    let mut shard = UInt32Builder::new();
    for r in rows {
        line.append_value(r.line);
        shard.append_option(r.shard);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(line.finish()),
        strings(rows, |r| r.id.as_deref()),
        strings(rows, |r| r.chrom.as_deref()),
        strings(rows, |r| r.contig.as_deref()),
        ints(rows, |r| r.pos),
        strings(rows, |r| r.ref_allele.as_deref()),
        strings(rows, |r| r.alt_allele.as_deref()),
        strings(rows, |r| r.effect_allele.as_deref()),
        strings(rows, |r| r.other_allele.as_deref()),
        floats(rows, |r| r.beta),
        floats(rows, |r| r.se),
        floats(rows, |r| r.pvalue),
        bools(rows, |r| r.flipped),
        bools(rows, |r| r.ambiguous_strand),
        strings(rows, |r| Some(r.status.unwrap_or(Status::ParseError).as_str())),
        strings(rows, |r| r.status_detail.as_deref()),
        Arc::new(shard.finish()),
        ints(rows, |r| r.window_start),
        strings(rows, |r| r.ref_seq_id.as_deref()),
        strings(rows, |r| r.alt_seq_id.as_deref()),
    ];
    RecordBatch::try_new(schema(), columns)
}
