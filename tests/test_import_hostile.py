"""Hostile and broken files never hurt: each is rejected with a reason, fast, and the batch goes on.

Every case is a real file built here from a real form, then damaged the way it
happens in practice (renamed, truncated, encrypted, with macros, a bomb …).
"""
from __future__ import annotations

import io
import shutil
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
from conftest import libreoffice_convert
from msoffcrypto.format.ooxml import OOXMLFile

from xltools import import_reports, make_forms
from xltools.io.forms import fill_form as fill
from xltools.io.reader import read_workbook
from xltools.verbs.new import new

PERIOD = "2023-12"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets>&lol9;</sheets></workbook>
"""




def rezip(source: Path, target: Path, replace: dict[str, bytes] | None = None, add: dict[str, bytes] | None = None,
          drop: set[str] = frozenset(), compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """Copy a workbook's zip, replacing, adding or dropping members."""
    replace, add = replace or {}, add or {}
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", compression) as zout:
        for info in zin.infolist():
            if info.filename in drop:
                continue
            zout.writestr(info.filename, replace.get(info.filename, zin.read(info.filename)))
        for name, data in add.items():
            zout.writestr(name, data)
    return target


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
    assert "không phải là tệp Excel" in import_bad(commune, bad, good)
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
    assert "không phải là tệp Excel" in import_bad(commune, bad, good)


def test_an_ods_renamed(setup, bad_dir, defs):
    commune, good, base, _ = setup
    bad = bad_dir / "PhieuBaoCao_01_2023-12.xlsx"
    with zipfile.ZipFile(bad, "w") as z:  # the layout of an OpenDocument spreadsheet
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        z.writestr("content.xml", '<?xml version="1.0"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"/>')
        z.writestr("META-INF/manifest.xml", '<?xml version="1.0"?><manifest/>')
    assert "không phải là tệp Excel" in import_bad(commune, bad, good)


@pytest.mark.libreoffice
def test_an_xls_saved_by_libreoffice_and_renamed(setup, bad_dir, defs):
    commune, good, base, _ = setup
    [xls] = libreoffice_convert([base], "xls", bad_dir / "lo")
    bad = bad_dir / "PhieuBaoCao_01_2023-12.xlsx"
    xls.rename(bad)
    assert "không phải là tệp Excel" in import_bad(commune, bad, good)


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


def test_an_xml_bomb_deep_inside_workbook_xml_is_caught_by_defusedxml(setup, bad_dir, defs):
    from xltools.io import formreader

    commune, good, base, _ = setup
    padded = b'<?xml version="1.0"?>\n<!--' + b"x" * 10_000 + b"-->\n" + BILLION_LAUGHS.split(b"\n", 1)[1]
    bad = rezip(base, bad_dir / "PhieuBaoCao_01_2023-12.xlsx", replace={"xl/workbook.xml": padded})
    assert formreader._XML_HEAD_BYTES < 10_000  # the quick scan cannot see it: defusedxml must
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
