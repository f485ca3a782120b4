"""The merge core (no files): what each imported form does to the Báo cáo thôn table."""
from __future__ import annotations

import datetime as dt

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from xltools.core.frames import ROW, build_frame
from xltools.core.reports import Incoming, check_identity, merge_reports

NOW = dt.datetime(2024, 1, 5, 9, 30)


def table(defs, rows):
    frame, problems = build_frame(defs, defs.sheet("reports"), rows, list(range(2, 2 + len(rows))))
    assert problems == []
    return frame


def form(defs, village, n, period="2023-12", sha=None, **extra):
    values = {i.key: n for i in defs.numeric_indicators}
    values.update(reporter="Hồ Văn A", **extra)
    return Incoming(f"PhieuBaoCao_{village}_{period}_{n}.xlsx", "", sha or f"{village}{n:062d}"[:64], period, village, values)


def test_each_outcome(defs):
    manual = {"period": "2023-12", "village_code": "03", "source": "nhập tay", **{i.key: 1 for i in defs.numeric_indicators}}
    existing = table(defs, [manual])
    items = [form(defs, "01", 4), form(defs, "01", 4, sha="x" * 64), form(defs, "01", 5), form(defs, "03", 7)]
    merged = merge_reports(existing, items, defs, now=NOW)
    assert [r.status for r in merged.results] == ["accepted", "unchanged", "replaced", "rejected"]
    assert merged.updates == {}  # village 01 was new in this batch: its row is appended once
    assert [r["village_code"] for r in merged.appends] == ["01"] and merged.appends[0]["team_meetings"] == 5
    assert merged.appends[0]["report_date"] == NOW.date()  # no date on the form: the day it was received
    [hist] = merged.history
    assert hist["team_meetings"] == 4 and hist["replaced_at"] == NOW
    assert merged.frame[ROW].tolist() == [2, 3]
    again = merge_reports(existing, [form(defs, "03", 7)], defs, replace_manual=True, now=NOW)
    assert again.results[0].status == "replaced" and list(again.updates) == [2]
    assert again.history[0]["source"] == "nhập tay"


def test_identity_checks():
    villages = {"01": True, "10": False}
    ok = {"commune_code": "20041", "village_code": "01", "period": "2023-12"}
    assert check_identity("f", ok, commune_code="20041", villages=villages) == []
    assert "xã mã 1" in check_identity("f", {**ok, "commune_code": "1"}, commune_code="20041", villages=villages)[0]
    assert "mã thôn “77” không có" in check_identity("f", {**ok, "village_code": "77"}, commune_code="20041", villages=villages)[0]
    assert "ngừng hoạt động" in check_identity("f", {**ok, "village_code": "10"}, commune_code="20041", villages=villages)[0]
    assert "không hợp lệ" in check_identity("f", {**ok, "period": "2023-Q4"}, commune_code="20041", villages=villages)[0]


@settings(deadline=None)  # examples: the lane's profile (tests/conftest.py)
@given(st.lists(st.tuples(st.sampled_from(["01", "02", "03"]), st.sampled_from(["2023-11", "2023-12"]),
                          st.integers(0, 3)), max_size=12))
def test_nothing_is_lost_and_keys_stay_unique(defs, batch):
    items = [form(defs, v, n, period=p, sha=f"{v}{p}{n}".ljust(64, "0")) for v, p, n in batch]
    merged = merge_reports(table(defs, []), items, defs, now=NOW)
    keys = list(zip(merged.frame["period"], merged.frame["village_code"]))
    assert len(keys) == len(set(keys)) == len({(p, v) for v, p, _ in batch})
    counts = pd.Series([r.status for r in merged.results]).value_counts().to_dict()
    # every replaced row went to the history; every form is accounted for
    assert len(merged.history) == counts.get("replaced", 0)
    assert sum(counts.values()) == len(batch)
    # the table holds the last version of each pair
    for (p, v), n in {(p, v): n for v, p, n in batch}.items():
        row = merged.frame[(merged.frame["period"] == p) & (merged.frame["village_code"] == v)]
        assert int(row["team_meetings"].iloc[0]) == n
