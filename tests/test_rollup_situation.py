"""What the commune reported beyond its figures reaches the rollup (issue 12, item 11): the drug
situation, the hotspot check, milestones and budget travel in the submission's Tình hình sheet
(checksummed), are listed per unit and added up in the rollup, and a unit exported despite errors
is marked. The expected values are recomputed from the commune workbooks and the communes' own
printed reports, not from the code's data."""
from __future__ import annotations

import datetime as dt
import json
import re
import shutil

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from xltools import export, rollup
from xltools.cli import main
from xltools.core.definitions import get_definitions, report_defs
from xltools.core.sample import generated_communes
from xltools.io.submission_reader import read_submission
from xltools.verbs.export import ExportRefused
from xltools.verbs.new import new, sample_commune

CUT_OFF = dt.date(2023, 12, 14)  # the data cut-off of the December 2023 report
NO_DATA = "không có số liệu"
REP = report_defs(get_definitions())
SITUATION, UNITS = REP["sheets"]["situation"], REP["sheets"]["units_situation"]


def _hotspot_commune():
    """The sample commune meeting three loại I criteria in December, one step overdue, one data error."""
    settings, tables = sample_commune()
    sit = tables["situation"]
    dec = sit["period"] == "2023-12"
    sit.loc[dec, "addicts"] = 100
    sit.loc[dec, "drug_places"] = 3
    sit.loc[dec, "arrested"] = 30
    m = tables["milestones"]
    m["done_on"] = m["done_on"].astype(object)
    m["deadline"] = m["deadline"].astype(object)
    m.loc[m["step_no"] == 11, "done_on"] = None
    m.loc[m["step_no"] == 11, "deadline"] = dt.date(2023, 12, 1)
    rp = tables["reports"]
    first = rp.index[rp["period"] == "2023-12"][0]
    rp.loc[first, "drug_people_reached"] = int(rp.loc[first, "drug_people_known"]) + 5  # an error
    return settings, tables


def _with_budget(commune, factor):
    settings, tables = commune
    budget = sample_commune()[1]["budget"].copy()
    for c in ("estimate", "approved", "spent"):
        budget[c] = budget[c] * factor
    tables["budget"] = budget
    return settings, tables


@pytest.fixture(scope="module")
def communes(tmp_path_factory):
    """Three communes exported for 2023-12: Hồng Thủy forced with errors, two generated ones."""
    folder = tmp_path_factory.mktemp("situation")
    gen = generated_communes()
    made = [_hotspot_commune(), _with_budget(gen[0], 3), gen[1]]
    books, files = [], []
    for settings, tables in made:
        book = new(folder / f"SoTheoDoi_{settings['commune_code']}.xlsx", settings, tables)
        books.append(book)
        try:
            files.append(export(book, "2023-12", folder / "out"))
            forced = False
        except ExportRefused:
            files.append(export(book, "2023-12", folder / "out", force=True))
            forced = True
        assert forced == (settings["commune_code"] == "20041")
    return folder, books, files


# ------------------------------------------------------------------ independent reading of the communes
def _table(book, key):
    """A table of the commune workbook as records, by its Vietnamese headers (openpyxl)."""
    defs = get_definitions()
    sheet = defs.sheet(key)
    ws = openpyxl.load_workbook(book, data_only=True, read_only=True)[sheet.name]
    rows = list(ws.iter_rows(values_only=True))
    headers = {c.header: c.key for c in sheet.columns}
    at = next(i for i, r in enumerate(rows) if sum(1 for v in r if v in headers) >= 3)
    cols = [headers.get(v) for v in rows[at]]
    out = []
    for r in rows[at + 1:]:
        rec = {k: v for k, v in zip(cols, r) if k}
        if any(v not in (None, "") for v in rec.values()):
            out.append(rec)
    return out


def _day(value):
    return value.date() if isinstance(value, dt.datetime) else value


def _expected(book, submission):
    """What the commune's own tables and printed report say."""
    steps = _table(book, "milestones")
    done = [s for s in steps if _day(s.get("done_on")) and _day(s["done_on"]) <= CUT_OFF]
    overdue = [s for s in steps if s not in done and _day(s.get("deadline")) and _day(s["deadline"]) < CUT_OFF]
    money = {}
    for c in ("estimate", "approved", "spent"):
        values = [int(b[c]) for b in _table(book, "budget") if isinstance(b.get(c), (int, float))]
        money[c] = sum(values) if values else NO_DATA
    ws = openpyxl.load_workbook(submission, read_only=True)[REP["sheets"]["report"]]
    printed = " ".join(str(c) for row in ws.iter_rows(values_only=True) for c in row if isinstance(c, str))
    found = re.search(r"loại I \(QĐ 28/2025/QĐ-TTg\): đáp ứng (\d+) trên (\d+) tiêu chí cần thiết – ([^.]+)\.", printed)
    assert found, printed[:2000]
    info_ws = openpyxl.load_workbook(submission, read_only=True)[REP["sheets"]["info"]]
    info = {r[0]: r[2] for r in info_ws.iter_rows(min_row=4, values_only=True) if r[0]}
    return {"done": len(done), "total": len(steps), "overdue": len(overdue), "overdue_names": [s["step"] for s in overdue],
            "money": money, "met": int(found.group(1)), "needed": int(found.group(2)), "verdict": found.group(3),
            "errors": int(info["validation_errors"]), "warnings": int(info["validation_warnings"]),
            "forced": info["forced"] == REP["info"]["yes"]}


def _units_sheet(path):
    ws = openpyxl.load_workbook(path, read_only=True)[UNITS]
    rows = [list(r) for r in ws.iter_rows(min_row=4, values_only=True)]
    header = rows[0]
    return [dict(zip(header, r)) for r in rows[1:]]


def _column(header_words, rows):
    return next(h for h in rows[0] if h and h.startswith(header_words))


# ------------------------------------------------------------------ the tests
@pytest.mark.slow
def test_each_unit_is_listed_with_what_its_own_tables_say(communes, tmp_path):
    folder, books, files = communes
    result = rollup(files, "2023-12", tmp_path / "dist.xlsx", unit_name="huyện A Lưới", unit_code="474")
    rows = _units_sheet(result.path)
    units, total = rows[:-1], rows[-1]
    assert [u["Mã đơn vị"] for u in units] == ["20041", "20044", "20047"]
    hotspot = _column("Đối chiếu tiêu chí", rows)
    expected = [_expected(b, f) for b, f in zip(books, files)]
    for unit, exp in zip(units, expected):
        assert unit["Bước đã hoàn thành"] == exp["done"]
        assert unit["Tổng số bước"] == exp["total"]
        assert unit["Bước quá hạn"] == exp["overdue"]
        for name in exp["overdue_names"]:
            assert name in unit["Nội dung bước quá hạn"]
        assert [unit["Dự toán (đồng)"], unit["Được duyệt (đồng)"], unit["Đã chi (đồng)"]] == list(exp["money"].values())
        assert unit[hotspot].startswith(exp["verdict"])
        assert f"đáp ứng {exp['met']} trên {exp['needed']} tiêu chí" in unit[hotspot]
        assert unit["Số lỗi"] == exp["errors"] and unit["Số cảnh báo"] == exp["warnings"]
        assert (unit["Xuất khi còn lỗi"] or "") == (f"Xuất khi còn {exp['errors']} lỗi" if exp["forced"] else "")
    assert expected[0]["forced"] and expected[0]["errors"] > 0 and expected[0]["verdict"] == "thuộc diện"
    assert expected[0]["overdue"] == 1
    # the totals: money and steps summed, units counted per verdict, with overdue steps, forced
    for col, key in (("Dự toán (đồng)", "estimate"), ("Được duyệt (đồng)", "approved"), ("Đã chi (đồng)", "spent")):
        assert total[col] == sum(e["money"][key] for e in expected if e["money"][key] != NO_DATA)
    assert total["Tổng số bước"] == sum(e["total"] for e in expected)
    assert total["Bước quá hạn"] == sum(e["overdue"] for e in expected)
    met = sum(e["verdict"] == "thuộc diện" for e in expected)
    assert total[hotspot].startswith(f"{met} đơn vị thuộc diện; {len(expected) - met} không thuộc diện")
    assert total["Nội dung bước quá hạn"] == f"{sum(e['overdue'] > 0 for e in expected)} đơn vị có bước quá hạn"
    assert total["Xuất khi còn lỗi"] == "1 đơn vị xuất khi còn lỗi"
    # the drug situation added up, from the communes' Tình hình ma túy of December
    addicts = 0
    for b in books:
        dec = [r for r in _table(b, "situation") if r["period"] == "2023-12"]
        addicts += int(dec[-1]["addicts"])
    assert total["Người nghiện"] == addicts
    # the printed report names the unit exported with errors and the hotspot unit
    ws = openpyxl.load_workbook(result.path)[REP["sheets"]["report"]]
    printed = " ".join(str(c) for row in ws.iter_rows(values_only=True) for c in row if isinstance(c, str))
    assert f"còn lỗi chưa được khắc phục: Hồng Thủy ({expected[0]['errors']} lỗi)." in printed
    assert "loại I: 1 đơn vị thuộc diện (Hồng Thủy)." in printed
    assert f"{addicts} người nghiện" in printed


def test_the_commune_submission_carries_its_situation_checksummed(communes):
    _, books, files = communes
    sub = read_submission(files[0])
    exp = _expected(books[0], files[0])
    s = sub.situation
    assert s is not None and s["level"] == "commune"
    assert s["hotspot.loai_1"] == "met" and s["hotspot.loai_1.criteria_met"] == str(exp["met"])
    assert (s["milestones.done"], s["milestones.total"], s["milestones.overdue"]) == tuple(
        str(exp[k]) for k in ("done", "total", "overdue"))
    assert s["budget.spent"] == str(exp["money"]["spent"])
    assert len(sub.info["situation_sha256"]) == 64
    gen = read_submission(files[2]).situation
    assert gen is not None and "budget.estimate" not in gen  # no amounts in its budget: absent, never 0


@pytest.mark.slow
def test_rollup_json_lists_the_situation(communes, tmp_path):
    _, books, files = communes
    res = CliRunner().invoke(main, ["rollup", *map(str, files), "--period", "2023-12", "-o", str(tmp_path / "d.xlsx"),
                                    "--unit-name", "huyện A Lưới", "--unit-code", "474", "--format", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)["situation"]
    units = {u["code"]: u for u in data["units"]}
    assert units["20041"]["forced"] is True and units["20044"]["forced"] is False
    assert units["20041"]["hotspot"]["loai_1"]["verdict"] == "met"
    assert units["20041"]["overdue_steps"] and units["20047"]["values"]["budget.spent"] is None
    money = [_expected(b, f)["money"]["spent"] for b, f in zip(books, files)]
    assert data["totals"]["budget.spent"] == sum(m for m in money if m != NO_DATA)
    assert data["totals"]["forced_units"] == 1 and data["totals"]["hotspot.loai_1.met"] == 1


def _rewrite(path, target, edit):
    shutil.copy(path, target)
    wb = openpyxl.load_workbook(target)
    edit(wb)
    wb.save(target)
    return target


def test_a_submission_made_before_the_sheet_still_rolls_up_without_data(communes, tmp_path):
    _, _, files = communes

    def old_style(wb):
        del wb[SITUATION]
        ws = wb[REP["sheets"]["info"]]
        for row in ws.iter_rows(min_row=4):
            if row[0].value == "situation_sha256":
                ws.delete_rows(row[0].row)
                break

    old = _rewrite(files[0], tmp_path / files[0].name, old_style)
    assert read_submission(old).situation is None
    result = rollup([old, files[1]], "2023-12", tmp_path / "dist.xlsx", unit_name="huyện A Lưới", unit_code="474")
    assert result.rejected == []
    rows = _units_sheet(result.path)
    unit = rows[0]
    assert unit["Mã đơn vị"] == "20041"
    for col in ("Bước đã hoàn thành", "Bước quá hạn", "Dự toán (đồng)", "Người nghiện", _column("Đối chiếu tiêu chí", rows)):
        assert unit[col] == NO_DATA, col
    assert unit["Xuất khi còn lỗi"].startswith("Xuất khi còn")  # Thông tin still says it was forced
    second = read_submission(files[1]).situation
    assert second is not None and rows[-1]["Dự toán (đồng)"] == int(second["budget.estimate"])  # the one with data
    upper = read_submission(result.path).situation
    assert upper is not None and upper["units_no_data"] == "1" and upper["units"] == "2"


def test_a_tampered_situation_sheet_is_rejected_with_the_reason(communes, tmp_path):
    _, _, files = communes

    def tamper(wb):
        for row in wb[SITUATION].iter_rows(min_row=4):
            if row[0].value == "budget.spent":
                row[2].value = "1"

    def drop(wb):
        del wb[SITUATION]

    bad = _rewrite(files[0], tmp_path / "BC138_20041_2023-12_sua.xlsx", tamper)
    gone = _rewrite(files[1], tmp_path / "BC138_20044_2023-12_xoa.xlsx", drop)
    result = rollup([bad, gone, files[2]], "2023-12", tmp_path / "dist.xlsx", unit_name="huyện A Lưới", unit_code="474")
    reasons = {p.name: str(r) for p, r in result.rejected}
    assert set(reasons) == {bad.name, gone.name}
    assert f"sheet “{SITUATION}”" in reasons[bad.name] and "đã bị sửa hoặc hỏng" in reasons[bad.name]
    assert "mã kiểm tra SHA-256 không khớp" in reasons[bad.name]
    assert "thiếu sheet" in reasons[gone.name]


@pytest.mark.slow
def test_a_rollup_of_rollups_carries_the_summed_situation_upward(communes, tmp_path):
    _, _, files = communes
    a = rollup(files[:2], "2023-12", tmp_path / "a.xlsx", unit_name="huyện A", unit_code="474")
    b = rollup(files[2:], "2023-12", tmp_path / "b.xlsx", unit_name="huyện B", unit_code="475")
    province = rollup([a.path, b.path], "2023-12", tmp_path / "p.xlsx", unit_name="tỉnh Thừa Thiên Huế", unit_code="46")
    direct = rollup(files, "2023-12", tmp_path / "d.xlsx", unit_name="tỉnh Thừa Thiên Huế", unit_code="46")
    p_sit, d_sit = read_submission(province.path).situation, read_submission(direct.path).situation
    assert p_sit == d_sit and p_sit is not None
    assert p_sit["forced_units"] == "1" and p_sit["hotspot.loai_1.met"] == "1" and p_sit["units"] == "3"
    rows = _units_sheet(province.path)
    assert rows[0]["Mã đơn vị"] == "474" and rows[0]["Xuất khi còn lỗi"] == "1 đơn vị xuất khi còn lỗi"
    assert rows[0][_column("Đối chiếu tiêu chí", rows)].startswith("1 đơn vị thuộc diện")
    assert rows[1]["Xuất khi còn lỗi"] in ("", None)
    assert rows[-1]["Tổng số bước"] == int(d_sit["milestones.total"])
    ws = openpyxl.load_workbook(province.path)[REP["sheets"]["report"]]
    printed = " ".join(str(c) for row in ws.iter_rows(values_only=True) for c in row if isinstance(c, str))
    assert "còn lỗi chưa được khắc phục: huyện A (1 đơn vị)." in printed
    assert "1 đơn vị thuộc diện (huyện A (1 đơn vị))." in printed
    assert pd.notna(p_sit.get("budget.estimate"))
