//! `predict`: run the model on the sequences of a TODO table and write one cache entry per sequence.
//!
//! A bounded pipeline of three stages: the reader thread validates sequences (key = SHA-256 of the bytes,
//! length = window), skips those another job cached meanwhile (verified, not just present), and one-hot
//! encodes the next batch while the model runs the current one; the writer thread encodes and atomically
//! writes the previous batch's entries. A sequence that fails is recorded and the run goes on; the exit code
//! says whether anything failed. A sequence that appears several times in the TODO table is computed once
//! (and has one manifest record); the repeats are counted in the summary's `duplicates`.

mod manifest;

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use crossbeam_channel::{bounded, Receiver, Sender};
use serde::Serialize;

pub use manifest::{PredictRecord, RecordStatus};

use crate::cache::entry::{self, Expect};
use crate::cache::{Cache, Fingerprint, Lookup, Namespace, StoreMode};
use crate::model::{onehot, Model, ModelError, ModelOptions};
use crate::progress::{Progress, ProgressMode};
use crate::tables::sequences::SequenceReader;
use crate::window::OutputGeometry;

#[derive(Debug, Clone)]
pub struct PredictOptions {
    pub sequences: PathBuf,
    pub model: PathBuf,
    pub cache: PathBuf,
    pub fingerprint: Fingerprint,
    pub model_options: ModelOptions,
    pub batch_size: usize,
    /// Centre bins summed by `--store summary` entries.
    pub center_bins: usize,
    /// Per-sequence manifest (seq_id, status, error, seconds).
    pub manifest: PathBuf,
    pub summary: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct PredictSummary {
    pub sequences: u64,
    pub computed: u64,
    pub cached: u64,
    pub failed: u64,
    /// TODO rows that repeat a sequence already read (computed once, not recorded again).
    pub duplicates: u64,
    pub seconds: f64,
    pub sequences_per_second: f64,
    pub device: String,
    pub manifest: String,
}

struct Batch {
    ids: Vec<String>,
    onehot: Vec<f32>,
}

enum ToWriter {
    Done(PredictRecord),
    Outputs { ids: Vec<String>, outputs: Vec<f32>, seconds_each: f64 },
}

/// Runs `n` sequences as one call of exactly `batch_size`, padding with copies of the last sequence and
/// dropping their outputs. ONNX Runtime's float32 kernels give results that depend (by ~1e-6 relative) on the
/// batch dimension but not on the other rows of the batch, so a fixed call shape makes an entry's bytes a
/// function of the sequence, model and batch size alone: a resumed job, whose last batch is short, or a
/// sequence retried alone after a batch failure, stores the same numbers an uninterrupted run would.
fn run_full_batch(model: &mut Model, onehot: &[f32], n: usize, batch_size: usize) -> Result<Vec<f32>, ModelError> {
    if n >= batch_size {
        return model.run(onehot, n);
    }
    let per = onehot.len() / n;
    let mut padded = Vec::with_capacity(per * batch_size);
    padded.extend_from_slice(onehot);
    for _ in n..batch_size {
        padded.extend_from_slice(&onehot[(n - 1) * per..]);
    }
    let mut outputs = model.run(&padded, batch_size)?;
    outputs.truncate(outputs.len() / batch_size * n);
    Ok(outputs)
}

pub fn predict(opts: &PredictOptions, mode: ProgressMode) -> anyhow::Result<PredictSummary> {
    anyhow::ensure!(opts.batch_size > 0, "--batch-size must be at least 1");
    let started = Instant::now();
    let cache = Cache::open(&opts.cache)?;
    let ns = cache.namespace(&opts.fingerprint);
    // Open the input first: a wrong path should not wait for a 1 GB model to load.
    let reader = SequenceReader::open(&opts.sequences)?;
    let mut model = Model::load(&opts.model, &opts.model_options)?;
    let (bins, tracks, window) = (model.bins, model.tracks, model.window);
    let center = OutputGeometry::new(window, bins).map_err(anyhow::Error::msg)?.center_bins(opts.center_bins);
    anyhow::ensure!(
        opts.fingerprint.store != StoreMode::Summary || bins.is_multiple_of(2),
        "--store summary splits the sums at the middle bin, which needs an even bin count; {} outputs {bins} bins; fix: use --store float32 or float16",
        opts.model.display()
    );
    // Record the model's output shape for every later reader (merge holds each entry to it). A shape the
    // namespace recorded differently is an error; failing to write it (a read-only cache whose entries are all
    // there) is not: merge then falls back to the entries' own shape.
    if let Err(e @ crate::cache::CacheError::ShapeConflict { .. }) = ns.record_output_shape(bins, tracks) {
        return Err(e.into());
    }
    let progress = Progress::new(mode, "predict", "sequences", Some(reader.rows() as u64));

    let (batch_tx, batch_rx) = bounded::<Batch>(1);
    let (write_tx, write_rx) = bounded::<ToWriter>(2);
    let store = opts.fingerprint.store;
    let n_enc = opts.fingerprint.n_encoding;

    let (records, duplicates) = std::thread::scope(|scope| -> anyhow::Result<(Vec<PredictRecord>, u64)> {
        let ns_r = &ns;
        let reader_tx = write_tx.clone();
        let progress_r = &progress;
        let reader_handle = scope.spawn(move || {
            let expect = Expect::exact(bins, tracks);
            read_stage(reader, ns_r, window, n_enc, opts.batch_size, batch_tx, reader_tx, expect, progress_r)
        });
        let writer_handle = scope.spawn(|| write_stage(write_rx, &ns, store, bins, tracks, center.clone(), &progress));

        for batch in batch_rx {
            let n = batch.ids.len();
            let t = Instant::now();
            match run_full_batch(&mut model, &batch.onehot, n, opts.batch_size) {
                Ok(outputs) => {
                    let seconds_each = t.elapsed().as_secs_f64() / n as f64;
                    if write_tx.send(ToWriter::Outputs { ids: batch.ids, outputs, seconds_each }).is_err() {
                        break; // the writer stopped (the cache cannot be written): no point computing more
                    }
                }
                Err(batch_err) => {
                    // Isolate the failing sequence(s): run the batch one by one.
                    let per = window * 4;
                    for (i, id) in batch.ids.into_iter().enumerate() {
                        let t = Instant::now();
                        let one = &batch.onehot[i * per..(i + 1) * per];
                        let msg = match (n > 1).then(|| run_full_batch(&mut model, one, 1, opts.batch_size)) {
                            Some(Ok(outputs)) => {
                                let seconds_each = t.elapsed().as_secs_f64();
                                let _ = write_tx.send(ToWriter::Outputs { ids: vec![id], outputs, seconds_each });
                                continue;
                            }
                            Some(Err(e)) => e.to_string(),
                            None => batch_err.to_string(),
                        };
                        let _ = write_tx.send(ToWriter::Done(PredictRecord::failed(id, msg)));
                    }
                }
            }
        }
        drop(write_tx);
        let duplicates = reader_handle.join().map_err(|_| anyhow::anyhow!("the reader thread panicked"))??;
        Ok((writer_handle.join().map_err(|_| anyhow::anyhow!("the writer thread panicked"))??, duplicates))
    })?;
    progress.finish();
    if duplicates > 0 {
        eprintln!(
            "note: {duplicates} row(s) of {} repeat a sequence already in it: each sequence is computed once",
            opts.sequences.display()
        );
    }

    let count = |s: RecordStatus| records.iter().filter(|r| r.status == s).count() as u64;
    let seconds = started.elapsed().as_secs_f64();
    let summary = PredictSummary {
        sequences: records.len() as u64,
        computed: count(RecordStatus::Computed),
        cached: count(RecordStatus::Cached),
        failed: count(RecordStatus::Failed),
        duplicates,
        seconds,
        sequences_per_second: count(RecordStatus::Computed) as f64 / seconds.max(1e-9),
        device: opts.model_options.device.to_string(),
        manifest: opts.manifest.display().to_string(),
    };
    manifest::write(&opts.manifest, &records)?;
    if let Some(path) = &opts.summary {
        let json = serde_json::to_vec_pretty(&summary)?;
        crate::fsutil::write_atomic(path, &json).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(summary)
}

#[allow(clippy::too_many_arguments)]
fn read_stage(
    reader: SequenceReader,
    ns: &Namespace,
    window: usize,
    n_enc: crate::cache::NEncoding,
    batch_size: usize,
    batches: Sender<Batch>,
    done: Sender<ToWriter>,
    expect: Expect,
    progress: &Progress,
) -> anyhow::Result<u64> {
    let mut pending = Batch { ids: Vec::new(), onehot: Vec::new() };
    // The keys read so far (32 bytes each, not the 64-character hex), so a repeat is computed only once.
    let mut seen: HashSet<[u8; 32]> = HashSet::new();
    let mut duplicates = 0u64;
    for rows in reader {
        for row in rows? {
            let fail = |msg: String| done.send(ToWriter::Done(PredictRecord::failed(row.seq_id.clone(), msg)));
            if row.sequence.len() != window {
                let _ = fail(format!("sequence is {} bp, the model's window is {window} bp", row.sequence.len()));
                continue;
            }
            if crate::window::seq_id(&row.sequence) != row.seq_id {
                let _ = fail("seq_id is not the SHA-256 of the sequence (edited or corrupted TODO file?)".into());
                continue;
            }
            let mut key = [0u8; 32];
            if hex::decode_to_slice(&row.seq_id, &mut key).is_ok() && !seen.insert(key) {
                duplicates += 1;
                progress.inc(1);
                continue;
            }
            match ns.read_entry(&row.seq_id, expect) {
                Lookup::Hit(..) => {
                    let _ = done.send(ToWriter::Done(PredictRecord::cached(row.seq_id)));
                    continue;
                }
                Lookup::Corrupt(msg) => eprintln!("warning: corrupt cache entry, recomputing: {msg}"),
                Lookup::Missing => {}
            }
            let at = pending.onehot.len();
            pending.onehot.resize(at + window * 4, 0.0);
            onehot::encode_into(&row.sequence, n_enc, &mut pending.onehot[at..]);
            pending.ids.push(row.seq_id);
            if pending.ids.len() == batch_size {
                let full = std::mem::replace(&mut pending, Batch { ids: Vec::new(), onehot: Vec::new() });
                if batches.send(full).is_err() {
                    return Ok(duplicates);
                }
            }
        }
    }
    if !pending.ids.is_empty() {
        let _ = batches.send(pending);
    }
    Ok(duplicates)
}

/// Errors after which no further entry can be written (full disk, quota, read-only or forbidden cache):
/// these stop the run instead of failing every remaining sequence one by one.
fn cache_unwritable(e: &crate::cache::CacheError) -> bool {
    use std::io::ErrorKind::*;
    match e {
        crate::cache::CacheError::Create { source, .. } | crate::cache::CacheError::Write { source, .. } => {
            matches!(source.kind(), StorageFull | QuotaExceeded | ReadOnlyFilesystem | PermissionDenied)
        }
        _ => false,
    }
}

fn write_stage(
    rx: Receiver<ToWriter>,
    ns: &Namespace,
    store: crate::cache::StoreMode,
    bins: usize,
    tracks: usize,
    center: std::ops::Range<usize>,
    progress: &Progress,
) -> anyhow::Result<Vec<PredictRecord>> {
    let mut records = Vec::new();
    let (mut computed, mut cached, mut failed) = (0u64, 0u64, 0u64);
    for msg in rx {
        let new: Vec<PredictRecord> = match msg {
            ToWriter::Done(r) => vec![r],
            ToWriter::Outputs { ids, outputs, seconds_each } => ids
                .into_iter()
                .zip(outputs.chunks_exact(bins * tracks))
                .map(|(id, out)| {
                    let bytes = match entry::encode(store, out, bins, tracks, center.clone(), &ns.identity(&id)) {
                        Ok(bytes) => bytes,
                        Err(e) => return Ok(PredictRecord::failed(id, e.to_string())),
                    };
                    match ns.write_entry(&id, &bytes) {
                        Ok(_) => Ok(PredictRecord::computed(id, seconds_each)),
                        Err(e) if cache_unwritable(&e) => Err(anyhow::anyhow!(
                            "{e}\nThe cache cannot take more entries, so predict stopped (the {computed} entries \
                             written so far are complete and kept). Fix: free space or quota, or make the cache \
                             writable (or choose another --cache), then run the same command again: it continues \
                             where it stopped."
                        )),
                        Err(e) => Ok(PredictRecord::failed(id, e.to_string())),
                    }
                })
                .collect::<anyhow::Result<_>>()?,
        };
        for r in new {
            match r.status {
                RecordStatus::Computed => computed += 1,
                RecordStatus::Cached => cached += 1,
                RecordStatus::Failed => {
                    failed += 1;
                    eprintln!("warning: sequence {} failed: {}", r.seq_id, r.error.as_deref().unwrap_or(""));
                }
            }
            records.push(r);
            progress.inc(1);
        }
        progress.set_message(format!("computed {computed}, cached {cached}, failed {failed}"));
    }
    Ok(records)
}
