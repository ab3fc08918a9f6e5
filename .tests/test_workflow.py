"""End-to-end tests of the Snakemake workflow on real data (chr20 slice + GoNL VCF) with the tiny model, and
on the built-in demo data with the catalog-style test configuration (.tests/integration/).

Run by scripts/test with the workflows venv: `python -m pytest .tests/test_workflow.py`. The binary comes from
ENFORMER_VEP_BIN (default target/release/enformer-vep). Every scenario compares the workflow's scores with
`enformer-vep run` on the same input, and counts the predict jobs Snakemake scheduled. The real-data tests
are skipped when ../shared/data/real is absent; the demo-data ones always run.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "workflow" / "Snakefile"
INTEGRATION = REPO / ".tests" / "integration"
BIN = Path(os.environ.get("ENFORMER_VEP_BIN", REPO / "target" / "release" / "enformer-vep")).resolve()
MODEL = REPO / "tests" / "models" / "tiny_enformer.onnx"
REAL = REPO.parent / "shared" / "data" / "real"
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
REGION = "20:60000-68000"
SHARD_SIZE = 8
STATS = ["SAD", "logSED", "D2", "CENTER"]



@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The real inputs linked into a temp folder (the shared folder stays untouched), and the reference scores."""
    if not REAL.is_dir():
        pytest.skip(f"{REAL} is absent (this test needs the shared real data)")
    d = tmp_path_factory.mktemp("data")
    genome = d / "chr20.fa"
    genome.symlink_to(REAL / "genome" / "varda_hg19_chr20_1-200000.fa")
    vcf = REAL / "vcf" / "varda_gonl-summary_chr20_60k-200k.hg19.vcf"
    reference = d / "run" / "scores.parquet"
    out = subprocess.run(
        [BIN, "run", "--quiet", "--variants", vcf, "--genome", genome, "--model", MODEL, "--cache", d / "run-cache",
         "--out", reference, "--region", REGION, "--shard-size", str(SHARD_SIZE)],
        capture_output=True, text=True, check=True,
    )
    counts = json.loads(out.stdout)
    assert counts["computed"] > 40 and counts["failed"] == 0, counts
    return {"dir": d, "genome": genome, "vcf": vcf, "reference": reference}


def write_config(path, data, cache, results, **extra):
    config = {
        "variants": str(data["vcf"]), "genome": str(data["genome"]), "model": str(MODEL), "cache": str(cache),
        "results": str(results), "binary": str(BIN), "region": REGION, "shard_size": SHARD_SIZE, "stats": STATS,
        **extra,
    }
    path.write_text(yaml.safe_dump(config))
    return path


def snakemake(config, workdir, *extra, check=True):
    cmd = [SNAKEMAKE, "--snakefile", SNAKEFILE, "--configfile", config, "--directory", workdir, "--cores", "2",
           "--rerun-incomplete", *extra]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if check and out.returncode != 0:
        pytest.fail(f"snakemake failed ({out.returncode}):\n{out.stderr[-6000:]}")
    return out


def predict_jobs(results):
    """Shards Snakemake ran predict for (each predict job writes predict/<shard>.json)."""
    return sorted(p.stem for p in (results / "predict").glob("shard-*.json"))


def shards(results):
    return sorted(p.stem for p in (results / "extract" / "shards").glob("shard-*.parquet"))


def missing(results, shard):
    return json.loads((results / "todo" / f"{shard}.json").read_text())["missing"]


def assert_same_scores(scores, reference, min_rows=30, columns=()):
    got, want = pq.read_table(scores), pq.read_table(reference)
    assert got.num_rows == want.num_rows > min_rows
    for column in ["id", "chrom", "pos", "ref", "alt", *columns, *STATS]:
        assert got.column(column).to_pylist() == want.column(column).to_pylist(), column


def computed(results, shard):
    try:
        return json.loads((results / "predict" / f"{shard}.json").read_text())["computed"]
    except (OSError, ValueError):
        return 0  # being written


def assert_report_shows_the_steps(results, shards):
    """The report's run summary shows the sequences needed, cached and computed, summed over the check-cache
    and predict summaries, and a time row per step (merge's from its --summary): the records were all found."""
    html = (results / "report.html").read_text()
    todo = [json.loads(p.read_text()) for p in sorted((results / "todo").glob("shard-*.json"))]
    done = [json.loads(p.read_text()) for p in sorted((results / "predict").glob("shard-*.json"))]
    assert len(todo) == shards, todo
    row = '<td>{}</td><td class="num">{}</td>'.format
    assert row(f"sequences needed ({shards} shards)", sum(s["sequences"] for s in todo)) in html
    assert row("cached (not computed)", sum(s["cached"] for s in todo + done)) in html
    assert row("computed", sum(s["computed"] for s in done)) in html
    assert sum(s["computed"] for s in done) > 0
    for step, jobs in [("extract-seqs", 1), ("check-cache", shards), ("predict", len(done)), ("merge", 1)]:
        assert f'<tr class="timing-row"><td>{step}</td><td class="num">{jobs}</td>' in html, step


def cache_entries(cache):
    return {p.name: p.stat().st_mtime_ns for p in Path(cache).rglob("*.npy.zst")}


def test_fresh_cache_runs_every_predict_job_and_matches_run(data, tmp_path):
    results = tmp_path / "results"
    config = write_config(tmp_path / "config.yaml", data, tmp_path / "cache", results)
    out = snakemake(config, tmp_path)
    all_shards = shards(results)
    assert len(all_shards) >= 4, all_shards
    assert all(missing(results, s) > 0 for s in all_shards)
    assert predict_jobs(results) == all_shards
    # The model is hashed once, by the namespace rule; every other job reads namespace.json (a job that had to
    # hash it again would say so in its log).
    record = json.loads((results / "namespace.json").read_text())
    assert record["fingerprint"]["model_sha256"] and record["namespace"]
    logs = [p.read_text() for p in (results / "logs").rglob("*.log")]
    assert logs and not any("hashed again" in text for text in logs)
    assert_same_scores(results / "scores.parquet", data["reference"])

    # Same cache, fresh results folder: the DAG holds no predict job at all.
    again = tmp_path / "again"
    config2 = write_config(tmp_path / "config2.yaml", data, tmp_path / "cache", again)
    out = snakemake(config2, tmp_path)
    assert all(missing(again, s) == 0 for s in shards(again))
    assert predict_jobs(again) == []
    assert "rule predict:" not in out.stderr, "no predict job may be scheduled"
    assert_same_scores(again / "scores.parquet", data["reference"])

    # A damaged entry: merge names it, moves it aside and writes no scores; --forcerun check_cache then
    # schedules a predict job for that shard only, and the scores come out the same.
    victim = sorted((tmp_path / "cache").rglob("*.npy.zst"))[0]
    victim.write_bytes(victim.read_bytes()[:1000])
    third = tmp_path / "third"
    config3 = write_config(tmp_path / "config3.yaml", data, tmp_path / "cache", third)
    out = snakemake(config3, tmp_path, check=False)
    assert out.returncode != 0
    assert victim.name in (third / "logs" / "merge.log").read_text()
    assert not (third / "scores.parquet").exists()
    snakemake(config3, tmp_path, "--forcerun", "check_cache")
    assert len(predict_jobs(third)) == 1
    assert_same_scores(third / "scores.parquet", data["reference"])


# The ensemble test's variants: 4 GoNL SNVs, 12 windows each with rc and three shifts (kept small for CI time).
REGION_RC = "20:60000-61100"


def test_rc_and_shifts_ensemble_matches_run_and_warm_cache_schedules_no_predict(data, tmp_path):
    ensemble = ["--rc", "--shifts=-1,0,1"]
    reference = tmp_path / "run" / "scores.parquet"
    subprocess.run(
        [BIN, "run", "--quiet", "--variants", data["vcf"], "--genome", data["genome"], "--model", MODEL,
         "--cache", tmp_path / "run-cache", "--out", reference, "--region", REGION_RC, "--shard-size", "2",
         *ensemble],
        capture_output=True, text=True, check=True,
    )
    cache = tmp_path / "cache"
    results = tmp_path / "results"
    extra = dict(region=REGION_RC, shard_size=2, rc=True, shifts=[-1, 0, 1])
    snakemake(write_config(tmp_path / "config.yaml", data, cache, results, **extra), tmp_path)
    assert len(shards(results)) == 2
    assert predict_jobs(results) == shards(results)
    meta = pq.read_metadata(results / "extract" / "variants.parquet").metadata
    assert (meta[b"enformer_vep.rc"], meta[b"enformer_vep.shifts"]) == (b"true", b"-1,0,1"), meta
    rows = pq.read_table(results / "extract" / "variants.parquet").to_pylist()
    assert len(rows) == 4 and all(r["status"] == "ok" for r in rows)
    for r in rows:  # SNVs: R and A, each at 3 shifts and on both strands
        assert sorted((m["role"], m["shift"], m["strand"]) for m in r["sequences"]) == sorted(
            (role, t, strand) for role in ("ref", "alt") for t in (-1, 0, 1) for strand in "+-"
        )
    assert len({p.name for p in cache.rglob("*.npy.zst")}) == 4 * 12
    assert_same_scores(results / "scores.parquet", reference, min_rows=3, columns=["sequences"])
    # The ensemble changed the numbers (the plain reference scores the same variants).
    plain = {r["pos"]: r["SAD"] for r in pq.read_table(data["reference"]).to_pylist()}
    assert all(plain[r["pos"]] != r["SAD"] for r in pq.read_table(results / "scores.parquet").to_pylist())

    # Same cache, fresh results folder: no predict job is scheduled.
    again = tmp_path / "again"
    out = snakemake(write_config(tmp_path / "config2.yaml", data, cache, again, **extra), tmp_path)
    assert all(missing(again, s) == 0 for s in shards(again))
    assert predict_jobs(again) == []
    assert "rule predict:" not in out.stderr, "no predict job may be scheduled"
    assert_same_scores(again / "scores.parquet", reference, min_rows=3, columns=["sequences"])


def test_half_cached_shards_get_predict_jobs_only_for_the_other_half(data, tmp_path):
    cache = tmp_path / "cache"
    # Warm the cache for every other shard with the step binaries, as another run would have.
    pre = tmp_path / "pre"
    subprocess.run([BIN, "extract-seqs", "--quiet", "--variants", data["vcf"], "--genome", data["genome"],
                    "--out-dir", pre, "--region", REGION, "--shard-size", str(SHARD_SIZE)], check=True)
    all_shards = sorted(p.stem for p in (pre / "shards").glob("shard-*.parquet"))
    warm = all_shards[::2]
    for shard in warm:
        subprocess.run([BIN, "predict", "--quiet", "--sequences", pre / "shards" / f"{shard}.parquet",
                        "--model", MODEL, "--cache", cache], check=True, capture_output=True)

    results = tmp_path / "results"
    snakemake(write_config(tmp_path / "config.yaml", data, cache, results), tmp_path)
    assert shards(results) == all_shards
    cold = [s for s in all_shards if s not in warm]
    # A shard shares no window with another unless two variants sit at the same position; the real data
    # here has none, so exactly the cold shards miss sequences.
    assert [s for s in all_shards if missing(results, s) > 0] == cold
    assert predict_jobs(results) == cold
    assert_same_scores(results / "scores.parquet", data["reference"])


def test_killed_workflow_restarts_and_recomputes_nothing_cached(data, tmp_path):
    cache = tmp_path / "cache"
    results = tmp_path / "results"
    config = write_config(tmp_path / "config.yaml", data, cache, results)
    cmd = [SNAKEMAKE, "--snakefile", SNAKEFILE, "--configfile", config, "--directory", tmp_path, "--cores", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    # SIGKILL the whole process group (Snakemake and its running job) in the middle of a predict job, as a
    # scheduler does when a job overruns.
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        done = predict_jobs(results)
        if done and len(cache_entries(cache)) > sum(computed(results, s) for s in done):
            break  # one predict job finished and the next is part-way through its sequences
        time.sleep(0.05)
    assert proc.poll() is None, "the workflow finished before it could be interrupted; use more shards"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (results / "scores.parquet").exists()
    before = cache_entries(cache)
    assert before, "some work was cached before the kill"
    finished = set(predict_jobs(results))

    snakemake(config, tmp_path, "--unlock")
    snakemake(config, tmp_path)
    assert_same_scores(results / "scores.parquet", data["reference"])
    after = cache_entries(cache)
    for name, mtime in before.items():
        assert after[name] == mtime, f"{name} was cached before the restart but written again"
    recomputed = []
    restarted = [s for s in predict_jobs(results) if s not in finished]
    assert restarted, "the restart ran the predict jobs the kill had stopped or not reached"
    for shard in restarted:
        rows = pq.read_table(results / "predict" / f"{shard}.predict.parquet").to_pylist()
        recomputed += [r["seq_id"] for r in rows if r["status"] == "computed" and f"{r['seq_id']}.npy.zst" in before]
    assert recomputed == []
    # Nothing torn: merge read and verified (checksum, shape) every entry of the cache to score all variants.


def outside_repository(path):
    """A folder that is not inside the checkout, so that nothing can resolve against the repository by luck."""
    path = Path(path).resolve()
    assert REPO not in path.parents and path != REPO, f"{path} is inside the repository"
    return path


def repository_files():
    """Every file of the checkout, but the build, the venvs and git's own (to see what a run wrote there)."""
    found = set()
    for folder, subfolders, files in os.walk(REPO):
        subfolders[:] = [d for d in subfolders if d not in {".git", "target", ".ort"} and not d.startswith(".venv")]
        found.update(os.path.join(folder, name) for name in files)
    return found


MODULE_SNAKEFILE = """
configfile: "{config}"


module enformer_vep:
    snakefile:
        "{snakefile}"
    config:
        config


use rule * from enformer_vep as enformer_vep_*


rule top_variants:
    input:
        rules.enformer_vep_merge.output.scores,
    output:
        "top.tsv",
    run:
        import pyarrow.parquet as pq

        rows = pq.read_table(input[0]).to_pylist()
        rows.sort(key=lambda r: -max(abs(x) for x in r["SAD"]))
        with open(output[0], "w") as f:
            for r in rows[:5]:
                f.write(f"{{r['id']}}\\t{{max(abs(x) for x in r['SAD'])}}\\n")
"""


def test_usable_as_a_module_from_another_workflow(data, tmp_path):
    """A lab's own Snakefile imports ours with `module` + `use rule * from`, and consumes scores.parquet. It
    lives in, and Snakemake runs from, a folder outside the repository: the workflow's own files (rules/*.smk,
    schemas/) must resolve from the workflow's folder, not from the working directory."""
    work = outside_repository(tmp_path)
    cache = work / "cache"
    write_config(work / "enformer.yaml", data, cache, work / "enformer")
    (work / "Snakefile").write_text(MODULE_SNAKEFILE.format(config="enformer.yaml", snakefile=SNAKEFILE))
    out = subprocess.run([SNAKEMAKE, "--snakefile", "Snakefile", "--cores", "2", "top.tsv"], cwd=work,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-6000:]
    assert "rule enformer_vep_predict:" in out.stderr
    assert_same_scores(work / "enformer" / "scores.parquet", data["reference"])
    assert len((work / "top.tsv").read_text().splitlines()) == 5


def test_catalog_integration_config_runs_through_the_module_outside_the_repository(tmp_path):
    """The catalog-style test configuration (.tests/integration/config/config.yaml) on the built-in demo data,
    run through the workflow used as a module from a Snakefile in a temp folder outside the repository (the
    working directory too): every predict job, the report, scores equal to `enformer-vep run`'s, and nothing
    written into the checkout. Needs no shared data."""
    work = outside_repository(tmp_path)
    config = yaml.safe_load((INTEGRATION / "config" / "config.yaml").read_text())
    # The configuration's relative paths are relative to .tests/integration (the catalog's --directory).
    model = (INTEGRATION / config["model"]).resolve()
    assert model == MODEL, model
    assert (INTEGRATION / config["binary"]).resolve() == REPO / "target" / "release" / "enformer-vep"
    # The same configuration in the lab's folder: the demo data written where it expects them, the model and
    # the binary given as absolute paths (the binary from ENFORMER_VEP_BIN, as in every test here).
    subprocess.run([BIN, "demo-data", "--quiet", "--out-dir", work / "data"], check=True, capture_output=True)
    config.update(model=str(model), binary=str(BIN))
    (work / "config").mkdir()
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    (work / "Snakefile").write_text(MODULE_SNAKEFILE.format(config="config/config.yaml", snakefile=SNAKEFILE))
    before = repository_files()

    out = subprocess.run([SNAKEMAKE, "--snakefile", "Snakefile", "--cores", "2", "top.tsv",
                          "enformer_vep_all"], cwd=work, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-6000:]
    results = work / config["results"]
    assert len(shards(results)) == 3 and predict_jobs(results) == shards(results)
    assert out.stderr.count("rule enformer_vep_predict:") == 3
    assert (results / "report.html").stat().st_size > 0
    assert_report_shows_the_steps(results, shards=3)
    assert len((work / "top.tsv").read_text().splitlines()) == 5
    assert repository_files() == before, "the run wrote into the repository"

    reference = work / "run" / "scores.parquet"
    subprocess.run([BIN, "run", "--quiet", "--variants", work / "data" / "variants.kunkle.txt", "--genome",
                    work / "data" / "genome.fa", "--model", MODEL, "--cache", work / config["cache"], "--out",
                    reference, "--top", str(config["top"]), "--shard-size", str(config["shard_size"])],
                   check=True, capture_output=True)
    assert_same_scores(results / "scores.parquet", reference, min_rows=config["top"] - 1)


def test_bad_config_is_rejected_at_start_with_the_field_named(data, tmp_path):
    config = write_config(tmp_path / "config.yaml", data, tmp_path / "cache", tmp_path / "results", shard_sise=3)
    out = snakemake(config, tmp_path, check=False)
    assert out.returncode != 0
    assert "shard_sise" in out.stderr
    assert not (tmp_path / "results").exists()


def test_container_placeholder_is_rejected_at_start_with_the_build_step_named(data, tmp_path):
    # No image is published: the default `containers` are CHANGE-ME, refused when containers would be used.
    config = write_config(tmp_path / "config.yaml", data, tmp_path / "cache", tmp_path / "results")
    out = snakemake(config, tmp_path, "--software-deployment-method", "apptainer", "--dry-run", check=False)
    assert out.returncode != 0
    message = out.stdout + out.stderr  # Snakemake prints an error at parse time on stdout
    assert "containers: cpu is not set ('CHANGE-ME')" in message
    assert "containers/Dockerfile" in message
    assert not (tmp_path / "results").exists()
    # Without containers the placeholder is not used.
    assert snakemake(config, tmp_path, "--dry-run").returncode == 0
