"""Text and number normalisation shared by the reader, validation and import.

Users type with Unikey/Telex/VNI, paste from old files and use phones: input may
arrive decomposed (NFD), with stray or non-breaking spaces, or with Vietnamese
digit grouping ("1.234"). Everything is normalised here, once.
"""
from __future__ import annotations

import math
import re
import unicodedata
from typing import Any

_SPACES = re.compile(r"\s+")
# Excel's error values, as spreadsheet readers return them.
ERROR_VALUES = frozenset({"#REF!", "#VALUE!", "#DIV/0!", "#NAME?", "#N/A", "#NUM!", "#NULL!", "#SPILL!", "#CALC!", "#GETTING_DATA"})


def nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


def clean(value: Any) -> Any:
    """NFC, trimmed, inner runs of white space folded to one space; '' becomes None."""
    if isinstance(value, str):
        value = _SPACES.sub(" ", nfc(value).replace("\u00a0", " ")).strip()
        return value or None
    return value


def header_key(value: Any) -> str:
    """Loose form of a header for matching: NFC, case-folded, spaces folded."""
    if value is None:
        return ""
    text = clean(str(value)) or ""
    return text.casefold()


def is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and clean(value) is None


class ValueProblem(ValueError):
    """A value that cannot be read as its type; ``reason`` is a message-catalogue key."""

    def __init__(self, reason: str, value: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.value = value


def _cell_text(value: str) -> str:
    """Trimmed NFC text of a cell; empty cells and Excel error values are problems."""
    text = clean(value)
    if text is None:
        raise ValueProblem("reason_empty", value)
    if text.upper() in ERROR_VALUES:
        raise ValueProblem("reason_error_value", text)
    return text


_GROUPED = re.compile(r"^\d{1,3}(?:[.\u00a0 \u202f]\d{3})+$")


def parse_count(value: Any) -> int:
    """A whole number >= 0 as people write it: 12, 12.0, "12", "1.234", "1 234".

    Raises ValueProblem for text ("12 người"), negatives, fractions and error values.
    """
    if isinstance(value, bool):
        raise ValueProblem("reason_not_whole", value)
    if isinstance(value, int):
        if value < 0:
            raise ValueProblem("reason_negative", value)
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueProblem("reason_not_whole", value)
        if value < 0:
            raise ValueProblem("reason_negative", value)
        if not value.is_integer():
            raise ValueProblem("reason_fraction", value)
        return int(value)
    if isinstance(value, str):
        text = _cell_text(value)
        if text.isdigit():
            return int(text)
        if _GROUPED.match(text):
            return int(re.sub(r"\D", "", text))
        if text.startswith("-") and text[1:].replace(".", "").replace(",", "").isdigit():
            raise ValueProblem("reason_negative", value)
        if re.fullmatch(r"\d+[,.]\d+", text):
            raise ValueProblem("reason_fraction", value)
        raise ValueProblem("reason_not_whole", value)
    raise ValueProblem("reason_not_whole", value)


def parse_number(value: Any) -> float:
    """A real number: 12.5, "12,5" (Vietnamese decimal comma), "1.234,5", "1.234"."""
    if isinstance(value, bool):
        raise ValueProblem("reason_not_number", value)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            raise ValueProblem("reason_not_number", value)
        return float(value)
    if isinstance(value, str):
        text = _cell_text(value)
        compact = text.replace(" ", "").replace("\u202f", "")
        if _GROUPED.match(text):
            return float(re.sub(r"\D", "", text))
        if re.fullmatch(r"-?\d{1,3}(\.\d{3})*(,\d+)?", compact) or re.fullmatch(r"-?\d+(,\d+)?", compact):
            return float(compact.replace(".", "").replace(",", "."))
        if re.fullmatch(r"-?\d+(\.\d+)?", compact):
            return float(compact)
        raise ValueProblem("reason_not_number", value)
    raise ValueProblem("reason_not_number", value)


def slug(value: str) -> str:
    """A Windows-safe ASCII file-name part: 'Hồng Thủy' -> 'HongThuy'."""
    text = nfc(value).replace("Đ", "D").replace("đ", "d")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "", text.title()) or "Xa"
