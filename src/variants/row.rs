//! One line of input into records: the parsing that the line-by-line reader (`VariantReader`'s iterator) and
//! the parallel block reader share, so both give the same records, line numbers and messages.

use std::collections::VecDeque;

use super::{lines, table, vcf, BadRow, Record};

/// The row parser of the input's layout, chosen by `VariantReader::open`.
pub(super) enum Parser {
    Vcf(vcf::VcfParser),
    Table(table::TableParser),
}

/// What a row filter sees of a good row: a table row before its variant is built (so that a dropped row costs
/// no allocation), a VCF variant after.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub chrom: &'a str,
    pub pos: i64,
    pub pvalue: Option<f64>,
}

pub(super) fn keep_record<C>(rec: &Record, select: &impl Fn(&Candidate<'_>, &mut C) -> bool, counts: &mut C) -> bool {
    match rec {
        Record::Bad(_) => true,
        Record::Variant(v) => select(&Candidate { chrom: &v.chrom, pos: v.pos, pvalue: v.pvalue }, counts),
    }
}

/// A select that keeps every row.
pub(super) fn all(_: &Candidate<'_>, _: &mut ()) -> bool {
    true
}

/// Parses one line's text (blank lines give nothing) into `out`, good rows only when `select` keeps them.
/// `fields` is scratch space kept between lines; `nul`: the text may contain NUL bytes.
#[allow(clippy::too_many_arguments)]
pub(super) fn parse_text<'a, C>(
    parser: &Parser,
    line_no: u64,
    text: &'a str,
    nul: bool,
    fields: &mut Vec<&'a str>,
    select: &impl Fn(&Candidate<'_>, &mut C) -> bool,
    counts: &mut C,
    out: &mut VecDeque<Record>,
) {
    if text.trim().is_empty() {
        return;
    }
    if nul && text.contains('\0') {
        out.push_back(bad(line_no, "contains NUL bytes (binary data); row skipped"));
        return;
    }
    match parser {
        Parser::Vcf(p) => {
            let from = out.len();
            p.parse(line_no, text, out);
            let mut i = from;
            while i < out.len() {
                if keep_record(&out[i], select, counts) {
                    i += 1;
                } else {
                    out.remove(i);
                }
            }
        }
        Parser::Table(p) => match p.parse_row(line_no, text, fields) {
            Ok(v) => {
                if select(&Candidate { chrom: v.chrom, pos: v.pos, pvalue: v.pvalue }, counts) {
                    out.push_back(Record::Variant(v.to_owned()));
                }
            }
            Err(b) => out.push_back(Record::Bad(*b)),
        },
    }
}

/// Where a VCF row's first 10 columns end.
pub(super) fn tenth_tab(kept: &[u8]) -> Option<usize> {
    memchr::memchr_iter(b'\t', kept).nth(9)
}

pub(super) fn too_long(line_no: u64, len: u64) -> Record {
    let msg = format!(
        "the line is {len} bytes long, more than the {MAX_LINE_TEXT} a row may have: not a variant row (lost line \
         breaks? a file pasted into one line?); row skipped"
    );
    bad(line_no, &msg)
}

pub(super) fn not_utf8(line_no: u64) -> Record {
    bad(
        line_no,
        "not valid UTF-8 text (binary data, or a non-UTF-8 encoding such as Latin-1: convert with `iconv -f latin1 -t \
         utf-8`)",
    )
}

/// [`lines::MAX_LINE`] for messages.
const MAX_LINE_TEXT: &str = "1 MiB";
const _: () = assert!(lines::MAX_LINE == 1 << 20, "update MAX_LINE_TEXT");

/// A [`Record::Bad`] with no partial fields.
fn bad(line: u64, what: &str) -> Record {
    Record::Bad(BadRow { line, id: None, chrom: None, pos: None, message: format!("line {line}: {what}") })
}
