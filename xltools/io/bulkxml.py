"""Big tables written straight as sheet XML, after XlsxWriter has written the workbook.

A national rollup carries about 1.5 million cells: the unit-by-indicator rows of Số liệu and the
findings of Kiểm tra. Through XlsxWriter each cell costs a Python call, a shared-string lookup
and an XML element written attribute by attribute; here a table's rows become one string each,
from the column's style and the value. XlsxWriter still writes everything else of the sheet
(the header rows, widths, filter, frozen panes, print titles, validations) and registers the
formats, whose style numbers the rows use (``Format._get_xf_index``, the call XlsxWriter itself
makes for every cell it writes).

The rows go below whatever XlsxWriter wrote on the sheet (nothing may be written at or below
``first_row`` through XlsxWriter, not even a row height: give ``heights`` here). Their texts
are added to XlsxWriter's shared strings, each distinct text once (a national Số liệu repeats
the same few thousand), escaped as XlsxWriter escapes them (``_xHHHH_`` for a control
character, ``_x005F`` before a literal ``_xHHHH_``).
"""
from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from numbers import Real
from typing import Any
from weakref import WeakKeyDictionary

from ..core.frames import column_index, column_letter

_ESCAPED = re.compile(r"(_x[0-9a-fA-F]{4}_)")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")
_DIMENSION = re.compile(rb'<dimension ref="([A-Z]+)([0-9]+)(?::([A-Z]+)([0-9]+))?"/>')


def _text(value: str) -> str:
    """A string as the ``<t>`` of a shared string: XML-escaped, Excel's escapes kept literal."""
    if "_x" in value:
        value = _ESCAPED.sub(r"_x005F\1", value)
    if _CONTROL.search(value):
        value = _CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_", value)
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if value[:1].isspace() or value[-1:].isspace():
        return f'<t xml:space="preserve">{value}</t>'
    return f"<t>{value}</t>"


@dataclass
class _Table:
    part: str
    first_row: int  # 0-based
    rows: Sequence[Sequence[Any]]
    text_styles: list[int]  # per column, for a text
    number_styles: list[int]  # per column, for a number
    heights: Mapping[int, float] = field(default_factory=dict)  # 0-based row -> points


class _Strings:
    """The shared strings the tables add after XlsxWriter's own (``base`` of them)."""

    def __init__(self, base: int) -> None:
        self.base = base
        self.index: dict[str, int] = {}
        self.uses = 0

    def xml(self) -> bytes:
        return "".join(f"<si>{_text(v)}</si>" for v in self.index).encode("utf-8")


class BulkRows:
    """The big tables of one XlsxWriter workbook, written into its bytes after it is closed
    (``rewrite_parts(data, bulk.edits(data))``)."""

    def __init__(self) -> None:
        self.tables: list[_Table] = []

    def add(self, ws: Any, first_row: int, rows: Sequence[Sequence[Any]], text_formats: Sequence[Any],
            number_formats: Sequence[Any], heights: Mapping[int, float] | None = None) -> None:
        """``rows`` (texts, numbers, None for an empty text) from ``first_row`` (0-based) of the
        worksheet ``ws``; column c takes ``text_formats[c]`` for a text and
        ``number_formats[c]`` for a number. ``heights``: row (0-based) -> height in points."""
        part = f"xl/worksheets/sheet{ws.index + 1}.xml"  # XlsxWriter's part names, in the order of the sheets
        self.tables.append(_Table(part, first_row, rows, [f._get_xf_index() for f in text_formats],
                                  [f._get_xf_index() for f in number_formats], dict(heights or {})))

    def edits(self, data: bytes) -> dict[str, Callable[[bytes], bytes]]:
        """For ``rewrite_parts``: per sheet part holding tables, the edit writing their rows; and
        the shared strings part, with the tables' texts added."""
        if not self.tables:
            return {}
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            sst = zf.read(SST) if SST in zf.namelist() else None
        if sst is None:  # XlsxWriter writes the part only when the workbook has a text: there is always a header
            raise ValueError(f"{SST} is missing: the tables' headers were not written")
        m = _SST_HEAD.search(sst)
        if m is None:
            raise ValueError(f"{SST} has no <sst count uniqueCount> head")
        strings = _Strings(int(m.group(2)))
        by_part: dict[str, list[_Table]] = {}
        for table in sorted(self.tables, key=lambda t: t.first_row):
            by_part.setdefault(table.part, []).append(table)
        filled = {part: [_rows_xml(t, strings) for t in tables] for part, tables in by_part.items()}
        edits: dict[str, Callable[[bytes], bytes]] = {
            part: partial(_insert_rows, pieces=pieces) for part, pieces in filled.items()}
        edits[SST] = partial(_add_strings, strings=strings)
        return edits


SST = "xl/sharedStrings.xml"
_SST_HEAD = re.compile(rb'<sst [^>]*?count="([0-9]+)" uniqueCount="([0-9]+)"')


def _rows_xml(table: _Table, strings: _Strings) -> tuple[bytes, int, int]:
    """A table's rows as XML, its last row (1-based) and last column (0-based)."""
    width = max((len(r) for r in table.rows), default=0)
    refs = [f'<c r="{column_letter(c)}' for c in range(width)]
    text = [f'" s="{table.text_styles[c]}" t="s"><v>' for c in range(width)]
    number = [f'" s="{table.number_styles[c]}"><v>' for c in range(width)]
    out = []
    r = table.first_row
    heights = table.heights
    index = strings.index  # the hot loop: a national Số liệu is 700,000 cells
    for r, values in enumerate(table.rows, start=table.first_row + 1):
        row = str(r)
        height = heights.get(r - 1) if heights else None
        out.append(f'<row r="{row}" ht="{height}" customHeight="1">' if height else f'<row r="{row}">')
        for c, value in enumerate(values):
            if value.__class__ is not str:
                if value is None:  # as XlsxWriter's write_string(""): an empty text
                    value = ""
                elif isinstance(value, Real) and not isinstance(value, bool):  # numpy's integers too
                    out.append(f"{refs[c]}{row}{number[c]}{value}</v></c>")
                    continue
                else:
                    value = str(value)
            n = index.get(value)
            if n is None:
                n = index[value] = strings.base + len(index)
            strings.uses += 1
            out.append(f"{refs[c]}{row}{text[c]}{n}</v></c>")
        out.append("</row>")
    return "".join(out).encode("utf-8"), r, width - 1


def _insert_rows(xml: bytes, pieces: Sequence[tuple[bytes, int, int]]) -> bytes:
    """The rows before ``</sheetData>`` (below what XlsxWriter wrote), the dimension grown to them."""
    end = xml.rfind(b"</sheetData>")
    if end < 0:  # a sheet XlsxWriter wrote no cell in
        empty = xml.find(b"<sheetData/>")
        if empty < 0:
            raise ValueError("a worksheet without <sheetData>")
        xml = xml[:empty] + b"<sheetData></sheetData>" + xml[empty + len(b"<sheetData/>"):]
        end = xml.rfind(b"</sheetData>")
    xml = xml[:end] + b"".join(p[0] for p in pieces) + xml[end:]
    m = _DIMENSION.search(xml)
    if m:
        bottom = max(int(m.group(4) or m.group(2)), *(p[1] for p in pieces))
        right = max(column_index((m.group(3) or m.group(1)).decode()), *(p[2] for p in pieces))
        ref = f"{m.group(1).decode()}{m.group(2).decode()}:{column_letter(right)}{bottom}"
        xml = xml[:m.start()] + f'<dimension ref="{ref}"/>'.encode() + xml[m.end():]
    return xml


def _add_strings(xml: bytes, strings: _Strings) -> bytes:
    m = _SST_HEAD.search(xml)
    end = xml.rfind(b"</sst>")
    if m is None or end < 0:
        raise ValueError(f"{SST} has no <sst count uniqueCount> head or no end")
    head = (xml[:m.start(1)] + str(int(m.group(1)) + strings.uses).encode() + xml[m.end(1):m.start(2)]
            + str(int(m.group(2)) + len(strings.index)).encode() + xml[m.end(2):end])
    return head + strings.xml() + xml[end:]


_REGISTRY: WeakKeyDictionary[Any, BulkRows] = WeakKeyDictionary()


def bulk_rows(wb: Any) -> BulkRows:
    """The big tables of workbook ``wb`` (one registry per workbook, filled by its builder)."""
    if wb not in _REGISTRY:
        _REGISTRY[wb] = BulkRows()
    return _REGISTRY[wb]


def rewrite_parts(data: bytes, edits: Mapping[str, Callable[[bytes], bytes]]) -> bytes:
    """The package ``data`` with each part named in ``edits`` replaced by ``edits[part](xml)``;
    the other parts keep their content."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename in edits:
                content = edits[item.filename](content)
            dst.writestr(item, content)
    return out.getvalue()
