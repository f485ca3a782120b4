"""The VBA of an existing .xlsm against the installed xlwings: read its version, refresh it.

The VBA project of ``SoTheoDoi_<xã>.xlsm`` (``io.xlsm``) carries the xlwings module of the
xlwings it was built with: ``XLWINGS_VERSION`` and the DLL its ``Declare … Lib`` lines load
(``xlwings64-<version>.dll``). After a ``pip install -U`` moves xlwings, every button of an
older workbook fails. This module

- reads the version (and the DLL names) an .xlsm's xlwings module names, cheaply: only that
  module's stream is decompressed (``workbook_vba``, ``vba_mismatch``), and
  ``warn_vba_mismatch`` turns a mismatch into one ``XltoolsWarning`` (``reader.check_file``
  calls it for an .xlsm only, so reading an .xlsx costs nothing more);
- rebuilds the VBA project of an existing .xlsm (``refresh_vba``) with ``xlsm.build_vba_project``
  (the installed quickstart's modules, ours from ``macros/``, the user's own standard modules
  kept) and puts it in place of ``xl/vbaProject.bin``: every other part of the package (the
  sheets and their data, the buttons' drawings, the ``xlwings.conf`` sheet) is copied byte for
  byte. Code that would be lost (a document module with code, a class module of the user) is a
  refusal before anything is written.
"""
from __future__ import annotations

import functools
import os
import re
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..core import messages
from ..core.errors import InputError, WorkbookError, XltoolsWarning
from . import xlsm

_DLL_RE = re.compile(r'\bLib\s+"([^"]+\.dll)"', re.IGNORECASE)
_DOCUMENT_BASE_RE = re.compile(r'Attribute\s+VB_Base\s*=\s*"0\{000208', re.IGNORECASE)  # workbook, sheet
_NO_CODE_RE = re.compile(r"^\s*(?:Attribute\s|Option\s|'|$)", re.IGNORECASE)


@dataclass(frozen=True)
class VbaXlwings:
    """What an xlwings VBA module names: its ``XLWINGS_VERSION`` and the DLLs it loads."""

    version: str
    dlls: tuple[str, ...]

    @property
    def dll(self) -> str:
        """The DLL names, for a message ("xlwings64-0.30.0.dll, xlwings32-0.30.0.dll")."""
        return ", ".join(self.dlls) or "-"


@dataclass(frozen=True)
class _Module:
    name: str
    standard: bool  # MODULETYPE procedural; otherwise a document or class module
    source: str

    @property
    def document(self) -> bool:
        return not self.standard and bool(_DOCUMENT_BASE_RE.search(self.source))

    @property
    def code(self) -> list[str]:
        """The lines that are code (attributes, options, comments and blank lines left out)."""
        return [line.strip() for line in self.source.splitlines() if not _NO_CODE_RE.match(line)]


def dll_names(source: str) -> tuple[str, ...]:
    """The DLLs an xlwings VBA module's ``Declare … Lib "…"`` lines load, in order, once each."""
    return tuple(dict.fromkeys(_DLL_RE.findall(source)))


def xlwings_of(source: str) -> VbaXlwings | None:
    version = xlsm.vba_xlwings_version(source)
    return VbaXlwings(version, dll_names(source)) if version else None


# -- reading only what is needed ----------------------------------------------------
def _vba_part(path: str | Path) -> bytes | None:
    """The ``xl/vbaProject.bin`` part of an OOXML package (None without one, or unreadable)."""
    try:
        with zipfile.ZipFile(path) as zf:
            if xlsm.VBA_PART not in zf.namelist():
                return None
            return zf.read(xlsm.VBA_PART)
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, EOFError):
        return None


def _project(data: bytes):
    from pyopenvba.cfb import CFB  # pinned (setup.cfg); module sources are decompressed lazily
    from pyopenvba.vba import VBAModuleKind, parse_vba_project

    project = parse_vba_project(CFB.from_bytes(data))
    return project, VBAModuleKind


def _modules(data: bytes) -> dict[str, _Module]:
    """Every module of a vbaProject.bin: name -> kind and source."""
    project, kind = _project(data)
    return {m.name: _Module(m.name, m.kind == kind.standard, m.source) for m in project.modules}


def workbook_vba(path: str | Path) -> VbaXlwings | None:
    """The xlwings version and DLLs named by an .xlsm's VBA (None: no VBA project, no xlwings
    module, or a project that cannot be read). Only the xlwings module's stream is decompressed."""
    data = _vba_part(path)
    if data is None:
        return None
    try:
        project, _kind = _project(data)
        module = next((m for m in project.modules if m.name.casefold() == xlsm.XLWINGS_MODULE.casefold()), None)
        return xlwings_of(module.source) if module is not None else None
    except Exception:  # noqa: BLE001 - a damaged project: doctor tells it; reading goes on
        return None


@functools.lru_cache(maxsize=1)
def _installed_modules(quickstart: str) -> dict[str, _Module]:
    data = _vba_part(quickstart)
    if data is None:
        raise WorkbookError("xlsm_no_quickstart", file=xlsm.QUICKSTART)
    return _modules(data)


def quickstart_modules() -> dict[str, _Module]:
    """The modules of the installed xlwings' quickstart workbook (its sample ``Module1`` too)."""
    return _installed_modules(str(xlsm.quickstart_workbook()))


def installed_vba() -> VbaXlwings | None:
    """What the installed xlwings' VBA module names (None when xlwings is not installed)."""
    version = xlsm.xlwings_version()
    if version is None:
        return None
    try:
        module = quickstart_modules().get(xlsm.XLWINGS_MODULE)
    except WorkbookError:
        module = None
    found = xlwings_of(module.source) if module else None
    return found or VbaXlwings(version, ())


def vba_mismatch(path: str | Path) -> tuple[VbaXlwings, VbaXlwings] | None:
    """(the workbook's, the installed) when an .xlsm's xlwings VBA is not the installed xlwings'."""
    found = workbook_vba(path)
    if found is None:
        return None
    installed = installed_vba()
    if installed is None or found.version == installed.version:
        return None
    return found, installed


def mismatch_text(path: Path, found: VbaXlwings, installed: VbaXlwings, lang: str = "vi") -> str:
    return messages.text("xlsm_vba_mismatch", lang, file=path.name, path=str(path), vba=found.version,
                         dll=found.dll, installed=installed.version, installed_dll=installed.dll)


_SEEN: dict[tuple[str, int, int], tuple[VbaXlwings, VbaXlwings] | None] = {}


def warn_vba_mismatch(path: str | Path) -> None:
    """One ``XltoolsWarning`` when an .xlsm's VBA names another xlwings than the installed one.

    Only for a name ending in .xlsm (an .xlsx is not opened again); the answer is kept per file
    state, so a verb that reads and then writes the workbook reads the VBA once."""
    path = Path(path)
    if path.suffix.lower() != ".xlsm":
        return
    try:
        stat = path.stat()
    except OSError:
        return
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _SEEN:
        if len(_SEEN) > 32:
            _SEEN.clear()
        _SEEN[key] = vba_mismatch(path)
    found = _SEEN[key]
    if found is not None:
        warnings.warn(XltoolsWarning(mismatch_text(path, *found), mismatch_text(path, *found, lang="en")),
                      stacklevel=3)


# -- refreshing ---------------------------------------------------------------------
@dataclass
class RefreshPlan:
    """What ``refresh_vba`` does: the sources given to ``build_vba_project`` and the changes."""

    sources: dict[str, str]
    changes: list[str]


def _macro_file_names() -> dict[str, str]:
    return {xlsm.module_name(p.read_text(encoding="utf-8"), p.stem): p.name for p in xlsm.macro_files()}


def plan_refresh(path: str | Path) -> RefreshPlan:
    """The new VBA project of an .xlsm, and the changes it makes (Vietnamese, one line each).

    Raises ``WorkbookError`` when the file has no VBA project and ``InputError`` when the user's
    own code would be lost (a document module with code, a class module not from xlwings)."""
    path = Path(path)
    data = _vba_part(path)
    if data is None:
        raise WorkbookError("xlsm_refresh_no_vba", file=path.name)
    try:
        old = _modules(data)
    except Exception as exc:  # noqa: BLE001 - a damaged project: one line
        raise WorkbookError("unreadable", file=path.name, reason=f"{xlsm.VBA_PART}: {exc}") from None
    quick = quickstart_modules()
    ours = xlsm.macro_sources()
    files = _macro_file_names()
    folded_quick = {n.casefold(): m for n, m in quick.items()}
    folded_ours = {n.casefold() for n in ours}
    sources = dict(ours)
    changes: list[str] = []
    new_version = (installed_vba() or VbaXlwings("-", ())).version
    for name, module in old.items():
        key = name.casefold()
        if key in folded_ours:
            continue
        if key == xlsm.SAMPLE_MODULE.casefold():
            changes.append(messages.text("vba_refresh_removed", module=name))
        elif module.document:
            # rebuilt from the quickstart (or by Excel from the sheets' code names): no code may be lost
            kept = folded_quick.get(key)
            if module.code and (kept is None or module.code != kept.code):
                raise InputError("xlsm_refresh_foreign_code", file=path.name, module=name)
        elif key in folded_quick:
            continue  # xlwings' own (the xlwings module, Dictionary): replaced below
        elif module.standard and module.source.isascii():
            sources[name] = module.source
            changes.append(messages.text("vba_refresh_kept", module=name))
        elif module.code:
            raise InputError("xlsm_refresh_foreign_code", file=path.name, module=name)
    old_folded = {n.casefold(): m for n, m in old.items()}
    for name, module in quick.items():
        if name == xlsm.SAMPLE_MODULE or module.document:
            continue
        before = old_folded.get(name.casefold())
        if before is not None and before.source == module.source:
            continue
        if name == xlsm.XLWINGS_MODULE:
            found = xlwings_of(before.source) if before is not None else None
            changes.append(messages.text("vba_refresh_xlwings", old=found.version if found else "-",
                                         new=new_version, dll=(installed_vba() or VbaXlwings("-", ())).dll))
        else:
            changes.append(messages.text("vba_refresh_quickstart", module=name, new=new_version))
    for name, source in ours.items():
        before = old_folded.get(name.casefold())
        if before is None:
            changes.append(messages.text("vba_refresh_added", module=name, file=files.get(name, name)))
        elif before.source != source:
            changes.append(messages.text("vba_refresh_updated", module=name, file=files.get(name, name)))
    return RefreshPlan(sources, changes)


def refresh_vba(path_in: str | Path, path_out: str | Path) -> list[str]:
    """Write ``path_out``: ``path_in`` with its VBA project rebuilt for the installed xlwings.

    The xlwings module and the rest of xlwings' quickstart come from the installed xlwings, our
    modules from ``macros/``, the user's own standard modules are kept; every other part of the
    package (sheets, data, buttons, the ``xlwings.conf`` sheet) is copied unchanged. Returns the
    changes (Vietnamese, from ``workbook/messages.toml``); none: ``path_out`` is a plain copy.
    ``path_out`` may be ``path_in``; it is replaced in one step (the caller keeps the backup).
    """
    path_in, path_out = Path(path_in), Path(path_out)
    plan = plan_refresh(path_in)
    with tempfile.TemporaryDirectory(prefix="xltools-vba-") as tmp:
        staged = Path(tmp) / "refreshed.xlsm"
        if plan.changes:
            project = xlsm.build_vba_project(Path(tmp) / "vbaProject.bin", plan.sources)
            xlsm._replace_part(path_in, staged, xlsm.VBA_PART, project.read_bytes())
        else:
            staged.write_bytes(path_in.read_bytes())
        fd, name = tempfile.mkstemp(prefix=".~xltools-", suffix=".xlsm", dir=path_out.parent)
        os.close(fd)
        try:
            Path(name).write_bytes(staged.read_bytes())
            os.replace(name, path_out)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
    _SEEN.clear()
    return plan.changes
