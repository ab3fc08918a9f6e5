//! `report` at GWAS scale (issue 13): a generated scores.parquet of `BENCH_VARIANTS` (default 100,000)
//! variants × `BENCH_TRACKS` (default 5,313) tracks, one statistic (SAD) as a list column plus the
//! at-a-glance columns (all tracks and the four assay classes), the layout merge writes. Prints the file size,
//! the report's wall time (min / median / max of `BENCH_REPEATS`, default 3), the HTML size, and the peak
//! resident memory of `enformer-vep report` run on the same file as a child process.
//!
//! `cargo bench --bench report` (env: BENCH_VARIANTS, BENCH_TRACKS, BENCH_REPEATS)

use std::sync::Arc;
use std::time::Instant;

use arrow_array::builder::{Float32Builder, Float64Builder, Int32Builder, Int64Builder, ListBuilder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use common::env_or;
use enformer_vep::demo::Rng;
use enformer_vep::merge::summary::CLASSES;
use enformer_vep::report::{report, ReportOptions};

mod common;

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn main() -> anyhow::Result<()> {
    let (n, tracks, repeats) =
        (env_or("BENCH_VARIANTS", 100_000), env_or("BENCH_TRACKS", 5313), env_or("BENCH_REPEATS", 3));
    let dir = tempfile::tempdir()?;
    let scores = dir.path().join("scores.parquet");
    let class_of = |t: usize| CLASSES[t % 4];

    let mut fields = vec![
        Field::new("id", DataType::Utf8, true),
        Field::new("chrom", DataType::Utf8, true),
        Field::new("pos", DataType::Int64, true),
        Field::new("ref", DataType::Utf8, true),
        Field::new("alt", DataType::Utf8, true),
        Field::new("pvalue", DataType::Float64, true),
        Field::new("beta", DataType::Float64, true),
        Field::new("SAD", DataType::List(Arc::new(Field::new("item", DataType::Float32, true))), false),
    ];
    let prefixes: Vec<String> = std::iter::once("SAD".to_string()).chain(CLASSES.map(|c| format!("SAD_{c}"))).collect();
    for p in &prefixes {
        fields.push(Field::new(format!("{p}_max_abs"), DataType::Float32, true));
        fields.push(Field::new(format!("{p}_max_abs_value"), DataType::Float32, true));
        fields.push(Field::new(format!("{p}_max_abs_track"), DataType::Int32, true));
        fields.push(Field::new(format!("{p}_max_abs_identifier"), DataType::Utf8, true));
        fields.push(Field::new(format!("{p}_max_abs_description"), DataType::Utf8, true));
    }
    let schema = Arc::new(Schema::new(fields));
    let kv = vec![
        KeyValue::new("enformer_vep.stats".into(), "SAD".to_string()),
        KeyValue::new("enformer_vep.tracks".into(), "[]".to_string()),
    ];
    let props =
        WriterProperties::builder().set_key_value_metadata(Some(kv)).set_max_row_group_row_count(Some(10_000)).build();
    let t0 = Instant::now();
    let mut w = ArrowWriter::try_new(std::fs::File::create(&scores)?, schema.clone(), Some(props))?;
    let mut rng = Rng::new(13);
    let chroms: Vec<String> = (1..=22).map(|c| c.to_string()).collect();
    const BATCH: usize = 500;
    for start in (0..n).step_by(BATCH) {
        let rows = BATCH.min(n - start);
        let (mut id, mut chrom, mut r, mut a) =
            (StringBuilder::new(), StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
        let (mut pos, mut p, mut beta) = (Int64Builder::new(), Float64Builder::new(), Float64Builder::new());
        let mut sad = ListBuilder::new(Float32Builder::with_capacity(rows * tracks));
        let mut groups: Vec<(Float32Builder, Float32Builder, Int32Builder, StringBuilder, StringBuilder)> = (0..5)
            .map(|_| {
                (
                    Float32Builder::new(),
                    Float32Builder::new(),
                    Int32Builder::new(),
                    StringBuilder::new(),
                    StringBuilder::new(),
                )
            })
            .collect();
        let mut values = vec![0f32; tracks];
        for k in start..start + rows {
            id.append_value(format!("rs{k}"));
            chrom.append_value(&chroms[k * 22 / n.max(1)]);
            pos.append_value(1 + (k % (n / 22).max(1)) as i64 * 2_000);
            r.append_value("A");
            a.append_value("G");
            p.append_value(rng.unit().powf(4.0).max(1e-300));
            beta.append_value(rng.unit() - 0.5);
            for v in values.iter_mut() {
                *v = (rng.unit() as f32 - 0.5) * 0.1;
            }
            sad.values().append_slice(&values);
            sad.append(true);
            for (g, b) in groups.iter_mut().enumerate() {
                let best = (0..tracks)
                    .filter(|&t| g == 0 || class_of(t) == CLASSES[g - 1])
                    .max_by(|&x, &y| values[x].abs().total_cmp(&values[y].abs()).then(y.cmp(&x)));
                let best = best.unwrap_or(0);
                b.0.append_value(values[best].abs());
                b.1.append_value(values[best]);
                b.2.append_value(best as i32);
                b.3.append_value(format!("ENCFF{best:06}"));
                b.4.append_value(format!("{}:sample {best}", class_of(best)));
            }
        }
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(id.finish()),
            Arc::new(chrom.finish()),
            Arc::new(pos.finish()),
            Arc::new(r.finish()),
            Arc::new(a.finish()),
            Arc::new(p.finish()),
            Arc::new(beta.finish()),
            Arc::new(sad.finish()),
        ];
        for mut b in groups {
            columns.push(Arc::new(b.0.finish()));
            columns.push(Arc::new(b.1.finish()));
            columns.push(Arc::new(b.2.finish()));
            columns.push(Arc::new(b.3.finish()));
            columns.push(Arc::new(b.4.finish()));
        }
        w.write(&RecordBatch::try_new(schema.clone(), columns)?)?;
    }
    w.close()?;
    let size = std::fs::metadata(&scores)?.len();
    println!(
        "generated {n} variants × {tracks} tracks (SAD lists + at-a-glance columns): {:.0} MB in {:.1} s",
        size as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );
    let rss_before = peak_rss_mb();
    let opts = ReportOptions {
        scores: scores.clone(),
        out: dir.path().join("report.html"),
        manifest: None,
        work_dir: None,
        stat: None,
        class: None,
        top: 25,
        loci: 4,
        locus_radius: 100_000,
    };
    let mut times = Vec::new();
    let mut summary = None;
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        summary = Some(report(&opts)?);
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let s = summary.expect("ran at least once");
    // The report's own memory: the command in a child process under GNU time (its %M is the child's peak
    // RSS, not inflated by this process's pages the way getrusage of a forked child is).
    let out = std::process::Command::new("/usr/bin/time")
        .args(["-f", "maxrss_kb=%M", env!("CARGO_BIN_EXE_enformer-vep"), "--quiet", "report", "--scores"])
        .arg(&scores)
        .arg("--out")
        .arg(dir.path().join("child.html"))
        .output();
    let child_rss_mb = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stderr)
            .lines()
            .find_map(|l| l.strip_prefix("maxrss_kb="))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(f64::NAN),
        _ => f64::NAN, // no GNU time here: printed as NaN
    };
    println!(
        "report: {} variants, {} loci, HTML {:.0} KB; wall s min/median/max {:.2}/{:.2}/{:.2}; `enformer-vep report` peak RSS {:.0} MB (this process, generation included: {:.0} MB, {:.0} MB before the report)",
        s.variants,
        s.loci,
        s.bytes as f64 / 1024.0,
        times[0],
        times[times.len() / 2],
        times[times.len() - 1],
        child_rss_mb,
        peak_rss_mb(),
        rss_before
    );
    Ok(())
}
