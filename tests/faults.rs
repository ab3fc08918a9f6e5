//! The cache under faults, each injected for real: SIGKILL at random moments, crashes at each step of an
//! entry write, concurrent writers, damaged entries, a full disk and a read-only cache. The invariant
//! everywhere: every entry file is byte-identical to the one a clean run writes, or absent; the scores after
//! recovery equal a clean run's.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

const STATS: [&str; 4] = ["SAD", "logSED", "D2", "CENTER"];

/// A clean single-process run: its cache entries and scores are the reference.
struct Fixture {
    _dir: tempfile::TempDir,
    d: PathBuf,
    genome: PathBuf,
    vcf: PathBuf,
    shard: PathBuf,
    variants: PathBuf,
    scores: PathBuf,
    reference: BTreeMap<PathBuf, Vec<u8>>,
}

fn fixture(region: &str) -> Option<Fixture> {
    let real = real_data()?;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let genome = linked_genome(&real, "varda_hg19_chr20_1-200000.fa", &d);
    let vcf = real.join("vcf/varda_gonl-summary_chr20_60k-200k.hg19.vcf");
    let scores = d.join("reference.parquet");
    let counts =
        run_tiny(&vcf, &genome, &d.join("reference-cache"), &scores, &["--region", region, "--shard-size", "1000"]);
    assert!(counts["computed"].as_u64().unwrap() >= 20, "{counts}");
    let work = d.join("reference.parquet.work/extract");
    let reference = entries(&d.join("reference-cache"));
    assert_eq!(reference.len() as u64, counts["computed"].as_u64().unwrap());
    Some(Fixture {
        shard: work.join("shards/shard-00000.parquet"),
        variants: work.join("variants.parquet"),
        _dir: dir,
        d,
        genome,
        vcf,
        scores,
        reference,
    })
}

/// Every visible entry file, by path relative to the cache root.
fn entries(cache: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    walk(cache)
        .into_iter()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.ends_with(".npy.zst") && !name.starts_with('.')
        })
        .map(|p| (p.strip_prefix(cache).unwrap().to_path_buf(), std::fs::read(&p).unwrap()))
        .collect()
}

fn count_entries(cache: &Path) -> usize {
    walk(cache).iter().filter(|p| p.to_string_lossy().ends_with(".npy.zst")).count()
}

fn temp_files(cache: &Path) -> Vec<PathBuf> {
    walk(cache).into_iter().filter(|p| p.to_string_lossy().ends_with(".tmp")).collect()
}

/// No torn or wrong entry: each one present is byte-identical to the clean run's; `fingerprint.json` parses.
fn assert_complete_or_absent(fx: &Fixture, cache: &Path, when: &str) {
    for (rel, bytes) in entries(cache) {
        let want = fx.reference.get(&rel).unwrap_or_else(|| panic!("{when}: unexpected entry {}", rel.display()));
        assert!(bytes == *want, "{when}: entry {} is torn or differs", rel.display());
    }
    for p in walk(cache).into_iter().filter(|p| p.ends_with("fingerprint.json")) {
        let text = std::fs::read(&p).unwrap();
        serde_json::from_slice::<serde_json::Value>(&text).unwrap_or_else(|e| panic!("{when}: {}: {e}", p.display()));
    }
}

fn predict(fx: &Fixture, sequences: &Path, cache: &Path, manifest: &Path) -> Command {
    let mut c = bin();
    c.args(["predict", "--sequences"])
        .arg(sequences)
        .arg("--model")
        .arg(tiny_model())
        .arg("--cache")
        .arg(cache)
        .arg("--manifest")
        .arg(manifest)
        .current_dir(&fx.d)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// check-cache of the fixture's shard against `cache` into `todo`; returns its summary.
fn check_cache(fx: &Fixture, cache: &Path, todo: &Path) -> serde_json::Value {
    let model = tiny_model();
    let o = run_ok(&[
        "check-cache",
        "--shard",
        fx.shard.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--out",
        todo.to_str().unwrap(),
    ]);
    serde_json::from_slice(&o.stdout).unwrap()
}

fn output(mut c: Command) -> Output {
    c.output().expect("binary runs")
}

fn merge(fx: &Fixture, cache: &Path, out: &Path) -> Output {
    output({
        let mut c = bin();
        c.args(["merge", "--variants"])
            .arg(&fx.variants)
            .arg("--model")
            .arg(tiny_model())
            .arg("--cache")
            .arg(cache)
            .arg("--out")
            .arg(out);
        c
    })
}

/// Merge from `cache` succeeds and gives the clean run's scores exactly.
fn assert_scores_equal_reference(fx: &Fixture, cache: &Path, name: &str) {
    let out = fx.d.join(format!("{name}.parquet"));
    let o = merge(fx, cache, &out);
    assert!(o.status.success(), "{name}: merge failed: {}", String::from_utf8_lossy(&o.stderr));
    for stat in STATS {
        assert_eq!(stat_lists(&out, stat), stat_lists(&fx.scores, stat), "{name}: {stat}");
    }
}

/// Predicts `fx.shard` into `cache` to completion and checks the result against the reference.
fn finish_and_check(fx: &Fixture, cache: &Path, name: &str) {
    let o = output(predict(fx, &fx.shard, cache, &fx.d.join(format!("{name}.manifest.parquet"))));
    assert!(o.status.success(), "{name}: {}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(entries(cache), fx.reference, "{name}: every entry present and identical");
    assert_scores_equal_reference(fx, cache, name);
}

/// A copy of the clean run's cache (entries and namespace files) at `cache`.
fn copy_reference_cache(fx: &Fixture, cache: &Path) {
    for (rel, bytes) in &fx.reference {
        std::fs::create_dir_all(cache.join(rel).parent().unwrap()).unwrap();
        std::fs::write(cache.join(rel), bytes).unwrap();
    }
    let src = fx.d.join("reference-cache");
    for p in walk(&src).into_iter().filter(|p| p.ends_with("fingerprint.json")) {
        std::fs::copy(&p, cache.join(p.strip_prefix(&src).unwrap())).unwrap();
    }
}

/// A small deterministic generator: the kill moments are "random" but the same on every run.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

#[test]
fn predict_sigkilled_at_24_random_moments_never_leaves_a_torn_entry() {
    let Some(fx) = fixture("20:60000-63000") else { return };
    let mut rng = Lcg(20261124);
    let (mut kills, mut round) = (0, 0);
    let mut cache = fx.d.join("kill-0");
    let (mut killed_with_progress, mut killed_in_write) = (0, 0);
    while kills < 24 {
        // Every third kill is aimed inside an entry write: writes pause half-way (a test hook), and the kill
        // comes once a temp file has appeared.
        let aim_at_write = kills % 3 == 2;
        // Kill after a random number of new entries (0: during start-up or the first batch) plus a random
        // slice of time, so that the kills land across batches and writes whatever the machine's speed.
        let before = count_entries(&cache);
        let wait_for = before + rng.next(4) as usize;
        let extra = Duration::from_millis(rng.next(400));
        let mut command = predict(&fx, &fx.shard, &cache, &fx.d.join("kill.manifest.parquet"));
        if aim_at_write {
            command.env("ENFORMER_VEP_WRITE_DELAY_MS", "300");
        }
        let temps_before = temp_files(&cache).len();
        let mut child = command.spawn().unwrap();
        while count_entries(&cache) < wait_for && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(2));
        }
        let extra = if aim_at_write {
            while temp_files(&cache).len() <= temps_before && child.try_wait().unwrap().is_none() {
                std::thread::sleep(Duration::from_millis(1));
            }
            Duration::from_millis(rng.next(100))
        } else {
            extra
        };
        let started = Instant::now();
        while started.elapsed() < extra && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(2));
        }
        if let Some(status) = child.try_wait().unwrap() {
            // It finished before the kill: the cache is complete. Check it and start a fresh one.
            assert!(status.success());
            assert_eq!(entries(&cache), fx.reference, "round {round} completed");
            round += 1;
            cache = fx.d.join(format!("kill-{round}"));
            continue;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        if count_entries(&cache) > before {
            killed_with_progress += 1;
        }
        if aim_at_write {
            assert!(
                temp_files(&cache).len() > temps_before,
                "kill {kills} was aimed inside a write: a temp file stays"
            );
            killed_in_write += 1;
        }
        assert_complete_or_absent(&fx, &cache, &format!("after kill {kills} (after {wait_for} entries + {extra:?})"));
    }
    assert!(killed_with_progress >= 8, "kills must land between batches, not only at start-up: {killed_with_progress}");
    assert_eq!(killed_in_write, 8, "8 kills landed inside an entry write");
    finish_and_check(&fx, &cache, "after-kills");
}

#[test]
fn a_crash_at_each_step_of_an_entry_write_leaves_the_entry_complete_or_absent() {
    let Some(fx) = fixture("20:60000-63000") else { return };
    for point in ["mid-write", "before-rename", "after-rename"] {
        for n in [1, 4, 9] {
            let name = format!("{point}-{n}");
            let cache = fx.d.join(&name);
            let mut c = predict(&fx, &fx.shard, &cache, &fx.d.join("crash.manifest.parquet"));
            c.env("ENFORMER_VEP_FAILPOINT", format!("{point}:{n}"));
            let o = output(c);
            assert!(!o.status.success(), "{name}: the process must have crashed");
            assert_complete_or_absent(&fx, &cache, &name);
            // The writes before the crash are kept (write 1 is the namespace's fingerprint.json).
            let kept = entries(&cache).len();
            let torn = temp_files(&cache).len();
            match point {
                "after-rename" => assert_eq!((kept, torn), (n - 1, 0), "{name}"),
                _ => assert_eq!((kept, torn), (n.max(2) - 2, 1), "{name}: one torn temp file, never an entry"),
            }
            let check = fx.d.join(format!("{name}.todo.parquet"));
            check_cache(&fx, &cache, &check);
            assert_eq!(sequence_rows(&check).len(), fx.reference.len() - kept, "{name}: temp files are not entries");
            finish_and_check(&fx, &cache, &name);
        }
    }
}

#[test]
fn four_processes_predicting_overlapping_sets_into_one_cache_agree_with_one_process() {
    let Some(fx) = fixture("20:60000-64000") else { return };
    let regions = ["20:60000-64000", "20:60000-62000", "20:61000-63000", "20:62000-64000"];
    let shards: Vec<PathBuf> = regions
        .iter()
        .enumerate()
        .map(|(i, region)| {
            let out = fx.d.join(format!("overlap-{i}"));
            run_ok(&[
                "extract-seqs",
                "--variants",
                fx.vcf.to_str().unwrap(),
                "--genome",
                fx.genome.to_str().unwrap(),
                "--out-dir",
                out.to_str().unwrap(),
                "--region",
                region,
                "--shard-size",
                "1000",
            ]);
            out.join("shards/shard-00000.parquet")
        })
        .collect();
    let cache = fx.d.join("shared-cache");
    let manifests: Vec<PathBuf> = (0..4).map(|i| fx.d.join(format!("p{i}.manifest.parquet"))).collect();
    let children: Vec<_> = shards
        .iter()
        .zip(&manifests)
        .map(|(shard, manifest)| {
            let mut c = predict(&fx, shard, &cache, manifest);
            c.args(["--threads", "1"]);
            c.spawn().unwrap()
        })
        .collect();
    for child in children {
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(entries(&cache), fx.reference, "every entry valid and identical to a single-process run's");
    // Each sequence computed at least once; every other occurrence was read back and verified as cached.
    let mut computed = std::collections::BTreeSet::new();
    let mut rows = 0;
    for m in &manifests {
        let b = read_batches(m);
        for (id, status) in strings(&b, "seq_id").into_iter().zip(strings(&b, "status")) {
            rows += 1;
            match status.as_deref() {
                Some("computed") => {
                    computed.insert(id.unwrap());
                }
                Some("cached") => {}
                other => panic!("unexpected status {other:?}"),
            }
        }
    }
    assert_eq!(computed.len(), fx.reference.len());
    assert!(rows > fx.reference.len(), "the sets overlap");
    assert_scores_equal_reference(&fx, &cache, "concurrent");
}

#[test]
fn damaged_entries_are_named_moved_aside_recomputed_and_never_scored() {
    let Some(fx) = fixture("20:60000-63000") else { return };
    let cache = fx.d.join("damaged");
    copy_reference_cache(&fx, &cache);
    let rels: Vec<PathBuf> = fx.reference.keys().cloned().collect();
    let path = |i: usize| cache.join(&rels[i]);
    let name = |i: usize| rels[i].file_name().unwrap().to_string_lossy().into_owned();
    let stray = |i: usize| path(i).with_file_name(format!(".{}.4242.0.1f.tmp", name(i)));
    let check_cache = |todo: &Path| check_cache(&fx, &cache, todo);
    let predict_todo = |todo: &Path| -> serde_json::Value {
        let o = output(predict(&fx, todo, &cache, &fx.d.join("damaged.manifest.parquet")));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };

    // Damaged in place: a bit flip, a truncation, an entry of the wrong shape (valid checksum), and a stray
    // temp file (a killed writer's) beside an intact entry.
    let mut b = fx.reference[&rels[0]].clone();
    let mid = b.len() / 2;
    b[mid] ^= 0x10;
    std::fs::write(path(0), b).unwrap();
    std::fs::write(path(1), &fx.reference[&rels[1]][..fx.reference[&rels[1]].len() / 3]).unwrap();
    // With the identity of the key it is stored under: only its shape is wrong.
    let namespace = rels[3].iter().nth(1).unwrap().to_string_lossy().into_owned();
    let wrong_shape = enformer_vep::cache::entry::encode(
        enformer_vep::cache::StoreMode::Float32,
        &vec![0.5f32; 896 * 15],
        896,
        15,
        443..453,
        &enformer_vep::cache::entry::Identity { seq_id: name(3).trim_end_matches(".npy.zst"), namespace: &namespace },
    )
    .unwrap();
    std::fs::write(path(3), &wrong_shape).unwrap();
    std::fs::write(stray(4), b"half an entry").unwrap();
    // merge reads every entry: the three damaged ones are named, moved aside, and no scores are written.
    let o = merge(&fx, &cache, &fx.d.join("damaged.parquet"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    for i in [0, 1, 3] {
        assert!(err.contains(&name(i)), "entry {i} named: {err}");
        assert!(!path(i).exists(), "entry {i} moved aside");
    }
    assert!(!err.contains(&name(4)), "the intact entry beside a temp file is fine: {err}");
    assert!(!fx.d.join("damaged.parquet").exists(), "no scores from a damaged cache");
    assert!(err.contains("check-cache") && err.contains("predict"), "says how to fill them: {err}");
    // The recovery the message gives: check-cache sees the three as missing, predict recomputes exactly them.
    let todo = fx.d.join("damaged.todo.parquet");
    assert_eq!(check_cache(&todo)["missing"], 3);
    assert_eq!(predict_todo(&todo)["computed"], 3);
    assert_eq!(entries(&cache), fx.reference);
    assert_scores_equal_reference(&fx, &cache, "repaired");

    // A foreign-shaped entry first in sort order: the shape predict recorded in fingerprint.json decides, so
    // only that entry is named and moved aside; the good ones are never blamed (they used to be, when the
    // first entry read set the shape).
    let fp_json = walk(&cache).into_iter().find(|p| p.ends_with("fingerprint.json")).unwrap();
    let recorded: serde_json::Value = serde_json::from_slice(&std::fs::read(&fp_json).unwrap()).unwrap();
    assert_eq!(recorded["output_shape"], serde_json::json!([896, 16]), "{recorded}");
    std::fs::write(path(0), &wrong_shape).unwrap();
    let o = merge(&fx, &cache, &fx.d.join("foreign.parquet"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(&name(0)) && err.contains("1 sequence(s)"), "only the foreign entry is named: {err}");
    assert!(!path(0).exists() && (1..rels.len()).all(|i| path(i).exists()), "good entries stay");
    assert_eq!(
        predict_todo(&{
            let todo = fx.d.join("foreign.todo.parquet");
            assert_eq!(check_cache(&todo)["missing"], 1);
            todo
        })["computed"],
        1
    );
    assert_scores_equal_reference(&fx, &cache, "foreign shape repaired");

    // An empty file, and a stray temp file standing where an entry was deleted: both count as missing.
    std::fs::write(path(2), b"").unwrap();
    std::fs::remove_file(path(5)).unwrap();
    std::fs::write(stray(5), &fx.reference[&rels[5]][..100]).unwrap();
    let o = merge(&fx, &cache, &fx.d.join("damaged.parquet"));
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("2 sequence(s)"), "{}", String::from_utf8_lossy(&o.stderr));
    let todo = fx.d.join("missing.todo.parquet");
    assert_eq!(check_cache(&todo)["missing"], 2);
    assert_eq!(predict_todo(&todo)["computed"], 2);
    assert_eq!(entries(&cache), fx.reference);
    assert_scores_equal_reference(&fx, &cache, "refilled");

    // predict given the whole shard reads every entry: a damaged one is recomputed, with a warning naming it.
    std::fs::write(path(0), b"not an entry").unwrap();
    let o = output(predict(&fx, &fx.shard, &cache, &fx.d.join("shard.manifest.parquet")));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("warning: corrupt cache entry, recomputed") && err.contains(&name(0)), "{err}");
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["computed"], 1);
    assert_eq!(entries(&cache), fx.reference);

    // `run` does the same in one go: damaged entries are recomputed with a warning naming each file.
    std::fs::write(path(0), b"not an entry").unwrap();
    let out = fx.d.join("run-damaged.parquet");
    let o = output({
        let mut c = bin();
        c.args(["run", "--variants"]).arg(&fx.vcf).arg("--genome").arg(&fx.genome).arg("--model").arg(tiny_model());
        c.arg("--cache").arg(&cache).arg("--out").arg(&out).args(["--region", "20:60000-63000"]);
        c
    });
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&name(0)), "{err}");
    let counts: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(counts["computed"], 1, "{counts}");
    for stat in STATS {
        assert_eq!(stat_lists(&out, stat), stat_lists(&fx.scores, stat), "{stat}");
    }
}

/// A cache damaged throughout gives a readable summary: the first `FAILED_SHOWN` corrupt entries are named,
/// the rest counted in one line (not a warning line per entry).
#[test]
fn many_corrupt_entries_are_named_up_to_a_cap_and_the_rest_counted() {
    use enformer_vep::predict::FAILED_SHOWN;
    let Some(fx) = fixture("20:60000-63000") else { return };
    let n = fx.reference.len();
    assert!(n > FAILED_SHOWN + 1, "the fixture needs more entries than are named: {n}");
    let cache = fx.d.join("all-damaged");
    copy_reference_cache(&fx, &cache);
    for rel in fx.reference.keys() {
        std::fs::write(cache.join(rel), b"not an entry").unwrap();
    }
    let o = output(predict(&fx, &fx.shard, &cache, &fx.d.join("all-damaged.manifest.parquet")));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let named = err.lines().filter(|l| l.starts_with("warning: corrupt cache entry, recomputed")).count();
    assert_eq!(named, FAILED_SHOWN, "{err}");
    let more = format!("warning: ... and {} more corrupt cache entries, recomputed", n - FAILED_SHOWN);
    assert_eq!(err.lines().filter(|l| l.starts_with(&more)).count(), 1, "{err}");
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["computed"], n as u64);
    assert_eq!(entries(&cache), fx.reference);
}

/// Issue 10 item 1: an entry is served only under the key and namespace it was written for. A valid entry
/// copied onto another key (the alt window's entry at the ref's path) or into another namespace of the same
/// shape (`--n-encoding uniform`) is refused by merge and by `cache verify`, and recomputed, never scored.
#[test]
fn entries_copied_onto_another_key_or_into_another_namespace_are_refused() {
    use enformer_vep::cache::{Cache, Fingerprint, NEncoding, StoreMode};
    let Some(fx) = fixture("20:60000-63000") else { return };
    let cache = fx.d.join("copied");
    copy_reference_cache(&fx, &cache);
    let rels: Vec<PathBuf> = fx.reference.keys().cloned().collect();
    let verify = |cache: &Path| -> (Option<i32>, serde_json::Value, String) {
        let o = output({
            let mut c = bin();
            c.args(["cache", "verify", "--cache"]).arg(cache);
            c
        });
        let json = serde_json::from_slice(&o.stdout).unwrap_or_default();
        (o.status.code(), json, String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let (code, clean, _) = verify(&cache);
    assert_eq!((code, clean["ok"].as_u64(), clean["unbound"].as_u64()), (Some(0), Some(rels.len() as u64), Some(0)));

    // Another key's entry (valid checksum, shape and dtype) at the first key's path, and vice versa.
    std::fs::write(cache.join(&rels[0]), &fx.reference[&rels[1]]).unwrap();
    std::fs::write(cache.join(&rels[1]), &fx.reference[&rels[0]]).unwrap();
    let (code, v, err) = verify(&cache);
    assert_eq!((code, v["bad"].as_u64()), (Some(1), Some(2)), "{err}");
    let o = merge(&fx, &cache, &fx.d.join("swapped.parquet"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("copied or moved by hand"), "{err}");
    for rel in &rels[..2] {
        assert!(err.contains(&*rel.file_name().unwrap().to_string_lossy()), "named: {err}");
        assert!(!cache.join(rel).exists(), "moved aside");
    }
    assert!(!fx.d.join("swapped.parquet").exists(), "no scores");
    let todo = fx.d.join("swapped.todo.parquet");
    assert_eq!(check_cache(&fx, &cache, &todo)["missing"], 2);
    let o = output(predict(&fx, &todo, &cache, &fx.d.join("swapped.manifest.parquet")));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_scores_equal_reference(&fx, &cache, "swapped and repaired");

    // Every entry copied into the `--n-encoding uniform` namespace (same shape, other numbers).
    let fp = Fingerprint::for_model_file(&tiny_model(), "human", NEncoding::Uniform, 196_608, StoreMode::Float32)
        .unwrap()
        .with_center_bins(10);
    let uniform = Cache::open(&cache).unwrap().namespace(&fp);
    for (rel, bytes) in &fx.reference {
        let fan = rel.parent().unwrap().file_name().unwrap();
        let to = uniform.dir().join(fan).join(rel.file_name().unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(to, bytes).unwrap();
    }
    let (code, v, err) = verify(&cache);
    assert_eq!((code, v["bad"].as_u64()), (Some(1), Some(rels.len() as u64)), "{err}");
    let o = output({
        let mut c = bin();
        c.args(["merge", "--n-encoding", "uniform", "--variants"]).arg(&fx.variants);
        c.arg("--model").arg(tiny_model()).arg("--cache").arg(&cache).arg("--out").arg(fx.d.join("uniform.parquet"));
        c
    });
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("in namespace {}", uniform.id())) && err.contains("copied or moved"), "{err}");
    assert!(!fx.d.join("uniform.parquet").exists(), "no scores");
}

/// Issue 10 item 5: merge killed between writing `scores.parquet` and `scores.tracks.tsv` never leaves a new
/// parquet beside the previous run's sidecar (7 tracks named for 16 columns, or the reverse): the old sidecar
/// goes first, and the parquet records its sidecar's SHA-256, so a mismatch is detectable.
#[test]
fn a_merge_killed_between_the_scores_and_their_sidecar_leaves_no_mismatched_pair() {
    use enformer_vep::merge::{check_tracks_sidecar, tracks_sidecar_path, Sidecar};
    let Some(fx) = fixture("20:60000-63000") else { return };
    let cache = fx.d.join("reference-cache");
    let out = fx.d.join("pair.parquet");
    let merge_with = |tracks: Option<&str>, failpoint: Option<&str>| -> Output {
        let mut c = bin();
        c.args(["merge", "--variants"]).arg(&fx.variants).arg("--model").arg(tiny_model());
        c.arg("--cache").arg(&cache).arg("--out").arg(&out);
        if let Some(t) = tracks {
            c.args(["--tracks", t]);
        }
        if let Some(f) = failpoint {
            c.env("ENFORMER_VEP_FAILPOINT", f);
        }
        output(c)
    };
    let columns = || stat_lists(&out, "SAD")[0].len();
    let sidecar_rows = || std::fs::read_to_string(tracks_sidecar_path(&out)).unwrap().lines().count() - 1;
    assert!(merge_with(None, None).status.success());
    assert_eq!((columns(), sidecar_rows()), (16, 16));
    assert_eq!(check_tracks_sidecar(&out).unwrap(), Sidecar::Matches);
    // Identifiers 1 and 10-15: 7 tracks. Killed before the parquet is renamed: the old parquet stays, its old
    // sidecar is gone.
    let o = merge_with(Some("^1"), Some("scores-before-parquet:1"));
    assert!(!o.status.success(), "the failpoint ends the process");
    assert_eq!(columns(), 16);
    assert_eq!(check_tracks_sidecar(&out).unwrap(), Sidecar::Absent);
    assert!(merge_with(None, None).status.success());
    // Killed after the parquet is renamed, before the sidecar: new parquet, no sidecar (not the old one).
    let o = merge_with(Some("^1"), Some("scores-before-sidecar:1"));
    assert!(!o.status.success(), "the failpoint ends the process");
    assert_eq!(columns(), 7);
    assert_eq!(check_tracks_sidecar(&out).unwrap(), Sidecar::Absent);
    // Rerun: a matching pair. A sidecar from another run is told apart.
    assert!(merge_with(Some("^1"), None).status.success());
    assert_eq!((columns(), sidecar_rows(), check_tracks_sidecar(&out).unwrap()), (7, 7, Sidecar::Matches));
    let other = std::fs::read(tracks_sidecar_path(&fx.scores)).unwrap();
    std::fs::write(tracks_sidecar_path(&out), other).unwrap();
    assert_eq!(check_tracks_sidecar(&out).unwrap(), Sidecar::Differs);
}

/// Mounts a tmpfs of `kb` KiB at `dir` when the machine allows it (root in a VM or container with
/// CAP_SYS_ADMIN); None otherwise.
fn small_tmpfs(dir: &Path, kb: u64) -> Option<TmpfsGuard> {
    std::fs::create_dir_all(dir).unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={kb}k"), "tmpfs"])
        .arg(dir)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| TmpfsGuard(dir.to_path_buf()))
}

struct TmpfsGuard(PathBuf);
impl Drop for TmpfsGuard {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn assert_stops_cleanly(fx: &Fixture, cache: &Path, o: &Output, what: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{what}: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert!(err.contains("run the same command again"), "{what}: says how to go on: {err}");
    assert_complete_or_absent(fx, cache, what);
    assert!(temp_files(cache).is_empty(), "{what}: no half-written temp file left: {:?}", temp_files(cache));
    assert!(entries(cache).len() < fx.reference.len(), "{what}: stopped early");
}

#[test]
fn a_full_disk_stops_predict_with_a_clear_error_and_nothing_half_written() {
    let Some(fx) = fixture("20:60000-63000") else { return };
    // Simulated: the 6th atomic write fails with ENOSPC.
    let cache = fx.d.join("enospc");
    let mut c = predict(&fx, &fx.shard, &cache, &fx.d.join("enospc.manifest.parquet"));
    c.env("ENFORMER_VEP_FAILPOINT", "enospc:6");
    let o = output(c);
    assert_stops_cleanly(&fx, &cache, &o, "simulated ENOSPC");
    assert!(String::from_utf8_lossy(&o.stderr).contains("No space left on device"));
    assert_eq!(entries(&cache).len(), 4, "the five writes before it (fingerprint + 4 entries) are kept");
    finish_and_check(&fx, &cache, "after-enospc");

    // Real: a tmpfs with room for a few entries (each ~57 kB).
    let mount = fx.d.join("tmpfs");
    match small_tmpfs(&mount, 300) {
        Some(_guard) => {
            let cache = mount.join("cache");
            let o = output(predict(&fx, &fx.shard, &cache, &fx.d.join("full.manifest.parquet")));
            assert_stops_cleanly(&fx, &cache, &o, "full tmpfs");
            assert!(String::from_utf8_lossy(&o.stderr).contains("No space left on device"));
        }
        None => eprintln!("NOTE: cannot mount a tmpfs here (not root): the full disk was only simulated"),
    }
}

#[test]
fn a_read_only_cache_is_a_clear_error() {
    let Some(fx) = fixture("20:60000-63000") else { return };
    let cache = fx.d.join("read-only");
    std::fs::create_dir_all(&cache).unwrap();
    // chattr +i stops even root; without it (not root), permissions do.
    let immutable =
        Command::new("chattr").arg("+i").arg(&cache).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    if !immutable {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o555)).unwrap();
    }
    let o = output(predict(&fx, &fx.shard, &cache, &fx.d.join("ro.manifest.parquet")));
    if immutable {
        Command::new("chattr").arg("-i").arg(&cache).status().unwrap();
    }
    assert_stops_cleanly(&fx, &cache, &o, "read-only cache");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&*cache.to_string_lossy()), "names the folder: {err}");
}

// ---------------------------------------------------------------------------------------------------------
// `cache verify --fix` under faults (issue 10 item 6): only what was read and proven bad is removed, and only
// while its path still names that file; nothing but a regular file is opened.

/// A cache of three float32 [896, 4] entries written by the library (no model run needed); returns the
/// cache folder and the entry paths.
fn small_cache(d: &Path) -> (PathBuf, Vec<PathBuf>) {
    use enformer_vep::cache::{entry, Cache, Fingerprint, NEncoding, StoreMode};
    let cache = d.join("cache");
    let fp = Fingerprint::new("ab".repeat(32), "human", NEncoding::Zeros, 196_608, StoreMode::Float32);
    let ns = Cache::open(&cache).unwrap().namespace(&fp);
    let out: Vec<f32> = (0..896 * 4).map(|i| (i % 89) as f32 * 0.5).collect();
    let paths = (0..3)
        .map(|i| {
            let id = enformer_vep::window::seq_id(format!("verify-{i}").as_bytes());
            ns.write_entry(&id, &entry::encode(StoreMode::Float32, &out, 896, 4, 443..453, &ns.identity(&id)).unwrap())
                .unwrap()
        })
        .collect();
    (cache, paths)
}

/// Runs a command, killing it (and failing) when it takes longer than `limit`.
fn output_within(mut c: Command, limit: Duration, what: &str) -> Output {
    let child = c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(limit) {
        Ok(o) => o.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(id.to_string()).status();
            panic!("{what}: still running after {limit:?} (hangs)");
        }
    }
}

fn flip_a_bit(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x04;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn verify_fix_never_removes_a_valid_entry_it_cannot_read() {
    use std::os::unix::fs::PermissionsExt;
    let Ok(setpriv) = which("setpriv") else {
        eprintln!("SKIP!!! setpriv is absent: the permission case of cache verify --fix is NOT tested");
        tally("skip permission case of cache verify --fix (no setpriv)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (cache, paths) = small_cache(d);
    // Everything readable by `nobody`, and every folder writable (so a removal would succeed), except one
    // valid entry that only root may read.
    fn open_up(p: &Path) {
        let dir = p.is_dir();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(if dir { 0o777 } else { 0o644 })).unwrap();
        if dir {
            for e in std::fs::read_dir(p).unwrap() {
                open_up(&e.unwrap().path());
            }
        }
    }
    open_up(d);
    let private = &paths[0];
    std::fs::set_permissions(private, std::fs::Permissions::from_mode(0o600)).unwrap();
    let before = std::fs::read(private).unwrap();
    let as_nobody = |args: &[&str]| {
        let mut c = Command::new(&setpriv);
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_enformer-vep"), "--quiet"]);
        c.args(args);
        output_within(c, Duration::from_secs(60), "verify as nobody")
    };
    let c = cache.to_str().unwrap();
    let o = as_nobody(&["cache", "verify", "--cache", c, "--fix"]);
    let err = String::from_utf8_lossy(&o.stderr);
    if err.contains("setpriv:") {
        panic!("setpriv cannot switch users here: {err}");
    }
    assert_eq!(o.status.code(), Some(1), "an entry that could not be verified is a failure: {err}");
    assert!(err.contains(private.to_str().unwrap()) && err.contains("Permission denied"), "{err}");
    assert!(err.contains("not removed"), "{err}");
    assert_eq!(std::fs::read(private).unwrap(), before, "the valid entry it could not read is still there");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["unreadable"].as_u64(), v["bad"].as_u64(), v["removed"].as_u64()),
        (Some(1), Some(0), Some(0)),
        "{v}"
    );

    // A bad entry next to it is still removed by the same user.
    flip_a_bit(&paths[1]);
    let o = as_nobody(&["cache", "verify", "--cache", c, "--fix"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["unreadable"].as_u64(), v["bad"].as_u64(), v["removed"].as_u64()),
        (Some(1), Some(1), Some(1)),
        "{v}"
    );
    assert!(!paths[1].exists() && private.exists() && paths[2].exists());
}

fn which(name: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|c| c.is_file()))
        .ok_or(())
}

#[test]
fn verify_fix_keeps_a_good_copy_renamed_over_a_bad_entry_after_the_check() {
    use std::io::{BufRead, Write};
    let dir = tempfile::tempdir().unwrap();
    let (cache, paths) = small_cache(dir.path());
    let good = std::fs::read(&paths[0]).unwrap();
    flip_a_bit(&paths[0]);
    // verify decides the entry is bad, then pauses before removing it; meanwhile a writer renames a good copy
    // over it, as predict does.
    let mut child = bin()
        .args(["cache", "verify", "--cache", cache.to_str().unwrap(), "--fix"])
        .env("ENFORMER_VEP_FAILPOINT", "verify-before-remove:1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            let _ = child.kill();
            panic!("verify never reached the removal failpoint: {seen}");
        }
        seen.push_str(&line);
        if line.contains("failpoint verify-before-remove reached") {
            break;
        }
    }
    let tmp = paths[0].with_file_name(".writer.tmp");
    std::fs::write(&tmp, &good).unwrap();
    std::fs::rename(&tmp, &paths[0]).unwrap();
    child.stdin.take().unwrap().write_all(b"\n").unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(std::fs::read(&paths[0]).unwrap(), good, "the good copy is kept: {rest}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v["bad"].as_u64(), v["removed"].as_u64(), v["changed"].as_u64()), (Some(1), Some(0), Some(1)), "{v}");
    assert!(rest.contains("changed after it was checked"), "{rest}");
    assert!(temp_files(&cache).is_empty(), "nothing left aside: {:?}", temp_files(&cache));
    let o = run_ok(&["cache", "verify", "--cache", cache.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v["ok"].as_u64(), v["bad"].as_u64()), (Some(3), Some(0)));
}

#[test]
fn verify_reports_a_fifo_or_device_at_an_entry_path_without_opening_it() {
    let dir = tempfile::tempdir().unwrap();
    let (cache, paths) = small_cache(dir.path());
    std::fs::remove_file(&paths[0]).unwrap();
    let made = Command::new("mkfifo").arg(&paths[0]).status().unwrap();
    assert!(made.success());
    std::fs::remove_file(&paths[1]).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &paths[1]).unwrap();
    for fix in [false, true] {
        let mut c = bin();
        c.args(["cache", "verify", "--cache", cache.to_str().unwrap()]);
        if fix {
            c.arg("--fix");
        }
        let o = output_within(c, Duration::from_secs(30), "verify with a FIFO in the cache");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains("a FIFO, not a regular file") && err.contains("a symbolic link, not a regular file"),
            "{err}"
        );
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!((v["ok"].as_u64(), v["not_regular"].as_u64(), v["removed"].as_u64()), (Some(1), Some(2), Some(0)));
    }
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(&paths[0]).unwrap().file_type().is_fifo(), "left in place");
    assert!(std::fs::symlink_metadata(&paths[1]).unwrap().file_type().is_symlink(), "left in place");
}
