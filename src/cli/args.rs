//! Flag groups shared by several subcommands, and their conversion into the library's option types.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::cache::digest::{Digested, FileStamp, NamespaceRecord};
use crate::cache::{Fingerprint, NEncoding, StoreMode};
use crate::ensemble::Ensemble;
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
    #[arg(long, default_value_t = 1000, value_name = "N", value_parser = at_least_one)]
    pub shard_size: usize,
    /// Map columns by hand: chrom=CHR,pos=BP,id=SNP,effect_allele=A1,other_allele=A2,beta=BETA,se=SE,pvalue=P
    #[arg(long, value_name = "ROLE=COLUMN,...")]
    pub columns: Option<ColumnOverrides>,
    /// Keep variants with p-value at most P (0 to 1).
    #[arg(long, value_name = "P", value_parser = pvalue_threshold)]
    pub max_pvalue: Option<f64>,
    /// Keep the N variants with the smallest p-values.
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub top: Option<usize>,
    /// Keep variants in CHROM[:START-END] (1-based, inclusive; 60,000 and 6e4 are read as 60000).
    #[arg(long, value_name = "CHR:START-END")]
    pub region: Option<Region>,
    /// Also score the reverse complement of every window (predictions flipped back and averaged).
    #[arg(long)]
    pub rc: bool,
    /// Score every window also moved by these many bp and average (e.g. --shifts=-1,0,1; distinct, within ±1024).
    #[arg(long, default_value = "0", value_name = "T,...", value_delimiter = ',', allow_hyphen_values = true, value_parser = shift)]
    pub shifts: Vec<i32>,
    /// REF or ALT alleles longer than this are not scored (status allele_too_long).
    #[arg(long, default_value_t = DEFAULT_MAX_ALLELE_LEN, value_name = "BP")]
    pub max_allele_len: usize,
}

/// Largest `--batch-size`: Enformer needs ~3 MB of input and ~19 MB of output per sequence of a batch, so
/// 1024 is already ~20 GB; larger values are typos that would abort on an impossible allocation.
pub const MAX_BATCH_SIZE: usize = 1024;
/// Largest `--threads`.
pub const MAX_THREADS: usize = 1024;

/// Flag values are checked by clap (`value_parser`), so that a bad one is a usage error (exit 2) naming the
/// flag, before any file is read.
pub(crate) fn at_least_one(s: &str) -> Result<usize, String> {
    bounded(s, 1, usize::MAX)
}

fn bounded(s: &str, min: usize, max: usize) -> Result<usize, String> {
    let n: usize = s.trim().parse().map_err(|_| format!("'{s}' is not a whole number"))?;
    if n < min {
        return Err(format!("must be at least {min}"));
    }
    if n > max {
        return Err(format!("{n} is more than the limit of {max}"));
    }
    Ok(n)
}

pub(crate) fn batch_size(s: &str) -> Result<usize, String> {
    bounded(s, 1, MAX_BATCH_SIZE).map_err(|e| {
        format!("{e} (sequences per model call; each needs ~20 MB of memory with Enformer: 1 to {MAX_BATCH_SIZE})")
    })
}

pub(crate) fn threads(s: &str) -> Result<usize, String> {
    bounded(s, 1, MAX_THREADS).map_err(|e| format!("{e} (worker threads: 1 to {MAX_THREADS})"))
}

fn shift(s: &str) -> Result<i32, String> {
    match s.trim().parse::<i32>() {
        Ok(t) => Ensemble::check_shift(t),
        Err(_) => Err(format!("'{s}' is not an integer shift in bp (e.g. --shifts=-1,0,1)")),
    }
}

fn pvalue_threshold(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("'{s}' is not a p-value between 0 and 1 (e.g. 5e-8)")),
    }
}

pub(crate) fn window(s: &str) -> Result<usize, String> {
    let n: usize = s.trim().parse().map_err(|_| format!("'{s}' is not a whole number of bases"))?;
    WindowSpec::new(n)?;
    Ok(n)
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
            ensemble: Ensemble::new(self.rc, self.shifts.clone()).map_err(|e| anyhow::anyhow!("--shifts: {e}"))?,
            max_allele_len: self.max_allele_len,
        })
    }

    pub fn columns(&self) -> anyhow::Result<ColumnOverrides> {
        Ok(self.columns.clone().unwrap_or_default())
    }

    pub fn filters(&self) -> anyhow::Result<Filters> {
        Ok(Filters { region: self.region.clone(), max_pvalue: self.max_pvalue, top: self.top })
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
    #[arg(long, default_value_t = DEFAULT_WINDOW, value_name = "BP", value_parser = window)]
    pub window: usize,
    /// Bins nearest the variant summed by CENTER (and by summary entries at predict time).
    #[arg(long, default_value_t = 10, value_name = "K", value_parser = at_least_one)]
    pub center_bins: usize,
    /// namespace.json written by `enformer-vep namespace`: the model's SHA-256 computed once, so this step
    /// does not read the whole model to hash it (trusted while the model file's size and times are unchanged;
    /// otherwise the model is hashed again and must match).
    #[arg(long, value_name = "namespace.json")]
    pub namespace_file: Option<PathBuf>,
}

impl ModelArgs {
    fn fingerprint_of(&self, model_sha256: String) -> Fingerprint {
        Fingerprint::new(model_sha256, &self.head, self.n_encoding, self.window, self.store)
            .with_center_bins(self.center_bins)
    }

    /// The namespace's fingerprint: from `--namespace-file` when given, else by hashing the model.
    pub fn fingerprint(&self) -> anyhow::Result<Fingerprint> {
        let Some(path) = &self.namespace_file else {
            let record = NamespaceRecord::create(&self.model, |sha| self.fingerprint_of(sha))?;
            return Ok(record.fingerprint);
        };
        let record = NamespaceRecord::read(path)?;
        let (fp, how) = record.fingerprint_for_model(path, &self.model, |sha| self.fingerprint_of(sha))?;
        if how == Digested::Rehashed {
            eprintln!(
                "note: model {} has another size or time stamp than when {} was written, so it was hashed again (same SHA-256); run `enformer-vep namespace` again to skip that",
                self.model.display(),
                path.display()
            );
        }
        Ok(fp)
    }

    /// For `run`: like [`ModelArgs::fingerprint`], but without `--namespace-file` the digest is remembered in
    /// `memo` (the work folder's `namespace.json`), so a re-run does not hash a 1 GB model again while the
    /// model file (same path, size and time stamps) and the flags are unchanged. Anything else is hashed
    /// afresh and the memo rewritten; an unreadable memo is only a reason to hash.
    pub fn fingerprint_remembered(&self, memo: &Path) -> anyhow::Result<Fingerprint> {
        if self.namespace_file.is_some() {
            return self.fingerprint();
        }
        if let Ok(record) = NamespaceRecord::read(memo) {
            let same_model = record.model == self.model.display().to_string();
            let same_flags = self.fingerprint_of(record.fingerprint.model_sha256.clone()) == record.fingerprint;
            let unchanged = FileStamp::of(&self.model).is_ok_and(|s| s == record.model_stamp);
            if same_model && same_flags && unchanged {
                return Ok(record.fingerprint);
            }
        }
        let record = self.namespace_record()?;
        let written = memo.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| {
            crate::fsutil::write_atomic(memo, &serde_json::to_vec_pretty(&record).map_err(std::io::Error::other)?)
        });
        if let Err(e) = written {
            eprintln!(
                "note: cannot remember the model's SHA-256 in {} ({e}); the next run hashes it again",
                memo.display()
            );
        }
        Ok(record.fingerprint)
    }

    /// The record `enformer-vep namespace` writes: the model hashed, with these flags.
    pub fn namespace_record(&self) -> anyhow::Result<NamespaceRecord> {
        Ok(NamespaceRecord::create(&self.model, |sha| self.fingerprint_of(sha))?)
    }

    pub fn model_options(&self, device: Device, threads: Option<usize>) -> ModelOptions {
        ModelOptions { device, threads, head: self.head.clone(), window: self.window }
    }
}

/// How the model runs.
#[derive(Debug, Args)]
pub struct RuntimeArgs {
    /// cpu, cuda or cuda:N (CUDA never falls back to CPU silently).
    #[arg(long, default_value = "cpu")]
    pub device: Device,
    /// Sequences per model call (1 to 1024).
    #[arg(long, default_value_t = 2, value_name = "N", value_parser = batch_size)]
    pub batch_size: usize,
}

impl RuntimeArgs {
    pub fn device(&self) -> anyhow::Result<Device> {
        Ok(self.device)
    }
}

/// Which statistics over which tracks.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// Statistics, comma separated: SAD, logSED, D2, CENTER.
    #[arg(long, value_delimiter = ',', default_value = "SAD,logSED,D2,CENTER")]
    pub stats: Vec<Stat>,
    /// Track table (targets_human.txt: index genome identifier file clip scale sum_stat description).
    #[arg(long, value_name = "targets.txt")]
    pub targets: Option<PathBuf>,
    /// Keep tracks whose identifier or description matches this regular expression (e.g. '^CAGE:').
    #[arg(long, value_name = "REGEX")]
    pub tracks: Option<String>,
}

impl ScoreArgs {
    pub fn stats(&self) -> anyhow::Result<Vec<Stat>> {
        Ok(self.stats.clone())
    }
}
