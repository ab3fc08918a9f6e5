//! Throughput of `extract-seqs` and `check-cache`, each printed as a ratio against a baseline measured in the
//! same process (machines here are shared and noisy: absolute numbers drift, ratios much less).
//!
//! `cargo bench --bench pipeline` (env: BENCH_SNPS=10000, BENCH_GENOME_MB=50, BENCH_RUNS=3,
//! BENCH_CACHE_ENTRIES=1000000; BENCH_CACHE_ENTRIES=0 skips check-cache)

use std::path::Path;
use std::time::Instant;

use common::env_or;
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

mod common;

fn main() -> anyhow::Result<()> {
    let snps = env_or("BENCH_SNPS", 10_000);
    let genome_mb = env_or("BENCH_GENOME_MB", 50) as u64;
    let entries = env_or("BENCH_CACHE_ENTRIES", 1_000_000);
    let runs = env_or("BENCH_RUNS", 3).max(1);
    // As the binary does at startup.
    enformer_vep::allocator::keep_large_buffers();
    let tmp = tempfile::tempdir()?;
    println!("enformer-vep pipeline benchmark ({} threads)", rayon::current_num_threads());
    bench_extract(tmp.path(), snps, genome_mb, runs)?;
    if entries > 0 {
        bench_check_cache(entries)?;
    }
    Ok(())
}

/// CPU seconds (user + system) used by this process so far, all threads: unlike wall time, it hardly depends on
/// what else the machine is running.
fn cpu_secs() -> f64 {
    // SAFETY: getrusage writes into the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// min, median, max
fn spread(mut xs: Vec<f64>) -> (f64, f64, f64) {
    xs.sort_by(f64::total_cmp);
    (xs[0], xs[xs.len() / 2], xs[xs.len() - 1])
}

fn bench_extract(dir: &Path, snps: usize, genome_mb: u64, runs: usize) -> anyhow::Result<()> {
    let t = Instant::now();
    let files = enformer_vep::demo::write_demo(dir, genome_mb * 1_000_000, snps)?;
    println!(
        "\n## extract-seqs: {snps} SNPs on a generated {genome_mb} Mb genome (generated in {:.1}s), {runs} runs",
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
    // Build the .fai outside the timed runs.
    let genome = Genome::open(&files.genome)?;
    // Baseline: SHA-256 alone of the same number of windows (each hashed whole), on all cores. Windows are
    // read first so that only hashing is timed.
    let sample: Vec<Vec<u8>> = (0..64)
        .map(|i| {
            let mut w = Vec::new();
            genome.fetch(0, 1_000_000 + i * 7_919, spec.len(), &mut w).map(|_| w)
        })
        .collect::<Result<_, _>>()?;
    let hash_once = |windows: usize| {
        let (t, cpu) = (Instant::now(), cpu_secs());
        let digests: Vec<String> = (0..windows).into_par_iter().map(|i| seq_id(&sample[i % sample.len()])).collect();
        assert_eq!(digests.len(), windows);
        (t.elapsed().as_secs_f64(), cpu_secs() - cpu)
    };

    // Extract and hashing alone alternate, so that both see the same machine load; each ratio is of one pair.
    let (mut extract_secs, mut hash_secs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut cpu_ratios = Vec::new();
    let mut cpu_us = Vec::new();
    let mut manifest = None;
    let mut windows = 0;
    for _ in 0..runs {
        let (t, cpu) = (Instant::now(), cpu_secs());
        let m = extract_seqs(&opts, ProgressMode::Quiet)?;
        let (secs, cpu) = (t.elapsed().as_secs_f64(), cpu_secs() - cpu);
        windows = m.shards.iter().map(|s| s.sequences).sum::<u64>() as usize;
        let (h, hcpu) = hash_once(windows);
        extract_secs.push(secs);
        hash_secs.push(h);
        ratios.push(secs / h);
        cpu_ratios.push(cpu / hcpu);
        cpu_us.push(cpu / windows as f64 * 1e6);
        manifest = Some(m);
    }
    let manifest = manifest.expect("ran");
    let ok = manifest.status_counts["ok"] as usize;

    // Second baseline: reading the windows alone (mmap + .fai), single thread.
    let t = Instant::now();
    let mut w = Vec::new();
    for i in 0..ok.min(2000) {
        genome.fetch(0, (i * 977) as i64, spec.len(), &mut w)?;
        std::hint::black_box(&w);
    }
    let read_us = t.elapsed().as_secs_f64() / ok.min(2000) as f64 * 1e6;

    let raw_bytes = windows as u64 * spec.len() as u64;
    let disk_bytes: u64 = manifest
        .shards
        .iter()
        .map(|s| std::fs::metadata(opts.out_dir.join(&s.path)).map(|m| m.len()).unwrap_or(0))
        .sum();
    let rate = |secs: Vec<f64>| {
        let (lo, mid, hi) = spread(secs.iter().map(|s| windows as f64 / s).collect());
        format!("min {lo:.0} / median {mid:.0} / max {hi:.0} windows/s")
    };
    println!("windows per run: {windows} ({ok} SNPs scored)");
    println!("extract-seqs:    {} (target >= 5000)", rate(extract_secs));
    println!("hashing alone:   {}", rate(hash_secs));
    let (lo, mid, hi) = spread(ratios);
    println!("ratio extract/hash-only time, per run pair: min {lo:.2}x / median {mid:.2}x / max {hi:.2}x");
    let (lo, mid, hi) = spread(cpu_ratios);
    println!(
        "ratio extract/hash-only CPU time (user+sys), per run pair: min {lo:.2}x / median {mid:.2}x / max {hi:.2}x"
    );
    let (lo, mid, hi) = spread(cpu_us);
    println!("extract-seqs CPU per window: min {lo:.0} / median {mid:.0} / max {hi:.0} us");
    println!("stage times of the last run: {}", manifest.timing);
    println!("window read (mmap + .fai): {read_us:.1} us/window, single thread");
    println!(
        "shards on disk: {:.1} MB for {:.1} MB of windows ({:.2}%), {:.0} bytes/window",
        disk_bytes as f64 / 1e6,
        raw_bytes as f64 / 1e6,
        100.0 * disk_bytes as f64 / raw_bytes as f64,
        disk_bytes as f64 / windows as f64
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
