"""Read a submission's Số liệu and Thông tin sheets (python-calamine) and verify it.

A submission arrives by email from another computer: before calamine parses it, the
file is read once and checked by ``safety`` with the limits of report.toml
[submission_limits] (size, encrypted or .xls, zip bombs, macros, XML declaring a DTD
anywhere, a sheet whose values reach past max_rows/max_columns or max_cells).

The checksum in Thông tin covers the canonical Số liệu rows; a number edited by hand,
a row added or removed, or a damaged file is rejected with the reason. Totals are
checked against the sum of the parts.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import python_calamine as pc

from ..core import messages
from ..core.aggregation import DataRow
from ..core.checksum import rows_checksum
from ..core.definitions import Definitions, get_definitions, report_defs
from ..core.errors import WorkbookError
from ..core.situation import situation_checksum
from ..core.text import clean, header_key
from .safety import GRID_KEYS, LIMIT_KEYS, read_checked, required_limits
from .situation_sheet import INFO_KEY as SITUATION_KEY
from .situation_sheet import situation_rows


@dataclass
class Submission:
    path: Path
    info: dict[str, str]
    rows: list[DataRow]  # canonical Số liệu rows
    situation_rows: list[tuple[str, str]] | None = None  # Tình hình (key, value); None: made before it existed
    sha256: str = ""  # of the file's bytes, as read

    def __getstate__(self) -> dict[str, Any]:
        """Pickled by columns: a reader process sends thousands back to a rollup, and a column of
        texts pickles far faster than one DataRow object per row."""
        state = dict(self.__dict__)
        state["rows"] = tuple(zip(*self.rows))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        state["rows"] = list(map(DataRow._make, zip(*state["rows"])))
        self.__dict__.update(state)

    @property
    def situation(self) -> dict[str, str] | None:
        """The Tình hình facts (``core.situation``), None for a submission without the sheet."""
        return None if self.situation_rows is None else dict(self.situation_rows)

    @property
    def unit_code(self) -> str:
        return self.info.get("unit_code", "")

    @property
    def unit_name(self) -> str:
        return self.info.get("unit_name", "")

    @property
    def period(self) -> str:
        return self.info.get("period", "")

    @property
    def created_at(self) -> dt.datetime | None:
        try:
            return dt.datetime.fromisoformat(self.info.get("created_at", ""))
        except ValueError:
            return None

    @property
    def report_date(self) -> dt.date | None:
        """The date on the report's date line (Thông tin report_date); None in a submission made
        before it was recorded, or when it cannot be read."""
        value = self.info.get("report_date", "")
        try:
            return dt.date.fromisoformat(value[:10]) if value else None
        except ValueError:
            return None

    def totals(self) -> dict[str, int]:
        return {r.key: r.value for r in self.rows if r.is_total}

    def agg_kinds(self) -> dict[str, str]:
        return {r.key: r.agg for r in self.rows}


def submission_limits(defs: Definitions) -> dict[str, Any]:
    """The safety limits of report.toml [submission_limits] (DefinitionsError when one is missing)."""
    return required_limits(report_defs(defs).get("submission_limits"), (*LIMIT_KEYS, *GRID_KEYS),
                           defs.folder / "report.toml", "submission_limits")


def _sheet(wb: Any, names: list[str], wanted: str, file: str) -> list[list[Any]]:
    key = header_key(wanted)
    for name in names:
        if header_key(name) == key:
            return wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
    raise WorkbookError("submission_not_ours", file=file, sheet=wanted)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return _clean_text(str(value)) if value is not None else ""


@lru_cache(maxsize=1 << 16)
def _clean_text(value: str) -> str:
    """``clean`` of a cell's text, remembered: a submission repeats its unit, period, codes and
    keys on every row, and a rollup reads thousands of them."""
    return clean(value) or ""


def read_submission(path: str | Path, defs: Definitions | None = None, *, verify: bool = True) -> Submission:
    """Read and (by default) verify one submission; raises WorkbookError with the reason
    (``safety.Refused``, a WorkbookError, for a file refused by the safety checks)."""
    defs = defs or get_definitions()
    path = Path(path)
    rep = report_defs(defs)
    sheets = rep["sheets"]
    read = [sheets["info"], sheets["data"], *([sheets["situation"]] if sheets.get("situation") else [])]
    # a hostile file is refused unparsed; the reach of cells is checked on the sheets read as grids
    data, zf = read_checked(path, submission_limits(defs), grid_sheets=read)
    zf.close()  # the checks needed the directory only; calamine reads the same bytes
    try:
        wb = pc.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except pc.PasswordError:
        raise WorkbookError("encrypted", file=path.name) from None
    except Exception as exc:
        raise WorkbookError("unreadable", file=path.name, reason=str(exc) or type(exc).__name__) from None
    try:
        names = list(wb.sheet_names)
        info_grid = _sheet(wb, names, sheets["info"], path.name)
        data_grid = _sheet(wb, names, sheets["data"], path.name)
        wanted = header_key(sheets.get("situation", ""))
        situation_grid = next((wb.get_sheet_by_name(n).to_python(skip_empty_area=False) for n in names
                               if wanted and header_key(n) == wanted), None)
    except WorkbookError:
        raise
    except Exception as exc:  # a damaged sheet: calamine's XML, zip or value errors
        raise WorkbookError("unreadable", file=path.name, reason=str(exc) or type(exc).__name__) from None
    finally:
        wb.close()
    info: dict[str, str] = {}
    for line in info_grid[3:]:
        if len(line) >= 3 and _text(line[0]):
            info[_text(line[0])] = _text(line[2])
    rows: list[DataRow] = []
    for r, cells in enumerate(data_grid[1:], start=2):
        if len(cells) < 7:
            cells = [*cells, *[""] * (7 - len(cells))]
        texts = [_clean_text(c) if c.__class__ is str else _text(c) for c in cells[:6]]  # texts, mostly: no call
        value = cells[6]
        if not any(texts) and _text(value) == "":
            continue
        if isinstance(value, str):
            text = value.strip()
            value = int(text) if text.lstrip("-").isdigit() else None
        elif isinstance(value, float):
            value = int(value) if value.is_integer() else None
        elif isinstance(value, bool) or not isinstance(value, int):
            value = None
        if value is None:
            raise WorkbookError("submission_bad_row", file=path.name, sheet=sheets["data"], row=r,
                                reason=f"“{cells[6]}”")
        unit, period, part_code, part_name, key, agg = texts
        rows.append(DataRow(unit, period, part_code, part_name, key, agg, int(value)))
    sub = Submission(path=path, info=info, rows=rows,
                     situation_rows=None if situation_grid is None else situation_rows(situation_grid),
                     sha256=hashlib.sha256(data).hexdigest())
    if verify:
        verify_submission(sub, defs)
    return sub


def verify_submission(sub: Submission, defs: Definitions | None = None) -> None:
    """Checksum, unit and period of every row, totals equal to the sum of the parts."""
    name = sub.path.name
    expected = sub.info.get("data_sha256", "")
    actual = rows_checksum(sub.rows)
    if not expected or expected != actual:
        detail = "" if expected else "; " + messages.text("submission_no_checksum")
        raise WorkbookError("submission_checksum", file=name, detail=detail)
    for r in sub.rows:
        if r.unit_code != sub.unit_code or r.period != sub.period:
            raise WorkbookError("submission_checksum", file=name, detail=f"; {r.unit_code} {r.period}")
    parts: dict[str, int] = {}
    for r in sub.rows:
        if not r.is_total:
            parts[r.key] = parts.get(r.key, 0) + r.value
    for key, total in sub.totals().items():
        if key in parts and parts[key] != total:
            raise WorkbookError("submission_totals", file=name, key=key, total=total, parts=parts[key])
    verify_situation(sub, defs)


def verify_situation(sub: Submission, defs: Definitions | None = None) -> None:
    """Tình hình against its SHA-256 in Thông tin: a sheet edited, added or removed is refused;
    a submission made before it (neither sheet nor checksum) passes, its situation unknown."""
    expected = sub.info.get(SITUATION_KEY, "")
    sheet = report_defs(defs or get_definitions()).get("sheets", {}).get("situation", "")
    if sub.situation_rows is None:
        if expected:
            raise WorkbookError("submission_situation_checksum", file=sub.path.name, sheet=sheet,
                                detail=messages.text("submission_situation_missing"))
        return
    if not expected or expected != situation_checksum(sub.situation_rows):
        raise WorkbookError("submission_situation_checksum", file=sub.path.name, sheet=sheet,
                            detail=messages.text("submission_situation_mismatch" if expected else "submission_no_checksum"))
