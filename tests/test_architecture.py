"""The layers of docs/architecture.md: every import goes down (or stays in its layer), no
module imports itself back through a cycle, and the numeric core never loads SymPy."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "symcnn"

LAYERS = {
    "core": ("symcnn", "symcnn.checks", "symcnn.model", "symcnn.fourier", "symcnn.data",
             "symcnn.datasets", "symcnn.simulate", "symcnn.zoo", "symcnn.instances",
             "symcnn.torch"),
    "codegen": ("symcnn.codegen",),
    "symbolic": ("symcnn.symbolic",),
    "theory": ("symcnn.theory",),
    "theorems": ("symcnn.theorems", "symcnn.strategies"),
    "studies": ("symcnn.plots", "symcnn.analysis", "symcnn.reproduce"),
    "cli": ("symcnn.cli", "symcnn.__main__"),
}
"""Bottom to top. A module may import its own layer and the layers below it."""
SYMPY_FREE = ("core", "theory")
"""Layers that may not import SymPy at module level (theory: instant predictions)."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> int:
    """Index of the layer of ``module``: the longest matching prefix decides."""
    best, index = "", None
    for i, prefixes in enumerate(LAYERS.values()):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
                best, index = prefix, i
    assert index is not None, f"{module} is in no layer of LAYERS"
    return index


def imports(module: str, top_level_only: bool = False) -> set[str]:
    """The modules ``module`` imports (``from pkg import name`` counts as ``pkg.name`` when
    that is a module). With ``top_level_only``, imports inside functions are left out."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return found


def internal(module: str, **options) -> set[str]:
    return {m for m in imports(module, **options) if m in MODULES and m != module}


def test_every_module_is_in_a_layer():
    for module in MODULES:
        layer(module)


def test_no_module_imports_a_layer_above_it():
    upward = [f"{m} ({list(LAYERS)[layer(m)]}) imports {d} ({list(LAYERS)[layer(d)]})"
              for m in MODULES for d in internal(m) if layer(d) > layer(m)]
    assert not upward, "\n".join(upward)


def test_no_import_cycle():
    graph = {m: internal(m) for m in MODULES}
    cycles = [component for component in strongly_connected(graph) if len(component) > 1]
    assert not cycles, cycles


def test_the_layer_check_catches_an_upward_import_and_a_cycle():
    """The checks above can fail: an upward edge and a two-module cycle are found."""
    assert layer("symcnn.symbolic.closed_forms") > layer("symcnn.codegen.kernel")
    assert [c for c in strongly_connected({"a": {"b"}, "b": {"a"}, "c": {"a"}})
            if len(c) > 1] == [{"a", "b"}]


@pytest.mark.parametrize("name", [n for n in SYMPY_FREE])
def test_sympy_free_layers_import_no_sympy_at_module_level(name):
    offenders = [m for m in MODULES if list(LAYERS)[layer(m)] == name
                 and any(i == "sympy" or i.startswith("sympy.")
                         for i in imports(m, top_level_only=True))]
    assert not offenders


def test_importing_the_numeric_core_and_theory_loads_no_sympy():
    code = ("import sys, symcnn, symcnn.model, symcnn.data, symcnn.simulate, symcnn.zoo, "
            "symcnn.fourier, symcnn.theory, symcnn.codegen\n"
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('sympy', 'mpmath'))\n"
            "print(loaded)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=PACKAGE.parent)
    assert done.stdout.strip() == "[]", done.stdout


def test_importing_symcnn_loads_no_torch():
    """torch, the ``torch`` extra, is imported only by symcnn.torch and the modules that
    import it (finding (g) of ``symcnn reproduce --torch``)."""
    bridge = {m for m in MODULES if m == "symcnn.torch" or m.startswith("symcnn.torch.")}
    others = [m for m in MODULES if m not in bridge and not internal(m) & bridge
              and m != "symcnn.__main__"]
    assert len(others) > len(MODULES) - len(bridge) - 3  # only a few modules use the bridge
    code = (f"import sys\nfor m in {others!r}:\n    __import__(m)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=PACKAGE.parent)
    assert done.stdout.strip() == "[]", done.stdout


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components of ``graph`` (node -> successors)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph.get(node, ()):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.add(top)
                if top == node:
                    break
            out.append(component)

    for node in graph:
        if node not in index:
            visit(node)
    return out
