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
from dataclasses import dataclass, field
from functools import lru_cache
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
        for ind in self.indicators:
            if ind.key == key:
                return ind
        raise KeyError(key)

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
        """The parsed content of another TOML file of the folder (rules, report, forms …)."""
        if name not in self.raw:
            path = self.folder / f"{name}.toml"
            self.raw[name] = _load_toml(path) if path.exists() else {}
        return self.raw[name]

    @property
    def major(self) -> str:
        return self.version.split(".")[0]


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
        required=ind.numeric,
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
