"""``xltools demo``: the monthly loop on built-in sample data, with no input needed.

Each step adds files to the demo folder and a line to the summary. Steps are
small functions so that each verb adds its own.
"""
from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .core.definitions import Definitions, get_definitions
from .core.messages import text
from .verbs.new import default_file_name, new, sample_commune

Echo = Callable[[str], None]


@dataclass
class DemoResult:
    folder: Path
    workbook: Path
    files: dict[str, Path] = field(default_factory=dict)  # label -> path
    lines: list[str] = field(default_factory=list)  # summary lines, Vietnamese
    rollup_args: dict = field(default_factory=dict)  # how the level above rolled up (for the answer)


def _step_workbook(result: DemoResult, defs: Definitions, echo: Echo) -> None:
    settings, tables = sample_commune(defs=defs)
    plant_mistakes(tables, defs)
    if result.workbook.exists():
        result.workbook.unlink()
    new(result.workbook, settings, tables, defs=defs)
    n_reports = len(tables["reports"])
    n_villages = int(tables["villages"]["active"].fillna(True).astype(bool).sum())
    result.files[text("demo_file_workbook")] = result.workbook
    years = sorted({str(p)[:4] for p in tables["reports"]["period"]})
    result.lines.append(text("demo_workbook", commune=settings["commune_name"], villages=n_villages,
                             reports=n_reports, years=", ".join(years)))
    echo(result.lines[-1])


def _step_forms_import(result: DemoResult, defs: Definitions, echo: Echo) -> None:
    """Forms for the current month, filled like village heads would, imported twice.

    The month's reports are taken out of the demo workbook first (they "have not
    come in yet") and typed into the forms, so later steps see the same numbers.
    One form carries "48 người" in a count (rejected); its village sends a corrected file and
    another village resubmits a correction (replaced).
    """
    from .core.change import WorkbookChange, table_change
    from .core.frames import records
    from .io.formreader import read_form
    from .io.forms import fill_form
    from .io.reader import read_workbook
    from .io.sink import apply_change
    from .verbs.forms import make_forms
    from .verbs.importing import import_reports

    book = read_workbook(result.workbook, defs, sheets=["reports"])
    period = str(book.settings.get("current_period") or "")
    reports = book.tables["reports"]
    sent = {r["village_code"]: r for r in records(reports[reports["period"] == period])}
    month = reports[reports["period"] == period]
    blank = {k: None for k in reports.columns if k != "_row"}  # the month's rows emptied in place
    apply_change(result.workbook, WorkbookChange(tables=[
        table_change(book, "reports", updates={int(r): dict(blank) for r in month["_row"]})]), defs)
    inbox = result.folder / str(book.settings.get("inbox_dir") or "Phieu_nhan")
    if inbox.exists():
        for old in inbox.glob("*.xlsx"):
            old.unlink()
    forms = make_forms(result.workbook, period, inbox, defs=defs)
    village = {f: read_form(f, defs).meta.get("village_code") for f in forms}  # from the form, not its name
    returned = [f for f in forms if village[f] in sent]
    for form in [f for f in forms if f not in returned]:
        form.unlink()  # that village has not sent its form back
    for form in returned:
        fill_form(form, sent[village[form]])
    bad, resent = returned[min(2, len(returned) - 1)], returned[0]
    bad_values = dict(sent[village[bad]])
    fill_form(bad, {**bad_values, "concentrated_attendance": f"{bad_values['concentrated_attendance']} người"})
    result.files[text("demo_file_forms", period=period)] = inbox
    result.lines.append(text("demo_forms_made", n=len(forms), period=period, folder=inbox.name))
    echo(result.lines[-1])
    rounds = [import_reports(result.workbook, [inbox], defs=defs)]
    fixed = fill_form(bad, bad_values, inbox / bad.name.replace(".xlsx", " (2).xlsx"))
    corrected = dict(sent[village[resent]])
    corrected["individual_contacts"] = (corrected.get("individual_contacts") or 0) + 2
    again = fill_form(resent, corrected, inbox / resent.name.replace(".xlsx", " (2).xlsx"))
    rounds.append(import_reports(result.workbook, [fixed, again], defs=defs))
    for n, summary in enumerate(rounds, start=1):
        result.lines.append(text("demo_import_round", n=n, counts=summary.counts_text(defs)))
        echo(result.lines[-1])
        for f in summary.rejected + summary.replaced:
            echo(f"    {f.file}: {f.detail()}")


def plant_mistakes(tables: dict, defs: Definitions) -> None:
    """A few mistakes real communes make, for validation to find (the samples/ CSVs stay clean).

    Village 04's team loses its leader, village 05 reports more people reached
    than known in 2023-10, village 06 reports 2023-11 a week late and village 07
    never sends 2023-11 (the current month's reports are re-imported by forms).
    """
    import datetime as dt

    rules = defs.extra("rules").get("rule", {})
    leader = rules["plan-team-leader"]["params"]["leader_role"]
    teams = tables["teams"]
    member = defs.lists["team_roles"].values[-1]
    teams.loc[(teams["village_code"] == "04") & (teams["role"] == leader), "role"] = member
    reports = tables["reports"]
    params = rules["plan-reached-le-known"]["params"]
    row = (reports["village_code"] == "05") & (reports["period"] == "2023-10")
    reports.loc[row, params["known"]] = 1
    reports.loc[row, params["reached"]] = 3
    row = (reports["village_code"] == "06") & (reports["period"] == "2023-11")
    reports.loc[row, "report_date"] = dt.date(2023, 11, 25)
    missing = (reports["village_code"] == "07") & (reports["period"] == "2023-11")
    tables["reports"] = reports[~missing].reset_index(drop=True)


def _step_validate(result: DemoResult, defs: Definitions, echo: Echo) -> None:
    """Validate the sample workbook, write the Kiểm tra sheet and highlights, print the summary."""
    from .verbs.validate import validate

    report = validate(result.workbook, write=True, defs=defs)
    sheet = defs.sheet("checks").name
    result.lines.append(text("validate_demo", errors=report.errors, warnings=report.warnings,
                             infos=report.infos, sheet=sheet))
    echo(result.lines[-1])
    for issue in report.issues:
        if issue.severity == "error":
            echo(f"    {issue.sheet} {issue.cell}: {issue.message}".rstrip())


# ---------------------------------------------------------------- aggregate, export, rollup
DEMO_PERIODS = ("2023-12", "2023-Q4")  # a month and a quarter of the sample year
# The dates the other sample communes wrote on their December report (the report_date setting):
# the level above judges timeliness by them (deadline 20/01/2024), so two are on time and one
# is late; the first commune's report carries the day the demo runs, late too.
DEMO_REPORT_DATES = ("2024-01-12", "2024-01-18", "2024-01-25")
ROLLUP_DIR = "Tong_hop"  # the upper level's folder in the demo
ROLLUP_INBOX = "Bao_cao_nhan"  # where the level above saves the submissions it receives
FEEDBACK_DIR = "Phan_hoi"  # where it writes its answers
RETURNED_VILLAGE = "03"  # the village whose figure the level above questions


def _export_forced_if_needed(workbook: Path, period: str, out_dir: Path, defs: Definitions) -> tuple[Path, int]:
    """Export; when the demo's planted mistakes block it, export with force (and say so)."""
    from .verbs.export import ExportRefused, export

    try:
        return export(workbook, period, out_dir, docx=True, defs=defs), 0
    except ExportRefused as err:
        return export(workbook, period, out_dir, force=True, docx=True, defs=defs), int(err.params.get("count", 0))


def _step_export(result: DemoResult, defs: Definitions, echo: Echo) -> None:
    """Fill Tổng hợp for the quarter, then export the month's and the quarter's submissions
    (each with its Word draft)."""
    from .io.report_docx import docx_name
    from .verbs.aggregate import aggregate

    out_dir = result.folder / str(defs.setting("outbox_dir").default)
    commune = _sample_settings()["commune_name"]
    aggregate(result.workbook, DEMO_PERIODS[-1], write=True, defs=defs)
    result.lines.append(text("demo_aggregated", period=DEMO_PERIODS[-1], sheet=defs.sheet("summary").name))
    echo(result.lines[-1])
    for period in DEMO_PERIODS:
        path, errors = _export_forced_if_needed(result.workbook, period, out_dir, defs)
        result.files[text("demo_file_export", commune=commune, period=period)] = path
        result.files[text("demo_file_docx", commune=commune, period=period)] = docx_name(path)
        key = "demo_export_forced" if errors else "demo_export"
        result.lines.append(text(key, period=period, commune=commune, file=path.name, count=errors))
        echo(result.lines[-1])


def _sample_settings() -> dict:
    from .core.resources import resource_dir
    from .verbs.new import load_settings_file

    return load_settings_file(resource_dir("samples") / "commune.toml")


def _step_rollup(result: DemoResult, defs: Definitions, echo: Echo) -> None:
    from .core.sample import generated_communes, sample_commune_specs
    from .core.submission import submission_name
    from .verbs.rollup import rollup

    period = DEMO_PERIODS[0]
    out_dir = result.folder / str(defs.setting("outbox_dir").default)
    common = sample_commune_specs().get("common", {})
    first = _sample_settings()
    expected = [(str(first["commune_code"]), str(first["commune_name"]))]
    files = [out_dir / submission_name(str(first["commune_code"]), period, defs)]
    names = []
    for i, (settings, tables) in enumerate(generated_communes(defs=defs)):
        if i < len(DEMO_REPORT_DATES):
            settings = {**settings, "report_date": dt.date.fromisoformat(DEMO_REPORT_DATES[i])}
        workbook = result.folder / default_file_name(settings, defs)
        new(workbook, settings, tables, overwrite=True, defs=defs)
        result.files[text("demo_file_commune", commune=settings["commune_name"])] = workbook
        path, _ = _export_forced_if_needed(workbook, period, out_dir, defs)
        result.files[text("demo_file_export", commune=settings["commune_name"], period=period)] = path
        files.append(path)
        names.append(settings["commune_name"])
        expected.append((str(settings["commune_code"]), str(settings["commune_name"])))
    result.lines.append(text("demo_communes", n=len(names), names=", ".join(names), period=period))
    echo(result.lines[-1])
    unit = str(common.get("upper_level_name", ""))
    inbox = result.folder / ROLLUP_DIR / ROLLUP_INBOX  # the attachments, saved as they arrive
    inbox.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy2(f, inbox / f.name)
    result.rollup_args = {"paths": [inbox], "period": period, "out": result.folder / ROLLUP_DIR, "unit_name": unit,
                          "unit_code": str(common.get("upper_unit_code") or "") or None, "expected": expected,
                          "defs": defs, "docx": True}
    rolled = rollup(**result.rollup_args)
    result.files[text("demo_file_rollup", unit=unit, period=period)] = rolled.path
    if rolled.docx is not None:
        result.files[text("demo_file_rollup_docx", unit=unit, period=period)] = rolled.docx
    result.lines.append(text("demo_rollup", n=len(rolled.accepted) - len(rolled.superseded), unit=unit, period=period,
                             file=rolled.path.name))
    echo(result.lines[-1])


def _step_feedback(result: DemoResult, defs: Definitions, echo: Echo) -> None:
    """The level above answers: the first commune is returned with a reason, corrects one
    village's figure, exports again; the resubmission is rolled up (what changed), accepted, and
    the accepted month is locked (a changed form is refused)."""
    from .core.frames import records
    from .core.submission import submission_name
    from .io.formreader import read_form
    from .io.forms import fill_form
    from .io.reader import read_workbook
    from .io.review import feedback_name
    from .verbs.feedback import feedback
    from .verbs.importing import import_reports
    from .verbs.rollup import rollup

    args = result.rollup_args
    period = str(args["period"])
    code = str(_sample_settings()["commune_code"])
    answers = Path(args["out"]) / FEEDBACK_DIR
    rolled = Path(args["out"]) / submission_name(str(args["unit_code"]), period, defs)
    reason = text("demo_return_reason", village=RETURNED_VILLAGE)
    sent = feedback(rolled, answers, returns={code: reason}, defs=defs)
    result.lines.append(text("demo_feedback", n=len(sent.written), folder=answers.name,
                             returned=sum(d.decision == "returned" for _, d in sent.written)))
    echo(result.lines[-1])
    result.files[text("demo_file_feedback", unit=args["unit_name"])] = answers
    mine = answers / feedback_name(code, period, defs)
    _receive(result, mine, defs, echo)

    # the commune corrects the village's figure with a corrected form, exports again
    book = read_workbook(result.workbook, defs, sheets=["reports"])
    reports = book.tables["reports"]
    row = records(reports[(reports["period"] == period) & (reports["village_code"] == RETURNED_VILLAGE)])[0]
    inbox = result.folder / str(book.settings.get("inbox_dir") or "Phieu_nhan")
    form = min((f for f in inbox.glob("*.xlsx")  # the village's form as made (by what it says), not a copy
                if read_form(f, defs).meta.get("village_code") == RETURNED_VILLAGE), key=lambda f: (len(f.name), f.name))
    fixed = dict(row, concentrated_attendance=max(0, int(row["concentrated_attendance"] or 0) - 5))
    corrected = fill_form(form, fixed, inbox / form.name.replace(".xlsx", " (sửa theo cấp trên).xlsx"))
    imported = import_reports(result.workbook, [corrected], defs=defs)
    result.lines.append(text("demo_corrected", village=RETURNED_VILLAGE, counts=imported.counts_text(defs)))
    echo(result.lines[-1])
    out_dir = result.folder / str(defs.setting("outbox_dir").default)
    again, _ = _export_forced_if_needed(result.workbook, period, out_dir, defs)
    resent = Path(args["paths"][0]) / again.name.replace(".xlsx", " (2).xlsx")
    shutil.copy2(again, resent)  # saved beside the first one, as a second attachment
    second = rollup(**args)
    changed = [c for c in second.review.changes if c.part_code]
    result.lines.append(text("demo_resubmitted", file=resent.name, n=len(changed), changes="; ".join(
        f"{c.part_name}: {defs.indicator(c.key).label} {c.old} → {c.new}" for c in changed[:3])))
    echo(result.lines[-1])
    sent = feedback(second.path, answers, defs=defs)
    _receive(result, mine, defs, echo)

    # the month is locked now: another change of it is refused until it is reopened
    late = fill_form(form, dict(fixed, individual_contacts=int(fixed.get("individual_contacts") or 0) + 1),
                     inbox / form.name.replace(".xlsx", " (gửi muộn).xlsx"))
    refused = import_reports(result.workbook, [late], defs=defs)
    result.lines.append(text("demo_locked", period=period, file=late.name,
                             reason="; ".join(refused.rejected[0].reasons).rstrip(".") if refused.rejected else "-"))
    echo(result.lines[-1])
    late.unlink()  # the inbox keeps what was imported
    corrected.unlink()


def _receive(result: DemoResult, file: Path, defs: Definitions, echo: Echo) -> None:
    from .core.approval import decision_word
    from .verbs.receive import receive

    got = receive(result.workbook, [file], defs=defs).files[0]
    reason = got.reason or got.info.get("reason", "")
    result.lines.append(text("demo_received", file=file.name, period=got.period,
                             decision=decision_word(defs, got.decision), reason=f": {reason}" if reason else ""))
    echo(result.lines[-1])


STEPS: list[Callable[[DemoResult, Definitions, Echo], None]] = [
    _step_workbook, _step_forms_import, _step_validate, _step_export, _step_rollup, _step_feedback,
]


def run_demo(folder: str | Path = "xltools-demo", echo: Echo = lambda _: None, defs: Definitions | None = None) -> DemoResult:
    """Build the sample commune and run every step of the loop in ``folder``."""
    defs = defs or get_definitions()
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    result = DemoResult(folder=folder, workbook=folder / default_file_name(_sample_settings(), defs))
    for step in STEPS:
        step(result, defs, echo)
    return result
