//! The command line: clap definitions, `--config` merging, and dispatch to the library. Nothing here does
//! the work; each subcommand turns its flags into the library's options struct and prints the report.

mod args;
mod cache;
mod commands;
mod config;
mod install;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use args::{InputArgs, ModelArgs, RuntimeArgs, ScoreArgs};

use crate::progress::ProgressMode;
use crate::window::DEFAULT_WINDOW;

/// `--version`: the crate's version and the git revision it was built from (build.rs; "unknown" from a
/// tarball), since a report of a bug needs the exact build.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (rev ", env!("ENFORMER_VEP_GIT_REV"), ")");

#[derive(Debug, Parser)]
#[command(
    name = "enformer-vep",
    version = VERSION,
    about = "Enformer variant-effect scores for GWAS tables, as workflow-friendly steps that exchange Parquet"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// YAML file supplying any flag (keys are flag names, `shard_size` or `shard-size`); flags given on the
    /// command line win. The same file is shared with the Snakemake and Nextflow workflows.
    #[arg(long, global = true, value_name = "FILE.yaml")]
    pub config: Option<PathBuf>,
    /// No progress output.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Worker threads, also ONNX Runtime's intra-op threads (default: all cores; 1 to 1024).
    #[arg(long, global = true, value_name = "N", value_parser = args::threads)]
    pub threads: Option<usize>,
}

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Variant table + genome → variants.parquet, shards of unique windows, manifest.json.
    ExtractSeqs(ExtractArgs),
    /// Which sequences of a shard are not cached yet → TODO parquet + JSON summary.
    CheckCache(CheckArgs),
    /// Run the model on a TODO/shard table and write one cache entry per sequence.
    Predict(PredictArgs),
    /// variants.parquet + cache → scores.parquet (one list column per statistic).
    Merge(MergeArgs),
    /// All four steps in one process, for one machine.
    Run(RunArgs),
    /// Hash the model once → namespace.json, which the other steps take as --namespace-file instead of
    /// hashing the model in every job (workflows run it first).
    Namespace(NamespaceArgs),
    /// scores.parquet → one self-contained HTML report (summary, top variants, distributions, genome, loci).
    Report(ReportArgs),
    /// One variant's ref/alt predictions along the bins and their difference, as SVG and PNG (full cache).
    Plot(PlotArgs),
    /// scores.parquet → a long table, one row per variant × track (for dplyr, ggplot2, pandas), Parquet or TSV.
    Export(ExportArgs),
    /// Write a deterministic demo genome and Kunkle-layout table (for the demo and benchmarks).
    DemoData(DemoArgs),
    /// Cache maintenance: stats, verify, gc, import-legacy.
    #[command(subcommand)]
    Cache(cache::CacheCommand),
    /// Install ONNX Runtime's library where any enformer-vep binary finds it (per-user data folder).
    SetupOrt(install::SetupOrtArgs),
    /// Shell completion script on stdout (e.g. `enformer-vep completions bash > ~/.local/share/bash-completion/completions/enformer-vep`).
    Completions(install::CompletionsArgs),
    /// Man page (roff) on stdout (e.g. `enformer-vep man > ~/.local/share/man/man1/enformer-vep.1`).
    Man,
}

#[derive(Debug, Args)]
#[command(args_override_self = true)]
pub struct ExtractArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Output folder for variants.parquet, shards/ and manifest.json.
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
    /// Window length in bp (even); the variant's base sits at index window/2 - 1.
    #[arg(long, default_value_t = DEFAULT_WINDOW, value_name = "BP", value_parser = args::window)]
    pub window: usize,
}

#[derive(Debug, Args)]
#[command(args_override_self = true)]
pub struct NamespaceArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Where the record goes (JSON: namespace id, fingerprint, the model's size and time stamps).
    #[arg(long, value_name = "namespace.json")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
#[command(args_override_self = true)]
pub struct CheckArgs {
    /// A shard written by extract-seqs (seq_id, sequence).
    #[arg(long, value_name = "FILE")]
    pub shard: PathBuf,
    /// Cache folder.
    #[arg(long, value_name = "DIR")]
    pub cache: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Where the not-yet-cached sequences go (same schema as a shard).
    #[arg(long, value_name = "TODO.parquet")]
    pub out: PathBuf,
    /// JSON summary {"sequences", "cached", "missing", "legacy", ...}.
    #[arg(long, value_name = "S.json")]
    pub summary: Option<PathBuf>,
    /// The legacy Python tool's cache folder ({sha256}.pkl.gz): its entries count as cached.
    #[arg(long, value_name = "OLD_DIR")]
    pub legacy_cache: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(args_override_self = true)]
pub struct PredictArgs {
    /// Sequences to predict (a TODO file from check-cache, or a shard).
    #[arg(long, value_name = "TODO.parquet")]
    pub sequences: PathBuf,
    /// Cache folder.
    #[arg(long, value_name = "DIR")]
    pub cache: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
    /// Per-sequence record (seq_id, status, error, seconds); default: beside --sequences, `.predict.parquet`.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// JSON summary {"computed", "cached", "failed", ...}.
    #[arg(long, value_name = "S.json")]
    pub summary: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(args_override_self = true)]
pub struct MergeArgs {
    /// variants.parquet from extract-seqs; repeat the flag for several shards' files (a path is never split
    /// at a comma: `--variants a,b.parquet` is one file).
    #[arg(long, value_name = "FILE", required = true)]
    pub variants: Vec<PathBuf>,
    /// Cache folder.
    #[arg(long, value_name = "DIR")]
    pub cache: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Output scores.parquet (and scores.tracks.tsv beside it).
    #[arg(long, value_name = "scores.parquet")]
    pub out: PathBuf,
    #[command(flatten)]
    pub score: ScoreArgs,
    /// The legacy Python tool's cache folder ({sha256}.pkl.gz), read for windows the cache does not have.
    #[arg(long, value_name = "OLD_DIR")]
    pub legacy_cache: Option<PathBuf>,
    /// JSON summary {"rows_in", "scored", "tracks", "warnings", "timing"} (wall and busy time reading,
    /// composing and writing), which `report` shows.
    #[arg(long, value_name = "S.json")]
    pub summary: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(args_override_self = true)]
pub struct RunArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Cache folder.
    #[arg(long, value_name = "DIR")]
    pub cache: PathBuf,
    /// Output scores.parquet.
    #[arg(long, value_name = "scores.parquet")]
    pub out: PathBuf,
    /// Intermediate files (extract/, todo/); default: OUT with `.work` appended.
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
    #[command(flatten)]
    pub score: ScoreArgs,
    /// The legacy Python tool's cache folder ({sha256}.pkl.gz): windows it holds are read, not predicted.
    #[arg(long, value_name = "OLD_DIR")]
    pub legacy_cache: Option<PathBuf>,
    /// Remove the work folder's files (extract/, todo/, namespace.json, merge.json) after a run that scored
    /// everything; a failed run keeps them, so that the next run resumes. `report` then finds no step records.
    #[arg(long)]
    pub remove_work: bool,
}

#[derive(Debug, Args)]
#[command(args_override_self = true)]
pub struct ReportArgs {
    /// scores.parquet from merge or run.
    #[arg(long, value_name = "scores.parquet")]
    pub scores: PathBuf,
    /// Output HTML file.
    #[arg(long, value_name = "report.html")]
    pub out: PathBuf,
    /// extract-seqs' manifest.json (inputs, statuses, filters; variants.parquet beside it gives the locus
    /// views the rows not scored); default: the one in the work folder.
    #[arg(long, value_name = "manifest.json")]
    pub manifest: Option<PathBuf>,
    /// Folder holding the steps' JSON records (manifest.json, check-cache and predict summaries, merge's),
    /// in it or one folder down, for sequences cached/computed and time per step: run's work folder or a
    /// workflow's results folder; default: SCORES.work when it exists (where `run` puts it).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Statistic to rank and colour by (default: the first in the file).
    #[arg(long, value_name = "STAT")]
    pub stat: Option<crate::score::Stat>,
    /// Assay class colouring the locus views (default: DNASE when present, else all tracks).
    #[arg(long, value_name = "CLASS", ignore_case = true,
          value_parser = clap::builder::PossibleValuesParser::new(crate::merge::summary::CLASSES))]
    pub class: Option<String>,
    /// Variants in the top table.
    #[arg(long = "top-variants", default_value_t = 25, value_name = "N", value_parser = args::at_least_one)]
    pub top: usize,
    /// Locus views (the most significant leads).
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub loci: usize,
    /// Half-width of a locus view in bp.
    #[arg(long, default_value_t = 100_000, value_name = "BP", value_parser = args::at_least_one)]
    pub locus_radius: usize,
}

#[derive(Debug, Args)]
#[command(args_override_self = true)]
pub struct PlotArgs {
    /// scores.parquet from merge or run (its variants, model fingerprint and kept tracks).
    #[arg(long, value_name = "scores.parquet")]
    pub scores: PathBuf,
    /// The cache the scores were merged from (float32 or float16 entries: summary entries hold no bins).
    #[arg(long, value_name = "DIR")]
    pub cache: PathBuf,
    /// Variant ID or CHROM:POS; repeat for several (one SVG and one PNG each).
    #[arg(long, value_name = "ID", required = true)]
    pub variant: Vec<String>,
    /// Track: position in the scores' lists, identifier, or regular expression on identifier/description;
    /// repeat for several (default: the variant's strongest by |SAD|).
    #[arg(long, value_name = "TRACK")]
    pub track: Vec<String>,
    /// How many strongest tracks to draw when no --track is given.
    #[arg(long, default_value_t = 3, value_name = "N", value_parser = args::at_least_one)]
    pub top_tracks: usize,
    /// Output folder (VARIANT.svg and VARIANT.png).
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
}

#[derive(Debug, Args)]
#[command(args_override_self = true)]
pub struct ExportArgs {
    /// scores.parquet from merge or run.
    #[arg(long, value_name = "scores.parquet")]
    pub scores: PathBuf,
    /// Track: position in the scores' lists, identifier, or regular expression on identifier/description, as
    /// `plot --track`; repeat for several (default: every kept track).
    #[arg(long, visible_alias = "tracks", value_name = "TRACK")]
    pub track: Vec<String>,
    /// Output table: .parquet or .tsv (the format follows the extension unless --format is given).
    #[arg(long, value_name = "long.parquet|long.tsv")]
    pub out: PathBuf,
    /// Output format, whatever the extension.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<crate::export::Format>,
}

#[derive(Debug, Args)]
#[command(args_override_self = true)]
pub struct DemoArgs {
    /// Output folder (genome.fa, variants.kunkle.txt).
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
    /// Total genome size in bp, split over three contigs.
    #[arg(long, default_value_t = 1_200_000)]
    pub genome_size: u64,
    /// Number of random SNV rows; 8 more rows follow that show indels and every other status (a ref
    /// mismatch, an allele too long, an unknown contig, ...): N + 8 rows, 208 by default.
    #[arg(long, default_value_t = 200)]
    pub variants: usize,
}

/// Exit codes: 0 success, 1 failure, 2 usage error (clap's own).
pub fn run() -> anyhow::Result<i32> {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let argv = match config::merge_config(argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(2);
        }
    };
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return Ok(code);
        }
    };
    let threads = cli.global.threads;
    if let Some(n) = threads {
        rayon::ThreadPoolBuilder::new().num_threads(n.max(1)).build_global().ok();
    }
    let mode = ProgressMode::detect(cli.global.quiet);
    match cli.command {
        Command::ExtractSeqs(a) => commands::extract(a, mode),
        Command::CheckCache(a) => commands::check(a, mode),
        Command::Predict(a) => commands::predict(a, threads, mode),
        Command::Merge(a) => commands::merge(a, mode),
        Command::Run(a) => commands::run_all(a, threads, mode),
        Command::Namespace(a) => commands::namespace(a),
        Command::Report(a) => commands::report(a),
        Command::Plot(a) => commands::plot(a),
        Command::Export(a) => commands::export(a),
        Command::Cache(c) => cache::run(c, mode),
        Command::SetupOrt(a) => install::setup_ort(a),
        Command::Completions(a) => install::completions(a),
        Command::Man => install::man(),
        Command::DemoData(a) => {
            let files = crate::demo::write_demo(&a.out_dir, a.genome_size, a.variants)?;
            eprintln!("wrote {} and {}", files.genome.display(), files.variants.display());
            Ok(0)
        }
    }
}
