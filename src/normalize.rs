//! Allele normalisation against the genome, as `bcftools norm -f GENOME` does (Tan et al. 2015,
//! conventions.md "Indels and multi-base substitutions"): trim shared last bases, re-anchoring on the genome
//! base to the left whenever an allele becomes empty (this is what moves an indel to the left end of a
//! repeat), then drop shared first bases while both alleles are longer than one base.

use std::collections::VecDeque;

/// How alleles are normalised, for the outputs' metadata.
pub const DESCRIPTION: &str = "bcftools norm -f: trimmed and left-aligned against the genome (Tan et al. 2015); position as given kept in pos, normalised in norm_pos";

/// What kind of change a normalised REF → ALT is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariantType {
    Snv,
    /// Same length, more than one base.
    Mnv,
    /// One anchor base → the anchor plus inserted bases.
    Insertion,
    /// The anchor plus deleted bases → one anchor base.
    Deletion,
    /// Lengths differ and neither side is a single anchor base (e.g. AC → TGG).
    Complex,
}

impl VariantType {
    pub const ALL: [VariantType; 5] =
        [VariantType::Snv, VariantType::Mnv, VariantType::Insertion, VariantType::Deletion, VariantType::Complex];

    pub fn as_str(self) -> &'static str {
        match self {
            VariantType::Snv => "snv",
            VariantType::Mnv => "mnv",
            VariantType::Insertion => "insertion",
            VariantType::Deletion => "deletion",
            VariantType::Complex => "complex",
        }
    }

    /// The type of a normalised allele pair (trimmed: no shared last base, no shared first base unless one
    /// allele is a single anchor base).
    pub fn of(ref_allele: &[u8], alt: &[u8]) -> VariantType {
        match (ref_allele.len(), alt.len()) {
            (1, 1) => VariantType::Snv,
            (m, n) if m == n => VariantType::Mnv,
            (1, _) if ref_allele[0] == alt[0] => VariantType::Insertion,
            (_, 1) if ref_allele[0] == alt[0] => VariantType::Deletion,
            _ => VariantType::Complex,
        }
    }
}

/// A normalised variant: `pos0` is the 0-based genome position of the first REF base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    pub pos0: u64,
    pub ref_allele: Vec<u8>,
    pub alt: Vec<u8>,
}

/// Normalises REF → ALT at 0-based `pos0`. The REF must already have been checked against the genome;
/// `base_before(i)` returns the genome base at 0-based `i` (only asked for `i < pos0`, moving left). At the
/// contig start there is no base to re-anchor on, so trimming stops before an allele would become empty.
/// Alleles must be distinct and non-empty.
pub fn normalize<E>(
    pos0: u64,
    ref_allele: &[u8],
    alt: &[u8],
    mut base_before: impl FnMut(u64) -> Result<u8, E>,
) -> Result<Normalized, E> {
    let mut r: VecDeque<u8> = ref_allele.iter().copied().collect();
    let mut a: VecDeque<u8> = alt.iter().copied().collect();
    let mut p = pos0;
    loop {
        let same_last = r.back() == a.back() && !(r.len() == 1 && a.len() == 1);
        if !same_last || (p == 0 && (r.len() == 1 || a.len() == 1)) {
            break;
        }
        r.pop_back();
        a.pop_back();
        if r.is_empty() || a.is_empty() {
            p -= 1;
            let b = base_before(p)?;
            r.push_front(b);
            a.push_front(b);
        }
    }
    while r.len() > 1 && a.len() > 1 && r.front() == a.front() {
        r.pop_front();
        a.pop_front();
        p += 1;
    }
    Ok(Normalized { pos0: p, ref_allele: r.into(), alt: a.into() })
}

/// Reverse complement (A↔T, C↔G, anything else to N): the other strand read 5′ to 3′.
pub fn reverse_complement(seq: &[u8]) -> Vec<u8> {
    seq.iter()
        .rev()
        .map(|&b| match b {
            b'A' => b'T',
            b'T' => b'A',
            b'C' => b'G',
            b'G' => b'C',
            _ => b'N',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(genome: &str, pos1: u64, r: &str, a: &str) -> (u64, String, String) {
        let g = genome.as_bytes();
        assert_eq!(&g[pos1 as usize - 1..pos1 as usize - 1 + r.len()], r.as_bytes(), "test REF matches genome");
        let n = normalize(pos1 - 1, r.as_bytes(), a.as_bytes(), |i| Ok::<u8, ()>(g[i as usize])).unwrap();
        (n.pos0 + 1, String::from_utf8(n.ref_allele).unwrap(), String::from_utf8(n.alt).unwrap())
    }

    #[test]
    fn already_normalised_variants_stay() {
        let g = "GATTACAGATTACA";
        assert_eq!(norm(g, 2, "A", "C"), (2, "A".into(), "C".into()));
        assert_eq!(norm(g, 2, "AT", "A"), (2, "AT".into(), "A".into()));
        assert_eq!(norm(g, 5, "A", "AGG"), (5, "A".into(), "AGG".into()));
        assert_eq!(norm(g, 2, "ATT", "GCC"), (2, "ATT".into(), "GCC".into()));
    }

    #[test]
    fn indels_move_to_the_left_end_of_repeats() {
        // Homopolymer: inserting a T written at the right end of the TT run goes to the base before the run.
        let g = "GCATTTTGC";
        assert_eq!(norm(g, 7, "T", "TT"), (3, "A".into(), "AT".into()));
        // Deleting one T of the run, written at the right end.
        assert_eq!(norm(g, 6, "TT", "T"), (3, "AT".into(), "A".into()));
        // Dinucleotide repeat CACACA: a CA deletion written right-shifted.
        let g = "GTCACACAGG";
        assert_eq!(norm(g, 6, "ACA", "A"), (2, "TCA".into(), "T".into()));
    }

    #[test]
    fn shared_bases_are_trimmed_on_both_sides() {
        let g = "GGACGTTGA";
        // VCF-style padding on both ends: ACGT -> AGT is a deletion of C anchored on A.
        assert_eq!(norm(g, 3, "ACGT", "AGT"), (3, "AC".into(), "A".into()));
        // An MNV written with a shared first and last base.
        assert_eq!(norm(g, 3, "ACGT", "ATTT"), (4, "CG".into(), "TT".into()));
        // A SNV written with context.
        assert_eq!(norm(g, 3, "ACG", "ATG"), (4, "C".into(), "T".into()));
    }

    #[test]
    fn the_contig_start_stops_the_left_shift() {
        let g = "AAAAC";
        assert_eq!(norm(g, 3, "A", "AA"), (1, "A".into(), "AA".into()));
        assert_eq!(norm(g, 2, "AA", "A"), (1, "AA".into(), "A".into()));
    }

    #[test]
    fn types_and_reverse_complement() {
        use VariantType::*;
        let t = |r: &str, a: &str| VariantType::of(r.as_bytes(), a.as_bytes());
        assert_eq!(
            [t("A", "G"), t("AC", "GT"), t("A", "AT"), t("AT", "A"), t("AC", "TGG")],
            [Snv, Mnv, Insertion, Deletion, Complex]
        );
        assert_eq!(reverse_complement(b"AACGTN"), b"NACGTT");
    }
}
