"""The exception hierarchy. Messages come from the catalogue and say how to fix things."""
from __future__ import annotations

from typing import Any

from . import messages


def _rebuild(cls: type[XltoolsError], key: str, params: dict[str, Any]) -> XltoolsError:
    return cls(key, **params)


class XltoolsError(Exception):
    """Base of every error the toolkit raises on purpose. ``exit_code`` is the CLI's."""

    exit_code = 1

    def __init__(self, key: str, /, **params: Any) -> None:
        self.key = key
        self.params = params
        self.vi = messages.text(key, "vi", **params)
        self.en = messages.text(key, "en", **params)
        super().__init__(f"{self.vi} ({self.en})")

    def __reduce__(self) -> tuple[Any, ...]:  # pickled (a process pool's worker) by key and parameters
        return (_rebuild, (type(self), self.key, self.params))


class WorkbookError(XltoolsError):
    """A file cannot be read as what it should be (not xlsx, encrypted, not ours)."""

    exit_code = 2


class DefinitionsError(XltoolsError):
    """A file in workbook/ is invalid."""

    exit_code = 2


class InputError(XltoolsError):
    """A value the user gave (option, CSV, setting, period) is invalid."""


class WriteError(XltoolsError):
    """A file cannot be written (exists, locked, disk error); nothing was changed."""


class XltoolsWarning(UserWarning):
    """A one-line warning from the catalogue (``vi`` and ``en`` already filled in); the CLI
    prints each once per command, on stderr, after “Cảnh báo:”."""

    def __init__(self, vi: str, en: str) -> None:
        self.vi = vi
        self.en = en
        super().__init__(f"{vi} ({en})")
