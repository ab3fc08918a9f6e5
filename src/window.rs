//! Window arithmetic and the sequence key.
//!
//! Convention (shared/conventions.md): for a window of even length L, the variant's base sits at 0-based index
//! `L/2 - 1` of the window, so `window_start (0-based) = pos (1-based) - L/2`. For L = 196,608 that is index
//! 98,303 and output bin 447. The key of a window (`seq_id`) is the lower-case hex SHA-256 of its exact bytes,
//! which is what the legacy Python tool computed with `hashlib.sha256(seq.encode()).hexdigest()`.

use std::ops::Range;

use sha2::{Digest, Sha256};

pub const DEFAULT_WINDOW: usize = 196_608;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec {
    len: usize,
}

impl WindowSpec {
    pub fn new(len: usize) -> Result<Self, String> {
        if len < 2 || !len.is_multiple_of(2) {
            return Err(format!("window length must be even and at least 2, got {len}"));
        }
        Ok(WindowSpec { len })
    }

    #[allow(clippy::len_without_is_empty)] // a window is never empty (checked in `new`)
    pub fn len(&self) -> usize {
        self.len
    }

    /// 0-based genome coordinate of the window's first base, for a 1-based variant position.
    pub fn start(&self, pos_1based: i64) -> i64 {
        pos_1based - (self.len / 2) as i64
    }

    /// Index of the variant's base inside the window.
    pub fn center_index(&self) -> usize {
        self.len / 2 - 1
    }
}

impl Default for WindowSpec {
    fn default() -> Self {
        WindowSpec { len: DEFAULT_WINDOW }
    }
}

/// Output bins are 128 bp wide and centred in the window (Enformer crops 320 of 1,536 bins per side).
pub const BIN_SIZE: usize = 128;

/// Where a model's output bins sit in the window: the one place for the variant bin, the stitch bin and the
/// centre bins (conventions.md: bin b covers window bases [offset + 128·b, offset + 128·(b+1)), offset =
/// (L − 128·bins) / 2; the variant's first base is at window index L/2 − 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputGeometry {
    window: usize,
    bins: usize,
}

impl OutputGeometry {
    /// `bins` output bins of 128 bp centred in a window of `window` bp.
    pub fn new(window: usize, bins: usize) -> Result<Self, String> {
        if bins == 0 || bins.checked_mul(BIN_SIZE).is_none_or(|covered| covered > window) {
            return Err(format!("{bins} output bins of {BIN_SIZE} bp do not fit in a {window}-bp window"));
        }
        Ok(OutputGeometry { window, bins })
    }

    /// Enformer: 896 bins over the central 114,688 bp of 196,608.
    pub fn enformer() -> Self {
        OutputGeometry { window: DEFAULT_WINDOW, bins: 896 }
    }

    pub fn bins(&self) -> usize {
        self.bins
    }

    pub fn window(&self) -> usize {
        self.window
    }

    /// Window index of the first base of bin 0.
    pub fn offset(&self) -> usize {
        (self.window - self.bins * BIN_SIZE) / 2
    }

    /// The bin holding the variant's (first) base at window index L/2 − 1: 447 for Enformer.
    pub fn variant_bin(&self) -> usize {
        ((self.window / 2 - 1).saturating_sub(self.offset()) / BIN_SIZE).min(self.bins - 1)
    }

    /// The first bin that lies wholly downstream of the variant's first base (window index L/2 − 1): the
    /// stitched alt prediction takes bins [0, c) from A and [c, bins) from A′. 448 for Enformer.
    pub fn stitch_bin(&self) -> usize {
        stitch_bin_for(self.bins)
    }

    /// The `k` bins whose centres are nearest the variant's base (ties to the lower bin), as a range.
    pub fn center_bins(&self, k: usize) -> Range<usize> {
        let bins = self.bins;
        let k = k.clamp(1, bins);
        let offset = self.offset();
        let pos = (self.window / 2 - 1) as f64 + 0.5;
        let dist = |b: usize| ((offset + b * BIN_SIZE) as f64 + BIN_SIZE as f64 / 2.0 - pos).abs();
        let (mut lo, mut hi) = (self.variant_bin(), self.variant_bin() + 1);
        while hi - lo < k {
            let take_lo = lo > 0 && (hi == bins || dist(lo - 1) <= dist(hi));
            if take_lo {
                lo -= 1;
            } else {
                hi += 1;
            }
        }
        lo..hi
    }

    /// Bins of a reverse-complemented window, seen from the forward window (b ↔ bins − 1 − b).
    pub fn mirror(&self, bins: Range<usize>) -> Range<usize> {
        (self.bins - bins.end)..(self.bins - bins.start)
    }
}

/// The stitch bin depends on the bin count only: bins are centred, so L/2 − offset = 64·bins and the first
/// bin starting at or after L/2 is ⌈bins/2⌉. With an even count, flipping the bins maps [0, c) onto [c, bins).
pub fn stitch_bin_for(bins: usize) -> usize {
    bins.div_ceil(2)
}

pub fn seq_id(window: &[u8]) -> String {
    hex::encode(Sha256::digest(window))
}

/// Keys of the reference window and of the same window with `alt` written over the bases from `center` on
/// (a substitution: same length). The bytes before the variant are shared, so the hasher state after them is
/// computed once and cloned: 1.5 windows hashed instead of 2.
pub fn ref_alt_seq_ids(ref_window: &[u8], center: usize, alt: &[u8]) -> (String, String) {
    let mut prefix = Sha256::new();
    prefix.update(&ref_window[..center]);
    let mut alt_hasher = prefix.clone();
    prefix.update(&ref_window[center..]);
    let end = (center + alt.len()).min(ref_window.len());
    alt_hasher.update(&alt[..end - center]);
    alt_hasher.update(&ref_window[end..]);
    (hex::encode(prefix.finalize()), hex::encode(alt_hasher.finalize()))
}

pub fn is_seq_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_window_centre_matches_the_convention() {
        let w = WindowSpec::default();
        assert_eq!(w.center_index(), 98_303);
        assert_eq!(w.start(100_000), 1_696);
        // The variant's base: genome 0-based pos-1 sits at window index pos-1-start.
        assert_eq!((100_000 - 1 - w.start(100_000)) as usize, w.center_index());
        // Near a contig start the window begins before base 0 (padded with N).
        assert_eq!(w.start(10), 10 - 98_304);
        assert!(WindowSpec::new(7).is_err() && WindowSpec::new(0).is_err());
    }

    #[test]
    fn enformer_geometry() {
        let g = OutputGeometry::enformer();
        assert_eq!(g.offset(), 40_960);
        assert_eq!(g.variant_bin(), 447);
        assert_eq!(g.stitch_bin(), 448);
        assert_eq!(g.center_bins(10), 443..453);
        assert_eq!(g.center_bins(1), 447..448);
        assert_eq!(g.center_bins(2), 447..449);
        assert_eq!(g.center_bins(3), 446..449);
        assert_eq!(g.center_bins(5000), 0..896);
        // An even k is symmetric about the window centre, so a reverse-complemented window's centre bins are
        // the same bins; an odd k is not.
        assert_eq!(g.mirror(g.center_bins(10)), 443..453);
        assert_eq!(g.mirror(g.center_bins(3)), 447..450);
        assert_eq!(g.mirror(0..448), 448..896);
        assert!(OutputGeometry::new(1000, 8).is_err() && OutputGeometry::new(1024, 0).is_err());
        let small = OutputGeometry::new(2048, 8).unwrap();
        assert_eq!((small.offset(), small.variant_bin(), small.stitch_bin()), (512, 3, 4));
        // By the definition: the first bin whose first base is at or after window index L/2.
        for (window, bins) in [(196_608, 896), (2048, 8), (2048, 7), (131_072, 512), (4096, 1)] {
            let g = OutputGeometry::new(window, bins).unwrap();
            let first = (0..bins).find(|b| g.offset() + b * BIN_SIZE >= window / 2).unwrap_or(bins);
            assert_eq!(g.stitch_bin(), first, "{window} {bins}");
        }
    }

    #[test]
    fn key_is_stable() {
        // Written down from Python: hashlib.sha256(b"N" * 196608).hexdigest() and hashlib.sha256(b"ACGT").
        assert_eq!(
            seq_id(&vec![b'N'; DEFAULT_WINDOW]),
            "4e0628ada68d2eec32c2459a315cbbf51e18d77b5bb4b6df492a1749b7e5f18c"
        );
        assert_eq!(seq_id(b"ACGT"), "1dff3e84fe7877e0673b69bbddcf40124e396e3f9943dd890c91b6a09adb9af0");
    }

    #[test]
    fn shared_prefix_hashing_equals_plain_hashing() {
        let mut w: Vec<u8> = (0..1000u32).map(|i| b"ACGT"[(i * 31 % 4) as usize]).collect();
        let (r, a) = ref_alt_seq_ids(&w, 499, b"T");
        assert_eq!(r, seq_id(&w));
        w[499] = b'T';
        assert_eq!(a, seq_id(&w));
        let (_, a) = ref_alt_seq_ids(&w, 499, b"GG");
        w[499..501].copy_from_slice(b"GG");
        assert_eq!(a, seq_id(&w));
        assert!(is_seq_id(&r) && !is_seq_id("ABC") && !is_seq_id(&r.to_uppercase()));
    }
}
