"""Imports in backtests/ run one way, down the pipeline, and never in a circle.

Every ``import`` and ``from ... import`` of every module under ``backtests/`` is read with ``ast``
(imports inside functions too: a lazy import is still a dependency, and a circle through one only
waits for the right call order to break). Two rules:

* no circle: no module reaches itself through the modules it imports;
* no import back up the pipeline: a module may import its own layer or the layers before it in
  :data:`PIPELINE`, never a later one.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "backtests"

#: The pipeline order, first to last. A stage takes what the stages before it produce and knows
#: nothing of those after it: the config is read before anything else; time (calendars, windows)
#: is needed to stamp data; the exchange's rules (market state, short-sale bans) are facts of time
#: and markets that data and the engine consult; scenario paths are data of their own kind, made
#: with the exchange's rules; strategies read data; the plan resolves strategies and windows before
#: data loads; the engine simulates what the plan holds; the sweep chunks the engine over a grid;
#: scoring reads the sweep's results; the audit re-runs strategies on prepared studies; the report
#: renders scored results; outputs write documents and the report; orchestration orders them all;
#: the Python API (backtests.api) sits above orchestration, beside the command line: it calls the
#: runner scare run calls and reads run folders through the output stage's and the report's readers.
#: Each entry: (layer, module prefixes); a module is in the layer of its longest matching prefix.
PIPELINE: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("backtests", "backtests.errors", "backtests.notices", "backtests.digest", "backtests.jsonfmt")),
    ("config", ("backtests.config", "backtests.config.loader", "backtests.config.model")),
    ("time", ("backtests.time",)),
    ("exchange", ("backtests.exchange",)),
    ("data", ("backtests.data",)),
    ("scenarios", ("backtests.scenarios",)),
    ("strategy", ("backtests.strategy",)),
    ("plan", ("backtests.config.plan",)),
    ("engine", ("backtests.engine",)),
    ("sweep", ("backtests.sweep",)),
    ("scoring", ("backtests.scoring",)),
    ("audit", ("backtests.audit",)),
    ("report", ("backtests.report",)),
    ("outputs", ("backtests.outputs",)),
    ("orchestration", ("backtests.orchestration", "backtests.__main__")),
    ("api", ("backtests.api",)),
]

#: Imports back up the pipeline that are known and owned elsewhere, each with its mend. The list
#: only shrinks: an entry that is no longer found fails too (delete it with the fix).
KNOWN_BACK_UP: dict[tuple[str, str], str] = {}


def modules() -> dict[str, Path]:
    """``{dotted name: file}`` of every module of the package (a package is its ``__init__``)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of the package that ``name`` imports, anywhere in its file."""

    def module_of(dotted: str) -> str | None:
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    found: set[str | None] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(module_of(a.name) for a in node.names if a.name.split(".")[0] == "backtests")
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's package
                pkg = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = ".".join(pkg[: len(pkg) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base.split(".")[0] != "backtests":
                continue
            for a in node.names:  # ``from pkg import module`` imports the module
                sub = f"{base}.{a.name}"
                found.add(sub if sub in known else module_of(base))
    found.discard(None)
    found.discard(name)
    return found  # type: ignore[return-value]


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def layer(name: str) -> int:
    best, rank = -1, None
    for i, (_, prefixes) in enumerate(PIPELINE):
        for p in prefixes:
            if (name == p or name.startswith(p + ".")) and len(p) > best:
                best, rank = len(p), i
    assert rank is not None, f"{name} is in no layer of PIPELINE: place it there"
    return rank


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        found.append(sorted(comp))
    return found


def back_up(edges: dict[str, set[str]]) -> set[tuple[str, str]]:
    return {(a, b) for a, targets in edges.items() for b in targets if layer(b) > layer(a)}


# ----------------------------------------------------------------------------- the rules
def test_no_import_circle_in_backtests():
    found = circles(graph())
    assert not found, "import circles: " + "; ".join(" <-> ".join(c) for c in found)


def test_no_import_runs_back_up_the_pipeline():
    found = back_up(graph())
    new = sorted(found - set(KNOWN_BACK_UP))
    names = [name for name, _ in PIPELINE]
    assert not new, "imports back up the pipeline (" + " < ".join(names) + "): " + "; ".join(
        f"{a} ({names[layer(a)]}) imports {b} ({names[layer(b)]})" for a, b in new)
    mended = sorted(set(KNOWN_BACK_UP) - found)
    assert not mended, f"mended, delete from KNOWN_BACK_UP: {mended}"


def test_every_module_has_a_layer():
    for name in modules():
        layer(name)


# ----------------------------------------------------------------------------- the checker itself
def test_the_walker_sees_lazy_relative_and_package_imports(tmp_path):
    pkg = tmp_path / "backtests"
    (pkg / "engine").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "errors.py").write_text("")
    (pkg / "engine" / "__init__.py").write_text("from . import kernel\n")
    (pkg / "engine" / "kernel.py").write_text("def f():\n    from backtests.orchestration import cli\n")
    (pkg / "engine" / "other.py").write_text("from .kernel import f\nimport backtests.errors\n")
    known = {"backtests": pkg / "__init__.py", "backtests.errors": pkg / "errors.py",
             "backtests.engine": pkg / "engine" / "__init__.py", "backtests.engine.kernel": pkg / "engine" / "kernel.py",
             "backtests.engine.other": pkg / "engine" / "other.py", "backtests.orchestration": pkg / "errors.py",
             "backtests.orchestration.cli": pkg / "errors.py"}
    assert imports("backtests.engine", known["backtests.engine"], known) == {"backtests.engine.kernel"}
    assert imports("backtests.engine.kernel", known["backtests.engine.kernel"], known) == {"backtests.orchestration.cli"}
    assert imports("backtests.engine.other", known["backtests.engine.other"], known) == {
        "backtests.engine.kernel", "backtests.errors"}
    edges = {"backtests.engine.kernel": {"backtests.orchestration.cli"}, "backtests.orchestration.cli": set()}
    assert back_up(edges) == {("backtests.engine.kernel", "backtests.orchestration.cli")}


def test_circles_are_found_through_any_number_of_modules():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert circles(edges) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []
