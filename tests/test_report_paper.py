"""The printed submission as the clerk signs it (issue 12): LibreOffice prints the workbooks to PDF
and PyMuPDF measures what is on paper: type sizes, page breaks, the header rules, the words on the
signed pages, the charts and the printed numbers."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import libreoffice_convert, require_soffice

from xltools import export, rollup
from xltools.core.definitions import get_definitions, report_defs
from xltools.core.sample import generated_commune
from xltools.io.reader import read_workbook
from xltools.io.submission import printed_number
from xltools.io.submission_reader import read_submission
from xltools.verbs.new import new, sample_commune

pymupdf = pytest.importorskip("pymupdf")

pytestmark = [pytest.mark.libreoffice, pytest.mark.slow]

MM = 72 / 25.4
SIZES = (9, 26, 40, 60)  # villages of the generated communes
UNITS = 27  # communes in the big rollup: more rows than one page holds


def _commune(folder: Path, villages: int, code: int, **settings) -> Path:
    spec = {"name": f"Thử {villages}", "code": str(code), "villages": villages, "seed": villages + code % 97}
    s, t = generated_commune(spec)
    s.update(settings)
    return new(folder / f"SoTheoDoi_{code}.xlsx", s, t)


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    """Every submission of these tests, printed by LibreOffice in one call."""
    require_soffice()
    root = tmp_path_factory.mktemp("paper")
    out = root / "out"
    files: dict[str, Path] = {}
    s, t = sample_commune()
    hong = new(root / "SoTheoDoi_HongThuy.xlsx", s, t)
    files["month"] = export(hong, "2023-12", out)
    files["quarter"] = export(hong, "2023-Q4", out)
    for n in SIZES:
        files[f"v{n}"] = export(_commune(root, n, 30000 + n), "2023-12", out, force=True)

    # a budget in the billions and a negative amount (a refund typed as a minus), exported forced
    s2, t2 = sample_commune()
    s2["commune_code"] = "20099"  # another file name than the month's
    budget = t2["budget"].copy()
    for col in ("estimate", "approved", "spent"):
        budget[col] = 0
    budget.loc[budget.index[0], "estimate"] = 1_234_567_890
    budget.loc[budget.index[0], "spent"] = -1_234
    t2["budget"] = budget
    files["money"] = export(new(root / "SoTheoDoi_Money.xlsx", s2, t2), "2023-12", root / "money", force=True)

    units = [export(_commune(root / "units", 1, 40000 + i), "2023-12", root / "units_out") for i in range(UNITS)]
    damaged = root / "units_out" / "BC138_hong_2023-12.xlsx"
    damaged.write_bytes(units[0].read_bytes()[:2000])  # a cut file: rejected, named only off the signed pages
    files["rollup"] = rollup([*units, damaged], "2023-12", root / "dist", unit_name="huyện A Lưới", unit_code="474").path
    names = list(files)
    pdfs = libreoffice_convert([files[k] for k in names], "pdf", root / "pdf")
    return {k: (files[k], pdfs[i]) for i, k in enumerate(names)}


# ----------------------------------------------------------------------------------- reading the PDF
def _spans(page) -> list[dict]:
    out = []
    for block in page.get_text("dict")["blocks"]:
        for line in block.get("lines", []):
            for span in line["spans"]:
                if span["text"].strip():
                    out.append(span)
    return out


def _page_text(page) -> str:
    return re.sub(r"\s+", " ", " ".join(s["text"] for s in _spans(page)))


class Printed:
    """The pages of one printed submission, by sheet: the report, the annexes, the charts, the notes."""

    def __init__(self, pdf: Path) -> None:
        rep = report_defs(get_definitions())
        self.rep = rep
        self.doc = pymupdf.open(pdf)
        texts = [_page_text(p) for p in self.doc]
        end = next(i for i, t in enumerate(texts) if rep["text"]["signature_title"] in t)
        self.report = list(range(0, end + 1))
        charts = rep["charts"]
        titles = [charts["per_part_title"], charts["rates_title"], charts["trend_title"]]
        starts = [re.escape(t.split("{")[0]) for t in titles]
        self.charts = [i for i, t in enumerate(texts) if i > end and any(re.search(s, t) for s in starts)]
        self.notes = [i for i, t in enumerate(texts) if rep["notes"]["title"] in t]
        self.texts = texts

    def annex_pages(self) -> list[int]:
        """Pages of the annex sheets: from a page starting 'Phụ lục n' up to the notes page or the next sheet."""
        pages, inside = [], False
        for i, t in enumerate(self.texts):
            if i in self.notes:
                inside = False
            elif re.search(r"Phụ lục \d+ ", t[:30]) or re.match(r"\s*\d*\s*Phụ lục \d+", t):
                inside = True
            elif inside and (self.rep["text"]["column_no"] not in t.split()[:3] and "TT" not in t.split()[:3]):
                inside = False
            if inside:
                pages.append(i)
        return pages


def _signed_text(p: Printed) -> str:
    return "\n".join(p.texts[i] for i in p.report)


# ----------------------------------------------------------------------------------- 1. printed sizes
@pytest.mark.parametrize("key", ["month", "quarter", "v60", "rollup"])
def test_body_prints_at_13_pt_and_tables_at_11_pt_on_portrait_pages(printed, key):
    _, pdf = printed[key]
    p = Printed(pdf)
    text = p.rep["text"]
    body_lines = [text["signature_for"], text["signature_title"], text["title"], text["motto"], text["national"]]
    for i in p.report:
        page = p.doc[i]
        assert page.rect.width < page.rect.height  # portrait: the signed pages are never turned
        spans = _spans(page)
        assert min(s["size"] for s in spans) >= 10.95, [(s["text"], s["size"]) for s in spans if s["size"] < 10.95]
        for s in spans:  # the body: headings, paragraphs, the signature
            if s["text"].strip() in body_lines or re.match(r"^(I|II|III|IV|V|VI)\. ", s["text"]) or len(s["text"]) > 90:
                assert s["size"] >= 12.95, (s["text"], s["size"])
        # nothing runs into the right margin (15 mm) or off the page
        assert max(s["bbox"][2] for s in spans) <= page.rect.width - 14 * MM
    # the annexes print at 11 pt too, and every page of the workbook is A4
    for i in p.annex_pages():
        assert min(s["size"] for s in _spans(p.doc[i])) >= 10.95
    for page in p.doc:
        assert sorted((round(page.rect.width), round(page.rect.height))) == [595, 842]


# ----------------------------------------------------------------------------------- 2. pagination
def _on_page(p: Printed, i: int, words: str) -> list[dict]:
    return [s for s in _spans(p.doc[i]) if s["text"].strip() == words]


@pytest.mark.parametrize("key", ["month", "v9", "v26", "v40", "v60", "rollup"])
def test_signature_block_stays_on_one_page_with_room_for_the_seal(printed, key):
    path, pdf = printed[key]
    p = Printed(pdf)
    text = p.rep["text"]
    last = p.report[-1]
    signer = read_submission(path)  # a valid submission: the rollup reads it back
    assert signer.unit_code
    for words in (text["recipients_label"], text["signature_for"], text["signature_title"]):
        assert _on_page(p, last, words), (words, p.texts[last][:200])
    assert "Trên đây là báo cáo" in p.texts[last]
    assert not any(text["signature_for"] in p.texts[i] for i in p.report[:-1])
    title = _on_page(p, last, text["signature_title"])[0]
    below = [s for s in _spans(p.doc[last]) if s["bbox"][1] > title["bbox"][3] and s["bbox"][0] > title["bbox"][0] - 60]
    if key == "rollup":  # no signer configured: nothing under TRƯỞNG BAN but room to sign
        assert not below
        return
    name = min(below, key=lambda s: s["bbox"][1])  # the signer's name, first text under TRƯỞNG BAN on its side
    source = path.parent.parent / ("SoTheoDoi_HongThuy.xlsx" if key == "month" else f"SoTheoDoi_{signer.unit_code}.xlsx")
    assert name["text"].strip() == read_workbook(source).settings["bcd_head"]
    assert name["bbox"][1] - title["bbox"][3] >= 30 * MM, (name["text"], name["bbox"][1] - title["bbox"][3])


@pytest.mark.parametrize("key", ["v26", "v40", "v60", "rollup"])
def test_a_table_header_repeats_only_over_its_own_table(printed, key):
    _, pdf = printed[key]
    p = Printed(pdf)
    text = p.rep["text"]
    budget_head, milestone_head = text["budget_columns"][0], text["milestone_columns"][1]
    part = text["column_unit" if key == "rollup" else "column_village"]
    for i in p.report:
        t = p.texts[i]
        # the per-part table is not on the signed pages: no village header over anything there
        assert not re.search(rf"\b{text['column_no']}\s+{part}\b", t)
        rows = [s for s in _spans(p.doc[i]) if s["text"].strip() in ("UBND xã", "BCĐ 138 cấp trên")]  # budget sources
        if rows and budget_head not in t:
            pytest.fail(f"budget rows without their header on page {i + 1}")
    annex = p.annex_pages()
    assert annex, p.texts
    seen = []
    for i in annex:
        spans = [s["text"].strip() for s in _spans(p.doc[i])]
        assert part in spans and text["column_no"] in spans  # the header above every page of the annex
        assert budget_head not in spans and milestone_head not in spans and "UBND xã" not in spans
        seen += [s for s in spans if re.fullmatch(r"Thôn \d+|Thử 1", s)]
    if key != "rollup":
        n = int(key[1:])
        # every village printed whole, once in each annex table (the counts, split over as many
        # annexes as their columns need, and the ratios)
        tables = {t for i in annex for t in re.findall(r"Phụ lục \d+", p.texts[i])}
        assert sorted(set(seen), key=lambda s: int(s.split()[1])) == [f"Thôn {k}" for k in range(1, n + 1)]
        assert len(tables) >= 2 and len(seen) == len(tables) * n, (len(seen), n, tables)


def test_the_total_row_of_an_annex_never_stands_alone(printed):
    for key in ("v26", "v40", "v60"):
        p = Printed(printed[key][1])
        for i in p.annex_pages():
            spans = [s["text"].strip() for s in _spans(p.doc[i])]
            if p.rep["text"]["total"] in spans:
                assert any(re.fullmatch(r"Thôn \d+", s) for s in spans), (key, i + 1)


# ----------------------------------------------------------------------------------- 3. header rules
def _rules(page) -> list[tuple[float, float, float]]:
    """Horizontal lines drawn on the page: (x0, x1, y)."""
    out = []
    for d in page.get_drawings():
        r = d["rect"]
        if r.height <= 2.5 and r.width > 20:
            out.append((r.x0, r.x1, r.y0))
    return out


@pytest.mark.parametrize("key", ["month", "rollup"])
def test_header_rules_as_the_decree_draws_them(printed, key):
    p = Printed(printed[key][1])
    text = p.rep["text"]
    page = p.doc[0]
    spans = _spans(page)
    issuing = next(s for s in spans if s["text"].strip() == "BAN CHỈ ĐẠO 138")
    motto = next(s for s in spans if s["text"].strip() == text["motto"])
    rules = _rules(page)

    def under(span):
        x0, y0, x1, y1 = span["bbox"]
        found = [r for r in rules if y1 - 2 <= r[2] <= y1 + 12 and r[0] < x1 and r[1] > x0]
        assert len(found) == 1, (span["text"], rules)
        return found[0]

    x0, x1, _ = under(issuing)
    width = issuing["bbox"][2] - issuing["bbox"][0]
    assert width / 3 - 1 <= x1 - x0 <= width / 2 + 1, (x1 - x0, width)
    assert abs((x0 + x1) / 2 - (issuing["bbox"][0] + issuing["bbox"][2]) / 2) <= 3
    x0, x1, _ = under(motto)
    width = motto["bbox"][2] - motto["bbox"][0]
    assert abs((x1 - x0) - width) <= 0.06 * width, (x1 - x0, width)
    assert abs((x0 + x1) / 2 - (motto["bbox"][0] + motto["bbox"][2]) / 2) <= 3


# ----------------------------------------------------------------------------------- 5. the signed words
@pytest.mark.parametrize("key", ["month", "money", "v40", "rollup"])
def test_no_software_words_on_the_signed_pages(printed, key):
    path, pdf = printed[key]
    p = Printed(pdf)
    signed = _signed_text(p)
    for word in ("xuất bắt buộc", "cấu hình", "SHA-256", ".xlsx", "tử số", "mẫu số", "không lấy trung bình"):
        assert word not in signed, word
    assert not re.search(r"\d+/\d+ (tiêu chí|báo cáo|bước|đơn vị)", signed)
    notes = "\n".join(p.texts[i] for i in p.notes)
    assert p.rep["notes"]["rates"] in notes  # how ratios are computed: told, off the signed pages
    if key == "rollup":
        assert "BC138_hong_2023-12.xlsx" in notes and "BC138_hong" not in signed
    else:
        assert re.search(r"đáp ứng \d+ trên \d+ tiêu chí", signed)
    if key == "money":  # exported forced: the signed page says the data still have errors, in plain words
        assert "xuất bắt buộc" in notes and "lỗi chưa được khắc phục" in signed


# ----------------------------------------------------------------------------------- 13. charts
@pytest.mark.parametrize("key", ["month", "v60", "rollup"])
def test_one_readable_chart_per_page(printed, key):
    path, pdf = printed[key]
    p = Printed(pdf)
    charts = p.rep["charts"]
    assert p.charts
    starts = [re.escape(t.split("{")[0]) for t in (charts["per_part_title"], charts["rates_title"], charts["trend_title"])]
    for i in p.charts:
        page = p.doc[i]
        titles = [s for s in _spans(page) if any(re.match(x, s["text"].strip()) for x in starts)]
        assert len(titles) == 1, [s["text"] for s in titles]  # one chart a page
        words = [s["text"].strip() for s in _spans(page)]
        assert charts["axis_count"] in words or charts["axis_rate"] in words  # axis titles
        inside = page.rect + (14 * MM, 14 * MM, -14 * MM, -14 * MM)
        assert all(inside.contains(pymupdf.Rect(s["bbox"])) for s in _spans(page))  # never cut
        assert min(s["size"] for s in _spans(page)) >= 8.9
    counts = [i for i in p.charts if re.match(starts[0], p.texts[i]) or re.search(starts[0], p.texts[i])]
    small, large = "Phát động phong trào", "Lượt tuyên truyền cá biệt"
    on = {w: {i for i in counts if w in p.texts[i]} for w in (small, large)}
    assert on[small] and on[large] and not on[small] & on[large]  # small and large counts apart
    if key == "v60":  # horizontal bars: every village's name on a chart page, none squeezed out
        labels = {s["text"].strip() for i in counts for s in _spans(p.doc[i])}
        assert {f"Thôn {k}" for k in range(1, 61)} <= labels


# ----------------------------------------------------------------------------------- 14. numbers
def test_billions_print_with_dots_whatever_the_locale(printed):
    p = Printed(printed["money"][1])
    signed = _signed_text(p)
    assert re.search(r"UBND xã 1\.234\.567\.890 ", signed) and re.search(r"Tổng cộng 1\.234\.567\.890 ", signed)


@pytest.mark.parametrize(("value", "shown"), [
    (1_234_567_890, "1.234.567.890"), (-1_234, "-1.234"), (-1_234_567_890, "-1.234.567.890"), (999, "999"),
    (0, "0"), (None, "–"),
])
def test_printed_numbers_keep_their_sign_and_grouping(value, shown):
    # a count typed negative never reaches the report (validation), but an amount of a rollup can
    assert printed_number(value) == shown


# ----------------------------------------------------------------------------------- fonts of the PC
def test_sizes_hold_on_a_pc_without_calibri(printed, tmp_path, monkeypatch):
    """The old sheet, shrunk to fit, printed at 55 % where Calibri (or Carlito) was missing. Here
    LibreOffice sees only Liberation (Times New Roman's metrics) and DejaVu: still 100 %."""
    dirs = [d for d in ("/usr/share/fonts/truetype/liberation2", "/usr/share/fonts/truetype/liberation",
                        "/usr/share/fonts/truetype/dejavu") if Path(d).is_dir()]
    if not dirs:
        pytest.skip("no Liberation or DejaVu fonts in /usr/share/fonts/truetype")
    conf = tmp_path / "fonts.conf"
    conf.write_text('<?xml version="1.0"?>\n<fontconfig>\n' + "".join(f"  <dir>{d}</dir>\n" for d in dirs)
                    + f"  <cachedir>{tmp_path / 'cache'}</cachedir>\n</fontconfig>\n", encoding="utf-8")
    monkeypatch.setenv("FONTCONFIG_FILE", str(conf))
    pdfs = libreoffice_convert([printed["month"][0], printed["v60"][0]], "pdf", tmp_path / "pdf")
    for pdf in pdfs:
        p = Printed(pdf)
        fonts = {s["font"] for i in p.report for s in _spans(p.doc[i])}
        assert not any("calibri" in f.lower() or "carlito" in f.lower() for f in fonts), fonts
        for i in [*p.report, *p.annex_pages()]:
            page = p.doc[i]
            spans = _spans(page)
            assert min(s["size"] for s in spans) >= 10.95
            assert max(s["bbox"][2] for s in spans) <= page.rect.width - 14 * MM
        assert any(s["size"] >= 12.95 for s in _spans(p.doc[0]) if s["text"].startswith("Thực hiện Kế hoạch"))
