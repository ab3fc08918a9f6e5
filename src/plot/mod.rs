//! `plot`: for a variant of `scores.parquet`, the ref and alt predictions along the output bins for a few
//! tracks and their difference, as SVG and PNG, from a full-store cache (the same ensemble mean and indel
//! stitching that the scores were computed from). [`draw`] draws.

mod draw;

use std::path::{Path, PathBuf};

use crate::cache::entry::{EntryData, Expect};
use crate::cache::{Cache, Fingerprint, Lookup, StoreMode};
use crate::merge::Track;
use crate::score::{Composer, Profile, Stat};
use crate::selection::{kept_tracks, select_tracks, NoTrack};
use crate::tables::variants::{VariantReader, VariantRow};
use crate::tables::{open_parquet, TableError};
use crate::window::{OutputGeometry, BIN_SIZE};

pub use draw::Figure;

#[derive(Debug, Clone)]
pub struct PlotOptions {
    pub scores: PathBuf,
    pub cache: PathBuf,
    /// Variant IDs or CHROM:POS, one figure each.
    pub variants: Vec<String>,
    /// Track selectors: a position in the scores' lists, an identifier, or a regular expression matched
    /// against identifiers and descriptions; empty: the variant's `top_tracks` strongest by |SAD|.
    pub tracks: Vec<String>,
    pub top_tracks: usize,
    pub out_dir: PathBuf,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PlotReport {
    /// (svg, png) per variant.
    pub files: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error(transparent)]
    Table(#[from] TableError),
    #[error("{path}: {why}; fix: pass the scores.parquet written by merge or run")]
    Scores { path: String, why: String },
    #[error("the cache of {path} stores summary entries (--store summary keeps per-track sums, not the {what}), so nothing can be drawn along the bins; fix: predict into a float32 or float16 cache (--store float32) and merge from it")]
    SummaryStore { path: String, what: &'static str },
    #[error("variant '{0}' is not among the scored variants of {1}; fix: give its ID (the id column) or CHROM:POS")]
    NoVariant(String, String),
    #[error(transparent)]
    NoTrack(#[from] NoTrack),
    #[error("sequence {seq_id} of variant '{variant}' is not readable in the cache {cache}{why}; fix: run `enformer-vep predict` for it (or `run`) with the same model and cache")]
    Missing { seq_id: String, variant: String, cache: String, why: String },
    #[error("variant '{0}': {1}")]
    Compose(String, String),
    #[error("cannot draw {path}: {why}")]
    Draw { path: String, why: String },
}

pub fn plot(opts: &PlotOptions) -> Result<PlotReport, PlotError> {
    let shown = opts.scores.display().to_string();
    let serr = |why: String| PlotError::Scores { path: shown.clone(), why };
    let (fp, kept) = read_metadata(&opts.scores).map_err(|e| match e {
        MetaError::Table(t) => PlotError::Table(t),
        MetaError::Bad(why) => serr(why),
    })?;
    if fp.store == StoreMode::Summary {
        return Err(PlotError::SummaryStore { path: shown, what: "per-bin predictions" });
    }
    let selected = select_tracks(&opts.tracks, &kept)?;
    let rows = find_variants(&opts.scores, &opts.variants)?;
    let cache = Cache::open(&opts.cache).map_err(|e| serr(format!("cache {}: {e}", opts.cache.display())))?;
    let ns = cache.namespace(&fp);
    let mut files = Vec::new();
    for (name, row) in opts.variants.iter().zip(&rows) {
        let members = row.sequences.as_deref().unwrap_or_default();
        let cache_dir = ns.dir().display().to_string();
        let miss = |m: Option<(String, String)>| {
            let (seq_id, why) = m.unwrap_or_default();
            PlotError::Missing { seq_id, variant: name.clone(), cache: cache_dir.clone(), why }
        };
        // The shape: recorded by predict, or that of the variant's first entry.
        let mut shape: Option<[usize; 2]> = ns.output_shape();
        if let (None, Some(m)) = (shape, members.first()) {
            match ns.read_entry(&m.seq_id, Expect::default()) {
                Lookup::Hit(d) => shape = Some(d.shape),
                Lookup::Missing => return Err(miss(Some((m.seq_id.clone(), String::new())))),
                Lookup::Corrupt(why) => return Err(miss(Some((m.seq_id.clone(), format!(" ({why})"))))),
            }
        }
        let Some([bins, tracks]) = shape else { return Err(miss(None)) };
        let expect = Expect::exact(bins, tracks);
        let mut missing: Option<(String, String)> = None;
        let mut read = |id: &str| -> Option<EntryData> {
            match ns.read_entry(id, expect) {
                Lookup::Hit(d) => Some(d.data),
                Lookup::Missing => {
                    missing.get_or_insert((id.to_string(), String::new()));
                    None
                }
                Lookup::Corrupt(why) => {
                    missing.get_or_insert((id.to_string(), format!(" ({why})")));
                    None
                }
            }
        };
        let geometry = OutputGeometry::new(fp.window, bins).map_err(|e| PlotError::Compose(name.clone(), e))?;
        let channels: Vec<usize> = match &selected {
            Some(positions) => positions.iter().map(|&p| kept[p].channel).collect(),
            None => kept.iter().map(|t| t.channel).collect(),
        };
        let composer = Composer {
            geometry: Some(geometry),
            tracks,
            summaries: false,
            keep: channels.clone(),
            center: 0..0,
            stats: vec![Stat::Sad],
        };
        let result = composer.profiles(members, &mut read);
        let (r, a) = match result {
            Ok((Profile::Full(r), Profile::Full(a))) => (r, a),
            Ok(_) => return Err(PlotError::SummaryStore { path: shown, what: "per-bin predictions" }),
            Err(crate::score::ComposeError::Unreadable(_)) => return Err(miss(missing)),
            Err(e) => return Err(PlotError::Compose(name.clone(), e.to_string())),
        };
        let n = channels.len();
        let positions: Vec<usize> = match &selected {
            Some(p) => (0..p.len()).collect(),
            None => strongest(&r, &a, n, opts.top_tracks),
        };
        let start = row.window_start.unwrap_or(0) + geometry.offset() as i64;
        let figure = Figure {
            title: format!(
                "{} {}:{} {}>{}",
                row.id.as_deref().unwrap_or(""),
                row.chrom.as_deref().unwrap_or(""),
                row.pos.unwrap_or(0),
                row.ref_allele.as_deref().unwrap_or(""),
                row.alt_allele.as_deref().unwrap_or("")
            ),
            chrom: row.chrom.clone().unwrap_or_default(),
            variant_pos: row.pos.unwrap_or(0),
            // 1-based genomic position of each bin's centre.
            x: (0..bins).map(|b| start + (b * BIN_SIZE + BIN_SIZE / 2) as i64 + 1).collect(),
            tracks: positions
                .iter()
                .map(|&p| {
                    let t = match &selected {
                        Some(sel) => &kept[sel[p]],
                        None => &kept[p],
                    };
                    let column = |v: &[f64]| (0..bins).map(|b| v[b * n + p]).collect::<Vec<f64>>();
                    (format!("{} {}", t.identifier, t.description), column(&r), column(&a))
                })
                .collect(),
        };
        let stem = opts.out_dir.join(file_stem(name));
        let (svg, png) = (stem.with_extension("svg"), stem.with_extension("png"));
        std::fs::create_dir_all(&opts.out_dir)
            .map_err(|e| PlotError::Draw { path: opts.out_dir.display().to_string(), why: e.to_string() })?;
        let derr = |p: &Path| {
            let path = p.display().to_string();
            move |why: String| PlotError::Draw { path, why }
        };
        let text = figure.svg().map_err(derr(&svg))?;
        crate::fsutil::write_atomic(&svg, text.as_bytes()).map_err(|e| derr(&svg)(e.to_string()))?;
        figure.png(&png).map_err(derr(&png))?;
        files.push((svg.display().to_string(), png.display().to_string()));
    }
    Ok(PlotReport { files })
}

/// The `top` kept tracks with the largest |Σ_b (alt − ref)|, strongest first.
fn strongest(r: &[f64], a: &[f64], n: usize, top: usize) -> Vec<usize> {
    let mut sad = vec![0f64; n];
    for (rr, ar) in r.chunks_exact(n.max(1)).zip(a.chunks_exact(n.max(1))) {
        for i in 0..n {
            sad[i] += ar[i] - rr[i];
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&x, &y| sad[y].abs().total_cmp(&sad[x].abs()).then(x.cmp(&y)));
    order.truncate(top.max(1));
    order
}

/// A file name from a variant ID or CHROM:POS: anything but letters, digits, '.', '-' and '_' becomes '_'.
fn file_stem(name: &str) -> String {
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' }).collect();
    if s.is_empty() || s.starts_with('.') {
        format!("variant{s}")
    } else {
        s
    }
}

enum MetaError {
    Table(TableError),
    Bad(String),
}

/// The fingerprint and kept tracks recorded by merge.
fn read_metadata(path: &Path) -> Result<(Fingerprint, Vec<Track>), MetaError> {
    let builder = open_parquet(path, "scores", "the scores.parquet written by merge").map_err(MetaError::Table)?;
    let kv = builder.metadata().file_metadata().key_value_metadata().cloned().unwrap_or_default();
    let get = |k: &str| kv.iter().find(|e| e.key == format!("enformer_vep.{k}")).and_then(|e| e.value.clone());
    let fp = get("fingerprint").ok_or_else(|| MetaError::Bad("no enformer_vep.fingerprint metadata".into()))?;
    let fp: Fingerprint =
        serde_json::from_str(&fp).map_err(|e| MetaError::Bad(format!("unreadable fingerprint metadata: {e}")))?;
    let tracks = get("tracks").ok_or_else(|| MetaError::Bad("no enformer_vep.tracks metadata".into()))?;
    let kept = kept_tracks(&tracks).map_err(MetaError::Bad)?;
    Ok((fp, kept))
}

/// The scored rows of the named variants, in the order asked.
fn find_variants(scores: &Path, names: &[String]) -> Result<Vec<VariantRow>, PlotError> {
    let mut found: Vec<Option<VariantRow>> = vec![None; names.len()];
    for batch in VariantReader::open(scores)? {
        for row in batch? {
            let locus = format!("{}:{}", row.chrom.as_deref().unwrap_or(""), row.pos.unwrap_or(0));
            for (i, name) in names.iter().enumerate() {
                if found[i].is_none() && (row.id.as_deref() == Some(name.as_str()) || locus == *name) {
                    found[i] = Some(row.clone());
                }
            }
        }
    }
    found
        .into_iter()
        .zip(names)
        .map(|(r, n)| r.ok_or_else(|| PlotError::NoVariant(n.clone(), scores.display().to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strongest_tracks_by_summed_difference() {
        // 2 bins × 3 tracks: SAD = [0.5, -2, 1].
        let r = [0.0, 1.0, 0.0, 0.0, 1.0, 0.0];
        let a = [0.25, 0.0, 0.5, 0.25, 0.0, 0.5];
        assert_eq!(strongest(&r, &a, 3, 2), vec![1, 2]);
    }

    #[test]
    fn file_names_are_safe() {
        assert_eq!(file_stem("rs1"), "rs1");
        assert_eq!(file_stem("chr1:100"), "chr1_100");
        assert_eq!(file_stem("../<x>"), "variant..__x_");
        assert_eq!(file_stem(""), "variant");
    }
}
