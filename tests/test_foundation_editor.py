"""Editing a workbook in place: tables grow, writes are atomic, backups kept, open files refused."""
from __future__ import annotations

import openpyxl
import pytest

from xltools.core.errors import WriteError
from xltools.io import files
from xltools.io.editor import edit_workbook, now
from xltools.io.reader import read_workbook


def test_append_and_replace_grow_the_tables(make_commune, defs):
    path = make_commune()
    before = read_workbook(path)
    with edit_workbook(path) as ed:
        ed.append_rows("log", [{"time": now(), "action": "thử", "result": "ok"}])
        ed.replace_rows("situation", before.tables["situation"].head(2))
        ed.append_rows("villages", [{"code": "11", "name": "Thôn Mới", "households": 40, "population": 150, "active": True}])
    after = read_workbook(path)
    assert len(after.tables["log"]) == 1 and after.tables["log"].iloc[0]["action"] == "thử"
    assert len(after.tables["situation"]) == 2
    assert list(after.tables["villages"]["code"])[-1] == "11"
    wb = openpyxl.load_workbook(path)
    assert wb[defs.sheet("villages").name].tables["tblThon"].ref == "A1:I12"
    assert wb[defs.sheet("situation").name].tables["tblTinhHinh"].ref == "A1:J3"


def test_a_failed_write_leaves_the_workbook_intact(make_commune, monkeypatch):
    path = make_commune()
    before = path.read_bytes()

    def broken_save(self, filename):
        with open(filename, "wb") as fh:
            fh.write(b"half a workbook")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(openpyxl.Workbook, "save", broken_save)
    with pytest.raises(WriteError) as err, edit_workbook(path) as ed:
        ed.append_rows("log", [{"time": now(), "action": "thử"}])
    assert "còn nguyên" in err.value.vi
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".xltools-")] == []


def test_an_error_inside_the_block_writes_nothing(make_commune):
    path = make_commune()
    before = path.read_bytes()
    with pytest.raises(RuntimeError), edit_workbook(path) as ed:
        ed.append_rows("log", [{"time": now(), "action": "thử"}])
        raise RuntimeError("stop")
    assert path.read_bytes() == before


@pytest.mark.parametrize("lock_name", ["~$SoTheoDoi_Test.xlsx", ".~lock.SoTheoDoi_Test.xlsx#"])
def test_a_workbook_open_in_excel_is_refused(make_commune, lock_name):
    path = make_commune()
    (path.parent / lock_name).write_text("user")
    with pytest.raises(WriteError) as err, edit_workbook(path):
        pass
    assert "đang mở" in err.value.vi and lock_name in err.value.vi


def test_backups_are_timestamped_and_limited(make_commune, monkeypatch):
    path = make_commune()
    monkeypatch.setattr(files, "BACKUPS_KEPT", 3)
    for _ in range(5):
        files.backup(path, keep=3)
    kept = sorted((path.parent / files.BACKUP_DIR).glob("SoTheoDoi_Test_*.xlsx"))
    assert len(kept) == 3 and all(k.read_bytes() == path.read_bytes() for k in kept)


def test_written_files_are_readable_by_others_like_any_new_file(tmp_path, sample):
    import os
    import stat

    from xltools.verbs.new import new

    settings, tables = sample
    path = new(tmp_path / "x.xlsx", settings, tables)
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    os.chmod(path, 0o640)
    with edit_workbook(path) as ed:
        ed.append_rows("log", [{"time": now(), "action": "thử"}])
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # an edit keeps the file's own mode
