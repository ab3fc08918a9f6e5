//! A window that is a substitution of another window (its *base*): same length, equal outside a short span.
//!
//! An SNV's or MNV's alt window is a substitution of its reference window, and so is every reverse-complemented
//! or shifted alt window of its own reverse-complemented or shifted reference. With a split model, predict
//! computes such a window's conv-tower output from its base's by recomputing only the positions the span can
//! reach. extract-seqs finds the span (it has both windows at hand) and writes it beside the window, with the
//! base's bytes over the span, so predict can rebuild the base when it is not at hand and never compares
//! sequences itself.

/// Spans longer than this are not worth patching (the patch would approach the whole tower); such windows are
/// computed in full. 4,096 bp covers every substitution up to the default `--max-allele-len` of 1,000.
pub const MAX_SPAN: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Substitution {
    /// The base window's key.
    pub base_seq_id: String,
    /// Window index of the span's first base.
    pub offset: usize,
    /// The base window's bytes over the span (the derived window has other bytes there).
    pub base_bases: Vec<u8>,
}

impl Substitution {
    /// The span where `window` differs from `base`, when both are the same length, differ at all, and the span
    /// is at most [`MAX_SPAN`] bases.
    pub fn between(base_seq_id: &str, base: &[u8], window: &[u8]) -> Option<Substitution> {
        if base.len() != window.len() {
            return None;
        }
        let first = base.iter().zip(window).position(|(a, b)| a != b)?;
        let last = base.len() - 1 - base.iter().rev().zip(window.iter().rev()).position(|(a, b)| a != b)?;
        (last + 1 - first <= MAX_SPAN).then(|| Substitution {
            base_seq_id: base_seq_id.to_string(),
            offset: first,
            base_bases: base[first..=last].to_vec(),
        })
    }

    /// Window indices of the span.
    pub fn span(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.base_bases.len()
    }

    /// Whether `base` is the base window of `window` by this substitution: same length, equal outside the span,
    /// and `base` holds [`Substitution::base_bases`] over it. Compares in place (no copy of the window).
    pub fn relates(&self, base: &[u8], window: &[u8]) -> bool {
        let span = self.span();
        base.len() == window.len()
            && span.end <= base.len()
            && base[span.clone()] == self.base_bases[..]
            && base[..span.start] == window[..span.start]
            && base[span.end..] == window[span.end..]
    }

    /// The base window rebuilt from the derived one; None when the span does not fit in it (a corrupt table).
    pub fn base_window(&self, window: &[u8]) -> Option<Vec<u8>> {
        let span = self.span();
        if self.base_bases.is_empty() || span.end > window.len() {
            return None;
        }
        let mut base = window.to_vec();
        base[span].copy_from_slice(&self.base_bases);
        Some(base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_span_is_where_the_windows_differ_and_the_base_is_rebuilt() {
        let s = Substitution::between("k", b"ACGTACGT", b"ACTTAGGT").unwrap();
        assert_eq!((s.offset, s.base_bases.as_slice(), s.span()), (2, &b"GTAC"[..], 2..6));
        assert_eq!(s.base_window(b"ACTTAGGT").unwrap(), b"ACGTACGT");
        assert!(s.base_window(b"ACG").is_none(), "a span beyond the window is refused, not a panic");
        assert!(s.relates(b"ACGTACGT", b"ACTTAGGT") && s.relates(b"ACGTACGT", b"ACAAAAGT"));
        assert!(!s.relates(b"ACGTACGA", b"ACTTAGGT") && !s.relates(b"ACGAACGT", b"ACTTAGGT"));
        assert!(!s.relates(b"ACGT", b"ACTT") && !s.relates(b"ACGTACGT", b"ACTTAGGTA"), "lengths, no panic");
        assert!(Substitution::between("k", b"ACGT", b"ACGT").is_none(), "equal windows");
        assert!(Substitution::between("k", b"ACGT", b"ACG").is_none(), "different lengths");
        let (a, mut b) = (vec![b'A'; 10_000], vec![b'A'; 10_000]);
        b[10] = b'C';
        b[10 + MAX_SPAN] = b'C';
        assert!(Substitution::between("k", &a, &b).is_none(), "too long a span");
        b[10 + MAX_SPAN] = b'A';
        b[9 + MAX_SPAN] = b'C';
        assert_eq!(Substitution::between("k", &a, &b).unwrap().span(), 10..10 + MAX_SPAN);
    }
}
