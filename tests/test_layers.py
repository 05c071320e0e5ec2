"""Imports run one way: from the command line down to the torch-free core (docs/architecture.md).

The source of ``osgnet_bench``, ``trainers`` and ``submissions`` is read with ``ast``; every import
counts, including those inside functions and under ``TYPE_CHECKING`` (a lazy import is still a
dependency). Each module belongs to the layer of the longest prefix in ``LAYERS`` below, and the
tests fail, listing every offending import as ``file:line  importer -> imported``, on

* an import from a lower layer into a higher one;
* an import inside layer 5 that ``SIDEWAYS`` forbids (the model never imports the data pipeline);
* an import cycle between modules, or between packages (``trainers.train`` <-> ``trainers.infer``);
* torch imported by the ``osgnet_bench`` core.

Another test imports every module alone in a fresh interpreter, so a module that only works
when something else happened to be imported first fails here.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
ROOT_PACKAGES = ("osgnet_bench", "trainers", "submissions")

# (module prefix, layer, what lives there). Top to bottom: a module may import its own layer or a
# lower one (a larger number), never a higher one. The longest matching prefix wins.
LAYERS: tuple[tuple[str, int, str], ...] = (
    ("osgnet_bench.cli", 1, "command line"),
    ("osgnet_bench.__main__", 1, "command line"),
    ("osgnet_bench.commands", 1, "command line"),
    ("osgnet_bench.workflows", 2, "application workflows (run, submit, compare)"),
    ("trainers.train", 3, "training"),
    ("trainers.infer", 3, "inference"),
    ("trainers.config", 4, "run config and distributed setup"),
    ("trainers.distributed", 4, "run config and distributed setup"),
    ("trainers", 5, "model, data pipeline, synthetic data"),
    ("submissions", 6, "submission formats and ensembling"),
    ("osgnet_bench", 7, "torch-free core"),
)

# Inside layer 5: (importer prefix, imported prefix, the only modules under the imported prefix
# that the importer may use). The model is independent of the data pipeline; the data pipeline
# uses only the sample type of the model.
SIDEWAYS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("trainers.model", "trainers.data", ()),
    ("trainers.model", "trainers.synth", ()),
    ("trainers.data", "trainers.synth", ()),
    ("trainers.data", "trainers.model", ("trainers.model.inputs",)),
)

CORE_LAYER = 7
TORCH_PACKAGES = ("torch",)


@dataclass(frozen=True)
class Import:
    """One import statement's target: ``importer`` imports ``imported`` at ``path:line``."""

    importer: str
    imported: str
    path: str
    line: int

    def describe(self) -> str:
        return f"{self.path}:{self.line}  {self.importer} -> {self.imported}"


def module_files() -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the three packages."""
    modules = {}
    for root in ROOT_PACKAGES:
        for path in sorted((REPO_ROOT / root).rglob("*.py")):
            parts = path.relative_to(REPO_ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


MODULES = module_files()


def layer_of(module: str) -> tuple[int, str]:
    """The layer number and description of the longest ``LAYERS`` prefix of ``module``."""
    matches = [(len(prefix), layer, what) for prefix, layer, what in LAYERS if within(module, prefix)]
    if not matches:
        raise AssertionError(f"{module} is in no layer: add its prefix to LAYERS in {Path(__file__).name}")
    _, layer, what = max(matches)
    return layer, what


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def known_module(dotted: str) -> str:
    """The longest prefix of ``dotted`` that is one of our modules (``a.b.name`` -> ``a.b``)."""
    parts = dotted.split(".")
    while parts:
        name = ".".join(parts)
        if name in MODULES:
            return name
        parts.pop()
    raise AssertionError(f"no module of ours is a prefix of {dotted}")


def base_of_relative(module: str, level: int, target: str | None) -> str:
    """The absolute name of ``from <level dots><target> import ...`` written in ``module``."""
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{target}" if target else package


def imports_of(module: str) -> Iterator[tuple[str, int]]:
    """(absolute imported name, line) of every import in ``module``'s source, at any depth."""
    tree = ast.parse(MODULES[module].read_text(), filename=str(MODULES[module]))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = base_of_relative(module, node.level, node.module) if node.level else str(node.module)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield (submodule if submodule in MODULES else base), node.lineno


def all_imports() -> tuple[list[Import], list[Import]]:
    """(imports of our own modules, imports of third-party or standard modules)."""
    internal, external = [], []
    for module, path in MODULES.items():
        relative = path.relative_to(REPO_ROOT).as_posix()
        for name, line in imports_of(module):
            if name.split(".")[0] in ROOT_PACKAGES:
                internal.append(Import(module, known_module(name), relative, line))
            else:
                external.append(Import(module, name, relative, line))
    return internal, external


INTERNAL, EXTERNAL = all_imports()


def report(title: str, lines: list[str]) -> str:
    return f"{title}:\n  " + "\n  ".join(lines)


def test_every_module_is_in_a_layer():
    for module in MODULES:
        layer_of(module)


def test_no_import_goes_up_a_layer():
    offenders = []
    for edge in INTERNAL:
        (low, low_what), (high, high_what) = layer_of(edge.importer), layer_of(edge.imported)
        if high < low:
            offenders.append(f"{edge.describe()}   (layer {low} {low_what} -> layer {high} {high_what})")
    if offenders:
        pytest.fail(
            report(f"imports from a lower layer into a higher one ({len(offenders)})", offenders), pytrace=False
        )


def test_no_forbidden_sideways_import():
    offenders = []
    for edge in INTERNAL:
        for importer, imported, allowed in SIDEWAYS:
            if within(edge.importer, importer) and within(edge.imported, imported) and edge.imported not in allowed:
                only = f"only {', '.join(allowed)}" if allowed else "nothing"
                offenders.append(f"{edge.describe()}   ({importer} may import {only} from {imported})")
    if offenders:
        pytest.fail(report(f"imports that cross a line inside layer 5 ({len(offenders)})", offenders), pytrace=False)


def test_core_never_imports_torch():
    offenders = [
        edge.describe()
        for edge in EXTERNAL
        if layer_of(edge.importer)[0] == CORE_LAYER and edge.imported.split(".")[0] in TORCH_PACKAGES
    ]
    if offenders:
        pytest.fail(report(f"torch imported by the osgnet_bench core ({len(offenders)})", offenders), pytrace=False)


def package_of(module: str) -> str:
    """The unit of the package-level graph: the first two name parts (``trainers.train.loop`` ->
    ``trainers.train``; ``osgnet_bench.files`` stays itself)."""
    return ".".join(module.split(".")[:2])


@dataclass(frozen=True)
class Cycle:
    """A shortest import loop inside one strongly connected group of ``group_size`` nodes: one
    list of imports per hop (``hops[i]`` imports ``nodes[i]`` -> ``nodes[i + 1]``, wrapping round)."""

    nodes: tuple[str, ...]
    hops: tuple[tuple[Import, ...], ...]
    group_size: int


def cycles(edges: list[tuple[str, str, Import]]) -> list[Cycle]:
    """One shortest cycle per strongly connected group of more than one node (Tarjan, then a
    breadth-first search inside the group). Break it and run again to see the next one."""
    graph: dict[str, set[str]] = {}
    for source, target, _ in edges:
        if source != target:
            graph.setdefault(source, set()).add(target)
            graph.setdefault(target, set())
    found = []
    for group in strongly_connected(graph):
        nodes = min((shortest_loop(graph, start, group) for start in sorted(group)), key=len)
        hops = tuple(
            tuple(
                sorted(
                    {edge for source, target, edge in edges if (source, target) == (a, b)},
                    key=lambda edge: (edge.path, edge.line),
                )
            )
            for a, b in zip(nodes, nodes[1:] + nodes[:1], strict=True)
        )
        found.append(Cycle(nodes, hops, len(group)))
    return found


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected groups of more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = lowlink[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                lowlink[node] = min(lowlink[node], lowlink[succ])
            elif succ in on_stack:
                lowlink[node] = min(lowlink[node], index[succ])
        if lowlink[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph) + 100))
    try:
        for node in sorted(graph):
            if node not in index:
                visit(node)
    finally:
        sys.setrecursionlimit(limit)
    return groups


def shortest_loop(graph: dict[str, set[str]], start: str, group: set[str]) -> tuple[str, ...]:
    """The nodes of a shortest path ``start`` -> ... -> ``start`` inside ``group``."""
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for succ in sorted(graph[node] & group):
                if succ == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return tuple(reversed(path))
                if succ not in parents:
                    parents[succ] = node
                    following.append(succ)
        frontier = following
    raise AssertionError(f"{start} is on no loop inside its strongly connected group")


def describe_cycles(found: list[Cycle]) -> list[str]:
    """Per cycle: its loop, then the imports that make each hop."""
    lines = []
    for number, cycle in enumerate(found, 1):
        loop = " -> ".join((*cycle.nodes, cycle.nodes[0]))
        lines.append(
            f"cycle {number}: {loop}   (a shortest loop in a group of {cycle.group_size} that all import "
            "each other, directly or not)"
        )
        lines.extend(f"    {edge.describe()}" for hop in cycle.hops for edge in hop)
    return lines


def test_no_import_cycle_between_modules():
    found = cycles([(edge.importer, edge.imported, edge) for edge in INTERNAL])
    if found:
        pytest.fail(report(f"import cycles between modules ({len(found)})", describe_cycles(found)), pytrace=False)


def test_no_import_cycle_between_packages():
    found = cycles([(package_of(edge.importer), package_of(edge.imported), edge) for edge in INTERNAL])
    if found:
        pytest.fail(report(f"import cycles between packages ({len(found)})", describe_cycles(found)), pytrace=False)


# Imports every module named on stdin in its own forked child of an interpreter that has loaded only
# third-party packages, so a child sees none of our modules already imported.
ISOLATED_IMPORTS = """
import importlib, os, sys, traceback
import torch  # loaded once up front: the children only differ in which of our modules they import
failed = []
for name in sys.stdin.read().split():
    pid = os.fork()
    if pid == 0:
        try:
            importlib.import_module(name)
        except BaseException:
            where = "\\n    ".join(traceback.format_exc().strip().splitlines()[-3:])
            sys.stderr.write(f"import {name}:\\n    {where}\\n")
            os._exit(1)
        os._exit(0)
    if os.waitpid(pid, 0)[1] != 0:
        failed.append(name)
print(" ".join(failed))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_every_module_imports_alone():
    names = [name for name in MODULES if not name.endswith("__main__")]
    result = subprocess.run(
        [sys.executable, "-c", ISOLATED_IMPORTS],
        input="\n".join(names),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    failed = result.stdout.split()
    if failed:
        pytest.fail(
            report(f"modules that fail to import on their own ({len(failed)})", result.stderr.splitlines()),
            pytrace=False,
        )


def test_core_imports_without_torch():
    core = [name for name in MODULES if layer_of(name)[0] == CORE_LAYER]
    code = (
        "import importlib, sys\n"
        f"for name in {core!r}:\n"
        "    importlib.import_module(name)\n"
        "    if 'torch' in sys.modules:\n"
        "        sys.exit(f'importing {name} imported torch')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        pytest.fail(result.stderr[-3000:], pytrace=False)
