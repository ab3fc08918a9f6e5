//! [`VariantReader`]: opens an input, detects its compression and layout, maps its header, and gives its
//! records line by line (see `blocks` for the parallel reader of the same records).

use std::collections::VecDeque;
use std::path::Path;

use super::lines::LineReader;
use super::row::{all, not_utf8, parse_text, tenth_tab, too_long, Parser};
use super::{detect, table, vcf, ColumnOverrides, InputError, InputFormat, Record};

/// Streaming reader over the variants of one input file.
pub struct VariantReader {
    pub(super) lines: LineReader,
    pub(super) format: InputFormat,
    pub(super) parser: Parser,
    pub(super) description: String,
    pub(super) queue: VecDeque<Record>,
    /// A data line already read while detecting the layout (VCF without a `#CHROM` line).
    pub(super) pending: Option<(u64, String)>,
    pub(super) done: bool,
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

#[cfg(test)]
mod tests {
    use super::super::testdata::*;
    use super::super::AlleleSource;
    use super::*;

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
        let full = gz(&many_rows());
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
