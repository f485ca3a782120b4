"""Timeliness at the level above: judged by the date written on each report (its date line,
kept in Thông tin as report_date) against report.toml [rollup]'s deadline, not by the time the
file was created; a submission without that date falls back to file time, and the report says
which date it used. Also: counts of a billion or more, and negatives, as printed."""
from __future__ import annotations

import datetime as dt

import openpyxl
import pytest

from xltools import export, rollup
from xltools.core.definitions import report_defs
from xltools.core.numbers import group_number
from xltools.core.periods import Period
from xltools.core.sample import generated_communes
from xltools.core.submission import report_day
from xltools.io.submission import printed_number
from xltools.io.submission_reader import read_submission
from xltools.verbs.new import new, sample_commune

PERIOD = "2023-12"  # deadline: 20/01/2024 (deadline_day 20, one month after the period)


def _sheet_texts(path, sheet: str) -> list[str]:
    ws = openpyxl.load_workbook(path, read_only=True)[sheet]
    return [str(c) for row in ws.iter_rows(values_only=True) for c in row if c not in (None, "")]


def _info(path, defs) -> dict[str, str]:
    ws = openpyxl.load_workbook(path, read_only=True)[report_defs(defs)["sheets"]["info"]]
    return {str(r[0]): str(r[2]) for r in ws.iter_rows(min_row=4, values_only=True) if r and r[0]}


@pytest.fixture(scope="module")
def dated(tmp_path_factory):
    """The four sample communes exported for 2023-12 today, three of them dated by the clerk
    (report_date setting): on time, on the deadline day, after it; the fourth undated (today)."""
    folder = tmp_path_factory.mktemp("dated")
    dates = [None, dt.date(2024, 1, 12), dt.date(2024, 1, 20), dt.date(2024, 1, 25)]
    files, codes = [], []
    for (settings, tables), day in zip([sample_commune()] + generated_communes(), dates):
        settings = dict(settings)
        if day:
            settings["report_date"] = day
        book = new(folder / f"SoTheoDoi_{settings['commune_code']}.xlsx", settings, tables)
        files.append(export(book, PERIOD, folder / "out", force=True))
        codes.append(str(settings["commune_code"]))
    return folder, files, codes, dates


@pytest.mark.slow
def test_the_date_line_and_thong_tin_carry_the_clerks_date(dated, defs):
    _, files, _, dates = dated
    rep = report_defs(defs)
    info = _info(files[1], defs)
    assert info["report_date"] == "2024-01-12"
    assert info["created_at"][:10] == dt.date.today().isoformat()  # the file was made today all the same
    assert any("ngày 12 tháng 01 năm 2024" in t for t in _sheet_texts(files[1], rep["sheets"]["report"]))
    assert read_submission(files[1]).report_date == dt.date(2024, 1, 12)
    assert read_submission(files[0]).report_date == dt.date.today()  # undated: the day of the export


def test_rollup_judges_by_the_report_date_not_the_file_time(dated, tmp_path, defs):
    _, files, codes, _ = dated
    result = rollup(files, PERIOD, tmp_path / "dist", unit_name="huyện A Lưới", unit_code="474")
    agg = result.aggregate
    status = {s["code"]: s for s in agg.status.to_dict("records")}
    roll = report_defs(defs)["rollup"]
    assert [status[c]["status"] for c in codes] == [roll["status_late"], roll["status_on_time"],
                                                   roll["status_on_time"], roll["status_late"]]
    assert [status[c]["date"] for c in codes] == [dt.date.today().strftime("%d/%m/%Y"), "12/01/2024",
                                                 "20/01/2024", "25/01/2024"]
    assert {status[c]["basis"] for c in codes} == {"report"}
    assert agg.facts["timely"] == 2 and agg.facts["deadline"] == "2024-01-20"
    assert len(result.late) == 2 and all(codes[0] in x or codes[3] in x for x in result.late)
    # the rollup workbook says which date it used, in the prose and in the status table
    texts = _sheet_texts(result.path, report_defs(defs)["sheets"]["report"])
    assert "Việc gửi đúng hạn được tính theo ngày ghi trên báo cáo của đơn vị; hạn gửi là ngày 20/01/2024." in texts
    assert "Ngày báo cáo" in texts and "25/01/2024" in texts and "12/01/2024" in texts
    assert "trong đó đúng hạn 2 đơn vị" in " ".join(texts)
    # and its own Thông tin carries its own report date, for the next level up
    assert _info(result.path, defs)["report_date"] == dt.date.today().isoformat()


@pytest.mark.slow
def test_a_submission_without_a_report_date_falls_back_to_file_time_and_says_so(dated, tmp_path, defs):
    _, files, codes, _ = dated
    old = tmp_path / files[1].name  # as an older xltools wrote it: no report_date, made on 15/01/2024
    wb = openpyxl.load_workbook(files[1])
    ws = wb[report_defs(defs)["sheets"]["info"]]
    for row in list(ws.iter_rows(min_row=4)):
        if row[0].value == "report_date":
            row[0].value = row[1].value = row[2].value = None
        elif row[0].value == "created_at":
            row[2].value = "2024-01-15 09:30:00"
    wb.save(old)
    assert read_submission(old).report_date is None
    result = rollup([old, files[2]], PERIOD, tmp_path / "dist", unit_name="huyện A Lưới", unit_code="474")
    status = {s["code"]: s for s in result.aggregate.status.to_dict("records")}
    assert status[codes[1]]["basis"] == "file" and status[codes[1]]["date"] == "15/01/2024 (ngày tạo tệp)"
    assert status[codes[1]]["status"] == report_defs(defs)["rollup"]["status_on_time"]
    texts = " ".join(_sheet_texts(result.path, report_defs(defs)["sheets"]["report"]))
    assert "Báo cáo không ghi ngày được tính theo thời điểm tạo tệp: " in texts
    assert f"({codes[1]})." in texts and "15/01/2024 (ngày tạo tệp)" in texts
    # a file created after the deadline, undated, is late
    wb = openpyxl.load_workbook(old)
    for row in wb[report_defs(defs)["sheets"]["info"]].iter_rows(min_row=4):
        if row[0].value == "created_at":
            row[2].value = "2024-01-21 08:00:00"
    wb.save(old)
    result = rollup([old], PERIOD, tmp_path / "dist2", unit_name="huyện A Lưới", unit_code="474")
    assert len(result.late) == 1
    texts = " ".join(_sheet_texts(result.path, report_defs(defs)["sheets"]["report"]))
    assert "Các báo cáo không ghi ngày, việc gửi đúng hạn được tính theo thời điểm tạo tệp" in texts


def test_a_date_that_cannot_belong_to_the_period_is_not_printed(defs):
    period = Period.parse(PERIOD)  # data up to 14/12/2023
    today = dt.date(2024, 1, 30)
    assert report_day({"report_date": dt.date(2024, 1, 16)}, period, defs, today) == dt.date(2024, 1, 16)
    assert report_day({"report_date": dt.date(2023, 12, 14)}, period, defs, today) == dt.date(2023, 12, 14)
    # left over from the November report: before December's cut-off, so today is printed
    assert report_day({"report_date": dt.date(2023, 11, 20)}, period, defs, today) == today
    assert report_day({"report_date": dt.date(2024, 2, 1)}, period, defs, today) == today  # not in the future
    assert report_day({"report_date": None}, period, defs, today) == today
    assert report_day({"report_date": "2024-01-16"}, period, defs, today) == dt.date(2024, 1, 16)  # --settings TOML text


@pytest.mark.slow
def test_the_deadline_is_read_from_report_toml(dated, tmp_path, defs, monkeypatch):
    _, files, codes, _ = dated
    roll = report_defs(defs)["rollup"]
    monkeypatch.setitem(roll, "deadline_day", 15)  # due 15/01/2024: the commune dated 20/01 is late now
    result = rollup(files[1:3], PERIOD, tmp_path / "dist", unit_name="huyện A Lưới", unit_code="474")
    assert result.aggregate.facts["deadline"] == "2024-01-15"
    assert result.late == [x for x in result.late if codes[2] in x] and len(result.late) == 1
    monkeypatch.setitem(roll, "deadline_month_offset", 2)  # due 15/02/2024
    result = rollup(files[1:4], PERIOD, tmp_path / "dist", unit_name="huyện A Lưới", unit_code="474")
    assert result.late == []


@pytest.mark.slow  # the demo run (about 9 s) is shared by the slow lane
def test_the_demo_has_communes_on_time(demo):
    assert demo.exit_code == 0, demo.output
    rolled = next(demo.folder.glob("Tong_hop/BC138_*_2023-12.xlsx"))
    agg_timely = [t for t in _sheet_texts(rolled, "Báo cáo") if t in ("đúng hạn", "muộn")]
    assert len(agg_timely) == 4 and agg_timely.count("đúng hạn") == 2 and agg_timely.count("muộn") == 2


@pytest.mark.parametrize(("value", "text"), [
    (1_234_567_890, "1.234.567.890"), (12_345_678_901, "12.345.678.901"), (-1_234, "-1.234"),
    (-1_234_567_890, "-1.234.567.890"), (999, "999"), (0, "0"), (-5, "-5"), (1_000_000_000.0, "1.000.000.000"),
])
def test_big_and_negative_numbers_print_with_dots_and_their_sign(value, text):
    assert group_number(value) == text
    assert printed_number(value) == text


def test_the_command_line_summary_and_json_say_which_date(dated, tmp_path):
    _, files, codes, _ = dated
    result = rollup(files, PERIOD, tmp_path / "dist", unit_name="huyện A Lưới", unit_code="474")
    lines = result.summary_lines()
    assert "  Việc gửi đúng hạn được tính theo ngày ghi trên báo cáo của đơn vị; hạn gửi là ngày 20/01/2024." in lines
    data = result.as_dict()
    assert data["deadline"] == "2024-01-20" and data["judged_by_file_time"] == []
