"""Read a commune workbook into DataFrames keyed by column key (python-calamine).

One pass per sheet: calamine returns the whole grid, headers are located and
matched loosely (NFC, case, spaces, moved columns, extra columns), blank rows are
dropped, every record keeps its Excel row number, and values are typed centrally
by ``frames``. Meaning-breaking damage (a missing sheet or required column) is an
error in strict mode, and a structure problem for validation otherwise.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import python_calamine as pc

from .. import __version__
from ..core.book import CommuneBook, StructureProblem, TableRange
from ..core.definitions import Definitions, Sheet, get_definitions
from ..core.errors import WorkbookError
from ..core.frames import CellProblem, build_frame, column_letter, empty_frame, restore_lost_zeros
from ..core.settings import resolve
from ..core.text import clean, header_key, is_blank
from ..core.validation.structure import refuse_newer
from .files import damaged_error, sha256_file, workbook_problem
from .safety import ENCRYPTION_MARK, GRID_KEYS, LIMIT_KEYS, OLE_MAGIC, open_zip, read_bytes, required_limits

HEADER_SCAN_ROWS = 10
OUTDATED = "upgrade_missing_column"  # StructureProblem key of a missing indicator column (book.outdated)


def check_file(path: Path, defs: Definitions | None = None) -> None:
    """Refuse what is not an OOXML workbook, with the reason (not found, encrypted, not xlsx),
    and a workbook over the limits of workbook.toml [limits] (``check_limits``)."""
    if not path.is_file():
        raise WorkbookError("not_found", file=str(path))
    with open(path, "rb") as fh:
        head = fh.read(8)
        if head == OLE_MAGIC:
            fh.seek(0)
            if ENCRYPTION_MARK in fh.read(4 << 20):
                raise WorkbookError("encrypted", file=path.name)
    problem = workbook_problem(path)  # .xls, .ods, a CSV renamed, truncated: the same line for every verb
    if problem:
        raise WorkbookError(problem, file=path.name, reason="no readable zip directory or xl/workbook.xml")
    check_limits(path, defs or get_definitions())
    if path.suffix.lower() == ".xlsm":  # its buttons' VBA against the installed xlwings: one warning line
        from .vba_refresh import warn_vba_mismatch

        warn_vba_mismatch(path)


def workbook_limits(defs: Definitions) -> dict[str, Any]:
    """The commune workbook's limits, workbook.toml [limits] (DefinitionsError when one is missing)."""
    return required_limits(defs.extra("workbook").get("limits"), (*LIMIT_KEYS, *GRID_KEYS),
                           defs.folder / "workbook.toml", "limits")


def check_limits(path: Path, defs: Definitions) -> None:
    """The safety checks of a received file, with the commune workbook's limits: size, inflated
    size, members, compression ratio, a DTD in any part, the reach and number of each sheet's
    cells (python-calamine would size a grid from A1 to the farthest value). One streaming pass
    over the file; a refusal is one line naming the file, the sheet and the cell."""
    limits = workbook_limits(defs)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, str(defs.folder))
    if key in _CHECKED:  # the same file, unchanged since it passed (a verb reads, then edits it)
        return
    data = read_bytes(path, limits)
    open_zip(data, path.name, limits).close()
    _CHECKED.clear()  # only the last one: a write changes mtime and size anyway
    _CHECKED.add(key)


_CHECKED: set[tuple[str, int, int, str]] = set()


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
    best_row = -1
    best: dict[str, int] = {}
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
    defs: Definitions, sheet: Sheet, grid: list[list[Any]], file_label: str, strict: bool,
    others: Sequence[TableRange] = (),
) -> tuple[pd.DataFrame, dict[str, str], int, list[CellProblem], list[StructureProblem]]:
    """Read one table from a sheet's grid (first cell = A1).

    Every non-blank row below the header is a row of the table, also below the end of the
    Excel Table (typed there by hand, or by an application that does not grow tables),
    except rows inside another Excel Table of the sheet (``others``).
    """
    structure: list[StructureProblem] = []
    header_row, positions = _locate_header(grid, sheet)
    if header_row < 0:
        err = WorkbookError("missing_header_row", file=file_label, sheet=sheet.name, table=sheet.table)
        if strict:
            raise err
        structure.append(StructureProblem(sheet.name, None, err.key, err.vi))
        return empty_frame(sheet), {}, 0, [], structure
    for col in sheet.readable_columns:
        if col.key not in positions and col.indicator:
            # an indicator added to the definitions after the workbook was built: "not reported"
            # (empty) in every row until `xltools upgrade` adds the column; never an error
            err = WorkbookError(OUTDATED, file=file_label, sheet=sheet.name, header=col.header)
            structure.append(StructureProblem(sheet.name, col.header, err.key, err.vi))
        elif col.key not in positions and col.required:
            err = WorkbookError("missing_column", file=file_label, sheet=sheet.name, header=col.header)
            if strict:
                raise err
            structure.append(StructureProblem(sheet.name, col.header, err.key, err.vi))
    letters = {k: column_letter(c) for k, c in positions.items()}
    rows: list[dict[str, Any]] = []
    numbers: list[int] = []
    items = list(positions.items())
    columns = {c + 1 for c in positions.values()}
    for r in range(header_row + 1, len(grid)):
        if others and any(t.covers(r + 1, columns) for t in others):
            continue
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
    tables: dict[str, list[TableRange]] | None = None,
) -> CommuneBook:
    """A CommuneBook from sheet grids by sheet key (first cell = A1; None: the sheet is missing).

    The one place that turns grids into tables and settings, for the file reader and for the
    Excel front end, which reads the open book's sheets itself. ``tables`` (by sheet key) are
    the Excel Tables found on each sheet: the sheet's own table tells where the table ends,
    the others' rows are not rows of it.
    """
    book = CommuneBook(Path(path or label), defs, {}, {}, {}, {}, {}, {}, sha256=sha256)
    for sheet in defs.table_sheets:
        if sheet.key not in grids:
            continue
        grid = grids[sheet.key]
        if grid is None and sheet.optional:  # a table added after the workbook was made: empty until upgraded
            book.tables[sheet.key] = empty_frame(sheet)
            continue
        if grid is None:
            err = WorkbookError("missing_sheet", file=label, sheet=sheet.name, major=defs.major)
            if strict:
                raise err
            book.structure.append(StructureProblem(sheet.name, None, err.key, err.vi))
            book.tables[sheet.key] = empty_frame(sheet)
            continue
        found = (tables or {}).get(sheet.key, [])
        own = own_table(found, sheet.table)
        others = [t for t in found if t is not own]
        frame, letters, header, problems, structure = read_grid_table(defs, sheet, grid, label, strict, others)
        if header:
            book.formula_letters[sheet.key] = formula_columns(sheet, grid[header - 1])
        if own is not None:
            book.table_ends[sheet.key] = own.last_row
        book.tables[sheet.key] = frame
        book.letters[sheet.key] = letters
        book.header_rows[sheet.key] = header
        book.problems.extend(problems)
        book.structure.extend(p for p in structure if p.key != OUTDATED)
        book.outdated.extend(p for p in structure if p.key == OUTDATED)
    book.problems.extend(restore_lost_zeros(defs, book.tables, book.letters))  # 1 typed for "01"
    settings = book.tables.get("settings")
    if settings is not None and len(settings):
        for key, value, row in zip(settings["key"], settings["value"], settings["_row"]):
            if key:
                book.raw_settings[str(key)] = clean(value) if isinstance(value, str) else value
                book.settings_rows[str(key)] = int(row)
    # made by a newer toolkit: refused here, before any verb (or button) computes a change
    refuse_newer(book.raw_settings.get("template_version"), defs.version, label, __version__)
    known = {s.key for s in defs.settings}
    book.settings = resolve(defs, {k: v for k, v in book.raw_settings.items() if k in known}, strict=False)
    return book


def read_sheet_rows(path: str | Path, sheet_name: str) -> list[list[Any]]:
    """The values of one sheet (matched by name as the definitions match it), or [] without it."""
    path = Path(path)
    check_file(path)
    try:
        wb = pc.CalamineWorkbook.from_path(str(path))
    except Exception:  # noqa: BLE001 - unreadable here means the verb's own read already said why
        return []
    try:
        actual = _match_sheet(list(wb.sheet_names), sheet_name)
        return wb.get_sheet_by_name(actual).to_python(skip_empty_area=False) if actual else []
    except Exception:  # noqa: BLE001
        return []
    finally:
        wb.close()


def formula_columns(sheet: Sheet, header_row: list[Any]) -> dict[str, str]:
    """Column key -> letter of the sheet's formula columns, found by header in the header row."""
    wanted = {header_key(text): col.key for col in sheet.columns if col.type == "formula"
              for text in (col.header, *col.aliases, col.key)}
    found: dict[str, str] = {}
    for c, value in enumerate(header_row):
        key = wanted.get(header_key(value))
        if key and key not in found:
            found[key] = column_letter(c)
    return found


def own_table(found: list[TableRange], name: str | None) -> TableRange | None:
    """The sheet's own Excel Table: by its name, else the sheet's only one (renamed by hand)."""
    for t in found:
        if t.name == name:
            return t
    return found[0] if len(found) == 1 else None


def _calamine_tables(wb: Any) -> dict[str, list[TableRange]]:
    """Excel Tables by sheet name, from calamine (opened with ``load_tables``)."""
    out: dict[str, list[TableRange]] = {}
    for name in wb.table_names:
        t = wb.get_table_by_name(name)
        (r0, c0), (r1, c1) = t.start, t.end
        # calamine gives the data body (0-based); the header is the row above it
        out.setdefault(t.sheet, []).append(TableRange(name, r0, r1 + 1, c0 + 1, c1 + 1))
    return out


def read_workbook(
    path: str | Path, defs: Definitions | None = None, *, strict: bool = True, sheets: list[str] | None = None
) -> CommuneBook:
    """Load every table of a commune workbook (or only ``sheets``, by sheet key)."""
    path = Path(path)
    defs = defs or get_definitions()
    check_file(path, defs)
    try:
        wb = pc.CalamineWorkbook.from_path(str(path), load_tables=True)
    except pc.PasswordError:
        raise WorkbookError("encrypted", file=path.name) from None
    except Exception as exc:  # calamine's zip/xml errors: a damaged file
        raise damaged_error(path, exc) from None
    names = list(wb.sheet_names)
    grids: dict[str, list[list[Any]] | None] = {}
    try:
        by_name = _calamine_tables(wb)
    except Exception:  # noqa: BLE001 - a damaged table part: read the rows without table bounds
        by_name = {}
    found_tables: dict[str, list[TableRange]] = {}
    try:
        for sheet in defs.table_sheets:
            if sheets is not None and sheet.key not in sheets and sheet.key != "settings":
                continue
            actual = _match_sheet(names, sheet.name)
            if actual is None:
                if strict and not sheet.optional:
                    raise WorkbookError("missing_sheet", file=path.name, sheet=sheet.name, major=defs.major)
                grids[sheet.key] = None
                continue
            try:
                grids[sheet.key] = wb.get_sheet_by_name(actual).to_python(skip_empty_area=False)
                found_tables[sheet.key] = by_name.get(actual, [])
            except Exception as exc:
                raise damaged_error(path, exc, sheet=actual) from None
    finally:
        wb.close()
    return book_from_grids(grids, defs, path.name, path=path, strict=strict, sha256=sha256_file(path),
                           tables=found_tables)
