"""Check a workbook file from outside before anything parses it.

Village forms (``formreader``), the communes' submissions received by email
(``submission_reader``) and the commune workbook itself (``reader.check_file``) may
come from other people's computers or other applications. Each file is read from
disk once and its bytes are checked before a parser sees them: the size limit,
what kind of file it is (an OLE file is an encrypted workbook or an old .xls; a
file that is not a zip is nothing of ours), the zip directory (member count,
total inflated size, compression ratio: a zip bomb is refused unread;
``vbaProject.bin``: macros are refused unless the limits allow them), then one
streaming pass over every part, inflated in chunks and never held whole: the real
inflated size (a zip that lies about its sizes), a DTD or entity declaration
anywhere in any XML part (XML bombs), and the cells of every sheet a reader turns into
a grid (every sheet, unless the caller names the ones it reads: ``grid_sheets``, found as
python-calamine finds them). python-calamine builds a dense grid from A1 to the last cell
holding a value, so one value at
XFD1048576 would allocate the whole sheet: the pass reads only the ``r="…"``
references (never the ``<dimension>`` tag) and a sheet whose data reaches past
``max_rows``/``max_columns``, or whose grid would exceed ``max_cells``, is refused
naming the sheet and the cell. The limits come from the definitions
(``forms.toml`` [limits], ``report.toml`` [submission_limits], ``workbook.toml``
[limits]), passed in as a dict.

Every refusal is a ``Refused`` (a ``WorkbookError``): a message-catalogue key and
its parameters.
"""
from __future__ import annotations

import codecs
import html
import io
import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Collection, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..core import messages
from ..core.errors import DefinitionsError, WorkbookError
from ..core.text import header_key
from .files import ODS_MARK, SNIFF_BYTES, sniff

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ENCRYPTION_MARK = "EncryptionInfo".encode("utf-16-le")
LIMIT_KEYS = ("max_file_bytes", "max_members", "max_uncompressed_bytes", "max_ratio", "ratio_min_bytes")
GRID_KEYS = ("max_rows", "max_columns", "max_cells")  # the reach of a sheet's cells


def required_limits(found: Any, keys: Collection[str], file: Path, section: str) -> dict[str, Any]:
    """The limits table ``section`` of a definitions ``file``, with every key of ``keys``
    (DefinitionsError naming the missing ones: without them a file could ask for any size)."""
    found = found if isinstance(found, dict) else {}
    missing = [k for k in keys if k not in found]
    if missing:
        raise DefinitionsError("bad_definitions", file=str(file), reason=messages.text(
            "definitions_missing_keys", keys=", ".join(f"{section}.{k}" for k in missing)))
    return found


class Refused(WorkbookError):
    """A file refused by a safety check (or by its reader): ``key`` and ``params`` of the catalogue."""


def _say(limits: Mapping[str, Any], key: str) -> str:
    """The catalogue key to use for ``key``: the limits' own ``messages`` table may reword a
    refusal for its kind of file (a submission is not a village form)."""
    return (limits.get("messages") or {}).get(key, key)


def read_bytes(path: Path, limits: Mapping[str, Any]) -> bytes:
    """The whole file, once; a file over ``max_file_bytes`` is refused before it is read."""
    name = path.name
    try:
        size = path.stat().st_size
    except OSError:
        raise Refused("not_found", file=str(path)) from None
    limit = int(limits["max_file_bytes"])
    if size > limit:
        raise Refused(_say(limits, "import_too_large"), file=name, size=f"{size / 1e6:.1f}".replace(".", ","),
                      limit=f"{limit / 1e6:.1f}".replace(".", ","))  # Vietnamese decimal comma
    try:
        return path.read_bytes()
    except OSError as exc:
        raise Refused("unreadable", file=name, reason=exc.strerror or str(exc)) from None


def open_zip(data: bytes, name: str, limits: Mapping[str, Any], *, parsed_safely: Collection[str] = (),
             grid_sheets: Collection[str] | None = None) -> zipfile.ZipFile:
    """The file's bytes as an open, checked zip (the caller closes it).

    ``parsed_safely``: accepted for the callers' sake (every XML part is scanned whole).
    ``grid_sheets``: the only sheets the caller turns into grids (by name, as ``header_key``
    compares them); None: every sheet's cells are checked.
    """
    if data[:8] == OLE_MAGIC:
        raise Refused("encrypted" if ENCRYPTION_MARK in data else "file_is_xls", file=name)
    if data[:2] != b"PK":
        raise Refused(sniff(data[:SNIFF_BYTES]) or "not_xlsx", file=name)  # a CSV renamed, an empty file …
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise Refused(_say(limits, "import_damaged"), file=name, reason=str(exc) or type(exc).__name__) from None
    checked = False
    try:
        check_zip(zf, data, name, limits, parsed_safely=parsed_safely, grid_sheets=grid_sheets)
        checked = True
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
        raise Refused(_say(limits, "import_damaged"), file=name, reason=str(exc) or type(exc).__name__) from None
    except (OSError, RuntimeError, ValueError) as exc:  # zlib errors of a corrupted member, etc.
        raise Refused("unreadable", file=name, reason=str(exc) or type(exc).__name__) from None
    finally:
        if not checked:
            zf.close()
    return zf


def read_checked(path: str | Path, limits: Mapping[str, Any], *, parsed_safely: Collection[str] = (),
                 grid_sheets: Collection[str] | None = None) -> tuple[bytes, zipfile.ZipFile]:
    """Read ``path`` once and check it: its bytes and the open zip (the caller closes it)."""
    path = Path(path)
    data = read_bytes(path, limits)
    return data, open_zip(data, path.name, limits, parsed_safely=parsed_safely, grid_sheets=grid_sheets)


def check_zip(zf: zipfile.ZipFile, data: bytes, name: str, limits: Mapping[str, Any], *,
              parsed_safely: Collection[str] = (), grid_sheets: Collection[str] | None = None) -> None:
    """The zip directory: bombs (members, ratio, inflated size), macros, an xlsx at all; then
    every part, streamed: its real size, a DTD anywhere, the reach of the cells of every sheet
    a reader turns into a grid.

    ``parsed_safely`` is accepted for the callers' sake; every XML part is scanned whole now.
    ``grid_sheets``: the sheets the caller reads as grids (a rollup reads three of a
    submission's thirteen); their parts are found as the readers find them
    (``_grid_parts``), and when that is not certain every sheet is checked. None: every sheet.
    """
    infos = zf.infolist()
    if len(infos) > int(limits["max_members"]):
        raise Refused("import_zip_bomb", file=name, detail=messages.text("import_detail_members", count=len(infos)))
    total = 0
    ratio_min = int(limits["ratio_min_bytes"])
    max_ratio = float(limits["max_ratio"])
    macros_allowed = bool(limits.get("allow_macros", False))
    for info in infos:
        total += info.file_size
        if info.file_size > ratio_min and info.file_size > max_ratio * max(info.compress_size, 1):
            raise Refused("import_zip_bomb", file=name,
                          detail=messages.text("import_detail_ratio", part=info.filename, ratio=info.file_size // max(info.compress_size, 1)))
        if info.filename.lower().endswith("vbaproject.bin") and not macros_allowed:
            raise Refused(_say(limits, "import_macros"), file=name)
    if total > int(limits["max_uncompressed_bytes"]):
        raise Refused("import_zip_bomb", file=name, detail=messages.text("import_detail_inflated", mb=total // 1_000_000))
    names = {i.filename for i in infos}
    if "xl/workbook.xml" not in names:
        raise Refused("file_is_ods" if ODS_MARK in data[:128] else "not_xlsx", file=name)
    budget = [int(limits["max_uncompressed_bytes"])]  # real inflated bytes left for the whole file
    grid = _grid_limits(limits)
    gridded = None if grid is None or grid_sheets is None else _grid_parts(zf, data, grid_sheets)
    for info in infos:
        if info.is_dir():
            continue
        whole = _small_member(data, info)
        part_grid = grid if gridded is None or info.filename.lower() in gridded else None
        if whole is not None and whole[:1] == b"<" and whole[1:2] != b"\x00" \
                and (part_grid is None or b"sheetData" not in whole):
            # a small part that is no grid read (most of them): the DTD check is all it needs
            budget[0] -= len(whole)
            if b"<!" in whole and DTD.search(whole):
                raise Refused("import_xml_unsafe", file=name, part=info.filename)
            continue
        far = _scan_part(zf, data, name, info, part_grid, budget, whole)
        if far is not None and grid is not None:  # a reach is only ever found against a grid
            raise _grid_refusal(zf, name, info.filename, far, grid, limits)


# ------------------------------------------------------------------ the streaming pass
CHUNK = 1 << 20  # inflated bytes per step: memory stays small whatever the part's size
MAX_TAG_BYTES = 4 << 20  # one tag (its attributes) longer than this is nothing an application writes
DTD = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.I)
# The fast pass reads cells as every application writes them, <c r="C13" ...> (r first, double
# quotes; a literal prefix keeps the regex fast). It holds only when every <c tag of the piece is
# one of those and nothing can hide a tag (a comment, CDATA, a processing instruction, a
# namespace prefix): otherwise the part goes to the exact pass, which reads every tag.
_CELL_REF = re.compile(rb'<c r="([A-Za-z]+)([0-9]+)"')
_TAG = re.compile(rb"<(/?)(?:[\w.-]+:)?(row|c)\b([^>]*?)(/?)>")  # the exact pass (rare)
_REF_ATTR = re.compile(rb"""\sr\s*=\s*["']([A-Za-z]*)([0-9]*)["']""")
_BOMS = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}
_UTF16_STARTS = {b"<\x00": "utf-16-le", b"\x00<": "utf-16-be"}
_NOT_GRIDS = ("calcchain.xml",)  # parts with cell references that no reader turns into a grid


def _grid_limits(limits: Mapping[str, Any]) -> tuple[int, int, int] | None:
    if not all(k in limits for k in GRID_KEYS):
        return None
    return int(limits["max_rows"]), int(limits["max_columns"]), int(limits["max_cells"])


@lru_cache(maxsize=8)
def _beyond_quick_block(grid: tuple[int, int, int]) -> re.Pattern[bytes] | None:
    """A cell reference not plainly inside the block a quick look clears (fewer letters than
    max_columns has, fewer digits than max_rows has, and nothing else before the closing
    quote). None when a grid of that block could exceed max_cells: every reference is read."""
    rows, cols, cells = grid
    digits, letters = len(str(rows)), len(_letters(cols))
    safe_rows = 10 ** (digits - 1) - 1
    safe_cols = _col_number(b"Z" * (letters - 1)) if letters > 1 else 0
    if safe_rows * safe_cols > cells or not safe_rows or not safe_cols:
        return None
    return re.compile(rb'<c r="(?![A-Za-z]{1,%d}[0-9]{1,%d}")' % (letters - 1, digits - 1))


def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ch - 64)
    return n


def _raw_chunks(zf: zipfile.ZipFile, data: bytes, info: zipfile.ZipInfo):
    """The member's inflated bytes, chunk by chunk, straight from the file's bytes."""
    start = info.header_offset
    if data[start:start + 4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(info.filename)
    name_len, extra_len = struct.unpack("<HH", data[start + 26:start + 30])
    start += 30 + name_len + extra_len
    raw = data[start:start + info.compress_size]
    if info.compress_type == zipfile.ZIP_STORED:
        for i in range(0, len(raw), CHUNK):
            yield raw[i:i + CHUNK]
        return
    if info.compress_type == zipfile.ZIP_DEFLATED:
        inflater = zlib.decompressobj(-15)
        try:
            piece = inflater.decompress(raw, CHUNK)
            while piece:
                yield piece
                piece = inflater.decompress(inflater.unconsumed_tail, CHUNK)
        except zlib.error:
            raise zipfile.BadZipFile(info.filename) from None
        return
    with zf.open(info) as fh:  # another method (bzip2, lzma): the slow path
        while piece := fh.read(CHUNK):
            yield piece


def _small_member(data: bytes, info: zipfile.ZipInfo) -> bytes | None:
    """A deflated member of at most CHUNK bytes, inflated at once; None when it is bigger, stored
    otherwise, or inflates past its declared size (the streaming path then counts it)."""
    if info.compress_type != zipfile.ZIP_DEFLATED or info.file_size > CHUNK:
        return None
    start = info.header_offset
    if data[start:start + 4] != b"PK\x03\x04":
        return None
    name_len, extra_len = struct.unpack("<HH", data[start + 26:start + 30])
    start += 30 + name_len + extra_len
    inflater = zlib.decompressobj(-15)
    try:
        out = inflater.decompress(data[start:start + info.compress_size], info.file_size + 1)
    except zlib.error:
        return None
    return out if inflater.eof and len(out) <= info.file_size else None


def _pieces(zf: zipfile.ZipFile, data: bytes, name: str, info: zipfile.ZipInfo, budget: list[int],
            whole: bytes | None = None):
    """The member's text in pieces that never cut a tag (a piece ends before a ``<`` or inside
    text), as UTF-8; one None when the member is not XML. The real inflated size is charged to
    ``budget`` (a zip may lie about its sizes). ``whole``: the member already inflated by
    ``_small_member`` (not inflated again)."""
    whole = _small_member(data, info) if whole is None else whole
    if whole is not None:  # the common case (a form's parts, most of a workbook's): one piece
        budget[0] -= len(whole)
        if budget[0] < 0:
            raise Refused("import_zip_bomb", file=name,
                          detail=messages.text("import_detail_inflated", mb=max(info.file_size // 1_000_000, 1)))
        text = whole.removeprefix(b"\xef\xbb\xbf").lstrip()
        if whole[:2] not in _BOMS and text[:2] not in _UTF16_STARTS:
            yield None if text and not text.startswith(b"<") else whole
            return
        budget[0] += len(whole)  # UTF-16: decoded by the streaming path, which charges it again
    carry = b""  # an unfinished tag: starts with "<"
    decoder = None
    first = True
    for chunk in _raw_chunks(zf, data, info):
        budget[0] -= len(chunk)
        if budget[0] < 0:
            raise Refused("import_zip_bomb", file=name,
                          detail=messages.text("import_detail_inflated", mb=max(info.file_size // 1_000_000, 1)))
        if first:
            first = False
            bom = _BOMS.get(chunk[:2])
            text = chunk.removeprefix(b"\xef\xbb\xbf").lstrip()
            if bom:
                decoder = codecs.getincrementaldecoder(bom)()
            elif text[:2] in _UTF16_STARTS:  # UTF-16 without a byte order mark ("<" is 3C 00 or 00 3C)
                decoder = codecs.getincrementaldecoder(_UTF16_STARTS[text[:2]])()
            elif text and not text.startswith(b"<"):
                yield None  # a picture, vbaProject.bin …: not XML, nothing parses it as XML
                return
        if decoder is not None:
            chunk = decoder.decode(chunk).encode("utf-8", "replace")
        lt = chunk.rfind(b"<")
        buf = carry + chunk
        if lt >= 0 and len(carry) + lt > 0:
            cut = len(carry) + lt
            carry = buf[cut:]
            yield buf[:cut]
        elif not buf.startswith(b"<") or b">" in buf:
            carry = b""
            yield buf  # text, or a whole tag followed by text
        else:
            carry = buf  # a tag still open
            if len(carry) > MAX_TAG_BYTES:
                raise Refused("unreadable", file=name,
                              reason=messages.text("import_detail_long_tag", part=info.filename))
    if carry:
        yield carry


def _scan_part(zf, data: bytes, name: str, info: zipfile.ZipInfo, grid: tuple[int, int, int] | None,
               budget: list[int], whole: bytes | None = None) -> tuple[int, int, int] | None:
    """One streaming pass over a member: refuses a DTD; returns (rows, columns, cells) when the
    part's cells may reach past ``grid`` (then checked exactly by ``_exact_reach``), else None.
    ``whole``: the member already inflated (``_small_member``)."""
    gridded = grid is not None and not info.filename.lower().endswith(_NOT_GRIDS)
    max_row = max_col = values = 0
    odd = sheet_data = False
    first = True  # the XML declaration <?xml …?> opens the first piece
    before = budget[0]
    for piece in _pieces(zf, data, name, info, budget, whole):
        if piece is None:
            return None
        start, first = (1 if first else 0), False
        marked = b"<!" in piece  # memchr-fast first: "<!" is rare (a DTD, a comment, CDATA)
        if marked and DTD.search(piece):
            raise Refused("import_xml_unsafe", file=name, part=info.filename)
        if grid is None or not gridded:
            continue
        if not sheet_data:  # readers place cells from <sheetData> only (a theme's r="50000" is no cell)
            sheet_data = b"sheetData" in piece
            if not sheet_data:
                continue
        beyond = _beyond_quick_block(grid)
        if beyond is None or beyond.search(piece):  # a reference that may reach out: every one is read
            cells = _CELL_REF.findall(piece)
            refs = len(cells)
            if cells:
                max_row = max(max_row, max(map(int, {r for _, r in cells})))
                max_col = max(max_col, max(map(_col_number, {c for c, _ in cells})))
        else:  # every <c r="…"> lies inside the block whose every grid fits the limits
            refs = piece.count(b'<c r="')
        # every "<c" that is no <col…>, <cols>, <conditionalFormatting> or <cfRule> may be a cell
        # (followed by a space, a tab, a line break, ">" or "/"): one the references do not
        # account for sends the part to the exact pass
        odd = odd or marked or refs != piece.count(b"<c") - piece.count(b"<co") - piece.count(b"<cf") \
            or piece.find(b"<?", start) >= 0 or b":c" in piece
        values += piece.count(b"<v>") + piece.count(b"<is>")
        if values > grid[2]:  # more values than a whole grid may hold: no need to read on
            return grid[0] + 1, grid[1] + 1, values
    if grid is None or not gridded or not sheet_data:
        return None
    if odd or max_row > grid[0] or max_col > grid[1] or max_row * max_col > grid[2]:
        budget[0] = before  # the exact pass reads the same bytes again
        return _exact_reach(zf, data, name, info, grid, budget)
    return None


def _exact_reach(zf, data: bytes, name: str, info: zipfile.ZipInfo, grid: tuple[int, int, int],
                 budget: list[int]) -> tuple[int, int, int] | None:
    """Where the cells holding something really reach, placing each like a reader does (a cell's
    own r, else the next column of its row; a row's own r, else the next row). Cells without
    content (formatting only) and rows without cells are ignored: no reader sizes a grid by them.
    Returns (row, column, values) of the first cell past the limits, or None."""
    row = col = 0
    max_row = max_col = values = 0
    corner = None
    for piece in _pieces(zf, data, name, info, budget):
        if piece is None:
            return None
        for m in _TAG.finditer(piece):
            closing, tag, attrs, empty = m.groups()
            if closing:
                continue
            ref = _REF_ATTR.search(attrs)
            if tag == b"row":
                row = int(ref.group(2)) if ref and ref.group(2) else row + 1
                col = 0
                continue
            if ref and ref.group(1):
                col = _col_number(ref.group(1))
                row = int(ref.group(2)) if ref.group(2) else row
            else:
                col += 1
            if empty:
                continue
            values += 1
            if row > grid[0] or col > grid[1]:
                return row, col, values
            if row > max_row or col > max_col:
                max_row, max_col = max(max_row, row), max(max_col, col)
                if max_row * max_col > grid[2]:
                    corner = (max_row, max_col, values)
    return corner


def _grid_refusal(zf: zipfile.ZipFile, name: str, part: str, far: tuple[int, int, int],
                  grid: tuple[int, int, int], limits: Mapping[str, Any]) -> Refused:
    """The one line: the file, the sheet (by its name in the workbook) and the cell."""
    row, col, values = far
    sheet = _sheet_of_part(zf, part) or part
    max_rows, max_cols, max_cells = grid
    if values > max_cells:
        return Refused(_say(limits, "import_too_many_cells"), file=name, sheet=sheet,
                       limit=f"{max_cells:,}".replace(",", "."))
    cell = f"{_letters(col)}{row}"
    if row > max_rows or col > max_cols:
        return Refused(_say(limits, "import_far_cell"), file=name, sheet=sheet, cell=cell,
                       rows=f"{max_rows:,}".replace(",", "."), columns=_letters(max_cols))
    return Refused(_say(limits, "import_too_many_cells"), file=name, sheet=sheet,
                   limit=f"{max_cells:,}".replace(",", "."))


def _letters(col: int) -> str:
    """1 -> A, 26 -> Z, 27 -> AA (a far column is shown as it is, however far)."""
    out = ""
    while col > 0:
        col, rem = divmod(col - 1, 26)
        out = chr(65 + rem) + out
    return out or "A"


def _sheet_of_part(zf: zipfile.ZipFile, part: str) -> str | None:
    """The sheet's name for a worksheet part (workbook.xml and its relationships, parsed safely)."""
    from defusedxml import ElementTree as SafeET  # only on this rare path

    try:
        book = SafeET.fromstring(zf.read("xl/workbook.xml"))
        rels = SafeET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    except Exception:  # noqa: BLE001 - the message then names the part
        return None
    target = {}
    for el in rels.iter("{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"):
        t = el.get("Target") or ""
        target[el.get("Id")] = t.lstrip("/") if t.startswith("/") else "xl/" + t
    for el in book.iter("{http://schemas.openxmlformats.org/spreadsheetml/2006/main}sheet"):
        rid = el.get("{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id")
        if target.get(rid) == part:
            return el.get("name")
    return None


# ------------------------------------------------------------------ which parts are read as grids
_TAG_OF = {name: re.compile(rb"<(/?)([\w.-]+:)?" + name + rb"\b([^>]*)>") for name in (b"sheet", b"Relationship")}
_ATTR = re.compile(rb"""([\w.:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_OFFICE_DOCUMENT = b"/officeDocument"


def _attrs(raw: bytes) -> dict[bytes, str] | None:
    """A tag's attributes (values unescaped), None when one appears twice."""
    out: dict[bytes, str] = {}
    for m in _ATTR.finditer(raw):
        key = m.group(1)
        if key in out:
            return None
        out[key] = html.unescape((m.group(2) if m.group(2) is not None else m.group(3) or b"").decode("utf-8"))
    return out


def _tags(xml: bytes, tag: bytes) -> list[dict[bytes, str]] | None:
    """The attributes of every ``tag`` element of a small part, None when any cannot be read plainly."""
    found = []
    for m in _TAG_OF[tag].finditer(xml):
        if m.group(1):
            continue  # a closing tag
        if m.group(2):
            return None  # a namespace prefix: not read plainly here
        attrs = _attrs(m.group(3))
        if attrs is None:
            return None
        found.append(attrs)
    return found


def _grid_parts(zf: zipfile.ZipFile, data: bytes, sheets: Collection[str]) -> set[str] | None:
    """The worksheet parts of the sheets named in ``sheets`` (``header_key`` compared), found as
    python-calamine finds them: the package's officeDocument relationship must be
    xl/workbook.xml, each <sheet> of it names its part by its relationship id. None (every
    sheet is then checked) when any step is not plain: a part missing, big, not UTF-8, holding
    "<!" (a comment, CDATA or DTD could hide a tag from this reading), a namespace prefix, an
    attribute twice, a sheet without its relationship."""
    def small(part: str) -> bytes | None:
        try:
            info = zf.getinfo(part)
        except KeyError:
            return None
        raw = _small_member(data, info)
        if raw is None or b"<!" in raw or raw[:2] in _BOMS or raw[:2] in _UTF16_STARTS:
            return None
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return raw

    package, book, rels = small("_rels/.rels"), small("xl/workbook.xml"), small("xl/_rels/workbook.xml.rels")
    if package is None or book is None or rels is None:
        return None
    documents = [r for r in _tags(package, b"Relationship") or [] if r.get(b"Type", "").encode().endswith(_OFFICE_DOCUMENT)]
    if len(documents) != 1 or documents[0].get(b"Target", "").lstrip("/") != "xl/workbook.xml":
        return None
    relationships = _tags(rels, b"Relationship")
    entries = _tags(book, b"sheet")
    if relationships is None or not entries:
        return None
    members = {i.filename.lower() for i in zf.infolist()}
    target = {}
    for r in relationships:
        t = r.get(b"Target", "").replace("\\", "/")
        target[r.get(b"Id", "")] = posixpath.normpath(t.lstrip("/") if t.startswith("/") else "xl/" + t).lower()
    wanted = {header_key(s) for s in sheets}
    parts = set()
    for entry in entries:
        ids = [v for k, v in entry.items() if k.endswith(b":id")]
        if b"name" not in entry or len(ids) != 1 or target.get(ids[0]) not in members:
            return None
        if header_key(entry[b"name"]) in wanted:
            parts.add(target[ids[0]])
    return parts  # lower case: a reader may match a part's name without regard to case
