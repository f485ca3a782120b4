"""The package sink: apply a ``WorkbookChange`` of table rows and dashboard fields by editing
only the XML parts it touches.

Import, export and a button's Nhật ký row change a few cells of a few sheets: rows appended to
a table, cells updated in place, dashboard fields, tables grown. Loading the whole workbook
with openpyxl and saving it again for that costs about half a second on a commune workbook and
rewrites every part. Here the package is copied entry by entry; only the worksheets written,
their tables (grown), ``xl/styles.xml`` (a cell format added when a written cell needs a number
format it has not got) and ``xl/workbook.xml`` (``fullCalcOnLoad`` when a formula is written)
are parsed with lxml, changed and serialised again. Every other part (pictures, charts,
comments, VBA, the other sheets) keeps its bytes.

What a cell gets is what the openpyxl sink (``io.sink``) gives it: the value (text as an
inline string, dates as serial numbers in the workbook's date system, formulas without a
cached value), the column's number format (text "@" for text cells of the dashboard), the
rest of the cell's style kept. A change with output sheets or fills goes to the openpyxl sink.
"""
from __future__ import annotations

import datetime as dt
import functools
import math
import posixpath
import re
import zipfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from lxml import etree
from openpyxl.styles.numbers import BUILTIN_FORMATS_REVERSE
from openpyxl.utils import column_index_from_string, get_column_letter, range_boundaries

from ..core.change import TEXT_FORMAT, TableChange, WorkbookChange
from ..core.definitions import Definitions, Sheet
from ..core.errors import WorkbookError, WriteError
from ..core.text import header_key, is_blank
from .writer import cell_value, column_number_format, formula_for_row

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
NS = {"m": MAIN, "r": REL, "p": PKG_REL}
_Q = f"{{{MAIN}}}"
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # not allowed in XML 1.0 (openpyxl refuses them too)
_CELL = re.compile(r"^([A-Z]+)(\d+)$")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, remove_blank_text=False)


def can_patch(change: WorkbookChange) -> bool:
    """Whether the package sink applies ``change`` (no output sheet rewritten, no fill)."""
    return not change.outputs and not change.fills


def _parse(data: bytes) -> etree._Element:
    return etree.fromstring(data, _PARSER)


def _dump(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _resolve(base: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(base), target))


def _rels(parts: Mapping[str, bytes], part: str) -> dict[str, str]:
    """rId -> part name of the relationships of ``part``."""
    folder, name = posixpath.split(part)
    rels = parts.get(posixpath.join(folder, "_rels", name + ".rels"))
    if rels is None:
        return {}
    return {r.get("Id", ""): _resolve(part, r.get("Target", "")) for r in _parse(rels).iterfind("p:Relationship", NS)
            if r.get("TargetMode") != "External"}


class Package:
    """The parts of one workbook package, and the parsed parts a change edits."""

    def __init__(self, path: Path, defs: Definitions) -> None:
        self.path = path
        self.defs = defs
        with zipfile.ZipFile(path) as zf:
            self.infos = zf.infolist()
            self.parts = {i.filename: zf.read(i) for i in self.infos}
        self.edited: dict[str, etree._Element] = {}  # parts parsed
        self.dirty: set[str] = set()  # parts changed: only these are serialised again
        self.workbook = self.xml("xl/workbook.xml")
        wb_rels = _rels(self.parts, "xl/workbook.xml")
        self.sheet_parts: dict[str, tuple[str, str]] = {}  # header_key(name) -> (name, part)
        for sheet in self.workbook.iterfind("m:sheets/m:sheet", NS):
            part = wb_rels.get(sheet.get(f"{{{REL}}}id") or "")
            if part:
                self.sheet_parts[header_key(sheet.get("name", ""))] = (sheet.get("name", ""), part)
        pr = self.workbook.find("m:workbookPr", NS)
        self.epoch = dt.datetime(1904, 1, 1) if pr is not None and pr.get("date1904") in ("1", "true") \
            else dt.datetime(1899, 12, 30)
        self.styles = Styles(self.xml("xl/styles.xml"), lambda: self.dirty.add("xl/styles.xml"))
        self.formulas = False

    def xml(self, part: str) -> etree._Element:
        if part not in self.edited:
            if part not in self.parts:  # a damaged package: one line, as from every other verb
                raise ValueError(f"{part} is missing from the package")
            self.edited[part] = _parse(self.parts[part])
        return self.edited[part]

    def worksheet(self, sheet_key: str) -> tuple[str, Worksheet]:
        sheet = self.defs.sheet(sheet_key)
        found = self.sheet_parts.get(header_key(sheet.name))
        if found is None:
            raise WorkbookError("missing_sheet", file=self.path.name, sheet=sheet.name, major=self.defs.major)
        name, part = found
        return name, Worksheet(self, part, name)

    def table_part(self, sheet: Sheet, ws: Worksheet) -> etree._Element | None:
        """The sheet's Excel Table: by its name, else the sheet's only one (renamed by hand)."""
        rels = _rels(self.parts, ws.part)
        tables = [rels[t.get(f"{{{REL}}}id") or ""] for t in ws.root.iterfind("m:tableParts/m:tablePart", NS)
                  if t.get(f"{{{REL}}}id") in rels]
        roots = [self.xml(t) for t in tables if t in self.parts]
        named = [t for t in roots if t.get("name") == sheet.table or t.get("displayName") == sheet.table]
        if named:
            return named[0]
        return roots[0] if len(roots) == 1 else None

    def part_of(self, root: etree._Element) -> str:
        return next(name for name, parsed in self.edited.items() if parsed is root)

    def save(self, target: Path) -> None:
        if self.formulas:  # formulas written without a cached value: Excel computes them on opening
            calc = self.workbook.find("m:calcPr", NS)
            if calc is None:
                calc = etree.SubElement(self.workbook, _Q + "calcPr")
                _move_before(self.workbook, calc, ("oleSize", "customWorkbookViews", "pivotCaches", "smartTagPr",
                                                   "smartTagTypes", "webPublishing", "fileRecoveryPr",
                                                   "webPublishObjects", "extLst"))
            calc.set("fullCalcOnLoad", "1")
            self.dirty.add("xl/workbook.xml")
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
            for info in self.infos:
                if info.filename in self.dirty:
                    out.writestr(info.filename, _dump(self.edited[info.filename]), zipfile.ZIP_DEFLATED)
                else:
                    out.writestr(info, self.parts[info.filename])


def _move_before(parent: etree._Element, child: etree._Element, later: Iterable[str]) -> None:
    """Put ``child`` before the first sibling named in ``later`` (the schema's element order)."""
    names = {_Q + n for n in later}
    for sibling in parent:
        if sibling is not child and sibling.tag in names:
            sibling.addprevious(child)
            return


class Styles:
    """``xl/styles.xml``: the cell formats, with one added per (base format, number format) needed."""

    def __init__(self, root: etree._Element, changed: Callable[[], None]) -> None:
        self.root = root
        self.changed = changed
        xfs = root.find("m:cellXfs", NS)
        if xfs is None:
            raise ValueError("xl/styles.xml has no cellXfs")
        self.xfs: etree._Element = xfs
        self.cell_xfs = list(self.xfs.iterfind("m:xf", NS))
        self.codes: dict[str, int] = {}
        self.ids: dict[int, str] = {}
        numfmts = root.find("m:numFmts", NS)
        for fmt in numfmts.iterfind("m:numFmt", NS) if numfmts is not None else ():
            self.codes[fmt.get("formatCode", "")] = int(fmt.get("numFmtId", "0"))
            self.ids[int(fmt.get("numFmtId", "0"))] = fmt.get("formatCode", "")
        self.cache: dict[tuple[int, str], int] = {}

    def format_id(self, code: str) -> int:
        if code in self.codes:
            return self.codes[code]
        builtin = BUILTIN_FORMATS_REVERSE.get(code)
        if builtin is not None:
            return int(builtin)
        numfmts = self.root.find("m:numFmts", NS)
        if numfmts is None:
            numfmts = etree.Element(_Q + "numFmts")
            self.root.insert(0, numfmts)
        new_id = max([163, *self.ids]) + 1
        etree.SubElement(numfmts, _Q + "numFmt", numFmtId=str(new_id), formatCode=code)
        numfmts.set("count", str(len(numfmts)))
        self.codes[code], self.ids[new_id] = new_id, code
        self.changed()
        return new_id

    def with_format(self, base: int, code: str) -> int:
        """The index of a cell format like ``base`` with number format ``code``."""
        key = (base, code)
        if key in self.cache:
            return self.cache[key]
        wanted = self.format_id(code)
        xf = self.cell_xfs[base] if 0 <= base < len(self.cell_xfs) else self.cell_xfs[0]
        if int(xf.get("numFmtId", "0")) == wanted:
            self.cache[key] = base
            return base
        for i, other in enumerate(self.cell_xfs):  # an equal format already there
            if int(other.get("numFmtId", "0")) == wanted and _same_xf(other, xf):
                self.cache[key] = i
                return i
        clone = etree.fromstring(etree.tostring(xf))
        clone.set("numFmtId", str(wanted))
        clone.set("applyNumberFormat", "1")
        self.xfs.append(clone)
        self.cell_xfs.append(clone)
        self.xfs.set("count", str(len(self.cell_xfs)))
        self.changed()
        self.cache[key] = len(self.cell_xfs) - 1
        return self.cache[key]


def _same_xf(a: etree._Element, b: etree._Element) -> bool:
    """The same font, fill, border, parent style, alignment and protection."""
    def part(xf: etree._Element, name: str) -> bytes:
        found = xf.find(f"m:{name}", NS)
        return b"" if found is None else etree.tostring(found)

    keys = ("fontId", "fillId", "borderId", "xfId")
    return all(a.get(k, "0") == b.get(k, "0") for k in keys) and \
        all(part(a, n) == part(b, n) for n in ("alignment", "protection"))


class Worksheet:
    """One worksheet part: its rows by number, cells written in the schema's order."""

    def __init__(self, package: Package, part: str, name: str) -> None:
        self.package = package
        self.part = part
        self.name = name
        self.root = package.xml(part)
        data = self.root.find("m:sheetData", NS)
        if data is None:
            raise ValueError(f"{part} has no sheetData")
        self.data = data
        self.rows = {int(r.get("r", "0")): r for r in data.iterfind("m:row", NS)}
        self.col_styles = self._col_styles()
        self.max_row = 0
        self.max_col = 0
        self._cells: dict[int, dict[int, etree._Element]] = {}

    def _col_styles(self) -> list[tuple[int, int, int]]:
        cols = self.root.find("m:cols", NS)
        out = []
        for col in cols.iterfind("m:col", NS) if cols is not None else ():
            if col.get("style"):
                out.append((int(col.get("min", "0")), int(col.get("max", "0")), int(col.get("style", "0"))))
        return out

    def row(self, r: int) -> etree._Element:
        found = self.rows.get(r)
        if found is None:
            found = etree.Element(_Q + "row", r=str(r))
            later = [n for n in self.rows if n > r]
            if later:
                self.rows[min(later)].addprevious(found)
            else:
                self.data.append(found)
            self.rows[r] = found
        found.attrib.pop("spans", "")  # a hint only; the row's cells may now reach further
        self.package.dirty.add(self.part)
        return found

    def cell(self, r: int, c: int) -> tuple[etree._Element, bool]:
        """The ``c`` element of row ``r``, column ``c`` (1-based), and whether it existed."""
        row = self.row(r)
        cells = self._cells.get(r)
        if cells is None:  # the row's cells by column, read once
            cells = {}
            for existing in row.iterfind("m:c", NS):
                found = _CELL.match(existing.get("r", ""))
                if found:
                    cells[_column(found.group(1))] = existing
            self._cells[r] = cells
        if c in cells:
            return cells[c], True
        new = etree.Element(_Q + "c", r=f"{get_column_letter(c)}{r}")
        style = self._default_style(row, c)
        if style:
            new.set("s", str(style))
        later = [k for k in cells if k > c]
        if later:
            cells[min(later)].addprevious(new)
        else:
            row.append(new)
        cells[c] = new
        self.max_row, self.max_col = max(self.max_row, r), max(self.max_col, c)
        return new, False

    def fresh_row(self, r: int, columns: list[int]) -> dict[int, etree._Element] | None:
        """Empty ``c`` elements for ``columns`` of row ``r``, made in one go when the sheet has no
        such row yet (an appended row); None when it has one (then ``cell`` finds each)."""
        if r in self.rows:
            return None
        row = self.row(r)
        cells = {}
        for c in sorted(columns):
            new = etree.SubElement(row, _Q + "c", r=f"{get_column_letter(c)}{r}")
            style = self._default_style(row, c)
            if style:
                new.set("s", str(style))
            cells[c] = new
        self._cells[r] = cells
        if columns:
            self.max_row, self.max_col = max(self.max_row, r), max(self.max_col, max(columns))
        return cells

    def _default_style(self, row: etree._Element, c: int) -> int:
        """What Excel shows an empty cell with: the row's style if it has one, else its column's."""
        if row.get("customFormat") in ("1", "true") and row.get("s"):
            return int(row.get("s", "0"))
        for low, high, style in self.col_styles:
            if low <= c <= high:
                return style
        return 0

    def finish(self) -> None:
        dim = self.root.find("m:dimension", NS)
        if dim is None or not self.max_row:
            return
        try:
            min_col, min_row, max_col, max_row = range_boundaries(dim.get("ref", "A1"))
        except (ValueError, TypeError):
            return
        max_col = max(max_col or 1, self.max_col)
        max_row = max(max_row or 1, self.max_row)
        dim.set("ref", f"{get_column_letter(min_col or 1)}{min_row or 1}:{get_column_letter(max_col)}{max_row}")


def _has_value(cell: etree._Element) -> bool:
    if cell.find("m:f", NS) is not None:
        return True
    v = cell.find("m:v", NS)
    if v is not None and (v.text or "") != "":
        return True
    inline = cell.find("m:is", NS)
    return inline is not None and any(str(t) for t in inline.itertext())


def _set(cell: etree._Element, value: Any, package: Package, fmt: str | None, *, formula: str | None = None) -> None:
    """Write one value into a ``c`` element (its style kept, the number format set when given)."""
    for child in list(cell):
        if child.tag in (_Q + "f", _Q + "v", _Q + "is"):
            cell.remove(child)
    cell.attrib.pop("t", "")
    if fmt:
        cell.set("s", str(package.styles.with_format(int(cell.get("s", "0")), fmt)))
    if formula is not None:
        etree.SubElement(cell, _Q + "f").text = formula[1:] if formula.startswith("=") else formula
        package.formulas = True
        return
    value = cell_value(value)
    if value is None or (isinstance(value, str) and value == ""):
        return
    if isinstance(value, int):  # (cell_value has turned booleans into Có/Không)
        etree.SubElement(cell, _Q + "v").text = str(value)
    elif isinstance(value, float):
        if math.isfinite(value):  # Excel has no NaN or infinity: such a value leaves the cell empty
            etree.SubElement(cell, _Q + "v").text = repr(value)
    elif isinstance(value, (dt.datetime, dt.date)):
        if not isinstance(value, dt.datetime):
            value = dt.datetime(value.year, value.month, value.day)
        days = (value.replace(tzinfo=None) - package.epoch).total_seconds() / 86400
        etree.SubElement(cell, _Q + "v").text = str(int(days)) if days.is_integer() else repr(days)
    elif isinstance(value, dt.time):
        seconds = value.hour * 3600 + value.minute * 60 + value.second
        etree.SubElement(cell, _Q + "v").text = repr(seconds / 86400)
    else:
        text = _ILLEGAL.sub("", str(value))
        cell.set("t", "inlineStr")
        t = etree.SubElement(etree.SubElement(cell, _Q + "is"), _Q + "t")
        t.text = text
        if text != text.strip() or "\n" in text:
            t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")


@functools.cache
def _column(letter: str) -> int:
    return column_index_from_string(letter)


# ---------------------------------------------------------------------------- applying
def patch(path: Path, target: Path, change: WorkbookChange, defs: Definitions) -> None:
    """Write ``path`` with ``change`` applied into ``target`` (the caller moves it into place)."""
    package = Package(path, defs)
    sheets: dict[str, Worksheet] = {}

    def sheet_of(key: str) -> Worksheet:
        if key not in sheets:
            sheets[key] = package.worksheet(key)[1]
        return sheets[key]

    for tc in change.tables:
        if tc.updates or tc.appends:
            _table(package, sheet_of(tc.key), tc, defs)
    for key, last in change.grow.items():
        _grow(package, sheet_of(key), key, last, defs)
    if change.fields:
        ws = sheet_of("dashboard")
        for f in defs.sheet("dashboard").fields:
            if f.key in change.fields:
                found = _CELL.match(f.cell.replace("$", "").upper())
                if not found:
                    continue
                cell, _ = ws.cell(int(found.group(2)), _column(found.group(1)))
                value = cell_value(change.fields[f.key])
                _set(cell, value, package, TEXT_FORMAT if isinstance(value, str) else None)
    for ws in sheets.values():
        ws.finish()
    package.save(target)


def _table(package: Package, ws: Worksheet, tc: TableChange, defs: Definitions) -> None:
    sheet = defs.sheet(tc.key)
    letters = tc.letters
    for excel_row, values in tc.updates.items():
        for key, value in values.items():
            if key not in letters:
                continue
            col = sheet.column(key)
            if col.type == "formula":
                continue
            cell, _ = ws.cell(int(excel_row), _column(letters[key]))
            _set(cell, value, package, column_number_format(col, defs))
    for i, item in enumerate(tc.appends):
        r = tc.first_free_row + i
        fresh = ws.fresh_row(r, [_column(letter) for letter in letters.values()])
        for key, letter in letters.items():
            col = sheet.column(key)
            if fresh is not None:
                cell, existed = fresh[_column(letter)], False
            else:
                cell, existed = ws.cell(r, _column(letter))
            formula = col.type == "formula"
            if not formula and existed and _has_value(cell):  # never write into a cell that was not read
                raise WriteError("sink_cell_not_empty", file=package.path.name, sheet=ws.name, cell=f"{letter}{r}")
            if formula:
                if col.formula:
                    _set(cell, None, package, None, formula=formula_for_row(col.formula, sheet, r, letters))
                continue
            fmt = column_number_format(col, defs)
            value = item.get(key)
            if is_blank(value) and not fmt:
                continue
            _set(cell, value, package, fmt)
    if tc.appends:
        _grow(package, ws, tc.key, tc.last_row, defs)


def _grow(package: Package, ws: Worksheet, key: str, last: int, defs: Definitions) -> None:
    """Grow the table of ``key`` down to Excel row ``last`` (never shrink it)."""
    table = package.table_part(defs.sheet(key), ws)
    if table is None:
        return
    try:
        min_col, min_row, max_col, max_row = range_boundaries(table.get("ref", ""))
    except (ValueError, TypeError):
        return
    if min_col is None or min_row is None or max_col is None or max_row is None or last <= max_row:
        return
    ref = f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}{last}"
    table.set("ref", ref)
    package.dirty.add(package.part_of(table))
    auto = table.find("m:autoFilter", NS)
    if auto is not None:
        auto.set("ref", ref)
