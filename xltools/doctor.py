"""``xltools doctor``: is this PC ready for the workbook's buttons?

Checks Python and the packages, that xlwings' version equals the one pinned and
the one inside the workbook's VBA, whether Excel is installed (Windows), the
``xlwings.conf`` sheet of the workbook (interpreter, PYTHONPATH), the inbox and
outbox folders, and paths xlwings is known to struggle with (OneDrive or
SharePoint folders, non-ASCII characters in the interpreter path, a file blocked
by the Mark of the Web). xlwings is not imported: its version comes from
``importlib.metadata``. Each check is data (``Check``); the CLI prints them and
exits 1 when one is an error.
"""
from __future__ import annotations

import configparser
import importlib.metadata
import re
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .core import messages
from .core.definitions import Definitions, get_definitions
from .core.errors import XltoolsError, XltoolsWarning

OK, INFO, WARNING, ERROR = "ok", "info", "warning", "error"
CLOUD_MARKERS = ("onedrive", "sharepoint", "dropbox", "google drive", "icloud")
# Folders a file only passes through: an e-mail attachment or a zip opened in place, a download
# cache. What is saved there is lost when the folder is cleaned.
TRANSIENT_MARKERS = ("\\appdata\\local\\temp\\", "\\inetcache\\", "\\content.outlook\\",
                     "\\temporary internet files\\", ".zip\\")
MIN_PYTHON = (3, 10)
# Microsoft Defender's Attack Surface Reduction rule "Block all Office applications from creating
# child processes": with it on, Excel cannot start python.exe, which is how every button works.
ASR_CHILD_PROCESSES = "D4F940AB-401B-4EFC-AADC-AD5F3C50688A"
ASR_KEYS = (  # set by Group Policy or Intune, then by Set-MpPreference
    r"SOFTWARE\Policies\Microsoft\Windows Defender\Windows Defender Exploit Guard\ASR\Rules",
    r"SOFTWARE\Microsoft\Windows Defender\Windows Defender Exploit Guard\ASR\Rules",
)
ASR_STATES = {"1": ERROR, "6": WARNING, "2": INFO}  # block, warn, audit; 0 or unset: off
# Excel's macro settings (Office 2016 and later are all "16.0"): policy first, then Trust Center.
EXCEL_SECURITY_KEYS = (r"Software\Policies\Microsoft\Office\16.0\Excel\Security",
                       r"Software\Microsoft\Office\16.0\Excel\Security")

RegistryReader = Callable[[str, str, str], "str | None"]  # (hive, key, value name) -> value or None


@dataclass(frozen=True)
class Check:
    """One finding: a stable key, its status (ok/info/warning/error) and a Vietnamese line."""

    key: str
    status: str
    message: str

    def record(self) -> dict[str, str]:
        return asdict(self)


def _check(key: str, status: str, **params: Any) -> Check:
    return Check(key, status, messages.text(f"doctor_{key}_{status}", **params))


def exit_code(checks: list[Check]) -> int:
    return 1 if any(c.status == ERROR for c in checks) else 0


def find_workbook(folder: str | Path = ".") -> Path | None:
    """The only ``.xlsm`` of a folder (Excel's lock files aside), if there is exactly one."""
    found = [p for p in Path(folder).glob("*.xlsm") if not p.name.startswith(("~$", ".~lock"))]
    return found[0].resolve() if len(found) == 1 else None


def run_doctor(workbook: str | Path | None = None, *, platform: str | None = None,
               defs: Definitions | None = None) -> list[Check]:
    """Every check, in the order a person fixes them. ``workbook``: the .xlsm to check too."""
    platform = platform or sys.platform
    defs = defs or get_definitions()
    checks = [python_check(), *package_checks(), pin_check(), excel_check(platform),
              *policy_checks(platform, read_registry), *addin_checks(platform)]
    if workbook is not None:
        checks += workbook_checks(Path(workbook), platform, defs)
    else:
        checks.append(Check("workbook", INFO, messages.text("doctor_workbook_none")))
    return checks


# ---------------------------------------------------------------------------- this PC
def python_check() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    status = OK if sys.version_info[:2] >= MIN_PYTHON else ERROR
    return _check("python", status, version=version, path=sys.executable)


def package_checks() -> list[Check]:
    """xltools and every package it requires on this Python (setup.cfg install_requires)."""
    out = [Check("xltools", OK, messages.text("doctor_xltools_ok", version=__version__))]
    names = []
    for line in requirements():
        requirement, _, marker = line.partition(";")
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
        if match and _marker_applies(marker.strip() or None) and match.group(1) not in names:
            names.append(match.group(1))
    for name in names:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out.append(_check("package", ERROR, name=name))
            continue
        out.append(_check("package", OK, name=name, version=version))
    return out


def requirements() -> list[str]:
    """xltools' requirement lines (installed metadata, else install_requires of a checkout's setup.cfg)."""
    try:
        return list(importlib.metadata.requires("xltools") or [])
    except importlib.metadata.PackageNotFoundError:
        parser = configparser.ConfigParser()
        parser.read(Path(__file__).resolve().parent.parent / "setup.cfg", encoding="utf-8")
        lines = parser.get("options", "install_requires", fallback="").splitlines()
        return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def pinned_xlwings() -> str | None:
    """The xlwings version xltools pins for this Python."""
    for line in requirements():
        found = re.match(r"\s*xlwings\s*==\s*([\w.]+)\s*(?:;\s*(.+))?$", line.strip())
        if found and _marker_applies(found.group(2)):
            return found.group(1)
    return None


def _marker_applies(marker: str | None) -> bool:
    """Whether an environment marker (e.g. python_version >= "3.11") holds here."""
    if not marker:
        return True
    if "extra" in marker:  # an optional group (the tests' packages): not needed by the buttons
        return False
    try:
        from packaging.markers import Marker
    except ImportError:  # packaging is a dependency (the bundle); an install that lost it still reads python_version
        return _python_version_applies(marker)
    try:
        return bool(Marker(marker).evaluate())
    except Exception:  # noqa: BLE001 - an unreadable marker: do not guess
        return True


def _python_version_applies(marker: str) -> bool:
    """A ``python_version <op> "X.Y"`` marker (the only kind setup.cfg uses); True for any other."""
    found = re.fullmatch(r"""\s*python_version\s*(<=|>=|==|!=|<|>)\s*["']([\d.]+)["']\s*""", marker)
    if not found:
        return True
    here = sys.version_info[:2]
    wanted = tuple(int(p) for p in found.group(2).split("."))[:2]
    return {"<": here < wanted, "<=": here <= wanted, ">": here > wanted, ">=": here >= wanted,
            "==": here == wanted, "!=": here != wanted}[found.group(1)]


def pin_check() -> Check:
    from .io.xlsm import xlwings_version

    installed, pinned = xlwings_version(), pinned_xlwings()
    if installed is None:
        return _check("pin", ERROR, pinned=pinned or "?", installed="-")
    if pinned and pinned != installed:
        return _check("pin", ERROR, pinned=pinned, installed=installed)
    return _check("pin", OK, pinned=pinned or installed, installed=installed)


def excel_check(platform: str) -> Check:
    """Excel installed and registered for COM (Windows registry, no Excel started)."""
    if not platform.startswith("win") or sys.platform != "win32":  # winreg exists only on Windows
        return _check("excel", WARNING)
    try:
        import winreg

        with winreg.OpenKey(winreg.HKEY_CLASSES_ROOT, r"Excel.Application\CLSID"):
            pass
    except ImportError:
        return _check("excel", WARNING)
    except OSError:
        return _check("excel", ERROR)
    return _check("excel", OK)


def live_checks(workbook: str | Path, platform: str | None = None, *, app: Any = None,
                addin: str | Path | None = None) -> list[Check]:
    """``doctor --live``: every button clicked once on a copy in a hidden Excel (Windows)."""
    platform = platform or sys.platform
    if app is None and (not platform.startswith("win") or sys.platform != "win32"):
        return [_check("live_windows", ERROR)]
    path = Path(workbook)
    if not path.is_file():
        return [_check("workbook", ERROR, file=str(path))]
    from .excel import live_check

    return [_check(key, status, **params) for key, status, params in live_check(path, app=app, addin=addin)]


def read_registry(hive: str, key: str, name: str) -> str | None:
    """One registry value as text (``hive``: "HKLM" or "HKCU"); None where it is not set or
    where there is no registry."""
    if sys.platform != "win32":
        return None
    import winreg

    root = {"HKLM": winreg.HKEY_LOCAL_MACHINE, "HKCU": winreg.HKEY_CURRENT_USER}[hive]
    try:
        with winreg.OpenKey(root, key) as handle:
            value, _ = winreg.QueryValueEx(handle, name)
    except OSError:
        return None
    return str(value)


def policy_checks(platform: str, read: RegistryReader) -> list[Check]:
    """What Windows and Office policy allow the buttons: the ASR rule and Excel's macro settings."""
    if not platform.startswith("win"):
        return []
    out: list[Check] = []
    state = next((v for v in (read("HKLM", k, ASR_CHILD_PROCESSES) for k in ASR_KEYS) if v is not None), None)
    status = ASR_STATES.get((state or "0").strip(), OK)
    out.append(_check("asr", status, rule=ASR_CHILD_PROCESSES))
    settings = {name: next((v for v in (read("HKCU", k, name) for k in EXCEL_SECURITY_KEYS) if v is not None), None)
                for name in ("VBAWarnings", "blockcontentexecutionfrominternet")}
    trusted_off = next((v for v in (read("HKCU", k + "\\Trusted Locations", "AllLocationsDisabled")
                                    for k in EXCEL_SECURITY_KEYS) if v is not None), None)
    if (trusted_off or "0").strip() == "1":  # XLSTART is a trusted location only while they are allowed
        out.append(_check("trusted_locations", ERROR))
    level = (settings["VBAWarnings"] or "2").strip()
    out.append(_check("macros", {"4": WARNING, "3": WARNING}.get(level, OK), level=level))
    if (settings["blockcontentexecutionfrominternet"] or "0").strip() == "1":
        out.append(_check("internet_macros", INFO))
    return out


def addin_checks(platform: str, environ: Mapping[str, str] | None = None) -> list[Check]:
    """The add-in in the user's XLSTART: there or not; if there, its conf as a workbook's."""
    if not platform.startswith("win"):
        return []
    from .io.addin import ADDIN_NAME, xlstart_folder
    from .io.xlsm import conf_from_file

    try:
        path = xlstart_folder(platform, environ) / ADDIN_NAME
    except XltoolsError:
        return []
    if not path.is_file():
        return [_check("addin", INFO, path=str(path))]
    try:
        conf = conf_from_file(path) or {}
    except Exception as exc:  # noqa: BLE001 - a damaged add-in is a finding
        return [Check("addin", ERROR, messages.text("unreadable", file=path.name, reason=str(exc) or type(exc).__name__))]
    return [_check("addin", OK, path=str(path)), *interpreter_checks(conf, platform), *temp_checks(conf, environ)]


def temp_checks(conf: Mapping[str, str], environ: Mapping[str, str] | None = None) -> list[Check]:
    """The folder of the buttons' error log (xlwings' ``TEMP DIR``, default TEMP) must be ASCII."""
    import os

    environ = os.environ if environ is None else environ
    folder = (conf.get("TEMP DIR") or "").strip() or environ.get("TEMP") or environ.get("TMP") or ""
    if folder and not folder.isascii():
        return [_check("temp", WARNING, path=folder)]
    return []


# ---------------------------------------------------------------------------- the workbook
def workbook_checks(path: Path, platform: str, defs: Definitions) -> list[Check]:
    from .io.reader import read_workbook
    from .io.xlsm import conf_from_file, read_modules, vba_xlwings_version, xlwings_version

    out: list[Check] = []
    if not path.is_file():
        return [_check("workbook", ERROR, file=str(path))]
    if path.suffix.lower() != ".xlsm":
        return [_check("workbook", WARNING, file=path.name)]
    out.append(_check("workbook", OK, file=str(path)))
    try:
        modules = read_modules(path)
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign file is a finding
        return out + [_unreadable_vba(path, str(exc) or type(exc).__name__)]
    source = next((src for src in modules.values() if vba_xlwings_version(src)), None)
    vba = vba_xlwings_version(source) if source else None
    installed = xlwings_version()
    if vba is None:
        out.append(_unreadable_vba(path, messages.text("doctor_vba_no_module")))
    elif vba != installed:
        from .io.vba_refresh import VbaXlwings, dll_names, installed_vba

        fix = installed_vba() or VbaXlwings("-", ())
        out.append(_check("vba", ERROR, vba=vba, dll=VbaXlwings(vba, dll_names(source or "")).dll,
                          installed=installed or "-", installed_dll=fix.dll, file=path.name, path=str(path)))
    else:
        out.append(_check("vba", OK, vba=vba))
    try:
        conf = conf_from_file(path, defs)
    except Exception as exc:  # noqa: BLE001 - a VBA project that reads but a damaged sheet
        return out + [Check("conf", ERROR, messages.text("unreadable", file=path.name, reason=str(exc) or type(exc).__name__))]
    if conf is None:
        out.append(_check("conf", ERROR, file=path.name))
    else:
        out.append(_check("conf", OK, file=path.name))
        out += interpreter_checks(conf, platform)
        if platform.startswith("win"):
            out += temp_checks(conf)
    out += location_checks(path, platform)
    try:
        with warnings.catch_warnings():  # the VBA version is the "vba" check above, not a warning
            warnings.simplefilter("ignore", XltoolsWarning)
            book = read_workbook(path, defs, strict=False, sheets=["settings"])
        out += folder_checks(path, book.settings, defs)
    except XltoolsError as err:
        out.append(Check("settings", ERROR, err.vi))
    return out


def _unreadable_vba(path: Path, reason: str) -> Check:
    """The VBA project cannot be read, or has no xlwings module: the version check cannot run."""
    return Check("vba", ERROR, messages.text("unreadable", file=path.name, reason=reason))


def interpreter_checks(conf: dict[str, str], platform: str) -> list[Check]:
    out: list[Check] = []
    interpreter = (conf.get("Interpreter_Win") or "").strip()
    windows = platform.startswith("win")
    if interpreter:
        exists = Path(interpreter).is_file() if windows else True
        if windows and not exists:
            out.append(_check("interpreter", ERROR, path=interpreter))
        else:
            out.append(_check("interpreter", OK if windows else INFO, path=interpreter))
        if not interpreter.isascii():
            out.append(_check("ascii", WARNING, path=interpreter))
        if windows and exists:
            out.append(import_check(interpreter))
    else:
        found = shutil.which("python") if windows else None
        if windows and (not found or "windowsapps" in found.lower()):
            out.append(_check("interpreter_path", ERROR))
        else:
            out.append(_check("interpreter_path", OK if windows else INFO, path=found or "python"))
    for entry in filter(None, (conf.get("PYTHONPATH") or "").split(";")):
        if windows and not Path(entry).is_dir():
            out.append(_check("pythonpath", WARNING, path=entry))
    out.append(udf_server_check(conf))
    return out


def udf_server_check(conf: Mapping[str, str]) -> Check:
    """Which mode the buttons run in. With ``Use UDF Server`` off (as built) every click starts a
    new Python through cmd.exe (about a second, always the installed xltools). On, RunPython goes
    through xlwings' DLL (``xlwings64-<version>.dll`` beside the interpreter) to one Python kept
    alive between clicks: faster, but an upgraded xltools is used only after Excel restarts, a
    failed click leaves that process's state behind, and the handlers' start-up checks see no
    ``--from_xl`` arguments; not what the toolkit is tested for."""
    value = next((v for k, v in conf.items() if k.strip().upper() == "USE UDF SERVER"), "False")
    on = str(value).strip().lower() in ("true", "1", "yes")
    return _check("udf_server", WARNING if on else OK)


def import_check(interpreter: str) -> Check:
    """The configured Python can import the handlers' module (what a button runs first)."""
    try:
        run = subprocess.run([interpreter, "-c", "import xltools, xlwings; print(xlwings.__version__)"],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return _check("import", ERROR, path=interpreter, reason=str(exc))
    if run.returncode != 0:
        last = (run.stderr.strip().splitlines() or ["?"])[-1]
        return _check("import", ERROR, path=interpreter, reason=last)
    return _check("import", OK, path=interpreter, version=run.stdout.strip())


def location_checks(path: Path, platform: str) -> list[Check]:
    out: list[Check] = []
    full = str(path.resolve())
    if any(marker in full.lower() for marker in CLOUD_MARKERS):
        out.append(_check("cloud", WARNING, path=full))
    if any(marker in full.lower().replace("/", "\\") for marker in TRANSIENT_MARKERS):
        out.append(_check("transient", WARNING, path=full))
    if platform.startswith("win"):
        zone = Path(full + ":Zone.Identifier")
        try:
            blocked = zone.exists()
        except OSError:
            blocked = False
        if blocked:
            out.append(_check("motw", ERROR, file=path.name))
    if not full.isascii():
        out.append(_check("workbook_ascii", INFO, path=full))
    return out


def folder_checks(path: Path, settings: dict[str, Any], defs: Definitions) -> list[Check]:
    out: list[Check] = []
    for key in ("inbox_dir", "outbox_dir"):
        value = str(settings.get(key) or "").strip()
        label = defs.setting(key).label
        if not value:
            out.append(_check("folder_unset", WARNING, label=label))
            continue
        folder = Path(value) if Path(value).is_absolute() else path.parent / value
        if folder.is_dir():
            out.append(_check("folder", OK, label=label, path=str(folder)))
        else:
            out.append(_check("folder", WARNING, label=label, path=str(folder)))
    return out


def render(checks: list[Check]) -> str:
    marks = {OK: "[OK]  ", INFO: "[--]  ", WARNING: "[!]   ", ERROR: "[LỖI] "}
    lines = [marks[c.status] + c.message for c in checks]
    errors = sum(c.status == ERROR for c in checks)
    warnings = sum(c.status == WARNING for c in checks)
    lines.append("")
    lines.append(messages.text("doctor_summary", errors=errors, warnings=warnings))
    return "\n".join(lines)

