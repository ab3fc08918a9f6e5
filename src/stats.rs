//! Variant-effect statistics, per track, over output bins (conventions.md), accumulated in float64:
//!
//! - `SAD`    = Σ_b (alt − ref)                      (Basenji's SAD; the DeepMind colab reports SAD / bins)
//! - `logSED` = log2(Σ_b alt + 1) − log2(Σ_b ref + 1) (Borzoi)
//! - `D2`     = sqrt(Σ_b (alt − ref)²)               (Basenji)
//! - `CENTER` = Σ over the k bins nearest the variant of (alt − ref)

use std::ops::Range;
use std::str::FromStr;

use crate::cache::entry::EntryData;

/// Output bins are 128 bp wide and centred in the window (Enformer crops 320 of 1,536 bins per side).
pub const BIN_SIZE: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stat {
    Sad,
    LogSed,
    D2,
    Center,
}

impl Stat {
    pub fn name(self) -> &'static str {
        match self {
            Stat::Sad => "SAD",
            Stat::LogSed => "logSED",
            Stat::D2 => "D2",
            Stat::Center => "CENTER",
        }
    }
    pub const ALL: [Stat; 4] = [Stat::Sad, Stat::LogSed, Stat::D2, Stat::Center];
}

impl FromStr for Stat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Stat::ALL
            .into_iter()
            .find(|st| st.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown statistic '{s}' (choose from SAD, logSED, D2, CENTER)"))
    }
}

/// The output bin holding the variant's base (window index L/2 − 1): 447 for Enformer's defaults.
pub fn variant_bin(window: usize, bins: usize) -> usize {
    let offset = (window - bins * BIN_SIZE) / 2;
    ((window / 2 - 1).saturating_sub(offset) / BIN_SIZE).min(bins - 1)
}

/// The `k` bins whose centres are nearest the variant's base (ties to the lower bin), as a range.
pub fn center_bins(window: usize, bins: usize, k: usize) -> Range<usize> {
    let k = k.clamp(1, bins);
    let offset = (window - bins * BIN_SIZE) / 2;
    let pos = (window / 2 - 1) as f64 + 0.5;
    let dist = |b: usize| ((offset + b * BIN_SIZE) as f64 + BIN_SIZE as f64 / 2.0 - pos).abs();
    let (mut lo, mut hi) = (variant_bin(window, bins), variant_bin(window, bins) + 1);
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

/// Computes `stats` for one variant; each result has one value per track in `keep` (channel indices).
pub fn compute(
    stats: &[Stat],
    ref_out: &EntryData,
    alt_out: &EntryData,
    tracks: usize,
    center: Range<usize>,
    keep: &[usize],
) -> Result<Vec<Vec<f32>>, String> {
    let n = keep.len();
    let mut sum_ref = vec![0f64; n];
    let mut sum_alt = vec![0f64; n];
    let mut diff_center = vec![0f64; n];
    let mut sq = vec![0f64; n];
    let mut have_d2 = false;
    match (ref_out, alt_out) {
        (EntryData::Full(r), EntryData::Full(a)) => {
            have_d2 = true;
            for (b, (rrow, arow)) in r.chunks_exact(tracks).zip(a.chunks_exact(tracks)).enumerate() {
                let in_center = center.contains(&b);
                for (i, &t) in keep.iter().enumerate() {
                    let (rv, av) = (rrow[t] as f64, arow[t] as f64);
                    sum_ref[i] += rv;
                    sum_alt[i] += av;
                    sq[i] += (av - rv) * (av - rv);
                    if in_center {
                        diff_center[i] += av - rv;
                    }
                }
            }
        }
        (EntryData::Summary { total: rt, center: rc }, EntryData::Summary { total: at, center: ac }) => {
            for (i, &t) in keep.iter().enumerate() {
                sum_ref[i] = rt[t];
                sum_alt[i] = at[t];
                diff_center[i] = ac[t] - rc[t];
            }
        }
        _ => return Err("ref and alt entries are of different kinds".into()),
    }
    stats
        .iter()
        .map(|s| match s {
            Stat::Sad => Ok((0..n).map(|i| (sum_alt[i] - sum_ref[i]) as f32).collect()),
            Stat::LogSed => {
                Ok((0..n).map(|i| ((sum_alt[i] + 1.0).log2() - (sum_ref[i] + 1.0).log2()) as f32).collect())
            }
            Stat::Center => Ok(diff_center.iter().map(|&v| v as f32).collect()),
            Stat::D2 if have_d2 => Ok(sq.iter().map(|&v| v.sqrt() as f32).collect()),
            Stat::D2 => Err("D2 needs full cache entries; the cache holds --store summary entries".into()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enformer_variant_bin_is_447_and_centre_is_symmetric() {
        assert_eq!(variant_bin(196_608, 896), 447);
        assert_eq!(center_bins(196_608, 896, 10), 443..453);
        assert_eq!(center_bins(196_608, 896, 1), 447..448);
        assert_eq!(center_bins(196_608, 896, 2), 447..449);
        assert_eq!(center_bins(196_608, 896, 3), 446..449);
        assert_eq!(center_bins(196_608, 896, 5000), 0..896);
    }

    #[test]
    fn statistics_by_their_definitions() {
        // 3 bins x 2 tracks.
        let r = EntryData::Full(vec![1.0, 10.0, 2.0, 20.0, 3.0, 30.0]);
        let a = EntryData::Full(vec![1.0, 10.0, 4.0, 20.0, 3.0, 26.0]);
        let out = compute(&Stat::ALL, &r, &a, 2, 1..2, &[0, 1]).unwrap();
        assert_eq!(out[0], vec![2.0, -4.0]); // SAD
        assert_eq!(
            out[1],
            vec![((9.0f64).log2() - (7.0f64).log2()) as f32, ((57.0f64).log2() - (61.0f64).log2()) as f32]
        );
        assert_eq!(out[2], vec![2.0, 4.0]); // D2
        assert_eq!(out[3], vec![2.0, 0.0]); // CENTER over bin 1
        let kept = compute(&[Stat::Sad], &r, &a, 2, 1..2, &[1]).unwrap();
        assert_eq!(kept, vec![vec![-4.0]]);
    }

    #[test]
    fn summaries_give_the_same_numbers_except_d2() {
        let rf = vec![1.0f32, 10.0, 2.0, 20.0, 3.0, 30.0];
        let af = vec![1.0f32, 10.0, 4.0, 20.0, 3.0, 26.0];
        let summary = |v: &[f32]| {
            let (total, center) = crate::cache::entry::summarize(v, 2, 1..2);
            EntryData::Summary { total, center }
        };
        let stats = [Stat::Sad, Stat::LogSed, Stat::Center];
        let full =
            compute(&stats, &EntryData::Full(rf.clone()), &EntryData::Full(af.clone()), 2, 1..2, &[0, 1]).unwrap();
        let summ = compute(&stats, &summary(&rf), &summary(&af), 2, 1..2, &[0, 1]).unwrap();
        assert_eq!(full, summ);
        assert!(compute(&[Stat::D2], &summary(&rf), &summary(&af), 2, 1..2, &[0]).is_err());
        assert_eq!("logsed".parse::<Stat>().unwrap(), Stat::LogSed);
    }
}
