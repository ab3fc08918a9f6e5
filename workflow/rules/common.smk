# Shared helpers: configuration → command-line flags, the shard list, the predict decision.

import json
import shlex
from pathlib import Path

RESULTS = config["results"].rstrip("/")
BIN = config["binary"]
CUDA = config["device"].startswith("cuda")
LOGS = f"{RESULTS}/logs"


def flags(*keys):
    """`--key=value` for each configured key, shell-quoted: None → omitted, a boolean → `--key` when true,
    a list → one comma-separated value (`shifts: [-1, 0, 1]` → `--shifts=-1,0,1`: after `=`, a leading minus
    is not read as a flag)."""
    out = []
    for key in keys:
        value = config.get(key)
        flag = f"--{key.replace('_', '-')}"
        if value is None or value is False:
            continue
        if value is True:
            out.append(flag)
            continue
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        out.append(f"{flag}={shlex.quote(str(value))}")
    return " ".join(out)


# The cache namespace: identical for check_cache, predict and merge, or merge would look in another folder.
# The model's SHA-256 comes from namespace.json (rule namespace), so no job hashes the model again.
NAMESPACE_FILE = f"{RESULTS}/namespace.json"
NAMESPACE = (
    f"--model {shlex.quote(config['model'])} --cache {shlex.quote(config['cache'])} "
    + f"--namespace-file {shlex.quote(NAMESPACE_FILE)} "
    + flags("head", "n_encoding", "store", "window", "center_bins")
)


# The images are the user's own (containers/README.md): the configuration's default is this placeholder, and
# a run that would use containers with it stops at start and says how to build and name them.
IMAGE_PLACEHOLDER = "CHANGE-ME"


def container_for(step):
    images = config["containers"]
    return images["gpu"] if step == "predict" and CUDA else images["cpu"]


def check_images():
    settings = getattr(workflow, "deployment_settings", None)
    methods = getattr(settings, "deployment_method", None) or ()
    if not any(getattr(m, "name", "") == "APPTAINER" for m in methods):
        return
    builds = {
        "cpu": "containers/Dockerfile (or containers/enformer-vep.def)",
        "gpu": "containers/Dockerfile.cuda (or containers/enformer-vep-cuda.def)",
    }
    for kind in ["cpu", "gpu"] if CUDA else ["cpu"]:
        if config["containers"][kind] in ("", IMAGE_PLACEHOLDER):
            raise ValueError(
                f"enformer-vep: containers: {kind} is not set ({config['containers'][kind]!r}). No image is "
                f"published: build the image with {builds[kind]} as containers/README.md shows, push it to "
                f"your registry or keep the .sif, and set containers: {kind}: docker://REGISTRY/enformer-vep:TAG "
                f"or /path/to/enformer-vep.sif in your configuration."
            )


check_images()


def step_resources(kind, **defaults):
    """Rule defaults overridden by config `resources: {predict|cpu_steps: {mem_mb, runtime, threads}}`."""
    return {**defaults, **config["resources"].get(kind, {})}


CPU_RESOURCES = step_resources(
    "cpu_steps", mem_mb=4000, runtime=120, threads=config["threads"] or 2
)
PREDICT_RESOURCES = step_resources(
    "predict",
    mem_mb=16000,
    runtime=1440,
    threads=config["threads"] or (1 if CUDA else 2),
)


def shard_names():
    """The shards extract_seqs wrote (known only once that checkpoint has run)."""
    shards = Path(checkpoints.extract_seqs.get().output.shards)
    return sorted(p.stem for p in shards.glob("shard-*.parquet"))


def check_cache_summaries(wildcards):
    # Plain inputs of the aggregate rule, so that every shard's checkpoint job enters the DAG at once
    # (an input function that only calls checkpoints.check_cache.get() would run them one by one).
    return [f"{RESULTS}/todo/{shard}.json" for shard in shard_names()]


def predict_summaries(wildcards):
    """Predict outputs only for the shards whose check_cache summary reports missing sequences."""
    needed = []
    for shard in shard_names():
        summary = checkpoints.check_cache.get(shard=shard).output.summary
        with open(summary) as f:
            if json.load(f)["missing"] > 0:
                needed.append(f"{RESULTS}/predict/{shard}.json")
    return needed
