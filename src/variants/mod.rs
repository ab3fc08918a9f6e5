//! Variant input: parse a GWAS summary-statistics table or a VCF (plain, gzip or bgzip) into a stream of
//! [`Record`]s.
//!
//! One bad row never stops a run: it becomes a [`Record::Bad`] carrying its 1-based line number and a message
//! that says what is wrong. Only whole-file problems (I/O errors, a truncated gzip, binary data, a header whose
//! columns cannot be mapped, an empty file) are fatal [`InputError`]s.

mod columns;
mod detect;
mod error;
mod lines;
#[cfg(test)]
mod real_data_tests;
mod table;
mod vcf;

use std::collections::VecDeque;
use std::fmt;
use std::path::Path;

use rayon::prelude::*;

pub use columns::{ColumnOverrides, ColumnsSpecError, Role};
pub use error::InputError;

use lines::LineReader;

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

enum Parser {
    Vcf(vcf::VcfParser),
    Table(table::TableParser),
}

/// Streaming reader over the variants of one input file.
pub struct VariantReader {
    lines: LineReader,
    format: InputFormat,
    parser: Parser,
    description: String,
    queue: VecDeque<Record>,
    /// A data line already read while detecting the layout (VCF without a `#CHROM` line).
    pending: Option<(u64, String)>,
    done: bool,
}

impl VariantReader {
    /// Opens `path`, detects compression and layout, and maps the header. Whole-file problems are errors.
    pub fn open(path: &Path, overrides: &ColumnOverrides) -> Result<VariantReader, InputError> {
        let (stream, compression) = detect::open_stream(path)?;
        let mut lines = LineReader::new(path.to_path_buf(), stream, compression);
        lines.check_start()?;
        let Some(first) = lines.next_header_line()? else {
            return Err(InputError::Empty { path: path.to_path_buf(), blank_only: true });
        };
        // `##` meta lines: VCF meta-information, or comments above a table header.
        let mut is_vcf = false;
        let mut format_ids = Vec::new();
        let mut current = Some(first);
        while let Some((_, text)) = current.as_ref().filter(|(_, t)| t.starts_with("##")) {
            is_vcf |= text.to_ascii_lowercase().starts_with("##fileformat=vcf");
            if let Some(rest) = text.strip_prefix("##FORMAT=<ID=") {
                format_ids.extend(rest.split(',').next().map(str::to_string));
            }
            current = lines.next_header_line()?;
        }
        if is_vcf || current.as_ref().is_some_and(|(_, t)| detect::is_vcf_header(t)) {
            let (header, pending) = match current {
                Some((n, t)) if t.starts_with('#') => (Some((n, t)), None),
                other => (None, other),
            };
            let parser = vcf::VcfParser::new(header.as_ref().map(|(_, t)| t.as_str()), &format_ids);
            let mut description = parser.description();
            if !overrides.is_empty() {
                description.push_str(" (--columns is ignored for VCF input)");
            }
            return Ok(VariantReader {
                lines,
                format: InputFormat::Vcf,
                parser: Parser::Vcf(parser),
                description,
                queue: VecDeque::new(),
                pending,
                done: false,
            });
        }
        let Some((header_line, header)) = current else {
            return Err(InputError::NoHeader { path: path.to_path_buf() });
        };
        let parser = table::TableParser::new(path, header_line, &header, overrides)?;
        Ok(VariantReader {
            lines,
            format: parser.format(),
            description: parser.description(),
            parser: Parser::Table(parser),
            queue: VecDeque::new(),
            pending: None,
            done: false,
        })
    }

    pub fn format(&self) -> &InputFormat {
        &self.format
    }

    /// How columns were mapped to roles, for logs, e.g. `chrom=CHR pos=BP id=SNP effect=A1 other=A2 beta=BETA se=SE p=P`.
    pub fn columns_description(&self) -> String {
        self.description.clone()
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.lines.path
    }
}

impl Iterator for VariantReader {
    type Item = Result<Record, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(record) = self.queue.pop_front() {
                return Some(Ok(record));
            }
            if self.done {
                return None;
            }
            let (line_no, owned);
            let text: &str = if let Some((n, t)) = self.pending.take() {
                line_no = n;
                owned = t;
                &owned
            } else {
                match self.lines.next_line() {
                    Err(e) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                    Ok(false) => {
                        self.done = true;
                        return None;
                    }
                    Ok(true) => {}
                }
                line_no = self.lines.line;
                let mut kept = &self.lines.buf[..];
                if self.lines.overflow > 0 {
                    // A VCF row needs only its first 10 columns (a genotype VCF of 500,000 samples has rows of
                    // megabytes): read them when they are within the kept part. Any other row that long is bad.
                    match (&self.parser, tenth_tab(kept)) {
                        (Parser::Vcf(_), Some(i)) => kept = &kept[..i],
                        _ => {
                            self.queue.push_back(too_long(line_no, self.lines.line_len()));
                            continue;
                        }
                    }
                }
                match std::str::from_utf8(kept) {
                    Ok(t) => t,
                    Err(_) => {
                        self.queue.push_back(not_utf8(line_no));
                        continue;
                    }
                }
            };
            parse_text(&self.parser, line_no, text, true, &mut Vec::new(), &all, &mut (), &mut self.queue);
        }
    }
}

/// What a row filter sees of a good row: a table row before its variant is built (so that a dropped row costs
/// no allocation), a VCF variant after.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub chrom: &'a str,
    pub pos: i64,
    pub pvalue: Option<f64>,
}

/// Bytes of input per block parsed by one worker of [`VariantReader::for_each_block`].
const BLOCK_BYTES: usize = 1 << 20;

impl VariantReader {
    /// Reads the rest of the input and parses it on the rayon pool, in blocks of about 1 MiB of whole lines
    /// split off by one reader thread (which also decompresses): `sink` gets each block's records in input
    /// order, with what `select` counted. A good row becomes a record only if `select` keeps it; bad rows are
    /// always kept. Line numbers, messages and the line cap are those of the [`Iterator`] (the same code
    /// parses each line). A read error comes after the records of the lines before it.
    pub fn for_each_block<C, F, S, E>(self, select: &F, sink: S) -> Result<(), E>
    where
        C: Default + Send,
        F: Fn(&Candidate<'_>, &mut C) -> bool + Sync,
        S: FnMut(Vec<Record>, C) -> Result<(), E>,
        E: From<InputError> + Send,
    {
        self.for_each_block_of(BLOCK_BYTES, select, sink)
    }

    fn for_each_block_of<C, F, S, E>(mut self, block_bytes: usize, select: &F, mut sink: S) -> Result<(), E>
    where
        C: Default + Send,
        F: Fn(&Candidate<'_>, &mut C) -> bool + Sync,
        S: FnMut(Vec<Record>, C) -> Result<(), E>,
        E: From<InputError> + Send,
    {
        // Lines before the line ending is known (and a VCF data line read with the header) go line by line.
        let mut first = VecDeque::new();
        let mut counts = C::default();
        while !self.done && (self.pending.is_some() || !self.queue.is_empty() || !self.lines.blocks_ready()) {
            match self.next() {
                Some(Ok(rec)) => {
                    if keep_record(&rec, select, &mut counts) {
                        first.push_back(rec);
                    }
                }
                Some(Err(e)) => return Err(e.into()),
                None => break,
            }
        }
        sink(Vec::from(first), counts)?;
        if self.done {
            return Ok(());
        }
        let parser = &self.parser;
        let mut lines = self.lines;
        let batch = 2 * rayon::current_num_threads().max(1);
        std::thread::scope(|scope| {
            let (tx, rx) = crossbeam_channel::bounded::<Result<lines::Block, InputError>>(batch);
            scope.spawn(move || loop {
                let block = lines.next_block(block_bytes).transpose();
                let last = !matches!(block, Some(Ok(_)));
                if block.is_some_and(|b| tx.send(b).is_err()) || last {
                    return;
                }
            });
            // `rx` is dropped on return, which stops the reader thread.
            let rx = rx;
            loop {
                let Ok(block) = rx.recv() else { return Ok(()) };
                let mut blocks = vec![block];
                while blocks.len() < batch {
                    match rx.try_recv() {
                        Ok(b) => blocks.push(b),
                        Err(_) => break,
                    }
                }
                let parsed: Vec<Result<(Vec<Record>, C), InputError>> =
                    blocks.into_par_iter().map(|b| b.map(|b| parse_block(parser, &b, select))).collect();
                for p in parsed {
                    let (records, counts) = p?;
                    sink(records, counts)?;
                }
            }
        })
    }
}

fn keep_record<C>(rec: &Record, select: &impl Fn(&Candidate<'_>, &mut C) -> bool, counts: &mut C) -> bool {
    match rec {
        Record::Bad(_) => true,
        Record::Variant(v) => select(&Candidate { chrom: &v.chrom, pos: v.pos, pvalue: v.pvalue }, counts),
    }
}

/// A select that keeps every row.
fn all(_: &Candidate<'_>, _: &mut ()) -> bool {
    true
}

fn parse_block<C: Default>(
    parser: &Parser,
    block: &lines::Block,
    select: &impl Fn(&Candidate<'_>, &mut C) -> bool,
) -> (Vec<Record>, C) {
    let mut out = VecDeque::new();
    let mut counts = C::default();
    let mut fields = Vec::new();
    // Lines end at ASCII bytes, so when the whole block is UTF-8 every line is (one check instead of one a line).
    let text = std::str::from_utf8(&block.data).ok();
    let nul = memchr::memchr(0, &block.data).is_some();
    block.lines(|line_no, range, overflow| {
        let bytes = &block.data[range.clone()];
        if overflow > 0 {
            match (parser, tenth_tab(bytes)) {
                (Parser::Vcf(_), Some(i)) => match std::str::from_utf8(&bytes[..i]) {
                    Ok(t) => parse_text(parser, line_no, t, nul, &mut fields, select, &mut counts, &mut out),
                    Err(_) => out.push_back(not_utf8(line_no)),
                },
                _ => out.push_back(too_long(line_no, bytes.len() as u64 + overflow)),
            }
            return;
        }
        match text.map(|t| &t[range]).ok_or(()).or_else(|()| std::str::from_utf8(bytes).map_err(|_| ())) {
            Ok(t) => parse_text(parser, line_no, t, nul, &mut fields, select, &mut counts, &mut out),
            Err(()) => out.push_back(not_utf8(line_no)),
        }
    });
    (Vec::from(out), counts)
}

/// Parses one line's text (blank lines give nothing) into `out`, good rows only when `select` keeps them.
/// `fields` is scratch space kept between lines; `nul`: the text may contain NUL bytes.
#[allow(clippy::too_many_arguments)]
fn parse_text<'a, C>(
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
fn tenth_tab(kept: &[u8]) -> Option<usize> {
    memchr::memchr_iter(b'\t', kept).nth(9)
}

fn too_long(line_no: u64, len: u64) -> Record {
    let msg = format!(
        "the line is {len} bytes long, more than the {MAX_LINE_TEXT} a row may have: not a variant row (lost line \
         breaks? a file pasted into one line?); row skipped"
    );
    bad(line_no, &msg)
}

fn not_utf8(line_no: u64) -> Record {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write_tmp(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        f.flush().unwrap();
        f
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn open(bytes: &[u8]) -> Result<VariantReader, InputError> {
        let f = write_tmp(bytes);
        VariantReader::open(f.path(), &ColumnOverrides::default())
    }

    fn records(bytes: &[u8]) -> Vec<Record> {
        open(bytes).unwrap().collect::<Result<Vec<_>, _>>().unwrap()
    }

    const KUNKLE: &[u8] = b"Chromosome Position MarkerName Effect_allele Non_Effect_allele Beta SE Pvalue\n\
        1 207679307 rs4844600 A G 0.1324 0.0179 1.598e-13\n\
        2 127845956 chr2:127845956:I T TGGA -0.1222 0.019 1.3e-10\n";

    #[test]
    fn gzip_and_multi_member_bgzip() {
        let mut data = gz(&KUNKLE[..80]);
        data.extend(gz(&KUNKLE[80..]));
        for bytes in [gz(KUNKLE), data] {
            let r = open(&bytes).unwrap();
            assert_eq!(r.format(), &InputFormat::Kunkle);
            let recs: Vec<_> = r.collect::<Result<_, _>>().unwrap();
            assert_eq!(recs.len(), 2);
            let Record::Variant(v) = &recs[1] else { panic!("{recs:?}") };
            assert_eq!((v.line, v.pos, v.other_allele.as_str(), v.beta), (3, 127845956, "TGGA", Some(-0.1222)));
        }
    }

    #[test]
    fn truncated_gzip_is_fatal() {
        let mut body = String::from("CHR\tBP\tA1\tA2\n");
        for i in 0..20000 {
            body.push_str(&format!("1\t{}\tA\tG\n", 1000 + i));
        }
        let full = gz(body.as_bytes());
        let r = open(&full[..full.len() / 2]).unwrap();
        let results: Vec<_> = r.collect();
        let Some(Err(e)) = results.last() else { panic!("no error at the end") };
        let msg = e.to_string();
        assert!(msg.contains("ends early (truncated gzip?) after line"), "{msg}");
        assert!(results[..results.len() - 1].iter().all(|r| r.is_ok()));
        // Truncated inside the gzip header.
        assert!(open(&full[..5]).is_err());
    }

    #[test]
    fn crlf_blank_lines_and_bom() {
        let recs = records(b"\xEF\xBB\xBFCHR,BP,SNP,A1,A2,OR,P\r\n\r\n1,100,rs1,A,G,2.0,0.5\r\n");
        assert_eq!(recs.len(), 1);
        let Record::Variant(v) = &recs[0] else { panic!("{recs:?}") };
        assert_eq!((v.line, v.chrom.as_str(), v.other_allele.as_str(), v.pvalue), (3, "1", "G", Some(0.5)));
        assert!((v.beta.unwrap() - 2f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn empty_and_header_only() {
        for bytes in [Vec::new(), gz(b""), b"\n\n  \n".to_vec()] {
            let msg = open(&bytes).err().unwrap().to_string();
            assert!(msg.contains("is empty"), "{msg}");
        }
        assert!(records(b"CHR\tBP\tA1\tA2\n").is_empty());
        assert!(records(b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n").is_empty());
    }

    #[test]
    fn binary_garbage_is_fatal() {
        let garbage: Vec<u8> = (0..2000u32).map(|i| (i * 7919 % 251) as u8).collect();
        for bytes in
            [garbage.clone(), gz(&garbage), b"BCF\x02\x02rest".to_vec(), b"\xff\xfeC\0H\0R\0\t\0B\0P\0\n\0".to_vec()]
        {
            let msg = open(&bytes).err().unwrap().to_string();
            assert!(msg.contains("does not look like a text variant table or VCF"), "{msg}");
        }
        let msg = open(b"\x28\xb5\x2f\xfd0000").err().unwrap().to_string();
        assert!(msg.contains("zstd"), "{msg}");
    }

    #[test]
    fn invalid_utf8_data_row_is_bad_not_fatal() {
        let text = b"CHR\tBP\tA1\tA2\n1\t5\tA\tG\n1\t6\t\xe9\tG\n1\t7\tA\tG\n";
        // Plain and gzip alike (gzip used to be fatal: its first buffer reached the data rows).
        for bytes in [text.to_vec(), gz(text)] {
            let recs = records(&bytes);
            assert_eq!(recs.len(), 3);
            assert!(matches!(&recs[1], Record::Bad(b) if b.line == 3 && b.message.contains("UTF-8")));
        }
    }

    #[test]
    fn vcf_detection_through_the_reader() {
        // IEU GWAS-VCF with meta lines, a multi-allelic row and a bad POS.
        let text = b"##fileformat=VCFv4.2\n##FORMAT=<ID=ES,Number=A>\n##FORMAT=<ID=SE,Number=A>\n\
            ##FORMAT=<ID=LP,Number=A>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n\
            1\t10\trs1\tG\tA,<DEL>\t.\tPASS\t.\tES:SE:LP\t0.1:0.2:2\n1\tx\trs2\tG\tA\t.\tPASS\t.\tES:SE:LP\t1:1:1\n";
        let r = open(text).unwrap();
        assert_eq!(r.format(), &InputFormat::Vcf);
        let recs: Vec<_> = r.collect::<Result<_, _>>().unwrap();
        assert_eq!(recs.len(), 3);
        let Record::Variant(v) = &recs[1] else { panic!("{recs:?}") };
        assert_eq!((v.line, v.effect_allele.as_str(), v.beta, v.se), (6, "<DEL>", Some(0.1), Some(0.2)));
        assert!(matches!(&recs[2], Record::Bad(b) if b.message == "line 7: POS 'x' is not an integer"));
        // 5-column VCF without ##fileformat; a PLINK 2 header is not taken for a VCF.
        let recs = records(b"#CHROM\tPOS\tID\tREF\tALT\n20\t60309\t.\tG\tT\n");
        assert!(matches!(&recs[..], [Record::Variant(v)] if v.id.is_none() && v.source == AlleleSource::Vcf));
        let r = open(b"#CHROM\tPOS\tID\tREF\tALT\tA1\tTEST\tP\n1\t5\t.\tA\tG\tG\tADD\t0.1\n").unwrap();
        assert_eq!(r.format(), &InputFormat::Plink2Glm);
    }

    #[test]
    fn wrong_field_count_is_bad_with_line_number() {
        let r = open(b"CHR\tBP\tSNP\tA1\tA2\n\n1\t5\trs1\tA\tG\n1 6 rs2 A G\n").unwrap();
        assert_eq!(r.columns_description(), "chrom=CHR pos=BP id=SNP effect=A1 other=A2 beta=none se=none p=none");
        let recs: Vec<_> = r.collect::<Result<_, _>>().unwrap();
        assert!(matches!(&recs[0], Record::Variant(v) if v.line == 3));
        assert!(matches!(&recs[1], Record::Bad(b) if b.message.starts_with("line 4: 1 fields, header has 5")));
    }

    #[test]
    fn overrides_through_the_reader() {
        let f = write_tmp(b"c p a b\n1 5 A G\n");
        assert!(VariantReader::open(f.path(), &ColumnOverrides::default()).is_err());
        let o: ColumnOverrides = "chrom=c,pos=p,ea=a,oa=b".parse().unwrap();
        let recs: Vec<_> = VariantReader::open(f.path(), &o).unwrap().collect::<Result<_, _>>().unwrap();
        assert!(matches!(&recs[..], [Record::Variant(v)] if v.pos == 5 && v.other_allele == "G"));
        let o: ColumnOverrides = "chrom=nope".parse().unwrap();
        assert!(VariantReader::open(f.path(), &o).err().unwrap().to_string().contains("nope"));
    }

    #[test]
    fn a_row_longer_than_1_mib_is_a_bad_row_and_the_run_goes_on() {
        let mut text = b"CHR\tBP\tA1\tA2\n1\t5\tA\tG\n1\t6\tA\t".to_vec();
        text.extend(std::iter::repeat_n(b'G', 3 << 20));
        text.extend_from_slice(b"\n1\t7\tA\tG\n");
        for bytes in [text.clone(), gz(&text)] {
            let recs = records(&bytes);
            assert_eq!(recs.len(), 3);
            let Record::Bad(b) = &recs[1] else { panic!("{:?}", &recs[1]) };
            assert!(
                b.message.starts_with("line 3: the line is 3145734 bytes long, more than the 1 MiB"),
                "{}",
                b.message
            );
            assert!(matches!(&recs[2], Record::Variant(v) if v.line == 4 && v.pos == 7));
        }
        // A VCF row of many samples: its first 10 columns are read.
        let mut vcf = b"##fileformat=VCFv4.2\n##FORMAT=<ID=LP,Number=A>\n".to_vec();
        vcf.extend_from_slice(b"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n");
        vcf.extend_from_slice(b"1\t10\trs1\tG\tA\t.\tPASS\t.\tLP\t2");
        vcf.extend(std::iter::repeat_n(&b"\t0"[..], 1 << 20).flatten());
        vcf.extend_from_slice(b"\n1\t11\trs2\tG\tA\t.\tPASS\t.\tLP\t1\n");
        let recs = records(&vcf);
        assert!(
            matches!(&recs[..], [Record::Variant(a), Record::Variant(b)]
            if a.line == 4 && (a.pvalue.unwrap() - 0.01).abs() < 1e-15 && b.line == 5),
            "{recs:?}"
        );
    }

    #[test]
    fn old_mac_line_ends_give_rows_not_one_header() {
        let recs = records(b"CHR\tBP\tSNP\tA1\tA2\tP\r1\t100\trs1\tA\tG\t0.5\r1\t200\trs2\tC\tT\t0.1\r");
        assert_eq!(recs.len(), 2, "{recs:?}");
        assert!(
            matches!(&recs[1], Record::Variant(v) if v.line == 3 && v.id.as_deref() == Some("rs2") && v.pvalue == Some(0.1))
        );
        let r = open(b"##fileformat=VCFv4.2\r#CHROM\tPOS\tID\tREF\tALT\r1\t10\trs1\tG\tA\r").unwrap();
        assert_eq!(r.format(), &InputFormat::Vcf);
        assert_eq!(r.count(), 1);
    }

    /// The records and the error (as text) of the parallel block reader, with blocks of `block_bytes`.
    fn by_blocks(f: &Path, block_bytes: usize) -> (Vec<Record>, Option<String>) {
        let mut out = Vec::new();
        let r: Result<(), InputError> = VariantReader::open(f, &ColumnOverrides::default()).unwrap().for_each_block_of(
            block_bytes,
            &all,
            |recs, ()| {
                out.extend(recs);
                Ok(())
            },
        );
        (out, r.err().map(|e| e.to_string()))
    }

    fn by_lines(f: &Path) -> (Vec<Record>, Option<String>) {
        let mut out = Vec::new();
        for r in VariantReader::open(f, &ColumnOverrides::default()).unwrap() {
            match r {
                Ok(rec) => out.push(rec),
                Err(e) => return (out, Some(e.to_string())),
            }
        }
        (out, None)
    }

    #[test]
    fn blocks_give_the_records_of_the_line_reader_whatever_the_block_size() {
        let mut long = b"CHR\tBP\tA1\tA2\tP\n1\t5\tA\tG\t0.1\n1\t6\tA\t".to_vec();
        long.extend(std::iter::repeat_n(b'G', 3 << 20));
        long.extend_from_slice(b"\t0.2\r\n\n1\t7\tA\tG\t1e-8\r\n");
        let mut vcf = b"##fileformat=VCFv4.2\n##FORMAT=<ID=LP,Number=A>\n".to_vec();
        vcf.extend_from_slice(b"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n");
        vcf.extend_from_slice(b"1\t10\trs1\tG\tA,T\t.\tPASS\t.\tLP\t2");
        vcf.extend(std::iter::repeat_n(&b"\t0"[..], 1 << 20).flatten());
        vcf.extend_from_slice(b"\n1\t11\trs2\tG\tA\t.\tPASS\t.\tLP\t1\n1\tx\trs3\tG\tA\n");
        let mut many = KUNKLE.to_vec();
        for i in 0..3000 {
            many.extend_from_slice(
                format!("{} {} rs{i} A G 0.1 0.01 {}\n", i % 3, 100 + i, 1.0 / (i + 1) as f64).as_bytes(),
            );
            if i % 700 == 0 {
                many.extend_from_slice(b"1 x rsbad A G 0.1 0.01 0.5\n\n  \n1 5 rs\xe9 A G 1 1 1\n1 6 rs\0 A G 1 1 1\n");
            }
        }
        let inputs: Vec<Vec<u8>> = vec![
            KUNKLE.to_vec(),
            b"\xEF\xBB\xBFCHR,BP,SNP,A1,A2,OR,P\r\n\r\n1,100,rs1,A,G,2.0,0.5\r\n1,101,rs2,A,G,2.0,0.5".to_vec(),
            b"CHR\tBP\tSNP\tA1\tA2\tP\r1\t100\trs1\tA\tG\t0.5\r\r1\t200\trs2\tC\tT\t0.1\r".to_vec(),
            b"CHR\tBP\tA1\tA2\n1\t5\tA\tG\n1\t6\t\xe9\tG\n1\t7\tA\tG".to_vec(),
            b"##fileformat=VCFv4.2\n1\t10\trs1\tG\tA\n1\t11\trs2\tG\tA\n".to_vec(),
            b"CHR\tBP\tA1\tA2\r".to_vec(),
            long,
            vcf,
            many,
        ];
        for text in inputs {
            for bytes in [text.clone(), gz(&text)] {
                let f = write_tmp(&bytes);
                let expected = by_lines(f.path());
                for block in [1, 7, 100, 4096, 1 << 20] {
                    let got = by_blocks(f.path(), block);
                    assert!(got == expected, "block {block}: {:?}\n{:?}", got.1, expected.1);
                }
            }
        }
    }

    #[test]
    fn blocks_end_with_the_truncated_gzip_error_after_the_lines_before_it() {
        let mut body = String::from("CHR\tBP\tA1\tA2\n");
        for i in 0..20000 {
            body.push_str(&format!("1\t{}\tA\tG\n", 1000 + i));
        }
        let full = gz(body.as_bytes());
        let f = write_tmp(&full[..full.len() / 2]);
        let expected = by_lines(f.path());
        assert!(expected.1.as_ref().is_some_and(|e| e.contains("ends early")), "{:?}", expected.1);
        for block in [100, 1 << 16, 1 << 20] {
            let got = by_blocks(f.path(), block);
            assert!(
                got == expected,
                "block {block}: {} {:?} vs {} {:?}",
                got.0.len(),
                got.1,
                expected.0.len(),
                expected.1
            );
        }
    }

    #[test]
    fn select_drops_good_rows_only_and_counts() {
        let text = b"CHR BP A1 A2 P\n1 5 A G 0.5\n1 x A G 0.1\n2 6 A G 0.01\n";
        let mut out = Vec::new();
        let mut dropped = 0;
        let r: Result<(), InputError> = open(text).unwrap().for_each_block(
            &|c: &Candidate<'_>, n: &mut u64| {
                let keep = c.chrom == "2" && c.pvalue == Some(0.01) && c.pos == 6;
                *n += u64::from(!keep);
                keep
            },
            |recs, n| {
                out.extend(recs);
                dropped += n;
                Ok(())
            },
        );
        r.unwrap();
        assert_eq!(dropped, 1);
        assert!(matches!(&out[..], [Record::Bad(b), Record::Variant(v)] if b.line == 3 && v.line == 4), "{out:?}");
    }

    #[test]
    fn reader_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<VariantReader>();
    }

    #[test]
    fn missing_file_names_path() {
        let err = VariantReader::open(Path::new("/nonexistent/x.tsv"), &ColumnOverrides::default()).err().unwrap();
        assert!(err.to_string().contains("/nonexistent/x.tsv"));
    }

    #[test]
    fn only_meta_lines_is_fatal_for_tables() {
        let msg = open(b"## comment\n## another\n").err().unwrap().to_string();
        assert!(msg.contains("header"), "{msg}");
    }
}
