"""Double-clickable command files that do what the buttons do, on the closed workbook.

For PCs where Office may not start processes (the Defender ASR rule that blocks Office's child
processes, a macro policy), ``xltools shortcuts`` writes one Windows command file per button of
``workbook/buttons.toml``, named by its caption. Each runs the button's ``command`` with the
workbook and keeps its window open on the result. The files are UTF-8 (the console switched to
code page 65001 on their first lines, so Vietnamese paths and messages survive) with CRLF lines,
and every ``%`` of a path is doubled, as cmd.exe reads a batch file.
"""
from __future__ import annotations

import shlex
import sys
from functools import partial
from pathlib import Path

from ..core.definitions import Definitions, get_definitions
from ..core.errors import InputError
from .files import write_atomic
from .forms import safe_file_name


def default_python() -> str:
    """The Python that runs the commands: this one on Windows, ``python`` (from PATH) when the
    files are written on another system for a Windows PC."""
    return sys.executable if sys.platform == "win32" and sys.executable else "python"


def _quoted(value: str | Path) -> str:
    """A cmd.exe argument: in double quotes (spaces, &, ', ^ are then literal), % doubled."""
    text = str(value)
    if '"' in text:  # Windows forbids it in paths: a value with one cannot be a file
        raise InputError("shortcuts_bad_path", path=text)
    return '"' + text.replace("%", "%%") + '"'


def shortcut_text(caption: str, command: str, workbook: Path, python: str) -> str:
    """The command file of one button."""
    name, *flags = shlex.split(command)
    line = " ".join([_quoted(python), "-m", "xltools", name, _quoted(workbook), *flags])
    title = "".join("^" + c if c in "&|<>^" else c for c in caption).replace("%", "%%")
    lines = ["@echo off", "chcp 65001 >nul", f"title {title}",
             f"cd /d {_quoted(workbook.parent)}", line, "echo.", "pause"]
    return "\r\n".join(lines) + "\r\n"


def _write_bytes(tmp: Path, data: bytes) -> None:
    tmp.write_bytes(data)


def write_shortcuts(folder: str | Path, workbook: str | Path, *, python: str | None = None,
                    defs: Definitions | None = None) -> list[Path]:
    """Write one ``<caption>.cmd`` per button with a ``command``, and per ``[[shortcut]]`` of
    buttons.toml (work done on the closed workbook only, such as upgrade), into ``folder``."""
    defs = defs or get_definitions()
    book = Path(workbook).resolve()
    if not book.is_file():
        raise InputError("shortcuts_no_workbook", path=str(workbook))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    python = python or default_python()
    written = []
    entries = [(b.caption, b.command) for b in defs.buttons if b.command]
    entries += [(str(s["caption"]), str(s["command"])) for s in defs.extra("buttons").get("shortcut", [])]
    for caption, command in entries:
        target = folder / f"{safe_file_name(caption)}.cmd"
        text = shortcut_text(caption, command, book, python)
        write_atomic(target, partial(_write_bytes, data=text.encode("utf-8")))
        written.append(target)
    return written
