//! Window arithmetic and the sequence key.
//!
//! Convention (shared/conventions.md): for a window of even length L, the variant's base sits at 0-based index
//! `L/2 - 1` of the window, so `window_start (0-based) = pos (1-based) - L/2`. For L = 196,608 that is index
//! 98,303 and output bin 447. The key of a window (`seq_id`) is the lower-case hex SHA-256 of its exact bytes,
//! which is what the legacy Python tool computed with `hashlib.sha256(seq.encode()).hexdigest()`.

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

pub fn seq_id(window: &[u8]) -> String {
    hex::encode(Sha256::digest(window))
}

/// Keys of the reference window and of the same window with `alt` at `center`. The bytes before the variant
/// are shared, so the hasher state after them is computed once and cloned: 1.5 windows hashed instead of 2.
pub fn ref_alt_seq_ids(ref_window: &[u8], center: usize, alt: u8) -> (String, String) {
    let mut prefix = Sha256::new();
    prefix.update(&ref_window[..center]);
    let mut alt_hasher = prefix.clone();
    prefix.update(&ref_window[center..]);
    alt_hasher.update([alt]);
    alt_hasher.update(&ref_window[center + 1..]);
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
        let (r, a) = ref_alt_seq_ids(&w, 499, b'T');
        assert_eq!(r, seq_id(&w));
        w[499] = b'T';
        assert_eq!(a, seq_id(&w));
        assert!(is_seq_id(&r) && !is_seq_id("ABC") && !is_seq_id(&r.to_uppercase()));
    }
}
