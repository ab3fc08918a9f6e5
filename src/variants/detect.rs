//! Detection by content: compression (magic bytes, not the file name), binary garbage, VCF vs table, delimiter.

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::columns::normalize;
use super::{Delimiter, InputError, InputFormat};

const BUF_SIZE: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    Plain,
    /// gzip or bgzip (multi-member gzip).
    Gzip,
}

/// Opens `path` and returns a buffered reader over its decompressed content.
pub(crate) fn open_stream(path: &Path) -> Result<(Box<dyn BufRead + Send>, Compression), InputError> {
    let open_err = |source| InputError::Open { path: path.to_path_buf(), source };
    let mut file = File::open(path).map_err(open_err)?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(open_err(std::io::Error::other("it is a directory, not a file")));
    }
    // Read the first bytes with a loop (a pipe may return them in pieces), then chain them back on.
    let mut head = Vec::with_capacity(8);
    while head.len() < 8 {
        let mut chunk = [0u8; 8];
        match file.read(&mut chunk[..8 - head.len()]) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => return Err(InputError::Read { path: path.to_path_buf(), line: 0, source }),
        }
    }
    if let Some((kind, hint)) = unsupported_compression(&head) {
        return Err(InputError::Compressed { path: path.to_path_buf(), kind, hint });
    }
    let gzip = head.starts_with(&[0x1f, 0x8b]);
    let raw = Cursor::new(head).chain(file);
    Ok(if gzip {
        (Box::new(BufReader::with_capacity(BUF_SIZE, MultiGzDecoder::new(raw))), Compression::Gzip)
    } else {
        (Box::new(BufReader::with_capacity(BUF_SIZE, raw)), Compression::Plain)
    })
}

fn unsupported_compression(head: &[u8]) -> Option<(&'static str, &'static str)> {
    let table: [(&[u8], &str, &str); 4] = [
        (&[0x28, 0xb5, 0x2f, 0xfd], "zstd", "decompress it with `zstd -d FILE`, or recompress it with bgzip"),
        (b"BZh", "bzip2", "decompress it with `bunzip2 FILE`, or recompress it with bgzip"),
        (&[0xfd, b'7', b'z', b'X', b'Z', 0], "xz", "decompress it with `unxz FILE`, or recompress it with bgzip"),
        (
            b"PK\x03\x04",
            "zip",
            "extract it with `unzip FILE` (an Excel workbook must first be saved as tab-separated text)",
        ),
    ];
    table.iter().find(|(magic, _, _)| head.starts_with(magic)).map(|&(_, kind, hint)| (kind, hint))
}

/// Checks the first decompressed bytes: `Ok(false)` if there are none, an error if they look binary. Only
/// the first line (as far as `bytes` reach) is judged, so that a bad byte in a data row is that row's problem
/// (a bad row) whatever the compression and buffer size; the header line itself is checked when it is read.
pub(crate) fn sniff_text(path: &Path, bytes: &[u8]) -> Result<bool, InputError> {
    if bytes.is_empty() {
        return Ok(false);
    }
    let bytes = bytes.iter().position(|&b| b == b'\n' || b == b'\r').map_or(bytes, |i| &bytes[..=i]);
    let binary = |detail: &str| Err(InputError::Binary { path: path.to_path_buf(), detail: detail.to_string() });
    if bytes.starts_with(b"BCF") {
        return binary("it looks like a BCF (binary VCF); convert it with `bcftools view -Oz -o out.vcf.gz FILE`");
    }
    if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        return binary("it is UTF-16 text (Excel's \"Unicode text\"); convert it with `iconv -f utf-16 -t utf-8`");
    }
    if bytes.starts_with(b"PAR1") {
        return binary("it looks like a Parquet file");
    }
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return binary("the decompressed data is gzip-compressed again (compressed twice?); run `gunzip` once first");
    }
    if bytes.contains(&0) {
        return binary("it contains NUL bytes");
    }
    if let Err(e) = std::str::from_utf8(bytes) {
        // An incomplete character cut by the end of the peeked buffer is fine.
        if e.error_len().is_some() {
            return binary(&format!(
                "invalid UTF-8 at byte {} (binary data, or text in another encoding such as Latin-1: convert it \
                 with `iconv -f latin1 -t utf-8`)",
                e.valid_up_to()
            ));
        }
    }
    Ok(true)
}

/// `#CHROM POS ID REF ALT` followed by nothing or QUAL: a VCF header without `##fileformat` (PLINK 2 `.glm`
/// files start the same way but continue with other columns such as `A1`).
pub(crate) fn is_vcf_header(line: &str) -> bool {
    let fields: Vec<String> = line.split('\t').map(normalize).collect();
    fields.len() >= 5
        && fields[0] == "#CHROM"
        && fields[1..5] == ["POS", "ID", "REF", "ALT"]
        && fields.get(5).is_none_or(|f| f == "QUAL")
}

/// Tab if the header has a tab, else comma if it has a comma, else runs of whitespace.
pub(crate) fn detect_delimiter(header: &str) -> Delimiter {
    if header.contains('\t') {
        Delimiter::Tab
    } else if header.contains(',') {
        Delimiter::Comma
    } else {
        Delimiter::Whitespace
    }
}

/// Splits a row; fields are trimmed and surrounding double quotes removed.
pub(crate) fn split_fields(line: &str, delimiter: Delimiter) -> Vec<&str> {
    fn clean(f: &str) -> &str {
        let f = f.trim();
        f.strip_prefix('"').and_then(|g| g.strip_suffix('"')).unwrap_or(f)
    }
    match delimiter {
        Delimiter::Tab => line.split('\t').map(clean).collect(),
        Delimiter::Comma => line.split(',').map(clean).collect(),
        Delimiter::Whitespace => line.split_whitespace().map(clean).collect(),
    }
}

/// [`split_fields`] into `out` (cleared first), without allocating when `out` has room: the hot path of
/// table parsing. ASCII lines are split byte by byte with the same whitespace set as `char::is_whitespace`
/// (tab, line feed, vertical tab, form feed, carriage return, space); other lines go through `split_fields`.
pub(crate) fn split_fields_into<'a>(line: &'a str, delimiter: Delimiter, out: &mut Vec<&'a str>) {
    out.clear();
    if !line.is_ascii() {
        out.extend(split_fields(line, delimiter));
        return;
    }
    fn is_ws(b: u8) -> bool {
        b == b' ' || (b'\t'..=b'\r').contains(&b)
    }
    fn clean(f: &str) -> &str {
        let b = f.as_bytes();
        let start = b.iter().position(|&c| !is_ws(c)).unwrap_or(b.len());
        let end = b.iter().rposition(|&c| !is_ws(c)).map_or(start, |i| i + 1);
        let f = &f[start..end];
        f.strip_prefix('"').and_then(|g| g.strip_suffix('"')).unwrap_or(f)
    }
    let bytes = line.as_bytes();
    match delimiter {
        Delimiter::Tab => out.extend(line.split('\t').map(clean)),
        Delimiter::Comma => out.extend(line.split(',').map(clean)),
        Delimiter::Whitespace => {
            let mut i = 0;
            loop {
                while i < bytes.len() && is_ws(bytes[i]) {
                    i += 1;
                }
                if i == bytes.len() {
                    break;
                }
                let start = i;
                while i < bytes.len() && !is_ws(bytes[i]) {
                    i += 1;
                }
                let f = &line[start..i];
                out.push(f.strip_prefix('"').and_then(|g| g.strip_suffix('"')).unwrap_or(f));
            }
        }
    }
}

/// Column names of a table header line, with a leading `#` removed from the first one (`#CHROM`).
pub(crate) fn header_fields(line: &str, delimiter: Delimiter) -> Vec<String> {
    let mut names: Vec<String> = split_fields(line, delimiter).into_iter().map(str::to_string).collect();
    if let Some(first) = names.first_mut() {
        *first = first.trim_start_matches('#').trim().to_string();
    }
    names
}

const KUNKLE: [&str; 8] =
    ["CHROMOSOME", "POSITION", "MARKERNAME", "EFFECT_ALLELE", "NON_EFFECT_ALLELE", "BETA", "SE", "PVALUE"];

/// Kunkle/IGAP, PLINK 2 `.glm`, or a generic table. `normalized` are the normalized column names.
pub(crate) fn table_format(normalized: &[String], delimiter: Delimiter) -> InputFormat {
    let has = |name: &str| normalized.iter().any(|n| n == name);
    if normalized.len() >= KUNKLE.len() && normalized[..KUNKLE.len()] == KUNKLE {
        InputFormat::Kunkle
    } else if ["CHROM", "POS", "REF", "ALT", "A1"].iter().all(|n| has(n)) {
        InputFormat::Plink2Glm
    } else {
        InputFormat::Delimited { delimiter }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(header: &str) -> InputFormat {
        let d = detect_delimiter(header);
        let norm: Vec<String> = header_fields(header, d).iter().map(|s| normalize(s)).collect();
        table_format(&norm, d)
    }

    #[test]
    fn layouts() {
        assert_eq!(
            fmt("Chromosome Position MarkerName Effect_allele Non_Effect_allele Beta SE Pvalue"),
            InputFormat::Kunkle
        );
        assert_eq!(fmt("#CHROM\tPOS\tID\tREF\tALT\tA1\tTEST\tOBS_CT\tBETA\tSE\tT_STAT\tP"), InputFormat::Plink2Glm);
        let tab = InputFormat::Delimited { delimiter: Delimiter::Tab };
        assert_eq!(fmt("SNP\tCHR\tBP\tA1\tA2\tINFO\tBETA\tSE\tLP\tN\tID\tP"), tab);
        assert_eq!(fmt("MarkerName\tCHR\tPOS\tA1\tA2\tEAF\tBeta\tSE\tPval"), tab);
        assert_eq!(fmt("CHR,BP,SNP,A1,A2,OR,P"), InputFormat::Delimited { delimiter: Delimiter::Comma });
        assert_eq!(fmt("CHR  BP SNP A1 A2"), InputFormat::Delimited { delimiter: Delimiter::Whitespace });
        assert_eq!(InputFormat::Kunkle.to_string(), "Kunkle/IGAP summary statistics");
        assert_eq!(tab.to_string(), "tab-separated summary-statistics table");
    }

    #[test]
    fn vcf_header_vs_plink2() {
        assert!(is_vcf_header("#CHROM\tPOS\tID\tREF\tALT"));
        assert!(is_vcf_header("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1"));
        assert!(!is_vcf_header("#CHROM\tPOS\tID\tREF\tALT\tA1\tTEST"));
        assert!(!is_vcf_header("CHR\tBP\tA1\tA2"));
    }

    #[test]
    fn splitting() {
        assert_eq!(split_fields("a\t\tb \t\"c\"", Delimiter::Tab), vec!["a", "", "b", "c"]);
        assert_eq!(split_fields("  a   b c ", Delimiter::Whitespace), vec!["a", "b", "c"]);
        assert_eq!(split_fields("\"CHR\",BP", Delimiter::Comma), vec!["CHR", "BP"]);
        let mut out = Vec::new();
        for line in
            ["a\t\tb \t\"c\"", "  a   b c ", "\"CHR\",BP", "a\x0bb\x0c c\r", " \"\" x \"", "é a\u{a0}b", "", "\t"]
        {
            for d in [Delimiter::Tab, Delimiter::Comma, Delimiter::Whitespace] {
                split_fields_into(line, d, &mut out);
                assert_eq!(out, split_fields(line, d), "{line:?} {d}");
            }
        }
        assert_eq!(header_fields("#CHROM\tPOS", Delimiter::Tab), vec!["CHROM", "POS"]);
    }

    #[test]
    fn sniffing() {
        let p = Path::new("f.txt");
        assert!(!sniff_text(p, b"").unwrap());
        assert!(sniff_text(p, "CHR\tBP\nX\u{e9}".as_bytes()).unwrap());
        // A multi-byte character cut at the end of the peeked buffer is not an error.
        assert!(sniff_text(p, &"ab\u{e9}".as_bytes()[..3]).unwrap());
        assert!(sniff_text(p, b"ab\0cd").is_err());
        assert!(sniff_text(p, b"ab\xffcd").is_err());
        // Found by tests/proptest_parsers.rs: a Latin-1 byte in a data row made a gzip file (whose first
        // buffer holds many lines) fatal, while in a plain file (first buffer: 8 bytes) it was a bad row.
        assert!(sniff_text(p, b"CHR\tBP\tA1\tA2\n1\t5\t\xe9\tG\n").unwrap());
        assert!(sniff_text(p, b"CHR\tBP\n\0\0").unwrap());
        let utf16 = sniff_text(p, b"\xff\xfeC\0H\0R\0").unwrap_err().to_string();
        assert!(utf16.contains("UTF-16") && utf16.contains("iconv -f utf-16"), "{utf16}");
        assert!(unsupported_compression(b"BZh91AY").is_some());
        assert!(unsupported_compression(b"CHR\tBP").is_none());
    }
}
