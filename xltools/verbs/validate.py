"""``validate``: check a commune workbook and, with ``write``, show the result inside it.

Reads the workbook once (python-calamine, tolerant mode), runs every rule of
``xltools.core.validation`` and returns the ``Report``. With ``write=True`` the core's
``validation_change`` (Kiểm tra with a link to each cell, the previous highlights
cleared and this run's set, the dashboard's status, a Nhật ký row) is applied by the
openpyxl sink in one atomic save (backup in Sao_luu/); the button applies the same
change to the open book.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from ..core.book import CommuneBook
from ..core.change import now
from ..core.definitions import Definitions, get_definitions
from ..core.outputs import validation_change
from ..core.periods import Period
from ..core.validation import Report, validate_book
from ..core.validation.render import highlighted_cells
from ..core.validation.structure import refuse_foreign
from ..io.files import current_user
from ..io.reader import read_sheet_rows, read_workbook
from ..io.sink import apply_change


def validate(
    path: str | Path, period: str | None = None, *, write: bool = False, defs: Definitions | None = None,
    today: dt.date | None = None,
) -> Report:
    """Validate the commune workbook at ``path``; with ``write`` show the result in it.

    Raises WorkbookError (exit 2) when the file cannot be read as a commune
    workbook (not found, not xlsx, encrypted, not ours, another major version).
    Bad data never raises: it is in the report.
    """
    path = Path(path)
    defs = defs or get_definitions()
    chosen = Period.parse(period) if period is not None else None  # a typo fails before the long read
    book = read_workbook(path, defs, strict=False)
    refuse_foreign(book)
    report = validate_book(book, chosen, today=today)
    if write:
        write_report(path, book, report, defs)
    return report


# ---------------------------------------------------------------------- writing
def write_report(path: Path, book: CommuneBook, report: Report, defs: Definitions) -> int:
    """Show ``report`` inside the workbook (one atomic save); returns the number of highlighted cells."""
    previous = highlighted_cells(read_sheet_rows(path, defs.sheet("checks").name), defs)
    change = validation_change(book, report, when=now(), user=current_user(), file=path.name, previous=previous)
    apply_change(path, change, defs)
    return sum(1 for colour in change.fills.values() if colour)
