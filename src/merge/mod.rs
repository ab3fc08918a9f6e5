//! `merge`: variants + cache → `scores.parquet`, one row per scored variant with its columns from
//! `variants.parquet` and one list<float32> column per statistic (length = kept tracks, channel order),
//! computed in float64 from the two cache entries. With a legacy cache folder, a window missing from the
//! cache is read from the legacy tool's `{seq_id}.pkl.gz` instead (shape-checked, in the namespace's store mode).

pub mod targets;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{Float32Builder, ListBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use rayon::prelude::*;
use regex::Regex;

pub use targets::{read_targets, Track};

use crate::cache::entry::{EntryData, Expect};
use crate::cache::legacy::LegacyCache;
use crate::cache::{Cache, Fingerprint, Lookup, Namespace};
use crate::orient::Status;
use crate::progress::{Progress, ProgressMode};
use crate::stats::{center_bins, compute, variant_bin, Stat};
use crate::tables::variants::{self as vt, VariantReader, VariantRow};
use crate::tables::AtomicParquet;

#[derive(Debug, Clone)]
pub struct MergeOptions {
    pub variants: Vec<PathBuf>,
    pub cache: PathBuf,
    pub fingerprint: Fingerprint,
    pub out: PathBuf,
    pub stats: Vec<Stat>,
    pub targets: Option<PathBuf>,
    pub tracks: Option<String>,
    pub center_bins: usize,
    /// The legacy tool's cache folder, read for windows our cache does not have.
    pub legacy: Option<LegacyCache>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct MergeReport {
    pub rows_in: u64,
    pub scored: u64,
    pub tracks: usize,
    pub out: String,
}

/// Sequences the merge needed but the cache did not have (or had corrupt).
#[derive(Debug, thiserror::Error)]
#[error("{count} sequence(s) of {variants} scored variant(s) are not in the cache {cache} (e.g. {examples}); fix: run `enformer-vep check-cache` and `enformer-vep predict` on the shards first (or `enformer-vep run`)")]
pub struct MissingEntries {
    pub count: usize,
    pub variants: usize,
    pub cache: String,
    pub examples: String,
    pub seq_ids: Vec<String>,
}

const BATCH: usize = 256;

pub fn merge(opts: &MergeOptions, mode: ProgressMode) -> anyhow::Result<MergeReport> {
    anyhow::ensure!(!opts.stats.is_empty(), "--stats needs at least one statistic");
    anyhow::ensure!(!opts.variants.is_empty(), "--variants needs at least one file");
    let ns = Cache::open(&opts.cache)?.namespace(&opts.fingerprint);
    let window = opts.fingerprint.window;

    // Pass 1: every sequence the scored variants need must be present (existence only: cheap).
    let mut needed = Vec::new();
    let mut rows_in = 0u64;
    for path in &opts.variants {
        for batch in VariantReader::open(path)? {
            for row in batch? {
                rows_in += 1;
                if row.status == Some(Status::Ok) {
                    needed.extend(row.ref_seq_id.clone());
                    needed.extend(row.alt_seq_id.clone());
                }
            }
        }
    }
    let variants = needed.len() / 2;
    needed.sort_unstable();
    needed.dedup();
    let refs: Vec<&str> = needed.iter().map(String::as_str).collect();
    let ours = ns.contains_many(&refs);
    let mut missing: Vec<String> =
        refs.iter().zip(&ours).filter(|(_, ok)| !**ok).map(|(id, _)| id.to_string()).collect();
    if let Some(legacy) = &opts.legacy {
        let ids: Vec<&str> = missing.iter().map(String::as_str).collect();
        let found = legacy.contains_many(&ids);
        missing = missing.into_iter().zip(found).filter(|(_, f)| !f).map(|(id, _)| id).collect();
    }
    if !missing.is_empty() {
        return Err(missing_error(missing, variants, &ns).into());
    }

    // The output shape, from the first readable entry (all others must match it). Summary entries do not
    // record the bin count; their centre sums were taken at predict time. Corrupt entries found on the way
    // are collected and reported together with the rest at the end.
    let mut corrupt: Vec<String> = Vec::new();
    let mut shape = None;
    let read = |id: &str, expect: Expect| read_entry_or_legacy(&ns, opts, id, expect);
    // Our own entries first: a legacy entry of the wrong shape must not set the shape the others are held to.
    let by_ours = needed.iter().zip(&ours).filter(|(_, o)| **o).chain(needed.iter().zip(&ours).filter(|(_, o)| !**o));
    for (id, _) in by_ours {
        match read(id, Expect::default()) {
            Some((EntryData::Full(_), [b, t])) => shape = Some((Some(b), t)),
            Some((_, [_, t])) => shape = Some((None, t)),
            None => {
                corrupt.push(id.clone());
                continue;
            }
        }
        break;
    }
    let (bins, tracks) = match shape {
        Some(s) => s,
        None if needed.is_empty() => (None, 0),
        None => return Err(missing_error(corrupt, variants, &ns).into()),
    };
    let track_meta = match &opts.targets {
        Some(p) => {
            let t = read_targets(p)?;
            anyhow::ensure!(
                tracks == 0 || t.len() == tracks,
                "targets file {} lists {} tracks but the model outputs {tracks}; fix: pass the targets file of this model's head",
                p.display(),
                t.len()
            );
            t
        }
        None => {
            (0..tracks).map(|c| Track { channel: c, identifier: c.to_string(), description: String::new() }).collect()
        }
    };
    let keep: Vec<usize> = match &opts.tracks {
        None => (0..tracks).collect(),
        Some(pattern) => {
            let re = Regex::new(pattern)
                .map_err(|e| anyhow::anyhow!("--tracks '{pattern}' is not a valid regular expression: {e}"))?;
            let k: Vec<usize> = track_meta
                .iter()
                .filter(|t| re.is_match(&t.identifier) || re.is_match(&t.description))
                .map(|t| t.channel)
                .collect();
            anyhow::ensure!(!k.is_empty() || tracks == 0, "--tracks '{pattern}' matches no track");
            k
        }
    };
    let center = center_bins(window, bins.unwrap_or(1), opts.center_bins);
    let expect = Expect { bins, tracks: Some(tracks) };
    let center_note = match bins {
        Some(b) => format!("bins {}..{} (variant bin {})", center.start, center.end, variant_bin(window, b)),
        None => format!(
            "{} bins nearest the variant, summed at predict time",
            opts.fingerprint.summary_center_bins.unwrap_or(opts.center_bins)
        ),
    };

    // Pass 2: compute and write, a batch of variants at a time, in input order.
    let kept_meta: Vec<&Track> = keep.iter().map(|&c| &track_meta[c]).collect();
    let mut fields: Vec<Field> = vt::schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    for s in &opts.stats {
        fields.push(Field::new(s.name(), DataType::List(Arc::new(Field::new("item", DataType::Float32, true))), false));
    }
    let schema = Arc::new(Schema::new(fields));
    let metadata = vec![
        KeyValue::new("enformer_vep.version".into(), env!("CARGO_PKG_VERSION").to_string()),
        KeyValue::new("enformer_vep.fingerprint".into(), serde_json::to_string(&opts.fingerprint)?),
        KeyValue::new("enformer_vep.stats".into(), opts.stats.iter().map(|s| s.name()).collect::<Vec<_>>().join(",")),
        KeyValue::new(
            "enformer_vep.definitions".into(),
            "SAD = sum_b(alt-ref); logSED = log2(sum_b alt + 1) - log2(sum_b ref + 1); D2 = sqrt(sum_b (alt-ref)^2); CENTER = sum over center bins of (alt-ref); float64 accumulation, float32 output".to_string(),
        ),
        KeyValue::new("enformer_vep.center".into(), center_note),
        KeyValue::new("enformer_vep.tracks".into(), serde_json::to_string(&kept_meta)?),
    ];
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
        .set_key_value_metadata(Some(metadata))
        .build();
    let mut out = AtomicParquet::create(&opts.out, schema.clone(), props)?;
    let progress = Progress::new(mode, "merge", "variants", Some(variants as u64));
    let mut scored = 0u64;
    for path in &opts.variants {
        for batch in VariantReader::open(path)? {
            let rows: Vec<VariantRow> = batch?.into_iter().filter(|r| r.status == Some(Status::Ok)).collect();
            for chunk in rows.chunks(BATCH) {
                let results: Vec<Result<Vec<Vec<f32>>, String>> = chunk
                    .par_iter()
                    .map(|row| {
                        let read = |id: &Option<String>| {
                            let id = id.as_deref().unwrap_or("");
                            read(id, expect).map(|(d, _)| d).ok_or_else(|| id.to_string())
                        };
                        let (r, a) = (read(&row.ref_seq_id)?, read(&row.alt_seq_id)?);
                        compute(&opts.stats, &r, &a, tracks, center.clone(), &keep).map_err(|e| format!("!{e}"))
                    })
                    .collect();
                let mut values = Vec::with_capacity(results.len());
                for r in results {
                    match r {
                        Ok(v) => values.push(v),
                        Err(e) if e.starts_with('!') => anyhow::bail!("{}", &e[1..]),
                        Err(id) => corrupt.push(id),
                    }
                }
                if !corrupt.is_empty() {
                    continue;
                }
                let mut columns = vt::columns(chunk)?;
                for s in 0..opts.stats.len() {
                    let mut b = ListBuilder::new(Float32Builder::with_capacity(chunk.len() * keep.len()));
                    for v in &values {
                        b.values().append_slice(&v[s]);
                        b.append(true);
                    }
                    columns.push(Arc::new(b.finish()) as ArrayRef);
                }
                out.write(&RecordBatch::try_new(schema.clone(), columns)?)?;
                scored += chunk.len() as u64;
                progress.inc(chunk.len() as u64);
            }
        }
    }
    progress.finish();
    if !corrupt.is_empty() {
        corrupt.sort_unstable();
        corrupt.dedup();
        return Err(missing_error(corrupt, variants, &ns).into());
    }
    out.finish()?;
    write_tracks_sidecar(&opts.out, &kept_meta)?;
    Ok(MergeReport { rows_in, scored, tracks: keep.len(), out: opts.out.display().to_string() })
}

/// Our entry; when it is missing (or corrupt: moved aside) and a legacy folder is given, the legacy entry,
/// checked against `expect` and converted to what an entry of the namespace's store mode holds. Problems are
/// printed as warnings; None means the window cannot be scored.
fn read_entry_or_legacy(
    ns: &Namespace,
    opts: &MergeOptions,
    id: &str,
    expect: Expect,
) -> Option<(EntryData, [usize; 2])> {
    match ns.read_entry(id, expect) {
        Lookup::Hit(d, shape) => return Some((d, shape)),
        Lookup::Corrupt(msg) => eprintln!("warning: {msg}"),
        Lookup::Missing => {}
    }
    let legacy = opts.legacy.as_ref().filter(|l| l.contains(id))?;
    let fp = &opts.fingerprint;
    let converted = legacy.read(id, &fp.head).and_then(|a| {
        let (bins, tracks) = (expect.bins.unwrap_or(a.bins), expect.tracks.unwrap_or(a.tracks));
        let a = a
            .expect_shape(&fp.head, bins, tracks)
            .map_err(|e| format!("legacy entry {}: {e}", legacy.path(id).display()))?;
        let center = center_bins(fp.window, a.bins, fp.summary_center_bins.unwrap_or(opts.center_bins));
        let data = a
            .to_entry_data(fp.store, center)
            .map_err(|e| format!("legacy entry {}: {e}", legacy.path(id).display()))?;
        let rows = if matches!(data, EntryData::Summary { .. }) { 2 } else { a.bins };
        Ok((data, [rows, a.tracks]))
    });
    match converted {
        Ok(v) => Some(v),
        Err(msg) => {
            eprintln!(
                "warning: {msg}; not used. fix: move it out of {} (check-cache counts it as cached), or run `enformer-vep cache import-legacy`, which lists every unreadable legacy entry",
                legacy.dir().display()
            );
            None
        }
    }
}

fn missing_error(seq_ids: Vec<String>, variants: usize, ns: &Namespace) -> MissingEntries {
    let examples = seq_ids.iter().take(3).map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
    MissingEntries { count: seq_ids.len(), variants, cache: ns.dir().display().to_string(), examples, seq_ids }
}

/// `scores.tracks.tsv` beside the scores: channel, identifier, description of each kept track, in the order
/// of the statistics' list elements (easier for pandas users than the file's key-value metadata).
fn write_tracks_sidecar(out: &Path, tracks: &[&Track]) -> anyhow::Result<()> {
    let mut text = String::from("channel\tidentifier\tdescription\n");
    for t in tracks {
        text.push_str(&format!("{}\t{}\t{}\n", t.channel, t.identifier, t.description));
    }
    let path = tracks_sidecar_path(out);
    crate::fsutil::write_atomic(&path, text.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

pub fn tracks_sidecar_path(out: &Path) -> PathBuf {
    let stem = out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "scores".into());
    out.with_file_name(format!("{stem}.tracks.tsv"))
}
