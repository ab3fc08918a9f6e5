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
    assert_eq!(code, Some(1));
    assert!(err.contains("--region"), "{err}");
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
