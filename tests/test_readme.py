"""The README's tables are the toolkit's own output, so they cannot drift from the definitions.

- the rule catalogue is exactly ``xltools validate --list-rules``;
- the indicator table is exactly the indicator table of ``xltools schema``;
- the sheet table lists the sheets and tables of ``xltools schema``, in order (its third column
  is prose).

After changing the definitions, regenerate the two exact tables with ``python tests/test_readme.py``.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from click.testing import CliRunner

from xltools.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"
REGENERATE = "python tests/test_readme.py"


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def tables(text: str) -> list[list[str]]:
    """Every Markdown table of ``text``: its lines, header first."""
    out: list[list[str]] = []
    current: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            out.append(current)
            current = []
    return out


def table_with_header(text: str, header: str) -> list[str]:
    found = [t for t in tables(text) if t[0] == header]
    assert len(found) == 1, f"{len(found)} tables headed {header!r}"
    return found[0]


def rule_table() -> list[str]:
    (table,) = tables(cli("validate", "--list-rules"))
    return table


def indicator_table() -> list[str]:
    schema = cli("schema")
    section = schema[schema.index("## Indicators"):]
    return tables(section)[0]


def exact_tables() -> list[list[str]]:
    return [rule_table(), indicator_table()]


def cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def test_the_rule_catalogue_is_the_output_of_list_rules():
    expected = rule_table()
    assert len(expected) > 10  # the header, the rule line and a row per rule
    in_readme = table_with_header(README.read_text(encoding="utf-8"), expected[0])
    assert in_readme == expected, f"README's rule catalogue differs from `xltools validate --list-rules`: {REGENERATE}"


def test_the_indicator_table_is_the_output_of_schema(defs):
    expected = indicator_table()
    assert [cells(line)[0] for line in expected[2:]] == [f"`{i.key}`" for i in defs.indicators]
    in_readme = table_with_header(README.read_text(encoding="utf-8"), expected[0])
    assert in_readme == expected, f"README's indicator table differs from `xltools schema`: {REGENERATE}"


def test_the_sheet_table_names_the_sheets_and_tables_of_schema(defs):
    schema = tables(cli("schema"))[0]
    assert cells(schema[0])[:2] == ["sheet", "table"]
    expected = [cells(line)[:2] for line in schema[2:]]
    assert [name for name, _ in expected] == [s.name for s in defs.sheets]
    readme = table_with_header(README.read_text(encoding="utf-8"), "| sheet | table | content |")
    assert [cells(line)[:2] for line in readme[2:]] == expected, "README's sheet table differs from `xltools schema`"


def regenerate(readme: Path = README) -> bool:
    """Replace the README's exact tables by the toolkit's output; True when something changed."""
    text = readme.read_text(encoding="utf-8")
    lines = text.split("\n")
    for table in exact_tables():
        start = lines.index(table[0])  # a table whose header changed: fix the header by hand first
        end = start
        while end < len(lines) and lines[end].startswith("|"):
            end += 1
        lines[start:end] = table
    new = "\n".join(lines)
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    sys.exit(print("README.md regenerated" if regenerate() else "README.md is up to date"))


def test_the_windows_guide_runs_every_command_through_python_m():
    """A per-user pip install leaves xltools.exe off PATH: the guide says `python -m xltools …`."""
    guide = (Path(__file__).resolve().parents[1] / "docs" / "windows-setup.md").read_text(encoding="utf-8")
    commands = re.findall(r"(\S*)\s*\bxltools (?:new|doctor|validate|forms|import|aggregate|export|rollup|"
                          r"shortcuts|upgrade|demo|--version)\b", guide)
    assert commands and all(before.endswith("-m") for before in commands), commands
