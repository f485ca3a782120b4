"""The commune workbook and the submissions get the limits of the village forms.

Every verb reads the commune workbook through ``reader.check_file`` (the openpyxl editor
too, before it loads the file for writing), and rollup reads submissions through
``submission_reader``: a file that is too big, inflates abnormally, declares a DTD anywhere,
or has a value far out (python-calamine would size a dense grid up to it) is refused with one
Vietnamese line naming the file, the sheet and the cell, within seconds, and nothing is written.
Every hostile file is built here from a real workbook; the far-cell reads run in a child process
with a memory cap (``guarded``), so that a regression fails the test, not the test run.
"""
from __future__ import annotations

import random
import re
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import BILLION_LAUGHS, guarded, rezip, sheet_part, with_cells

from xltools import export, make_forms, rollup
from xltools.cli import main
from xltools.core.sample import generated_communes
from xltools.verbs.new import new, sample_commune

PERIOD = "2023-12"

VERBS_IN_CHILD = """
import json, sys, time
from click.testing import CliRunner
from xltools.cli import main
path, period = sys.argv[1], sys.argv[2]
out = {}
for verb in (["validate", path], ["aggregate", path, "--period", period, "--write"],
             ["import", path, sys.argv[3]], ["forms", path, "--period", period],
             ["export", path, "--period", period, "--force"]):
    started = time.perf_counter()
    result = CliRunner().invoke(main, verb)
    out[verb[0]] = [result.exit_code, result.output, time.perf_counter() - started]
print(json.dumps(out))
"""


def sheet_name(defs, key: str) -> str:
    return next(s.name for s in defs.table_sheets if s.key == key)


def one_line(output: str) -> str:
    """The CLI's one error line, without its "Lỗi: " prefix."""
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Lỗi: "), output
    return lines[0].removeprefix("Lỗi: ")


@pytest.fixture
def commune(make_commune) -> Path:
    return make_commune()


@pytest.mark.slow  # child Pythons under a memory cap, one per verb: the CI lane runs it
@pytest.mark.parametrize("ref", ["XFD1048576", "Z1048576"])
def test_a_commune_workbook_with_a_value_in_a_far_cell_is_refused_by_every_verb(commune, tmp_path, defs, ref):
    villages = sheet_name(defs, "villages")
    inbox = tmp_path / "inbox"
    make_forms(commune, PERIOD, inbox)  # forms of the sound workbook, for import to read
    row = "".join(ch for ch in ref if ch.isdigit())
    (tmp_path / "bad").mkdir()
    bad = with_cells(commune, tmp_path / "bad" / commune.name, villages, f'<row r="{row}"><c r="{ref}"><v>5</v></c></row>')
    before = bad.read_bytes()
    result = guarded(VERBS_IN_CHILD, bad, PERIOD, inbox)
    expected = (f"Tệp {bad.name} bị từ chối: sheet “{villages}” có dữ liệu ở ô {ref}, vượt giới hạn của sổ theo dõi "
                "(tối đa 250.000 dòng, đến cột CV); hãy xóa ô đó (Ctrl+End đưa đến ô cuối có dữ liệu) rồi thử lại.")
    for verb, (code, output, seconds) in result.items():
        assert code == 2, (verb, output)
        assert one_line(output).startswith(expected), (verb, output)
        assert seconds < 10, verb  # a refusal takes well under a second; the machine may be shared
    assert bad.read_bytes() == before  # nothing written
    assert not (bad.parent / "Sao_luu").exists() and not list(bad.parent.glob("*_20*.xlsx"))
@pytest.mark.slow  # child Pythons under a memory cap, one per verb: the CI lane runs it
def test_formatting_far_out_in_the_commune_workbook_loses_nothing(commune, tmp_path, defs):
    """Formatted empty cells and rows far out are no data: the workbook is read as before."""
    formatted = with_cells(commune, tmp_path / "formatted.xlsx", sheet_name(defs, "villages"),
                           '<row r="1048576" s="0" customFormat="1"><c r="XFD1048576" s="0"/></row>')
    result = guarded(VERBS_IN_CHILD, formatted, PERIOD, tmp_path)
    code, output, _ = result["validate"]
    assert code in (0, 1) and "Kiểm tra formatted.xlsx" in output
    plain = CliRunner().invoke(main, ["validate", str(commune)])
    assert output.replace("formatted.xlsx", commune.name) == plain.output


def test_a_table_longer_than_the_configured_limit_is_refused(commune, own_definitions):
    own_definitions.replace("workbook.toml", "max_rows = 250_000", "max_rows = 60")
    result = CliRunner().invoke(main, ["validate", str(commune)])
    assert result.exit_code == 2
    line = one_line(result.output)  # the sample's Báo cáo thôn has more than 60 rows
    assert re.match(rf"Tệp {re.escape(commune.name)} bị từ chối: sheet “[^”]+” có dữ liệu ở ô [A-Z]+61, vượt giới "
                    r"hạn của sổ theo dõi \(tối đa 60 dòng, đến cột CV\)", line), line


def test_a_sheet_bigger_than_the_configured_cells_is_refused(commune, own_definitions):
    own_definitions.replace("workbook.toml", "max_cells = 5_000_000", "max_cells = 500")
    result = CliRunner().invoke(main, ["validate", str(commune)])
    assert result.exit_code == 2
    line = one_line(result.output)
    assert re.match(rf"Tệp {re.escape(commune.name)} bị từ chối: sheet “[^”]+” có hơn 500 ô, lớn hơn sổ theo dõi", line)
@pytest.mark.slow  # child Pythons under a memory cap, one per verb: the CI lane runs it
def test_a_workbook_that_inflates_to_millions_of_cells_answers_within_seconds(commune, tmp_path, defs):
    log = sheet_name(defs, "log")
    columns = [chr(65 + i) for i in range(22)]  # A..V: within max_columns
    rows = 240_000  # within max_rows; 22 x 240,000 = 5.28 million cells > max_cells
    body = "".join(f'<row r="{r}">' + "".join(f'<c r="{c}{r}"><v>{r % 97}</v></c>' for c in columns) + "</row>"
                   for r in range(1, rows + 1))
    xml = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="http://schemas.'
           'openxmlformats.org/spreadsheetml/2006/main"><sheetData>' + body + "</sheetData></worksheet>").encode()
    (tmp_path / "big").mkdir()
    bad = rezip(commune, tmp_path / "big" / commune.name, replace={sheet_part(commune, log): xml})
    assert bad.stat().st_size < 50_000_000
    result = guarded(VERBS_IN_CHILD, bad, PERIOD, tmp_path)
    code, output, seconds = result["validate"]
    # one streaming pass, stopped once the values outnumber max_cells: a few seconds on an idle
    # machine (calamine would build the 5.28 million cells first); generous for a shared CI runner
    assert code == 2 and seconds < 30
    assert one_line(output).startswith(f"Tệp {bad.name} bị từ chối: sheet “{log}” có hơn 5.000.000 ô, lớn hơn sổ theo dõi")


@pytest.mark.slow
def test_a_commune_workbook_over_the_size_limit_is_refused_unread(commune, tmp_path):
    import time

    bad = tmp_path / "big" / commune.name
    bad.parent.mkdir()
    # a real zip, 51 MB of it an incompressible picture
    rezip(commune, bad, add={"xl/media/image1.png": random.Random(51).randbytes(51_000_000)})
    started = time.perf_counter()
    result = CliRunner().invoke(main, ["validate", str(bad)])
    assert time.perf_counter() - started < 2
    assert result.exit_code == 2
    size = f"{bad.stat().st_size / 1e6:.1f}".replace(".", ",")
    assert one_line(result.output).startswith(
        f"Tệp {bad.name} quá lớn ({size} MB, tối đa 50,0 MB) để là sổ theo dõi của một xã")


@pytest.mark.parametrize("case", ["ratio", "members", "dtd", "dtd_deep"])
def test_a_hostile_commune_workbook_is_refused_with_one_line(commune, tmp_path, case):
    target = tmp_path / "bad" / commune.name
    target.parent.mkdir()
    if case == "ratio":
        bad = rezip(commune, target, add={"xl/media/image9.xml": b"<" + b"\x00" * 60_000_000})
        expected = "nén bất thường (xl/media/image9.xml: nén"
    elif case == "members":
        bad = rezip(commune, target, add={f"customXml/item{i}.xml": b"<a/>" for i in range(1_000)})
        expected = "nén bất thường ("
    else:
        part = "xl/styles.xml"
        with zipfile.ZipFile(commune) as z:
            xml = z.read(part)
        head, body = xml.split(b"?>", 1) if xml.startswith(b"<?xml") else (b'<?xml version="1.0"', xml)
        size = 1_500_000 if case == "dtd_deep" else 100
        noise = random.Random(size).randbytes(size).hex().encode()  # incompressible: past the first 1 MB chunk
        bomb = BILLION_LAUGHS.split(b"\n", 1)[1].split(b"<workbook")[0]
        bad = rezip(commune, target, replace={part: head + b"?><!--" + noise + b"-->" + bomb + body})
        expected = f"phần {part} có khai báo DTD"
    before = bad.read_bytes()
    for verb in (["validate", str(bad)], ["aggregate", str(bad), "--period", PERIOD, "--write"]):
        result = CliRunner().invoke(main, verb)
        assert result.exit_code == 2, result.output
        line = one_line(result.output)
        assert line.startswith(f"Tệp {bad.name} ") and expected in line, line
    assert bad.read_bytes() == before


def test_the_workbook_with_buttons_keeps_its_macros(commune, tmp_path):
    """The commune workbook may carry its VBA project (.xlsm): the workbook limits allow it."""
    xlsm = rezip(commune, tmp_path / "SoTheoDoi_Test.xlsm", add={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0" + b"\x00" * 2000})
    result = CliRunner().invoke(main, ["validate", str(xlsm)])
    assert result.exit_code in (0, 1) and "macro" not in result.output


# ------------------------------------------------------------------ submissions (rollup)
@pytest.fixture(scope="module")
def two_submissions(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("subs_hostile")
    files = []
    for settings, tables in [sample_commune(), generated_communes()[0]]:
        book = new(folder / f"SoTheoDoi_{settings['commune_code']}.xlsx", settings, tables)
        files.append(export(book, PERIOD, folder / "out", force=True))
    return files[0], files[1]


ROLLUP_IN_CHILD = """
import json, sys, time
from xltools import rollup
started = time.perf_counter()
result = rollup(sys.argv[2:], "2023-12", sys.argv[1], unit_name="huyện A Lưới", unit_code="474")
print(json.dumps({"seconds": time.perf_counter() - started, "accepted": [str(p) for p in result.accepted],
                  "rejected": [[str(p), r] for p, r in result.rejected]}))
"""


@pytest.mark.slow  # child Pythons under a memory cap, one per verb: the CI lane runs it
@pytest.mark.parametrize("ref", ["XFD1048576", "Z1048576"])
def test_a_submission_with_a_value_in_a_far_cell_is_one_rejected_file(two_submissions, tmp_path, defs, ref):
    good, base = two_submissions
    data_sheet = defs.extra("report")["sheets"]["data"]
    row = "".join(ch for ch in ref if ch.isdigit())
    bad = with_cells(base, tmp_path / base.name, data_sheet, f'<row r="{row}"><c r="{ref}"><v>5</v></c></row>')
    result = guarded(ROLLUP_IN_CHILD, tmp_path / "dist", bad, good)
    assert result["accepted"] == [str(good)] and result["seconds"] < 20
    [(path, reason)] = result["rejected"]
    assert path == str(bad)
    assert "\n" not in reason and reason.startswith(
        f"Tệp {bad.name} bị từ chối: sheet “{data_sheet}” có dữ liệu ở ô {ref}, ngoài vùng của một báo cáo gửi cấp "
        "trên (tối đa 500.000 dòng, đến cột AX); hãy nhờ đơn vị gửi lại tệp BC138 do công cụ xuất.")


@pytest.mark.slow
def test_a_submission_with_a_dtd_deep_inside_a_part_is_rejected(two_submissions, tmp_path):
    good, base = two_submissions
    part = "xl/styles.xml"
    with zipfile.ZipFile(base) as z:
        xml = z.read(part)
    head, body = xml.split(b"?>", 1) if xml.startswith(b"<?xml") else (b'<?xml version="1.0"', xml)
    noise = random.Random(7).randbytes(1_500_000).hex().encode()
    bomb = BILLION_LAUGHS.split(b"\n", 1)[1].split(b"<workbook")[0]
    bad = rezip(base, tmp_path / base.name, replace={part: head + b"?><!--" + noise + b"-->" + bomb + body})
    result = rollup([bad, good], PERIOD, tmp_path / "dist", unit_name="huyện A Lưới", unit_code="474")
    assert result.accepted == [good]
    [(path, reason)] = result.rejected
    assert path == bad and "\n" not in reason and f"phần {part} có khai báo DTD" in reason


@pytest.mark.parametrize("file, section, line", [
    ("workbook.toml", "limits", "max_cells = 5_000_000"),
    ("report.toml", "submission_limits", "max_cells = 5_000_000"),
    ("forms.toml", "limits", "max_cells = 15_000"),
])
def test_a_misspelt_limit_in_the_definitions_is_one_line_naming_it(own_definitions, file, section, line):
    """A province's copy that lacks a limit takes the shipped one; one whose name is misspelt is refused."""
    from xltools.core.definitions import get_definitions
    from xltools.core.errors import DefinitionsError
    from xltools.io.formreader import read_form
    from xltools.io.reader import workbook_limits
    from xltools.io.submission_reader import submission_limits

    own_definitions.replace(file, line, line.replace("max_cells", "max_cell"))
    defs = get_definitions()
    with pytest.raises(DefinitionsError) as err:
        if file == "workbook.toml":
            workbook_limits(defs)
        elif file == "report.toml":
            submission_limits(defs)
        else:
            read_form(own_definitions / "none.xlsx", defs)
    assert f"“{section}.max_cell”" in err.value.vi and file in err.value.vi
    assert "\n" not in err.value.vi
