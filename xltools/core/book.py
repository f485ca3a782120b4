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


@dataclass(frozen=True)
class StructureProblem:
    """A sheet or column that is missing (``column`` is None for a whole sheet)."""

    sheet: str
    column: str | None
    key: str  # message-catalogue key: missing_sheet | missing_column | missing_header_row
    message: str


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

    def table(self, key: str) -> pd.DataFrame:
        return self.tables[key]

    def chosen_period(self, period: str | None = None) -> str:
        """``period``, else the workbook's current period (Cấu hình); InputError when neither is set."""
        chosen = period or self.settings.get("current_period")
        if not chosen:
            raise InputError("aggregate_no_period")
        return str(chosen)

    def cell(self, sheet_key: str, column_key: str, row: int) -> str:
        """The A1 address of a column's cell in an Excel row ('' if the column is missing)."""
        letter = self.letters.get(sheet_key, {}).get(column_key)
        return f"{letter}{row}" if letter else ""
