"""``aggregate``: per village and total for a period; ``write=True`` fills the Tổng hợp sheet."""
from __future__ import annotations

from pathlib import Path

from ..core.aggregation import Aggregate, aggregate_book
from ..core.change import now
from ..core.definitions import Definitions, get_definitions
from ..core.outputs import summary_change
from ..io.files import current_user
from ..io.reader import read_workbook
from ..io.sink import apply_change


def aggregate(path: str | Path, period: str | None = None, *, write: bool = False, defs: Definitions | None = None) -> Aggregate:
    """Aggregate the commune workbook at ``path`` for ``period`` (default: its current period).

    Flows are summed over the months, stocks taken from each village's latest month,
    ratios computed from summed numerators and denominators. With ``write`` the
    result replaces the content of the Tổng hợp sheet (atomically, with a backup).
    """
    defs = defs or get_definitions()
    path = Path(path)
    book = read_workbook(path, defs, strict=True)
    chosen = book.chosen_period(period)
    result = aggregate_book(book, chosen)
    if write:
        apply_change(path, summary_change(book, result, when=now(), user=current_user(), file=path.name), defs)
    return result

