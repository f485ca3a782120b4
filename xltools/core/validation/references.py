"""References family: unknown or inactive villages, duplicate keys, duplicate reports."""
from __future__ import annotations

from ..frames import ROW
from .core import Context, RuleRun, rule


def _ref_columns(ctx: Context):
    for sheet in ctx.defs.table_sheets:
        if sheet.kind != "data" or not ctx.has_sheet(sheet.key) or not ctx.has_sheet("villages"):
            continue
        frame = ctx.table(sheet.key)
        if sheet.key == "reports":
            frame = frame[ctx.report_scope(frame)]
        for col in sheet.readable_columns:
            if col.ref == "villages" and ctx.has_column(sheet.key, col.key) and not frame.empty:
                yield sheet, frame, col


@rule("ref-unknown-village", "references", needs=("villages.code",))
def unknown_village(ctx: Context, run: RuleRun) -> None:
    """Village codes in other sheets exist in the Thôn sheet."""
    codes = set(ctx.villages["code"])
    for sheet, frame, col in _ref_columns(ctx):
        values = frame[col.key]
        run.rows(sheet.key, frame, values.notna() & ~values.isin(codes), col.key)


@rule("ref-inactive-village", "references", needs=("villages.code", "villages.active"))
def inactive_village(ctx: Context, run: RuleRun) -> None:
    """Village codes in other sheets point to an active village."""
    v = ctx.villages
    inactive = set(v.loc[~v["active"].fillna(True).astype(bool), "code"])
    if not inactive:
        return
    for sheet, frame, col in _ref_columns(ctx):
        run.rows(sheet.key, frame, frame[col.key].isin(inactive), col.key)


@rule("ref-duplicate-key", "references")
def duplicate_key(ctx: Context, run: RuleRun) -> None:
    """Unique columns (village code, step number, situation period, setting key) have no duplicates."""
    for sheet in ctx.defs.table_sheets:
        if sheet.kind not in ("data", "settings") or not ctx.has_sheet(sheet.key):
            continue
        frame = ctx.table(sheet.key)
        for col in sheet.readable_columns:
            if not col.unique or not ctx.has_column(sheet.key, col.key) or frame.empty:
                continue
            values = frame[col.key]
            present = frame[values.notna()]
            dup = present.duplicated(col.key, keep="first")
            if dup.any():
                first = present.groupby(col.key, sort=False)[ROW].transform("first")
                run.rows(sheet.key, present, dup, col.key, first_row=first)


@rule("ref-duplicate-report", "references", needs=("reports.period", "reports.village_code"))
def duplicate_report(ctx: Context, run: RuleRun) -> None:
    """One report per (period, village): later rows duplicating an earlier one."""
    frame = ctx.table("reports")
    if frame.empty or not ctx.has_sheet("reports"):
        return
    keyed = frame[frame["period"].notna() & frame["village_code"].notna()]
    dup = keyed.duplicated(["period", "village_code"], keep="first")
    if not dup.any():
        return
    dup &= ctx.report_scope(keyed)
    first = keyed.groupby(["period", "village_code"], sort=False)[ROW].transform("first")
    run.rows("reports", keyed, dup, "village_code", first_row=first)
