"""The layers import only downward, and no import closes a cycle:

    data                                  records, configs, grading, the toy world
    ttc (the library)                     LM, backends, verifiers, search, revise, policy
    ttc.stages                            sample, label, trajectories, chains, solve
    train | eval                          trainers | evaluations (neither imports the other)
    ttc.pipeline                          the stage graph, the demo, Slurm, the report, the command

Every import of the project's own modules counts, those inside functions included.
"""

import ast
from pathlib import Path

from tests.support.runs import REPO

PACKAGES = ("data", "ttc", "train", "eval")


def layer(module: str) -> tuple[int, str]:
    """(rank, group): an import must go to a lower rank, or stay within its group."""
    top = module.split(".")[0]
    if module.startswith("ttc.pipeline"):
        return 4, "orchestration"
    if top in ("train", "eval"):
        return 3, top
    if module.startswith("ttc.stages"):
        return 2, "stages"
    return (1, "library") if top == "ttc" else (0, "data")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for top in PACKAGES for p in (REPO / top).rglob("*.py")}


def imports(path: Path, known: set[str]) -> set[str]:
    """The project modules `path` imports (`from a.b import c` is a.b.c when that is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module for a in node.names
            ]
        else:
            continue
        found |= {n for n in names if n in known}
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports(path, set(found)) - {name} for name, path in found.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_every_import_runs_downward():
    upward = []
    for importer, targets in graph().items():
        rank, group = layer(importer)
        for target in targets:
            to_rank, to_group = layer(target)
            if to_group != group and to_rank >= rank:
                upward.append(f"{importer} ({group}) imports {target} ({to_group})")
    assert not upward, "\n".join(sorted(upward))


def test_no_import_cycle():
    assert not cycles(graph())


def test_the_checker_sees_what_it_must():
    """A guard on the guard: the graph holds function-level imports, and the rules would catch
    an upward import and a cycle."""
    edges = graph()
    assert "data.records" in edges["ttc.search.session"]
    assert layer("eval.search") > layer("ttc.stages.sample") > layer("ttc.search.beam") > layer("data.steps")
    assert layer("ttc.pipeline.report")[0] > layer("eval.prm")[0]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]
