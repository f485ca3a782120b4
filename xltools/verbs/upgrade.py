"""``upgrade``: bring a commune workbook built with older definitions to the current ones.

Reads the workbook (a file of a newer toolkit, or not a commune workbook, is refused in one
line before anything is written), plans the upgrade in the core (``core.upgrade.plan_upgrade``:
the workbook's shape against the definitions and their history in ``workbook/changes.toml``)
and applies it with openpyxl (``io.upgrade.apply_plan``) in one atomic save, the previous file
kept in ``Sao_luu/``. ``dry_run`` returns the plan and writes nothing; an up-to-date workbook is
not written either. An .xlsm also gets the VBA of the installed xlwings and our modules of
``macros/`` (``io.vba_refresh``), its buttons and ``xlwings.conf`` sheet kept; VBA of the user's
own that cannot be kept refuses the upgrade before anything is written.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core import messages
from ..core.change import now
from ..core.definitions import Definitions, get_definitions
from ..core.upgrade import UpgradePlan, change_log, plan_upgrade, release_notes
from ..core.validation.structure import refuse_foreign
from ..io.files import BACKUP_DIR, backup, current_user, refuse_if_open
from ..io.reader import read_workbook
from ..io.sink import WorkbookEditor
from ..io.upgrade import apply_plan, read_shape
from ..io.vba_refresh import plan_refresh, refresh_vba


@dataclass
class UpgradeResult:
    path: Path
    plan: UpgradePlan
    written: bool = False
    dry_run: bool = False
    backup: Path | None = None
    releases: list[str] = field(default_factory=list)  # "1.1: …" for each version passed
    vba: list[str] = field(default_factory=list)  # the .xlsm's VBA refreshed: what changes

    def summary_lines(self) -> list[str]:
        plan = self.plan
        if plan.empty and not self.vba:
            return [messages.text("upgrade_up_to_date", file=self.path.name, version=plan.version)]
        same = (plan.found_version or "").strip() == plan.version  # a province's copy changed, same version
        key = (("upgrade_plan_head_same" if same else "upgrade_plan_head") if self.dry_run
               else ("upgrade_done_head_same" if same else "upgrade_done_head"))
        lines = [messages.text(key, file=self.path.name, old=plan.found_version or "?", new=plan.version,
                               count=len(plan.steps) + len(self.vba))]
        lines += [messages.text("upgrade_release", release=r) for r in self.releases]
        lines += [f"  - {line}" for line in [*plan.lines(), *self.vba]]
        if self.dry_run:
            lines.append(messages.text("upgrade_dry_run"))
        elif self.backup is not None:
            lines.append(messages.text("upgrade_backup", backup=self.backup))
        return lines

    def as_dict(self) -> dict[str, Any]:
        return {"file": str(self.path), "written": self.written, "dry_run": self.dry_run,
                "backup": str(self.backup) if self.backup else None, "releases": self.releases, "vba": self.vba,
                **self.plan.as_dict()}


def upgrade(path: str | Path, *, dry_run: bool = False, defs: Definitions | None = None) -> UpgradeResult:
    """Upgrade the commune workbook at ``path`` to the definitions in use (see the module)."""
    path = Path(path)
    defs = defs or get_definitions()
    book = read_workbook(path, defs, strict=False)  # unreadable, hostile or newer: one line, nothing written
    refuse_foreign(book)
    if not dry_run:
        refuse_if_open(path)  # open in Excel, read-only: refused before anything is planned
    editor = WorkbookEditor(path, defs)
    releases = change_log(defs)
    plan = plan_upgrade(read_shape(editor), defs, releases)
    # the buttons' VBA against the installed xlwings: planned (and refused) before anything is written
    vba = plan_refresh(path).changes if path.suffix.lower() == ".xlsm" else []
    result = UpgradeResult(path, plan, dry_run=dry_run, releases=release_notes(plan, releases), vba=vba)
    if dry_run or (plan.empty and not vba):
        return result
    before = set((path.parent / BACKUP_DIR).glob(f"{path.stem}_*{path.suffix}"))
    if not plan.empty:
        apply_plan(editor, plan, when=now(), user=current_user(), sha256=book.sha256 or None)
        editor.save()
    elif vba:
        backup(path)
    if vba:
        refresh_vba(path, path)
    made = sorted(set((path.parent / BACKUP_DIR).glob(f"{path.stem}_*{path.suffix}")) - before)
    result.written = True
    result.backup = made[-1] if made else None
    return result
