//! VCF rows, including IEU GWAS-VCF statistics (FORMAT `ES:SE:LP` of the first sample).

use std::collections::VecDeque;

use super::table::{parse_neg_log10_p, parse_pvalue, parse_stat, shown};
use super::{AlleleSource, BadRow, RawVariant, Record};

/// FORMAT keys read from the first sample. `P` is not part of the GWAS-VCF spec but some files carry it.
const STAT_KEYS: [&str; 4] = ["ES", "SE", "LP", "P"];

/// How each of [`STAT_KEYS`] is read (`name` is `FORMAT KEY`, for the message): LP as a p-value 10^-LP,
/// and both LP and P checked to be a p-value in [0, 1] (NaN, PLINK's -9 and values out of range are errors).
type StatParser = fn(name: &str, text: &str) -> Result<Option<f64>, String>;
const STAT_PARSERS: [StatParser; 4] = [number, number, parse_neg_log10_p, parse_pvalue];

fn number(name: &str, text: &str) -> Result<Option<f64>, String> {
    parse_stat(text).map_err(|()| format!("{name} '{}' is not a number", shown(text.trim())))
}

pub(crate) struct VcfParser {
    /// Name of the first sample column, when the header has FORMAT and a sample.
    sample: Option<String>,
    /// The header has no `#CHROM` line, or has a FORMAT column.
    may_have_format: bool,
    /// `##FORMAT=<ID=...>` declarations among [`STAT_KEYS`].
    declared: Vec<String>,
}

impl VcfParser {
    pub fn new(header: Option<&str>, format_ids: &[String]) -> VcfParser {
        let columns: Vec<&str> = header.map(|h| h.split('\t').map(str::trim).collect()).unwrap_or_default();
        let may_have_format = header.is_none() || columns.get(8).is_some_and(|c| c.eq_ignore_ascii_case("FORMAT"));
        VcfParser {
            sample: columns.get(9).filter(|_| may_have_format).map(|s| s.to_string()),
            may_have_format,
            declared: format_ids.iter().filter(|id| STAT_KEYS.contains(&id.as_str())).cloned().collect(),
        }
    }

    pub fn description(&self) -> String {
        let base = "chrom=CHROM pos=POS id=ID effect=ALT other=REF (one variant per ALT allele)";
        let sample = self.sample.as_deref().map(|s| format!(" of sample '{s}'")).unwrap_or_default();
        let has = |k: &str| self.declared.iter().any(|d| d == k);
        if !self.may_have_format {
            format!("{base} beta=none se=none p=none")
        } else if self.declared.is_empty() {
            format!("{base} beta/se/p from FORMAT ES/SE/LP of the first sample when present")
        } else {
            let stat = |k: &str, text: String| if has(k) { text } else { "none".to_string() };
            let p = if has("LP") { "10^-FORMAT/LP".to_string() } else { stat("P", "FORMAT/P".into()) };
            format!(
                "{base} beta={} se={} p={p}{sample}",
                stat("ES", "FORMAT/ES".into()),
                stat("SE", "FORMAT/SE".into())
            )
        }
    }

    /// Parses one non-blank data line: one variant per ALT allele, or one bad row.
    pub fn parse(&self, line: u64, text: &str, out: &mut VecDeque<Record>) {
        if text.starts_with('#') {
            return; // a repeated header (concatenated VCFs)
        }
        let mut f: Vec<&str> = text.splitn(11, '\t').map(str::trim).collect();
        if f.len() < 5 && text.contains(' ') {
            f = text.split_whitespace().take(10).collect();
        }
        let bad = |msg: String, pos: Option<i64>| {
            Record::Bad(BadRow {
                line,
                id: f.get(2).filter(|s| !is_missing_id(s)).map(|s| s.to_string()),
                chrom: f.first().filter(|s| !s.is_empty()).map(|s| s.to_string()),
                pos,
                message: format!("line {line}: {msg}"),
            })
        };
        if f.len() < 5 {
            let msg = format!(
                "{} field(s); a VCF data row needs at least 5 tab-separated columns CHROM POS ID REF ALT",
                f.len()
            );
            out.push_back(bad(msg, None));
            return;
        }
        if f[0].is_empty() {
            out.push_back(bad("CHROM is empty".into(), None));
            return;
        }
        let Ok(pos) = f[1].parse::<i64>() else {
            out.push_back(bad(format!("POS '{}' is not an integer", shown(f[1])), None));
            return;
        };
        let alts: Vec<&str> = f[4].split(',').map(str::trim).collect();
        let stats = match self.stats(&f, alts.len()) {
            Ok(s) => s,
            Err(msg) => {
                out.push_back(bad(msg, Some(pos)));
                return;
            }
        };
        let id = if is_missing_id(f[2]) { stats.id.clone() } else { Some(f[2].to_string()) };
        for (i, alt) in alts.iter().enumerate() {
            let at = |v: &Option<Vec<Option<f64>>>| v.as_ref().and_then(|v| v[i]);
            out.push_back(Record::Variant(RawVariant {
                line,
                id: id.clone(),
                chrom: f[0].to_string(),
                pos,
                effect_allele: alt.to_string(),
                other_allele: f[3].to_string(),
                beta: at(&stats.es),
                se: at(&stats.se),
                pvalue: at(&stats.p_from_lp).or_else(|| at(&stats.p)),
                source: AlleleSource::Vcf,
            }));
        }
    }

    /// Per-ALT statistics from FORMAT/first sample; `Err` names the unparsable value.
    fn stats(&self, f: &[&str], n_alts: usize) -> Result<SampleStats, String> {
        let mut out = SampleStats::default();
        if !self.may_have_format || f.len() < 10 {
            return Ok(out);
        }
        let keys: Vec<&str> = f[8].split(':').collect();
        let values: Vec<&str> = f[9].split('\t').next().unwrap_or("").split(':').collect();
        let get = |key: &str| keys.iter().position(|k| *k == key).and_then(|i| values.get(i)).copied();
        let slots = [&mut out.es, &mut out.se, &mut out.p_from_lp, &mut out.p];
        for ((key, parse), slot) in STAT_KEYS.iter().zip(STAT_PARSERS).zip(slots) {
            if let Some(v) = get(key) {
                *slot = Some(per_alt(key, v, n_alts, parse)?);
            }
        }
        out.id = get("ID").filter(|s| !is_missing_id(s)).map(str::to_string);
        Ok(out)
    }
}

#[derive(Default)]
struct SampleStats {
    es: Option<Vec<Option<f64>>>,
    se: Option<Vec<Option<f64>>>,
    /// 10^-LP.
    p_from_lp: Option<Vec<Option<f64>>>,
    p: Option<Vec<Option<f64>>>,
    id: Option<String>,
}

/// A `Number=A` value: one entry per ALT allele, or a single entry shared by all.
fn per_alt(key: &str, value: &str, n_alts: usize, parse: StatParser) -> Result<Vec<Option<f64>>, String> {
    let parts: Vec<&str> = value.split(',').collect();
    if parts.len() != n_alts && parts.len() != 1 {
        return Err(format!("FORMAT {key} '{}' has {} values for {n_alts} ALT alleles", shown(value), parts.len()));
    }
    let name = format!("FORMAT {key}");
    let parsed = parts.iter().map(|p| parse(&name, p)).collect::<Result<Vec<_>, _>>()?;
    Ok(if parsed.len() == n_alts { parsed } else { vec![parsed[0]; n_alts] })
}

fn is_missing_id(s: &str) -> bool {
    s.is_empty() || s == "." || s.eq_ignore_ascii_case("NA")
}

#[cfg(test)]
mod tests {
    use super::*;

    const GWAS_HEADER: &str = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tEBI-a-GCST005647";

    fn parse(p: &VcfParser, line: u64, text: &str) -> Vec<Record> {
        let mut q = VecDeque::new();
        p.parse(line, text, &mut q);
        q.into_iter().collect()
    }

    fn variants(recs: Vec<Record>) -> Vec<RawVariant> {
        recs.into_iter()
            .map(|r| match r {
                Record::Variant(v) => v,
                Record::Bad(b) => panic!("unexpected bad row: {}", b.message),
            })
            .collect()
    }

    #[test]
    fn multi_allelic_split_and_symbolic_alts() {
        let p = VcfParser::new(Some("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"), &[]);
        let v = variants(parse(&p, 9, "20\t60522\trs1\tT\tTC,A\t100\tPASS\tAC=1"));
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].effect_allele.as_str(), v[1].effect_allele.as_str()), ("TC", "A"));
        assert!(v
            .iter()
            .all(|v| v.line == 9 && v.other_allele == "T" && v.pos == 60522 && v.source == AlleleSource::Vcf));
        assert_eq!((v[0].beta, v[0].pvalue), (None, None));
        let v = variants(parse(&p, 10, "20\t100\t.\tG\t<DEL>,*,.\t.\t.\t."));
        let alts: Vec<&str> = v.iter().map(|v| v.effect_allele.as_str()).collect();
        assert_eq!(alts, ["<DEL>", "*", "."]);
        assert_eq!(v[0].id, None);
        assert!(p.description().contains("beta=none"));
    }

    #[test]
    fn ieu_gwas_vcf_format_stats() {
        let ids: Vec<String> = ["AF", "ES", "ID", "LP", "SE"].iter().map(|s| s.to_string()).collect();
        let p = VcfParser::new(Some(GWAS_HEADER), &ids);
        assert!(p.description().contains("beta=FORMAT/ES se=FORMAT/SE p=10^-FORMAT/LP of sample 'EBI-a-GCST005647'"));
        let text =
            "1\t10583\trs58108140\tG\tA\t.\tPASS\tAF=0.1589\tES:SE:LP:AF:ID\t0.0312:0.0393:0.369267:0.1589:rs58108140";
        let v = variants(parse(&p, 114, text));
        assert_eq!(v.len(), 1);
        assert_eq!((v[0].beta, v[0].se), (Some(0.0312), Some(0.0393)));
        assert!((v[0].pvalue.unwrap() - 10f64.powf(-0.369267)).abs() < 1e-12);
        // Missing VCF ID falls back to FORMAT/ID; per-ALT values for a multi-allelic row.
        let v = variants(parse(&p, 115, "1\t5\t.\tG\tA,T\t.\t.\t.\tES:SE:LP:ID\t0.1,0.2:0.01:.:rs9"));
        assert_eq!((v[0].id.as_deref(), v[1].beta, v[1].se, v[1].pvalue), (Some("rs9"), Some(0.2), Some(0.01), None));
        let r = parse(&p, 116, "1\t5\t.\tG\tA\t.\t.\t.\tES:SE:LP\tx:0.01:2");
        assert!(
            matches!(&r[..], [Record::Bad(b)] if b.message == "line 116: FORMAT ES 'x' is not a number" && b.pos == Some(5))
        );
    }

    #[test]
    fn format_p_and_lp_must_be_p_values() {
        let ids: Vec<String> = ["ES", "SE", "LP", "P"].iter().map(|s| s.to_string()).collect();
        let p = VcfParser::new(Some(GWAS_HEADER), &ids);
        for (stats, why) in [
            ("ES:SE:LP\t0.1:0.01:-1", "FORMAT LP '-1' is negative"),
            ("ES:SE:LP\t0.1:0.01:NaN", "FORMAT LP 'NaN' is NaN"),
            ("ES:SE:LP\t0.1:0.01:-9", "FORMAT LP '-9' is PLINK's missing-value code"),
            ("ES:SE:P\t0.1:0.01:2", "FORMAT P '2' is not a p-value"),
            ("ES:SE:P\t0.1:0.01:-1", "FORMAT P '-1' is not a p-value"),
            ("ES:SE:P\t0.1:0.01:nan", "FORMAT P 'nan' is NaN"),
            ("ES:SE:P\t0.1:0.01:inf", "FORMAT P 'inf' is not a number"),
        ] {
            let r = parse(&p, 20, &format!("1\t5\trs1\tG\tA\t.\t.\t.\t{stats}"));
            assert!(
                matches!(&r[..], [Record::Bad(b)] if b.message.starts_with("line 20: ") && b.message.contains(why)),
                "{stats}: {r:?}"
            );
        }
        // Per-ALT: one bad value makes the row bad; a good row still gives 10^-LP.
        let r = parse(&p, 21, "1\t5\t.\tG\tA,T\t.\t.\t.\tLP\t2,-3");
        assert!(matches!(&r[..], [Record::Bad(b)] if b.message.contains("FORMAT LP '-3' is negative")), "{r:?}");
        let v = variants(parse(&p, 22, "1\t5\t.\tG\tA\t.\t.\t.\tLP\t2"));
        assert!((v[0].pvalue.unwrap() - 0.01).abs() < 1e-15);
    }

    #[test]
    fn genotype_vcf_has_no_stats() {
        let p = VcfParser::new(Some("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tHG00096\tHG00097"), &[]);
        let v = variants(parse(
            &p,
            31,
            "20\t60479\trs149529999\tC\tT\t100\tPASS\tAC=4\tGT:DS:GL\t0|0:0.000:-0.19\t0|1:1:0",
        ));
        assert_eq!((v[0].beta, v[0].se, v[0].pvalue, v[0].id.as_deref()), (None, None, None, Some("rs149529999")));
    }

    #[test]
    fn short_rows_and_bad_pos() {
        let p = VcfParser::new(Some("#CHROM\tPOS\tID\tREF\tALT"), &[]);
        let v = variants(parse(&p, 2, "chr20\t100\trs1\tA\tG"));
        assert_eq!((v[0].chrom.as_str(), v[0].effect_allele.as_str()), ("chr20", "G"));
        let r = parse(&p, 12, "chr20\tabc\trs1\tA\tG");
        assert!(
            matches!(&r[..], [Record::Bad(b)] if b.message == "line 12: POS 'abc' is not an integer" && b.chrom.as_deref() == Some("chr20"))
        );
        let r = parse(&p, 13, "chr20\t100\trs1\tA");
        assert!(matches!(&r[..], [Record::Bad(b)] if b.line == 13 && b.message.contains("4 field(s)")));
        // Space-separated rows are tolerated; repeated header lines are skipped.
        assert_eq!(variants(parse(&p, 14, "chr20 100 rs1 A G")).len(), 1);
        assert!(parse(&p, 15, "#CHROM\tPOS\tID\tREF\tALT").is_empty());
    }
}
