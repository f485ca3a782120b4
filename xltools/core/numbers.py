"""Numbers as a Vietnamese reader reads them: 85,3% and 1.234.567."""
from __future__ import annotations

import math
from typing import Any

import pandas as pd


def percent(value: float | None, decimals: int = 1, comma: bool = True) -> str:
    """0.853 -> '85,3%' (Vietnamese decimal comma); None -> '–'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = f"{value * 100:.{decimals}f}%"
    return text.replace(".", ",") if comma else text


def group_number(value: Any) -> str:
    """1234567 -> '1.234.567'; None -> ''."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{int(round(float(value))):,}".replace(",", ".")

