//! `report`: `scores.parquet` (+ the run's extract manifest when present) → one self-contained HTML file:
//! run summary, the top variants with their best tracks, the effect distribution per assay class, a
//! genome-wide overview against the GWAS signal, and LocusZoom-style views of the strongest loci coloured by
//! predicted effect.
//!
//! [`data`] reads the scores (summary columns only), [`loci`] picks the loci, [`charts`] draws, [`html`]
//! writes.

mod charts;
pub mod data;
mod html;
pub mod loci;

use std::path::{Path, PathBuf};

use data::{Scores, Variant};
use html::Page;

#[derive(Debug, Clone)]
pub struct ReportOptions {
    pub scores: PathBuf,
    pub out: PathBuf,
    /// extract-seqs' manifest.json; None: the default `run` layout beside the scores is tried.
    pub manifest: Option<PathBuf>,
    /// The statistic to rank and colour by (default: the file's first).
    pub stat: Option<String>,
    /// Assay class colouring the locus views (default: DNASE when present, else all tracks).
    pub class: Option<String>,
    pub top: usize,
    pub loci: usize,
    pub locus_radius: u64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ReportSummary {
    pub variants: usize,
    pub loci: usize,
    pub bytes: usize,
    pub out: String,
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Scores(#[from] data::ScoresError),
    #[error("--class {given}: {path} has no summary columns for it (classes there: {have}); fix: pick one of those, or leave --class out")]
    Class { given: String, path: String, have: String },
    #[error(
        "cannot read manifest {path}: {why}; fix: pass the extract-seqs manifest.json with --manifest, or leave it out"
    )]
    Manifest { path: String, why: String },
    #[error("cannot draw the report: {0}")]
    Draw(String),
    #[error("cannot write {path}: {why}")]
    Write { path: String, why: String },
}

pub fn report(opts: &ReportOptions) -> Result<ReportSummary, ReportError> {
    let scores = data::read_scores(&opts.scores, opts.stat.as_deref())?;
    let class = match &opts.class {
        None => scores.classes.iter().position(|c| *c == "DNASE"),
        Some(given) => Some(scores.classes.iter().position(|c| c.eq_ignore_ascii_case(given)).ok_or_else(|| {
            ReportError::Class {
                given: given.clone(),
                path: opts.scores.display().to_string(),
                have: if scores.classes.is_empty() { "none".into() } else { scores.classes.join(", ") },
            }
        })?),
    };
    let (manifest, mut warnings) = read_manifest(opts)?;
    let picked = loci::pick(&scores.variants, opts.loci, opts.locus_radius);
    let mut page = Page::new("enformer-vep report");
    summary_section(&mut page, opts, &scores, manifest.as_ref());
    top_section(&mut page, &scores, opts.top);
    distribution_section(&mut page, &scores)?;
    overview_section(&mut page, &scores)?;
    loci_section(&mut page, &scores, &picked, class, opts.locus_radius, &mut warnings)?;
    let html = page.finish();
    crate::fsutil::write_atomic(&opts.out, html.as_bytes())
        .map_err(|e| ReportError::Write { path: opts.out.display().to_string(), why: e.to_string() })?;
    Ok(ReportSummary {
        variants: scores.variants.len(),
        loci: picked.len(),
        bytes: html.len(),
        out: opts.out.display().to_string(),
        warnings,
    })
}

/// The manifest given, or `SCORES.work/extract/manifest.json` (where `run` puts it) when that exists.
fn read_manifest(opts: &ReportOptions) -> Result<(Option<serde_json::Value>, Vec<String>), ReportError> {
    let path = match &opts.manifest {
        Some(p) => p.clone(),
        None => {
            let mut work = opts.scores.clone().into_os_string();
            work.push(".work");
            let p = Path::new(&work).join("extract").join(crate::extract::MANIFEST);
            if !p.is_file() {
                return Ok((None, vec![]));
            }
            p
        }
    };
    let merr = |why: String| ReportError::Manifest { path: path.display().to_string(), why };
    let text = std::fs::read_to_string(&path).map_err(|e| merr(e.to_string()))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| merr(format!("not JSON: {e}")))?;
    if !v.is_object() {
        return Err(merr("not a JSON object".into()));
    }
    Ok((Some(v), vec![]))
}

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn summary_section(page: &mut Page, opts: &ReportOptions, s: &Scores, manifest: Option<&serde_json::Value>) {
    page.section("summary", "Run summary");
    let mut rows: Vec<Vec<String>> = vec![
        vec!["scores".into(), opts.scores.display().to_string()],
        vec!["variants scored".into(), s.variants.len().to_string()],
        vec!["statistic ranked".into(), s.stat.clone()],
        vec!["statistics in the file".into(), s.stats.join(", ")],
    ];
    if let Some(tracks) = s.metadata.get("tracks").and_then(|t| serde_json::from_str::<Vec<serde_json::Value>>(t).ok())
    {
        rows.push(vec!["tracks kept".into(), tracks.len().to_string()]);
    }
    rows.push(vec![
        "assay classes".into(),
        if s.classes.is_empty() { "none (no targets file given to merge)".into() } else { s.classes.join(", ") },
    ]);
    if let Some(fp) = s.metadata.get("fingerprint").and_then(|f| serde_json::from_str::<serde_json::Value>(f).ok()) {
        for (k, v) in fp.as_object().into_iter().flatten() {
            rows.push(vec![format!("model: {k}"), json_text(v)]);
        }
    }
    for key in ["rc", "shifts", "center", "stitch_bin", "version"] {
        if let Some(v) = s.metadata.get(key) {
            rows.push(vec![key.replace('_', " "), v.clone()]);
        }
    }
    if let Some(m) = manifest {
        for key in ["variants_input", "genome", "input_format", "columns", "window", "rows", "shard_size"] {
            if let Some(v) = m.get(key) {
                rows.push(vec![key.replace('_', " "), json_text(v)]);
            }
        }
        for (group, label) in [("status_counts", "status"), ("filtered", "filtered out")] {
            for (k, v) in m.get(group).and_then(|g| g.as_object()).into_iter().flatten() {
                if v.as_u64() != Some(0) {
                    rows.push(vec![format!("{label}: {k}"), json_text(v)]);
                }
            }
        }
        for w in m.get("warnings").and_then(|w| w.as_array()).into_iter().flatten() {
            rows.push(vec!["warning".into(), json_text(w)]);
        }
    } else {
        rows.push(vec![
            "inputs and statuses".into(),
            "no extract manifest found (pass --manifest WORK/extract/manifest.json to show them)".into(),
        ]);
    }
    // Two key-value pairs per table row: the summary stays short enough to see the figures below it.
    let paired: Vec<Vec<String>> = rows.chunks(2).map(|pair| pair.iter().flatten().cloned().collect()).collect();
    page.table("summary", &["", "", "", ""], &paired);
    page.end_section();
}

fn fmt_p(p: Option<f64>) -> String {
    p.map(|p| format!("{p:.3e}")).unwrap_or_default()
}

fn fmt_top(t: &Option<data::Top>) -> String {
    match t {
        Some(t) => format!("{:+.4} {} {}", t.value, t.identifier, t.description),
        None => String::new(),
    }
}

fn top_section(page: &mut Page, s: &Scores, n: usize) {
    page.section("top", &format!("Top {n} variants by strongest |{}|", s.stat));
    let mut order: Vec<&Variant> = s.variants.iter().filter(|v| v.top.is_some()).collect();
    order.sort_by(|a, b| {
        let key = |v: &Variant| v.top.as_ref().map(|t| t.abs).unwrap_or(0.0);
        key(b).total_cmp(&key(a))
    });
    let mut header: Vec<String> =
        ["rank", "variant", "position", "ref>alt", "GWAS p", &format!("max |{}|", s.stat), "best track"]
            .map(String::from)
            .to_vec();
    header.extend(s.classes.iter().map(|c| format!("best {c} track")));
    let rows: Vec<Vec<String>> = order
        .iter()
        .take(n)
        .enumerate()
        .map(|(i, v)| {
            let mut row = vec![
                (i + 1).to_string(),
                v.id.clone().unwrap_or_default(),
                format!("{}:{}", v.chrom, v.pos),
                format!("{}>{}", v.ref_allele, v.alt_allele),
                fmt_p(v.pvalue),
                v.top.as_ref().map(|t| format!("{:.4}", t.abs)).unwrap_or_default(),
                fmt_top(&v.top),
            ];
            row.extend(v.classes.iter().map(fmt_top));
            row
        })
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    page.note("Best track: the signed value (alt − ref direction), its identifier and description.");
    page.table("top", &header, &rows);
    page.end_section();
}

fn distribution_section(page: &mut Page, s: &Scores) -> Result<(), ReportError> {
    page.section("distribution", "Distribution of effects per assay class");
    let mut groups =
        vec![("all tracks".to_string(), s.variants.iter().filter_map(|v| Some(v.top.as_ref()?.abs)).collect())];
    for (i, c) in s.classes.iter().enumerate() {
        groups.push((c.to_string(), s.variants.iter().filter_map(|v| Some(v.classes[i].as_ref()?.abs)).collect()));
    }
    let svg = charts::distribution(&groups, &s.stat).map_err(ReportError::Draw)?;
    page.figure(&svg, &format!("Per variant, the strongest |{}| within each group of tracks.", s.stat));
    page.end_section();
    Ok(())
}

fn overview_section(page: &mut Page, s: &Scores) -> Result<(), ReportError> {
    page.section("overview", "Genome-wide overview");
    let svg = charts::overview(&s.variants, &s.stat).map_err(ReportError::Draw)?;
    page.figure(
        &svg,
        &format!(
            "Top: GWAS −log10 p; bottom: strongest |{}| over all tracks; chromosomes in order, alternately coloured; the highest point per pixel column is drawn.",
            s.stat
        ),
    );
    page.end_section();
    Ok(())
}

fn loci_section(
    page: &mut Page,
    s: &Scores,
    picked: &[loci::Locus],
    class: Option<usize>,
    radius: u64,
    warnings: &mut Vec<String>,
) -> Result<(), ReportError> {
    page.section("loci", "Loci");
    let group = class.map(|c| s.classes[c]).unwrap_or("all tracks");
    let effect = |v: &Variant| -> Option<f32> {
        match class {
            Some(c) => v.classes.get(c)?.as_ref().map(|t| t.abs),
            None => v.top.as_ref().map(|t| t.abs),
        }
    };
    if picked.is_empty() {
        let why =
            "no locus to show: no GWAS p-values, or no lead variant with another scored variant within the radius";
        page.note(why);
        warnings.push(why.to_string());
    }
    let scale = s.variants.iter().filter_map(effect).fold(0f32, f32::max);
    let label = format!("|{}| {group}", s.stat);
    for l in picked {
        let lead = &s.variants[l.lead];
        let name = lead.id.clone().unwrap_or_else(|| format!("{}:{}", lead.chrom, lead.pos));
        page.heading(&format!("{name} ({}:{}-{}, {} variants)", l.chrom, l.start, l.end, l.members.len()));
        let svg = charts::locus(l, &s.variants, &effect, scale, &label).map_err(ReportError::Draw)?;
        page.figure(
            &svg,
            &format!(
                "Variants within {radius} bp of the lead (circled), GWAS −log10 p against position, coloured by the strongest |{}| over {group} (grey: none); one colour scale for all loci.",
                s.stat
            ),
        );
    }
    page.end_section();
    Ok(())
}
