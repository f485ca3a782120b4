"""Document numbers and the register of documents sent upward (Sổ văn bản đi).

Each export of a commune's report is a document of the committee's series: it takes the
number in ``doc_next_number`` (Cấu hình), prints it ("Số: 07/BC-BCĐ"), and the same write
that records it advances the setting and keeps one row in the register (number, code, date,
period, file, SHA-256, note). Exporting a period again keeps the number its register row
holds (the row then names the new file) unless a new number is asked for; a new number never
repeats one the register already gives to a document of the same year.

``choose_number`` decides the number from what was read; ``register_change`` is the one
``WorkbookChange`` that the file sink (the command) and the xlwings sink (the button) apply.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd

from . import messages
from .book import CommuneBook
from .change import WorkbookChange, changed_cells, last_action, log_entry, table_change
from .frames import ROW
from .text import is_blank

REGISTER = "register"  # the sheet key in workbook.toml
SETTING = "doc_next_number"
STAMP = "%d/%m/%Y %H:%M"


@dataclass(frozen=True)
class DocNumber:
    """The number an export prints and what it leaves in the workbook."""

    number: int
    kept: bool  # the number of an earlier export of the same period (its register row is updated)
    next_number: int  # what doc_next_number holds after the export
    row: int | None = None  # Excel row of the register row of the period (when kept)
    replaces: int | None = None  # a new number for a period that had one: the number it replaces
    register: bool = True  # the workbook has the register (a workbook made before it has not)


def has_register(book: CommuneBook) -> bool:
    """Whether the workbook has the register table (defined, and found when it was read)."""
    return any(s.key == REGISTER for s in book.defs.sheets) and REGISTER in book.letters


def _as_int(value: Any) -> int | None:
    if value is None or value is pd.NA or isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        return int(value) if value.isdigit() and int(value) >= 1 else None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 1 and number == value else None


def _year(value: Any) -> int | None:
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, (dt.date, dt.datetime, pd.Timestamp)):
        return int(value.year)
    return None


def setting_number(book: CommuneBook) -> int:
    """``doc_next_number`` as read (1 when empty or not a whole number from 1)."""
    return _as_int(book.settings.get(SETTING)) or 1


def choose_number(book: CommuneBook, period: str, *, date: dt.date, new_number: bool = False) -> DocNumber:
    """The number of the report of ``period`` dated ``date``."""
    setting = setting_number(book)
    if not has_register(book):  # nothing to find an earlier number in: each export takes the next one
        return DocNumber(setting, False, setting + 1, register=False)
    frame = book.tables[REGISTER]
    same = frame[frame["period"].map(lambda p: not is_blank(p) and str(p).strip() == period)] if len(frame) else frame
    previous = None
    for _, row in same.sort_values(ROW).iterrows() if len(same) else ():
        number = _as_int(row["number"])
        if number is not None:
            previous = (number, int(row[ROW]))
    if previous is not None and not new_number:
        return DocNumber(previous[0], True, setting, row=previous[1])
    used = [n for n, y in zip(frame["number"], frame["date"]) if _as_int(n) is not None and _year(y) == date.year] \
        if len(frame) else []
    number = max([setting, *(int(n) + 1 for n in used)])
    return DocNumber(number, False, number + 1, replaces=previous[0] if previous else None)


def number_text(number: int, doc_code: str) -> str:
    """"07/BC-BCĐ" as the report prints it (two digits at least)."""
    return f"{number:02d}/{doc_code}" if doc_code else f"{number:02d}"


def register_change(book: CommuneBook, doc: DocNumber, *, period: str, date: dt.date, doc_code: str, file: str,
                    sha256: str, when: dt.datetime, user: str, action: str, result: str, detail: str,
                    notes: list[str] | None = None) -> WorkbookChange:
    """The register row (appended, or the period's row updated when the number is kept),
    ``doc_next_number`` advanced, one Nhật ký row and the dashboard's last action."""
    change = WorkbookChange(fields={"last_action": last_action(action, when, result)})
    settings = book.tables.get("settings")
    if doc.next_number != setting_number(book) or _as_int(book.settings.get(SETTING)) is None:
        row = book.settings_rows.get(SETTING)
        if row is not None and settings is not None:
            change.tables.append(table_change(book, "settings", updates=changed_cells(
                settings, {row: {"value": doc.next_number}})))
        else:  # the row was deleted by hand: added back
            change.tables.append(table_change(book, "settings", appends=[
                {"key": SETTING, "label": book.defs.setting(SETTING).label, "value": doc.next_number}]))
    shown = number_text(doc.number, doc_code)
    own = list(notes or [])
    if doc.kept:
        own.insert(0, messages.text("register_note_again", time=when.strftime(STAMP)))
    elif doc.replaces is not None:
        own.insert(0, messages.text("register_note_replaces", number=number_text(doc.replaces, doc_code)))
    if doc.register:
        values = {"number": doc.number, "doc_code": doc_code, "date": date, "period": period, "file": file,
                  "sha256": sha256, "note": "; ".join(own)[:500] or None}
        if doc.kept and doc.row is not None:
            change.tables.append(table_change(book, REGISTER, updates=changed_cells(
                book.tables[REGISTER], {doc.row: values})))
        else:
            change.tables.append(table_change(book, REGISTER, appends=[values]))
    change.tables.append(table_change(book, "log", appends=[log_entry(
        time=when, action=action, file=file, sha256=sha256, result=result,
        detail=messages.text("register_log_detail", detail=detail, number=shown), user=user)]))
    return change.covering(book)
