#!/usr/bin/env python3
"""Write the deterministic indel/MNV test VCF of the test command on the hg19 chr20 slice.

    python scripts/make_indel_test_vcf.py --genome ../shared/data/real/genome/varda_hg19_chr20_1-200000.fa \
        --real ../shared/data/real --out indels.vcf

The VCF (sites only, contig named as in the FASTA, sorted, every REF equal to the genome over its whole length)
holds 22 records / 23 variants between 20:60,000 and 20:150,000:
- the 5 real 1000 Genomes phase 1 indels of vcf/varda_1kg_phase1_chr20_60k-145k.hg19.vcf;
- 3 real GoNL SNVs of vcf/varda_gonl-summary_chr20_60k-200k.hg19.vcf;
- variants placed on the real sequence, at sites found by rules below (not hard-coded, so the rules say why a
  site fits): deletions of 1, 5 and 30 bp and insertions of 1, 7 and 30 bp written normalised, a 3-bp MNV whose
  middle base is unchanged, a complex substitution (3 bp -> 2 bp), one multi-allelic record (an SNV and an
  insertion at one base);
- the same kinds written un-normalised, as real callers and GWAS tables do: a homopolymer insertion written at
  the right end of its run, a deletion of one unit of a dinucleotide repeat written at the repeat's right end,
  an insertion with 3 extra shared trailing bases, a deletion with 3 extra shared leading bases (normalises to
  the right) and a 2-bp MNV written with one shared base on each side.

The placed alleles come from a fixed random.Random seed, so the file is the same on every run. The script
checks its own claims with a small normaliser (left-align + trim, as `bcftools norm -f`): each "normalised"
variant is a fixed point and each "un-normalised" one moves. The test command compares everything with
`bcftools norm -f` itself.
"""
import argparse
import os
import random
import re
import sys

ONEKG = "vcf/varda_1kg_phase1_chr20_60k-145k.hg19.vcf"
GONL = "vcf/varda_gonl-summary_chr20_60k-200k.hg19.vcf"
LO, HI = 60_000, 150_000
GONL_SNVS = 3
BASES = "ACGT"


def read_fasta(path):
    name, parts = None, []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line.startswith(">"):
                if name is not None:
                    break  # the slice has one contig; the first is the one used
                name = line[1:].split()[0]
            else:
                parts.append(line)
    return name, "".join(parts).upper()


def normalise(g, pos, ref, alt):
    """Left-align and trim (1-based pos), the rule of conventions.md; used only to check this script's claims."""
    while True:
        if ref[-1] == alt[-1] and not (len(ref) == 1 and len(alt) == 1):
            ref, alt = ref[:-1], alt[:-1]
        else:
            break
        if not ref or not alt:
            pos -= 1
            ref, alt = g[pos - 1] + ref, g[pos - 1] + alt
    while len(ref) > 1 and len(alt) > 1 and ref[0] == alt[0]:
        ref, alt, pos = ref[1:], alt[1:], pos + 1
    return pos, ref, alt


def real_records(path, contig, keep):
    """(pos, id, ref, alt) of the data lines of a real VCF that `keep(ref, alt)` accepts, contig renamed."""
    out = []
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            f8 = line.rstrip("\n").split("\t")[:8]
            pos, vid, ref, alt = int(f8[1]), f8[2], f8[3], f8[4]
            if LO <= pos <= HI and keep(ref, alt):
                out.append((pos, vid, ref, alt))
    return out


class Placer:
    def __init__(self, g):
        self.g = g
        self.rng = random.Random(20240609)
        self.used = []  # (start, end) 1-based spans taken, kept 400 bp apart so no two variants interact

    def free(self, a, b):
        return all(b + 400 < s or a > e + 400 for s, e in self.used)

    def take(self, a, b):
        assert self.free(a, b), (a, b)
        self.used.append((a, b))

    def site(self, start, ok):
        """First 1-based position >= start with plain sequence around it (no N) where ok(pos) holds."""
        g = self.g
        for p in range(start, HI - 100):
            if "N" not in g[p - 40 : p + 40] and self.free(p - 40, p + 40) and ok(p):
                return p
        raise SystemExit(f"no site found after {start}")

    def seq(self, n, first_not=None, last_not=None):
        while True:
            s = "".join(self.rng.choice(BASES) for _ in range(n))
            if (first_not is None or s[0] not in first_not) and (last_not is None or s[-1] not in last_not):
                return s

    def other(self, base, also=""):
        return self.rng.choice([b for b in BASES if b != base and b not in also])


def placed(g):
    """The placed variants: (pos, id, ref, alt_list, normalised?) with alleles read off the genome."""
    P = Placer(g)
    out = []

    def add(pos, vid, ref, alts, normalised):
        assert g[pos - 1 : pos - 1 + len(ref)] == ref, (vid, pos, ref)
        for alt in alts:
            moved = normalise(g, pos, ref, alt) != (pos, ref, alt)
            assert moved != normalised, f"{vid}: expected {'no ' if normalised else ''}change by normalisation"
        P.take(pos - 40, pos + len(ref) + 40)
        out.append((pos, vid, ref, alts))

    # Deletions written normalised: anchor base X, deleted D with D[-1] != X (cannot move left).
    for start, n in ((70_000, 1), (80_000, 5), (90_000, 30)):
        p = P.site(start, lambda p: g[p + n - 1] != g[p - 1])
        add(p, f"del{n}", g[p - 1 : p + n], [g[p - 1]], True)
    # Insertions written normalised: inserted I with I[-1] != X.
    for start, n in ((75_000, 1), (85_000, 7), (95_000, 30)):
        p = P.site(start, lambda p: True)
        add(p, f"ins{n}", g[p - 1], [g[p - 1] + P.seq(n, last_not=g[p - 1])], True)
    # MNV: 3 bases, first and last changed, middle kept (bcftools leaves it a 3-bp substitution).
    p = P.site(100_500, lambda p: True)
    r = g[p - 1 : p + 2]
    add(p, "mnv3", r, [P.other(r[0]) + r[1] + P.other(r[2])], True)
    # Complex: 3 bases replaced by 2, first and last bases differ (nothing to trim).
    p = P.site(110_000, lambda p: True)
    r = g[p - 1 : p + 2]
    add(p, "complex3to2", r, [P.other(r[0]) + P.other(r[2], also=r[1])], True)
    # Multi-allelic record: an SNV and a 4-bp insertion at one base (split into two variants).
    p = P.site(140_000, lambda p: True)
    add(p, "multi_snv_ins", g[p - 1], [P.other(g[p - 1]), g[p - 1] + P.seq(4, last_not=g[p - 1])], True)

    # Un-normalised 1: a homopolymer base inserted at the right end of a run of >= 6 (moves to the run's start).
    m = re.compile(r"A{6,}|C{6,}|G{6,}|T{6,}").search(g, 120_000)
    a, e = m.start() + 1, m.end()  # 1-based first and last base of the run
    add(e, "ins_homopolymer_right", g[e - 1], [g[e - 1] * 2], False)
    # Un-normalised 2: one unit of a dinucleotide repeat (>= 5 units) deleted, written at the repeat's right end.
    m = re.compile(r"([ACGT])(?!\1)([ACGT])(?:\1\2){4,}").search(g, 125_000)
    e = m.end()
    add(e - 2, "del_repeat_right", g[e - 3 : e], [g[e - 3]], False)
    # Un-normalised 3: a 4-bp insertion written with 3 extra shared trailing bases.
    p = P.site(143_000, lambda p: True)
    ins = P.seq(4, last_not=g[p - 1])
    add(p, "ins4_trailing", g[p - 1 : p + 3], [g[p - 1] + ins + g[p : p + 3]], False)
    # Un-normalised 4: a 6-bp deletion written with 3 extra shared leading bases (normalises 3 bp to the right).
    p = P.site(147_000, lambda p: g[p + 5] != g[p - 1])
    add(p - 3, "del6_leading", g[p - 4 : p + 6], [g[p - 4 : p]], False)
    # Un-normalised 5: a 2-bp MNV written with one shared base on each side (normalises 1 bp to the right).
    p = P.site(104_500, lambda p: True)
    r = g[p - 1 : p + 3]
    add(p, "mnv2_flanked", r, [r[0] + P.other(r[1]) + P.other(r[2]) + r[3]], False)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--genome", required=True, help="the hg19 chr20 slice (varda_hg19_chr20_1-200000.fa)")
    ap.add_argument("--real", required=True, help="the shared real-data folder (../shared/data/real)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    contig, g = read_fasta(args.genome)
    records = []
    for pos, vid, ref, alt in real_records(os.path.join(args.real, ONEKG), contig, lambda r, a: len(r) != len(a)):
        records.append((pos, vid, ref, [alt]))
    assert len(records) == 5, f"expected the 5 real 1000 Genomes indels, found {len(records)}"
    snvs = real_records(os.path.join(args.real, GONL), contig, lambda r, a: len(r) == len(a) == 1)
    # Spread over the range: the first SNV at or after each of these positions.
    for start in (61_000, 102_000, 133_000)[:GONL_SNVS]:
        pos, vid, ref, alt = next(s for s in snvs if s[0] >= start)
        records.append((pos, vid, ref, [alt]))
    records += placed(g)
    records.sort(key=lambda r: r[0])

    ids = [r[1] for r in records if r[1] != "."]
    assert len(ids) == len(set(ids)), "IDs must be unique"
    for pos, vid, ref, alts in records:
        assert LO <= pos <= HI, (vid, pos)
        assert g[pos - 1 : pos - 1 + len(ref)] == ref.upper(), f"{vid}: REF {ref} is not the genome at {pos}"
        assert all(re.fullmatch("[ACGT]+", a) for a in alts + [ref]), vid
    with open(args.out, "w") as f:
        f.write("##fileformat=VCFv4.2\n")
        f.write(f"##contig=<ID={contig},length={len(g)}>\n")
        f.write("##source=enformer-vep scripts/make_indel_test_vcf.py (real 1000 Genomes/GoNL records + placed)\n")
        f.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for pos, vid, ref, alts in records:
            f.write(f"{contig}\t{pos}\t{vid}\t{ref}\t{','.join(alts)}\t.\tPASS\t.\n")
    n = sum(len(r[3]) for r in records)
    print(f"{args.out}: {len(records)} records, {n} variants on {contig}", file=sys.stderr)


if __name__ == "__main__":
    main()
