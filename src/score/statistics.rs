//! Variant-effect statistics, per track, over output bins (conventions.md), accumulated in float64:
//!
//! - `SAD`    = Σ_b (alt − ref)                      (Basenji's SAD; the DeepMind colab reports SAD / bins)
//! - `logSED` = log2(Σ_b alt + 1) − log2(Σ_b ref + 1) (Borzoi)
//! - `D2`     = sqrt(Σ_b (alt − ref)²)               (Basenji)
//! - `CENTER` = Σ over the k bins nearest the variant of (alt − ref)
//!
//! They are taken of the ref and (stitched) alt profiles that [`super::compose`] builds.

use std::ops::Range;
use std::str::FromStr;

use super::compose::Profile;

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

/// `stats` of `alt` against `ref_`, both over the same `n` kept tracks; one float32 vector per statistic.
pub fn compute(
    stats: &[Stat],
    ref_: &Profile,
    alt: &Profile,
    n: usize,
    center: &Range<usize>,
) -> Result<Vec<Vec<f32>>, String> {
    let mut sum_ref = vec![0f64; n];
    let mut sum_alt = vec![0f64; n];
    let mut diff_center = vec![0f64; n];
    let mut sq = vec![0f64; n];
    let mut have_d2 = false;
    match (ref_, alt) {
        (Profile::Full(r), Profile::Full(a)) => {
            have_d2 = true;
            for (b, (rrow, arow)) in r.chunks_exact(n).zip(a.chunks_exact(n)).enumerate() {
                let in_center = center.contains(&b);
                for i in 0..n {
                    let (rv, av) = (rrow[i], arow[i]);
                    sum_ref[i] += rv;
                    sum_alt[i] += av;
                    sq[i] += (av - rv) * (av - rv);
                    if in_center {
                        diff_center[i] += av - rv;
                    }
                }
            }
        }
        (Profile::Sums(r), Profile::Sums(a)) => {
            for i in 0..n {
                sum_ref[i] = r.total[0][i] + r.total[1][i];
                sum_alt[i] = a.total[0][i] + a.total[1][i];
                diff_center[i] = (a.center[0][i] + a.center[1][i]) - (r.center[0][i] + r.center[1][i]);
            }
        }
        _ => return Err("ref and alt entries are of different kinds (full and summary)".into()),
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
    fn statistics_by_their_definitions() {
        // 3 bins x 2 tracks.
        let r = Profile::Full(vec![1.0, 10.0, 2.0, 20.0, 3.0, 30.0]);
        let a = Profile::Full(vec![1.0, 10.0, 4.0, 20.0, 3.0, 26.0]);
        let out = compute(&Stat::ALL, &r, &a, 2, &(1..2)).unwrap();
        assert_eq!(out[0], vec![2.0, -4.0]); // SAD
        assert_eq!(
            out[1],
            vec![((9.0f64).log2() - (7.0f64).log2()) as f32, ((57.0f64).log2() - (61.0f64).log2()) as f32]
        );
        assert_eq!(out[2], vec![2.0, 4.0]); // D2
        assert_eq!(out[3], vec![2.0, 0.0]); // CENTER over bin 1
        assert_eq!("logsed".parse::<Stat>().unwrap(), Stat::LogSed);
        assert!("sed".parse::<Stat>().is_err());
    }
}
