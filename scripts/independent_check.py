#!/usr/bin/env python3
"""Recompute enformer-vep's scores independently and compare.

Reads the scored variants from scores.parquet, rebuilds each variant's two windows straight from the FASTA
(naive reading: whole file, lines joined; the window convention from conventions.md), one-hot encodes them
with numpy, runs the ONNX model with Python onnxruntime, computes SAD/logSED/D2/CENTER with numpy in float64
and compares them with the Rust results (relative tolerance 1e-5, as the issue asks). Also reads one cache
entry the way the README tells Python users to. Exit status 0 when everything matches.

    python scripts/independent_check.py --scores S.parquet --genome G.fa --model M.onnx [--cache DIR]
"""
import argparse
import glob
import io
import sys

import numpy as np
import onnxruntime as ort
import pyarrow.parquet as pq
import zstandard

L = 196_608
BIN = 128


def read_fasta(path):
    seqs, name = {}, None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line.startswith(">"):
                name = line[1:].split()[0]
                seqs[name] = []
            elif name is not None:
                seqs[name].append(line.upper())
    return {k: "".join(v) for k, v in seqs.items()}


def window(seq, pos):
    start = pos - L // 2
    return "".join(seq[i] if 0 <= i < len(seq) else "N" for i in range(start, start + L))


def onehot(s):
    arr = np.frombuffer(s.encode(), dtype=np.uint8)
    out = np.zeros((len(s), 4), dtype=np.float32)
    for i, b in enumerate(b"ACGT"):
        out[arr == b, i] = 1.0
    return out


def center_bins(bins, k):
    offset = (L - bins * BIN) // 2
    pos = L // 2 - 1 + 0.5
    dist = lambda b: abs(offset + b * BIN + BIN / 2 - pos)
    order = sorted(range(bins), key=lambda b: (dist(b), b))
    chosen = sorted(order[:k])
    return chosen[0], chosen[-1] + 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scores", required=True)
    ap.add_argument("--genome", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--cache")
    ap.add_argument("--center-bins", type=int, default=10)
    ap.add_argument("--rtol", type=float, default=1e-5)
    args = ap.parse_args()

    genome = read_fasta(args.genome)
    scores = pq.read_table(args.scores).to_pylist()
    sess = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    in_name = sess.get_inputs()[0].name
    worst, checked = 0.0, 0
    for row in scores:
        seq = genome[row["contig"]]
        ref_w = window(seq, row["pos"])
        assert ref_w[L // 2 - 1] == row["ref"], f"ref base at {row['contig']}:{row['pos']}"
        alt_w = ref_w[: L // 2 - 1] + row["alt"] + ref_w[L // 2 :]
        out = sess.run(["human"], {in_name: np.stack([onehot(ref_w), onehot(alt_w)])})[0].astype(np.float64)
        ref, alt = out[0], out[1]
        lo, hi = center_bins(ref.shape[0], args.center_bins)
        expected = {
            "SAD": (alt - ref).sum(0),
            "logSED": np.log2(alt.sum(0) + 1) - np.log2(ref.sum(0) + 1),
            "D2": np.sqrt(((alt - ref) ** 2).sum(0)),
            "CENTER": (alt[lo:hi] - ref[lo:hi]).sum(0),
        }
        for stat, exp in expected.items():
            if stat not in row:
                continue
            got = np.asarray(row[stat], dtype=np.float64)
            scale = np.maximum(np.abs(exp), 1e-3 * np.abs(exp).max() + 1e-30)
            rel = float(np.max(np.abs(got - exp) / scale))
            worst = max(worst, rel)
            if rel > args.rtol:
                print(f"MISMATCH {row['id']} {stat}: relative difference {rel:.3g}", file=sys.stderr)
                return 1
        checked += 1
    print(f"independent check: {checked} variants, 4 statistics, worst relative difference {worst:.3g}")

    if args.cache:
        entries = sorted(glob.glob(f"{args.cache}/v1/*/*/*.npy.zst"))
        arr = np.load(io.BytesIO(zstandard.ZstdDecompressor().decompress(open(entries[0], "rb").read())))
        print(f"cache entry read with numpy + zstandard: {entries[0].split('/')[-1]} {arr.dtype} {arr.shape}")
    return 0 if checked > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
