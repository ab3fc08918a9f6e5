//! The command line: clap definitions, `--config` merging, and dispatch to the library. Nothing here does
//! the work; each subcommand turns its flags into the library's options struct and prints the report.

mod config;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::cache::{Fingerprint, NEncoding, StoreMode};
use crate::check_cache::{check_cache, CheckOptions};
use crate::extract::{extract_seqs, ExtractOptions, Filters, Region};
use crate::progress::ProgressMode;
use crate::variants::ColumnOverrides;
use crate::window::{WindowSpec, DEFAULT_WINDOW};

#[derive(Debug, Parser)]
#[command(
    name = "enformer-vep",
    version,
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
    /// Worker threads (default: all cores).
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Variant table + genome → variants.parquet, shards of unique windows, manifest.json.
    ExtractSeqs(ExtractArgs),
    /// Which sequences of a shard are not cached yet → TODO parquet + JSON summary.
    CheckCache(CheckArgs),
    /// Write a deterministic demo genome and Kunkle-layout table (for the demo and benchmarks).
    DemoData(DemoArgs),
}

#[derive(Debug, Args)]
#[command(args_override_self = true)]
pub struct ExtractArgs {
    /// Variants: VCF, Kunkle/IGAP table, PLINK 2 .glm, or any delimited GWAS table; plain, gzip or bgzip.
    #[arg(long, value_name = "FILE")]
    pub variants: PathBuf,
    /// Reference genome FASTA (plain with .fai, or bgzip with .fai + .gzi; a missing index is built).
    #[arg(long, value_name = "FASTA")]
    pub genome: PathBuf,
    /// Output folder for variants.parquet, shards/ and manifest.json.
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
    /// Scored variants per shard (each shard holds up to 2x this many windows).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub shard_size: usize,
    /// Window length in bp (even); the variant's base sits at index window/2 - 1.
    #[arg(long, default_value_t = DEFAULT_WINDOW, value_name = "BP")]
    pub window: usize,
    /// Map columns by hand: chrom=CHR,pos=BP,id=SNP,effect_allele=A1,other_allele=A2,beta=BETA,se=SE,pvalue=P
    #[arg(long, value_name = "ROLE=COLUMN,...")]
    pub columns: Option<String>,
    /// Keep variants with p-value at most P.
    #[arg(long, value_name = "P")]
    pub max_pvalue: Option<f64>,
    /// Keep the N variants with the smallest p-values.
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    /// Keep variants in CHROM[:START-END] (1-based, inclusive).
    #[arg(long, value_name = "CHR:START-END")]
    pub region: Option<String>,
}

/// What identifies a model's cache namespace.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// The ONNX model file (its SHA-256 is part of the cache fingerprint).
    #[arg(long, value_name = "MODEL.onnx")]
    pub model: PathBuf,
    /// Model output head.
    #[arg(long, default_value = "human")]
    pub head: String,
    /// One-hot encoding of N.
    #[arg(long, value_enum, default_value_t = NEncoding::Zeros)]
    pub n_encoding: NEncoding,
    /// What a cache entry stores.
    #[arg(long, value_enum, default_value_t = StoreMode::Float32)]
    pub store: StoreMode,
    /// Window length in bp.
    #[arg(long, default_value_t = DEFAULT_WINDOW, value_name = "BP")]
    pub window: usize,
}

impl ModelArgs {
    pub fn fingerprint(&self) -> anyhow::Result<Fingerprint> {
        WindowSpec::new(self.window).map_err(anyhow::Error::msg)?;
        Fingerprint::for_model_file(&self.model, &self.head, self.n_encoding, self.window, self.store)
            .map_err(|e| anyhow::anyhow!("cannot read model {}: {e}", self.model.display()))
    }
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
    /// JSON summary {"sequences", "cached", "missing", ...}.
    #[arg(long, value_name = "S.json")]
    pub summary: Option<PathBuf>,
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
    /// Number of table rows.
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
    if let Some(n) = cli.global.threads {
        rayon::ThreadPoolBuilder::new().num_threads(n.max(1)).build_global().ok();
    }
    let mode = ProgressMode::detect(cli.global.quiet);
    match cli.command {
        Command::ExtractSeqs(a) => cmd_extract(a, mode),
        Command::CheckCache(a) => cmd_check(a, mode),
        Command::DemoData(a) => {
            let files = crate::demo::write_demo(&a.out_dir, a.genome_size, a.variants)?;
            eprintln!("wrote {} and {}", files.genome.display(), files.variants.display());
            Ok(0)
        }
    }
}

fn cmd_extract(a: ExtractArgs, mode: ProgressMode) -> anyhow::Result<i32> {
    let opts = ExtractOptions {
        window: WindowSpec::new(a.window).map_err(anyhow::Error::msg)?,
        columns: match &a.columns {
            Some(s) => s.parse::<ColumnOverrides>().map_err(|e| anyhow::anyhow!("--columns: {e}"))?,
            None => ColumnOverrides::default(),
        },
        filters: Filters {
            region: a
                .region
                .as_deref()
                .map(str::parse::<Region>)
                .transpose()
                .map_err(|e| anyhow::anyhow!("--region: {e}"))?,
            max_pvalue: a.max_pvalue,
            top: a.top,
        },
        variants: a.variants,
        genome: a.genome,
        out_dir: a.out_dir,
        shard_size: a.shard_size,
    };
    let m = extract_seqs(&opts, mode)?;
    let statuses: Vec<String> =
        m.status_counts.iter().filter(|(_, n)| **n > 0).map(|(s, n)| format!("{s} {n}")).collect();
    eprintln!("extract-seqs: read {} as {} ({})", m.variants_input, m.input_format, m.columns);
    eprintln!(
        "extract-seqs: {} rows: {}; {} filtered out; {} shards, {} sequences -> {}",
        m.rows,
        statuses.join(", "),
        m.filtered.total(),
        m.shards.len(),
        m.shards.iter().map(|s| s.sequences).sum::<u64>(),
        opts.out_dir.display()
    );
    for w in &m.warnings {
        eprintln!("warning: {w}");
    }
    Ok(0)
}

fn cmd_check(a: CheckArgs, mode: ProgressMode) -> anyhow::Result<i32> {
    let opts = CheckOptions {
        fingerprint: a.model.fingerprint()?,
        shard: a.shard,
        cache: a.cache,
        out: a.out,
        summary: a.summary,
    };
    let s = check_cache(&opts, mode)?;
    eprintln!("check-cache: {} sequences, {} cached, {} missing -> {}", s.sequences, s.cached, s.missing, s.todo);
    println!("{}", serde_json::json!({"sequences": s.sequences, "cached": s.cached, "missing": s.missing}));
    Ok(0)
}
