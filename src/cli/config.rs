//! `--config FILE.yaml`: any flag from a YAML file, command-line flags winning.
//!
//! The file's top-level keys are flag names (`shard_size` or `shard-size`, not both); a mapping under a
//! subcommand's name (`extract-seqs:` / `extract_seqs:`) overrides them for that subcommand. The values become
//! `--flag=value` arguments placed right after the subcommand; a flag the user gives on the command line is
//! not taken from the file (the command line wins). Each value is checked by the flag's own parser here, so a
//! wrong one names the config file and key; a switch (`quiet`) takes only `true` or `false`. A YAML list is
//! one `--flag=item` per item for flags that can be repeated (`variants: [a.parquet, b.parquet]`: paths are
//! never split at commas) and one comma-joined value for flags that split at commas (`stats: [SAD, D2]`).
//! Keys that belong to other subcommands (or to the workflows sharing the file) are skipped; unknown keys get
//! a warning. The file may be at most 1 MiB.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};

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
    "report",
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

/// Largest config file read: a config of flags is a few hundred bytes.
const MAX_CONFIG_BYTES: u64 = 1 << 20;
/// Deepest `[`/`{` nesting accepted (a flag value is at most a list).
const MAX_NESTING: usize = 32;

/// Reads the config text, refusing a file that is not a plausible config before the YAML parser sees it.
fn read_config(path: &Path) -> anyhow::Result<String> {
    let shown = path.display();
    let file = std::fs::File::open(path).with_context(|| format!("cannot read config {shown}"))?;
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read config {shown} (it must be UTF-8 text)"))?;
    anyhow::ensure!(
        text.len() as u64 <= MAX_CONFIG_BYTES,
        "config {shown} is larger than 1 MiB: a config holds flag values (a few lines); is it the right file?"
    );
    let depth = flow_nesting(&text);
    anyhow::ensure!(
        depth <= MAX_NESTING,
        "config {shown} nests '[' or '{{' {depth} deep (at most {MAX_NESTING}): a config holds flag values, at most \
         lists of them; is it the right file?"
    );
    Ok(text)
}

/// Deepest nesting of YAML flow collections (`[`, `{`) outside quotes and comments. A cheap scan, so that a
/// file of a million `[` is refused at once instead of keeping the YAML parser busy for seconds.
fn flow_nesting(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut quote: Option<char> = None;
    let mut comment = false;
    let mut prev = ' ';
    for c in text.chars() {
        match (quote, c) {
            (_, '\n') => comment = false,
            _ if comment => {}
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') if prev.is_whitespace() || "[{,:".contains(prev) => quote = Some(c),
            (None, '#') if prev.is_whitespace() => comment = true,
            (None, '[' | '{') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (None, ']' | '}') => depth = depth.saturating_sub(1),
            _ => {}
        }
        prev = c;
    }
    deepest
}

/// Whether the user's own arguments (after the program name) set the flag `long` (or its short form).
fn given_on_command_line(argv: &[OsString], long: &str, short: Option<char>) -> bool {
    argv.iter().skip(1).map(|a| a.to_string_lossy()).take_while(|a| a != "--").any(|a| {
        if let Some(rest) = a.strip_prefix("--") {
            return rest == long || rest.strip_prefix(long).is_some_and(|r| r.starts_with('='));
        }
        match (a.strip_prefix('-'), short) {
            (Some(cluster), Some(c)) => cluster.chars().all(|x| x.is_ascii_alphabetic()) && cluster.contains(c),
            _ => false,
        }
    })
}

/// One flag's arguments from a config value, checked by the flag's own value parser so that a wrong value is
/// reported with the config file and key (not only as a flag the user never typed).
fn flag_arguments(arg: &clap::Arg, key: &str, value: &Value, path: &Path) -> anyhow::Result<Vec<OsString>> {
    let long = arg.get_long().unwrap_or(key);
    let at = || format!("config {}: '{key}'", path.display());
    if matches!(arg.get_action(), clap::ArgAction::SetTrue) {
        return match value {
            Value::Bool(true) => Ok(vec![format!("--{long}").into()]),
            Value::Bool(false) => Ok(Vec::new()),
            other => anyhow::bail!(
                "{} must be true or false (a YAML boolean, without quotes), not {}",
                at(),
                describe(other)
            ),
        };
    }
    let items: Vec<String> = match value {
        Value::Sequence(items) => items
            .iter()
            .map(|v| {
                scalar(v).ok_or_else(|| {
                    anyhow::anyhow!("{} must be a list of strings or numbers, not a list holding {}", at(), describe(v))
                })
            })
            .collect::<anyhow::Result<_>>()?,
        other => vec![scalar(other).ok_or_else(|| {
            anyhow::anyhow!("{} must be a string, number, boolean or a list of them, not {}", at(), describe(other))
        })?],
    };
    // The flag's own value parser, run on a one-flag command (clap does not expose a parser on its own).
    let alone = clap::Command::new("enformer-vep")
        .no_binary_name(true)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .arg(arg.clone().required(false).global(false));
    let check = |v: &str| -> anyhow::Result<()> {
        alone.clone().try_get_matches_from([format!("--{long}={v}")]).map(drop).map_err(|e| {
            let msg = e.to_string();
            let first = msg.lines().next().unwrap_or_default().trim_start_matches("error: ").to_string();
            anyhow::anyhow!("{}: {first}", at())
        })
    };
    // A list: one flag per item for flags that collect values (`--variants a --variants b`: a path is never
    // split at a comma), one comma-joined value for flags that split their value (`--stats SAD,D2`).
    let repeated = matches!(arg.get_action(), clap::ArgAction::Append);
    match (value, repeated, arg.get_value_delimiter()) {
        (Value::Sequence(_), true, _) | (_, true, None) => {
            items.iter().map(|v| check(v).map(|()| format!("--{long}={v}").into())).collect()
        }
        (Value::Sequence(_), false, Some(d)) | (_, true, Some(d)) => {
            items.iter().flat_map(|v| v.split(d)).try_for_each(check)?;
            Ok(vec![format!("--{long}={}", items.join(&d.to_string())).into()])
        }
        (Value::Sequence(_), false, None) => {
            anyhow::bail!("{} takes one value, not a list ({} given)", at(), items.len())
        }
        (_, false, _) => {
            check(&items[0])?;
            Ok(vec![format!("--{long}={}", items[0]).into()])
        }
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("the string \"{s}\""),
        Value::Number(n) => format!("the number {n}"),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Null => "null".into(),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(t) => format!("a value tagged {}", t.tag),
    }
}

pub fn merge_config(argv: Vec<OsString>) -> anyhow::Result<Vec<OsString>> {
    let Some(path) = config_path(&argv) else { return Ok(argv) };
    let mut cmd = Cli::command();
    cmd.build();
    let sub_names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_string()).collect();
    let Some(sub_idx) = argv.iter().position(|a| sub_names.iter().any(|n| a.to_string_lossy() == *n)) else {
        return Ok(argv);
    };
    let sub_name = argv[sub_idx].to_string_lossy().into_owned();
    let text = read_config(&path)?;
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
    // --cache flag, `cache: {gc: ...}` the section of the cache commands). Within one mapping, two spellings
    // of one flag (`shard_size` and `shard-size`) are an error: which one wins would be arbitrary.
    let norm = |k: &Value| scalar(k).map(|s| s.replace('_', "-"));
    let mut merged: BTreeMap<String, (String, Value)> = BTreeMap::new();
    let mut level = Some(map);
    let mut scope = &cmd;
    for depth in 0..=path_names.len() {
        let Some(current) = level.take() else { break };
        let names: Vec<&str> = scope.get_subcommands().map(|c| c.get_name()).collect();
        let mut spelled: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in &current {
            let Some(key) = norm(k) else { continue };
            let original = scalar(k).unwrap_or_default();
            if let Some(other) = spelled.insert(key.clone(), original.clone()) {
                anyhow::bail!(
                    "config {}: '{other}' and '{original}' are the same flag (--{key}); give it once",
                    path.display()
                );
            }
            if let (Value::Mapping(sec), true) = (v, names.contains(&key.as_str())) {
                if path_names.get(depth) == Some(&key) {
                    level = Some(sec.clone());
                }
            } else {
                merged.insert(key, (original, v.clone()));
            }
        }
        if let Some(name) = path_names.get(depth) {
            scope = scope.find_subcommand(name).context("subcommand vanished")?;
        }
    }

    let own: Vec<&clap::Arg> =
        sub.get_arguments().chain(cmd.get_arguments()).filter(|a| a.get_long().is_some()).collect();
    let anywhere: Vec<&str> = cmd
        .get_subcommands()
        .flat_map(|c| std::iter::once(c).chain(c.get_subcommands()))
        .flat_map(|c| c.get_arguments().filter_map(|a| a.get_long()))
        .collect();

    let mut generated: Vec<OsString> = Vec::new();
    for (key, (original, value)) in merged {
        if key == "config" {
            continue;
        }
        let Some(arg) = own.iter().find(|a| a.get_long() == Some(key.as_str())) else {
            if !anywhere.contains(&key.as_str()) && !WORKFLOW_KEYS.contains(&key.as_str()) {
                eprintln!(
                    "warning: config {}: '{original}' is not a flag of any enformer-vep command (ignored)",
                    path.display()
                );
            }
            continue;
        };
        if value.is_null() {
            continue;
        }
        // Checked even when the command line overrides it: a mistake in the file is reported, not hidden.
        let from_file = flag_arguments(arg, &original, &value, &path)?;
        // The command line wins: a flag the user gives is not taken from the file at all (so that a list in
        // the file is not added to the user's values of a repeatable flag).
        if !given_on_command_line(&argv, &key, arg.get_short()) {
            generated.extend(from_file);
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
        assert_eq!(a.score.stats, [crate::score::Stat::Sad, crate::score::Stat::D2]);
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

    /// `merge_config` on `yaml` for `argv` (the config path is added): the parsed CLI, or the error message.
    fn merged(yaml: &str, argv: &[&str]) -> Result<super::super::Cli, String> {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("run.yaml");
        std::fs::write(&cfg, yaml).unwrap();
        let mut all = vec!["ev", argv[0], "--config", cfg.to_str().unwrap()];
        all.extend(&argv[1..]);
        let out = merge_config(args(&all)).map_err(|e| e.to_string().replace(cfg.to_str().unwrap(), "run.yaml"))?;
        Cli::try_parse_from(out).map_err(|e| e.to_string())
    }

    const EXTRACT: &[&str] = &["extract-seqs", "--variants", "v.tsv", "--genome", "g.fa", "--out-dir", "o"];

    #[test]
    fn a_wrong_value_names_the_config_file_and_key() {
        for (yaml, want) in [
            ("shard_size: ten\n", "config run.yaml: 'shard_size': invalid value 'ten' for '--shard-size <N>'"),
            ("shard-size: 0\n", "config run.yaml: 'shard-size': invalid value '0' for '--shard-size <N>': must be at least 1"),
            ("window: 7\n", "config run.yaml: 'window': invalid value '7' for '--window <BP>': window length must be even"),
            ("region: 20:9-2\n", "config run.yaml: 'region': invalid value '20:9-2'"),
            ("max_pvalue: 2\n", "config run.yaml: 'max_pvalue': invalid value '2'"),
            ("threads: 100000\n", "config run.yaml: 'threads': invalid value '100000' for '--threads <N>'"),
            ("quiet: \"yes\"\n", "config run.yaml: 'quiet' must be true or false (a YAML boolean, without quotes), not the string \"yes\""),
            ("quiet: 1\n", "config run.yaml: 'quiet' must be true or false (a YAML boolean, without quotes), not the number 1"),
            ("shard_size: [1, 2]\n", "config run.yaml: 'shard_size' takes one value, not a list (2 given)"),
            ("columns: {a: b}\n", "config run.yaml: 'columns' must be a string, number, boolean or a list of them, not a mapping"),
            ("extract-seqs:\n  top: -1\n", "config run.yaml: 'top': invalid value '-1' for '--top <N>'"),
        ] {
            let err = merged(yaml, EXTRACT).err().unwrap_or_else(|| panic!("{yaml:?} was accepted"));
            assert!(err.contains(want), "{yaml:?}: {err}");
        }
        // The same values are fine when right, and `quiet: false` is no error.
        let cli = merged("shard_size: 7\nquiet: false\nregion: chr19:44e6-46e6\n", EXTRACT).unwrap();
        assert!(!cli.global.quiet);
        let super::super::Command::ExtractSeqs(a) = cli.command else { panic!() };
        assert_eq!((a.input.shard_size, a.input.region.map(|r| r.start)), (7, Some(44_000_000)));
    }

    #[test]
    fn two_spellings_of_one_flag_are_an_error_naming_both() {
        let err = merged("shard_size: 5\nshard-size: 6\n", EXTRACT).unwrap_err();
        assert!(
            err.contains("config run.yaml: 'shard_size' and 'shard-size' are the same flag (--shard-size)"),
            "{err}"
        );
        let err = merged("extract_seqs:\n  max-pvalue: 0.1\n  max_pvalue: 0.2\n", EXTRACT).unwrap_err();
        assert!(err.contains("'max-pvalue' and 'max_pvalue' are the same flag"), "{err}");
        // Top level and section are two levels: the section wins, as documented.
        let cli = merged("shard_size: 5\nextract-seqs:\n  shard-size: 6\n", EXTRACT).unwrap();
        let super::super::Command::ExtractSeqs(a) = cli.command else { panic!() };
        assert_eq!(a.input.shard_size, 6);
    }

    #[test]
    fn a_path_with_a_comma_is_one_path() {
        let rest = ["--cache", "c", "--model", "m", "--out", "o"];
        let parse = |argv: &[&str]| -> super::super::MergeArgs {
            let cli = Cli::try_parse_from(["ev", "merge"].iter().chain(argv).chain(&rest)).unwrap();
            let super::super::Command::Merge(a) = cli.command else { panic!() };
            a
        };
        let paths = |v: &[&str]| v.iter().map(PathBuf::from).collect::<Vec<_>>();
        assert_eq!(parse(&["--variants", "run 1,2/variants.parquet"]).variants, paths(&["run 1,2/variants.parquet"]));
        assert_eq!(parse(&["--variants", "a,b", "--variants", "c"]).variants, paths(&["a,b", "c"]));
        // From a config: a YAML list is one path per item, a string one path, commas and all.
        let from_config = |yaml: &str, argv: &[&str]| -> Vec<PathBuf> {
            let cli = merged(yaml, &[&["merge"], argv, &rest].concat()).unwrap();
            let super::super::Command::Merge(a) = cli.command else { panic!() };
            a.variants
        };
        assert_eq!(from_config("variants: [\"a,1.parquet\", b.parquet]\n", &[]), paths(&["a,1.parquet", "b.parquet"]));
        assert_eq!(from_config("variants: a,1.parquet\n", &[]), paths(&["a,1.parquet"]));
        // The command line wins over the file's list (it is not added to it).
        assert_eq!(from_config("variants: [a, b]\n", &["--variants", "c"]), paths(&["c"]));
        assert_eq!(from_config("variants: [a, b]\n", &["--variants=c"]), paths(&["c"]));
    }

    #[test]
    fn a_huge_or_deeply_nested_config_is_refused_at_once() {
        let started = std::time::Instant::now();
        let err = merged(&"[".repeat(3 << 20), EXTRACT).unwrap_err();
        assert!(err.contains("config run.yaml is larger than 1 MiB"), "{err}");
        // Under the size cap, a million '[' kept the YAML parser busy for ~8 s before.
        let err = merged(&format!("a: {}", "[".repeat(1 << 19)), EXTRACT).unwrap_err();
        assert!(err.contains("config run.yaml nests '[' or '{' 524288 deep (at most 32)"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
        // Brackets in quotes and comments do not count; ordinary lists are fine.
        assert_eq!(
            flow_nesting("tracks: '^[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[['  # [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n"),
            0
        );
        assert_eq!(flow_nesting("stats: [SAD, D2]\nx: {a: [1, 2]}\n"), 2);
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
