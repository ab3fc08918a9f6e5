#!/usr/bin/env python3
"""Split an exported Enformer ONNX file into its conv tower and the rest, for enformer-vep's split model.

  tower  `dna` float32 [batch, length, 4] -> `tower` float32 [batch, length/128, channels]   (length symbolic,
         any multiple of 128)
  rest   `tower` float32 [batch, 1536, channels] -> the heads, exactly as the monolithic model's outputs

and a manifest `<stem>.split.json` naming both files with their SHA-256 and what predict needs to patch a
substitution's tower output: the stride (128 bp per tower position), the positions of a full window (1536)
and the margin (tower positions on each side whose outputs a base change can reach; measured here).
`predict --model <stem>.split.json` uses it; the manifest's own SHA-256 is the cache fingerprint's model hash,
and it pins the two parts' hashes, so a split model has its own cache namespace.

Why graph surgery and not a second torch export: the parts are cut from the very graph whose numbers the
monolithic model gives (same weights, same constants), so tower∘rest equals it to float rounding, and the
committed tiny model can be split without torch. The cut is the transformer's input: the output of
`/enformer/_trunk/_trunk.3/Transpose` (the `b d n -> b n d` rearrange after the conv tower).

Checks (exit 1 when one fails):
  - tower∘rest vs the monolithic model on 3 windows (random ACGT, a centre SNP of it, an N prefix): max |diff|
    relative to max |monolithic| <= 1e-5;
  - the receptive field: single-base changes at both ends of a tower position; the margin is the farthest
    position they change (+1 for safety);
  - the patch: the tower on a grid-aligned sub-window (changed positions +- margin), its kept positions spliced
    into the reference's tower output, then the rest, vs the monolithic alt output: <= 1e-5.

Usage: python scripts/split_onnx.py tests/models/tiny_enformer.onnx [--out-dir tests/models]
Needs: numpy, onnx, onnxruntime (`bash scripts/pyenv split`).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

CUT = "/enformer/_trunk/_trunk.3/Transpose"
STRIDE = 128
TOLERANCE = 1e-5
FORMAT = "enformer-vep split model"
VERSION = 1


def fail(msg: str) -> None:
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(1)


def sha256(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def one_hot(windows: np.ndarray) -> np.ndarray:
    lut = np.zeros((256, 4), np.float32)
    lut[list(b"ACGT"), range(4)] = 1
    return lut[windows]


def set_dims(value_info, dims) -> None:
    shape = value_info.type.tensor_type.shape
    del shape.dim[:]
    for d in dims:
        dim = shape.dim.add()
        if isinstance(d, str):
            dim.dim_param = d
        else:
            dim.dim_value = d


def split(model_path: Path, out_dir: Path) -> tuple[Path, Path, str, int, int, int]:
    import onnx
    from onnx.utils import Extractor

    proto = onnx.load(str(model_path))
    cut = [n for n in proto.graph.node if n.name == CUT]
    if len(cut) != 1:
        fail(f"{model_path}: no node {CUT} (is it an Enformer exported by scripts/export_enformer_onnx.py?)")
    tensor = cut[0].output[0]
    (dna,) = [i for i in proto.graph.input if i.name not in {t.name for t in proto.graph.initializer}]
    window = dna.type.tensor_type.shape.dim[1].dim_value
    heads = [o.name for o in proto.graph.output]
    extractor = Extractor(onnx.shape_inference.infer_shapes(proto))
    tower = extractor.extract_model([dna.name], [tensor])
    rest = extractor.extract_model([tensor], heads)
    channels = next(v for v in list(rest.graph.input) if v.name == tensor).type.tensor_type.shape.dim[2].dim_value
    positions = window // STRIDE
    # The tower's length is symbolic: drop every inferred intermediate shape (they were inferred for 196,608 bp).
    del tower.graph.value_info[:]
    set_dims(tower.graph.input[0], ["batch", "length", 4])
    tower.graph.output[0].name = "tower"
    for n in tower.graph.node:
        n.output[:] = ["tower" if o == tensor else o for o in n.output]
    set_dims(tower.graph.output[0], ["batch", "positions", channels])
    for i in rest.graph.input:
        if i.name == tensor:
            i.name = "tower"
            set_dims(i, ["batch", positions, channels])
    for n in rest.graph.node:
        n.input[:] = ["tower" if x == tensor else x for x in n.input]
    stem = model_path.name.removesuffix(".onnx")
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = (out_dir / f"{stem}.tower.onnx", out_dir / f"{stem}.rest.onnx")
    for part, path in zip((tower, rest), paths):
        onnx.checker.check_model(part)
        onnx.save(part, str(path))
    return paths[0], paths[1], dna.name, window, positions, channels


def session(path: Path):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1  # reproducible numbers for the checks
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def relative(got: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(got.astype(np.float64) - ref).max() / max(float(np.abs(ref).max()), 1e-30))


def check(model: Path, tower: Path, rest: Path, dna: str, window: int, positions: int) -> tuple[int, bool]:
    mono, tw, rs = session(model), session(tower), session(rest)
    head = mono.get_outputs()[0].name
    rng = np.random.default_rng(12345)
    base = np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, window)]
    centre = window // 2 - 1
    snp = base.copy()
    snp[centre] = b"T"[0] if base[centre] != b"T"[0] else b"G"[0]
    nprefix = base.copy()
    nprefix[:50_000] = ord("N")
    windows = np.stack([base, snp, nprefix])
    x = one_hot(windows)
    want = mono.run([head], {dna: x})[0]
    towers = tw.run(["tower"], {"dna": x})[0]
    got = rs.run([head], {"tower": towers})[0]
    ok = True
    r = relative(got, want)
    print(f"tower∘rest vs monolithic, 3 windows: max |diff| / max |monolithic| = {r:.2e}")
    ok &= r <= TOLERANCE

    # The receptive field, in tower positions: change the first and last base of a position near the centre.
    q = positions // 2
    reach = 0
    for i in (q * STRIDE, q * STRIDE + STRIDE - 1):
        w = base.copy()
        w[i] = b"A"[0] if base[i] != b"A"[0] else b"C"[0]
        t = tw.run(["tower"], {"dna": one_hot(w[None])})[0]
        changed = np.nonzero(np.abs(t[0] - towers[0]).max(axis=1) > 0)[0]
        reach = max(reach, int(q - changed.min()), int(changed.max() - q))
        print(f"base {i} (tower position {q}) changes tower positions {changed.min()}..{changed.max()}")
    margin = reach + 1
    print(f"margin: {margin} tower positions ({margin * STRIDE} bp) on each side")

    # The patch, as predict does it: changed positions +- margin, on the grid.
    p0, p1 = max(centre // STRIDE - margin, 0), min(centre // STRIDE + margin + 1, positions)
    s0, s1 = max(p0 - margin, 0), min(p1 + margin, positions)
    sub = tw.run(["tower"], {"dna": x[1:2, s0 * STRIDE : s1 * STRIDE]})[0]
    spliced = towers[0:1].copy()
    spliced[0, p0:p1] = sub[0, p0 - s0 : p1 - s0]
    patched = rs.run([head], {"tower": spliced})[0]
    r_tower = relative(sub[0, p0 - s0 : p1 - s0], towers[1, p0:p1])
    r = relative(patched, want[1:2])
    print(f"patch: sub-window {(s1 - s0) * STRIDE} bp, positions {p0}..{p1 - 1} kept: tower {r_tower:.2e}, "
          f"output vs monolithic {r:.2e}")
    ok &= r <= TOLERANCE and r_tower <= TOLERANCE
    return margin, ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("model", type=Path, help="the monolithic .onnx file")
    ap.add_argument("--out-dir", type=Path, help="where to write the parts (default: beside the model)")
    args = ap.parse_args()
    return 0 if split_and_check(args.model, args.out_dir or args.model.parent) else 1


def split_and_check(model: Path, out_dir: Path) -> bool:
    """Writes the parts and the manifest beside each other in `out_dir`; False when a check failed."""
    tower, rest, dna, window, positions, channels = split(model, out_dir)
    margin, ok = check(model, tower, rest, dna, window, positions)
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "tower": {"file": tower.name, "sha256": sha256(tower)},
        "rest": {"file": rest.name, "sha256": sha256(rest)},
        "split_from_sha256": sha256(model),
        "window": window,
        "stride": STRIDE,
        "positions": positions,
        "channels": channels,
        "margin": margin,
    }
    path = out_dir / f"{model.name.removesuffix('.onnx')}.split.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    for p in (tower, rest, path):
        print(f"wrote {p} ({p.stat().st_size:,} bytes, sha256 {sha256(p)})")
    print("split check: " + ("OK" if ok else f"FAILED (> {TOLERANCE})"))
    return ok


if __name__ == "__main__":
    sys.exit(main())
