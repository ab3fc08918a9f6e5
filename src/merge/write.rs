//! The output of merge: `scores.parquet` (the variant columns, one list<float32> column per statistic, and
//! metadata that says how the numbers were made) and `scores.tracks.tsv` beside it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{Float32Builder, ListBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use super::targets::Track;
use crate::fsutil::failpoint;
use crate::score::Stat;
use crate::tables::variants::{self as vt, VariantRow};
use crate::tables::AtomicParquet;

/// How the numbers of one merge were made, for the file's key-value metadata.
pub(crate) struct Provenance<'a> {
    pub fingerprint: String,
    pub stats: Vec<Stat>,
    pub center: String,
    pub rc: bool,
    pub shifts: String,
    pub stitch: String,
    pub tracks: String,
    /// The sidecar's text, whose SHA-256 the parquet records.
    pub sidecar: &'a str,
}

pub(crate) struct ScoresWriter {
    out: AtomicParquet,
    schema: SchemaRef,
    stats: usize,
}

impl ScoresWriter {
    pub fn create(path: &Path, p: &Provenance<'_>) -> anyhow::Result<Self> {
        let mut fields: Vec<Field> = vt::schema().fields().iter().map(|f| f.as_ref().clone()).collect();
        for s in &p.stats {
            let list = DataType::List(Arc::new(Field::new("item", DataType::Float32, true)));
            fields.push(Field::new(s.name(), list, false));
        }
        let schema = Arc::new(Schema::new(fields));
        let kv = |k: &str, v: String| KeyValue::new(format!("enformer_vep.{k}"), v);
        let metadata = vec![
            kv("version", env!("CARGO_PKG_VERSION").to_string()),
            kv("fingerprint", p.fingerprint.clone()),
            kv("stats", p.stats.iter().map(|s| s.name()).collect::<Vec<_>>().join(",")),
            kv("definitions", DEFINITIONS.to_string()),
            kv("center", p.center.clone()),
            kv("rc", p.rc.to_string()),
            kv("shifts", p.shifts.clone()),
            kv("stitch_bin", p.stitch.clone()),
            kv("normalisation", crate::normalize::DESCRIPTION.to_string()),
            kv("tracks", p.tracks.clone()),
            kv(SIDECAR_SHA256_KEY, crate::window::seq_id(p.sidecar.as_bytes())),
        ];
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
            .set_key_value_metadata(Some(metadata))
            .build();
        Ok(ScoresWriter { out: AtomicParquet::create(path, schema.clone(), props)?, schema, stats: p.stats.len() })
    }

    /// Appends `rows` with their statistics (`values[row][stat]`, one value per kept track).
    pub fn write(&mut self, rows: &[VariantRow], values: &[Vec<Vec<f32>>], tracks: usize) -> anyhow::Result<()> {
        let mut columns = vt::columns(rows)?;
        for s in 0..self.stats {
            let mut b = ListBuilder::new(Float32Builder::with_capacity(rows.len() * tracks));
            for v in values {
                b.values().append_slice(&v[s]);
                b.append(true);
            }
            columns.push(Arc::new(b.finish()) as ArrayRef);
        }
        self.out.write(&RecordBatch::try_new(self.schema.clone(), columns)?)?;
        Ok(())
    }

    /// Puts the scores and their sidecar in place so that no crash leaves a pair that disagrees: the previous
    /// sidecar goes first, then the parquet is renamed into place, then the new sidecar is written (each step
    /// atomic). A crash in between leaves scores without a sidecar (which a rerun writes), never a new parquet
    /// beside the previous run's track names; the parquet also records the sidecar's SHA-256
    /// ([`check_tracks_sidecar`]).
    pub fn finish(self, path: &Path, sidecar: &str) -> anyhow::Result<()> {
        let tsv = tracks_sidecar_path(path);
        match std::fs::remove_file(&tsv) {
            Ok(()) => crate::fsutil::sync_dir(tsv.parent().unwrap_or(Path::new("."))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => anyhow::bail!("cannot replace {}: {e}", tsv.display()),
        }
        if failpoint::hit("scores-before-parquet") {
            failpoint::crash();
        }
        self.out.finish()?;
        if failpoint::hit("scores-before-sidecar") {
            failpoint::crash();
        }
        crate::fsutil::write_atomic(&tsv, sidecar.as_bytes())
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", tsv.display()))
    }
}

/// The parquet metadata key holding the SHA-256 of the sidecar written with it.
const SIDECAR_SHA256_KEY: &str = "tracks_tsv_sha256";

/// Whether `scores.tracks.tsv` beside `scores` is the one written with it.
#[derive(Debug, PartialEq, Eq)]
pub enum Sidecar {
    Matches,
    /// No sidecar (a merge stopped between the two files; rerun it).
    Absent,
    /// A sidecar that is not this parquet's (edited, or copied from another run).
    Differs,
    /// A parquet written before merge recorded the sidecar's hash: cannot be told.
    Unrecorded,
}

/// Checks the sidecar against the SHA-256 the scores file records.
pub fn check_tracks_sidecar(scores: &Path) -> anyhow::Result<Sidecar> {
    let file = std::fs::File::open(scores).map_err(|e| anyhow::anyhow!("{}: {e}", scores.display()))?;
    let reader = parquet::file::serialized_reader::SerializedFileReader::new(file)
        .map_err(|e| anyhow::anyhow!("{}: not a scores file: {e}", scores.display()))?;
    use parquet::file::reader::FileReader;
    let recorded = reader
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|k| k.key == format!("enformer_vep.{SIDECAR_SHA256_KEY}")))
        .and_then(|k| k.value.clone());
    let Some(recorded) = recorded else { return Ok(Sidecar::Unrecorded) };
    match std::fs::read(tracks_sidecar_path(scores)) {
        Ok(text) if crate::window::seq_id(&text) == recorded => Ok(Sidecar::Matches),
        Ok(_) => Ok(Sidecar::Differs),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Sidecar::Absent),
        Err(e) => Err(anyhow::anyhow!("{}: {e}", tracks_sidecar_path(scores).display())),
    }
}

const DEFINITIONS: &str = "per window role (ref R, alt A, alt_shifted A'): float64 mean over shifts and strands, reverse-complement predictions flipped along bins; alt = A bins [0, stitch_bin) + A' bins [stitch_bin, bins) for indels, else A; SAD = sum_b(alt-ref); logSED = log2(sum_b alt + 1) - log2(sum_b ref + 1); D2 = sqrt(sum_b (alt-ref)^2); CENTER = sum over center bins of (alt-ref); float64 accumulation, float32 output";

/// The text of `scores.tracks.tsv`: channel, identifier, description of each kept track, in the order of the
/// statistics' list elements (easier for pandas users than the file's key-value metadata).
pub(crate) fn tracks_sidecar_text(tracks: &[&Track]) -> String {
    let mut text = String::from("channel\tidentifier\tdescription\n");
    for t in tracks {
        text.push_str(&format!("{}\t{}\t{}\n", t.channel, t.identifier, t.description));
    }
    text
}

pub fn tracks_sidecar_path(out: &Path) -> PathBuf {
    let stem = out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "scores".into());
    out.with_file_name(format!("{stem}.tracks.tsv"))
}
