"""Locate the data folders that ship with the package (workbook/, macros/, samples/).

In a source checkout they sit beside the ``xltools`` package; in an installed wheel
setup.cfg maps them into it (``xltools/workbook`` …). Looking in the package first
keeps an installed copy from picking up an unrelated top-level folder.
"""
from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent.parent  # the xltools package


def resource_dir(name: str) -> Path:
    """Return the folder ``name`` ('workbook', 'macros' or 'samples')."""
    for candidate in (_HERE / name, _HERE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"xltools data folder '{name}' is missing from the installation")
