"""Layers import downward only: core <- file I/O <- Excel front end and CLI."""
from __future__ import annotations

import ast
from pathlib import Path

import xltools

PACKAGE = Path(xltools.__file__).parent
IO_MODULES = {"xltools.commune", "xltools.demo", "xltools.xlsm", "xltools.doctor"}
FILE_LIBRARIES = {"openpyxl", "xlsxwriter", "python_calamine", "msoffcrypto", "defusedxml", "olefile", "pyopenvba"}
UPPER = {"xltools.io", "xltools.verbs", "xltools.cli", "xltools.excel", *IO_MODULES}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, name: str | None = None) -> set[str]:
    name = name or _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
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


def _layer(name: str) -> str:
    if name in ("xltools.cli", "xltools.__main__"):
        return "cli"
    if name == "xltools.excel" or name.startswith("xltools.excel."):
        return "excel"
    if name.startswith(("xltools.io", "xltools.verbs")) or name in IO_MODULES:
        return "io"
    return "core"


def _hits(imports: set[str], forbidden: set[str]) -> set[str]:
    return {i for i in imports for f in forbidden if i == f or i.startswith(f + ".")}


def test_layers_import_downward_only():
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        layer = _layer(name)
        imports = _imports(path)
        if name == "xltools":  # the lazy public API names every verb, imports none at load
            continue
        if layer != "cli" and _hits(imports, {"click"}):
            problems.append(f"{name} imports click")
        if layer != "excel" and _hits(imports, {"xlwings"}):
            problems.append(f"{name} imports xlwings")
        if layer == "core":
            bad = _hits(imports, FILE_LIBRARIES | UPPER)
            if bad:
                problems.append(f"core module {name} imports {sorted(bad)}")
    assert problems == []


def test_the_architecture_test_sees_violations(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import openpyxl\nfrom .io import reader\n", encoding="utf-8")
    imports = _imports(probe, "xltools.probe")
    assert _hits(imports, FILE_LIBRARIES | UPPER) == {"openpyxl", "xltools.io", "xltools.io.reader"}
