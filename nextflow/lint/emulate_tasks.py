"""Run the modules' task scripts without Nextflow (scripts/lint-nextflow, when no `nextflow` is on PATH too).

    python nextflow/lint/emulate_tasks.py {script|stub} ENFORMER_VEP_BINARY OUT_DIR

Renders each module's `script:` or `stub:` block the way Nextflow does (indentation stripped, `${...}`
replaced by the task's values, `\\$` and `\\\\` unescaped), runs it with bash -euo pipefail in a task folder
with its inputs linked in, and chains the steps as the ENFORMER_VEP subworkflow does on the -profile test
settings: DEMO_DATA, EXTRACT_SEQS, CHECK_CACHE per shard, PREDICT only for summaries with missing > 0, MERGE,
REPORT. Output names follow the modules' `task.ext.prefix ?: meta.id` with the prefixes of conf/modules.config
and the meta ids the subworkflow gives (the shard's name for CHECK_CACHE and PREDICT). After each task the
`eval(...)` of its `topic: versions` output is run in the task folder, as Nextflow does, and must print a
version.
With `script` it runs twice into one cache: the second run must send no shard to PREDICT, and both must
score what `enformer-vep run` scores, and REPORT's run summary must show the sequences cached and computed
and a time row per step, from the records staged for it in records/. This checks the shell side of every
task (flags, quoting, outputs, the versions command) and the step chaining; it is not Nextflow: the Groovy
side (channels, meta maps, directives, config) is only parsed and linted by reftrace.
"""
import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODULES = ROOT / "nextflow/modules/local"
MODULES_CONFIG = ROOT / "nextflow/conf/modules.config"
MODEL = ROOT / "tests/models/tiny_enformer.onnx"
# -profile test (conf/test.config) and the nextflow.config defaults that reach the command lines.
OPTS = dict(shard_size=10, top=30, columns=None, max_pvalue=None, region=None, window=196608, max_allele_len=1000,
            rc=False, shifts=[0], head="human",
            n_encoding="zeros", store="float32", center_bins=10, batch_size=2,
            stats=["SAD", "logSED", "D2", "CENTER"], tracks=None)


def quote(value):
    return "'" + str(value).replace("'", "'\\''") + "'"


def flags(keys):
    """The subworkflow's cliFlags: null and false left out, true the bare flag, otherwise --kebab-case='value'
    (a list comma-joined)."""
    out = []
    for key in keys:
        value, flag = OPTS.get(key), f"--{key.replace('_', '-')}"
        if value is None or value is False:
            continue
        if value is True:
            out.append(flag)
            continue
        value = ",".join(map(str, value)) if isinstance(value, list) else value
        out.append(f"{flag}={quote(value)}")
    return " ".join(out)


def ext_prefix(process, meta_id):
    """task.ext.prefix from conf/modules.config (withName: 'PROCESS' { ext.prefix = '...' }), else meta.id."""
    m = re.search(rf"withName:\s*'{process}'\s*\{{[^}}]*?ext\.prefix\s*=\s*'([^']+)'", MODULES_CONFIG.read_text())
    return m.group(1) if m else meta_id


def fill(step, block, text, values):
    def value(m):
        if m.group(1) not in values:
            sys.exit(f"emulate_tasks: {step} {block}: no value for ${{{m.group(1)}}}")
        return str(values[m.group(1)])

    return re.sub(r"(?<!\\)\$\{([^}]+)\}", value, text)


def render(step, block, values):
    text = (MODULES / step / "main.nf").read_text()
    body = re.search(rf"^    {block}:\n(.*?)(?=^    (?:stub|script):\n|^\}})", text, re.M | re.S).group(1)
    script = textwrap.dedent(re.search(r'"""\n(.*?)^\s*"""', body, re.M | re.S).group(1))
    script = fill(step, block, script, values)
    return script.replace("\\$", "$").replace("\\\\", "\\")


def versions_command(step, values):
    """The command of the module's `eval("...")` versions output, filled in as Nextflow would."""
    text = (MODULES / step / "main.nf").read_text()
    m = re.search(r"""eval\("(.*)"\)\s*,\s*emit:\s*versions_enformer_vep\s*,\s*topic:\s*versions""", text)
    if not m:
        sys.exit(f"emulate_tasks: {step}: no eval(...) versions output with topic: versions")
    return fill(step, "output", m.group(1), {**values, "task.ext.binary ?: 'enformer-vep'": values["bin"]})


class Run:
    def __init__(self, block, binary, out):
        self.block, self.binary, self.out, self.n = block, binary, out, 0
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)

    def task(self, step, values, inputs):
        self.n += 1
        work = self.out / f"{self.n:02d}-{step}{'-' + values['shard_id'] if 'shard_id' in values else ''}"
        work.mkdir()
        for name, source in inputs.items():  # a name may hold a folder, as stageAs: 'records/*' makes
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).symlink_to(source)
        meta_id = values.pop("meta.id")
        values = {"bin": self.binary, "extra": "", "task.cpus": 2, "args": "",
                  "prefix": ext_prefix(step.upper(), meta_id), **values}
        script = render(step, self.block, values)
        (work / ".command.sh").write_text(script)
        done = subprocess.run(["bash", "-euo", "pipefail", ".command.sh"], cwd=work, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"emulate_tasks: {work.name} ({self.block}) exit {done.returncode}:\n{script}\n{done.stderr}")
        # The `topic: versions` output: Nextflow runs the eval command in the task folder after the task.
        command = versions_command(step, values)
        version = subprocess.run(["bash", "-c", command], cwd=work, capture_output=True, text=True)
        if version.returncode != 0 or not re.match(r"^[0-9]+\.[0-9]+\.[0-9]+\S*( \S+)*\n?$", version.stdout):
            sys.exit(f"emulate_tasks: {work.name}: the versions eval `{command}` printed {version.stdout!r} "
                     f"(exit {version.returncode}, {version.stderr!r})")
        return work, values["prefix"]

    @staticmethod
    def check_report(html, done, predicted):
        """The run summary shows the sequences needed, cached and computed (summed over the CHECK_CACHE and
        PREDICT summaries) and a time row per step: REPORT found every record in records/."""
        checks = [json.loads(p.read_text()) for p in done if not p.name.endswith(".predict.json")]
        predicts = [json.loads(p.read_text()) for p in done if p.name.endswith(".predict.json")]
        row = '<td>{}</td><td class="num">{}</td>'.format
        n = len(checks)
        want = [row(f"sequences needed ({n} shard{'' if n == 1 else 's'})", sum(c["sequences"] for c in checks)),
                row("cached (not computed)", sum(c["cached"] for c in checks + predicts)),
                row("computed", sum(p["computed"] for p in predicts))]
        for step, jobs in [("extract-seqs", 1), ("check-cache", n), ("predict", len(predicted)), ("merge", 1)]:
            if jobs:
                want.append(f'<tr class="timing-row"><td>{step}</td><td class="num">{jobs}</td>')
        for text in want:
            assert text in html, f"REPORT's run summary lacks {text!r} (were the records staged in records/?)"

    def pipeline(self, cache):
        cache.mkdir(parents=True, exist_ok=True)
        namespace = flags(["head", "n_encoding", "store", "window", "center_bins"])
        work, prefix = self.task("demo_data", {"meta.id": "demo"}, {})
        demo = work / prefix
        work, prefix = self.task("namespace", {"meta.id": MODEL.stem, "model": MODEL.name, "args": namespace},
                                 {MODEL.name: MODEL})
        record = work / f"{prefix}.namespace.json"
        staged = {MODEL.name: MODEL, record.name: record}
        work, prefix = self.task("extract_seqs", {
            "meta.id": "variants.kunkle", "variants": "variants.kunkle.txt", "genome": "genome.fa",
            "args": flags(["shard_size", "columns", "max_pvalue", "top", "region", "window", "max_allele_len", "rc",
                           "shifts"]),
        }, {"variants.kunkle.txt": demo / "variants.kunkle.txt", "genome.fa": demo / "genome.fa",
            "genome.fa.fai": demo / "genome.fa.fai"})
        extract = work / prefix
        shards = sorted((extract / "shards").glob("shard-*.parquet"))
        done, predicted = [], []
        for shard in shards:
            # The subworkflow's shard meta: id = the shard's name.
            work, prefix = self.task("check_cache", {
                "meta.id": shard.stem, "shard": shard.name, "model": MODEL.name, "cache_dir": cache,
                "legacy": "", "args": namespace, "namespace_file": record.name,
            }, {shard.name: shard, **staged})
            summary = work / f"{prefix}.json"
            done.append(summary)
            if json.loads(summary.read_text())["missing"] > 0:  # the DAG-level skip
                todo = work / f"{prefix}.todo.parquet"
                work, prefix = self.task("predict", {
                    "meta.id": shard.stem, "todo": todo.name, "model": MODEL.name, "cache_dir": cache,
                    "device": "cpu", "args": f"{namespace} {flags(['batch_size'])}", "namespace_file": record.name,
                }, {todo.name: todo, **staged})
                done.append(work / f"{prefix}.predict.json")
                predicted.append(shard.stem)
        work, prefix = self.task("merge", {
            "meta.id": "variants.kunkle", "variants": "variants.parquet", "model": MODEL.name, "cache_dir": cache,
            "legacy": "", "track_table": "", "args": f"{namespace} {flags(['stats', 'tracks'])}",
            "namespace_file": record.name,
        }, {"variants.parquet": extract / "variants.parquet", **staged,
            **{f"done_{path.name}": path for path in done}})
        scores = work / f"{prefix}.parquet"
        assert self.block == "stub" or (work / f"{prefix}.tracks.tsv").is_file(), "MERGE wrote no tracks table"
        merged = work / f"{prefix}.json"
        assert json.loads(merged.read_text())["scored"] >= 0, "MERGE wrote no summary"
        # REPORT's records, staged into records/ as the subworkflow does: extract's manifest and variants.parquet,
        # every CHECK_CACHE and PREDICT summary, MERGE's summary; Nextflow would fail on a name collision.
        records = [extract / "manifest.json", extract / "variants.parquet", *done, merged]
        names = [path.name for path in records]
        assert len(set(names)) == len(names), f"REPORT's records/ would hold two files of one name: {names}"
        work, prefix = self.task("report", {"meta.id": "variants.kunkle", "scores": scores.name},
                                 {scores.name: scores, **{f"records/{path.name}": path for path in records}})
        html = work / f"{prefix}.html"
        assert html.is_file(), "REPORT wrote no HTML report"
        if self.block == "script":
            self.check_report(html.read_text(), done, predicted)
        print(f"  {self.block}: {len(shards)} shards, PREDICT for {predicted or 'none'}")
        return shards, predicted, scores, demo


def main():
    block, binary, out = sys.argv[1], sys.argv[2], Path(sys.argv[3]).resolve()
    if block == "stub":
        shards, predicted, _, _ = Run("stub", binary, out / "stub").pipeline(out / "stub-cache")
        assert shards and predicted == [s.stem for s in shards], "stubs: every shard should reach PREDICT"
        return
    shutil.rmtree(out / "cache", ignore_errors=True)
    shards, cold, scores, demo = Run("script", binary, out / "cold").pipeline(out / "cache")
    assert shards and cold == [s.stem for s in shards], f"cold cache: PREDICT ran for {cold}"
    _, warm, warm_scores, _ = Run("script", binary, out / "warm").pipeline(out / "cache")
    assert warm == [], f"warm cache: PREDICT ran for {warm} (the DAG-level skip is broken)"
    subprocess.run([binary, "run", "--quiet", "--variants", demo / "variants.kunkle.txt", "--genome",
                    demo / "genome.fa", "--model", MODEL, "--cache", out / "run-cache", "--out",
                    out / "run/scores.parquet", "--shard-size", str(OPTS["shard_size"]), "--top", str(OPTS["top"])],
                   capture_output=True, text=True).check_returncode()
    import pyarrow.parquet as pq

    run = pq.read_table(out / "run/scores.parquet")
    cols = [c for c in ["id", "chrom", "pos", "ref", "alt", "SAD", "logSED", "D2", "CENTER"] if c in run.column_names]
    for path in (scores, warm_scores):
        table = pq.read_table(path)
        assert table.num_rows == run.num_rows > 0, (table.num_rows, run.num_rows)
        for col in cols:
            assert table.column(col).to_pylist() == run.column(col).to_pylist(), f"{path}: column {col} differs"
    print(f"  scores of the cold and the warm run equal `enformer-vep run`'s ({run.num_rows} rows; {', '.join(cols)})")


if __name__ == "__main__":
    main()
