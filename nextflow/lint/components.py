"""nf-core component checks that reftrace does not do (run by scripts/lint-nextflow, offline, no Nextflow):

    python nextflow/lint/components.py

1. Every module folder modules/local/<name>/ holds main.nf (one process, <NAME>), meta.yml and
   tests/main.nf.test, and nextflow/nf-test.config names a config file that exists.
2. meta.yml follows nf-core's module schema (name, description, keywords, tools, input, output, topics,
   authors, maintainers) and matches the process: the same input channels in the same order with the same
   element names (a tuple is a list of its elements; `val(meta*)` is a map, `path` a file or directory,
   `val` anything else), the same output emits with the same elements (path names as declared), and the
   `versions` topic equal to the versions output.
3. tests/main.nf.test is parsed structurally (strings and comments skipped, braces matched): one
   `nextflow_process { }` block with `name`, `script` (a path, relative to the test file, that is this
   module's main.nf), `process` (the module's process name) and a `modules` tag; `setup { run("X") { script
   "..." } }` entries point at files that define process X; at least one `test("...")`, each with a
   `when { process { (triple-quoted code) } }` block that assigns input[0] .. input[N-1] (N = the process's input
   channels), and a `then { }` block whose assertions include `process.success` (or `process.failed`) and at
   least one other `assert`; at least one test runs with `options "-stub"`; test names are unique.
4. Every subworkflow folder subworkflows/local/<name>/ holds main.nf (workflow <NAME>), meta.yml (its
   input/output names are the workflow's take:/emit: names in order, its components the included modules)
   and tests/main.nf.test (as in 3, with `nextflow_workflow`, `workflow "<NAME>"`, `when { workflow { } }`
   and `workflow.success`).

nf-test itself (its runner needs Nextflow, whose launcher downloads a jar) is not run here. Exit 1 on any
finding, each printed as `path: message`.
"""
import re
import sys
from pathlib import Path

import yaml

NEXTFLOW = Path(__file__).resolve().parents[1]
MODULES = NEXTFLOW / "modules" / "local"
META_KEYS = ["name", "description", "keywords", "tools", "input", "output", "topics", "authors", "maintainers"]

problems = []


def problem(path, message):
    problems.append(f"{Path(path).relative_to(NEXTFLOW.parent)}: {message}")


# --- a small Groovy scanner: strings and comments skipped, braces and parentheses matched ---------------------

def _skip(text, i):
    """If a string or comment starts at i, the index just after it; else None."""
    for quote in ('"""', "'''"):
        if text.startswith(quote, i):
            end = text.find(quote, i + 3)
            while end != -1 and text[end - 1] == "\\":
                end = text.find(quote, end + 1)
            if end == -1:
                raise ValueError(f"unterminated {quote} string at offset {i}")
            return end + 3
    if text[i] in "\"'":
        j = i + 1
        while j < len(text) and text[j] != text[i]:
            if text[j] == "\n":
                raise ValueError(f"unterminated string at offset {i}")
            j += 2 if text[j] == "\\" else 1
        return j + 1
    if text.startswith("//", i):
        end = text.find("\n", i)
        return len(text) if end == -1 else end
    if text.startswith("/*", i):
        end = text.find("*/", i + 2)
        if end == -1:
            raise ValueError(f"unterminated comment at offset {i}")
        return end + 2
    return None


def _match(text, i, open_char, close_char):
    """The index of the bracket closing the one at i."""
    depth = 0
    while i < len(text):
        after = _skip(text, i)
        if after is not None:
            i = after
            continue
        if text[i] == open_char:
            depth += 1
        elif text[i] == close_char:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError(f"unbalanced {open_char}{close_char}")


def parse(text):
    """Top-level items of a Groovy DSL body: ('block', name, args, body) for `name [(args)] { body }` and
    ('call', name, args) for `name args` statements; strings and comments are skipped."""
    items, i = [], 0
    while i < len(text):
        after = _skip(text, i)
        if after is not None:
            i = after
            continue
        m = re.compile(r"[A-Za-z_][A-Za-z0-9_]*").match(text, i)
        if not m:
            if text[i] in "{(":
                i = _match(text, i, text[i], "}" if text[i] == "{" else ")") + 1
            else:
                i += 1
            continue
        name, j = m.group(0), m.end()
        while j < len(text) and text[j] in " \t":
            j += 1
        args = ""
        if j < len(text) and text[j] == "(":
            end = _match(text, j, "(", ")")
            args, j = text[j + 1:end], end + 1
            while j < len(text) and text[j] in " \t":
                j += 1
        if j < len(text) and text[j] == "{":
            end = _match(text, j, "{", "}")
            items.append(("block", name, args, text[j + 1:end]))
            i = end + 1
            continue
        line_end = text.find("\n", j)
        line_end = len(text) if line_end == -1 else line_end
        items.append(("call", name, args or text[j:line_end].strip()))
        i = line_end
    return items


def string_value(args):
    m = re.fullmatch(r"""\s*(["'])(.*)\1\s*""", args)
    return m.group(2) if m else None


# --- the process side: declarations of main.nf ----------------------------------------------------------------

def split_top(text):
    """Split on commas outside parentheses, brackets and strings."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        after = _skip(text, i) if text[i] in "\"'" else None
        if after is not None:
            i = after
            continue
        if text[i] in "([{":
            depth += 1
        elif text[i] in ")]}":
            depth -= 1
        elif text[i] == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
        i += 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def element(part):
    """(qualifier, name) of `val(meta)`, `path("x")`, `eval('cmd')`, `path model`, `val args`."""
    m = re.fullmatch(r"(val|path|env|eval|stdin)\s*\(\s*(.*?)\s*\)", part, re.S) or re.fullmatch(r"(val|path|env)\s+(\S+)", part)
    if not m:
        return None
    qualifier, name = m.groups()
    quoted = string_value(name)
    return qualifier, quoted if quoted is not None else name


def declarations(section):
    """Each channel of an input: or output: section: (elements, options), elements a list of (qualifier, name)."""
    channels = []
    for line in section.splitlines():
        line = re.split(r"\s//\s", line)[0].strip()
        if not line:
            continue
        parts = split_top(line)
        head = parts[0]
        options = {}
        rest = []
        for part in parts[1:]:
            m = re.fullmatch(r"([a-zA-Z]+)\s*:\s*(.+)", part)
            if m and not part.startswith(("val", "path", "eval", "env")):
                options[m.group(1)] = m.group(2).strip()
            else:
                rest.append(part)
        if head.startswith("tuple"):
            elements = [element(p) for p in [head[len("tuple"):].strip(), *rest]]
        else:
            elements = [element(head)]
        if None in elements:
            raise ValueError(f"cannot read the declaration `{line}`")
        channels.append((elements, options))
    return channels


def process_of(main):
    text = main.read_text()
    m = re.search(r"^process\s+([A-Z0-9_]+)\s*\{", text, re.M)
    if not m:
        return None, [], []
    name = m.group(1)
    body = text[m.end():_match(text, m.end() - 1, "{", "}")]

    def section(label):
        s = re.search(rf"^\s*{label}:\s*$(.*?)(?=^\s*(?:input|output|when|script|shell|exec|stub):\s*$|\Z)", body, re.M | re.S)
        return s.group(1) if s else ""

    return name, declarations(section("input")), declarations(section("output"))


# --- meta.yml against the process ---------------------------------------------------------------------------

def meta_entry(entry, where, path):
    """(name, type) of a meta.yml element: a one-key map {name: {type: ...}}."""
    if not isinstance(entry, dict) or len(entry) != 1:
        problem(path, f"{where}: expected a one-key map {{name: {{type, description}}}}, found {entry!r}")
        return None, None
    (name, spec), = entry.items()
    if not isinstance(spec, dict) or "type" not in spec or not spec.get("description"):
        problem(path, f"{where} {name}: needs `type` and `description`")
        return name, None
    return name, spec["type"]


def type_fits(qualifier, name, kind):
    if qualifier == "val" and re.fullmatch(r"meta[0-9]*", name):
        return kind == "map"
    if qualifier == "path":
        return kind in ("file", "directory")
    if qualifier == "eval":
        return kind == "eval"
    return kind in ("string", "integer", "float", "boolean", "list", "map", "value")


def compare_channel(declared, documented, where, path):
    entries = documented if isinstance(documented, list) else [documented]
    if len(entries) != len(declared):
        problem(path, f"{where}: main.nf declares {len(declared)} element(s) "
                      f"{[n for _, n in declared]}, meta.yml documents {len(entries)}")
        return
    for (qualifier, name), entry in zip(declared, entries):
        doc_name, kind = meta_entry(entry, where, path)
        if doc_name is None:
            continue
        if doc_name != name:
            problem(path, f"{where}: main.nf has `{qualifier}({name})`, meta.yml documents `{doc_name}`")
        elif kind is not None and not type_fits(qualifier, name, kind):
            problem(path, f"{where} {name}: type `{kind}` does not fit `{qualifier}`")


def check_meta(module_dir, process, inputs, outputs):
    path = module_dir / "meta.yml"
    try:
        meta = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        problem(path, f"not YAML: {e}")
        return
    if not isinstance(meta, dict):
        problem(path, "not a mapping")
        return
    missing = [key for key in META_KEYS if not meta.get(key)]
    if missing:
        problem(path, f"missing {', '.join(missing)}")
    if meta.get("name") != module_dir.name:
        problem(path, f"name is {meta.get('name')!r}, the module is {module_dir.name!r}")
    if len(meta.get("keywords") or []) < 3:
        problem(path, "nf-core asks for at least 3 keywords")
    for tool in meta.get("tools") or []:
        for name, spec in (tool or {}).items():
            for key in ("description", "homepage", "licence"):
                if not (spec or {}).get(key):
                    problem(path, f"tools: {name}: missing {key}")
    documented_inputs = meta.get("input") or []
    if len(documented_inputs) != len(inputs):
        problem(path, f"input: main.nf declares {len(inputs)} channel(s), meta.yml documents {len(documented_inputs)}")
    for n, ((elements, _), documented) in enumerate(zip(inputs, documented_inputs)):
        compare_channel(elements, documented, f"input[{n}]", path)
    documented_outputs = meta.get("output") or {}
    declared_outputs = {options.get("emit"): elements for elements, options in outputs}
    if None in declared_outputs:
        problem(module_dir / "main.nf", "every output needs an emit: name")
    if not isinstance(documented_outputs, dict) or list(documented_outputs) != list(declared_outputs):
        problem(path, f"output: main.nf emits {list(declared_outputs)}, meta.yml documents "
                      f"{list(documented_outputs) if isinstance(documented_outputs, dict) else documented_outputs!r}")
    else:
        for emit, elements in declared_outputs.items():
            documented = documented_outputs[emit]
            if not isinstance(documented, list) or len(documented) != 1:
                problem(path, f"output {emit}: expected a list holding one channel (a list of elements)")
                continue
            compare_channel(elements, documented[0], f"output {emit}", path)
    topics = {options.get("topic") for _, options in outputs if options.get("topic")}
    documented_topics = meta.get("topics") or {}
    if set(documented_topics) != topics:
        problem(path, f"topics: main.nf sends to {sorted(topics)}, meta.yml documents {sorted(documented_topics)}")
    for elements, options in outputs:
        topic = options.get("topic")
        if topic in documented_topics and documented_topics[topic] != documented_outputs.get(options.get("emit")):
            problem(path, f"topics: {topic} must document the same elements as output {options.get('emit')}")


# --- nf-test files ----------------------------------------------------------------------------------------

def check_nf_test(module_dir, process, inputs, kind="process"):
    """kind: "process" for a module (nextflow_process), "workflow" for a subworkflow (nextflow_workflow)."""
    path = module_dir / "tests" / "main.nf.test"
    try:
        top = parse(path.read_text())
    except ValueError as e:
        problem(path, f"does not parse: {e}")
        return
    blocks = [item for item in top if item[0] == "block"]
    if [b[1] for b in blocks] != [f"nextflow_{kind}"]:
        problem(path, f"expected one top-level nextflow_{kind} {{ }} block, found {[b[1] for b in blocks]}")
        return
    try:
        items = parse(blocks[0][3])
    except ValueError as e:
        problem(path, f"does not parse: {e}")
        return
    calls = {}
    for item in items:
        if item[0] == "call":
            calls.setdefault(item[1], []).append(item[2])
    for key in ("name", "script", kind):
        if len(calls.get(key, [])) != 1 or string_value(calls[key][0]) is None:
            problem(path, f"needs one `{key} \"...\"`")
    script = string_value((calls.get("script") or ['""'])[0])
    if script is not None and (path.parent / script).resolve() != (module_dir / "main.nf").resolve():
        problem(path, f"script \"{script}\" is not this module's main.nf")
    named = string_value((calls.get(kind) or ['""'])[0])
    if named != process:
        problem(path, f"{kind} \"{named}\" is not the component's {kind} {process}")
    tags = [string_value(t) for t in calls.get("tag", [])]
    group = "modules" if kind == "process" else "subworkflows"
    if group not in tags or module_dir.name not in tags:
        problem(path, f"tags {tags} must include \"{group}\" and \"{module_dir.name}\"")

    for _, name, _, body in [i for i in items if i[0] == "block" and i[1] == "setup"]:
        for run in [i for i in parse(body) if i[0] == "block"]:
            target = string_value(run[2]) if run[1] == "run" else None
            scripts = [string_value(c[2]) for c in parse(run[3]) if c[0] == "call" and c[1] == "script"]
            if target is None or len(scripts) != 1 or scripts[0] is None:
                problem(path, f"setup: `{run[1]}({run[2]})` must be run(\"NAME\") {{ script \"...\" }}")
                continue
            source = (path.parent / scripts[0]).resolve()
            if not source.is_file() or not re.search(rf"^process\s+{target}\b", source.read_text(), re.M):
                problem(path, f"setup: run(\"{target}\"): {scripts[0]} does not define process {target}")

    tests = [i for i in items if i[0] == "block" and i[1] == "test"]
    if not tests:
        problem(path, "no test(\"...\") { } block")
    titles = [string_value(t[2]) for t in tests]
    if len(set(titles)) != len(titles) or None in titles:
        problem(path, f"test names must be unique strings: {titles}")
    stubs = 0
    for _, _, args, body in tests:
        title = string_value(args)
        parts = parse(body)
        options = [string_value(p[2]) for p in parts if p[0] == "call" and p[1] == "options"]
        stubs += any(o and "-stub" in o.split() for o in options)
        when = [p for p in parts if p[0] == "block" and p[1] == "when"]
        then = [p for p in parts if p[0] == "block" and p[1] == "then"]
        if len(when) != 1 or len(then) != 1:
            problem(path, f"test \"{title}\": needs one when {{ }} and one then {{ }}")
            continue
        process_blocks = [p for p in parse(when[0][3]) if p[0] == "block" and p[1] == kind]
        code = re.fullmatch(r'\s*"""(.*)"""\s*', process_blocks[0][3], re.S) if len(process_blocks) == 1 else None
        if not code:
            problem(path, f"test \"{title}\": when {{ {kind} {{ \"\"\" ... \"\"\" }} }} missing")
        else:
            assigned = sorted(int(n) for n in re.findall(r"^\s*input\[(\d+)\]\s*=", code.group(1), re.M))
            if assigned != list(range(len(inputs))):
                problem(path, f"test \"{title}\": assigns input{assigned}, the {kind} takes {len(inputs)} input(s)")
        assertions = re.findall(r"\bassert\s+([^\n}]+)", then[0][3])
        if not any(re.match(rf"{kind}\.(success|failed)\b", a.strip()) for a in assertions):
            problem(path, f"test \"{title}\": then {{ }} must assert {kind}.success (or {kind}.failed)")
        if len(assertions) < 2:
            problem(path, f"test \"{title}\": then {{ }} needs an assertion on the outputs besides {kind}.success")
    if tests and not stubs:
        problem(path, "no test with options \"-stub\" (nf-core: every component has a stub test)")


# --- subworkflows -------------------------------------------------------------------------------------------

def workflow_of(main):
    """(name, take names, emit names, included process/workflow names) of a subworkflow's main.nf."""
    text = main.read_text()
    m = re.search(r"^workflow\s+([A-Z0-9_]+)\s*\{", text, re.M)
    if not m:
        return None, [], [], []
    body = text[m.end():_match(text, m.end() - 1, "{", "}")]

    def section(label):
        s = re.search(rf"^\s*{label}:\s*$(.*?)(?=^\s*(?:take|main|emit):\s*$|\Z)", body, re.M | re.S)
        return s.group(1) if s else ""

    takes = [re.split(r"\s//\s", line)[0].strip() for line in section("take").splitlines()]
    emits = [re.match(r"\s*([a-z_0-9]+)\s*=", line) for line in section("emit").splitlines()]
    included = [name.strip() for block in re.findall(r"^include\s*\{([^}]*)\}", text, re.M) for name in block.split(";")]
    return m.group(1), [t for t in takes if t], [e.group(1) for e in emits if e], [i for i in included if i]


def check_subworkflow(directory):
    files = [directory / "main.nf", directory / "meta.yml", directory / "tests" / "main.nf.test"]
    for f in files:
        if not f.is_file():
            problem(f, "missing (every subworkflow has main.nf, meta.yml and tests/main.nf.test)")
    if not files[0].is_file():
        return
    name, takes, emits, included = workflow_of(files[0])
    if name != directory.name.upper():
        problem(files[0], f"defines workflow {name}, expected {directory.name.upper()}")
        return
    if files[1].is_file():
        meta = yaml.safe_load(files[1].read_text()) or {}
        for key in ["name", "description", "keywords", "components", "input", "output", "authors", "maintainers"]:
            if not meta.get(key):
                problem(files[1], f"missing {key}")
        if meta.get("name") != directory.name:
            problem(files[1], f"name is {meta.get('name')!r}, the subworkflow is {directory.name!r}")
        documented = [next(iter(entry)) for entry in meta.get("input") or [] if isinstance(entry, dict)]
        if documented != takes:
            problem(files[1], f"input: main.nf takes {takes}, meta.yml documents {documented}")
        documented = [next(iter(entry)) for entry in meta.get("output") or [] if isinstance(entry, dict)]
        if documented != emits:
            problem(files[1], f"output: main.nf emits {emits}, meta.yml documents {documented}")
        components = sorted(meta.get("components") or [])
        if components != sorted(i.lower() for i in included):
            problem(files[1], f"components {components} are not the included {sorted(i.lower() for i in included)}")
        for component in components:
            if not (MODULES / component / "main.nf").is_file():
                problem(files[1], f"component {component}: no modules/local/{component}/main.nf")
    if files[2].is_file():
        check_nf_test(directory, name, takes, kind="workflow")


def main():
    config = NEXTFLOW / "nf-test.config"
    if not config.is_file():
        problem(config, "missing")
    else:
        m = re.search(r'configFile\s+"([^"]+)"', config.read_text())
        if m and not (NEXTFLOW / m.group(1)).is_file():
            problem(config, f"configFile {m.group(1)} does not exist")
    modules = sorted(p for p in MODULES.iterdir() if p.is_dir())
    if not modules:
        problem(MODULES, "no modules")
    for module_dir in modules:
        files = [module_dir / "main.nf", module_dir / "meta.yml", module_dir / "tests" / "main.nf.test"]
        absent = [f for f in files if not f.is_file()]
        for f in absent:
            problem(f, "missing (every module has main.nf, meta.yml and tests/main.nf.test)")
        if files[0] in absent:
            continue
        try:
            process, inputs, outputs = process_of(files[0])
        except ValueError as e:
            problem(files[0], str(e))
            continue
        if process != module_dir.name.upper():
            problem(files[0], f"defines process {process}, expected {module_dir.name.upper()}")
            continue
        if files[1] not in absent:
            check_meta(module_dir, process, inputs, outputs)
        if files[2] not in absent:
            check_nf_test(module_dir, process, inputs)
    subworkflows = sorted(p for p in (NEXTFLOW / "subworkflows" / "local").iterdir() if p.is_dir())
    for directory in subworkflows:
        check_subworkflow(directory)
    for line in problems:
        print(line)
    if problems:
        print(f"components: {len(problems)} problem(s)", file=sys.stderr)
        sys.exit(1)
    print(f"components: {len(modules)} modules: main.nf + meta.yml (inputs/outputs/topics match) + "
          f"tests/main.nf.test (structure, script, process, inputs, assertions, stub test) each; "
          f"{len(subworkflows)} subworkflow(s): main.nf + meta.yml (take/emit/components match) + tests/main.nf.test")


if __name__ == "__main__":
    main()
