"""What a commune workbook holds once read: typed tables plus where each value sits.

A plain container of the core layer: the reader (file I/O) fills it, validation
and aggregation (core) consume it without knowing how it was read.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .definitions import Definitions
from .errors import InputError
from .frames import CellProblem
from .periods import Period
from .text import clean


@dataclass(frozen=True)
class StructureProblem:
    """A sheet or column that is missing (``column`` is None for a whole sheet)."""

    sheet: str
    column: str | None
    key: str  # message-catalogue key: missing_sheet | missing_column | missing_header_row
    message: str


@dataclass(frozen=True)
class TableRange:
    """Where an Excel Table (ListObject) sits: Excel rows and 1-based columns, header row included."""

    name: str
    first_row: int
    last_row: int
    first_col: int
    last_col: int

    def covers(self, row: int, cols: set[int]) -> bool:
        return self.first_row <= row <= self.last_row and any(self.first_col <= c <= self.last_col for c in cols)


@dataclass
class CommuneBook:
    """What the reader found in a commune workbook."""

    path: Path
    defs: Definitions
    tables: dict[str, pd.DataFrame]
    letters: dict[str, dict[str, str]]  # sheet key -> column key -> Excel letter
    header_rows: dict[str, int]  # sheet key -> Excel row of the header
    settings: dict[str, Any]
    raw_settings: dict[str, Any]
    settings_rows: dict[str, int]  # setting key -> Excel row in Cấu hình
    problems: list[CellProblem] = field(default_factory=list)
    structure: list[StructureProblem] = field(default_factory=list)
    sha256: str = ""
    # sheet key -> last Excel row of its Excel Table as found (rows typed below it are read as rows
    # of the table; the writers grow the table over them)
    table_ends: dict[str, int] = field(default_factory=dict)
    # sheet key -> formula column key -> Excel letter (the reader does not load formula columns)
    formula_letters: dict[str, dict[str, str]] = field(default_factory=dict)
    # indicator columns added to the definitions after the workbook was built: read as "not
    # reported" (empty) in every row, a warning that says to run the upgrade, never an error
    outdated: list[StructureProblem] = field(default_factory=list)

    def outside_rows(self, key: str) -> list[int]:
        """Excel rows of the table ``key`` that were read below the end of its Excel Table."""
        end = self.table_ends.get(key)
        frame = self.tables.get(key)
        if end is None or frame is None or not len(frame) or "_row" not in frame:
            return []
        return [int(r) for r in frame["_row"] if int(r) > end]

    def table(self, key: str) -> pd.DataFrame:
        return self.tables[key]

    def chosen_period(self, period: str | Period | None = None) -> str:
        """``period``, else the workbook's current period (Cấu hình); InputError when neither is set."""
        chosen = period or self.settings.get("current_period")
        if not chosen:
            raise InputError("aggregate_no_period")
        return str(chosen)

    def folder_setting(self, key: str, base: Path | None = None) -> Path:
        """The folder a setting names (``inbox_dir``, ``outbox_dir``): as written when absolute, else
        beside the workbook (or ``base``); InputError when the setting is empty."""
        value = clean(str(self.settings.get(key) or ""))
        if not value:
            raise InputError("excel_no_folder", label=self.defs.setting(key).label)
        folder = Path(value)
        return folder if folder.is_absolute() else (base or self.path.parent) / folder

    def cell(self, sheet_key: str, column_key: str, row: int) -> str:
        """The A1 address of a column's cell in an Excel row ('' if the column is missing)."""
        letter = self.letters.get(sheet_key, {}).get(column_key)
        return f"{letter}{row}" if letter else ""
