"""The button handlers with Excel's COM faked (``conftest.FakeCom``): the protection code, the
COM hyperlinks, the status bar and the text-stays-text rule run in CI as they would in Excel."""
from __future__ import annotations

import os
import re
from pathlib import Path

os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")  # before xlwings is imported

import pytest  # noqa: E402
from conftest import FakeComError, actions, book_from_file, replay  # noqa: E402

import xltools.excel as x  # noqa: E402
from xltools.core.errors import WorkbookError  # noqa: E402
from xltools.io.xlsm import buttons  # noqa: E402


def _break_report(tables):
    reports = tables["reports"]
    reports.loc[reports.index[reports["period"] == "2023-12"][0], "team_meetings"] = -3


def _alert(book):
    (found,) = actions(book, "alert")
    return found["args"][0], found["args"][3]


@pytest.mark.parametrize("verb", ["validate", "aggregate"])
def test_a_button_restores_every_protection_exactly_as_it_found_it(make_commune, fake_com, defs, verb):
    path = make_commune(edit=_break_report)
    book = book_from_file(path)
    com = fake_com(path, book)
    dashboard = com.sheets[defs.sheet("dashboard").name]
    before = {name: (s.ProtectContents, s.allowances()) for name, s in com.sheets.items()}
    assert dashboard.ProtectContents  # the built workbook protects its dashboard
    dashboard.Protection.AllowFormattingCells = True  # an allowance the officer added by hand

    text, mode = getattr(x, verb)(book), _alert(book)[1]

    assert mode == "info", text
    after = {name: (s.ProtectContents, s.allowances()) for name, s in com.sheets.items()}
    before[dashboard.name][1]["AllowFormattingCells"] = True
    assert after == before
    assert ("Unprotect", "") in dashboard.calls and dashboard.calls[-1][0] == "Protect"
    # the status bar said what runs, and was given back to Excel; screen updating came back on
    caption = next(b.caption for b in buttons() if b.verb == verb)
    assert com.app.status[0] == f"xltools: đang chạy “{caption}”, xin chờ…" and com.app.status[-1] is False
    assert com.app.screen and com.app.screen[-1] is True


def test_validation_links_go_through_excels_hyperlinks_one_per_issue(make_commune, fake_com, defs):
    path = make_commune(edit=_break_report)
    book = book_from_file(path)
    com = fake_com(path, book)
    x.validate(book)
    checks = com.sheets[defs.sheet("checks").name]
    assert checks.links, "no COM hyperlink added"
    reports = defs.sheet("reports").name
    assert any(link["location"].startswith(f"'{reports}'!") for link in checks.links)
    cells = [link["cell"] for link in checks.links]
    assert len(cells) == len(set(cells))  # at most one hyperlink call per listed issue
    assert not actions(book, "addHyperlink")  # the remote engine's own call is not used under COM


def test_a_password_on_a_sheet_is_refused_before_anything_is_written(make_commune, fake_com, defs):
    path = make_commune(edit=_break_report)
    book = book_from_file(path)
    com = fake_com(path, book)
    dashboard = com.sheets[defs.sheet("dashboard").name]
    dashboard.password = "bimat"
    before = {name: (s.ProtectContents, s.allowances()) for name, s in com.sheets.items()}

    text, mode = x.validate(book), _alert(book)[1]

    assert mode == "critical" and "mật khẩu" in text and dashboard.name in text
    writes = [a for a in actions(book) if a["func"] != "alert"]
    assert writes == []  # no Kiểm tra, no fill, no Nhật ký row
    # every sheet lifted before the refusal is protected again as it was; the password stays
    assert {name: (s.ProtectContents, s.allowances()) for name, s in com.sheets.items()} == before
    assert dashboard.password == "bimat"


def test_import_backs_up_the_open_book_with_save_copy_as_then_writes(make_commune, fake_com, defs, sample,
                                                                      tmp_path):
    from xltools.io.forms import FormSpec, write_form

    month = sample[0]["current_period"]
    path = make_commune(edit=lambda t: t.update(reports=t["reports"][t["reports"]["period"] != month]))
    inbox = tmp_path / "Phieu_nhan"
    inbox.mkdir()
    villages = sample[1]["villages"]
    code, name = villages["code"].iloc[0], villages["name"].iloc[0]
    spec = FormSpec(sample[0]["commune_code"], sample[0]["commune_name"], code, name, month)
    write_form(inbox / f"PhieuBaoCao_{code}_{month}.xlsx", spec, defs, {i.key: 2 for i in defs.numeric_indicators})
    book = book_from_file(path)
    com = fake_com(path, book)

    text, mode = x.import_reports(book, folder=inbox), _alert(book)[1]

    assert mode == "info", text
    (copy,) = com.book_api.copies
    assert copy.parent.name == "Sao_luu" and copy.suffix == ".xlsx" and copy.read_bytes() == path.read_bytes()
    assert actions(book, "setValues")  # the rows were written after the copy, through the guard


def test_the_fake_retypes_as_excel_does(make_commune, fake_com, defs):
    """The guard itself: a date-like string into a General cell would be retyped by Excel."""
    path = make_commune()
    book = book_from_file(path)
    fake_com(path, book)
    ws = book.sheets[defs.sheet("log").name]
    with pytest.raises(FakeComError, match="retype"):
        ws.range("Z1").value = "2023-12"
    ws.range("Z2").number_format = "@"
    ws.range("Z2").value = "2023-12"  # text format first: stays text
    ws.range("Z3").value = "Thành viên"


def test_a_button_whose_book_cannot_be_found_shows_a_box_not_a_vba_error(monkeypatch):
    def lost():
        raise RuntimeError("Could not find the workbook")

    monkeypatch.setattr(x.xw.Book, "caller", staticmethod(lost))
    shown = []
    monkeypatch.setattr(x, "show_message_box", lambda text, title: shown.append(text) or True)
    monkeypatch.setattr(x.sys, "argv", ["-c", "--wb=So.xlsx", "--from_xl=1", "--hwnd=1"])
    text = x.validate()
    assert shown == [text] and "Không tìm thấy sổ vừa bấm nút" in text and "Could not find" in text
    # from Python (not a button) it stays an exception
    monkeypatch.setattr(x.sys, "argv", ["pytest"])
    with pytest.raises(WorkbookError):
        x.validate()


@pytest.mark.slow
def test_every_button_runs_under_excels_com_and_leaves_the_protection_as_found(make_commune, fake_com):
    """Each button of buttons.toml, in the order an officer clicks them, on one open book."""
    path = make_commune()
    for button in buttons():
        book = book_from_file(path, floats=True)  # COM gives every number back as a float
        com = fake_com(path, book)
        before = {name: (s.ProtectContents, s.allowances()) for name, s in com.sheets.items()}
        text = getattr(x, button.verb)(book)
        message, mode = _alert(book)
        assert message == text
        assert "không mong đợi" not in text and "FakeComError" not in text, (button.verb, text)
        assert {name: (s.ProtectContents, s.allowances()) for name, s in com.sheets.items()} == before, button.verb
        assert com.app.status and com.app.status[-1] is False


@pytest.mark.slow
def test_numbers_read_back_as_floats_are_judged_as_the_whole_numbers_they_are(make_commune, fake_com):
    path = make_commune(edit=_break_report)
    as_vba_sends = x.validate(book_from_file(path))
    book = book_from_file(path, floats=True)
    fake_com(path, book)
    assert x.validate(book) == as_vba_sends


# ---------------------------------------------------------------------------- doctor --live, with Excel faked
class _LiveBook:
    """A book of the fake Excel of ``doctor --live``: its sheets are the file's as it is now; a
    macro runs the button's handler on the remote engine and replays what it wrote onto the file."""

    def __init__(self, path, app):
        self.path, self.app = path, app

    @property
    def sheets(self):
        return book_from_file(self.path).sheets

    def activate(self):
        self.app.active = self

    def close(self):
        pass

    def macro(self, name):
        def run(*args):
            if self.app.dead:
                return  # Python never starts (the ASR rule, a missing interpreter): nothing answers
            target = self.app.active
            book = book_from_file(target.path)
            if name == "RunPython":
                verb = re.search(r"addin_run\('(\w+)'\)", args[0]).group(1)
                x.addin_run(verb, book)
            else:
                getattr(x, next(b.verb for b in buttons() if b.sub == name))(book)
            replay(book, target.path)
        return run


class _LiveApp:
    def __init__(self, dead=False):
        self.dead, self.active, self.display_alerts = dead, None, True
        app = self

        class Books:
            @staticmethod
            def open(path):
                book = _LiveBook(Path(path), app)
                if not str(path).endswith(".xlam"):
                    app.active = book
                return book

        self.books = Books


@pytest.mark.slow
def test_doctor_live_clicks_every_button_of_a_copy_and_checks_what_it_wrote(make_commune, tmp_path):
    from xltools import doctor

    path = make_commune()
    before = path.read_bytes()
    addin = tmp_path / "xltools.xlam"
    addin.write_bytes(b"")  # opened by the fake Excel only
    checks = doctor.live_checks(path, "win32", app=_LiveApp(), addin=addin)
    clicks = [c for c in checks if c.key == "live_click"]
    assert [c.message.split("”")[0].split("“")[1] for c in clicks] == [b.caption for b in buttons()]
    assert not [c for c in checks if c.status == "error"], [c.message for c in checks]
    assert path.read_bytes() == before  # the live check works on a copy


@pytest.mark.slow
def test_doctor_live_says_when_python_never_answers(make_commune, tmp_path):
    from xltools import doctor

    path = make_commune()
    addin = tmp_path / "xltools.xlam"
    addin.write_bytes(b"")
    checks = doctor.live_checks(path, "win32", app=_LiveApp(dead=True), addin=addin)
    assert checks and all(c.status == "error" for c in checks)
    assert "không có câu trả lời" in checks[0].message
    # without the add-in an .xlsx has no buttons to click
    missing = doctor.live_checks(path, "win32", app=_LiveApp(), addin=tmp_path / "none.xlam")
    assert [c.key for c in missing] == ["live_addin"] and "addin install" in missing[0].message
    # elsewhere than Windows: one line
    assert [c.key for c in doctor.live_checks(path, "linux")] == ["live_windows"]
