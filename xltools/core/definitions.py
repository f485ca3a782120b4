"""Load the declarative definitions in workbook/ into typed, read-only objects.

Everything that names a sheet, a table, a header, a list, an indicator or a
setting reads it from here. Set ``XLTOOLS_DEFINITIONS`` to a folder to use a
province's own copy of workbook/ (tests use this to add an indicator).
"""
from __future__ import annotations

import os
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib
from dataclasses import MISSING, dataclass, field, fields
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from .errors import DefinitionsError
from .resources import resource_dir

COLUMN_TYPES = frozenset(
    {"text", "code", "int", "money", "number", "date", "datetime", "bool", "list", "phone", "period", "formula"}
)
AGGREGATIONS = frozenset({"sum", "last", "none"})


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    type: str = "text"
    required: bool = False
    unique: bool = False
    list: str | None = None
    ref: str | None = None
    max_length: int | None = None
    width: float | None = None
    format: str | None = None
    formula: str | None = None
    comment: str | None = None
    aliases: tuple[str, ...] = ()
    indicator: bool = False  # the column comes from indicators.toml
    personal: bool = False  # a person's name or phone: never leaves the commune workbook unless asked

    @property
    def numeric(self) -> bool:
        return self.type in ("int", "money", "number")


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    cell: str


@dataclass(frozen=True)
class Sheet:
    key: str
    name: str
    kind: str  # dashboard | settings | data | log | output
    table: str | None = None
    columns: tuple[Column, ...] = ()
    protected: bool = False
    personal: bool = False  # holds names and phones of people
    fields: tuple[Field, ...] = ()
    # added after 1.0: a workbook made before it still reads (the table is empty, never a missing-sheet
    # error) until `xltools upgrade` adds it; the verbs that write it say so
    optional: bool = False

    def column(self, key: str) -> Column:
        for col in self.columns:
            if col.key == key:
                return col
        raise KeyError(f"{self.key}.{key}")

    @property
    def keys(self) -> list[str]:
        return [c.key for c in self.columns]

    @property
    def readable_columns(self) -> tuple[Column, ...]:
        """Columns the reader loads (formula columns are Excel's business)."""
        return tuple(c for c in self.columns if c.type != "formula")


@dataclass(frozen=True)
class Indicator:
    key: str
    label: str
    short: str
    unit: str
    type: str
    agg: str
    help: str = ""
    # a whole-number indicator must be filled in on each report unless `required = false` (one
    # added to a running model: the months before it stay empty, "not reported")
    required: bool = True

    @property
    def numeric(self) -> bool:
        return self.type == "int"


@dataclass(frozen=True)
class Derived:
    key: str
    label: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ListDef:
    key: str
    label: str
    values: tuple[str, ...]

    @property
    def name(self) -> str:
        """The workbook-level defined name that dropdowns refer to."""
        return f"ds_{self.key}"


@dataclass(frozen=True)
class Setting:
    key: str
    label: str
    type: str = "text"
    required: bool = False
    default: Any = ""
    pattern: str | None = None
    comment: str | None = None


@dataclass(frozen=True)
class ReportLayout:
    """report.toml [layout]: the Decree 30 page and type parameters. The defaults live here only."""

    font: str = "Times New Roman"
    paper: int = 9  # Excel paper code: 9 = A4
    landscape: bool = False
    margin_top_mm: float = 20
    margin_bottom_mm: float = 20
    margin_left_mm: float = 30
    margin_right_mm: float = 15
    size_header: float = 13
    size_motto: float = 13
    size_title: float = 14
    size_body: float = 13
    size_table: float = 11
    size_recipients: float = 12
    size_recipients_list: float = 11
    page_number_header: str = "&C&P"
    percent_decimals: int = 1
    decimal_comma: bool = True
    pad_months: tuple[int, ...] = (1, 2)
    grid_columns: int = 12
    width_share: float = 0.95
    header_left_columns: int = 4
    recipients_columns: int = 5
    issuing_rule_share: float = 0.4
    signature_space_mm: float = 32
    page_reserve_pt: float = 30
    annex_value_min_pt: float = 44
    annex_width_share: float = 0.92
    technical_lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class Button:
    """One [[button]] of buttons.toml."""

    caption: str
    sub: str
    verb: str
    cell: str
    width: int | None = None  # pixels; else [size] of buttons.toml
    height: int | None = None
    command: str = ""  # the command line that does the same on the closed workbook (xltools shortcuts)


@dataclass(frozen=True)
class RollupButton:
    """One [[rollup_button]] of buttons.toml: a ribbon button of the add-in for the level above,
    working on the active rollup workbook."""

    caption: str
    sub: str
    verb: str
    command: str = ""


_TYPE_NAMES = {"str": "definitions_kind_text", "int": "definitions_kind_int", "float": "definitions_kind_number",
               "bool": "definitions_kind_bool"}


def typed(cls: type, data: Any, file: str, section: str) -> Any:
    """Build the frozen dataclass ``cls`` from the TOML table ``data``.

    An unknown key (a typo), a missing required key or a value of the wrong type is one
    DefinitionsError naming the file and the key; nothing silently becomes a default."""
    if not isinstance(data, dict):
        raise DefinitionsError("bad_definitions", file=file, reason=_reason("definitions_not_table", key=section))
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise DefinitionsError("bad_definitions", file=file,
                               reason=_reason("definitions_unknown_key", key=f"{section}.{unknown[0]}"))
    values: dict[str, Any] = {}
    for name, value in data.items():
        kind = str(known[name].type)
        if kind.startswith("tuple"):
            if not isinstance(value, list):
                raise DefinitionsError("bad_definitions", file=file,
                                       reason=_reason("definitions_wrong_type", key=f"{section}.{name}",
                                                      kind=_reason("definitions_kind_list")))
            value = tuple(value)
        elif kind in _TYPE_NAMES:
            ok = (isinstance(value, bool) if kind == "bool" else isinstance(value, str) if kind == "str"
                  else isinstance(value, int) and not isinstance(value, bool) if kind == "int"
                  else isinstance(value, (int, float)) and not isinstance(value, bool))
            if not ok:
                raise DefinitionsError("bad_definitions", file=file, reason=_reason(
                    "definitions_wrong_type", key=f"{section}.{name}", kind=_reason(_TYPE_NAMES[kind])))
        values[name] = value
    try:
        return cls(**values)
    except TypeError:
        missing = [n for n, f in known.items() if n not in data and f.default is MISSING and f.default_factory is MISSING]
        raise DefinitionsError("bad_definitions", file=file, reason=_reason(
            "definitions_missing_keys", keys=", ".join(f"{section}.{m}" for m in missing))) from None


def _reason(message: str, /, **params: Any) -> str:
    from . import messages

    return messages.text(message, **params)


# The sections each definitions file may have (the top-level keys); a section not listed is a typo.
FILE_SECTIONS: dict[str, frozenset[str]] = {
    "report": frozenset({"file_name", "sheets", "layout", "text", "milestone_status", "summary", "charts", "notes",
                         "data", "info", "members", "rollup", "review", "submission_limits", "hotspot"}),
    "forms": frozenset({"version", "supported_versions", "generator", "file_name", "out_dir", "sheet_name",
                        "meta_sheet", "title", "subtitle", "commune_label", "village_label", "period_label",
                        "window_label", "window_text", "deadline_label", "deadline_text", "instructions", "col_no",
                        "col_label", "col_value", "col_unit", "filled_label", "signature", "signature_note",
                        "input_title_max", "error_title", "error_int", "error_date", "error_text", "meta_title",
                        "column_widths", "font_size", "print_min_percent",
                        "field", "limits", "import", "results"}),
    "buttons": frozenset({"module", "handler_module", "button", "rollup_button", "shortcut", "size", "conf_sheet"}),
    "rules": frozenset({"severity", "family", "common", "checks_sheet", "config_reasons", "words", "upstairs", "rule"}),
    "changes": frozenset({"version"}),  # the history of the definitions (core/upgrade.py types it)
}
RULE_KEYS = frozenset({"severity", "description", "message", "fix", "params", "enabled"})  # of each [rule.<id>]


@dataclass(frozen=True)
class Definitions:
    folder: Path
    version: str
    title: str
    list_sheet: str
    file_name: str
    formats: dict[str, str]
    sheets: tuple[Sheet, ...]
    indicators: tuple[Indicator, ...]
    derived: tuple[Derived, ...]
    lists: dict[str, ListDef]
    settings: tuple[Setting, ...]
    milestones: tuple[dict[str, Any], ...]
    budget_lines: tuple[dict[str, Any], ...]
    raw: dict[str, dict[str, Any]] = field(repr=False, default_factory=dict)

    def sheet(self, key: str) -> Sheet:
        for sheet in self.sheets:
            if sheet.key == key:
                return sheet
        raise KeyError(key)

    @property
    def table_sheets(self) -> tuple[Sheet, ...]:
        return tuple(s for s in self.sheets if s.table)

    def indicator(self, key: str) -> Indicator:
        return self._indicators[key]

    @cached_property
    def _indicators(self) -> dict[str, Indicator]:
        """Indicators by key (the first of a key), built once: a rollup names one per finding."""
        out: dict[str, Indicator] = {}
        for ind in self.indicators:
            out.setdefault(ind.key, ind)
        return out

    @property
    def numeric_indicators(self) -> tuple[Indicator, ...]:
        return tuple(i for i in self.indicators if i.numeric)

    def setting(self, key: str) -> Setting:
        for s in self.settings:
            if s.key == key:
                return s
        raise KeyError(key)

    def column_format(self, column: Column) -> str | None:
        return column.format or self.formats.get(column.type)

    def extra(self, name: str) -> dict[str, Any]:
        """The parsed content of another TOML file of the folder (rules, report, forms …).

        Its sections are checked against FILE_SECTIONS when it is first read."""
        if name not in self.raw:
            path = self.folder / f"{name}.toml"
            doc = _load_toml(path) if path.exists() else {}
            allowed = FILE_SECTIONS.get(name)
            unknown = sorted(set(doc) - allowed) if allowed is not None else []
            if unknown:
                raise DefinitionsError("bad_definitions", file=str(path),
                                       reason=_reason("definitions_unknown_key", key=unknown[0]))
            for rule_id, entry in (doc.get("rule", {}) if name == "rules" else {}).items():
                odd = sorted(set(entry) - RULE_KEYS) if isinstance(entry, dict) else []
                if odd:
                    raise DefinitionsError("bad_definitions", file=str(path),
                                           reason=_reason("definitions_unknown_key", key=f"rule.{rule_id}.{odd[0]}"))
            doc = _against_reference(name, doc, self.folder, str(path))
            if name == "report":  # its page parameters are typed: rep["layout"] is a ReportLayout
                doc["layout"] = typed(ReportLayout, doc.get("layout", {}), str(path), "layout")
            self.raw[name] = doc
        return self.raw[name]

    @property
    def layout(self) -> ReportLayout:
        """report.toml [layout], typed and checked."""
        layout: ReportLayout = self.extra("report")["layout"]
        return layout

    @cached_property
    def buttons(self) -> tuple[Button, ...]:
        """buttons.toml [[button]], typed and checked."""
        where = str(self.folder / "buttons.toml")
        return tuple(typed(Button, b, where, "button") for b in self.extra("buttons").get("button", []))

    @cached_property
    def rollup_buttons(self) -> tuple[RollupButton, ...]:
        """buttons.toml [[rollup_button]] (the add-in's buttons for the rollup workbook), typed."""
        where = str(self.folder / "buttons.toml")
        return tuple(typed(RollupButton, b, where, "rollup_button")
                     for b in self.extra("buttons").get("rollup_button", []))

    @property
    def major(self) -> str:
        return self.version.split(".")[0]


# Sections whose keys are the user's own (a rule id, a label per data key): not checked against the reference.
OPEN_SECTIONS = frozenset({("rules", "rule")})


def _against_reference(name: str, doc: dict[str, Any], folder: Path, where: str) -> dict[str, Any]:
    """Check a province's own copy of a definitions file against the one that ships with the package.

    The shipped file is the schema and holds the defaults: a key of a section (``[text] titel``) or of a
    ``[[table]]`` entry that the shipped file does not know is one DefinitionsError naming the file and the
    key; a key the copy lacks takes the shipped value, so that a typo never silently becomes a default
    written in code, and an older copy keeps working when a release adds wording."""
    shipped = resource_dir("workbook")
    if folder.resolve() == shipped.resolve() or not (shipped / f"{name}.toml").exists():
        return doc
    reference = _load_toml(shipped / f"{name}.toml")
    merged = dict(doc)
    for section, ref in reference.items():
        mine = doc.get(section)
        if (name, section) in OPEN_SECTIONS or mine is None:
            if mine is None:
                merged[section] = ref
            continue
        if isinstance(ref, dict) and isinstance(mine, dict):
            unknown = sorted(set(mine) - set(ref))
            if unknown:
                raise DefinitionsError("bad_definitions", file=where,
                                       reason=_reason("definitions_unknown_key", key=f"{section}.{unknown[0]}"))
            merged[section] = {**ref, **mine}
        elif isinstance(ref, list) and ref and all(isinstance(e, dict) for e in ref) and isinstance(mine, list):
            known = set().union(*(set(e) for e in ref))
            for entry in mine:
                odd = sorted(set(entry) - known) if isinstance(entry, dict) else []
                if odd:
                    raise DefinitionsError("bad_definitions", file=where,
                                           reason=_reason("definitions_unknown_key", key=f"{section}.{odd[0]}"))
    return merged


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise DefinitionsError("bad_definitions", file=str(path), reason="không tìm thấy tệp") from None
    except tomllib.TOMLDecodeError as exc:
        raise DefinitionsError("bad_definitions", file=str(path), reason=str(exc)) from None


def _column(entry: dict[str, Any], where: str) -> Column:
    try:
        col = Column(
            key=entry["key"],
            header=entry["header"],
            type=entry.get("type", "text"),
            required=bool(entry.get("required", False)),
            unique=bool(entry.get("unique", False)),
            list=entry.get("list"),
            ref=entry.get("ref"),
            max_length=entry.get("max_length"),
            width=entry.get("width"),
            format=entry.get("format"),
            formula=entry.get("formula"),
            comment=entry.get("comment"),
            aliases=tuple(entry.get("aliases", ())),
            indicator=bool(entry.get("indicator", False)),
            personal=bool(entry.get("personal", False)),
        )
    except KeyError as exc:
        raise DefinitionsError("bad_definitions", file=where, reason=f"a column lacks '{exc.args[0]}'") from None
    if col.type not in COLUMN_TYPES:
        raise DefinitionsError("bad_definitions", file=where, reason=f"column {col.key}: unknown type {col.type}")
    return col


def _indicator_column(ind: Indicator) -> Column:
    return Column(
        key=ind.key,
        header=ind.short,
        type="int" if ind.numeric else "text",
        required=ind.numeric and ind.required,
        max_length=None if ind.numeric else 500,
        width=max(10.0, min(18.0, len(ind.short) * 0.9)),
        aliases=(ind.label,),
        indicator=True,
        comment=f"{ind.label} ({ind.unit})" if ind.unit else ind.label,
    )


def load_definitions(folder: str | Path | None = None) -> Definitions:
    """Read and check every definition file of ``folder`` (default: the packaged workbook/)."""
    folder = Path(folder) if folder else resource_dir("workbook")
    wb = _load_toml(folder / "workbook.toml")
    ind_doc = _load_toml(folder / "indicators.toml")
    where_wb = str(folder / "workbook.toml")
    where_ind = str(folder / "indicators.toml")

    indicators = []
    for entry in ind_doc.get("indicator", []):
        try:
            ind = Indicator(
                key=entry["key"],
                label=entry["label"],
                short=entry.get("short", entry["label"]),
                unit=entry.get("unit", ""),
                type=entry.get("type", "int"),
                agg=entry.get("agg", "sum"),
                help=entry.get("help", ""),
                required=bool(entry.get("required", True)),
            )
        except KeyError as exc:
            raise DefinitionsError("bad_definitions", file=where_ind, reason=f"an indicator lacks '{exc.args[0]}'") from None
        if ind.type not in ("int", "text") or ind.agg not in AGGREGATIONS:
            raise DefinitionsError("bad_definitions", file=where_ind, reason=f"indicator {ind.key}: type/agg")
        if not ind.key.isidentifier() or not ind.key.isascii():
            raise DefinitionsError("bad_definitions", file=where_ind, reason=f"indicator key {ind.key!r} must be ASCII letters, digits, _")
        indicators.append(ind)
    derived = tuple(
        Derived(
            key=e["key"],
            label=e["label"],
            kind=e["kind"],
            params={k: v for k, v in e.items() if k not in ("key", "label", "kind")},
        )
        for e in ind_doc.get("derived", [])
    )

    sheets: list[Sheet] = []
    by_key: dict[str, Sheet] = {}
    for entry in wb.get("sheet", []):
        columns: list[Column] = []
        for c in entry.get("columns", []):
            if c.get("key") == "indicators" and "header" not in c:
                columns.extend(_indicator_column(i) for i in indicators)
            else:
                columns.append(_column(c, where_wb))
        if "columns_from" in entry:
            columns.extend(by_key[entry["columns_from"]].columns)
        keys = [c.key for c in columns]
        if len(keys) != len(set(keys)):
            raise DefinitionsError("bad_definitions", file=where_wb, reason=f"sheet {entry['key']}: duplicate column key")
        sheet = Sheet(
            key=entry["key"],
            name=entry["name"],
            kind=entry.get("kind", "data"),
            table=entry.get("table"),
            columns=tuple(columns),
            protected=bool(entry.get("protected", False)),
            personal=bool(entry.get("personal", False)),
            fields=tuple(Field(**f) for f in entry.get("field", [])),
            optional=bool(entry.get("optional", False)),
        )
        sheets.append(sheet)
        by_key[sheet.key] = sheet

    lists_doc = _load_toml(folder / "lists.toml")
    lists = {
        key: ListDef(key=key, label=val.get("label", key), values=tuple(val["values"]))
        for key, val in lists_doc.items()
    }
    for sheet in sheets:
        for col in sheet.columns:
            if col.list and col.list not in lists:
                raise DefinitionsError("bad_definitions", file=where_wb, reason=f"column {sheet.key}.{col.key}: unknown list {col.list}")

    settings_doc = _load_toml(folder / "settings.toml")
    settings = tuple(Setting(**s) for s in settings_doc.get("setting", []))
    plan = _load_toml(folder / "plan.toml")

    return Definitions(
        folder=folder,
        version=str(wb["version"]),
        title=wb.get("title", ""),
        list_sheet=wb.get("list_sheet", "DanhMuc"),
        file_name=wb.get("file_name", "SoTheoDoi_{commune_slug}.xlsx"),
        formats=dict(wb.get("formats", {})),
        sheets=tuple(sheets),
        indicators=tuple(indicators),
        derived=derived,
        lists=lists,
        settings=settings,
        milestones=tuple(plan.get("milestone", [])),
        budget_lines=tuple(plan.get("budget", [])),
    )


@lru_cache(maxsize=8)
def _cached(folder: str) -> Definitions:
    return load_definitions(folder or None)


def get_definitions(folder: str | Path | None = None) -> Definitions:
    """The definitions in use: ``folder``, else $XLTOOLS_DEFINITIONS, else the packaged ones."""
    chosen = folder or os.environ.get("XLTOOLS_DEFINITIONS") or ""
    return _cached(str(chosen))


def report_defs(defs: Definitions) -> dict[str, Any]:
    """The content of workbook/report.toml (wording, layout, thresholds)."""
    return defs.extra("report")
