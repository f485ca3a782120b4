"""``feedback``: the level above answers each unit of a rollup with a file of its own.

Reads the rollup workbook's Quyết định sheet (the toolkit's proposal as changed by the clerk:
accepted or returned, the reason, who decided and when) and its Kiểm tra sheet (the findings
of each unit), and writes one ``PhanHoi_<unit>_<period>.xlsx`` per unit into the folder given:
the decision, the reasons, the findings with the village and indicator they concern, the
SHA-256 of the submission it answers and, for a corrected submission, the date of the one it
replaces. The unit imports it with ``xltools receive``.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core import messages
from ..core.definitions import Definitions, get_definitions
from ..core.errors import InputError, WorkbookError
from ..core.upstairs import ACCEPTED, Decision, clerk_decisions
from ..io.review import build_feedback, feedback_name, read_answers, review_words, write_feedback
from ..io.submission_reader import submission_limits


@dataclass
class FeedbackResult:
    """The files written, one per unit, with the decision each carries."""

    folder: Path
    written: list[tuple[Path, Decision]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"folder": str(self.folder),
                "files": [{"file": p.name, "unit": d.unit_code, "period": d.period, "decision": d.decision,
                           "reason": d.reason, "submission_sha256": d.sha256, "replaces": d.replaces}
                          for p, d in self.written]}

    def summary_lines(self, defs: Definitions | None = None) -> list[str]:
        words = review_words(defs or get_definitions())["decision_words"]
        accepted = sum(d.decision == ACCEPTED for _, d in self.written)
        lines = [messages.text("feedback_written", count=len(self.written), folder=self.folder, accepted=accepted,
                               returned=len(self.written) - accepted)]
        for path, d in self.written:
            lines.append(messages.text("feedback_line", mark="✓" if d.decision == ACCEPTED else "↩", file=path.name,
                                       unit=d.unit_name or d.unit_code, decision=words[d.decision],
                                       reason=f": {d.reason}" if d.reason else ""))
        return lines


def feedback(rollup_file: str | Path, out_dir: str | Path, *, returns: Mapping[str, str] | None = None,
             accepts: list[str] | None = None, decided_by: str | None = None,
             defs: Definitions | None = None) -> FeedbackResult:
    """One feedback file per unit of the rollup workbook ``rollup_file``, written into ``out_dir``.

    ``returns`` (unit code -> reason) and ``accepts`` override the decisions of the Quyết định
    sheet; ``decided_by`` overrides who decided."""
    defs = defs or get_definitions()
    path = Path(rollup_file)
    if not path.is_file():
        raise WorkbookError("not_found", file=str(path))
    answers = read_answers(path, submission_limits(defs), defs)
    w = review_words(defs)
    if not answers.decisions:
        raise InputError("feedback_no_decisions", file=path.name, sheet=w["decisions_sheet"])
    given = clerk_decisions(returns, accepts, {d.unit_code for d in answers.decisions})
    who = decided_by if decided_by is not None else answers.decided_by
    created = dt.datetime.now().replace(microsecond=0).isoformat(sep=" ")
    out = Path(out_dir)
    planned = []
    for d in answers.decisions:  # every file built before the first is written
        if d.unit_code in given:
            decision, reason = given[d.unit_code]
            d = dataclasses.replace(d, decision=decision, reason=reason or d.reason, proposed=False)
        findings = [f for f in answers.findings if f.unit_code == d.unit_code]
        info = {"from_unit_code": answers.unit_code, "from_unit_name": answers.unit_name, "unit_code": d.unit_code,
                "unit_name": d.unit_name, "period": d.period or answers.period, "decision": d.decision,
                "reason": d.reason, "decided_by": who, "decided_at": answers.decided_at,
                "submission_file": Path(d.file).name, "submission_date": d.report_date_text,
                "submission_sha256": d.sha256, "submission_data_sha256": d.data_sha256, "replaces": d.replaces,
                "created_at": created}
        target = out / feedback_name(d.unit_code, info["period"], defs)
        planned.append((target, d, build_feedback(info, findings, defs)))
    result = FeedbackResult(out)
    for target, d, data in planned:
        result.written.append((write_feedback(target, data), d))
    return result
