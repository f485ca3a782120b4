"""Turn raw cell values into typed DataFrames as the definitions say.

The reader (any engine) hands over plain rows; this module converts each column
to its type once, centrally, and records every value it cannot read as a
``CellProblem`` (validation turns those into issues naming the exact cell).
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .definitions import Column, Definitions, Sheet
from .periods import Period, month_of
from .text import ERROR_VALUES, ValueProblem, clean, is_blank, parse_count, parse_number

ROW = "_row"  # the Excel row number kept beside every record

_BOOL_TRUE = {"có", "co", "x", "yes", "true", "1", "đúng"}
_BOOL_FALSE = {"không", "khong", "no", "false", "0", "sai"}
_DATE_TEXT = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_MONTH_TEXT = re.compile(r"^(\d{1,2})[/.-](\d{4})$")
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)


@dataclass(frozen=True)
class CellProblem:
    """A value the reader could not convert; ``reason`` is a message-catalogue key."""

    sheet: str
    row: int
    column: str  # Excel column letter
    header: str
    key: str
    type: str
    value: Any
    reason: str


def column_letter(index: int) -> str:
    """0 -> 'A', 25 -> 'Z', 26 -> 'AA'."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def column_index(letters: str) -> int:
    """'A' -> 0, 'AA' -> 26: the inverse of ``column_letter``."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n - 1


def _to_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 1 <= value < 2958466:
        return _EXCEL_EPOCH + dt.timedelta(days=float(value))
    if isinstance(value, str):
        text = clean(value) or ""
        m = _DATE_TEXT.match(text)
        try:
            if m:
                return dt.datetime(int(m.group(3)), int(m.group(2)), int(m.group(1)))
            m = _ISO_DATE.match(text)
            if m:
                year, month, day, hour, minute, second = (int(p) if p else 0 for p in m.groups())
                return dt.datetime(year, month, day, hour, minute, second)
        except ValueError:
            pass
    raise ValueProblem("reason_not_date", value)


def coerce(value: Any, column: Column, list_values: Sequence[str] = ()) -> Any:
    """One cell value as ``column`` types it; None for blank. Raises ValueProblem."""
    if is_blank(value):
        return None
    kind = column.type
    if isinstance(value, str) and (clean(value) or "").upper() in ERROR_VALUES:
        raise ValueProblem("reason_error_value", clean(value))
    if kind in ("int", "money"):
        return parse_count(value)
    if kind == "number":
        return parse_number(value)
    if kind == "date":
        return _to_datetime(value).date()
    if kind == "datetime":
        return _to_datetime(value).replace(microsecond=0)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = (clean(str(value)) or "").casefold()
        if text in _BOOL_TRUE:
            return True
        if text in _BOOL_FALSE:
            return False
        raise ValueProblem("reason_not_bool", value)
    if kind == "period":
        if isinstance(value, (dt.date, dt.datetime)):
            return month_of(value)
        text = clean(str(value)) or ""
        m = _MONTH_TEXT.match(text)
        if m:
            text = f"{m.group(2)}-{int(m.group(1)):02d}"
        try:
            period = Period.parse(text)
        except Exception:
            raise ValueProblem("reason_not_period", value) from None
        if period.kind != "month":
            raise ValueProblem("reason_not_period", value)
        return str(period)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if kind == "phone":
        text = re.sub(r"[\s.\-()]", "", clean(str(value)) or "")
        if isinstance(value, int) and len(text) == 9:
            text = "0" + text  # a phone typed as a number lost its leading zero
        return text or None
    text = clean(str(value)) if not isinstance(value, (dt.date, dt.datetime)) else value.strftime("%d/%m/%Y")
    if kind == "list" or (kind == "bool" and list_values):
        folded = {v.casefold(): v for v in list_values}
        return folded.get(text.casefold(), text) if text else None
    return text


_DTYPES = {"int": "Int64", "money": "Int64", "number": "Float64", "bool": "boolean"}
_INT64_LIMIT = 2**63


def empty_frame(sheet: Sheet) -> pd.DataFrame:
    cols = sheet.readable_columns
    frame = pd.DataFrame({c.key: pd.Series([], dtype=_DTYPES.get(c.type, object)) for c in cols})
    frame[ROW] = pd.Series([], dtype="int64")
    return frame


def build_frame(
    defs: Definitions,
    sheet: Sheet,
    rows: Iterable[dict[str, Any]],
    row_numbers: Sequence[int] | None = None,
    letters: dict[str, str] | None = None,
) -> tuple[pd.DataFrame, list[CellProblem]]:
    """Typed frame of ``rows`` (dicts keyed by column key) and the problems found.

    ``row_numbers`` are the Excel rows the records came from; ``letters`` the
    column letters, so that problems name cells. Unreadable values become None.
    """
    rows = list(rows)
    numbers = list(row_numbers) if row_numbers is not None else list(range(2, 2 + len(rows)))
    letters = letters or {}
    problems: list[CellProblem] = []
    data: dict[str, list[Any] | pd.Series] = {}
    for col in sheet.readable_columns:
        values = defs.lists[col.list].values if col.list else ()
        raws = [record.get(col.key) for record in rows]
        fast = _fast_counts(raws) if col.type in ("int", "money") else None
        if fast is not None:
            data[col.key] = fast
            continue
        out: list[Any] = []
        seen: dict[tuple[type, Any], Any] = {}  # coerce is pure: convert each distinct value once
        for raw, excel_row in zip(raws, numbers):
            key = (type(raw), raw)
            try:
                result = seen[key]
            except KeyError:
                try:
                    result = coerce(raw, col, values)
                except ValueProblem as exc:
                    result = exc
                seen[key] = result
            except TypeError:  # an unhashable value: convert it alone
                try:
                    result = coerce(raw, col, values)
                except ValueProblem as exc:
                    result = exc
            if isinstance(result, int) and not isinstance(result, bool) and result >= _INT64_LIMIT and col.type in ("int", "money"):
                result = ValueProblem("validate_reason_too_large", raw)  # an Int64 column cannot hold it
            if isinstance(result, ValueProblem):
                out.append(None)
                problems.append(
                    CellProblem(sheet.name, excel_row, letters.get(col.key, ""), col.header, col.key, col.type, raw, result.reason)
                )
            else:
                out.append(result)
        data[col.key] = out
    frame = pd.DataFrame({k: pd.Series(v, dtype=_DTYPES.get(sheet.column(k).type, object)) for k, v in data.items()})
    frame[ROW] = pd.Series(numbers, dtype="int64")
    return frame, problems


def _fast_counts(raws: list[Any]) -> pd.Series | None:
    """A count column typed in one vectorised step when every value is a plain number or empty.

    Returns None (use ``coerce`` value by value) as soon as one value is text, a
    bool, negative, fractional or not finite, so the result and the problems are
    exactly those of ``coerce``.
    """
    if not raws or not all(type(v) in (float, int) or v is None for v in raws):
        return None
    arr = np.array([np.nan if v is None else v for v in raws], dtype="float64")
    present = ~np.isnan(arr)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(arr[present]) & (arr[present] >= 0) & (arr[present] == np.floor(arr[present]))
    if not ok.all() or (present.any() and arr[present].max() >= 2**53):
        return None
    return pd.Series(pd.array(np.where(present, arr, 0).astype("int64"), dtype="Int64")).where(present, pd.NA)


CODE_MATCHED = "reason_code_matched"  # a CellProblem that is a warning: the code was restored


def lost_zero_index(codes: Iterable[Any]) -> dict[str, list[str]]:
    """Known codes made of digits, by their value without leading zeros ("01" under "1")."""
    out: dict[str, list[str]] = {}
    for code in codes:
        text = str(code)
        if text.isdigit():
            out.setdefault(text.lstrip("0") or "0", []).append(text)
    return out


def match_lost_zero(code: Any, index: dict[str, list[str]]) -> str | None:
    """The one known code that ``code`` is once the leading zeros Excel dropped are restored
    (1 → "01"); None when it matches no code, or several ("01" and "001")."""
    text = str(code)
    if not text.isdigit():
        return None
    found = [c for c in dict.fromkeys(index.get(text.lstrip("0") or "0", ())) if c != text]
    return found[0] if len(found) == 1 else None


def restore_lost_zeros(defs: Definitions, tables: dict[str, pd.DataFrame],
                       letters: dict[str, dict[str, str]]) -> list[CellProblem]:
    """Codes that refer to another table (``ref`` in workbook.toml) and lost their leading zero
    when Excel turned them into numbers, matched to the one code they can be; the tables are
    changed in place and each restored cell is returned as a warning (``CODE_MATCHED``).

    A code that is known as it is, or could be two codes, is left alone (validation reports it).
    """
    found: list[CellProblem] = []
    for sheet in defs.table_sheets:
        frame = tables.get(sheet.key)
        if frame is None or frame.empty:
            continue
        for col in sheet.readable_columns:
            if not col.ref:
                continue
            target = tables.get(col.ref)
            if col.key not in frame or target is None or target.empty:
                continue
            key = next((c.key for c in defs.sheet(col.ref).readable_columns if c.unique), None)
            if key is None or key not in target:
                continue
            known = target[key].dropna().astype(str)
            values = frame[col.key]
            unknown = values.notna() & ~values.astype(str).isin(set(known))
            if not unknown.any():
                continue
            index = lost_zero_index(known)
            hits = {i: match_lost_zero(v, index) for i, v in values[unknown].items()}
            matched = pd.Series({i: c for i, c in hits.items() if c is not None}, dtype=object)
            excel_rows = frame.loc[matched.index, ROW].to_dict()
            for i in matched.index:
                found.append(CellProblem(sheet.name, int(excel_rows[i]), letters.get(sheet.key, {}).get(col.key, ""),
                                         col.header, col.key, col.type, frame.at[i, col.key], CODE_MATCHED))
            if not matched.empty:
                frame.loc[matched.index, col.key] = matched
    return found


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain Python dicts (None for missing), without the row-number column."""
    out = []
    cols = [c for c in frame.columns if c != ROW]
    for values in frame[cols].astype(object).itertuples(index=False, name=None):
        out.append({c: (None if is_blank(v) or v is pd.NA else v) for c, v in zip(cols, values)})
    return out
