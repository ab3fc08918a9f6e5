//! Fatal (whole-file) input errors. Every message names the file and says how to fix the problem.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot open variant file {}: {source}. Check the path and its permissions.", .path.display())]
    Open { path: PathBuf, source: std::io::Error },

    #[error("error reading {} after line {line}: {source}", .path.display())]
    Read { path: PathBuf, line: u64, source: std::io::Error },

    #[error(
        "{} ends early (truncated gzip?) after line {line}: {source}. The compressed file is incomplete or \
         corrupt: re-download or re-create it (`gzip -t {}` checks it).",
        .path.display(), .path.display()
    )]
    Truncated { path: PathBuf, line: u64, source: std::io::Error },

    #[error(
        "{} is empty{}: expected a VCF or a GWAS summary-statistics table with a header line",
        .path.display(), if *.blank_only { " (it contains only blank lines)" } else { "" }
    )]
    Empty { path: PathBuf, blank_only: bool },

    #[error(
        "{} contains only '##' comment lines and no header line: expected a VCF or a GWAS summary-statistics \
         table with a header line",
        .path.display()
    )]
    NoHeader { path: PathBuf },

    #[error(
        "{} does not look like a text variant table or VCF: {detail}. Give a tab-, comma- or space-separated \
         summary-statistics table or a VCF, plain or gzip/bgzip-compressed.",
        .path.display()
    )]
    Binary { path: PathBuf, detail: String },

    #[error(
        "{} is {kind}-compressed, which is not supported (only plain text, gzip and bgzip are): {hint}",
        .path.display()
    )]
    Compressed { path: PathBuf, kind: &'static str, hint: &'static str },

    #[error(
        "{}: line {line} is {bytes} bytes long, more than the {} a header line may have: this is not a variant \
         table or VCF header (is it the right file?)",
        .path.display(), human_limit()
    )]
    LongHeaderLine { path: PathBuf, line: u64, bytes: u64 },

    #[error("{}", unmapped_message(.path, *.line, .header, .missing, .hint))]
    UnmappedColumns { path: PathBuf, line: u64, header: Vec<String>, missing: Vec<&'static str>, hint: String },

    #[error(
        "{}: --columns {key}={column}: there is no column '{column}' in the header on line {line}. \
         The header has: {}. Fix the column name in --columns.",
        .path.display(), .header.join(", ")
    )]
    OverrideColumnAbsent { path: PathBuf, line: u64, key: &'static str, column: String, header: Vec<String> },
}

fn human_limit() -> &'static str {
    const _: () = assert!(super::lines::MAX_LINE == 1 << 20, "update the message");
    "1 MiB"
}

fn unmapped_message(path: &Path, line: u64, header: &[String], missing: &[&str], hint: &str) -> String {
    let header_text = if header.is_empty() { "(no columns)".to_string() } else { header.join(", ") };
    format!(
        "{}: cannot find the required column(s) {} in the header on line {line}. The header has {} column(s): \
         {header_text}.{hint} Fix: name the columns with --columns, e.g. \
         --columns chrom=COL,pos=COL,effect_allele=COL,other_allele=COL (COL = the column names in your file); \
         if the file has no header line, add one.",
        path.display(),
        missing.join(", "),
        header.len(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_file() {
        let path = PathBuf::from("/data/sumstats.tsv.gz");
        let eof = || std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "unexpected end of file");
        let errors = [
            InputError::Truncated { path: path.clone(), line: 12, source: eof() },
            InputError::Empty { path: path.clone(), blank_only: false },
            InputError::Binary { path: path.clone(), detail: "x".into() },
            InputError::UnmappedColumns {
                path: path.clone(),
                line: 1,
                header: vec!["FOO".into(), "BAR".into()],
                missing: vec!["chrom", "pos"],
                hint: String::new(),
            },
        ];
        for e in &errors {
            assert!(e.to_string().contains("/data/sumstats.tsv.gz"), "{e}");
        }
        assert!(errors[0].to_string().contains("ends early (truncated gzip?) after line 12"));
        let unmapped = errors[3].to_string();
        assert!(unmapped.contains("FOO, BAR") && unmapped.contains("--columns") && unmapped.contains("chrom, pos"));
    }
}
