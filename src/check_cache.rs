//! `check-cache`: which sequences of a shard are not cached yet. Existence checks only (no entry is read),
//! in parallel, streaming the shard; the missing sequences go to a TODO table with the shard's schema and the
//! counts to a JSON summary that a workflow engine reads to decide whether `predict` runs at all.

use std::path::PathBuf;

use anyhow::Context;
use serde::Serialize;

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
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CheckSummary {
    pub sequences: u64,
    pub cached: u64,
    pub missing: u64,
    pub shard: String,
    pub todo: String,
    pub cache_namespace: String,
}

pub fn check_cache(opts: &CheckOptions, mode: ProgressMode) -> anyhow::Result<CheckSummary> {
    let cache = Cache::open(&opts.cache)?;
    let ns = cache.namespace(&opts.fingerprint);
    let reader = SequenceReader::open(&opts.shard)?;
    let progress = Progress::new(mode, "check-cache", "sequences", Some(reader.rows() as u64));
    let mut todo = SequenceWriter::create(&opts.out)?;
    let (mut sequences, mut cached) = (0u64, 0u64);
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
        let present = {
            let ids: Vec<&str> = batch.iter().map(|r| r.seq_id.as_str()).collect();
            ns.contains_many(&ids)
        };
        let n = batch.len() as u64;
        for (row, present) in batch.into_iter().zip(present) {
            sequences += 1;
            if present {
                cached += 1;
            } else {
                todo.push(row.seq_id, row.sequence)?;
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
