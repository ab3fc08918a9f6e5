#!/usr/bin/env python3
"""Baseline for the cache-entry benchmark: the legacy tool's format, a gzip-compressed pickle of the
[896, 5313] float32 output. Times write and read of the array given as .npy; prints JSON."""
import gzip, json, pickle, sys, tempfile, time, os
import numpy as np

arr = np.load(sys.argv[1])
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "x.pkl.gz")
    t = time.perf_counter()
    for _ in range(reps):
        with gzip.open(path, "wb") as f:
            pickle.dump(arr, f, protocol=4)
    write = (time.perf_counter() - t) / reps
    t = time.perf_counter()
    for _ in range(reps):
        with gzip.open(path, "rb") as f:
            back = pickle.load(f)
    read = (time.perf_counter() - t) / reps
    assert np.array_equal(back, arr)
    print(json.dumps({"write_s": write, "read_s": read, "bytes": os.path.getsize(path)}))
