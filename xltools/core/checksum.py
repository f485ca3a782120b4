"""The checksum of a submission's Số liệu rows: one canonical text, its SHA-256."""
from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable
from typing import Any


def canonical_text(rows: Iterable[tuple[Any, ...]]) -> str:
    """Rows as NFC text, tab-separated, one per line: what the checksum covers."""
    lines = []
    for row in rows:
        cells = []
        for v in row:
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            cells.append(unicodedata.normalize("NFC", "" if v is None else str(v)))
        lines.append("\t".join(cells))
    return "\n".join(lines) + "\n"


def rows_checksum(rows: Iterable[tuple[Any, ...]]) -> str:
    return hashlib.sha256(canonical_text(rows).encode("utf-8")).hexdigest()

