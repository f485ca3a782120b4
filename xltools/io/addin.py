"""The Excel add-in ``xltools.xlam``: the buttons as a ribbon tab, built headless on any OS.

The commune's data stays in a macro-free ``.xlsx``; the buttons live in an add-in that Excel
loads for the user (``XLSTART``). The add-in is a small macro workbook with

- the VBA project of the .xlsm (``xlsm.build_vba_project``: the installed xlwings' quickstart
  project, our ``macros/*.bas``) plus one generated module, ``XlToolsRibbon``, with one ribbon
  callback per ``[[button]]`` of ``workbook/buttons.toml``: ``Sub <sub>_Ribbon(control As
  IRibbonControl)`` runs ``xltools.excel.addin_run("<verb>")``, which works on the ACTIVE
  workbook (in an add-in ``Book.caller()`` is the add-in itself);
- a ribbon (``customUI/customUI14.xml``, related from the package root): one tab, one group,
  one button per ``[[button]]`` with its caption;
- an ``xlwings.conf`` sheet (hidden) that ``RunPython`` reads through ``ThisWorkbook``: the
  settings of the .xlsm, ``ADD_WORKBOOK_TO_PYTHONPATH`` False (the add-in's folder is XLSTART,
  not code) and the UDF server off;
- the add-in content type (``application/vnd.ms-excel.addin.macroEnabled.main+xml``).

``install_addin`` builds it into the user's ``XLSTART`` folder (Windows; as ``xlwings addin
install`` copies its own add-in there), so that the conf names the Python that installed it.
"""
from __future__ import annotations

import os
import re
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from xml.sax.saxutils import quoteattr

from ..core import messages
from ..core.definitions import Definitions, get_definitions
from ..core.errors import InputError
from . import xlsm
from .files import write_atomic

ADDIN_NAME = "xltools.xlam"
ADDIN_CONTENT_TYPE = "application/vnd.ms-excel.addin.macroEnabled.main+xml"
RIBBON_MODULE = "XlToolsRibbon"
RIBBON_SUFFIX = "_Ribbon"
CUSTOM_UI_PART = "customUI/customUI14.xml"
CUSTOM_UI_NS = "http://schemas.microsoft.com/office/2009/07/customui"
CUSTOM_UI_REL = "http://schemas.microsoft.com/office/2007/relationships/ui/extensibility"
CUSTOM_UI_REL_ID = "rIdXltoolsRibbon"
TAB_ID = "xltools"
HANDLER = "addin_run"
ROLLUP_HANDLER = "addin_rollup_run"  # the level above's buttons, on the active rollup workbook
IMAGE = "MacroPlay"  # a built-in Office icon (the one xlwings' own ribbon add-in uses)


# -- the VBA callbacks -------------------------------------------------------------
def callback_name(sub: str) -> str:
    """The ribbon callback of a button's Sub (``KiemTra`` -> ``KiemTra_Ribbon``)."""
    return sub + RIBBON_SUFFIX


def ribbon_source(defs: Definitions | None = None) -> str:
    """The ``XlToolsRibbon`` module (ASCII, CRLF): one callback per button of buttons.toml."""
    defs = defs or get_definitions()
    handler = xlsm.buttons_config(defs).get("handler_module", "xltools.excel")
    lines = [
        f'Attribute VB_Name = "{RIBBON_MODULE}"',
        "' xltools: the ribbon buttons of the add-in xltools.xlam.",
        "' Generated from workbook/buttons.toml by xltools addin build; do not edit.",
        "' Each runs the handler of its button on the active workbook.",
        "Option Explicit",
    ]
    calls = [(b.sub, HANDLER, b.verb) for b in xlsm.buttons(defs)]
    calls += [(b.sub, ROLLUP_HANDLER, b.verb) for b in defs.rollup_buttons]
    for sub, function, verb in calls:
        lines += [
            "",
            f"' Sub {sub} on the ribbon",
            f"Sub {callback_name(sub)}(control As IRibbonControl)",
            f"    RunPython \"import {handler} as x; x.{function}('{verb}')\"",
            "End Sub",
        ]
    return "\r\n".join(lines) + "\r\n"


def addin_sources(defs: Definitions | None = None) -> dict[str, str]:
    """Module name -> source of the add-in's own modules: ``macros/*.bas`` and the callbacks."""
    return {**xlsm.macro_sources(), RIBBON_MODULE: ribbon_source(defs)}


# -- the ribbon ---------------------------------------------------------------------
def custom_ui(defs: Definitions | None = None) -> str:
    """``customUI14.xml``: one tab, one group, one button per ``[[button]]`` (its caption)."""
    defs = defs or get_definitions()

    def group(group_id: str, label_key: str, items) -> str:
        buttons = "".join(
            f"\n          <button id={quoteattr('btn' + b.sub)} label={quoteattr(b.caption)} "
            f'size="large" imageMso="{IMAGE}" onAction={quoteattr(callback_name(b.sub))}/>'
            for b in items)
        return f"        <group id=\"{group_id}\" label={quoteattr(messages.text(label_key))}>{buttons}\n        </group>\n"

    groups = group("xltoolsCommune", "addin_group_commune", xlsm.buttons(defs))
    if defs.rollup_buttons:
        groups += group("xltoolsRollup", "addin_group_rollup", defs.rollup_buttons)
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<customUI xmlns="{CUSTOM_UI_NS}">\n'
        "  <ribbon>\n    <tabs>\n"
        f"      <tab id={quoteattr(TAB_ID)} label={quoteattr(messages.text('addin_tab'))}>\n"
        f"{groups}"
        "      </tab>\n    </tabs>\n  </ribbon>\n</customUI>\n"
    )


# -- the xlwings.conf sheet ----------------------------------------------------------
def addin_conf(platform: str | None = None) -> dict[str, str]:
    """The xlwings settings of the add-in: those of the .xlsm, the add-in's folder kept off
    PYTHONPATH, the UDF server off."""
    conf = dict(xlsm.conf_values(platform))
    conf["ADD_WORKBOOK_TO_PYTHONPATH"] = "False"
    conf["Use UDF Server"] = "False"
    return conf


def _write_sheets(wb, defs: Definitions, conf: Mapping[str, str]) -> None:
    info = wb.add_worksheet(messages.text("addin_sheet"))
    info.write_string(0, 0, messages.text("addin_sheet_note", tab=messages.text("addin_tab")))
    info.set_column(0, 0, 100)
    xlsm.write_conf_sheet(wb, defs, conf, "addin_conf_note", key_width=28)


def _package(source: Path, target: Path, ribbon: str) -> None:
    """``source`` (the .xlsm xlsxwriter wrote) as an add-in: content type, ribbon part and its
    root relationship."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "[Content_Types].xml":
                data = data.decode("utf-8").replace(xlsm.MACRO_CONTENT_TYPE, ADDIN_CONTENT_TYPE).encode("utf-8")
            elif item.filename == "_rels/.rels":
                rel = f'<Relationship Id="{CUSTOM_UI_REL_ID}" Type="{CUSTOM_UI_REL}" Target="{CUSTOM_UI_PART}"/>'
                data = data.decode("utf-8").replace("</Relationships>", rel + "</Relationships>").encode("utf-8")
            dst.writestr(item, data)
        dst.writestr(CUSTOM_UI_PART, ribbon.encode("utf-8"))


def build_addin(target: str | Path, *, platform: str | None = None, defs: Definitions | None = None) -> Path:
    """Write the add-in ``xltools.xlam`` to ``target`` (atomically) and return its path."""
    import xlsxwriter

    defs = defs or get_definitions()
    target = Path(target)
    if target.suffix.lower() != ".xlam":
        raise InputError("addin_suffix", file=target.name)
    with tempfile.TemporaryDirectory(prefix="xltools-addin-") as tmp:
        project = xlsm.build_vba_project(Path(tmp) / "vbaProject.bin", addin_sources(defs))
        staged = Path(tmp) / "addin.xlsm"
        wb = xlsxwriter.Workbook(str(staged), {"in_memory": True})
        try:
            wb.add_vba_project(str(project))
            wb.set_properties({"title": defs.title, "author": "xltools"})
            _write_sheets(wb, defs, addin_conf(platform))
        finally:
            wb.close()
        ribbon = custom_ui(defs)
        write_atomic(target, lambda tmp_path: _package(staged, tmp_path, ribbon), keep_backup=False, check_lock=False)
    return target


# -- installing ---------------------------------------------------------------------
def xlstart_folder(platform: str | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The user's ``XLSTART`` folder (``%APPDATA%\\Microsoft\\Excel\\XLSTART``), where Excel opens
    every file at start; refused on other systems."""
    platform = platform or sys.platform
    environ = os.environ if environ is None else environ
    if not platform.startswith("win"):
        raise InputError("addin_windows_only")
    appdata = environ.get("APPDATA")
    if not appdata:
        raise InputError("addin_no_appdata")
    return Path(appdata) / "Microsoft" / "Excel" / "XLSTART"


def install_addin(folder: str | Path | None = None, *, platform: str | None = None) -> Path:
    """Build the add-in into ``folder`` (default: the user's XLSTART), its conf naming this Python."""
    target_folder = Path(folder) if folder is not None else xlstart_folder(platform)
    target_folder.mkdir(parents=True, exist_ok=True)
    return build_addin(target_folder / ADDIN_NAME, platform=platform)


def uninstall_addin(folder: str | Path | None = None, *, platform: str | None = None) -> Path | None:
    """Remove the add-in from ``folder`` (default: XLSTART); its path, or None if it was not there."""
    target = (Path(folder) if folder is not None else xlstart_folder(platform)) / ADDIN_NAME
    if not target.is_file():
        return None
    target.unlink()
    return target


# -- inspecting a built add-in (tests, doctor) -----------------------------------------
def ribbon_actions(path: str | Path) -> dict[str, str]:
    """Label -> onAction of every button of an add-in's ribbon (customUI14.xml)."""
    from defusedxml import ElementTree

    with zipfile.ZipFile(path) as zf:
        root = ElementTree.fromstring(zf.read(CUSTOM_UI_PART))
    return {b.get("label", ""): b.get("onAction", "") for b in root.iter(f"{{{CUSTOM_UI_NS}}}button")}


_CALLBACK_RE = re.compile(r"^\s*(?:Public\s+)?Sub\s+(\w+)\s*\(\s*control\s+As\s+IRibbonControl\s*\)",
                          re.IGNORECASE | re.MULTILINE)


def ribbon_callbacks(source: str) -> list[str]:
    """Names of the Subs of a VBA source with the ribbon callback signature."""
    return _CALLBACK_RE.findall(source)
