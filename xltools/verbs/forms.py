"""``make_forms``: this month's form for every active village of the commune.

Reads the commune workbook (settings and villages) with the fast reader and
writes one ``PhieuBaoCao_<village>_<YYYY-MM>.xlsx`` per active village, each
atomically, into ``out_dir`` (default: a folder beside the workbook named in
workbook/forms.toml).
"""
from __future__ import annotations

from pathlib import Path

from ..core.definitions import Definitions, get_definitions
from ..core.errors import InputError
from ..core.frames import records
from ..core.periods import Period
from ..core.text import clean
from ..io.files import write_atomic
from ..io.forms import FormSpec, form_config, form_file_name, safe_file_name, write_form
from ..io.reader import read_workbook


def default_folder(path: str | Path, period: Period | str, defs: Definitions) -> Path:
    """Where the forms of ``period`` go without ``out_dir``: beside the workbook (forms.toml out_dir)."""
    return Path(path).parent / safe_file_name(str(form_config(defs)["out_dir"]).format(period=str(period)))


def make_forms(
    path: str | Path, period: str, out_dir: str | Path | None = None, *, defs: Definitions | None = None
) -> list[Path]:
    """Write the forms of ``period`` (YYYY-MM) for the active villages; return their paths."""
    defs = defs or get_definitions()
    path = Path(path)
    try:
        chosen = Period.parse(period)
    except InputError:
        raise InputError("forms_period_month", value=period) from None
    if chosen.kind != "month":
        raise InputError("forms_period_month", value=period)
    form_config(defs)  # a broken forms.toml is one clear error before the workbook is read
    book = read_workbook(path, defs, sheets=["villages"])
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
        written.append(write_atomic(target, lambda tmp, spec=spec: write_form(tmp, spec, defs), keep_backup=False))
    return written
