"""The rule engine: issues as data, rules registered by id, configuration from rules.toml.

A rule is a small function over the typed tables of a ``CommuneBook``. It never
raises for bad data: it flags rows with vectorised pandas masks and the engine
turns each flagged row into a frozen ``Issue`` whose message comes from the
rule's Vietnamese template in ``workbook/rules.toml``. Severity and parameters
live there too, so a province changes them without Python. A rule whose entry
is missing or wrong yields an issue about itself (``rule-misconfigured``), and a
rule that fails yields ``rule-failed``; the other rules still run.
"""
from __future__ import annotations

import datetime as dt
import functools
import json
import math
import re
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .. import messages
from ..book import CommuneBook
from ..definitions import Definitions, Sheet
from ..frames import ROW, empty_frame
from ..periods import Period, deadline_day_of, report_deadline

SEVERITIES = ("error", "warning", "info")
FIELDS = ("rule", "severity", "sheet", "row", "column", "cell", "header", "value", "message")


@dataclass(frozen=True)
class Issue:
    """One problem found: which rule, how serious, where (sheet, Excel row, column letter)."""

    rule: str
    severity: str  # "error" | "warning" | "info"
    sheet: str
    row: int | None
    column: str
    cell: str
    header: str
    value: Any
    message: str

    def record(self) -> dict[str, Any]:
        """The JSON form (dates as ISO text)."""
        value = self.value
        if isinstance(value, (dt.date, dt.datetime)):
            value = value.isoformat()
        return {
            "rule": self.rule, "severity": self.severity, "sheet": self.sheet, "row": self.row,
            "column": self.column, "cell": self.cell, "header": self.header, "value": value,
            "message": self.message,
        }


@dataclass
class Report:
    """Every issue of a validation run, with counts."""

    issues: list[Issue] = field(default_factory=list)
    period: str | None = None

    def _count(self, severity: str) -> int:
        return sum(1 for i in self.issues if i.severity == severity)

    @property
    def errors(self) -> int:
        return self._count("error")

    @property
    def warnings(self) -> int:
        return self._count("warning")

    @property
    def infos(self) -> int:
        return self._count("info")

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings and infos allowed)."""
        return self.errors == 0

    def records(self) -> list[dict[str, Any]]:
        """The issues as plain dicts with the stable field names of ``FIELDS``."""
        return [i.record() for i in self.issues]

    def frame(self) -> pd.DataFrame:
        """The issues as a table (one row per issue, columns ``FIELDS``)."""
        return pd.DataFrame(self.records(), columns=list(FIELDS))

    def by_rule(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for i in self.issues:
            out[i.rule] = out.get(i.rule, 0) + 1
        return out

    def __len__(self) -> int:
        return len(self.issues)


class RuleConfigError(Exception):
    """Raised by a rule whose parameters do not make sense (unknown indicator, bad regex).

    ``key`` names a template of [config_reasons] in rules.toml, filled with
    ``params``; a text that is no key there is shown as it is.
    """

    def __init__(self, key: str, /, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass(frozen=True)
class RuleSpec:
    id: str
    family: str
    func: Callable[[Context, RuleRun], None] | None
    params: Mapping[str, type]  # declared parameter types (float accepts int)
    doc: str = ""
    needs: tuple[tuple[str, str], ...] = ()  # (sheet key, column key) the rule cannot do without


RULES: dict[str, RuleSpec] = {}
ENGINE_RULES = ("rule-misconfigured", "rule-failed")
_ID = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")


def rule(rule_id: str, family: str, *, needs: Iterable[str] = (), **params: type) -> Callable:
    """Register a rule function under a stable kebab-case id.

    ``needs`` names the columns ("sheet.column" keys) without which the rule's
    result means nothing: when one is missing from the workbook the rule does not
    run, and the sheet or column is reported once by the structure rules instead
    of as a flood of false findings.
    """
    if not _ID.match(rule_id):
        raise ValueError(f"rule id {rule_id!r} is not kebab-case")
    needed: list[tuple[str, str]] = []
    for name in needs:
        sheet, dot, column = name.partition(".")
        if not (sheet and dot and column):
            raise ValueError(f"rule {rule_id!r}: {name!r} is not a 'sheet.column' key")
        needed.append((sheet, column))

    def register(func: Callable[[Context, RuleRun], None]) -> Callable:
        if rule_id in RULES:
            raise ValueError(f"rule {rule_id!r} registered twice")
        RULES[rule_id] = RuleSpec(rule_id, family, func, params, (func.__doc__ or "").strip(), tuple(needed))
        return func

    return register


for _engine_id in ENGINE_RULES:
    RULES[_engine_id] = RuleSpec(_engine_id, "engine", None, {})


# ---------------------------------------------------------------------- formatting
def fmt_value(value: Any) -> str:
    """A value as the officer reads it: 1.234, 12,5, 18/03/2023, '' for empty."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return messages.text("yes" if value else "no")
    if isinstance(value, int):
        return f"{value:,}".replace(",", ".")
    if isinstance(value, float):
        if value.is_integer():
            return f"{int(value):,}".replace(",", ".")
        return f"{value:,.2f}".replace(",", "\0").replace(".", ",").replace("\0", ".").rstrip("0").rstrip(",")
    if isinstance(value, dt.datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    return str(value)


def plain(value: Any) -> Any:
    """A pandas/numpy scalar as a plain Python value (None for missing)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, (str, dt.date)):
        return value.item()
    return value


@functools.lru_cache(maxsize=256)
def template_fields(template: str) -> frozenset[str]:
    """The placeholder names of a message template."""
    try:
        return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)
    except ValueError:
        return frozenset()


def shown(value: Any) -> str:
    """A placeholder's text: strings as they are, other values as ``fmt_value`` shows them."""
    return value if isinstance(value, str) else fmt_value(value)


def fill(template: str, values: Mapping[str, Any]) -> str:
    """A rule's message template filled with ``values`` (see ``messages.fill``)."""
    return messages.fill(template, **{k: shown(v) for k, v in values.items()})


def column_header(sheet: Sheet | None, column_key: str | None) -> str:
    """The header of a column of the definitions ('' when there is none)."""
    if sheet is None or not column_key:
        return ""
    try:
        return sheet.column(column_key).header
    except KeyError:
        return ""


# ---------------------------------------------------------------------- context
class Context:
    """What every rule sees: the book, the definitions, the period checked and today."""

    def __init__(self, book: CommuneBook, config: Mapping[str, Any], period: Period | None, today: dt.date) -> None:
        self.book = book
        self.defs: Definitions = book.defs
        self.config = config
        self.period = period
        self.today = today
        self._cache: dict[str, Any] = {}

    # tables -----------------------------------------------------------------
    def sheet(self, key: str) -> Sheet:
        return self.defs.sheet(key)

    def table(self, key: str) -> pd.DataFrame:
        frame = self.book.tables.get(key)
        if frame is None:
            frame = empty_frame(self.sheet(key))
        return frame

    def has_column(self, sheet_key: str, column_key: str) -> bool:
        """The column was found in the workbook (a missing one reads as all empty)."""
        return column_key in self.book.letters.get(sheet_key, {})

    def has_sheet(self, sheet_key: str) -> bool:
        return sheet_key in self.book.letters

    def lacks(self, spec: RuleSpec) -> list[tuple[str, str]]:
        """The columns a rule needs that the workbook does not have."""
        return [(s, c) for s, c in spec.needs if not self.has_column(s, c)]

    def letter(self, sheet_key: str, column_key: str) -> str:
        return self.book.letters.get(sheet_key, {}).get(column_key, "")

    # villages -----------------------------------------------------------------
    @property
    def villages(self) -> pd.DataFrame:
        if "villages" not in self._cache:
            v = self.table("villages")
            v = v[v["code"].notna()]
            self._cache["villages"] = v.drop_duplicates("code")
        return self._cache["villages"]

    @property
    def active_villages(self) -> pd.DataFrame:
        v = self.villages
        return v[v["active"].fillna(True).astype(bool)]

    @property
    def village_names(self) -> dict[str, str]:
        if "names" not in self._cache:
            v = self.villages
            self._cache["names"] = dict(zip(v["code"], v["name"].fillna("")))
        return self._cache["names"]

    # reports and periods -------------------------------------------------------
    def months(self) -> list[str] | None:
        return self.period.months() if self.period else None

    def report_scope(self, frame: pd.DataFrame) -> pd.Series:
        """Rows of the reports table that the chosen period covers (all without a period).

        A row whose period is empty or unreadable stays in: it needs attention anyway.
        """
        months = self.months()
        if months is None or "period" not in frame:
            return pd.Series(True, index=frame.index)
        return frame["period"].isin(months) | frame["period"].isna()

    @property
    def cut_day(self) -> int:
        return common_cut_day(self.config) or 15

    @property
    def deadline_day(self) -> int:
        return deadline_day_of(self.book.settings.get("form_deadline_day"))

    def deadline(self, month: str) -> dt.date:
        """The last day a village report of ``month`` is on time (see rules.toml)."""
        return report_deadline(str(Period.parse(month)), self.deadline_day, self.cut_day)


# ---------------------------------------------------------------------- one rule's run
class RuleRun:
    """The issues of one rule: helpers that turn flagged rows into issues."""

    def __init__(self, ctx: Context, spec: RuleSpec, severity: str, template: str, params: dict[str, Any]) -> None:
        self.ctx = ctx
        self.spec = spec
        self.severity = severity
        self.template = template
        self.params = params
        self.issues: list[Issue] = []

    def issue(
        self, sheet_key: str | None, row: int | None, column_key: str | None, value: Any = None,
        *, sheet_name: str | None = None, header: str | None = None, **extra: Any,
    ) -> None:
        """One issue at a cell (``row`` None: about the whole table or column)."""
        ctx = self.ctx
        sheet = ctx.sheet(sheet_key) if sheet_key else None
        name = sheet_name if sheet_name is not None else (sheet.name if sheet else "")
        letter = ctx.letter(sheet_key, column_key) if sheet_key and column_key else ""
        if header is None:
            header = column_header(sheet, column_key)
        cell = f"{letter}{row}" if letter and row else ""
        value = plain(value)
        values = {**self.params, "sheet": name, "row": "" if row is None else str(row), "cell": cell or name,
                  "header": header, "value": value, **extra}
        self.issues.append(
            Issue(self.spec.id, self.severity, name, row, letter, cell, header, value, fill(self.template, values))
        )

    def rows(self, sheet_key: str, frame: pd.DataFrame, mask: pd.Series | None, column_key: str,
             value: pd.Series | None = None, **extra: Any) -> None:
        """An issue for each row of ``frame`` where ``mask`` holds, at ``column_key``.

        ``extra`` values may be Series aligned with ``frame`` (a value per row) or
        scalars. Rows that name a village get {village} and {village_name}; report
        rows get {period}.
        """
        hit = frame if mask is None else frame[mask.fillna(False).astype(bool)]
        if hit.empty:
            return
        if value is not None:
            values = list(value.reindex(hit.index))
        elif column_key in hit:
            values = list(hit[column_key])
        else:
            values = [None] * len(hit)
        columns: dict[str, list[Any]] = {}
        for key, item in extra.items():
            columns[key] = list(item.reindex(hit.index)) if isinstance(item, pd.Series) else [item] * len(hit)
        village_col = "code" if sheet_key == "villages" else ("village_code" if "village_code" in hit else None)
        if village_col:
            codes = list(hit[village_col])
            names = self.ctx.village_names
            columns.setdefault("village", codes)
            columns.setdefault("village_name", [names.get(c, "") for c in codes])
        if "period" in hit and sheet_key in ("reports", "history", "situation"):
            columns.setdefault("period", list(hit["period"]))
        sheet = self.ctx.sheet(sheet_key)
        letter = self.ctx.letter(sheet_key, column_key)
        header = column_header(sheet, column_key)
        rid, sev, template = self.spec.id, self.severity, self.template
        used = template_fields(template)
        # format once what is the same for every row; per row only the placeholders used
        base = {k: shown(v) for k, v in {**self.params, "sheet": sheet.name, "header": header}.items()}
        keys = [k for k in columns if k in used]
        want_value = "value" in used
        for i, (row, val) in enumerate(zip(hit[ROW].tolist(), values)):
            row = int(row)
            val = plain(val)
            cell = f"{letter}{row}" if letter else ""
            params = dict(base, row=str(row), cell=cell or sheet.name)
            if want_value:
                params["value"] = shown(val)
            for k in keys:
                params[k] = shown(plain(columns[k][i]))
            self.issues.append(Issue(rid, sev, sheet.name, row, letter, cell, header, val,
                                     messages.fill(template, **params)))

    # parameter helpers -----------------------------------------------------------
    def indicator(self, name: str) -> str:
        """A parameter that names a numeric indicator column (else the rule is misconfigured)."""
        key = self.params.get(name)
        if not isinstance(key, str) or key not in {i.key for i in self.ctx.defs.numeric_indicators}:
            raise RuleConfigError("not_indicator", name=name, value=toml_text(key))
        return key

    def list_values(self, name: str, list_key: str) -> list[str]:
        """A parameter whose values must belong to the list ``list_key`` of lists.toml."""
        raw = self.params.get(name)
        values = [raw] if isinstance(raw, str) else list(raw or [])
        allowed = set(self.ctx.defs.lists[list_key].values)
        bad = [v for v in values if v not in allowed]
        if bad or not values:
            raise RuleConfigError("not_in_list", name=name, value=toml_text(raw), list=list_key)
        return values


# ---------------------------------------------------------------------- configuration
def rules_config(defs: Definitions) -> dict[str, Any]:
    """The parsed workbook/rules.toml of the definitions in use."""
    return defs.extra("rules")


def toml_text(value: Any) -> str:
    """A parameter value as rules.toml writes it: "text", 12, 2.5, true, ["a", "b"]."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def config_reason(config: Mapping[str, Any], key: str, /, **params: Any) -> str:
    """Why a rule is misconfigured, in words of [config_reasons] (rules.toml)."""
    templates = config.get("config_reasons")
    template = templates.get(key, key) if isinstance(templates, dict) else key
    return fill(template if isinstance(template, str) else key, params)


def words(config: Mapping[str, Any], key: str, default: str = "") -> str:
    """A word of [words] in rules.toml (``default`` when it is missing)."""
    table = config.get("words")
    value = table.get(key, default) if isinstance(table, dict) else default
    return value if isinstance(value, str) else default


def common_cut_day(config: Mapping[str, Any]) -> int | None:
    """The [common] cut_day of rules.toml (default 15); None when it is not a day 1..28."""
    common = config.get("common")
    value = common.get("cut_day", 15) if isinstance(common, dict) else 15
    ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 28
    return value if ok else None


def _check_config(config: Mapping[str, Any], spec: RuleSpec, entry: Any) -> str | None:
    """Why a rule's entry is unusable (None when it is fine)."""
    if not isinstance(entry, dict):
        return config_reason(config, "no_entry", rule_id=spec.id)
    if entry.get("severity") not in SEVERITIES:
        return config_reason(config, "bad_severity", value=toml_text(entry.get("severity")))
    for key in ("message", "description", "fix"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            return config_reason(config, "missing_text", key=key)
    params = entry.get("params", {})
    if not isinstance(params, dict):
        return config_reason(config, "params_not_table")
    for name, kind in spec.params.items():
        if name not in params:
            return config_reason(config, "missing_param", name=name)
        value = params[name]
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok:
            kind_text = config_reason(config, f"type_{kind.__name__}")
            return config_reason(config, "param_type", name=name, value=toml_text(value), kind=kind_text)
    return None


def _engine_issue(config: Mapping[str, Any], rule_id: str, target: str, reason: str) -> Issue:
    entry = config.get("rule", {}).get(rule_id, {})
    severity = entry.get("severity", "error")
    severity = severity if severity in SEVERITIES else "error"
    template = entry.get("message") or "{rule_id}: {reason}"
    return Issue(rule_id, severity, "", None, "", "", "", target, fill(template, {"rule_id": target, "reason": reason}))


def run_rules(
    book: CommuneBook, period: Period | None, today: dt.date, only: Iterable[str] | None = None
) -> list[Issue]:
    """Run every registered rule (or ``only`` those ids) and collect their issues.

    The rule families register themselves when ``xltools.validation`` is imported.
    """
    config = rules_config(book.defs)
    entries = config.get("rule", {})
    ctx = Context(book, config, period, today)
    issues: list[Issue] = []
    if common_cut_day(config) is None:
        reason = config_reason(config, "bad_cut_day", value=toml_text(config["common"].get("cut_day")))
        issues.append(_engine_issue(config, "rule-misconfigured", "common.cut_day", reason))
    wanted = set(only) if only is not None else None
    for rule_id, spec in RULES.items():
        if spec.func is None or (wanted is not None and rule_id not in wanted):
            continue
        entry = entries.get(rule_id)
        misconfigured = _check_config(config, spec, entry)
        if misconfigured:
            issues.append(_engine_issue(config, "rule-misconfigured", rule_id, misconfigured))
            continue
        if entry.get("enabled", True) is False or ctx.lacks(spec):
            continue  # a missing sheet or column is reported by the structure rules
        run = RuleRun(ctx, spec, entry["severity"], entry["message"], dict(entry.get("params", {})))
        try:
            spec.func(ctx, run)
        except RuleConfigError as exc:
            issues.append(_engine_issue(config, "rule-misconfigured", rule_id,
                                        config_reason(config, exc.key, **exc.params)))
            continue
        except Exception as exc:  # a rule must never stop validation: report it instead
            issues.append(_engine_issue(config, "rule-failed", rule_id, f"{type(exc).__name__}: {exc}"))
            continue
        issues.extend(run.issues)
    unknown = sorted(set(entries) - set(RULES))
    for rule_id in unknown:
        issues.append(_engine_issue(config, "rule-misconfigured", rule_id, config_reason(config, "unknown_rule")))
    return issues


def sort_issues(defs: Definitions, issues: list[Issue]) -> list[Issue]:
    """Engine and structure first, then by sheet order, row, column."""
    order = {s.name: i for i, s in enumerate(defs.sheets)}
    sev = {s: i for i, s in enumerate(SEVERITIES)}

    def key(i: Issue) -> tuple:
        return (
            0 if i.rule in ENGINE_RULES else 1,
            order.get(i.sheet, -1 if not i.sheet else len(order)),
            i.row if i.row is not None else -1,
            len(i.column), i.column, sev.get(i.severity, 9), i.rule,
        )

    return sorted(issues, key=key)


def validate_book(book: CommuneBook, period: str | Period | None = None, *, today: dt.date | None = None) -> Report:
    """Check a commune book read with ``read_workbook(..., strict=False)``; never raises for bad data.

    ``period`` (any period text: YYYY-MM, YYYY-Qn, …) narrows the rules about
    monthly reports to its months (rows, missing and late reports, outliers);
    without it every report row is checked and missing reports are looked for
    from the first reported month to the current period. ``today`` decides what
    is overdue (default: the real date).
    """
    chosen = Period.parse(period) if period is not None and not isinstance(period, Period) else period
    issues = run_rules(book, chosen, today or dt.date.today())
    return Report(sort_issues(book.defs, issues), period=str(chosen) if chosen else None)
