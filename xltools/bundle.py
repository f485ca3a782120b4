"""``xltools bundle``: everything a Windows PC without internet needs to install xltools.

The bundle is one zip, ``xltools-windows-<version>.zip``, holding

- ``wheels/``: the project's own wheel and every dependency as a wheel for 64-bit Windows,
  for each supported Python version (``--only-binary=:all:``: nothing is ever built from
  source on the commune's PC, and a dependency without a Windows wheel fails the bundle here);
- ``install.cmd``: double-clicked, it runs ``python -m pip install --no-index --find-links
  wheels xltools`` (the Python launcher ``py -3`` when there is one), then installs the add-in;
- the setup guide.

pip evaluates environment markers against the Python that runs it, not against
``--platform``, so a Windows-only dependency (pywin32 for xlwings) would be left out by a
plain ``pip download`` run on Linux. The bundle therefore closes the set itself: it reads
every downloaded wheel's ``Requires-Dist``, evaluates the markers for Windows and the target
Python, and downloads what is missing until nothing is.

``platform="here"`` builds the same bundle for this machine's platform and Python: the tests
install it offline into a fresh virtual environment with install.cmd's own pip command.
"""
from __future__ import annotations

import email.parser
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags, sys_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

from . import __version__
from .core import messages
from .core.errors import InputError, XltoolsError

WINDOWS_PLATFORM = "win_amd64"
HERE = "here"
DEFAULT_PYTHONS = ("3.10", "3.11", "3.12", "3.13")
PROJECT = "xltools"
# The one pip command of install.cmd ("{wheels}": the bundle's wheels folder); the tests run
# the same arguments in a fresh virtual environment.
PIP_ARGS = ("-m", "pip", "install", "--no-index", "--find-links", "{wheels}", PROJECT)
PIP_LINE = "%PY% " + " ".join(PIP_ARGS).replace("{wheels}", '"%~dp0wheels"')
GUIDE = Path(__file__).resolve().parent.parent / "docs" / "windows-setup.md"

Runner = Callable[[list[str]], subprocess.CompletedProcess[str]]


class BundleError(XltoolsError):
    exit_code = 1


@dataclass(frozen=True)
class Target:
    """One Python of the PCs the bundle is for: its version and platform (``here`` = this one)."""

    python: str  # "3.11"
    platform: str  # "win_amd64" or "here"

    @property
    def environment(self) -> dict[str, str]:
        """The marker environment pip would see on that PC."""
        env = {k: str(v) for k, v in default_environment().items()}
        if self.platform != HERE:
            env.update(os_name="nt", sys_platform="win32", platform_system="Windows", platform_machine="AMD64",
                       platform_release="10", implementation_name="cpython",
                       platform_python_implementation="CPython")
        env.update(python_version=self.python, python_full_version=self.python + ".0", extra="")
        return env

    @property
    def tags(self) -> set[Tag]:
        if self.platform == HERE:
            return set(sys_tags())
        version = tuple(int(p) for p in self.python.split("."))
        return set(cpython_tags(version, platforms=[self.platform])) | \
            set(compatible_tags(version, f"cp{version[0]}{version[1]}", platforms=[self.platform]))

    def pip_options(self) -> list[str]:
        if self.platform == HERE:
            return ["--only-binary=:all:"]
        return ["--only-binary=:all:", "--platform", self.platform, "--python-version", self.python,
                "--implementation", "cp"]


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, encoding="utf-8", errors="replace", check=False)


def project_root() -> Path:
    """The source checkout xltools runs from (its setup.cfg); the bundle is built from it."""
    root = Path(__file__).resolve().parent.parent
    if not (root / "setup.cfg").is_file() or not (root / "pyproject.toml").is_file():
        raise InputError("bundle_needs_source", folder=root)
    return root


def _pip(args: list[str], run: Runner) -> None:
    done = run([sys.executable, "-m", "pip", *args])
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr or done.stdout or "").splitlines()
                 if ln.strip() and not ln.startswith("WARNING: Location")]
        raise BundleError("bundle_pip_failed", detail=" / ".join(lines[-3:]) or f"exit {done.returncode}")


def wheel_metadata(wheel: Path) -> tuple[str, str, list[str]]:
    """(canonical name, version, Requires-Dist lines) of a wheel, read from its METADATA."""
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1)
        meta = email.parser.Parser().parsestr(zf.read(name).decode("utf-8"), headersonly=True)
    return canonicalize_name(meta["Name"]), meta["Version"], meta.get_all("Requires-Dist") or []


def wheels_for(folder: Path, target: Target) -> dict[str, tuple[str, list[str]]]:
    """The wheels in ``folder`` that ``target`` can install: name -> (version, requirements)."""
    tags = target.tags
    found: dict[str, tuple[str, list[str]]] = {}
    for wheel in sorted(folder.glob("*.whl")):
        _, _, _, wheel_tags = parse_wheel_filename(wheel.name)
        if wheel_tags & tags:
            name, version, requires = wheel_metadata(wheel)
            found[name] = (version, requires)
    return found


def missing_requirements(roots: Iterable[str], have: dict[str, tuple[str, list[str]]], target: Target) -> list[str]:
    """Requirements (of ``roots`` and of every wheel in ``have``) that apply on ``target`` and
    that no wheel in ``have`` satisfies, markers dropped."""
    env = target.environment
    wanted = [Requirement(r) for r in roots]
    for _, requires in have.values():
        wanted.extend(Requirement(r) for r in requires)
    missing: dict[str, str] = {}
    for req in wanted:
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        name = canonicalize_name(req.name)
        version = have.get(name, (None, []))[0]
        if version is None or not req.specifier.contains(version, prereleases=True):
            req.marker = None
            missing[str(req)] = str(req)
    return sorted(missing)


def collect_wheels(roots: Sequence[str], folder: Path, target: Target, run: Runner = _run, rounds: int = 6) -> None:
    """Download into ``folder`` a wheel of every requirement ``target`` needs, closed over markers."""
    todo = missing_requirements(roots, {}, target)  # the markers of the target, not of this Python
    for _ in range(rounds):
        _pip(["download", "-q", "--disable-pip-version-check", "-d", str(folder), *target.pip_options(), *todo], run)
        todo = missing_requirements(roots, wheels_for(folder, target), target)
        if not todo:
            return
    raise BundleError("bundle_unresolved", python=target.python, what=", ".join(todo))


def install_script() -> str:
    """install.cmd: the Python launcher if there is one, pip offline from wheels/, the add-in."""
    lines = [
        "@echo off",
        "chcp 65001 >nul",
        "setlocal",
        "set PY=python",
        "where py >nul 2>nul && set PY=py -3",
        f"echo Đang cài xltools {__version__} (không cần mạng)…",
        PIP_LINE,
        "if errorlevel 1 (",
        "  echo Cài không thành công. Hãy xem thông báo ở trên và hướng dẫn windows-setup.md.",
        "  pause",
        "  exit /b 1",
        ")",
        "%PY% -m xltools addin install",
        "%PY% -m xltools doctor",
        "echo Xong. Hãy khởi động lại Excel: các nút ở thẻ BCĐ 138.",
        "pause",
    ]
    return "\r\n".join(lines) + "\r\n"


def pip_command(python: str | Path, bundle_folder: Path) -> list[str]:
    """install.cmd's pip command as arguments, for ``python`` and an unpacked bundle."""
    wheels = str(bundle_folder / "wheels")
    return [str(python), *(a.replace("{wheels}", wheels) for a in PIP_ARGS)]


def requirements_of(wheel: Path) -> list[str]:
    return [r for r in wheel_metadata(wheel)[2] if "extra ==" not in r]


def build_bundle(out_dir: str | Path, pythons: Sequence[str] = DEFAULT_PYTHONS, *,
                 platform: str = WINDOWS_PLATFORM, run: Runner = _run) -> Path:
    """Write ``xltools-windows-<version>.zip`` into ``out_dir``; return its path."""
    root = project_root()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"xltools-windows-{__version__}" if platform != HERE else f"xltools-here-{__version__}"
    with tempfile.TemporaryDirectory(prefix="xltools-bundle-") as tmp:
        top = Path(tmp) / name
        wheels = top / "wheels"
        wheels.mkdir(parents=True)
        _pip(["wheel", "-q", "--no-deps", "--disable-pip-version-check", "-w", str(wheels), str(root)], run)
        own = next(wheels.glob(f"{PROJECT}-*.whl"), None)
        if own is None:
            raise BundleError("bundle_pip_failed", detail=messages.text("bundle_no_wheel", folder=root))
        roots = requirements_of(own)
        for python in pythons:
            collect_wheels(roots, wheels, Target(python, platform), run)
        (top / "install.cmd").write_bytes(install_script().encode("utf-8"))
        if GUIDE.is_file():
            shutil.copy2(GUIDE, top / GUIDE.name)
        target = out_dir / f"{name}.zip"
        partial = target.with_name(target.name + ".part")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as zf:  # wheels are zips already
            for file in sorted(top.rglob("*")):
                if file.is_file():
                    zf.write(file, file.relative_to(top.parent).as_posix())
        partial.replace(target)
    return target
