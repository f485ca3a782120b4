"""Validation rules: each fires on the exact cell of a planted mistake and is silent on good data.

Workbooks are built in code (``make_commune``), read back with the tolerant
reader, and validated through the public API.
"""
from __future__ import annotations

import datetime as dt

import openpyxl
import pandas as pd
import pytest
from conftest import clean

from xltools.core.definitions import get_definitions, load_definitions
from xltools.core.errors import WorkbookError
from xltools.core.sample import make_reports
from xltools.core.validation import FIELDS, RULES, Issue, Report, catalogue, rule, rule_catalogue, validate_book
from xltools.io.reader import read_workbook

TODAY = dt.date(2023, 12, 20)  # the 2023-12 reports are due (18/12), step 11 (25/12) is not


def check(path, period=None, today=TODAY, defs=None) -> Report:
    return validate_book(read_workbook(path, defs, strict=False), period, today=today)


def hits(report: Report, rule_id: str) -> list[Issue]:
    return [i for i in report.issues if i.rule == rule_id]


def cells(report: Report, rule_id: str) -> list[str]:
    return [i.cell for i in hits(report, rule_id)]


@pytest.fixture
def good(make_commune):
    return make_commune(edit=clean)


@pytest.fixture
def good_report(good) -> Report:
    return check(good)


def build(make_commune, change):
    """A clean commune with one change applied to its tables."""
    def edit(tables):
        clean(tables)
        change(tables)
    return make_commune(edit=edit)


def row_of(tables, key, mask) -> int:
    """Excel row of the first row of a table matching ``mask`` (header on row 1)."""
    return int(tables[key].index[mask(tables[key])][0]) + 2


# ---------------------------------------------------------------------- the report object
def test_clean_commune_has_no_issue(good_report):
    assert good_report.issues == []
    assert good_report.ok and (good_report.errors, good_report.warnings, good_report.infos) == (0, 0, 0)


def test_the_sample_has_only_warnings(make_commune):
    report = check(make_commune())
    assert report.ok and report.warnings > 0
    assert set(report.by_rule()) <= {"plan-missing-report", "plan-all-reached", "plan-late-report",
                                     "plan-monthly-launch", "report-outlier"}


def test_issue_records_have_stable_fields(make_commune):
    def change(t):
        t["reports"].loc[0, "drug_people_reached"] = 99

    report = check(build(make_commune, change))
    records = report.records()
    assert records and all(tuple(r) == FIELDS for r in records)
    first = next(r for r in records if r["rule"] == "plan-reached-le-known")
    assert first == {
        "rule": "plan-reached-le-known", "severity": "error", "sheet": "Báo cáo thôn", "row": 2, "column": "L",
        "cell": "L2", "header": "Đã tuyên truyền cá biệt", "value": 99, "message": first["message"],
    }
    assert "99" in first["message"] and not report.ok and report.errors == len(hits(report, "plan-reached-le-known"))
    assert list(report.frame().columns) == list(FIELDS)
    with pytest.raises(AttributeError):
        report.issues[0].rule = "x"  # frozen


# ---------------------------------------------------------------------- catalogue and configuration
def test_every_rule_is_documented_and_kebab_case(defs):
    entries = catalogue(defs)
    assert {e["id"] for e in entries} == set(RULES)
    for e in entries:
        assert e["message"] and e["description"] and e["fix"], e["id"]
        assert RULES[e["id"]].func is None or RULES[e["id"]].doc, f"{e['id']} has no docstring"
        assert e["severity"] in ("error", "warning", "info"), e["id"]
    text = rule_catalogue("md", defs)
    assert all(f"`{rule_id}`" in text for rule_id in RULES)
    for spec in RULES.values():  # a typo in ``needs`` would switch its rule off for good
        for sheet, column in spec.needs:
            assert column in {c.key for c in defs.sheet(sheet).readable_columns}, (spec.id, sheet, column)
    families = {e["family"] for e in entries}
    assert {"structure", "cells", "references", "plan", "milestones", "budget", "outliers"} <= families


def _edit_rules(own_definitions, old, new):
    own_definitions.replace("rules.toml", old, new)


def test_a_province_turns_a_rule_into_an_error(good, make_commune, own_definitions):
    def change(t):
        t["reports"]["drug_people_reached"] = 0

    path = build(make_commune, change)
    _edit_rules(own_definitions, '[rule.plan-all-reached]\nseverity = "warning"', '[rule.plan-all-reached]\nseverity = "error"')
    report = check(path, defs=get_definitions())
    assert hits(report, "plan-all-reached") and all(i.severity == "error" for i in hits(report, "plan-all-reached"))


def test_a_misconfigured_rule_yields_an_issue_about_itself(make_commune, own_definitions):
    def change(t):
        t["reports"].loc[0, "movement_launches"] = 0

    path = build(make_commune, change)
    _edit_rules(own_definitions, 'params = { indicator = "movement_launches", at_least = 1 }',
                'params = { indicator = "no_such_indicator", at_least = 1 }')
    _edit_rules(own_definitions, '[rule.plan-late-report]\nseverity = "warning"', '[rule.plan-late-report]\nseverity = "fatal"')
    _edit_rules(own_definitions, "max_days = 31", 'max_days = "a month"')
    report = check(path, defs=get_definitions())
    bad = {i.value: i for i in hits(report, "rule-misconfigured")}
    assert set(bad) == {"plan-monthly-launch", "plan-late-report", "milestone-launch-date"}
    assert "no_such_indicator" in bad["plan-monthly-launch"].message
    assert 'indicator = "no_such_indicator" không phải chỉ tiêu số' in bad["plan-monthly-launch"].message
    assert 'mức độ "fatal" không phải error, warning hoặc info' in bad["plan-late-report"].message
    assert 'max_days = "a month" phải là số nguyên' in bad["milestone-launch-date"].message
    assert not hits(report, "plan-monthly-launch")
    assert report.errors == 3  # the rest ran and the clean data gave nothing else
    # the Kiểm tra sheet's fix names the entry to edit, not a "{rule_id}" placeholder
    from xltools.core.validation.render import FIRST_ISSUE_ROW, checks_rows

    defs = get_definitions()
    keys = [c["key"] for c in defs.extra("rules")["checks_sheet"]["columns"]]
    rows = checks_rows(report, defs, dt.datetime(2023, 12, 20))[FIRST_ISSUE_ROW - 1:]
    fixes = sorted(r.values[keys.index("fix")] for r in rows)
    assert [("[rule.milestone-launch-date]" in f, "{" in f) for f in fixes] == [(True, False), (False, False), (False, False)]
    assert any("[rule.plan-late-report]" in f for f in fixes) and any("[rule.plan-monthly-launch]" in f for f in fixes)


def test_a_rule_entry_without_fix_or_message_is_an_issue_about_the_rule(make_commune, own_definitions):
    from click.testing import CliRunner

    from xltools.cli import main

    def change(t):
        t["reports"]["drug_people_reached"] = 0  # plan-all-reached would fire on every row

    path = build(make_commune, change)
    _edit_rules(own_definitions, 'fix = "Nhắc Tổ điều hành thôn tuyên truyền cá biệt những người còn lại."\n', "")
    _edit_rules(own_definitions, 'message = "Thôn {village} kỳ {period}: số hộ trong nhóm Zalo ({value}) lớn hơn '
                                 'số hộ của thôn ({households})."\n', "")
    report = check(path, defs=get_definitions())
    bad = {i.value: i.message for i in hits(report, "rule-misconfigured")}
    assert set(bad) == {"plan-all-reached", "plan-zalo-households"}
    assert "thiếu fix" in bad["plan-all-reached"] and "thiếu message" in bad["plan-zalo-households"]
    assert not hits(report, "plan-all-reached") and not hits(report, "rule-failed")
    # the command line says the same in one line per issue, no traceback
    result = CliRunner().invoke(main, ["validate", str(path), "--format", "json"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "thiếu fix" in result.output


def test_every_configuration_reason_has_its_words_in_rules_toml(defs):
    import re
    from pathlib import Path

    import xltools.core.validation as validation

    source = "".join(p.read_text(encoding="utf-8") for p in Path(validation.__file__).parent.glob("*.py"))
    used = set(re.findall(r'RuleConfigError\(\s*"(\w+)"', source)) | set(re.findall(r'config_reason\(config, "(\w+)"', source))
    used |= {f"type_{kind.__name__}" for spec in RULES.values() for kind in spec.params.values()}
    reasons = defs.extra("rules")["config_reasons"]
    assert len(used) > 10 and used <= set(reasons), sorted(used - set(reasons))
    assert all(isinstance(v, str) and v.strip() for v in reasons.values())


def test_a_rule_switched_off_does_not_run_and_the_catalogue_says_so(make_commune, own_definitions):
    def change(t):
        t["reports"].loc[0, "movement_launches"] = 0

    path = build(make_commune, change)
    assert cells(check(path, defs=load_definitions(own_definitions)), "plan-monthly-launch") == ["D2"]
    _edit_rules(own_definitions, '[rule.plan-monthly-launch]\nseverity = "warning"',
                '[rule.plan-monthly-launch]\nenabled = false\nseverity = "warning"')
    defs = load_definitions(own_definitions)
    assert check(path, defs=defs).issues == []
    (line,) = [x for x in rule_catalogue("md", defs).splitlines() if "`plan-monthly-launch`" in x]
    assert "| Cảnh báo (tắt) |" in line


def test_a_bad_common_parameter_is_reported(make_commune, own_definitions):
    _edit_rules(own_definitions, "cut_day = 15", "cut_day = 40")
    report = check(make_commune(edit=clean), defs=get_definitions())
    (issue,) = report.issues
    assert issue.rule == "rule-misconfigured" and issue.value == "common.cut_day" and "40" in issue.message


def test_a_boolean_cut_day_is_reported_not_used_as_day_1(make_commune, own_definitions):
    _edit_rules(own_definitions, "cut_day = 15", "cut_day = true")
    # deadline day 5 is before cut day 15: the 5th of the next month, so the clean reports are on time
    report = check(make_commune(edit=clean, settings={"form_deadline_day": 5}), defs=get_definitions())
    (issue,) = report.issues  # reported, and the reports are checked with day 15 as announced
    assert issue.rule == "rule-misconfigured" and issue.value == "common.cut_day" and "cut_day = true" in issue.message


def test_a_rule_without_an_entry_in_rules_toml_is_reported(make_commune):
    @rule("test-explodes", "engine")
    def explodes(ctx, run):
        raise ZeroDivisionError("boom")

    try:
        report = check(make_commune(edit=clean))
    finally:
        del RULES["test-explodes"]
    (issue,) = report.issues  # no [rule.test-explodes] entry: misconfigured, never run
    assert issue.rule == "rule-misconfigured" and issue.value == "test-explodes"


def test_an_exception_in_a_rule_becomes_rule_failed(make_commune, own_definitions):
    @rule("test-explodes", "engine")
    def explodes(ctx, run):
        raise ZeroDivisionError("boom")

    with open(own_definitions / "rules.toml", "a", encoding="utf-8") as fh:
        fh.write('\n[rule.test-explodes]\nseverity = "info"\nmessage = "m"\ndescription = "d"\nfix = "f"\n')
    try:
        report = check(make_commune(edit=clean), defs=get_definitions())
    finally:
        del RULES["test-explodes"]
    (issue,) = report.issues
    assert issue.rule == "rule-failed" and "boom" in issue.message and issue.severity == "error"


def test_an_added_indicator_is_checked_without_code(make_commune, own_definitions, tmp_path):
    own_definitions.add_indicator("drug_talks", "Nói chuyện", "Số buổi nói chuyện")
    defs = get_definitions()

    def edit(tables):
        clean(tables)
        reports = make_reports(tables["villages"], ["2023"], missing=0.0, late=0.0, defs=defs)
        reports["drug_people_reached"] = reports["drug_people_known"]
        reports["movement_launches"] = reports["movement_launches"].clip(lower=1)
        reports["drug_talks"] = 1
        reports.loc[11, "drug_talks"] = 60  # village 01, December
        reports.loc[3, "drug_talks"] = None  # village 01, April
        tables["reports"] = reports

    from xltools.verbs.new import new, sample_commune

    settings, tables = sample_commune(defs=defs)
    edit(tables)
    path = new(tmp_path / "added.xlsx", settings, tables, defs=defs)
    report = check(path, defs=defs)
    letter = read_workbook(path, defs).letters["reports"]["drug_talks"]
    assert cells(report, "report-outlier") == [f"{letter}13"]
    assert cells(report, "cell-required") == [f"{letter}5"]


# ---------------------------------------------------------------------- structure
def test_missing_sheet_and_column(good, tmp_path):
    wb = openpyxl.load_workbook(good)
    del wb["Tiến độ"]
    wb["Thôn"]["C1"] = "Hộ"
    wb.save(good)
    report = check(good)
    (sheet,) = hits(report, "structure-missing-sheet")
    assert sheet.sheet == "Tiến độ" and sheet.severity == "error"
    (column,) = hits(report, "structure-missing-column")
    assert (column.sheet, column.header) == ("Thôn", "Số hộ")
    assert report.issues[0].rule.startswith("structure")  # structure first


@pytest.mark.parametrize("sheet, header", [
    ("Thôn", "Mã thôn"),                 # required: the reader reports it; no "unknown village" everywhere
    ("Tổ điều hành", "Vai trò trong Tổ"),  # required: no "0 Tổ trưởng" for every village
    ("Tiến độ", "Ngày hoàn thành"),      # optional, but a rule needs it: no step "overdue" for lack of it
])
def test_a_missing_column_is_one_issue_not_a_flood(good, sheet, header):
    wb = openpyxl.load_workbook(good)
    ws = wb[sheet]
    (cell,) = [c for c in ws[1] if c.value == header]
    cell.value = "Cột lạ"
    wb.save(good)
    (issue,) = check(good).issues
    assert (issue.rule, issue.sheet, issue.header, issue.severity) == ("structure-missing-column", sheet, header, "error")
    assert header in issue.message


@pytest.mark.slow
def test_template_version(make_commune):
    assert not hits(check(make_commune(edit=clean)), "structure-version")
    report = check(make_commune(edit=clean, settings={"template_version": "1.0.1"}))
    (issue,) = hits(report, "structure-version")
    assert issue.severity == "warning" and issue.sheet == "Cấu hình" and issue.column == "C" and "1.0.1" in issue.message
    (issue,) = hits(check(make_commune(edit=clean, settings={"template_version": "0.9"})), "structure-version")
    assert issue.severity == "error"
    # a newer major or minor (a newer toolkit's workbook) is refused by the reader (test_old_workbooks.py)
    major, minor = get_definitions().version.split(".")[:2]
    newer = f"{major}.{int(minor) + 1}"
    with pytest.raises(WorkbookError, match=newer.replace(".", r"\.")):
        check(make_commune(edit=clean, settings={"template_version": newer}))


# ---------------------------------------------------------------------- cells
def test_cell_values(make_commune):
    def change(t):
        t["villages"]["name"] = t["villages"]["name"].astype(object)
        t["villages"].loc[1, "name"] = None                       # B3 required
        t["villages"].loc[2, "name"] = "Thôn " + "x" * 90           # B4 too long
        t["villages"]["team_founded"] = t["villages"]["team_founded"].astype(object)
        t["villages"].loc[3, "team_founded"] = "31/02/2023"         # G5 not a date
        t["villages"]["border"] = t["villages"]["border"].astype(object)
        t["villages"].loc[4, "border"] = "Hơi"                      # E6 not Có/Không
        t["teams"].loc[2, "role"] = "Trưởng nhóm"                   # C4 not in the list
        t["board"].loc[3, "phone"] = "09123"                        # F5 not a phone
        r = t["reports"]
        for col in ("tips", "period"):
            r[col] = r[col].astype(object)
        r.loc[0, "tips"] = "12 người"                                # M2 not a whole number
        r.loc[1, "tips"] = -3                                        # M3 negative
        r.loc[2, "period"] = "2023-13"                               # A4 not a period

    report = check(build(make_commune, change))
    assert cells(report, "cell-required") == ["B3"]
    assert cells(report, "cell-length") == ["B4"]
    assert cells(report, "cell-date") == ["G5"]
    assert sorted(cells(report, "cell-list")) == ["C4", "E6"]
    assert cells(report, "cell-phone") == ["F5"]
    assert cells(report, "cell-integer") == ["M2", "M3"]
    assert cells(report, "cell-period") == ["A4"]
    integer = hits(report, "cell-integer")[0]
    assert integer.value == "12 người" and "số nguyên" in integer.message and integer.sheet == "Báo cáo thôn"
    assert "Vai trò trong Tổ điều hành" in hits(report, "cell-list")[0].message or "Vai trò trong Tổ điều hành" in hits(report, "cell-list")[1].message


def test_phone_numbers_that_are_fine(make_commune):
    def change(t):
        t["board"].loc[0, "phone"] = "+84 912 345 678"
        t["board"].loc[1, "phone"] = "0234.3823.456"
        t["board"].loc[2, "phone"] = None
    assert not hits(check(build(make_commune, change)), "cell-phone")


def test_settings(make_commune, good):
    wb = openpyxl.load_workbook(good)
    ws = wb["Cấu hình"]
    rows = {ws.cell(r, 1).value: r for r in range(2, ws.max_row + 1)}
    ws.cell(rows["form_deadline_day"], 3).value = "ngày 18"
    ws.cell(rows["commune_code"], 3).value = "2004"
    ws.cell(rows["bcd_head"], 3).value = None
    wb.save(good)
    report = check(good)
    assert sorted(cells(report, "setting-invalid")) == sorted([f"C{rows['form_deadline_day']}", f"C{rows['commune_code']}"])
    assert cells(report, "setting-required") == [f"C{rows['bcd_head']}"]


# ---------------------------------------------------------------------- references
def test_references(make_commune):
    def change(t):
        r = t["reports"]
        extra = r.iloc[[0, 0, 0]].copy()
        extra["village_code"] = ["99", "10", "01"]  # unknown, inactive, duplicate of row 2
        t["reports"] = pd.concat([r, extra], ignore_index=True)
        t["villages"].loc[9, "code"] = "09"  # duplicate code (the inactive village)

    report = check(build(make_commune, change))
    n = 108 + 2  # 9 villages x 12 months, header on row 1
    # village 10 became a second "09", so "10" is unknown too
    assert cells(report, "ref-unknown-village") == [f"B{n}", f"B{n + 1}"]
    assert cells(report, "ref-duplicate-key") == ["A11"]
    dup = hits(report, "ref-duplicate-report")
    assert [i.cell for i in dup] == [f"B{n + 2}"] and "dòng 2" in dup[0].message


def test_inactive_village(make_commune):
    def change(t):
        extra = t["reports"].iloc[[0]].copy()
        extra["village_code"] = "10"
        t["reports"] = pd.concat([t["reports"], extra], ignore_index=True)
    report = check(build(make_commune, change))
    (issue,) = hits(report, "ref-inactive-village")
    assert issue.cell == "B110" and issue.severity == "warning" and "Thôn A Năm" in issue.message


# ---------------------------------------------------------------------- the plan's rules
def test_village_team_and_leaders(make_commune):
    def change(t):
        teams = t["teams"]
        teams = teams[teams["village_code"] != "03"].reset_index(drop=True)       # village 03: no team
        teams.loc[teams.index[(teams["village_code"] == "02") & (teams["role"] == "Tổ trưởng")], "role"] = "Thành viên"
        teams.loc[teams.index[(teams["village_code"] == "04") & (teams["role"] == "Tổ phó")], "role"] = "Tổ trưởng"
        teams.loc[teams.index[(teams["village_code"] == "01") & (teams["role"] == "Tổ trưởng")], "composition"] = "Già làng"
        t["teams"] = teams

    path = build(make_commune, change)
    report = check(path)
    teams = read_workbook(path).tables["teams"]
    def rows(code, role):
        return [int(r) for r in teams.loc[(teams.village_code == code) & (teams.role == role), "_row"]]
    assert cells(report, "plan-village-team") == ["A4"]
    first_02 = int(teams.loc[teams.village_code == "02", "_row"].min())
    assert cells(report, "plan-team-leader") == [f"C{first_02}"] + [f"C{r}" for r in rows("04", "Tổ trưởng")]
    assert ["có 0 Tổ trưởng" in hits(report, "plan-team-leader")[0].message,
            "có 2 Tổ trưởng" in hits(report, "plan-team-leader")[1].message] == [True, True]
    assert cells(report, "plan-leader-composition") == [f"D{rows('01', 'Tổ trưởng')[0]}"]


def test_board(make_commune):
    def change(t):
        b = t["board"]
        b = b[b["organisation"] != "Ủy ban MTTQ Việt Nam xã"]
        b = b[b["village_code"] != "05"].reset_index(drop=True)
        b.loc[0, "role"] = "Thành viên"  # no head
        t["board"] = b

    report = check(build(make_commune, change))
    (head,) = hits(report, "plan-board-head")
    assert head.row is None and head.sheet == "Ban điều hành" and "0 Trưởng ban" in head.message
    (org,) = hits(report, "plan-board-organisation")
    assert "Ủy ban MTTQ Việt Nam xã" in org.message
    (village,) = hits(report, "plan-board-village-heads")
    assert village.value == "05" and village.column == "E"


def test_two_board_heads(make_commune):
    def change(t):
        t["board"].loc[1, "role"] = "Trưởng ban"

    report = check(build(make_commune, change))
    assert cells(report, "plan-board-head") == ["D2", "D3"]


def test_zalo(make_commune):
    def change(t):
        t["villages"].loc[1, "zalo_group"] = None
    report = check(build(make_commune, change))
    assert cells(report, "plan-village-zalo") == ["F3"]
    assert not hits(report, "plan-commune-zalo")
    report = check(make_commune(edit=clean, settings={"zalo_page": ""}))
    (page,) = hits(report, "plan-commune-zalo")
    assert page.sheet == "Cấu hình" and page.cell.startswith("C")


def test_report_rows(make_commune):
    def change(t):
        r = t["reports"]  # village 01 is rows 2..13 (Jan..Dec), 02 is 14..25 (households 118, population 503)
        r.loc[0, "movement_launches"] = 0                                   # D2
        r.loc[1, "drug_people_known"] = 4
        r.loc[1, "drug_people_reached"] = 2                                 # L3 not all reached
        r.loc[2, "drug_people_known"] = 1
        r.loc[2, "drug_people_reached"] = 3                                 # L4 reached > known
        r.loc[12, "zalo_households"] = 119                                  # J14 > 118 households
        r.loc[13, "concentrated_sessions"] = 1
        r.loc[13, "concentrated_attendance"] = 504                          # G15 > population 503
        r.loc[14, "concentrated_sessions"] = 2
        r.loc[14, "concentrated_attendance"] = 900                          # 2 sessions: fine

    report = check(build(make_commune, change))
    assert cells(report, "plan-monthly-launch") == ["D2"]
    assert cells(report, "plan-all-reached") == ["L3"]
    assert cells(report, "plan-reached-le-known") == ["L4"]
    assert cells(report, "plan-zalo-households") == ["J14"]
    assert cells(report, "plan-attendance") == ["G15"]
    assert "118" in hits(report, "plan-zalo-households")[0].message


def _date_column() -> str:
    """The letter of Ngày báo cáo in Báo cáo thôn (after the indicators, whose number may grow)."""
    keys = [c.key for c in get_definitions().sheet("reports").columns]
    return openpyxl.utils.get_column_letter(keys.index("report_date") + 1)


@pytest.mark.slow
def test_missing_and_late_reports(make_commune):
    def change(t):
        r = t["reports"]
        r.loc[15, "report_date"] = dt.date(2023, 4, 19)  # village 02, 2023-04: one day late (row 17)
        r.loc[16, "report_date"] = dt.date(2023, 5, 18)  # on the deadline day: on time
        t["reports"] = r.drop(index=[30]).reset_index(drop=True)  # village 03, 2023-07 missing

    path = build(make_commune, change)
    report = check(path)
    assert cells(report, "plan-late-report") == [f"{_date_column()}17"]
    assert "18/04/2023" in hits(report, "plan-late-report")[0].message
    (missing,) = hits(report, "plan-missing-report")
    assert (missing.value, missing.row, missing.sheet) == ("03", None, "Báo cáo thôn")
    assert "2023-07" in missing.message and "18/07/2023" in missing.message
    # before the deadline of 2023-12 nothing is missing yet, and a period narrows the check
    early = check(path, today=dt.date(2023, 12, 18))
    assert len(hits(early, "plan-missing-report")) == 1
    assert not hits(check(path, period="2023-Q1"), "plan-missing-report")
    assert len(hits(check(path, period="2023-Q3"), "plan-missing-report")) == 1
    assert not hits(check(path, period="2023-Q3"), "plan-late-report")


def test_a_deadline_day_before_the_cut_day_means_the_next_month(make_commune):
    def change(t):
        t["reports"].loc[0, "report_date"] = dt.date(2023, 2, 5)   # 2023-01 due 05/02: on time
        t["reports"].loc[1, "report_date"] = dt.date(2023, 3, 6)   # 2023-02 due 05/03: late
    def edit(t):
        clean(t)
        change(t)

    report = check(make_commune(edit=edit, settings={"form_deadline_day": 5}))
    late = hits(report, "plan-late-report")
    col = _date_column()
    assert f"{col}3" in [i.cell for i in late] and f"{col}2" not in [i.cell for i in late]


def test_a_team_founded_later_is_not_expected_to_report(make_commune):
    def change(t):
        t["villages"].loc[0, "team_founded"] = dt.date(2023, 3, 2)
        r = t["reports"]
        t["reports"] = r[~((r["village_code"] == "01") & r["period"].isin(["2023-01", "2023-02"]))].reset_index(drop=True)
    assert not hits(check(build(make_commune, change)), "plan-missing-report")


# ---------------------------------------------------------------------- milestones and budget
def test_milestones(make_commune):
    def change(t):
        m = t["milestones"]
        m.loc[10, "deadline"] = dt.date(2023, 12, 1)   # step 11 overdue (row 12)
        m.loc[10, "done_on"] = None
        m.loc[5, "done_on"] = dt.date(2023, 1, 10)     # step 6 done before step 5 (16/01) (row 7)
        m.loc[7, "depends_on"] = "7, 12"               # no step 12 (row 9)
        m.loc[8, "done_on"] = dt.date(2023, 4, 20)     # launch ceremony far from 3/2 (row 10)

    report = check(build(make_commune, change))
    assert cells(report, "milestone-overdue") == ["D12"]
    assert cells(report, "milestone-order") == ["E7"]
    assert cells(report, "milestone-depends") == ["C9"]
    (launch,) = hits(report, "milestone-launch-date")
    assert launch.cell == "E10" and launch.severity == "info" and launch.message.endswith("cách ngày 3/2 76 ngày.")


def test_budget(make_commune):
    def change(t):
        b = t["budget"]
        b.loc[0, "approved"] = 4_000_000   # estimate 3.500.000 (row 2)
        b.loc[1, "spent"] = 5_500_000      # approved 5.000.000 (row 3)
        t["budget"] = b.drop(index=[4]).reset_index(drop=True)  # "Nước uống cho đại biểu"

    report = check(build(make_commune, change))
    assert cells(report, "budget-approved-estimate") == ["E2"]
    assert cells(report, "budget-spent-approved") == ["F3"]
    assert "5.500.000" in hits(report, "budget-spent-approved")[0].message
    (line,) = hits(report, "budget-launch-line")
    assert "Nước uống cho đại biểu" in line.message


# ---------------------------------------------------------------------- outliers
def test_outlier_against_the_village_history(make_commune):
    def change(t):
        r = t["reports"]
        r["tips"] = 0                       # a history of zeros ...
        r.loc[11, "tips"] = 2               # ... a small change is fine (row 13)
        r.loc[23, "tips"] = 25              # ... a jump is not (village 02, December, row 25)
        r.loc[2, "visual_items"] = 400      # village 01, March: only 2 months of history, not judged

    report = check(build(make_commune, change))
    assert cells(report, "report-outlier") == ["M25"]
    issue = hits(report, "report-outlier")[0]
    assert "trung vị 0" in issue.message and "11 tháng" in issue.message


def test_period_narrows_the_report_rows(make_commune):
    def change(t):
        t["reports"].loc[0, "drug_people_reached"] = 9    # 2023-01
        t["reports"].loc[11, "drug_people_reached"] = 9   # 2023-12
    path = build(make_commune, change)
    assert cells(check(path), "plan-reached-le-known") == ["L2", "L13"]
    assert cells(check(path, "2023-12"), "plan-reached-le-known") == ["L13"]
    assert cells(check(path, "2023-Q1"), "plan-reached-le-known") == ["L2"]
