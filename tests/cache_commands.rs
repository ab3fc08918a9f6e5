//! `enformer-vep cache stats|verify|gc|import-legacy` and the legacy reads of check-cache, merge and run.
//!
//! Legacy entries are written by numpy itself (`scripts/make_legacy_fixtures.py`, run with the test venv of
//! `scripts/pyenv`, which `scripts/test` creates first); without that venv those tests print SKIP.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, SystemTime};

use arrow_array::cast::AsArray;
use arrow_array::types::Float32Type;
use arrow_array::Array;
use common::*;
use enformer_vep::cache::entry;
use enformer_vep::cache::legacy;
use enformer_vep::cache::npy;
use enformer_vep::cache::{Cache, Fingerprint, NEncoding, StoreMode};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures_script(py: &Path, args: &[&str]) -> Output {
    let out = std::process::Command::new(py)
        .arg(root().join("scripts/make_legacy_fixtures.py"))
        .args(args)
        .output()
        .expect("python runs");
    assert!(out.status.success(), "make_legacy_fixtures.py {args:?}:\n{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn run_code(args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let out = bin().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code(), json, stderr)
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Issue 10 item 1: entries carry their identity after the array, and the README's two Python lines still read
/// every store mode exactly (numpy reads only the bytes its header announces).
#[test]
fn numpy_reads_identity_carrying_entries_with_the_readme_snippet() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out: Vec<f32> = (0..896 * 3).map(|i| ((i as f32) * 0.37).sin().abs() * 7.0 + 0.01).collect();
    let key = enformer_vep::window::seq_id(b"numpy");
    for store in [StoreMode::Float32, StoreMode::Float16, StoreMode::Summary] {
        let fp = Fingerprint::new("ab".repeat(32), "human", NEncoding::Zeros, 196_608, store).with_center_bins(10);
        let ns = Cache::open(dir.path()).unwrap().namespace(&fp);
        let path =
            ns.write_entry(&key, &entry::encode(store, &out, 896, 3, 443..453, &ns.identity(&key)).unwrap()).unwrap();
        let code = format!(
            "import io, numpy as np, zstandard\npath = {path:?}\n\
             arr = np.load(io.BytesIO(zstandard.ZstdDecompressor().decompress(open(path, \"rb\").read())))\n\
             print(arr.dtype.str, list(arr.shape), repr(float(arr.astype('<f8').sum())))"
        );
        let o = std::process::Command::new(&py).args(["-c", &code]).output().unwrap();
        assert!(o.status.success(), "{store:?}: {}", String::from_utf8_lossy(&o.stderr));
        let got = String::from_utf8_lossy(&o.stdout).trim().to_string();
        let want_sum: f64 =
            match entry::decode(&std::fs::read(&path).unwrap(), store, 896, 3, &ns.identity(&key)).unwrap() {
                entry::EntryData::Full(v) => v.iter().map(|&x| x as f64).sum(),
                entry::EntryData::Summary(s) => {
                    [&s.total, &s.center, &s.mirror].iter().flat_map(|h| h.iter().flatten()).sum()
                }
            };
        let (dtype, rows) = match store {
            StoreMode::Float32 => ("<f4", 896),
            StoreMode::Float16 => ("<f2", 896),
            StoreMode::Summary => ("<f8", 6),
        };
        let (d, rest) = got.split_once(' ').unwrap();
        let (shape, sum) = rest.rsplit_once(' ').unwrap();
        assert_eq!((d, shape), (dtype, format!("[{rows}, 3]").as_str()), "{store:?}: {got}");
        let sum: f64 = sum.parse().unwrap();
        assert!((sum - want_sum).abs() <= want_sum.abs() * 1e-9, "{store:?}: numpy sums {sum}, we read {want_sum}");
    }
}

#[test]
fn numpy_fixtures_of_every_protocol_and_form_read_exactly() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    fixtures_script(&py, &["fixtures", dir.path().to_str().unwrap(), "--bins", "896", "--tracks", "5"]);
    let manifest: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest.len(), 4 * 7, "protocols 2-5 x 7 forms");
    for m in &manifest {
        let name = m["name"].as_str().unwrap();
        let got = legacy::read_file(&dir.path().join(format!("{name}.pkl.gz")), "human", 896, 5)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let (dtype, shape, raw) = npy::read_file(&dir.path().join(format!("{name}.expected.npy"))).unwrap();
        assert_eq!((dtype, shape), (npy::Dtype::F32, vec![896, 5]), "{name}");
        let want: Vec<f32> = raw.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
        assert_eq!((got.bins, got.tracks), (896, 5), "{name}");
        assert_eq!(bits(&got.data), bits(&want), "{name}: values differ from what numpy wrote");
    }
    // The dict form also serves the other head; a head the dict lacks is a clear error.
    let mouse = legacy::read_file(&dir.path().join("p4_dict.pkl.gz"), "mouse", 896, 3).unwrap();
    assert_eq!((mouse.bins, mouse.tracks), (896, 3));
    let err = legacy::read_file(&dir.path().join("p2_float16.pkl.gz"), "mouse", 896, 3).unwrap_err();
    assert!(err.to_string().contains("'human'"), "{err}");
    // Another shape than the expected one is refused, naming both.
    let err = legacy::read_file(&dir.path().join("p3_array3d.pkl.gz"), "human", 896, 16).unwrap_err();
    assert!(err.to_string().contains("[896, 5]") && err.to_string().contains("[896, 16]"), "{err}");
}

/// Per statistic: the scores' list values, as bits.
fn scores(path: &Path) -> Vec<(String, Vec<Vec<u32>>)> {
    ["SAD", "logSED", "D2", "CENTER"]
        .iter()
        .map(|stat| {
            let lists = read_batches(path)
                .iter()
                .flat_map(|b| {
                    let list = b.column_by_name(stat).unwrap().as_list::<i32>().clone();
                    (0..list.len())
                        .map(|i| bits(list.value(i).as_primitive::<Float32Type>().values()))
                        .collect::<Vec<_>>()
                })
                .collect();
            (stat.to_string(), lists)
        })
        .collect()
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn imported_and_direct_legacy_entries_score_identically_to_fresh_predictions() {
    let Some(real) = real_data() else { return };
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let genome = linked_genome(&real, "varda_hg19_chr20_1-200000.fa", d);
    let vcf = real.join("vcf/varda_gonl-summary_chr20_60k-200k.hg19.vcf");
    let model = s(&tiny_model());
    let run = |cache: &Path, out: &Path, extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["run".to_string(), "--variants".into(), s(&vcf), "--genome".into(), s(&genome)];
        args.extend(["--model".into(), model.clone(), "--cache".into(), s(cache), "--out".into(), s(out)]);
        args.extend(["--region".into(), "20:60000-64000".into(), "--shard-size".into(), "10".into()]);
        args.extend(extra.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        serde_json::from_slice(&run_ok(&args).stdout).unwrap()
    };

    // Fresh predictions.
    let fresh_cache = d.join("fresh-cache");
    let fresh = d.join("fresh.parquet");
    let first = run(&fresh_cache, &fresh, &[]);
    assert!(first["computed"].as_u64().unwrap() >= 10, "{first}");
    let variants = d.join("fresh.parquet.work/extract/variants.parquet");
    let ns_dirs: Vec<PathBuf> = std::fs::read_dir(fresh_cache.join("v1")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(ns_dirs.len(), 1);
    let n_entries = walk(&ns_dirs[0]).iter().filter(|p| p.to_string_lossy().ends_with(".npy.zst")).count() as u64;
    assert_eq!(n_entries, first["computed"].as_u64().unwrap());

    // The legacy tool's folder: the same outputs pickled by numpy (protocols 2-5, every lossless form), plus
    // four unreadable entries and a file that is no entry at all.
    let old = d.join("legacy");
    let made = fixtures_script(&py, &["from-cache", &s(&ns_dirs[0]), &s(&old)]);
    let made: serde_json::Value = serde_json::from_slice(&made.stdout).unwrap();
    assert_eq!(made["written"].as_u64(), Some(n_entries));
    let fx = d.join("fixtures");
    fixtures_script(&py, &["fixtures", &s(&fx), "--bins", "896", "--tracks", "5"]);
    let bad_key = |i: u8| enformer_vep::window::seq_id(&[b'Z', i]);
    let some_entry = std::fs::read_dir(&old).unwrap().next().unwrap().unwrap().path();
    let whole = std::fs::read(&some_entry).unwrap();
    let bad = [
        (bad_key(1), whole[..whole.len() / 2].to_vec()), // truncated gzip
        (bad_key(2), gz(b"this is not a pickle")),       // gzip of text
        (bad_key(3), b"plain text, not gzip".to_vec()),  // not gzip
        (bad_key(4), std::fs::read(fx.join("p4_array2d.pkl.gz")).unwrap()), // 5 tracks, not 16
    ];
    for (k, bytes) in &bad {
        std::fs::write(old.join(format!("{k}.pkl.gz")), bytes).unwrap();
    }
    std::fs::write(old.join("README.txt"), b"notes").unwrap();

    // import-legacy: everything readable is imported, the four bad files are listed, exit 1.
    let imported_cache = d.join("imported-cache");
    let import = |extra: &[&str]| {
        let mut args = vec!["cache", "import-legacy", "--from", old.to_str().unwrap()];
        args.extend(["--cache", imported_cache.to_str().unwrap(), "--model", model.as_str()]);
        args.extend_from_slice(extra);
        run_code(&args)
    };
    let summary = d.join("import.json");
    let (code, json, err) = import(&["--summary", summary.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(json["imported"].as_u64(), Some(n_entries), "{err}");
    assert_eq!(
        (json["failed"].as_u64(), json["skipped_existing"].as_u64(), json["ignored"].as_u64()),
        (Some(4), Some(0), Some(1))
    );
    for (k, _) in &bad {
        assert!(err.contains(&format!("{k}.pkl.gz")), "{k} not reported: {err}");
    }
    assert!(err.contains("[896, 5]") && err.contains("README.txt"), "{err}");
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(written["failures"].as_array().unwrap().len(), 4);
    // Resumable: a second import skips what is there.
    let (code, json, _) = import(&[]);
    assert_eq!(code, Some(1));
    assert_eq!((json["imported"].as_u64(), json["skipped_existing"].as_u64()), (Some(0), Some(n_entries)));
    for (k, _) in &bad {
        std::fs::remove_file(old.join(format!("{k}.pkl.gz"))).unwrap();
    }

    // merge over the imported entries scores exactly as over the fresh ones.
    let want = scores(&fresh);
    assert!(want[0].1.len() as u64 == first["scored"].as_u64().unwrap() && !want[0].1.is_empty());
    let merge = |cache: &Path, out: &Path, extra: &[&str]| {
        let mut args = vec!["merge", "--variants", variants.to_str().unwrap(), "--cache", cache.to_str().unwrap()];
        args.extend(["--model", model.as_str(), "--out", out.to_str().unwrap()]);
        args.extend_from_slice(extra);
        run_ok(&args);
    };
    let via_import = d.join("imported.parquet");
    merge(&imported_cache, &via_import, &[]);
    assert_eq!(scores(&via_import), want, "imported entries score identically");

    // merge reading the legacy folder directly (empty cache) gives the same scores.
    let direct = d.join("direct.parquet");
    merge(&d.join("empty-cache"), &direct, &["--legacy-cache", old.to_str().unwrap()]);
    assert_eq!(scores(&direct), want, "legacy entries read by merge score identically");
    // Without the legacy folder the same merge fails, naming the fix.
    let (code, _, err) = run_code(&[
        "merge",
        "--variants",
        variants.to_str().unwrap(),
        "--cache",
        d.join("empty-cache").to_str().unwrap(),
        "--model",
        &model,
        "--out",
        d.join("x.parquet").to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains("check-cache"), "{err}");

    // A legacy entry of the wrong shape standing in for a missing entry is named and not used.
    let gone = walk(&imported_cache).into_iter().find(|p| p.to_string_lossy().ends_with(".npy.zst")).unwrap();
    let gone_key = gone.file_name().unwrap().to_string_lossy().split('.').next().unwrap().to_string();
    std::fs::remove_file(&gone).unwrap();
    let old2 = d.join("legacy-wrong-shape");
    std::fs::create_dir(&old2).unwrap();
    let wrong = old2.join(format!("{gone_key}.pkl.gz"));
    std::fs::copy(fx.join("p3_array3d.pkl.gz"), &wrong).unwrap();
    let (code, _, err) = run_code(&[
        "merge",
        "--variants",
        variants.to_str().unwrap(),
        "--cache",
        imported_cache.to_str().unwrap(),
        "--model",
        &model,
        "--out",
        d.join("y.parquet").to_str().unwrap(),
        "--legacy-cache",
        old2.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains(wrong.to_str().unwrap()) && err.contains("[896, 5]") && err.contains(&gone_key), "{err}");

    // check-cache counts legacy entries as cached: nothing to predict.
    let shards: Vec<PathBuf> =
        std::fs::read_dir(d.join("fresh.parquet.work/extract/shards")).unwrap().map(|e| e.unwrap().path()).collect();
    let mut total = 0;
    for (i, shard) in shards.iter().enumerate() {
        let todo = d.join(format!("todo-{i}.parquet"));
        let out = run_ok(&[
            "check-cache",
            "--shard",
            shard.to_str().unwrap(),
            "--cache",
            d.join("empty-cache").to_str().unwrap(),
            "--model",
            &model,
            "--out",
            todo.to_str().unwrap(),
            "--legacy-cache",
            old.to_str().unwrap(),
        ]);
        let c: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(c["missing"], 0, "{c}");
        assert_eq!(c["legacy"], c["sequences"], "{c}");
        assert!(sequence_rows(&todo).is_empty());
        total += c["sequences"].as_u64().unwrap();
    }
    assert_eq!(total, n_entries);

    // run with the legacy folder predicts nothing and scores identically; a broken legacy entry is
    // recomputed instead of failing the run.
    std::fs::write(&some_entry, b"broken").unwrap();
    let legacy_run = d.join("legacy-run.parquet");
    let r = run(&d.join("run-cache"), &legacy_run, &["--legacy-cache", old.to_str().unwrap()]);
    assert_eq!(r["computed"], 1, "only the broken legacy entry is predicted: {r}");
    assert_eq!(scores(&legacy_run), want);
}

fn set_age(path: &Path, age: Duration) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - age).unwrap();
}

#[test]
fn stats_verify_and_gc_commands() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cache = d.join("cache");
    let c = cache.to_str().unwrap();
    let (model_a, model_b) = (d.join("a.onnx"), d.join("b.onnx"));
    std::fs::write(&model_a, b"model a").unwrap();
    std::fs::write(&model_b, b"model b").unwrap();
    let (a, b) = (model_a.to_str().unwrap(), model_b.to_str().unwrap());
    let fp_a = Fingerprint::for_model_file(&model_a, "human", NEncoding::Zeros, 196_608, StoreMode::Float32).unwrap();
    let fp_b = Fingerprint::for_model_file(&model_b, "human", NEncoding::Zeros, 196_608, StoreMode::Summary)
        .unwrap()
        .with_center_bins(10);
    let ns_a = Cache::open(&cache).unwrap().namespace(&fp_a);
    let ns_b = Cache::open(&cache).unwrap().namespace(&fp_b);
    let out: Vec<f32> = (0..896 * 4).map(|i| (i % 97) as f32 * 0.25).collect();
    let keys: Vec<String> = (0..6).map(|i| enformer_vep::window::seq_id(format!("w{i}").as_bytes())).collect();
    for k in &keys {
        ns_a.write_entry(k, &entry::encode(StoreMode::Float32, &out, 896, 4, 443..453, &ns_a.identity(k)).unwrap())
            .unwrap();
    }
    for k in &keys[..2] {
        ns_b.write_entry(k, &entry::encode(StoreMode::Summary, &out, 896, 4, 443..453, &ns_b.identity(k)).unwrap())
            .unwrap();
    }
    let size =
        |k: &str, ns: &enformer_vep::cache::Namespace| std::fs::metadata(ns.entry_path(k).unwrap()).unwrap().len();

    // stats: per namespace counts and bytes, as JSON and as a table.
    let (code, st, _) = run_code(&["cache", "stats", "--cache", c, "--json"]);
    assert_eq!(code, Some(0));
    let nss = st["namespaces"].as_array().unwrap();
    let find = |id: String| nss.iter().find(|n| n["id"] == id.as_str()).unwrap().clone();
    let (sa, sb) = (find(fp_a.id()), find(fp_b.id()));
    assert_eq!((sa["entries"].as_u64(), sa["store"].as_str()), (Some(6), Some("float32")));
    assert_eq!(sa["bytes"].as_u64().unwrap(), keys.iter().map(|k| size(k, &ns_a)).sum::<u64>());
    assert_eq!((sb["entries"].as_u64(), sb["store"].as_str()), (Some(2), Some("summary")));
    assert_eq!(st["entries"].as_u64(), Some(8));
    assert!(sa["oldest"].as_str().unwrap().ends_with('Z'));
    let table = String::from_utf8(run_ok(&["cache", "stats", "--cache", c]).stdout).unwrap();
    assert!(table.contains(&fp_a.id()) && table.contains(&fp_b.id()) && table.contains("summary"), "{table}");

    // verify: a flipped bit is found (exit 1, path named); --model narrows; --fix removes it.
    let victim = ns_a.entry_path(&keys[2]).unwrap();
    let mut bytes = std::fs::read(&victim).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x04;
    std::fs::write(&victim, bytes).unwrap();
    let stale = victim.with_file_name(format!(".{}.npy.zst.4242.0.1f.tmp", keys[2]));
    std::fs::write(&stale, b"half an entry").unwrap();
    set_age(&stale, Duration::from_secs(3 * 3600));
    let (code, v, err) = run_code(&["cache", "verify", "--cache", c]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!((v["checked"].as_u64(), v["bad"].as_u64(), v["stale_temp_files"].as_u64()), (Some(8), Some(1), Some(1)));
    assert!(err.contains(victim.to_str().unwrap()) && err.contains("--fix"), "{err}");
    assert!(victim.exists(), "verify without --fix changes nothing");
    let (code, v, _) = run_code(&["cache", "verify", "--cache", c, "--model", b]);
    assert_eq!((code, v["checked"].as_u64()), (Some(0), Some(2)), "model b's namespace is healthy");
    let (code, v, err) = run_code(&["cache", "verify", "--cache", c, "--fix"]);
    assert_eq!((code, v["removed"].as_u64()), (Some(0), Some(2)), "{err}");
    assert!(!victim.exists() && !stale.exists());
    let (code, v, _) = run_code(&["cache", "verify", "--cache", c]);
    assert_eq!((code, v["checked"].as_u64(), v["bad"].as_u64()), (Some(0), Some(7), Some(0)));

    // gc --older-than: only entries written more than 30 days ago go.
    set_age(&ns_a.entry_path(&keys[0]).unwrap(), Duration::from_secs(40 * 86_400));
    set_age(&ns_a.entry_path(&keys[1]).unwrap(), Duration::from_secs(31 * 86_400));
    set_age(&ns_a.entry_path(&keys[3]).unwrap(), Duration::from_secs(29 * 86_400));
    let old_bytes = size(&keys[0], &ns_a) + size(&keys[1], &ns_a);
    let (code, g, _) = run_code(&["cache", "gc", "--cache", c, "--older-than", "30d", "--dry-run"]);
    assert_eq!((code, g["entries_removed"].as_u64(), g["bytes_freed"].as_u64()), (Some(0), Some(2), Some(old_bytes)));
    assert!(ns_a.entry_path(&keys[0]).unwrap().exists(), "dry run removes nothing");
    let (code, g, _) = run_code(&["cache", "gc", "--cache", c, "--older-than", "30d"]);
    assert_eq!((code, g["entries_removed"].as_u64(), g["bytes_freed"].as_u64()), (Some(0), Some(2), Some(old_bytes)));
    assert!(!ns_a.entry_path(&keys[0]).unwrap().exists() && !ns_a.entry_path(&keys[1]).unwrap().exists());
    assert!(ns_a.entry_path(&keys[3]).unwrap().exists() && ns_b.entry_path(&keys[0]).unwrap().exists());

    // gc --keep-model: the other namespace goes (dry run first).
    let b_bytes = walk(ns_b.dir()).iter().map(|p| std::fs::metadata(p).unwrap().len()).sum::<u64>();
    let (code, g, err) = run_code(&["cache", "gc", "--cache", c, "--keep-model", a, "--dry-run"]);
    assert_eq!((code, g["namespaces_removed"].as_u64()), (Some(0), Some(1)), "{err}");
    assert!(ns_b.dir().exists());
    let (code, g, _) = run_code(&["cache", "gc", "--cache", c, "--keep-model", a]);
    assert_eq!((code, g["namespaces_removed"].as_u64()), (Some(0), Some(1)));
    assert_eq!(g["bytes_freed"].as_u64(), Some(b_bytes), "entries and fingerprint.json: {g}");
    assert!(!ns_b.dir().exists() && ns_a.dir().exists());

    // Mistakes: a model with no namespace, a bad duration, a missing cache, no criterion.
    let (code, _, err) = run_code(&["cache", "gc", "--cache", c, "--keep-model", b]);
    assert_eq!(code, Some(1));
    assert!(err.contains("nothing was removed"), "{err}");
    assert!(ns_a.dir().exists());
    let (code, _, err) = run_code(&["cache", "gc", "--cache", c, "--older-than", "30 days"]);
    assert_eq!(code, Some(2), "a flag value that does not parse is a usage error");
    assert!(err.contains("30d"), "{err}");
    let (code, _, err) = run_code(&["cache", "stats", "--cache", d.join("nope").to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(err.contains("does not exist"), "{err}");
    assert_eq!(run_code(&["cache", "gc", "--cache", c]).0, Some(2));
}

/// A protocol-4 pickle of a C-ordered float32 array of `shape` (dimensions as LONG1, so any size can be
/// claimed) holding `data`, as numpy writes it (via `_reconstruct` + BUILD).
fn pickle_f32(shape: &[u64], data: &[f32]) -> Vec<u8> {
    let mut p = b"\x80\x04\x8c\x16numpy._core.multiarray\x94\x8c\x0c_reconstruct\x94\x93\x94".to_vec();
    p.extend_from_slice(b"\x8c\x05numpy\x94\x8c\x07ndarray\x94\x93\x94K\x00\x85\x94C\x01b\x94\x87\x94R\x94(K\x01");
    p.push(b'(');
    for d in shape {
        p.extend_from_slice(b"\x8a\x08");
        p.extend_from_slice(&d.to_le_bytes());
    }
    p.push(b't');
    p.extend_from_slice(b"h\x03\x8c\x05dtype\x94\x93\x94\x8c\x02f4\x94\x89\x88\x87\x94R\x94(K\x03\x8c\x01<\x94NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t\x94b\x89");
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    p.push(b'B');
    p.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    p.extend_from_slice(&bytes);
    p.extend_from_slice(b"t\x94b.");
    p
}

/// Runs the binary with at most `mb` MB of address space and `secs` seconds: a crash, a hang or an
/// allocation beyond the bound fails the test.
fn run_bounded(args: &[&str], mb: u64, secs: u64) -> (Option<i32>, String) {
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let script = format!(
        "ulimit -v {}; exec timeout -s KILL {secs} '{}' --quiet {}",
        mb * 1024,
        env!("CARGO_BIN_EXE_enformer-vep"),
        quoted.join(" ")
    );
    let out = std::process::Command::new("sh").arg("-c").arg(script).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked") && !err.contains("memory allocation"), "{args:?}: {err}");
    assert!(out.status.code().is_some(), "{args:?} was killed (crash, hang or out of memory): {err}");
    (out.status.code(), err)
}

/// Issue 10 items 3, 10 and 12: hostile legacy files are errors naming the file, in `cache import-legacy` and
/// in `merge --legacy-cache`, with bounded memory and time: a tuple nested 300,000 deep in 332 bytes (was a
/// stack overflow), a gzip inflating to 1 GiB, an array claiming shape (2^60, 16) with no data (its size
/// wrapped to 0: all-zero scores), an array of 8 tracks for the 16-track model, a FIFO (blocked the open
/// forever) and a link to /dev/zero.
#[test]
fn hostile_legacy_files_are_named_errors_never_crashes_hangs_or_scores() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    run_ok(&["demo-data", "--out-dir", &s(d), "--genome-size", "300000", "--variants", "3"]);
    let out = d.join("out");
    let (variants_in, genome) = (s(&d.join("variants.kunkle.txt")), s(&d.join("genome.fa")));
    run_ok(&["extract-seqs", "--variants", &variants_in, "--genome", &genome, "--out-dir", &s(&out)]);
    let ids: Vec<String> =
        sequence_rows(&out.join("shards/shard-00000.parquet")).into_iter().map(|(id, _)| id).collect();
    assert!(ids.len() >= 6, "{ids:?}");

    let mut nested = b"\x80\x02)".to_vec();
    nested.extend(std::iter::repeat_n(0x85u8, 300_000));
    let gz_best = |bytes: &[u8]| {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    };
    let nested = gz_best(&nested);
    assert!(nested.len() < 400, "the finding's file is 332 bytes: {}", nested.len());
    let member = gz_best(&vec![0u8; 1 << 20]);
    let bomb: Vec<u8> = std::iter::repeat_n(member.as_slice(), 1024).flatten().copied().collect(); // 1 GiB inflated
    let legacy = d.join("legacy");
    std::fs::create_dir(&legacy).unwrap();
    let file = |i: usize| legacy.join(format!("{}.pkl.gz", ids[i]));
    std::fs::write(file(0), &nested).unwrap();
    std::fs::write(file(1), &bomb).unwrap();
    std::fs::write(file(2), gz(&pickle_f32(&[1 << 60, 16], &[]))).unwrap();
    std::fs::write(file(3), gz(&pickle_f32(&[896, 8], &vec![1.0; 896 * 8]))).unwrap();
    assert!(std::process::Command::new("mkfifo").arg(file(4)).status().unwrap().success());
    std::os::unix::fs::symlink("/dev/zero", file(5)).unwrap();
    let model = s(&tiny_model());
    let expect = [
        "nested more than 64 deep",
        "inflates to more than",
        "[1152921504606846976, 16], but the model's 'human' output is [896, 16]",
        "[896, 8], but the model's 'human' output is [896, 16]",
        "a FIFO, not a regular file",
        "a character device, not a regular file",
    ];

    // import-legacy: every file is a named failure, nothing is imported, exit 1.
    let cache = d.join("cache");
    let (code, err) = run_bounded(
        &["cache", "import-legacy", "--from", &s(&legacy), "--cache", &s(&cache), "--model", &model],
        1024,
        120,
    );
    assert_eq!(code, Some(1), "{err}");
    for (i, why) in expect.iter().enumerate() {
        assert!(
            err.lines().any(|l| l.contains(&s(&file(i))) && l.contains(why)),
            "{} ({why}) not named: {err}",
            ids[i]
        );
    }
    assert!(!walk(&cache).iter().any(|p| p.to_string_lossy().ends_with(".npy.zst")), "nothing imported");

    // merge reading the same folder directly: each unreadable file is a warning naming it, its variants are
    // missing, exit 1 and no scores. The hostile files stand for reference windows of scored variants, and
    // every other window gets a good legacy entry (merge reads nothing unless every window is there; a FIFO
    // or a link to a device does not count as there: it is never opened).
    let good = gz(&pickle_f32(&[896, 16], &vec![0.5; 896 * 16]));
    let mut refs: Vec<String> =
        strings(&read_batches(&out.join("variants.parquet")), "ref_seq_id").into_iter().flatten().collect();
    refs.sort();
    refs.dedup();
    assert!(refs.len() >= 3, "{refs:?}");
    let hostile = [nested, bomb, gz(&pickle_f32(&[1 << 60, 16], &[]))];
    for id in &ids {
        let path = legacy.join(format!("{id}.pkl.gz"));
        std::fs::remove_file(&path).ok();
        let which = refs.iter().take(3).position(|r| r == id);
        std::fs::write(&path, which.map_or(&good, |i| &hostile[i])).unwrap();
    }
    let file = |i: usize| legacy.join(format!("{}.pkl.gz", refs[i]));
    let scores = d.join("scores.parquet");
    let (code, err) = run_bounded(
        &[
            "merge",
            "--variants",
            &s(&out.join("variants.parquet")),
            "--cache",
            &s(&cache),
            "--model",
            &model,
            "--out",
            &s(&scores),
            "--legacy-cache",
            &s(&legacy),
        ],
        1024,
        120,
    );
    assert_eq!(code, Some(1), "{err}");
    // merge holds legacy entries to the shape recorded in the namespace's fingerprint.json, so the (2^60, 16)
    // array is refused by its shape before its data size is looked at.
    let expect = [
        expect[0],
        expect[1],
        "array has shape [1152921504606846976, 16], but the model's 'human' output is [896, 16]",
    ];
    for (i, why) in expect.iter().enumerate() {
        assert!(err.contains(&s(&file(i))) && err.contains(why), "{} ({why}) not named: {err}", refs[i]);
    }
    assert!(!scores.exists(), "no scores from unreadable legacy entries");
}
