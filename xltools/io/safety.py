"""Check a workbook file from outside before anything parses it.

Village forms (``formreader``) and the communes' submissions received by email
(``submission_reader``) come from other people's computers. Each file is read from
disk once and its bytes are checked before a parser sees them: the size limit,
what kind of file it is (an OLE file is an encrypted workbook or an old .xls; a
file that is not a zip is nothing of ours), and the zip directory (member count,
total inflated size, compression ratio: a zip bomb is refused unread;
``vbaProject.bin``: macros are refused; an XML part whose head declares a DTD is
refused: XML bombs). The limits come from the definitions (``forms.toml``
[limits], ``report.toml`` [submission_limits]), passed in as a dict.

Every refusal is a ``Refused`` (a ``WorkbookError``): a message-catalogue key and
its parameters.
"""
from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from ..core import messages
from ..core.errors import WorkbookError

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ENCRYPTION_MARK = "EncryptionInfo".encode("utf-16-le")
DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.I)
XML_HEAD_BYTES = 4096
LIMIT_KEYS = ("max_file_bytes", "max_members", "max_uncompressed_bytes", "max_ratio", "ratio_min_bytes")


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


def open_zip(data: bytes, name: str, limits: Mapping[str, Any], *, parsed_safely: Collection[str] = ()) -> zipfile.ZipFile:
    """The file's bytes as an open, checked zip (the caller closes it).

    ``parsed_safely``: XML parts the caller parses whole with defusedxml; their head
    is not scanned for a DTD here (defusedxml sees all of it).
    """
    if data[:8] == OLE_MAGIC:
        raise Refused("encrypted" if ENCRYPTION_MARK in data else "not_xlsx", file=name)
    if data[:2] != b"PK":
        raise Refused("not_xlsx", file=name)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise Refused(_say(limits, "import_damaged"), file=name) from None
    checked = False
    try:
        check_zip(zf, data, name, limits, parsed_safely=parsed_safely)
        checked = True
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile):
        raise Refused(_say(limits, "import_damaged"), file=name) from None
    except (OSError, RuntimeError, ValueError) as exc:  # zlib errors of a corrupted member, etc.
        raise Refused("unreadable", file=name, reason=str(exc) or type(exc).__name__) from None
    finally:
        if not checked:
            zf.close()
    return zf


def read_checked(path: str | Path, limits: Mapping[str, Any], *,
                 parsed_safely: Collection[str] = ()) -> tuple[bytes, zipfile.ZipFile]:
    """Read ``path`` once and check it: its bytes and the open zip (the caller closes it)."""
    path = Path(path)
    data = read_bytes(path, limits)
    return data, open_zip(data, path.name, limits, parsed_safely=parsed_safely)


def check_zip(zf: zipfile.ZipFile, data: bytes, name: str, limits: Mapping[str, Any], *,
              parsed_safely: Collection[str] = ()) -> None:
    """The zip directory: bombs (members, ratio, inflated size), macros, an xlsx at all, DTDs."""
    infos = zf.infolist()
    if len(infos) > int(limits["max_members"]):
        raise Refused("import_zip_bomb", file=name, detail=messages.text("import_detail_members", count=len(infos)))
    total = 0
    ratio_min = int(limits["ratio_min_bytes"])
    max_ratio = float(limits["max_ratio"])
    for info in infos:
        total += info.file_size
        if info.file_size > ratio_min and info.file_size > max_ratio * max(info.compress_size, 1):
            raise Refused("import_zip_bomb", file=name,
                          detail=messages.text("import_detail_ratio", part=info.filename, ratio=info.file_size // max(info.compress_size, 1)))
        if info.filename.lower().endswith("vbaproject.bin"):
            raise Refused(_say(limits, "import_macros"), file=name)
    if total > int(limits["max_uncompressed_bytes"]):
        raise Refused("import_zip_bomb", file=name, detail=messages.text("import_detail_inflated", mb=total // 1_000_000))
    names = {i.filename for i in infos}
    if "xl/workbook.xml" not in names:
        raise Refused("not_xlsx", file=name)
    for info in infos:
        # The parts in parsed_safely are parsed whole by defusedxml; the others go to calamine.
        if (info.filename.endswith((".xml", ".rels", ".vml")) and info.filename not in parsed_safely
                and DTD.search(head(data, info))):
                raise Refused("import_xml_unsafe", file=name, part=info.filename)


def head(data: bytes, info: zipfile.ZipInfo) -> bytes:
    """The first bytes of a member, inflated straight from the file's bytes (cheaper than ZipFile.open)."""
    start = info.header_offset
    if data[start:start + 4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(info.filename)
    name_len, extra_len = struct.unpack("<HH", data[start + 26:start + 30])
    start += 30 + name_len + extra_len
    raw = data[start:start + info.compress_size]
    if info.compress_type == zipfile.ZIP_STORED:
        return raw[:XML_HEAD_BYTES]
    if info.compress_type == zipfile.ZIP_DEFLATED:
        try:
            return zlib.decompressobj(-15).decompress(raw, XML_HEAD_BYTES)
        except zlib.error:
            raise zipfile.BadZipFile(info.filename) from None
    with_zip = zipfile.ZipFile(io.BytesIO(data))
    with with_zip.open(info) as fh:  # another method (bzip2, lzma): the slow path
        return fh.read(XML_HEAD_BYTES)
