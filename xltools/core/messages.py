"""The message catalogue (workbook/messages.toml): Vietnamese first, English after."""
from __future__ import annotations

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]
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
    """One message of the catalogue in ``lang`` with its placeholders filled."""
    entry = catalogue().get(key)
    if entry is None:
        return key
    return entry.get(lang, entry.get("vi", key)).format_map(_Default(params))


def both(key: str, /, **params: Any) -> str:
    """'Vietnamese (English)': the one-line form used for errors."""
    return f"{text(key, 'vi', **params)} ({text(key, 'en', **params)})"
