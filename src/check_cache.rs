//! `check-cache`: which sequences of a shard are not cached yet. Existence checks only (no entry is read).
//! It reads the shard's `seq_id` column alone and looks the keys up with parallel `stat` calls,
//! [`LOOKUP_BATCH`] at a time; it never lists the fan-out folders: that costs what the whole namespace holds
//! however few keys a shard has (`merge` lists them for large key sets). Only when some are missing does it
//! read the shard again for their sequences, which go to a TODO table with the shard's schema; the counts go
//! to a JSON summary that a workflow engine reads to decide whether `predict` runs at all. With a legacy cache
//! folder, a sequence whose `{seq_id}.pkl.gz` is there counts as cached too (`merge` reads it).

use std::path::PathBuf;

use anyhow::Context;
use serde::Serialize;

use crate::cache::legacy::LegacyCache;
use crate::cache::store::{Source, Store};
use crate::cache::{Cache, Fingerprint};
use crate::progress::{Progress, ProgressMode};
use crate::tables::sequences::{read_seq_ids, SequenceReader, SequenceWriter};
use crate::timing::{StageTimes, Stages};

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

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CheckSummary {
    pub sequences: u64,
    pub cached: u64,
    pub missing: u64,
    /// Of `cached`, how many only the legacy folder holds.
    pub legacy: u64,
    pub shard: String,
    pub todo: String,
    pub cache_namespace: String,
    /// Wall time, and busy time reading the keys, looking them up and writing the TODO.
    pub timing: StageTimes,
}

pub fn check_cache(opts: &CheckOptions, mode: ProgressMode) -> anyhow::Result<CheckSummary> {
    let store = Store::new(Cache::open(&opts.cache)?.namespace(&opts.fingerprint), opts.legacy.clone(), 0);
    let ns = store.namespace();
    let stages = Stages::new(&["keys", "lookup", "todo"]);
    // Pass 1: the keys alone, looked up; pass 2 (only when some are missing): their sequences to the TODO.
    let ids = stages.time("keys", || read_seq_ids(&opts.shard))?;
    let progress = Progress::new(mode, "check-cache", "sequences", Some(ids.len() as u64));
    let found = stages.time("lookup", || locate(&store, &ids, &progress));
    let (mut cached, mut legacy) = (0u64, 0u64);
    for f in &found {
        match f {
            Source::Ours => cached += 1,
            Source::Legacy => {
                cached += 1;
                legacy += 1;
            }
            Source::Absent => {}
        }
    }
    let sequences = ids.len() as u64;
    let mut todo = SequenceWriter::create(&opts.out)?;
    let window = opts.fingerprint.window;
    if cached < sequences {
        let t = std::time::Instant::now();
        let mut row_index = 0usize;
        for batch in SequenceReader::open(&opts.shard)? {
            for row in batch? {
                let absent = found.get(row_index) == Some(&Source::Absent);
                anyhow::ensure!(
                    ids.get(row_index) == Some(&row.seq_id),
                    "{} changed while it was read (row {row_index}); fix: run check-cache again once extract-seqs has finished",
                    opts.shard.display()
                );
                row_index += 1;
                if !absent {
                    continue;
                }
                if row.sequence.len() != window {
                    anyhow::bail!(
                        "{}: sequence {} is {} bp but the window is {window} bp; fix: pass the --window that extract-seqs used",
                        opts.shard.display(),
                        row.seq_id,
                        row.sequence.len()
                    );
                }
                // With its base, if any: predict's split model patches from it.
                todo.push_row(row)?;
            }
        }
        stages.add("todo", t.elapsed());
    }
    todo.finish()?;
    let timing = stages.report();
    progress.finish_with(&timing);
    let summary = CheckSummary {
        sequences,
        cached,
        missing: sequences - cached,
        legacy,
        shard: opts.shard.display().to_string(),
        todo: opts.out.display().to_string(),
        cache_namespace: ns.dir().display().to_string(),
        timing,
    };
    if let Some(path) = &opts.summary {
        let json = serde_json::to_vec_pretty(&summary)?;
        crate::fsutil::write_atomic(path, &json).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(summary)
}

/// Keys looked up per parallel round: one `stat` each, spread over the threads. Below the count at which
/// `contains_many` would list the fan-out folders instead, which costs what the whole namespace holds however
/// few keys a shard has.
pub const LOOKUP_BATCH: usize = 4096;
const _: () = assert!(LOOKUP_BATCH < crate::cache::LISTING_THRESHOLD);

/// Where each key is (ours, legacy, absent), as check-cache looks them up: parallel `stat`s, a batch of
/// [`LOOKUP_BATCH`] keys at a time, never a listing.
pub fn locate(store: &Store, ids: &[String], progress: &Progress) -> Vec<Source> {
    let mut found = Vec::with_capacity(ids.len());
    for batch in ids.chunks(LOOKUP_BATCH) {
        let refs: Vec<&str> = batch.iter().map(String::as_str).collect();
        found.extend(store.locate_many(&refs));
        progress.inc(batch.len() as u64);
    }
    found
}
