"""xltools: the Excel toolkit of the commune model "Xã không có tội phạm, tệ nạn ma túy".

The public API is one function per verb, the same verb as the CLI command and the
button handler: ``new``, ``make_forms``, ``import_reports``, ``validate``,
``aggregate``, ``export``, ``rollup``, ``upgrade``, ``run_demo``. They are imported lazily so
that ``import xltools`` stays cheap.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "new": "xltools.verbs.new",
    "read_workbook": "xltools.io.reader",
    "get_definitions": "xltools.core.definitions",
    "Period": "xltools.core.periods",
    "XltoolsError": "xltools.core.errors",
    "validate": "xltools.verbs.validate",
    "make_forms": "xltools.verbs.forms",
    "import_reports": "xltools.verbs.importing",
    "aggregate": "xltools.verbs.aggregate",
    "export": "xltools.verbs.export",
    "rollup": "xltools.verbs.rollup",
    "upgrade": "xltools.verbs.upgrade",
    "run_demo": "xltools.demo",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'xltools' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
