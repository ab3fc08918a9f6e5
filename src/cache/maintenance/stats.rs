//! `cache stats`: per namespace, what it holds (from the listing; no entry is read).

use std::path::Path;
use std::time::SystemTime;

use serde::Serialize;

use super::{format_utc, namespaces, older_than, scan, FileKind, MaintenanceError, STALE_TEMP};

#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct NamespaceStats {
    pub id: String,
    pub model_sha256: Option<String>,
    pub head: Option<String>,
    pub store: Option<String>,
    pub n_encoding: Option<String>,
    pub window: Option<usize>,
    pub summary_center_bins: Option<usize>,
    /// Why `fingerprint.json` could not be read (the namespace is then unidentified).
    pub fingerprint_error: Option<String>,
    pub entries: u64,
    pub bytes: u64,
    pub oldest: Option<String>,
    pub newest: Option<String>,
    pub temp_files: u64,
    pub stale_temp_files: u64,
    pub temp_bytes: u64,
    pub corrupt_files: u64,
    pub corrupt_bytes: u64,
    pub other_files: u64,
    /// Of `other_files`, those with a cache file's name that are not regular files (never read or removed).
    pub not_regular_files: u64,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct CacheStats {
    pub cache: String,
    pub namespaces: Vec<NamespaceStats>,
    pub entries: u64,
    pub bytes: u64,
    pub temp_files: u64,
    pub stale_temp_files: u64,
    pub corrupt_files: u64,
    pub other_files: u64,
    pub not_regular_files: u64,
}

pub fn stats(cache: &Path) -> Result<CacheStats, MaintenanceError> {
    let now = SystemTime::now();
    let mut out = CacheStats { cache: cache.display().to_string(), ..Default::default() };
    for ns in namespaces(cache)? {
        let files = scan(&ns)?;
        let mut s = NamespaceStats { id: ns.id.clone(), ..Default::default() };
        match &ns.fingerprint {
            Ok(fp) => {
                s.model_sha256 = Some(fp.model_sha256.clone());
                s.head = Some(fp.head.clone());
                s.store = Some(fp.store.as_str().to_string());
                s.n_encoding = Some(fp.n_encoding.as_str().to_string());
                s.window = Some(fp.window);
                s.summary_center_bins = fp.summary_center_bins;
            }
            Err(e) => s.fingerprint_error = Some(e.clone()),
        }
        let (mut oldest, mut newest): (Option<SystemTime>, Option<SystemTime>) = (None, None);
        for f in &files {
            match f.kind {
                FileKind::Entry => {
                    s.entries += 1;
                    s.bytes += f.bytes;
                    oldest = Some(oldest.map_or(f.modified, |o| o.min(f.modified)));
                    newest = Some(newest.map_or(f.modified, |n| n.max(f.modified)));
                }
                FileKind::Temp => {
                    s.temp_files += 1;
                    s.temp_bytes += f.bytes;
                    s.stale_temp_files += u64::from(older_than(f, STALE_TEMP, now));
                }
                FileKind::Corrupt => {
                    s.corrupt_files += 1;
                    s.corrupt_bytes += f.bytes;
                }
                FileKind::Other => s.other_files += 1,
                FileKind::NotRegular => {
                    s.other_files += 1;
                    s.not_regular_files += 1;
                }
            }
        }
        s.oldest = oldest.map(format_utc);
        s.newest = newest.map(format_utc);
        out.entries += s.entries;
        out.bytes += s.bytes;
        out.temp_files += s.temp_files;
        out.stale_temp_files += s.stale_temp_files;
        out.corrupt_files += s.corrupt_files;
        out.other_files += s.other_files;
        out.not_regular_files += s.not_regular_files;
        out.namespaces.push(s);
    }
    Ok(out)
}

/// `1.2 GB` (decimal units, as `du --si`).
pub fn human_bytes(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < units.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

impl CacheStats {
    /// The table `cache stats` prints.
    pub fn table(&self) -> String {
        let mut rows = vec![[
            "namespace".to_string(),
            "model".into(),
            "head".into(),
            "store".into(),
            "entries".into(),
            "size".into(),
            "oldest".into(),
            "newest".into(),
        ]];
        for n in &self.namespaces {
            let model = n.model_sha256.as_deref().map(|m| format!("{}…", &m[..m.len().min(12)]));
            rows.push([
                n.id.clone(),
                model.unwrap_or_else(|| "(no fingerprint.json)".into()),
                n.head.clone().unwrap_or_else(|| "?".into()),
                n.store.clone().unwrap_or_else(|| "?".into()),
                n.entries.to_string(),
                human_bytes(n.bytes),
                n.oldest.clone().unwrap_or_else(|| "-".into()),
                n.newest.clone().unwrap_or_else(|| "-".into()),
            ]);
        }
        rows.push([
            "total".into(),
            String::new(),
            String::new(),
            String::new(),
            self.entries.to_string(),
            human_bytes(self.bytes),
            String::new(),
            String::new(),
        ]);
        let widths: Vec<usize> = (0..8).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
        let mut text = String::new();
        for r in &rows {
            let cells: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(c, v)| {
                    let pad = widths[c] - v.chars().count();
                    if c == 4 || c == 5 {
                        format!("{}{v}", " ".repeat(pad))
                    } else {
                        format!("{v}{}", " ".repeat(pad))
                    }
                })
                .collect();
            text.push_str(cells.join("  ").trim_end());
            text.push('\n');
        }
        text.push_str(&format!(
            "temp files: {} ({} older than {} min: debris of crashed writers); corrupt entries moved aside: {}; other files: {} ({} not regular files)\n",
            self.temp_files,
            self.stale_temp_files,
            STALE_TEMP.as_secs() / 60,
            self.corrupt_files,
            self.other_files,
            self.not_regular_files
        ));
        text
    }
}
