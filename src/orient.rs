//! Allele orientation against the genome, and the per-variant status vocabulary.
//!
//! GWAS tables give an effect and a non-effect allele, not REF/ALT. The allele equal to the genome base is
//! `ref`, the other `alt`; `flipped` records that the effect allele is the reference (a positive beta then
//! means the alt allele lowers the trait). A/T and C/G pairs are flagged `ambiguous_strand`: the genome cannot
//! tell them from a strand flip. Neither allele matching: `ref_mismatch`, not scored, never "rescued" by
//! complementing. A VCF's REF must itself equal the genome base.

use crate::variants::AlleleSource;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    Ok,
    RefMismatch,
    IndelUnsupported,
    InvalidAllele,
    ContigNotInGenome,
    PositionOutOfRange,
    ParseError,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Ok,
        Status::RefMismatch,
        Status::IndelUnsupported,
        Status::InvalidAllele,
        Status::ContigNotInGenome,
        Status::PositionOutOfRange,
        Status::ParseError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::RefMismatch => "ref_mismatch",
            Status::IndelUnsupported => "indel_unsupported",
            Status::InvalidAllele => "invalid_allele",
            Status::ContigNotInGenome => "contig_not_in_genome",
            Status::PositionOutOfRange => "position_out_of_range",
            Status::ParseError => "parse_error",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Oriented {
    pub ref_base: u8,
    pub alt_base: u8,
    pub flipped: bool,
    pub ambiguous_strand: bool,
}

/// A variant that is not scored: its status and a sentence for the `status_detail` column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: Status,
    pub detail: String,
}

fn reject(status: Status, detail: String) -> Rejection {
    Rejection { status, detail }
}

fn is_base(b: u8) -> bool {
    matches!(b, b'A' | b'C' | b'G' | b'T')
}

/// Checks that both alleles are single A/C/G/T bases (case-insensitive) and returns them upper-cased.
/// Multi-base A/C/G/T alleles (indels, MNVs) are `indel_unsupported`; anything else (`<DEL>`, `*`, `N`, `I/D`
/// codes, empty, equal alleles) is `invalid_allele`.
pub fn snv_alleles(effect: &str, other: &str) -> Result<(u8, u8), Rejection> {
    let e = effect.trim().to_ascii_uppercase();
    let o = other.trim().to_ascii_uppercase();
    let acgt = |s: &str| !s.is_empty() && s.bytes().all(is_base);
    if acgt(&e) && acgt(&o) && (e.len() > 1 || o.len() > 1) {
        return Err(reject(
            Status::IndelUnsupported,
            format!("{o}/{e} is not a single-base substitution; only SNVs are scored for now"),
        ));
    }
    if !(acgt(&e) && acgt(&o)) {
        let why = [effect.trim(), other.trim()].into_iter().find_map(non_base_allele).unwrap_or("");
        return Err(reject(Status::InvalidAllele, format!("alleles '{other}'/'{effect}' are not A, C, G or T{why}")));
    }
    let (e, o) = (e.as_bytes()[0], o.as_bytes()[0]);
    if e == o {
        return Err(reject(Status::InvalidAllele, format!("both alleles are '{}'", e as char)));
    }
    Ok((e, o))
}

/// What a non-base allele written by VCF tools means, for the `status_detail` sentence.
fn non_base_allele(allele: &str) -> Option<&'static str> {
    if allele.starts_with('<') && allele.ends_with('>') {
        Some(": a symbolic allele (structural variant such as <DEL>) has no base sequence to score")
    } else if allele == "*" {
        Some(": '*' stands for an allele removed by an overlapping deletion and has no base to score")
    } else if allele == "." {
        Some(": '.' is a missing allele (a monomorphic site) and has nothing to score")
    } else if allele.contains(['[', ']']) {
        Some(": a breakend allele (structural variant) has no base sequence to score")
    } else {
        None
    }
}

pub fn is_ambiguous_pair(a: u8, b: u8) -> bool {
    matches!((a, b), (b'A', b'T') | (b'T', b'A') | (b'C', b'G') | (b'G', b'C'))
}

/// Orients upper-case SNV alleles against the genome base at the variant position.
pub fn orient(effect: u8, other: u8, genome_base: u8, source: AlleleSource) -> Result<Oriented, Rejection> {
    let ambiguous_strand = is_ambiguous_pair(effect, other);
    let g = genome_base as char;
    match source {
        AlleleSource::Vcf if other == genome_base => {
            Ok(Oriented { ref_base: other, alt_base: effect, flipped: false, ambiguous_strand })
        }
        AlleleSource::Vcf => Err(reject(
            Status::RefMismatch,
            format!(
                "VCF REF '{}' but the genome has '{g}' (is the genome the same build as the input?)",
                other as char
            ),
        )),
        AlleleSource::Table if other == genome_base => {
            Ok(Oriented { ref_base: other, alt_base: effect, flipped: false, ambiguous_strand })
        }
        AlleleSource::Table if effect == genome_base => {
            Ok(Oriented { ref_base: effect, alt_base: other, flipped: true, ambiguous_strand })
        }
        AlleleSource::Table => Err(reject(
            Status::RefMismatch,
            format!(
                "neither allele ({}/{}) matches the genome base '{g}' (is the genome the same build as the input?)",
                effect as char, other as char
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AlleleSource::*;

    #[test]
    fn every_orientation_case() {
        // Other allele is the reference: not flipped.
        assert_eq!(
            orient(b'A', b'G', b'G', Table).unwrap(),
            Oriented { ref_base: b'G', alt_base: b'A', flipped: false, ambiguous_strand: false }
        );
        // Effect allele is the reference: flipped.
        assert_eq!(
            orient(b'A', b'G', b'A', Table).unwrap(),
            Oriented { ref_base: b'A', alt_base: b'G', flipped: true, ambiguous_strand: false }
        );
        // A/T and C/G pairs are scored but flagged.
        assert!(orient(b'A', b'T', b'T', Table).unwrap().ambiguous_strand);
        assert!(orient(b'C', b'G', b'C', Table).unwrap().ambiguous_strand);
        assert!(orient(b'G', b'C', b'C', Vcf).unwrap().ambiguous_strand);
        // Neither allele matches: not rescued by complementing (A/G on a T base would be C/T on the other strand).
        assert_eq!(orient(b'A', b'G', b'T', Table).unwrap_err().status, Status::RefMismatch);
        assert_eq!(orient(b'A', b'G', b'N', Table).unwrap_err().status, Status::RefMismatch);
        // VCF: REF must be the genome base, even when ALT happens to match it.
        assert_eq!(
            orient(b'T', b'C', b'C', Vcf).unwrap(),
            Oriented { ref_base: b'C', alt_base: b'T', flipped: false, ambiguous_strand: false }
        );
        assert_eq!(orient(b'C', b'T', b'C', Vcf).unwrap_err().status, Status::RefMismatch);
    }

    #[test]
    fn allele_classes() {
        assert_eq!(snv_alleles("a", "g").unwrap(), (b'A', b'G'));
        assert_eq!(snv_alleles("TGGA", "T").unwrap_err().status, Status::IndelUnsupported);
        assert_eq!(snv_alleles("AC", "GT").unwrap_err().status, Status::IndelUnsupported);
        for (e, o) in
            [("<DEL>", "A"), ("*", "C"), ("N", "A"), ("I", "D"), ("", "A"), ("A", "A"), (".", "G"), ("R", "A")]
        {
            assert_eq!(snv_alleles(e, o).unwrap_err().status, Status::InvalidAllele, "{e}/{o}");
        }
        let detail = |e: &str, o: &str| snv_alleles(e, o).unwrap_err().detail;
        assert_eq!(
            detail("<DEL>", "G"),
            "alleles 'G'/'<DEL>' are not A, C, G or T: a symbolic allele (structural variant such as <DEL>) has no \
             base sequence to score"
        );
        assert!(detail("*", "G").contains("overlapping deletion"));
        assert!(detail(".", "G").contains("missing allele"));
        assert!(detail("G]17:198982]", "G").contains("breakend"));
        assert_eq!(detail("N", "G"), "alleles 'G'/'N' are not A, C, G or T");
    }
}
