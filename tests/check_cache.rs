//! `check-cache` on demo shards: all missing on an empty cache, exact counts and TODO contents once part of
//! the shard is cached, and the model fingerprint separating namespaces.

mod common;

use std::path::Path;

use common::*;
use enformer_vep::cache::{Cache, Fingerprint, NEncoding, StoreMode};

fn demo_shard(dir: &Path) -> std::path::PathBuf {
    run_ok(&["demo-data", "--out-dir", dir.to_str().unwrap(), "--genome-size", "400000", "--variants", "30"]);
    let out = dir.join("out");
    run_ok(&[
        "extract-seqs",
        "--variants",
        dir.join("variants.kunkle.txt").to_str().unwrap(),
        "--genome",
        dir.join("genome.fa").to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
    ]);
    out.join("shards/shard-00000.parquet")
}

fn check(shard: &Path, cache: &Path, model: &Path, todo: &Path, extra: &[&str]) -> serde_json::Value {
    let summary = todo.with_extension("json");
    let mut args = vec![
        "check-cache",
        "--shard",
        shard.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--out",
        todo.to_str().unwrap(),
        "--summary",
        summary.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = run_ok(&args);
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    for k in ["sequences", "cached", "missing"] {
        assert_eq!(printed[k], written[k]);
    }
    written
}

#[test]
fn empty_then_partly_cached() {
    let dir = tempfile::tempdir().unwrap();
    let shard = demo_shard(dir.path());
    let model = dir.path().join("model.onnx");
    std::fs::write(&model, b"any bytes: only the file's SHA-256 matters to the fingerprint").unwrap();
    let cache = dir.path().join("cache");
    let todo = dir.path().join("todo.parquet");

    let s = check(&shard, &cache, &model, &todo, &[]);
    let rows = sequence_rows(&shard);
    assert_eq!(s["sequences"].as_u64().unwrap() as usize, rows.len());
    assert_eq!(s["missing"], s["sequences"], "empty cache: all missing");
    assert_eq!(sequence_rows(&todo), rows, "TODO = the whole shard, same schema");

    // Cache every third sequence through the library, under the fingerprint check-cache uses by default.
    let fp = Fingerprint::for_model_file(&model, "human", NEncoding::Zeros, 196_608, StoreMode::Float32).unwrap();
    let ns = Cache::open(&cache).unwrap().namespace(&fp);
    for (id, _) in rows.iter().step_by(3) {
        ns.write_entry(id, b"entry").unwrap();
    }
    let cached = rows.len().div_ceil(3);
    let s = check(&shard, &cache, &model, &todo, &[]);
    assert_eq!(s["cached"].as_u64().unwrap() as usize, cached);
    assert_eq!(s["missing"].as_u64().unwrap() as usize, rows.len() - cached);
    let expected: Vec<(String, String)> =
        rows.iter().enumerate().filter(|(i, _)| i % 3 != 0).map(|(_, r)| r.clone()).collect();
    assert_eq!(sequence_rows(&todo), expected);

    // Another store mode (or model) is another namespace: nothing cached there.
    let s = check(&shard, &cache, &model, &todo, &["--store", "summary"]);
    assert_eq!(s["cached"], 0);
    let other_model = dir.path().join("other.onnx");
    std::fs::write(&other_model, b"different").unwrap();
    assert_eq!(check(&shard, &cache, &other_model, &todo, &[])["cached"], 0);
}

#[test]
fn window_mismatch_and_cache_file_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let shard = demo_shard(dir.path());
    let model = dir.path().join("model.onnx");
    std::fs::write(&model, b"m").unwrap();
    let todo = dir.path().join("todo.parquet");
    let cache_file = dir.path().join("cache-is-a-file");
    std::fs::write(&cache_file, b"x").unwrap();
    let base = |cache: &Path| {
        let mut c = bin();
        c.args([
            "check-cache",
            "--shard",
            shard.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "--out",
            todo.to_str().unwrap(),
        ]);
        c.args(["--cache", cache.to_str().unwrap()]);
        c
    };
    let out = base(&cache_file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a directory"));
    let out = base(&dir.path().join("c")).args(["--window", "131072"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--window"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!todo.exists(), "a failed step leaves no output behind");
}

/// Issues 10 (item 16) and 12: the README must say how check-cache looks keys up (the seq_id column alone,
/// parallel `stat`s a batch of `LOOKUP_BATCH` at a time, never a listing), with the rate measured by
/// `benches/pipeline.rs`.
#[test]
fn the_readme_says_how_check_cache_looks_keys_up() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme.find("### `check-cache`").expect("a check-cache section");
    let section = &readme[start..start + readme[start..].find("\n### ").unwrap()];
    let flat = section.split_whitespace().collect::<Vec<_>>().join(" ");
    let batch = enformer_vep::check_cache::LOOKUP_BATCH;
    let batch = format!("{},{:03}", batch / 1000, batch % 1000);
    assert!(flat.contains("`seq_id` column alone"), "{flat}");
    assert!(flat.contains(&format!("parallel `stat` calls, {batch} at a time")), "{flat}");
    assert!(flat.contains("It never lists the fan-out folders"), "{flat}");
    assert!(flat.contains("keys/s") && flat.contains("`bash scripts/bench`"), "a measured rate: {flat}");
}

/// Issue 10 item 15: `enformer-vep namespace` hashes the model once; a step given `--namespace-file` uses the
/// recorded digest without hashing (shown with a record whose digest is not the model's: used as recorded
/// while the model file is unchanged), hashes again when the model's stamp changed, and refuses a changed
/// model or other namespace flags.
#[test]
fn a_namespace_file_spares_every_step_the_model_hash_and_catches_a_changed_model() {
    use enformer_vep::cache::digest::NamespaceRecord;
    let dir = tempfile::tempdir().unwrap();
    let shard = demo_shard(dir.path());
    let model = dir.path().join("model.onnx");
    std::fs::write(&model, b"model bytes").unwrap();
    let cache = dir.path().join("cache");
    let record = dir.path().join("namespace.json");
    let out = run_ok(&["namespace", "--model", model.to_str().unwrap(), "--out", record.to_str().unwrap()]);
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let fp = Fingerprint::for_model_file(&model, "human", NEncoding::Zeros, 196_608, StoreMode::Float32)
        .unwrap()
        .with_center_bins(10);
    assert_eq!(printed["namespace"], fp.id());
    let with_record = ["--namespace-file", record.to_str().unwrap()];
    let s = check(&shard, &cache, &model, &dir.path().join("t1.parquet"), &with_record);
    assert!(s["cache_namespace"].as_str().unwrap().ends_with(&fp.id()), "{s}");

    // A record whose digest is not the model's but whose stamp is: used as is, so nothing was hashed.
    let mut r = NamespaceRecord::read(&record).unwrap();
    r.fingerprint.model_sha256 = "ab".repeat(32);
    r.namespace = r.fingerprint.id();
    let fake = dir.path().join("fake.json");
    std::fs::write(&fake, serde_json::to_vec(&r).unwrap()).unwrap();
    let s =
        check(&shard, &cache, &model, &dir.path().join("t2.parquet"), &["--namespace-file", fake.to_str().unwrap()]);
    assert!(s["cache_namespace"].as_str().unwrap().ends_with(&r.namespace), "{s}");

    // Other flags than the record's: refused, naming both.
    let todo = dir.path().join("t3.parquet");
    let args = |extra: &[&str]| {
        let mut a = vec!["check-cache", "--shard", shard.to_str().unwrap(), "--cache", cache.to_str().unwrap()];
        a.extend_from_slice(&["--model", model.to_str().unwrap(), "--out", todo.to_str().unwrap()]);
        a.extend_from_slice(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let o = bin().args(args(&["--namespace-file", record.to_str().unwrap(), "--store", "summary"])).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("--store float32") && err.contains("--store summary"), "{err}");
    // A changed model (same size): its stamp differs, it is hashed again, and the digest differs.
    std::thread::sleep(std::time::Duration::from_millis(30));
    std::fs::write(&model, b"MODEL BYTES").unwrap();
    let o = bin().args(args(&["--namespace-file", record.to_str().unwrap()])).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("is not the file") && err.contains("enformer-vep namespace"), "{err}");
    // The same bytes again, with a new time stamp: hashed again, accepted with a note.
    std::fs::write(&model, b"model bytes").unwrap();
    let o = bin().args(args(&["--namespace-file", record.to_str().unwrap()])).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("hashed again (same SHA-256)"));
}
