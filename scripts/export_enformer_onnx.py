#!/usr/bin/env python3
"""Export Enformer (PyPI package `enformer-pytorch`) to ONNX for enformer-vep.

Contract of the exported graph (see ../shared/conventions.md):
  input   `dna`    float32 [batch, 196608, 4]   one-hot, channels A, C, G, T; N (and any other byte) = all zeros
  outputs `human`  float32 [batch, 896, 5313]   (the tiny model: [batch, 896, 16])
          `mouse`  float32 [batch, 896, 1643]   (full model only)
ONNX opset 17, the batch dimension is symbolic (`batch`), everything else is fixed. One self-contained
.onnx file (no external data): the full model is ~1 GB, below protobuf's 2 GB limit.

Why a patch is needed: Enformer's relative positional features use gamma densities (torch.xlogy and
torch.lgamma), which no ONNX exporter supports. They depend only on the sequence length inside the
transformer (196608 / 128 = 1536), not on the input, so this script computes them once in torch with the
package's own `get_positional_embed` and, while exporting, makes `get_positional_embed` return that
precomputed tensor, which the exporter stores as a constant. The torch reference used by --check/--golden runs
the package's unpatched code, so the comparison also checks the patch.

Models:
  (default)         the pretrained weights `EleutherAI/enformer-official-rough` from the Hugging Face hub, with
                    the TensorFlow gamma features the package uses for them (use_tf_gamma=True). Needs a machine
                    that reaches the hub; otherwise the script exits 1 and says so.
  --weights PATH    the same from a local copy: a directory saved by `save_pretrained`/downloaded from the hub
                    (config.json + weights), or a torch state-dict file for the default (full-size) config.
  --random-weights  full-size architecture, random weights (seeded); for benchmarks and pipeline tests.
  --tiny            a tiny model of the same architecture and I/O contract (dim 48, 1 transformer layer, 2 heads,
                    16 human tracks, still 196608 bp in and 896 bins out), random weights (seeded). The package
                    zero-initialises the attention output projection, which would make the attention a no-op:
                    for --tiny and --random-weights it is randomised. For --tiny all conv/linear weights are
                    redrawn a little larger than the default init and the batch-norm/layer-norm statistics and
                    affine parameters are randomised, so a centre SNP visibly changes the output (see randomise_).

Options:
  --check           run ONNX Runtime (CPU) and torch on 2 random one-hot windows (as one batch of 2), print the
                    max absolute and relative (to max |torch|) differences, exit 1 if relative > 1e-4.
  --split           also write the split model beside --out (<stem>.tower.onnx, <stem>.rest.onnx and the manifest
                    <stem>.split.json that `predict --model` takes), cut from the exported graph by
                    scripts/split_onnx.py, which checks tower∘rest against it (1e-5) and measures the margin.
  --golden DIR      write DIR/<stem>.golden_input.npy (uint8 [3, 196608] ASCII windows: a pseudo-random ACGT
                    window, the same with the centre base, index 98303, changed, and the first window with its
                    first 50,000 bases replaced by N) and DIR/<stem>.golden_output.npy (float32 [3, 896, tracks],
                    the ONNX Runtime CPU output `human` for them), and print the centre-SNP sensitivity.

Examples:
  python scripts/export_enformer_onnx.py --tiny --seed 0 --out tests/models/tiny_enformer.onnx \
      --check --golden tests/models
  python scripts/export_enformer_onnx.py --random-weights --seed 0 --out target/enformer_full_random.onnx --check
  python scripts/export_enformer_onnx.py --random-weights --seed 0 --out target/enformer_full_random.onnx --split
  python scripts/export_enformer_onnx.py --out enformer.onnx --check          # needs the Hugging Face hub

Install (CPU is enough): python3 -m venv .venv-export &&
  .venv-export/bin/pip install -r scripts/python-requirements-export.txt
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import sys
import time
from pathlib import Path

import numpy as np

SEQUENCE_LENGTH = 196_608
TARGET_LENGTH = 896
CENTRE_INDEX = SEQUENCE_LENGTH // 2 - 1  # 98303: the variant's base (conventions.md)
N_PREFIX = 50_000
OPSET = 17
PRETRAINED = "EleutherAI/enformer-official-rough"
TINY_HPARAMS = dict(
    dim=48,
    depth=1,
    heads=2,
    attn_dim_key=12,
    output_heads=dict(human=16),
    dim_divisible_by=6,  # conv tower filters 24, 30, 30, 36, 42, 48
)
CHECK_TOLERANCE = 1e-4
TINY_GAIN = 1.1


def fail(msg: str) -> None:
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(1)


# ---------------------------------------------------------------------------------------------------------------
# sequences


def one_hot(windows: np.ndarray) -> np.ndarray:
    """uint8 [B, L] ASCII -> float32 [B, L, 4], channels A, C, G, T; every other byte (N, ...) all zeros."""
    lut = np.zeros((256, 4), np.float32)
    for i, base in enumerate(b"ACGT"):
        lut[base, i] = 1.0
    return lut[windows]


def random_windows(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, size=(n, SEQUENCE_LENGTH))]


def golden_windows(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 12345)
    ref = random_windows(rng, 1)[0]
    alt = ref.copy()
    bases = b"ACGT"
    alt[CENTRE_INDEX] = bases[(bases.index(int(ref[CENTRE_INDEX])) + 1) % 4]
    masked = ref.copy()
    masked[:N_PREFIX] = ord("N")
    return np.stack([ref, alt, masked])


# ---------------------------------------------------------------------------------------------------------------
# model


def build_model(args):
    import torch
    from enformer_pytorch import Enformer
    import enformer_pytorch.modeling_enformer as me

    torch.manual_seed(args.seed)
    if args.tiny:
        model = Enformer.from_hparams(**TINY_HPARAMS)
        randomise_(model, args.seed, tiny=True)
        tf_gamma = False
    elif args.random_weights:
        model = Enformer.from_hparams()
        randomise_(model, args.seed, tiny=False)
        tf_gamma = False
    else:
        model = load_pretrained(args.weights)
        tf_gamma = True  # what enformer_pytorch.from_pretrained does for the official weights
    if args.tf_gamma is not None:
        tf_gamma = args.tf_gamma
    for m in model.modules():
        if isinstance(m, me.Attention):
            m.use_tf_gamma = tf_gamma
    model.eval()
    return model


def load_pretrained(weights: str | None):
    import torch
    from enformer_pytorch import Enformer

    if weights is None:
        try:
            # without a route to the hub, huggingface_hub retries for about a minute: only the local cache then
            return Enformer.from_pretrained(PRETRAINED, local_files_only=not hub_reachable())
        except Exception as e:  # no network, hub unreachable, not cached, ...
            fail(
                f"could not load the pretrained weights '{PRETRAINED}' from the Hugging Face hub "
                f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}).\n"
                "The pretrained weights need a machine that reaches the Hugging Face hub. Run this script there, "
                "or download the checkpoint there and pass --weights PATH (the checkpoint directory). "
                "--random-weights or --tiny export without weights."
            )
    p = Path(weights)
    if p.is_dir():
        return Enformer.from_pretrained(str(p), local_files_only=True)
    if p.is_file():
        model = Enformer.from_hparams()
        state = torch.load(str(p), map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        model.load_state_dict(state, strict=True)
        return model
    fail(f"--weights {weights}: no such file or directory")


def hub_reachable(timeout: float = 5.0) -> bool:
    import socket
    from urllib.parse import urlparse

    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False"):
        return False
    try:
        from huggingface_hub import constants

        url = urlparse(constants.ENDPOINT)
        with socket.create_connection((url.hostname, url.port or 443), timeout=timeout):
            return True
    except Exception:
        return False


def randomise_(model, seed: int, tiny: bool) -> None:
    """Deterministic random values where the package initialises to zero/identity (see the module docstring).

    For --tiny every Conv1d/Linear weight is also redrawn from N(0, (TINY_GAIN / sqrt(fan_in))^2) (biases
    N(0, 0.1^2)): with the package's default init the signal of one base fades along the conv tower, and a centre
    SNP changes the 16 outputs by ~1e-6 of their size; with this gain it is ~1e-2 while the outputs stay in
    (0.05, 5) (the heads' weights are halved for that).
    """
    import torch
    from torch import nn
    import enformer_pytorch.modeling_enformer as me

    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for m in model.modules():
            if tiny and isinstance(m, (nn.Conv1d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.normal_(0.0, TINY_GAIN * fan_in**-0.5, generator=g)
                if m.bias is not None:
                    m.bias.normal_(0.0, 0.1, generator=g)
            elif isinstance(m, me.Attention) and not tiny:
                fan_in = m.to_out.in_features
                m.to_out.weight.normal_(0.0, fan_in**-0.5, generator=g)
                m.to_out.bias.normal_(0.0, 0.02, generator=g)
            elif tiny and isinstance(m, nn.BatchNorm1d):
                m.weight.uniform_(0.8, 1.25, generator=g)
                m.bias.normal_(0.0, 0.1, generator=g)
                m.running_mean.normal_(0.0, 0.1, generator=g)
                m.running_var.uniform_(0.5, 1.5, generator=g)
            elif tiny and isinstance(m, nn.LayerNorm):
                m.weight.uniform_(0.8, 1.25, generator=g)
                m.bias.normal_(0.0, 0.1, generator=g)
        if tiny:  # keep the heads' pre-softplus values within about +-3, so no output is close to 0
            for head in model.heads.values():
                head[0].weight.mul_(0.5)


@contextlib.contextmanager
def precomputed_positional_features(model, seq_len: int):
    """Makes enformer_pytorch's get_positional_embed return tensors precomputed (by itself) in torch."""
    import torch
    import enformer_pytorch.modeling_enformer as me

    original = me.get_positional_embed
    cache = {}
    for m in model.modules():
        if isinstance(m, me.Attention):
            dtype = m.to_rel_k.weight.dtype
            key = (seq_len, m.num_rel_pos_features, bool(m.use_tf_gamma), dtype)
            if key not in cache:
                with torch.no_grad():
                    cache[key] = original(
                        seq_len, m.num_rel_pos_features, torch.device("cpu"), use_tf_gamma=m.use_tf_gamma, dtype=dtype
                    ).contiguous()

    def lookup(n, feature_size, device, use_tf_gamma, dtype=torch.float):
        key = (int(n), int(feature_size), bool(use_tf_gamma), dtype)
        if key not in cache:
            raise RuntimeError(f"positional features for {key} were not precomputed")
        return cache[key].to(device)

    me.get_positional_embed = lookup
    try:
        yield
    finally:
        me.get_positional_embed = original


def transformer_length(model) -> int:
    """Sequence length inside the transformer: 196608 / 2 ** (number of attention pools)."""
    import enformer_pytorch.modeling_enformer as me

    pools = sum(isinstance(m, me.AttentionPool) for m in model.modules())
    return SEQUENCE_LENGTH // (2**pools)


def make_wrapper(model):
    import torch

    heads = list(model.output_heads.keys())

    class OnnxEnformer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.enformer = model

        def forward(self, dna):
            out = self.enformer(dna)
            return tuple(out[h] for h in heads)

    return OnnxEnformer().eval(), heads


def export(model, out: Path) -> list[str]:
    import torch

    wrapper, heads = make_wrapper(model)
    dummy = torch.from_numpy(one_hot(random_windows(np.random.default_rng(0), 1)))
    dynamic = {"dna": {0: "batch"}, **{h: {0: "batch"} for h in heads}}
    out.parent.mkdir(parents=True, exist_ok=True)
    with precomputed_positional_features(model, transformer_length(model)), torch.no_grad():
        torch.onnx.export(
            wrapper,
            (dummy,),
            str(out),
            input_names=["dna"],
            output_names=heads,
            dynamic_axes=dynamic,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    import onnx

    proto = onnx.load(str(out), load_external_data=False)
    # The TorchScript exporter leaves the bins dimension of the outputs symbolic (e.g. 'Softplushuman_dim_1');
    # declare the full contract [batch, 896, tracks] on the graph outputs.
    for o in proto.graph.output:
        dims = o.type.tensor_type.shape.dim
        want = [None, model.target_length, model.output_heads[o.name]]
        if len(dims) != 3:
            fail(f"output {o.name} has rank {len(dims)}, expected 3")
        dims[0].Clear()
        dims[0].dim_param = "batch"
        for d, v in zip(dims[1:], want[1:]):
            if d.HasField("dim_value") and d.dim_value != v:
                fail(f"output {o.name} has a dimension {d.dim_value}, expected {v}")
            d.Clear()
            d.dim_value = v
    onnx.save(proto, str(out))
    proto = onnx.load(str(out), load_external_data=False)
    ops = sorted({n.op_type for n in proto.graph.node})
    ext = [t.name for t in proto.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    if ext:
        fail(f"{out} uses external data ({len(ext)} tensors); expected a single file")
    onnx.checker.check_model(str(out))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, sha256 {sha256(out)}); ops: {', '.join(ops)}")
    return heads


def sha256(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# running


def ort_session(path: Path, threads: int | None = None):
    import onnxruntime as ort

    so = ort.SessionOptions()
    if threads:
        so.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def run_torch(model, x: np.ndarray) -> dict[str, np.ndarray]:
    import torch

    with torch.no_grad():
        out = model(torch.from_numpy(x))
    return {k: v.numpy() for k, v in out.items()}


def compare(name: str, got: np.ndarray, ref: np.ndarray) -> float:
    d = np.abs(got.astype(np.float64) - ref.astype(np.float64))
    rel = float(d.max() / max(np.abs(ref).max(), 1e-30))
    elem = float((d / np.maximum(np.abs(ref), 1e-6)).max())
    print(f"  {name}: max |ort - torch| = {d.max():.3e}, relative to max |torch| = {rel:.3e}, "
          f"max elementwise relative = {elem:.3e}")
    return rel


def check(model, path: Path, heads: list[str], seed: int) -> bool:
    x = one_hot(random_windows(np.random.default_rng(seed + 777), 2))
    sess = ort_session(path)
    ort_out = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"dna": x})))
    ref = run_torch(model, x)
    print("check: ONNX Runtime vs torch on 2 random one-hot windows (one batch of 2)")
    ok = True
    for h in heads:
        if ort_out[h].shape != ref[h].shape:
            print(f"  {h}: shape {ort_out[h].shape} != torch {ref[h].shape}")
            ok = False
            continue
        rel = compare(h, ort_out[h], ref[h])
        ok &= rel <= CHECK_TOLERANCE and bool(np.isfinite(ort_out[h]).all())
    print("check: " + ("OK" if ok else f"FAILED (relative difference > {CHECK_TOLERANCE} or non-finite)"))
    return ok


def golden(model, path: Path, heads: list[str], out_dir: Path, seed: int, tiny: bool) -> bool:
    head = heads[0]
    windows = golden_windows(seed)
    x = one_hot(windows)
    sess = ort_session(path)
    names = [o.name for o in sess.get_outputs()]
    out = sess.run([head], {"dna": x})[0]
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = path.name[: -len(".onnx")] if path.name.endswith(".onnx") else path.name
    np.save(out_dir / f"{stem}.golden_input.npy", windows.astype(np.uint8))
    np.save(out_dir / f"{stem}.golden_output.npy", out.astype(np.float32))
    print(f"golden: wrote {out_dir}/{stem}.golden_input.npy {windows.shape} uint8 and "
          f"{stem}.golden_output.npy {out.shape} float32 (ONNX Runtime CPU output '{head}'; outputs {names})")
    ok = True
    # one window at a time must give the same numbers as the batch of 3
    single = np.concatenate([sess.run([head], {"dna": x[i : i + 1]})[0] for i in range(len(x))])
    print(f"golden: batch of 3 vs one at a time: max |diff| = {np.abs(single - out).max():.3e}")
    ref = run_torch(model, x)[head]
    compare(f"golden {head} (torch vs ORT)", out, ref)
    finite = bool(np.isfinite(out).all())
    print(f"golden: output finite: {finite}, min {out.min():.4g}, max {out.max():.4g}, mean {out.mean():.4g}")
    ok &= finite and bool((out > 0).all())
    centre = slice(440, 456)
    d = np.abs(out[1] - out[0])
    snp = float(d[centre].max())
    scale = float(np.abs(out[0]).max())
    far = float(np.max(np.delete(d, np.r_[centre], axis=0)))
    print(f"golden: centre SNP (index {CENTRE_INDEX}): max |alt - ref| in bins 440..455 = {snp:.4g} "
          f"({snp / scale:.3e} of max |ref| = {scale:.4g}); outside those bins = {far:.4g}; "
          f"bin of the max = {int(np.unravel_index(np.argmax(d), d.shape)[0])}")
    dn = np.abs(out[2] - out[0]).max(axis=1)
    print(f"golden: N prefix (first {N_PREFIX} bases): bins changed (> 0): {int((dn > 0).sum())} of {len(dn)}; "
          f"first changed bin {int(np.argmax(dn > 0))}, last {int(len(dn) - 1 - np.argmax(dn[::-1] > 0))}")
    if tiny and snp <= 1e-3 * scale:
        print("golden: the centre SNP does not visibly change the output (<= 1e-3 of its magnitude)")
        ok = False
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--out", required=True, type=Path, help="the .onnx file to write")
    kind = ap.add_mutually_exclusive_group()
    kind.add_argument("--tiny", action="store_true", help="tiny model, random weights (offline)")
    kind.add_argument("--random-weights", action="store_true", help="full-size model, random weights (offline)")
    kind.add_argument("--weights", help="local pretrained checkpoint (directory or state-dict file)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random weights and test windows (0)")
    ap.add_argument("--tf-gamma", action=argparse.BooleanOptionalAction, default=None,
                    help="use the package's TensorFlow gamma positional features (default: yes for pretrained "
                         "weights, as enformer_pytorch.from_pretrained does, no otherwise)")
    ap.add_argument("--check", action="store_true", help="compare ONNX Runtime with torch; exit 1 if they differ")
    ap.add_argument("--golden", type=Path, metavar="DIR", help="write golden input/output .npy files to DIR")
    ap.add_argument("--split", action="store_true", help="also write the split model (tower + rest + manifest)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    args = ap.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.time()
    model = build_model(args)
    n_params = sum(p.numel() for p in model.parameters())
    kind = "tiny" if args.tiny else "full-size, random weights" if args.random_weights else "pretrained"
    print(f"model: {kind}, {n_params:,} parameters, heads {model.output_heads}, "
          f"torch {torch.__version__}")
    heads = export(model, args.out)
    print(f"export took {time.time() - t0:.1f} s")
    ok = True
    if args.check:
        ok &= check(model, args.out, heads, args.seed)
    if args.golden:
        ok &= golden(model, args.out, heads, args.golden, args.seed, args.tiny)
    if args.split:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from split_onnx import split_and_check

        ok &= split_and_check(args.out, args.out.parent)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
