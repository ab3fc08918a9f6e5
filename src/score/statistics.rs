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
    let mut sums = BinSums::new(n, stats);
    match (ref_, alt) {
        (Profile::Full(r), Profile::Full(a)) => {
            for (b, (rrow, arow)) in r.chunks_exact(n).zip(a.chunks_exact(n)).enumerate() {
                sums.add_bin(center.contains(&b), rrow, arow);
            }
        }
        (Profile::Sums(r), Profile::Sums(a)) => {
            sums.full = false;
            for i in 0..n {
                sums.sum_ref[i] = r.total[0][i] + r.total[1][i];
                sums.sum_alt[i] = a.total[0][i] + a.total[1][i];
                sums.diff_center[i] = (a.center[0][i] + a.center[1][i]) - (r.center[0][i] + r.center[1][i]);
            }
        }
        _ => return Err("ref and alt entries are of different kinds (full and summary)".into()),
    }
    sums.finish(stats)
}

/// Per-track float64 sums over bins, added a bin at a time in bin order: the one place the statistics are
/// accumulated, whether the rows come from a mean profile (float64) or straight from an entry (float32).
pub(crate) struct BinSums {
    sum_ref: Vec<f64>,
    sum_alt: Vec<f64>,
    diff_center: Vec<f64>,
    /// Σ (alt − ref)², only when D2 is asked for.
    sq: Option<Vec<f64>>,
    /// Whether rows were added bin by bin (full entries), which D2 needs.
    full: bool,
}

impl BinSums {
    pub(crate) fn new(n: usize, stats: &[Stat]) -> Self {
        BinSums {
            sum_ref: vec![0.0; n],
            sum_alt: vec![0.0; n],
            diff_center: vec![0.0; n],
            sq: stats.contains(&Stat::D2).then(|| vec![0.0; n]),
            full: true,
        }
    }

    /// Adds one bin's ref and alt rows (the kept tracks, in output order).
    #[inline]
    pub(crate) fn add_bin<T: Copy + Into<f64>>(&mut self, in_center: bool, rrow: &[T], arow: &[T]) {
        let n = self.sum_ref.len();
        let (rrow, arow) = (&rrow[..n], &arow[..n]);
        for i in 0..n {
            let (rv, av): (f64, f64) = (rrow[i].into(), arow[i].into());
            self.sum_ref[i] += rv;
            self.sum_alt[i] += av;
        }
        if let Some(sq) = &mut self.sq {
            for i in 0..n {
                let d = arow[i].into() - rrow[i].into();
                sq[i] += d * d;
            }
        }
        if in_center {
            for i in 0..n {
                self.diff_center[i] += arow[i].into() - rrow[i].into();
            }
        }
    }

    pub(crate) fn finish(self, stats: &[Stat]) -> Result<Vec<Vec<f32>>, String> {
        let n = self.sum_ref.len();
        let (sum_ref, sum_alt) = (&self.sum_ref, &self.sum_alt);
        stats
            .iter()
            .map(|s| match s {
                Stat::Sad => Ok((0..n).map(|i| (sum_alt[i] - sum_ref[i]) as f32).collect()),
                Stat::LogSed => {
                    Ok((0..n).map(|i| ((sum_alt[i] + 1.0).log2() - (sum_ref[i] + 1.0).log2()) as f32).collect())
                }
                Stat::Center => Ok(self.diff_center.iter().map(|&v| v as f32).collect()),
                Stat::D2 => match (&self.sq, self.full) {
                    (Some(sq), true) => Ok(sq.iter().map(|&v| v.sqrt() as f32).collect()),
                    _ => Err("D2 needs full cache entries; the cache holds --store summary entries".into()),
                },
            })
            .collect()
    }
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
