"""The checksum of a submission's Số liệu rows: one canonical text, its SHA-256."""
from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable
from typing import Any


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return v if isinstance(v, str) else str(v)


def canonical_text(rows: Iterable[tuple[Any, ...]]) -> str:
    """Rows as NFC text, tab-separated, one per line: what the checksum covers.

    The text is normalised once, whole: a tab and a line break combine with nothing, so NFC of
    the whole is the cells' NFC joined (and a national rollup checks hundreds of thousands)."""
    text = "\n".join(["\t".join([v if v.__class__ is str else _cell(v) for v in row]) for row in rows]) + "\n"
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def rows_checksum(rows: Iterable[tuple[Any, ...]]) -> str:
    return hashlib.sha256(canonical_text(rows).encode("utf-8")).hexdigest()
