//! Delimited summary-statistics tables (generic, Kunkle/IGAP, PLINK 2 `.glm`).

use std::path::Path;

use super::columns::{normalize, ColumnMap, ColumnOverrides, Role};
use super::detect::{detect_delimiter, header_fields, split_fields_into, table_format};
use super::{AlleleSource, BadRow, Delimiter, InputError, InputFormat, RawVariant};

const MISSING: [&str; 9] = ["", "NA", "NAN", ".", "-", "NULL", "NONE", "N/A", "#N/A"];

/// `Ok(None)` for a missing-value token, `Err` for anything else that is not a finite number.
pub(crate) fn parse_stat(s: &str) -> Result<Option<f64>, ()> {
    let s = s.trim();
    // A number first (the common case): no missing-value token parses as a finite number.
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(Some(x)),
        _ if MISSING.iter().any(|m| s.eq_ignore_ascii_case(m)) => Ok(None),
        _ => Err(()),
    }
}

/// Largest length of a field value quoted back in a row's message (the rest is elided), so that a bad row
/// stays small however long its line (up to the 1 MiB line cap).
const SHOWN_MAX: usize = 60;

/// `s` for a message: at most [`SHOWN_MAX`] characters, then `…`.
pub(crate) fn shown(s: &str) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(SHOWN_MAX) {
        Some((i, _)) => format!("{}… ({} bytes)", &s[..i], s.len()).into(),
        None => s.into(),
    }
}

/// What is wrong with a p-value read from column (or FORMAT key) `name`, or the value: `Ok(None)` for a
/// missing-value token (`NA`, `.`, ...). `NaN`, infinities, PLINK's `-9` missing code and anything outside
/// [0, 1] are errors, so that such a row is never scored, never passes `--max-pvalue` and is never ranked by
/// `--top`.
pub(crate) fn parse_pvalue(name: &str, text: &str) -> Result<Option<f64>, String> {
    let p = checked_stat(name, text)?;
    match p {
        Some(-9.0) => Err(plink_missing(name, text)),
        Some(p) if !(0.0..=1.0).contains(&p) => {
            Err(format!("{name} '{}' is not a p-value: a p-value is between 0 and 1", shown(text.trim())))
        }
        p => Ok(p),
    }
}

/// A -log10(p) value (`LP`, `LOG10P`): `Ok(Some(p))` with p = 10^-value. Negative values (p > 1), `NaN`,
/// infinities and PLINK's `-9` are errors, as for [`parse_pvalue`].
pub(crate) fn parse_neg_log10_p(name: &str, text: &str) -> Result<Option<f64>, String> {
    match checked_stat(name, text)? {
        Some(-9.0) => Err(plink_missing(name, text)),
        Some(lp) if lp < 0.0 => Err(format!(
            "{name} '{}' is negative: -log10(p) is at least 0 (a p-value is at most 1)",
            shown(text.trim())
        )),
        lp => Ok(lp.map(|lp| 10f64.powf(-lp))),
    }
}

/// A number or a missing token; `NaN` and non-numbers are errors naming `name`.
fn checked_stat(name: &str, text: &str) -> Result<Option<f64>, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("nan") {
        return Err(format!("{name} '{t}' is NaN, not a p-value (a failed test?): the row is not scored"));
    }
    parse_stat(t).map_err(|()| format!("{name} '{}' is not a number", shown(t)))
}

fn plink_missing(name: &str, text: &str) -> String {
    format!("{name} '{}' is PLINK's missing-value code, not a p-value: the row is not scored", text.trim())
}

/// Integer positions, also written as `1234.0` or `1e6` as long as the value is integral.
pub(crate) fn parse_position(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(p) = s.parse::<i64>() {
        return Some(p);
    }
    let x: f64 = s.parse().ok()?;
    (x.is_finite() && x.fract() == 0.0 && x.abs() < 9.0e15).then_some(x as i64)
}

/// Columns used only by the PLINK 2 `.glm` allele logic.
#[derive(Debug, Clone)]
struct Plink2 {
    reference: usize,
    alt: usize,
    a1: usize,
    test: Option<usize>,
}

pub(crate) struct TableParser {
    format: InputFormat,
    delimiter: Delimiter,
    header: Vec<String>,
    map: ColumnMap,
    plink2: Option<Plink2>,
}

impl TableParser {
    pub fn new(
        path: &Path,
        line: u64,
        header_line: &str,
        overrides: &ColumnOverrides,
    ) -> Result<TableParser, InputError> {
        let delimiter = detect_delimiter(header_line);
        let header = header_fields(header_line, delimiter);
        let normalized: Vec<String> = header.iter().map(|h| normalize(h)).collect();
        let format = table_format(&normalized, delimiter);
        let alleles_overridden =
            overrides.get(Role::EffectAllele).is_some() || overrides.get(Role::OtherAllele).is_some();
        let col = |name: &str| normalized.iter().position(|n| n == name);
        let plink2 = match (format, col("REF"), col("ALT"), col("A1")) {
            (InputFormat::Plink2Glm, Some(reference), Some(alt), Some(a1)) if !alleles_overridden => {
                Some(Plink2 { reference, alt, a1, test: col("TEST") })
            }
            _ => None,
        };
        let skip: &[Role] = if plink2.is_some() { &[Role::EffectAllele, Role::OtherAllele] } else { &[] };
        let map = ColumnMap::build(path, line, &header, overrides, skip)?;
        let required: &[Role] = if plink2.is_some() {
            &[Role::Chrom, Role::Pos]
        } else {
            &[Role::Chrom, Role::Pos, Role::EffectAllele, Role::OtherAllele]
        };
        let missing = map.missing(required);
        if !missing.is_empty() {
            return Err(InputError::UnmappedColumns {
                path: path.to_path_buf(),
                line,
                hint: unmapped_hint(&header, &normalized, &missing),
                header,
                missing,
            });
        }
        Ok(TableParser { format, delimiter, header, map, plink2 })
    }

    pub fn format(&self) -> InputFormat {
        self.format
    }

    /// e.g. `chrom=CHR pos=BP id=SNP effect=A1 other=A2 beta=BETA se=SE p=P`.
    pub fn description(&self) -> String {
        let name = |role: Role| self.map.get(role).map(|i| self.header[i].clone());
        let mut parts = vec![
            format!("chrom={}", name(Role::Chrom).unwrap_or_default()),
            format!("pos={}", name(Role::Pos).unwrap_or_default()),
            format!("id={}", name(Role::Id).unwrap_or_else(|| "none".into())),
        ];
        match &self.plink2 {
            Some(p) => {
                parts.push(format!("effect={}", self.header[p.a1]));
                parts.push(format!("other={}/{} (whichever is not A1)", self.header[p.reference], self.header[p.alt]));
            }
            None => {
                parts.push(format!("effect={}", name(Role::EffectAllele).unwrap_or_default()));
                parts.push(format!("other={}", name(Role::OtherAllele).unwrap_or_default()));
            }
        }
        parts.push(match (name(Role::Beta), name(Role::OddsRatio)) {
            (Some(b), _) => format!("beta={b}"),
            (None, Some(or)) => format!("beta=ln({or})"),
            (None, None) => "beta=none".into(),
        });
        parts.push(format!("se={}", name(Role::Se).unwrap_or_else(|| "none".into())));
        parts.push(match (name(Role::Pvalue), name(Role::NegLog10P)) {
            (Some(p), _) => format!("p={p}"),
            (None, Some(lp)) => format!("p=10^-{lp}"),
            (None, None) => "p=none".into(),
        });
        if let Some(t) = self.plink2.as_ref().and_then(|p| p.test) {
            parts.push(format!("(only {}=ADD rows)", self.header[t]));
        }
        let overridden: Vec<&str> = Role::ALL.iter().filter(|r| self.map.is_overridden(**r)).map(|r| r.key()).collect();
        if !overridden.is_empty() {
            parts.push(format!("(from --columns: {})", overridden.join(", ")));
        }
        parts.join(" ")
    }

    /// Parses one non-blank data line into a variant or a bad row.
    #[cfg(test)]
    pub fn parse(&self, line: u64, text: &str, out: &mut std::collections::VecDeque<super::Record>) {
        out.push_back(match self.parse_row(line, text, &mut Vec::new()) {
            Ok(v) => super::Record::Variant(v.to_owned()),
            Err(b) => super::Record::Bad(*b),
        });
    }

    /// Parses one non-blank data line into a borrowed [`RowView`] (no allocation for a good row, so that a
    /// row a filter drops costs no strings) or a bad row.
    /// `f` is scratch space for the fields (kept between rows to save an allocation per row).
    pub fn parse_row<'a>(&self, line: u64, text: &'a str, f: &mut Vec<&'a str>) -> Result<RowView<'a>, Box<BadRow>> {
        split_fields_into(text, self.delimiter, f);
        // A trailing delimiter on data rows only.
        if f.len() == self.header.len() + 1 && f.last() == Some(&"") {
            f.pop();
        }
        let f: &[&'a str] = f;
        let fail = |msg: String, f: &[&str]| {
            let get = |role| self.map.get(role).and_then(|i| f.get(i).copied()).filter(|s| !s.is_empty());
            Box::new(BadRow {
                line,
                id: get(Role::Id).filter(|s| !is_missing(s)).map(str::to_string),
                chrom: get(Role::Chrom).map(str::to_string),
                pos: get(Role::Pos).and_then(parse_position),
                message: format!("line {line}: {msg}"),
            })
        };
        if f.len() != self.header.len() {
            let msg = format!(
                "{} fields, header has {} (wrong delimiter?); expected {} fields",
                f.len(),
                self.header.len(),
                self.delimiter
            );
            return Err(fail(msg, &[]));
        }
        if f.iter().zip(&self.header).all(|(a, b)| a.trim_start_matches('#') == b.as_str()) {
            return Err(fail("repeated header line (were several files concatenated?); skipped".into(), &[]));
        }
        let col = |role: Role| self.map.get(role).map(|i| (self.header[i].as_str(), f[i]));
        let (chrom_name, chrom) = col(Role::Chrom).unwrap_or_default();
        if chrom.is_empty() {
            return Err(fail(format!("chromosome column {chrom_name} is empty"), f));
        }
        let (pos_name, pos_text) = col(Role::Pos).unwrap_or_default();
        let Some(pos) = parse_position(pos_text) else {
            return Err(fail(format!("{pos_name} '{}' is not an integer position", shown(pos_text)), f));
        };
        let (effect_allele, other_allele) = match &self.plink2 {
            Some(p) => {
                if let Some(t) = p.test.map(|t| f[t]).filter(|t| !t.eq_ignore_ascii_case("ADD")) {
                    return Err(fail(format!("TEST={} row skipped: only ADD rows are scored", shown(t)), f));
                }
                plink2_alleles(f[p.a1], f[p.reference], f[p.alt]).map_err(|m| fail(m, f))?
            }
            None => (col(Role::EffectAllele).unwrap_or_default().1, col(Role::OtherAllele).unwrap_or_default().1),
        };
        let stat = |role: Role| -> Result<Option<f64>, Box<BadRow>> {
            match col(role) {
                None => Ok(None),
                Some((name, s)) => {
                    parse_stat(s).map_err(|()| fail(format!("{name} '{}' is not a number", shown(s)), f))
                }
            }
        };
        let beta = match col(Role::Beta) {
            Some(_) => stat(Role::Beta)?,
            None => match stat(Role::OddsRatio)? {
                Some(or) if or <= 0.0 => {
                    let name = col(Role::OddsRatio).unwrap_or_default().0;
                    return Err(fail(format!("{name} '{or}' must be > 0 to give beta = ln(OR)"), f));
                }
                or => or.map(f64::ln),
            },
        };
        let pvalue = match (col(Role::Pvalue), col(Role::NegLog10P)) {
            (Some((name, s)), _) => parse_pvalue(name, s),
            (None, Some((name, s))) => parse_neg_log10_p(name, s),
            (None, None) => Ok(None),
        }
        .map_err(|m| fail(m, f))?;
        Ok(RowView {
            line,
            id: col(Role::Id).map(|c| c.1).filter(|s| !is_missing(s)),
            chrom,
            pos,
            effect_allele,
            other_allele,
            beta,
            se: stat(Role::Se)?,
            pvalue,
        })
    }
}

/// A good table row with its text fields borrowed from the line: [`RowView::to_owned`] makes the variant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowView<'a> {
    pub line: u64,
    pub id: Option<&'a str>,
    pub chrom: &'a str,
    pub pos: i64,
    pub effect_allele: &'a str,
    pub other_allele: &'a str,
    pub beta: Option<f64>,
    pub se: Option<f64>,
    pub pvalue: Option<f64>,
}

impl RowView<'_> {
    pub fn to_owned(self) -> RawVariant {
        RawVariant {
            line: self.line,
            id: self.id.map(str::to_string),
            chrom: self.chrom.to_string(),
            pos: self.pos,
            effect_allele: self.effect_allele.to_string(),
            other_allele: self.other_allele.to_string(),
            beta: self.beta,
            se: self.se,
            pvalue: self.pvalue,
            source: AlleleSource::Table,
        }
    }
}

fn is_missing(s: &str) -> bool {
    s.len() <= 4 && MISSING.iter().any(|m| s.eq_ignore_ascii_case(m))
}

/// PLINK 2: effect = A1, other = whichever of REF/ALT is not A1.
fn plink2_alleles<'a>(a1: &'a str, reference: &'a str, alt: &'a str) -> Result<(&'a str, &'a str), String> {
    if a1.eq_ignore_ascii_case(reference) {
        if alt.contains(',') {
            return Err(format!(
                "A1 '{}' is REF but ALT '{}' lists several alleles; the other allele is ambiguous",
                shown(a1),
                shown(alt)
            ));
        }
        Ok((a1, alt))
    } else if alt.split(',').any(|a| a.eq_ignore_ascii_case(a1)) {
        Ok((a1, reference))
    } else {
        Err(format!("A1 '{}' is neither REF '{}' nor ALT '{}'", shown(a1), shown(reference), shown(alt)))
    }
}

fn unmapped_hint(header: &[String], normalized: &[String], missing: &[&str]) -> String {
    let mut hint = String::new();
    if header.len() == 1 && header[0].contains([';', '|']) {
        hint.push_str(" Only one column was found: the file may use ';' or '|' as delimiter; convert it to tabs.");
    }
    if missing.contains(&"other_allele") && normalized.iter().any(|n| n == "A1") {
        hint.push_str(
            " PLINK 1.9 association output has no second allele column: re-run with PLINK 2 --glm or add A2 \
             from the .bim file.",
        );
    }
    for key in missing {
        if let Some(role) = Role::ALL.iter().find(|r| r.key() == *key) {
            hint.push_str(&format!(" Recognised names for {key}: {}.", role.synonyms().join(", ")));
        }
    }
    hint
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variants::Record;
    use std::collections::VecDeque;

    fn parser(header: &str, overrides: &str) -> Result<TableParser, InputError> {
        TableParser::new(Path::new("t.txt"), 1, header, &overrides.parse().unwrap())
    }

    fn row(p: &TableParser, line: u64, text: &str) -> Record {
        let mut q = VecDeque::new();
        p.parse(line, text, &mut q);
        assert_eq!(q.len(), 1);
        q.pop_front().unwrap()
    }

    fn variant(r: Record) -> RawVariant {
        match r {
            Record::Variant(v) => v,
            Record::Bad(b) => panic!("unexpected bad row: {}", b.message),
        }
    }

    fn bad(r: Record) -> BadRow {
        match r {
            Record::Bad(b) => b,
            Record::Variant(v) => panic!("expected a bad row, got {v:?}"),
        }
    }

    #[test]
    fn numbers() {
        for m in ["", "NA", "NaN", "nan", ".", "-", "null", "None"] {
            assert_eq!(parse_stat(m), Ok(None));
        }
        assert_eq!(parse_stat(" 1.5e-8 "), Ok(Some(1.5e-8)));
        assert!(parse_stat("abc").is_err() && parse_stat("inf").is_err());
        assert_eq!(parse_position("1234"), Some(1234));
        assert_eq!(parse_position("1234.0"), Some(1234));
        assert_eq!(parse_position("1e6"), Some(1_000_000));
        assert_eq!(parse_position("-5"), Some(-5));
        assert_eq!(parse_position("1234.5"), None);
        assert_eq!(parse_position("abc"), None);
        assert_eq!(parse_position(""), None);
    }

    #[test]
    fn ieu_tsv_with_lp_and_p() {
        let p = parser("SNP\tCHR\tBP\tA1\tA2\tINFO\tBETA\tSE\tLP\tN\tID\tP", "").unwrap();
        assert_eq!(p.description(), "chrom=CHR pos=BP id=SNP effect=A1 other=A2 beta=BETA se=SE p=P");
        let v = variant(row(&p, 2, "rs7\t1\t2256288\tC\tA\t1\t0.0389\t0.0175\t1.58\t74046\trs7\t0.02598"));
        assert_eq!((v.id.as_deref(), v.chrom.as_str(), v.pos), (Some("rs7"), "1", 2256288));
        assert_eq!((v.effect_allele.as_str(), v.other_allele.as_str()), ("C", "A"));
        assert_eq!(
            (v.beta, v.se, v.pvalue, v.source),
            (Some(0.0389), Some(0.0175), Some(0.02598), AlleleSource::Table)
        );
        let b = bad(row(&p, 409, "rs75283360\t0.00163500844431754"));
        assert_eq!(b.line, 409);
        assert!(b.message.starts_with("line 409: 2 fields, header has 12 (wrong delimiter?)"), "{}", b.message);
    }

    #[test]
    fn kunkle_okbay_and_csv_or() {
        let p = parser("Chromosome Position MarkerName Effect_allele Non_Effect_allele Beta SE Pvalue", "").unwrap();
        assert_eq!(p.format(), InputFormat::Kunkle);
        let v = variant(row(&p, 2, "2 127845956 chr2:127845956:I T TGGA -0.1222 0.019 1.3e-10"));
        assert_eq!((v.other_allele.as_str(), v.beta, v.pvalue), ("TGGA", Some(-0.1222), Some(1.3e-10)));
        let p = parser("MarkerName\tCHR\tPOS\tA1\tA2\tEAF\tBeta\tSE\tPval", "").unwrap();
        assert_eq!(p.description(), "chrom=CHR pos=POS id=MarkerName effect=A1 other=A2 beta=Beta se=SE p=Pval");
        let p = parser("CHR,BP,SNP,A1,A2,OR,P", "").unwrap();
        assert_eq!(p.format(), InputFormat::Delimited { delimiter: Delimiter::Comma });
        assert!(p.description().contains("beta=ln(OR)"));
        let v = variant(row(&p, 2, "3,100,NA,A,G,1,NA"));
        assert_eq!((v.id, v.beta, v.pvalue), (None, Some(0.0), None));
        assert!(bad(row(&p, 3, "3,100,rs1,A,G,0,0.1")).message.contains("must be > 0"));
    }

    #[test]
    fn lp_only_gives_p() {
        let p = parser("CHR BP A1 A2 LOG10P", "").unwrap();
        assert!(p.description().ends_with("p=10^-LOG10P"));
        let v = variant(row(&p, 2, "1 10 A G 2"));
        assert!((v.pvalue.unwrap() - 0.01).abs() < 1e-15);
    }

    #[test]
    fn plink2_glm() {
        let p = parser("#CHROM\tPOS\tID\tREF\tALT\tA1\tTEST\tOBS_CT\tBETA\tSE\tT_STAT\tP", "").unwrap();
        assert_eq!(p.format(), InputFormat::Plink2Glm);
        assert!(p.description().contains("other=REF/ALT"), "{}", p.description());
        let v = variant(row(&p, 2, "chr1\t904165\t1_904165\tG\tA\tA\tADD\t282\t-0.09\t0.19\t-0.46\t0.64"));
        assert_eq!((v.effect_allele.as_str(), v.other_allele.as_str(), v.chrom.as_str()), ("A", "G", "chr1"));
        let v = variant(row(&p, 3, "chr1\t2779043\t1_2779043\tT\tC\tT\tADD\t272\t-0.11\t0.13\t-0.79\t0.42"));
        assert_eq!((v.effect_allele.as_str(), v.other_allele.as_str()), ("T", "C"));
        let v = variant(row(&p, 4, "1\t5\tx\tT\tC,G\tG\tADD\t1\t1\t1\t1\t1"));
        assert_eq!((v.effect_allele.as_str(), v.other_allele.as_str()), ("G", "T"));
        let b = bad(row(&p, 5, "1\t5\tx\tT\tC\tG\tADD\t1\t1\t1\t1\t1"));
        assert!(b.message.contains("A1 'G' is neither REF 'T' nor ALT 'C'"), "{}", b.message);
        assert_eq!((b.chrom.as_deref(), b.pos, b.id.as_deref()), (Some("1"), Some(5), Some("x")));
        let b = bad(row(&p, 6, "1\t5\tx\tT\tC\tC\tDOMDEV\t1\t1\t1\t1\t1"));
        assert_eq!(b.message, "line 6: TEST=DOMDEV row skipped: only ADD rows are scored");
    }

    #[test]
    fn bad_rows() {
        let p = parser("CHR\tBP\tSNP\tA1\tA2\tBETA\tSE\tP", "").unwrap();
        let b = bad(row(&p, 7, "1\t100\trs1\tA\tG"));
        assert!(b.message.starts_with("line 7: 5 fields, header has 8 (wrong delimiter?)"), "{}", b.message);
        let b = bad(row(&p, 8, "1\tabc\trs1\tA\tG\t0.1\t0.1\t0.1"));
        assert_eq!(b.message, "line 8: BP 'abc' is not an integer position");
        assert_eq!((b.chrom.as_deref(), b.id.as_deref(), b.pos), (Some("1"), Some("rs1"), None));
        assert!(bad(row(&p, 9, "\t100\trs1\tA\tG\t0.1\t0.1\t0.1")).message.contains("CHR is empty"));
        assert!(bad(row(&p, 9, "1\t100\trs1\tA\tG\tx\t0.1\t0.1")).message.contains("BETA 'x' is not a number"));
        assert!(bad(row(&p, 10, "CHR\tBP\tSNP\tA1\tA2\tBETA\tSE\tP")).message.contains("repeated header"));
        let v = variant(row(&p, 11, "1\t1.5e6\t.\tA\tG\tnan\t\tNA\t"));
        assert_eq!((v.pos, v.id, v.beta, v.se, v.pvalue), (1_500_000, None, None, None, None));
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let p = parser("CHR\tBP\tA1\tA2", "").unwrap();
        let long = "9".repeat(100) + "x";
        let b = bad(row(&p, 2, &format!("1\t{long}\tA\tG")));
        assert_eq!(b.message, format!("line 2: BP '{}… (101 bytes)' is not an integer position", &long[..60]));
    }

    #[test]
    fn pvalues_that_are_not_p_values_are_bad_rows() {
        let p = parser("CHR\tBP\tSNP\tA1\tA2\tP", "").unwrap();
        for (text, why) in [
            ("-1", "P '-1' is not a p-value: a p-value is between 0 and 1"),
            ("2", "P '2' is not a p-value"),
            ("1.0000001", "is not a p-value"),
            ("NaN", "P 'NaN' is NaN, not a p-value"),
            ("nan", "is NaN"),
            ("inf", "P 'inf' is not a number"),
            ("-inf", "is not a number"),
            ("-9", "P '-9' is PLINK's missing-value code"),
        ] {
            let b = bad(row(&p, 5, &format!("1\t100\trs1\tA\tG\t{text}")));
            assert!(b.message.starts_with("line 5: ") && b.message.contains(why), "{text}: {}", b.message);
            assert_eq!((b.id.as_deref(), b.chrom.as_deref(), b.pos), (Some("rs1"), Some("1"), Some(100)));
        }
        for (text, want) in [("0", Some(0.0)), ("1", Some(1.0)), ("1e-300", Some(1e-300)), ("NA", None), (".", None)] {
            assert_eq!(variant(row(&p, 6, &format!("1\t100\trs1\tA\tG\t{text}"))).pvalue, want, "{text}");
        }
        let p = parser("CHR BP A1 A2 LOG10P", "").unwrap();
        for (text, why) in [
            ("-1", "LOG10P '-1' is negative: -log10(p) is at least 0"),
            ("-0.5", "is negative"),
            ("-9", "LOG10P '-9' is PLINK's missing-value code"),
            ("NaN", "is NaN"),
            ("inf", "is not a number"),
        ] {
            let b = bad(row(&p, 7, &format!("1 10 A G {text}")));
            assert!(b.message.starts_with("line 7: ") && b.message.contains(why), "{text}: {}", b.message);
        }
        assert_eq!(variant(row(&p, 8, "1 10 A G 0")).pvalue, Some(1.0));
        assert_eq!(variant(row(&p, 8, "1 10 A G 400")).pvalue, Some(0.0), "underflows to 0, still a p-value");
        assert_eq!(variant(row(&p, 8, "1 10 A G NA")).pvalue, None);
    }

    #[test]
    fn unmappable_header_and_overrides() {
        let e = parser("FOO\tBAR\tA1\tA2", "").err().unwrap().to_string();
        assert!(e.contains("FOO, BAR, A1, A2") && e.contains("--columns") && e.contains("chrom, pos"), "{e}");
        let p = parser("FOO\tBAR\tA1\tA2", "chrom=FOO,pos=bar").unwrap();
        assert!(p.description().contains("(from --columns: chrom, pos)"));
        assert_eq!(variant(row(&p, 2, "X\t7\tA\tG")).pos, 7);
        assert!(parser("FOO\tBAR\tA1\tA2", "chrom=BAZ").err().unwrap().to_string().contains("BAZ"));
        let e = parser("CHR;BP;A1;A2", "").err().unwrap().to_string();
        assert!(e.contains("';'"), "{e}");
    }
}
