#!/usr/bin/env python3
"""Count the multiply-add FLOPs of an Enformer ONNX graph (or a split model's parts) from the graph itself.

Counts Conv, ConvTranspose-free graphs' Conv (2 · output elements · in-channels/group · kernel size), MatMul,
Gemm and Einsum (2 · output elements · contracted size), after ONNX shape inference with the input length fixed.
Element-wise ops, normalisations and softmax are left out (a few % of the total): the figure is the
arithmetic the convolutions and matrix products do, which is what the split model saves.

  python scripts/count_flops.py MODEL.onnx [--length 196608] [--batch 1]
  python scripts/count_flops.py MODEL.split.json [--patch 2176]     # tower (full and patch) and rest

For a split manifest it prints the tower at the full window and at the patch sub-window, the rest, the
monolithic equivalent, and the theoretical per-SNP ratio 2 · (tower + rest) / (tower + patch + 2 · rest).
Needs: onnx, onnxruntime, sympy (`bash scripts/pyenv split` or `export`).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def dims(vi) -> list[int] | None:
    t = vi.type.tensor_type
    if not t.HasField("shape"):
        return None
    out = []
    for d in t.shape.dim:
        if not d.HasField("dim_value"):
            return None
        out.append(d.dim_value)
    return out


def count(path: Path, length: int | None, batch: int) -> float:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    g = model.graph
    inits = {i.name: list(i.dims) for i in g.initializer}
    # Fix the symbolic input dimensions: batch, and the sequence length (the tower's `dna`).
    for inp in g.input:
        if inp.name in inits:
            continue
        shape = inp.type.tensor_type.shape
        for k, d in enumerate(shape.dim):
            if d.HasField("dim_param") or d.dim_value == 0:
                d.Clear()
                d.dim_value = batch if k == 0 else (length or 1)
    # ONNX Runtime's symbolic shape inference follows the pooling's computed Reshape shapes, which
    # onnx.shape_inference leaves unknown.
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    inferred = SymbolicShapeInference.infer_shapes(model, auto_merge=True)
    shapes: dict[str, list[int]] = dict(inits)
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        s = dims(vi)
        if s is not None:
            shapes[vi.name] = s
    total = 0.0
    unknown = 0
    for n in inferred.graph.node:
        out = shapes.get(n.output[0]) if n.output else None
        if n.op_type == "Conv":
            w = shapes.get(n.input[1])
            group = next((a.i for a in n.attribute if a.name == "group"), 1)
            if out is None or w is None:
                unknown += 1
                continue
            # w: [out_ch, in_ch/group, k...]: each output element sums in_ch/group · k products.
            total += 2.0 * float(np.prod(out)) * float(np.prod(w[1:]))
            del group
        elif n.op_type in ("MatMul", "Gemm"):
            a = shapes.get(n.input[0])
            if out is None or a is None:
                unknown += 1
                continue
            trans_a = next((x.i for x in n.attribute if x.name == "transA"), 0)
            k = a[-2] if (n.op_type == "Gemm" and trans_a) else a[-1]
            total += 2.0 * float(np.prod(out)) * k
        elif n.op_type == "Einsum":
            eq = next(x.s.decode() for x in n.attribute if x.name == "equation").replace(" ", "")
            lhs, rhs = eq.split("->")
            sizes: dict[str, int] = {}
            ok = True
            for term, name in zip(lhs.split(","), n.input):
                s = shapes.get(name)
                if s is None or "." in term or len(term) != len(s):
                    ok = False
                    break
                sizes.update(zip(term, s))
            if not ok:
                unknown += 1
                continue
            total += 2.0 * float(np.prod([sizes[c] for c in set(lhs.replace(",", ""))]))
    if unknown:
        print(f"warning: {path.name}: {unknown} Conv/MatMul/Einsum node(s) without inferred shapes, not counted",
              file=sys.stderr)
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--length", type=int, default=196_608)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--patch", type=int, default=None, help="patch sub-window in bp (default: from the margin)")
    a = ap.parse_args()
    if a.model.suffix != ".json":
        print(f"{a.model.name}: {count(a.model, a.length, a.batch) / 1e12:.3f} TFLOP per sequence of {a.length} bp")
        return 0
    m = json.loads(a.model.read_text())
    here = a.model.parent
    # An SNV's patch: the changed position ± margin kept, ± margin more of context, on the 128-bp grid.
    patch = a.patch or (2 * m["margin"] + 1 + 2 * m["margin"]) * m["stride"]
    tower = count(here / m["tower"]["file"], m["window"], a.batch)
    tower_patch = count(here / m["tower"]["file"], patch, a.batch)
    rest = count(here / m["rest"]["file"], None, a.batch)
    mono = tower + rest
    split = tower + tower_patch + 2 * rest
    t = 1e12
    print(f"tower, {m['window']} bp:   {tower / t:8.4f} TFLOP ({tower / mono:.1%} of a pass)")
    print(f"tower, {patch} bp patch: {tower_patch / t:8.4f} TFLOP ({tower_patch / tower:.2%} of the tower)")
    print(f"rest:                 {rest / t:8.4f} TFLOP")
    print(f"per SNP: monolithic 2 x {mono / t:.4f} = {2 * mono / t:.4f} TFLOP; split {split / t:.4f} TFLOP; "
          f"theoretical ratio {2 * mono / split:.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
