//! `check-cache`: which sequences of a shard are not cached yet. Existence checks only (no entry is read):
//! one `stat` per key, streaming the shard in batches of 32 rows. It never lists the fan-out folders: that
//! costs what the whole namespace holds however few keys a shard has (`merge` lists them for large key sets).
//! The missing sequences go to a TODO table with the shard's schema and the counts to a JSON summary that a
//! workflow engine reads to decide whether `predict` runs at all. With a legacy cache folder, a sequence whose
//! `{seq_id}.pkl.gz` is there counts as cached too (`merge` reads it).

use std::path::PathBuf;

use anyhow::Context;
use serde::Serialize;

use crate::cache::legacy::LegacyCache;
use crate::cache::store::{Source, Store};
use crate::cache::{Cache, Fingerprint};
use crate::progress::{Progress, ProgressMode};
use crate::tables::sequences::{SequenceReader, SequenceWriter};

#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub shard: PathBuf,
    pub cache: PathBuf,
    pub fingerprint: Fingerprint,
    pub out: PathBuf,
    pub summary: Option<PathBuf>,
    /// The legacy tool's cache folder: its entries count as cached (existence only, as ours).
    pub legacy: Option<LegacyCache>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CheckSummary {
    pub sequences: u64,
    pub cached: u64,
    pub missing: u64,
    /// Of `cached`, how many only the legacy folder holds.
    pub legacy: u64,
    pub shard: String,
    pub todo: String,
    pub cache_namespace: String,
}

pub fn check_cache(opts: &CheckOptions, mode: ProgressMode) -> anyhow::Result<CheckSummary> {
    let store = Store::new(Cache::open(&opts.cache)?.namespace(&opts.fingerprint), opts.legacy.clone(), 0);
    let ns = store.namespace();
    let reader = SequenceReader::open(&opts.shard)?;
    let progress = Progress::new(mode, "check-cache", "sequences", Some(reader.rows() as u64));
    let mut todo = SequenceWriter::create(&opts.out)?;
    let (mut sequences, mut cached, mut legacy) = (0u64, 0u64, 0u64);
    let window = opts.fingerprint.window;
    for batch in reader {
        let batch = batch?;
        if let Some(bad) = batch.iter().find(|r| r.sequence.len() != window) {
            anyhow::bail!(
                "{}: sequence {} is {} bp but the window is {window} bp; fix: pass the --window that extract-seqs used",
                opts.shard.display(),
                bad.seq_id,
                bad.sequence.len()
            );
        }
        let found = store.locate_many(&batch.iter().map(|r| r.seq_id.as_str()).collect::<Vec<_>>());
        let n = batch.len() as u64;
        for (row, found) in batch.into_iter().zip(found) {
            sequences += 1;
            match found {
                Source::Ours => cached += 1,
                Source::Legacy => {
                    cached += 1;
                    legacy += 1;
                }
                // With its base, if any: predict's split model patches from it.
                Source::Absent => todo.push_row(row)?,
            }
        }
        progress.inc(n);
    }
    todo.finish()?;
    progress.finish();
    let summary = CheckSummary {
        sequences,
        cached,
        missing: sequences - cached,
        legacy,
        shard: opts.shard.display().to_string(),
        todo: opts.out.display().to_string(),
        cache_namespace: ns.dir().display().to_string(),
    };
    if let Some(path) = &opts.summary {
        let json = serde_json::to_vec_pretty(&summary)?;
        crate::fsutil::write_atomic(path, &json).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(summary)
}
