"""The message catalogue (workbook/messages.toml): every key the code names exists, every key is used.

Keys are used as ``messages.text("key")``, as the first argument of an
``XltoolsError`` subclass or a ``ValueProblem`` (whose reason is a key), or built from a prefix in
an f-string (``f"doctor_{key}_{status}"``); definition files name keys as plain strings.
"""
from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import sys
from pathlib import Path

import pytest

import xltools
from xltools.core import messages
from xltools.core.errors import InputError, XltoolsError

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
KEY = re.compile(r"[a-z][a-z0-9_]*")


def code_files() -> list[Path]:
    return sorted((ROOT / "xltools").rglob("*.py"))


def trees() -> list[tuple[Path, ast.AST]]:
    return [(f, ast.parse(f.read_text(encoding="utf-8"), str(f))) for f in code_files()]


def error_classes() -> set[str]:
    """Names of every XltoolsError subclass of the package (each takes a catalogue key first)."""
    for info in pkgutil.walk_packages(xltools.__path__, "xltools."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    found, todo = set(), [XltoolsError]
    while todo:
        cls = todo.pop()
        found.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return found | {"ValueProblem"}


def called_name(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def named_keys() -> list[tuple[str, int, str]]:
    """(file, line, key) of every literal key passed to text() or an error class."""
    takes_key = {"text"} | error_classes()
    out = []
    for path, tree in trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and called_name(node) in takes_key and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str) and KEY.fullmatch(first.value):
                    out.append((path.relative_to(ROOT).as_posix(), node.lineno, first.value))
    return out


def used_strings() -> tuple[set[str], list[re.Pattern[str]]]:
    """Every string of the code and of the definitions, and the f-strings as patterns."""
    strings: set[str] = set()
    patterns: list[re.Pattern[str]] = []
    for _, tree in trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                strings.add(node.value)
            elif (isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant)
                  and len(str(node.values[0].value)) >= 3):  # a real prefix, not "{x}_{y}"
                patterns.append(re.compile("".join(
                    re.escape(str(v.value)) if isinstance(v, ast.Constant) else "[a-z0-9_]+" for v in node.values)))

    def walk(value: object) -> None:
        if isinstance(value, str):
            strings.add(value)
        elif isinstance(value, dict):
            strings.update(map(str, value))
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for toml in (ROOT / "workbook").glob("*.toml"):
        if toml.name != "messages.toml":
            walk(tomllib.loads(toml.read_text(encoding="utf-8")))
    for bas in (ROOT / "macros").glob("*.bas"):
        strings.update(re.findall(r'"([a-z][a-z0-9_]*)"', bas.read_text(encoding="utf-8", errors="replace")))
    return strings, patterns


def test_every_key_the_code_names_is_in_the_catalogue():
    keys = named_keys()
    assert len(keys) > 100  # the scan finds the calls
    missing = [f"{file}:{line}: {key}" for file, line, key in keys if key not in messages.catalogue()]
    assert not missing, "keys missing from workbook/messages.toml:\n" + "\n".join(missing)


def test_every_catalogue_key_is_used_by_the_code_or_the_definitions():
    strings, patterns = used_strings()
    assert any(p.pattern.startswith("doctor_") for p in patterns)  # the prefix patterns are found
    unused = [k for k in messages.catalogue() if k not in strings and not any(p.fullmatch(k) for p in patterns)]
    assert not unused, "messages.toml keys no code or definition uses (delete them): " + ", ".join(unused)


def test_every_entry_has_vietnamese_and_english():
    bad = [k for k, v in messages.catalogue().items() if not (isinstance(v, dict) and v.get("vi") and v.get("en"))]
    assert not bad


def test_an_unknown_key_raises_in_the_tests_and_shows_the_key_to_a_user(monkeypatch):
    with pytest.raises(KeyError, match="no_such_message"):
        messages.text("no_such_message")
    with pytest.raises(KeyError, match="no_such_message"):
        InputError("no_such_message", file="x.xlsx")
    monkeypatch.delenv("XLTOOLS_STRICT_MESSAGES")
    assert messages.text("no_such_message") == "no_such_message"  # never a traceback for a user
    assert messages.text("not_found", file="a.xlsx") == "Không tìm thấy tệp a.xlsx."
