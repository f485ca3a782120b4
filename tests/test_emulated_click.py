"""An emulated click: the built workbook's real VBA (xlwings' module and ours) run in pyOpenVBA's
interpreter, with a fake ``WScript.Shell`` that captures the command line each button starts.
The command is split as cmd.exe and then Python's C runtime split it, and its Python part is
run with the test Python up to the handler call, for a folder with Vietnamese letters, spaces,
``&`` and an apostrophe.

Where pyOpenVBA differs from Excel the harness says so and stands in, never our code:
- it does not read a comment after a ``#If``/``#Const`` directive (xlwings' module has them): the
  comment is dropped before loading;
- ``Environ``, ``GetAttr`` and ``Kill`` touch the machine: they answer from a fake Windows
  environment; ``Application.Hwnd`` is a fixed window handle;
- VBA compares ``"False" = True`` by reading the string as a Boolean (xlwings'
  ``GetConfig(...) = True``); pyOpenVBA's comparison is taught the same.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from pyopenvba.apps.excel import ExcelApplication, _bridge
from pyopenvba.apps.excel._model import Application
from pyopenvba.excel import ExcelFile
from pyopenvba.exceptions import VBAUnsupportedError
from pyopenvba.interpreter import NOTHING, VBAObject, method
from pyopenvba.interpreter import _values as vba_values
from pyopenvba.interpreter._intrinsics import INTRINSICS, intrinsic
from pyopenvba.interpreter._objects import MemberSpec
from pyopenvba.vba import VBAModuleKind

from xltools.io.addin import build_addin, callback_name
from xltools.io.xlsm import buttons
from xltools.verbs.new import new_xlsm

FOLDER = "Thư mục của Hồng & Vân's"
FILES: set[str] = set()  # the files GetAttr finds on the fake Windows PC
WINDOWS_ENV = {"TEMP": r"C:\Users\Nguyen\AppData\Local\Temp", "USERPROFILE": r"C:\Users\Nguyen"}
_DIRECTIVE_COMMENT = re.compile(r"(?mi)^(\s*#(?:If|ElseIf|Else|End If|Const)\b[^'\r\n]*?)\s*'[^\r\n]*")


class Shell(VBAObject):
    """WScript.Shell: Run records the command and says it ran (exit code 0)."""

    vba_type_name = "IWshShell3"

    def __init__(self, runs: list[str]) -> None:
        self.runs = runs

    @method(name="Run")
    def run(self, command, style=0, wait=False):
        self.runs.append(str(command))
        return 0

    @method(name="ExpandEnvironmentStrings")
    def expand(self, text):
        return re.sub(r"%(\w+)%", lambda m: WINDOWS_ENV.get(m.group(1).upper(), m.group(0)), str(text))


@pytest.fixture
def excel(monkeypatch):
    """``excel(path)``: (an ExcelApplication with the file's VBA loaded, the commands it starts)."""
    runs: list[str] = []
    original = _bridge.ExcelBridge.create
    monkeypatch.setattr(_bridge.ExcelBridge, "create",
                        lambda self, name: Shell(runs) if name.lower() == "wscript.shell" else original(self, name))
    to_number = vba_values.to_number

    def vba_number(value, *args, **kwargs):  # VBA reads "True"/"False" as -1/0 in a comparison
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return -1 if value.strip().lower() == "true" else 0
        return to_number(value, *args, **kwargs)

    monkeypatch.setattr(vba_values, "to_number", vba_number)
    saved = {k: INTRINSICS.get(k) for k in ("environ", "getattr", "kill")}
    intrinsic("Environ", "Expression", minimum=1)(lambda interp, name: WINDOWS_ENV.get(str(name).upper(), ""))

    def getattr_(interp, path):
        if str(path) in FILES:
            return vba_values.VBAInt(0, "Integer")  # a plain file
        raise vba_values.error(53, f"File not found: {path}")

    intrinsic("GetAttr", "PathName", minimum=1)(getattr_)
    intrinsic("Kill", "PathName", minimum=1)(lambda interp, path: vba_values.EMPTY)
    monkeypatch.setitem(Application._vba_members, "hwnd", MemberSpec(name="Hwnd", kind="property",
                                                                     getter=lambda self: 65552))

    def load(path: Path) -> tuple[ExcelApplication, list[str]]:
        app = ExcelApplication.open(path, with_vba=False)
        with ExcelFile(path) as host:
            for module in host.vba_project().modules:
                kind = "standard" if module.kind is VBAModuleKind.standard else "class"
                found = app.interpreter.host.global_object(module.name.lower())
                if kind == "class" and isinstance(found, VBAObject) and found is not app.application:
                    kind = "document"
                app.add_module(_DIRECTIVE_COMMENT.sub(r"\1", module.source), name=module.name, kind=kind)
        return app, runs

    yield load
    FILES.clear()
    for key, value in saved.items():
        if value is None:
            INTRINSICS.pop(key, None)
        else:
            INTRINSICS[key] = value


def click(app: ExcelApplication, runs: list[str], macro: str, *args) -> str:
    """Run one button's macro; the one command line it started."""
    before = len(runs)
    try:
        app.run(macro, *args)
    except VBAUnsupportedError as exc:  # the Kill of the log file after the command: real file system
        assert "Kill" in str(exc), exc
    assert len(runs) == before + 1, runs[before:]
    return runs[-1]


def cmd_split(line: str) -> tuple[list[str], dict[str, str]]:
    """What cmd.exe makes of ``cmd.exe /C …``: the commands between unescaped ``&`` (carets removed
    outside quotes, quotes kept) and the redirections (``2>`` → file)."""
    assert line.lower().startswith("cmd.exe /c "), line
    rest = line[len("cmd.exe /C "):]
    commands, redirects, current, quoted, i = [], {}, [], False, 0
    while i < len(rest):
        ch = rest[i]
        if ch == '"':
            quoted = not quoted
            current.append(ch)
        elif not quoted and ch == "^" and i + 1 < len(rest):
            current.append(rest[i + 1])
            i += 1
        elif not quoted and ch == "&":
            commands.append("".join(current).strip())
            current = []
        elif not quoted and ch == ">":
            stream = current.pop() if current and current[-1] in "12" else "1"
            target = re.match(r'\s*("([^"]*)"|\S+)', rest[i + 1:])
            assert target, rest[i:]
            redirects[stream] = target.group(2) if target.group(2) is not None else target.group(1)
            i += target.end()
        else:
            current.append(ch)
        i += 1
    commands.append("".join(current).strip())
    return [c for c in commands if c], redirects


def argv_split(command: str) -> list[str]:
    """The argument vector Python's C runtime (CommandLineToArgvW rules) reads from ``command``."""
    args, current, quoted, i, started = [], [], False, 0, False
    while i < len(command):
        ch = command[i]
        if ch == "\\":
            n = 0
            while i < len(command) and command[i] == "\\":
                n += 1
                i += 1
            if i < len(command) and command[i] == '"':
                current.append("\\" * (n // 2))
                if n % 2:
                    current.append('"')
                    i += 1
            else:
                current.append("\\" * n)
            started = True
            continue
        if ch == '"':
            quoted = not quoted
            started = True
        elif ch in " \t" and not quoted:
            if started:
                args.append("".join(current))
                current, started = [], False
        else:
            current.append(ch)
            started = True
        i += 1
    if started:
        args.append("".join(current))
    return args


def run_up_to_the_handler(argv: list[str], handler: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command's Python part with this Python, the handler call replaced by naming it."""
    assert argv[0] == "python" and argv[1:3] == ["-B", "-c"], argv
    code = argv[3]
    assert code.endswith(handler), code
    code = code[: -len(handler)] + f"print({handler.split('(')[0]}.__module__, 'ok')"
    return subprocess.run([sys.executable, "-B", "-c", code, *argv[4:]], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


@pytest.fixture
def tricky(tmp_path, sample):
    folder = tmp_path / FOLDER
    folder.mkdir()
    return folder


@pytest.mark.slow
def test_every_button_of_the_xlsm_starts_the_right_python_for_a_tricky_folder(excel, tricky, sample):
    path = new_xlsm(tricky / "SoTheoDoi_HongThuy.xlsm", *sample)
    app, runs = excel(path)
    for button in buttons():
        line = click(app, runs, button.sub)
        commands, redirects = cmd_split(line)
        assert len(commands) == 1, commands  # no DriveCommand: the conf names no interpreter here
        argv = argv_split(commands[0])
        code = argv[3]
        # the workbook's folder reaches Python intact: Vietnamese letters, spaces, & and '
        assert str(path) in code and "^" not in code, code
        assert f"--wb={path.name}" in argv and "--from_xl=1" in argv
        # the error log goes to the TEMP folder xlwings reads it back from
        assert redirects["2"].startswith(WINDOWS_ENV["TEMP"] + "\\xlwings-") and redirects["2"].endswith(".log")
        handler = f"x.{button.verb}()"
        done = run_up_to_the_handler(argv, handler, tricky)
        assert done.returncode == 0 and done.stdout.split() == ["xltools.excel", "ok"], done.stderr[-2000:]


@pytest.mark.slow
def test_every_ribbon_button_of_the_add_in_starts_the_handler_on_the_active_workbook(excel, tmp_path):
    folder = tmp_path / FOLDER
    folder.mkdir()
    addin = build_addin(folder / "xltools.xlam")
    app, runs = excel(addin)
    for button in buttons():
        line = click(app, runs, callback_name(button.sub), NOTHING)
        commands, _ = cmd_split(line)
        argv = argv_split(commands[0])
        assert argv[3].endswith(f"x.addin_run('{button.verb}')"), argv[3]
        assert "--wb=xltools.xlam" in argv
        done = run_up_to_the_handler(argv, f"x.addin_run('{button.verb}')", folder)
        assert done.returncode == 0 and done.stdout.split() == ["xltools.excel", "ok"], done.stderr[-2000:]


@pytest.mark.slow
def test_an_interpreter_under_program_files_is_started_from_its_drive_and_folder(excel, tricky, sample, defs):
    import openpyxl

    from xltools.io.xlsm import conf_sheet_name

    path = new_xlsm(tricky / "SoTheoDoi_HongThuy.xlsm", *sample)
    python = r"C:\Program Files\Python 3.11\python.exe"
    wb = openpyxl.load_workbook(path, keep_vba=True)
    wb[conf_sheet_name(defs)]["B1"] = python  # Interpreter_Win
    wb.save(path)
    FILES.add(python)
    app, runs = excel(path)
    commands, redirects = cmd_split(click(app, runs, buttons()[0].sub))
    assert commands[:2] == ["C:", 'cd "C:\\Program Files\\Python 3.11"'], commands
    argv = argv_split(commands[2])
    assert argv[0] == python and argv[1:3] == ["-B", "-c"] and str(path) in argv[3]
    assert argv[3].endswith(f"x.{buttons()[0].verb}()") and "2" in redirects


def test_the_splitters_follow_cmd_and_the_c_runtime():
    commands, redirects = cmd_split('cmd.exe /C C: & cd "C:\\A & B" & python -c "print(\\"a ^& b\\")" 2> "C:\\t x.log" ')
    assert commands == ["C:", 'cd "C:\\A & B"', 'python -c "print(\\"a & b\\")"'] and redirects == {"2": "C:\\t x.log"}
    assert argv_split('python -c "print(\\"a & b\\")" --wb="Sổ của Vân\'s.xlsm"') == \
        ["python", "-c", 'print("a & b")', "--wb=Sổ của Vân's.xlsm"]
    assert argv_split(r'a\\"b c" d') == ["a\\b c", "d"]
