//! The output of merge: `scores.parquet` (the variant columns, one list<float32> column per statistic, the
//! "at a glance" columns of [`super::summary`], and metadata that says how the numbers were made, both in the
//! Parquet footer and in the Arrow schema, where pyarrow, polars, DuckDB and pandas' `attrs` see it) and
//! `scores.tracks.tsv` beside it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::collections::HashMap;

use arrow_array::builder::{Float32Builder, Int32Builder, ListBuilder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use super::summary::{self, Group};
use super::targets::Track;
use crate::fsutil::failpoint;
use crate::score::Stat;
use crate::tables::variants::{self as vt, VariantRow};
use crate::tables::AtomicParquet;

/// How the numbers of one merge were made, for the file's key-value metadata.
pub(crate) struct Provenance {
    pub fingerprint: String,
    pub stats: Vec<Stat>,
    pub center: String,
    pub rc: bool,
    pub shifts: String,
    pub stitch: String,
    /// The kept tracks, in the order of the statistics' list elements.
    pub kept: Vec<Track>,
}

pub(crate) struct ScoresWriter {
    out: AtomicParquet,
    schema: SchemaRef,
    stats: usize,
    kept: Vec<Track>,
    /// The tracks sidecar's text, whose SHA-256 the parquet records.
    sidecar: String,
    groups: Vec<Group>,
}

impl ScoresWriter {
    pub fn create(path: &Path, p: &Provenance) -> anyhow::Result<Self> {
        let mut fields: Vec<Field> = vt::schema().fields().iter().map(|f| f.as_ref().clone()).collect();
        for s in &p.stats {
            let list = DataType::List(Arc::new(Field::new("item", DataType::Float32, true)));
            fields.push(Field::new(s.name(), list, false));
        }
        let groups = summary::groups(&p.kept);
        for s in &p.stats {
            for g in &groups {
                let prefix = g.prefix(s.name());
                let types = [DataType::Float32, DataType::Float32, DataType::Int32, DataType::Utf8, DataType::Utf8];
                for (suffix, t) in summary::SUFFIXES.iter().zip(types) {
                    fields.push(Field::new(format!("{prefix}_{suffix}"), t, true));
                }
            }
        }
        let tracks = serde_json::to_string(&p.kept)?;
        // Made once: the parquet records its hash, and `finish` writes these very bytes.
        let sidecar = tracks_sidecar_text(&p.kept);
        let pairs = vec![
            ("version", env!("CARGO_PKG_VERSION").to_string()),
            ("fingerprint", p.fingerprint.clone()),
            ("stats", p.stats.iter().map(|s| s.name()).collect::<Vec<_>>().join(",")),
            ("definitions", DEFINITIONS.to_string()),
            ("summary_columns", SUMMARY_DEFINITION.to_string()),
            ("center", p.center.clone()),
            ("rc", p.rc.to_string()),
            ("shifts", p.shifts.clone()),
            ("stitch_bin", p.stitch.clone()),
            ("normalisation", crate::normalize::DESCRIPTION.to_string()),
            ("tracks", tracks),
            (SIDECAR_SHA256_KEY, crate::window::seq_id(sidecar.as_bytes())),
        ];
        let pairs: Vec<(String, String)> = pairs.into_iter().map(|(k, v)| (format!("enformer_vep.{k}"), v)).collect();
        // pandas restores `DataFrame.attrs` from this key (a JSON object), so `pd.read_parquet(p).attrs` shows
        // the provenance and the track names too.
        let attrs: serde_json::Map<String, serde_json::Value> =
            pairs.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
        let mut schema_meta: HashMap<String, String> = pairs.iter().cloned().collect();
        schema_meta.insert("PANDAS_ATTRS".to_string(), serde_json::Value::Object(attrs).to_string());
        let schema = Arc::new(Schema::new(fields).with_metadata(schema_meta));
        let metadata = pairs.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect();
        // No dictionary: the score columns are millions of distinct floats, which a dictionary only hashes (it
        // was a sixth of a warm summary run's time) before falling back to plain encoding.
        // zstd level 1: the float lists compress about as little at level 3 (≈ 15 %), which cost twice the
        // time, and writing this file was a fifth of a warm summary run.
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
            .set_dictionary_enabled(false)
            .set_key_value_metadata(Some(metadata))
            .build();
        Ok(ScoresWriter {
            out: AtomicParquet::create(path, schema.clone(), props)?,
            schema,
            stats: p.stats.len(),
            kept: p.kept.clone(),
            sidecar,
            groups,
        })
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
        for s in 0..self.stats {
            for g in &self.groups {
                columns.extend(self.summary_columns(values, s, g));
            }
        }
        self.out.write(&RecordBatch::try_new(self.schema.clone(), columns)?)?;
        Ok(())
    }

    /// The five summary columns of statistic `s` over group `g` (see [`summary::SUFFIXES`]).
    fn summary_columns(&self, values: &[Vec<Vec<f32>>], s: usize, g: &Group) -> [ArrayRef; 5] {
        let n = values.len();
        let (mut max_abs, mut value) = (Float32Builder::with_capacity(n), Float32Builder::with_capacity(n));
        let mut track = Int32Builder::with_capacity(n);
        let (mut ident, mut desc) = (StringBuilder::new(), StringBuilder::new());
        for v in values {
            let top = summary::top(&v[s], &g.positions);
            let x = top.map(|p| v[s][p]);
            max_abs.append_option(x.map(f32::abs));
            value.append_option(x);
            track.append_option(top.and_then(|p| i32::try_from(p).ok()));
            ident.append_option(top.map(|p| self.kept[p].identifier.as_str()));
            desc.append_option(top.map(|p| self.kept[p].description.as_str()));
        }
        [
            Arc::new(max_abs.finish()),
            Arc::new(value.finish()),
            Arc::new(track.finish()),
            Arc::new(ident.finish()),
            Arc::new(desc.finish()),
        ]
    }

    /// Puts the scores and their sidecar in place so that no crash leaves a pair that disagrees: the previous
    /// sidecar goes first, then the parquet is renamed into place, then the new sidecar is written (each step
    /// atomic). A crash in between leaves scores without a sidecar (which a rerun writes), never a new parquet
    /// beside the previous run's track names; the parquet also records the sidecar's SHA-256
    /// ([`check_tracks_sidecar`]).
    pub fn finish(self, path: &Path) -> anyhow::Result<()> {
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
        crate::fsutil::write_atomic(&tsv, self.sidecar.as_bytes())
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
    use parquet::file::reader::FileReader;
    let file = std::fs::File::open(scores).map_err(|e| anyhow::anyhow!("{}: {e}", scores.display()))?;
    let reader = parquet::file::serialized_reader::SerializedFileReader::new(file)
        .map_err(|e| anyhow::anyhow!("{}: not a scores file: {e}", scores.display()))?;
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

const SUMMARY_DEFINITION: &str = "per statistic S (and per assay class C of the targets description prefix: DNASE, ATAC, CHIP, CAGE, when any kept track has it): S[_C]_max_abs = max over tracks of |S| (NaN skipped), S[_C]_max_abs_value = the signed S of that track, S[_C]_max_abs_track = its 0-based position in the S list (= row of scores.tracks.tsv), S[_C]_max_abs_identifier and S[_C]_max_abs_description = its names; the first track on ties; null when no track has a value";

/// The text of `scores.tracks.tsv`: channel, identifier, description of each kept track, in the order of the
/// statistics' list elements (easier for pandas users than the file's key-value metadata).
fn tracks_sidecar_text(tracks: &[Track]) -> String {
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
