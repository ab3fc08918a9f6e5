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
