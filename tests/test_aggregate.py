"""aggregate: flows summed, stocks from the last month, ratios from sums, Tổng hợp, CLI."""
from __future__ import annotations

import datetime as dt
import json

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from xltools import aggregate, validate
from xltools.cli import main
from xltools.core.aggregation import aggregate_tables, report_deadline
from xltools.core.checksum import rows_checksum
from xltools.core.definitions import get_definitions
from xltools.core.errors import DefinitionsError
from xltools.core.settings import resolve


def _two_villages(tables: dict[str, pd.DataFrame]) -> None:
    """Villages 01 and 02 only, with hand-made reports for October to December."""
    villages = tables["villages"]
    tables["villages"] = villages[villages["code"].isin(["01", "02"])].reset_index(drop=True)
    base = {k: 0 for k in ("team_meetings", "movement_launches", "visual_items", "concentrated_sessions",
                           "concentrated_attendance", "individual_contacts", "online_posts", "zalo_households",
                           "drug_people_known", "drug_people_reached", "tips", "drug_cases")}
    rows = [
        {**base, "period": "2023-10", "village_code": "01", "movement_launches": 1, "zalo_households": 50,
         "drug_people_known": 4, "drug_people_reached": 4, "report_date": pd.Timestamp("2023-10-12").date()},
        {**base, "period": "2023-11", "village_code": "01", "movement_launches": 2, "zalo_households": 60,
         "drug_people_known": 5, "drug_people_reached": 3, "report_date": pd.Timestamp("2023-11-25").date()},
        {**base, "period": "2023-12", "village_code": "01", "movement_launches": 0, "zalo_households": 70,
         "drug_people_known": 6, "drug_people_reached": 6, "report_date": pd.Timestamp("2023-12-10").date()},
        # village 02 misses November; its last month is December
        {**base, "period": "2023-10", "village_code": "02", "movement_launches": 1, "zalo_households": 10,
         "drug_people_known": 1, "drug_people_reached": 0, "report_date": pd.Timestamp("2023-10-10").date()},
        {**base, "period": "2023-12", "village_code": "02", "movement_launches": 3, "zalo_households": 20,
         "drug_people_known": 1, "drug_people_reached": 1, "report_date": pd.Timestamp("2023-12-10").date()},
    ]
    tables["reports"] = pd.DataFrame(rows)


@pytest.fixture
def small(make_commune):
    return make_commune("Small.xlsx", edit=_two_villages)


def test_flows_are_summed_and_stocks_taken_from_the_last_month(small):
    agg = aggregate(small, "2023-Q4")
    parts = agg.parts.set_index("code")
    assert parts.loc["01", "movement_launches"] == 3  # 1 + 2 + 0: a flow
    assert parts.loc["01", "zalo_households"] == 70  # December, not 180: a stock
    assert parts.loc["02", "zalo_households"] == 20
    assert parts.loc["01", "drug_people_known"] == 6
    total = agg.total()
    assert total["movement_launches"] == 7 and total["zalo_households"] == 90  # stocks add across villages


def test_ratios_come_from_summed_numerators_and_denominators(small):
    agg = aggregate(small, "2023-Q4")
    rates = agg.rates_of(agg.total())
    assert rates["individual_coverage"] == pytest.approx((6 + 1) / (6 + 1))
    assert rates["zalo_coverage"] == pytest.approx(90 / (142 + 118))
    # launch rate: village-months with >= 1 launch / village-months expected = (2 + 2) / (3 + 3):
    # 02's November without a report is a month without a launch, not a month left out (issue 12)
    assert rates["launch_rate"] == pytest.approx(4 / 6)
    # completeness 5 of 6 village-months, timeliness: November of 01 came after day 18
    assert rates["completeness"] == pytest.approx(5 / 6)
    assert rates["timeliness"] == pytest.approx(4 / 6)
    per_village = agg.rate_table().set_index("code")
    mean = per_village.loc[["01", "02"], "zalo_coverage"].mean()
    assert mean != pytest.approx(rates["zalo_coverage"])  # never an average of ratios


@pytest.mark.parametrize("month, day, due", [
    ("2023-03", 18, dt.date(2023, 3, 18)),   # rules.toml: due on the 18th of the month itself
    ("2023-03", 5, dt.date(2023, 4, 5)),     # a day before the cut day: that day of the next month
    ("2023-12", 5, dt.date(2024, 1, 5)),
    ("2023-02", 31, dt.date(2023, 2, 28)),   # past the month's end: its last day
])
def test_report_deadline(month, day, due):
    assert report_deadline(month, day) == due


@pytest.mark.parametrize("deadline_day, timely", [(18, 4), (5, 5)])
def test_timeliness_uses_the_deadline_of_validation(make_commune, deadline_day, timely):
    # a deadline day before the window closes (the 15th) is that day of the next month:
    # with 5, November's report dated 25/11 is on time (due 05/12)
    path = make_commune("Deadline.xlsx", settings={"form_deadline_day": deadline_day}, edit=_two_villages)
    agg = aggregate(path, "2023-Q4")
    assert agg.facts["reported"] == 5 and agg.facts["timely"] == timely
    assert agg.rates_of(agg.total())["timeliness"] == pytest.approx(timely / 6)
    late = [i for i in validate(path, "2023-Q4").issues if i.rule == "plan-late-report"]
    assert len(late) == agg.facts["reported"] - agg.facts["timely"]


def test_a_month_is_aggregated_alone(small):
    agg = aggregate(small, "2023-11")
    parts = agg.parts.set_index("code")
    assert parts.loc["01", "movement_launches"] == 2
    assert pd.isna(parts.loc["02", "movement_launches"])  # no report: no value, not zero
    assert agg.rates_of(agg.total())["completeness"] == pytest.approx(1 / 2)


def test_loai_1_criteria_are_checked_with_thresholds_as_data(sample, defs):
    settings, tables = sample
    tables["situation"] = pd.DataFrame([{"period": "2023-12", "addicts": 30, "users": 5, "post_rehab": 1,
                                         "drug_places": 2, "arrested": 1, "plants_count": 3500, "plants_area": 0.0,
                                         "on_drug_route": True}])
    agg = aggregate_tables(tables, resolve(defs, settings), "2023-12", defs)
    loai1 = next(lv for lv in agg.hotspot if lv.key == "loai_1")
    met = {c.key: c.met for c in loai1.criteria}
    assert met["a"] is True  # 35 people >= 0.5% of 4733
    assert met["b"] is True and met["d"] is True
    assert met["c"] is False  # 1 < 0.1% of 4733
    assert met["dd"] is None  # loại III thresholds are not configured: never guessed
    assert loai1.met is True and loai1.source.startswith("QĐ 28/2025")
    for key in ("loai_2", "loai_3", "khong_ma_tuy"):
        level = next(lv for lv in agg.hotspot if lv.key == key)
        assert not level.configured and level.met is None


def test_long_rows_carry_numerators_and_denominators_and_totals(make_commune):
    agg = aggregate(make_commune(), "2023-12")
    rows = agg.long_rows()
    keys = {r[4] for r in rows}
    assert {"individual_coverage.num", "individual_coverage.den", "zalo_households"} <= keys
    totals = {r[4]: r[6] for r in rows if r[2] == ""}
    for key in keys:
        assert totals[key] == sum(r[6] for r in rows if r[2] and r[4] == key)
    assert len(rows_checksum(rows)) == 64


def test_a_new_indicator_is_aggregated_with_no_code_change(own_definitions, sample):
    own_definitions.add_indicator()
    defs = get_definitions()
    assert "school_talks" in [i.key for i in defs.numeric_indicators]
    settings, tables = sample
    tables["reports"]["school_talks"] = 2
    agg = aggregate_tables(tables, resolve(defs, settings), "2023-Q4", defs)
    assert agg.total()["school_talks"] == 2 * len(tables["reports"][tables["reports"]["period"].isin(["2023-10", "2023-11", "2023-12"])])
    assert any(r[4] == "school_talks" for r in agg.long_rows())


def test_a_derived_indicator_naming_an_unknown_column_is_a_clear_error(own_definitions, sample):
    toml = own_definitions.replace("indicators.toml", '"villages.households"', '"villages.ho_dan"')
    defs = get_definitions()
    settings, tables = sample
    with pytest.raises(DefinitionsError) as err:
        aggregate_tables(tables, resolve(defs, settings), "2023-Q4", defs)
    assert str(err.value).startswith(f"Tệp định nghĩa {toml} có lỗi: [[derived]] zalo_coverage: denominator = “villages.ho_dan”")


def test_write_fills_the_summary_sheet(make_commune, defs):
    path = make_commune()
    agg = aggregate(path, "2023-Q4", write=True)
    ws = openpyxl.load_workbook(path)[defs.sheet("summary").name]
    values = [[c for c in row] for row in ws.iter_rows(values_only=True)]
    flat = [v for row in values for v in row if v is not None]
    assert any(isinstance(v, str) and "QUÝ IV NĂM 2023" in v for v in flat)
    total_row = next(row for row in values if row[0] == "Tổng cộng")
    assert total_row[1] == agg.total()[agg.indicators[0]]
    assert list(total_row[1:1 + len(agg.indicators)]) == [agg.total()[k] for k in agg.indicators]
    rates = agg.rates_of(agg.total())
    assert list(total_row[1 + len(agg.indicators):1 + len(agg.indicators) + len(agg.derived)]) == pytest.approx(
        [rates[k] for k, _ in agg.derived])


def test_cli_aggregate_prints_text_and_json(make_commune):
    path = make_commune()
    runner = CliRunner()
    result = runner.invoke(main, ["aggregate", str(path), "--period", "2023-Q4", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["period"] == "2023-Q4" and len(data["parts"]) == 9
    assert data["total"]["values"]["movement_launches"] == sum(p["values"]["movement_launches"] or 0 for p in data["parts"])
    text = runner.invoke(main, ["aggregate", str(path), "--period", "2023-12"])
    assert text.exit_code == 0 and "Tổng cộng" in text.output
    bad = runner.invoke(main, ["aggregate", str(path), "--period", "2023-13"])
    assert bad.exit_code == 1 and bad.output.startswith("Lỗi: Kỳ báo cáo “2023-13” không hợp lệ")


def test_the_checksum_text_is_each_cell_normalised_whatever_the_cells_hold():
    """canonical_text normalises its text once, whole: the same as normalising every cell (a tab
    and a line break combine with nothing), for decomposed Vietnamese, Hangul jamo that compose
    across letters, numbers and empty cells."""
    import random
    import unicodedata

    from xltools.core.checksum import canonical_text

    def per_cell(rows):
        return "".join("\t".join(unicodedata.normalize("NFC", "" if v is None else str(int(v) if isinstance(v, float)
                                                                                       and v.is_integer() else v))
                                 for v in row) + "\n" for row in rows)

    rng = random.Random(138)
    letters = ["a", "e", "\u0301", "\u0323", "\u0302", "ê", "ệ", "Đ", " ", "1", "\u1100", "\u1161", "\u11a8", "\u0308"]
    for _ in range(3000):
        rows = [tuple("".join(rng.choice(letters) for _ in range(rng.randint(0, 4))) if rng.random() < 0.8
                      else rng.choice([None, 3, 2.0, 2.5, -1]) for _ in range(rng.randint(1, 4)))
                for _ in range(rng.randint(1, 3))]
        assert canonical_text(rows) == per_cell(rows), rows
