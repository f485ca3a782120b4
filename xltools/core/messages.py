"""The message catalogue (workbook/messages.toml): Vietnamese first, English after."""
from __future__ import annotations

import os
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib
from functools import lru_cache
from typing import Any

from .resources import resource_dir


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    with open(resource_dir("workbook") / "messages.toml", "rb") as fh:
        return tomllib.load(fh)


class _Default(dict):  # leaves unknown placeholders visible instead of failing
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(template: str, /, **params: Any) -> str:
    """A template (from any definition file) with its placeholders filled; unknown ones stay
    visible and a broken template is shown as it is rather than raising."""
    if not template:
        return ""
    try:
        return template.format_map(_Default(params))
    except (ValueError, IndexError, AttributeError):
        return template


def text(key: str, lang: str = "vi", /, **params: Any) -> str:
    """One message of the catalogue in ``lang`` with its placeholders filled.

    A key missing from the catalogue is a bug: with ``XLTOOLS_STRICT_MESSAGES`` set (the test
    suite sets it) it raises KeyError; for a user it shows the key itself rather than a traceback."""
    entry = catalogue().get(key)
    if entry is None:
        if os.environ.get("XLTOOLS_STRICT_MESSAGES"):
            raise KeyError(f"message key {key!r} is not in workbook/messages.toml")
        return key
    return entry.get(lang, entry.get("vi", key)).format_map(_Default(params))


class Reason(str):
    """A message of the catalogue that remembers its key and parameters.

    It is the Vietnamese text wherever a string is expected (summaries, Nhật ký, Kiểm tra),
    and ``code()`` gives the machine-readable form for ``--format json``."""

    key: str
    params: dict[str, Any]

    def __new__(cls, key: str, /, **params: Any) -> Reason:
        self = super().__new__(cls, text(key, "vi", **params))
        self.key = key
        self.params = params
        return self

    @classmethod
    def of(cls, err: Any) -> Reason:
        """The reason of an XltoolsError (its key and parameters)."""
        return cls(err.key, **err.params)

    def __reduce__(self) -> tuple[Any, ...]:  # copies and pickles rebuild it from its key
        return (_reason, (self.key, self.params))

    def __deepcopy__(self, memo: Any) -> Reason:  # immutable, like str
        return self

    def code(self) -> dict[str, Any]:
        return {"key": self.key, "params": {k: v.code() if isinstance(v, Reason) else _plain(v)
                                            for k, v in self.params.items()}}


def _reason(key: str, params: dict[str, Any]) -> Reason:
    return Reason(key, **params)


def _plain(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def codes(reasons: Any) -> list[dict[str, Any]]:
    """The machine-readable codes of a list of reasons (plain strings have none)."""
    return [r.code() for r in reasons if isinstance(r, Reason)]
