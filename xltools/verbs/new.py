"""The commune workbook as a whole: create it (``new``) and the built-in sample.

The library functions behind ``xltools new`` and the start of ``xltools demo``.
"""
from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..core.definitions import Definitions, get_definitions
from ..core.errors import InputError, WorkbookError, WriteError
from ..core.periods import Period
from ..core.resources import resource_dir
from ..core.sample import make_reports, make_situation
from ..core.settings import resolve
from ..core.text import slug
from ..io.csvfiles import read_csv_table
from ..io.writer import write_workbook
from ..io.xlsm import build_vba_project, conf_values, dashboard_hook

SAMPLE_FILES = {
    "villages": "thon.csv",
    "board": "ban_dieu_hanh.csv",
    "teams": "to_dieu_hanh.csv",
    "milestones": "tien_do.csv",
    "budget": "kinh_phi.csv",
}


def load_settings_file(path: str | Path) -> dict[str, Any]:
    """Settings from a TOML file of ``key = value`` lines (see samples/commune.toml)."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError:
        raise WorkbookError("not_found", file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise WorkbookError("unreadable", file=path.name, reason=str(exc)) from None


def default_file_name(settings: Mapping[str, Any], defs: Definitions | None = None, xlsm: bool = False) -> str:
    defs = defs or get_definitions()
    name = defs.file_name.format(commune_slug=slug(str(settings.get("commune_name") or "Xa")))
    return name[: -len(".xlsx")] + ".xlsm" if xlsm and name.endswith(".xlsx") else name


def new(
    path: str | Path,
    settings: Mapping[str, Any] | None = None,
    tables: Mapping[str, pd.DataFrame | list[dict[str, Any]] | None] | None = None,
    *,
    overwrite: bool = False,
    defs: Definitions | None = None,
    **build_options: Any,
) -> Path:
    """Write a new commune workbook at ``path``.

    ``settings`` fill the Cấu hình sheet (defaults for the rest); ``tables`` give
    rows by sheet key (villages, board, teams, reports …). Milestones and budget
    lines of the plan are preloaded unless given. Refuses an existing file unless
    ``overwrite``, and then keeps a backup of it.
    """
    defs = defs or get_definitions()
    path = Path(path)
    if path.exists() and not overwrite:
        raise WriteError("file_exists", file=str(path))
    resolved = resolve(defs, settings or {})
    data: dict[str, Any] = dict(tables or {})
    data.setdefault("milestones", [dict(m) for m in defs.milestones])
    data.setdefault("budget", [dict(b) for b in defs.budget_lines])
    return write_workbook(path, data, resolved, defs, **build_options)


def load_tables(folder: str | Path, defs: Definitions | None = None, files: Mapping[str, str] = SAMPLE_FILES) -> dict[str, pd.DataFrame]:
    """The CSV tables of a folder laid out like samples/ (missing files are skipped)."""
    folder = Path(folder)
    return {key: read_csv_table(folder / name, key, defs) for key, name in files.items() if (folder / name).exists()}


def sample_commune(
    periods: list[str] | None = None, *, defs: Definitions | None = None, seed: int = 138
) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """Settings and tables of the built-in sample commune with a year of reports."""
    defs = defs or get_definitions()
    folder = resource_dir("samples")
    settings = load_settings_file(folder / "commune.toml")
    tables = load_tables(folder, defs)
    periods = periods or [str(Period.parse(str(settings.get("current_period", "2023-12"))[:4]))]
    teams = tables["teams"]
    leaders = teams[teams["role"] == defs.lists["team_roles"].values[0]]  # the list puts the leader first
    reporters = dict(zip(leaders["village_code"], leaders["name"]))
    tables["reports"] = make_reports(
        tables["villages"], periods, seed=seed, reporters=reporters,
        deadline_day=int(settings.get("form_deadline_day", 18)), defs=defs,
    )
    tables["situation"] = make_situation(periods, seed=seed)
    return settings, tables


def new_from_files(
    path: str | Path | None,
    *,
    settings_file: str | Path | None = None,
    pairs: Sequence[str] = (),
    csv_files: Mapping[str, str | Path | None] | None = None,
    overwrite: bool = False,
    xlsm: bool = False,
    defs: Definitions | None = None,
) -> Path:
    """``xltools new``: settings from a TOML file and ``KEY=VALUE`` pairs, tables from CSV files
    (by sheet key), the macro workbook when asked or when ``path`` ends in .xlsm (an .xlsm
    without its VBA project would not open in Excel). The default name comes from the settings."""
    defs = defs or get_definitions()
    settings = load_settings_file(settings_file) if settings_file else {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise InputError("bad_pair", pair=pair)
        settings[key.strip()] = value.strip()
    tables = {key: read_csv_table(file, key, defs) for key, file in (csv_files or {}).items() if file}
    target = Path(path) if path else Path(default_file_name(settings, defs, xlsm=xlsm))
    if xlsm or target.suffix.lower() == ".xlsm":
        return new_xlsm(target, settings, tables, overwrite=overwrite, defs=defs)
    return new(target, settings, tables, overwrite=overwrite, defs=defs)


def new_xlsm(
    path: str | Path,
    settings: Mapping[str, Any] | None = None,
    tables: Mapping[str, Any] | None = None,
    *,
    overwrite: bool = False,
    defs: Definitions | None = None,
    platform: str | None = None,
) -> Path:
    """Write a new commune workbook with buttons (.xlsm) at ``path``.

    The same workbook as ``commune.new`` plus the VBA project, the dashboard
    buttons and the ``xlwings.conf`` sheet. Refuses a path that does not end in
    ``.xlsm`` and, unless ``overwrite``, an existing file.
    """
    defs = defs or get_definitions()
    path = Path(path)
    if path.suffix.lower() != ".xlsm":
        raise InputError("xlsm_suffix", file=path.name)
    with tempfile.TemporaryDirectory(prefix="xltools-xlsm-") as tmp:
        project = build_vba_project(Path(tmp) / "vbaProject.bin")
        return new(
            path, settings, tables, overwrite=overwrite, defs=defs,
            vba_project=project, on_dashboard=dashboard_hook(defs, conf_values(platform)),
        )
