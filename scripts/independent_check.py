#!/usr/bin/env python3
"""Recompute enformer-vep's scores from the VCF, independently of the project's code, and compare.

Written from ../shared/conventions.md alone (no project code imported): numpy, onnxruntime, pyarrow, zstandard.

    python scripts/independent_check.py --vcf V.vcf[.gz] --genome G.fa --model M.onnx \
        --scores S.parquet --variants WORK/extract/variants.parquet --cache DIR \
        [--region CHR:START-END] [--rc] [--shifts=-1,0,1] [--bcftools-norm NORMALISED.vcf] [--memo DIR]

1. Variants: every record of the VCF (in --region, by POS as given), multi-allelic ALTs split. Each must be in
   variants.parquet and scores.parquet exactly once with status ok (matched by the 1-based input line and the
   ALT): nothing may be skipped silently.
2. Normalisation (conventions, "Indels and multi-base substitutions"): REF checked against the genome over its
   whole length, then trimmed and left-aligned. Compared with the tool's norm_pos/ref/alt/variant_type and,
   with --bcftools-norm, with `bcftools norm -m -any -f GENOME --old-rec-tag ORIGINAL` output.
3. Windows: R = G[s+t, s+t+L), A = H[s+t, ...), A' = H[s+D+t, ...) (D = len ALT - len REF, only when D != 0),
   s = p - (L/2 - 1), H the alt haplotype, N only outside the contig; for every shift t and, with --rc, the
   reverse complement. Every member's SHA-256 must equal the tool's `sequences` column (same roles, shifts,
   strands, order) and ref_seq_id/alt_seq_id the forward unshifted R/A.
4. Predictions: every distinct window through the ONNX model with Python onnxruntime (CPU), one-hot A,C,G,T,
   N all zeros. Every cache entry of a member is read the documented way and compared with them.
5. Scores: per role the float64 mean over members (reverse-complement members flipped along bins), alt =
   A bins [0, c) + A' bins [c, bins) (c = 448), then SAD, logSED, D2 and CENTER (the 10 bins nearest the
   variant's base: 443..452), compared with scores.parquet. Exit 0 only when everything matches.
"""
import argparse
import collections
import glob
import gzip
import hashlib
import io
import os
import sys

import numpy as np
import onnxruntime as ort
import pyarrow.parquet as pq
import zstandard

L = 196_608
BIN = 128
STATS = ("SAD", "logSED", "D2", "CENTER")
ROLES = ("ref", "alt", "alt_shifted")
COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


class CheckFailed(Exception):
    pass


# ---------------------------------------------------------------- inputs


def read_fasta(path):
    seqs, name, parts = {}, None, []
    opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    with opener(path, "rt") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line.startswith(">"):
                if name is not None:
                    seqs[name] = "".join(parts).upper()
                name, parts = line[1:].split()[0], []
            else:
                parts.append(line)
    if name is not None:
        seqs[name] = "".join(parts).upper()
    return seqs


def canonical(chrom):
    c = chrom[3:] if chrom.lower().startswith("chr") else chrom
    return {"M": "MT"}.get(c.upper(), c.upper())


def find_contig(genome, chrom):
    if chrom in genome:
        return chrom
    hits = [c for c in genome if canonical(c) == canonical(chrom)]
    return hits[0] if len(hits) == 1 else None


def parse_region(text):
    if text is None:
        return None
    chrom, _, rng = text.rpartition(":")
    if not chrom:
        return (text, 1, float("inf"))
    a, _, b = rng.replace(",", "").partition("-")
    return (chrom, int(a), int(b or a))


def read_vcf(path, region):
    """Every (line, chrom, pos, id, REF, ALT) of the VCF in the region, one per ALT allele."""
    opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    out = []
    with opener(path, "rt") as f:
        for lineno, text in enumerate(f, start=1):
            text = text.rstrip("\r\n")
            if not text.strip() or text.startswith("#"):
                continue
            fields = text.split("\t") if "\t" in text else text.split()
            chrom, pos, vid, ref, alts = fields[0], int(fields[1]), fields[2], fields[3], fields[4]
            if region and not (canonical(chrom) == canonical(region[0]) and region[1] <= pos <= region[2]):
                continue
            for alt in alts.split(","):
                vid = None if vid == "." else vid
                out.append(dict(line=lineno, chrom=chrom, pos=pos, id=vid, vcf_ref=ref, vcf_alt=alt))
    return out


# ---------------------------------------------------------------- normalisation (conventions.md)


def normalise(seq, pos, ref, alt):
    """Trim and left-align as `bcftools norm -f` (1-based pos in, 1-based pos of the first REF base out).

    While both alleles end in the same base and are not both one base long, drop that base; whenever an allele
    becomes empty, prepend the genome base before the variant to both and move one base left. Then drop shared
    first bases while both alleles are longer than one base.
    """
    ref, alt = ref.upper(), alt.upper()
    while ref[-1] == alt[-1] and not (len(ref) == 1 and len(alt) == 1):
        ref, alt = ref[:-1], alt[:-1]
        if not ref or not alt:
            if pos <= 1:
                raise CheckFailed(f"cannot left-align past the contig start at {pos}")
            pos -= 1
            base = seq[pos - 1]
            ref, alt = base + ref, base + alt
    while len(ref) > 1 and len(alt) > 1 and ref[0] == alt[0]:
        ref, alt, pos = ref[1:], alt[1:], pos + 1
    return pos, ref, alt


def variant_type(ref, alt):
    """Of a normalised pair: an indel keeps its shared first base; anything else that changes length is complex."""
    m, n = len(ref), len(alt)
    if m == n:
        return "snv" if m == 1 else "mnv"
    if m == 1 and alt[0] == ref:
        return "insertion"
    if n == 1 and ref[0] == alt:
        return "deletion"
    return "complex"


def read_bcftools_norm(path):
    """{(chrom, pos, REF, ALT) as in the input: (pos, ref, alt) normalised} from `bcftools norm -m -any
    --old-rec-tag ORIGINAL` output. A changed record carries ORIGINAL=chrom|pos|REF|ALTS[|allele index]; an
    unchanged one is its own original."""
    out = {}
    with open(path) as f:
        for text in f:
            if text.startswith("#") or not text.strip():
                continue
            fl = text.rstrip("\n").split("\t")
            chrom, pos, ref, alt, info = fl[0], int(fl[1]), fl[3], fl[4], fl[7]
            orig = (chrom, pos, ref.upper(), alt.upper())
            for kv in info.split(";"):
                if kv.startswith("ORIGINAL="):
                    o = kv[len("ORIGINAL=") :].split("|")
                    alts = o[3].split(",")
                    orig = (o[0], int(o[1]), o[2].upper(), alts[int(o[4]) - 1 if len(o) > 4 else 0].upper())
            if orig in out:
                raise CheckFailed(f"{path}: two normalised records come from {orig}")
            out[orig] = (pos, ref.upper(), alt.upper())
    return out


# ---------------------------------------------------------------- windows (conventions.md)


def window(seq, start):
    """seq[start, start + L), N outside [0, len(seq))."""
    a, b = max(start, 0), min(start + L, len(seq))
    body = seq[a:b] if b > a else ""
    left = min(max(-start, 0), L)
    return "N" * left + body + "N" * (L - left - len(body))


def hap_window(seq, p, ref_len, alt, start):
    """H[start, start + L) of the alt haplotype H = G[..p) + ALT + G[p+m..) (its own coordinates), N outside
    [0, len(H)): G up to p, then ALT, then G shifted by the length change."""
    n, end = len(alt), start + L
    delta = n - ref_len
    pieces = []
    for a, b, text, offset in ((-(10**12), 0, None, 0), (0, p, seq, 0), (p, p + n, alt, p),
                               (p + n, len(seq) + delta, seq, delta), (len(seq) + delta, 10**12, None, 0)):
        lo, hi = max(a, start), min(b, end)
        if lo < hi:
            pieces.append("N" * (hi - lo) if text is None else text[lo - offset : hi - offset])
    w = "".join(pieces)
    assert len(w) == L
    return w


def revcomp(w):
    return w.translate(COMPLEMENT)[::-1]


def sha(w):
    return hashlib.sha256(w.encode()).hexdigest()


def members(seq, v, shifts, rc):
    """[(role, shift, strand, window)] in the documented order: role, then shift as given, then + before -."""
    p, ref, alt = v["norm_pos"] - 1, v["ref"], v["alt"]
    m, n = len(ref), len(alt)
    delta = n - m
    s = p - (L // 2 - 1)
    starts = {"ref": s, "alt": s}
    if delta != 0:
        starts["alt_shifted"] = s + delta
    out = []
    for role in ROLES:
        if role not in starts:
            continue
        for t in shifts:
            start = starts[role] + t
            w = window(seq, start) if role == "ref" else hap_window(seq, p, m, alt, start)
            out.append((role, t, "+", w))
            if rc:
                out.append((role, t, "-", revcomp(w)))
    return out, s


# ---------------------------------------------------------------- model


ONEHOT = np.zeros((256, 4), dtype=np.float32)
for _i, _b in enumerate(b"ACGT"):
    ONEHOT[_b, _i] = 1.0  # N and every other byte: all zeros


def predict(model, windows, batch_size, memo=None):
    """{seq_id: float32 [bins, tracks]}; the model is always called with batch_size sequences (a short last
    batch padded with copies of its last window) because onnxruntime's float32 results depend slightly
    (~1e-7 relative) on the batch dimension: the tool's predict does the same with its default of 2, so both
    sides see the same numbers. `memo`: a folder of this script's own earlier outputs (per model file and batch
    size), so that a second check on the same windows need not run them again; never the tool's cache."""
    out, folder = {}, None
    if memo:
        with open(model, "rb") as f:
            folder = os.path.join(memo, f"{hashlib.sha256(f.read()).hexdigest()[:16]}-b{batch_size}")
        os.makedirs(folder, exist_ok=True)
        for k in windows:
            if os.path.exists(os.path.join(folder, f"{k}.npy")):
                out[k] = np.load(os.path.join(folder, f"{k}.npy"))
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0].name
    keys = sorted(k for k in windows if k not in out)
    print(f"independent check: {len(windows)} distinct windows, {len(keys)} through onnxruntime"
          f"{f' ({len(out)} from {memo})' if memo else ''}", file=sys.stderr)
    for i in range(0, len(keys), batch_size):
        chunk = keys[i : i + batch_size]
        seqs = [windows[k] for k in chunk]
        seqs += [seqs[-1]] * (batch_size - len(seqs))
        x = np.stack([ONEHOT[np.frombuffer(w.encode(), dtype=np.uint8)] for w in seqs])
        y = sess.run(["human"], {inp: x})[0]
        for k, arr in zip(chunk, y):
            out[k] = arr
            if folder:
                np.save(os.path.join(folder, f".{k}.tmp.npy"), arr)
                os.replace(os.path.join(folder, f".{k}.tmp.npy"), os.path.join(folder, f"{k}.npy"))
    return out


def center_bins(bins, k):
    """The k bins whose centres are nearest the variant's (first) base, window index L/2 - 1; ties go to the
    lower bin. Bin b covers window bases [offset + 128 b, offset + 128 (b + 1))."""
    offset = (L - bins * BIN) // 2
    base = L // 2 - 1 + 0.5
    order = sorted(range(bins), key=lambda b: (abs(offset + b * BIN + BIN / 2 - base), b))
    return sorted(order[:k])


def statistics(ref, alt, centre):
    d = alt - ref
    return {
        "SAD": d.sum(0),
        "logSED": np.log2(alt.sum(0) + 1) - np.log2(ref.sum(0) + 1),
        "D2": np.sqrt((d**2).sum(0)),
        "CENTER": d[centre].sum(0),
    }


def compose(preds, mems, stitch, flip=True):
    """Per role the float64 mean over members (a '-' member flipped along bins), then the stitched alt."""
    mean = {}
    for role in ROLES:
        arrs = [preds[k].astype(np.float64)[::-1] if (strand == "-" and flip) else preds[k].astype(np.float64)
                for r, _, strand, k in mems if r == role]
        if arrs:
            mean[role] = np.mean(arrs, axis=0)
    alt = mean["alt"]
    if "alt_shifted" in mean and stitch is not None:
        alt = np.concatenate([mean["alt"][:stitch], mean["alt_shifted"][stitch:]])
    return mean["ref"], alt


# ---------------------------------------------------------------- the check


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vcf", required=True)
    ap.add_argument("--genome", required=True)
    ap.add_argument("--region", help="CHR:START-END, 1-based inclusive, on POS as given")
    ap.add_argument("--model", required=True)
    ap.add_argument("--scores", required=True)
    ap.add_argument("--variants", required=True, help="the run's variants.parquet (WORK/extract/variants.parquet)")
    ap.add_argument("--cache", required=True)
    ap.add_argument("--rc", action="store_true")
    ap.add_argument("--shifts", default="0", help="comma-separated, e.g. --shifts=-1,0,1")
    ap.add_argument("--bcftools-norm",
                    help="the VCF normalised by `bcftools norm -m -any -f GENOME --old-rec-tag ORIGINAL`")
    ap.add_argument("--center-bins", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--memo", help="folder keeping this script's own onnxruntime outputs between checks")
    ap.add_argument("--rtol", type=float, default=1e-4)
    args = ap.parse_args()
    try:
        return check(args)
    except CheckFailed as e:
        print(f"independent check FAILED: {e}", file=sys.stderr)
        return 1


def check(args):
    shifts = [int(t) for t in args.shifts.split(",")]
    failures = []

    def fail(msg):
        failures.append(msg)
        if len(failures) <= 30:
            print(f"MISMATCH {msg}", file=sys.stderr)

    # 1. the variants, from the VCF itself
    genome = read_fasta(args.genome)
    vs = read_vcf(args.vcf, parse_region(args.region))
    if not vs:
        raise CheckFailed(f"no VCF record in {args.region or 'the file'}: nothing would be checked")
    for v in vs:
        where = f"line {v['line']} {v['chrom']}:{v['pos']} {v['vcf_ref']}>{v['vcf_alt']}"
        v["where"] = where
        v["contig"] = find_contig(genome, v["chrom"])
        if v["contig"] is None:
            raise CheckFailed(f"{where}: contig not in the genome")
        ref_up, alt_up = v["vcf_ref"].upper(), v["vcf_alt"].upper()
        if not set(ref_up + alt_up) <= set("ACGT") or ref_up == alt_up:
            raise CheckFailed(f"{where}: not a plain ACGT variant; this check needs every record scorable")
        seq = genome[v["contig"]]
        if seq[v["pos"] - 1 : v["pos"] - 1 + len(v["vcf_ref"])] != v["vcf_ref"].upper():
            raise CheckFailed(f"{where}: REF does not equal the genome over its length")
        v["norm_pos"], v["ref"], v["alt"] = normalise(seq, v["pos"], v["vcf_ref"], v["vcf_alt"])
        v["type"] = variant_type(v["ref"], v["alt"])
    by_type = collections.Counter(v["type"] for v in vs)
    moved = sum((v["norm_pos"], v["ref"], v["alt"]) != (v["pos"], v["vcf_ref"].upper(), v["vcf_alt"].upper())
                for v in vs)

    # 2. bcftools norm agrees with our normalisation, variant by variant
    if args.bcftools_norm:
        bcf = read_bcftools_norm(args.bcftools_norm)
        if len(bcf) != len(vs):
            fail(f"bcftools norm output has {len(bcf)} variants, the VCF {len(vs)}")
        for v in vs:
            key = (v["chrom"], v["pos"], v["vcf_ref"].upper(), v["vcf_alt"].upper())
            got = bcf.get(key)
            if got != (v["norm_pos"], v["ref"], v["alt"]):
                fail(f"{v['where']}: bcftools norm gives {got}, the conventions {(v['norm_pos'], v['ref'], v['alt'])}")

    # 3. the tool's rows: every variant once, status ok, normalised as we do
    vt = pq.read_table(args.variants)
    st = pq.read_table(args.scores)
    # File key-value metadata (the footer's; pyarrow's table schema shows only what ARROW:schema holds).
    meta = {k.decode(): v.decode() for k, v in (pq.read_metadata(args.scores).metadata or {}).items()}
    want_meta = {"enformer_vep.rc": "true" if args.rc else "false", "enformer_vep.shifts": ",".join(map(str, shifts))}
    vmeta = {k.decode(): v.decode() for k, v in (pq.read_metadata(args.variants).metadata or {}).items()}
    for key, want in want_meta.items():
        for name, md in (("scores.parquet", meta), ("variants.parquet", vmeta)):
            if md.get(key) != want:
                fail(f"{name} metadata {key} = {md.get(key)!r}, the run was checked as {want!r}")
    vrows = vt.to_pylist()
    srows = st.to_pylist()
    for name, rows in (("variants.parquet", vrows), ("scores.parquet", srows)):
        index = collections.defaultdict(list)
        for r in rows:
            index[(r["line"], (r["effect_allele"] or "").upper())].append(r)
        if name == "scores.parquet" and len(rows) != len(vs):
            fail(f"scores.parquet has {len(rows)} rows, the VCF {len(vs)} variants in the region")
        for v in vs:
            hits = index.get((v["line"], v["vcf_alt"].upper()), [])
            if len(hits) != 1:
                fail(f"{v['where']}: {len(hits)} rows in {name} (expected exactly 1)")
                continue
            r = hits[0]
            v[name] = r
            if r["status"] != "ok":
                fail(f"{v['where']}: status {r['status']} in {name} ({r.get('status_detail')})")
            got = (r.get("norm_pos"), (r["ref"] or "").upper(), (r["alt"] or "").upper(), r.get("variant_type"))
            want = (v["norm_pos"], v["ref"], v["alt"], v["type"])
            if got != want or r["pos"] != v["pos"] or (r["other_allele"] or "").upper() != v["vcf_ref"].upper():
                fail(f"{v['where']}: {name} has norm_pos/ref/alt/type {got}, the conventions {want}")
    if failures:
        raise CheckFailed(f"{len(failures)} mismatch(es) before any window was built")

    # 4. windows and keys
    windows = {}
    for v in vs:
        seq = genome[v["contig"]]
        mems, s = members(seq, v, shifts, args.rc)
        fwd0 = {r: sha(w) for r, t, strand, w in members(seq, v, [0], False)[0]}
        v["members"] = [(r, t, strand, sha(w)) for r, t, strand, w in mems]
        for (_, _, _, k), (_, _, _, w) in zip(v["members"], mems):
            windows[k] = w
        r = v["scores.parquet"]
        want = [dict(role=a, shift=t, strand=b, seq_id=k) for a, t, b, k in v["members"]]
        got = [dict(role=m["role"], shift=m["shift"], strand=m["strand"], seq_id=m["seq_id"])
               for m in r["sequences"] or []]
        if got != want:
            fail(f"{v['where']}: `sequences` differs from the conventions' windows: "
                 f"{[(m['role'], m['shift'], m['strand'], m['seq_id'][:8]) for m in got]} vs "
                 f"{[(a, t, b, k[:8]) for a, t, b, k in v['members']]}")
        if v["variants.parquet"]["sequences"] != r["sequences"]:
            fail(f"{v['where']}: variants.parquet and scores.parquet list different sequences")
        if (r["window_start"], r["ref_seq_id"], r["alt_seq_id"]) != (s, fwd0["ref"], fwd0["alt"]):
            fail(f"{v['where']}: window_start/ref_seq_id/alt_seq_id {r['window_start']} {r['ref_seq_id'][:12]} "
                 f"{r['alt_seq_id'][:12]}, expected {s} {fwd0['ref'][:12]} {fwd0['alt'][:12]}")
    if failures:
        raise CheckFailed(f"{len(failures)} mismatch(es) in windows or keys")
    n_members = sum(len(v["members"]) for v in vs)

    # 5. the model on every distinct window
    preds = predict(args.model, windows, args.batch_size, args.memo)
    del windows
    bins, tracks = next(iter(preds.values())).shape
    stitch = (L // 2 - (L - bins * BIN) // 2) // BIN  # first bin wholly downstream of the variant's first base
    centre = center_bins(bins, args.center_bins)
    if meta.get("enformer_vep.stitch_bin") != str(stitch):
        fail(f"scores.parquet metadata enformer_vep.stitch_bin = {meta.get('enformer_vep.stitch_bin')!r}, "
             f"expected {stitch}")

    # 6. cache entries read the documented way, compared with onnxruntime's output
    entries, worst_entry, identical = 0, 0.0, 0
    for k, pred in preds.items():
        for path in glob.glob(os.path.join(args.cache, "v1", "*", k[:2], f"{k}.npy.zst")):
            with open(path, "rb") as f:
                arr = np.load(io.BytesIO(zstandard.ZstdDecompressor().decompress(f.read())))
            if arr.shape != pred.shape:
                continue  # another store mode's namespace (summary entries hold sums, not bins)
            entries += 1
            identical += bool(np.array_equal(arr.astype(np.float32), pred))
            err = float(np.max(np.abs(arr.astype(np.float64) - pred)) / np.max(np.abs(pred)))
            worst_entry = max(worst_entry, err)
            if err > 1e-5:
                fail(f"cache entry {path}: differs from onnxruntime by {err:.3g} of its largest value")
    if entries == 0:
        fail(f"no cache entry under {args.cache}/v1/*/ for any of the {len(preds)} windows")

    # 7. statistics
    expected = []
    for v in vs:
        ref, alt = compose(preds, v["members"], stitch)
        expected.append(statistics(ref, alt, centre))
    # Tolerance: |tool - here| <= rtol * max(|here|, floor) with floor = 1e-2 of the statistic's typical size
    # (median |value| over all variants and tracks), i.e. an absolute floor of rtol * 1e-2 = 1e-6 of the
    # typical magnitude. A statistic is a difference of sums of float32 predictions; for a track where the
    # effect nearly cancels (|SAD| far below typical), its relative error measures float32 rounding of the
    # summands, not a mistake. The floor is far below what a wrong window, a missing flip or an off-by-one
    # stitch changes (the sensitivity line of the summary shows it on this data).
    typical = {stat: float(np.median(np.abs(np.concatenate([e[stat] for e in expected])))) for stat in STATS}
    floor = {stat: 1e-2 * typical[stat] for stat in STATS}
    worst = {stat: 0.0 for stat in STATS}
    for v, exp in zip(vs, expected):
        row = v["scores.parquet"]
        for stat in STATS:
            if stat not in row or row[stat] is None:
                fail(f"{v['where']}: scores.parquet has no {stat}")
                continue
            got = np.asarray(row[stat], dtype=np.float64)
            if got.shape != exp[stat].shape:
                fail(f"{v['where']} {stat}: {got.shape[0]} tracks, the model has {exp[stat].shape[0]}")
                continue
            rel = np.abs(got - exp[stat]) / np.maximum(np.abs(exp[stat]), floor[stat])
            worst[stat] = max(worst[stat], float(rel.max()))
            if rel.max() > args.rtol:
                t = int(rel.argmax())
                fail(f"{v['where']} {stat} track {t}: tool {got[t]:.8g}, here {exp[stat][t]:.8g} (rel {rel.max():.3g})")

    # How far the tolerance is from the mistakes it must catch: the share of variants whose statistics a
    # plausible wrong computation would move beyond it (information; the check does not depend on it).
    probes = {"stitch at c-1": lambda m: compose(preds, m, stitch - 1),
              "stitch at c+1": lambda m: compose(preds, m, stitch + 1),
              "no stitch (A only)": lambda m: compose(preds, m, None)}
    if args.rc:
        probes["RC not flipped"] = lambda m: compose(preds, m, stitch, flip=False)
    sens = []
    for name, wrong in probes.items():
        relevant = [(v, e) for v, e in zip(vs, expected) if name == "RC not flipped" or len(v["ref"]) != len(v["alt"])]
        caught = 0
        for v, exp in relevant:
            r, a = wrong(v["members"])
            bad = statistics(r, a, centre)
            caught += any(np.max(np.abs(bad[s] - exp[s]) / np.maximum(np.abs(exp[s]), floor[s])) > args.rtol
                          for s in STATS)
        if relevant:
            sens.append(f"{name} {caught}/{len(relevant)}")

    types = ", ".join(f"{n} {t}" for t, n in sorted(by_type.items()))
    print(f"independent check: {len(vs)} variants ({types}; {moved} moved by normalisation"
          f"{', all as bcftools norm' if args.bcftools_norm else ''}), "
          f"rc={'on' if args.rc else 'off'} shifts={args.shifts}, "
          f"{n_members} members / {len(preds)} distinct windows, SHA-256 keys equal")
    print(f"  cache entries compared with onnxruntime: {entries} ({identical} bit-identical), "
          f"worst {worst_entry:.3g} of max")
    print("  max relative error: " + ", ".join(f"{s} {worst[s]:.3g}" for s in STATS)
          + f" (tolerance {args.rtol:g}; floor 1e-2 x median |stat|)")
    if sens:
        print("  sensitivity (variants a wrong computation would fail): " + "; ".join(sens))
    if failures:
        print(f"independent check FAILED: {len(failures)} mismatch(es)", file=sys.stderr)
        return 1
    print("independent check: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
