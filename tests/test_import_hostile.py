"""Hostile and broken files never hurt: each is rejected with a reason, fast, and the batch goes on.

Every case is a real file built here from a real form, then damaged the way it
happens in practice (renamed, truncated, encrypted, with macros, a bomb …).
"""
from __future__ import annotations

import io
import random
import shutil
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
from conftest import BILLION_LAUGHS, guarded, libreoffice_convert, rezip, with_cells
from msoffcrypto.format.ooxml import OOXMLFile

from xltools import import_reports, make_forms
from xltools.io.forms import fill_form as fill
from xltools.io.reader import read_workbook
from xltools.verbs.new import new

PERIOD = "2023-12"


@pytest.fixture(scope="module")
def built(tmp_path_factory, _sample, defs):
    """Built once: a commune without 2023-12 reports and two filled forms (villages 01 and 02)."""
    folder = tmp_path_factory.mktemp("hostile")
    settings, tables = _sample
    tables = {k: v.copy() for k, v in tables.items()}
    tables["reports"] = tables["reports"][tables["reports"]["period"] != PERIOD]
    commune = new(folder / "SoTheoDoi_Test.xlsx", dict(settings), tables)
    forms = make_forms(commune, PERIOD, folder / "inbox")
    values = {i.key: 3 for i in defs.numeric_indicators}
    return commune, fill(forms[1], values), fill(forms[0], values)


@pytest.fixture
def setup(built, tmp_path):
    """(a fresh copy of the commune workbook, a good form of village 02, a form of village 01 to damage, bad/)."""
    commune, good, base = built
    copy = tmp_path / commune.name
    shutil.copyfile(commune, copy)
    return copy, good, base, tmp_path / "bad"


def import_bad(commune: Path, bad: Path, good: Path) -> str:
    """Import the bad file with a good one; return the bad file's reason."""
    started = time.perf_counter()
    summary = import_reports(commune, [bad, good])
    bad_result, good_result = summary.files
    assert bad_result.status == "rejected" and len(bad_result.reasons) == 1
    assert good_result.status == "accepted", good_result.reasons  # the rest of the batch goes on
    assert time.perf_counter() - started < 10  # generous: the per-file bound is checked by reject_time
    reports = read_workbook(commune).tables["reports"]
    assert reports.loc[reports["period"] == PERIOD, "village_code"].tolist() == ["02"]
    return bad_result.reasons[0]


def reject_time(path: Path, defs) -> float:
    from xltools.io.formreader import read_form

    started = time.perf_counter()
    form = read_form(path, defs)
    assert not form.ok
    return time.perf_counter() - started


@pytest.fixture
def bad_dir(setup):
    folder = setup[3]
    folder.mkdir()
    return folder


def test_not_a_zip(setup, bad_dir, defs):
    commune, good, base, _ = setup
    bad = bad_dir / "PhieuBaoCao_01_2023-12.xlsx"
    bad.write_bytes(b"Xin chao, day la anh chup phieu bao cao" * 20)
    assert "là tệp văn bản" in import_bad(commune, bad, good)  # and what to do: "lưu lại dạng .xlsx"
    assert reject_time(bad, defs) < 1


def test_a_truncated_zip(setup, bad_dir, defs):
    commune, good, base, _ = setup
    data = base.read_bytes()
    bad = bad_dir / "PhieuBaoCao_01_2023-12.xlsx"
    bad.write_bytes(data[: len(data) // 2])
    assert "bị hỏng hoặc không trọn vẹn" in import_bad(commune, bad, good)
    assert reject_time(bad, defs) < 1


def test_a_csv_renamed(setup, bad_dir, defs):
    commune, good, base, _ = setup
    bad = bad_dir / "PhieuBaoCao_01_2023-12.xlsx"
    bad.write_text("Nội dung,Số liệu\nSố buổi họp,3\n", encoding="utf-8")
    assert "lưu lại dạng .xlsx" in import_bad(commune, bad, good)


def test_an_ods_renamed(setup, bad_dir, defs):
    commune, good, base, _ = setup
    bad = bad_dir / "PhieuBaoCao_01_2023-12.xlsx"
    with zipfile.ZipFile(bad, "w") as z:  # the layout of an OpenDocument spreadsheet
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        z.writestr("content.xml", '<?xml version="1.0"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"/>')
        z.writestr("META-INF/manifest.xml", '<?xml version="1.0"?><manifest/>')
    reason = import_bad(commune, bad, good)
    assert "(.ods)" in reason and "lưu lại dạng .xlsx" in reason


@pytest.mark.libreoffice
def test_an_xls_saved_by_libreoffice_and_renamed(setup, bad_dir, defs):
    commune, good, base, _ = setup
    [xls] = libreoffice_convert([base], "xls", bad_dir / "lo")
    bad = bad_dir / "PhieuBaoCao_01_2023-12.xlsx"
    xls.rename(bad)
    assert "(.xls, Excel 97-2003)" in import_bad(commune, bad, good)


def test_a_password_encrypted_file(setup, bad_dir, defs):
    commune, good, base, _ = setup
    bad = bad_dir / "PhieuBaoCao_01_2023-12.xlsx"
    out = io.BytesIO()
    with open(base, "rb") as fh:
        OOXMLFile(fh).encrypt("matkhau", out)
    bad.write_bytes(out.getvalue())
    assert "đặt mật khẩu" in import_bad(commune, bad, good)
    assert reject_time(bad, defs) < 1


def test_a_workbook_with_macros(setup, bad_dir, defs):
    commune, good, base, _ = setup
    bad = rezip(base, bad_dir / "PhieuBaoCao_01_2023-12.xlsm", add={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0" + b"\x00" * 2000})
    assert "có chứa macro" in import_bad(commune, bad, good)


def test_a_form_whose_metadata_sheet_was_deleted(setup, bad_dir, defs):
    commune, good, base, _ = setup
    wb = openpyxl.load_workbook(base)
    del wb[defs.extra("forms")["meta_sheet"]]
    bad = bad_dir / "PhieuBaoCao_01_2023-12.xlsx"
    wb.save(bad)
    assert "không phải phiếu báo cáo của xltools" in import_bad(commune, bad, good)


def test_a_plain_workbook_is_not_a_form(setup, bad_dir, defs):
    commune, good, base, _ = setup
    bad = bad_dir / "BangTinh.xlsx"
    wb = openpyxl.Workbook()
    wb.active["A1"] = "Số buổi họp"
    wb.save(bad)
    assert "không phải phiếu báo cáo của xltools" in import_bad(commune, bad, good)


def test_a_zip_bomb(setup, bad_dir, defs):
    commune, good, base, _ = setup
    bad = rezip(base, bad_dir / "PhieuBaoCao_01_2023-12.xlsx",
                add={"xl/worksheets/sheet9.xml": b"<" + b"\x00" * 30_000_000})
    assert bad.stat().st_size < 200_000  # tiny on disk, 30 MB inflated
    assert "nén bất thường" in import_bad(commune, bad, good)
    assert reject_time(bad, defs) < 1


def test_an_xml_bomb(setup, bad_dir, defs):
    commune, good, base, _ = setup
    bad = rezip(base, bad_dir / "PhieuBaoCao_01_2023-12.xlsx", replace={"xl/workbook.xml": BILLION_LAUGHS})
    assert "DTD" in import_bad(commune, bad, good)
    assert reject_time(bad, defs) < 1


def test_an_xml_bomb_deep_inside_workbook_xml(setup, bad_dir, defs):
    commune, good, base, _ = setup
    padded = b'<?xml version="1.0"?>\n<!--' + b"x" * 10_000 + b"-->\n" + BILLION_LAUGHS.split(b"\n", 1)[1]
    bad = rezip(base, bad_dir / "PhieuBaoCao_01_2023-12.xlsx", replace={"xl/workbook.xml": padded})
    assert "DTD" in import_bad(commune, bad, good)


def test_a_50_mb_file(setup, bad_dir, defs):
    commune, good, base, _ = setup
    bad = bad_dir / "PhieuBaoCao_01_2023-12.xlsx"
    with open(bad, "wb") as fh:
        fh.write(base.read_bytes())
        fh.write(b"\x00" * (50 * 1024 * 1024))
    assert "quá lớn (52,4 MB, tối đa 2,0 MB)" in import_bad(commune, bad, good)
    assert reject_time(bad, defs) < 0.1  # refused before it is read


@pytest.mark.parametrize(
    "meta, reason",
    [
        ({"commune_code": "99999"}, "là phiếu của xã mã 99999, không phải xã 20041"),
        ({"village_code": "77"}, "mã thôn “77” không có trong sheet Thôn"),
        ({"village_code": "10"}, "thôn 10 đã ngừng hoạt động"),
        ({"period": "2023-13"}, "kỳ báo cáo “2023-13” không hợp lệ"),
        ({"form_version": "0"}, "phiếu mẫu phiên bản 0, không còn dùng"),
        ({"generator": "khác"}, "không phải phiếu báo cáo của xltools"),
    ],
)
def test_forms_that_do_not_belong_here(setup, bad_dir, defs, meta, reason):
    commune, good, base, _ = setup
    wb = openpyxl.load_workbook(base)
    ws = wb[defs.extra("forms")["meta_sheet"]]
    for row in ws.iter_rows(min_row=1):
        if row[0].value in meta:
            row[1].value = meta[row[0].value]
    bad = bad_dir / "PhieuBaoCao_01_2023-12.xlsx"
    wb.save(bad)
    assert reason in import_bad(commune, bad, good)


def test_a_form_missing_the_name_of_an_input(setup, bad_dir, defs):
    commune, good, base, _ = setup
    wb = openpyxl.load_workbook(base)
    del wb.defined_names["tips"]
    bad = bad_dir / "PhieuBaoCao_01_2023-12.xlsx"
    wb.save(bad)
    assert "phiếu thiếu ô “" + defs.indicator("tips").label in import_bad(commune, bad, good)


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_an_xml_bomb_in_a_part_that_calamine_reads(setup, bad_dir, defs, compression):
    commune, good, base, _ = setup
    bomb = BILLION_LAUGHS.replace(b"<workbook", b"<worksheet").replace(b"</workbook>", b"</worksheet>")
    part = "xl/worksheets/sheet2.xml"  # the metadata sheet
    assert part in zipfile.ZipFile(base).namelist()
    bad = rezip(base, bad_dir / "PhieuBaoCao_01_2023-12.xlsx", replace={part: bomb}, compression=compression)
    assert part in import_bad(commune, bad, good)
    assert reject_time(bad, defs) < 1


@pytest.mark.parametrize("part, data", [
    ("xl/worksheets/sheet1.xml", b"<worksheet><sheetData><row r='1'><c r='A1' t='s'><v>"),  # cut in the middle
    ("xl/workbook.xml", b"<workbook><sheets><sheet name="),
])
def test_a_damaged_part(setup, bad_dir, defs, part, data):
    commune, good, base, _ = setup
    bad = rezip(base, bad_dir / "PhieuBaoCao_01_2023-12.xlsx", replace={part: data})
    assert "Không đọc được tệp" in import_bad(commune, bad, good)


def test_a_corrupted_member(setup, bad_dir, defs):
    commune, good, base, _ = setup
    data = bytearray(base.read_bytes())
    with zipfile.ZipFile(base) as z:
        info = z.getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 10, start + min(info.compress_size, 400)):
        data[i] ^= 0x5A  # flip bits inside the compressed sheet
    bad = bad_dir / "PhieuBaoCao_01_2023-12.xlsx"
    bad.write_bytes(bytes(data))
    reason = import_bad(commune, bad, good)
    assert "Không đọc được tệp" in reason or "bị hỏng" in reason or "DTD" in reason


# ------------------------------------------------------------------ a value in a far cell
# python-calamine sizes a sheet's grid from A1 to its farthest value: one value at XFD1048576
# aborts the process (a Rust allocation failure), one at Z1048576 costs a gigabyte and tens of
# seconds. The reader refuses such a form before calamine sees it. The reads run in a child
# process with a memory cap, so that a regression fails these tests instead of the test run.

IMPORT_IN_CHILD = """
import json, sys, time
from xltools import import_reports
started = time.perf_counter()
summary = import_reports(sys.argv[1], sys.argv[2:])
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "files": [[f.file, f.status, f.reasons] for f in summary.files]}))
"""


def far_value(ref: str) -> str:
    row = "".join(ch for ch in ref if ch.isdigit())
    return f'<row r="{row}"><c r="{ref}"><v>5</v></c></row>'


@pytest.mark.parametrize("ref", ["XFD1048576", "Z1048576"])
@pytest.mark.slow
def test_a_form_with_a_value_in_a_far_cell_is_one_rejected_file_of_the_folder(setup, bad_dir, defs, ref):
    commune, good, base, _ = setup
    form_sheet = defs.extra("forms")["sheet_name"]
    folder = bad_dir / "inbox"
    folder.mkdir()
    shutil.copyfile(good, folder / good.name)
    bad = with_cells(base, folder / base.name, form_sheet, far_value(ref))
    # the same values otherwise: without the far cell the form is accepted (the refusal is the cell's)
    result = guarded(IMPORT_IN_CHILD, commune, folder)
    by_name = {name: (status, reasons) for name, status, reasons in result["files"]}
    assert by_name[good.name] == ("accepted", [])
    status, reasons = by_name[bad.name]
    assert status == "rejected" and len(reasons) == 1
    assert reasons[0] == (f"Tệp {bad.name} bị từ chối: sheet “{form_sheet}” có dữ liệu ở ô {ref}, ngoài vùng của "
                          "phiếu báo cáo (tối đa 500 dòng, đến cột AD); hãy xóa ô đó hoặc dùng phiếu xã gửi.")
    assert result["seconds"] < 10
    reports = read_workbook(commune).tables["reports"]
    assert reports.loc[reports["period"] == PERIOD, "village_code"].tolist() == ["02"]


@pytest.mark.parametrize("cells, cell", [
    ('<row r="1048576"><c><v>5</v></c></row>', "A1048576"),  # a row with r, a cell without: placed in A
    ('<row r="7"><c r="XFD7" t="inlineStr"><is><t>ghi chú</t></is></c></row>', "XFD7"),
    ('<row r="9"><c r="A1048570"><v>1</v></c></row>', "A1048570"),  # the cell's own r counts, not the row's
])
@pytest.mark.slow
def test_far_cells_in_the_metadata_sheet(setup, bad_dir, defs, cells, cell):
    commune, good, base, _ = setup
    meta = defs.extra("forms")["meta_sheet"]
    bad = with_cells(base, bad_dir / base.name, meta, cells)
    reason = guarded(IMPORT_IN_CHILD, commune, bad, good)["files"][0][2]
    assert len(reason) == 1 and f"sheet “{meta}” có dữ liệu ở ô {cell}, ngoài vùng của phiếu" in reason[0]


@pytest.mark.slow
def test_formatting_far_out_is_not_data_and_the_form_imports(setup, bad_dir, defs):
    """An application that leaves a formatted empty cell or a formatted row far out loses nothing:
    no reader sizes a grid by them, so the form is read."""
    commune, good, base, _ = setup
    form_sheet = defs.extra("forms")["sheet_name"]
    bad = with_cells(base, bad_dir / base.name, form_sheet,
                     '<row r="1000" s="0" customFormat="1"/><row r="1048576"><c r="XFD1048576" s="0"/></row>')
    result = guarded(IMPORT_IN_CHILD, commune, bad, good)
    assert [f[1] for f in result["files"]] == ["accepted", "accepted"]


def test_a_value_just_outside_the_block_is_refused_and_just_inside_is_read(setup, bad_dir, defs, own_definitions):
    from xltools.io.formreader import read_form

    commune, good, base, _ = setup
    form_sheet = defs.extra("forms")["sheet_name"]
    inside = read_form(with_cells(base, bad_dir / "in.xlsx", form_sheet, far_value("AD500")), defs)
    assert inside.ok, inside.reasons
    outside = read_form(with_cells(base, bad_dir / "out.xlsx", form_sheet, far_value("AE500")), defs)
    assert outside.reasons == [f"Tệp out.xlsx bị từ chối: sheet “{form_sheet}” có dữ liệu ở ô AE500, ngoài vùng của "
                               "phiếu báo cáo (tối đa 500 dòng, đến cột AD); hãy xóa ô đó hoặc dùng phiếu xã gửi."]
    # the block is the definitions': a province that gives its forms more room changes forms.toml only
    own_definitions.replace("forms.toml", "max_columns = 30", "max_columns = 40")
    own_definitions.replace("forms.toml", "max_cells = 15_000", "max_cells = 20_000")
    from xltools.core.definitions import get_definitions

    assert read_form(bad_dir / "out.xlsx", get_definitions()).ok


# ------------------------------------------------------------------ a DTD anywhere in a part
@pytest.mark.parametrize("padding", [10_000, 1_500_000])  # in the first inflated chunk (1 MB), and past it
@pytest.mark.parametrize("part", ["xl/worksheets/sheet2.xml", "xl/styles.xml", "xl/theme/theme1.xml", "[Content_Types].xml"])
def test_a_dtd_after_a_long_comment_in_any_part(setup, bad_dir, defs, part, padding):
    commune, good, base, _ = setup
    with zipfile.ZipFile(base) as z:
        xml = z.read(part)
    head, body = xml.split(b"?>", 1) if xml.startswith(b"<?xml") else (b'<?xml version="1.0"', xml)
    bomb = BILLION_LAUGHS.split(b"\n", 1)[1].split(b"<workbook")[0]  # the DOCTYPE and its entities
    noise = random.Random(padding).randbytes(padding // 2).hex().encode()  # does not compress: no ratio refusal
    padded = head + b"?><!--" + noise + b"-->" + bomb + body
    bad = rezip(base, bad_dir / "PhieuBaoCao_01_2023-12.xlsx", replace={part: padded})
    assert bad.stat().st_size < defs.extra("forms")["limits"]["max_file_bytes"]
    assert f"phần {part} có khai báo DTD" in import_bad(commune, bad, good)
    assert reject_time(bad, defs) < 2


@pytest.mark.parametrize("encode", [
    lambda t: b"\xff\xfe" + t.encode("utf-16-le"),  # UTF-16 with its byte order mark
    lambda t: t.encode("utf-16-le"), lambda t: t.encode("utf-16-be"),  # without one
    lambda t: b" " * 5_000 + t.split("?>", 1)[1].encode(),  # UTF-8 after a run of blanks
], ids=["utf16-bom", "utf16le", "utf16be", "blanks"])
def test_a_dtd_in_a_part_written_in_another_encoding(setup, bad_dir, defs, encode):
    commune, good, base, _ = setup
    part = "xl/worksheets/sheet2.xml"
    bomb = BILLION_LAUGHS.replace(b"<workbook", b"<worksheet").replace(b"</workbook>", b"</worksheet>")
    text = bomb.decode().replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
    bad = rezip(base, bad_dir / "PhieuBaoCao_01_2023-12.xlsx", replace={part: encode(text)})
    assert f"phần {part} có khai báo DTD" in import_bad(commune, bad, good)


def test_a_zip_that_lies_about_its_inflated_size(setup, bad_dir, defs):
    """The directory says 1 KB, the member inflates to 30 MB: the real bytes are counted."""
    commune, good, base, _ = setup
    bad = rezip(base, bad_dir / "PhieuBaoCao_01_2023-12.xlsx",
                add={"xl/worksheets/sheet9.xml": b"<worksheet>" + b" " * 30_000_000 + b"</worksheet>"})
    data = bytearray(bad.read_bytes())
    with zipfile.ZipFile(bad) as z:
        info = z.getinfo("xl/worksheets/sheet9.xml")
    import struct

    # rewrite the uncompressed size in the local header and in the central directory entry
    struct.pack_into("<I", data, info.header_offset + 22, 1_000)
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if bytes(data[pos + 46:pos + 46 + name_len]) == b"xl/worksheets/sheet9.xml":
            struct.pack_into("<I", data, pos + 24, 1_000)
        pos = data.find(b"PK\x01\x02", pos + 4)
    bad.write_bytes(bytes(data))
    with zipfile.ZipFile(bad) as z:
        assert z.getinfo("xl/worksheets/sheet9.xml").file_size == 1_000  # the lie
    assert "nén bất thường" in import_bad(commune, bad, good)
    assert reject_time(bad, defs) < 2
