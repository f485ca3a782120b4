"""Shared fixtures: workbooks are built in code, each test changes one thing."""
from __future__ import annotations

import copy
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from xltools.core.definitions import get_definitions
from xltools.verbs.new import new, sample_commune


@pytest.fixture(scope="session")
def defs():
    return get_definitions()


@pytest.fixture(scope="session")
def _sample():
    return sample_commune()


@pytest.fixture
def sample(_sample) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """Settings and tables of the built-in sample commune (a fresh copy per test)."""
    settings, tables = _sample
    return copy.deepcopy(settings), {k: v.copy() for k, v in tables.items()}


@pytest.fixture
def make_commune(tmp_path, sample) -> Callable[..., Path]:
    """Build a commune workbook from the sample, changed by the arguments.

    make_commune()                                  the sample as it is
    make_commune(villages=df)                       another table
    make_commune(settings={"commune_code": "12345"})  changed settings
    make_commune(edit=lambda tables: ...)           change tables in place
    """
    def factory(name: str = "SoTheoDoi_Test.xlsx", *, settings: dict | None = None,
                edit: Callable[[dict[str, pd.DataFrame]], None] | None = None, **tables: Any) -> Path:
        base_settings, base_tables = copy.deepcopy(sample[0]), {k: v.copy() for k, v in sample[1].items()}
        base_settings.update(settings or {})
        base_tables.update(tables)
        if edit:
            edit(base_tables)
        path = tmp_path / name
        return new(path, base_settings, base_tables, overwrite=True)

    return factory


def soffice_available() -> bool:
    return shutil.which("soffice") is not None


def require_soffice() -> None:
    """Skip without LibreOffice on a developer machine; fail in CI, where it must exist."""
    if not soffice_available():
        if os.environ.get("CI"):
            pytest.fail("LibreOffice (soffice) is required in CI")
        pytest.skip("LibreOffice (soffice) is not installed")


def libreoffice_convert(files: list[Path], to: str, outdir: Path, timeout: int = 180) -> list[Path]:
    """Convert files with LibreOffice headless in one call (own profile, so calls can run in parallel)."""
    require_soffice()
    outdir.mkdir(parents=True, exist_ok=True)
    profile = outdir / ".lo-profile"
    cmd = [
        "soffice", f"-env:UserInstallation={profile.resolve().as_uri()}", "--headless", "--norestore",
        "--convert-to", to, "--outdir", str(outdir), *map(str, files),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=timeout)
    ext = to.split(":")[0]
    out = [outdir / (Path(f).stem + "." + ext) for f in files]
    missing = [p for p in out if not p.exists()]
    assert not missing, f"LibreOffice did not produce {missing}"
    return out


class DefinitionsCopy:
    """A copy of workbook/ in the test's folder, in use through XLTOOLS_DEFINITIONS: a province's
    own definitions. ``replace`` fails when the text to change is not there, so the test cannot
    silently run on unchanged definitions."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __fspath__(self) -> str:
        return str(self.folder)

    def __truediv__(self, name: str) -> Path:
        return self.folder / name

    def replace(self, file: str, old: str, new: str) -> Path:
        path = self.folder / file
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {file}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        return path

    def append(self, file: str, text: str) -> Path:
        path = self.folder / file
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text)
        return path

    def add_indicator(self, key: str = "school_talks", short: str = "Nói chuyện ở trường",
                      label: str = "Số buổi nói chuyện ở trường học") -> None:
        self.append("indicators.toml", f'\n[[indicator]]\nkey = "{key}"\nlabel = "{label}"\nshort = "{short}"\n'
                                       'unit = "buổi"\ntype = "int"\nagg = "sum"\nhelp = "Trong tháng."\n')


@pytest.fixture
def own_definitions(tmp_path, monkeypatch) -> DefinitionsCopy:
    """A copy of workbook/ to edit, used by every get_definitions() of the test."""
    folder = tmp_path / "defs"
    shutil.copytree(get_definitions().folder, folder)
    monkeypatch.setenv("XLTOOLS_DEFINITIONS", str(folder))
    return DefinitionsCopy(folder)
