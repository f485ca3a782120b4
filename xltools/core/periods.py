"""Reporting periods: YYYY-MM, YYYY-Qn, YYYY-H1/H2, YYYY-9T and YYYY.

A period knows its months and its data window under Decree 09/2019/NĐ-CP art. 12
(the 15th of the month before the first month to the 14th of the last month); the
cut-off day is a parameter because that rule is a secondary-source reading.
"""
from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from typing import SupportsInt

from .errors import InputError

_PATTERNS = (
    ("month", re.compile(r"^(\d{4})-(\d{2})$")),
    ("quarter", re.compile(r"^(\d{4})-Q([1-4])$", re.I)),
    ("half", re.compile(r"^(\d{4})-H([12])$", re.I)),
    ("nine", re.compile(r"^(\d{4})-9T$", re.I)),
    ("year", re.compile(r"^(\d{4})$")),
)
_ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}


@dataclass(frozen=True, order=True)
class Period:
    year: int
    kind: str  # month | quarter | half | nine | year
    n: int = 0  # month 1-12, quarter 1-4, half 1-2; 0 for nine and year

    @classmethod
    def parse(cls, text: str | Period) -> Period:
        if isinstance(text, Period):
            return text
        value = str(text).strip()
        for kind, pattern in _PATTERNS:
            m = pattern.match(value)
            if m:
                year = int(m.group(1))
                n = int(m.group(2)) if m.lastindex and m.lastindex > 1 else 0
                if not 1900 <= year <= 2999 or (kind == "month" and not 1 <= n <= 12):
                    break
                return cls(year, kind, n)
        raise InputError("bad_period", value=value)

    def __str__(self) -> str:
        if self.kind == "month":
            return f"{self.year:04d}-{self.n:02d}"
        if self.kind == "quarter":
            return f"{self.year:04d}-Q{self.n}"
        if self.kind == "half":
            return f"{self.year:04d}-H{self.n}"
        if self.kind == "nine":
            return f"{self.year:04d}-9T"
        return f"{self.year:04d}"

    @property
    def month_numbers(self) -> list[int]:
        if self.kind == "month":
            return [self.n]
        if self.kind == "quarter":
            return [3 * self.n - 2, 3 * self.n - 1, 3 * self.n]
        if self.kind == "half":
            return list(range(1, 7)) if self.n == 1 else list(range(7, 13))
        if self.kind == "nine":
            return list(range(1, 10))
        return list(range(1, 13))

    def months(self) -> list[str]:
        """The months covered, as YYYY-MM texts, in order."""
        return [f"{self.year:04d}-{m:02d}" for m in self.month_numbers]

    def window(self, cut_day: int = 15) -> tuple[dt.date, dt.date]:
        """First and last day of data: the cut day of the month before to the day before it."""
        first = self.month_numbers[0]
        last = self.month_numbers[-1]
        start_year, start_month = (self.year - 1, 12) if first == 1 else (self.year, first - 1)
        return dt.date(start_year, start_month, cut_day), dt.date(self.year, last, cut_day) - dt.timedelta(days=1)

    @property
    def label(self) -> str:
        """Vietnamese name of the period as written in reports."""
        from . import messages

        key = f"period_{self.kind}" if self.kind != "half" else f"period_half_{self.n}"
        return messages.text(key, n=f"{self.n:02d}", roman=_ROMAN.get(self.n, str(self.n)), year=self.year)


def month_of(value: dt.date | dt.datetime) -> str:
    return f"{value.year:04d}-{value.month:02d}"


def previous_month(month: str) -> str:
    p = Period.parse(month)
    return f"{p.year - 1}-12" if p.n == 1 else f"{p.year:04d}-{p.n - 1:02d}"


DEFAULT_DEADLINE_DAY = 18


def deadline_day_of(value: object) -> int:
    """The ``form_deadline_day`` setting as a day 1..31 (18 when it is unusable)."""
    day = DEFAULT_DEADLINE_DAY
    if isinstance(value, (str, SupportsInt)):
        try:
            day = int(value)
        except (TypeError, ValueError):
            day = DEFAULT_DEADLINE_DAY
    return min(max(day, 1), 31)


def report_deadline(month: str, deadline_day: int, cut_day: int = 15) -> dt.date:
    """The last day a village report of ``month`` (YYYY-MM) is on time.

    The deadline day of the month itself, or of the next month when that day comes
    before the month's data window closes (``cut_day``); a day past the month's end is
    its last day. Forms print it, validation checks it, aggregation counts timeliness by it.
    """
    year, mon = int(month[:4]), int(month[5:7])
    if deadline_day < cut_day:
        year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)
    return dt.date(year, mon, min(deadline_day, calendar.monthrange(year, mon)[1]))
