//! One function per subcommand: flags → options → library call → a short report on stderr.

use std::path::PathBuf;

use super::{CheckArgs, ExportArgs, ExtractArgs, MergeArgs, NamespaceArgs, PlotArgs, PredictArgs, ReportArgs, RunArgs};
use crate::cache::legacy::LegacyCache;
use crate::check_cache::{check_cache, CheckOptions};
use crate::extract::{extract_seqs, Manifest};
use crate::merge::{merge as merge_step, MergeOptions};
use crate::predict::{predict as predict_step, PredictOptions};
use crate::progress::ProgressMode;
use crate::run::{run_pipeline, RunOptions};

fn print_extract(m: &Manifest, out_dir: &std::path::Path) {
    let statuses: Vec<String> =
        m.status_counts.iter().filter(|(_, n)| **n > 0).map(|(s, n)| format!("{s} {n}")).collect();
    eprintln!("extract-seqs: read {} as {} ({})", m.variants_input, m.input_format, m.columns);
    eprintln!(
        "extract-seqs: {} rows: {}; {} filtered out; {} shards, {} sequences -> {}",
        m.rows,
        if statuses.is_empty() { "none".to_string() } else { statuses.join(", ") },
        m.filtered.total(),
        m.shards.len(),
        m.shards.iter().map(|s| s.sequences).sum::<u64>(),
        out_dir.display()
    );
    for w in &m.warnings {
        eprintln!("warning: {w}");
    }
}

pub fn extract(a: ExtractArgs, mode: ProgressMode) -> anyhow::Result<i32> {
    let opts = a.input.extract_options(a.out_dir, a.window)?;
    let m = extract_seqs(&opts, mode)?;
    print_extract(&m, &opts.out_dir);
    Ok(0)
}

pub fn namespace(a: NamespaceArgs) -> anyhow::Result<i32> {
    if let Some(given) = &a.model.namespace_file {
        eprintln!("error: --namespace-file {} is what `namespace` writes (with --out); leave it out", given.display());
        return Ok(2);
    }
    let record = a.model.namespace_record()?;
    let json = serde_json::to_vec_pretty(&record)?;
    crate::fsutil::write_atomic(&a.out, &json).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", a.out.display()))?;
    eprintln!(
        "namespace: {} (model SHA-256 {}) -> {}",
        record.namespace,
        record.fingerprint.model_sha256,
        a.out.display()
    );
    println!("{}", String::from_utf8_lossy(&json));
    Ok(0)
}

pub fn check(a: CheckArgs, mode: ProgressMode) -> anyhow::Result<i32> {
    let opts = CheckOptions {
        fingerprint: a.model.fingerprint()?,
        shard: a.shard,
        cache: a.cache,
        out: a.out,
        summary: a.summary,
        legacy: legacy_cache(a.legacy_cache.as_deref())?,
    };
    let s = check_cache(&opts, mode)?;
    let legacy = if opts.legacy.is_some() { format!(" ({} of them legacy)", s.legacy) } else { String::new() };
    eprintln!(
        "check-cache: {} sequences, {} cached{legacy}, {} missing -> {}",
        s.sequences, s.cached, s.missing, s.todo
    );
    println!(
        "{}",
        serde_json::json!({"sequences": s.sequences, "cached": s.cached, "missing": s.missing, "legacy": s.legacy})
    );
    Ok(0)
}

fn legacy_cache(dir: Option<&std::path::Path>) -> anyhow::Result<Option<LegacyCache>> {
    dir.map(|d| LegacyCache::open(d).map_err(|e| anyhow::anyhow!("--legacy-cache: {e}"))).transpose()
}

fn default_manifest(sequences: &std::path::Path) -> PathBuf {
    let stem = sequences.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "sequences".into());
    sequences.with_file_name(format!("{stem}.predict.parquet"))
}

pub fn predict(a: PredictArgs, threads: Option<usize>, mode: ProgressMode) -> anyhow::Result<i32> {
    // Before hashing the model (a 1 GB read for Enformer): predict cannot do anything without the library.
    crate::model::runtime::locate()?;
    let opts = PredictOptions {
        fingerprint: a.model.fingerprint()?,
        model_options: a.model.model_options(a.runtime.device()?, threads),
        manifest: a.manifest.unwrap_or_else(|| default_manifest(&a.sequences)),
        sequences: a.sequences,
        model: a.model.model.clone(),
        cache: a.cache,
        batch_size: a.runtime.batch_size,
        center_bins: a.model.center_bins,
        summary: a.summary,
    };
    let s = predict_step(&opts, mode)?;
    for w in &s.warnings {
        eprintln!("warning: {w}");
    }
    eprintln!(
        "predict: {} sequences: computed {}, cached {}, failed {} ({:.2} sequences/s on {}) -> {}",
        s.sequences, s.computed, s.cached, s.failed, s.sequences_per_second, s.device, s.manifest
    );
    println!("{}", serde_json::json!({"computed": s.computed, "cached": s.cached, "failed": s.failed}));
    Ok(if s.failed > 0 { 1 } else { 0 })
}

pub fn merge(a: MergeArgs, mode: ProgressMode) -> anyhow::Result<i32> {
    let opts = MergeOptions {
        fingerprint: a.model.fingerprint()?,
        stats: a.score.stats()?,
        variants: a.variants,
        cache: a.cache,
        out: a.out,
        targets: a.score.targets,
        tracks: a.score.tracks,
        center_bins: a.model.center_bins,
        legacy: legacy_cache(a.legacy_cache.as_deref())?,
    };
    let r = merge_step(&opts, mode)?;
    if let Some(path) = &a.summary {
        let json = serde_json::to_vec_pretty(&r)?;
        crate::fsutil::write_atomic(path, &json)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    eprintln!("merge: {} of {} variants scored over {} tracks -> {}", r.scored, r.rows_in, r.tracks, r.out);
    Ok(0)
}

pub fn run_all(a: RunArgs, threads: Option<usize>, mode: ProgressMode) -> anyhow::Result<i32> {
    let work_dir = a.work_dir.clone().unwrap_or_else(|| {
        let mut s = a.out.clone().into_os_string();
        s.push(".work");
        PathBuf::from(s)
    });
    // Before anything is written to the work folder (the model digest's memo included).
    crate::merge::check_stats_for_store(a.model.store, &a.score.stats)?;
    crate::run::check_runtime_up_front(&a.cache, a.legacy_cache.is_some())?;
    let opts = RunOptions {
        extract: a.input.extract_options(work_dir.join("extract"), a.model.window)?,
        cache: a.cache,
        model: a.model.model.clone(),
        fingerprint: a.model.fingerprint_remembered(&work_dir.join("namespace.json"))?,
        model_options: a.model.model_options(a.runtime.device()?, threads),
        batch_size: a.runtime.batch_size,
        center_bins: a.model.center_bins,
        stats: a.score.stats()?,
        targets: a.score.targets,
        tracks: a.score.tracks,
        out: a.out,
        work_dir,
        legacy: legacy_cache(a.legacy_cache.as_deref())?,
        remove_work: a.remove_work,
    };
    let r = run_pipeline(&opts, mode)?;
    print_extract(&r.extract, &opts.extract.out_dir);
    for w in r.warnings.iter().chain(&r.merge.warnings) {
        eprintln!("warning: {w}");
    }
    eprintln!(
        "run: {} sequences: computed {}, cached {}, failed {}; {} variants scored over {} tracks -> {}",
        r.sequences, r.computed, r.cached, r.failed, r.merge.scored, r.merge.tracks, r.merge.out
    );
    println!(
        "{}",
        serde_json::json!({"computed": r.computed, "cached": r.cached, "failed": r.failed, "scored": r.merge.scored})
    );
    Ok(if r.failed > 0 { 1 } else { 0 })
}

pub fn report(a: ReportArgs) -> anyhow::Result<i32> {
    let opts = crate::report::ReportOptions {
        scores: a.scores,
        out: a.out,
        manifest: a.manifest,
        work_dir: a.work_dir,
        stat: a.stat.map(|s| s.name().to_string()),
        class: a.class,
        top: a.top,
        loci: a.loci,
        locus_radius: a.locus_radius as u64,
    };
    let r = crate::report::report(&opts)?;
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    eprintln!("report: {} variants, {} loci, {} KB -> {}", r.variants, r.loci, r.bytes.div_ceil(1024), r.out);
    Ok(0)
}

pub fn plot(a: PlotArgs) -> anyhow::Result<i32> {
    let opts = crate::plot::PlotOptions {
        scores: a.scores,
        cache: a.cache,
        variants: a.variant,
        tracks: a.track,
        top_tracks: a.top_tracks,
        out_dir: a.out_dir,
    };
    let r = crate::plot::plot(&opts)?;
    for (svg, png) in &r.files {
        eprintln!("plot: {svg}, {png}");
    }
    Ok(0)
}

pub fn export(a: ExportArgs) -> anyhow::Result<i32> {
    let opts = crate::export::ExportOptions { scores: a.scores, out: a.out, tracks: a.track, format: a.format };
    match crate::export::export(&opts) {
        Ok(r) => {
            eprintln!(
                "export: {} variants × {} tracks = {} rows ({}) -> {}",
                r.variants,
                r.tracks,
                r.rows,
                r.stats.join(", "),
                r.out
            );
            Ok(0)
        }
        // A selector or an output name the command cannot use: a usage error, as clap's own.
        Err(e) if e.is_usage() => {
            eprintln!("error: {e}");
            Ok(2)
        }
        Err(e) => Err(e.into()),
    }
}
