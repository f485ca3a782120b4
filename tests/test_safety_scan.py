"""The safety scan's quick paths (io/safety.py) refuse what the exact reading refuses.

The scan is called directly on a real submission's bytes: nothing here reaches python-calamine,
so a far cell the scan missed would show as an accepted file, never as a grid allocated.
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from conftest import rezip, sheet_part, with_cells

from xltools.io import safety
from xltools.io.submission_reader import submission_limits
from xltools.verbs.export import export
from xltools.verbs.new import new, sample_commune

PERIOD = "2023-12"


@pytest.fixture(scope="module")
def submission(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("scan")
    settings, tables = sample_commune()
    return export(new(folder / "SoTheoDoi.xlsx", settings, tables), PERIOD, folder / "out", force=True)


@pytest.fixture(scope="module")
def sheets(defs) -> dict[str, str]:
    return defs.extra("report")["sheets"]


def scan(path: Path, defs, grid_sheets=None) -> None:
    data = path.read_bytes()
    safety.check_zip(zipfile.ZipFile(io.BytesIO(data)), data, path.name, submission_limits(defs),
                     grid_sheets=grid_sheets)


def read_sheets(sheets) -> list[str]:
    return [sheets["info"], sheets["data"], sheets["situation"]]


@pytest.mark.parametrize("cells, refused", [
    ('<row r="9"><c r="Z99999"><v>1</v></c></row>', False),  # inside the block a quick look clears
    ('<row r="9"><c r="AX9"><v>1</v></c></row>', False),  # the last column allowed
    ('<row r="9"><c r="AY9"><v>1</v></c></row>', True),  # one column past it
    ('<row r="9"><c r="A0000009"><v>1</v></c></row>', False),  # leading zeros: row 9
    ('<row r="500001"><c r="A500001"><v>1</v></c></row>', True),
    ('<row r="400000"><c r="AX400000"><v>1</v></c></row>', True),  # each inside, the grid too big
    ('<row r="9"><c\tr="XFD1048576"><v>5</v></c></row>', True),  # a tab before the reference
    ('<row r="9"><c\nr="XFD9"><v>5</v></c></row>', True),  # a line break
    ('<row r="9"><c s="0" r="XFD9"><v>5</v></c></row>', True),  # the reference not first
    ('<row r="9"><x:c r="XFD9" xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
     '<x:v>5</x:v></x:c></row>', True),  # a namespace prefix
    ("<row r=\"9\"><c r='XFD9'><v>5</v></c></row>", True),  # single quotes
])
def test_a_far_value_in_a_sheet_read_is_refused_however_it_is_written(submission, defs, sheets, tmp_path, cells, refused):
    bad = with_cells(submission, tmp_path / submission.name, sheets["data"], cells)
    if refused:
        with pytest.raises(safety.Refused):
            scan(bad, defs, read_sheets(sheets))
    else:
        scan(bad, defs, read_sheets(sheets))


def test_a_far_value_in_a_sheet_nobody_reads_as_a_grid_is_no_danger(submission, defs, sheets, tmp_path):
    """The printed report (Báo cáo) is never turned into a grid by a rollup: its cells are not
    the rollup's concern, but every check of the file as a whole still is."""
    far = '<row r="1048576"><c r="XFD1048576"><v>5</v></c></row>'
    bad = with_cells(submission, tmp_path / submission.name, sheets["report"], far)
    scan(bad, defs, read_sheets(sheets))
    with pytest.raises(safety.Refused):
        scan(bad, defs)  # a reader of every sheet is protected as before


def test_a_dtd_in_a_sheet_nobody_reads_is_still_refused(submission, defs, sheets, tmp_path):
    part = sheet_part(submission, sheets["report"])
    with zipfile.ZipFile(submission) as z:
        xml = z.read(part)
    head, body = xml.split(b"?>", 1)
    bad = rezip(submission, tmp_path / submission.name,
                replace={part: head + b'?><!DOCTYPE x [<!ENTITY a "aaaa">]>' + body})
    with pytest.raises(safety.Refused, match="DTD"):
        scan(bad, defs, read_sheets(sheets))


@pytest.mark.parametrize("edit", [
    lambda book, rels: (book.replace(b"<sheets>", b"<!-- a comment --><sheets>"), rels),  # not plain: all checked
    lambda book, rels: (book, rels.replace(b'Target="worksheets/sheet1.xml"', b'Target="/xl/worksheets/SHEET1.xml"')),
    lambda book, rels: (book, rels.replace(b'Target="worksheets/sheet1.xml"', b'Target="worksheets/../worksheets/sheet1.xml"')),
])
def test_the_report_sheet_found_however_the_workbook_names_it(submission, defs, sheets, tmp_path, edit):
    """The part of a sheet read is found as a reader finds it; where the workbook is not plain,
    every sheet is checked. Here Số liệu is made to live where Báo cáo was."""
    data_part = sheet_part(submission, sheets["data"])
    with zipfile.ZipFile(submission) as z:
        book, rels = z.read("xl/workbook.xml"), z.read("xl/_rels/workbook.xml.rels")
        data_xml, report_xml = z.read(data_part), z.read("xl/worksheets/sheet1.xml")
    # swap the two sheets' parts: Số liệu (read) now in sheet1.xml, with a far value in it
    swapped = rezip(submission, tmp_path / "swapped.xlsx", replace={
        "xl/worksheets/sheet1.xml": data_xml.replace(b"</sheetData>", b'<row r="9"><c r="XFD9"><v>5</v></c></row></sheetData>'),
        data_part: report_xml,
        "xl/workbook.xml": book, "xl/_rels/workbook.xml.rels": rels})
    with zipfile.ZipFile(swapped) as z:
        book, rels = z.read("xl/workbook.xml"), z.read("xl/_rels/workbook.xml.rels")
    data_target = data_part.removeprefix("xl/").encode()
    rels = rels.replace(b'Target="worksheets/sheet1.xml"', b'Target="@@"').replace(
        b'Target="' + data_target + b'"', b'Target="worksheets/sheet1.xml"').replace(b'Target="@@"', b'Target="' + data_target + b'"')
    book, rels = edit(book, rels)
    bad = rezip(swapped, tmp_path / submission.name, replace={"xl/workbook.xml": book, "xl/_rels/workbook.xml.rels": rels})
    with pytest.raises(safety.Refused, match="XFD9"):
        scan(bad, defs, read_sheets(sheets))


def test_a_dtd_that_got_past_the_scan_is_still_not_expanded_by_the_forms_parser(tmp_path, defs, monkeypatch):
    """Defence in depth: were the scan ever to miss a DTD, the forms' own XML parser (workbook.xml,
    for the defined names) expands no entity and refuses the file."""
    from conftest import BILLION_LAUGHS

    from xltools.io import formreader

    path = tmp_path / "PhieuBaoCao_01_2023-12.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("xl/workbook.xml", BILLION_LAUGHS)
    monkeypatch.setattr(formreader, "open_zip", lambda data, name, limits, **_: zipfile.ZipFile(io.BytesIO(data)))
    [reason] = formreader.read_form(path, defs).reasons
    assert reason.key == "import_xml_unsafe"
