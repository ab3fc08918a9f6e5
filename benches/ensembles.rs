//! Indels and ensembles (issue 9): what `--rc` and `--shifts` cost, as ratios measured in one run.
//!
//! - extract-seqs windows/s and sequences per variant for SNVs and indels × {plain, `--rc`,
//!   `--rc --shifts=-1,0,1`}, each against the plain SNV run;
//! - merge time per variant with `--rc --shifts=-1,0,1` against plain, on synthetic float32 entries (all
//!   members present; `BENCH_TRACKS` tracks, default 256, so the cache fits on a laptop).
//!
//! Each timing is run `BENCH_REPEATS` times (default 3): min / median / max.
//! `cargo bench --bench ensembles` (env: BENCH_VARIANTS=2000, BENCH_MERGE_VARIANTS=100)

use std::path::{Path, PathBuf};
use std::time::Instant;

use common::env_or;
use enformer_vep::cache::{entry, Cache, Fingerprint, NEncoding, StoreMode};
use enformer_vep::ensemble::Ensemble;
use enformer_vep::extract::{extract_seqs, ExtractOptions, Filters, DEFAULT_MAX_ALLELE_LEN};
use enformer_vep::genome::Genome;
use enformer_vep::merge::{merge, MergeOptions};
use enformer_vep::progress::ProgressMode;
use enformer_vep::score::Stat;
use enformer_vep::tables::variants::VariantReader;
use enformer_vep::variants::ColumnOverrides;
use enformer_vep::window::{OutputGeometry, WindowSpec};

mod common;

fn stats(mut t: Vec<f64>) -> (f64, f64, f64) {
    t.sort_by(f64::total_cmp);
    (t[0], t[t.len() / 2], t[t.len() - 1])
}

/// A Kunkle-layout table of `n` SNVs or `n` indels (insertions and deletions of 1–12 bp, alternating) drawn
/// from the demo genome's first contig.
fn table(dir: &Path, genome: &Path, n: usize, indels: bool) -> anyhow::Result<PathBuf> {
    let g = Genome::open(genome)?;
    let len = g.contigs()[0].length as i64;
    let mut text = String::from("Chromosome Position MarkerName Effect_allele Non_Effect_allele Beta SE Pvalue\n");
    let mut w = Vec::new();
    let mut made = 0;
    let mut pos = 200_000i64;
    while made < n && pos + 100 < len {
        pos += 997;
        g.fetch(0, pos - 1, 16, &mut w)?;
        if w.iter().any(|b| !b"ACGT".contains(b)) {
            continue;
        }
        let base = w[0] as char;
        let k = 1 + made % 12;
        let (effect, other) = if !indels {
            (if base == 'A' { "G".to_string() } else { "A".to_string() }, base.to_string())
        } else if made % 2 == 0 {
            (format!("{base}{}", &"ACGT".repeat(3)[..k]), base.to_string())
        } else {
            (base.to_string(), String::from_utf8_lossy(&w[..=k]).into_owned())
        };
        text.push_str(&format!("1 {pos} v{made} {effect} {other} 0.1 0.01 1e-5\n"));
        made += 1;
    }
    let path = dir.join(if indels { "indels.txt" } else { "snvs.txt" });
    std::fs::write(&path, text)?;
    Ok(path)
}

fn extract(variants: &Path, genome: &Path, out: &Path, ensemble: &Ensemble) -> anyhow::Result<(f64, u64, f64)> {
    let opts = ExtractOptions {
        variants: variants.to_path_buf(),
        genome: genome.to_path_buf(),
        out_dir: out.to_path_buf(),
        shard_size: 1000,
        window: WindowSpec::default(),
        columns: ColumnOverrides::default(),
        filters: Filters::default(),
        ensemble: ensemble.clone(),
        max_allele_len: DEFAULT_MAX_ALLELE_LEN,
    };
    let t = Instant::now();
    let m = extract_seqs(&opts, ProgressMode::Quiet)?;
    let secs = t.elapsed().as_secs_f64();
    let ok = m.status_counts["ok"];
    let mut members = 0u64;
    for batch in VariantReader::open(&out.join("variants.parquet"))? {
        members += batch?.iter().filter_map(|r| r.sequences.as_ref()).map(|m| m.len() as u64).sum::<u64>();
    }
    Ok((secs, ok, members as f64 / ok.max(1) as f64))
}

fn main() -> anyhow::Result<()> {
    enformer_vep::allocator::keep_large_buffers();
    let n = env_or("BENCH_VARIANTS", 2000);
    let merge_n = env_or("BENCH_MERGE_VARIANTS", 100);
    let repeats = env_or("BENCH_REPEATS", 3).max(1);
    let tracks = env_or("BENCH_TRACKS", 256);
    let tmp = tempfile::tempdir()?;
    let files = enformer_vep::demo::write_demo(tmp.path(), 30_000_000, 10)?;
    Genome::open(&files.genome)?;
    println!("enformer-vep ensembles benchmark ({} threads, {repeats} runs each)", rayon::current_num_threads());
    let modes = [
        ("plain", Ensemble::default()),
        ("--rc", Ensemble::new(true, vec![0]).map_err(anyhow::Error::msg)?),
        ("--rc --shifts=-1,0,1", Ensemble::new(true, vec![-1, 0, 1]).map_err(anyhow::Error::msg)?),
    ];

    println!("\n## extract-seqs: {n} variants per table; windows/s relative to plain SNVs (median of runs)");
    println!(
        "{:<8} {:<22} {:>10} {:>12} {:>26} {:>8}",
        "type", "mode", "seq/var", "windows/s", "min/median/max s", "ratio"
    );
    let mut base_rate = None;
    for indels in [false, true] {
        let t = table(tmp.path(), &files.genome, n, indels)?;
        for (name, ens) in &modes {
            let mut times = Vec::new();
            let (mut ok, mut per) = (0, 0.0);
            for r in 0..repeats {
                let (secs, k, p) = extract(&t, &files.genome, &tmp.path().join(format!("x{r}")), ens)?;
                times.push(secs);
                (ok, per) = (k, p);
            }
            let (lo, med, hi) = stats(times);
            let rate = ok as f64 * per / med;
            let base = *base_rate.get_or_insert(rate);
            println!(
                "{:<8} {name:<22} {per:>10.1} {rate:>12.0} {:>26} {:>7.2}x",
                if indels { "indel" } else { "snv" },
                format!("{lo:.2} / {med:.2} / {hi:.2}"),
                rate / base
            );
        }
    }

    println!("\n## merge: {merge_n} indels, synthetic float32 entries of [896, {tracks}]; time per variant relative to plain");
    let t = table(tmp.path(), &files.genome, merge_n, true)?;
    let fp = Fingerprint::new("00".repeat(32), "human", NEncoding::Zeros, 196_608, StoreMode::Float32);
    let cache_dir = tmp.path().join("cache");
    let ns = Cache::open(&cache_dir)?.namespace(&fp);
    let center = OutputGeometry::enformer().center_bins(10);
    let mut plain_per = None;
    for (name, ens) in [&modes[0], &modes[2]] {
        let out = tmp.path().join(format!("m-{}", ens.members_per_role()));
        extract(&t, &files.genome, &out, ens)?;
        let mut entries = 0usize;
        for batch in VariantReader::open(&out.join("variants.parquet"))? {
            for row in batch? {
                for m in row.sequences.unwrap_or_default() {
                    if !ns.contains(&m.seq_id) {
                        let seed = m.seq_id.as_bytes()[0] as f32;
                        let o: Vec<f32> =
                            (0..896 * tracks).map(|i| ((i as f32 + seed) * 0.37).sin().abs() + 0.1).collect();
                        ns.write_entry(
                            &m.seq_id,
                            &entry::encode(
                                StoreMode::Float32,
                                &o,
                                896,
                                tracks,
                                center.clone(),
                                &ns.identity(&m.seq_id),
                            )?,
                        )?;
                        entries += 1;
                    }
                }
            }
        }
        let opts = MergeOptions {
            variants: vec![out.join("variants.parquet")],
            cache: cache_dir.clone(),
            fingerprint: fp.clone(),
            out: tmp.path().join("scores.parquet"),
            stats: Stat::ALL.to_vec(),
            targets: None,
            tracks: None,
            center_bins: 10,
            legacy: None,
        };
        let mut times = Vec::new();
        for _ in 0..repeats {
            let t = Instant::now();
            let r = merge(&opts, ProgressMode::Quiet)?;
            times.push(t.elapsed().as_secs_f64() / r.scored.max(1) as f64);
        }
        let (lo, med, hi) = stats(times);
        let base = *plain_per.get_or_insert(med);
        println!(
            "{name:<22} {:>6} new entries; ms/variant min/median/max {:.2} / {:.2} / {:.2}; {:.2}x plain",
            entries,
            lo * 1e3,
            med * 1e3,
            hi * 1e3,
            med / base
        );
    }
    println!(
        "(plain reads 3 entries per indel, --rc --shifts=-1,0,1 reads 18: a ratio near 6x is linear in entries read)"
    );
    Ok(())
}
