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
    /// REF or ALT longer than `--max-allele-len`: not scored.
    AlleleTooLong,
    InvalidAllele,
    ContigNotInGenome,
    PositionOutOfRange,
    ParseError,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Ok,
        Status::RefMismatch,
        Status::AlleleTooLong,
        Status::InvalidAllele,
        Status::ContigNotInGenome,
        Status::PositionOutOfRange,
        Status::ParseError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::RefMismatch => "ref_mismatch",
            Status::AlleleTooLong => "allele_too_long",
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

/// Alleles as REF/ALT (before normalisation), with how they relate to the input's effect/other alleles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oriented {
    pub ref_allele: Vec<u8>,
    pub alt: Vec<u8>,
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

/// Checks that both alleles are A/C/G/T sequences (case-insensitive) of at most `max_len` bases and differ;
/// returns them upper-cased as (effect, other). Anything else (`<DEL>`, `*`, `N`, `I/D` codes, empty, equal
/// alleles) is `invalid_allele`; a longer allele is `allele_too_long`.
pub fn check_alleles(effect: &str, other: &str, max_len: usize) -> Result<(Vec<u8>, Vec<u8>), Rejection> {
    let (e, o) = (effect.trim(), other.trim());
    let acgt = |s: &str| !s.is_empty() && s.bytes().all(|b| is_base(b.to_ascii_uppercase()));
    if !(acgt(e) && acgt(o)) {
        let why = [e, o].into_iter().find_map(non_base_allele).unwrap_or("");
        let shown = |s: &str| {
            if s.len() > 40 {
                format!("{}...({} characters)", &s[..s.floor_char_boundary(20)], s.len())
            } else {
                s.to_string()
            }
        };
        return Err(reject(
            Status::InvalidAllele,
            format!("alleles '{}'/'{}' are not A, C, G or T{why}", shown(other), shown(effect)),
        ));
    }
    if let Some(long) = [e, o].into_iter().map(str::len).filter(|&n| n > max_len).max() {
        return Err(reject(
            Status::AlleleTooLong,
            format!(
                "an allele of {long} bases is longer than --max-allele-len {max_len}; raise it to score this variant"
            ),
        ));
    }
    let (e, o) = (e.to_ascii_uppercase().into_bytes(), o.to_ascii_uppercase().into_bytes());
    if e == o {
        return Err(reject(Status::InvalidAllele, format!("both alleles are '{}'", String::from_utf8_lossy(&e))));
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

fn complement_set(a: &[u8], b: &[u8]) -> bool {
    let rc = crate::normalize::reverse_complement;
    (rc(a) == b && rc(b) == a) || (rc(a) == a && rc(b) == b)
}

/// A pair of alleles that reads the same on the other strand (A/T, C/G; for longer alleles: each is the
/// other's reverse complement, or each its own): the genome cannot tell it from a strand flip.
pub fn is_ambiguous_pair(a: &[u8], b: &[u8]) -> bool {
    complement_set(a, b)
}

/// Orients upper-case alleles against `genome`, the genome's bases from the variant position on (at least as
/// many as the longer allele; `N` past the contig end). VCF: REF (`other`) must equal the genome over its
/// whole length. Tables: the allele whose full sequence equals the genome is the ref; when both do (T vs TGGA
/// where the genome reads TGGA), the longer one.
pub fn orient(effect: &[u8], other: &[u8], genome: &[u8], source: AlleleSource) -> Result<Oriented, Rejection> {
    let ambiguous_strand = is_ambiguous_pair(effect, other);
    let matches = |allele: &[u8]| genome.get(..allele.len()) == Some(allele);
    let shown = |a: &[u8]| String::from_utf8_lossy(a).into_owned();
    let g = |n: usize| shown(&genome[..n.min(genome.len())]);
    let as_is = || Oriented { ref_allele: other.to_vec(), alt: effect.to_vec(), flipped: false, ambiguous_strand };
    let flipped = || Oriented { ref_allele: effect.to_vec(), alt: other.to_vec(), flipped: true, ambiguous_strand };
    match source {
        AlleleSource::Vcf if matches(other) => Ok(as_is()),
        AlleleSource::Vcf => Err(reject(
            Status::RefMismatch,
            format!(
                "VCF REF '{}' but the genome has '{}' (is the genome the same build as the input?)",
                shown(other),
                g(other.len())
            ),
        )),
        AlleleSource::Table => match (matches(effect), matches(other)) {
            (true, true) if effect.len() > other.len() => Ok(flipped()),
            (_, true) => Ok(as_is()),
            (true, false) => Ok(flipped()),
            (false, false) => {
                let n = effect.len().max(other.len());
                let genome_says = if n == 1 {
                    format!("the genome base '{}'", g(1))
                } else {
                    format!("the genome, which reads '{}' there", g(n))
                };
                Err(reject(
                    Status::RefMismatch,
                    format!(
                        "neither allele ({}/{}) matches {genome_says} (is the genome the same build as the input?)",
                        shown(effect),
                        shown(other)
                    ),
                ))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AlleleSource::*;

    fn o(effect: &str, other: &str, genome: &str, source: AlleleSource) -> Result<(String, String, bool), Status> {
        orient(effect.as_bytes(), other.as_bytes(), genome.as_bytes(), source)
            .map(|o| (String::from_utf8(o.ref_allele).unwrap(), String::from_utf8(o.alt).unwrap(), o.flipped))
            .map_err(|r| r.status)
    }

    #[test]
    fn every_snv_orientation_case() {
        let ok = |r: &str, a: &str, f: bool| Ok((r.to_string(), a.to_string(), f));
        // Other allele is the reference: not flipped; effect allele is the reference: flipped.
        assert_eq!(o("A", "G", "G", Table), ok("G", "A", false));
        assert_eq!(o("A", "G", "A", Table), ok("A", "G", true));
        // A/T and C/G pairs are scored but flagged.
        assert!(orient(b"A", b"T", b"T", Table).unwrap().ambiguous_strand);
        assert!(orient(b"C", b"G", b"C", Table).unwrap().ambiguous_strand);
        assert!(orient(b"G", b"C", b"C", Vcf).unwrap().ambiguous_strand);
        assert!(!orient(b"A", b"G", b"G", Vcf).unwrap().ambiguous_strand);
        // Neither allele matches: not rescued by complementing (A/G on a T base would be C/T on the other strand).
        assert_eq!(o("A", "G", "T", Table), Err(Status::RefMismatch));
        assert_eq!(o("A", "G", "N", Table), Err(Status::RefMismatch));
        // VCF: REF must be the genome base, even when ALT happens to match it.
        assert_eq!(o("T", "C", "C", Vcf), ok("C", "T", false));
        assert_eq!(o("C", "T", "C", Vcf), Err(Status::RefMismatch));
    }

    #[test]
    fn indel_orientation_checks_the_whole_allele() {
        let ok = |r: &str, a: &str, f: bool| Ok((r.to_string(), a.to_string(), f));
        // Kunkle writes T/TGGA: where the genome reads TGGA both match and the longer one is the ref.
        assert_eq!(o("T", "TGGA", "TGGAC", Table), ok("TGGA", "T", false));
        assert_eq!(o("TGGA", "T", "TGGAC", Table), ok("TGGA", "T", true));
        // Where it reads TGCA only T matches: an insertion of GGA.
        assert_eq!(o("TGGA", "T", "TGCAC", Table), ok("T", "TGGA", false));
        assert_eq!(o("T", "TGGA", "TGCAC", Table), ok("T", "TGGA", true));
        // VCF REF is checked over its whole length; past the contig end the genome reads N.
        assert_eq!(o("C", "CTT", "CTTA", Vcf), ok("CTT", "C", false));
        assert_eq!(o("C", "CTA", "CTTA", Vcf), Err(Status::RefMismatch));
        assert_eq!(o("C", "CTT", "CTN", Vcf), Err(Status::RefMismatch));
        // Reverse-complement pairs are strand-ambiguous, other pairs are not.
        assert!(
            is_ambiguous_pair(b"AC", b"GT") && is_ambiguous_pair(b"AT", b"GC") && !is_ambiguous_pair(b"T", b"TGGA")
        );
    }

    #[test]
    fn allele_classes() {
        let c = |e: &str, o: &str| check_alleles(e, o, 10);
        assert_eq!(c("a", "g").unwrap(), (b"A".to_vec(), b"G".to_vec()));
        assert_eq!(c("TGGA", "t").unwrap(), (b"TGGA".to_vec(), b"T".to_vec()));
        assert_eq!(c(&"A".repeat(11), "A").unwrap_err().status, Status::AlleleTooLong);
        assert!(c("A", &"C".repeat(11)).unwrap_err().detail.contains("--max-allele-len 10"));
        for (e, o) in [
            ("<DEL>", "A"),
            ("*", "C"),
            ("N", "A"),
            ("I", "D"),
            ("", "A"),
            ("A", "A"),
            (".", "G"),
            ("R", "A"),
            ("ACN", "A"),
        ] {
            assert_eq!(c(e, o).unwrap_err().status, Status::InvalidAllele, "{e}/{o}");
        }
        let detail = |e: &str, o: &str| c(e, o).unwrap_err().detail;
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
