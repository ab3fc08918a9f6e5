//! Throughput of `extract-seqs` and `check-cache`, each printed as a ratio against a baseline measured in the
//! same process (machines here are shared and noisy: absolute numbers drift, ratios much less).
//!
//! `cargo bench --bench pipeline` (env: BENCH_SNPS=10000, BENCH_GENOME_MB=50, BENCH_CACHE_ENTRIES=1000000)

use std::path::Path;
use std::time::Instant;

use enformer_vep::cache::store::{Source, Store};
use enformer_vep::cache::{Cache, Fingerprint, NEncoding, StoreMode};
use enformer_vep::check_cache;
use enformer_vep::extract::{extract_seqs, ExtractOptions, Filters};
use enformer_vep::genome::Genome;
use enformer_vep::progress::Progress;
use enformer_vep::progress::ProgressMode;
use enformer_vep::variants::ColumnOverrides;
use enformer_vep::window::{seq_id, WindowSpec};
use rayon::prelude::*;
use sha2::Digest;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    let snps = env_or("BENCH_SNPS", 10_000) as usize;
    let genome_mb = env_or("BENCH_GENOME_MB", 50);
    let entries = env_or("BENCH_CACHE_ENTRIES", 1_000_000) as usize;
    let tmp = tempfile::tempdir()?;
    println!("enformer-vep pipeline benchmark ({} threads)", rayon::current_num_threads());
    bench_extract(tmp.path(), snps, genome_mb)?;
    bench_check_cache(entries)?;
    Ok(())
}

fn bench_extract(dir: &Path, snps: usize, genome_mb: u64) -> anyhow::Result<()> {
    let t = Instant::now();
    let files = enformer_vep::demo::write_demo(dir, genome_mb * 1_000_000, snps)?;
    println!(
        "\n## extract-seqs: {snps} SNPs on a generated {genome_mb} Mb genome (generated in {:.1}s)",
        t.elapsed().as_secs_f64()
    );
    let spec = WindowSpec::default();

    let opts = ExtractOptions {
        variants: files.variants.clone(),
        genome: files.genome.clone(),
        out_dir: dir.join("out"),
        shard_size: 1000,
        window: spec,
        columns: ColumnOverrides::default(),
        filters: Filters::default(),
        ensemble: Default::default(),
        max_allele_len: enformer_vep::extract::DEFAULT_MAX_ALLELE_LEN,
    };
    // Build the .fai outside the timed runs, then run extract twice and keep the faster run.
    Genome::open(&files.genome)?;
    let mut best = f64::INFINITY;
    let mut manifest = None;
    for _ in 0..2 {
        let t = Instant::now();
        manifest = Some(extract_seqs(&opts, ProgressMode::Quiet)?);
        best = best.min(t.elapsed().as_secs_f64());
    }
    let manifest = manifest.expect("ran");
    let ok = manifest.status_counts["ok"] as usize;
    let windows = 2 * ok;

    // Baseline: SHA-256 alone of the same number of windows (each hashed whole), on all cores. Windows are
    // read first so that only hashing is timed.
    let genome = Genome::open(&files.genome)?;
    let sample: Vec<Vec<u8>> = (0..64)
        .map(|i| {
            let mut w = Vec::new();
            genome.fetch(0, 1_000_000 + i * 7_919, spec.len(), &mut w).map(|_| w)
        })
        .collect::<Result<_, _>>()?;
    let t = Instant::now();
    let digests: Vec<String> = (0..windows).into_par_iter().map(|i| seq_id(&sample[i % sample.len()])).collect();
    let hash_secs = t.elapsed().as_secs_f64();
    assert_eq!(digests.len(), windows);

    // Second baseline: reading the windows alone (mmap + .fai), single thread.
    let t = Instant::now();
    let mut w = Vec::new();
    for i in 0..ok.min(2000) {
        genome.fetch(0, (i * 977) as i64, spec.len(), &mut w)?;
        std::hint::black_box(&w);
    }
    let read_us = t.elapsed().as_secs_f64() / ok.min(2000) as f64 * 1e6;

    let raw_bytes = manifest.shards.iter().map(|s| s.sequences).sum::<u64>() * spec.len() as u64;
    let disk_bytes: u64 = manifest
        .shards
        .iter()
        .map(|s| std::fs::metadata(opts.out_dir.join(&s.path)).map(|m| m.len()).unwrap_or(0))
        .sum();
    println!(
        "extract-seqs:   {windows} windows in {best:.2}s = {:.0} windows/s (target >= 5000)",
        windows as f64 / best
    );
    println!("hashing alone:  {windows} windows in {hash_secs:.2}s = {:.0} windows/s", windows as f64 / hash_secs);
    println!("ratio extract/hash-only time: {:.2}x (target <= 2x)", best / hash_secs);
    println!("window read (mmap + .fai): {read_us:.1} us/window, single thread");
    println!(
        "shard size on disk: {:.1} MB for {:.1} MB of windows ({:.1}%)",
        disk_bytes as f64 / 1e6,
        raw_bytes as f64 / 1e6,
        100.0 * disk_bytes as f64 / raw_bytes as f64
    );
    Ok(())
}

fn bench_check_cache(entries: usize) -> anyhow::Result<()> {
    println!("\n## check-cache: {entries} keys against a cache of {entries} entries");
    // The cache is kept under target/ between runs: creating a million files takes a while.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/bench-cache-{entries}"));
    let fp = Fingerprint::new("00".repeat(32), "human", NEncoding::Zeros, 196_608, StoreMode::Float32);
    let ns = Cache::open(&root)?.namespace(&fp);
    let key = |i: usize| hex::encode(sha2::Sha256::digest(i.to_le_bytes()));
    let marker = root.join("complete");
    if !marker.exists() {
        let t = Instant::now();
        (0..entries).into_par_iter().try_for_each(|i| {
            // Every other key is cached, so lookups see both answers.
            if i % 2 == 0 {
                let p = ns.entry_path(&key(i))?;
                if let Some(parent) = p.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(p, b"x")?;
            }
            anyhow::Ok(())
        })?;
        std::fs::write(&marker, b"")?;
        println!("(built the cache in {:.1}s)", t.elapsed().as_secs_f64());
    }
    let keys: Vec<String> = (0..entries).map(key).collect();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();

    let t = Instant::now();
    let seq: usize = refs.iter().filter(|k| ns.entry_path(k).map(|p| p.exists()).unwrap_or(false)).count();
    let seq_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let by_stat = ns.contains_many_by_stat(&refs);
    let stat_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let by_listing = ns.contains_many_by_listing(&refs);
    let listing_secs = t.elapsed().as_secs_f64();
    // What check-cache does, by the same function: parallel stat, LOOKUP_BATCH keys at a time.
    let store = Store::new(ns.clone(), None, 0);
    let t = Instant::now();
    let located = check_cache::locate(&store, &keys, &Progress::hidden());
    let streamed_secs = t.elapsed().as_secs_f64();
    let streamed: Vec<bool> = located.iter().map(|s| *s == Source::Ours).collect();
    let t = Instant::now();
    let auto = ns.contains_many(&refs);
    let auto_secs = t.elapsed().as_secs_f64();
    assert_eq!(by_stat, auto);
    assert_eq!(by_listing, auto);
    assert_eq!(streamed, auto);
    assert_eq!(seq, auto.iter().filter(|&&b| b).count());
    assert_eq!(seq, entries.div_ceil(2));
    let rate = |s: f64| entries as f64 / s;
    let line = |what: &str, secs: f64| {
        println!("{what:<44} {secs:.2}s = {:>9.0} keys/s ({:.1}x baseline)", rate(secs), seq_secs / secs)
    };
    println!("{:<44} {seq_secs:.2}s = {:>9.0} keys/s", "baseline, sequential Path::exists:", rate(seq_secs));
    line("parallel stat, all keys at once:", stat_secs);
    line("listing the 256 fan-out folders:", listing_secs);
    line(&format!("check-cache (parallel stat, {} at a time):", check_cache::LOOKUP_BATCH), streamed_secs);
    line("contains_many on all keys (merge):", auto_secs);
    Ok(())
}
