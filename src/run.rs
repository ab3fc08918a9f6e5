//! `run`: extract-seqs → check-cache → predict → merge in one process, for a user without a workflow engine.
//! The intermediate files are the same as the split steps write (under the work folder), so a run can be
//! resumed or continued with the split steps, and a second run with the same cache computes nothing.

use std::path::PathBuf;

use serde::Serialize;

use crate::cache::legacy::LegacyCache;
use crate::cache::Fingerprint;
use crate::check_cache::{check_cache, CheckOptions};
use crate::extract::{extract_seqs, ExtractOptions, Manifest};
use crate::merge::{merge, MergeOptions, MergeReport, MissingEntries};
use crate::model::ModelOptions;
use crate::predict::{predict, PredictOptions};
use crate::progress::ProgressMode;
use crate::score::Stat;

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub extract: ExtractOptions,
    pub cache: PathBuf,
    pub model: PathBuf,
    pub fingerprint: Fingerprint,
    pub model_options: ModelOptions,
    pub batch_size: usize,
    pub center_bins: usize,
    pub stats: Vec<Stat>,
    pub targets: Option<PathBuf>,
    pub tracks: Option<String>,
    pub out: PathBuf,
    pub work_dir: PathBuf,
    /// The legacy tool's cache folder: windows it holds are not predicted but read from it by merge.
    pub legacy: Option<LegacyCache>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub extract: Manifest,
    pub sequences: u64,
    pub computed: u64,
    pub cached: u64,
    pub failed: u64,
    pub merge: MergeReport,
}

pub fn run_pipeline(opts: &RunOptions, mode: ProgressMode) -> anyhow::Result<RunReport> {
    // Problems merge would only find at the end are reported before hours of prediction.
    crate::merge::check_stats_for_store(opts.fingerprint.store, &opts.stats)?;
    let extract_dir = opts.extract.out_dir.clone();
    let manifest = extract_seqs(&opts.extract, mode)?;
    let mut totals = (0u64, 0u64, 0u64, 0u64);
    let mut legacy = opts.legacy.clone();
    // Two rounds at most: merge moves corrupt entries aside, and the second round recomputes them.
    for round in 0..2 {
        for shard in &manifest.shards {
            let name = format!("shard-{:05}", shard.shard);
            let todo = opts.work_dir.join("todo").join(format!("{name}.todo.parquet"));
            let check = check_cache(
                &CheckOptions {
                    shard: extract_dir.join(&shard.path),
                    cache: opts.cache.clone(),
                    fingerprint: opts.fingerprint.clone(),
                    out: todo.clone(),
                    summary: Some(opts.work_dir.join("todo").join(format!("{name}.summary.json"))),
                    legacy: legacy.clone(),
                },
                mode,
            )?;
            if round == 0 {
                totals.0 += check.sequences;
                totals.2 += check.cached;
            }
            if check.missing == 0 {
                continue;
            }
            let p = predict(
                &PredictOptions {
                    sequences: todo,
                    model: opts.model.clone(),
                    cache: opts.cache.clone(),
                    fingerprint: opts.fingerprint.clone(),
                    model_options: opts.model_options.clone(),
                    batch_size: opts.batch_size,
                    center_bins: opts.center_bins,
                    manifest: opts.work_dir.join("todo").join(format!("{name}.predict.parquet")),
                    summary: Some(opts.work_dir.join("todo").join(format!("{name}.predict.json"))),
                },
                mode,
            )?;
            totals.1 += p.computed;
            totals.2 += p.cached;
            totals.3 += p.failed;
        }
        let merged = merge(
            &MergeOptions {
                variants: vec![extract_dir.join(crate::extract::VARIANTS_FILE)],
                cache: opts.cache.clone(),
                fingerprint: opts.fingerprint.clone(),
                out: opts.out.clone(),
                stats: opts.stats.clone(),
                targets: opts.targets.clone(),
                tracks: opts.tracks.clone(),
                center_bins: opts.center_bins,
                legacy: legacy.clone(),
            },
            mode,
        );
        match merged {
            Ok(report) => {
                return Ok(RunReport {
                    extract: manifest,
                    sequences: totals.0,
                    computed: totals.1,
                    cached: totals.2,
                    failed: totals.3,
                    merge: report,
                })
            }
            Err(e) if round == 0 && totals.3 == 0 && e.downcast_ref::<MissingEntries>().is_some() => {
                eprintln!("run: {e}; recomputing them");
                // An unreadable legacy entry is not trusted again: its window is predicted in the second round.
                if let (Some(l), Some(m)) = (&legacy, e.downcast_ref::<MissingEntries>()) {
                    legacy = Some(l.excluding(m.seq_ids.iter().cloned()));
                }
            }
            Err(e) => return Err(e),
        }
    }
    anyhow::bail!("run: cache entries still missing after recomputing them")
}
