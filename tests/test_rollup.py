"""rollup: sums of the parts, newest of duplicates, rejected files, rollup of rollups."""
from __future__ import annotations

import datetime as dt
import json
import shutil
import zipfile

import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from xltools import export, rollup
from xltools.cli import main
from xltools.core.aggregation import DEN, NUM
from xltools.core.consolidation import UnitData, combine
from xltools.core.definitions import get_definitions, report_defs
from xltools.core.sample import generated_communes
from xltools.io.submission_reader import read_submission
from xltools.verbs.new import new

KEYS = ["movement_launches", "zalo_households", "individual_coverage" + NUM, "individual_coverage" + DEN]

units = st.builds(
    UnitData,
    code=st.sampled_from(["20041", "20044", "20047", "20050", "20053"]),
    name=st.just("Xã"),
    values=st.fixed_dictionaries({k: st.integers(0, 10_000) for k in KEYS}),
    created_at=st.datetimes(min_value=dt.datetime(2023, 12, 1), max_value=dt.datetime(2024, 2, 1)),
    file=st.uuids().map(lambda u: f"{u}.xlsx"),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(units, min_size=1, max_size=12))
def test_rollup_totals_are_the_sum_of_the_parts_and_no_unit_counts_twice(items):
    defs = get_definitions()
    agg = combine(items, "2023-12", "474", "huyện A Lưới", defs)
    codes = list(agg.parts["code"])
    assert len(codes) == len(set(codes)) == len({u.code for u in items})
    newest = {}
    for u in items:
        best = newest.get(u.code)
        if best is None or (u.created_at, u.file) > (best.created_at, best.file):
            newest[u.code] = u
    total = agg.total()
    for key in KEYS:
        assert total[key] == sum(u.values[key] for u in newest.values())
    assert len(agg.rollup.superseded) == len(items) - len(newest)
    # a ratio is recomputed from the summed parts
    den = total["individual_coverage" + DEN]
    expected = total["individual_coverage" + NUM] / den if den else None
    assert agg.rates_of(total)["individual_coverage"] == expected


@pytest.fixture(scope="module")
def submissions(tmp_path_factory):
    """The four sample communes exported for 2023-12."""
    folder = tmp_path_factory.mktemp("subs")
    from xltools.verbs.new import sample_commune

    communes = [sample_commune()] + generated_communes()
    files = []
    for settings_, tables in communes:
        book = new(folder / f"SoTheoDoi_{settings_['commune_code']}.xlsx", settings_, tables)
        files.append(export(book, "2023-12", folder / "out"))
    return folder / "out", files, communes


@pytest.mark.slow
def test_rollup_of_four_communes(submissions, tmp_path):
    out_dir, files, communes = submissions
    expected = tmp_path / "expected.csv"
    expected.write_text("Mã đơn vị,Tên đơn vị\n" + "".join(f"{s['commune_code']},{s['commune_name']}\n" for s, _ in communes)
                        + "20099,Xã Chưa Gửi\n", encoding="utf-8")
    result = rollup([out_dir], "2023-12", tmp_path / "dist", unit_name="huyện A Lưới", unit_code="474", expected=expected)
    assert result.path.name == "BC138_474_2023-12.xlsx"
    assert len(result.accepted) == 4 and result.rejected == [] and result.superseded == []
    assert result.missing == ["Xã Chưa Gửi (20099)"]
    subs = [read_submission(f) for f in files]
    rolled = read_submission(result.path)
    for key, value in rolled.totals().items():
        assert value == sum(s.totals().get(key, 0) for s in subs), key
    parts = {r[2] for r in rolled.rows if r[2]}
    assert parts == {s["commune_code"] for s, _ in communes}
    agg = result.aggregate
    total = agg.total()
    assert agg.facts["expected"] == 5 and agg.facts["submitted"] == 4
    cov = agg.rates_of(total)["zalo_coverage"]
    assert cov == pytest.approx(sum(s.totals()["zalo_coverage.num"] for s in subs) / sum(s.totals()["zalo_coverage.den"] for s in subs))


def test_a_submission_comes_back_from_a_reader_process_whole(submissions, defs):
    """What a reader process sends back (pickled by columns) is the submission it read."""
    import pickle

    from xltools.core.aggregation import DataRow
    from xltools.io.submission_reader import read_submission

    _, files, _ = submissions
    sub = read_submission(files[0], defs)
    back = pickle.loads(pickle.dumps(sub))
    assert back == sub and len(back.rows) == len(sub.rows) > 0
    assert all(type(r) is DataRow for r in back.rows) and back.totals() == sub.totals() and back.sha256 == sub.sha256


def test_rollup_of_rollups_reaches_the_province(submissions, tmp_path):
    out_dir, files, _ = submissions
    a = rollup(files[:2], "2023-12", tmp_path / "a.xlsx", unit_name="huyện A", unit_code="474")
    b = rollup(files[2:], "2023-12", tmp_path / "b.xlsx", unit_name="huyện B", unit_code="475")
    province = rollup([a.path, b.path], "2023-12", tmp_path / "p", unit_name="tỉnh Thừa Thiên Huế", unit_code="46")
    direct = rollup(files, "2023-12", tmp_path / "d.xlsx", unit_name="tỉnh Thừa Thiên Huế", unit_code="46")
    assert read_submission(province.path).totals() == read_submission(direct.path).totals()
    assert list(province.aggregate.parts["code"]) == ["474", "475"]


def test_newest_duplicate_wins_and_the_older_is_listed(submissions, tmp_path):
    out_dir, files, _ = submissions
    folder = tmp_path / "in"
    folder.mkdir()
    for f in files:
        shutil.copy(f, folder / f.name)
    older = folder / "BC138_20041_2023-12_cu.xlsx"
    shutil.copy(files[0], older)
    wb = openpyxl.load_workbook(older)  # make it older: Thông tin is not covered by the data checksum
    ws = wb[report_defs(get_definitions())["sheets"]["info"]]
    for row in ws.iter_rows(min_row=4):
        if row[0].value == "created_at":
            row[2].value = "2023-12-01 08:00:00"
    wb.save(older)
    result = rollup([folder], "2023-12", tmp_path / "dist", unit_name="huyện A Lưới", unit_code="474")
    assert [(o.name, n.name) for o, n in result.superseded] == [(older.name, files[0].name)]
    assert f"  ↷ {older.name} → {files[0].name}" in result.summary_lines()
    assert len(result.aggregate.parts) == 4


@pytest.mark.slow
def test_edited_wrong_period_and_foreign_files_are_rejected_with_reasons(submissions, tmp_path, defs):
    out_dir, files, _ = submissions
    folder = tmp_path / "in"
    folder.mkdir()
    for f in files[1:]:
        shutil.copy(f, folder / f.name)
    edited = folder / files[0].name
    shutil.copy(files[0], edited)
    wb = openpyxl.load_workbook(edited)
    ws = wb[report_defs(defs)["sheets"]["data"]]
    ws.cell(3, 7).value = 999
    wb.save(edited)
    (folder / "ghi_chu.xlsx").write_bytes(b"not a workbook")
    runner = CliRunner()
    result = runner.invoke(main, ["rollup", str(folder), "--period", "2023-12", "-o", str(tmp_path / "dist"),
                                  "--unit-name", "huyện A Lưới", "--unit-code", "474"])
    assert result.exit_code == 1, result.output
    assert f"✗ {edited.name}:" in result.output and "SHA-256" in result.output
    assert "✗ ghi_chu.xlsx:" in result.output
    assert (tmp_path / "dist" / "BC138_474_2023-12.xlsx").exists()
    as_json = runner.invoke(main, ["rollup", str(folder), "--period", "2023-12", "-o", str(tmp_path / "dist2"),
                                   "--unit-name", "huyện A Lưới", "--unit-code", "474", "--format", "json"])
    data = json.loads(as_json.stdout)
    codes = {r["file"]: r["reason_code"]["key"] for r in data["rejected"]}
    assert codes == {edited.name: "submission_checksum", "ghi_chu.xlsx": "file_is_text"}, codes
    assert len(data["accepted"]) == len(files) - 1
    wrong = runner.invoke(main, ["rollup", str(folder), "--period", "2023-11", "-o", str(tmp_path / "x"),
                                 "--unit-name", "huyện A Lưới"])
    assert wrong.exit_code == 1 and "Lỗi: Không có báo cáo hợp lệ nào của kỳ 2023-11 để tổng hợp: " in wrong.output
    assert "ghi_chu.xlsx" in wrong.output  # the reasons come with it


def test_a_damaged_sheet_is_rejected_and_the_batch_goes_on(submissions, tmp_path, defs):
    _, files, _ = submissions
    damaged = tmp_path / "BC138_hong_2023-12.xlsx"
    with zipfile.ZipFile(files[0]) as src, zipfile.ZipFile(damaged, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet3.xml":  # Số liệu, cut in the middle of a tag
                data = data[: len(data) // 2]
            dst.writestr(item, data)
    result = rollup([damaged, *files[1:]], "2023-12", tmp_path / "d", unit_name="huyện A Lưới", unit_code="474")
    assert [(p.name, reason.startswith(f"Không đọc được tệp {damaged.name}:")) for p, reason in result.rejected] == [
        (damaged.name, True)]
    assert len(result.accepted) == len(files) - 1
    wb = openpyxl.load_workbook(result.path)
    signed = [c.value for row in wb[report_defs(defs)["sheets"]["report"]].iter_rows() for c in row if isinstance(c.value, str)]
    assert not any(damaged.name in t for t in signed)  # file names stay off the signed pages
    texts = [c.value for row in wb[report_defs(defs)["sheets"]["notes"]].iter_rows() for c in row if isinstance(c.value, str)]
    line = next(t for t in texts if "Tệp báo cáo không được chấp nhận: " in t)
    assert f"Không đọc được tệp {damaged.name}:" in line and "cannot read" not in line  # Vietnamese only


@pytest.mark.parametrize("option", ["path", "--expected", "--settings"])
@pytest.mark.slow
def test_a_missing_input_is_one_vietnamese_line(submissions, tmp_path, option):
    _, files, _ = submissions
    missing = tmp_path / "khong_co.csv"
    args = ["rollup", *map(str, files), "--period", "2023-12", "-o", str(tmp_path / "d"), "--unit-name", "huyện A Lưới"]
    args = args[:1] + [str(missing)] + args[1:] if option == "path" else [*args, option, str(missing)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code in (1, 2)
    assert result.output == f"Lỗi: Không tìm thấy tệp {missing}. (file not found: {missing})\n"
    assert not (tmp_path / "d").exists()


def test_an_expected_list_in_utf16_is_one_clear_line(submissions, tmp_path):
    _, files, _ = submissions
    expected = tmp_path / "don_vi.csv"
    expected.write_text("Mã đơn vị\tTên đơn vị\n20041\tXã Hồng Thủy\n", encoding="utf-16")  # Excel's "Unicode text"
    result = CliRunner().invoke(main, ["rollup", *map(str, files), "--period", "2023-12", "-o", str(tmp_path / "d"),
                                       "--unit-name", "huyện A Lưới", "--expected", str(expected)])
    assert result.exit_code == 1
    assert result.output.startswith(f"Lỗi: Không đọc được danh sách đơn vị phải báo cáo {expected}: tệp không phải văn bản UTF-8")


@pytest.mark.slow  # the demo run (about 9 s) is shared by the slow lane
def test_demo_exports_a_month_and_a_quarter_and_rolls_four_communes_up(demo):
    assert demo.exit_code == 0, demo.output
    outbox = demo.folder / "Bao_cao_gui"
    for name in ("BC138_20041_2023-12.xlsx", "BC138_20041_2023-Q4.xlsx"):
        assert str(outbox / name) in demo.output
    rolled = next(demo.folder.glob("Tong_hop/BC138_*_2023-12.xlsx"))
    assert str(rolled) in demo.output
    sub = read_submission(rolled)
    assert sorted({r[2] for r in sub.rows if r[2]}) == ["20041", "20044", "20047", "20050"]


def test_rollup_header_and_signer_from_a_settings_file(submissions, tmp_path, defs):
    _, files, _ = submissions
    settings = tmp_path / "huyen.toml"
    settings.write_text('parent_body = "UBND HUYỆN A LƯỚI"\nplace_name = "A Lưới"\nbcd_head = "Hồ Văn Thử"\n'
                        'doc_next_number = 7\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["rollup", *map(str, files), "--period", "2023-12", "-o", str(tmp_path / "d"),
                                       "--unit-name", "huyện A Lưới", "--unit-code", "474", "--settings", str(settings)])
    assert result.exit_code == 0, result.output
    ws = openpyxl.load_workbook(tmp_path / "d" / "BC138_474_2023-12.xlsx")[report_defs(defs)["sheets"]["report"]]
    texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert "UBND HUYỆN A LƯỚI" in texts and "Hồ Văn Thử" in texts and "Số: 07/BC-BCĐ" in texts
    assert any(t.startswith("A Lưới, ngày ") for t in texts)


def test_an_earlier_rollup_of_the_same_unit_is_not_rolled_into_itself(submissions, tmp_path):
    _, files, _ = submissions
    first = rollup(files, "2023-12", tmp_path / "a", unit_name="huyện A Lưới", unit_code="474")
    again = rollup([*files, first.path], "2023-12", tmp_path / "b", unit_name="huyện A Lưới", unit_code="474")
    assert [p.name for p, _ in again.rejected] == [first.path.name]
    assert "chính huyện A Lưới" in again.rejected[0][1]
    assert again.aggregate.total() == first.aggregate.total()


# ------------------------------------------------------------------ hostile submissions
# A submission arrives by email: the safety checks of the village forms (xltools.io.safety)
# refuse a hostile file unparsed, with its reason, and the rest of the batch rolls up.

def _roll_with_a_bad_file(bad, good, tmp_path) -> str:
    """Roll a hostile file up with a good one; return the hostile file's one-line reason."""
    import time

    started = time.perf_counter()
    result = rollup([bad, good], "2023-12", tmp_path / "dist", unit_name="huyện A Lưới", unit_code="474")
    assert time.perf_counter() - started < 10
    assert result.accepted == [good]
    [(path, reason)] = result.rejected
    assert path == bad and "\n" not in reason and reason.startswith(f"Tệp {bad.name} ")
    assert list(result.aggregate.parts["code"]) == [read_submission(good).unit_code]
    return reason


@pytest.fixture
def hostile(submissions, tmp_path):
    """(a good submission, one to damage, a folder for the damaged copy)."""
    _, files, _ = submissions
    folder = tmp_path / "bad"
    folder.mkdir()
    return files[1], files[0], folder


def test_a_zip_bomb_submission_is_refused(hostile, tmp_path):
    from conftest import rezip

    good, base, folder = hostile
    bad = rezip(base, folder / base.name, add={"xl/worksheets/sheet9.xml": b"<" + b"\x00" * 30_000_000})
    assert bad.stat().st_size < 200_000  # tiny on disk, 30 MB inflated
    assert "nén bất thường" in _roll_with_a_bad_file(bad, good, tmp_path)


def test_a_submission_with_macros_is_refused(hostile, tmp_path):
    from conftest import rezip

    good, base, folder = hostile
    bad = rezip(base, folder / base.name, add={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0" + b"\x00" * 2000})
    reason = _roll_with_a_bad_file(bad, good, tmp_path)
    assert "có chứa macro (vbaProject.bin)" in reason and "báo cáo gửi cấp trên" in reason and "phiếu" not in reason


def test_an_encrypted_submission_is_refused(hostile, tmp_path):
    import io

    from msoffcrypto.format.ooxml import OOXMLFile

    good, base, folder = hostile
    out = io.BytesIO()
    with open(base, "rb") as fh:
        OOXMLFile(fh).encrypt("matkhau", out)
    bad = folder / base.name
    bad.write_bytes(out.getvalue())
    assert "đang được đặt mật khẩu" in _roll_with_a_bad_file(bad, good, tmp_path)


def test_a_too_large_submission_is_refused_unread(hostile, tmp_path, defs):
    import time

    from xltools.io.safety import Refused

    good, base, folder = hostile
    bad = folder / base.name
    with open(bad, "wb") as fh:
        fh.write(base.read_bytes())
        fh.write(b"\x00" * 21_000_000)
    size = f"{bad.stat().st_size / 1e6:.1f}".replace(".", ",")
    reason = _roll_with_a_bad_file(bad, good, tmp_path)
    assert f"quá lớn ({size} MB, tối đa 20,0 MB)" in reason and "phiếu" not in reason
    started = time.perf_counter()
    with pytest.raises(Refused):
        read_submission(bad, defs)
    assert time.perf_counter() - started < 0.1  # refused before it is read


def test_an_xml_bomb_in_a_submission_is_refused(hostile, tmp_path):
    from conftest import BILLION_LAUGHS, rezip

    good, base, folder = hostile
    bad = rezip(base, folder / base.name, replace={"xl/workbook.xml": BILLION_LAUGHS})  # calamine parses it
    assert "xl/workbook.xml có khai báo DTD" in _roll_with_a_bad_file(bad, good, tmp_path)


def test_a_hostile_submission_is_one_line_on_the_command_line(hostile, tmp_path):
    from conftest import rezip

    good, base, folder = hostile
    bad = rezip(base, folder / base.name, add={"xl/vbaProject.bin": b"\x00" * 2000})
    result = CliRunner().invoke(main, ["rollup", str(bad), str(good), "--period", "2023-12", "-o", str(tmp_path / "d"),
                                       "--unit-name", "huyện A Lưới", "--unit-code", "474"])
    assert result.exit_code == 1, result.output
    [line] = [x for x in result.output.splitlines() if x.startswith("  ✗ ")]
    assert line.startswith(f"  ✗ {bad.name}: Tệp {bad.name} có chứa macro")


def test_without_settings_the_header_names_the_unit_and_its_place(submissions, tmp_path, defs):
    _, files, _ = submissions
    result = rollup(files, "2023-12", tmp_path / "d", unit_name="huyện A Lưới", unit_code="474")
    ws = openpyxl.load_workbook(result.path)[report_defs(defs)["sheets"]["report"]]
    texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert "UBND HUYỆN A LƯỚI" in texts
    assert any(t.startswith("A Lưới, ngày ") for t in texts)
    assert any(t.startswith("Ban Chỉ đạo 138 huyện A Lưới tổng hợp") for t in texts)


@pytest.mark.slow
def test_rollup_warns_about_a_submission_without_any_village_report(submissions, make_commune, tmp_path):
    _, files, _ = submissions

    def no_december(tables):  # the villages' December reports never got imported
        tables["reports"] = tables["reports"][tables["reports"]["period"] != "2023-12"]

    empty = export(make_commune("SoTheoDoi_Empty.xlsx", edit=no_december), "2023-12", tmp_path / "empty")
    assert read_submission(empty).totals()["completeness.num"] == 0  # a valid, checksummed file
    result = CliRunner().invoke(main, ["rollup", str(empty), *map(str, files[1:]), "--period", "2023-12",
                                       "-o", str(tmp_path / "dist"), "--unit-name", "huyện A Lưới", "--unit-code", "474"])
    assert result.exit_code == 0, result.output
    warned = [line for line in result.output.splitlines() if line.strip().startswith("Cảnh báo:")]
    assert len(warned) == 1 and empty.name in warned[0] and "(20041)" in warned[0], result.output
    assert "tỷ lệ thôn gửi báo cáo 0%" in warned[0]
    # the communes that reported are not flagged
    kept = rollup(files, "2023-12", tmp_path / "full.xlsx", unit_name="huyện A Lưới", unit_code="474")
    assert kept.empty == []


def test_worker_processes_read_as_this_process_does(submissions, tmp_path):
    """A big batch is read by a pool of processes: the same rollup, the same refusals with their
    reasons (an XltoolsError crosses the process boundary whole), in the same order."""
    out_dir, files, _ = submissions
    folder = tmp_path / "in"
    folder.mkdir()
    for f in files:
        shutil.copy(f, folder / f.name)
    (folder / "ghi_chu.xlsx").write_bytes(b"not a workbook")
    one = rollup(folder, "2023-12", tmp_path / "one", unit_name="huyện A Lưới", unit_code="474", workers=1)
    pool = rollup(folder, "2023-12", tmp_path / "pool", unit_name="huyện A Lưới", unit_code="474", workers=2)
    assert [p.name for p in pool.accepted] == [p.name for p in one.accepted] and len(one.accepted) == len(files)
    assert [(p.name, r, r.key) for p, r in pool.rejected] == [(p.name, r, r.key) for p, r in one.rejected]
    assert [r.key for _, r in one.rejected] == ["file_is_text"]
    assert read_submission(pool.path).rows == read_submission(one.path).rows


def test_a_refusal_pickles_with_its_key_and_parameters():
    import pickle

    from xltools.core.errors import WorkbookError

    err = pickle.loads(pickle.dumps(WorkbookError("submission_period", file="a.xlsx", found="2023-11", wanted="2023-12")))
    assert type(err) is WorkbookError and err.key == "submission_period" and err.params["found"] == "2023-11"
    assert "a.xlsx" in err.vi
