#!/usr/bin/env python3
"""Writes an ONNX model with Enformer's exact I/O contract and negligible compute, for benchmarks of the tool's
own data path (the model is not what they measure):

  dna [batch, 196608, 4] → reshape [batch, 1536, 128, 4] → sum over the 128 bp of each bin → central 896 bins
  → matmul [4, tracks] → softplus → human [batch, 896, 5313], and the same with [4, 1643] → mouse.

Outputs are positive and differ between windows, like Enformer's. Usage: make_contract_model.py OUT.onnx
Needs: numpy, onnx (`bash scripts/pyenv bench`)."""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main(out):
    rng = np.random.default_rng(5)
    inits = [
        numpy_helper.from_array(np.array([-1, 1536, 128, 4], dtype=np.int64), "bins_shape"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "bp_axis"),
        numpy_helper.from_array(np.array([320], dtype=np.int64), "crop_start"),
        numpy_helper.from_array(np.array([1216], dtype=np.int64), "crop_end"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "bin_axis"),
    ]
    nodes = [
        helper.make_node("Reshape", ["dna", "bins_shape"], ["bins"]),
        helper.make_node("ReduceSum", ["bins", "bp_axis"], ["counts"], keepdims=0),
        helper.make_node("Slice", ["counts", "crop_start", "crop_end", "bin_axis"], ["central"]),
    ]
    outputs = []
    for head, tracks in (("human", 5313), ("mouse", 1643)):
        w = (rng.normal(0, 1, (4, tracks)) / 128).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"{head}_w"))
        nodes += [
            helper.make_node("MatMul", ["central", f"{head}_w"], [f"{head}_linear"]),
            helper.make_node("Softplus", [f"{head}_linear"], [head]),
        ]
        outputs.append(helper.make_tensor_value_info(head, TensorProto.FLOAT, ["batch", 896, tracks]))
    dna = helper.make_tensor_value_info("dna", TensorProto.FLOAT, ["batch", 196608, 4])
    graph = helper.make_graph(nodes, "enformer_contract", [dna], outputs, inits)
    # IR version 8 (opset 17): read by every ONNX Runtime ≥ 1.14, not only the newest.
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, out)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
