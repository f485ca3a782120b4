"""The plan's rules (domain.md §2): teams, leaders, board, Zalo, monthly activity, reports.

List values (roles, compositions, organisations) and indicator keys are
parameters in rules.toml, checked against lists.toml and indicators.toml.
"""
from __future__ import annotations

import calendar
import datetime as dt

import pandas as pd

from ..periods import Period
from ..text import is_blank
from .core import Context, RuleConfigError, RuleRun, rule, toml_text, words


def _active_codes(ctx: Context) -> pd.Series:
    return ctx.active_villages["code"]


# ---------------------------------------------------------------------- teams
@rule("plan-village-team", "plan", needs=("villages.code", "villages.active", "teams.village_code"))
def village_team(ctx: Context, run: RuleRun) -> None:
    """Every active village has an executive team."""
    if not ctx.has_sheet("teams") or not ctx.has_sheet("villages"):
        return
    active = ctx.active_villages
    with_team = set(ctx.table("teams")["village_code"].dropna())
    run.rows("villages", active, ~active["code"].isin(with_team), "code")


@rule("plan-team-leader", "plan", needs=("teams.village_code", "teams.role"), leader_role=str)
def team_leader(ctx: Context, run: RuleRun) -> None:
    """Every village team has exactly one leader (Tổ trưởng)."""
    (leader,) = run.list_values("leader_role", "team_roles")
    teams = ctx.table("teams")
    if not ctx.has_sheet("teams") or teams.empty:
        return
    teams = teams[teams["village_code"].notna()]
    is_leader = teams["role"] == leader
    count = is_leader.groupby(teams["village_code"]).transform("sum").astype("int64")
    first_row = ~teams["village_code"].duplicated(keep="first")
    mask = ((count == 0) & first_row) | ((count > 1) & is_leader)
    run.rows("teams", teams, mask, "role", count=count)


@rule("plan-leader-composition", "plan", needs=("teams.role", "teams.composition"), leader_role=str,
      compositions=list)
def leader_composition(ctx: Context, run: RuleRun) -> None:
    """The team leader is the village head or the head of the village Front committee."""
    (leader,) = run.list_values("leader_role", "team_roles")
    allowed = run.list_values("compositions", "team_compositions")
    teams = ctx.table("teams")
    if not ctx.has_sheet("teams") or teams.empty:
        return
    mask = (teams["role"] == leader) & teams["composition"].notna() & ~teams["composition"].isin(allowed)
    run.rows("teams", teams, mask, "composition", allowed=words(ctx.config, "or", " / ").join(allowed))


# ---------------------------------------------------------------------- board
@rule("plan-board-head", "plan", needs=("board.role",), head_role=str)
def board_head(ctx: Context, run: RuleRun) -> None:
    """The commune board has exactly one head (Trưởng ban)."""
    (head,) = run.list_values("head_role", "board_roles")
    if not ctx.has_sheet("board"):
        return
    board = ctx.table("board")
    is_head = board["role"] == head
    count = int(is_head.sum())
    if count == 0:
        run.issue("board", None, "role", None, count=0)
    elif count > 1:
        run.rows("board", board, is_head, "role", count=count)


@rule("plan-board-organisation", "plan", needs=("board.organisation",), organisations=list)
def board_organisation(ctx: Context, run: RuleRun) -> None:
    """The board has members of the commune People's Committee and the Fatherland Front."""
    wanted = run.list_values("organisations", "organisations")
    if not ctx.has_sheet("board"):
        return
    present = set(ctx.table("board")["organisation"].dropna())
    for org in wanted:
        if org not in present:
            run.issue("board", None, "organisation", None, organisation=org)


@rule("plan-board-village-heads", "plan", needs=("villages.code", "villages.active", "board.village_code"))
def board_village_heads(ctx: Context, run: RuleRun) -> None:
    """The board includes the head of every active village."""
    if not ctx.has_sheet("board") or not ctx.has_sheet("villages"):
        return
    present = set(ctx.table("board")["village_code"].dropna())
    names = ctx.village_names
    for code in _active_codes(ctx):
        if code not in present:
            run.issue("board", None, "village_code", code, village=code, village_name=names.get(code, ""))


# ---------------------------------------------------------------------- Zalo
@rule("plan-village-zalo", "plan", needs=("villages.code", "villages.active", "villages.zalo_group"))
def village_zalo(ctx: Context, run: RuleRun) -> None:
    """Every active village has a Zalo group."""
    if not ctx.has_column("villages", "zalo_group"):
        return
    active = ctx.active_villages
    run.rows("villages", active, active["zalo_group"].isna(), "zalo_group")


@rule("plan-commune-zalo", "plan", needs=("settings.key", "settings.value"))
def commune_zalo(ctx: Context, run: RuleRun) -> None:
    """The commune has a Zalo page (setting zalo_page)."""
    if not ctx.has_sheet("settings"):
        return
    if is_blank(ctx.book.settings.get("zalo_page")):
        label = ctx.defs.setting("zalo_page").label
        run.issue("settings", ctx.book.settings_rows.get("zalo_page"), "value", None, label=label)


# ---------------------------------------------------------------------- report rows
def _reports(ctx: Context) -> pd.DataFrame:
    frame = ctx.table("reports")
    return frame[ctx.report_scope(frame)] if not frame.empty else frame


def _village_numbers(ctx: Context, reports: pd.DataFrame, column: str) -> pd.Series:
    if column not in ctx.villages:
        raise RuleConfigError("not_village_column", value=toml_text(column), sheet=ctx.sheet("villages").name)
    lookup = dict(zip(ctx.villages["code"], ctx.villages[column]))
    return pd.to_numeric(reports["village_code"].map(lookup), errors="coerce").astype("Float64")


@rule("plan-monthly-launch", "plan", indicator=str, at_least=int)
def monthly_launch(ctx: Context, run: RuleRun) -> None:
    """Each village launches the movement at least once a month."""
    key = run.indicator("indicator")
    reports = _reports(ctx)
    if reports.empty:
        return
    run.rows("reports", reports, reports[key] < run.params["at_least"], key)


@rule("plan-all-reached", "plan", reached=str, known=str)
def all_reached(ctx: Context, run: RuleRun) -> None:
    """All known drug-related people are reached by individual propaganda."""
    reached, known = run.indicator("reached"), run.indicator("known")
    reports = _reports(ctx)
    if reports.empty:
        return
    run.rows("reports", reports, reports[reached] < reports[known], reached, known=reports[known])


@rule("plan-reached-le-known", "plan", reached=str, known=str)
def reached_le_known(ctx: Context, run: RuleRun) -> None:
    """People reached cannot exceed people known."""
    reached, known = run.indicator("reached"), run.indicator("known")
    reports = _reports(ctx)
    if reports.empty:
        return
    run.rows("reports", reports, reports[reached] > reports[known], reached, known=reports[known])


@rule("plan-zalo-households", "plan", indicator=str, villages_column=str)
def zalo_households(ctx: Context, run: RuleRun) -> None:
    """Households in the village Zalo group cannot exceed the village's households."""
    key = run.indicator("indicator")
    reports = _reports(ctx)
    if reports.empty:
        return
    households = _village_numbers(ctx, reports, run.params["villages_column"])
    run.rows("reports", reports, reports[key] > households, key, households=households)


@rule("plan-attendance", "plan", attendance=str, sessions=str, villages_column=str)
def attendance(ctx: Context, run: RuleRun) -> None:
    """Attendance per session cannot exceed the village's population."""
    att, ses = run.indicator("attendance"), run.indicator("sessions")
    reports = _reports(ctx)
    if reports.empty:
        return
    population = _village_numbers(ctx, reports, run.params["villages_column"])
    sessions = reports[ses].fillna(0).clip(lower=1)
    mask = reports[att] > population * sessions
    run.rows("reports", reports, mask, att, sessions=reports[ses], population=population)


# ---------------------------------------------------------------------- missing and late
def _month_range(first: str, last: str) -> list[str]:
    a, b = Period.parse(first), Period.parse(last)
    out: list[str] = []
    y, m = a.year, a.n
    while (y, m) <= (b.year, b.n) and len(out) < 1200:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def checked_months(ctx: Context) -> list[str]:
    """Months whose reports are expected: the chosen period's, else first reported .. current period."""
    if ctx.period is not None:
        return ctx.period.months()
    periods = ctx.table("reports")["period"].dropna()
    current = ctx.book.settings.get("current_period")
    if periods.empty:
        return [current] if current else []
    first, last = periods.min(), periods.max()
    if current and current > first:
        last = current
    return _month_range(first, last)


@rule("plan-missing-report", "plan", needs=("villages.code", "villages.active", "reports.period", "reports.village_code"))
def missing_report(ctx: Context, run: RuleRun) -> None:
    """Every active village has a report for every month past its deadline."""
    if not ctx.has_sheet("reports") or not ctx.has_sheet("villages"):
        return
    months = [m for m in checked_months(ctx) if ctx.deadline(m) < ctx.today]
    active = ctx.active_villages
    if not months or active.empty:
        return
    reports = ctx.table("reports")
    expected = pd.DataFrame({"code": active["code"].to_numpy()}).merge(pd.DataFrame({"month": months}), how="cross")
    if "team_founded" in active:
        ends = {m: _month_end(m) for m in months}
        founded = pd.to_datetime(expected["code"].map(dict(zip(active["code"], active["team_founded"]))))
        expected = expected[~(founded > pd.to_datetime(expected["month"].map(ends))).to_numpy()]
    have = pd.MultiIndex.from_arrays([reports["period"], reports["village_code"]])
    missing = expected[~pd.MultiIndex.from_arrays([expected["month"], expected["code"]]).isin(have)]
    names = ctx.village_names
    deadlines = {m: ctx.deadline(m) for m in months}
    for month, code in zip(missing["month"], missing["code"]):
        run.issue("reports", None, "village_code", code, village=code, village_name=names.get(code, ""),
                  period=month, deadline=deadlines[month])


def _month_end(month: str) -> dt.date:
    p = Period.parse(month)
    return dt.date(p.year, p.n, calendar.monthrange(p.year, p.n)[1])


@rule("plan-late-report", "plan", needs=("reports.period", "reports.report_date"))
def late_report(ctx: Context, run: RuleRun) -> None:
    """Reports dated after the deadline day of their month."""
    reports = _reports(ctx)
    if reports.empty or not ctx.has_column("reports", "report_date"):
        return
    reports = reports[reports["period"].notna() & reports["report_date"].notna()]
    if reports.empty:
        return
    deadlines = {m: ctx.deadline(m) for m in reports["period"].unique()}
    due = pd.to_datetime(reports["period"].map(deadlines))
    dated = pd.to_datetime(reports["report_date"])
    mask = dated > due
    run.rows("reports", reports, mask, "report_date", deadline=reports["period"].map(deadlines))


@rule("plan-future-report", "plan", needs=("reports.period",))
def future_report(ctx: Context, run: RuleRun) -> None:
    """Report rows of a month whose data window has not begun yet, or dated after today."""
    reports = _reports(ctx)
    if reports.empty:
        return
    today = pd.Timestamp(ctx.today)
    starts: dict[str, dt.date | None] = {}
    for month in reports["period"].dropna().unique():
        try:
            starts[month] = Period.parse(month).window(ctx.cut_day)[0]
        except Exception:  # an unreadable period is the cell rules' business
            starts[month] = None
    begins = pd.to_datetime(reports["period"].map(starts), errors="coerce")
    run.rows("reports", reports, begins > today, "period", today=ctx.today)
    if ctx.has_column("reports", "report_date"):
        dated = pd.to_datetime(reports["report_date"], errors="coerce")
        run.rows("reports", reports, dated > today, "report_date", today=ctx.today)
