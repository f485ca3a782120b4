"""Nothing lost, whatever application touched the file: every kind of file and every failure
gets one Vietnamese line (issue 9, items 8, 10, 11, 13).

The bad files are made here: real .xlsx bytes rezipped with a part cut or missing, a truncated
file, a CSV renamed, and LibreOffice's own .ods and .xls of a real workbook, form and submission.
"""
from __future__ import annotations

import errno
import io
import os
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import libreoffice_convert, require_soffice

import xltools
from xltools.cli import main
from xltools.core.errors import WorkbookError, WriteError
from xltools.core.messages import text
from xltools.io import files
from xltools.io.forms import fill_form

PERIOD = "2023-12"
SAVE_AS_XLSX = "lưu lại dạng .xlsx"


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_line(result) -> str:
    """The CLI's output of a failure: exactly one line, 'Lỗi: …', Vietnamese, no traceback."""
    out = result.output.strip()
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, out
    line = lines[0]
    assert line.startswith("Lỗi: "), line
    for english in ("Traceback", "Unable to read", "openpyxl", "XmlError", "does not support", "Error:"):
        assert english not in line.split(" (")[0], line
    return line


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and mtime: nothing written means this is unchanged."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file() and ".lo-profile" not in p.parts}


def rezip(source: Path, target: Path, part: str, change) -> Path:
    """``source`` zipped again with ``part`` changed by ``change(bytes)`` (None: left out)."""
    out = io.BytesIO()
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        assert part in zin.namelist(), part
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == part:
                data = change(data)
                if data is None:
                    continue
            zout.writestr(info.filename, data)
    target.write_bytes(out.getvalue())
    return target


@pytest.fixture(autouse=True)
def _bad_folder(tmp_path):
    (tmp_path / "bad").mkdir(exist_ok=True)


@pytest.fixture
def commune(make_commune):
    """The sample commune without its December reports (so a December form is new)."""
    return make_commune("SoTheoDoi_Test.xlsx", edit=lambda t: t.update(reports=t["reports"][t["reports"]["period"] != PERIOD]))


@pytest.fixture
def one_form(commune, tmp_path, defs) -> Path:
    form = xltools.make_forms(commune, PERIOD, tmp_path / "inbox")[0]
    return fill_form(form, {i.key: 1 for i in defs.numeric_indicators})


def _sheet_part(path: Path, sheet: str) -> str:
    """The zip part of a sheet, by its name (workbook.xml and its relationships)."""
    import re

    with zipfile.ZipFile(path) as zf:
        book = zf.read("xl/workbook.xml").decode()
        rels = zf.read("xl/_rels/workbook.xml.rels").decode()
    rid = re.search(rf'<sheet [^>]*name="{re.escape(sheet)}"[^>]*r:id="([^"]+)"', book).group(1)
    target = re.search(rf'<Relationship [^>]*Id="{rid}"[^>]*Target="([^"]+)"', rels) or \
        re.search(rf'<Relationship [^>]*Target="([^"]+)"[^>]*Id="{rid}"', rels)
    return "xl/" + target.group(1).lstrip("/").removeprefix("xl/")


# ------------------------------------------------------------------ 11: damaged files, one line
DAMAGES = {
    # what was done to the file -> the catalogue key of the line every verb prints
    "sheet_xml_cut": "workbook_damaged_sheet",
    "workbook_xml_missing": "workbook_damaged",
    "truncated": "workbook_damaged",
    "csv_renamed": "file_is_text",
    "empty": "file_empty",
    "styles_missing": "workbook_damaged",  # calamine reads it; openpyxl (the writing verbs) cannot
}
VERBS = {
    "validate": ("validate", "{wb}"),
    "validate --write": ("validate", "{wb}", "--write"),
    "aggregate --write": ("aggregate", "{wb}", "--write", "--period", PERIOD),
    "export": ("export", "{wb}", "--period", PERIOD, "-o", "{out}", "--force"),
    "forms": ("forms", "{wb}", "--period", PERIOD, "-o", "{out}"),
    "import": ("import", "{wb}", "{form}"),
}


def damage(kind: str, good: Path, target: Path) -> Path:
    if kind == "sheet_xml_cut":
        return rezip(good, target, _sheet_part(good, "Thôn"), lambda b: b[: len(b) // 2])
    if kind == "workbook_xml_missing":
        return rezip(good, target, "xl/workbook.xml", lambda b: None)
    if kind == "styles_missing":
        return rezip(good, target, "xl/styles.xml", lambda b: None)
    if kind == "truncated":
        target.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif kind == "csv_renamed":
        target.write_text("Mã thôn,Tên thôn\n01,Thôn Pa Rinh 1\n", encoding="utf-8")
    elif kind == "empty":
        target.write_bytes(b"")
    return target


@pytest.mark.parametrize("kind", DAMAGES)
def test_a_damaged_workbook_is_one_vietnamese_line_for_every_verb(kind, commune, one_form, tmp_path):
    bad = damage(kind, commune, tmp_path / "bad" / "SoTheoDoi_Hong.xlsx")
    before = snapshot(tmp_path / "bad")
    expected = text(DAMAGES[kind], file=bad.name, sheet="Thôn")
    for label, args in VERBS.items():
        if kind == "styles_missing" and label in ("validate", "export", "forms"):
            continue  # only read (python-calamine, which needs no styles): these work, as they should
        result = run(*(a.format(wb=bad, out=tmp_path / "bad" / "out", form=one_form) for a in args))
        line = one_line(result)
        assert result.exit_code == 2, (label, line)
        assert line.startswith(f"Lỗi: {expected}"), (label, line)
        assert snapshot(tmp_path / "bad") == before, label  # nothing written, nothing half-written


def test_the_library_raises_the_same_catalogue_errors(commune, tmp_path):
    bad = damage("sheet_xml_cut", commune, tmp_path / "bad" / "cut.xlsx")
    with pytest.raises(WorkbookError) as caught:
        xltools.validate(bad)
    assert caught.value.key == "workbook_damaged_sheet" and caught.value.params["sheet"] == "Thôn"
    assert "\n" not in str(caught.value)
    styles = damage("styles_missing", commune, tmp_path / "bad" / "styles.xlsx")
    assert xltools.validate(styles).issues is not None  # reading needs no styles
    with pytest.raises(WorkbookError) as caught:
        xltools.validate(styles, write=True)  # openpyxl's IndexError, caught where it arises
    assert caught.value.key == "workbook_damaged" and "\n" not in str(caught.value)


def test_an_unexpected_failure_is_one_line_too(commune, monkeypatch):
    import xltools.verbs.validate as verb

    def boom(*args, **kwargs):
        raise RuntimeError("first line\nsecond line")

    monkeypatch.setattr(verb, "validate_book", boom)
    line = one_line(result := run("validate", commune))
    assert result.exit_code == 1
    assert line.startswith("Lỗi: " + text("internal_error", command="validate", kind="RuntimeError"))
    assert "first line second line" in line  # the detail, on the same line, in the English half

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(commune))

    monkeypatch.setattr(verb, "validate_book", full)
    line = one_line(run("validate", commune))
    assert text("os_reason_no_space") in line.split(" (")[0] and commune.name in line

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(verb, "validate_book", stop)
    result = run("validate", commune)
    assert one_line(result).startswith("Lỗi: " + text("interrupted")) and result.exit_code == 130
    monkeypatch.setattr(verb, "validate_book", full)
    monkeypatch.setenv("XLTOOLS_DEBUG", "1")  # the developer's way to the traceback
    assert isinstance(run("validate", commune).exception, OSError)


# ------------------------------------------------------------------ 8: read-only files and folders
def test_a_read_only_workbook_is_refused_before_anything_is_written(commune, one_form, tmp_path):
    os.chmod(commune, 0o444)  # the Windows Read-only attribute; root ignores it, the toolkit does not
    try:
        before = snapshot(tmp_path)
        line = text("file_read_only", file=str(commune))
        for args in (("validate", commune, "--write"), ("aggregate", commune, "--write"), ("import", commune, one_form),
                     ("new", commune, "--overwrite")):
            result = run(*args)
            assert one_line(result) == f"Lỗi: {line} ({text('file_read_only', 'en', file=str(commune))})", args
            assert result.exit_code == 1
            assert snapshot(tmp_path) == before, args  # no backup, no temporary file, workbook untouched
        with pytest.raises(WriteError) as caught:
            xltools.import_reports(commune, [one_form])
        assert caught.value.key == "file_read_only"
        assert xltools.import_reports(commune, [one_form], dry_run=True).accepted  # reading is fine
        assert xltools.validate(commune).issues is not None
    finally:
        os.chmod(commune, 0o644)
    assert xltools.import_reports(commune, [one_form]).accepted  # writable again: it works


def test_the_refusal_comes_before_any_form_is_read(commune, one_form, monkeypatch):
    os.chmod(commune, 0o444)
    import xltools.verbs.importing as importing

    def never(*args, **kwargs):
        raise AssertionError("a form was read although the workbook cannot be written")

    monkeypatch.setattr(importing, "read_workbook", never)
    try:
        with pytest.raises(WriteError):
            xltools.import_reports(commune, [one_form])
    finally:
        os.chmod(commune, 0o644)


def test_an_output_folder_that_cannot_be_written_is_one_line(commune, tmp_path):
    submission = xltools.export(commune, PERIOD, tmp_path / "sent", force=True)
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o555)
    try:
        before = snapshot(tmp_path)
        for args, folder in (
            (("forms", commune, "--period", PERIOD, "-o", locked), locked),
            (("export", commune, "--period", PERIOD, "-o", locked / "Bao_cao", "--force"), locked),  # to be created inside
            (("rollup", submission, "--period", PERIOD, "-o", locked, "--unit-name", "huyện A"), locked),
            (("demo", locked / "demo"), locked),
        ):
            result = run(*args)
            assert one_line(result).startswith("Lỗi: " + text("folder_read_only", folder=str(folder))), args
            assert result.exit_code == 1
            assert snapshot(tmp_path) == before and not any(locked.iterdir()), args
    finally:
        os.chmod(locked, 0o755)


def test_read_only_is_decided_as_for_a_normal_user(tmp_path):
    f = tmp_path / "a.xlsx"
    f.write_bytes(b"x")
    assert not files.is_read_only(f)
    os.chmod(f, 0o444)
    assert files.is_read_only(f)  # even for root, whose os.access says yes
    os.chmod(f, 0o644)
    d = tmp_path / "d"
    d.mkdir()
    assert files.folder_writable(d)
    os.chmod(d, 0o555)
    try:
        assert not files.folder_writable(d)
        with pytest.raises(WriteError) as caught:
            files.write_atomic(d / "new.xlsx", lambda tmp: tmp.write_bytes(b"x"))
        assert caught.value.key == "folder_read_only"
    finally:
        os.chmod(d, 0o755)
    assert list(d.iterdir()) == []


# ------------------------------------------------------------------ 13: leftovers of an interrupted write
def _leftover(folder: Path, name: str, age: float) -> Path:
    path = folder / name
    path.write_bytes(b"PK\x03\x04 half a workbook")
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def test_leftovers_of_a_killed_write_are_removed_by_the_next_write(commune):
    folder = commune.parent
    (folder / files.BACKUP_DIR).mkdir(exist_ok=True)
    old = _leftover(folder, ".xltools-abc123.xlsx", 2 * files.LEFTOVER_AGE)
    old_backup = _leftover(folder / files.BACKUP_DIR, ".xltools-def456.xlsx", 2 * files.LEFTOVER_AGE)
    fresh = _leftover(folder, ".xltools-running.xlsx", 5)  # a write of a moment ago: maybe still running
    held = _leftover(folder, ".xltools-held.xlsx", 2 * files.LEFTOVER_AGE)
    other = _leftover(folder, "xltools-not-ours.xlsx", 2 * files.LEFTOVER_AGE)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import fcntl, os, sys, time
        fd = os.open({str(held)!r}, os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX)
        print("locked", flush=True)
        time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = run("validate", commune, "--write")
        assert result.exit_code in (0, 1), result.output
        assert not old.exists() and not old_backup.exists()
        assert fresh.exists() and held.exists() and other.exists()
    finally:
        holder.kill()
        holder.wait()
    assert not [p for p in folder.glob(".xltools-*") if p not in (fresh, held)]


def test_a_write_in_progress_holds_its_temporary_file(tmp_path):
    seen = {}

    def writer(tmp: Path) -> None:
        tmp.write_bytes(b"data")
        os.utime(tmp, (0, 0))  # even an old-looking temporary file is not taken while it is held
        seen["removed"] = files.sweep_leftovers(tmp.parent)
        seen["tmp"] = tmp

    files.write_atomic(tmp_path / "out.xlsx", writer, keep_backup=False)
    assert seen["removed"] == [] and not seen["tmp"].exists()
    assert (tmp_path / "out.xlsx").read_bytes() == b"data"


def test_a_kill_during_the_backup_leaves_no_backup_that_looks_good(commune):
    """A real kill (os._exit: no cleanup runs) in the middle of copying the backup."""
    code = textwrap.dedent(f"""
        import os, shutil
        from xltools.io import files
        def half(src, dst, length=0):
            dst.write(src.read(1000)); dst.flush(); os._exit(9)
        files.shutil.copyfileobj = half
        files.write_atomic({str(commune)!r}, lambda tmp: tmp.write_bytes(b"new"))
        """)
    before = commune.read_bytes()
    assert subprocess.run([sys.executable, "-c", code], cwd=Path(xltools.__file__).parents[1]).returncode == 9
    store = commune.parent / files.BACKUP_DIR
    assert commune.read_bytes() == before  # the workbook itself is intact
    assert not list(store.glob(f"{commune.stem}_*{commune.suffix}"))  # no truncated file under a backup's name
    leftovers = list(store.glob(".xltools-*"))
    assert leftovers and all(p.stat().st_size == 1000 for p in leftovers)
    for p in leftovers:
        os.utime(p, (time.time() - 2 * files.LEFTOVER_AGE,) * 2)
    assert xltools.validate(commune, write=True) is not None
    assert not list(store.glob(".xltools-*"))  # swept by the next write
    (backup,) = store.glob(f"{commune.stem}_*{commune.suffix}")
    assert backup.read_bytes() == before  # and the backup it made is whole


# ------------------------------------------------------------------ 10: .ods and .xls, the same answer
@pytest.mark.libreoffice
def test_ods_and_xls_get_the_same_line_from_every_verb(commune, one_form, tmp_path):
    require_soffice()
    submission = xltools.export(commune, PERIOD, tmp_path / "sent", force=True)
    ods = libreoffice_convert([commune, one_form, submission], "ods", tmp_path / "ods")
    xls = libreoffice_convert([commune, one_form, submission], "xls", tmp_path / "xls")
    for (workbook, form, sub), key in ((ods, "file_is_ods"), (xls, "file_is_xls")):
        assert SAVE_AS_XLSX in text(key, file="x")
        # the commune workbook: refused by every verb with the same line (none reads it and another writes it)
        expected = f"Lỗi: {text(key, file=workbook.name)} ({text(key, 'en', file=workbook.name)})"
        for label, args in VERBS.items():
            result = run(*(a.format(wb=workbook, out=tmp_path / "out", form=one_form) for a in args))
            assert one_line(result) == expected, label
            assert result.exit_code == 2, label
        aggregate = run("aggregate", workbook, "--period", PERIOD)
        assert one_line(aggregate) == expected
        # a form saved as .ods/.xls: rejected with the same hint
        summary = xltools.import_reports(commune, [form], dry_run=True)
        ((name, reasons),) = [(f.file, f.reasons) for f in summary.rejected]
        assert name == form.name and any(text(key, file=form.name) in r for r in reasons), reasons
        # a submission saved as .ods/.xls in the rollup folder: listed as rejected, not "not submitted"
        inbox = tmp_path / f"inbox_{key}"
        inbox.mkdir()
        (inbox / submission.name).write_bytes(submission.read_bytes())
        (inbox / sub.name).write_bytes(sub.read_bytes())
        result = xltools.rollup(inbox, PERIOD, tmp_path / f"dist_{key}", unit_name="huyện A Lưới")
        assert [(p.name, r, r.key) for p, r in result.rejected] == [(sub.name, text(key, file=sub.name), key)]
        assert [p.name for p in result.accepted] == [submission.name]
        cli = run("rollup", inbox, "--period", PERIOD, "-o", tmp_path / f"dist2_{key}", "--unit-name", "huyện A Lưới")
        assert cli.exit_code == 1 and f"✗ {sub.name}: {text(key, file=sub.name)}" in cli.output


@pytest.mark.parametrize(("typed", "shown"), [(-1, "“-1”"), (2.5, "“2,5”")])
def test_a_rejected_number_is_shown_as_typed_not_as_a_python_float(typed, shown, commune, one_form):
    fill_form(one_form, {"team_meetings": typed})
    (rejected,) = xltools.import_reports(commune, [one_form], dry_run=True).rejected
    joined = " ".join(rejected.reasons)
    assert shown in joined and ".0”" not in joined and "2.5" not in joined


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize(("content", "key"), [
    (_zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.bin": b"\x83\x01"}), "file_is_xlsb"),
    (_zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"}), "not_xlsx"),  # a .docx
    ("Mã thôn;Tên thôn\r\n01;Thôn A\r\n".encode("utf-16"), "file_is_text"),  # Excel's "Unicode text"
    (b"<html><table><tr><td>01</td></tr></table></html>", "file_is_text"),  # a web system's "xls" export
], ids=["xlsb", "docx", "utf16-text", "html"])
def test_what_a_file_is_is_told_by_its_content(content, key, tmp_path):
    path = tmp_path / "SoTheoDoi_Test.xlsx"
    path.write_bytes(content)
    with pytest.raises(WorkbookError) as caught:
        xltools.validate(path)
    assert caught.value.key == key and caught.value.exit_code == 2
