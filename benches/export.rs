//! `export` at GWAS scale (issue 13): a generated scores.parquet of `BENCH_VARIANTS` (default 20,000) variants
//! × `BENCH_TRACKS` (default 5,313) tracks, SAD as a list column with the variant columns and the track
//! metadata merge writes, then `enformer-vep export` run as a child process under GNU time for a few track
//! selections: rows written, wall time, output size and peak RSS (which should not grow with the variants).
//!
//! `cargo bench --bench export` (env: BENCH_VARIANTS, BENCH_TRACKS)

use std::sync::Arc;
use std::time::Instant;

use arrow_array::builder::{Float32Builder, Int64Builder, ListBuilder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use common::env_or;
use enformer_vep::demo::Rng;
use enformer_vep::merge::summary::CLASSES;

mod common;

fn main() -> anyhow::Result<()> {
    let (n, tracks) = (env_or("BENCH_VARIANTS", 20_000), env_or("BENCH_TRACKS", 5313));
    let dir = tempfile::tempdir()?;
    let scores = dir.path().join("scores.parquet");
    let text = |name: &str, nullable| Field::new(name, DataType::Utf8, nullable);
    let list = DataType::List(Arc::new(Field::new("item", DataType::Float32, true)));
    let schema = Arc::new(Schema::new(vec![
        text("id", true),
        text("chrom", true),
        Field::new("pos", DataType::Int64, true),
        text("ref", true),
        text("alt", true),
        text("status", false),
        Field::new("SAD", list, false),
    ]));
    let kept: Vec<serde_json::Value> = (0..tracks)
        .map(|t| {
            serde_json::json!({"channel": t, "identifier": format!("ENCFF{t:06}"),
                               "description": format!("{}:sample {t}", CLASSES[t % 4])})
        })
        .collect();
    let kv = vec![
        KeyValue::new("enformer_vep.stats".into(), "SAD".to_string()),
        KeyValue::new("enformer_vep.tracks".into(), serde_json::to_string(&kept)?),
    ];
    // As merge writes it: zstd, no dictionary, the writer's default row-group size.
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .set_dictionary_enabled(false)
        .set_key_value_metadata(Some(kv))
        .build();
    let t0 = Instant::now();
    let mut w = ArrowWriter::try_new(std::fs::File::create(&scores)?, schema.clone(), Some(props))?;
    let mut rng = Rng::new(13);
    const BATCH: usize = 256;
    for start in (0..n).step_by(BATCH) {
        let rows = BATCH.min(n - start);
        let mut s: Vec<StringBuilder> = (0..5).map(|_| StringBuilder::new()).collect();
        let mut pos = Int64Builder::new();
        let mut sad = ListBuilder::new(Float32Builder::with_capacity(rows * tracks));
        for k in start..start + rows {
            for (b, v) in s.iter_mut().zip([format!("rs{k}"), (1 + k % 22).to_string(), "A".into(), "G".into()]) {
                b.append_value(v);
            }
            s[4].append_value("ok");
            pos.append_value(1 + k as i64 * 1_000);
            for _ in 0..tracks {
                sad.values().append_value(((rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.1);
            }
            sad.append(true);
        }
        let mut columns: Vec<ArrayRef> = s.iter_mut().take(4).map(|b| Arc::new(b.finish()) as ArrayRef).collect();
        columns.insert(2, Arc::new(pos.finish()));
        columns.push(Arc::new(s[4].finish()));
        columns.push(Arc::new(sad.finish()));
        w.write(&RecordBatch::try_new(schema.clone(), columns)?)?;
    }
    w.close()?;
    println!(
        "generated {n} variants × {tracks} tracks (SAD lists): {:.0} MB in {:.1} s",
        std::fs::metadata(&scores)?.len() as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );
    let positions = |k: usize| -> Vec<String> { (0..k).flat_map(|i| ["--track".to_string(), i.to_string()]).collect() };
    let cage = vec!["--track".to_string(), "^CAGE:".to_string()];
    for (label, selectors, out) in [
        ("one track → TSV", positions(1), "one.tsv"),
        ("10 tracks → TSV", positions(10), "ten.tsv"),
        ("10 tracks → Parquet", positions(10), "ten.parquet"),
        ("CAGE (a quarter of the tracks) → Parquet", cage, "cage.parquet"),
    ] {
        let out = dir.path().join(out);
        let t = Instant::now();
        let o = std::process::Command::new("/usr/bin/time")
            .args(["-f", "maxrss_kb=%M", env!("CARGO_BIN_EXE_enformer-vep"), "--quiet", "export", "--scores"])
            .arg(&scores)
            .arg("--out")
            .arg(&out)
            .args(&selectors)
            .output()?;
        let wall = t.elapsed().as_secs_f64();
        let err = String::from_utf8_lossy(&o.stderr);
        let rss = err.lines().find_map(|l| l.strip_prefix("maxrss_kb=")).and_then(|v| v.trim().parse::<f64>().ok());
        let said = err.lines().find(|l| l.starts_with("export:")).unwrap_or("").to_string();
        anyhow::ensure!(o.status.success(), "{label}: {err}");
        println!(
            "{label}: {said}; {wall:.1} s, {:.0} MB out, peak RSS {:.0} MB",
            std::fs::metadata(&out)?.len() as f64 / 1e6,
            rss.map_or(f64::NAN, |kb| kb / 1024.0)
        );
        std::fs::remove_file(&out)?;
    }
    Ok(())
}
