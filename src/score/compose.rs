//! One variant's score from its ensemble (conventions.md "Ensembles" and "Indels"): per window role, the
//! float64 mean of its members' predictions (a reverse-complemented member flipped back along bins first);
//! then the alt prediction stitched from A's bins [0, c) and A′'s bins [c, bins) when the variant has an A′;
//! then the statistics of alt against ref. With summary entries the same steps run on sums split at c.

use std::ops::Range;

use super::statistics::{compute, BinSums, Stat};
use crate::cache::entry::{EntryData, Sums, Values};
use crate::ensemble::{Member, Role, Strand};
use crate::window::OutputGeometry;

/// A role's mean prediction over the kept tracks.
#[derive(Debug, Clone, PartialEq)]
pub enum Profile {
    /// [bins, kept tracks], row-major.
    Full(Vec<f64>),
    Sums(Sums),
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ComposeError {
    /// The entry of this sequence is missing or failed verification (the caller has reported why).
    #[error("sequence {0} could not be read")]
    Unreadable(String),
    #[error("the variant has no '{}' sequence in its sequences column (variants.parquet not written by this version of extract-seqs?)", .0.as_str())]
    NoMember(Role),
    #[error("{0}")]
    Invalid(String),
}

/// What every variant of a merge is scored with.
#[derive(Debug, Clone)]
pub struct Composer {
    /// None when the entries are summaries (their bin count is not recorded; their sums are split already).
    pub geometry: Option<OutputGeometry>,
    /// Tracks in an entry.
    pub tracks: usize,
    /// The entries are per-track sums (a summary namespace), known from the namespace's fingerprint: they take
    /// the general path, which is cheap for them, never [`Composer::score_single`].
    pub summaries: bool,
    /// Channels kept, in output order.
    pub keep: Vec<usize>,
    pub center: Range<usize>,
    pub stats: Vec<Stat>,
}

/// Where a composer gets a member's entry (None: it cannot be used), and where it gives entries back when
/// done with them, so that a reader can reuse their memory. Any `FnMut(&str) -> Option<EntryData>` is one.
pub trait Entries {
    fn read(&mut self, seq_id: &str) -> Option<EntryData>;
    fn recycle(&mut self, _data: EntryData) {}
}

impl<F: FnMut(&str) -> Option<EntryData>> Entries for F {
    fn read(&mut self, seq_id: &str) -> Option<EntryData> {
        self(seq_id)
    }
}

impl Composer {
    /// The statistics of one variant, one vector (over kept tracks) per statistic.
    pub fn score(&self, members: &[Member], mut entries: impl Entries) -> Result<Vec<Vec<f32>>, ComposeError> {
        if let (false, Some(geometry), Some(single)) = (self.summaries, self.geometry, Single::of(members)) {
            return self.score_single(geometry, single, &mut entries);
        }
        let (r, alt) = self.profiles(members, &mut entries)?;
        compute(&self.stats, &r, &alt, self.keep.len(), &self.center).map_err(ComposeError::Invalid)
    }

    /// The ref and (stitched) alt profiles of one variant, over the kept tracks: what the statistics are
    /// taken of, and what `plot` draws.
    pub fn profiles(&self, members: &[Member], entries: &mut impl Entries) -> Result<(Profile, Profile), ComposeError> {
        let mut mean = |role| -> Result<Option<Profile>, ComposeError> {
            let of_role: Vec<&Member> = members.iter().filter(|m| m.role == role).collect();
            if of_role.is_empty() {
                return Ok(None);
            }
            let mut acc: Option<Profile> = None;
            for m in &of_role {
                let data = entries.read(&m.seq_id).ok_or_else(|| ComposeError::Unreadable(m.seq_id.clone()))?;
                let added = self.accumulate(&mut acc, &data, m.strand);
                entries.recycle(data);
                added?;
            }
            let mut acc = acc.ok_or(ComposeError::NoMember(role))?;
            let by = 1.0 / of_role.len() as f64;
            // A single member is used as read (x · 1 = x): plain scores stay bit-identical to a plain subtraction.
            if of_role.len() > 1 {
                match &mut acc {
                    Profile::Full(v) => v.iter_mut().for_each(|x| *x *= by),
                    Profile::Sums(s) => s.scale(by),
                }
            }
            Ok(Some(acc))
        };
        let r = mean(Role::Ref)?.ok_or(ComposeError::NoMember(Role::Ref))?;
        let a = mean(Role::Alt)?.ok_or(ComposeError::NoMember(Role::Alt))?;
        let alt = match mean(Role::AltShifted)? {
            Some(shifted) => self.stitch(a, shifted)?,
            None => a,
        };
        Ok((r, alt))
    }

    /// The statistics straight from the entries when every role has one member (no ensemble): the same sums
    /// in the same order as [`Composer::profiles`] + [`compute`] (bit-identical), without building float64
    /// profiles of [bins, tracks].
    fn score_single(
        &self,
        geometry: OutputGeometry,
        single: Single,
        entries: &mut impl Entries,
    ) -> Result<Vec<Vec<f32>>, ComposeError> {
        // Ref, alt, then the shifted alt if any. Every entry read goes back to `entries` on every path, a failed
        // later read included: the reader's pool lends its buffers, and one not given back is allocated anew.
        let mut got: [Option<Values>; 3] = Default::default();
        for (i, m) in [Some(single.r), Some(single.a), single.shifted].into_iter().enumerate() {
            let Some(m) = m else { continue };
            let err = match entries.read(&m.seq_id) {
                Some(EntryData::Full(v)) => {
                    got[i] = Some(v);
                    continue;
                }
                Some(other) => {
                    entries.recycle(other);
                    mixed()
                }
                None => ComposeError::Unreadable(m.seq_id.clone()),
            };
            got.into_iter().flatten().for_each(|v| entries.recycle(EntryData::Full(v)));
            return Err(err);
        }
        let [Some(r), Some(a), shifted] = &got else { unreachable!("ref and alt were read above") };
        let result = self.stats_of_rows(geometry, &single, r, a, shifted.as_deref());
        got.into_iter().flatten().for_each(|v| entries.recycle(EntryData::Full(v)));
        result
    }

    fn stats_of_rows(
        &self,
        geometry: OutputGeometry,
        single: &Single,
        r: &[f32],
        a: &[f32],
        shifted: Option<&[f32]>,
    ) -> Result<Vec<Vec<f32>>, ComposeError> {
        let (bins, tracks, n) = (geometry.bins(), self.tracks, self.keep.len());
        for v in [Some(r), Some(a), shifted].into_iter().flatten() {
            if v.len() != bins * tracks {
                return Err(ComposeError::Invalid(format!(
                    "an entry holds {} values, not {bins} bins × {tracks} tracks",
                    v.len()
                )));
            }
        }
        // The member's row that lands on output bin b (a reverse-strand member is flipped back along bins).
        let row = |m: &Member, b: usize| -> Range<usize> {
            let from = match m.strand {
                Strand::Forward => b,
                Strand::Reverse => bins - 1 - b,
            };
            from * tracks..(from + 1) * tracks
        };
        let all_kept = n == tracks && self.keep.iter().enumerate().all(|(i, &t)| i == t);
        let mut sums = BinSums::new(n, &self.stats);
        let (mut rk, mut ak) = (vec![0f32; n], vec![0f32; n]);
        let stitch = geometry.stitch_bin();
        for b in 0..bins {
            let rrow = &r[row(single.r, b)];
            let arow = match (shifted, single.shifted) {
                (Some(s), Some(m)) if b >= stitch => &s[row(m, b)],
                _ => &a[row(single.a, b)],
            };
            let in_center = self.center.contains(&b);
            if all_kept {
                sums.add_bin(in_center, rrow, arow);
            } else {
                for (i, &t) in self.keep.iter().enumerate() {
                    rk[i] = rrow[t];
                    ak[i] = arow[t];
                }
                sums.add_bin(in_center, &rk, &ak);
            }
        }
        sums.finish(&self.stats).map_err(ComposeError::Invalid)
    }

    /// Adds one member's prediction (kept tracks, flipped along bins for the reverse strand) to `acc`.
    fn accumulate(&self, acc: &mut Option<Profile>, data: &EntryData, strand: Strand) -> Result<(), ComposeError> {
        let n = self.keep.len();
        match data {
            EntryData::Full(v) => {
                // A full entry in a merge whose namespace holds summaries: its bin count is not known here.
                let bins = self.geometry.map(|g| g.bins()).ok_or_else(|| {
                    ComposeError::Invalid(
                        "a full [bins, tracks] entry where this namespace's entries are per-track sums, so its bin count is unknown".into(),
                    )
                })?;
                if v.len() != bins * self.tracks {
                    return Err(ComposeError::Invalid(format!(
                        "an entry holds {} values, not {bins} bins × {} tracks",
                        v.len(),
                        self.tracks
                    )));
                }
                let sum = match acc.get_or_insert_with(|| Profile::Full(vec![0.0; bins * n])) {
                    Profile::Full(s) => s,
                    Profile::Sums(_) => return Err(mixed()),
                };
                for (b, row) in v.chunks_exact(self.tracks).enumerate() {
                    let to = match strand {
                        Strand::Forward => b,
                        Strand::Reverse => bins - 1 - b,
                    };
                    let out = &mut sum[to * n..(to + 1) * n];
                    for (o, &t) in out.iter_mut().zip(&self.keep) {
                        *o += row[t] as f64;
                    }
                }
            }
            EntryData::Summary(s) => {
                let sum = match acc.get_or_insert_with(|| Profile::Sums(Sums::zeros(n))) {
                    Profile::Sums(sum) => sum,
                    Profile::Full(_) => return Err(mixed()),
                };
                match strand {
                    Strand::Forward => sum.add_kept(s, &self.keep),
                    Strand::Reverse => sum.add_kept(&s.flipped(), &self.keep),
                }
            }
        }
        Ok(())
    }

    /// A's bins [0, c) then A′'s bins [c, bins).
    fn stitch(&self, a: Profile, shifted: Profile) -> Result<Profile, ComposeError> {
        let n = self.keep.len();
        match (a, shifted) {
            (Profile::Full(mut a), Profile::Full(s)) => {
                let c = self.geometry.map(|g| g.stitch_bin()).ok_or_else(mixed)?;
                a[c * n..].copy_from_slice(&s[c * n..]);
                Ok(Profile::Full(a))
            }
            (Profile::Sums(mut a), Profile::Sums(s)) => {
                let [_, total_hi] = s.total;
                let [_, center_hi] = s.center;
                let [_, mirror_hi] = s.mirror;
                a.total[1] = total_hi;
                a.center[1] = center_hi;
                a.mirror[1] = mirror_hi;
                Ok(Profile::Sums(a))
            }
            _ => Err(mixed()),
        }
    }
}

/// A variant whose roles have one member each (no ensemble): its ref, alt and, for an indel, shifted alt.
struct Single<'m> {
    r: &'m Member,
    a: &'m Member,
    shifted: Option<&'m Member>,
}

impl<'m> Single<'m> {
    fn of(members: &'m [Member]) -> Option<Single<'m>> {
        let only = |role| {
            let mut it = members.iter().filter(move |m| m.role == role);
            match (it.next(), it.next()) {
                (one, None) => Some(one),
                _ => None,
            }
        };
        Some(Single { r: only(Role::Ref)??, a: only(Role::Alt)??, shifted: only(Role::AltShifted)? })
    }
}

fn mixed() -> ComposeError {
    ComposeError::Invalid("a variant's entries are of different kinds (full and summary)".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::entry::summarize;
    use std::collections::HashMap;

    const BINS: usize = 8;
    const TRACKS: usize = 3;

    fn geometry() -> OutputGeometry {
        OutputGeometry::new(2048, BINS).unwrap()
    }

    fn output(seed: u32) -> Vec<f32> {
        (0..BINS * TRACKS).map(|i| ((i as u32 * 7 + seed * 13) % 17) as f32 * 0.25 + 0.5).collect()
    }

    fn member(role: Role, shift: i32, strand: Strand, id: &str) -> Member {
        Member { role, shift, strand, seq_id: id.to_string() }
    }

    fn composer(stats: &[Stat]) -> Composer {
        Composer {
            geometry: Some(geometry()),
            tracks: TRACKS,
            summaries: false,
            keep: vec![2, 0],
            center: geometry().center_bins(2),
            stats: stats.to_vec(),
        }
    }

    /// Naive reference: means by role (flipping reverse members), stitch, statistics.
    fn naive(members: &[Member], outputs: &HashMap<String, Vec<f32>>, keep: &[usize]) -> Vec<Vec<f64>> {
        let mean = |role: Role| -> Option<Vec<Vec<f64>>> {
            let ms: Vec<&Member> = members.iter().filter(|m| m.role == role).collect();
            if ms.is_empty() {
                return None;
            }
            let mut m = vec![vec![0.0; keep.len()]; BINS];
            for mm in &ms {
                let o = &outputs[&mm.seq_id];
                for (b, row) in m.iter_mut().enumerate() {
                    let src = if mm.strand == Strand::Reverse { BINS - 1 - b } else { b };
                    for (i, &t) in keep.iter().enumerate() {
                        row[i] += o[src * TRACKS + t] as f64 / ms.len() as f64;
                    }
                }
            }
            Some(m)
        };
        let r = mean(Role::Ref).unwrap();
        let mut a = mean(Role::Alt).unwrap();
        if let Some(s) = mean(Role::AltShifted) {
            a[BINS / 2..].clone_from_slice(&s[BINS / 2..]);
        }
        let center = geometry().center_bins(2);
        let per = |f: &dyn Fn(usize) -> f64| (0..keep.len()).map(f).collect::<Vec<f64>>();
        let sum = |m: &Vec<Vec<f64>>, i: usize, bins: Range<usize>| bins.map(|b| m[b][i]).sum::<f64>();
        vec![
            per(&|i| sum(&a, i, 0..BINS) - sum(&r, i, 0..BINS)),
            per(&|i| (sum(&a, i, 0..BINS) + 1.0).log2() - (sum(&r, i, 0..BINS) + 1.0).log2()),
            per(&|i| (0..BINS).map(|b| (a[b][i] - r[b][i]).powi(2)).sum::<f64>().sqrt()),
            per(&|i| sum(&a, i, center.clone()) - sum(&r, i, center.clone())),
        ]
    }

    fn ensemble() -> (Vec<Member>, HashMap<String, Vec<f32>>) {
        let mut members = Vec::new();
        let mut outputs = HashMap::new();
        let mut seed = 0;
        for role in Role::ALL {
            for shift in [-1, 0, 1] {
                for strand in [Strand::Forward, Strand::Reverse] {
                    seed += 1;
                    let id = format!("s{seed}");
                    outputs.insert(id.clone(), output(seed));
                    members.push(member(role, shift, strand, &id));
                }
            }
        }
        (members, outputs)
    }

    fn close(got: &[Vec<f32>], want: &[Vec<f64>], rel: f64) {
        for (g, w) in got.iter().zip(want) {
            for (&g, &w) in g.iter().zip(w) {
                assert!((g as f64 - w).abs() <= rel * w.abs().max(1e-3), "{g} vs {w}");
            }
        }
    }

    #[test]
    fn ensemble_mean_flip_and_stitch_match_the_definition() {
        let (members, outputs) = ensemble();
        let c = composer(&Stat::ALL);
        let got = c.score(&members, |id: &str| outputs.get(id).map(|o| EntryData::Full(o.clone().into()))).unwrap();
        close(&got, &naive(&members, &outputs, &c.keep), 1e-6);
        // Without A′ (a substitution) the alt is A's mean unstitched.
        let subst: Vec<Member> = members.iter().filter(|m| m.role != Role::AltShifted).cloned().collect();
        let got = c.score(&subst, |id: &str| outputs.get(id).map(|o| EntryData::Full(o.clone().into()))).unwrap();
        close(&got, &naive(&subst, &outputs, &c.keep), 1e-6);
    }

    #[test]
    fn summary_sums_give_the_full_numbers_except_d2() {
        let (members, outputs) = ensemble();
        let stats = [Stat::Sad, Stat::LogSed, Stat::Center];
        let c = composer(&stats);
        let summaries = Composer { summaries: true, ..c.clone() };
        let center = c.center.clone();
        let full = c.score(&members, |id: &str| outputs.get(id).map(|o| EntryData::Full(o.clone().into()))).unwrap();
        let summ = summaries
            .score(&members, |id: &str| {
                outputs.get(id).map(|o| EntryData::Summary(summarize(o, TRACKS, center.clone())))
            })
            .unwrap();
        let want: Vec<Vec<f64>> = full.iter().map(|v| v.iter().map(|&x| x as f64).collect()).collect();
        close(&summ, &want, 1e-6);
        let d2 = Composer { summaries: true, ..composer(&[Stat::D2]) };
        let err = d2.score(&members, |id: &str| {
            outputs.get(id).map(|o| EntryData::Summary(summarize(o, TRACKS, center.clone())))
        });
        assert!(matches!(err, Err(ComposeError::Invalid(m)) if m.contains("D2")));
    }

    #[test]
    fn one_member_per_role_is_scored_straight_from_the_entries_bit_identical_to_the_profiles() {
        let outputs: HashMap<String, Vec<f32>> =
            ["r", "a", "s"].iter().enumerate().map(|(i, id)| (id.to_string(), output(i as u32 + 3))).collect();
        let read = |id: &str| outputs.get(id).map(|o| EntryData::Full(o.clone().into()));
        for strand in [Strand::Forward, Strand::Reverse] {
            for keep in [vec![2, 0], vec![0, 1, 2]] {
                for with_shifted in [false, true] {
                    let mut members = vec![member(Role::Ref, 0, strand, "r"), member(Role::Alt, 0, strand, "a")];
                    if with_shifted {
                        members.push(member(Role::AltShifted, 0, strand, "s"));
                    }
                    let c = Composer { keep: keep.clone(), ..composer(&Stat::ALL) };
                    assert!(Single::of(&members).is_some());
                    let fast = c.score(&members, read).unwrap();
                    let (r, alt) = c.profiles(&members, &mut { read }).unwrap();
                    let slow = compute(&c.stats, &r, &alt, c.keep.len(), &c.center).unwrap();
                    assert_eq!(fast, slow, "{strand:?} keep {keep:?} shifted {with_shifted}");
                }
            }
        }
        // Summary entries (geometry known, as in a summary namespace that recorded the model's shape) take
        // the general path, each entry read once.
        let c = composer(&[Stat::Sad, Stat::LogSed, Stat::Center]);
        let summaries = Composer { summaries: true, ..c.clone() };
        let center = c.center.clone();
        let mut reads = 0;
        let members = [member(Role::Ref, 0, Strand::Forward, "r"), member(Role::Alt, 0, Strand::Forward, "a")];
        let summ = summaries
            .score(&members, |id: &str| {
                reads += 1;
                outputs.get(id).map(|o| EntryData::Summary(summarize(o, TRACKS, center.clone())))
            })
            .unwrap();
        assert_eq!(reads, 2);
        let full = c.score(&members, read).unwrap();
        let want: Vec<Vec<f64>> = full.iter().map(|v| v.iter().map(|&x| x as f64).collect()).collect();
        close(&summ, &want, 1e-6);
        // Two members of a role take the ensemble path.
        let two = [member(Role::Ref, 0, Strand::Forward, "r"), member(Role::Ref, 0, Strand::Reverse, "r")];
        assert!(Single::of(&two).is_none());
    }

    /// Lends entries and counts those not given back.
    struct Pool<'o> {
        outputs: &'o HashMap<String, Vec<f32>>,
        summary: &'o str,
        lent: &'o std::cell::Cell<usize>,
    }

    impl Entries for Pool<'_> {
        fn read(&mut self, seq_id: &str) -> Option<EntryData> {
            let o = self.outputs.get(seq_id)?;
            self.lent.set(self.lent.get() + 1);
            Some(match seq_id == self.summary {
                true => EntryData::Summary(summarize(o, TRACKS, geometry().center_bins(2))),
                false => EntryData::Full(o.clone().into()),
            })
        }
        fn recycle(&mut self, _data: EntryData) {
            self.lent.set(self.lent.get() - 1);
        }
    }

    #[test]
    fn every_entry_read_is_given_back_when_a_later_read_fails() {
        let outputs: HashMap<String, Vec<f32>> =
            ["r", "a", "s"].iter().enumerate().map(|(i, id)| (id.to_string(), output(i as u32))).collect();
        let c = composer(&Stat::ALL);
        let indel = |a: &str, s: &str| {
            let f = Strand::Forward;
            [member(Role::Ref, 0, f, "r"), member(Role::Alt, 0, f, a), member(Role::AltShifted, 0, f, s)]
        };
        // The alt missing, the shifted alt missing, the shifted alt a summary (mixed), and all readable.
        for (members, summary, ok) in [
            (indel("gone", "s"), "", false),
            (indel("a", "gone"), "", false),
            (indel("a", "s"), "s", false),
            (indel("a", "s"), "", true),
        ] {
            let lent = std::cell::Cell::new(0);
            assert!(Single::of(&members).is_some());
            assert_eq!(c.score(&members, Pool { outputs: &outputs, summary, lent: &lent }).is_ok(), ok);
            assert_eq!(lent.get(), 0, "{members:?}");
        }
    }

    #[test]
    fn a_single_member_is_used_exactly_and_problems_are_named() {
        let (ref_out, alt_out) = (output(1), output(2));
        let members = [member(Role::Ref, 0, Strand::Forward, "r"), member(Role::Alt, 0, Strand::Forward, "a")];
        let c = composer(&[Stat::Sad]);
        let read = |id: &str| Some(EntryData::Full(if id == "r" { ref_out.clone() } else { alt_out.clone() }.into()));
        let got = c.score(&members, read).unwrap();
        for (i, &t) in c.keep.iter().enumerate() {
            let (mut sr, mut sa) = (0f64, 0f64);
            for b in 0..BINS {
                sr += ref_out[b * TRACKS + t] as f64;
                sa += alt_out[b * TRACKS + t] as f64;
            }
            assert_eq!(got[0][i], (sa - sr) as f32, "bit for bit");
        }
        assert_eq!(
            c.score(&members, |id: &str| (id == "r").then(|| EntryData::Full(ref_out.clone().into()))),
            Err(ComposeError::Unreadable("a".into()))
        );
        assert_eq!(
            c.score(&members[..1], |_: &str| Some(EntryData::Full(ref_out.clone().into()))),
            Err(ComposeError::NoMember(Role::Alt))
        );
    }
}
