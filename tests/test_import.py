"""xltools import: round trip, idempotency, replacement history, manual rows, safe writing."""
from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from conftest import break_saves

from xltools import import_reports, make_forms
from xltools.cli import main
from xltools.core.errors import WriteError
from xltools.io.files import sha256_file
from xltools.io.forms import fill_form as fill
from xltools.io.reader import read_workbook

PERIOD = "2023-12"


def values_for(defs, seed: int) -> dict:
    out = {i.key: (seed * 7 + n * 3) % 40 for n, i in enumerate(defs.numeric_indicators)}
    out.update(note=f"Thôn {seed}: ổn định", reporter=f"Hồ Văn {seed}", report_date=dt.datetime(2023, 12, 10 + seed % 5))
    return out


@pytest.fixture
def commune(make_commune):
    """The sample commune without its 2023-12 reports: the forms of that month are new."""
    return make_commune(edit=lambda t: t.update(reports=t["reports"][t["reports"]["period"] != PERIOD]))


@pytest.fixture
def forms(commune, tmp_path):
    return make_forms(commune, PERIOD, tmp_path / "inbox")


def report_rows(path: Path, period: str = PERIOD) -> dict[str, dict]:
    reports = read_workbook(path).tables["reports"]
    rows = reports[reports["period"] == period].drop(columns=["_row"])
    return {r["village_code"]: r for r in rows.astype(object).to_dict("records")}


def test_round_trip_form_to_workbook_equals_the_values_written(commune, forms, defs):
    written = {}
    for n, form in enumerate(forms):
        written[form] = values_for(defs, n)
        fill(form, written[form])
    summary = import_reports(commune, [forms[0].parent])
    assert [f.status for f in summary.files] == ["accepted"] * len(forms), [f.reasons for f in summary.files]
    assert summary.written
    rows = report_rows(commune)
    for form, values in written.items():
        code = form.name.split("_")[1]
        row = rows[code]
        for key, value in values.items():
            expected = value.date() if isinstance(value, dt.datetime) else value
            assert row[key] == expected, (code, key)
        assert row["source"] == form.name and row["sha256"] == sha256_file(form)
    log = read_workbook(commune).tables["log"]
    mine = log[log["file"].isin([f.name for f in forms])]
    assert len(mine) == len(forms) and set(mine["result"]) == {"Đã nhận"}
    assert all(len(s) == 64 for s in mine["sha256"]) and mine["user"].notna().all()


def test_counts_written_as_text_are_read_like_people_write_them(commune, forms, defs):
    values = values_for(defs, 1)
    values.update(concentrated_attendance="1.234", tips=" 7 ", note=unicodedata.normalize("NFD", "  Tốt   lắm  "))
    fill(forms[0], values)
    summary = import_reports(commune, [forms[0]])
    assert summary.files[0].status == "accepted", summary.files[0].reasons
    row = report_rows(commune)["01"]
    assert row["concentrated_attendance"] == 1234 and row["tips"] == 7
    assert row["note"] == unicodedata.normalize("NFC", "Tốt lắm")


@pytest.mark.parametrize(
    "value, reason",
    [
        ("12 người", "phải là số nguyên không âm, không ghi chữ"),
        ("nhiều", "phải là số nguyên không âm, không ghi chữ"),
        (-3, "không được là số âm"),
        (2.5, "không có phần lẻ"),
        ("#REF!", "lỗi công thức #REF!"),
        ("=1+1", "công thức nhưng chưa có giá trị"),
        (None, "ô trống"),
        (10**20, "số quá lớn"),  # more than the Int64 count column holds: a rejection, not a traceback
    ],
)
def test_bad_values_reject_the_file_naming_the_cell(commune, forms, defs, value, reason):
    values = values_for(defs, 2)
    values["tips"] = value
    fill(forms[0], values)
    fill(forms[1], values_for(defs, 3))
    before = report_rows(commune)
    summary = import_reports(commune, [forms[0], forms[1]])
    bad, good = summary.files
    assert bad.status == "rejected" and good.status == "accepted"
    [text] = bad.reasons
    label = defs.indicator("tips").label
    cell = bad.reasons[0].split("(")[1].split(")")[0]
    assert text.startswith(f"ô “{label}” (Phiếu báo cáo!C") and reason in text, text
    wb = openpyxl.load_workbook(forms[0])
    (_, ref), = wb.defined_names["tips"].destinations
    assert cell == f"Phiếu báo cáo!{ref.replace('$', '')}"
    after = report_rows(commune)
    assert "01" not in after and set(after) == set(before) | {"02"}  # all-or-nothing per file


def test_a_text_too_long_is_quoted_short(commune, forms, defs):
    fill(forms[0], dict(values_for(defs, 2), reporter="Hồ Văn " + "A" * 600))
    [res] = import_reports(commune, [forms[0]], dry_run=True).files
    [text] = res.reasons
    assert res.status == "rejected" and "dài quá 80 ký tự" in text
    assert text.endswith("AAA…”)") and len(text) < 200


@pytest.mark.slow
def test_the_same_file_twice_changes_nothing(commune, forms, defs):
    for n, form in enumerate(forms):
        fill(form, values_for(defs, n))
    import_reports(commune, forms)
    first = read_workbook(commune)
    summary = import_reports(commune, forms)
    assert [f.status for f in summary.files] == ["unchanged"] * len(forms)
    second = read_workbook(commune)
    for key in ("reports", "history"):
        assert second.tables[key].astype(str).values.tolist() == first.tables[key].astype(str).values.tolist()
    assert len(second.tables["history"]) == 0


@pytest.mark.slow
def test_a_corrected_file_replaces_the_row_and_keeps_the_old_one_in_history(commune, forms, defs, tmp_path):
    old = values_for(defs, 4)
    fill(forms[0], old)
    import_reports(commune, [forms[0]])
    corrected = dict(old, team_meetings=old["team_meetings"] + 5, note="Sửa lại số buổi họp")
    second = fill(forms[0], corrected, tmp_path / "PhieuBaoCao_01_2023-12_lan2.xlsx")
    n_rows = len(read_workbook(commune).tables["reports"])
    summary = import_reports(commune, [second])
    [result] = summary.files
    assert result.status == "replaced"
    assert {c.key: (c.old, c.new) for c in result.changes} == {
        "team_meetings": (old["team_meetings"], corrected["team_meetings"]),
        "note": (old["note"], corrected["note"]),
    }
    book = read_workbook(commune)
    assert len(book.tables["reports"]) == n_rows  # replaced in place
    row = report_rows(commune)["01"]
    assert row["team_meetings"] == corrected["team_meetings"] and row["source"] == second.name
    [hist] = book.tables["history"].astype(object).to_dict("records")
    assert hist["team_meetings"] == old["team_meetings"] and hist["source"] == forms[0].name
    assert second.name in hist["reason"] and isinstance(hist["replaced_at"], dt.datetime)
    log = book.tables["log"]
    last = log[log["file"] == second.name].iloc[-1]
    assert last["result"] == "Đã thay thế" and "Họp Tổ" in last["detail"] and last["sha256"] == sha256_file(second)


def test_importing_the_folder_again_never_undoes_a_correction(commune, forms, defs, tmp_path):
    import os

    first = fill(forms[0], values_for(defs, 5))
    second = fill(forms[0], dict(values_for(defs, 5), tips=9), tmp_path / "PhieuBaoCao_01_2023-12_b.xlsx")
    import_reports(commune, [first, second])
    os.utime(first)  # the old file copied again: now the newest on disk
    again = import_reports(commune, [second, first])
    assert [f.status for f in again.files] == ["unchanged", "unchanged"]
    assert "bản mới hơn" in again.files[1].detail()
    assert report_rows(commune)["01"]["tips"] == 9
    assert len(read_workbook(commune).tables["history"]) == 1


def test_two_versions_in_one_batch_the_later_replaces_the_earlier(commune, forms, defs, tmp_path):
    first = fill(forms[0], values_for(defs, 5))
    second = fill(forms[0], dict(values_for(defs, 5), tips=9), tmp_path / "PhieuBaoCao_01_2023-12_b.xlsx")
    summary = import_reports(commune, [first, second])
    assert [f.status for f in summary.files] == ["accepted", "replaced"]
    assert report_rows(commune)["01"]["tips"] == 9
    assert len(read_workbook(commune).tables["history"]) == 1


def test_a_report_typed_by_hand_is_replaced_only_when_asked(make_commune, tmp_path, defs):
    path = make_commune()  # the sample has hand-typed reports for 2023-12 ("nhập tay")
    [form, *_] = make_forms(path, PERIOD, tmp_path / "inbox")
    fill(form, values_for(defs, 6))
    before = report_rows(path)["01"]
    summary = import_reports(path, [form])
    [res] = summary.files
    assert res.status == "rejected" and "nhập tay" in res.reasons[0] and "--replace-manual" in res.reasons[0]
    assert report_rows(path)["01"] == before
    summary = import_reports(path, [form], replace_manual=True)
    assert summary.files[0].status == "replaced"
    assert report_rows(path)["01"]["source"] == form.name
    [hist] = read_workbook(path).tables["history"].astype(object).to_dict("records")
    assert hist["source"] == "nhập tay" and hist["team_meetings"] == before["team_meetings"]


def test_dry_run_writes_nothing(commune, forms, defs):
    fill(forms[0], values_for(defs, 7))
    digest = sha256_file(commune)
    summary = import_reports(commune, [forms[0]], dry_run=True)
    assert summary.files[0].status == "accepted" and not summary.written
    assert sha256_file(commune) == digest
    assert not (commune.parent / "Sao_luu").exists()


def test_a_workbook_open_in_excel_is_refused(commune, forms, defs):
    fill(forms[0], values_for(defs, 8))
    lock = commune.with_name("~$" + commune.name)
    lock.write_bytes(b"owner")
    digest = sha256_file(commune)
    with pytest.raises(WriteError) as err:
        import_reports(commune, [forms[0]])
    assert "đang mở trong Excel" in err.value.vi
    res = CliRunner().invoke(main, ["import", str(commune), str(forms[0])])
    assert res.exit_code == 1 and res.output.startswith("Lỗi: Tệp") and "đang mở trong Excel" in res.output
    assert sha256_file(commune) == digest


def test_a_crash_while_writing_leaves_the_previous_workbook_intact(commune, forms, defs, monkeypatch):
    fill(forms[0], values_for(defs, 9))
    digest = sha256_file(commune)
    before = set(commune.parent.iterdir())

    break_saves(monkeypatch)
    with pytest.raises(WriteError) as err:
        import_reports(commune, [forms[0]])
    assert "Tệp cũ vẫn còn nguyên" in err.value.vi
    assert sha256_file(commune) == digest
    leftovers = {p for p in set(commune.parent.iterdir()) - before if p.name != "Sao_luu"}
    assert leftovers == set()  # no temporary file left behind
    monkeypatch.undo()
    assert read_workbook(commune).tables["reports"]["period"].ne(PERIOD).all()


def test_backups_are_timestamped_and_limited(commune, forms, defs):
    fill(forms[0], values_for(defs, 1))
    import_reports(commune, [forms[0]])
    backups = list((commune.parent / "Sao_luu").glob(commune.stem + "_*" + commune.suffix))
    assert len(backups) == 1
    assert re.fullmatch(re.escape(commune.stem) + r"_\d{8}-\d{6}-\d+" + re.escape(commune.suffix), backups[0].name)
    fill(forms[1], values_for(defs, 2))
    import_reports(commune, [forms[1]], dry_run=True)  # a dry run keeps no backup
    import_reports(commune, [forms[1]])
    assert len(list((commune.parent / "Sao_luu").iterdir())) == 2


def test_cli_import_text_json_and_exit_codes(commune, forms, defs):
    for n, form in enumerate(forms[:3]):
        fill(form, values_for(defs, n))
    fill(forms[3], dict(values_for(defs, 3), tips="12 người"))
    runner = CliRunner()
    res = runner.invoke(main, ["import", str(commune), *map(str, forms[:4]), "--dry-run"])
    assert res.exit_code == 1  # a file was rejected
    assert "Đã nhận: 3 | Không đổi: 0 | Đã thay thế: 0 | Bị từ chối: 1" in res.output
    assert f"[Bị từ chối] {forms[3].name}: ô “{defs.indicator('tips').label}”" in res.output
    assert "Chạy thử" in res.output
    assert "Đang đọc phiếu" in res.stderr  # the progress bar of a batch goes to stderr
    res = runner.invoke(main, ["import", str(commune), *map(str, forms[:3]), "--format", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["counts"] == {"accepted": 3, "unchanged": 0, "replaced": 0, "rejected": 0} and data["written"]
    assert [f["village_code"] for f in data["files"]] == ["01", "02", "03"]
    res = runner.invoke(main, ["import", str(commune), str(forms[3]), "--dry-run", "--format", "json"])
    rejected = json.loads(res.stdout)["files"][0]
    assert rejected["status"] == "rejected" and rejected["reasons"][0].startswith("ô “")
    code = rejected["reason_codes"][0]  # machine-readable: the catalogue key and its parameters
    assert code["key"] == "import_cell" and code["params"]["key"] == "tips"
    assert code["params"]["reason"]["key"] == "reason_not_whole", code


def test_cli_missing_files_are_one_vietnamese_line(commune, forms, defs, tmp_path):
    runner = CliRunner()
    missing = tmp_path / "khong_co.xlsx"
    res = runner.invoke(main, ["import", str(missing), str(forms[0])])
    assert res.exit_code == 2 and res.output == f"Lỗi: Không tìm thấy tệp {missing}. (file not found: {missing})\n"
    res = runner.invoke(main, ["forms", str(missing), "--period", PERIOD])
    assert res.exit_code == 2 and res.output.startswith(f"Lỗi: Không tìm thấy tệp {missing}.")
    fill(forms[0], values_for(defs, 1))
    res = runner.invoke(main, ["import", str(commune), str(forms[0]), str(missing), "--dry-run"])
    assert res.exit_code == 1  # the missing form is rejected, the other one read
    assert f"[Bị từ chối] {missing.name}: Không tìm thấy tệp {missing}." in res.output
    assert f"[Đã nhận] {forms[0].name}" in res.output


def test_folder_import_skips_lock_files_and_the_workbook(commune, forms, defs):
    for n, form in enumerate(forms):
        fill(form, values_for(defs, n))
    (forms[0].parent / ("~$" + forms[0].name)).write_bytes(b"lock")
    (forms[0].parent / "anh_chup.jpg").write_bytes(b"\xff\xd8")
    summary = import_reports(commune, [forms[0].parent, commune.parent])
    names = [f.file for f in summary.files]
    assert sorted(names) == sorted(f.name for f in forms)


def test_the_dashboard_shows_reported_villages_and_the_last_action(commune, forms, defs):
    for n, form in enumerate(forms[:4]):
        fill(form, values_for(defs, n))
    import_reports(commune, forms[:4])
    fields = {f.key: f.cell for f in defs.sheet("dashboard").fields}
    ws = openpyxl.load_workbook(commune)[defs.sheet("dashboard").name]
    assert ws[fields["villages_reported"]].value == "4/9"
    assert ws[fields["last_action"]].value.startswith("Nhập phiếu") and "Đã nhận: 4" in ws[fields["last_action"]].value


def test_validation_warnings_do_not_block(commune, forms, defs):
    values = values_for(defs, 1)
    values.update(drug_people_known=1, drug_people_reached=5)  # reached > known: a warning, not a rejection
    fill(forms[0], values)
    summary = import_reports(commune, [forms[0]])
    assert summary.files[0].status == "accepted" and summary.written
    assert summary.files[0].warnings and any(forms[0].name in w for w in summary.warnings)
    assert all(w in summary.warnings[i] for i, w in enumerate(summary.files[0].warnings))


def test_the_rows_an_import_appends_are_not_warned_about_as_outside_the_table(commune, forms, defs):
    """The import grows the table over the rows it appends: its own check does not call them
    "ngoài bảng" (nor does a later validate)."""
    fill(forms[0], values_for(defs, 1))
    summary = import_reports(commune, [forms[0]])
    assert summary.files[0].status == "accepted" and summary.written
    assert not [w for w in summary.warnings if "nằm ngoài bảng" in w], summary.warnings
    from xltools import validate

    assert not [i for i in validate(commune).issues if i.rule == "structure-row-outside-table"]


@pytest.mark.slow  # the demo run (about 9 s) is shared by the slow lane
def test_the_demo_rejects_the_form_with_words_then_takes_the_fix_and_the_correction(demo, defs):
    assert demo.exit_code == 0, demo.output
    lines = demo.lines
    rounds = [line for line in lines if line.startswith("Nhập phiếu lần")]
    assert rounds == ["Nhập phiếu lần 1: Đã nhận: 8 | Không đổi: 0 | Đã thay thế: 0 | Bị từ chối: 1",
                      "Nhập phiếu lần 2: Đã nhận: 1 | Không đổi: 0 | Đã thay thế: 1 | Bị từ chối: 0"]
    label = defs.indicator("concentrated_attendance").label
    assert any(f"ô “{label}”" in line and "người”" in line for line in lines)  # the "48 người" form, by cell
    reports = read_workbook(demo.workbook).tables["reports"]
    month = reports[reports["period"] == "2023-12"]
    assert len(month) == 9 and month["village_code"].is_unique
    # the second round's correction, then the one the level above asked for (the feedback step)
    history = read_workbook(demo.workbook).tables["history"]
    assert sorted(history["village_code"]) == ["01", "03"]
