//! Issue 14 (the first hour of a new user): an installed binary, run from any folder with no variable set,
//! finds ONNX Runtime where `enformer-vep setup-ort` puts it; without a library, the model steps fail before
//! writing anything, naming the places looked and the fix; `run --remove-work` cleans up after success only.
//!
//! Nothing is downloaded: setup-ort runs with `--from` on the checkout's .ort/lib (which scripts/setup-ort,
//! run by scripts/test, already filled), the same copy step a download ends with.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{tiny_model, walk};

/// What `cargo install --root PREFIX` produces: PREFIX/bin/enformer-vep, nothing beside it.
fn install(prefix: &Path) -> PathBuf {
    let bin = prefix.join("bin/enformer-vep");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_enformer-vep"), &bin).unwrap();
    bin
}

/// The installed binary with a clean environment for the library lookup: HOME as given, no XDG_DATA_HOME,
/// no ORT_DYLIB_PATH, started in `cwd`.
fn installed(bin: &Path, home: &Path, cwd: &Path) -> Command {
    let mut c = Command::new(bin);
    c.env_remove("ORT_DYLIB_PATH").env_remove("XDG_DATA_HOME").env("HOME", home).current_dir(cwd).arg("--quiet");
    c
}

fn ok(mut c: Command) -> Output {
    let out = c.output().unwrap();
    assert!(out.status.success(), "{c:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn checkout_lib() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".ort/lib")
}

/// demo data (3 SNVs and the other-status rows) in `dir`.
fn demo(bin: &Path, home: &Path, dir: &Path) {
    let mut c = installed(bin, home, dir);
    c.args(["demo-data", "--out-dir", ".", "--genome-size", "300000", "--variants", "3"]);
    ok(c);
}

fn run_args<'a>(c: &'a mut Command, data: &Path, model: &Path, out: &str) -> &'a mut Command {
    c.args(["run", "--variants", data.join("variants.kunkle.txt").to_str().unwrap()])
        .args(["--genome", data.join("genome.fa").to_str().unwrap()])
        .args(["--model", model.to_str().unwrap(), "--cache", "cache", "--out", out])
}

#[test]
fn installed_binary_finds_the_library_setup_ort_installs_from_any_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let (home, data, elsewhere) = (tmp.path().join("home"), tmp.path().join("data"), tmp.path().join("elsewhere"));
    for d in [&home, &data, &elsewhere] {
        std::fs::create_dir_all(d).unwrap();
    }
    let bin = install(&tmp.path().join("prefix"));
    demo(&bin, &home, &data);

    // Before setup: run fails up front, naming the per-user folder and the command that fills it.
    let mut c = installed(&bin, &home, &elsewhere);
    run_args(&mut c, &data, &tiny_model(), "scores.parquet");
    let out = c.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let user_dir = home.join(".local/share/enformer-vep/lib");
    assert!(err.contains(&user_dir.join("libonnxruntime.so").display().to_string()), "{err}");
    assert!(err.contains("fix: run `enformer-vep setup-ort`"), "{err}");
    assert!(!elsewhere.join("scores.parquet.work").exists(), "nothing written before the library check");
    assert!(!elsewhere.join("cache").exists());

    let mut setup = installed(&bin, &home, &elsewhere);
    setup.args(["setup-ort", "--from", checkout_lib().to_str().unwrap()]);
    ok(setup);
    assert!(user_dir.join("libonnxruntime.so").is_file());

    let mut c = installed(&bin, &home, &elsewhere);
    run_args(&mut c, &data, &tiny_model(), "scores.parquet");
    let report: serde_json::Value = serde_json::from_slice(&ok(c).stdout).unwrap();
    assert!(report["computed"].as_u64().unwrap() > 0 && report["failed"] == 0, "{report}");
    assert!(elsewhere.join("scores.parquet").is_file());

    // XDG_DATA_HOME, when set, is the folder setup-ort fills and run reads.
    let xdg = tmp.path().join("xdg");
    let mut setup = installed(&bin, &home, &elsewhere);
    setup.env("XDG_DATA_HOME", &xdg).args(["setup-ort", "--from", checkout_lib().to_str().unwrap()]);
    ok(setup);
    assert!(xdg.join("enformer-vep/lib/libonnxruntime.so").is_file());
}

#[test]
fn without_a_library_predict_and_a_cold_run_fail_before_writing_and_a_warm_run_needs_none() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let bin = install(&t.join("prefix"));
    demo(&bin, t, t);
    let nowhere = t.join("nowhere");
    std::fs::create_dir_all(&nowhere).unwrap();

    // ORT_DYLIB_PATH naming a folder without the library: that folder's libonnxruntime.so is what is missing.
    let mut c = installed(&bin, t, t);
    run_args(c.env("ORT_DYLIB_PATH", &nowhere), t, &tiny_model(), "cold.parquet");
    let out = c.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&nowhere.join("libonnxruntime.so").display().to_string()) && err.contains("setup-ort"),
        "{err}"
    );
    assert!(!t.join("cold.parquet.work").exists() && !t.join("cache").exists(), "nothing written");

    let mut c = installed(&bin, t, t);
    c.env("ORT_DYLIB_PATH", &nowhere).args(["predict", "--sequences", "missing.parquet", "--cache", "cache"]);
    let out = c.args(["--model", tiny_model().to_str().unwrap()]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not found; looked in") && !err.contains("missing.parquet"), "library first: {err}");

    // ORT_DYLIB_PATH naming the folder that holds the library works.
    let mut c = installed(&bin, t, t);
    run_args(c.env("ORT_DYLIB_PATH", checkout_lib()), t, &tiny_model(), "warm.parquet");
    ok(c);

    // Everything cached: no library needed (a warm run never loads ONNX Runtime).
    let mut c = installed(&bin, t, t);
    run_args(c.env("ORT_DYLIB_PATH", &nowhere), t, &tiny_model(), "again.parquet");
    let report: serde_json::Value = serde_json::from_slice(&ok(c).stdout).unwrap();
    assert_eq!(report["computed"], 0, "{report}");
}

#[test]
fn remove_work_cleans_up_after_success_and_keeps_the_work_folder_on_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let bin = install(&t.join("prefix"));
    demo(&bin, t, t);
    let with_lib = |out: &str, extra: &[&str]| {
        let mut c = installed(&bin, t, t);
        run_args(c.env("ORT_DYLIB_PATH", checkout_lib()), t, &tiny_model(), out).args(extra);
        c
    };
    ok(with_lib("kept.parquet", &[]));
    assert!(t.join("kept.parquet.work/extract/variants.parquet").is_file(), "kept by default");
    ok(with_lib("gone.parquet", &["--remove-work"]));
    assert!(t.join("gone.parquet").is_file());
    assert!(!t.join("gone.parquet.work").exists(), "removed after success");

    // A --work-dir holding the user's own file: run's files go, the folder and that file stay.
    let shared = t.join("shared-work");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::write(shared.join("notes.txt"), b"mine").unwrap();
    ok(with_lib("own.parquet", &["--remove-work", "--work-dir", shared.to_str().unwrap()]));
    let left: Vec<PathBuf> =
        walk(&shared).into_iter().map(|p| p.strip_prefix(&shared).unwrap().to_path_buf()).collect();
    assert_eq!(left, vec![PathBuf::from("notes.txt")]);

    // A failure (a model that does not load) keeps the work folder for the resume.
    let broken = t.join("broken.onnx");
    std::fs::write(&broken, b"not a model").unwrap();
    let mut c = installed(&bin, t, t);
    run_args(c.env("ORT_DYLIB_PATH", checkout_lib()), t, &broken, "fail.parquet").arg("--remove-work");
    let out = c.output().unwrap();
    assert!(!out.status.success());
    assert!(t.join("fail.parquet.work/extract/variants.parquet").is_file(), "kept on failure");
}
