//! `--config FILE.yaml`: any flag from a YAML file, command-line flags winning.
//!
//! The file's top-level keys are flag names (`shard_size` or `shard-size`); a mapping under a subcommand's
//! name (`extract-seqs:` / `extract_seqs:`) overrides them for that subcommand. The values become
//! `--flag=value` arguments placed right after the subcommand, before the user's own flags; subcommands
//! let a later occurrence of a flag override an earlier one, so the command line wins. Keys that belong to
//! other subcommands (or to the workflows sharing the file) are skipped; unknown keys get a warning.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::Context;
use clap::CommandFactory;
use serde_yaml_ng::Value;

use super::Cli;

/// Keys the Snakemake/Nextflow workflows read from the same file that are no flag of the binary.
const WORKFLOW_KEYS: &[&str] = &[
    "containers",
    "container",
    "results",
    "binary",
    "workdir",
    "gpu-model",
    "gpu",
    "resources",
    "shards",
    "legacy-cache",
];

fn config_path(argv: &[OsString]) -> Option<PathBuf> {
    let mut it = argv.iter().skip(1);
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        if s == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(v) = s.strip_prefix("--config=") {
            return Some(PathBuf::from(v));
        }
        if s == "--" {
            break;
        }
    }
    None
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub fn merge_config(argv: Vec<OsString>) -> anyhow::Result<Vec<OsString>> {
    let Some(path) = config_path(&argv) else { return Ok(argv) };
    let cmd = Cli::command();
    let sub_names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_string()).collect();
    let Some(sub_idx) = argv.iter().position(|a| sub_names.iter().any(|n| a.to_string_lossy() == *n)) else {
        return Ok(argv);
    };
    let sub_name = argv[sub_idx].to_string_lossy().into_owned();
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read config {}", path.display()))?;
    let doc: Value =
        serde_yaml_ng::from_str(&text).with_context(|| format!("config {} is not valid YAML", path.display()))?;
    let Value::Mapping(map) = doc else {
        anyhow::bail!("config {} must be a YAML mapping of flag: value", path.display());
    };

    let norm = |k: &Value| scalar(k).map(|s| s.replace('_', "-"));
    let mut merged: BTreeMap<String, Value> = BTreeMap::new();
    let mut section = None;
    for (k, v) in &map {
        let Some(key) = norm(k) else { continue };
        if key == sub_name {
            section = Some(v.clone());
        } else if !sub_names.contains(&key) {
            merged.insert(key, v.clone());
        }
    }
    if let Some(Value::Mapping(sec)) = section {
        for (k, v) in &sec {
            if let Some(key) = norm(k) {
                merged.insert(key, v.clone());
            }
        }
    }

    let sub = cmd.find_subcommand(&sub_name).context("subcommand vanished")?;
    let longs = |c: &clap::Command| -> Vec<(String, bool)> {
        c.get_arguments()
            .filter_map(|a| Some((a.get_long()?.to_string(), matches!(a.get_action(), clap::ArgAction::SetTrue))))
            .collect()
    };
    let own: Vec<(String, bool)> = longs(sub).into_iter().chain(longs(&cmd)).collect();
    let anywhere: Vec<String> = cmd.get_subcommands().flat_map(|c| longs(c).into_iter().map(|(l, _)| l)).collect();

    let mut generated: Vec<OsString> = Vec::new();
    for (key, value) in merged {
        if key == "config" {
            continue;
        }
        let Some((long, is_switch)) = own.iter().find(|(l, _)| *l == key) else {
            if !anywhere.contains(&key) && !WORKFLOW_KEYS.contains(&key.as_str()) {
                eprintln!(
                    "warning: config {}: '{key}' is not a flag of any enformer-vep command (ignored)",
                    path.display()
                );
            }
            continue;
        };
        // A YAML list becomes one comma-separated value (`stats: [SAD, D2]` → `--stats=SAD,D2`): flags
        // override themselves, so repeating the flag would keep only the last item.
        let value = match &value {
            Value::Null => continue,
            Value::Sequence(items) => {
                let parts: Option<Vec<String>> = items.iter().map(scalar).collect();
                parts.map(|p| p.join(","))
            }
            other => scalar(other),
        };
        let Some(s) = value else {
            anyhow::bail!("config {}: '{key}' must be a string, number, boolean or a list of them", path.display());
        };
        if *is_switch {
            if s == "true" {
                generated.push(format!("--{long}").into());
            }
        } else {
            generated.push(format!("--{long}={s}").into());
        }
    }
    let mut out: Vec<OsString> = argv[..=sub_idx].to_vec();
    out.extend(generated);
    out.extend(argv[sub_idx + 1..].iter().cloned());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn config_supplies_flags_and_the_command_line_wins() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("c.yaml");
        std::fs::write(&cfg, "variants: v.txt\ngenome: g.fa\nshard_size: 7\nmax_pvalue: 5.0e-8\ncache: /c\nquiet: true\ncheck-cache:\n  out: todo.parquet\n").unwrap();
        let c = cfg.to_str().unwrap();
        let merged =
            merge_config(args(&["ev", "extract-seqs", "--config", c, "--out-dir", "o", "--shard-size", "3"])).unwrap();
        let cli = Cli::try_parse_from(merged).unwrap();
        let super::super::Command::ExtractSeqs(a) = cli.command else { panic!() };
        assert_eq!(a.input.variants, PathBuf::from("v.txt"));
        assert_eq!(a.input.shard_size, 3, "command line wins");
        assert_eq!(a.input.max_pvalue, Some(5e-8));
        assert!(cli.global.quiet);

        let merged = merge_config(args(&["ev", "--config", c, "check-cache", "--shard", "s", "--model", "m"])).unwrap();
        let cli = Cli::try_parse_from(merged).unwrap();
        let super::super::Command::CheckCache(a) = cli.command else { panic!() };
        assert_eq!(a.out, PathBuf::from("todo.parquet"));
        assert_eq!(a.cache, PathBuf::from("/c"));
    }

    #[test]
    fn a_yaml_list_becomes_one_comma_separated_flag() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("c.yaml");
        std::fs::write(
            &cfg,
            "stats: [SAD, D2]
targets: null
containers: {cpu: img}
",
        )
        .unwrap();
        let c = cfg.to_str().unwrap();
        let argv = ["ev", "merge", "--config", c, "--variants", "a.parquet", "--variants", "b.parquet"];
        let argv = args(&[&argv[..], &["--cache", "c", "--model", "m", "--out", "o"]].concat());
        let cli = Cli::try_parse_from(merge_config(argv).unwrap()).unwrap();
        let super::super::Command::Merge(a) = cli.command else { panic!() };
        assert_eq!(a.score.stats, ["SAD", "D2"]);
        assert_eq!(a.score.targets, None);
        assert_eq!(a.variants, [PathBuf::from("a.parquet"), PathBuf::from("b.parquet")], "repeated --variants add up");
    }

    #[test]
    fn bad_config_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("c.yaml");
        std::fs::write(&cfg, "- just\n- a list\n").unwrap();
        assert!(merge_config(args(&["ev", "extract-seqs", "--config", cfg.to_str().unwrap()])).is_err());
        assert!(merge_config(args(&["ev", "extract-seqs", "--config", "/nonexistent.yaml"])).is_err());
    }
}
