//! The windows of one normalised variant (conventions.md "Indels and multi-base substitutions"):
//! R = G[s, s+L), A = H[s, s+L) and, when Δ ≠ 0, A′ = H[s+Δ, s+Δ+L), where H = G[..p) + ALT + G[p+m..) is
//! the alt haplotype and s = p − (L/2 − 1). Each is built for every shift t (start moved by t) and, with
//! `--rc`, also reverse-complemented. Real genome sequence fills every window to its ends; N only outside
//! the contig. An alt window that is a substitution of the reference window of its own shift and strand
//! (an SNV's or MNV's A) records that reference as its base (`substitution`), for a split model's patch.

use std::time::{Duration, Instant};

use crate::ensemble::{Ensemble, Member, Role, Strand};
use crate::genome::{Genome, GenomeError};
use crate::normalize::{reverse_complement, Normalized};
use crate::substitution::Substitution;
use crate::tables::sequences::SequenceRow;
use crate::window::{ref_alt_seq_ids, seq_id, WindowSpec};

/// A variant's ensemble members and its distinct windows (each with its base when it is a substitution of
/// the reference window of its own shift and strand).
pub(crate) struct VariantWindows {
    pub members: Vec<Member>,
    pub windows: Vec<SequenceRow>,
    /// 0-based genome start of the forward, unshifted R.
    pub start: i64,
}

/// The genome bases the windows need, fetched once, indexed by genome coordinate.
struct Span {
    lo: i64,
    bases: Vec<u8>,
}

impl Span {
    fn get(&self, from: i64, to: i64) -> &[u8] {
        &self.bases[(from - self.lo) as usize..(to - self.lo) as usize]
    }
}

pub(crate) fn build(
    genome: &Genome,
    contig: usize,
    v: &Normalized,
    spec: WindowSpec,
    ensemble: &Ensemble,
    hashing: &mut Duration,
) -> Result<VariantWindows, GenomeError> {
    let len = spec.len() as i64;
    let p = v.pos0 as i64;
    let (m, n) = (v.ref_allele.len() as i64, v.alt.len() as i64);
    let delta = n - m;
    let s = p - spec.center_index() as i64;

    if ensemble.is_plain() && delta == 0 {
        // The legacy tool's two windows (and keys): the alt key shares the hashed prefix with the ref key.
        let mut r = Vec::with_capacity(spec.len());
        genome.fetch(contig, s, spec.len(), &mut r)?;
        let center = spec.center_index();
        let hashed = Instant::now();
        let (ref_id, alt_id) = ref_alt_seq_ids(&r, center, &v.alt);
        *hashing += hashed.elapsed();
        let mut a = r.clone();
        let end = (center + v.alt.len()).min(a.len());
        a[center..end].copy_from_slice(&v.alt[..end - center]);
        let member = |role, seq_id: &String| Member { role, shift: 0, strand: Strand::Forward, seq_id: seq_id.clone() };
        let members = vec![member(Role::Ref, &ref_id), member(Role::Alt, &alt_id)];
        // R and A differ only over the allele: compared there, not over the whole window.
        let base = Substitution::between(&ref_id, &r[center..end], &a[center..end]).map(|mut b| {
            b.offset += center;
            b
        });
        let windows = vec![
            SequenceRow { seq_id: ref_id, sequence: r, base: None },
            SequenceRow { seq_id: alt_id, sequence: a, base },
        ];
        return Ok(VariantWindows { members, windows, start: s });
    }

    let (tmin, tmax) = ensemble.shifts().iter().fold((0i64, 0i64), |(lo, hi), &t| (lo.min(t as i64), hi.max(t as i64)));
    let lo = s + tmin + delta.min(0);
    let hi = s + tmax + len + (-delta).max(0);
    let mut bases = Vec::with_capacity((hi - lo) as usize);
    genome.fetch(contig, lo, (hi - lo) as usize, &mut bases)?;
    let span = Span { lo, bases };

    // H[x, x+L): genome left of p, then ALT, then the genome after REF (H[i] = G[i − Δ] for i ≥ p + n).
    let haplotype = |x: i64| -> Vec<u8> {
        let end = x + len;
        let mut w = Vec::with_capacity(spec.len());
        if x < p {
            w.extend_from_slice(span.get(x, p.min(end)));
        }
        let (a0, a1) = (x.max(p), (p + n).min(end));
        if a0 < a1 {
            w.extend_from_slice(&v.alt[(a0 - p) as usize..(a1 - p) as usize]);
        }
        let r0 = x.max(p + n);
        if r0 < end {
            w.extend_from_slice(span.get(r0 - delta, end - delta));
        }
        w
    };
    let mut roles = vec![Role::Ref, Role::Alt];
    if delta != 0 {
        roles.push(Role::AltShifted);
    }
    let mut members: Vec<Member> = Vec::new();
    let mut windows: Vec<SequenceRow> = Vec::new();
    for role in roles {
        for &t in ensemble.shifts() {
            let x = s + t as i64;
            let forward = match role {
                Role::Ref => span.get(x, x + len).to_vec(),
                Role::Alt => haplotype(x),
                Role::AltShifted => haplotype(x + delta),
            };
            debug_assert_eq!(forward.len(), spec.len());
            for &strand in ensemble.strands() {
                let w = match strand {
                    Strand::Forward => forward.clone(),
                    Strand::Reverse => reverse_complement(&forward),
                };
                let hashed = Instant::now();
                let id = seq_id(&w);
                *hashing += hashed.elapsed();
                if !windows.iter().any(|k| k.seq_id == id) {
                    // Roles come in order, so the reference of this shift and strand is already there.
                    let reference = members
                        .iter()
                        .find(|m| m.role == Role::Ref && m.shift == t && m.strand == strand)
                        .and_then(|m| windows.iter().find(|k| k.seq_id == m.seq_id));
                    let base = match (role, reference) {
                        (Role::Ref, _) | (_, None) => None,
                        (_, Some(r)) => Substitution::between(&r.seq_id, &r.sequence, &w),
                    };
                    windows.push(SequenceRow { seq_id: id.clone(), sequence: w, base });
                }
                members.push(Member { role, shift: t, strand, seq_id: id });
            }
        }
    }
    Ok(VariantWindows { members, windows, start: s })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn genome(dir: &std::path::Path, seq: &str) -> Genome {
        let fasta = dir.join("g.fa");
        std::fs::write(&fasta, format!(">c\n{seq}\n")).unwrap();
        Genome::open(&fasta).unwrap()
    }

    fn norm(pos1: u64, r: &str, a: &str) -> Normalized {
        Normalized { pos0: pos1 - 1, ref_allele: r.into(), alt: a.into() }
    }

    fn window_of(w: &VariantWindows, role: Role, shift: i32, strand: Strand) -> &str {
        let m = w.members.iter().find(|m| m.role == role && m.shift == shift && m.strand == strand).unwrap();
        std::str::from_utf8(&w.windows.iter().find(|k| k.seq_id == m.seq_id).unwrap().sequence).unwrap()
    }

    #[test]
    fn deletion_windows_by_the_definition() {
        let dir = tempfile::tempdir().unwrap();
        // 0-based:  0123456789012345
        let g = genome(dir.path(), "ACGTACGTTTGCAGGA");
        let spec = WindowSpec::new(8).unwrap(); // the REF's first base at window index 3
                                                // Deletion of TT after the T at 1-based 8 (0-based 7): REF TTT -> ALT T, Δ = −2.
        let w = build(&g, 0, &norm(8, "TTT", "T"), spec, &Ensemble::default(), &mut Duration::default()).unwrap();
        let (f, r) = (Strand::Forward, Strand::Reverse);
        assert_eq!(window_of(&w, Role::Ref, 0, f), "ACGTTTGC"); // G[4, 12)
        assert_eq!(window_of(&w, Role::Alt, 0, f), "ACGTGCAG"); // H = ACGTACG T GCAGGA
        assert_eq!(window_of(&w, Role::AltShifted, 0, f), "GTACGTGC"); // H[2, 10): downstream lines up with R
        assert_eq!(w.start, 4);
        let e = Ensemble::new(true, vec![-1, 1]).unwrap();
        let w = build(&g, 0, &norm(8, "TTT", "T"), spec, &e, &mut Duration::default()).unwrap();
        assert_eq!(w.members.len(), 12);
        assert_eq!(window_of(&w, Role::Ref, -1, f), "TACGTTTG");
        assert_eq!(window_of(&w, Role::Ref, 1, r), "TGCAAACG"); // rc of G[5, 13) = CGTTTGCA
        assert_eq!(window_of(&w, Role::AltShifted, 1, f), "TACGTGCA");
    }

    #[test]
    fn snv_alt_windows_are_substitutions_of_their_own_strand_and_shift_reference() {
        let dir = tempfile::tempdir().unwrap();
        let g = genome(dir.path(), "ACGTACGTTTGCAGGA");
        let spec = WindowSpec::new(8).unwrap();
        let e = Ensemble::new(true, vec![-1, 0, 1]).unwrap();
        let w = build(&g, 0, &norm(8, "T", "G"), spec, &e, &mut Duration::default()).unwrap();
        for m in w.members.iter().filter(|m| m.role == Role::Alt) {
            let alt = w.windows.iter().find(|k| k.seq_id == m.seq_id).unwrap();
            let r = w.members.iter().find(|r| r.role == Role::Ref && r.shift == m.shift && r.strand == m.strand);
            let base = alt.base.as_ref().unwrap();
            assert_eq!(base.base_seq_id, r.unwrap().seq_id);
            // The variant at window index 3 − t, mirrored on the reverse strand; A on the forward, T on the reverse.
            let i = (3 - m.shift) as usize;
            let (i, b) = if m.strand == Strand::Forward { (i, b'T') } else { (7 - i, b'A') };
            assert_eq!((base.span(), base.base_bases.as_slice()), (i..i + 1, &[b][..]));
        }
        // An indel's A and A′ differ from R over the rest of a real window (longer than MAX_SPAN: full path);
        // in these 8-bp windows they are short substitutions, and whatever is recorded rebuilds R exactly.
        let w = build(&g, 0, &norm(8, "TTT", "T"), spec, &e, &mut Duration::default()).unwrap();
        for k in &w.windows {
            if let Some(base) = &k.base {
                let r = w.windows.iter().find(|r| r.seq_id == base.base_seq_id).unwrap();
                assert_eq!(base.base_window(&k.sequence).unwrap(), r.sequence);
            }
        }
    }

    #[test]
    fn insertion_and_substitution_windows() {
        let dir = tempfile::tempdir().unwrap();
        let g = genome(dir.path(), "ACGTACGTTTGCAGGA");
        let spec = WindowSpec::new(8).unwrap();
        // Insertion of CC after the A at 1-based 5: H = ACGTA CC CGTTTGCAGGA, Δ = +2.
        let w = build(&g, 0, &norm(5, "A", "ACC"), spec, &Ensemble::default(), &mut Duration::default()).unwrap();
        let f = Strand::Forward;
        assert_eq!(window_of(&w, Role::Ref, 0, f), "CGTACGTT"); // G[1, 9)
        assert_eq!(window_of(&w, Role::Alt, 0, f), "CGTACCCG"); // H[1, 9)
        assert_eq!(window_of(&w, Role::AltShifted, 0, f), "TACCCGTT"); // H[3, 11)
                                                                       // Near the contig start the windows are N-padded outside the contig only.
        let w = build(&g, 0, &norm(2, "C", "CAAAA"), spec, &Ensemble::default(), &mut Duration::default()).unwrap();
        assert_eq!(window_of(&w, Role::Alt, 0, f), "NNACAAAA");
        assert_eq!(window_of(&w, Role::AltShifted, 0, f), "AAAAGTAC"); // H[2, 10)
                                                                       // A plain MNV: two windows; the keys are the plain SHA-256 of each.
        let w = build(&g, 0, &norm(6, "CG", "TT"), spec, &Ensemble::default(), &mut Duration::default()).unwrap();
        assert_eq!(w.members.len(), 2);
        assert_eq!(window_of(&w, Role::Alt, 0, f), "GTATTTTT");
        for k in &w.windows {
            assert_eq!(k.seq_id, seq_id(&k.sequence));
        }
        // Its alt window is a substitution of its reference over the MNV's two bases.
        let base = w.windows[1].base.as_ref().unwrap();
        assert_eq!(
            (&base.base_seq_id, base.span(), base.base_bases.as_slice()),
            (&w.windows[0].seq_id, 3..5, &b"CG"[..])
        );
    }
}
