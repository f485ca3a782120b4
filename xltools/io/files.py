"""Safe file handling: atomic replace, timestamped backups, Excel lock files, checksums.

Before anything is written, the target is checked: a workbook open in Excel or LibreOffice
(its lock file), a read-only workbook and a folder that cannot be written are refused with
one line. Every write goes to a temporary ``.xltools-*`` file in the target's folder that
replaces the target once complete; the backup in ``Sao_luu/`` is written the same way. The
leftovers of a write that was killed are removed by the next write into that folder when
they are older than ``LEFTOVER_AGE`` and no process holds them (see ``sweep_leftovers``).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import errno
import getpass
import hashlib
import os
import re
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from ..core import messages
from ..core.errors import WorkbookError, WriteError

try:  # POSIX: a write in progress holds an advisory lock on its temporary file
    import fcntl
except ImportError:  # Windows: an open file cannot be deleted, which protects it the same way
    fcntl = None  # type: ignore[assignment]

BACKUP_DIR = "Sao_luu"  # beside the workbook; Vietnamese, as users see it
BACKUPS_KEPT = 20
TEMP_PREFIX = ".xltools-"  # temporary files of a write in progress (hidden on Linux/macOS)
LEFTOVER_AGE = 3600.0  # seconds: an untouched temporary file older than this is a dead write's
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, or any Office file with a password
ODS_MARK = b"mimetypeapplication/vnd.oasis.opendocument"  # the first, stored member of every .ods/.odt
SNIFF_BYTES = 4096


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def lock_file(path: str | Path) -> Path | None:
    """The lock file Excel (``~$name``) or LibreOffice (``.~lock.name#``) keeps beside an open file."""
    path = Path(path)
    for name in (f"~${path.name}", f"~${path.name[2:]}", f".~lock.{path.name}#"):
        candidate = path.with_name(name)
        if candidate.exists():
            return candidate
    return None


def refuse_if_open(path: str | Path) -> None:
    """Refuse to write ``path``: open in Excel/LibreOffice, read-only, or in a folder that cannot
    be written. Called before a verb reads anything it would write back."""
    lock = lock_file(path)
    if lock is not None:
        raise WriteError("workbook_locked", file=str(path), lock=lock.name)
    check_writable(path)


# ---------------------------------------------------------------------------- what a file is
def sniff(head: bytes, names: set[str] | None = None) -> str | None:
    """The catalogue key saying why these bytes are not an .xlsx/.xlsm workbook, or None.

    ``head``: the file's first bytes (SNIFF_BYTES are enough); ``names``: the zip's member
    names when it opened as a zip. Decided by content, never by the file name's extension.
    An OLE file may also be an encrypted workbook: the caller looks for that first.
    """
    if not head:
        return "file_empty"
    if head[:8] == OLE_MAGIC:
        return "file_is_xls"
    if head[:2] == b"PK":
        if ODS_MARK in head[:128]:
            return "file_is_ods"
        if names is None:
            return "workbook_damaged"  # starts as a zip, does not open as one: truncated
        if "xl/workbook.xml" in names:
            return None
        if "xl/workbook.bin" in names:
            return "file_is_xlsb"
        # parts of a workbook without its directory: damaged; another zip (a .docx, .zip): not ours
        return "workbook_damaged" if any(n.startswith("xl/") for n in names) else "not_xlsx"
    sample = head.lstrip(b"\xef\xbb\xbf")
    if b"\x00" not in sample[:SNIFF_BYTES] or sample[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "file_is_text"  # CSV, an HTML or XML "Excel" export, a text file renamed
    return "not_xlsx"


def workbook_problem(path: str | Path) -> str | None:
    """``sniff`` of a file on disk (reads its head and its zip directory only)."""
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    names = None
    if head[:2] == b"PK" and ODS_MARK not in head[:128]:
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
            names = None
    return sniff(head, names)


_PART = re.compile(r"(?:item named|File not found|not found in archive)\s*['\"]([^'\"]+)['\"]", re.I)


def damaged_error(path: str | Path, exc: BaseException, *, sheet: str | None = None) -> WorkbookError | WriteError:
    """One line for a parser's failure on a file that passed ``sniff`` (openpyxl's multi-line
    'Unable to read workbook', calamine's XmlError …): damaged, naming the sheet or part
    when known; the parser's own words only in the English half, on one line."""
    path = Path(path)
    if isinstance(exc, OSError):  # not the file's content: no permission, a network share gone …
        return os_failure(exc, file=path)
    reason = " ".join(str(exc).split())[:200] or type(exc).__name__
    try:
        key = workbook_problem(path) if path.is_file() else None
    except OSError:
        key = None
    if key and key != "workbook_damaged":
        return WorkbookError(key, file=path.name)
    if sheet:
        return WorkbookError("workbook_damaged_sheet", file=path.name, sheet=sheet, reason=reason)
    found = _PART.search(str(exc))
    if found:
        return WorkbookError("workbook_damaged_part", file=path.name, part=found.group(1), reason=reason)
    return WorkbookError("workbook_damaged", file=path.name, reason=reason)


def os_reason(exc: OSError, lang: str = "vi") -> str:
    """An operating-system error in the catalogue's words (EACCES: no permission, ENOSPC: disk full …)."""
    key = {
        errno.EACCES: "os_reason_permission", errno.EPERM: "os_reason_permission",
        errno.ENOSPC: "os_reason_no_space", errno.ENOENT: "os_reason_not_found",
        errno.EROFS: "os_reason_read_only_disk", errno.EISDIR: "os_reason_is_folder",
    }.get(exc.errno or 0, "os_reason_other")
    return messages.text(key, lang, code=exc.errno or "?", reason=exc.strerror or type(exc).__name__)


def os_failure(exc: OSError, key: str = "os_error", *, file: str | Path | None = None) -> WriteError:
    """A WriteError for an OSError: the reason in Vietnamese in the Vietnamese half, in English
    in the English half (``key`` has {file} and {reason})."""
    name = str(file or exc.filename or "?")
    error = WriteError(key, file=name, reason=os_reason(exc))
    error.en = messages.text(key, "en", file=name, reason=os_reason(exc, "en"))
    error.args = (f"{error.vi} ({error.en})",)
    return error


# ---------------------------------------------------------------------------- may it be written
def is_read_only(path: str | Path) -> bool:
    """True when a normal user could not replace the file: no write bit for anyone (the Windows
    Read-only attribute, ``chmod a-w``) or no write access (``os.access``). Decided from the mode
    bits as well because the superuser's ``os.access`` ignores them."""
    mode = os.stat(path).st_mode
    return not mode & 0o222 or not os.access(path, os.W_OK)


def folder_writable(folder: str | Path) -> bool:
    """True when files can be created in ``folder`` (same rule as ``is_read_only``; on Windows a
    folder's Read-only attribute does not stop writes, so only ``os.access`` counts)."""
    if os.name == "nt":
        return os.access(folder, os.W_OK)
    return bool(os.stat(folder).st_mode & 0o222) and os.access(folder, os.W_OK | os.X_OK)


def check_writable(path: str | Path, *, backups: bool = True) -> None:
    """Refuse before anything is written: ``path`` read-only, its folder (or the nearest folder
    that exists, when it is to be created) not writable, or its Sao_luu/ not writable."""
    path = Path(path)
    if path.is_file() and is_read_only(path):
        raise WriteError("file_read_only", file=str(path))
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if folder.is_dir() and not folder_writable(folder):
        raise WriteError("folder_read_only", folder=str(folder))
    store = path.parent / BACKUP_DIR
    if backups and path.is_file() and store.is_dir() and not folder_writable(store):
        raise WriteError("folder_read_only", folder=str(store))


def ensure_folder(folder: str | Path) -> Path:
    """Create ``folder`` (and its parents) after checking it can be written: one line if not."""
    folder = Path(folder)
    check_writable(folder / "_", backups=False)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise os_failure(exc, "write_failed", file=folder) from None
    return folder


# ---------------------------------------------------------------------------- leftovers
def sweep_leftovers(folder: str | Path, *, age: float = LEFTOVER_AGE, now: float | None = None) -> list[Path]:
    """Remove the temporary files (``.xltools-*``) that killed writes left in ``folder``.

    The rule: a leftover is removed only when its last change is older than ``age`` (an hour;
    a write takes seconds) and no process holds it: a write in progress keeps an exclusive
    advisory lock on its temporary file (POSIX) or has it open (Windows, where an open file
    cannot be deleted). Anything else is left alone. Returns what was removed.
    """
    folder = Path(folder)
    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(TEMP_PREFIX):
            continue
        try:
            if not entry.is_file(follow_symlinks=False) or now - entry.stat().st_mtime < age:
                continue
            if _held(entry.path):
                continue
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:  # in use (Windows), already gone, no permission: leave it
            continue
    return removed


def _held(name: str) -> bool:
    """True when another open file holds the write lock of this temporary file (POSIX)."""
    if fcntl is None:
        return False
    try:
        fd = os.open(name, os.O_RDONLY)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops the lock taken just now
    return False


def _sweep(folder: Path) -> None:
    """Sweep ``folder`` and its Sao_luu/ before a write into it (one directory listing each)."""
    now = time.time()
    sweep_leftovers(folder, now=now)
    if (folder / BACKUP_DIR).is_dir():
        sweep_leftovers(folder / BACKUP_DIR, now=now)


def _temp_file(folder: Path, suffix: str) -> tuple[int, Path]:
    """A new temporary file in ``folder`` and its descriptor, locked for as long as it is open."""
    fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=suffix, dir=folder)
    if fcntl is not None:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd, Path(name)


def backup_target(path: Path) -> Path:
    """Where the next backup of ``path`` goes: Sao_luu/<stem>_<timestamp><suffix> beside it
    (the folder is made); the one naming of backups, for the files and the open book."""
    folder = path.parent / BACKUP_DIR
    folder.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    return folder / f"{path.stem}_{stamp}{path.suffix}"


def backup(path: str | Path, keep: int = BACKUPS_KEPT) -> Path | None:
    """Copy ``path`` to Sao_luu/<stem>_<timestamp><suffix>; keep the newest ``keep`` copies.

    The copy is written to a temporary file in Sao_luu/, flushed to disk and renamed: a kill
    during the backup leaves a ``.xltools-*`` leftover (swept later), never a truncated backup
    under a backup's name.
    """
    path = Path(path)
    if not path.exists():
        return None
    target = backup_target(path)
    folder = target.parent
    with _replacing(target) as (fd, _tmp), open(path, "rb") as src, os.fdopen(fd, "wb", closefd=False) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
        dst.flush()
        os.fsync(dst.fileno())
    olds = sorted(folder.glob(f"{path.stem}_*{path.suffix}"))
    for old in olds[:-keep] if keep > 0 else []:
        with contextlib.suppress(OSError):
            old.unlink()
    return target


@contextlib.contextmanager
def atomic_path(path: str | Path, *, keep_backup: bool = True, check_lock: bool = True) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success it replaces ``path``.

    The previous file is backed up first. If the body raises, the temporary file is
    removed and ``path`` is untouched.
    """
    path = Path(path)
    if check_lock:
        refuse_if_open(path)
    check_writable(path, backups=keep_backup)
    path.parent.mkdir(parents=True, exist_ok=True)
    _sweep(path.parent)
    with _replacing(path) as (_fd, tmp):
        yield tmp
        _set_mode(tmp, path)
        if keep_backup:
            backup(path)
            with open(tmp, "rb") as fh:  # the workbook itself reaches the disk before it replaces the old one
                os.fsync(fh.fileno())


@contextlib.contextmanager
def _replacing(target: Path) -> Iterator[tuple[int, Path]]:
    """A temporary file beside ``target``, locked while the block writes it (so that
    sweep_leftovers leaves it alone), that replaces ``target`` when the block succeeds and
    is removed when it fails."""
    fd, tmp = _temp_file(target.parent, target.suffix)
    try:
        yield fd, tmp
        os.close(fd)
        fd = -1
        os.replace(tmp, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _set_mode(tmp: Path, target: Path) -> None:
    """Give the new file the mode of the file it replaces, or the usual one for a new file
    (mkstemp makes it private, 0600: others on a shared folder could not read it)."""
    try:
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o666 & ~_umask()
        os.chmod(tmp, mode)
    except OSError:  # a file system without modes (some network shares): keep what it has
        pass


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, writer: Callable[[Path], object], **kwargs) -> Path:
    """Call ``writer(tmp)`` and move the result onto ``path`` atomically."""
    try:
        with atomic_path(path, **kwargs) as tmp:
            writer(tmp)
    except WriteError:
        raise
    except OSError as exc:
        raise os_failure(exc, "write_failed", file=path) from exc
    return Path(path)


def current_user() -> str:
    """The login name written to the Nhật ký log ('' when the system has none)."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (some services): the environment, else nothing
        return os.environ.get("USERNAME") or os.environ.get("USER") or ""
