"""The tests' own rules: no test module imports another (shared helpers live in conftest.py), and
tests use the package's public names only (a private function is tested through the public one)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def modules() -> list[tuple[str, ast.Module]]:
    return [(f.name, ast.parse(f.read_text(encoding="utf-8"), str(f))) for f in sorted(TESTS.glob("*.py"))]


@pytest.mark.slow
def test_no_test_module_imports_another():
    found = []
    for name, tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").lstrip(".").startswith("test_"):
                found.append(f"{name}:{node.lineno}: from {node.module}")
            elif isinstance(node, ast.Import):
                found += [f"{name}:{node.lineno}: import {a.name}" for a in node.names if a.name.startswith("test_")]
    assert not found, "move shared helpers into tests/conftest.py:\n" + "\n".join(found)


def test_tests_use_public_names_of_the_package_only():
    found = []
    for name, tree in modules():
        package_names: set[str] = set()  # names bound to xltools modules or objects in this file
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("xltools"):
                for alias in node.names:
                    if alias.name.startswith("_"):
                        found.append(f"{name}:{node.lineno}: from {node.module} import {alias.name}")
                    package_names.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("xltools"):
                        package_names.add(alias.asname or alias.name.split(".")[0])
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in package_names
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                found.append(f"{name}:{node.lineno}: {node.value.id}.{node.attr}")
    assert not found, "test these through the public function:\n" + "\n".join(found)
