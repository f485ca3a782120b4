"""The upgrade plan: what brings a commune workbook built with older definitions to the current ones.

Pure: ``plan_upgrade`` compares the shape of a workbook (``WorkbookShape``: its sheets in order,
the headers of each table, its settings' keys, its dropdown lists, its template version; read by
``xltools.io.upgrade``) with the definitions and their history (``workbook/changes.toml``, typed
by ``change_log``), and returns the ``UpgradePlan``: the ordered steps that ``io.upgrade``
applies to the file.

- What the definitions have and the workbook lacks is ADDED at its defined place: a table
  column after the defined column before it (Báo cáo thôn and Lịch sử alike), a sheet after the
  defined sheet before it, a setting with its default, a list or the list values.
- What the change log says was RENAMED (``formerly``) is renamed when the workbook still has the
  old name and not the new one.
- What the change log says was REMOVED in a version newer than the workbook's is kept, marked
  as no longer used (its data stays).
- ``template_version`` is raised to the definitions' version.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import messages
from .definitions import Column, Definitions, Sheet, typed
from .errors import DefinitionsError
from .text import header_key

KINDS = frozenset({"column", "indicator", "sheet", "setting", "list"})


# ---------------------------------------------------------------------------- the change log
@dataclass(frozen=True)
class Change:
    """One entry of ``added``, ``renamed`` or ``removed`` in changes.toml."""

    kind: str
    key: str = ""
    sheet: str = ""
    formerly: str = ""
    name: str = ""


@dataclass(frozen=True)
class Release:
    """One ``[[version]]`` of changes.toml."""

    version: str
    date: str = ""
    summary: str = ""
    added: tuple[Change, ...] = ()
    renamed: tuple[Change, ...] = ()
    removed: tuple[Change, ...] = ()


def version_tuple(version: object) -> tuple[int, ...]:
    """``"1.10.2"`` -> (1, 10, 2); anything unreadable (a missing template version) is (0,)."""
    parts = re.findall(r"\d+", str(version or ""))
    return tuple(int(p) for p in parts[:3]) or (0,)


def change_log(defs: Definitions) -> tuple[Release, ...]:
    """The releases of changes.toml, newest first, typed and checked (DefinitionsError names the
    file and the entry)."""
    where = str(defs.folder / "changes.toml")
    releases = []
    for i, entry in enumerate(defs.extra("changes").get("version", [])):
        if not isinstance(entry, dict):
            raise DefinitionsError("bad_definitions", file=where,
                                   reason=messages.text("definitions_not_table", key=f"version[{i}]"))
        lists: dict[str, list[Change]] = {}
        for part in ("added", "renamed", "removed"):
            items = entry.get(part, [])
            if not isinstance(items, list):
                raise DefinitionsError("bad_definitions", file=where, reason=messages.text(
                    "definitions_wrong_type", key=f"version.{part}", kind=messages.text("definitions_kind_list")))
            changes = [typed(Change, item, where, f"version.{part}") for item in items]
            for change in changes:
                if change.kind not in KINDS:
                    raise DefinitionsError("bad_definitions", file=where, reason=messages.text(
                        "upgrade_bad_kind", kind=change.kind, kinds=", ".join(sorted(KINDS))))
            lists[part] = changes
        head = {k: v for k, v in entry.items() if k not in lists}
        releases.append(typed(Release, {**head, **lists}, where, "version"))
    return tuple(sorted(releases, key=lambda r: version_tuple(r.version), reverse=True))


# ---------------------------------------------------------------------------- the workbook's shape
@dataclass(frozen=True)
class WorkbookShape:
    """What an upgrade needs to know of a workbook (``io.upgrade.read_shape``)."""

    sheets: tuple[str, ...]  # sheet names in the workbook's order
    tables: Mapping[str, tuple[str, ...]]  # sheet name -> the headers of its table, left to right
    settings: tuple[str, ...]  # the keys of the Cấu hình rows
    lists: Mapping[str, tuple[str, ...]]  # list key (its defined name ds_<key>) -> values
    template_version: str | None = None


# ---------------------------------------------------------------------------- the plan
ACTIONS = ("rename_sheet", "add_sheet", "retire_sheet", "rename_column", "add_column", "retire_column",
           "add_list", "add_list_values", "retire_list", "rename_setting", "add_setting", "retire_setting",
           "version")


@dataclass(frozen=True)
class Step:
    """One change of the upgrade. ``sheet`` is the sheet's name in the workbook when the step is
    applied (after the renames before it); ``position`` is 0-based: the column's place in its table,
    the sheet's place among the sheets."""

    action: str
    sheet: str = ""
    sheet_key: str = ""
    key: str = ""
    name: str = ""
    old: str = ""
    position: int = 0
    values: tuple[Any, ...] = ()
    since: str = ""

    def describe(self, lang: str = "vi") -> str:
        return messages.text(f"upgrade_step_{self.action}", lang, sheet=self.sheet, key=self.key, name=self.name,
                             old=self.old, values=", ".join(map(str, self.values)), since=self.since,
                             count=len(self.values))


@dataclass
class UpgradePlan:
    found_version: str | None
    version: str
    steps: list[Step] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.steps

    def lines(self, lang: str = "vi") -> list[str]:
        return [s.describe(lang) for s in self.steps]

    def of(self, action: str) -> list[Step]:
        return [s for s in self.steps if s.action == action]

    def as_dict(self) -> dict[str, Any]:
        return {"from_version": self.found_version, "to_version": self.version,
                "steps": [{"action": s.action, "sheet": s.sheet, "key": s.key, "name": s.name, "old": s.old,
                           "position": s.position, "values": list(s.values), "text": s.describe()}
                          for s in self.steps]}


def _find(names: Sequence[str], wanted: str) -> str | None:
    key = header_key(wanted)
    return next((n for n in names if header_key(n) == key), None)


def _column_names(col: Column) -> tuple[str, ...]:
    return (col.header, *col.aliases, col.key)


def _has_column(headers: Sequence[str], col: Column) -> bool:
    keys = {header_key(h) for h in headers}
    return any(header_key(n) in keys for n in _column_names(col))


def _column_sheets(defs: Definitions, change: Change) -> list[Sheet]:
    """The table sheets a column or indicator change concerns (an indicator: every sheet holding
    the indicator columns, Báo cáo thôn and Lịch sử)."""
    if change.kind == "indicator":
        return [s for s in defs.table_sheets if any(c.indicator for c in s.columns)]
    try:
        return [defs.sheet(change.sheet)]
    except KeyError:
        return [s for s in defs.table_sheets if s.name == change.sheet]


def plan_upgrade(shape: WorkbookShape, defs: Definitions, releases: Sequence[Release] | None = None) -> UpgradePlan:
    """The steps that bring a workbook of ``shape`` to ``defs`` (see the module's docstring)."""
    releases = change_log(defs) if releases is None else releases
    found = shape.template_version
    plan = UpgradePlan(found, defs.version)
    steps = plan.steps
    newer = [r for r in releases if version_tuple(r.version) > version_tuple(found)]

    sheets = list(shape.sheets)
    tables = {name: list(headers) for name, headers in shape.tables.items()}

    # sheets renamed, then added at their defined place
    for release in releases:
        for ch in (c for c in release.renamed if c.kind == "sheet"):
            try:
                sheet = defs.sheet(ch.key)
            except KeyError:
                continue
            old = _find(sheets, ch.formerly)
            if old and not _find(sheets, sheet.name):
                steps.append(Step("rename_sheet", sheet=old, sheet_key=sheet.key, name=sheet.name, old=old,
                                  since=release.version))
                sheets[sheets.index(old)] = sheet.name
                if old in tables:
                    tables[sheet.name] = tables.pop(old)
    for i, sheet in enumerate(defs.sheets):
        if _find(sheets, sheet.name) or sheet.kind == "dashboard":
            continue
        before = [_find(sheets, s.name) for s in defs.sheets[:i]]
        present = [sheets.index(b) for b in before if b]
        position = max(present) + 1 if present else 0
        steps.append(Step("add_sheet", sheet=sheet.name, sheet_key=sheet.key, name=sheet.name, position=position))
        sheets.insert(position, sheet.name)
        if sheet.table:
            tables[sheet.name] = [c.header for c in sheet.columns]

    # columns renamed, added, removed
    for release in releases:
        for ch in (c for c in release.renamed if c.kind in ("column", "indicator")):
            for sheet in _column_sheets(defs, ch):
                name = _find(sheets, sheet.name)
                headers = tables.get(name or "")
                if headers is None:
                    continue
                try:
                    col = sheet.column(ch.key)
                except KeyError:
                    continue
                old = _find(headers, ch.formerly)
                if old and not _has_column(headers, col):
                    steps.append(Step("rename_column", sheet=name or "", sheet_key=sheet.key, key=col.key,
                                      name=col.header, old=old, since=release.version))
                    headers[headers.index(old)] = col.header
    for sheet in defs.table_sheets:
        name = _find(sheets, sheet.name)
        headers = tables.get(name or "")
        if name is None or headers is None:
            continue
        for i, col in enumerate(sheet.columns):
            if _has_column(headers, col):
                continue
            left = [j for j, h in enumerate(headers)
                    if any(header_key(h) in {header_key(n) for n in _column_names(c)} for c in sheet.columns[:i])]
            right = [j for j, h in enumerate(headers)
                     if any(header_key(h) in {header_key(n) for n in _column_names(c)} for c in sheet.columns[i + 1:])]
            position = max(left) + 1 if left else min(right) if right else len(headers)
            steps.append(Step("add_column", sheet=name, sheet_key=sheet.key, key=col.key, name=col.header,
                              position=position))
            headers.insert(position, col.header)
    for release in newer:
        for ch in release.removed:
            if ch.kind in ("column", "indicator"):
                for sheet in _column_sheets(defs, ch):
                    name = _find(sheets, sheet.name)
                    headers = tables.get(name or "") or []
                    old = _find(headers, ch.name or ch.key)
                    if name and old:
                        steps.append(Step("retire_column", sheet=name, sheet_key=sheet.key, key=ch.key, name=old,
                                          since=release.version))
            elif ch.kind == "sheet":
                old = _find(sheets, ch.name or ch.key)
                if old:
                    steps.append(Step("retire_sheet", sheet=old, name=old, since=release.version))

    # lists
    for key, lst in defs.lists.items():
        have = shape.lists.get(key)
        if have is None:
            steps.append(Step("add_list", key=key, name=lst.label, values=lst.values))
            continue
        missing = tuple(v for v in lst.values if header_key(v) not in {header_key(h) for h in have})
        if missing:
            steps.append(Step("add_list_values", key=key, name=lst.label, values=missing))

    # settings
    settings = list(shape.settings)
    settings_name = _find(sheets, defs.sheet("settings").name) or defs.sheet("settings").name
    for release in releases:
        for ch in (c for c in release.renamed if c.kind == "setting"):
            if ch.formerly in settings and ch.key not in settings:
                steps.append(Step("rename_setting", sheet=settings_name, key=ch.key, name=ch.key, old=ch.formerly,
                                  since=release.version))
                settings[settings.index(ch.formerly)] = ch.key
    for setting in defs.settings:
        if setting.key not in settings:
            steps.append(Step("add_setting", sheet=settings_name, key=setting.key, name=setting.label))
            settings.append(setting.key)
    for release in newer:
        for ch in (c for c in release.removed if c.kind == "setting"):
            if ch.key in settings and ch.key not in {s.key for s in defs.settings}:
                steps.append(Step("retire_setting", sheet=settings_name, key=ch.key, name=ch.key,
                                  since=release.version))
        for ch in (c for c in release.removed if c.kind == "list"):
            if ch.key in shape.lists and ch.key not in defs.lists:
                steps.append(Step("retire_list", key=ch.key, name=ch.name or ch.key, since=release.version))

    if (found or "").strip() != defs.version and "template_version" in shape.settings:
        steps.append(Step("version", sheet=settings_name, key="template_version", name=defs.version,
                          old=(found or "").strip()))
    return plan


def release_notes(plan: UpgradePlan, releases: Sequence[Release]) -> list[str]:
    """The summaries of the releases between the workbook's version and the current one."""
    low, high = version_tuple(plan.found_version), version_tuple(plan.version)
    return [f"{r.version}: {r.summary}" for r in reversed(releases)
            if low < version_tuple(r.version) <= high and r.summary]
