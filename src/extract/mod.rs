//! `extract-seqs`: variant table + genome → `variants.parquet`, `shards/shard-NNNNN.parquet`, `manifest.json`.
//!
//! A streaming pipeline (nextclade-style): the reader parses blocks of rows in parallel and hands them on in
//! input order, chunks of rows are oriented, windowed and hashed in parallel (rayon), and one writer thread
//! appends results in input order, starting a new shard every `shard_size` scored variants. Memory is bounded by the chunk and row-group sizes (lines are
//! capped at 1 MiB; `--top N` holds its N best variants in a heap during the one pass, see `top.rs`), not by
//! the input. A row that cannot be scored is data (a status), never an abort.

pub mod filter;
mod process;
mod top;
mod windows;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use rayon::prelude::*;
use serde::Serialize;

pub use filter::{FilterCounts, Filters, Region};
use process::{process, Processed, Scoring};

use crate::ensemble::Ensemble;
use crate::genome::Genome;
use crate::orient::Status;
use crate::progress::{Progress, ProgressMode};
use crate::tables::sequences::SequenceWriter;
use crate::tables::variants::VariantWriter;
use crate::timing::{StageTimes, Stages};
use crate::variants::{Candidate, ColumnOverrides, Record, VariantReader};
use crate::window::WindowSpec;

/// Windows per chunk of rows processed in parallel: the first chunks are small (48 windows per thread) so that
/// on a short run the writer thread already packs and compresses one chunk while the next is built (one chunk
/// for everything left a core idle for the whole write: a fifth of a warm re-run), and each next chunk is twice
/// as big up to 512 windows of 196 kB (~100 MB), where per-chunk costs vanish on a long run. A chunk has room
/// for 3 windows per role member (an indel's R, A, A′): at most 170 rows plain, 28 with `--rc --shifts=-1,0,1`.
const WINDOWS_PER_CHUNK: usize = 512;

fn first_chunk_windows() -> usize {
    (48 * rayon::current_num_threads()).min(WINDOWS_PER_CHUNK)
}

/// The stages of `extract-seqs` whose busy time is reported (see [`crate::timing`]): `parse` reading input
/// records, `windows` orienting, normalising and assembling windows from the genome, `hash` their SHA-256
/// keys, `write` the variant table and the shards (Parquet encoding, zstd, the file writes).
pub const STAGES: &[&str] = &["parse", "windows", "hash", "write"];

/// Default `--max-allele-len`.
pub const DEFAULT_MAX_ALLELE_LEN: usize = 1000;

#[derive(Debug, Clone)]
pub struct ExtractOptions {
    pub variants: PathBuf,
    pub genome: PathBuf,
    pub out_dir: PathBuf,
    pub shard_size: usize,
    pub window: WindowSpec,
    pub columns: ColumnOverrides,
    pub filters: Filters,
    /// Reverse complement and shifts: every member is a sequence of its own in the shards.
    pub ensemble: Ensemble,
    /// Longer REF or ALT alleles get `allele_too_long`.
    pub max_allele_len: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShardInfo {
    pub shard: u32,
    pub path: String,
    pub variants: u64,
    pub sequences: u64,
}

/// What `extract-seqs` did; also written as `manifest.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub tool: String,
    pub variants_input: String,
    pub genome: String,
    pub input_format: String,
    pub columns: String,
    pub window: usize,
    pub rc: bool,
    pub shifts: Vec<i32>,
    pub max_allele_len: usize,
    pub shard_size: usize,
    pub rows: u64,
    pub status_counts: BTreeMap<String, u64>,
    pub filtered: FilterCounts,
    pub variants_file: String,
    pub shards: Vec<ShardInfo>,
    pub warnings: Vec<String>,
    /// Wall time and busy time per stage ([`STAGES`]).
    pub timing: StageTimes,
}

pub const MANIFEST: &str = "manifest.json";
pub const VARIANTS_FILE: &str = "variants.parquet";

pub fn shard_file_name(shard: u32) -> String {
    format!("shards/shard-{shard:05}.parquet")
}

pub fn extract_seqs(opts: &ExtractOptions, mode: ProgressMode) -> anyhow::Result<Manifest> {
    anyhow::ensure!(opts.shard_size > 0, "--shard-size must be at least 1");
    let genome = Genome::open(&opts.genome)?;
    let reader = VariantReader::open(&opts.variants, &opts.columns)?;
    let input_format = reader.format().to_string();
    let columns = reader.columns_description();
    prepare_out_dir(&opts.out_dir)?;

    let stages = Stages::new(STAGES);
    let stages = &stages;
    let progress = Progress::new(mode, "extract-seqs", "variants", None);
    let mut windows_done = 0u64;
    let run_started = Instant::now();
    let mut filtered = FilterCounts::default();
    let filters = &opts.filters;
    let mut top = filters.top.map(|n| top::TopN::new(n, &opts.out_dir));
    let threshold = top.as_ref().map(top::TopN::threshold);

    let writer = OutputWriter::new(opts, &input_format)?;
    let (tx, rx) = crossbeam_channel::bounded::<Vec<Processed>>(2);
    let scoring = Scoring { window: opts.window, ensemble: opts.ensemble.clone(), max_allele_len: opts.max_allele_len };
    let scoring = &scoring;
    let rows_for = |windows: usize| (windows / (3 * opts.ensemble.members_per_role()).max(2)).clamp(8, 256);
    let max_chunk_rows = rows_for(WINDOWS_PER_CHUNK);
    let mut chunk_rows = rows_for(first_chunk_windows());
    let genome_ref = &genome;

    let (written, produced) =
        std::thread::scope(|scope| -> anyhow::Result<(anyhow::Result<OutputSummary>, anyhow::Result<()>)> {
            let handle = scope.spawn(move || writer.run(rx, stages));
            let produce = || -> anyhow::Result<()> {
                let mut send_chunk = |chunk: Vec<Record>| -> anyhow::Result<()> {
                    let results: Vec<Processed> = chunk
                        .into_par_iter()
                        .map(|r| process(r, genome_ref, scoring, stages))
                        .collect::<Result<_, _>>()?;
                    windows_done += results.iter().map(|p| p.windows.len() as u64).sum::<u64>();
                    let secs = run_started.elapsed().as_secs_f64().max(1e-9);
                    progress.set_message(format!("{windows_done} windows ({:.1}/s)", windows_done as f64 / secs));
                    progress.inc(results.len() as u64);
                    tx.send(results).map_err(|_| anyhow::anyhow!("the output writer stopped early"))?;
                    Ok(())
                };
                let mut chunk = Vec::with_capacity(chunk_rows);
                let mut push = |rec: Record| -> anyhow::Result<()> {
                    chunk.push(rec);
                    if chunk.len() >= chunk_rows {
                        chunk_rows = (chunk_rows * 2).min(max_chunk_rows);
                        send_chunk(std::mem::replace(&mut chunk, Vec::with_capacity(chunk_rows)))?;
                    }
                    Ok(())
                };
                // Runs on the parsing threads, before a table row's strings are allocated.
                let select = |c: &Candidate<'_>, counts: &mut FilterCounts| -> bool {
                    if !filters.keep_fields(c.chrom, c.pos, c.pvalue, counts) {
                        return false;
                    }
                    match (&threshold, c.pvalue) {
                        (Some(t), Some(p)) if !t.may_enter(p) => {
                            counts.beyond_top += 1;
                            false
                        }
                        _ => true,
                    }
                };
                // Parse time: reading and parsing (and choosing the top rows), without the time the rows spend
                // downstream (windows, hashing, waiting for the writer), which the callback and push take.
                let parse_started = Instant::now();
                let mut downstream = Duration::ZERO;
                reader.for_each_block(&select, |records: Vec<Record>, counts: FilterCounts| -> anyhow::Result<()> {
                    filtered.add(&counts);
                    for rec in records {
                        match top.as_mut() {
                            Some(top) => filtered.beyond_top += top.push(rec)?,
                            None => {
                                let t = Instant::now();
                                push(rec)?;
                                downstream += t.elapsed();
                            }
                        }
                    }
                    Ok(())
                })?;
                if let Some(top) = top.take() {
                    for rec in top.finish()? {
                        let rec = rec?;
                        let t = Instant::now();
                        push(rec)?;
                        downstream += t.elapsed();
                    }
                }
                stages.add("parse", parse_started.elapsed().saturating_sub(downstream));
                if !chunk.is_empty() {
                    send_chunk(chunk)?;
                }
                Ok(())
            };
            let produced = produce();
            drop(tx);
            let written = handle.join().map_err(|_| anyhow::anyhow!("the output writer panicked"))?;
            Ok((written, produced))
        })?;
    let timing = stages.report();
    progress.finish_with(&timing);
    // A writer error explains a producer's "writer stopped early", so it is reported first.
    let summary = written?;
    produced?;

    let mut warnings = Vec::new();
    let count = |s: Status| summary.status_counts.get(s.as_str()).copied().unwrap_or(0);
    let (ok, mismatch) = (count(Status::Ok), count(Status::RefMismatch));
    if mismatch >= 20 && mismatch as f64 > 0.05 * (ok + mismatch) as f64 {
        warnings.push(format!(
            "{mismatch} of {} variants ({:.1}%) do not match the genome's reference sequence: the genome is probably not the build the input uses (Kunkle 2019 and most GWAS tables are hg19/GRCh37); enformer-vep never lifts over",
            ok + mismatch,
            100.0 * mismatch as f64 / (ok + mismatch) as f64
        ));
    }
    if summary.rows == 0 && filtered.total() == 0 {
        warnings.push(format!(
            "{} has a header but no data rows: there is nothing to score (is it the right file?)",
            opts.variants.display()
        ));
    }
    let manifest = Manifest {
        tool: format!("enformer-vep {}", env!("CARGO_PKG_VERSION")),
        variants_input: opts.variants.display().to_string(),
        genome: opts.genome.display().to_string(),
        input_format,
        columns,
        window: opts.window.len(),
        rc: opts.ensemble.rc(),
        shifts: opts.ensemble.shifts().to_vec(),
        max_allele_len: opts.max_allele_len,
        shard_size: opts.shard_size,
        rows: summary.rows,
        status_counts: summary.status_counts,
        filtered,
        variants_file: VARIANTS_FILE.to_string(),
        shards: summary.shards,
        warnings,
        timing,
    };
    let json = serde_json::to_vec_pretty(&manifest)?;
    let path = opts.out_dir.join(MANIFEST);
    crate::fsutil::write_atomic(&path, &json).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(manifest)
}

/// Removes a previous run's manifest and shards first, so a crash never leaves a mix of old and new files
/// that looks complete (the manifest is written last).
fn prepare_out_dir(dir: &Path) -> anyhow::Result<()> {
    let shards = dir.join("shards");
    std::fs::create_dir_all(&shards).with_context(|| format!("cannot create output folder {}", shards.display()))?;
    let manifest = dir.join(MANIFEST);
    if manifest.exists() {
        std::fs::remove_file(&manifest).with_context(|| format!("cannot replace {}", manifest.display()))?;
    }
    for entry in std::fs::read_dir(&shards)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("shard-") && name.ends_with(".parquet") {
            std::fs::remove_file(entry.path())
                .with_context(|| format!("cannot remove old {}", entry.path().display()))?;
        }
    }
    Ok(())
}

struct OutputSummary {
    rows: u64,
    status_counts: BTreeMap<String, u64>,
    shards: Vec<ShardInfo>,
}

/// The single ordered writer: variants.parquet and the shard files.
struct OutputWriter {
    out_dir: PathBuf,
    shard_size: usize,
    variants: VariantWriter,
}

struct OpenShard {
    index: u32,
    writer: SequenceWriter,
    seen: HashSet<String>,
    variants: u64,
}

impl OutputWriter {
    fn new(opts: &ExtractOptions, input_format: &str) -> anyhow::Result<Self> {
        let metadata = vec![
            ("enformer_vep.version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
            ("enformer_vep.window".to_string(), opts.window.len().to_string()),
            ("enformer_vep.genome".to_string(), opts.genome.display().to_string()),
            ("enformer_vep.variants_input".to_string(), opts.variants.display().to_string()),
            ("enformer_vep.input_format".to_string(), input_format.to_string()),
            ("enformer_vep.rc".to_string(), opts.ensemble.rc().to_string()),
            ("enformer_vep.shifts".to_string(), opts.ensemble.shifts_text()),
            ("enformer_vep.max_allele_len".to_string(), opts.max_allele_len.to_string()),
            ("enformer_vep.normalisation".to_string(), crate::normalize::DESCRIPTION.to_string()),
        ];
        Ok(OutputWriter {
            out_dir: opts.out_dir.clone(),
            shard_size: opts.shard_size,
            variants: VariantWriter::create(&opts.out_dir.join(VARIANTS_FILE), metadata)?,
        })
    }

    /// Counts its busy time (not the time waiting for chunks or for row groups still being encoded) and the
    /// shards' encoding time to the `write` stage.
    fn run(
        mut self,
        rx: crossbeam_channel::Receiver<Vec<Processed>>,
        stages: &Stages,
    ) -> anyhow::Result<OutputSummary> {
        let mut summary = OutputSummary { rows: 0, status_counts: BTreeMap::new(), shards: Vec::new() };
        for s in Status::ALL {
            summary.status_counts.insert(s.as_str().to_string(), 0);
        }
        let mut shard: Option<OpenShard> = None;
        let mut next_index = 0u32;
        let (mut busy, mut waited) = (Duration::ZERO, Duration::ZERO);
        for chunk in rx {
            let started = Instant::now();
            for Processed { mut row, windows } in chunk {
                summary.rows += 1;
                let status = row.status.unwrap_or(Status::ParseError);
                *summary.status_counts.entry(status.as_str().to_string()).or_default() += 1;
                if !windows.is_empty() {
                    if shard.is_none() {
                        let path = self.out_dir.join(shard_file_name(next_index));
                        shard = Some(OpenShard {
                            index: next_index,
                            writer: SequenceWriter::create(&path)?,
                            seen: HashSet::new(),
                            variants: 0,
                        });
                        next_index += 1;
                    }
                    let Some(open) = shard.as_mut() else { unreachable!() };
                    row.shard = Some(open.index);
                    open.variants += 1;
                    for w in windows {
                        if open.seen.insert(w.seq_id.clone()) {
                            open.writer.push_row(w)?;
                        }
                    }
                    if open.variants as usize >= self.shard_size {
                        summary.shards.push(close_shard(shard.take(), stages, &mut waited)?);
                    }
                }
                self.variants.push(row)?;
            }
            busy += started.elapsed();
        }
        let started = Instant::now();
        if shard.is_some() {
            summary.shards.push(close_shard(shard, stages, &mut waited)?);
        }
        self.variants.finish()?;
        busy += started.elapsed();
        stages.add("write", busy.saturating_sub(waited));
        Ok(summary)
    }
}

/// Closes a shard, adding its encoding time to the `write` stage and the time waited for it to `waited`.
fn close_shard(shard: Option<OpenShard>, stages: &Stages, waited: &mut Duration) -> anyhow::Result<ShardInfo> {
    let Some(open) = shard else { anyhow::bail!("no open shard") };
    let (sequences, times) = open.writer.finish_timed()?;
    stages.add("write", times.encoding);
    *waited += times.waited;
    Ok(ShardInfo { shard: open.index, path: shard_file_name(open.index), variants: open.variants, sequences })
}
