"""The house's layers, decided by a module's path: core < io < verbs < applications.

- ``xltools/core/``: pandas and the standard library only;
- ``xltools/io/``: files (openpyxl, calamine, XlsxWriter, …), over the core;
- ``xltools/verbs/``: one module per verb, over io and core; no verb imports another;
- everything else in ``xltools/`` (cli, excel, demo, doctor): the applications on top.

A module imports only from its own layer or the ones below, only ``xltools.cli`` imports
click, only ``xltools.excel`` imports xlwings, and the module-level imports have no cycle.
"""
from __future__ import annotations

import ast
from pathlib import Path

import xltools

PACKAGE = Path(xltools.__file__).parent
LAYERS = ("core", "io", "verbs", "apps")
FILE_LIBRARIES = {"openpyxl", "xlsxwriter", "python_calamine", "msoffcrypto", "defusedxml", "olefile", "pyopenvba",
                  "docx"}
ONLY_IN = {"click": "xltools.cli", "xlwings": "xltools.excel"}
VERSION = {"xltools", "xltools.__version__"}  # the package's version string may be read from anywhere


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, name: str | None = None, *, top_level_only: bool = False) -> set[str]:
    """Every module (and module.name) imported by the file; ``top_level_only`` skips function bodies."""
    name = name or _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = _top_level(tree) if top_level_only else ast.walk(tree)
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _top_level(tree: ast.Module):
    """Statements that run at import time (not inside functions; ``if TYPE_CHECKING`` skipped)."""
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        yield node
        todo.extend(ast.iter_child_nodes(node))


def layer(name: str) -> str:
    parts = name.split(".")
    if len(parts) > 1 and parts[1] in ("core", "io", "verbs"):
        return parts[1]
    return "apps"


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _ours(imports: set[str], modules: dict[str, Path]) -> set[str]:
    """The package's own modules among ``imports`` (``a.b.name`` -> module ``a.b``)."""
    out = set()
    for item in imports:
        if item in modules:
            out.add(item)
        elif item.rsplit(".", 1)[0] in modules and item.startswith("xltools"):
            out.add(item.rsplit(".", 1)[0])
    return out


def problems_of(modules: dict[str, Path]) -> list[str]:
    problems = []
    for name, path in modules.items():
        mine = layer(name)
        imports = _imports(path, name)
        for lib, owner in ONLY_IN.items():
            if name != owner and any(i == lib or i.startswith(lib + ".") for i in imports):
                problems.append(f"{name} imports {lib}")
        if mine == "core":
            bad = {i for i in imports if i.split(".")[0] in FILE_LIBRARIES}
            if bad:
                problems.append(f"core module {name} imports {sorted(bad)}")
        if name == "xltools":  # the lazy public API names every verb, imports none at load
            continue
        for target in _ours(imports, modules) - VERSION:
            theirs = layer(target)
            if LAYERS.index(theirs) > LAYERS.index(mine):
                problems.append(f"{name} ({mine}) imports {target} ({theirs})")
            elif mine == theirs == "verbs" and target != "xltools.verbs" and name != "xltools.verbs":
                problems.append(f"verb {name} imports verb {target}")
    return problems + cycles_of(modules)


def cycles_of(modules: dict[str, Path]) -> list[str]:
    graph = {name: _ours(_imports(path, name, top_level_only=True), modules) - {name} - VERSION
             for name, path in modules.items()}
    found: list[str] = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append(" -> ".join(trail[trail.index(nxt):] + [nxt]) if nxt in trail else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return [f"import cycle: {c}" for c in found]


def test_layers_import_downward_only():
    assert problems_of(_modules()) == []


def test_every_module_has_a_layer_by_its_path():
    layers = {layer(name) for name in _modules()}
    assert layers == set(LAYERS)
    assert layer("xltools.core.validation.plan") == "core" and layer("xltools.excel") == "apps"


def _fake_package(tmp_path: Path, files: dict[str, str]) -> dict[str, Path]:
    modules = {}
    for rel, text in files.items():
        path = tmp_path / "xltools" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        parts = list(Path(rel).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(["xltools", *parts])] = path
    return modules


def test_the_architecture_test_sees_violations(tmp_path):
    modules = _fake_package(tmp_path, {
        "__init__.py": "",
        "core/__init__.py": "", "core/a.py": "import openpyxl\nfrom ..io import b\n",
        "io/__init__.py": "", "io/b.py": "import click\n",
        "verbs/__init__.py": "", "verbs/one.py": "from . import two\n", "verbs/two.py": "from .one import x\n",
    })
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "xltools"
    try:
        found = problems_of(modules)
    finally:
        PACKAGE = saved
    assert "core module xltools.core.a imports ['openpyxl']" in found
    assert "xltools.core.a (core) imports xltools.io.b (io)" in found
    assert "xltools.io.b imports click" in found
    assert "verb xltools.verbs.one imports verb xltools.verbs.two" in found
    assert any(p.startswith("import cycle: xltools.verbs.one -> xltools.verbs.two") for p in found)
