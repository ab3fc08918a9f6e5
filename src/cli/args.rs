//! Flag groups shared by several subcommands, and their conversion into the library's option types.

use std::path::PathBuf;

use clap::Args;

use crate::cache::{Fingerprint, NEncoding, StoreMode};
use crate::ensemble::{Ensemble, Shifts};
use crate::extract::{Filters, Region, DEFAULT_MAX_ALLELE_LEN};
use crate::model::{Device, ModelOptions};
use crate::score::Stat;
use crate::variants::ColumnOverrides;
use crate::window::{WindowSpec, DEFAULT_WINDOW};

/// Which variants, from which genome.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Variants: VCF, Kunkle/IGAP table, PLINK 2 .glm, or any delimited GWAS table; plain, gzip or bgzip.
    #[arg(long, value_name = "FILE")]
    pub variants: PathBuf,
    /// Reference genome FASTA (plain with .fai, or bgzip with .fai + .gzi; a missing index is built).
    #[arg(long, value_name = "FASTA")]
    pub genome: PathBuf,
    /// Scored variants per shard (each shard holds up to 2x this many windows).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub shard_size: usize,
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
    /// Also score the reverse complement of every window (predictions flipped back and averaged).
    #[arg(long)]
    pub rc: bool,
    /// Score every window also moved by these many bp and average (e.g. --shifts=-1,0,1).
    #[arg(long, default_value = "0", value_name = "T,...", allow_hyphen_values = true, value_parser = clap::value_parser!(Shifts))]
    pub shifts: Shifts,
    /// REF or ALT alleles longer than this are not scored (status allele_too_long).
    #[arg(long, default_value_t = DEFAULT_MAX_ALLELE_LEN, value_name = "BP")]
    pub max_allele_len: usize,
}

impl InputArgs {
    /// The extract-seqs options these flags describe, writing into `out_dir`.
    pub fn extract_options(&self, out_dir: PathBuf, window: usize) -> anyhow::Result<crate::extract::ExtractOptions> {
        Ok(crate::extract::ExtractOptions {
            window: WindowSpec::new(window).map_err(anyhow::Error::msg)?,
            columns: self.columns()?,
            filters: self.filters()?,
            variants: self.variants.clone(),
            genome: self.genome.clone(),
            out_dir,
            shard_size: self.shard_size,
            ensemble: Ensemble::new(self.rc, self.shifts.0.clone()).map_err(anyhow::Error::msg)?,
            max_allele_len: self.max_allele_len,
        })
    }

    pub fn columns(&self) -> anyhow::Result<ColumnOverrides> {
        match &self.columns {
            Some(s) => s.parse::<ColumnOverrides>().map_err(|e| anyhow::anyhow!("--columns: {e}")),
            None => Ok(ColumnOverrides::default()),
        }
    }

    pub fn filters(&self) -> anyhow::Result<Filters> {
        Ok(Filters {
            region: self
                .region
                .as_deref()
                .map(str::parse::<Region>)
                .transpose()
                .map_err(|e| anyhow::anyhow!("--region: {e}"))?,
            max_pvalue: self.max_pvalue,
            top: self.top,
        })
    }
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
    /// One-hot encoding of N: zeros (Enformer's training encoding) or uniform (0.25 each).
    #[arg(long, value_enum, default_value_t = NEncoding::Zeros)]
    pub n_encoding: NEncoding,
    /// What a cache entry stores: float32 (full, lossless), float16 (full, half size), summary (per-track sums).
    #[arg(long, value_enum, default_value_t = StoreMode::Float32)]
    pub store: StoreMode,
    /// Window length in bp.
    #[arg(long, default_value_t = DEFAULT_WINDOW, value_name = "BP")]
    pub window: usize,
    /// Bins nearest the variant summed by CENTER (and by summary entries at predict time).
    #[arg(long, default_value_t = 10, value_name = "K")]
    pub center_bins: usize,
}

impl ModelArgs {
    pub fn fingerprint(&self) -> anyhow::Result<Fingerprint> {
        WindowSpec::new(self.window).map_err(anyhow::Error::msg)?;
        anyhow::ensure!(self.center_bins > 0, "--center-bins must be at least 1");
        let fp = Fingerprint::for_model_file(&self.model, &self.head, self.n_encoding, self.window, self.store)
            .map_err(|e| anyhow::anyhow!("cannot read model {}: {e}", self.model.display()))?;
        Ok(fp.with_center_bins(self.center_bins))
    }

    pub fn model_options(&self, device: Device, threads: Option<usize>) -> ModelOptions {
        ModelOptions { device, threads, head: self.head.clone(), window: self.window }
    }
}

/// How the model runs.
#[derive(Debug, Args)]
pub struct RuntimeArgs {
    /// cpu, cuda or cuda:N (CUDA never falls back to CPU silently).
    #[arg(long, default_value = "cpu", value_parser = clap::value_parser!(String))]
    pub device: String,
    /// Sequences per model call.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub batch_size: usize,
}

impl RuntimeArgs {
    pub fn device(&self) -> anyhow::Result<Device> {
        self.device.parse::<Device>().map_err(|e| anyhow::anyhow!("--device: {e}"))
    }
}

/// Which statistics over which tracks.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// Statistics, comma separated: SAD, logSED, D2, CENTER.
    #[arg(long, value_delimiter = ',', default_value = "SAD,logSED,D2,CENTER")]
    pub stats: Vec<String>,
    /// Track table (targets_human.txt: index genome identifier file clip scale sum_stat description).
    #[arg(long, value_name = "targets.txt")]
    pub targets: Option<PathBuf>,
    /// Keep tracks whose identifier or description matches this regular expression (e.g. '^CAGE:').
    #[arg(long, value_name = "REGEX")]
    pub tracks: Option<String>,
}

impl ScoreArgs {
    pub fn stats(&self) -> anyhow::Result<Vec<Stat>> {
        self.stats.iter().map(|s| s.parse::<Stat>().map_err(|e| anyhow::anyhow!("--stats: {e}"))).collect()
    }
}
