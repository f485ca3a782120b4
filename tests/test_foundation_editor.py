"""The openpyxl sink: tables grow, writes are atomic, backups kept, open files refused."""
from __future__ import annotations

import openpyxl
import pytest
from conftest import append_rows, break_saves

from xltools.core.change import WorkbookChange, now, table_change
from xltools.core.errors import WriteError
from xltools.io import files
from xltools.io.reader import read_workbook
from xltools.io.sink import apply_change, edit_workbook


def test_appends_grow_the_tables_and_updates_change_only_their_cells(make_commune, defs):
    path = make_commune()
    before = read_workbook(path)
    situation = before.tables["situation"]
    first = int(situation["_row"].iloc[0])
    change = WorkbookChange(tables=[
        table_change(before, "log", appends=[{"time": now(), "action": "thử", "result": "ok"}]),
        table_change(before, "situation", updates={first: {"addicts": 99}}),
        table_change(before, "villages", appends=[{"code": "11", "name": "Thôn Mới", "households": 40,
                                                   "population": 150, "active": True}]),
    ])
    apply_change(path, change, defs)
    after = read_workbook(path)
    assert len(after.tables["log"]) == 1 and after.tables["log"].iloc[0]["action"] == "thử"
    assert after.tables["situation"].iloc[0]["addicts"] == 99
    unchanged = [c for c in situation.columns if c not in ("addicts",)]
    assert after.tables["situation"][unchanged].equals(situation[unchanged])
    assert list(after.tables["villages"]["code"])[-1] == "11"
    wb = openpyxl.load_workbook(path)
    assert wb[defs.sheet("villages").name].tables["tblThon"].ref == "A1:I12"


def test_a_failed_write_leaves_the_workbook_intact(make_commune, monkeypatch):
    path = make_commune()
    before = path.read_bytes()

    break_saves(monkeypatch)
    with pytest.raises(WriteError) as err:
        append_rows(path, "log", [{"time": now(), "action": "thử"}])
    assert "còn nguyên" in err.value.vi
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".xltools-")] == []


def test_an_error_inside_the_block_writes_nothing(make_commune):
    path = make_commune()
    before = path.read_bytes()
    with pytest.raises(RuntimeError), edit_workbook(path) as ed:
        ed.worksheet("log")["A2"] = "thử"
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
    append_rows(path, "log", [{"time": now(), "action": "thử"}])
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # an edit keeps the file's own mode
