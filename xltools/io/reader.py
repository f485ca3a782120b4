"""Read a commune workbook into DataFrames keyed by column key (python-calamine).

One pass per sheet: calamine returns the whole grid, headers are located and
matched loosely (NFC, case, spaces, moved columns, extra columns), blank rows are
dropped, every record keeps its Excel row number, and values are typed centrally
by ``frames``. Meaning-breaking damage (a missing sheet or required column) is an
error in strict mode, and a structure problem for validation otherwise.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import python_calamine as pc

from ..core.book import CommuneBook, StructureProblem
from ..core.definitions import Definitions, Sheet, get_definitions
from ..core.errors import WorkbookError
from ..core.frames import CellProblem, build_frame, column_letter, empty_frame
from ..core.settings import resolve
from ..core.text import clean, header_key, is_blank
from .files import sha256_file
from .safety import ENCRYPTION_MARK, OLE_MAGIC

HEADER_SCAN_ROWS = 10


def check_file(path: Path) -> None:
    """Refuse what is not an OOXML workbook, with the reason (not found, encrypted, not xlsx)."""
    if not path.is_file():
        raise WorkbookError("not_found", file=str(path))
    with open(path, "rb") as fh:
        head = fh.read(8)
        if head == OLE_MAGIC:
            fh.seek(0)
            if ENCRYPTION_MARK in fh.read(4 << 20):
                raise WorkbookError("encrypted", file=path.name)
            raise WorkbookError("not_xlsx", file=path.name)
    if not zipfile.is_zipfile(path):
        raise WorkbookError("not_xlsx", file=path.name)


def _match_sheet(names: list[str], wanted: str) -> str | None:
    key = header_key(wanted)
    for name in names:
        if header_key(name) == key:
            return name
    return None


def _locate_header(grid: list[list[Any]], sheet: Sheet) -> tuple[int, dict[str, int]]:
    """Index of the header row in ``grid`` and column key -> grid column index."""
    wanted: dict[str, str] = {}
    for col in sheet.readable_columns:
        for text in (col.header, *col.aliases, col.key):
            wanted.setdefault(header_key(text), col.key)
    best_row, best = -1, {}
    for r, row in enumerate(grid[:HEADER_SCAN_ROWS]):
        found: dict[str, int] = {}
        for c, value in enumerate(row):
            k = wanted.get(header_key(value))
            if k and k not in found:
                found[k] = c
        if len(found) > len(best):
            best_row, best = r, found
    return best_row, best


def read_grid_table(
    defs: Definitions, sheet: Sheet, grid: list[list[Any]], file_label: str, strict: bool
) -> tuple[pd.DataFrame, dict[str, str], int, list[CellProblem], list[StructureProblem]]:
    """Read one table from a sheet's grid (first cell = A1)."""
    structure: list[StructureProblem] = []
    header_row, positions = _locate_header(grid, sheet)
    if header_row < 0:
        err = WorkbookError("missing_header_row", file=file_label, sheet=sheet.name, table=sheet.table)
        if strict:
            raise err
        structure.append(StructureProblem(sheet.name, None, err.key, err.vi))
        return empty_frame(sheet), {}, 0, [], structure
    for col in sheet.readable_columns:
        if col.key not in positions and col.required:
            err = WorkbookError("missing_column", file=file_label, sheet=sheet.name, header=col.header)
            if strict:
                raise err
            structure.append(StructureProblem(sheet.name, col.header, err.key, err.vi))
    letters = {k: column_letter(c) for k, c in positions.items()}
    rows: list[dict[str, Any]] = []
    numbers: list[int] = []
    items = list(positions.items())
    for r in range(header_row + 1, len(grid)):
        line = grid[r]
        record = {k: (line[c] if c < len(line) else None) for k, c in items}
        if all(is_blank(v) for v in record.values()):
            continue
        rows.append(record)
        numbers.append(r + 1)
    frame, problems = build_frame(defs, sheet, rows, numbers, letters)
    return frame, letters, header_row + 1, problems, structure


def book_from_grids(
    grids: dict[str, list[list[Any]] | None], defs: Definitions, label: str, *,
    path: str | Path | None = None, strict: bool = False, sha256: str = "",
) -> CommuneBook:
    """A CommuneBook from sheet grids by sheet key (first cell = A1; None: the sheet is missing).

    The one place that turns grids into tables and settings, for the file reader and for the
    Excel front end, which reads the open book's sheets itself.
    """
    book = CommuneBook(Path(path or label), defs, {}, {}, {}, {}, {}, {}, sha256=sha256)
    for sheet in defs.table_sheets:
        if sheet.key not in grids:
            continue
        grid = grids[sheet.key]
        if grid is None:
            err = WorkbookError("missing_sheet", file=label, sheet=sheet.name, major=defs.major)
            if strict:
                raise err
            book.structure.append(StructureProblem(sheet.name, None, err.key, err.vi))
            book.tables[sheet.key] = empty_frame(sheet)
            continue
        frame, letters, header, problems, structure = read_grid_table(defs, sheet, grid, label, strict)
        book.tables[sheet.key] = frame
        book.letters[sheet.key] = letters
        book.header_rows[sheet.key] = header
        book.problems.extend(problems)
        book.structure.extend(structure)
    settings = book.tables.get("settings")
    if settings is not None and len(settings):
        for key, value, row in zip(settings["key"], settings["value"], settings["_row"]):
            if key:
                book.raw_settings[str(key)] = clean(value) if isinstance(value, str) else value
                book.settings_rows[str(key)] = int(row)
    known = {s.key for s in defs.settings}
    book.settings = resolve(defs, {k: v for k, v in book.raw_settings.items() if k in known}, strict=False)
    return book


def read_workbook(
    path: str | Path, defs: Definitions | None = None, *, strict: bool = True, sheets: list[str] | None = None
) -> CommuneBook:
    """Load every table of a commune workbook (or only ``sheets``, by sheet key)."""
    path = Path(path)
    defs = defs or get_definitions()
    check_file(path)
    try:
        wb = pc.CalamineWorkbook.from_path(str(path))
    except pc.PasswordError:
        raise WorkbookError("encrypted", file=path.name) from None
    except Exception as exc:  # calamine's zip/xml errors: a damaged file
        raise WorkbookError("unreadable", file=path.name, reason=str(exc) or type(exc).__name__) from None
    names = list(wb.sheet_names)
    grids: dict[str, list[list[Any]] | None] = {}
    try:
        for sheet in defs.table_sheets:
            if sheets is not None and sheet.key not in sheets and sheet.key != "settings":
                continue
            actual = _match_sheet(names, sheet.name)
            if actual is None:
                if strict:
                    raise WorkbookError("missing_sheet", file=path.name, sheet=sheet.name, major=defs.major)
                grids[sheet.key] = None
                continue
            try:
                grids[sheet.key] = wb.get_sheet_by_name(actual).to_python(skip_empty_area=False)
            except Exception as exc:
                raise WorkbookError("unreadable", file=path.name, reason=f"{actual}: {exc}") from None
    finally:
        wb.close()
    return book_from_grids(grids, defs, path.name, path=path, strict=strict, sha256=sha256_file(path))
