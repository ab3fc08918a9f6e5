# reftrace lint rules for the enformer-vep Nextflow pipeline (run by scripts/lint-nextflow):
#   reftrace lint --rules nextflow/lint/rules.py --directory nextflow
# reftrace parses every .nf and .config file under nextflow/ (a file it cannot parse fails the lint) and runs
# the @rule functions below on each .nf module and the @configrule functions on each .config file. Every
# finding is an error: scripts/lint-nextflow fails on any.
#
# reftrace's parse tree exposes a process's directives (tag, label, container, ...) but not its input, output,
# script or stub sections, so the rules on those read the module's text. Both are checked per process.
import re
from pathlib import Path

from reftrace import ConfigFile, Module
from reftrace.directives import ContainerFormat
from reftrace.linting import LintError, LintResults, configrule, rule

# nf-core's resource labels, plus process_gpu for the step that may run on a GPU.
LABELS = {"process_single", "process_low", "process_medium", "process_high", "process_gpu"}
# The steps of workflows/README.md (the model hashed once, the four steps, the optional report after them),
# and the demo-data helper of -profile test.
STEPS = {"NAMESPACE", "EXTRACT_SEQS", "CHECK_CACHE", "PREDICT", "MERGE", "REPORT"}
HELPERS = {"DEMO_DATA"}
# Steps that read or write the shared cache: they get it as `val cache_dir` (a string, never staged) and bind it.
CACHE_STEPS = {"CHECK_CACHE", "PREDICT", "MERGE"}
# [registry[:port]/][path/]name:tag; a bare name:tag is the image `docker build -t` made locally (no image of
# ours is published, so the modules' defaults are the tags containers/README.md builds).
IMAGE = re.compile(r"^(?:docker://)?(?:[a-z0-9.-]+(?::[0-9]+)?/)?(?:[a-z0-9._-]+/)*[a-z0-9._-]+:[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def _text(path: str) -> str:
    return Path(path).read_text()


def _section(body: str, name: str) -> str:
    """The text of a process section (`input:`, `output:`, `script:`, `stub:`) up to the next section."""
    m = re.search(rf"^\s*{name}:\s*$(.*?)(?=^\s*(?:input|output|when|script|shell|exec|stub):\s*$|\Z)", body, re.M | re.S)
    return m.group(1) if m else ""


def _processes(module: Module):
    """(process, body text) for each process of the module."""
    text = _text(module.path)
    for process in module.processes:
        m = re.search(rf"^process\s+{re.escape(process.name)}\s*\{{(.*?)^\}}", text, re.M | re.S)
        yield process, (m.group(1) if m else "")


def _is_module(module: Module) -> bool:
    return "/modules/" in module.path.replace("\\", "/")


@rule
def parsed_as_dsl2(module: Module, results: LintResults):
    """Every file is DSL2 (reftrace reports the DSL version it parsed)."""
    if module.dsl_version != 2:
        results.errors.append(LintError(line=1, error=f"{module.path}: parsed as DSL{module.dsl_version}, expected DSL2"))


@rule
def module_layout(module: Module, results: LintResults):
    """nf-core layout: modules/local/<name>/main.nf holds exactly one process, named <NAME>; no process elsewhere
    (except in examples/, which shows a user's pipeline with its own process)."""
    path = module.path.replace("\\", "/")
    if not _is_module(module):
        if "/examples/" in path:
            return
        for process in module.processes:
            results.errors.append(LintError(line=process.line, error=f"process {process.name} outside modules/"))
        return
    m = re.search(r"/modules/local/([a-z0-9_]+)/main\.nf$", path)
    if not m:
        results.errors.append(LintError(line=1, error=f"{path}: modules live in modules/local/<name>/main.nf"))
        return
    names = [p.name for p in module.processes]
    if names != [m.group(1).upper()]:
        results.errors.append(LintError(line=1, error=f"{path}: expected one process {m.group(1).upper()}, found {names}"))
    elif names[0] not in STEPS | HELPERS:
        results.errors.append(LintError(line=1, error=f"{path}: {names[0]} is not a step of workflows/README.md"))


@rule
def tag_and_label(module: Module, results: LintResults):
    """Every process has one tag and one label from LABELS; PREDICT, and only PREDICT, is process_gpu."""
    for process in module.processes:
        if len(process.tags) != 1:
            results.errors.append(LintError(line=process.line, error=f"process {process.name}: needs exactly one tag, has {len(process.tags)}"))
        labels = [label.label for label in process.labels]
        if len(labels) != 1 or labels[0] not in LABELS:
            results.errors.append(LintError(line=process.line, error=f"process {process.name}: needs one label of {sorted(LABELS)}, has {labels}"))
        elif (labels[0] == "process_gpu") != (process.name == "PREDICT"):
            results.errors.append(LintError(line=process.line, error=f"process {process.name}: label process_gpu is for PREDICT (the only GPU step) and PREDICT must have it"))


@rule
def container_pinned(module: Module, results: LintResults):
    """Every process names its image(s) with an explicit version tag (no bare name, no :latest)."""
    for process in module.processes:
        if len(process.containers) != 1:
            results.errors.append(LintError(line=process.line, error=f"process {process.name}: needs one container directive, has {len(process.containers)}"))
            continue
        container = process.containers[0]
        if container.format == ContainerFormat.SIMPLE:
            names = [container.simple_name]
        else:
            names = [container.true_name, container.false_name]
        for name in names:
            if not name or not IMAGE.match(name) or name.endswith(":latest"):
                results.errors.append(LintError(line=container.line, error=f"process {process.name}: container '{name}' is not registry/name:version"))


# nf-core's current versions convention: a `topic: versions` output of [process, tool, version], the version
# from an `eval` of the tool's --version (no versions.yml written by script or stub).
VERSIONS = re.compile(
    r"""^\s*tuple\s+val\("\$\{task\.process\}"\)\s*,\s*val\('([a-z0-9_-]+)'\)\s*,\s*eval\((["'])(.+)\2\)\s*,"""
    r"""\s*emit:\s*versions_([a-z0-9_]+)\s*,\s*topic:\s*versions\s*$""",
    re.M,
)
# The output name every module derives from the meta map: task.ext.prefix, else meta.id.
PREFIX_IN_OUTPUT = "${task.ext.prefix ?: meta.id}"
PREFIX_IN_SCRIPT = re.compile(r'^\s*def\s+prefix\s*=\s*task\.ext\.prefix\s*\?:\s*"\$\{meta\.id\}"\s*$', re.M)


def _channels(section: str):
    """The declarations of an input: or output: section, one per line, comments dropped."""
    lines = [re.split(r"\s//\s", line)[0].strip() for line in section.splitlines()]  # not sed's s/x //'
    return [line for line in lines if line]


@rule
def stub_and_versions(module: Module, results: LintResults):
    """Every process has a script: and a stub: block, and reports its tool's version through the `versions`
    topic (tuple val("${task.process}"), val('tool'), eval('tool --version | ...'), emit: versions_tool,
    topic: versions), as nf-core modules do today; no versions.yml any more."""
    for process, body in _processes(module):
        output = _section(body, "output")
        found = VERSIONS.findall(output)
        if len(found) != 1:
            results.errors.append(LintError(line=process.line, error=f"process {process.name}: output needs one `tuple val(\"${{task.process}}\"), val('TOOL'), eval('TOOL --version ...'), emit: versions_TOOL, topic: versions`, has {len(found)}"))
        else:
            tool, _, command, emit = found[0]
            if emit != tool.replace("-", "_") or "--version" not in command:
                results.errors.append(LintError(line=process.line, error=f"process {process.name}: versions output: emit must be versions_{tool.replace('-', '_')} and eval must run `{tool} --version`"))
            if process.name in STEPS | HELPERS and (tool != "enformer-vep" or "task.ext.binary" not in command):
                results.errors.append(LintError(line=process.line, error=f"process {process.name}: versions must eval the configured binary (task.ext.binary ?: 'enformer-vep') --version"))
        if "versions.yml" in body:
            results.errors.append(LintError(line=process.line, error=f"process {process.name}: versions.yml is the old convention; use the versions topic"))
        for section in ("script", "stub"):
            if not _section(body, section).strip():
                results.errors.append(LintError(line=process.line, error=f"process {process.name}: no {section}: block"))


@rule
def meta_tuples(module: Module, results: LintResults):
    """nf-core's meta map: the first input is `tuple val(meta), path(...)` (or `val meta` for a process that
    reads no file), every other tuple input carries its own meta (`val(meta2)`, ...), every output but the
    versions is `tuple val(meta), ...`, and the tag is meta.id."""
    for process, body in _processes(module):
        inputs = _channels(_section(body, "input"))
        if not inputs or not re.match(r"^(tuple\s+val\(meta\)\s*,\s*path\(|val\s+meta$)", inputs[0]):
            results.errors.append(LintError(line=process.line, error=f"process {process.name}: first input must be `tuple val(meta), path(...)` (or `val meta`)"))
        for declaration in inputs[1:]:
            if declaration.startswith("tuple") and not re.match(r"^tuple\s+val\(meta[0-9]+\)\s*,", declaration):
                results.errors.append(LintError(line=process.line, error=f"process {process.name}: tuple input `{declaration}` must start with its own val(metaN)"))
        for declaration in _channels(_section(body, "output")):
            if VERSIONS.match(declaration):
                continue
            if not re.match(r"^tuple\s+val\(meta\)\s*,", declaration):
                results.errors.append(LintError(line=process.line, error=f"process {process.name}: output `{declaration}` must be `tuple val(meta), ...`"))
        tags = [tag.tag for tag in process.tags] if process.tags else []
        if tags and tags != ["${meta.id}"]:
            results.errors.append(LintError(line=process.line, error=f'process {process.name}: tag must be "${{meta.id}}", is {tags}'))


@rule
def ext_prefix_and_args(module: Module, results: LintResults):
    """Output names come from task.ext.prefix, else meta.id (`def prefix = task.ext.prefix ?: "${meta.id}"` in
    script: and stub:, `${task.ext.prefix ?: meta.id}` in output:); script: passes task.ext.args on; the
    `when:` block is nf-core's task.ext.when."""
    for process, body in _processes(module):
        output = _section(body, "output")
        names = [n for n in re.findall(r'path\(\s*"([^"]+)"', output)]
        for name in names:
            if not name.startswith(PREFIX_IN_OUTPUT):
                results.errors.append(LintError(line=process.line, error=f"process {process.name}: output '{name}' must be named from {PREFIX_IN_OUTPUT}"))
        for section in ("script", "stub"):
            if names and not PREFIX_IN_SCRIPT.search(_section(body, section)):
                results.errors.append(LintError(line=process.line, error=f'process {process.name}: {section}: must define `def prefix = task.ext.prefix ?: "${{meta.id}}"`'))
        script = _section(body, "script")
        if "task.ext.args" not in script:
            results.errors.append(LintError(line=process.line, error=f"process {process.name}: script: must pass task.ext.args on"))
        if _is_module(module) and "task.ext.when == null || task.ext.when" not in _section(body, "when"):
            results.errors.append(LintError(line=process.line, error=f"process {process.name}: needs `when: task.ext.when == null || task.ext.when`"))


@rule
def stub_touches_outputs(module: Module, results: LintResults):
    """The stub creates every fixed output file name that the output section declares (so -stub runs wire up)."""
    for process, body in _processes(module):
        stub = _section(body, "stub")
        for declared in re.findall(r'path\(?\s*"([^"]+)"', _section(body, "output")):
            declared = declared.replace(PREFIX_IN_OUTPUT, "${prefix}")
            if "*" in declared:
                declared = declared.split("*")[0].rsplit("/", 1)[0]  # the folder a glob reads from
            if not re.search(re.escape(declared), stub):
                results.errors.append(LintError(line=process.line, error=f"process {process.name}: stub: does not create output '{declared}'"))


@rule
def versions_collected(module: Module, results: LintResults):
    """The pipeline collects the `versions` topic into pipeline_info/software_versions.yml."""
    if not module.path.replace("\\", "/").endswith("nextflow/main.nf"):
        return
    text = _text(module.path)
    if not re.search(r"channel\.topic\('versions'\)[^\n]*\n(?:[^\n]*\n){0,4}\s*\.collectFile\(name: 'software_versions\.yml'", text):
        results.errors.append(LintError(line=1, error="main.nf must collect channel.topic('versions') into software_versions.yml"))


@rule
def no_params_in_modules(module: Module, results: LintResults):
    """Modules take everything as inputs or task.ext, so that other pipelines can include them as they are."""
    if not _is_module(module):
        return
    for number, line in enumerate(_text(module.path).splitlines(), 1):
        if re.search(r"\bparams\.", line.split("//")[0]):
            results.errors.append(LintError(line=number, error="modules must not read params (pass an input or task.ext)"))


@rule
def cache_is_never_staged(module: Module, results: LintResults):
    """The shared cache is a `val cache_dir` (never a staged path), bound into the container, and passed to --cache."""
    for process, body in _processes(module):
        inputs = _section(body, "input")
        if re.search(r"^\s*path\s*\(?\s*cache", inputs, re.M):
            results.errors.append(LintError(line=process.line, error=f"process {process.name}: the cache must be a val (staging it would copy or link the shared folder)"))
        if process.name not in CACHE_STEPS:
            continue
        if not re.search(r"^\s*val\s+cache_dir\b", inputs, re.M):
            results.errors.append(LintError(line=process.line, error=f"process {process.name}: needs input `val cache_dir`"))
        options = " ".join(o.options for o in process.container_options)
        if "cache_dir" not in options:
            results.errors.append(LintError(line=process.line, error=f"process {process.name}: containerOptions must bind cache_dir"))
        if '--cache "${cache_dir}"' not in _section(body, "script"):
            results.errors.append(LintError(line=process.line, error=f'process {process.name}: script must pass --cache "${{cache_dir}}"'))


@rule
def gpu_step(module: Module, results: LintResults):
    """PREDICT passes the GPU into the container (--gpus all / --nv) and picks the image by its device input."""
    for process in module.processes:
        if process.name != "PREDICT":
            continue
        options = " ".join(o.options for o in process.container_options)
        for flag in ("--gpus all", "--nv"):
            if flag not in options:
                results.errors.append(LintError(line=process.line, error=f"process PREDICT: containerOptions lacks {flag}"))
        container = process.containers[0] if process.containers else None
        if not container or container.format != ContainerFormat.TERNARY or "cuda" not in container.condition:
            results.errors.append(LintError(line=process.line, error="process PREDICT: container must choose the GPU image when device is cuda"))


@rule
def includes_resolve(module: Module, results: LintResults):
    """Every include points at an existing .nf file that defines what is imported, or includes it in turn (as the
    subworkflow re-exports the four step processes)."""
    base = Path(module.path).parent
    for include in module.includes:
        target = base / include.from_module
        if target.suffix != ".nf":
            target = target.with_suffix(".nf")
        if not target.is_file():
            results.errors.append(LintError(line=include.line, error=f"include from '{include.from_module}': no such file {target}"))
            continue
        text = _text(str(target))
        for item in include.items:
            defined = rf"^(?:process|workflow)\s+{re.escape(item.name)}\b|^def\s+{re.escape(item.name)}\s*\("
            reexported = rf"^include\s*\{{[^}}]*\b{re.escape(item.name)}\b[^}}]*\}}"
            if not re.search(defined, text, re.M) and not re.search(reexported, text, re.M):
                results.errors.append(LintError(line=include.line, error=f"include {item.name}: not defined in {target}"))


@rule
def dag_skip(module: Module, results: LintResults):
    """The subworkflow sends to PREDICT only shards whose check-cache summary has missing > 0 (rule 2), and
    MERGE waits for every CHECK_CACHE and PREDICT (rule 4)."""
    if not module.path.replace("\\", "/").endswith("subworkflows/local/enformer_vep/main.nf"):
        return
    text = _text(module.path)
    if not re.search(r"CHECK_CACHE\.out\.todo\s*\.filter\s*\{[^}]*missingSequences\(summary\)\s*>\s*0", text):
        results.errors.append(LintError(line=1, error="PREDICT's input must be CHECK_CACHE.out.todo filtered on the summary's missing > 0"))
    if not re.search(r"PREDICT\(ch_todo\b", text):
        results.errors.append(LintError(line=1, error="PREDICT must be called on the filtered channel ch_todo"))
    if not re.search(r"\.mix\(PREDICT\.out\.summary[^\n]*\)\s*\.toList\(\)", text):
        results.errors.append(LintError(line=1, error="MERGE must wait for all CHECK_CACHE and PREDICT summaries (mix + toList)"))


# --- configuration files ---------------------------------------------------------------------------------

def _params_outside_closure(directive):
    if directive.value and directive.value.params and not directive.value.in_closure:
        return directive.line_number, directive.name
    for option in directive.options:
        if option.value.params and not option.value.in_closure:
            return option.line_number, f"{directive.name}.{option.name}"
    return None


@configrule
def params_in_closures(config: ConfigFile, results: LintResults):
    """Process settings that read params are closures, evaluated per task after -params-file is read."""
    for scope in config.process_scopes:
        directives = list(scope.directives)
        for named in scope.named_scopes:
            directives.extend(named.directives)
        for directive in directives:
            found = _params_outside_closure(directive)
            if found:
                results.errors.append(LintError(line=found[0], error=f"{found[1]} reads params outside a closure"))


@configrule
def profiles_and_params(config: ConfigFile, results: LintResults):
    """nextflow.config has the documented profiles and a default for every key of workflow/schemas/config.schema.yaml."""
    path = Path(config.path)
    if path.name != "nextflow.config" or path.parent.name != "nextflow":  # not tests/nextflow.config (nf-test's)
        return
    text = path.read_text()
    for profile in ("test", "docker", "apptainer", "gpu", "slurm"):
        if not re.search(rf"^\s*{profile}\s*\{{", text, re.M):
            results.errors.append(LintError(line=1, error=f"profile '{profile}' missing"))
    schema = path.parent.parent / "workflow" / "schemas" / "config.schema.yaml"
    if schema.is_file():
        keys = re.findall(r"^  ([a-z_]+):\s*$", schema.read_text().split("\nproperties:", 1)[1].split("\n$defs:", 1)[0], re.M)
        params = re.search(r"^params\s*\{(.*?)^\}", text, re.M | re.S)
        declared = set(re.findall(r"^\s*([a-z_]+)\s*=", params.group(1), re.M)) if params else set()
        for key in keys:
            if key not in declared:
                results.errors.append(LintError(line=1, error=f"params.{key} (a key of {schema.name}) has no default"))
        for key in declared - set(keys) - {"demo_data"}:
            results.errors.append(LintError(line=1, error=f"params.{key} is not a key of {schema.name}"))
    else:
        results.errors.append(LintError(line=1, error=f"{schema} not found"))
