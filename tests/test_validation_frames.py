"""The vectorised/memoised path of ``frames.build_frame`` types exactly like ``coerce`` value by value."""
from __future__ import annotations

import datetime as dt
import math

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from xltools.core.definitions import get_definitions
from xltools.core.frames import build_frame, coerce
from xltools.core.text import ValueProblem

VALUES = st.one_of(
    # counts up to 2**53 (beyond 2**63 build_frame reports a problem where coerce returns a huge int)
    st.none(), st.just(""), st.just("  "), st.floats(max_value=2.0**53), st.sampled_from([float("nan"), float("-inf"), float("inf")]),
    st.floats(min_value=-3, max_value=300).map(round).map(float),
    st.integers(min_value=-5, max_value=2**53), st.booleans(), st.sampled_from(["12", "1.234", "12 người", "#REF!", "-3", "2,5"]),
    st.just(float("nan")), st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2030, 1, 1)),
)


def reference(defs, sheet, rows):
    """build_frame as it was: coerce every value, one by one."""
    data, problems = {}, []
    for col in sheet.readable_columns:
        lst = defs.lists[col.list].values if col.list else ()
        out = []
        for n, rec in enumerate(rows, start=2):
            try:
                out.append(coerce(rec.get(col.key), col, lst))
            except ValueProblem as exc:
                out.append(None)
                problems.append((n, col.key, exc.reason))
        data[col.key] = out
    return data, problems


def same(a, b) -> bool:
    if (a is None or a is pd.NA) and (b is None or b is pd.NA):
        return True
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b and type(a) is type(b) if not hasattr(a, "item") else a.item() == b


@settings(deadline=None)  # examples: the lane's profile (tests/conftest.py)
@given(st.lists(st.fixed_dictionaries({"tips": VALUES, "period": VALUES, "village_code": VALUES, "report_date": VALUES}),
                min_size=1, max_size=30))
def test_build_frame_equals_value_by_value_coercion(rows):
    defs = get_definitions()
    sheet = defs.sheet("reports")
    frame, problems = build_frame(defs, sheet, rows)
    data, expected = reference(defs, sheet, rows)
    assert sorted((p.row, p.key, p.reason) for p in problems) == sorted(expected)
    for key, values in data.items():
        got = frame[key].astype(object).tolist()
        assert all(same(g if g is not pd.NA else None, v) for g, v in zip(got, values)), key
    assert str(frame["tips"].dtype) == "Int64"


def test_plain_number_columns_take_the_fast_path(defs):
    rows = [{"tips": 1.0, "team_meetings": None}, {"tips": 3, "team_meetings": float("nan")}, {"tips": 0.0}]
    frame, problems = build_frame(defs, defs.sheet("reports"), rows)
    assert frame["tips"].tolist() == [1, 3, 0] and str(frame["tips"].dtype) == "Int64"
    assert frame["team_meetings"].isna().all() and not [p for p in problems if p.key == "tips"]
    frame, problems = build_frame(defs, defs.sheet("reports"), [{"tips": 1.0}, {"tips": -2.0}, {"tips": 2.5}])
    assert frame["tips"].tolist()[0] == 1 and frame["tips"].isna().tolist()[1:] == [True, True]
    assert [(p.row, p.reason) for p in problems if p.key == "tips"] == [(3, "reason_negative"), (4, "reason_fraction")]


def test_a_count_too_large_for_int64_is_a_problem_not_a_crash(defs):
    frame, problems = build_frame(defs, defs.sheet("reports"), [{"tips": 1e19}, {"tips": 3.0}, {"tips": "12"}])
    assert frame["tips"].isna().tolist() == [True, False, False] and frame["tips"].tolist()[1:] == [3, 12]
    assert [(p.row, p.reason) for p in problems] == [(2, "validate_reason_too_large")]
