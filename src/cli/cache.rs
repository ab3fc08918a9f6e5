//! `enformer-vep cache ...`: stats, verify, gc, import-legacy (flags → library call → report).

use std::path::{Path, PathBuf};

use clap::{ArgGroup, Args, Subcommand};

use super::ModelArgs;
use crate::cache::fingerprint::sha256_file;
use crate::cache::import::{import_legacy, ImportOptions};
use crate::cache::maintenance::{self, human_bytes, GcOptions, VerifyOptions};
use crate::model::{Device, Model};
use crate::progress::ProgressMode;
use crate::window::is_seq_id;

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Entries and bytes per namespace (model fingerprint and store mode), oldest/newest, debris counts.
    Stats(StatsArgs),
    /// Read and check every entry (checksum, dtype, shape); list bad ones; exit 1 if any.
    Verify(VerifyArgs),
    /// Remove other models' namespaces and/or entries older than a duration.
    Gc(GcArgs),
    /// Import the legacy Python tool's {sha256}.pkl.gz entries into a namespace.
    ImportLegacy(ImportLegacyArgs),
}

#[derive(Debug, Args)]
#[command(args_override_self = true)]
pub struct StatsArgs {
    /// Cache folder.
    #[arg(long, value_name = "DIR")]
    pub cache: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(args_override_self = true)]
pub struct VerifyArgs {
    /// Cache folder.
    #[arg(long, value_name = "DIR")]
    pub cache: PathBuf,
    /// Only the namespaces of this model file (any head or store mode); default: every namespace.
    #[arg(long, value_name = "MODEL.onnx")]
    pub model: Option<PathBuf>,
    /// Remove the bad entries (recomputed by the next predict), stale temp files and moved-aside corrupt entries.
    #[arg(long)]
    pub fix: bool,
}

#[derive(Debug, Args)]
#[command(args_override_self = true)]
#[command(group(ArgGroup::new("what").required(true).multiple(true).args(["keep_model", "older_than"])))]
pub struct GcArgs {
    /// Cache folder.
    #[arg(long, value_name = "DIR")]
    pub cache: PathBuf,
    /// Keep the namespaces of these models (ONNX file, or its SHA-256; repeat the flag for several: a path is
    /// never split at a comma), remove every other namespace.
    #[arg(long, value_name = "MODEL.onnx")]
    pub keep_model: Vec<String>,
    /// Remove entries written longer ago than this: 45s, 90m, 12h, 30d, 2w.
    #[arg(long, value_name = "AGE", value_parser = duration)]
    pub older_than: Option<String>,
    /// Report what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
#[command(args_override_self = true)]
pub struct ImportLegacyArgs {
    /// The legacy cache folder ({sha256}.pkl.gz files); only read.
    #[arg(long, value_name = "OLD_DIR")]
    pub from: PathBuf,
    /// Cache folder to import into.
    #[arg(long, value_name = "DIR")]
    pub cache: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    /// JSON report (counts, every failed file with its reason, ignored files).
    #[arg(long, value_name = "S.json")]
    pub summary: Option<PathBuf>,
}

/// `--older-than` is checked by clap (a bad one is a usage error, exit 2) and kept as written.
fn duration(s: &str) -> Result<String, String> {
    maintenance::parse_duration(s).map(|_| s.to_string()).map_err(|e| e.to_string())
}

pub fn run(cmd: CacheCommand, mode: ProgressMode) -> anyhow::Result<i32> {
    match cmd {
        CacheCommand::Stats(a) => stats(a),
        CacheCommand::Verify(a) => verify(a, mode),
        CacheCommand::Gc(a) => gc(a),
        CacheCommand::ImportLegacy(a) => import(a, mode),
    }
}

fn stats(a: StatsArgs) -> anyhow::Result<i32> {
    let s = maintenance::stats(&a.cache)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        print!("{}", s.table());
    }
    Ok(0)
}

fn model_sha(model: &Path) -> anyhow::Result<String> {
    sha256_file(model).map_err(|e| anyhow::anyhow!("cannot read model {}: {e}", model.display()))
}

fn verify(a: VerifyArgs, mode: ProgressMode) -> anyhow::Result<i32> {
    let opts =
        VerifyOptions { cache: a.cache, model_sha256: a.model.as_deref().map(model_sha).transpose()?, fix: a.fix };
    let r = maintenance::verify(&opts, mode)?;
    for b in &r.bad_namespaces {
        eprintln!("bad namespace: {}: {}", b.path, b.reason);
    }
    for b in &r.bad {
        eprintln!("bad entry: {}: {}", b.path, b.reason);
    }
    for b in &r.unreadable {
        eprintln!("unreadable entry: {}: {}", b.path, b.reason);
    }
    for b in &r.not_regular {
        eprintln!("not a cache file: {}: {}", b.path, b.reason);
    }
    for p in &r.stale_temp_files {
        eprintln!("stale temp file (a crashed writer's): {p}");
    }
    for p in &r.corrupt_files {
        eprintln!("corrupt entry moved aside earlier: {p}");
    }
    for p in &r.other_files {
        eprintln!("note: not a cache file (left alone): {p}");
    }
    for p in &r.changed {
        eprintln!("note: {p} changed after it was checked (a new copy?): left in place; run verify again to check it");
    }
    for b in &r.remove_errors {
        eprintln!("error: cannot remove {}: {}", b.path, b.reason);
    }
    let fixable = r.bad.len() + r.stale_temp_files.len() + r.corrupt_files.len();
    let hint = if !a.fix && fixable > 0 {
        "; fix: rerun with --fix to remove them (predict recomputes removed entries)"
    } else {
        ""
    };
    eprintln!(
        "cache verify: {} namespace(s), {} entries checked, {} ok{}, {} bad, {} unreadable, {} not regular files, {} stale temp, {} moved-aside corrupt{}{hint}",
        r.namespaces,
        r.checked,
        r.ok,
        if r.unbound > 0 {
            format!(" ({} of them without identity: written before entries carried their key; read unchecked)", r.unbound)
        } else {
            String::new()
        },
        r.bad.len(),
        r.unreadable.len(),
        r.not_regular.len(),
        r.stale_temp_files.len(),
        r.corrupt_files.len(),
        if a.fix { format!("; removed {}", r.removed) } else { String::new() },
    );
    println!(
        "{}",
        serde_json::json!({
            "checked": r.checked, "ok": r.ok, "unbound": r.unbound, "bad": r.bad.len(), "unreadable": r.unreadable.len(),
            "not_regular": r.not_regular.len(), "bad_namespaces": r.bad_namespaces.len(),
            "stale_temp_files": r.stale_temp_files.len(), "corrupt_files": r.corrupt_files.len(), "removed": r.removed,
            "changed": r.changed.len(),
        })
    );
    Ok(if r.failed(a.fix) { 1 } else { 0 })
}

fn gc(a: GcArgs) -> anyhow::Result<i32> {
    let keep_models = a
        .keep_model
        .iter()
        .map(|m| {
            let p = Path::new(m);
            if !p.exists() && is_seq_id(m) {
                Ok(m.clone())
            } else {
                model_sha(p).map_err(|e| e.context("--keep-model takes an ONNX file or its SHA-256"))
            }
        })
        .collect::<anyhow::Result<Vec<String>>>()?;
    let older_than = a.older_than.as_deref().map(maintenance::parse_duration).transpose()?;
    let r = maintenance::gc(&GcOptions { cache: a.cache, keep_models, older_than, dry_run: a.dry_run })?;
    let verb = if r.dry_run { "would remove" } else { "removed" };
    for n in &r.namespaces_removed {
        eprintln!(
            "cache gc: {verb} namespace {} (model {}, {} {}): {} entries, {}",
            n.id,
            &n.model_sha256[..12.min(n.model_sha256.len())],
            n.head,
            n.store,
            n.entries,
            human_bytes(n.bytes)
        );
    }
    for u in &r.unidentified_namespaces {
        eprintln!("cache gc: kept {u}: no readable fingerprint.json, so its model is unknown (remove it by hand)");
    }
    for e in &r.errors {
        eprintln!("error: cannot remove {}: {}", e.path, e.reason);
    }
    eprintln!(
        "cache gc: {verb} {} namespace(s), {} old entries, {} stale temp files, {} moved-aside corrupt entries: {} freed{}",
        r.namespaces_removed.len(),
        r.entries_removed,
        r.temp_files_removed,
        r.corrupt_files_removed,
        human_bytes(r.bytes_freed),
        if r.dry_run { " (dry run: nothing removed)" } else { "" }
    );
    println!(
        "{}",
        serde_json::json!({
            "dry_run": r.dry_run, "namespaces_removed": r.namespaces_removed.len(), "entries_removed": r.entries_removed,
            "temp_files_removed": r.temp_files_removed, "corrupt_files_removed": r.corrupt_files_removed,
            "bytes_freed": r.bytes_freed,
        })
    );
    Ok(if r.errors.is_empty() { 0 } else { 1 })
}

fn import(a: ImportLegacyArgs, mode: ProgressMode) -> anyhow::Result<i32> {
    // Legacy entries are the monolithic model's numbers: filing them under a split model would mix the two.
    anyhow::ensure!(
        !crate::model::split::is_manifest(&a.model.model),
        "{} is a split model, but legacy entries were computed by a monolithic model; fix: import them with \
         --model set to the monolithic .onnx file",
        a.model.model.display()
    );
    let fingerprint = a.model.fingerprint()?;
    // The output shape comes from the model's contract, as for predict (one CPU thread: nothing is run).
    let model = Model::load(&a.model.model, &a.model.model_options(Device::Cpu, Some(1)))?;
    let (bins, tracks) = (model.bins, model.tracks);
    drop(model);
    let opts = ImportOptions {
        from: a.from,
        cache: a.cache,
        fingerprint,
        bins,
        tracks,
        center_bins: a.model.center_bins,
        summary: a.summary,
    };
    let r = import_legacy(&opts, mode)?;
    for f in &r.failures {
        eprintln!("skipped {}: {}", f.path, f.reason);
    }
    if r.ignored > 0 {
        let shown: Vec<&str> = r.ignored_files.iter().take(5).map(String::as_str).collect();
        eprintln!(
            "note: {} file(s) in {} are not {{64 hex}}.pkl.gz entries and were not read (e.g. {})",
            r.ignored,
            opts.from.display(),
            shown.join(", ")
        );
    }
    eprintln!(
        "cache import-legacy: {} legacy entries: imported {}, already cached {}, failed {} -> {}",
        r.legacy_files, r.imported, r.skipped_existing, r.failed, r.cache_namespace
    );
    println!(
        "{}",
        serde_json::json!({"imported": r.imported, "skipped_existing": r.skipped_existing, "failed": r.failed, "ignored": r.ignored})
    );
    Ok(if r.failed > 0 { 1 } else { 0 })
}
