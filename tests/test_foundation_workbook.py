"""The commune workbook: build, read back, structure and properties."""
from __future__ import annotations

import datetime as dt
import unicodedata

import openpyxl
import pandas as pd
import pytest

from xltools.core.errors import WorkbookError, WriteError
from xltools.core.frames import ROW, records
from xltools.io.reader import read_workbook
from xltools.verbs.new import new


def _comparable(frame: pd.DataFrame, keys: list[str]) -> list[dict]:
    return [{k: r.get(k) for k in keys} for r in records(frame.reset_index(drop=True))]


def test_build_then_read_back_equals_every_table(make_commune, sample, defs):
    path = make_commune()
    book = read_workbook(path)
    assert book.problems == [] and book.structure == []
    _, tables = sample
    for key, written in tables.items():
        sheet = defs.sheet(key)
        keys = [c.key for c in sheet.readable_columns if c.key in written.columns]
        got = _comparable(book.tables[key], keys)
        want = _comparable(written, keys)
        assert got == want, key
    # the Excel row of each record is kept for later highlighting
    assert list(book.tables["villages"][ROW]) == list(range(2, 2 + len(tables["villages"])))


def test_settings_round_trip(make_commune, sample):
    path = make_commune()
    book = read_workbook(path)
    settings, _ = sample
    for key, value in settings.items():
        assert book.settings[key] == value, key
    assert book.settings["template_version"] == book.defs.version


def test_every_sheet_table_header_and_list_is_in_the_workbook(make_commune, defs):
    path = make_commune()
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[0] == defs.sheets[0].name  # the dashboard comes first
    for sheet in defs.sheets:
        ws = wb[sheet.name]
        if not sheet.table:
            continue
        table = ws.tables[sheet.table]
        headers = [c.name for c in table.tableColumns]
        assert headers == [c.header for c in sheet.columns]
        assert ws.freeze_panes == "A2"
        # every list column gets a dropdown from the hidden list sheet
        sources = {dv.formula1 for dv in ws.data_validations.dataValidation}
        for col in sheet.columns:
            if col.list:
                assert defs.lists[col.list].name in sources, (sheet.key, col.key)
            if col.ref == "villages":
                assert "ds_village_codes" in sources
    lists = wb[defs.list_sheet]
    assert lists.sheet_state == "hidden"
    for i, lst in enumerate(defs.lists.values(), start=1):
        values = [lists.cell(r, i).value for r in range(2, 2 + len(lst.values))]
        assert values == list(lst.values)
        assert lst.name in wb.defined_names


def test_protection_and_formats(make_commune, defs):
    wb = openpyxl.load_workbook(make_commune())
    for sheet in defs.sheets:
        protected = bool(wb[sheet.name].protection.sheet)
        assert protected == sheet.protected, sheet.name
        if sheet.kind == "data":
            assert not protected  # Excel cannot grow a Table on a protected sheet
    reports = wb[defs.sheet("reports").name]
    date_col = defs.sheet("reports").keys.index("report_date") + 1
    cell = reports.cell(2, date_col)
    assert isinstance(cell.value, dt.datetime) and cell.number_format == "dd/mm/yyyy"
    code = wb[defs.sheet("villages").name].cell(2, 1)
    assert code.value == "01" and code.data_type == "s"  # codes are text: leading zeros stay


def test_new_refuses_to_overwrite(make_commune, sample, tmp_path):
    path = make_commune()
    settings, tables = sample
    before = path.read_bytes()
    with pytest.raises(WriteError) as err:
        new(path, settings, tables)
    assert "--overwrite" in str(err.value)
    assert path.read_bytes() == before
    new(path, settings, tables, overwrite=True)
    backups = list((path.parent / "Sao_luu").glob("*.xlsx"))
    assert len(backups) == 1 and backups[0].read_bytes() == before


def test_preloaded_plan_rows(tmp_path, defs):
    path = new(tmp_path / "x.xlsx", {"commune_name": "Thử", "commune_code": "12345"})
    book = read_workbook(path)
    steps = book.tables["milestones"]
    assert list(steps["step_no"]) == [m["step_no"] for m in defs.milestones]
    budget = book.tables["budget"]
    assert list(budget["item"]) == [b["item"] for b in defs.budget_lines]


def _edit(path, fn):
    wb = openpyxl.load_workbook(path)
    fn(wb)
    wb.save(path)


def test_reader_tolerates_blank_rows_spaces_nfd_and_numbers_as_text(make_commune, defs):
    path = make_commune()
    name = defs.sheet("villages").name

    def damage(wb):
        ws = wb[name]
        ws.insert_rows(3, 2)  # two blank rows inside the table
        ws["B2"] = unicodedata.normalize("NFD", "  Thôn  Pa Rinh 1 ")
        ws["C2"] = "1.142"  # a count stored as text with a thousands dot
        ws["D2"] = " 618 "

    _edit(path, damage)
    book = read_workbook(path)
    villages = book.tables["villages"]
    first = villages.iloc[0]
    assert first["name"] == "Thôn Pa Rinh 1"
    assert unicodedata.is_normalized("NFC", first["name"])
    assert first["households"] == 1142 and first["population"] == 618
    assert len(villages) == 10  # blank rows dropped
    assert list(villages[ROW])[:2] == [2, 5]  # real Excel rows kept
    assert book.problems == []


def test_reader_tolerates_moved_and_extra_columns_and_title_rows(make_commune, defs):
    path = make_commune()
    name = defs.sheet("villages").name

    def rearrange(wb):
        ws = wb[name]
        del ws.tables[defs.sheet("villages").table]
        rows = [list(r) for r in ws.iter_rows(values_only=True)]
        ws.delete_rows(1, ws.max_row)
        ws.append(["Danh sách thôn của xã"])  # a title row a user added
        ws.append([])
        for r in rows:
            r = list(r)
            r[0], r[1] = r[1], r[0]  # swap code and name columns
            ws.append(r + ["cột thêm của người dùng"])

    _edit(path, rearrange)
    book = read_workbook(path)
    villages = book.tables["villages"]
    assert villages.iloc[0]["code"] == "01" and villages.iloc[0]["name"] == "Thôn Pa Rinh 1"
    assert book.letters["villages"]["code"] == "B"
    assert book.header_rows["villages"] == 3
    assert villages.iloc[0][ROW] == 4


def test_unreadable_values_become_problems_naming_the_cell(make_commune, defs):
    path = make_commune()
    _edit(path, lambda wb: wb[defs.sheet("villages").name].__setitem__("C3", "118 hộ"))
    book = read_workbook(path)
    [problem] = book.problems
    assert (problem.sheet, problem.row, problem.column, problem.key) == ("Thôn", 3, "C", "households")
    assert problem.value == "118 hộ" and problem.reason == "reason_not_whole"


def test_missing_required_column_is_one_clear_error(make_commune, defs):
    path = make_commune()
    _edit(path, lambda wb: wb[defs.sheet("villages").name].__setitem__("A1", "Mã số"))
    with pytest.raises(WorkbookError) as err:
        read_workbook(path)
    message = str(err.value)
    assert "Thôn" in message and "Mã thôn" in message and "column" in message
    assert err.value.exit_code == 2
    book = read_workbook(path, strict=False)  # validation's mode: a structure problem instead
    assert [(p.sheet, p.column) for p in book.structure] == [("Thôn", "Mã thôn")]


def test_missing_sheet_is_one_clear_error(make_commune, defs):
    path = make_commune()
    _edit(path, lambda wb: wb.remove(wb[defs.sheet("teams").name]))
    with pytest.raises(WorkbookError, match="Tổ điều hành"):
        read_workbook(path)


@pytest.mark.parametrize(
    "content, key",
    [
        (b"Ma thon,Ten thon\n01,A\n", "file_is_text"),  # a CSV renamed
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "file_is_xls"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "EncryptionInfo".encode("utf-16-le") + b"\0" * 600, "encrypted"),
        (b"PK\x03\x04 truncated", "workbook_damaged"),
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "not_xlsx"),  # a photo of the form
    ],
)
def test_files_that_are_not_workbooks(tmp_path, content, key):
    path = tmp_path / "SoTheoDoi.xlsx"
    path.write_bytes(content)
    with pytest.raises(WorkbookError) as err:
        read_workbook(path)
    assert err.value.key == key and err.value.exit_code == 2
