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

/// Issue 10 item 16: the README described a listing path check-cache never takes (it checks each 32-row
/// batch of the shard by `stat`). It must say what check-cache does, with the rate measured by
/// `benches/pipeline.rs`.
#[test]
fn the_readme_says_how_check_cache_looks_keys_up() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme.find("### `check-cache`").expect("a check-cache section");
    let section = &readme[start..start + readme[start..].find("\n### ").unwrap()];
    assert!(!section.contains("above 20,000 keys it lists"), "check-cache never lists the fan-out folders");
    assert!(section.contains("one `stat` per sequence") && section.contains("batches of 32 rows"), "{section}");
    assert!(section.contains("keys/s") && section.contains("BENCH_CACHE_ENTRIES"), "a measured rate: {section}");
}
