//! `report`: `scores.parquet` (+ the run's step records when present) → one self-contained HTML file: run
//! summary (inputs, statuses, sequences cached and computed, time per step and stage), the top variants with
//! their best tracks, the effect distribution per assay class, a genome-wide overview against the GWAS
//! signal, and LocusZoom-style views of the strongest loci coloured by predicted effect.
//!
//! [`data`] reads the scores (summary columns only), [`steps`] finds the step records, [`loci`] picks the
//! loci and [`context`] reads the input rows around them, [`charts`] draws, [`html`] writes.

mod charts;
pub mod context;
pub mod data;
mod html;
pub mod loci;
pub mod steps;

use std::path::{Path, PathBuf};

use data::{Scores, Variant};
use html::Page;

#[derive(Debug, Clone)]
pub struct ReportOptions {
    pub scores: PathBuf,
    pub out: PathBuf,
    /// extract-seqs' manifest.json; None: the one found in the work folder, if any.
    pub manifest: Option<PathBuf>,
    /// Where the step records are (`run`'s work folder, a workflow's results folder); None: `SCORES.work`
    /// when it exists.
    pub work_dir: Option<PathBuf>,
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
    #[error("--work-dir {0} is not a folder; fix: pass the work folder of the run (default SCORES.work, see `run --work-dir`) or the workflow's results folder, or leave --work-dir out")]
    WorkDir(String),
    #[error(transparent)]
    Context(#[from] crate::tables::TableError),
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
    let steps = find_steps(opts)?;
    let (manifest, mut warnings) = read_manifest(opts, &steps)?;
    let mut page = Page::new("enformer-vep report");
    summary_section(&mut page, opts, &scores, manifest.as_ref(), &steps);
    top_section(&mut page, &scores, opts.top);
    distribution_section(&mut page, &scores)?;
    overview_section(&mut page, &scores)?;
    let input = match &opts.manifest {
        Some(m) => variants_beside(m, manifest.as_ref()),
        None => steps.variants_file(),
    };
    let shown = loci_section(&mut page, &scores, input.as_deref(), opts, class, &mut warnings)?;
    let html = page.finish();
    crate::fsutil::write_atomic(&opts.out, html.as_bytes())
        .map_err(|e| ReportError::Write { path: opts.out.display().to_string(), why: e.to_string() })?;
    Ok(ReportSummary {
        variants: scores.variants.len(),
        loci: shown,
        bytes: html.len(),
        out: opts.out.display().to_string(),
        warnings,
    })
}

/// The step records in `--work-dir`, or in `SCORES.work` when that exists (where `run` puts them).
fn find_steps(opts: &ReportOptions) -> Result<steps::Steps, ReportError> {
    match &opts.work_dir {
        Some(d) if d.is_dir() => Ok(steps::find(d)),
        Some(d) => Err(ReportError::WorkDir(d.display().to_string())),
        None => {
            let mut work = opts.scores.clone().into_os_string();
            work.push(".work");
            let work = PathBuf::from(work);
            Ok(if work.is_dir() { steps::find(&work) } else { steps::Steps::default() })
        }
    }
}

/// The manifest given with `--manifest`, or the one found among the step records.
fn read_manifest(
    opts: &ReportOptions,
    steps: &steps::Steps,
) -> Result<(Option<serde_json::Value>, Vec<String>), ReportError> {
    let Some(path) = &opts.manifest else {
        return Ok((steps.manifest.as_ref().map(|(_, v)| v.clone()), vec![]));
    };
    let merr = |why: String| ReportError::Manifest { path: path.display().to_string(), why };
    let text = std::fs::read_to_string(path).map_err(|e| merr(e.to_string()))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| merr(format!("not JSON: {e}")))?;
    if !v.is_object() {
        return Err(merr("not a JSON object".into()));
    }
    Ok((Some(v), vec![]))
}

/// The `variants.parquet` a manifest names, beside it.
fn variants_beside(manifest_path: &Path, manifest: Option<&serde_json::Value>) -> Option<PathBuf> {
    let name = manifest?.get("variants_file")?.as_str()?;
    let p = manifest_path.parent().unwrap_or(Path::new(".")).join(name);
    p.is_file().then_some(p)
}

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn summary_section(
    page: &mut Page,
    opts: &ReportOptions,
    s: &Scores,
    manifest: Option<&serde_json::Value>,
    steps: &steps::Steps,
) {
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
    rows.extend(steps.sequences().into_iter().map(|(k, v)| vec![k, v]));
    // Two key-value pairs per table row: the summary stays short enough to see the figures below it.
    let paired: Vec<Vec<String>> = rows.chunks(2).map(|pair| pair.iter().flatten().cloned().collect()).collect();
    page.table("summary", &["", "", "", ""], &paired);
    let timings = steps.timings();
    let folder = match &steps.work_dir {
        Some(d) => d.display().to_string(),
        None => {
            let mut w = opts.scores.clone().into_os_string();
            w.push(".work");
            PathBuf::from(w).display().to_string()
        }
    };
    if steps.is_empty() {
        page.note(&format!(
            "Sequences cached and computed, and the time per step: not shown, no step records in {folder} (the work \
             folder was removed, e.g. by run --remove-work, or the steps ran elsewhere: pass --work-dir with the \
             folder holding their JSON summaries)."
        ));
    } else if !timings.is_empty() {
        page.heading("Time per step");
        let rows: Vec<Vec<String>> = timings.into_iter().map(Vec::from).collect();
        page.table("timing", &["step", "jobs", "wall s", "busy time per stage (summed over threads and jobs)"], &rows);
        page.note(&format!(
            "From the steps' JSON records in {folder}. Stages overlap, so busy times can add up to more than the \
             wall time; the largest is where a speed-up pays."
        ));
    }
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
    page.note("Click a column's header to sort by it (again to reverse).");
    page.sortable_table("top", &header, &rows);
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

/// The locus views; returns how many were drawn. With the input rows (`variants.parquet`), each view shows
/// every row of its region that has a p-value, the ones not scored in grey with their status listed.
fn loci_section(
    page: &mut Page,
    s: &Scores,
    input: Option<&Path>,
    opts: &ReportOptions,
    class: Option<usize>,
    warnings: &mut Vec<String>,
) -> Result<usize, ReportError> {
    page.section("loci", "Loci");
    let radius = opts.locus_radius;
    let group = class.map(|c| s.classes[c]).unwrap_or("all tracks");
    let effect = |v: &Variant| -> Option<f32> {
        match class {
            Some(c) => v.classes.get(c)?.as_ref().map(|t| t.abs),
            None => v.top.as_ref().map(|t| t.abs),
        }
    };
    // With the input rows, a lead alone among the scored variants may still have company: pick more
    // candidates, then keep those with two points or more.
    let (picked, context) = match input {
        Some(path) => {
            let candidates = loci::pick(&s.variants, opts.loci.saturating_mul(4), radius, 1);
            let rows = context::rows_in(path, &candidates)?;
            (candidates, Some(rows))
        }
        None => (loci::pick(&s.variants, opts.loci, radius, 2), None),
    };
    let unscored_of = |i: usize| -> Vec<&context::InputRow> {
        context.as_ref().map(|c| c[i].iter().filter(|r| !r.scored()).collect()).unwrap_or_default()
    };
    let mut keep: Vec<usize> = (0..picked.len())
        .filter(|&i| {
            let scored = picked[i].members.iter().filter(|&&m| s.variants[m].neg_log10_p().is_some()).count();
            scored + unscored_of(i).len() >= 2
        })
        .collect();
    keep.truncate(opts.loci);
    page.note(&match input {
        Some(p) => format!(
            "Every input row with a p-value within {radius} bp of the lead (circled) is shown, from {}: scored \
             variants coloured by their strongest |{}| over {group}, on one colour scale for all loci (the bar on \
             the right); rows not scored are grey crosses, listed with their status below each view.",
            p.display(),
            s.stat
        ),
        None => format!(
            "Scored variants within {radius} bp of the lead (circled), coloured by their strongest |{}| over \
             {group}, on one colour scale for all loci (the bar on the right). The input rows that were not \
             scored are not shown: extract-seqs' variants.parquet was not found (pass --work-dir or --manifest).",
            s.stat
        ),
    });
    if keep.is_empty() {
        let why =
            "no locus to show: no GWAS p-values, or no lead variant with another variant with a p-value within the radius";
        page.note(why);
        warnings.push(why.to_string());
    }
    let scale = s.variants.iter().filter_map(effect).fold(0f32, f32::max);
    let label = format!("|{}| {group}", s.stat);
    for &i in &keep {
        let l = &picked[i];
        let lead = &s.variants[l.lead];
        let name = lead.id.clone().unwrap_or_else(|| format!("{}:{}", lead.chrom, lead.pos));
        let unscored = unscored_of(i);
        let view = charts::LocusView {
            chrom: l.chrom.clone(),
            start: l.start,
            end: l.end,
            scored: l
                .members
                .iter()
                .filter_map(|&m| {
                    let v = &s.variants[m];
                    Some((v.pos, v.neg_log10_p()?, effect(v)))
                })
                .collect(),
            unscored: unscored.iter().map(|r| (r.pos, r.neg_log10_p())).collect(),
            lead: lead.neg_log10_p().map(|y| (lead.pos, y, name.clone())),
        };
        page.heading(&format!(
            "{name} ({}:{}-{}, {} scored, {} not scored)",
            l.chrom,
            l.start,
            l.end,
            view.scored.len(),
            unscored.len()
        ));
        let svg = charts::locus(&view, scale, &label).map_err(ReportError::Draw)?;
        page.figure(&svg, &format!("GWAS −log10 p against position; colour: strongest |{}| over {group}.", s.stat));
        if !unscored.is_empty() {
            let mut rows: Vec<&context::InputRow> = unscored;
            rows.sort_by(|a, b| a.pvalue.total_cmp(&b.pvalue));
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.id.clone().unwrap_or_default(),
                        format!("{}:{}", l.chrom, r.pos),
                        format!("{}>{}", r.ref_allele, r.alt_allele),
                        fmt_p(Some(r.pvalue)),
                        r.status.clone(),
                    ]
                })
                .collect();
            page.table("unscored", &["not scored", "position", "ref>alt", "GWAS p", "status"], &table);
        }
    }
    page.end_section();
    Ok(keep.len())
}
