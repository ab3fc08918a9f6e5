//! `export`: the long table (variant × selected track) holds exactly the wide list columns' values, under the
//! documented column names, as Parquet and as TSV; a selector that matches nothing, or an output whose format
//! cannot be told, is a usage error (exit 2) that names the fix and writes nothing.

mod common;

use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Int32Type};
use common::*;

const STATS: [&str; 4] = ["SAD", "logSED", "D2", "CENTER"];

fn write_targets(path: &Path) {
    let mut t = String::from("index\tgenome\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription\n");
    let classes = ["DNASE:cell", "CAGE:tissue", "CHIP:H3K27ac:cell", "ATAC:cell"];
    for i in 0..16 {
        // One description with a tab-free quote and one with a double quote: TSV must quote only the latter.
        let desc = match i {
            6 => "CAGE:brain \"fetal\"".to_string(),
            _ => format!("{} {i}'s", classes[i % 4]),
        };
        t.push_str(&format!("{i}\t0\tENCFF{i:03}\tf\t32\t2\tmean\t{desc}\n"));
    }
    std::fs::write(path, t).unwrap();
}

/// Splits a TSV line as R's read.delim does: tabs, with "..." quoting and "" inside quotes.
fn tsv_fields(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted, mut chars) = (Vec::new(), String::new(), false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', false) if cur.is_empty() => quoted = true,
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            ('"', true) => quoted = false,
            ('\t', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

#[test]
fn long_table_equals_the_wide_lists_as_parquet_and_tsv() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("data");
    run_ok(&["demo-data", "--out-dir", data.to_str().unwrap(), "--genome-size", "300000", "--variants", "20"]);
    let targets = d.join("targets.txt");
    write_targets(&targets);
    let scores = d.join("scores.parquet");
    let extra = ["--targets", targets.to_str().unwrap()];
    run_tiny(&data.join("variants.kunkle.txt"), &data.join("genome.fa"), &d.join("cache"), &scores, &extra);
    let wide = read_batches(&scores);
    let ids = strings(&wide, "id");
    let lists: Vec<Vec<Vec<f32>>> = STATS.iter().map(|s| stat_lists(&scores, s)).collect();
    let n = ids.len();
    assert!(n >= 15, "{n} scored");

    // Position 3, an identifier, and a regex that matches the CAGE tracks (1, 5, 9, 13, and 6 by its
    // description), in the order selected without repeats.
    let expected_tracks = [3usize, 5, 1, 6, 9, 13];
    let sel = ["--track", "3", "--track", "ENCFF005", "--tracks", "^CAGE:"];
    let long_pq = d.join("out/long.parquet");
    let mut args = vec!["export", "--scores", scores.to_str().unwrap(), "--out", long_pq.to_str().unwrap()];
    args.extend_from_slice(&sel);
    let o = run_ok(&args);
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(said.contains(&format!("{n} variants × 6 tracks = {} rows", n * 6)), "{said}");

    let long = read_batches(&long_pq);
    let names: Vec<String> = long[0].schema().fields().iter().map(|f| f.name().clone()).collect();
    let mut want: Vec<&str> =
        vec!["id", "chrom", "pos", "ref", "alt", "status", "track", "channel", "identifier", "description"];
    want.extend(STATS);
    assert_eq!(names, want);
    let rows: usize = long.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, n * expected_tracks.len());
    let (long_ids, idents) = (strings(&long, "id"), strings(&long, "identifier"));
    let (chroms, wide_chroms) = (strings(&long, "chrom"), strings(&wide, "chrom"));
    let (pos, wide_pos) = (i64s(&long, "pos"), i64s(&wide, "pos"));
    let statuses = strings(&long, "status");
    let ints = |c: &str| -> Vec<i32> {
        long.iter().flat_map(|b| b.column_by_name(c).unwrap().as_primitive::<Int32Type>().values().to_vec()).collect()
    };
    let (track, channel) = (ints("track"), ints("channel"));
    let floats = |c: &str| -> Vec<f32> {
        long.iter().flat_map(|b| b.column_by_name(c).unwrap().as_primitive::<Float32Type>().values().to_vec()).collect()
    };
    for r in 0..rows {
        let (v, t) = (r / expected_tracks.len(), expected_tracks[r % expected_tracks.len()]);
        assert_eq!((track[r] as usize, channel[r] as usize), (t, t), "row {r}");
        assert_eq!(idents[r].as_deref(), Some(format!("ENCFF{t:03}").as_str()));
        assert_eq!((&long_ids[r], &chroms[r], pos[r]), (&ids[v], &wide_chroms[v], wide_pos[v]), "row {r}");
        assert_eq!(statuses[r].as_deref(), Some("ok"));
    }
    for (s, stat) in STATS.iter().enumerate() {
        let got = floats(stat);
        for r in 0..rows {
            let (v, t) = (r / expected_tracks.len(), expected_tracks[r % expected_tracks.len()]);
            assert_eq!(got[r].to_bits(), lists[s][v][t].to_bits(), "{stat} row {r}");
        }
    }

    // TSV: the same values (shortest exact decimal form), NA for a missing ID, quotes only where needed.
    let long_tsv = d.join("long.tsv");
    let mut args = vec!["export", "--scores", scores.to_str().unwrap(), "--out", long_tsv.to_str().unwrap()];
    args.extend_from_slice(&sel);
    run_ok(&args);
    let text = std::fs::read_to_string(&long_tsv).unwrap();
    let mut lines = text.lines();
    assert_eq!(tsv_fields(lines.next().unwrap()), want);
    let body: Vec<Vec<String>> = lines.map(tsv_fields).collect();
    assert_eq!(body.len(), rows);
    for (r, f) in body.iter().enumerate() {
        let (v, t) = (r / expected_tracks.len(), expected_tracks[r % expected_tracks.len()]);
        assert_eq!(f.len(), want.len(), "line {r}: {f:?}");
        assert_eq!(f[0], ids[v].clone().unwrap_or_else(|| "NA".into()));
        for (s, stat) in STATS.iter().enumerate() {
            let x: f32 = f[10 + s].parse().unwrap_or_else(|e| panic!("{stat} {:?}: {e}", f[10 + s]));
            assert_eq!(x.to_bits(), lists[s][v][t].to_bits(), "{stat} line {r}");
        }
        if t == 6 {
            assert_eq!(f[9], "CAGE:brain \"fetal\"");
        }
    }
    assert!(text.contains("\t\"CAGE:brain \"\"fetal\"\"\"\t") && text.contains("\tCAGE:tissue 5's\t"), "quoting");

    // Every kept track by default; `--format` overrides the extension.
    let all = d.join("all.out");
    run_ok(&["export", "--scores", scores.to_str().unwrap(), "--out", all.to_str().unwrap(), "--format", "parquet"]);
    assert_eq!(read_batches(&all).iter().map(|b| b.num_rows()).sum::<usize>(), n * 16);
}

#[test]
fn a_bad_selector_or_format_is_a_usage_error_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("data");
    run_ok(&["demo-data", "--out-dir", data.to_str().unwrap(), "--genome-size", "300000", "--variants", "4"]);
    let scores = d.join("scores.parquet");
    run_tiny(&data.join("variants.kunkle.txt"), &data.join("genome.fa"), &d.join("cache"), &scores, &[]);
    let out = d.join("long.tsv");
    let export = |extra: &[&str], out: &Path| {
        let o = bin()
            .args(["export", "--scores", scores.to_str().unwrap(), "--out", out.to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    for bad in ["ENCFF999", "99", "^RNA:", "(("] {
        let (code, err) = export(&["--track", "0", "--track", bad], &out);
        assert_eq!(code, Some(2), "{bad}: {err}");
        assert!(err.contains(&format!("--track '{bad}' matches no kept track")) && err.contains("fix:"), "{err}");
        assert!(!err.contains("panicked"));
    }
    assert!(!out.exists(), "nothing written on a usage error");
    let (code, err) = export(&[], &d.join("long.csv"));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("long.csv") && err.contains("--format parquet|tsv"), "{err}");
    // A file that is not a scores.parquet: a failure naming it (exit 1), not a usage error.
    let (code, err) = {
        let o = bin()
            .args(["export", "--scores", data.join("variants.kunkle.txt").to_str().unwrap()])
            .args(["--out", out.to_str().unwrap()])
            .output()
            .unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("variants.kunkle.txt") && err.contains("not a Parquet file"), "{err}");
    let leftovers: Vec<_> =
        walk(d).into_iter().filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().contains("long"))).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
