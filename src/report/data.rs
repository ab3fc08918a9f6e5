//! What the report reads from `scores.parquet`: the variant columns it shows and the "at a glance" summary
//! columns of one statistic (never the per-track lists, so 100,000 variants × 5,313 tracks read in seconds
//! with memory bounded by the number of variants), and the file's provenance metadata.

use std::collections::BTreeMap;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int64Type};
use arrow_array::{Array, RecordBatch};

use crate::merge::summary::CLASSES;
use crate::tables::{open_parquet, read_columns, TableError};

/// The strongest track of one group for one variant.
#[derive(Debug, Clone, PartialEq)]
pub struct Top {
    pub abs: f32,
    pub value: f32,
    pub identifier: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub id: Option<String>,
    pub chrom: String,
    pub pos: i64,
    pub ref_allele: String,
    pub alt_allele: String,
    pub pvalue: Option<f64>,
    pub beta: Option<f64>,
    /// Over all kept tracks.
    pub top: Option<Top>,
    /// Per class of [`Scores::classes`], in that order.
    pub classes: Vec<Option<Top>>,
}

impl Variant {
    pub fn neg_log10_p(&self) -> Option<f64> {
        self.pvalue.filter(|p| p.is_finite() && *p > 0.0 && *p <= 1.0).map(|p| -p.log10())
    }
}

pub struct Scores {
    /// The statistic summarised (`SAD`, ...).
    pub stat: String,
    /// Statistics in the file.
    pub stats: Vec<String>,
    /// Assay classes with summary columns, in [`CLASSES`] order.
    pub classes: Vec<&'static str>,
    /// The file's `enformer_vep.*` key-value metadata, keys without the prefix.
    pub metadata: BTreeMap<String, String>,
    pub variants: Vec<Variant>,
}

/// Why `scores.parquet` cannot be reported on.
#[derive(Debug, thiserror::Error)]
pub enum ScoresError {
    #[error(transparent)]
    Table(#[from] TableError),
    #[error("{path} has no statistic {stat} (it has {have}); fix: pass --stat with one of those")]
    NoStat { path: String, stat: String, have: String },
    #[error("{path} has no column {column}: it was written by an older merge without the per-variant summary columns; fix: re-run `enformer-vep merge` (cached predictions make it quick)")]
    NoSummary { path: String, column: String },
    #[error("{path}: {why}")]
    Bad { path: String, why: String },
}

pub fn read_scores(path: &Path, stat: Option<&str>) -> Result<Scores, ScoresError> {
    let shown = path.display().to_string();
    let builder = open_parquet(path, "scores", "the scores.parquet written by merge")?;
    let metadata: BTreeMap<String, String> = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .into_iter()
        .flatten()
        .filter_map(|kv| Some((kv.key.strip_prefix("enformer_vep.")?.to_string(), kv.value.clone()?)))
        .collect();
    let stats: Vec<String> = metadata
        .get("stats")
        .map(|s| s.split(',').map(str::to_string).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let stat =
        match stat {
            Some(s) => stats.iter().find(|x| x.eq_ignore_ascii_case(s)).cloned().ok_or_else(|| {
                ScoresError::NoStat { path: shown.clone(), stat: s.to_string(), have: stats.join(", ") }
            })?,
            None => stats.first().cloned().ok_or_else(|| ScoresError::Bad {
                path: shown.clone(),
                why: "no enformer_vep.stats metadata: not a scores.parquet written by merge".to_string(),
            })?,
        };
    let schema = builder.schema().clone();
    let has = |c: &str| schema.field_with_name(c).is_ok();
    let classes: Vec<&'static str> =
        CLASSES.into_iter().filter(|c| has(&format!("{stat}_{c}_max_abs_value"))).collect();
    let mut names: Vec<String> = ["id", "chrom", "pos", "ref", "alt", "pvalue", "beta"].map(String::from).to_vec();
    for prefix in std::iter::once(stat.clone()).chain(classes.iter().map(|c| format!("{stat}_{c}"))) {
        for suffix in ["max_abs", "max_abs_value", "max_abs_identifier", "max_abs_description"] {
            names.push(format!("{prefix}_{suffix}"));
        }
    }
    if let Some(missing) = names.iter().find(|n| !has(n)) {
        return Err(ScoresError::NoSummary { path: shown, column: missing.clone() });
    }
    let mut variants = Vec::new();
    for batch in read_columns(builder, path, "scores", &names, 8192)? {
        rows(&batch?, &stat, &classes, &mut variants).map_err(|why| ScoresError::Bad { path: shown.clone(), why })?;
    }
    Ok(Scores { stat, stats, classes, metadata, variants })
}

fn rows(b: &RecordBatch, stat: &str, classes: &[&str], out: &mut Vec<Variant>) -> Result<(), String> {
    let col = |n: &str| b.column_by_name(n).ok_or_else(|| format!("no column {n}"));
    let s = |n: &str| -> Result<Vec<Option<String>>, String> {
        let a = col(n)?.as_string_opt::<i32>().ok_or_else(|| format!("{n} is not a string column"))?;
        Ok((0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i).to_string())).collect())
    };
    let f64s = |n: &str| -> Result<Vec<Option<f64>>, String> {
        let a = col(n)?.as_primitive_opt::<Float64Type>().ok_or_else(|| format!("{n} is not float64"))?;
        Ok((0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i))).collect())
    };
    let f32s = |n: &str| -> Result<Vec<Option<f32>>, String> {
        let a = col(n)?.as_primitive_opt::<Float32Type>().ok_or_else(|| format!("{n} is not float32"))?;
        Ok((0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i))).collect())
    };
    let pos_a = col("pos")?.as_primitive_opt::<Int64Type>().ok_or("pos is not int64")?;
    let (id, chrom, r, a) = (s("id")?, s("chrom")?, s("ref")?, s("alt")?);
    let (p, beta) = (f64s("pvalue")?, f64s("beta")?);
    let group = |prefix: String| -> Result<Vec<Option<Top>>, String> {
        let (abs, value) = (f32s(&format!("{prefix}_max_abs"))?, f32s(&format!("{prefix}_max_abs_value"))?);
        let (ident, desc) = (s(&format!("{prefix}_max_abs_identifier"))?, s(&format!("{prefix}_max_abs_description"))?);
        Ok((0..abs.len())
            .map(|k| {
                Some(Top {
                    abs: abs[k]?,
                    value: value[k]?,
                    identifier: ident[k].clone().unwrap_or_default(),
                    description: desc[k].clone().unwrap_or_default(),
                })
            })
            .collect())
    };
    let top = group(stat.to_string())?;
    let per_class: Vec<Vec<Option<Top>>> =
        classes.iter().map(|c| group(format!("{stat}_{c}"))).collect::<Result<_, _>>()?;
    for k in 0..b.num_rows() {
        out.push(Variant {
            id: id[k].clone(),
            chrom: chrom[k].clone().unwrap_or_default(),
            pos: if pos_a.is_valid(k) { pos_a.value(k) } else { 0 },
            ref_allele: r[k].clone().unwrap_or_default(),
            alt_allele: a[k].clone().unwrap_or_default(),
            pvalue: p[k],
            beta: beta[k],
            top: top[k].clone(),
            classes: per_class.iter().map(|c| c[k].clone()).collect(),
        });
    }
    Ok(())
}
