"""The offline installer (xltools bundle): Windows wheels only, closed over Windows-only
dependencies, and installable with no index into a fresh virtual environment."""
from __future__ import annotations

import os
import subprocess
import venv
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from packaging.utils import parse_wheel_filename

from xltools.bundle import (
    DEFAULT_PYTHONS,
    HERE,
    PIP_LINE,
    Target,
    build_bundle,
    install_script,
    missing_requirements,
    pip_command,
    wheels_for,
)
from xltools.cli import main

XLWINGS_REQUIRES = ['psutil>=2.0.0; platform_system == "Darwin"', 'pywin32>=224; platform_system == "Windows"',
                    'Jinja2; extra == "reports"']


def test_windows_only_dependencies_are_found_although_pip_runs_on_linux():
    have = {"xlwings": ("0.37.8", XLWINGS_REQUIRES)}
    windows = Target("3.11", "win_amd64")
    assert missing_requirements(["xlwings==0.37.8"], have, windows) == ["pywin32>=224"]
    assert missing_requirements(["xlwings==0.37.8"], {**have, "pywin32": ("311", [])}, windows) == []
    # markers on the Python version are those of the target, not of the Python running pip
    assert missing_requirements(['tomli>=2.0; python_version < "3.11"'], {}, Target("3.10", "win_amd64")) == \
        ["tomli>=2.0"]
    assert missing_requirements(['tomli>=2.0; python_version < "3.11"'], {}, windows) == []
    # a wheel of the wrong version does not satisfy its requirement
    assert missing_requirements(["click>=8.1"], {"click": ("7.0", [])}, windows) == ["click>=8.1"]


def test_install_cmd_runs_pip_offline_then_installs_the_add_in():
    script = install_script()
    lines = script.split("\r\n")
    assert "\n" not in script.replace("\r\n", "")  # cmd.exe reads CRLF lines
    assert PIP_LINE in lines and "--no-index" in PIP_LINE and '"%~dp0wheels"' in PIP_LINE
    assert lines.index(PIP_LINE) < lines.index("%PY% -m xltools addin install")
    assert lines[1] == "chcp 65001 >nul"  # the Vietnamese lines are UTF-8
    assert pip_command("py", Path("B")) == ["py", "-m", "pip", "install", "--no-index", "--find-links",
                                            str(Path("B") / "wheels"), "xltools"]


@pytest.mark.slow
def test_every_dependency_has_a_windows_wheel_for_every_supported_python(tmp_path):
    made = build_bundle(tmp_path, DEFAULT_PYTHONS)
    assert made.name.startswith("xltools-windows-") and made.suffix == ".zip"
    with zipfile.ZipFile(made) as zf:
        names = zf.namelist()
        zf.extractall(tmp_path / "x")
    top = tmp_path / "x" / made.stem
    assert {"install.cmd", "windows-setup.md"} <= {n.rsplit("/", 1)[-1] for n in names}
    files = sorted((top / "wheels").iterdir())
    assert files and all(f.suffix == ".whl" for f in files)  # nothing to build from source
    for python in DEFAULT_PYTHONS:
        have = wheels_for(top / "wheels", Target(python, "win_amd64"))
        assert {"xltools", "xlwings", "pywin32", "pandas", "numpy", "openpyxl", "python-calamine"} <= set(have), python
        assert have["xlwings"][0] == ("0.37.0" if python == "3.10" else "0.37.8")
    assert "tomli" in wheels_for(top / "wheels", Target("3.10", "win_amd64"))  # TOML before 3.11
    compiled = [parse_wheel_filename(f.name)[3] for f in files if "win_amd64" in f.name]
    assert compiled and not any("linux" in f.name or "macosx" in f.name for f in files)
    assert all(any(t.platform == "win_amd64" for t in tags) for tags in compiled)


@pytest.mark.slow
def test_the_bundle_for_this_machine_installs_with_no_index_into_a_fresh_venv(tmp_path):
    """The same mechanism as on Windows, here: install.cmd's pip arguments, no index, no pip config."""
    result = CliRunner().invoke(main, ["bundle", "-o", str(tmp_path), "--platform", HERE])
    assert result.exit_code == 0, result.output
    made = next(tmp_path.glob("xltools-here-*.zip"))
    assert "MB" in result.output and made.name in result.output
    with zipfile.ZipFile(made) as zf:
        zf.extractall(tmp_path / "x")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    offline = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": ""}
    done = subprocess.run(pip_command(python, tmp_path / "x" / made.stem), env=offline, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    version = subprocess.run([str(python), "-m", "xltools", "--version"], capture_output=True, text=True,
                             timeout=120, cwd=tmp_path)
    assert version.returncode == 0 and "xltools" in version.stdout
    # the README's main job, with every dependency it needs, from what the bundle installed
    out = subprocess.run([str(python), "-m", "xltools", "demo", "demo"], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert list((tmp_path / "demo").rglob("BC138_*.xlsx"))


def test_the_bundle_starts_at_the_oldest_python_the_package_supports():
    setup = (Path(__file__).resolve().parents[1] / "setup.cfg").read_text(encoding="utf-8")
    minimum = setup.split("python_requires = >=", 1)[1].split()[0]
    assert DEFAULT_PYTHONS[0] == minimum
    assert list(DEFAULT_PYTHONS) == sorted(DEFAULT_PYTHONS, key=lambda v: tuple(map(int, v.split("."))))
