#!/usr/bin/env python3
"""Check the "at a glance" columns of a scores.parquet against a numpy recomputation from its list columns,
and that the track names reach pyarrow's schema metadata and pandas' DataFrame.attrs.

    python scripts/check_summary_columns.py SCORES.parquet [--expect-classes DNASE,CAGE,...]

Written from the README's description of the columns, not from the Rust code: for each statistic S and each
group (all kept tracks; each assay class C by the description prefix before ':'), S[_C]_max_abs is
nanmax(|S|) over the group, S[_C]_max_abs_value the signed value there (first on ties, as np.nanargmax),
S[_C]_max_abs_track its position in the list, and _identifier/_description the names of that track.
Exit 0 only when every value matches.
"""
import argparse
import json
import sys

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

CLASSES = ["DNASE", "ATAC", "CHIP", "CAGE"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scores")
    ap.add_argument("--expect-classes", default="")
    a = ap.parse_args()

    table = pq.read_table(a.scores)
    meta = table.schema.metadata or {}
    assert b"enformer_vep.tracks" in meta, f"no enformer_vep.tracks in schema metadata: {list(meta)}"
    tracks = json.loads(meta[b"enformer_vep.tracks"])
    stats = meta[b"enformer_vep.stats"].decode().split(",")
    attrs = pd.read_parquet(a.scores).attrs
    assert json.loads(attrs["enformer_vep.tracks"]) == tracks, "pandas attrs lack the tracks"

    classes = [c for c in CLASSES if any(t["description"].split(":")[0].strip().upper() == c for t in tracks)]
    expected = [c for c in a.expect_classes.split(",") if c]
    assert sorted(classes) == sorted(expected), f"classes {classes}, expected {expected}"
    groups = [(None, np.arange(len(tracks)))]
    for c in classes:
        groups.append((c, np.array([i for i, t in enumerate(tracks) if t["description"].split(":")[0].strip().upper() == c])))

    df = table.to_pandas()
    checked = 0
    for s in stats:
        values = np.stack([np.asarray(v, dtype=np.float32) for v in df[s]]) if len(df) else np.zeros((0, len(tracks)))
        for c, pos in groups:
            p = s if c is None else f"{s}_{c}"
            for k, row in enumerate(values):
                sub = np.abs(row[pos])
                if np.all(np.isnan(sub)):
                    assert pd.isna(df[f"{p}_max_abs"][k]), (p, k)
                    continue
                j = int(pos[int(np.nanargmax(sub))])
                got = (df[f"{p}_max_abs"][k], df[f"{p}_max_abs_value"][k], df[f"{p}_max_abs_track"][k])
                want = (np.float32(abs(row[j])), np.float32(row[j]), j)
                assert got[0] == want[0] and got[1] == want[1] and int(got[2]) == want[2], (p, k, got, want)
                assert df[f"{p}_max_abs_identifier"][k] == tracks[j]["identifier"], (p, k)
                assert df[f"{p}_max_abs_description"][k] == tracks[j]["description"], (p, k)
                checked += 1
    assert checked > 0, "no summary value checked"
    print(f"summary columns: {checked} values over {len(df)} variants, {len(stats)} statistics, groups "
          f"{['all'] + classes} match numpy")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"MISMATCH: {e}", file=sys.stderr)
        sys.exit(1)
