"""LibreOffice clicks the dashboard buttons of a variant of the macro workbook.

LibreOffice Basic cannot compile xlwings' RunPython module (nor its Mac-only
Dictionary class), so the variant swaps that module for a stub whose
``RunPython`` records its argument, and drops the class. LibreOffice
(Python-UNO under Debian's /usr/bin/python3) opens the variant, finds every form
button on the dashboard with the macro bound to it, fires that macro and reads
what the stub recorded: each caption must lead to its handler call.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import require_soffice, run_uno

from xltools.io import xlsm
from xltools.verbs.new import new_xlsm

pytestmark = [pytest.mark.libreoffice, pytest.mark.slow]

STUB = "\r\n".join([
    'Attribute VB_Name = "xlwings"',
    "Option Explicit",
    "Public Calls As String",
    "",
    "Public Function RunPython(PythonCommand As String)",
    '    Calls = Calls & PythonCommand & Chr(10)',
    "End Function",
    "",
    "Public Function RecordedCalls() As String",
    "    RecordedCalls = Calls",
    "    Calls = \"\"",
    "End Function",
    "",
])

# Runs under /usr/bin/python3 (python3-uno, ``conftest.run_uno``): open the workbook hidden with
# macros allowed, fire the macro bound to each form button, print caption -> recorded calls.
CLICK_BUTTONS = r'''
doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(args[0]), "_blank", 0,
                                   (prop("Hidden", True), prop("MacroExecutionMode", 4)))
provider = doc.getScriptProvider()
recorded = provider.getScript(
    "vnd.sun.star.script:VBAProject.xlwings.RecordedCalls?language=Basic&location=document")
out = {"sheet": doc.Sheets.getByIndex(0).Name, "buttons": {}, "errors": {}}
forms = doc.Sheets.getByIndex(0).DrawPage.Forms
for f in range(forms.Count):
    form = forms.getByIndex(f)
    for i in range(form.Count):
        control = form.getByIndex(i)
        events = [e for e in form.getScriptEvents(i) if e.EventMethod == "actionPerformed"]
        if not events:
            continue
        url = events[0].ScriptCode
        try:
            provider.getScript(url).invoke((), (), ())
            out["buttons"][control.Label] = {"script": url, "calls": recorded.invoke((), (), ())[0]}
        except Exception as exc:
            out["errors"][control.Label] = str(exc)
doc.close(True)
print(json.dumps(out, ensure_ascii=False))
'''


def _stub_variant(source: Path, target: Path) -> Path:
    """The built workbook with xlwings' module replaced by the recording stub."""
    from pyopenvba import ExcelFile

    shutil.copyfile(source, target)
    with ExcelFile(str(target)) as wb:
        wb.set_module(xlsm.XLWINGS_MODULE, STUB)
        # xlwings' Mac-only Dictionary class does not compile in LibreOffice Basic either,
        # and one module that fails to compile silences every macro of the project.
        wb.vba_project().delete_module("Dictionary")
        wb.save()
    return target


def test_each_button_runs_its_handler_in_libreoffice(tmp_path, sample, defs):
    require_soffice()
    settings, tables = sample
    built = new_xlsm(tmp_path / "SoTheoDoi_HongThuy.xlsm", settings, tables)
    variant = _stub_variant(built, tmp_path / "variant.xlsm")
    run = run_uno(CLICK_BUTTONS, [str(variant)], tmp_path)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])

    assert result["errors"] == {}
    assert result["sheet"] == defs.sheet("dashboard").name
    handler = xlsm.buttons_config(defs)["handler_module"]
    expected = {b.caption: f"import {handler} as x; x.{b.verb}()\n" for b in xlsm.buttons(defs)}
    assert {caption: item["calls"] for caption, item in result["buttons"].items()} == expected
    for b in xlsm.buttons(defs):
        assert f".{b.sub}?" in result["buttons"][b.caption]["script"]
