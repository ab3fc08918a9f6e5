//! Row filters of `extract-seqs`: `--region`, `--max-pvalue`, `--top`. Rows that fail to parse are never
//! filtered out (the user must see them); rows removed by a filter are counted in the manifest.

use std::str::FromStr;

use serde::Serialize;

use crate::genome::contigs::canonical;
use crate::variants::Record;

#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    pub chrom: String,
    pub start: i64,
    pub end: i64,
}

impl FromStr for Region {
    type Err = String;

    /// `chr20`, `20:60000-200000`, `chr20:1,000-2,000` (1-based, inclusive, as samtools).
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "region '{s}' is not CHROM, CHROM:START-END or CHROM:POS (1-based, inclusive), e.g. chr20:60000-200000"
            )
        };
        let (chrom, range) = match s.rsplit_once(':') {
            Some((c, r)) => (c, Some(r)),
            None => (s, None),
        };
        if chrom.is_empty() {
            return Err(bad());
        }
        let num = |t: &str| coordinate(t).map_err(|why| format!("region '{s}': {why}"));
        let (start, end) = match range {
            None => (1, i64::MAX),
            Some(r) => match r.split_once('-') {
                Some((a, b)) => (num(a)?, num(b)?),
                None => (num(r)?, num(r)?),
            },
        };
        if start < 1 {
            return Err(format!("region '{s}': the start must be at least 1 (coordinates are 1-based)"));
        }
        if end < start {
            return Err(format!("region '{s}': the end {end} is before the start {start}"));
        }
        Ok(Region { chrom: chrom.to_string(), start, end })
    }
}

/// A 1-based coordinate: `60000`, `60,000` (samtools), or integer-valued scientific notation as in
/// `chr19:44e6-46e6` or `1.5e6`. Computed exactly from the digits (no floating point), so `1.5e0` (not a whole
/// base) is refused rather than rounded.
fn coordinate(text: &str) -> Result<i64, String> {
    let t = text.trim().replace(',', "");
    if let Ok(n) = t.parse::<i64>() {
        return Ok(n);
    }
    let too_large = || format!("'{}' is too large for a position", text.trim());
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(too_large());
    }
    let not_a_number = || format!("'{}' is not a whole number (e.g. 60000, 60,000 or 6e4)", text.trim());
    let (mantissa, exponent) = t.split_once(['e', 'E']).ok_or_else(not_a_number)?;
    let exponent: u32 = exponent.strip_prefix('+').unwrap_or(exponent).parse().map_err(|_| not_a_number())?;
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let fraction = fraction.trim_end_matches('0');
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !digits_only(whole) || !digits_only(fraction) {
        return Err(not_a_number());
    }
    let Some(shift) = exponent.checked_sub(fraction.len() as u32) else {
        return Err(format!("'{}' is not a whole number of bases", text.trim()));
    };
    let digits: i64 = format!("{whole}{fraction}").parse().map_err(|_| too_large())?;
    10i64.checked_pow(shift).and_then(|p| digits.checked_mul(p)).ok_or_else(too_large)
}

impl Region {
    fn contains(&self, chrom: &str, pos: i64) -> bool {
        pos >= self.start && pos <= self.end && same_contig(chrom, &self.chrom)
    }
}

/// [`canonical`] of an upper-case name, as bytes.
fn fold(s: &[u8]) -> &[u8] {
    let s = s.strip_prefix(b"CHR").unwrap_or(s);
    match s {
        b"M" | b"26" => b"MT",
        b"23" => b"X",
        b"24" => b"Y",
        _ => s,
    }
}

/// `canonical(a) == canonical(b)` without allocating for names of up to 32 bytes.
fn same_contig(a: &str, b: &str) -> bool {
    fn short(name: &str, buf: &mut [u8; 32]) -> Option<usize> {
        let t = name.trim().as_bytes();
        let out = buf.get_mut(..t.len())?;
        out.copy_from_slice(t);
        out.make_ascii_uppercase();
        Some(t.len())
    }
    let (mut x, mut y) = ([0u8; 32], [0u8; 32]);
    match (short(a, &mut x), short(b, &mut y)) {
        (Some(n), Some(m)) => fold(&x[..n]) == fold(&y[..m]),
        _ => canonical(a) == canonical(b),
    }
}

#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub region: Option<Region>,
    pub max_pvalue: Option<f64>,
    pub top: Option<usize>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct FilterCounts {
    pub outside_region: u64,
    pub above_max_pvalue: u64,
    pub no_pvalue: u64,
    pub beyond_top: u64,
}

impl FilterCounts {
    pub fn total(&self) -> u64 {
        self.outside_region + self.above_max_pvalue + self.no_pvalue + self.beyond_top
    }

    pub fn add(&mut self, other: &FilterCounts) {
        self.outside_region += other.outside_region;
        self.above_max_pvalue += other.above_max_pvalue;
        self.no_pvalue += other.no_pvalue;
        self.beyond_top += other.beyond_top;
    }
}

impl Filters {
    pub fn needs_pvalue(&self) -> bool {
        self.max_pvalue.is_some() || self.top.is_some()
    }

    /// The streaming part (region, p-value threshold). `false` means drop (and it was counted).
    pub fn keep(&self, rec: &Record, counts: &mut FilterCounts) -> bool {
        let Record::Variant(v) = rec else { return true };
        self.keep_fields(&v.chrom, v.pos, v.pvalue, counts)
    }

    /// [`Filters::keep`] on a variant's fields (no allocation: it runs on every row of the input).
    pub fn keep_fields(&self, chrom: &str, pos: i64, pvalue: Option<f64>, counts: &mut FilterCounts) -> bool {
        if let Some(region) = &self.region {
            if !region.contains(chrom, pos) {
                counts.outside_region += 1;
                return false;
            }
        }
        if self.needs_pvalue() {
            match pvalue {
                None => {
                    counts.no_pvalue += 1;
                    return false;
                }
                Some(p) if self.max_pvalue.is_some_and(|max| p > max) => {
                    counts.above_max_pvalue += 1;
                    return false;
                }
                Some(_) => {}
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variants::{AlleleSource, RawVariant};

    fn var(line: u64, chrom: &str, pos: i64, p: Option<f64>) -> Record {
        Record::Variant(RawVariant {
            line,
            id: None,
            chrom: chrom.into(),
            pos,
            effect_allele: "A".into(),
            other_allele: "G".into(),
            beta: None,
            se: None,
            pvalue: p,
            source: AlleleSource::Table,
        })
    }

    #[test]
    fn regions_parse_like_samtools() {
        assert_eq!(
            "chr20:1,000-2,000".parse::<Region>().unwrap(),
            Region { chrom: "chr20".into(), start: 1000, end: 2000 }
        );
        assert_eq!("20".parse::<Region>().unwrap().end, i64::MAX);
        assert_eq!("20:5".parse::<Region>().unwrap(), Region { chrom: "20".into(), start: 5, end: 5 });
        assert!("20:9-5".parse::<Region>().is_err());
        assert!(":1-2".parse::<Region>().is_err());
        assert!("20:a-b".parse::<Region>().is_err());
    }

    #[test]
    fn region_coordinates_in_integer_scientific_notation() {
        let r = |s: &str| s.parse::<Region>().map(|r| (r.start, r.end));
        assert_eq!(r("20:1e5-2e5"), Ok((100_000, 200_000)));
        assert_eq!(r("chr19:44e6-46e6"), Ok((44_000_000, 46_000_000)), "the README's example");
        assert_eq!(r("1:1.5e6-2.25E+6"), Ok((1_500_000, 2_250_000)));
        assert_eq!(r("1:1.50e1"), Ok((15, 15)));
        assert_eq!(r("1:1e0-9"), Ok((1, 9)));
        for (bad, why) in [
            ("1:1.5e0-9", "'1.5e0' is not a whole number of bases"),
            ("1:1-2.5e-1", "'2.5e-1' is not a whole number"),
            ("1:1e-3-5", "'1e' is not a whole number"),
            ("1:1-1e30", "'1e30' is too large for a position"),
            ("1:1-99999999999999999999", "too large for a position"),
            ("1:e5-9", "'e5' is not a whole number"),
            ("1:1.5-9", "'1.5' is not a whole number"),
            ("1:0x10-20", "'0x10' is not a whole number"),
            ("1:5-2", "the end 2 is before the start 5"),
            ("1:0-2", "the start must be at least 1"),
            ("1:nan-inf", "'nan' is not a whole number"),
        ] {
            let err = r(bad).unwrap_err();
            assert!(err.contains(why) && err.contains(&format!("region '{bad}'")), "{bad}: {err}");
        }
    }

    #[test]
    fn region_and_pvalue_filters_count_what_they_drop() {
        let f = Filters { region: Some("chr20:100-200".parse().unwrap()), max_pvalue: Some(0.01), top: None };
        let mut c = FilterCounts::default();
        assert!(f.keep(&var(1, "20", 150, Some(0.001)), &mut c));
        assert!(!f.keep(&var(2, "20", 250, Some(0.001)), &mut c));
        assert!(!f.keep(&var(3, "21", 150, Some(0.001)), &mut c));
        assert!(!f.keep(&var(4, "chr20", 150, Some(0.5)), &mut c));
        assert!(!f.keep(&var(5, "chr20", 150, None), &mut c));
        let f = Filters { region: Some("chrM".parse().unwrap()), max_pvalue: None, top: None };
        for (chrom, same) in [("MT", true), ("26", true), ("chrm", true), (" M ", true), ("chrMT", true), ("1", false)]
        {
            assert_eq!(f.keep(&var(6, chrom, 1, None), &mut c), same, "{chrom}");
            assert_eq!(same_contig(chrom, "chrM"), canonical(chrom) == canonical("chrM"));
        }
        let long = "x".repeat(40);
        assert!(same_contig(&long, &long.to_uppercase()) && !same_contig(&long, "x"));
        assert_eq!(c, FilterCounts { outside_region: 3, above_max_pvalue: 1, no_pvalue: 1, beyond_top: 0 });
    }
}
