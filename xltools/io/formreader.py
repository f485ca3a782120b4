"""Read a returned village form safely and fast.

Each file is read from disk once. Before anything parses it, the bytes are
checked by ``safety`` with the limits of forms.toml [limits]: size limit, what
kind of file it is (an OLE file is an encrypted workbook or an old .xls; a file
that is not a zip is nothing of ours), and the zip directory (member count, total
inflated size, compression ratio: a zip bomb is refused unread;
``vbaProject.bin``: macros are refused), then every part streamed whole: an XML
part that declares a DTD anywhere is refused (XML bombs; ``xl/workbook.xml``, parsed
here for the defined names, also goes through defusedxml), and so is a sheet with a
value outside the form's block (forms.toml [limits] max_rows, max_columns,
max_cells: python-calamine would size its grid up to a cell at XFD1048576). Values are then read
with python-calamine by defined name: the input cell of each key is wherever the
workbook-level name points, so a rearranged form still imports.

Nothing here decides whether a form belongs to the commune: ``reports`` does.
The result lists every problem found, each naming the cell and the reason in
Vietnamese; a form with a problem is rejected as a whole.
"""
from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

import python_calamine as pc
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from ..core import messages
from ..core.definitions import Column, Definitions
from ..core.errors import DefinitionsError
from ..core.frames import coerce, column_letter
from ..core.text import ERROR_VALUES, ValueProblem, clean, header_key, parse_count
from .forms import form_config, form_inputs
from .safety import GRID_KEYS, Refused, open_zip, read_bytes, required_limits

_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_REF = re.compile(r"^(?:'((?:[^']|'')+)'|([^'!]+))!\$?([A-Z]{1,3})\$?(\d+)$")
_SHOWN_CHARS = 40  # of a rejected value quoted in the reason
_COUNT_LIMIT = 2**63  # the Int64 count columns of Báo cáo thôn hold less (as frames.build_frame checks)


@dataclass
class FormFile:
    """What was read from one returned form; ``reasons`` empty means readable."""

    path: Path
    sha256: str = ""
    meta: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    cells: dict[str, str] = field(default_factory=dict)  # key -> "Sheet!C13"
    reasons: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.reasons


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def _parse_ref(text: str) -> tuple[str, int, int] | None:
    """'Phiếu báo cáo'!$C$13 -> (sheet, row index, column index), 0-based; None if not one cell."""
    m = _REF.match((text or "").strip().lstrip("="))
    if not m:
        return None
    sheet = m.group(1).replace("''", "'") if m.group(1) is not None else m.group(2)
    return sheet, int(m.group(4)) - 1, _col_index(m.group(3))


def _safe_xml(zf: zipfile.ZipFile, part: str, name: str):
    try:
        return SafeET.fromstring(zf.read(part))
    except DefusedXmlException:
        raise Refused("import_xml_unsafe", file=name, part=part) from None
    except (ParseError, KeyError, zipfile.BadZipFile, ValueError) as exc:
        raise Refused("unreadable", file=name, reason=f"{part}: {exc}") from None


def _workbook_parts(zf: zipfile.ZipFile, name: str) -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    """Sheets (name, state, relationship id) and workbook-level defined names of the file."""
    root = _safe_xml(zf, "xl/workbook.xml", name)
    sheets = []
    for el in root.iter(f"{_NS_MAIN}sheet"):
        sheets.append((el.get("name") or "", el.get("state") or "visible", el.get(f"{_NS_REL}id") or ""))
    names: dict[str, str] = {}
    for el in root.iter(f"{_NS_MAIN}definedName"):
        if el.get("localSheetId") is None and el.get("name"):
            names.setdefault(el.get("name"), (el.text or "").strip())
    return sheets, names


def _sheet_part(zf: zipfile.ZipFile, name: str, rel_id: str) -> str | None:
    root = _safe_xml(zf, "xl/_rels/workbook.xml.rels", name)
    for el in root.iter(f"{_NS_PKG_REL}Relationship"):
        if el.get("Id") == rel_id:
            target = el.get("Target") or ""
            return target.lstrip("/") if target.startswith("/") else "xl/" + target
    return None


def _blank_cells(zf: zipfile.ZipFile, name: str, part: str | None) -> dict[str, tuple[str, Any]]:
    """Cells of a sheet that calamine reads as blank but are not: error values and formulas without a value."""
    found: dict[str, tuple[str, Any]] = {}
    if part is None:
        return found
    root = _safe_xml(zf, part, name)
    for c in root.iter(f"{_NS_MAIN}c"):
        v = c.find(f"{_NS_MAIN}v")
        if c.get("t") == "e":
            found[c.get("r") or ""] = ("reason_error_value", v.text if v is not None else "#N/A")
        elif c.find(f"{_NS_MAIN}f") is not None and (v is None or not (v.text or "")):
            found[c.get("r") or ""] = ("reason_formula_no_value", None)
    return found


def _grid_value(grid: list[list[Any]], row: int, col: int) -> Any:
    if row < len(grid) and col < len(grid[row]):
        return grid[row][col]
    return None


def read_form(path: str | Path, defs: Definitions) -> FormFile:
    """Read one returned form; problems are collected in ``reasons`` (never raised)."""
    path = Path(path)
    result = FormFile(path)
    try:
        _read(path, defs, result)
    except Refused as rej:
        result.reasons = [messages.Reason.of(rej)]
    except DefinitionsError:
        raise  # workbook/ is wrong, not the file
    except Exception as exc:  # any other parser failure on a damaged file: one file never stops the batch
        result.reasons = [messages.Reason("unreadable", file=path.name, reason=f"{type(exc).__name__}: {exc}"[:300])]
    return result


def _read(path: Path, defs: Definitions, result: FormFile) -> None:
    cfg = form_config(defs)
    # the block of a form's cells: without it calamine could be asked for any grid
    limits = required_limits(cfg["limits"], GRID_KEYS, defs.folder / "forms.toml", "limits")
    name = path.name
    data = read_bytes(path, limits)
    result.sha256 = hashlib.sha256(data).hexdigest()  # known even when the checks refuse the file
    zf = open_zip(data, name, limits)
    try:
        with zf:
            sheets, names = _workbook_parts(zf, name)
            _read_values(zf, data, name, sheets, names, defs, cfg, result)
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile):
        raise Refused("import_damaged", file=name) from None
    except Refused:
        raise
    except (OSError, RuntimeError, ValueError) as exc:  # zlib errors of a corrupted member, etc.
        raise Refused("unreadable", file=name, reason=str(exc) or type(exc).__name__) from None


def _read_values(zf, data: bytes, name: str, sheets, names: dict[str, str], defs: Definitions, cfg, result: FormFile) -> None:
    meta_name = cfg["meta_sheet"]
    meta_actual = next((s for s, _, _ in sheets if header_key(s) == header_key(meta_name)), None)
    if meta_actual is None:
        raise Refused("import_not_form", file=name, sheet=meta_name)
    try:
        book = pc.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except pc.PasswordError:
        raise Refused("encrypted", file=name) from None
    except Exception as exc:  # calamine's zip/xml errors: a damaged file
        raise Refused("unreadable", file=name, reason=str(exc) or type(exc).__name__) from None
    try:
        grids: dict[str, list[list[Any]]] = {}

        def grid(sheet: str) -> list[list[Any]]:
            if sheet not in grids:
                grids[sheet] = book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
            return grids[sheet]

        meta: dict[str, str] = {}
        for line in grid(meta_actual):
            if len(line) >= 2 and isinstance(line[0], str) and line[0].strip():
                value = line[1]
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                meta[line[0].strip()] = clean(str(value)) if value not in (None, "") else ""
        result.meta = meta
        if meta.get("generator") != cfg["generator"]:
            raise Refused("import_not_form", file=name, sheet=meta_name)
        supported = [str(v) for v in cfg["supported_versions"]]
        if meta.get("form_version") not in supported:
            raise Refused("import_bad_version", file=name, version=meta.get("form_version") or "?",
                          supported=", ".join(supported))

        sheet_names = {s for s, _, _ in sheets}
        rel_of = {s: rid for s, _, rid in sheets}
        odd: dict[str, dict[str, tuple[str, Any]]] = {}
        reasons: list[str] = []  # messages.Reason: text with its key
        max_text = int(cfg["limits"]["max_text_length"])
        for inp in form_inputs(defs):
            ref = _parse_ref(names.get(inp.key, ""))
            if ref is None or ref[0] not in sheet_names:
                reasons.append(messages.Reason("import_missing_name", key=inp.key, label=inp.label))
                continue
            sheet, r, c = ref
            address = f"{column_letter(c)}{r + 1}"
            where = f"{sheet}!{address}"
            result.cells[inp.key] = where
            raw = _grid_value(grid(sheet), r, c)
            blank = raw is None or (isinstance(raw, str) and clean(raw) is None)
            try:
                if blank and inp.type != "int":  # optional text or date left empty
                    result.values[inp.key] = None
                elif blank:
                    if sheet not in odd:  # parsed only when a needed cell reads blank
                        odd[sheet] = _blank_cells(zf, name, _sheet_part(zf, name, rel_of.get(sheet, "")))
                    reason, shown = odd[sheet].get(address, ("import_reason_blank", None))
                    raise ValueProblem(reason, shown)
                elif inp.type == "int":
                    count = parse_count(raw)
                    if count >= _COUNT_LIMIT:
                        raise ValueProblem("validate_reason_too_large", raw)
                    result.values[inp.key] = count
                elif inp.type == "date":
                    result.values[inp.key] = coerce(raw, Column(inp.key, inp.label, "date"))
                else:
                    if isinstance(raw, float) and raw.is_integer():
                        raw = int(raw)
                    text = clean(str(raw))
                    if text and text.upper() in ERROR_VALUES:
                        raise ValueProblem("reason_error_value", text)
                    limit = inp.max_length or max_text
                    if text and len(text) > limit:
                        raise ValueProblem("reason_too_long", raw)
                    result.values[inp.key] = text
            except ValueProblem as exc:
                shown = exc.value if exc.value not in (None, "") else raw
                if isinstance(shown, (int, float)) and not isinstance(shown, bool):
                    from ..core.validation.core import fmt_value

                    shown = fmt_value(shown)  # "-1", "2,5" as the officer typed them, never "-1.0"
                if isinstance(shown, str) and len(shown) > _SHOWN_CHARS:  # a line, not the whole text
                    shown = shown[:_SHOWN_CHARS] + "…"
                reasons.append(messages.Reason(
                    "import_cell", label=inp.label, key=inp.key, cell=where,
                    reason=messages.Reason(exc.reason, value=shown, max_length=inp.max_length or max_text),
                    value="" if shown in (None, "") else f" (“{shown}”)",
                ))
        result.reasons = reasons
    finally:
        book.close()


