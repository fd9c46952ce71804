"""The house: layers that import only downwards, no import circle, no module too long to read."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "losslab"

# Lowest first; a module may import its own layer and those below it, never one above.
LAYERS = [
    ("errors", "registry", "hyper", "resources"),
    ("nn", "losses", "optim"),
    ("data",),
    ("train",),
    ("study",),
    ("views",),
    ("api", "cli", "__main__"),
]
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}
MAX_LINES = 800


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(("losslab", *parts))] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every losslab module ``name`` imports, at module level or inside a function."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in MODULES else base)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.JoinedStr) and isinstance(arg.values[0], ast.Constant):
                prefix = arg.values[0].value  # f"losslab.optim.{name}": the package itself
                found.add(prefix.rstrip("."))
    return {m for m in found if m.startswith("losslab") and m in MODULES and m != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return RANK.get(parts[1]) if len(parts) > 1 else None


def test_every_top_level_name_has_a_layer():
    tops = {m.split(".")[1] for m in MODULES if m.count(".") >= 1}
    assert tops <= set(RANK), f"modules outside the layers: {sorted(tops - set(RANK))}"


def test_lower_layers_never_import_higher_ones():
    wrong = [
        f"{m} imports {t}"
        for m, targets in GRAPH.items()
        for t in targets
        if _layer(m) is not None and _layer(t) is not None and _layer(t) > _layer(m)
    ]
    assert wrong == []


def test_no_import_circle():
    """No cycle among modules, counting deferred imports (a package's ``__init__`` importing its
    own modules to register them is the one edge left out: it runs first, once)."""
    edges = {
        m: {t for t in targets if not (MODULES[m].name == "__init__.py" and t.startswith(m + "."))}
        for m, targets in GRAPH.items()
    }
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [])
    assert cycles == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_over_800_lines(module):
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{module}: {lines} lines"


def test_every_package_says_what_lives_in_it():
    for init in PACKAGE.rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc.split()) >= 20, f"{init.relative_to(PACKAGE.parent)}: no paragraph"
