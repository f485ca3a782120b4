"""Structure family: missing sheets and columns (found by the reader), template version."""
from __future__ import annotations

import dataclasses

from ..book import CommuneBook
from ..errors import WorkbookError
from .core import RULES, Context, RuleRun, column_header, rule


@rule("structure-missing-sheet", "structure")
def missing_sheet(ctx: Context, run: RuleRun) -> None:
    """A data sheet of the definitions is not in the workbook."""
    for p in ctx.book.structure:
        if p.key == "missing_sheet":
            run.issue(None, None, None, None, sheet_name=p.sheet, header="")


@rule("structure-missing-column", "structure")
def missing_column(ctx: Context, run: RuleRun) -> None:
    """A required column (or the whole header row) of a table, or a column a rule needs, is missing."""
    reported = set()
    for p in ctx.book.structure:
        if p.key in ("missing_column", "missing_header_row"):
            run.issue(None, None, None, None, sheet_name=p.sheet, header=p.column or "")
            reported.add((p.sheet, p.column or ""))
    entries = ctx.config.get("rule", {})
    for spec in RULES.values():
        entry = entries.get(spec.id) if isinstance(entries, dict) else None
        if not isinstance(entry, dict) or entry.get("enabled", True) is False:
            continue
        for sheet_key, column_key in ctx.lacks(spec):
            sheet = ctx.sheet(sheet_key)
            # a missing sheet or header row is already reported
            if not ctx.book.letters.get(sheet_key) or (sheet.name, "") in reported:
                continue
            header = column_header(sheet, column_key)
            if header and (sheet.name, header) not in reported:
                run.issue(None, None, None, None, sheet_name=sheet.name, header=header)
                reported.add((sheet.name, header))


@rule("structure-upgrade-needed", "structure")
def upgrade_needed(ctx: Context, run: RuleRun) -> None:
    """The workbook lacks indicator columns added to the definitions after it was built: they read
    as not reported (empty) in every row. One warning for the whole book, saying to upgrade it."""
    found = ctx.book.outdated
    if not found:
        return
    headers = ", ".join(f"“{h}”" for h in dict.fromkeys(p.column or "" for p in found))
    sheets = ", ".join(f"“{s}”" for s in dict.fromkeys(p.sheet for p in found))
    run.issue(None, None, None, None, sheet_name=found[0].sheet, header="", columns=headers, sheets=sheets,
              count=str(len({p.column for p in found})), file=ctx.book.path.name)


@rule("structure-version", "structure")
def version(ctx: Context, run: RuleRun) -> None:
    """The workbook's template version differs from the definitions' version."""
    found = ctx.book.raw_settings.get("template_version")
    if found is None or not ctx.has_sheet("settings"):
        return
    found = str(found).strip()
    expected = ctx.defs.version
    if found == expected:
        return
    row = ctx.book.settings_rows.get("template_version")
    run.issue("settings", row, "value", found, found=found, expected=expected)
    if found.split(".")[0] != expected.split(".")[0]:  # another major version: unusable, always an error
        run.issues[-1] = dataclasses.replace(run.issues[-1], severity="error")


def major_mismatch(found: object, expected: str) -> bool:
    """True when the template's major version is not the toolkit's (the file is not readable as ours)."""
    if found is None:
        return False
    return str(found).strip().split(".")[0] != expected.split(".")[0]


def _major_minor(version: object) -> tuple[int, int] | None:
    parts = str(version).strip().split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return None


def newer_template(found: object, expected: str) -> bool:
    """True when the template version ``found`` has a higher major or minor than ``expected``
    (the workbook was made by a newer toolkit); an unreadable version is not newer."""
    if found is None:
        return False
    mine, theirs = _major_minor(expected), _major_minor(found)
    return mine is not None and theirs is not None and theirs > mine


def refuse_newer(found: object, defs_version: str, file: str, installed: str) -> None:
    """Raise WorkbookError when the workbook was made by a newer toolkit: a downgrade is refused
    before anything is written, in one line saying which xltools to install."""
    if newer_template(found, defs_version):
        raise WorkbookError("workbook_newer_template", file=file, found=str(found).strip(),
                            expected=defs_version, installed=installed)


def refuse_foreign(book: CommuneBook) -> None:
    """Raise WorkbookError (exit 2) when the file is not a commune workbook of this major version."""
    defs = book.defs
    missing = [s.name for s in defs.table_sheets if s.key not in book.letters]
    if len(missing) * 2 > len(defs.table_sheets):
        raise WorkbookError("validate_not_commune", file=book.path.name, major=defs.major,
                            sheets=", ".join(f"“{m}”" for m in missing))
    found = book.raw_settings.get("template_version")
    if major_mismatch(found, defs.version):
        found = str(found).strip()
        raise WorkbookError("validate_wrong_version", file=book.path.name, found=found, expected=defs.version,
                            found_major=found.split(".")[0])


@rule("structure-row-outside-table", "structure")
def row_outside_table(ctx: Context, run: RuleRun) -> None:
    """A row typed below a table (outside its Excel Table) is read as a row of the table."""
    for sheet in ctx.book.defs.table_sheets:
        rows = ctx.book.outside_rows(sheet.key)
        if not rows:
            continue
        first = sheet.columns[0].key
        for row in rows:
            run.issue(sheet.key, row, first, None, first_row=str(rows[0]), last_row=str(rows[-1]))
