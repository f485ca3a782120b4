"""``make_forms``: this month's form for every active village of the commune.

Reads the commune workbook (settings and villages) with the fast reader and
writes one ``PhieuBaoCao_<village>_<YYYY-MM>.xlsx`` per active village, each
atomically, into ``out_dir`` (default: a folder beside the workbook named in
workbook/forms.toml).
"""
from __future__ import annotations

from functools import partial
from pathlib import Path

from ..core.book import CommuneBook
from ..core.definitions import Definitions, get_definitions
from ..core.errors import InputError
from ..core.frames import records
from ..core.periods import Period
from ..core.reports import latest_month
from ..core.text import clean
from ..io.files import write_atomic
from ..io.forms import FormSpec, form_config, form_file_name, safe_file_name, write_form
from ..io.reader import read_workbook


def default_folder(path: str | Path, period: Period | str, defs: Definitions) -> Path:
    """Where the forms of ``period`` go without ``out_dir``: beside the workbook (forms.toml out_dir)."""
    return Path(path).parent / safe_file_name(str(form_config(defs)["out_dir"]).format(period=str(period)))


def make_forms(
    path: str | Path, period: str | None = None, out_dir: str | Path | None = None, *,
    defs: Definitions | None = None
) -> list[Path]:
    """Write the forms of ``period`` (YYYY-MM; default the workbook's current period, as the
    button does) for the active villages; return their paths."""
    defs = defs or get_definitions()
    path = Path(path)
    if period is not None:
        month(period)  # a bad or far-off period fails before the workbook is read
    form_config(defs)  # a broken forms.toml is one clear error before the workbook is read
    book = read_workbook(path, defs, sheets=["villages"])
    return make_forms_for_book(book, book.chosen_period(period), out_dir)


def month(period: str) -> Period:
    """``period`` as a month the forms can be made for (not beyond the next month)."""
    try:
        chosen = Period.parse(period)
    except InputError:
        raise InputError("forms_period_month", value=period) from None
    if chosen.kind != "month":
        raise InputError("forms_period_month", value=period)
    latest = latest_month()
    if str(chosen) > latest:  # forms for a month far ahead: a mistyped year, refused before anything is written
        raise InputError("forms_future_period", value=str(chosen), latest=latest)
    return chosen


def make_forms_for_book(book: CommuneBook, period: str, out_dir: str | Path | None = None) -> list[Path]:
    """``make_forms`` of a book already read (strictly): from the file, or from the open book."""
    defs = book.defs
    path = book.path
    chosen = month(period)
    form_config(defs)
    commune_code = clean(book.settings.get("commune_code") or "")
    if not commune_code:
        raise InputError("forms_no_commune_code", file=path.name)
    villages = [v for v in records(book.tables["villages"]) if v.get("code") and v.get("active") is not False]
    if not villages:
        raise InputError("forms_no_villages", file=path.name)
    folder = Path(out_dir) if out_dir else default_folder(path, chosen, defs)
    deadline = book.settings.get("form_deadline_day")
    written = []
    for v in villages:
        spec = FormSpec(
            commune_code=commune_code,
            commune_name=str(book.settings.get("commune_name") or ""),
            village_code=str(v["code"]),
            village_name=str(v.get("name") or ""),
            period=str(chosen),
            deadline_day=None if deadline is None else int(deadline),
        )
        target = folder / form_file_name(spec, defs)
        written.append(write_atomic(target, partial(write_form, spec=spec, defs=defs), keep_backup=False))
    return written
