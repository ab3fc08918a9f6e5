//! The command line's contract: exit codes (0 ok, 1 failure, 2 usage), errors that name the file and the
//! fix, `--config` with the command line winning.

mod common;

use common::*;

fn stderr_of(args: &[&str]) -> (Option<i32>, String) {
    let out = bin().args(args).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    assert_eq!(stderr_of(&["extract-seqs", "--genome", "x"]).0, Some(2));
    assert_eq!(stderr_of(&["no-such-command"]).0, Some(2));
    assert_eq!(bin().arg("--help").output().unwrap().status.code(), Some(0));
    assert_eq!(
        bin()
            .args(["extract-seqs", "--shard-size", "ten", "--variants", "a", "--genome", "b", "--out-dir", "c"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn input_mistakes_exit_1_naming_file_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_ok(&["demo-data", "--out-dir", d.to_str().unwrap(), "--genome-size", "30000", "--variants", "5"]);
    let genome = d.join("genome.fa");
    let g = genome.to_str().unwrap();
    let o = d.join("o");
    let out = o.to_str().unwrap();

    let unmapped = d.join("weird.tsv");
    std::fs::write(&unmapped, "foo\tbar\tbaz\n1\t2\t3\n").unwrap();
    let (code, err) =
        stderr_of(&["extract-seqs", "--variants", unmapped.to_str().unwrap(), "--genome", g, "--out-dir", out]);
    assert_eq!(code, Some(1));
    assert!(err.contains("weird.tsv") && err.contains("--columns") && err.contains("foo"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let (code, err) = stderr_of(&["extract-seqs", "--variants", "/nonexistent.txt", "--genome", g, "--out-dir", out]);
    assert_eq!(code, Some(1));
    assert!(err.contains("/nonexistent.txt"), "{err}");

    // --columns rescues the unmappable file.
    let (code, err) = stderr_of(&[
        "extract-seqs",
        "--variants",
        unmapped.to_str().unwrap(),
        "--genome",
        g,
        "--out-dir",
        out,
        "--columns",
        "chrom=foo,pos=bar,effect_allele=baz,other_allele=baz",
    ]);
    assert_eq!(code, Some(0), "{err}");

    // A FASTA without index in a folder we cannot write to.
    let ro = d.join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::copy(&genome, ro.join("g.fa")).unwrap();
    let mut perms = std::fs::metadata(&ro).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o555);
    std::fs::set_permissions(&ro, perms).unwrap();
    // Root ignores permission bits; an immutable folder (chattr +i) stops root too.
    let _immutable = ImmutableDir::try_new(&ro);
    let probe = ro.join("probe");
    if std::fs::write(&probe, b"").is_ok() {
        let _ = std::fs::remove_file(&probe);
        eprintln!("SKIP read-only folder case: this user can write to a 0555 folder and chattr +i is unavailable");
        tally("skip read-only folder case");
    } else {
        let (code, err) = stderr_of(&[
            "extract-seqs",
            "--variants",
            d.join("variants.kunkle.txt").to_str().unwrap(),
            "--genome",
            ro.join("g.fa").to_str().unwrap(),
            "--out-dir",
            out,
        ]);
        assert_eq!(code, Some(1));
        assert!(err.contains("samtools faidx") && err.contains("g.fa.fai"), "{err}");
    }

    let (code, err) = stderr_of(&[
        "extract-seqs",
        "--variants",
        d.join("variants.kunkle.txt").to_str().unwrap(),
        "--genome",
        g,
        "--out-dir",
        out,
        "--region",
        "chr1:9-2",
    ]);
    assert_eq!(code, Some(2), "a flag value that does not parse is a usage error");
    assert!(err.contains("--region"), "{err}");
}

/// Flag values are checked by clap before any file is read: a bad one exits 2 (usage error) naming the flag,
/// and absurd sizes are refused instead of aborting on an impossible allocation or hanging.
#[test]
fn bad_flag_values_are_usage_errors_exit_2_naming_the_flag() {
    let extract = ["extract-seqs", "--variants", "v.tsv", "--genome", "g.fa", "--out-dir", "o"];
    let predict = ["predict", "--sequences", "s.parquet", "--model", "m.onnx", "--cache", "c"];
    let merge = ["merge", "--variants", "v.parquet", "--model", "m.onnx", "--cache", "c", "--out", "o"];
    let cases: &[(&[&str], &[&str], &str)] = &[
        (&extract, &["--region", "chr1:9-2"], "the end 2 is before the start 9"),
        (&extract, &["--region", "20:1.5e0-2e5"], "'1.5e0' is not a whole number of bases"),
        (&extract, &["--shard-size", "0"], "--shard-size"),
        (&extract, &["--window", "7"], "--window"),
        (&extract, &["--top", "0"], "--top"),
        (&extract, &["--max-pvalue=-1"], "--max-pvalue"),
        (&extract, &["--max-pvalue", "NaN"], "--max-pvalue"),
        (&extract, &["--columns", "chrom"], "--columns"),
        (&predict, &["--batch-size", "100000"], "100000 is more than the limit of 1024"),
        (&predict, &["--batch-size", "100000000000000"], "is more than the limit of 1024"),
        (&predict, &["--batch-size", "0"], "--batch-size"),
        (&predict, &["--threads", "100000"], "100000 is more than the limit of 1024"),
        (&predict, &["--threads", "0"], "--threads"),
        (&predict, &["--device", "tpu"], "--device"),
        (&predict, &["--center-bins", "0"], "--center-bins"),
        (&merge, &["--stats", "SAD,nope"], "unknown statistic 'nope'"),
        (&["cache", "gc", "--cache", "c"], &["--older-than", "3y"], "--older-than"),
    ];
    for (command, flags, want) in cases {
        let args: Vec<&str> = command.iter().chain(flags.iter()).copied().collect();
        let started = std::time::Instant::now();
        let (code, err) = stderr_of(&args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        let flag = flags[0].split('=').next().unwrap();
        assert!(err.contains(want) && err.contains(flag), "{args:?}: {err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{args:?} took {:?}", started.elapsed());
    }
}

/// Mistakes in a `--config` file are usage errors too, naming the file and the key.
#[test]
fn config_mistakes_name_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("quiet: \"yes\"\n", "'quiet' must be true or false"),
        ("shard_size: ten\n", "'shard_size': invalid value 'ten' for '--shard-size <N>'"),
        ("shard_size: 5\nshard-size: 6\n", "'shard_size' and 'shard-size' are the same flag"),
        ("region: chr1:9-2\n", "'region': invalid value 'chr1:9-2'"),
    ];
    for (i, (yaml, want)) in cases.iter().enumerate() {
        let cfg = dir.path().join(format!("c{i}.yaml"));
        std::fs::write(&cfg, yaml).unwrap();
        let c = cfg.to_str().unwrap();
        let (code, err) =
            stderr_of(&["extract-seqs", "--config", c, "--variants", "v.tsv", "--genome", "g.fa", "--out-dir", "o"]);
        assert_eq!(code, Some(2), "{yaml:?}: {err}");
        assert!(err.contains(&format!("config {c}: {want}")), "{yaml:?}: {err}");
    }
    // A megabyte of '[' (the YAML parser took 8 s on it) is refused at once.
    let cfg = dir.path().join("brackets.yaml");
    std::fs::write(&cfg, "[".repeat(1 << 20)).unwrap();
    let started = std::time::Instant::now();
    let (code, err) = stderr_of(&["extract-seqs", "--config", cfg.to_str().unwrap(), "--out-dir", "o"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("nests '[' or '{' 1048576 deep"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
}

#[test]
fn config_file_supplies_flags_and_command_line_wins() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_ok(&["demo-data", "--out-dir", d.to_str().unwrap(), "--genome-size", "300000", "--variants", "40"]);
    let cfg = d.join("config.yaml");
    std::fs::write(
        &cfg,
        format!(
            "variants: {}\ngenome: {}\nshard_size: 5\nrc: true\nshifts: [-1, 0, 1]\ncontainers:\n  cpu: enformer-vep:cpu\n",
            d.join("variants.kunkle.txt").display(),
            d.join("genome.fa").display()
        ),
    )
    .unwrap();
    let o = d.join("o");
    run_ok(&["extract-seqs", "--config", cfg.to_str().unwrap(), "--out-dir", o.to_str().unwrap()]);
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(o.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["shard_size"], 5);
    // 40 drawn SNVs plus the demo's insertion and deletion.
    assert_eq!(m["shards"].as_array().unwrap().len(), 9);
    assert_eq!(
        (&m["rc"], &m["shifts"]),
        (&serde_json::json!(true), &serde_json::json!([-1, 0, 1])),
        "YAML list → --shifts=-1,0,1"
    );
    run_ok(&[
        "extract-seqs",
        "--config",
        cfg.to_str().unwrap(),
        "--out-dir",
        o.to_str().unwrap(),
        "--shard-size",
        "25",
    ]);
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(o.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["shard_size"], 25, "command line wins");
    assert_eq!(m["shards"].as_array().unwrap().len(), 2);
    assert!(!o.join("shards/shard-00002.parquet").exists(), "a re-run removes the previous run's extra shards");
}

#[test]
fn extract_reports_stage_times_in_the_manifest_and_its_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_ok(&["demo-data", "--out-dir", d.to_str().unwrap(), "--genome-size", "300000", "--variants", "40"]);
    let o = d.join("o");
    // Not `bin()`, which adds --quiet: the progress lines are under test too.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_enformer-vep"))
        .args(["extract-seqs", "--variants", d.join("variants.kunkle.txt").to_str().unwrap()])
        .args(["--genome", d.join("genome.fa").to_str().unwrap(), "--out-dir", o.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(o.join("manifest.json")).unwrap()).unwrap();
    let stages: Vec<(&str, f64)> = m["timing"]["stages"]
        .as_array()
        .unwrap_or_else(|| panic!("no timing.stages in {m}"))
        .iter()
        .map(|s| (s["stage"].as_str().unwrap(), s["busy_s"].as_f64().unwrap()))
        .collect();
    let names: Vec<&str> = stages.iter().map(|s| s.0).collect();
    assert_eq!(names, ["parse", "windows", "hash", "write"]);
    let wall = m["timing"]["wall_s"].as_f64().unwrap();
    // 80-odd windows of 196,608 bp were hashed and compressed: both took measurable time (1 ms resolution).
    let busy = |name: &str| stages.iter().find(|s| s.0 == name).unwrap().1;
    assert!(busy("hash") > 0.0 && busy("write") > 0.0, "{stages:?}");
    assert!(stages.iter().all(|s| s.1 >= 0.0) && wall > 0.0, "{stages:?} wall {wall}");
    // The last progress line says the rate and where the time went.
    let last = err.lines().rfind(|l| l.contains("busy:")).unwrap_or_else(|| panic!("no stage times in\n{err}"));
    assert!(last.contains("variants (") && last.contains("windows (") && last.contains("hash"), "{last}");
}

/// Issue 14: `--version` names the build's git revision (or says it is unknown, from a tarball).
#[test]
fn version_names_the_git_revision() {
    let out = bin().arg("--version").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    let rev = text.split("(rev ").nth(1).and_then(|r| r.strip_suffix(")\n")).unwrap_or_else(|| panic!("{text}"));
    assert!(text.starts_with(&format!("enformer-vep {} ", env!("CARGO_PKG_VERSION"))), "{text}");
    assert!(rev == "unknown" || (rev.len() >= 7 && rev.chars().all(|c| c.is_ascii_hexdigit())), "{text}");
    let git = std::process::Command::new("git").args(["rev-parse", "--short", "HEAD"]).output();
    if let Some(git) = git.ok().filter(|g| g.status.success()) {
        // Built from this checkout: the revision is HEAD's (or an ancestor's, if HEAD moved since the build).
        let head = String::from_utf8_lossy(&git.stdout).trim().to_string();
        let ancestor = std::process::Command::new("git").args(["merge-base", "--is-ancestor", rev, "HEAD"]).status();
        assert!(rev == head || ancestor.is_ok_and(|s| s.success()), "{rev} vs HEAD {head}");
    }
}

/// Issue 14: completions parse in bash; the man page is roff whose first request after clap_mangen's string
/// definitions is `.TH`, and groff (when installed) renders it without warnings.
#[test]
fn completions_and_man_page_are_valid() {
    let out = bin().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success() && out.stdout.len() > 1000);
    let script = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(script.path(), &out.stdout).unwrap();
    let parse = std::process::Command::new("bash").arg("-n").arg(script.path()).output().unwrap();
    assert!(parse.status.success(), "{}", String::from_utf8_lossy(&parse.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("setup-ort") && text.contains("--remove-work"), "all subcommands and flags");
    for shell in ["zsh", "fish"] {
        assert!(bin().args(["completions", shell]).output().unwrap().status.success());
    }
    assert_eq!(bin().args(["completions", "tcsh"]).output().unwrap().status.code(), Some(2));

    let man = bin().arg("man").output().unwrap();
    assert!(man.status.success());
    let roff = String::from_utf8_lossy(&man.stdout).into_owned();
    let first = roff
        .lines()
        .find(|l| !l.starts_with(".ie") && !l.starts_with(".el") && !l.starts_with(".\\\""))
        .unwrap_or_default();
    assert!(first.starts_with(".TH enformer-vep 1"), "{first}");
    assert!(roff.contains(".SH SUBCOMMANDS") && roff.contains("setup\\-ort"), "{roff}");
    let groff = std::process::Command::new("groff")
        .args(["-k", "-man", "-Tutf8", "-ww", "-z"]) // -k: preconv, as man(1) runs it, for UTF-8 help text
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    match groff {
        Ok(mut g) => {
            use std::io::Write;
            g.stdin.take().unwrap().write_all(roff.as_bytes()).unwrap();
            let done = g.wait_with_output().unwrap();
            let warnings = String::from_utf8_lossy(&done.stderr);
            assert!(done.status.success() && warnings.trim().is_empty(), "groff: {warnings}");
        }
        Err(_) => tally("skip groff check of the man page (no groff)"),
    }
}

/// Issue 14 item 5: what the README and help promise about demo-data, summary entries and the CENTER bins is
/// what the code does.
#[test]
fn readme_promises_match_the_code() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(!readme.contains("cargo install --path"), "`cargo install` without --locked in the README");

    // demo-data: N + 8 rows, as its help and the README say.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_ok(&["demo-data", "--out-dir", d.to_str().unwrap(), "--genome-size", "300000", "--variants", "3"]);
    let rows = std::fs::read_to_string(d.join("variants.kunkle.txt")).unwrap().lines().count() - 1;
    assert_eq!(rows, 3 + 8);
    let help = String::from_utf8_lossy(&bin().args(["demo-data", "--help"]).output().unwrap().stdout).into_owned();
    assert!(help.contains("N + 8 rows, 208 by default"), "{help}");
    assert!(readme.contains("so N + 8 rows (208 by default)"));

    // Summary entries of Enformer (5,313 human tracks): 6 float64 rows before zstd, the same in both places.
    let kb = format!("{} kB before zstd", (6 * 5313 * 8 + 128) / 1000);
    let config = std::fs::read_to_string(root.join("workflows/examples/config.yaml")).unwrap();
    assert!(readme.contains(&kb) && config.contains(&kb), "{kb}");

    // The CENTER bins: the README quotes the scores footer verbatim.
    let out = d.join("s.parquet");
    run_tiny(&d.join("variants.kunkle.txt"), &d.join("genome.fa"), &d.join("cache"), &out, &[]);
    let file = std::fs::File::open(&out).unwrap();
    let meta =
        parquet::file::reader::FileReader::metadata(&parquet::file::reader::SerializedFileReader::new(file).unwrap())
            .file_metadata()
            .key_value_metadata()
            .cloned()
            .unwrap_or_default();
    let center = meta.iter().find(|kv| kv.key == "enformer_vep.center").and_then(|kv| kv.value.clone()).unwrap();
    assert_eq!(center, "bins 443-452 inclusive (variant bin 447)");
    assert!(readme.contains(&format!("`enformer_vep.center`: `{center}`")) && readme.contains("443–452 inclusive"));
}
