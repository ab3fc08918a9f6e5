//! predict / merge / run with the committed tiny Enformer model (same architecture and I/O contract as the
//! full model: [batch, 196608, 4] → human [batch, 896, 16]) and real ONNX Runtime.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use enformer_vep::cache::npy;
use enformer_vep::model::{Device, Model, ModelOptions};

const REGION: &str = "20:60000-68000";

fn golden(name: &str) -> (Vec<usize>, Vec<u8>) {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/models/tiny_enformer.golden_{name}.npy"));
    let (_, shape, data) = npy::read_file(&p).unwrap();
    (shape, data)
}

#[test]
fn onnx_runtime_reproduces_the_golden_outputs() {
    let (in_shape, bases) = golden("input");
    let (out_shape, out_bytes) = golden("output");
    let expected: Vec<f32> = out_bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    let opts = ModelOptions { device: Device::Cpu, threads: None, head: "human".into(), window: in_shape[1] };
    let mut model = Model::load(&tiny_model(), &opts).unwrap();
    assert_eq!((model.bins, model.tracks), (out_shape[1], out_shape[2]));
    let mut onehot = vec![0f32; bases.len() * 4];
    enformer_vep::model::onehot::encode_into(&bases, enformer_vep::cache::NEncoding::Zeros, &mut onehot);
    let got = model.run(&onehot, in_shape[0]).unwrap();
    let worst = got.iter().zip(&expected).map(|(g, e)| (g - e).abs() / e.abs().max(1e-6)).fold(0f32, f32::max);
    assert!(worst <= 1e-5, "max relative difference {worst}");
    // A centre SNP visibly changes the tiny model's output (golden windows 0 and 1 differ there only).
    let per = out_shape[1] * out_shape[2];
    let diff = (0..per).map(|i| (got[i] - got[per + i]).abs()).fold(0f32, f32::max);
    assert!(diff > 0.0);
}

fn split_steps(dir: &Path, genome: &Path, vcf: &Path, cache: &Path, out: &Path, extra: &[&str]) {
    let m = tiny_model();
    let model = m.to_str().unwrap();
    let ex = dir.join("split");
    run_ok(&[
        "extract-seqs",
        "--variants",
        vcf.to_str().unwrap(),
        "--genome",
        genome.to_str().unwrap(),
        "--out-dir",
        ex.to_str().unwrap(),
        "--region",
        REGION,
        "--shard-size",
        "20",
    ]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ex.join("manifest.json")).unwrap()).unwrap();
    for s in manifest["shards"].as_array().unwrap() {
        let shard = ex.join(s["path"].as_str().unwrap());
        let todo = dir.join(format!("todo-{}.parquet", s["shard"]));
        let mut args = vec![
            "check-cache",
            "--shard",
            shard.to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
            "--model",
            model,
            "--out",
            todo.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        run_ok(&args);
        let mut args = vec![
            "predict",
            "--sequences",
            todo.to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
            "--model",
            model,
        ];
        args.extend_from_slice(extra);
        run_ok(&args);
    }
    let mut args = vec![
        "merge",
        "--variants",
        ex.join("variants.parquet").to_str().unwrap().to_owned().leak(),
        "--cache",
        cache.to_str().unwrap(),
        "--model",
        model,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run_ok(&args);
}

#[test]
fn run_and_split_steps_agree_and_a_second_run_computes_nothing() {
    let Some(real) = real_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let genome = linked_genome(&real, "varda_hg19_chr20_1-200000.fa", d);
    let vcf = real.join("vcf/varda_gonl-summary_chr20_60k-200k.hg19.vcf");
    let cache = d.join("cache");
    let run =
        |out: &Path, cache: &Path| run_tiny(&vcf, &genome, cache, out, &["--region", REGION, "--shard-size", "20"]);
    let first = run(&d.join("run1.parquet"), &cache);
    assert!(first["computed"].as_u64().unwrap() > 80, "{first}");
    assert_eq!(first["failed"], 0);
    let second = run(&d.join("run2.parquet"), &cache);
    assert_eq!(second["computed"], 0, "second run computes nothing: {second}");
    assert_eq!(second["scored"], first["scored"]);

    // The split steps, into a fresh cache, give the same numbers.
    let split_out = d.join("split.parquet");
    split_steps(d, &genome, &vcf, &d.join("cache2"), &split_out, &[]);
    for stat in ["SAD", "logSED", "D2", "CENTER"] {
        let a = stat_lists(&d.join("run1.parquet"), stat);
        assert_eq!(a.len() as u64, first["scored"].as_u64().unwrap());
        assert_eq!(a[0].len(), 16);
        assert_eq!(a, stat_lists(&d.join("run2.parquet"), stat), "{stat}: second run identical");
        assert_eq!(a, stat_lists(&split_out, stat), "{stat}: split steps identical");
    }
    assert!(stat_lists(&split_out, "SAD").iter().flatten().any(|v| *v != 0.0), "SNPs change the prediction");
}

#[test]
fn corrupt_entries_are_recomputed_and_summary_store_agrees() {
    let Some(real) = real_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let genome = linked_genome(&real, "varda_hg19_chr20_1-200000.fa", d);
    let vcf = real.join("vcf/varda_1kg_phase1_chr20_60k-145k.hg19.vcf");
    let cache = d.join("cache");
    let run = |out: &Path, extra: &[&str]| run_tiny(&vcf, &genome, &cache, out, extra);
    let clean = run(&d.join("clean.parquet"), &[]);
    // Flip a bit in one entry and truncate another.
    let mut entries: Vec<PathBuf> =
        walk(&cache).into_iter().filter(|p| p.to_string_lossy().ends_with(".npy.zst")).collect();
    entries.sort();
    assert!(entries.len() >= 4);
    let mut bytes = std::fs::read(&entries[0]).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&entries[0], bytes).unwrap();
    let len = std::fs::metadata(&entries[1]).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&entries[1]).unwrap().set_len(len / 3).unwrap();
    let again = run(&d.join("again.parquet"), &[]);
    assert_eq!(again["computed"], 2, "exactly the two damaged entries are recomputed: {again}");
    for stat in ["SAD", "logSED", "D2", "CENTER"] {
        assert_eq!(stat_lists(&d.join("clean.parquet"), stat), stat_lists(&d.join("again.parquet"), stat), "{stat}");
    }
    assert_eq!(clean["scored"], again["scored"]);

    // Summary entries give the same SAD, logSED and CENTER (within 1e-6 relative).
    run(&d.join("summary.parquet"), &["--store", "summary", "--stats", "SAD,logSED,CENTER"]);
    for stat in ["SAD", "logSED", "CENTER"] {
        let full = stat_lists(&d.join("clean.parquet"), stat);
        let summ = stat_lists(&d.join("summary.parquet"), stat);
        for (f, s) in full.iter().flatten().zip(summ.iter().flatten()) {
            assert!((f - s).abs() <= 1e-6 * f.abs().max(1e-3), "{stat}: {f} vs {s}");
        }
    }
    let float16 = run(&d.join("f16.parquet"), &["--store", "float16"]);
    assert_eq!(float16["failed"], 0);
}

#[test]
fn entries_do_not_depend_on_how_sequences_fall_into_batches() {
    // A resumed predict skips what is cached, so its last batch may be short. ONNX Runtime's numbers depend
    // (slightly) on the batch dimension: predict pads short batches to --batch-size, so every entry must be
    // byte-identical to the one an uninterrupted run wrote.
    let Some(real) = real_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let genome = linked_genome(&real, "varda_hg19_chr20_1-200000.fa", d);
    let vcf = real.join("vcf/varda_gonl-summary_chr20_60k-200k.hg19.vcf");
    let (full, resumed) = (d.join("full"), d.join("resumed"));
    let counts =
        run_tiny(&vcf, &genome, &full, &d.join("s.parquet"), &["--region", "20:60000-63000", "--shard-size", "50"]);
    let computed = counts["computed"].as_u64().unwrap();
    assert!(computed >= 8 && computed.is_multiple_of(2), "{counts}");
    // The "interrupted" cache holds one entry: the remaining odd count leaves a batch of one.
    let entries: Vec<PathBuf> = walk(&full).into_iter().filter(|p| p.to_string_lossy().ends_with(".npy.zst")).collect();
    let first = entries[0].strip_prefix(&full).unwrap();
    std::fs::create_dir_all(resumed.join(first).parent().unwrap()).unwrap();
    std::fs::copy(&entries[0], resumed.join(first)).unwrap();
    let shard = d.join("s.parquet.work/extract/shards/shard-00000.parquet");
    let model = tiny_model();
    let o = run_ok(&[
        "predict",
        "--sequences",
        shard.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--cache",
        resumed.to_str().unwrap(),
        "--batch-size",
        "2",
        "--manifest",
        d.join("m.parquet").to_str().unwrap(),
    ]);
    let again: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((again["computed"].as_u64(), again["cached"].as_u64()), (Some(computed - 1), Some(1)), "{again}");
    for e in &entries {
        let rel = e.strip_prefix(&full).unwrap();
        assert!(std::fs::read(e).unwrap() == std::fs::read(resumed.join(rel)).unwrap(), "{} differs", rel.display());
    }
}

#[test]
fn model_mismatch_missing_library_and_cuda_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_ok(&["demo-data", "--out-dir", d.to_str().unwrap(), "--genome-size", "300000", "--variants", "3"]);
    run_ok(&[
        "extract-seqs",
        "--variants",
        d.join("variants.kunkle.txt").to_str().unwrap(),
        "--genome",
        d.join("genome.fa").to_str().unwrap(),
        "--out-dir",
        d.join("x").to_str().unwrap(),
    ]);
    let shard = d.join("x/shards/shard-00000.parquet");
    let predict = |extra: &[&str], model: &Path| {
        let mut c = bin();
        c.args(["predict", "--sequences", shard.to_str().unwrap(), "--cache", d.join("c").to_str().unwrap()]);
        c.args(["--model", model.to_str().unwrap()]).args(extra);
        c
    };
    let check = |mut c: std::process::Command, needle: &str| {
        let out = c.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(needle), "expected '{needle}' in: {err}");
        assert!(!err.contains("panicked"), "{err}");
    };
    check(predict(&["--window", "131072"], &tiny_model()), "[?, 196608, 4]");
    check(predict(&["--device", "cuda"], &tiny_model()), "CUDA");
    check(predict(&["--head", "mouse"], &tiny_model()), "no output head 'mouse'");
    let not_a_model = d.join("not.onnx");
    std::fs::write(&not_a_model, b"this is not protobuf").unwrap();
    check(predict(&[], &not_a_model), "cannot load model");
    let mut c = predict(&[], &tiny_model());
    c.env("ORT_DYLIB_PATH", d.join("nowhere/libonnxruntime.so"));
    check(c, "setup-ort");
}

/// Real 1000 Genomes indels and SNVs with `--rc --shifts=-1,0,1`: the summary store serves indels and reverse
/// complements (split sums) with float32's SAD/logSED/CENTER; float16 agrees within its rounding; D2 on a
/// summary cache is refused before any work; a warm cache computes nothing.
#[test]
fn ensembles_and_indels_agree_across_store_modes() {
    let Some(real) = real_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let genome = linked_genome(&real, "varda_hg19_chr20_1-200000.fa", d);
    let vcf = real.join("vcf/varda_1kg_phase1_chr20_60k-145k.hg19.vcf");
    let cache = d.join("cache");
    let ens = ["--rc", "--shifts=-1,0,1", "--region", "20:144825-144890"];
    let run = |out: &str, extra: &[&str]| run_tiny(&vcf, &genome, &cache, &d.join(out), &[&ens[..], extra].concat());
    let full = run("full.parquet", &[]);
    assert_eq!(full["failed"], 0);
    let v = read_batches(&d.join("full.parquet"));
    let types: Vec<String> = strings(&v, "variant_type").into_iter().flatten().collect();
    assert!(types.iter().any(|t| t == "insertion") && types.iter().any(|t| t == "deletion"), "{types:?}");
    assert_eq!(run("again.parquet", &[])["computed"], 0, "warm cache");

    let close = |stat: &str, other: &str, rel: f32, floor: f32| {
        let (a, b) = (stat_lists(&d.join("full.parquet"), stat), stat_lists(&d.join(other), stat));
        assert_eq!(a.len(), b.len());
        for (f, s) in a.iter().flatten().zip(b.iter().flatten()) {
            assert!((f - s).abs() <= rel * f.abs().max(floor), "{other} {stat}: {f} vs {s}");
        }
    };
    run("summary.parquet", &["--store", "summary", "--stats", "SAD,logSED,CENTER"]);
    for stat in ["SAD", "logSED", "CENTER"] {
        close(stat, "summary.parquet", 1e-6, 1e-3);
    }
    // float16 keeps ~3 significant digits per value; sums over 896 bins and differences of them keep the
    // absolute error near 896 × 2^-11 × |value| in the worst case.
    run("f16.parquet", &["--store", "float16"]);
    for stat in ["SAD", "D2", "CENTER"] {
        close(stat, "f16.parquet", 1e-2, 2.0);
    }
    // D2 from sums is impossible: refused before anything is extracted or predicted.
    let model = tiny_model();
    let out = bin()
        .args(["run", "--variants", vcf.to_str().unwrap(), "--genome", genome.to_str().unwrap()])
        .args(["--model", model.to_str().unwrap(), "--cache", cache.to_str().unwrap()])
        .args(["--out", d.join("d2.parquet").to_str().unwrap(), "--store", "summary", "--stats", "SAD,D2"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("D2 needs full cache entries") && err.contains("--stats SAD,logSED,CENTER"), "{err}");
    assert!(!d.join("d2.parquet.work").exists(), "no work was done");
}

/// Issue 10 item 14: a TODO table holding the same sequence several times computes it once (one manifest
/// record; the repeats are counted as duplicates), whatever batch the repeats fall into.
#[test]
fn a_sequence_repeated_in_the_todo_is_computed_once() {
    use enformer_vep::tables::sequences::SequenceWriter;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_ok(&["demo-data", "--out-dir", d.to_str().unwrap(), "--genome-size", "300000", "--variants", "3"]);
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let out = d.join("x");
    let (variants, genome) = (s(&d.join("variants.kunkle.txt")), s(&d.join("genome.fa")));
    run_ok(&["extract-seqs", "--variants", &variants, "--genome", &genome, "--out-dir", &s(&out)]);
    let rows = sequence_rows(&out.join("shards/shard-00000.parquet"));
    assert!(rows.len() >= 2);
    let todo = d.join("todo.parquet");
    let mut w = SequenceWriter::create(&todo).unwrap();
    for i in [0, 0, 1, 0, 1, 0] {
        w.push(rows[i].0.clone(), rows[i].1.clone().into_bytes()).unwrap();
    }
    w.finish().unwrap();
    let summary = d.join("predict.json");
    let printed = run_ok(&[
        "predict",
        "--sequences",
        todo.to_str().unwrap(),
        "--model",
        tiny_model().to_str().unwrap(),
        "--cache",
        d.join("cache").to_str().unwrap(),
        "--batch-size",
        "2",
        "--summary",
        summary.to_str().unwrap(),
    ]);
    let printed: serde_json::Value = serde_json::from_slice(&printed.stdout).unwrap();
    assert_eq!((printed["computed"].as_u64(), printed["cached"].as_u64()), (Some(2), Some(0)), "{printed}");
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!((written["sequences"].as_u64(), written["duplicates"].as_u64()), (Some(2), Some(4)), "{written}");
    let manifest = read_batches(&todo.with_extension("predict.parquet"));
    let mut ids: Vec<String> = strings(&manifest, "seq_id").into_iter().flatten().collect();
    ids.sort();
    let mut want = vec![rows[0].0.clone(), rows[1].0.clone()];
    want.sort();
    assert_eq!(ids, want, "one record per sequence");
}

/// Issue 12: `run` remembers the model's SHA-256 in its work folder (namespace.json) and trusts it while the
/// model file is unchanged, so a re-run does not hash a 1 GB model again; a different model file is hashed.
#[test]
fn run_remembers_the_model_digest_while_the_model_file_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_ok(&["demo-data", "--out-dir", d.to_str().unwrap(), "--genome-size", "300000", "--variants", "3"]);
    let (vcf, genome, cache, out) =
        (d.join("variants.kunkle.txt"), d.join("genome.fa"), d.join("cache"), d.join("s.parquet"));
    let model = d.join("model.onnx");
    std::fs::copy(tiny_model(), &model).unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--variants", vcf.to_str().unwrap(), "--genome", genome.to_str().unwrap()];
        args.extend(["--model", model.to_str().unwrap(), "--cache", cache.to_str().unwrap()]);
        args.extend(["--out", out.to_str().unwrap()]);
        args.extend_from_slice(extra);
        let o = run_ok(&args);
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    run(&[]);
    let memo = d.join("s.parquet.work/namespace.json");
    let record: serde_json::Value = serde_json::from_slice(&std::fs::read(&memo).unwrap()).unwrap();
    let real_sha = record["fingerprint"]["model_sha256"].as_str().unwrap().to_string();
    assert_eq!(real_sha, sha256_hex(&std::fs::read(&model).unwrap()));
    let namespaces = || -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(cache.join("v1"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    assert_eq!(namespaces().len(), 1);

    // A memo naming another digest for the same, unchanged file is believed: proof that the model is not
    // hashed again (its entries then go to that digest's namespace).
    let fake_sha = "ab".repeat(32);
    let mut fingerprint: enformer_vep::cache::Fingerprint =
        serde_json::from_value(record["fingerprint"].clone()).unwrap();
    fingerprint.model_sha256 = fake_sha.clone();
    let mut faked = record.clone();
    faked["fingerprint"] = serde_json::to_value(&fingerprint).unwrap();
    faked["namespace"] = fingerprint.id().into();
    std::fs::write(&memo, serde_json::to_vec(&faked).unwrap()).unwrap();
    let counts = run(&[]);
    assert_ne!(counts["computed"], 0, "the fake namespace is empty: {counts}");
    assert!(namespaces().contains(&fingerprint.id()));

    // Another model file at the same path (new time stamps) is hashed, and the memo rewritten.
    std::fs::remove_file(&model).unwrap();
    std::fs::copy(tiny_model(), &model).unwrap();
    let counts = run(&[]);
    assert_eq!(counts["computed"], 0, "back in the real namespace: {counts}");
    let record: serde_json::Value = serde_json::from_slice(&std::fs::read(&memo).unwrap()).unwrap();
    assert_eq!(record["fingerprint"]["model_sha256"], real_sha.as_str());
}
