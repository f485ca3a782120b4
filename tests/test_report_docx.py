"""The report as an editable Word draft (issue 12, item 7): ``export --docx`` writes
BC138_<unit>_<period>.docx beside the submission, the same report in the Decree 30 layout.
The draft is read back with python-docx and compared with the submission's Số liệu; LibreOffice
prints it and PyMuPDF measures the paper: type sizes, pages, margins, the signature block."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import libreoffice_convert
from docx import Document
from docx.oxml.ns import qn

from xltools import export, rollup
from xltools.cli import main
from xltools.core.definitions import get_definitions, report_defs
from xltools.core.messages import fill
from xltools.core.sample import generated_commune
from xltools.io.report_docx import docx_name
from xltools.io.submission import printed_number
from xltools.io.submission_reader import read_submission
from xltools.verbs.new import new, sample_commune

REP = report_defs(get_definitions())
TEXT, LAYOUT = REP["text"], REP["layout"]
MM = 72 / 25.4
SIZES = (9, 26, 40, 60)  # villages of the generated communes (issue 12: 26+ is common after the mergers)


def _commune(folder: Path, villages: int) -> Path:
    code = 31000 + villages
    s, t = generated_commune({"name": f"Thử {villages}", "code": str(code), "villages": villages, "seed": villages})
    return new(folder / f"SoTheoDoi_{code}.xlsx", s, t)


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    """The sample commune's December report: (submission, Word draft, the input tables)."""
    root = tmp_path_factory.mktemp("docx")
    s, t = sample_commune()
    xlsx = export(new(root / "SoTheoDoi_HongThuy.xlsx", s, t), "2023-12", root / "out", docx=True)
    return xlsx, docx_name(xlsx), t


def _bordered(doc) -> list:
    """The bordered (data) tables, in order; the header and signature tables have no borders."""
    return [t for t in doc.tables if t.style is not None and t.style.name == "Table Grid"]


def _cells(table) -> list[list[str]]:
    return [[c.text for c in row.cells] for row in table.rows]


def _runs(paragraphs):
    for p in paragraphs:
        for r in p.runs:
            if r.text.strip():
                yield p, r


@pytest.mark.slow
def test_export_writes_the_word_draft_beside_the_submission(month):
    xlsx, docx, _ = month
    assert docx.exists() and docx.parent == xlsx.parent
    assert docx.name == xlsx.name.replace(".xlsx", ".docx") == "BC138_20041_2023-12.docx"


def test_the_draft_has_the_reports_parts_in_order(month):
    xlsx, docx, _ = month
    doc = Document(str(docx))
    body = [p.text for p in doc.paragraphs]
    header = _cells(doc.tables[0])
    assert header[0][0].split("\n")[:2] == ["UBND XÃ HỒNG THỦY", "BAN CHỈ ĐẠO 138"]
    assert header[0][1].split("\n")[:2] == [TEXT["national"], TEXT["motto"]]
    assert header[1][0] == "Số: 05/BC-BCĐ"
    assert header[1][1].startswith("Hồng Thủy, ngày ")
    sections = [TEXT[k] for k in ("section_general", "section_results", "section_milestones", "section_budget",
                                  "section_weak", "section_directions", "section_proposals")]
    numbered = [f"{roman}. {title}" for roman, title in zip(("I", "II", "III", "IV", "V", "VI", "VII"), sections)]
    assert body.index(TEXT["title"]) < body.index(numbered[0])
    assert [body.index(t) for t in numbered] == sorted(body.index(t) for t in numbered)
    closing = next(t for t in body if t.endswith("./."))
    assert closing.startswith("Trên đây là báo cáo") and "Hồng Thủy" in closing
    sign = next(t for t in doc.tables if any(TEXT["signature_for"] in c.text for c in t.rows[0].cells))
    left, right = (c.text for c in sign.rows[0].cells)
    assert left.startswith(TEXT["recipients_label"]) and left.endswith(TEXT["archive"])
    assert right.split("\n")[:2] == [TEXT["signature_for"], TEXT["signature_title"]]
    assert right.split("\n")[-1] == "Quỳnh Văn Đức"  # the head of the board, from the settings
    # no software words on the pages to sign
    everything = "\n".join(body + [c.text for t in doc.tables for row in t.rows for c in row.cells])
    for word in ("SHA-256", "xltools", ".xlsx", "xuất bắt buộc", "chưa được cấu hình ngưỡng"):
        assert word not in everything


def test_table_values_are_the_submissions_numbers(month):
    xlsx, docx, tables = month
    sub = read_submission(xlsx)
    defs = get_definitions()
    doc = Document(str(docx))
    results, milestones, budget, *annexes = _bordered(doc)
    # II: one row per indicator, the unit's total as Số liệu holds it
    totals = sub.totals()
    by_label = {row[1]: row[3] for row in _cells(results)[1:]}
    checked = 0
    for key, value in totals.items():
        if "." in key:  # a ratio's numerator or denominator
            continue
        assert by_label[defs.indicator(key).label] == printed_number(value), key
        checked += 1
    assert checked >= 10
    # the annex: one row per village, its values those of Số liệu, its last row the total
    values = {(r[3], r[4]): r[6] for r in sub.rows if r[2]}
    key_of = {defs.indicator(r[4]).short: r[4] for r in sub.rows if "." not in r[4]}  # the annex's column titles
    # the indicators run over as many annex tables as fit a page (17 indicators since 1.2)
    tables_of_values = [t for t in map(_cells, annexes) if all(h in key_of for h in t[0][2:])]
    assert tables_of_values
    seen: list[str] = []
    for head, *rows in tables_of_values:
        assert head[1] == TEXT["column_village"] and rows[-1][1] == TEXT["total"]
        assert len(rows) == 9 + 1
        for j, title in enumerate(head[2:], start=2):
            key = key_of[title]
            seen.append(key)
            for row in rows[:-1]:
                assert row[j] == printed_number(values[(row[1], key)]), (row[1], key)
            assert rows[-1][j] == printed_number(totals[key])
    assert sorted(seen) == sorted(k for k in totals if "." not in k)  # every indicator, none twice
    # IV: the budget of the workbook, with its total
    b = tables["budget"]
    body = _cells(budget)
    assert body[0] == list(TEXT["budget_columns"])
    assert body[-1] == [TEXT["total"], *[printed_number(int(b[c].fillna(0).sum())) for c in ("estimate", "approved", "spent")]]
    assert len(_cells(milestones)) > 1 and _cells(milestones)[0] == list(TEXT["milestone_columns"])


def test_decree_30_layout_fonts_sizes_margins(month):
    _, docx, _ = month
    doc = Document(str(docx))
    main_section, *annex_sections = doc.sections
    assert round(main_section.page_width.mm) == 210 and round(main_section.page_height.mm) == 297
    for sec in doc.sections:
        assert round(sec.top_margin.mm) == LAYOUT.margin_top_mm and round(sec.bottom_margin.mm) == LAYOUT.margin_bottom_mm
        assert round(sec.left_margin.mm) == LAYOUT.margin_left_mm and round(sec.right_margin.mm) == LAYOUT.margin_right_mm
    assert annex_sections and round(annex_sections[0].page_width.mm) == 297  # the wide values table: landscape
    assert all(round(s.page_width.mm) in (210, 297) for s in annex_sections)
    for _, run in _runs(doc.paragraphs):
        assert run.font.name == LAYOUT.font
        assert run.font.size.pt >= LAYOUT.size_body
    for table in _bordered(doc):
        rows = table.rows
        assert rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None  # the header row repeats on each page
        assert all(r._tr.trPr.find(qn("w:tblHeader")) is None for r in rows[1:])
        for row in rows:
            for cell in row.cells:
                for _, run in _runs(cell.paragraphs):
                    assert run.font.name == LAYOUT.font and run.font.size.pt == LAYOUT.size_table
    title = next(p for p in doc.paragraphs if p.text == TEXT["title"])
    assert title.runs[0].font.size.pt == LAYOUT.size_title and title.runs[0].font.bold
    closing = next(p for p in doc.paragraphs if p.text.endswith("./."))
    assert closing.paragraph_format.keep_with_next  # the closing line goes with the signature block
    sign = next(t for t in doc.tables if any(TEXT["signature_for"] in c.text for c in t.rows[0].cells))
    assert len(sign.rows) == 1 and sign.rows[0]._tr.trPr.find(qn("w:cantSplit")) is not None


@pytest.mark.slow
def test_cli_export_docx_option(tmp_path, sample):
    s, t = sample
    book = new(tmp_path / "SoTheoDoi.xlsx", s, t)
    result = CliRunner().invoke(main, ["export", str(book), "--period", "2023-12", "-o", str(tmp_path / "o"), "--docx"])
    assert result.exit_code == 0, result.output
    target = tmp_path / "o" / "BC138_20041_2023-12.docx"
    assert target.exists() and str(target) in result.output
    plain = CliRunner().invoke(main, ["export", str(book), "--period", "2023-Q4", "-o", str(tmp_path / "p")])
    assert plain.exit_code == 0 and not list((tmp_path / "p").glob("*.docx"))


@pytest.mark.slow
def test_password_encrypts_the_draft_too(tmp_path, sample):
    msoffcrypto = pytest.importorskip("msoffcrypto")
    s, t = sample
    xlsx = export(new(tmp_path / "SoTheoDoi.xlsx", s, t), "2023-12", tmp_path / "o", password="bí mật", docx=True)
    with docx_name(xlsx).open("rb") as f:
        office = msoffcrypto.OfficeFile(f)
        assert office.is_encrypted()
        out = io.BytesIO()
        office.load_key(password="bí mật")
        office.decrypt(out)
    assert TEXT["title"] in [p.text for p in Document(out).paragraphs]


@pytest.mark.slow  # the demo run (about 9 s) is shared by the slow lane
def test_the_demo_writes_the_word_drafts(demo):
    assert demo.exit_code == 0, demo.output
    drafts = sorted(p.name for p in demo.folder.rglob("BC138_20041_*.docx"))
    assert drafts == ["BC138_20041_2023-12.docx", "BC138_20041_2023-Q4.docx"]
    assert len(list(demo.folder.rglob("BC138_474_2023-12.docx"))) == 1  # the district's too
    for name in drafts:
        doc = Document(str(next(demo.folder.rglob(name))))
        assert any(p.text.endswith("./.") for p in doc.paragraphs)


# ------------------------------------------------------------------------------------- on paper
def _spans(page) -> list[dict]:
    return [s for b in page.get_text("dict")["blocks"] for ln in b.get("lines", []) for s in ln["spans"]
            if s["text"].strip()]


@pytest.mark.libreoffice
@pytest.mark.slow
def test_the_printed_draft(tmp_path):
    """LibreOffice prints the drafts of communes of 9, 26, 40 and 60 villages: every text at least
    13 pt in the body and 11 pt in the tables, A4 portrait then landscape annexes, the Decree's
    margins, the signature block and its 30 mm on one page, the annex header on every annex page."""
    pymupdf = pytest.importorskip("pymupdf")
    drafts = []
    for n in SIZES:
        xlsx = export(_commune(tmp_path, n), "2023-12", tmp_path / "out", docx=True, force=True)
        drafts.append(docx_name(xlsx))
    # and the district's, rolled up from these four communes
    district = rollup(tmp_path / "out", "2023-12", tmp_path / "dist", unit_name="huyện A Lưới", unit_code="474",
                      settings={"bcd_head": "Hồ Văn Lưới"}, docx=True)
    assert district.docx is not None
    drafts.append(district.docx)
    pdfs = libreoffice_convert(drafts, "pdf", tmp_path / "pdf")
    size_body, size_table = float(LAYOUT.size_body), float(LAYOUT.size_table)
    for n, docx, pdf in zip([*SIZES, "rollup"], drafts, pdfs):
        doc = Document(str(docx))
        paragraphs = [p.text for p in doc.paragraphs if p.text.strip()]
        cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
        checked = 0
        pages = list(pymupdf.open(str(pdf)))
        assert (round(pages[0].rect.width), round(pages[0].rect.height)) == (595, 842), n
        annex_one = fill(TEXT["annex_name"], number=1)
        first_annex = next(i for i, p in enumerate(pages) if annex_one in [s["text"].strip() for s in _spans(p)])
        assert all(p.rect.width < p.rect.height for p in pages[:first_annex]), n  # the report: portrait
        assert pages[first_annex].rect.width > pages[first_annex].rect.height, n  # the wide annex: landscape
        for i, page in enumerate(pages):
            spans = _spans(page)
            assert min(s["size"] for s in spans) >= size_table - 0.05, (n, i)
            for s in spans:  # a line of the body (in no table) is printed at the body size
                line = s["text"].strip()
                if len(line) > 12 and any(line in p for p in paragraphs) and not any(line in c for c in cells):
                    assert s["size"] >= size_body - 0.05, (n, i, line)
                    checked += 1
            # the Decree's margins: nothing printed in the left 30 mm or the right 15 mm
            width = page.rect.width
            assert min(s["bbox"][0] for s in spans) >= LAYOUT.margin_left_mm * MM - 6, (n, i)
            assert max(s["bbox"][2] for s in spans) <= width - LAYOUT.margin_right_mm * MM + 6, (n, i)
        assert checked >= 10, n  # the body's lines were found and measured
        # the Nơi nhận and signature block on one page, with room for the signature and seal
        sign_page = [i for i, p in enumerate(pages[:first_annex]) if any(s["text"].strip() == TEXT["signature_for"] for s in _spans(p))]
        assert len(sign_page) == 1, n
        page = pages[sign_page[0]]
        texts = [s["text"].strip() for s in _spans(page)]
        assert TEXT["recipients_label"] in texts and "- " + TEXT["archive"] in texts
        title = next(s for s in _spans(page) if s["text"].strip() == TEXT["signature_title"])
        name = max(_spans(page), key=lambda s: s["bbox"][1] if s["bbox"][0] > title["bbox"][0] - 30 else 0)
        assert name["bbox"][1] - title["bbox"][3] >= 30 * MM, n
        closing = fill(TEXT["closing_upper" if n == "rollup" else "closing"], model_name="", period_label="",
                       unit_name="").split("“")[0].strip()
        assert any(t.startswith(closing) for t in texts), n  # the closing line is with it
        # the annex table's header on every annex page
        column = TEXT["column_unit" if n == "rollup" else "column_village"]
        for i, p in enumerate(pages[first_annex:]):
            assert column in [s["text"].strip() for s in _spans(p)], (n, first_annex + i)
    assert len(pymupdf.open(str(pdfs[-2]))) > len(pymupdf.open(str(pdfs[0])))  # 60 villages run over more pages


@pytest.mark.slow
def test_the_rollup_writes_its_word_draft_with_the_rollups_numbers(tmp_path, sample):
    """`rollup --docx`: the district's report as a Word draft, the same body as its Báo cáo sheet;
    its results table holds the district totals of Số liệu, its annex one row per commune."""
    s, t = sample
    subs = [export(new(tmp_path / "SoTheoDoi_HongThuy.xlsx", s, t), "2023-12", tmp_path / "in")]
    subs.append(export(_commune(tmp_path, 14), "2023-12", tmp_path / "in", force=True))
    res = CliRunner().invoke(main, ["rollup", str(tmp_path / "in"), "--period", "2023-12", "-o", str(tmp_path / "dist"),
                                    "--unit-name", "huyện A Lưới", "--unit-code", "474", "--docx"])
    assert res.exit_code == 0, res.output
    xlsx = tmp_path / "dist" / "BC138_474_2023-12.xlsx"
    draft = docx_name(xlsx)
    assert draft.is_file() and str(draft) in res.output
    sub, defs = read_submission(xlsx), get_definitions()
    doc = Document(str(draft))
    results, *rest = _bordered(doc)
    by_label = {row[1]: row[3] for row in _cells(results)[1:]}
    plain = {k: v for k, v in sub.totals().items() if "." not in k}
    assert plain and all(by_label[defs.indicator(k).label] == printed_number(v) for k, v in plain.items())
    annex_rows = [r for tbl in rest for r in _cells(tbl)[1:] if r[1] in ("Hồng Thủy", "Thử 14", TEXT["total"])]
    assert {r[1] for r in annex_rows} == {"Hồng Thủy", "Thử 14", TEXT["total"]}
    assert any(p.text.endswith("./.") for p in doc.paragraphs)
    assert any("Thử 14" in p.text for p in doc.paragraphs)  # exported with errors: named in section I
    no_draft = CliRunner().invoke(main, ["rollup", str(tmp_path / "in"), "--period", "2023-12", "-o",
                                         str(tmp_path / "d2"), "--unit-name", "huyện A Lưới", "--unit-code", "474"])
    assert no_draft.exit_code == 0 and not list((tmp_path / "d2").glob("*.docx"))
