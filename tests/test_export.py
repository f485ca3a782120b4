"""export: the submission workbook (layout, data, checksum, privacy, refusal, encryption)."""
from __future__ import annotations

import io
import shutil
import zipfile

import msoffcrypto
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from xltools import export
from xltools.cli import main
from xltools.core.definitions import get_definitions, report_defs
from xltools.core.errors import WorkbookError
from xltools.core.numbers import group_number
from xltools.io.files import sha256_file
from xltools.io.reader import read_workbook
from xltools.io.submission_reader import read_submission
from xltools.verbs.aggregate import aggregate


@pytest.fixture
def commune(make_commune):
    return make_commune("SoTheoDoi_HongThuy.xlsx")


def _cells(path) -> list[str]:
    wb = openpyxl.load_workbook(path, read_only=True)
    return [str(c) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for c in row if c is not None]


@pytest.mark.slow
def test_export_writes_the_four_sheets_and_records_only_the_number_in_the_workbook(commune, tmp_path, defs):
    before = read_workbook(commune)
    path = export(commune, "2023-12", tmp_path / "out")
    assert path.name == "BC138_20041_2023-12.xlsx"
    after = read_workbook(commune)  # the data as it was; the number advanced and registered (test_doc_numbers)
    for key in ("villages", "board", "teams", "reports", "situation", "milestones", "budget", "history"):
        pd.testing.assert_frame_equal(after.tables[key], before.tables[key])
    assert after.settings["doc_next_number"] == before.settings["doc_next_number"] + 1
    assert list(after.tables["register"]["number"]) == [before.settings["doc_next_number"]]
    sheets = report_defs(defs)["sheets"]
    wb = openpyxl.load_workbook(path)
    # per village: the counts (over as many annexes as fit a page: 17 indicators since 1.2), the ratios
    annexes = [sheets["annex"].format(number=n) for n in (1, 2, 3)]
    assert wb.sheetnames == [sheets["report"], sheets["charts"], sheets["data"], sheets["info"], *annexes, sheets["notes"],
                             sheets["situation"]]
    # openpyxl drops charts when loading: count the chart parts of the package instead (one chart a
    # printed page: small and large counts apart, the ratios, the trend of small and of large counts)
    assert len([n for n in zipfile.ZipFile(path).namelist() if n.startswith("xl/charts/chart")]) == 5


@pytest.mark.slow
def test_report_sheet_follows_decree_30(commune, tmp_path, defs):
    path = export(commune, "2023-12", tmp_path)
    rep = report_defs(defs)
    ws = openpyxl.load_workbook(path)[rep["sheets"]["report"]]
    texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert "UBND XÃ HỒNG THỦY" in texts and "BAN CHỈ ĐẠO 138" in texts
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in texts and "Độc lập - Tự do - Hạnh phúc" in texts
    assert "Số: 05/BC-BCĐ" in texts  # doc_next_number 5, zero-padded
    date_line = next(t for t in texts if t.startswith("Hồng Thủy, ngày "))
    day, month = date_line.split("ngày ")[1].split(" tháng ")[0], date_line.split(" tháng ")[1].split(" năm ")[0]
    assert len(day) == 2 and (len(month) == 2 or int(month) > 2)
    assert "BÁO CÁO" in texts and "TM. BAN CHỈ ĐẠO" in texts and "TRƯỞNG BAN" in texts and "Quỳnh Văn Đức" in texts
    assert "Tổng cộng" in texts and "Nơi nhận:" in texts and "- BCĐ 138 huyện A Lưới;" in texts
    assert any("Ban Chỉ đạo 138 xã Hồng Thủy báo cáo kết quả" in t for t in texts)
    fonts = {c.font.name for row in ws.iter_rows() for c in row if c.value is not None}
    assert fonts == {"Times New Roman"}
    sizes = {c.value: c.font.sz for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    body = rep["layout"].size_body
    assert sizes["Số: 05/BC-BCĐ"] == sizes[date_line] == sizes["TM. BAN CHỈ ĐẠO"] == sizes["Quỳnh Văn Đức"] == body
    assert sizes["BÁO CÁO"] == rep["layout"].size_title and sizes["Nơi nhận:"] == rep["layout"].size_recipients
    # page setup: A4 portrait at 100 % (never shrunk to fit), margins within the Decree's ranges (mm)
    assert ws.page_setup.paperSize == 9 and ws.page_setup.orientation == "portrait"
    assert ws.page_setup.scale in (None, 100)  # 100 is the OOXML default
    mm = {k: getattr(ws.page_margins, k) * 25.4 for k in ("top", "bottom", "left", "right")}
    assert 20 <= mm["top"] <= 25 and 20 <= mm["bottom"] <= 25
    assert 30 <= mm["left"] <= 35 and 15 <= mm["right"] <= 20
    assert not (ws.sheet_properties.pageSetUpPr and ws.sheet_properties.pageSetUpPr.fitToPage)
    assert not ws.print_title_rows  # the report sheet repeats nothing: each table re-writes its own header
    assert ws.HeaderFooter.differentFirst and "&P" in ws.oddHeader.center.text and not ws.firstHeader.center.text
    # the per-village table is annex 1; printed numbers use the Vietnamese grouping (1.234) whatever the locale
    agg = aggregate(commune, "2023-12")
    printed: list = []
    for n in (1, 2):  # the indicators run over annexes 1 and 2, in their order
        annex = openpyxl.load_workbook(path)[rep["sheets"]["annex"].format(number=n)]
        total_row = next(r for r in annex.iter_rows() if r[1].value == "Tổng cộng")
        printed += [c.value for c in total_row[2:] if c.value is not None]
    assert printed == [group_number(agg.total()[k]) for k in agg.indicators]


def test_the_data_window_follows_the_cut_day_of_the_rules(commune, tmp_path, own_definitions):
    own_definitions.replace("rules.toml", "\ncut_day = 15 ", "\ncut_day = 20 ")
    path = export(commune, "2023-12", tmp_path / "out", defs=get_definitions())
    texts = [str(c) for c in _cells(path)]
    assert "(Số liệu từ ngày 20/11/2023 đến ngày 19/12/2023)" in texts


def test_data_sheet_round_trips_and_matches_the_aggregate(commune, tmp_path):
    source = sha256_file(commune)  # the workbook as read; the export then records its number in it
    path = export(commune, "2023-Q4", tmp_path)
    sub = read_submission(path)
    agg = aggregate(commune, "2023-Q4")
    assert sub.unit_code == "20041" and sub.period == "2023-Q4"
    assert sub.rows == agg.long_rows()
    assert sub.totals()["movement_launches"] == agg.total()["movement_launches"]
    info = sub.info
    assert info["source_sha256"] == source
    assert info["definitions_version"] and info["toolkit_version"] and info["created_at"]
    assert info["validation_errors"] == "0" and info["forced"] == "Không"


def test_a_hand_edited_number_is_rejected(commune, tmp_path, defs):
    path = export(commune, "2023-12", tmp_path)
    wb = openpyxl.load_workbook(path)
    ws = wb[report_defs(defs)["sheets"]["data"]]
    ws.cell(2, 7).value = ws.cell(2, 7).value + 1
    wb.save(path)
    with pytest.raises(WorkbookError) as err:
        read_submission(path)
    assert "SHA-256" in str(err.value) and path.name in str(err.value)


@pytest.mark.slow
def test_no_member_name_or_phone_leaves_the_commune(commune, tmp_path, sample):
    settings, tables = sample
    signer = settings["bcd_head"]  # the signature block carries the head's name by law (Decree 30)
    people = pd.concat([tables["board"][["name", "phone"]], tables["teams"][["name", "phone"]]])
    names = {n for n in people["name"].dropna() if n != signer}
    phones = set(people["phone"].dropna())
    # a village note that names a member is redacted
    def note(t):
        t["reports"].loc[t["reports"]["period"] == "2023-12", "note"] = "Đề nghị hỗ trợ ông Kăn Văn Sơn 0900000103"
    path = export(_with_note(commune, note), "2023-12", tmp_path)
    cells = "\n".join(_cells(path))
    assert [n for n in names if n in cells] == []
    assert [p for p in phones if p in cells] == []
    assert ": Đề nghị hỗ trợ ông … …" in cells  # the note is kept, only the name and phone are masked
    with_members = "\n".join(_cells(export(_with_note(commune, note), "2023-12", tmp_path / "m", include_members=True)))
    assert all(n in with_members for n in names) and all(p in with_members for p in phones)


@pytest.mark.parametrize("written", [
    "KĂN VĂN SƠN 0900 000 103",      # capitals, a phone with spaces
    "kan van son 0900.000.103",      # no diacritics, a phone with dots
    "Kăn   Văn  Sơn +84 900-000-103",  # extra spaces, the international form
    "Ka\u0306n Va\u0306n So\u031bn 0900000103",  # decomposed (NFD), as some keyboards type it
])
def test_a_member_written_another_way_is_still_redacted(commune, tmp_path, written, defs):
    mark = report_defs(defs)["text"]["redacted"]

    def note(t):
        t["reports"].loc[t["reports"]["period"] == "2023-12", "note"] = f"Đề nghị hỗ trợ ông {written}, cảm ơn."
    path = export(_with_note(commune, note), "2023-12", tmp_path)
    notes = [c for c in _cells(path) if "Đề nghị hỗ trợ" in c]
    assert notes and all(c.endswith(f": Đề nghị hỗ trợ ông {mark} {mark}, cảm ơn.") for c in notes), notes


def test_redaction_keeps_the_text_around_the_name_intact():
    from xltools.core.submission import redact

    terms = ["Hồ Thị Đào", "0900000102"]
    assert redact("Bà HO THI DAO (đt 0900.000.102) đã về; Hồ Thị Đàon ở lại, số 09000001025.", terms, "…") == \
        "Bà … (đt …) đã về; Hồ Thị Đàon ở lại, số 09000001025."


def _with_note(commune, edit):
    from xltools.io.reader import read_workbook
    from xltools.verbs.new import new

    book = read_workbook(commune)
    tables = {k: v.drop(columns="_row") for k, v in book.tables.items() if k != "settings"}
    edit(tables)
    target = commune.parent / "with_note.xlsx"
    if not target.exists():
        new(target, {k: v for k, v in book.raw_settings.items() if v not in (None, "")}, tables)
    return target


def test_export_refuses_with_errors_and_force_says_so(make_commune, tmp_path, defs):
    def bad(t):
        t["reports"].loc[t["reports"].index[-1], "village_code"] = "99"  # unknown village
    path = make_commune("Bad.xlsx", edit=bad)
    runner = CliRunner()
    result = runner.invoke(main, ["export", str(path), "--period", "2023-12", "-o", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert result.output.startswith("Lỗi: Chưa xuất báo cáo") and "--force" in result.output
    assert ".;" not in result.output and ".." not in result.output  # examples joined without their full stops
    assert not (tmp_path / "o").exists()
    result = runner.invoke(main, ["export", str(path), "--period", "2023-12", "-o", str(tmp_path / "o"), "--force"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "o" / "BC138_20041_2023-12.xlsx"
    assert any("xuất bắt buộc" in c for c in _cells(out))
    assert read_submission(out).info["forced"] == "Có"


@pytest.mark.parametrize("command", ["export", "aggregate"])
def test_a_missing_workbook_is_one_vietnamese_line(tmp_path, command):
    missing = tmp_path / "SoTheoDoi_KhongCo.xlsx"
    result = CliRunner().invoke(main, [command, str(missing), "--period", "2023-12"])
    assert result.exit_code == 2
    assert result.output == f"Lỗi: Không tìm thấy tệp {missing}. (file not found: {missing})\n"


@pytest.mark.slow
def test_password_round_trip(commune, tmp_path):
    path = export(commune, "2023-12", tmp_path, password="Bí mật 138")
    with pytest.raises(WorkbookError) as err:
        read_submission(path)  # encrypted: refused with a clear reason, never a traceback
    assert str(err.value).startswith(f"Tệp {path.name} đang được đặt mật khẩu")
    office = msoffcrypto.OfficeFile(io.BytesIO(path.read_bytes()))
    assert office.is_encrypted()
    office.load_key(password="Bí mật 138")
    plain = io.BytesIO()
    office.decrypt(plain)
    target = tmp_path / "plain.xlsx"
    target.write_bytes(plain.getvalue())
    assert read_submission(target).unit_code == "20041"


def test_an_xlsm_gets_an_xlsx_submission_and_keeps_its_data(commune, tmp_path):
    xlsm = tmp_path / "SoTheoDoi.xlsm"
    shutil.copy(commune, xlsm)
    before = read_workbook(xlsm)
    path = export(xlsm, "2023-12", tmp_path / "out")
    assert path.suffix == ".xlsx"
    after = read_workbook(xlsm)
    pd.testing.assert_frame_equal(after.tables["reports"], before.tables["reports"])
    assert after.settings["doc_next_number"] == before.settings["doc_next_number"] + 1


def test_default_output_is_the_outbox_folder(commune):
    path = export(commune)
    assert path.parent == commune.parent / "Bao_cao_gui" and path.name.endswith("_2023-12.xlsx")


@pytest.mark.slow
def test_a_long_results_table_repeats_its_header_on_every_page(make_commune, tmp_path, defs):
    from xltools.core.sample import make_reports

    def many_villages(tables):
        base = tables["villages"][tables["villages"]["active"]].reset_index(drop=True)
        rows = [base.assign(code=base["code"] + f"-{n}", name=base["name"] + f" {n}") for n in range(3)]
        tables["villages"] = pd.concat(rows, ignore_index=True)
        tables["reports"] = make_reports(tables["villages"], ["2023-12"])

    path = export(make_commune(edit=many_villages), "2023-12", tmp_path, force=True)
    wb = openpyxl.load_workbook(path)
    assert not wb[report_defs(defs)["sheets"]["report"]].print_title_rows  # never over the budget or the signature
    ws = wb[report_defs(defs)["sheets"]["annex"].format(number=1)]  # the per-village table: alone on its sheet
    header = next(r[0].row for r in ws.iter_rows() if r[1].value == report_defs(defs)["text"]["column_village"])
    assert ws.print_title_rows == f"${header}:${header}"


def test_export_refuses_a_file_that_is_not_a_commune_workbook_even_forced(commune, tmp_path):
    submission = export(commune, "2023-12", tmp_path / "a", force=True)  # given instead of the workbook
    with pytest.raises(WorkbookError) as err:
        export(submission, "2023-12", tmp_path / "b", force=True)
    assert err.value.exit_code == 2 and submission.name in err.value.vi
    assert not (tmp_path / "b").exists() or not list((tmp_path / "b").iterdir())


def _break_reports(commune, tmp_path, how: str):
    """The commune workbook as an officer left it: the Báo cáo thôn sheet renamed, or its Mã thôn
    column deleted (real edits of the .xlsx, saved by openpyxl)."""
    defs = get_definitions()
    sheet = defs.sheet("reports")
    wb = openpyxl.load_workbook(commune)
    ws = wb[sheet.name]
    if how == "renamed":
        ws.title = "Bao cao cu"
    else:
        header = sheet.column("village_code").header
        (col,) = [c.column for c in ws[1] if c.value == header]
        ws.delete_cols(col)
        for table in ws.tables.values():  # keep the Table consistent with its shorter header row
            table.tableColumns = [t for t in table.tableColumns if t.name != header]
            start, end = table.ref.split(":")
            end_col = openpyxl.utils.column_index_from_string("".join(ch for ch in end if ch.isalpha())) - 1
            table.ref = f"{start}:{openpyxl.utils.get_column_letter(end_col)}{''.join(ch for ch in end if ch.isdigit())}"
    target = tmp_path / f"SoTheoDoi_{how}.xlsx"
    wb.save(target)
    return target


@pytest.mark.parametrize("how", ["renamed", "column_deleted"])
def test_a_forced_export_never_sends_an_empty_report(commune, tmp_path, how):
    broken = _break_reports(commune, tmp_path, how)
    out = tmp_path / "o"
    for extra in ([], ["--force"]):
        result = CliRunner().invoke(main, ["export", str(broken), "--period", "2023-12", "-o", str(out), *extra])
        assert result.exit_code == 1, result.output
        (line,) = result.output.splitlines()
        assert line.startswith("Lỗi: Không xuất báo cáo, kể cả khi xuất bắt buộc (--force)") and broken.name in line
        expected = "thiếu sheet “Báo cáo thôn”" if how == "renamed" else "sheet “Báo cáo thôn” thiếu cột “Mã thôn”"
        assert expected in line and "Traceback" not in result.output
        assert not out.exists() or not list(out.iterdir())  # nothing written, not even half a file
    # the library says the same, and data errors alone are still overridden by force (test above)
    from xltools.verbs.export import ExportStructureRefused

    with pytest.raises(ExportStructureRefused):
        export(broken, "2023-12", out, force=True)
