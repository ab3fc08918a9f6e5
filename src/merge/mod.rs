//! `merge`: variants + cache → `scores.parquet`, one row per scored variant with its columns from
//! `variants.parquet` and one list<float32> column per statistic (length = kept tracks, channel order).
//! Each variant is scored from its ensemble of sequences by [`crate::score::compose`]. With a legacy cache
//! folder, a window missing from the cache is read from the legacy tool's `{seq_id}.pkl.gz` instead
//! (shape-checked, in the namespace's store mode).
//!
//! [`plan`] checks that every needed sequence is there, [`tracks`] picks the channels, [`write`] writes.

mod plan;
pub mod summary;
pub mod targets;
mod tracks;
mod write;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rayon::prelude::*;

pub use targets::{read_targets, Track};
pub use write::{check_tracks_sidecar, tracks_sidecar_path, Sidecar};

use crate::cache::entry::{EntryData, Expect, ReadBuffers};
use crate::cache::legacy::LegacyCache;
use crate::cache::store::Store;
use crate::cache::{Cache, Fingerprint, Namespace, StoreMode};
use crate::orient::Status;
use crate::progress::{Progress, ProgressMode};
use crate::score::compose::Entries;
use crate::score::{ComposeError, Composer, Stat};
use crate::tables::variants::{VariantReader, VariantRow};
use crate::timing::{StageTimes, Stages};
use crate::window::OutputGeometry;

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
    pub warnings: Vec<String>,
    /// Wall time, and busy time reading entries, composing scores and writing them (summed over threads).
    pub timing: StageTimes,
}

/// Sequences the merge needed but the cache did not have (or had corrupt).
#[derive(Debug, thiserror::Error)]
#[error("{count} sequence(s) of {variants} scored variant(s) are not in the cache {cache} (e.g. {examples}){}; fix: run `enformer-vep check-cache` and `enformer-vep predict` on the shards first (or `enformer-vep run`){}", if .why.is_empty() { "" } else { " or not usable" }, .why.iter().map(|w| format!("\n  {w}")).collect::<String>())]
pub struct MissingEntries {
    pub count: usize,
    pub variants: usize,
    pub cache: String,
    pub examples: String,
    /// Why entries found were not used (a corrupt entry moved aside, ...); empty when they are simply absent.
    pub why: Vec<String>,
    pub seq_ids: Vec<String>,
}

impl MissingEntries {
    fn new(mut seq_ids: Vec<String>, variants: usize, ns: &Namespace, why: Vec<String>) -> Self {
        seq_ids.sort_unstable();
        seq_ids.dedup();
        let examples = seq_ids.iter().take(3).map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
        MissingEntries { count: seq_ids.len(), variants, cache: ns.dir().display().to_string(), examples, why, seq_ids }
    }
}

/// Variants per batch: a batch is read and composed in parallel while the writer thread encodes the previous
/// one. Small enough that reading and writing overlap on a short run (writing `scores.parquet` was a third of
/// a warm summary run, and it used to wait for all reads), big enough to keep every thread busy.
fn batch_rows() -> usize {
    (8 * rayon::current_num_threads()).clamp(32, 256)
}

/// Scores every `Ok` row of the variant tables in input order: workers read and compose a batch while one
/// writer thread appends the previous batch to `out`, through a channel of one batch, so memory stays a few
/// batches of values. Entries that cannot be read are collected in `corrupt` (and nothing more is written);
/// returns the writer, not yet finished, and the number of variants written.
#[allow(clippy::too_many_arguments)]
fn score_and_write(
    opts: &MergeOptions,
    store: &Store,
    composer: &Composer,
    expect: Expect,
    mut out: write::ScoresWriter,
    stages: &Stages,
    progress: &Progress,
    corrupt: &mut Vec<String>,
) -> anyhow::Result<(write::ScoresWriter, u64)> {
    // Workers take read buffers from the pool and give them back, so memory is a few entries per thread,
    // allocated once.
    let pool = BufferPool::default();
    let tracks = composer.keep.len();
    let (tx, rx) = crossbeam_channel::bounded::<(Vec<VariantRow>, Vec<Vec<Vec<f32>>>)>(1);
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> anyhow::Result<write::ScoresWriter> {
            for (rows, values) in rx {
                stages.time("write", || out.write(&rows, &values, tracks))?;
            }
            Ok(out)
        });
        let mut produce = || -> anyhow::Result<u64> {
            let mut scored = 0u64;
            for path in &opts.variants {
                for batch in VariantReader::open(path)? {
                    let mut rows: Vec<VariantRow> =
                        batch?.into_iter().filter(|r| r.status == Some(Status::Ok)).collect();
                    while !rows.is_empty() {
                        let chunk: Vec<VariantRow> = rows.drain(..batch_rows().min(rows.len())).collect();
                        let results: Vec<Result<Vec<Vec<f32>>, ComposeError>> = chunk
                            .par_iter()
                            .map(|row| {
                                let members = row.sequences.as_deref().unwrap_or_default();
                                let mut buffers = pool.take();
                                let started = Instant::now();
                                let mut read_time = Duration::ZERO;
                                let entries =
                                    StoreEntries { store, expect, buffers: &mut buffers, read_time: &mut read_time };
                                let score = composer.score(members, entries);
                                stages.add("read", read_time);
                                stages.add("compose", started.elapsed().saturating_sub(read_time));
                                pool.give_back(buffers);
                                score
                            })
                            .collect();
                        let mut values = Vec::with_capacity(results.len());
                        for (row, r) in chunk.iter().zip(results) {
                            match r {
                                Ok(v) => values.push(v),
                                Err(ComposeError::Unreadable(id)) => corrupt.push(id),
                                Err(e) => anyhow::bail!("{}, input line {}: {e}", path.display(), row.line),
                            }
                        }
                        if !corrupt.is_empty() {
                            continue;
                        }
                        let n = chunk.len() as u64;
                        // A closed channel means the writer failed: its error is the one reported below.
                        if tx.send((chunk, values)).is_err() {
                            return Ok(scored);
                        }
                        scored += n;
                        progress.inc(n);
                    }
                }
            }
            Ok(scored)
        };
        let produced = produce();
        drop(tx);
        let written = writer.join().map_err(|_| anyhow::anyhow!("the scores writer panicked"))?;
        let scored = produced?;
        Ok((written?, scored))
    })
}

pub fn merge(opts: &MergeOptions, mode: ProgressMode) -> anyhow::Result<MergeReport> {
    anyhow::ensure!(!opts.stats.is_empty(), "--stats needs at least one statistic");
    anyhow::ensure!(!opts.variants.is_empty(), "--variants needs at least one file");
    let fp = &opts.fingerprint;
    check_stats_for_store(fp.store, &opts.stats)?;
    let store = Store::new(Cache::open(&opts.cache)?.namespace(fp), opts.legacy.clone(), opts.center_bins);
    let ns = store.namespace();
    let plan = plan::plan(opts, &store)?;
    let read = |id: &str, expect: Expect| store.read(id, expect);

    // The output shape: the one predict recorded in the namespace's fingerprint.json, which every entry, ours
    // or legacy, is held to. A namespace written before shapes were recorded falls back to the first readable
    // entry (our own entries first, so that a legacy entry of the wrong shape does not set the shape).
    let mut corrupt: Vec<String> = Vec::new();
    let mut shape = ns.output_shape().map(|[b, t]| (Some(b), t));
    let ordered = plan.needed.iter().zip(&plan.ours);
    let fallback = ordered.clone().filter(|(_, o)| **o).chain(ordered.filter(|(_, o)| !**o));
    for (id, _) in fallback.filter(|_| shape.is_none()) {
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
        None if plan.needed.is_empty() => (None, 0),
        None => return Err(MissingEntries::new(corrupt, plan.variants, ns, store.warnings()).into()),
    };
    let geometry = bins.map(|b| OutputGeometry::new(fp.window, b)).transpose().map_err(anyhow::Error::msg)?;
    let (track_meta, keep) = tracks::select(opts.targets.as_deref(), opts.tracks.as_deref(), tracks)?;
    let center = geometry.map(|g| g.center_bins(opts.center_bins)).unwrap_or(0..0);
    let provenance = write::Provenance {
        fingerprint: serde_json::to_string(fp)?,
        stats: opts.stats.clone(),
        center: match geometry {
            Some(g) => format!("bins {}-{} inclusive (variant bin {})", center.start, center.end - 1, g.variant_bin()),
            None => format!(
                "{} bins nearest the variant, summed at predict time",
                fp.summary_center_bins.unwrap_or(opts.center_bins)
            ),
        },
        rc: plan.rc,
        shifts: plan.shifts.iter().map(i32::to_string).collect::<Vec<_>>().join(","),
        stitch: match geometry {
            Some(g) => g.stitch_bin().to_string(),
            None => "ceil(bins/2), split at predict time (summary entries)".to_string(),
        },
        kept: keep.iter().map(|&c| track_meta[c].clone()).collect(),
    };
    let summaries = fp.store == StoreMode::Summary;
    let composer = Composer { geometry, tracks, summaries, keep, center, stats: opts.stats.clone() };
    let expect = Expect { bins, tracks: Some(tracks) };

    // Pass 2: compute and write, a batch of variants at a time, in input order (see [`score_and_write`]).
    let stages = Stages::new(&["read", "compose", "write"]);
    let out = write::ScoresWriter::create(&opts.out, &provenance)?;
    let progress = Progress::new(mode, "merge", "variants", Some(plan.variants as u64));
    let (out, scored) = score_and_write(opts, &store, &composer, expect, out, &stages, &progress, &mut corrupt)?;
    if !corrupt.is_empty() {
        progress.finish();
        return Err(MissingEntries::new(corrupt, plan.variants, ns, store.warnings()).into());
    }
    stages.time("write", || out.finish(&opts.out))?;
    let timing = stages.report();
    progress.finish_with(&timing);
    Ok(MergeReport {
        timing,
        rows_in: plan.rows_in,
        scored,
        tracks: composer.keep.len(),
        out: opts.out.display().to_string(),
        warnings: plan.warnings.into_iter().chain(store.warnings()).collect(),
    })
}

/// Read buffers shared out to the workers: at most one set per worker at a time, each reused for the next
/// variant (rayon may split a batch into more jobs than threads, so per-job buffers would be remade often).
#[derive(Default)]
struct BufferPool(std::sync::Mutex<Vec<ReadBuffers>>);

impl BufferPool {
    fn take(&self) -> ReadBuffers {
        self.0.lock().ok().and_then(|mut p| p.pop()).unwrap_or_default()
    }

    fn give_back(&self, buffers: ReadBuffers) {
        if let Ok(mut p) = self.0.lock() {
            if p.len() < rayon::current_num_threads() {
                p.push(buffers);
            }
        }
    }
}

/// A merge worker's view of the store: entries held to the namespace's shape, read into reused buffers.
struct StoreEntries<'a> {
    store: &'a Store,
    expect: Expect,
    buffers: &'a mut ReadBuffers,
    read_time: &'a mut Duration,
}

impl Entries for StoreEntries<'_> {
    fn read(&mut self, seq_id: &str) -> Option<EntryData> {
        let started = Instant::now();
        let data = self.store.read_with(seq_id, self.expect, self.buffers).map(|(d, _)| d);
        *self.read_time += started.elapsed();
        data
    }

    fn recycle(&mut self, data: EntryData) {
        self.buffers.recycle(data);
    }
}

/// The statistics the store mode can give: D2 needs every bin, which summary entries do not keep.
pub fn check_stats_for_store(store: StoreMode, stats: &[Stat]) -> anyhow::Result<()> {
    if store == StoreMode::Summary && stats.contains(&Stat::D2) {
        anyhow::bail!(
            "D2 needs full cache entries but --store summary entries hold per-track sums only; fix: leave D2 out (--stats SAD,logSED,CENTER) or use a float32/float16 cache"
        );
    }
    Ok(())
}
