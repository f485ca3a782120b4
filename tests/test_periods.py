"""Periods: parsing and printing round-trip, months covered, Decree 09 data windows."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xltools.core.errors import InputError
from xltools.core.periods import Period, previous_month

years = st.integers(min_value=1900, max_value=2999)
periods = st.one_of(
    st.builds(lambda y, m: f"{y:04d}-{m:02d}", years, st.integers(1, 12)),
    st.builds(lambda y, q: f"{y:04d}-Q{q}", years, st.integers(1, 4)),
    st.builds(lambda y, h: f"{y:04d}-H{h}", years, st.integers(1, 2)),
    st.builds(lambda y: f"{y:04d}-9T", years),
    st.builds(lambda y: f"{y:04d}", years),
)


@given(periods)
def test_parse_and_print_round_trip(text):
    period = Period.parse(text)
    assert str(period) == text
    assert Period.parse(str(period)) == period


@given(years, st.integers(1, 4))
def test_a_quarter_is_its_three_months(year, q):
    quarter = Period.parse(f"{year}-Q{q}")
    months = [Period.parse(m) for m in quarter.months()]
    assert len(months) == 3 and all(m.kind == "month" for m in months)
    assert [m.n for m in months] == [3 * q - 2, 3 * q - 1, 3 * q]
    # the quarter's window is exactly the union of its months' windows
    assert quarter.window()[0] == months[0].window()[0]
    assert quarter.window()[1] == months[-1].window()[1]


@given(years)
def test_longer_periods_cover_the_right_months(year):
    assert Period.parse(f"{year}-H1").months() + Period.parse(f"{year}-H2").months() == Period.parse(str(year)).months()
    assert Period.parse(f"{year}-9T").months() == Period.parse(str(year)).months()[:9]
    assert sum((Period.parse(f"{year}-Q{q}").months() for q in range(1, 5)), []) == Period.parse(str(year)).months()


@given(years.filter(lambda y: y < 2999), st.integers(1, 12), st.integers(min_value=2, max_value=28))
def test_month_windows_tile_the_calendar(year, month, cut_day):
    period = Period.parse(f"{year:04d}-{month:02d}")
    start, end = period.window(cut_day)
    assert start.day == cut_day and end.day == cut_day - 1
    assert (end.year, end.month) == (year, month)
    nxt = Period.parse(f"{year + 1}-01" if month == 12 else f"{year:04d}-{month + 1:02d}")
    assert nxt.window(cut_day)[0] == end + dt.timedelta(days=1)
    assert previous_month(str(nxt)) == str(period)


def test_decree_09_windows_of_the_domain_brief():
    assert Period.parse("2023-03").window() == (dt.date(2023, 2, 15), dt.date(2023, 3, 14))
    assert Period.parse("2023-H1").window() == (dt.date(2022, 12, 15), dt.date(2023, 6, 14))
    assert Period.parse("2023").window() == (dt.date(2022, 12, 15), dt.date(2023, 12, 14))
    assert Period.parse("2023-Q4").label == "quý IV năm 2023"


@pytest.mark.parametrize("text", ["2023-13", "2023-00", "2023-Q5", "2023-H3", "23-01", "2023/01", "", "tháng 1"])
def test_invalid_periods_are_refused_with_a_message(text):
    with pytest.raises(InputError) as err:
        Period.parse(text)
    assert "YYYY-MM" in str(err.value)
    assert str(err.value).startswith(f"Kỳ báo cáo “{text}” không hợp lệ; dùng YYYY-MM (tháng)")  # Vietnamese first
