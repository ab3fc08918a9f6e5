//! The model fingerprint: everything that changes the numbers stored in a cache entry.

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How `N` (and any non-ACGT byte) is one-hot encoded. Enformer was trained with all zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum NEncoding {
    /// All four channels 0 (Enformer's own encoding; the default).
    Zeros,
    /// 0.25 in each channel (kipoiseq, Basenji SAD, Selene).
    Uniform,
}

/// What a cache entry stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum StoreMode {
    /// The full [bins, tracks] output as float32 (lossless; the default).
    Float32,
    /// The full output as float16 (half the size; rounding can swamp weak effects).
    Float16,
    /// Only the per-track reductions the statistics need, in float64 (~100x smaller).
    Summary,
}

impl NEncoding {
    pub fn as_str(self) -> &'static str {
        match self {
            NEncoding::Zeros => "zeros",
            NEncoding::Uniform => "uniform",
        }
    }
}

impl StoreMode {
    pub fn as_str(self) -> &'static str {
        match self {
            StoreMode::Float32 => "float32",
            StoreMode::Float16 => "float16",
            StoreMode::Summary => "summary",
        }
    }
}

/// Summary entries hold sums split at the stitch bin (six rows, see `entry`); the first layout held two rows
/// (whole and centre sums) and could neither stitch an indel nor flip a reverse complement. Part of a summary
/// namespace's id, so a summary cache of the first layout is a namespace of its own that is never read again.
pub const SUMMARY_LAYOUT: &str = "summary_layout=split-at-stitch-bin-6-rows";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub model_sha256: String,
    pub head: String,
    pub n_encoding: NEncoding,
    pub window: usize,
    pub store: StoreMode,
    /// For `summary` entries only: how many centre bins row 1 sums (it changes what is stored).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub summary_center_bins: Option<usize>,
}

impl Fingerprint {
    pub fn new(model_sha256: String, head: &str, n_encoding: NEncoding, window: usize, store: StoreMode) -> Self {
        Fingerprint { model_sha256, head: head.to_string(), n_encoding, window, store, summary_center_bins: None }
    }

    /// Sets the centre-bin count that `summary` entries sum over (ignored for full entries).
    pub fn with_center_bins(mut self, k: usize) -> Self {
        self.summary_center_bins = (self.store == StoreMode::Summary).then_some(k);
        self
    }

    pub fn for_model_file(
        model: &Path,
        head: &str,
        n_encoding: NEncoding,
        window: usize,
        store: StoreMode,
    ) -> std::io::Result<Self> {
        Ok(Self::new(sha256_file(model)?, head, n_encoding, window, store))
    }

    /// 32 hex digits naming the namespace folder. The canonical text is versioned so that adding a field
    /// later changes every id rather than silently aliasing old entries.
    pub fn id(&self) -> String {
        let canonical = format!(
            "enformer-vep fingerprint v1\nmodel_sha256={}\nhead={}\nn_encoding={}\nwindow={}\nstore={}\n",
            self.model_sha256,
            self.head,
            self.n_encoding.as_str(),
            self.window,
            self.store.as_str()
        ) + &self
            .summary_center_bins
            .map(|k| format!("summary_center_bins={k}\n{SUMMARY_LAYOUT}\n"))
            .unwrap_or_default();
        hex::encode(&Sha256::digest(canonical.as_bytes())[..16])
    }
}

pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOAT32_ID_V1: &str = "4f7c60c91f11ff909b089ce2c070d6d5";

    #[test]
    fn every_field_changes_the_id() {
        let base = Fingerprint::new("00".repeat(32), "human", NEncoding::Zeros, 196_608, StoreMode::Float32);
        let variants = [
            Fingerprint { model_sha256: "11".repeat(32), ..base.clone() },
            Fingerprint { head: "mouse".into(), ..base.clone() },
            Fingerprint { n_encoding: NEncoding::Uniform, ..base.clone() },
            Fingerprint { window: 131_072, ..base.clone() },
            Fingerprint { store: StoreMode::Summary, ..base.clone() },
        ];
        // Full-entry namespaces keep their ids (the entries did not change); written down from v0.1.
        assert_eq!(base.id(), FLOAT32_ID_V1);
        let mut ids: Vec<String> = variants.iter().map(Fingerprint::id).collect();
        ids.push(base.id());
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 6);
        assert_eq!(base.id().len(), 32);
        assert_eq!(base.id(), base.clone().id(), "stable");
    }
}
