//! The input rows around the loci: extract-seqs' `variants.parquet` holds every input row with its status,
//! scored or not, so a locus view can show the whole GWAS signal of its region, not only what was scored.
//! Read a batch at a time and only rows inside the loci kept, so memory follows the loci, not the input.

use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, RecordBatch};

use super::loci::Locus;
use crate::tables::{open_parquet, read_columns, TableError};

/// An input row inside a locus that has a usable p-value.
#[derive(Debug, Clone, PartialEq)]
pub struct InputRow {
    pub id: Option<String>,
    pub pos: i64,
    pub ref_allele: String,
    pub alt_allele: String,
    pub pvalue: f64,
    pub status: String,
}

impl InputRow {
    pub fn neg_log10_p(&self) -> f64 {
        -self.pvalue.log10()
    }

    pub fn scored(&self) -> bool {
        self.status == "ok"
    }
}

const COLUMNS: [&str; 7] = ["id", "chrom", "pos", "ref", "alt", "pvalue", "status"];

/// Per locus, the rows of `path` in its region with a p-value in (0, 1], in file order.
pub fn rows_in(path: &Path, loci: &[Locus]) -> Result<Vec<Vec<InputRow>>, TableError> {
    let shown = path.display().to_string();
    let mut out: Vec<Vec<InputRow>> = vec![Vec::new(); loci.len()];
    if loci.is_empty() {
        return Ok(out);
    }
    let builder = open_parquet(path, "variants", "the variants.parquet written by extract-seqs")?;
    for batch in read_columns(builder, path, "variants", &COLUMNS, 8192)? {
        collect(&batch?, loci, &mut out).map_err(|why| TableError::Schema {
            path: shown.clone(),
            what: "variants",
            why,
        })?;
    }
    Ok(out)
}

fn collect(b: &RecordBatch, loci: &[Locus], out: &mut [Vec<InputRow>]) -> Result<(), String> {
    let col = |n: &str| b.column_by_name(n).ok_or_else(|| format!("no column {n}"));
    let text = |n: &str| col(n)?.as_string_opt::<i32>().ok_or_else(|| format!("{n} is not a string column"));
    let (id, chrom, r, a, status) = (text("id")?, text("chrom")?, text("ref")?, text("alt")?, text("status")?);
    let pos = col("pos")?.as_primitive_opt::<Int64Type>().ok_or("pos is not int64")?;
    let p = col("pvalue")?.as_primitive_opt::<Float64Type>().ok_or("pvalue is not float64")?;
    let get = |a: &arrow_array::StringArray, k: usize| a.is_valid(k).then(|| a.value(k).to_string());
    for k in 0..b.num_rows() {
        if !(pos.is_valid(k) && p.is_valid(k) && chrom.is_valid(k)) {
            continue;
        }
        let (position, pvalue) = (pos.value(k), p.value(k));
        if !(pvalue.is_finite() && pvalue > 0.0 && pvalue <= 1.0) {
            continue;
        }
        for (l, rows) in loci.iter().zip(out.iter_mut()) {
            if l.chrom == chrom.value(k) && (l.start..=l.end).contains(&position) {
                rows.push(InputRow {
                    id: get(id, k),
                    pos: position,
                    ref_allele: get(r, k).unwrap_or_default(),
                    alt_allele: get(a, k).unwrap_or_default(),
                    pvalue,
                    status: get(status, k).unwrap_or_default(),
                });
            }
        }
    }
    Ok(())
}
