//! `predict`: run the model on the sequences of a TODO table and write one cache entry per sequence.
//!
//! A bounded pipeline of three stages: the reader thread validates sequences (key = SHA-256 of the bytes,
//! length = window), skips those another job cached meanwhile (verified, not just present), and one-hot
//! encodes the next batch while the model runs the current one; the writer thread encodes and atomically
//! writes the previous batch's entries. A sequence that fails is recorded and the run goes on; the exit code
//! says whether anything failed. A sequence that appears several times in the TODO table is computed once
//! (and has one manifest record); the repeats are counted in the summary's `duplicates`.
//!
//! With a split model (`--model X.split.json`), a window the TODO table marks as a substitution of a base
//! window gets its tower output from the base's by a patch (`split`); every other window runs tower then rest.

mod manifest;
mod split;

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use crossbeam_channel::{bounded, Receiver, Sender};
use serde::Serialize;

pub use manifest::{PredictRecord, RecordStatus};

use crate::cache::entry::{self, Expect};
use crate::cache::{Cache, Fingerprint, Lookup, Namespace, StoreMode};
use crate::model::split::{is_manifest, SplitModel};
use crate::model::{onehot, Model, ModelError, ModelOptions};
use crate::progress::{Progress, ProgressMode};
use crate::substitution::Substitution;
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
    /// Split model: windows whose tower output was patched from their base window's.
    pub patched: u64,
    /// Split model: base windows whose tower output was recomputed for a patch because it was not at hand
    /// (cached before, in another TODO file, or evicted).
    pub bases_recomputed: u64,
    pub seconds: f64,
    pub sequences_per_second: f64,
    pub device: String,
    pub manifest: String,
    /// What the user should know (corrupt entries recomputed, repeated rows, failed sequences), for the caller
    /// to show; failed sequences are all in the manifest, the first [`FAILED_SHOWN`] of them here.
    pub warnings: Vec<String>,
}

/// Failed sequences, and corrupt entries recomputed, named one by one in [`PredictSummary::warnings`]; the
/// rest are counted, so a badly damaged cache gives a readable summary, not a line per entry.
pub const FAILED_SHOWN: usize = 20;

struct Batch {
    ids: Vec<String>,
    onehot: Vec<f32>,
    /// Split model only: each window's base, validated by the reader.
    bases: Vec<Option<Substitution>>,
}

impl Batch {
    fn new() -> Self {
        Batch { ids: Vec::new(), onehot: Vec::new(), bases: Vec::new() }
    }

    /// Windows (without a base, with one) in the batch.
    fn kinds(&self) -> (usize, usize) {
        let derived = self.bases.iter().filter(|b| b.is_some()).count();
        (self.bases.len() - derived, derived)
    }

    /// Whether a window of this kind still fits: at most `batch_size` of each kind. With a split model the two
    /// kinds take different tower calls of `batch_size` rows each (the monolithic model has no bases).
    fn has_room(&self, derived: bool, batch_size: usize) -> bool {
        let (full, der) = self.kinds();
        if derived {
            der < batch_size
        } else {
            full < batch_size
        }
    }

    /// Complete: `batch_size` of each kind (so the rest's calls are full too), or of the only kind there is.
    fn is_full(&self, batch_size: usize, split_model: bool) -> bool {
        let (full, derived) = self.kinds();
        full == batch_size && (derived == batch_size || !split_model)
    }
}

/// The monolithic model, or the split model with the tower outputs of recent base windows.
enum Runner {
    Monolithic(Model),
    Split(Box<SplitModel>, split::TowerStore),
}

impl Runner {
    fn load(opts: &PredictOptions) -> Result<Runner, ModelError> {
        if is_manifest(&opts.model) {
            // Bases precede their substitutions in a shard (a variant's reference first): a few batches' worth
            // of tower outputs covers them, also with --rc and --shifts (12 windows per SNV).
            let store = split::TowerStore::new(2 * opts.batch_size + 16);
            Ok(Runner::Split(Box::new(SplitModel::load(&opts.model, &opts.model_options)?), store))
        } else {
            Ok(Runner::Monolithic(Model::load(&opts.model, &opts.model_options)?))
        }
    }

    fn shape(&self) -> (usize, usize, usize) {
        match self {
            Runner::Monolithic(m) => (m.bins, m.tracks, m.window),
            Runner::Split(m, _) => (m.bins, m.tracks, m.window),
        }
    }

    /// Outputs of rows `rows` of the batch.
    fn run(
        &mut self,
        batch: &Batch,
        rows: std::ops::Range<usize>,
        batch_size: usize,
        n_enc: crate::cache::NEncoding,
    ) -> Result<(Vec<f32>, split::SplitCounts), ModelError> {
        let per = batch.onehot.len() / batch.ids.len().max(1);
        let x = &batch.onehot[rows.start * per..rows.end * per];
        match self {
            Runner::Monolithic(m) => Ok((run_full_batch(m, x, rows.len(), batch_size)?, Default::default())),
            Runner::Split(m, store) => {
                let items: Vec<split::Item> = rows
                    .clone()
                    .zip(x.chunks_exact(per))
                    .map(|(i, onehot)| split::Item { id: &batch.ids[i], onehot, base: batch.bases[i].as_ref() })
                    .collect();
                split::compute(m, store, &items, batch_size, n_enc)
            }
        }
    }
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
    split::padded(onehot, n, batch_size, |x, b| model.run(x, b))
}

pub fn predict(opts: &PredictOptions, mode: ProgressMode) -> anyhow::Result<PredictSummary> {
    anyhow::ensure!(opts.batch_size > 0, "--batch-size must be at least 1");
    // Every sequence needs the model: no library, no point reading anything.
    crate::model::runtime::locate()?;
    let started = Instant::now();
    let cache = Cache::open(&opts.cache)?;
    let ns = cache.namespace(&opts.fingerprint);
    // Open the input first: a wrong path should not wait for a 1 GB model to load.
    let reader = SequenceReader::open(&opts.sequences)?;
    let mut runner = Runner::load(opts)?;
    let split_model = matches!(runner, Runner::Split(..));
    let (bins, tracks, window) = runner.shape();
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

    let mut counts = split::SplitCounts::default();
    type Read = (Vec<PredictRecord>, ReadNotes);
    let (records, notes) = std::thread::scope(|scope| -> anyhow::Result<Read> {
        let ns_r = &ns;
        let reader_tx = write_tx.clone();
        let progress_r = &progress;
        let reader_handle = scope.spawn(move || {
            let expect = Expect::exact(bins, tracks);
            let stage = ReadStage { ns: ns_r, window, n_enc, batch_size: opts.batch_size, split_model, expect };
            stage.run(reader, batch_tx, reader_tx, progress_r)
        });
        let writer_handle = scope.spawn(|| write_stage(write_rx, &ns, store, bins, tracks, center.clone(), &progress));

        for batch in batch_rx {
            let n = batch.ids.len();
            let t = Instant::now();
            match runner.run(&batch, 0..n, opts.batch_size, n_enc) {
                Ok((outputs, c)) => {
                    counts.patched += c.patched;
                    counts.bases_recomputed += c.bases_recomputed;
                    let seconds_each = t.elapsed().as_secs_f64() / n as f64;
                    if write_tx.send(ToWriter::Outputs { ids: batch.ids, outputs, seconds_each }).is_err() {
                        break; // the writer stopped (the cache cannot be written): no point computing more
                    }
                }
                Err(batch_err) => {
                    // Isolate the failing sequence(s): run the batch one by one.
                    for (i, id) in batch.ids.iter().enumerate() {
                        let id = id.clone();
                        let t = Instant::now();
                        let msg = match (n > 1).then(|| runner.run(&batch, i..i + 1, opts.batch_size, n_enc)) {
                            Some(Ok((outputs, c))) => {
                                counts.patched += c.patched;
                                counts.bases_recomputed += c.bases_recomputed;
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
        let read = reader_handle.join().map_err(|_| anyhow::anyhow!("the reader thread panicked"))??;
        Ok((writer_handle.join().map_err(|_| anyhow::anyhow!("the writer thread panicked"))??, read))
    })?;
    progress.finish();
    let duplicates = notes.duplicates;
    let mut warnings = notes.warnings(&opts.sequences);
    warnings.extend(failure_warnings(&records, &opts.manifest));

    let count = |s: RecordStatus| records.iter().filter(|r| r.status == s).count() as u64;
    let seconds = started.elapsed().as_secs_f64();
    let summary = PredictSummary {
        sequences: records.len() as u64,
        computed: count(RecordStatus::Computed),
        cached: count(RecordStatus::Cached),
        failed: count(RecordStatus::Failed),
        duplicates,
        patched: counts.patched,
        bases_recomputed: counts.bases_recomputed,
        seconds,
        sequences_per_second: count(RecordStatus::Computed) as f64 / seconds.max(1e-9),
        device: opts.model_options.device.to_string(),
        manifest: opts.manifest.display().to_string(),
        warnings,
    };
    manifest::write(&opts.manifest, &records)?;
    if let Some(path) = &opts.summary {
        let json = serde_json::to_vec_pretty(&summary)?;
        crate::fsutil::write_atomic(path, &json).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(summary)
}

/// The failed sequences named (the first [`FAILED_SHOWN`]) and counted, with where the rest are.
fn failure_warnings(records: &[PredictRecord], manifest: &std::path::Path) -> Vec<String> {
    let failed: Vec<&PredictRecord> = records.iter().filter(|r| r.status == RecordStatus::Failed).collect();
    let mut out: Vec<String> = failed
        .iter()
        .take(FAILED_SHOWN)
        .map(|r| format!("sequence {} failed: {}", r.seq_id, r.error.as_deref().unwrap_or("")))
        .collect();
    if failed.len() > FAILED_SHOWN {
        out.push(format!(
            "... and {} more failed sequence(s), each with its error in {}",
            failed.len() - FAILED_SHOWN,
            manifest.display()
        ));
    }
    out
}

/// What the read stage saw besides the batches: repeated rows, and corrupt entries (recomputed).
#[derive(Debug, Default)]
struct ReadNotes {
    duplicates: u64,
    corrupt: u64,
    /// The first [`FAILED_SHOWN`] corrupt entries' messages; the rest are only counted.
    corrupt_shown: Vec<String>,
}

impl ReadNotes {
    fn corrupt(&mut self, msg: String) {
        self.corrupt += 1;
        if self.corrupt_shown.len() < FAILED_SHOWN {
            self.corrupt_shown.push(msg);
        }
    }

    fn warnings(self, sequences: &std::path::Path) -> Vec<String> {
        let mut out: Vec<String> =
            self.corrupt_shown.into_iter().map(|m| format!("corrupt cache entry, recomputed: {m}")).collect();
        let unnamed = self.corrupt - out.len() as u64;
        if unnamed > 0 {
            out.push(format!(
                "... and {unnamed} more corrupt cache entries, recomputed (each moved aside as \
                 .<seq_id>.npy.zst.corrupt where it was readable; `enformer-vep cache verify --fix` removes those)"
            ));
        }
        if self.duplicates > 0 {
            out.push(format!(
                "{} row(s) of {} repeat a sequence already in it: each sequence is computed once",
                self.duplicates,
                sequences.display()
            ));
        }
        out
    }
}

struct ReadStage<'a> {
    ns: &'a Namespace,
    window: usize,
    n_enc: crate::cache::NEncoding,
    batch_size: usize,
    /// Keep (and check) each window's base; the monolithic model has no use for it.
    split_model: bool,
    expect: Expect,
}

impl ReadStage<'_> {
    fn run(
        &self,
        reader: SequenceReader,
        batches: Sender<Batch>,
        done: Sender<ToWriter>,
        progress: &Progress,
    ) -> anyhow::Result<ReadNotes> {
        let window = self.window;
        let mut pending = Batch::new();
        // The keys read so far (32 bytes each, not the 64-character hex), so a repeat is computed only once.
        let mut seen: HashSet<[u8; 32]> = HashSet::new();
        let mut notes = ReadNotes::default();
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
                let base = if self.split_model { row.base.clone() } else { None };
                if let Some(b) = &base {
                    // The patch trusts the base's key: it must be the window the span and bytes rebuild.
                    if b.base_window(&row.sequence).is_none_or(|w| crate::window::seq_id(&w) != b.base_seq_id) {
                        let _ = fail(
                            "base_seq_id, base_offset and base_bases do not rebuild the base window (edited or \
                             corrupted TODO file?); fix: re-run extract-seqs and check-cache"
                                .into(),
                        );
                        continue;
                    }
                }
                let mut key = [0u8; 32];
                if hex::decode_to_slice(&row.seq_id, &mut key).is_ok() && !seen.insert(key) {
                    notes.duplicates += 1;
                    progress.inc(1);
                    continue;
                }
                match self.ns.read_entry(&row.seq_id, self.expect) {
                    Lookup::Hit(..) => {
                        let _ = done.send(ToWriter::Done(PredictRecord::cached(row.seq_id)));
                        continue;
                    }
                    Lookup::Corrupt(msg) => notes.corrupt(msg),
                    Lookup::Missing => {}
                }
                if !pending.has_room(base.is_some(), self.batch_size) {
                    let full = std::mem::replace(&mut pending, Batch::new());
                    if batches.send(full).is_err() {
                        return Ok(notes);
                    }
                }
                let at = pending.onehot.len();
                pending.onehot.resize(at + window * 4, 0.0);
                onehot::encode_into(&row.sequence, self.n_enc, &mut pending.onehot[at..]);
                pending.ids.push(row.seq_id);
                pending.bases.push(base);
                if pending.is_full(self.batch_size, self.split_model) {
                    let full = std::mem::replace(&mut pending, Batch::new());
                    if batches.send(full).is_err() {
                        return Ok(notes);
                    }
                }
            }
        }
        if !pending.ids.is_empty() {
            let _ = batches.send(pending);
        }
        Ok(notes)
    }
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
                RecordStatus::Failed => failed += 1,
            }
            records.push(r);
            progress.inc(1);
        }
        progress.set_message(format!("computed {computed}, cached {cached}, failed {failed}"));
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_entries_beyond_the_cap_are_counted_in_one_line() {
        let mut notes = ReadNotes { duplicates: 3, ..ReadNotes::default() };
        for i in 0..FAILED_SHOWN + 5 {
            notes.corrupt(format!("entry {i}"));
        }
        assert_eq!(notes.corrupt_shown.len(), FAILED_SHOWN, "only the shown messages are kept");
        let w = notes.warnings(std::path::Path::new("todo.parquet"));
        assert_eq!(w.len(), FAILED_SHOWN + 2, "{w:?}");
        assert_eq!(w[0], "corrupt cache entry, recomputed: entry 0");
        assert!(w[FAILED_SHOWN].starts_with("... and 5 more corrupt cache entries"), "{w:?}");
        assert!(w[FAILED_SHOWN + 1].starts_with("3 row(s) of todo.parquet repeat"), "{w:?}");
    }

    #[test]
    fn corrupt_entries_within_the_cap_are_all_named_and_not_counted() {
        let mut notes = ReadNotes::default();
        for i in 0..FAILED_SHOWN {
            notes.corrupt(format!("entry {i}"));
        }
        let w = notes.warnings(std::path::Path::new("todo.parquet"));
        assert_eq!(w.len(), FAILED_SHOWN);
        assert!(w.iter().all(|l| l.starts_with("corrupt cache entry, recomputed: ")), "{w:?}");
    }
}
