"""The CLI's start-up imports no heavy library: ``xltools --help`` loads neither pandas nor openpyxl.

Checked in a real subprocess by the modules it has loaded (``sys.modules``), never by a timing.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("pandas", "numpy", "openpyxl", "python_calamine", "xlsxwriter", "xlwings", "docx")

PROBE = """
import json, sys
{body}
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}})))
"""


def loaded(body: str) -> tuple[set[str], str]:
    """The top-level modules a fresh interpreter has loaded after running ``body``, and its stdout."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", PROBE.format(body=body)], capture_output=True, text=True,
                          encoding="utf-8", env=env, cwd=ROOT, check=True)
    *printed, last = done.stdout.strip().splitlines()
    return set(json.loads(last)), "\n".join(printed)


def test_help_imports_nothing_heavy():
    body = (
        "from xltools.cli import main\n"
        "try:\n"
        "    main(['--help'], prog_name='xltools')\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
    )
    modules, printed = loaded(body)
    assert "Usage: xltools" in printed and "rollup" in printed  # the help really ran
    assert "click" in modules
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


def test_command_help_and_version_import_nothing_heavy():
    for argv in (["validate", "--help"], ["rollup", "--help"], ["--version"]):
        body = (
            "from xltools.cli import main\n"
            "try:\n"
            f"    main({argv!r}, prog_name='xltools')\n"
            "except SystemExit as exc:\n"
            "    assert exc.code == 0, exc.code\n"
        )
        modules, printed = loaded(body)
        assert printed, argv
        assert not modules & set(HEAVY), (argv, sorted(modules & set(HEAVY)))


@pytest.mark.slow
def test_import_xltools_is_lazy_and_the_api_still_resolves():
    modules, _ = loaded("import xltools")
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))
    # the public API is still there: touching a verb imports it (and its heavy libraries) on demand
    modules, printed = loaded("import xltools\nprint(xltools.validate.__module__)")
    assert printed == "xltools.verbs.validate"
    assert "pandas" in modules  # proves the probe sees heavy imports when they happen
