"""The commune's settings (the Cấu hình sheet): defaults, placeholders and types."""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from . import messages
from .definitions import Column, Definitions
from .errors import InputError
from .frames import coerce
from .text import ValueProblem, clean


def _column(setting) -> Column:  # a setting types like a column of its type
    return Column(key=setting.key, header=setting.label, type=setting.type)


def resolve(defs: Definitions, values: Mapping[str, Any] | None = None, *, strict: bool = True) -> dict[str, Any]:
    """Every setting, typed: given values first, then defaults with placeholders filled.

    With ``strict`` an unknown key or a value of the wrong type raises InputError;
    otherwise such values fall back to the default (validation reports them).
    """
    values = dict(values or {})
    known = {s.key for s in defs.settings}
    if strict:
        for key in values:
            if key not in known:
                raise InputError("unknown_setting", key=key, keys=", ".join(sorted(known)))
    out: dict[str, Any] = {}
    for setting in defs.settings:
        raw = values.get(setting.key)
        try:
            value = coerce(raw, _column(setting))
        except ValueProblem as exc:
            if strict:
                raise InputError("bad_setting", key=setting.key, label=setting.label, reason=messages.text(exc.reason)) from None
            value = None
        if value is not None and setting.pattern and not re.fullmatch(setting.pattern, str(value)):
            if strict:
                raise InputError("bad_setting", key=setting.key, label=setting.label, reason=messages.text("reason_not_code"))
            value = None
        out[setting.key] = value
    context = {k: ("" if v is None else v) for k, v in out.items()}
    context["commune_name_upper"] = str(context.get("commune_name", "")).upper()
    context["definitions_version"] = defs.version
    for setting in defs.settings:
        if out[setting.key] is None or out[setting.key] == "":
            default = setting.default
            if isinstance(default, str):
                default = clean(default.format_map(_Blank(context)))
            out[setting.key] = default if default != "" else None
    return out


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""
