"""The layers: the PK package sits below the circuit model, and no two modules import each other.

* Nothing under ``pkpd/`` imports ``circuits``, by an import statement, by ``importlib``/``__import__`` or by a
  module name held in a string (the plugin loading the explicit cohort contract replaced).
* The module import graph of ``pkpd`` and ``circuits`` has no cycle, lazy imports inside functions included (a
  cycle hidden behind a lazy import is still a cycle). Imports under ``if TYPE_CHECKING:`` are annotations only and
  do not count: a protocol's methods take the spec that holds the protocol.

Oracle: the syntax tree of every module.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKPD = ROOT / "pkpd"
_MODULE_STRING = re.compile(r"circuits(\.\w+)*")
_DYNAMIC_IMPORTS = {"import_module", "__import__", "find_spec", "run_module"}


def _upward_references(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.split(".")[0] == "circuits"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "circuits":
            found.append(f"from {node.module} import …")
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if name in _DYNAMIC_IMPORTS:
                found.append(f"{name}(…) at line {node.lineno}")  # no dynamic imports at all in pkpd
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _MODULE_STRING.fullmatch(node.value):
            found.append(f"the string {node.value!r} at line {node.lineno}")
    return found


def test_the_checker_sees_every_kind_of_upward_reference(tmp_path):
    p = tmp_path / "m.py"
    p.write_text("import circuits.cohort\nfrom circuits import model\n"
                 "def f():\n    import importlib\n    importlib.import_module('x')\n"
                 "PLUGINS = ('circuits.cohort',)\n")
    assert len(_upward_references(p)) == 4


@pytest.mark.parametrize("path", sorted(PKPD.rglob("*.py")), ids=lambda p: str(p.relative_to(PKPD)))
def test_pkpd_never_imports_circuits(path):
    if "_generated" in path.parts:  # generated model code: checked by its generator
        return
    assert _upward_references(path) == []


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(tree: ast.AST):
    """Import nodes outside ``if TYPE_CHECKING:`` blocks."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for b in node.body for n in ast.walk(b)}
    return [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) and id(n) not in skip]


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of ``pkpd`` and ``circuits`` it imports anywhere in its body (a module importing its
    own package's ``__init__`` is not an edge)."""
    paths = {_module_name(p): p for pkg in ("pkpd", "circuits") for p in (ROOT / pkg).rglob("*.py")
             if "_generated" not in p.parts}
    graph = {}
    for mod, path in paths.items():
        deps = set()
        for node in _runtime_imports(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
                base = base[:len(base) - node.level + 1] if node.level else []
                m = ".".join(base + ([node.module] if node.module else []))
                targets = [m] + [f"{m}.{a.name}" for a in node.names]
            for t in targets:
                while t and t not in paths:
                    t = t.rpartition(".")[0]
                if t and t != mod and not mod.startswith(t + "."):
                    deps.add(t)
        graph[mod] = deps
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_lazy_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    graph = import_graph()
    assert "pkpd.ode.solution" in graph["pkpd.ode.codegen"] and "pkpd.cohort" in graph["circuits.cohort"]
    assert _cycles(graph) == []
