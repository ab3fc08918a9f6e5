//! `export`: `scores.parquet` (one row per variant, one list column per statistic) → a long table, one row
//! per variant × selected track, with the variant's identifying columns, the track's position, channel,
//! identifier and description, and one column per statistic: the shape dplyr, ggplot2 and pandas' `groupby`
//! want, written as Parquet or TSV.
//!
//! Streams: the scores are read a batch at a time, sized so that one batch decodes at most [`WIDE_VALUES`]
//! list elements and makes at most [`LONG_ROWS`] long rows, and each is written before the next is read, so
//! memory does not grow with the number of variants.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{Float32Builder, Int32Builder, Int64Builder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::merge::Track;
use crate::selection::{kept_tracks, select_tracks, NoTrack};
use crate::tables::{open_parquet, read_columns, AtomicParquet, TableError};

/// Long rows made from one batch of variants (the memory bound: ~1 M rows of a few short columns).
pub const LONG_ROWS: usize = 1 << 20;

/// List elements decoded per batch, over every statistic and kept track, selected or not: the Parquet reader
/// decodes whole lists (with their levels), so 8,192 variants × 5,313 tracks would hold ~0.5 GB whatever the
/// selection. 4 M elements: ~800 Enformer variants of one statistic per batch.
pub const WIDE_VALUES: usize = 1 << 22;

/// The variant columns copied to every long row, as in `scores.parquet`.
const VARIANT_COLUMNS: [&str; 6] = ["id", "chrom", "pos", "ref", "alt", "status"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Parquet,
    Tsv,
}

impl Format {
    /// From the output's extension: `.parquet`/`.pq`, or `.tsv`/`.txt`.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "parquet" | "pq" => Some(Format::Parquet),
            "tsv" | "txt" => Some(Format::Tsv),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub scores: PathBuf,
    pub out: PathBuf,
    /// Selectors as `plot --track` takes them; empty: every kept track.
    pub tracks: Vec<String>,
    /// None: from the output's extension.
    pub format: Option<Format>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportReport {
    pub variants: u64,
    pub tracks: usize,
    pub rows: u64,
    pub stats: Vec<String>,
    pub format: Format,
    pub out: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Table(#[from] TableError),
    #[error("{path}: {why}; fix: pass the scores.parquet written by merge or run")]
    Scores { path: String, why: String },
    #[error(transparent)]
    NoTrack(#[from] NoTrack),
    #[error("cannot tell the format of --out {path} from its extension; fix: end it in .parquet or .tsv, or pass --format parquet|tsv")]
    Format { path: String },
    #[error("cannot write {path}: {why}")]
    Write { path: String, why: String },
}

impl ExportError {
    /// A mistake in the command line (a selector, the output's name) rather than in a file or the system.
    pub fn is_usage(&self) -> bool {
        matches!(self, ExportError::NoTrack(_) | ExportError::Format { .. })
    }
}

pub fn export(opts: &ExportOptions) -> Result<ExportReport, ExportError> {
    let format = match opts.format.or_else(|| Format::from_path(&opts.out)) {
        Some(f) => f,
        None => return Err(ExportError::Format { path: opts.out.display().to_string() }),
    };
    let shown = opts.scores.display().to_string();
    let serr = |why: String| ExportError::Scores { path: shown.clone(), why };
    let builder = open_parquet(&opts.scores, "scores", "the scores.parquet written by merge")?;
    let kv = builder.metadata().file_metadata().key_value_metadata().cloned().unwrap_or_default();
    let get = |k: &str| kv.iter().find(|e| e.key == format!("enformer_vep.{k}")).and_then(|e| e.value.clone());
    let stats: Vec<String> = get("stats")
        .ok_or_else(|| serr("no enformer_vep.stats metadata".into()))?
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let kept =
        kept_tracks(&get("tracks").ok_or_else(|| serr("no enformer_vep.tracks metadata".into()))?).map_err(&serr)?;
    let selected: Vec<usize> = select_tracks(&opts.tracks, &kept)?.unwrap_or_else(|| (0..kept.len()).collect());

    let schema = builder.schema().clone();
    let wanted: Vec<&str> = VARIANT_COLUMNS.iter().copied().chain(stats.iter().map(String::as_str)).collect();
    if let Some(name) = wanted.iter().find(|n| schema.index_of(n).is_err()) {
        return Err(serr(format!("no column {name}")));
    }
    let wide = WIDE_VALUES / (kept.len() * stats.len()).max(1);
    let batch_rows = (LONG_ROWS / selected.len().max(1)).min(wide).clamp(1, 8192);
    let reader = read_columns(builder, &opts.scores, "scores", &wanted, batch_rows)?;

    let long = long_schema(&stats);
    let chosen: Vec<(usize, &Track)> = selected.iter().map(|&p| (p, &kept[p])).collect();
    let mut sink = Sink::create(format, &opts.out, long.clone())?;
    let (mut variants, mut rows) = (0u64, 0u64);
    for batch in reader {
        let batch = batch?;
        let out = lengthen(&batch, &long, &stats, &chosen, kept.len()).map_err(&serr)?;
        variants += batch.num_rows() as u64;
        rows += out.num_rows() as u64;
        sink.write(&out)?;
    }
    sink.finish()?;
    Ok(ExportReport { variants, tracks: selected.len(), rows, stats, format, out: opts.out.display().to_string() })
}

fn long_schema(stats: &[String]) -> SchemaRef {
    let s = |n: &str| Field::new(n, DataType::Utf8, true);
    let mut fields = vec![
        s("id"),
        s("chrom"),
        Field::new("pos", DataType::Int64, true),
        s("ref"),
        s("alt"),
        s("status"),
        Field::new("track", DataType::Int32, false),
        Field::new("channel", DataType::Int32, false),
        Field::new("identifier", DataType::Utf8, false),
        Field::new("description", DataType::Utf8, false),
    ];
    fields.extend(stats.iter().map(|s| Field::new(s, DataType::Float32, true)));
    Arc::new(Schema::new(fields))
}

/// One batch of variants → its long rows: variant-major, the selected tracks in the order selected.
fn lengthen(
    b: &RecordBatch,
    long: &SchemaRef,
    stats: &[String],
    chosen: &[(usize, &Track)],
    kept: usize,
) -> Result<RecordBatch, String> {
    let col = |n: &str| b.column_by_name(n).ok_or_else(|| format!("no column {n}"));
    let n = b.num_rows() * chosen.len();
    let mut strings: Vec<StringBuilder> = Vec::new();
    for name in ["id", "chrom"] {
        strings.push(repeat_strings(col(name)?, name, chosen.len())?);
    }
    let pos = col("pos")?.as_primitive_opt::<Int64Type>().ok_or("pos is not int64")?;
    let mut pos_out = Int64Builder::with_capacity(n);
    for r in 0..b.num_rows() {
        let v = pos.is_valid(r).then(|| pos.value(r));
        (0..chosen.len()).for_each(|_| pos_out.append_option(v));
    }
    let mut tail: Vec<StringBuilder> = Vec::new();
    for name in ["ref", "alt", "status"] {
        tail.push(repeat_strings(col(name)?, name, chosen.len())?);
    }
    let (mut track, mut channel) = (Int32Builder::with_capacity(n), Int32Builder::with_capacity(n));
    let (mut ident, mut desc) = (StringBuilder::new(), StringBuilder::new());
    for _ in 0..b.num_rows() {
        for (p, t) in chosen {
            track.append_value(*p as i32);
            channel.append_value(t.channel as i32);
            ident.append_value(&t.identifier);
            desc.append_value(&t.description);
        }
    }
    let mut columns: Vec<ArrayRef> = strings.iter_mut().map(|s| Arc::new(s.finish()) as ArrayRef).collect();
    columns.push(Arc::new(pos_out.finish()));
    columns.extend(tail.iter_mut().map(|s| Arc::new(s.finish()) as ArrayRef));
    columns.push(Arc::new(track.finish()));
    columns.push(Arc::new(channel.finish()));
    columns.push(Arc::new(ident.finish()));
    columns.push(Arc::new(desc.finish()));
    for stat in stats {
        let list = col(stat)?.as_list_opt::<i32>().ok_or_else(|| format!("{stat} is not a list column"))?;
        let values = list.values().as_primitive_opt::<Float32Type>().ok_or_else(|| format!("{stat} is not float32"))?;
        let offsets = list.value_offsets();
        let mut out = Float32Builder::with_capacity(n);
        for r in 0..b.num_rows() {
            let (start, end) = (offsets[r] as usize, offsets[r + 1] as usize);
            if list.is_null(r) {
                (0..chosen.len()).for_each(|_| out.append_null());
                continue;
            }
            if end - start != kept {
                return Err(format!("a {stat} list has {} values but merge kept {kept} tracks", end - start));
            }
            for (p, _) in chosen {
                let i = start + p;
                out.append_option(values.is_valid(i).then(|| values.value(i)));
            }
        }
        columns.push(Arc::new(out.finish()));
    }
    RecordBatch::try_new(long.clone(), columns).map_err(|e| e.to_string())
}

/// A string column with each value repeated `times` times.
fn repeat_strings(a: &ArrayRef, name: &str, times: usize) -> Result<StringBuilder, String> {
    let s = a.as_string_opt::<i32>().ok_or_else(|| format!("{name} is not a string column"))?;
    let mut out = StringBuilder::new();
    for r in 0..s.len() {
        let v = s.is_valid(r).then(|| s.value(r));
        (0..times).for_each(|_| out.append_option(v));
    }
    Ok(out)
}

/// Where long batches go; both write beside the output and rename it into place only when complete.
enum Sink {
    // Boxed: one sink per export, and the Parquet writer is much the larger.
    Parquet(Box<AtomicParquet>),
    Tsv(TsvFile),
}

/// A TSV being written to a temp file beside `path`; removed if dropped before `finish`.
struct TsvFile {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<std::io::BufWriter<std::fs::File>>,
}

impl Sink {
    fn create(format: Format, path: &Path, schema: SchemaRef) -> Result<Sink, ExportError> {
        match format {
            Format::Parquet => {
                let props = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
                    .build();
                Ok(Sink::Parquet(Box::new(AtomicParquet::create(path, schema, props)?)))
            }
            Format::Tsv => {
                let werr =
                    |e: std::io::Error| ExportError::Write { path: path.display().to_string(), why: e.to_string() };
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(werr)?;
                }
                crate::fsutil::check_replaceable(path).map_err(werr)?;
                let tmp = crate::fsutil::temp_path_for(path);
                let file = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(werr)?);
                let mut tsv = TsvFile { path: path.to_path_buf(), tmp, file: Some(file) };
                let header: Vec<String> = schema.fields().iter().map(|f| tsv_field(f.name())).collect();
                tsv.with(|f| writeln!(f, "{}", header.join("\t")))?;
                Ok(Sink::Tsv(tsv))
            }
        }
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), ExportError> {
        match self {
            Sink::Parquet(w) => Ok(w.write(batch)?),
            Sink::Tsv(t) => t.with(|f| write_tsv(f, batch)),
        }
    }

    fn finish(self) -> Result<(), ExportError> {
        match self {
            Sink::Parquet(w) => Ok(w.finish()?),
            Sink::Tsv(mut t) => t.finish(),
        }
    }
}

impl TsvFile {
    fn err(&self, e: std::io::Error) -> ExportError {
        ExportError::Write { path: self.path.display().to_string(), why: e.to_string() }
    }

    fn with(
        &mut self,
        f: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
    ) -> Result<(), ExportError> {
        let result = match self.file.as_mut() {
            Some(file) => f(file),
            None => Err(std::io::Error::other("already closed")),
        };
        result.map_err(|e| self.err(e))
    }

    fn finish(&mut self) -> Result<(), ExportError> {
        let file = self.file.take().ok_or_else(|| self.err(std::io::Error::other("already closed")))?;
        let result = (|| {
            let file = file.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            drop(file);
            crate::fsutil::check_replaceable(&self.path)?;
            std::fs::rename(&self.tmp, &self.path)
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&self.tmp);
            return Err(self.err(e));
        }
        crate::fsutil::sync_dir(self.path.parent().unwrap_or(Path::new(".")));
        Ok(())
    }
}

impl Drop for TsvFile {
    fn drop(&mut self) {
        // Not finished (an error part-way): no temp file left behind.
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// One TSV line per row: missing values as `NA` (R and pandas read it as missing), floats in their shortest
/// exact form, and text quoted only when it holds a tab, a line break or a double quote (doubled), as R's
/// `read.delim` and pandas' `read_csv(sep="\t")` expect.
fn write_tsv(f: &mut impl Write, b: &RecordBatch) -> std::io::Result<()> {
    let mut line = String::new();
    for r in 0..b.num_rows() {
        line.clear();
        for (c, col) in b.columns().iter().enumerate() {
            if c > 0 {
                line.push('\t');
            }
            if col.is_null(r) {
                line.push_str("NA");
            } else if let Some(s) = col.as_string_opt::<i32>() {
                line.push_str(&tsv_field(s.value(r)));
            } else if let Some(v) = col.as_primitive_opt::<Float32Type>() {
                line.push_str(&format!("{:?}", v.value(r)));
            } else if let Some(v) = col.as_primitive_opt::<Int64Type>() {
                line.push_str(&v.value(r).to_string());
            } else if let Some(v) = col.as_primitive_opt::<arrow_array::types::Int32Type>() {
                line.push_str(&v.value(r).to_string());
            }
        }
        line.push('\n');
        f.write_all(line.as_bytes())?;
    }
    Ok(())
}

fn tsv_field(s: &str) -> String {
    if s.contains(['\t', '\n', '\r', '"']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_from_the_extension() {
        assert_eq!(Format::from_path(Path::new("a/long.parquet")), Some(Format::Parquet));
        assert_eq!(Format::from_path(Path::new("long.TSV")), Some(Format::Tsv));
        assert_eq!(Format::from_path(Path::new("long.csv")), None);
        assert_eq!(Format::from_path(Path::new("long")), None);
    }

    #[test]
    fn tsv_quotes_only_what_would_break_a_line() {
        assert_eq!(tsv_field("CAGE:liver 'adult'"), "CAGE:liver 'adult'");
        assert_eq!(tsv_field("a\tb"), "\"a\tb\"");
        assert_eq!(tsv_field("say \"x\""), "\"say \"\"x\"\"\"");
    }

    #[test]
    fn long_rows_are_variant_major_with_the_selected_tracks() {
        use arrow_array::builder::ListBuilder;
        let stats = vec!["SAD".to_string()];
        let kept = [
            Track { channel: 4, identifier: "T0".into(), description: "d0".into() },
            Track { channel: 9, identifier: "T1".into(), description: "d1".into() },
            Track { channel: 12, identifier: "T2".into(), description: "d2".into() },
        ];
        let mut sad = ListBuilder::new(Float32Builder::new());
        for row in [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]] {
            sad.values().append_slice(&row);
            sad.append(true);
        }
        let text = |v: [Option<&str>; 2]| Arc::new(arrow_array::StringArray::from(v.to_vec())) as ArrayRef;
        let wide = RecordBatch::try_from_iter(vec![
            ("id", text([Some("rs1"), None])),
            ("chrom", text([Some("1"), Some("2")])),
            ("pos", Arc::new(arrow_array::Int64Array::from(vec![10, 20])) as ArrayRef),
            ("ref", text([Some("A"), Some("C")])),
            ("alt", text([Some("G"), Some("T")])),
            ("status", text([Some("ok"), Some("ok")])),
            ("SAD", Arc::new(sad.finish()) as ArrayRef),
        ])
        .unwrap();
        let chosen = vec![(2, &kept[2]), (0, &kept[0])];
        let long = lengthen(&wide, &long_schema(&stats), &stats, &chosen, 3).unwrap();
        assert_eq!(long.num_rows(), 4);
        let f = long.column_by_name("SAD").unwrap().as_primitive::<Float32Type>();
        assert_eq!(f.values().to_vec(), vec![3.0, 1.0, 6.0, 4.0]);
        let ids = long.column_by_name("id").unwrap().as_string::<i32>();
        assert_eq!((ids.value(1), ids.is_null(2)), ("rs1", true));
        let ch = long.column_by_name("channel").unwrap().as_primitive::<arrow_array::types::Int32Type>();
        assert_eq!(ch.values().to_vec(), vec![12, 4, 12, 4]);
        assert!(lengthen(&wide, &long_schema(&stats), &stats, &chosen, 5).unwrap_err().contains("kept 5 tracks"));
        let mut tsv = Vec::new();
        write_tsv(&mut tsv, &long).unwrap();
        let tsv = String::from_utf8(tsv).unwrap();
        assert_eq!(tsv.lines().nth(2).unwrap(), "NA\t2\t20\tC\tT\tok\t2\t12\tT2\td2\t6.0");
    }
}
