#!/usr/bin/env python3
"""Time ONNX Runtime (Python, CPU by default) inference of an Enformer ONNX model, one sequence per run.

The reference the Rust `predict` step is compared against: same model file, same ONNX Runtime, batch 1,
random one-hot windows (A, C, G, T; input `dna` [1, L, 4] float32, L read from the model). Prints the session
load time, each run's time and, last, one line `seconds_per_sequence: X` (mean over the --n timed runs; the
--warmup runs before them are not counted).

  python scripts/bench_ort_python.py --model target/enformer_full_random.onnx --n 2
  python scripts/bench_ort_python.py --model tests/models/tiny_enformer.onnx --n 5 --threads 1

Needs numpy and onnxruntime (scripts/python-requirements-export.txt or -test.txt).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--model", required=True, help="the .onnx file")
    ap.add_argument("--n", type=int, default=2, help="timed sequences (2)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs first (1)")
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0 = ONNX Runtime's default)")
    ap.add_argument("--gpu", action="store_true", help="CUDAExecutionProvider (needs onnxruntime-gpu)")
    ap.add_argument("--json", action="store_true", help="also print a JSON summary line")
    args = ap.parse_args()

    import onnxruntime as ort

    so = ort.SessionOptions()
    if args.threads:
        so.intra_op_num_threads = args.threads
    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if args.gpu else ["CPUExecutionProvider"]
    t0 = time.perf_counter()
    sess = ort.InferenceSession(args.model, so, providers=providers)
    load = time.perf_counter() - t0
    inp = sess.get_inputs()[0]
    length, channels = int(inp.shape[1]), int(inp.shape[2])
    outputs = [o.name for o in sess.get_outputs()]
    print(f"onnxruntime {ort.__version__}, providers {sess.get_providers()}, cores {os.cpu_count()}, "
          f"threads {args.threads or 'default'}; model {args.model} ({os.path.getsize(args.model) / 1e6:.1f} MB), "
          f"input {inp.name} {inp.shape}, outputs {outputs}; session load {load:.2f} s", flush=True)

    rng = np.random.default_rng(0)
    eye = np.eye(channels, dtype=np.float32)
    times = []
    for i in range(args.warmup + args.n):
        x = eye[rng.integers(0, channels, size=(1, length))]
        t = time.perf_counter()
        out = sess.run(None, {inp.name: x})
        dt = time.perf_counter() - t
        if not all(np.isfinite(o).all() for o in out):
            print(f"run {i}: non-finite output", file=sys.stderr)
            return 1
        label = "warmup" if i < args.warmup else "run"
        print(f"{label} {i}: {dt:.3f} s", flush=True)
        if i >= args.warmup:
            times.append(dt)
    mean = float(np.mean(times)) if times else float("nan")
    print(f"seconds_per_sequence: {mean:.3f}")
    if args.json:
        print(json.dumps({"model": args.model, "n": len(times), "threads": args.threads or None,
                          "session_load_s": load, "seconds_per_sequence": mean, "runs_s": times,
                          "onnxruntime": ort.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
