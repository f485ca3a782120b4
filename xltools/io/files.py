"""Safe file handling: atomic replace, timestamped backups, Excel lock files, checksums."""
from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from ..core.errors import WriteError

BACKUP_DIR = "Sao_luu"  # beside the workbook; Vietnamese, as users see it
BACKUPS_KEPT = 20


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
    lock = lock_file(path)
    if lock is not None:
        raise WriteError("workbook_locked", file=str(path), lock=lock.name)


def backup(path: str | Path, keep: int = BACKUPS_KEPT) -> Path | None:
    """Copy ``path`` to Sao_luu/<stem>_<timestamp><suffix>; keep the newest ``keep`` copies."""
    path = Path(path)
    if not path.exists():
        return None
    folder = path.parent / BACKUP_DIR
    folder.mkdir(exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    target = folder / f"{path.stem}_{stamp}{path.suffix}"
    target.write_bytes(path.read_bytes())
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
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".xltools-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        _set_mode(tmp, path)
        if keep_backup:
            backup(path)
        os.replace(tmp, path)
    except BaseException:
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


def write_atomic(path: str | Path, writer: Callable[[Path], None], **kwargs) -> Path:
    """Call ``writer(tmp)`` and move the result onto ``path`` atomically."""
    try:
        with atomic_path(path, **kwargs) as tmp:
            writer(tmp)
    except WriteError:
        raise
    except OSError as exc:
        raise WriteError("write_failed", file=str(path), reason=exc.strerror or str(exc)) from exc
    return Path(path)


def current_user() -> str:
    """The login name written to the Nhật ký log ('' when the system has none)."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (some services): the environment, else nothing
        return os.environ.get("USERNAME") or os.environ.get("USER") or ""
