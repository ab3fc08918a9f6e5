//! The split tiny model (`tests/models/tiny_enformer.split.json`: tower + rest) against the monolithic tiny model
//! on real data: GoNL SNVs on the hg19 chr20 slice (1–200,000), taken near both ends of the slice so every
//! window holds tens of thousands of N, with `--rc --shifts=0,1` (the variant is the last base of its tower
//! position in the forward window, the first in the reverse complement, so both edges of the 128-bp grid are
//! patched), and a batch size of 3 (refs and alts mixed in a batch, short batches padded). Two 1000 Genomes
//! indels (an insertion and a deletion) ride along: their windows are not substitutions, so they take the full
//! path (tower over the whole window, then rest) and must equal the monolithic model's too.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::*;
use enformer_vep::cache::npy;

fn split_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/models/tiny_enformer.split.json")
}

/// Every entry of a cache as (seq_id → float32 values, bytes), read without the crate's entry reader.
fn entries(cache: &Path) -> HashMap<String, (Vec<f32>, Vec<u8>)> {
    walk(cache)
        .into_iter()
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.strip_suffix(".npy.zst")?.to_string();
            let bytes = std::fs::read(&p).unwrap();
            let npy_bytes = zstd::decode_all(bytes.as_slice()).unwrap();
            let (_, _, at) = npy::parse_header(&npy_bytes).unwrap();
            let values = npy_bytes[at..].chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
            Some((name, (values, bytes)))
        })
        .collect()
}

fn predict(seqs: &Path, model: &Path, cache: &Path, summary: &Path) -> serde_json::Value {
    let s = seqs.to_str().unwrap();
    run_ok(&[
        "predict",
        "--sequences",
        s,
        "--model",
        model.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
        "--batch-size",
        "3",
        "--manifest",
        &format!("{s}.{}.predict.parquet", cache.file_name().unwrap().to_str().unwrap()),
        "--summary",
        summary.to_str().unwrap(),
    ]);
    serde_json::from_slice(&std::fs::read(summary).unwrap()).unwrap()
}

fn merge(variants: &Path, model: &Path, cache: &Path, out: &Path) {
    run_ok(&[
        "merge",
        "--variants",
        variants.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
}

#[test]
fn split_model_entries_and_scores_equal_the_monolithic_models_and_do_not_depend_on_what_was_cached() {
    let Some(real) = real_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let genome = linked_genome(&real, "varda_hg19_chr20_1-200000.fa", d);
    // Three SNVs near the slice's start and two near its end (window ends 98 kb past it: N-padded).
    let text = std::fs::read_to_string(real.join("vcf/varda_gonl-summary_chr20_60k-200k.hg19.vcf")).unwrap();
    let (header, records): (Vec<&str>, Vec<&str>) = text.lines().partition(|l| l.starts_with('#'));
    let chosen = [&records[..3], &records[records.len() - 2..]].concat();
    // An insertion and a deletion from the 1000 Genomes VCF of the same slice, in the GoNL file's 8 columns.
    let kg = std::fs::read_to_string(real.join("vcf/varda_1kg_phase1_chr20_60k-145k.hg19.vcf")).unwrap();
    let indel = |want: fn(usize, usize) -> bool| -> String {
        let f: Vec<&str> = kg
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split('\t').collect::<Vec<_>>())
            .find(|f| !f[4].contains(',') && want(f[3].len(), f[4].len()))
            .expect("the 1000 Genomes slice has insertions and deletions");
        format!("{}\t{}\t{}\t{}\t{}\t.\tPASS\t.", f[0], f[1], f[2], f[3], f[4])
    };
    let indels = [indel(|r, a| a > r), indel(|r, a| r > a)];
    let mut lines: Vec<&str> = [header, chosen].concat();
    lines.extend(indels.iter().map(String::as_str));
    let vcf = d.join("v.vcf");
    std::fs::write(&vcf, lines.join("\n") + "\n").unwrap();
    let ex = d.join("ex");
    run_ok(&[
        "extract-seqs",
        "--variants",
        vcf.to_str().unwrap(),
        "--genome",
        genome.to_str().unwrap(),
        "--out-dir",
        ex.to_str().unwrap(),
        "--rc",
        "--shifts=0,1",
    ]);
    let shard = ex.join("shards/shard-00000.parquet");
    let rows = read_batches(&shard);
    let (ids, bases) = (strings(&rows, "seq_id"), strings(&rows, "base_seq_id"));
    let derived: Vec<&str> =
        ids.iter().zip(&bases).filter(|(_, b)| b.is_some()).map(|(i, _)| i.as_deref().unwrap()).collect();
    // 5 SNVs × (R, A) and 2 indels × (R, A, A′), each × 2 shifts × 2 strands, less the windows two members
    // share (a shifted window of a repeat-context indel can equal another member: stored once). Every SNV's A
    // derives from its R; an indel window derives only where it happens to be a substitution of its R (an A′
    // in a repeat), and the rest take the full path.
    let (windows, n_derived) = (ids.len(), derived.len());
    assert!((60..=64).contains(&windows) && n_derived >= 20, "{windows} windows, {n_derived} derived");
    let snv_refs = 20; // 5 SNVs × 2 shifts × 2 strands: R windows, the bases of the SNV alt windows

    let (mono, split) = (d.join("mono"), d.join("split"));
    let m = predict(&shard, &tiny_model(), &mono, &d.join("m.json"));
    let s = predict(&shard, &split_model(), &split, &d.join("s.json"));
    let (w, n) = (windows as u64, n_derived as u64);
    assert_eq!((m["computed"].as_u64(), s["computed"].as_u64()), (Some(w), Some(w)), "{m} {s}");
    assert_eq!((s["patched"].as_u64(), s["bases_recomputed"].as_u64()), (Some(n), Some(0)), "{s}");
    assert!(windows - n_derived > snv_refs, "indel windows that are no substitution take the full path");

    // Entries: equal to float rounding, every value within 1e-5 of the entry's largest.
    let (a, b) = (entries(&mono), entries(&split));
    assert_eq!(a.len(), windows);
    for (id, (x, _)) in &a {
        let y = &b.get(id).unwrap_or_else(|| panic!("split cache lacks {id}")).0;
        let scale = x.iter().fold(0f32, |m, v| m.max(v.abs()));
        let worst = x.iter().zip(y).map(|(p, q)| (p - q).abs()).fold(0f32, f32::max) / scale;
        assert!(worst <= 1e-5, "{id}: {worst:e} of the entry's largest value");
    }
    // The two models' entries live in different namespaces of one cache layout.
    let ns = |c: &Path| {
        let entry = walk(c).into_iter().find(|p| p.to_string_lossy().ends_with(".npy.zst")).unwrap();
        entry.parent().and_then(Path::parent).unwrap().to_path_buf()
    };
    assert_ne!(ns(&mono).file_name(), ns(&split).file_name());

    // Scores: within 1e-4 of each variant's largest value of the statistic.
    merge(&ex.join("variants.parquet"), &tiny_model(), &mono, &d.join("m.parquet"));
    merge(&ex.join("variants.parquet"), &split_model(), &split, &d.join("s.parquet"));
    for stat in ["SAD", "logSED", "D2", "CENTER"] {
        let (p, q) = (stat_lists(&d.join("m.parquet"), stat), stat_lists(&d.join("s.parquet"), stat));
        assert_eq!(p.len(), 7, "5 SNVs and 2 indels scored");
        for (x, y) in p.iter().zip(&q) {
            let scale = x.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert!(scale > 0.0, "{stat}: the variant changes the prediction");
            let worst = x.iter().zip(y).map(|(u, v)| (u - v).abs()).fold(0f32, f32::max) / scale;
            assert!(worst <= 1e-4, "{stat}: {worst:e} relative");
        }
    }

    // A resumed run: the references are cached, the alt windows not. check-cache keeps each alt's base columns,
    // predict rebuilds the bases' tower outputs from them, and every alt entry is the same bytes as before.
    for id in &derived {
        std::fs::remove_file(ns(&split).join(&id[..2]).join(format!("{id}.npy.zst"))).unwrap();
    }
    let todo = d.join("todo.parquet");
    let sm = split_model();
    run_ok(&[
        "check-cache",
        "--shard",
        shard.to_str().unwrap(),
        "--cache",
        split.to_str().unwrap(),
        "--model",
        sm.to_str().unwrap(),
        "--out",
        todo.to_str().unwrap(),
    ]);
    let r = predict(&todo, &sm, &split, &d.join("r.json"));
    assert_eq!((r["computed"].as_u64(), r["patched"].as_u64()), (Some(n), Some(n)), "{r}");
    assert_eq!(r["bases_recomputed"].as_u64(), Some(n), "{r}");
    let again = entries(&split);
    for id in &derived {
        assert!(again[*id].1 == b[*id].1, "{id}: a resumed run wrote other bytes");
    }
}

#[test]
fn a_todo_whose_base_columns_do_not_rebuild_the_base_fails_that_row_by_name() {
    use enformer_vep::substitution::Substitution;
    use enformer_vep::tables::sequences::{SequenceRow, SequenceWriter};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let reference: Vec<u8> = (0..196_608u32).map(|i| b"ACGT"[(i.wrapping_mul(2_654_435_761) >> 30) as usize]).collect();
    let mut alt = reference.clone();
    alt[98_303] = if alt[98_303] == b'A' { b'C' } else { b'A' };
    let mut base = Substitution::between(&sha256_hex(&reference), &reference, &alt).unwrap();
    base.base_bases = b"N".to_vec(); // edited: no longer the reference's base
    let todo = d.join("todo.parquet");
    let mut w = SequenceWriter::create(&todo).unwrap();
    w.push_row(SequenceRow { seq_id: sha256_hex(&alt), sequence: alt, base: Some(base) }).unwrap();
    w.finish().unwrap();
    let sm = split_model();
    let out = bin()
        .args(["predict", "--sequences", todo.to_str().unwrap(), "--model", sm.to_str().unwrap()])
        .args(["--cache", d.join("c").to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("do not rebuild the base window") && stderr.contains("re-run extract-seqs"), "{stderr}");
}
