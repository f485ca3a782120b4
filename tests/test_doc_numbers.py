"""Document numbers (issue 12, item 6): each export takes the next number of the committee's series
(``doc_next_number``), prints it on the report and the Word draft, and records it in the commune
workbook in one write: the setting advanced, a row in the register Sổ văn bản đi (number, date,
period, file, SHA-256 of the file written), a Nhật ký row. Exporting a period again keeps its
number unless ``--new-number``; a workbook made before the register exists still exports."""
from __future__ import annotations

import datetime as dt
import os

os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")  # before xlwings is imported

import openpyxl  # noqa: E402
import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from conftest import book_from_file, written_cells  # noqa: E402
from docx import Document  # noqa: E402

from xltools import export, validate  # noqa: E402
from xltools.cli import main  # noqa: E402
from xltools.core.definitions import get_definitions, report_defs  # noqa: E402
from xltools.core.errors import WriteError  # noqa: E402
from xltools.io.files import sha256_file  # noqa: E402
from xltools.io.reader import read_workbook  # noqa: E402
from xltools.io.report_docx import docx_name  # noqa: E402
from xltools.io.submission_reader import read_submission  # noqa: E402
from xltools.verbs.export import export_file  # noqa: E402
from xltools.verbs.new import new, sample_commune  # noqa: E402

REGISTER = "Sổ văn bản đi"


@pytest.fixture
def commune(make_commune):
    return make_commune("SoTheoDoi_HongThuy.xlsx")  # doc_next_number 5, doc_code BC-BCĐ


def _number_on_report(path) -> str:
    ws = openpyxl.load_workbook(path, read_only=True)[report_defs(get_definitions())["sheets"]["report"]]
    found = [v for row in ws.iter_rows(values_only=True) for v in row if isinstance(v, str) and v.startswith("Số: ")]
    assert len(found) == 1, found
    return found[0]


def _number_on_draft(path) -> str:
    return Document(str(path)).tables[0].rows[1].cells[0].text


def _register(path) -> list[dict]:
    frame = read_workbook(path).tables["register"]
    return frame.drop(columns="_row").to_dict("records")


def _next(path) -> int:
    return read_workbook(path).settings["doc_next_number"]


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.slow
def test_the_month_and_the_quarter_take_consecutive_numbers(commune, tmp_path):
    month = export(commune, "2023-12", tmp_path / "out", docx=True)
    quarter = export(commune, "2023-Q4", tmp_path / "out", docx=True)
    assert _number_on_report(month) == "Số: 05/BC-BCĐ"
    assert _number_on_report(quarter) == "Số: 06/BC-BCĐ"
    assert read_submission(month).info["document_number"] == "5"
    assert read_submission(quarter).info["document_number"] == "6"
    assert _next(commune) == 7
    assert [(r["number"], r["period"]) for r in _register(commune)] == [(5, "2023-12"), (6, "2023-Q4")]


@pytest.mark.slow
def test_the_word_draft_prints_the_same_number(commune, tmp_path):
    export(commune, "2023-12", tmp_path / "out")
    quarter = export(commune, "2023-Q4", tmp_path / "out", docx=True)
    assert _number_on_draft(docx_name(quarter)) == "Số: 06/BC-BCĐ" == _number_on_report(quarter)
    body = "\n".join(p.text for p in Document(str(docx_name(quarter))).paragraphs)
    assert "(Kèm theo Báo cáo số 06/BC-BCĐ" in body  # the annexes name the report they belong to


@pytest.mark.slow
def test_the_register_row_names_the_number_date_period_file_and_its_sha256(commune, tmp_path):
    path = export(commune, "2023-12", tmp_path / "out", docx=True)
    [row] = _register(commune)
    assert row["number"] == 5 and row["doc_code"] == "BC-BCĐ" and row["period"] == "2023-12"
    assert row["file"] == path.name == "BC138_20041_2023-12.xlsx"
    assert row["sha256"] == sha256_file(path)
    date = read_submission(path).info["report_date"]  # the date printed on the date line
    assert row["date"] == dt.date.fromisoformat(date)
    assert docx_name(path).name in row["note"]
    log = read_workbook(commune).tables["log"].iloc[-1]
    assert log["action"] == "Xuất báo cáo" and log["file"] == path.name and log["sha256"] == sha256_file(path)
    assert "05/BC-BCĐ" in log["detail"]
    assert list((commune.parent / "Sao_luu").glob("SoTheoDoi_HongThuy_*.xlsx"))  # the backup of every write-back


def test_the_sha256_is_the_encrypted_files_when_a_password_is_set(commune, tmp_path):
    path = export(commune, "2023-12", tmp_path / "out", password="Bí mật")
    assert _register(commune)[0]["sha256"] == sha256_file(path)


@pytest.mark.slow
def test_exporting_a_period_again_keeps_its_number(commune, tmp_path):
    first = export(commune, "2023-12", tmp_path / "a")
    first_sha = sha256_file(first)
    again = export(commune, "2023-12", tmp_path / "b")
    assert _number_on_report(again) == "Số: 05/BC-BCĐ"
    assert _next(commune) == 6  # not advanced
    [row] = _register(commune)  # the same document: its row names the new file
    assert row["number"] == 5 and row["sha256"] == sha256_file(again) != first_sha
    assert "xuất lại" in row["note"]


@pytest.mark.slow
def test_new_number_takes_the_next_one_and_says_which_it_replaces(commune, tmp_path):
    export(commune, "2023-12", tmp_path / "out")
    export(commune, "2023-Q4", tmp_path / "out")
    renewed = export_file(commune, "2023-12", tmp_path / "out", new_number=True)
    assert renewed.number == "07/BC-BCĐ" and _number_on_report(renewed.path) == "Số: 07/BC-BCĐ"
    assert _next(commune) == 8
    rows = _register(commune)
    assert [(r["number"], r["period"]) for r in rows] == [(5, "2023-12"), (6, "2023-Q4"), (7, "2023-12")]
    assert "thay văn bản số 05/BC-BCĐ" in rows[-1]["note"]
    assert rows[-1]["sha256"] == sha256_file(renewed.path)
    # exporting the month again now keeps the newer number
    assert _number_on_report(export(commune, "2023-12", tmp_path / "out")) == "Số: 07/BC-BCĐ"


@pytest.mark.slow
def test_a_lowered_setting_never_repeats_a_number_of_the_same_year(commune, tmp_path):
    export(commune, "2023-12", tmp_path / "out")  # 05
    wb = openpyxl.load_workbook(commune)
    ws = wb["Cấu hình"]
    cell = next(r[2] for r in ws.iter_rows(min_row=2) if r[0].value == "doc_next_number")
    cell.value = 1  # typed back by hand
    wb.save(commune)
    quarter = export(commune, "2023-Q4", tmp_path / "out")
    assert _number_on_report(quarter) == "Số: 06/BC-BCĐ" and _next(commune) == 7


def test_a_workbook_open_in_excel_takes_no_number_and_writes_no_file(commune, tmp_path):
    lock = commune.with_name(f"~${commune.name}")
    lock.write_bytes(b"")
    before = commune.read_bytes()
    with pytest.raises(WriteError):
        export(commune, "2023-12", tmp_path / "out")
    assert commune.read_bytes() == before and not list(tmp_path.glob("out/*"))
    lock.unlink()
    assert _number_on_report(export(commune, "2023-12", tmp_path / "out")) == "Số: 05/BC-BCĐ"


@pytest.mark.slow
def test_the_command_says_the_number_and_takes_a_new_one_on_request(commune, tmp_path):
    out = tmp_path / "out"
    first = _run("export", commune, "--period", "2023-12", "-o", out)
    assert first.exit_code == 0, first.output
    assert "Số văn bản: 05/BC-BCĐ (số mới; số tiếp theo ghi ở Cấu hình: 6)" in first.output
    again = _run("export", commune, "--period", "2023-12", "-o", out)
    assert again.exit_code == 0 and "05/BC-BCĐ, giữ số" in again.output and "--new-number" in again.output
    renewed = _run("export", commune, "--period", "2023-12", "-o", out, "--new-number")
    assert renewed.exit_code == 0 and "Số văn bản: 06/BC-BCĐ (số mới" in renewed.output
    assert _number_on_report(out / "BC138_20041_2023-12.xlsx") == "Số: 06/BC-BCĐ"
    assert "Sổ chưa có sheet" not in first.output + again.output + renewed.output
    assert "--new-number" in _run("export", "--help").output


# ---------------------------------------------------------------------------- a workbook older than the register
@pytest.fixture
def old_book(tmp_path, own_definitions, monkeypatch):
    """A workbook made by definitions without the register (an xltools before it), read by today's."""
    text = (own_definitions / "workbook.toml").read_text(encoding="utf-8")
    start = text.index("# ---------------------------------------------------------------- register")
    end = text.index("# ---------------------------------------------------------------- computed output sheets")
    own_definitions.replace("workbook.toml", text[start:end], "")
    older = get_definitions()
    assert "register" not in [s.key for s in older.sheets]
    settings, tables = sample_commune(defs=older)
    path = new(tmp_path / "SoTheoDoi_Cu.xlsx", settings, tables, defs=older)
    monkeypatch.delenv("XLTOOLS_DEFINITIONS")
    assert REGISTER not in openpyxl.load_workbook(path).sheetnames
    return path


@pytest.mark.slow
def test_an_old_workbook_still_validates_and_exports_with_a_warning(old_book, tmp_path):
    report = validate(old_book)
    assert not [i for i in report.issues if i.rule.startswith("structure-missing")]
    result = _run("export", old_book, "--period", "2023-12", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "Số văn bản: 05/BC-BCĐ" in result.output
    assert f"Sổ chưa có sheet “{REGISTER}”" in result.output and "xltools upgrade" in result.output
    assert _next(old_book) == 6  # numbered and advanced all the same
    assert REGISTER not in openpyxl.load_workbook(old_book).sheetnames  # nothing added behind the upgrade's back
    # without a register a re-export cannot find the period's number: it takes the next one
    again = export(old_book, "2023-12", tmp_path / "out")
    assert _number_on_report(again) == "Số: 06/BC-BCĐ" and _next(old_book) == 7
    assert read_workbook(old_book).tables["log"]["detail"].str.contains("06/BC-BCĐ").any()


# ---------------------------------------------------------------------------- the button
@pytest.mark.slow
def test_the_button_records_the_number_in_the_open_book(make_commune, tmp_path):
    import xltools.excel as x

    path = make_commune(settings={"outbox_dir": "Báo cáo gửi"})
    book = book_from_file(path)
    text = x.export(book)
    assert "Số văn bản: 05/BC-BCĐ" in text, text
    [target] = (tmp_path / "Báo cáo gửi").glob("BC138_*.xlsx")
    assert _number_on_report(target) == "Số: 05/BC-BCĐ"
    defs = get_definitions()
    register = written_cells(book, REGISTER)
    assert register["A2"] == 5 and register["D2"] == "2023-12" and register["E2"] == target.name
    assert register["F2"] == sha256_file(target)
    read = read_workbook(path)  # the file as built: where the setting sits
    cell = f'{read.letters["settings"]["value"]}{read.settings_rows["doc_next_number"]}'
    assert written_cells(book, defs.sheet("settings").name)[cell] == 6
    log = written_cells(book, defs.sheet("log").name)
    assert sha256_file(target) in log.values()
