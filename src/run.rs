//! `run`: extract-seqs → check-cache → predict → merge in one process, for a user without a workflow engine.
//! The intermediate files are the same as the split steps write (under the work folder), so a run can be
//! resumed or continued with the split steps, and a second run with the same cache computes nothing.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cache::legacy::LegacyCache;
use crate::cache::{Cache, Fingerprint};
use crate::check_cache::{check_cache, CheckOptions};
use crate::extract::{extract_seqs, ExtractOptions, Manifest};
use crate::merge::{merge, MergeOptions, MergeReport, MissingEntries};
use crate::model::ModelOptions;
use crate::predict::{predict, PredictOptions};
use crate::progress::ProgressMode;
use crate::score::Stat;

/// Merge's report in the work folder (the other steps' summaries are under `extract/` and `todo/`).
pub const MERGE_SUMMARY: &str = "merge.json";

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
    /// Remove the work folder's files after a run with no failed sequence (`remove_work_files`).
    pub remove_work: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub extract: Manifest,
    pub sequences: u64,
    pub computed: u64,
    pub cached: u64,
    pub failed: u64,
    /// predict's warnings (corrupt entries recomputed, failed sequences), for the caller to show.
    pub warnings: Vec<String>,
    pub merge: MergeReport,
}

/// Fails when the run will certainly need the model and ONNX Runtime's library cannot be found: a cache with
/// no namespace at all (and no legacy cache) holds none of the windows. Called before anything is written;
/// a cache that may hold everything is given the benefit of the doubt (a warm run needs no library), and
/// `run_pipeline` then loads the library after check-cache, before predicting anything.
pub fn check_runtime_up_front(cache: &Path, legacy: bool) -> anyhow::Result<()> {
    let cache_empty = Cache::open(cache).map_or(true, |c| !c.has_namespaces());
    if cache_empty && !legacy {
        crate::model::runtime::locate()?;
    }
    Ok(())
}

pub fn run_pipeline(opts: &RunOptions, mode: ProgressMode) -> anyhow::Result<RunReport> {
    // Problems merge would only find at the end are reported before hours of prediction.
    crate::merge::check_stats_for_store(opts.fingerprint.store, &opts.stats)?;
    check_runtime_up_front(&opts.cache, opts.legacy.is_some())?;
    let extract_dir = opts.extract.out_dir.clone();
    let manifest = extract_seqs(&opts.extract, mode)?;
    let mut totals = (0u64, 0u64, 0u64, 0u64);
    let mut legacy = opts.legacy.clone();
    let mut warnings = Vec::new();
    // Two rounds at most: merge moves corrupt entries aside, and the second round recomputes them.
    for round in 0..2 {
        let mut todos = Vec::new();
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
            if check.missing > 0 {
                todos.push((name, todo));
            }
        }
        // All shards checked before any prediction: a missing or broken library is reported before hours of
        // work, and a run with everything cached never loads it.
        if !todos.is_empty() {
            crate::model::runtime::environment()?;
        }
        for (name, todo) in todos {
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
            warnings.extend(p.warnings);
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
                // Merge's report (counts, stage timings) beside the check-cache and predict summaries, where
                // `report` finds them.
                let json = serde_json::to_vec_pretty(&report)?;
                let summary = opts.work_dir.join(MERGE_SUMMARY);
                crate::fsutil::write_atomic(&summary, &json)
                    .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", summary.display()))?;
                if opts.remove_work && totals.3 == 0 {
                    remove_work_files(&opts.work_dir, &extract_dir)?;
                }
                return Ok(RunReport {
                    extract: manifest,
                    sequences: totals.0,
                    computed: totals.1,
                    cached: totals.2,
                    failed: totals.3,
                    warnings,
                    merge: report,
                });
            }
            Err(e) if round == 0 && totals.3 == 0 && e.downcast_ref::<MissingEntries>().is_some() => {
                warnings.push(format!("{e}; recomputing them"));
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

/// Removes what `run` wrote to the work folder (the extract folder, todo/, the model digest's memo, merge.json), then the
/// folder itself if that left it empty. Never the folder recursively: `--work-dir` may name a folder that
/// holds the user's other files.
fn remove_work_files(work_dir: &Path, extract_dir: &Path) -> anyhow::Result<()> {
    let gone = |r: std::io::Result<()>, p: &Path| match r {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(anyhow::anyhow!("cannot remove {}: {e}", p.display()))
        }
        _ => Ok(()),
    };
    for dir in [extract_dir.to_path_buf(), work_dir.join("todo")] {
        gone(std::fs::remove_dir_all(&dir), &dir)?;
    }
    for file in ["namespace.json", MERGE_SUMMARY] {
        let path = work_dir.join(file);
        gone(std::fs::remove_file(&path), &path)?;
    }
    // Not empty (the user's own files): kept, which is not an error.
    let _ = std::fs::remove_dir(work_dir);
    Ok(())
}
