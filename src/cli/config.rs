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

    // A group of subcommands (`cache stats`, `cache gc`, ...): the flags belong to the nested subcommand.
    let group = cmd.find_subcommand(&sub_name).context("subcommand vanished")?;
    let nested = argv[sub_idx + 1..].iter().enumerate().find_map(|(i, a)| {
        let a = a.to_string_lossy();
        group.get_subcommands().find(|c| c.get_name() == a).map(|c| (sub_idx + 1 + i, c))
    });
    let (insert_at, sub) = nested.unwrap_or((sub_idx, group));
    let path_names: Vec<String> =
        std::iter::once(sub_name.clone()).chain(nested.map(|(_, c)| c.get_name().to_string())).collect();

    // Keys naming a subcommand are sections only when they hold a mapping (`cache: /shared/cache` is the
    // --cache flag, `cache: {gc: ...}` the section of the cache commands).
    let norm = |k: &Value| scalar(k).map(|s| s.replace('_', "-"));
    let mut merged: BTreeMap<String, Value> = BTreeMap::new();
    let mut level = Some(map);
    let mut scope = &cmd;
    for depth in 0..=path_names.len() {
        let Some(current) = level.take() else { break };
        let names: Vec<&str> = scope.get_subcommands().map(|c| c.get_name()).collect();
        for (k, v) in &current {
            let Some(key) = norm(k) else { continue };
            if let (Value::Mapping(sec), true) = (v, names.contains(&key.as_str())) {
                if path_names.get(depth) == Some(&key) {
                    level = Some(sec.clone());
                }
            } else {
                merged.insert(key, v.clone());
            }
        }
        if let Some(name) = path_names.get(depth) {
            scope = scope.find_subcommand(name).context("subcommand vanished")?;
        }
    }

    let longs = |c: &clap::Command| -> Vec<(String, bool)> {
        c.get_arguments()
            .filter_map(|a| Some((a.get_long()?.to_string(), matches!(a.get_action(), clap::ArgAction::SetTrue))))
            .collect()
    };
    let own: Vec<(String, bool)> = longs(sub).into_iter().chain(longs(&cmd)).collect();
    let anywhere: Vec<String> = cmd
        .get_subcommands()
        .flat_map(|c| std::iter::once(c).chain(c.get_subcommands()))
        .flat_map(|c| longs(c).into_iter().map(|(l, _)| l))
        .collect();

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
    let mut out: Vec<OsString> = argv[..=insert_at].to_vec();
    out.extend(generated);
    out.extend(argv[insert_at + 1..].iter().cloned());
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
        assert_eq!(a.score.stats, [crate::stats::Stat::Sad, crate::stats::Stat::D2]);
        assert_eq!(a.score.targets, None);
        assert_eq!(a.variants, [PathBuf::from("a.parquet"), PathBuf::from("b.parquet")], "repeated --variants add up");
    }

    #[test]
    fn cache_is_a_flag_and_a_section_and_cache_subcommands_get_their_flags() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("c.yaml");
        std::fs::write(&cfg, "cache: /shared/cache\nlegacy_cache: /old\nmodel: m.onnx\n").unwrap();
        let c = cfg.to_str().unwrap();
        let argv = args(&["ev", "--config", c, "merge", "--variants", "v.parquet", "--out", "o"]);
        let cli = Cli::try_parse_from(merge_config(argv).unwrap()).unwrap();
        let super::super::Command::Merge(a) = cli.command else { panic!() };
        assert_eq!(a.cache, PathBuf::from("/shared/cache"), "a scalar `cache:` is the --cache flag");
        assert_eq!(a.legacy_cache, Some(PathBuf::from("/old")));

        std::fs::write(&cfg, "cache:\n  cache: /c\n  dry_run: true\n  gc:\n    older_than: 30d\nmodel: m.onnx\n")
            .unwrap();
        let cli = Cli::try_parse_from(merge_config(args(&["ev", "--config", c, "cache", "gc"])).unwrap()).unwrap();
        let super::super::Command::Cache(super::super::cache::CacheCommand::Gc(g)) = cli.command else { panic!() };
        assert_eq!((g.cache, g.older_than.as_deref(), g.dry_run), (PathBuf::from("/c"), Some("30d"), true));
        let argv = args(&["ev", "--config", c, "cache", "stats", "--cache", "/mine"]);
        let cli = Cli::try_parse_from(merge_config(argv).unwrap()).unwrap();
        let super::super::Command::Cache(super::super::cache::CacheCommand::Stats(st)) = cli.command else { panic!() };
        assert_eq!(st.cache, PathBuf::from("/mine"), "the command line wins");
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
