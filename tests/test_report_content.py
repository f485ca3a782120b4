"""The report's own content (issue 12, items 4, 8 and 9): the plan it executes, the results in
words per kind of propaganda, the weak points from the validation findings, the direction, the
proposals from the data of the period, the closing line; sơ kết and tổng kết compared with
earlier periods; milestones judged at the data cut-off; expected village-months in the ratios
and stocks carried from an earlier month marked. Every test exports through the public API and
reads the report back: the Báo cáo sheet's cells and the Word draft's paragraphs."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from conftest import libreoffice_convert
from docx import Document

from xltools import aggregate, export, rollup, validate
from xltools.core.definitions import get_definitions, report_defs
from xltools.core.messages import fill
from xltools.core.sample import generated_commune
from xltools.io.report_docx import docx_name
from xltools.io.submission import printed_number
from xltools.io.submission_reader import read_submission
from xltools.verbs.new import new, sample_commune

REP = report_defs(get_definitions())
TEXT = REP["text"]
MM = 72 / 25.4


# ------------------------------------------------------------------------------------- reading back
def _sheet_rows(xlsx: Path, sheet: str = "Báo cáo") -> list[list[str]]:
    ws = openpyxl.load_workbook(xlsx, read_only=True)[sheet]  # values only: streamed
    return [[str(v) for v in row if v not in (None, "")] for row in ws.iter_rows(values_only=True)]


def _sheet_paragraphs(xlsx: Path) -> list[str]:
    """The Báo cáo sheet's one-cell rows from the introduction to the closing line."""
    lines = [r[0] for r in _sheet_rows(xlsx) if len(r) == 1]
    start = next(i for i, t in enumerate(lines) if t.startswith("Thực hiện"))
    end = next(i for i, t in enumerate(lines) if t.endswith("./."))
    return lines[start:end + 1]


def _docx_paragraphs(xlsx: Path) -> list[str]:
    doc = Document(str(docx_name(xlsx)))
    lines = [p.text for p in doc.paragraphs if p.text.strip()]
    start = next(i for i, t in enumerate(lines) if t.startswith("Thực hiện"))
    end = next(i for i, t in enumerate(lines) if t.endswith("./."))
    return lines[start:end + 1]


def _section(lines: list[str], key: str) -> list[str]:
    """The lines of one numbered section (from its heading to the next section or the closing)."""
    title = TEXT[key]
    start = next(i for i, t in enumerate(lines) if re.fullmatch(rf"[IVX]+\. {re.escape(title)}", t))
    out = []
    for t in lines[start + 1:]:
        if re.match(r"[IVX]+\. ", t) or t.endswith("./."):
            break
        out.append(t)
    return out


def _docx_tables(xlsx: Path) -> list[list[list[str]]]:
    doc = Document(str(docx_name(xlsx)))
    return [[[c.text for c in row.cells] for row in t.rows] for t in doc.tables
            if t.style is not None and t.style.name == "Table Grid"]


def _names(tables) -> dict[str, str]:
    v = tables["villages"]
    return dict(zip(v["code"], v["name"]))


def _active(tables) -> list[str]:
    v = tables["villages"]
    return list(v.loc[v["active"].fillna(True).astype(bool), "code"])


# ------------------------------------------------------------------------------------- the data
def _plant(tables) -> dict[str, str]:
    """December 2023 with one village missing, one without a launch, one with people not reached,
    a step overdue at the cut-off (due 10/12) and one due after it (25/12): which village is which."""
    codes = _active(tables)
    missing, idle, short = codes[2], codes[3], codes[4]
    r = tables["reports"]
    r = r[~((r["period"] == "2023-12") & (r["village_code"] == missing))].copy()
    dec = r["period"] == "2023-12"
    r.loc[dec & (r["village_code"] == idle), "movement_launches"] = 0
    r.loc[dec & (r["village_code"] == short), ["drug_people_known", "drug_people_reached"]] = [5, 2]
    tables["reports"] = r.reset_index(drop=True)
    m = tables["milestones"]
    m["done_on"] = m["done_on"].astype(object)
    m.loc[m["step_no"] == 10, ["deadline", "done_on"]] = [dt.date(2023, 12, 10), None]
    m.loc[m["step_no"] == 11, ["deadline", "done_on"]] = [dt.date(2023, 12, 25), None]
    return {"missing": missing, "idle": idle, "short": short}


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("content")
    s, t = sample_commune()
    who = _plant(t)
    book = new(root / "SoTheoDoi_HongThuy.xlsx", s, t)
    month = export(book, "2023-12", root / "out", docx=True, force=True)
    quarter = export(book, "2023-Q4", root / "out", docx=True, force=True)
    return {"book": book, "month": month, "quarter": quarter, "who": who, "names": _names(t), "tables": t}


@pytest.fixture(scope="module")
def two_years(tmp_path_factory):
    """The sample commune with two years of reports, its sơ kết and tổng kết of 2023."""
    root = tmp_path_factory.mktemp("years")
    s, t = sample_commune(["2022", "2023"])
    book = new(root / "SoTheoDoi_HongThuy.xlsx", s, t)
    return {"book": book, "half": export(book, "2023-H2", root / "out", docx=True, force=True),
            "year": export(book, "2023", root / "out", docx=True, force=True),
            "h1": export(book, "2023-H1", root / "out", docx=True, force=True)}


# ------------------------------------------------------------------------------------- item 4
@pytest.mark.slow
def test_the_sheet_and_the_word_draft_say_the_same(planted):
    for key in ("month", "quarter"):
        sheet, draft = _sheet_paragraphs(planted[key]), _docx_paragraphs(planted[key])
        assert sheet == draft
        assert len(sheet) > 25


@pytest.mark.slow
def test_the_introduction_names_the_plan_by_number_and_date(planted, tmp_path):
    lines = _sheet_paragraphs(planted["month"])
    assert lines[0].startswith("Thực hiện Kế hoạch số 02/KH-BCĐ ngày 16/01/2023 của Ban Chỉ đạo 138 xã Hồng Thủy")
    assert lines[0].endswith("báo cáo kết quả thực hiện tháng 12 năm 2023 như sau:")
    # without a plan number the report says so without one; a number without a date, no date
    s, t = sample_commune()
    plain = export(new(tmp_path / "a.xlsx", {**s, "plan_number": "", "plan_date": ""}, t), "2023-12", tmp_path / "o1")
    assert _sheet_paragraphs(plain)[0] == fill(TEXT["intro"], model_name="Xã không có tội phạm, tệ nạn ma túy",
                                               unit_name="Hồng Thủy", period_label="tháng 12 năm 2023")
    nodate = export(new(tmp_path / "b.xlsx", {**s, "plan_date": ""}, t), "2023-12", tmp_path / "o2")
    assert _sheet_paragraphs(nodate)[0].startswith("Thực hiện Kế hoạch số 02/KH-BCĐ của Ban Chỉ đạo 138 xã")


def test_results_in_words_per_kind_of_propaganda_with_the_submissions_figures(planted):
    xlsx = planted["quarter"]
    totals = read_submission(xlsx).totals()
    results = _section(_sheet_paragraphs(xlsx), "section_results")
    kinds = {k: next(t for t in results if t.startswith(f"- {k}")) for k in (
        "Tuyên truyền trực quan", "Tuyên truyền tập trung", "Tuyên truyền, vận động cá biệt",
        "Tuyên truyền trên các phương tiện thông tin đại chúng", "Tuyên truyền trên không gian mạng")}
    n = printed_number
    assert f" {n(totals['visual_items'])} sản phẩm" in kinds["Tuyên truyền trực quan"]
    assert f" {n(totals['concentrated_sessions'])} buổi" in kinds["Tuyên truyền tập trung"]
    assert f" {n(totals['concentrated_attendance'])} lượt người dự" in kinds["Tuyên truyền tập trung"]
    assert f" {n(totals['individual_contacts'])} lượt" in kinds["Tuyên truyền, vận động cá biệt"]
    assert (f" {n(totals['drug_people_reached'])} trên {n(totals['drug_people_known'])} người"
            in kinds["Tuyên truyền, vận động cá biệt"])
    assert f" {n(totals['online_posts'])} tin, bài" in kinds["Tuyên truyền trên không gian mạng"]
    # mass media is its own kind (1.2): the broadcasts are no longer counted among the visual items
    assert f" {n(totals['mass_media'])} lượt phát thanh" in kinds["Tuyên truyền trên các phương tiện thông tin đại chúng"]
    assert "phát thanh" not in kinds["Tuyên truyền trực quan"]
    launch = next(t for t in results if "lần phát động phong trào" in t)
    assert f"{n(totals['launch_rate.num'])} trên {n(totals['launch_rate.den'])} thôn-tháng" in launch
    assert results.index(next(t for t in results if t.startswith("1. "))) < results.index(kinds["Tuyên truyền trực quan"])


def test_a_mass_media_indicator_gets_its_own_figures(tmp_path):
    s, t = sample_commune()
    t["reports"]["mass_media"] = 2
    xlsx = export(new(tmp_path / "m.xlsx", s, t), "2023-12", tmp_path / "o")
    line = next(x for x in _sheet_paragraphs(xlsx) if x.startswith("- Tuyên truyền trên các phương tiện"))
    assert f" {2 * len(_active(t))} lượt phát thanh" in line and "được tính trong số" not in line


def test_definitions_without_mass_media_say_where_broadcasts_are_counted(own_definitions, tmp_path):
    text = (own_definitions.folder / "indicators.toml").read_text(encoding="utf-8")
    start = text.index('[[indicator]]\nkey = "mass_media"')
    block = text[start:text.index("[[indicator]]", start + 1)]
    own_definitions.replace("indicators.toml", block, "")
    s, t = sample_commune()
    xlsx = export(new(tmp_path / "m.xlsx", s, t.copy()), "2023-12", tmp_path / "o")
    line = next(x for x in _sheet_paragraphs(xlsx) if x.startswith("- Tuyên truyền trên các phương tiện"))
    assert "được tính trong số sản phẩm tuyên truyền trực quan" in line


def test_weak_points_are_the_validation_findings_of_the_period(planted):
    names, who = planted["names"], planted["who"]
    issues = validate(planted["book"], "2023-12").issues
    found = {rule: {i.message for i in issues if i.rule == rule}
             for rule in ("plan-missing-report", "plan-monthly-launch", "plan-all-reached")}
    assert all(found.values()), found  # validation finds each planted problem
    for xlsx in (planted["month"],):
        lines = _sheet_paragraphs(xlsx)
        weak = _section(lines, "section_weak")
        missing = next(t for t in weak if t.startswith("- Còn") and "báo cáo tháng" in t)
        assert names[who["missing"]] in missing and missing.startswith(f"- Còn {len(found['plan-missing-report'])} báo cáo")
        idle = next(t for t in weak if "chưa phát động phong trào" in t)
        assert names[who["idle"]] in idle
        short = next(t for t in weak if "chưa được tuyên truyền, vận động cá biệt" in t)
        assert f"{names[who['short']]} (3 người)" in short
        overdue = next(t for t in weak if "quá thời hạn" in t)
        assert overdue.startswith("- 1 bước") and "bước 10" in overdue and "10/12/2023" in overdue
        assert "bước 11" not in overdue  # due 25/12: after the cut-off (14/12), not overdue in December
        # every village the findings name (the sample's own late report too), and no other
        rules = ("plan-missing-report", "plan-late-report", "plan-monthly-launch", "plan-all-reached")
        flagged = {c for i in issues if i.rule in rules for c in re.findall(r"[Tt]hôn (\d+)\b", i.message)}
        assert {who["missing"], who["idle"], who["short"]} <= flagged
        named = {c for c, nm in names.items() if any(re.search(rf"{re.escape(nm)}\b", t) for t in weak)}
        assert named == flagged
        # the proposals are the same findings' (not canned lines), and the budget gap
        proposals = _section(lines, "section_proposals")
        assert any(names[who["missing"]] in t and "gửi báo cáo" in t for t in proposals)
        assert any(names[who["idle"]] in t and "phát động" in t for t in proposals)
        people = int(re.search(r"Còn (\d+) người", short).group(1))  # the sample's own one, and the 3 planted
        assert people >= 3 and any(names[who["short"]] in t and f"cá biệt {people} người" in t for t in proposals)
        assert any("bước 10" in t for t in proposals)
        assert any("3.500.000 đồng" in t for t in proposals)  # estimate 29.500.000, approved 26.000.000
        assert lines[-1] == fill(TEXT["closing"], model_name="Xã không có tội phạm, tệ nạn ma túy",
                                 period_label="tháng 12 năm 2023", unit_name="Hồng Thủy")


@pytest.mark.slow
def test_a_clean_month_says_so_and_proposes_only_what_its_data_ask(tmp_path):
    from conftest import clean

    s, t = sample_commune()
    clean(t)
    budget = t["budget"]
    budget["approved"] = budget["estimate"]  # nothing missing from the budget either
    xlsx = export(new(tmp_path / "c.xlsx", s, t), "2023-12", tmp_path / "o", docx=True)
    lines = _sheet_paragraphs(xlsx)
    assert _section(lines, "section_weak") == [TEXT["weak_none"]]
    assert _section(lines, "section_proposals") == [fill(TEXT["proposals_none"], unit_name="Hồng Thủy")]
    assert _docx_paragraphs(xlsx) == lines
    # a village's own proposal (the note of its form) is the only one
    r = t["reports"]
    first = r.index[(r["period"] == "2023-12")][0]
    r.loc[first, "note"] = "Đề nghị hỗ trợ loa cầm tay cho Tổ điều hành."
    xlsx = export(new(tmp_path / "n.xlsx", s, t), "2023-12", tmp_path / "o2")
    name = _names(t)[r.loc[first, "village_code"]]
    assert _section(_sheet_paragraphs(xlsx), "section_proposals") == [
        f"- Kiến nghị của {name}: Đề nghị hỗ trợ loa cầm tay cho Tổ điều hành."]


@pytest.mark.slow
def test_directions_are_the_officers_text_or_the_default(planted, tmp_path):
    default = _section(_sheet_paragraphs(planted["month"]), "section_directions")
    assert default == ["- " + x for x in TEXT["directions"]]
    s, t = sample_commune()
    s["report_directions"] = "Tổ chức sơ kết mô hình tại thôn A Ka; - Rà soát người nghiện ngoài địa bàn;"
    xlsx = export(new(tmp_path / "d.xlsx", s, t), "2023-12", tmp_path / "o", docx=True)
    assert _section(_sheet_paragraphs(xlsx), "section_directions") == [
        "- Tổ chức sơ kết mô hình tại thôn A Ka", "- Rà soát người nghiện ngoài địa bàn"]
    assert _section(_docx_paragraphs(xlsx), "section_directions") == _section(_sheet_paragraphs(xlsx), "section_directions")


def test_the_sections_in_order(planted):
    lines = _sheet_paragraphs(planted["month"])
    heads = [t for t in lines if re.match(r"[IVX]+\. ", t)]
    assert heads == [f"{r}. {TEXT[k]}" for r, k in zip(
        ("I", "II", "III", "IV", "V", "VI", "VII"),
        ("section_general", "section_results", "section_milestones", "section_budget", "section_weak",
         "section_directions", "section_proposals"))]
    assert lines[-1].startswith("Trên đây là báo cáo") and lines[-1].endswith("./.")


# ------------------------------------------------------------------------------------- sơ kết, tổng kết
@pytest.mark.slow
def test_six_months_compare_with_the_previous_half_and_the_same_half_a_year_before(two_years):
    xlsx, book = two_years["half"], two_years["book"]
    table = next(t for t in _docx_tables(xlsx) if t[0][2] == "6 tháng cuối năm 2023")
    assert table[0][3:5] == ["6 tháng đầu năm 2023", "6 tháng cuối năm 2022"]
    now, before, last_year = (aggregate(book, p).total() for p in ("2023-H2", "2023-H1", "2022-H2"))
    agg = aggregate(book, "2023-H2")
    rows = {r[1]: r for r in table[1:]}
    assert len(rows) == len(agg.indicators)
    for key in agg.indicators:
        row = rows[agg.labels[key]]
        assert row[2:5] == [printed_number(now[key]), printed_number(before[key]), printed_number(last_year[key])]
        change = now[key] - last_year[key]
        assert row[5] == ("+" if change > 0 else "") + printed_number(change)
    heading = next(t for t in _sheet_paragraphs(xlsx) if "So sánh với" in t)
    assert heading.endswith("So sánh với 6 tháng đầu năm 2023 và 6 tháng cuối năm 2022")
    sheet_cells = {c for row in _sheet_rows(xlsx) for c in row}
    assert {"6 tháng cuối năm 2022", printed_number(last_year["individual_contacts"])} <= sheet_cells


def test_the_year_compares_with_the_year_before_and_a_month_does_not(two_years, planted):
    table = next(t for t in _docx_tables(two_years["year"]) if t[0][2] == "Năm 2023")
    assert table[0][3] == "Năm 2022" and len(table[0]) == 5
    first = aggregate(two_years["book"], "2023-H1")
    h1 = next(t for t in _docx_tables(two_years["h1"]) if t[0][2] == "6 tháng đầu năm 2023")
    assert h1[0][3:5] == ["6 tháng cuối năm 2022", "6 tháng đầu năm 2022"]
    assert any(r[2] == printed_number(first.total()["individual_contacts"]) for r in h1[1:])
    assert not any("So sánh với" in t for t in _sheet_paragraphs(planted["month"]))
    assert not any("So sánh với" in t for t in _sheet_paragraphs(planted["quarter"]))


def test_without_last_years_data_the_comparison_says_so(tmp_path):
    s, t = sample_commune()
    xlsx = export(new(tmp_path / "y.xlsx", s, t), "2023", tmp_path / "o", force=True)
    lines = _sheet_paragraphs(xlsx)
    at = lines.index(next(x for x in lines if "So sánh với năm 2022" in x))
    assert lines[at + 1] == fill(TEXT["comparison_none"], labels="năm 2022")


# ------------------------------------------------------------------------------------- item 8
def test_milestones_are_judged_at_the_data_cut_off(planted):
    table = next(t for t in _docx_tables(planted["month"]) if t[0] == list(TEXT["milestone_columns"]))
    status = {r[0]: r[4] for r in table[1:]}
    assert status["10"] == REP["milestone_status"]["overdue"]   # due 10/12, before the cut-off 14/12
    assert status["11"] == REP["milestone_status"]["ongoing"]   # due 25/12: not overdue in December
    summary = next(t for t in _sheet_paragraphs(planted["month"]) if t.startswith("Đã hoàn thành"))
    assert summary.endswith("quá hạn 1 bước.")


def test_a_step_done_after_the_cut_off_is_not_done_in_that_months_report(tmp_path):
    s, t = sample_commune()
    m = t["milestones"]
    m["done_on"] = m["done_on"].astype(object)
    m.loc[m["step_no"] == 11, ["deadline", "done_on"]] = [dt.date(2023, 12, 25), dt.date(2023, 12, 20)]
    agg = aggregate(new(tmp_path / "s.xlsx", s, t), "2023-12")
    step = agg.milestones.set_index("step_no").loc[11]
    assert step["status_key"] == "ongoing" and step["done_on"] is None


# ------------------------------------------------------------------------------------- item 9
def test_quarter_ratios_count_the_expected_village_months(planted):
    sub = read_submission(planted["quarter"])
    totals = sub.totals()
    expected = 3 * len(_active(planted["tables"]))
    assert totals["launch_rate.den"] == expected == totals["completeness.den"]
    assert totals["launch_rate.num"] < totals["completeness.num"] <= expected - 1  # a missing month has no launch
    agg = aggregate(planted["book"], "2023-Q4")
    part = agg.parts.set_index("code").loc[planted["who"]["missing"]]
    assert part["launch_rate.den"] == 3 and part["launch_rate.num"] <= 2
    rate = next(t for t in _sheet_paragraphs(planted["quarter"]) if "thôn-tháng có phát động" in t)
    assert f"trên {expected} thôn-tháng" in rate


def test_stocks_carried_from_november_are_marked(planted):
    xlsx, who, names = planted["quarter"], planted["who"], planted["names"]
    r = planted["tables"]["reports"]
    nov = r[(r["period"] == "2023-11") & (r["village_code"] == who["missing"])].iloc[0]
    sub = read_submission(xlsx)
    values = {(row[2], row[4]): row[6] for row in sub.rows if row[2]}
    assert values[(who["missing"], "zalo_households")] == nov["zalo_households"]  # Số liệu keeps the number
    note = next(t for t in _sheet_paragraphs(xlsx) if "số liệu tháng trước" in t)
    assert f"{names[who['missing']]} (tháng 11/2023)" in note
    assert "hộ trong nhóm zalo" in note.lower() and "người liên quan ma túy" in note.lower()
    annex = _docx_tables(xlsx)
    counts = next(t for t in annex if t[0][1] == TEXT["column_village"])
    col = counts[0].index(get_definitions().indicator("zalo_households").short)
    row = next(x for x in counts if x[1] == names[who["missing"]])
    assert row[col] == printed_number(nov["zalo_households"]) + TEXT["carried_mark"]
    others = [x for x in counts[1:-1] if x[1] != names[who["missing"]]]
    assert not any(x[col].endswith(TEXT["carried_mark"]) for x in others)
    annex_sheet = [c for row in _sheet_rows(xlsx, "Phụ lục 1") for c in row]
    assert TEXT["carried_footnote"] in annex_sheet and row[col] in annex_sheet
    draft = [p.text for p in Document(str(docx_name(xlsx))).paragraphs]
    assert TEXT["carried_footnote"] in draft
    # a month's report carries nothing
    assert not any("số liệu tháng trước" in t for t in _sheet_paragraphs(planted["month"]))


# ------------------------------------------------------------------------------------- one level up
def test_the_rollup_report_has_the_same_sections_from_its_own_data(tmp_path):
    subs = []
    for i in range(2):
        s, t = generated_commune({"name": f"Thử {i}", "code": str(45000 + i), "villages": 3, "seed": i + 5})
        subs.append(export(new(tmp_path / f"b{i}.xlsx", s, t), "2023-12", tmp_path / "units", force=True))
    result = rollup(subs, "2023-12", tmp_path / "dist", unit_name="huyện A Lưới", unit_code="474",
                    expected=[("45000", "Thử 0"), ("45001", "Thử 1"), ("45002", "Thử 2")])
    lines = [r[0] for r in _sheet_rows(result.path) if len(r) == 1]
    weak = _section(lines, "section_weak")
    assert any("Thử 2" in t and t.startswith("- 1 đơn vị chưa gửi") for t in weak)
    assert any("Thử 2" in t for t in _section(lines, "section_proposals"))
    assert _section(lines, "section_directions") == ["- " + x for x in TEXT["directions"]]
    assert any(t.startswith("Trên đây là báo cáo tổng hợp") and t.endswith("./.") for t in lines)


# ------------------------------------------------------------------------------------- on paper
@pytest.mark.libreoffice
@pytest.mark.slow
def test_the_longest_body_still_signs_on_one_page(tmp_path):
    """A sơ kết (the comparison table) with every weak point, for 9 and 60 villages, printed by
    LibreOffice from the workbook and from the Word draft: Nơi nhận, TM. BAN CHỈ ĐẠO, TRƯỞNG BAN and
    the name on one page, 30 mm or more between the title and the name, the closing line with them."""
    pymupdf = pytest.importorskip("pymupdf")
    files = []
    for n in (9, 60):
        s, t = generated_commune({"name": f"Thử {n}", "code": str(46000 + n), "villages": n, "seed": n})
        last = t["reports"].copy()
        last["period"] = last["period"].str.replace("2023", "2022")
        t["reports"] = pd.concat([last, t["reports"]], ignore_index=True)
        r = t["reports"]
        codes = sorted(r["village_code"].unique())
        t["reports"] = r[~((r["period"] == "2023-12") & r["village_code"].isin(codes[::3]))].reset_index(drop=True)
        xlsx = export(new(tmp_path / f"w{n}.xlsx", s, t), "2023-H2", tmp_path / "out", docx=True, force=True)
        files += [xlsx, docx_name(xlsx)]
    pdfs = libreoffice_convert(files, "pdf", tmp_path / "pdf")
    for source, pdf in zip(files, pdfs):
        doc = pymupdf.open(str(pdf))

        def spans(page):
            return [s for b in page.get_text("dict")["blocks"] for ln in b.get("lines", []) for s in ln["spans"]
                    if s["text"].strip()]

        pages = [i for i, p in enumerate(doc) if any(s["text"].strip() == TEXT["signature_for"] for s in spans(p))]
        assert len(pages) == 1, source.name
        page = doc[pages[0]]
        words = [s["text"].strip() for s in spans(page)]
        assert TEXT["recipients_label"] in words and TEXT["signature_title"] in words, source.name
        text = " ".join(words)
        assert "Trên đây là báo cáo" in text and "./." in text, source.name
        title = next(s for s in spans(page) if s["text"].strip() == TEXT["signature_title"])
        below = [s for s in spans(page) if s["bbox"][1] > title["bbox"][3] and s["bbox"][0] > title["bbox"][0] - 60]
        name = min(below, key=lambda s: s["bbox"][1])
        assert name["bbox"][1] - title["bbox"][3] >= 30 * MM, source.name
        body = " ".join(" ".join(x["text"] for x in spans(doc[i])) for i in range(pages[0] + 1))
        assert TEXT["section_weak"] in body and "So sánh với" in body, source.name
        assert min(s["size"] for i in range(pages[0] + 1) for s in spans(doc[i])) >= 10.95, source.name
