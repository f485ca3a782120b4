"""``rollup``: the submissions of many units combined into one submission one level up.

Reads each file's Số liệu and Thông tin (python-calamine), verifies the checksum, the
period and the definitions version, keeps the newest file per unit, and writes the same
kind of workbook (Báo cáo, Biểu đồ, Số liệu, Thông tin) for the upper unit; its Số liệu
can be rolled up again (commune → district → province).
"""
from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any

from ..core.aggregation import Aggregate
from ..core.consolidation import UnitData, combine, read_expected_rows
from ..core.definitions import Definitions, get_definitions, report_defs
from ..core.errors import InputError, WorkbookError, XltoolsError
from ..core.messages import Reason, codes, fill
from ..core.periods import Period
from ..core.prose import timeliness_basis
from ..core.report_body import report_body
from ..core.situation import UnitSituation, body_lines, summed, unit_situation, upper_situation, with_lines
from ..core.submission import info_rows, report_header, submission_name
from ..core.text import slug
from ..core.upstairs import RETURNED, Review, UnitFigures, check_units, clerk_decisions, diff_units, propose
from ..io.report_docx import build_report_docx, docx_name, write_report_docx
from ..io.review import review_words as review_words_of
from ..io.review import write_review_sheets
from ..io.situation_sheet import SituationSheets
from ..io.submission import annex_plan, build_submission, write_submission
from ..io.submission_reader import Submission, read_submission

Progress = Callable[[int, int], None]
SUBMISSION_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")  # read, or rejected saying why


@dataclass
class RollupResult:
    """What a rollup wrote and why: accepted, rejected (with reasons), superseded, missing, late."""

    path: Path
    aggregate: Aggregate
    accepted: list[Path] = field(default_factory=list)
    rejected: list[tuple[Path, str]] = field(default_factory=list)  # (file, reason: a messages.Reason)
    superseded: list[tuple[Path, Path]] = field(default_factory=list)  # (older file, newer file kept)
    missing: list[str] = field(default_factory=list)
    late: list[str] = field(default_factory=list)
    empty: list[tuple[str, str]] = field(default_factory=list)  # (unit, file): completeness 0
    defs: Definitions | None = field(default=None, repr=False)
    units_situation: list[UnitSituation] = field(default_factory=list)  # what each unit reported (Tình hình)
    docx: Path | None = None  # the Word draft of the rollup's report, when asked for
    review: Review = field(default_factory=Review)  # findings, changes of resubmissions, decisions

    def as_dict(self) -> dict[str, Any]:
        """The result for ``rollup --format json``: files, reasons with their codes, units missing or late."""
        return {
            "file": str(self.path),
            "docx": str(self.docx) if self.docx else None,
            "accepted": [p.name for p in self.accepted],
            "rejected": [{"file": p.name, "reason": str(r), "reason_code": codes([r])[0] if codes([r]) else None}
                         for p, r in self.rejected],
            "superseded": [{"file": old.name, "by": new.name} for old, new in self.superseded],
            "missing": list(self.missing),
            "late": list(self.late),
            "empty": [{"unit": u, "file": f} for u, f in self.empty],
            "deadline": self.aggregate.facts.get("deadline"),  # timeliness: the date on each report
            "judged_by_file_time": self.aggregate.rollup.items("by_file"),  # ... or, lacking one, file time
            "situation": {"units": [u.as_dict() for u in self.units_situation],  # issue 12 item 11
                          "totals": summed(self.units_situation, self.defs or get_definitions())},
            **self.review.as_dict(),  # issue 13: the same rules upstairs, resubmission diffs, decisions
        }

    def summary_lines(self) -> list[str]:
        """Vietnamese summary for the command line."""
        from ..core.messages import text

        lines = [text("rollup_written", accepted=len(self.accepted) - len(self.superseded), rejected=len(self.rejected),
                      superseded=len(self.superseded), file=self.path)]
        for path, reason in self.rejected:
            lines.append(f"  ✗ {path.name}: {reason}")
        for old, new in self.superseded:
            lines.append(f"  ↷ {old.name} → {new.name}")  # as the report lists them
        words = report_defs(self.defs or get_definitions()).get("text", {})
        if self.missing:
            lines.append("  " + fill(words.get("general_missing", "{names}"), names="; ".join(self.missing)))
        if self.late:
            lines.append("  " + fill(words.get("general_late", "{names}"), names="; ".join(self.late)))
        basis = timeliness_basis(self.aggregate, report_defs(self.defs or get_definitions()))
        if basis and (self.late or self.aggregate.rollup.items("by_file")):  # which date "late" means
            lines.append("  " + basis)
        for unit, file in self.empty:  # accepted, but it carries no village report at all
            lines.append("  " + text("rollup_empty_submission", unit=unit, file=file))
        errors = sum(f.severity == "error" for f in self.review.findings)
        if self.review.findings:
            lines.append("  " + text("rollup_findings", errors=errors, warnings=len(self.review.findings) - errors))
        returned = [d.unit_name or d.unit_code for d in self.review.decisions if d.decision == RETURNED]
        if returned:
            lines.append("  " + text("rollup_returned", names="; ".join(returned)))
        return lines


def submission_files(paths: Iterable[str | Path]) -> list[Path]:
    """Files given, and the workbook files of folders given (not recursive; lock and hidden files
    skipped). A folder's .xls, .ods and .xlsm files are listed too, so that a submission saved in
    another format is rejected with the reason ("lưu lại dạng .xlsx") instead of being missed."""
    out: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():  # a mistyped argument stops the rollup, naming it
            raise WorkbookError("not_found", file=str(p))
        if p.is_dir():
            out.extend(sorted(f for f in p.iterdir() if f.suffix.lower() in SUBMISSION_SUFFIXES
                              and not f.name.startswith(("~$", ".")) and f.is_file()))
        else:
            out.append(p)
    seen: set[Path] = set()
    unique = []
    for f in out:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def read_expected(path: str | Path, defs: Definitions) -> list[tuple[str, str]]:
    """The expected units from a CSV/TXT file: code, then name (optional), one per line."""
    path = Path(path)
    roll = report_defs(defs).get("rollup", {})
    if not path.is_file():
        raise WorkbookError("not_found", file=str(path))
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError("rollup_expected_file", file=str(path), reason=exc.strerror or str(exc)) from None
    except UnicodeDecodeError:
        raise InputError("rollup_expected_file", file=str(path), reason=roll.get("expected_not_utf8", "UTF-8")) from None
    delimiter = ";" if raw.count(";") > raw.count(",") else ","
    rows = list(csv.reader(raw.splitlines(), delimiter=delimiter))
    return read_expected_rows(rows, roll.get("expected_headers", []))


def _unit(sub: Submission) -> UnitData:
    return UnitData(code=sub.unit_code, name=sub.unit_name, values=sub.totals(), agg=sub.agg_kinds(),
                    created_at=sub.created_at, report_date=sub.report_date, file=str(sub.path))


# Below this many bytes of submissions (about 64 communes' files, or ten rollups of 100 communes),
# starting worker processes costs more than it saves.
POOL_MIN_BYTES = 2_500_000


def _total_bytes(files: Sequence[Path]) -> int:
    total = 0
    for f in files:
        with contextlib.suppress(OSError):  # a file gone: its reader says so, in order
            total += f.stat().st_size
        if total >= POOL_MIN_BYTES:
            break
    return total


def _read_one(path: Path, folder: str) -> Submission | XltoolsError:
    """One submission read and verified in a worker process; its refusal returned, not raised."""
    try:
        return read_submission(path, get_definitions(folder))
    except XltoolsError as err:
        return err


def read_all(files: Sequence[Path], defs: Definitions, progress: Progress | None = None,
             workers: int | None = None) -> list[Submission | XltoolsError]:
    """Every file read and verified, in order: a refused file gives its XltoolsError. A big batch
    (a province's or the country's month, by its bytes: a province's rollup of 100 communes
    weighs about six communes' files) is read by a pool of processes, one per core; where no
    pool can start, in this process."""
    count = workers if workers is not None else (os.cpu_count() or 1)
    if count > 1 and (workers is not None or _total_bytes(files) >= POOL_MIN_BYTES):
        try:
            out: list[Submission | XltoolsError] = []
            with ProcessPoolExecutor(max_workers=min(count, 8, len(files))) as pool:
                chunk = max(1, min(32, len(files) // (4 * count)))
                for i, read in enumerate(pool.map(_read_one, files, repeat(str(defs.folder)), chunksize=chunk), 1):
                    out.append(read)
                    if progress:
                        progress(i, len(files))
            return out
        except (OSError, BrokenProcessPool):  # no processes here (a locked-down PC): read them in turn
            pass
    out = []
    for i, f in enumerate(files, start=1):
        try:
            out.append(read_submission(f, defs))
        except XltoolsError as err:
            out.append(err)
        if progress:
            progress(i, len(files))
    return out


def rollup(
    paths: Sequence[str | Path] | str | Path,
    period: str | Period,
    out: str | Path,
    *,
    unit_name: str,
    unit_code: str | None = None,
    expected: str | Path | Sequence[tuple[str, str]] | None = None,
    defs: Definitions | None = None,
    progress: Progress | None = None,
    settings: Mapping[str, Any] | None = None,
    docx: bool = False,
    workers: int | None = None,
    returns: Mapping[str, str] | None = None,
    accepts: Iterable[str] | None = None,
    decided_by: str = "",
) -> RollupResult:
    """Roll the submissions in ``paths`` (files or folders) up into one submission at ``out``.

    ``out`` is a file (.xlsx) or a folder (then ``BC138_<unit code>_<period>.xlsx``).
    ``expected`` is a CSV of unit codes (and names) or a list of (code, name).
    ``settings`` may give the report header (parent_body, issuing_body, place_name,
    doc_code, doc_next_number, bcd_head, model_name, upper_bcd_name).
    ``progress(done, total)`` is called after each file. ``docx`` also writes the report as a
    Word draft beside it (the same body as the Báo cáo sheet), as ``export --docx`` does.
    ``workers``: processes reading the files (default: one per core for a big batch; 1: none).
    ``returns`` (unit code -> reason) and ``accepts`` (unit codes) are the clerk's decisions, written
    in the Quyết định sheet; a unit not named is proposed returned when its figures have errors.
    ``decided_by``: who decides (default: the head of the committee of ``settings``).
    """
    defs = defs or get_definitions()
    period = Period.parse(period)
    unit_code = unit_code or slug(unit_name)
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out = Path(out)
    target = out if out.suffix.lower() == ".xlsx" else out / submission_name(unit_code, period, defs)
    own = target.resolve()
    files = [f for f in submission_files(paths) if f.resolve() != own]
    if not files:
        raise InputError("rollup_no_files", paths=", ".join(map(str, paths)))
    expected_list = read_expected(expected, defs) if isinstance(expected, (str, Path)) else (list(expected) if expected else None)

    accepted: list[Submission] = []
    history: list[UnitFigures] = []  # earlier periods: the units' own submissions, or an earlier rollup
    rejected: list[tuple[Path, str]] = []
    rejected_vi: list[str] = []  # the printed report is Vietnamese only; each message names its file
    for f, read in zip(files, read_all(files, defs, progress, workers)):
        try:
            if isinstance(read, XltoolsError):
                raise read
            sub = read
            if sub.period < str(period):
                history.extend(_history(sub, str(unit_code)))
            if unit_code and sub.unit_code == str(unit_code):  # an earlier rollup of this very unit
                raise WorkbookError("rollup_own_output", file=f.name, unit=unit_name)
            if sub.period != str(period):
                raise WorkbookError("submission_period", file=f.name, found=sub.period, wanted=str(period))
            found = sub.info.get("definitions_version", "")
            if found.split(".")[0] != defs.major:
                raise WorkbookError("submission_version", file=f.name, found=found or "?", wanted=defs.version)
            accepted.append(sub)
        except XltoolsError as err:
            rejected.append((f, Reason.of(err)))
            rejected_vi.append(err.vi.rstrip("."))
    if not accepted:
        raise InputError("rollup_nothing_accepted", period=str(period), reasons="; ".join(rejected_vi[:5]))

    agg = combine([_unit(s) for s in accepted], period, unit_code, unit_name, defs, expected=expected_list)
    superseded = [(Path(old.file), Path(new.file)) for old, new in agg.rollup.superseded_pairs]
    agg.rollup.rejected = rejected_vi

    roll = report_defs(defs).get("rollup", {})
    given = {k: v for k, v in (settings or {}).items() if v not in (None, "")}
    place = unit_name  # "huyện A Lưới" -> "A Lưới": the date line names the place, not the unit
    for word in sorted(roll.get("unit_words", []), key=len, reverse=True):
        if place.casefold().startswith(word.casefold() + " "):
            place = place[len(word) + 1:].strip()
            break
    defaults = {
        "parent_body": fill(roll.get("parent_body", ""), unit_name=unit_name, unit_name_upper=unit_name.upper()),
        "issuing_body": roll.get("issuing_body", ""),
        "doc_code": roll.get("doc_code", ""),
        "place_name": fill(roll.get("place_name", ""), unit_name=unit_name, place=place),
        "model_name": defs.setting("model_name").default,
    }
    header = report_header({**defaults, **given}, defs, period=period)
    if given.get("recipients"):
        header["recipients"] = list(given["recipients"])
    rows = agg.long_rows()
    source = hashlib.sha256("\n".join(sorted(s.info.get("data_sha256", "") for s in accepted)).encode()).hexdigest()
    info = info_rows(agg, rows, kind="upper", source_sha256=source, errors=len(rejected), warnings=len(superseded),
                     forced=False, members=False, doc_number=header["doc_number"], defs=defs)
    # what each unit reported beyond its figures (Tình hình): listed per unit, added up, named in section I
    older = {Path(old.file) for old, _ in agg.rollup.superseded_pairs}
    kept = {s.unit_code: s for s in accepted if s.path not in older}
    units = [unit_situation(c, kept[c].unit_name or c, kept[c].info, kept[c].situation, defs)
             for c in agg.parts["code"] if c in kept]
    annexes = annex_plan(agg, report_defs(defs)) if len(agg.parts) else []
    body = with_lines(report_body(agg, header, defs, annexes=[a["number"] for a in annexes]), body_lines(units, defs))
    review = _review(accepted, agg.rollup.superseded_pairs, history, defs, returns=returns, accepts=accepts)
    data = build_submission(agg, rows, info, header, defs, body=body,
                            situation=SituationSheets(upper_situation(units, defs), units, agg.period.label),
                            extra_sheets=lambda wb: write_review_sheets(
                                wb, review, agg.period.label, defs, decided_by=decided_by or str(header.get("bcd_head") or "")))
    draft = None
    if docx:  # the Word draft first: the submission's presence says the rollup finished
        draft = write_report_docx(docx_name(target), build_report_docx(agg, header, defs, body=body))
    path = write_submission(target, data)
    result = RollupResult(
        path=path, aggregate=agg, accepted=[s.path for s in accepted], rejected=rejected, superseded=superseded,
        missing=list(agg.rollup.missing), late=list(agg.rollup.late), empty=list(agg.rollup.empty), defs=defs,
        units_situation=units, docx=draft, review=review,
    )
    return result


def _figures(sub: Submission, defs: Definitions) -> UnitFigures:
    kind = report_defs(defs).get("info", {}).get("kind_commune", "")
    return UnitFigures(code=sub.unit_code, name=sub.unit_name, period=sub.period, rows=sub.rows,
                       villages=sub.info.get("kind", "") == kind, file=str(sub.path), created_at=sub.created_at,
                       report_date=sub.report_date, sha256=sub.sha256 or hashlib.sha256(sub.path.read_bytes()).hexdigest(),
                       data_sha256=sub.info.get("data_sha256", ""))


def _history(sub: Submission, own_code: str) -> list[UnitFigures]:
    """An earlier period's figures: a unit's submission gives its own; an earlier rollup of this
    unit gives each of its units' totals (its parts)."""
    if sub.unit_code != own_code:
        return [UnitFigures(sub.unit_code, sub.unit_name, sub.period, sub.rows, created_at=sub.created_at)]
    parts: dict[str, list[Any]] = {}
    for r in sub.rows:
        if not r.is_total:
            parts.setdefault(r.part_code, []).append(r._replace(unit_code=r.part_code, part_code="", part_name=""))
    return [UnitFigures(code, "", sub.period, rows, created_at=sub.created_at) for code, rows in parts.items()]


def _review(accepted: Sequence[Submission], superseded: Sequence[tuple[Any, Any]], history: Sequence[UnitFigures],
            defs: Definitions, *, returns: Mapping[str, str] | None, accepts: Iterable[str] | None) -> Review:
    """The [upstairs] findings of each unit's kept submission, what a resubmission changed
    against the one it replaces, and each unit's decision (the clerk's word or the proposal)."""
    figures = {str(s.path): _figures(s, defs) for s in accepted}
    older = {old.file for old, _ in superseded}
    kept = [f for path, f in figures.items() if path not in older]
    given = clerk_decisions(returns, list(accepts or ()), {f.code for f in kept})
    review = Review(findings=check_units(kept, history, defs))
    replaced: dict[str, UnitFigures] = {}  # per unit, the newest of the submissions it replaces
    for old, _new in superseded:
        f = figures[old.file]
        if f.code not in replaced or (f.created_at or dt.datetime.min) >= (replaced[f.code].created_at or dt.datetime.min):
            replaced[f.code] = f
    template = review_words_of(defs).get("returned_reason", "")
    by_unit: dict[str, list[Any]] = {}  # each unit's findings, grouped once: a national month stays linear
    for finding in review.findings:
        by_unit.setdefault(finding.unit_code, []).append(finding)
    for unit in kept:
        before = replaced.get(unit.code)
        if before is not None:
            review.changes.extend(diff_units(before, unit))
        when = before.created_at.strftime("%d/%m/%Y %H:%M") if before and before.created_at else ""
        review.decisions.append(propose(unit, by_unit.get(unit.code, []), replaces=when, given=given, reason_template=template))
    return review
