//! Variant input: parse a GWAS summary-statistics table or a VCF (plain, gzip or bgzip) into a stream of
//! [`Record`]s.
//!
//! One bad row never stops a run: it becomes a [`Record::Bad`] carrying its 1-based line number and a message
//! that says what is wrong. Only whole-file problems (I/O errors, a truncated gzip, binary data, a header whose
//! columns cannot be mapped, an empty file) are fatal [`InputError`]s.
//!
//! [`VariantReader`] (reader.rs) opens an input and gives its records line by line, or in parallel blocks
//! (blocks.rs); both parse each line with the same code (row.rs), the table and VCF layouts in table.rs and
//! vcf.rs.

mod blocks;
mod columns;
mod detect;
mod error;
mod lines;
mod reader;
#[cfg(test)]
mod real_data_tests;
mod row;
mod table;
#[cfg(test)]
mod testdata;
mod vcf;

use std::fmt;

pub use columns::{ColumnOverrides, ColumnsSpecError, Role};
pub use error::InputError;
pub use reader::VariantReader;
pub use row::Candidate;

/// Where the two alleles of a [`RawVariant`] come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlleleSource {
    /// VCF: `other_allele` is REF, `effect_allele` is one ALT.
    Vcf,
    /// Summary-statistics table: effect/other alleles as the table gives them (not necessarily REF/ALT).
    Table,
}

/// One variant exactly as written in the input (no normalisation beyond trimming).
#[derive(Debug, Clone, PartialEq)]
pub struct RawVariant {
    /// 1-based line number in the decompressed file (header lines count).
    pub line: u64,
    /// `None` for VCF ID `.` or missing/NA ids.
    pub id: Option<String>,
    pub chrom: String,
    /// 1-based as written; 0 or negative values are passed through.
    pub pos: i64,
    pub effect_allele: String,
    pub other_allele: String,
    pub beta: Option<f64>,
    pub se: Option<f64>,
    pub pvalue: Option<f64>,
    pub source: AlleleSource,
}

/// A row that could not be turned into a variant, with whatever fields could be read.
#[derive(Debug, Clone, PartialEq)]
pub struct BadRow {
    pub line: u64,
    pub id: Option<String>,
    pub chrom: Option<String>,
    pub pos: Option<i64>,
    /// Starts with `line N: `.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Variant(RawVariant),
    Bad(BadRow),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delimiter {
    Tab,
    Comma,
    /// Runs of spaces and/or tabs.
    Whitespace,
}

impl fmt::Display for Delimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Delimiter::Tab => "tab-separated",
            Delimiter::Comma => "comma-separated",
            Delimiter::Whitespace => "whitespace-separated",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    Vcf,
    /// Kunkle et al. 2019 / IGAP layout `Chromosome Position MarkerName Effect_allele Non_Effect_allele Beta SE Pvalue`.
    Kunkle,
    /// PLINK 2 `--glm` output (`#CHROM POS ID REF ALT ... A1 ...`).
    Plink2Glm,
    Delimited {
        delimiter: Delimiter,
    },
}

impl fmt::Display for InputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputFormat::Vcf => f.write_str("VCF"),
            InputFormat::Kunkle => f.write_str("Kunkle/IGAP summary statistics"),
            InputFormat::Plink2Glm => f.write_str("PLINK 2 --glm results"),
            InputFormat::Delimited { delimiter } => write!(f, "{delimiter} summary-statistics table"),
        }
    }
}
