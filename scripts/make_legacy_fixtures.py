#!/usr/bin/env python3
"""Legacy cache entries as the old Python tool wrote them: gzip of a pickle of a numpy array [bins, tracks]
or [1, bins, tracks], or of a dict {'human': array, 'mouse': array}. Used by the tests of `cache
import-legacy`, `check-cache --legacy-cache` and `merge --legacy-cache` (run with the venv of scripts/pyenv).

  make_legacy_fixtures.py fixtures OUT_DIR [--bins 896 --tracks 5]
      every protocol (2-5) x form (array2d, array3d, dict, fortran, float16, float64, bigendian) as
      NAME.pkl.gz, with NAME.expected.npy: the C-ordered float32 [bins, tracks] 'human' array a reader must
      return, and manifest.json listing them.

  make_legacy_fixtures.py from-cache NAMESPACE_DIR OUT_DIR
      one SEQ_ID.pkl.gz per entry of one of our cache namespaces (v1/<fingerprint>/<ab>/SEQ_ID.npy.zst,
      float32 store), cycling through the protocols and the lossless forms, so that the legacy folder holds
      exactly the outputs our cache holds.
"""
import argparse
import gzip
import io
import json
import pathlib
import pickle

import numpy as np
import zstandard

PROTOCOLS = (2, 3, 4, 5)


def forms(arr, rng):
    """(name, object to pickle, expected float32 'human' array) for one C-ordered float32 [bins, tracks]."""
    mouse = rng.standard_normal((arr.shape[0], 3)).astype(np.float32)
    yield "array2d", arr, arr
    yield "array3d", arr[None, ...], arr
    yield "dict", {"human": arr, "mouse": mouse}, arr
    yield "fortran", np.asfortranarray(arr), arr
    yield "float64", arr.astype(np.float64), arr
    yield "bigendian", arr.astype(">f4"), arr
    half = arr.astype(np.float16)
    yield "float16", {"human": half[None, ...]}, half.astype(np.float32)


LOSSLESS = ("array2d", "array3d", "dict", "fortran", "float64", "bigendian")


def write_pickle(path, obj, protocol):
    with gzip.open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)


def fixtures(out, bins, tracks):
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20240601)
    arr = (rng.standard_normal((bins, tracks)) * 3).astype(np.float32)
    arr[0, 0], arr[1, 0] = 0.0, -0.0
    arr[2, 0] = np.float32(1e-40)  # subnormal
    manifest = []
    for protocol in PROTOCOLS:
        for form, obj, expected in forms(arr, rng):
            name = f"p{protocol}_{form}"
            write_pickle(out / f"{name}.pkl.gz", obj, protocol)
            np.save(out / f"{name}.expected.npy", np.ascontiguousarray(expected, dtype="<f4"))
            manifest.append({"name": name, "protocol": protocol, "form": form, "shape": [bins, tracks]})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))


def read_entry(path):
    raw = zstandard.ZstdDecompressor().decompress(path.read_bytes())
    arr = np.load(io.BytesIO(raw))
    assert arr.dtype == np.dtype("<f4") and arr.ndim == 2, f"{path}: not a float32 [bins, tracks] entry"
    return arr


def from_cache(ns_dir, out):
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    paths = sorted(ns_dir.glob("??/*.npy.zst"))
    assert paths, f"no entries under {ns_dir}"
    combos = [(p, f) for p in PROTOCOLS for f in LOSSLESS]
    written = []
    for i, path in enumerate(paths):
        seq_id = path.name.split(".")[0]
        protocol, form = combos[i % len(combos)]
        obj = dict((name, o) for name, o, _ in forms(read_entry(path), rng))[form]
        write_pickle(out / f"{seq_id}.pkl.gz", obj, protocol)
        written.append({"seq_id": seq_id, "protocol": protocol, "form": form})
    print(json.dumps({"written": len(written), "combinations": len({(w["protocol"], w["form"]) for w in written})}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fixtures")
    f.add_argument("out", type=pathlib.Path)
    f.add_argument("--bins", type=int, default=896)
    f.add_argument("--tracks", type=int, default=5)
    c = sub.add_parser("from-cache")
    c.add_argument("namespace", type=pathlib.Path)
    c.add_argument("out", type=pathlib.Path)
    a = ap.parse_args()
    if a.cmd == "fixtures":
        fixtures(a.out, a.bins, a.tracks)
    else:
        from_cache(a.namespace, a.out)


if __name__ == "__main__":
    main()
