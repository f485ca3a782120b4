"""The command line: each command parses, calls one library function, prints.

Errors are one line, Vietnamese first and English after, with the exit code of
the library's exception (1 for errors, 2 for unreadable input or bad usage).
"""
from __future__ import annotations

import io
import json
import os
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

from . import __version__
from .core.errors import XltoolsError, XltoolsWarning


class CliError(click.ClickException):
    def __init__(self, err: XltoolsError, exit_code: int | None = None) -> None:
        super().__init__(str(err))
        self.exit_code = err.exit_code if exit_code is None else exit_code

    def show(self, file=None) -> None:
        click.echo(f"Lỗi: {self.message}", err=True)


class CliUsageError(click.UsageError):
    """A usage error told in Vietnamese first (exit 2): click's own (a missing option, a bad
    value …) translated, or one a command raises with a catalogue key (``CliUsageError.of``)."""

    def __init__(self, err: click.UsageError) -> None:
        from .core.messages import text

        super().__init__(err.format_message(), ctx=err.ctx)
        command = err.ctx.command_path if err.ctx else "xltools"
        param = getattr(err, "param", None)
        hint = (param.get_error_hint(err.ctx) if param is not None and err.ctx else "").replace("'", "")
        if isinstance(err, click.MissingParameter):
            key = "usage_missing_option" if isinstance(param, click.Option) else "usage_missing_argument"
        elif isinstance(err, click.NoSuchOption):
            key, hint = "usage_no_option", err.option_name
        elif isinstance(err, click.BadParameter):
            key = "usage_bad_value"
        else:
            key = "usage_other"
        self.vietnamese = text(key, name=hint, command=command)

    @classmethod
    def of(cls, key: str, **params) -> CliUsageError:
        from .core.messages import text

        err = cls(click.UsageError(text(key, "en", **params)))
        err.vietnamese = text(key, **params)
        return err

    def show(self, file=None) -> None:
        click.echo(f"Lỗi: {self.vietnamese} ({self.format_message()})", err=True)


HELP_TEXT = "Xem hướng dẫn này. / Show this message and exit."


class Command(click.Command):
    """A command whose --help option speaks Vietnamese first."""

    def get_help_option(self, ctx: click.Context):
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = HELP_TEXT
        return option


class Group(click.Group):
    """Turns every XltoolsError of a command into a one-line message and exit code, and
    click's usage errors into a Vietnamese line."""

    command_class = Command

    def get_help_option(self, ctx: click.Context):
        option = super().get_help_option(ctx)
        if option is not None:
            option.help = HELP_TEXT
        return option

    def invoke(self, ctx: click.Context):
        with warnings.catch_warnings():  # an XltoolsWarning is one line on stderr, once per command
            warnings.simplefilter("always", XltoolsWarning)
            warnings.showwarning = _warning_printer(warnings.showwarning)
            return self._invoke(ctx)

    def _invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except XltoolsError as err:
            raise CliError(err) from None
        except click.UsageError as err:
            if isinstance(err, CliUsageError):
                raise
            raise CliUsageError(err) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            raise CliError(XltoolsError("interrupted"), exit_code=130) from None
        except Exception as exc:  # never a traceback: one line, unless XLTOOLS_DEBUG asks for it
            if os.environ.get("XLTOOLS_DEBUG"):
                raise
            raise CliError(_unexpected(exc, ctx)) from None


def _warning_printer(previous):
    """``warnings.showwarning`` for a command: each XltoolsWarning once, “Cảnh báo: …” on stderr."""
    shown: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if not isinstance(message, XltoolsWarning):
            previous(message, category, filename, lineno, file, line)
        elif message.vi not in shown:
            shown.add(message.vi)
            click.echo(f"Cảnh báo: {message.vi} ({message.en})", err=True)

    return show


def _unexpected(exc: Exception, ctx: click.Context) -> XltoolsError:
    """One line for an exception no code caught: a file system error names its file and says why
    in Vietnamese; anything else is an internal error with what to do."""
    from .io.files import os_failure

    if isinstance(exc, OSError):
        return os_failure(exc)
    command = ctx.invoked_subcommand or ctx.command_path
    reason = " ".join(str(exc).split())[:200]
    err = XltoolsError("internal_error", command=command, kind=type(exc).__name__, reason=reason)
    err.exit_code = 1
    return err


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xltools", help="Xem phiên bản. / Show the version and exit.")
def main() -> None:
    """Bộ công cụ Excel cho mô hình “Xã không có tội phạm, tệ nạn ma túy”.

    Excel toolkit of the commune drug-prevention model: the commune workbook,
    village forms, import, validation, aggregation, submission and rollup.
    """
    for stream in (sys.stdout, sys.stderr):  # None under pythonw; a plain stream has no reconfigure
        if isinstance(stream, io.TextIOWrapper):
            try:
                stream.reconfigure(encoding="utf-8")
            except (ValueError, OSError):
                pass


@main.command()
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--settings", "settings_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Tệp TOML các cài đặt (xem samples/commune.toml). / Settings file (TOML).")
@click.option("--villages", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Tệp CSV danh sách thôn. / Villages CSV.")
@click.option("--board", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Tệp CSV Ban điều hành. / Commune board CSV.")
@click.option("--teams", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Tệp CSV Tổ điều hành các thôn. / Village teams CSV.")
@click.option("--set", "pairs", multiple=True, metavar="KEY=VALUE",
              help="Một cài đặt, ví dụ --set commune_name='Hồng Thủy'. / One setting.")
@click.option("--overwrite", is_flag=True, help="Ghi đè tệp đã có (bản cũ được sao lưu). / Replace an existing file.")
@click.option("--xlsm", is_flag=True,
              help="Tạo sổ có nút bấm (.xlsm, chạy trên Excel Windows; PATH đuôi .xlsm cũng vậy). "
                   "/ Build the macro workbook with buttons (also for a PATH ending in .xlsm).")
def new(path, settings_file, villages, board, teams, pairs, overwrite, xlsm):
    """Tạo sổ theo dõi mới của xã. / Create a new commune workbook."""
    from .core.messages import text
    from .verbs.new import new_from_files

    written = new_from_files(path, settings_file=settings_file, pairs=pairs, overwrite=overwrite, xlsm=xlsm,
                             csv_files={"villages": villages, "board": board, "teams": teams})
    click.echo(text("new_written", file=written))


@main.command()
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True,
              help="Định dạng in ra. / Output format.")
def schema(fmt):
    """In định nghĩa các sheet, cột, danh mục, chỉ tiêu. / Print the definitions."""
    from .core.schema import schema_dict, schema_markdown

    if fmt == "json":
        click.echo(json.dumps(schema_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(schema_markdown(), nl=False)


@main.command()
@click.argument("folder", required=False, default="xltools-demo", type=click.Path(file_okay=False, path_type=Path))
def demo(folder):
    """Chạy thử toàn bộ quy trình trên dữ liệu mẫu. / Run the monthly loop on sample data."""
    from .demo import run_demo
    from .io.files import ensure_folder

    ensure_folder(folder)  # a folder that cannot be written: one line before anything is made
    result = run_demo(folder, echo=click.echo)
    click.echo("")
    click.echo(f"Các tệp đã tạo trong {result.folder}:")
    for label, file in result.files.items():
        click.echo(f"  {label}: {file}")


@main.command()
@click.argument("workbook", type=click.Path(path_type=Path))  # a missing file: the library's Vietnamese error
@click.option("--period", metavar="YYYY-MM",
              help="Tháng báo cáo (mặc định: kỳ hiện tại trong Cấu hình). / Reporting month.")
@click.option("-o", "--out-dir", type=click.Path(path_type=Path),
              help="Thư mục ghi phiếu (mặc định: cạnh sổ theo dõi). / Output folder.")
def forms(workbook, period, out_dir):
    """Lập phiếu báo cáo tháng cho các thôn. / Make this month's village forms."""
    from .core.messages import text
    from .verbs.forms import make_forms

    if period is None:  # the workbook's current period, as the button takes it
        from .io.reader import read_workbook

        period = read_workbook(workbook, sheets=["villages"]).chosen_period()
    files = make_forms(workbook, period, out_dir)
    click.echo(text("forms_made", n=len(files), period=period, folder=files[0].parent if files else out_dir))
    for file in files:
        click.echo(f"  {file.name}")


@main.command("import")
@click.argument("workbook", type=click.Path(path_type=Path))  # missing files: the library's Vietnamese errors
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Chỉ đọc và báo kết quả, không ghi vào sổ. / Write nothing.")
@click.option("--replace-manual", is_flag=True,
              help="Cho phép phiếu thay báo cáo nhập tay. / Let forms replace reports typed by hand.")
@click.option("--reopen", is_flag=True,
              help="Mở lại kỳ đã được cấp trên chấp nhận để nhập phiếu sửa (ghi vào Nhật ký). / Reopen accepted periods.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Định dạng in ra. / Output format.")
def import_(workbook, paths, dry_run, replace_manual, reopen, fmt):
    """Nhập phiếu báo cáo của các thôn (tệp hoặc thư mục; mặc định: thư mục nhận phiếu trong Cấu hình).
    / Import returned village forms (default: the inbox folder of the settings)."""
    from .core.definitions import get_definitions
    from .core.messages import text
    from .verbs.importing import import_reports

    if not paths:  # the inbox folder of the settings, as the button takes it
        from .io.reader import read_workbook

        paths = (read_workbook(workbook, sheets=["villages"]).folder_setting("inbox_dir"),)

    with _Progress(text("import_progress"), enabled=fmt == "text") as progress:
        summary = import_reports(workbook, paths, dry_run=dry_run, replace_manual=replace_manual, reopen=reopen,
                                 progress=progress)
    if fmt == "json":
        click.echo(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        click.echo("\n".join(summary.lines(get_definitions())))
    sys.exit(1 if summary.rejected else 0)


class _Progress:
    """A click progress bar on stderr, created on the first report of a batch of several files."""

    def __init__(self, label: str, enabled: bool = True) -> None:
        self.label, self.enabled = label, enabled
        self.bar: ProgressBar[int] | None = None

    def __enter__(self):
        return self

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total < 2:
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(1)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


@main.command()
@click.argument("workbook", required=False, type=click.Path(path_type=Path))  # a folder: the library's Vietnamese error
@click.option("--period", metavar="KỲ", help="Chỉ kiểm tra báo cáo của kỳ này (YYYY-MM, YYYY-Qn, YYYY …). / Period.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True,
              help="Định dạng in ra. / Output format.")
@click.option("--write", is_flag=True, help="Ghi sheet Kiểm tra, tô màu ô lỗi trong sổ (có sao lưu). / Write results into the workbook.")
@click.option("--list-rules", is_flag=True, help="In danh mục các quy tắc kiểm tra. / Print the rule catalogue.")
def validate(workbook, period, fmt, write, list_rules):
    """Kiểm tra sổ theo dõi: lỗi, cảnh báo theo từng ô. / Validate a commune workbook (exit 1 on errors)."""
    from .core.definitions import get_definitions
    from .core.messages import text
    from .core.validation import render, rule_catalogue
    from .verbs.validate import validate as validate_workbook

    if list_rules:
        click.echo(rule_catalogue("json" if fmt == "json" else "md"), nl=False)
        return
    if workbook is None:
        raise CliUsageError.of("validate_no_workbook")
    report = validate_workbook(workbook, period, write=write)
    click.echo(render(report, fmt, workbook.name), nl=False)
    if write and fmt == "text":
        click.echo(text("validate_written", sheet=get_definitions().sheet("checks").name))
    sys.exit(0 if report.ok else 1)


@main.command()
@click.argument("workbook", type=click.Path(path_type=Path))  # a missing file: the library's Vietnamese error
@click.option("--period", metavar="KỲ", help="Kỳ: YYYY-MM, YYYY-Qn, YYYY-H1/H2, YYYY-9T, YYYY (mặc định: kỳ hiện tại). / Period.")
@click.option("--write", is_flag=True, help="Ghi kết quả vào sheet Tổng hợp (có sao lưu). / Fill the Tổng hợp sheet.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Định dạng in ra. / Output format.")
def aggregate(workbook, period, write, fmt):
    """Tổng hợp theo thôn và toàn xã cho một kỳ. / Aggregate per village and in total for a period."""
    from .core.messages import text
    from .verbs.aggregate import aggregate as aggregate_workbook

    result = aggregate_workbook(workbook, period, write=write)
    if fmt == "json":
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(result.to_text())
    if write and fmt == "text":
        click.echo(text("aggregate_written", period=result.period, sheet=_sheet_name("summary"), file=workbook.name))


def _sheet_name(key: str) -> str:
    from .core.definitions import get_definitions

    return get_definitions().sheet(key).name


@main.command()
@click.argument("workbook", type=click.Path(path_type=Path))  # a missing file: the library's Vietnamese error
@click.option("--period", metavar="KỲ", help="Kỳ báo cáo (mặc định: kỳ hiện tại trong Cấu hình). / Period.")
@click.option("-o", "--out-dir", type=click.Path(path_type=Path),
              help="Thư mục ghi báo cáo (mặc định: thư mục gửi đi trong Cấu hình). / Output folder.")
@click.option("--password", help="Đặt mật khẩu cho tệp (mã hóa chuẩn Office). / Encrypt with this password.")
@click.option("--force", is_flag=True, help="Xuất cả khi còn lỗi; báo cáo sẽ ghi rõ. / Export despite validation errors.")
@click.option("--include-members", is_flag=True,
              help="Kèm danh sách thành viên (họ tên, điện thoại). / Include member names and phones.")
@click.option("--docx", is_flag=True,
              help="Ghi thêm bản dự thảo Word (.docx) cạnh báo cáo. / Also write the report as a Word draft.")
@click.option("--new-number", is_flag=True,
              help="Lấy số văn bản mới kể cả khi kỳ này đã xuất (mặc định: giữ số cũ). / Take a new document number.")
def export(workbook, period, out_dir, password, force, include_members, docx, new_number):
    """Xuất báo cáo gửi cấp trên (BC138_<mã xã>_<kỳ>.xlsx). / Export the submission workbook."""
    from .core.messages import text
    from .verbs.export import export_file

    done = export_file(workbook, period, out_dir, password=password, force=force, include_members=include_members,
                       docx=docx, new_number=new_number)
    path = done.path
    click.echo(text("export_written", file=path))
    if done.docx is not None:
        click.echo(text("export_docx_written", file=done.docx))
    for line in done.lines():
        click.echo(line)
    if password:
        click.echo(text("export_encrypted"))


def _decision_options(command):
    """--return, --accept, --decider: the clerk's decisions, on rollup (written in Quyết định) and on
    feedback (over what Quyết định says)."""
    for option in reversed([
        click.option("--return", "returns", multiple=True, metavar="MÃ=LÝ DO",
                     help="Trả lại báo cáo của đơn vị, với lý do (lặp lại cho nhiều đơn vị). / Return a unit's submission."),
        click.option("--accept", "accepts", multiple=True, metavar="MÃ",
                     help="Chấp nhận báo cáo của đơn vị (kể cả khi có lỗi). / Accept a unit's submission."),
        click.option("--decider", help="Người quyết định. / Who decides."),
    ]):
        command = option(command)
    return command


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))  # missing: the library's error
@click.option("--period", required=True, metavar="KỲ", help="Kỳ báo cáo cần tổng hợp. / Period.")
@click.option("-o", "--out", required=True, type=click.Path(path_type=Path),
              help="Tệp .xlsx hoặc thư mục ghi báo cáo tổng hợp. / Output file or folder.")
@click.option("--unit-name", required=True, help="Tên đơn vị tổng hợp, ví dụ “huyện A Lưới”. / Name of the upper unit.")
@click.option("--unit-code", help="Mã đơn vị hành chính của đơn vị tổng hợp. / Code of the upper unit.")
@click.option("--expected", type=click.Path(path_type=Path),
              help="Tệp CSV các đơn vị phải báo cáo: mã, tên. / CSV of expected units (code, name).")
@click.option("--settings", "settings_file", type=click.Path(path_type=Path),
              help="Tệp TOML phần đầu và chữ ký của báo cáo (parent_body, issuing_body, place_name, bcd_head, "
                   "doc_code, doc_next_number). / Report header and signer (TOML).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Định dạng in ra. / Output format.")
@click.option("--docx", is_flag=True,
              help="Ghi thêm bản dự thảo Word (.docx) cạnh báo cáo. / Also write the report as a Word draft.")
@_decision_options
def rollup(paths, period, out, unit_name, unit_code, expected, settings_file, fmt, docx, returns, accepts, decider):
    """Tổng hợp báo cáo của các đơn vị cấp dưới. / Roll up the units' submissions one level up."""
    from .core.messages import text
    from .verbs.new import load_settings_file
    from .verbs.rollup import rollup as rollup_submissions

    settings = load_settings_file(settings_file) if settings_file else None
    with _Progress(text("rollup_progress")) as progress:
        result = rollup_submissions(paths, period, out, unit_name=unit_name, unit_code=unit_code,
                                    expected=expected, progress=progress, settings=settings, docx=docx,
                                    returns=_returns(returns), accepts=list(accepts), decided_by=decider or "")
    if fmt == "json":
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo("\n".join(result.summary_lines()))
        if result.docx is not None:
            click.echo(text("export_docx_written", file=result.docx))
    sys.exit(1 if result.rejected else 0)


def _returns(values: tuple[str, ...]) -> dict[str, str]:
    """``--return CODE=reason`` options as a dict (a missing reason: a usage error)."""
    out = {}
    for value in values:
        code, sep, reason = value.partition("=")
        if not sep or not code.strip() or not reason.strip():
            raise click.BadParameter(value, param_hint="--return")
        out[code.strip()] = reason.strip()
    return out


@main.command()
@click.argument("rollup_file", metavar="ROLLUP", type=click.Path(path_type=Path))
@click.option("-o", "--out", required=True, type=click.Path(path_type=Path),
              help="Thư mục ghi các tệp phản hồi. / Folder for the feedback files.")
@_decision_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Định dạng in ra. / Output format.")
def feedback(rollup_file, out, returns, accepts, decider, fmt):
    """Ghi tệp phản hồi (chấp nhận / trả lại) cho từng đơn vị của báo cáo tổng hợp. / Write each unit's feedback file."""
    from .verbs.feedback import feedback as write_feedback_files

    result = write_feedback_files(rollup_file, out, returns=_returns(returns), accepts=list(accepts), decided_by=decider)
    if fmt == "json":
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo("\n".join(result.summary_lines()))


@main.command()
@click.argument("workbook", type=click.Path(path_type=Path))
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--reopen", multiple=True, metavar="KỲ",
              help="Mở lại kỳ đã được cấp trên chấp nhận để sửa (ghi vào Nhật ký). / Reopen an accepted period.")
@click.option("--reason", default="", help="Lý do mở lại. / Why the period is reopened.")
@click.option("--dry-run", is_flag=True, help="Chỉ đọc và báo kết quả, không ghi vào sổ. / Write nothing.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Định dạng in ra. / Output format.")
def receive(workbook, paths, reopen, reason, dry_run, fmt):
    """Nhận tệp phản hồi của cấp trên (chấp nhận / trả lại) vào sổ (tệp hoặc thư mục; mặc định: thư mục
    phản hồi trong Cấu hình). / Receive the level above's feedback files (default: the feedback folder)."""
    from .verbs.receive import receive as receive_feedback

    if not paths and not reopen:  # the feedback folder of the settings, as the button takes it
        from .core.errors import InputError
        from .io.reader import read_workbook

        book = read_workbook(workbook, sheets=["villages"])
        folder = book.folder_setting("feedback_dir")
        if not folder.is_dir():
            raise InputError("receive_folder_missing", folder=str(folder.resolve()),
                             label=book.defs.setting("feedback_dir").label)
        paths = (folder,)
    result = receive_feedback(workbook, paths, reopen=reopen, reason=reason, dry_run=dry_run)
    if fmt == "json":
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo("\n".join(result.summary_lines()))
    sys.exit(1 if result.rejected else 0)


@main.command()
@click.argument("workbook", type=click.Path(path_type=Path))  # a missing file: the library's Vietnamese error
@click.option("--dry-run", is_flag=True, help="Chỉ in các thay đổi sẽ làm, không ghi vào sổ. / Print the plan, write nothing.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Định dạng in ra. / Output format.")
def upgrade(workbook, dry_run, fmt):
    """Cập nhật sổ theo mẫu (định nghĩa) hiện hành, giữ nguyên số liệu. / Upgrade the workbook to the current definitions."""
    from .verbs.upgrade import upgrade as run_upgrade

    result = run_upgrade(workbook, dry_run=dry_run)
    if fmt == "json":
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo("\n".join(result.summary_lines()))


@main.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--workbook", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Sổ theo dõi (.xlsx) mà các tệp lệnh chạy trên đó. / The commune workbook.")
@click.option("--python", "python", metavar="PYTHON.EXE",
              help="Python chạy lệnh (mặc định: Python này trên Windows, “python” nơi khác). / Interpreter.")
def shortcuts(folder, workbook, python):
    """Tạo tệp lệnh bấm đúp thay cho các nút (khi Excel không chạy được macro).
    / Write double-clickable command files that do what the buttons do."""
    from .core.messages import text
    from .io.shortcuts import write_shortcuts

    files = write_shortcuts(folder, workbook, python=python)
    click.echo(text("shortcuts_made", n=len(files), folder=folder, workbook=workbook))
    for file in files:
        click.echo(f"  {file.name}")


@main.group(cls=Group)
def addin():
    """Phần bổ trợ Excel xltools.xlam: các nút trên thẻ BCĐ 138. / The Excel add-in with the buttons."""


_FOLDER_HELP = "Thư mục cài (mặc định: XLSTART của người dùng trên Windows). / Folder (default: the user's XLSTART)."


@addin.command("build")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("xltools.xlam"),
              show_default=True, help="Tệp phần bổ trợ cần tạo (.xlam). / The add-in file to write.")
def addin_build(out):
    """Tạo phần bổ trợ xltools.xlam (không cần Excel). / Build the add-in headless."""
    from .core.messages import text
    from .io.addin import build_addin

    click.echo(text("addin_built", file=build_addin(out)))


@addin.command("install")
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path), help=_FOLDER_HELP)
def addin_install(folder):
    """Cài phần bổ trợ cho người dùng này (Excel mở nó mỗi lần khởi động). / Install the add-in for this user."""
    from .core.messages import text
    from .io.addin import install_addin

    click.echo(text("addin_installed", file=install_addin(folder), tab=text("addin_tab")))


@addin.command("uninstall")
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path), help=_FOLDER_HELP)
def addin_uninstall(folder):
    """Gỡ phần bổ trợ của người dùng này. / Remove the add-in."""
    from .core.messages import text
    from .io.addin import ADDIN_NAME, uninstall_addin, xlstart_folder

    removed = uninstall_addin(folder)
    if removed is None:
        click.echo(text("addin_not_installed", folder=folder or xlstart_folder(), name=ADDIN_NAME))
    else:
        click.echo(text("addin_uninstalled", file=removed, tab=text("addin_tab")))


def _usage_live():
    from .core.messages import text
    from .doctor import ERROR, Check

    return Check("live", ERROR, text("doctor_live_no_workbook"))


@main.command()
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Thư mục ghi gói cài đặt. / Folder for the zip.")
@click.option("--python", "pythons", multiple=True, metavar="3.X",
              help="Phiên bản Python của máy Windows (lặp lại được; mặc định 3.10–3.13). / Target Pythons.")
@click.option("--platform", default="win_amd64", show_default=True,
              help="Nền tảng của các gói wheel; “here” = máy này (để thử). / Wheel platform; 'here' for this machine.")
def bundle(out_dir, pythons, platform):
    """Tạo gói cài đặt không cần mạng cho máy Windows (.zip). / Build the offline Windows installer."""
    from .bundle import DEFAULT_PYTHONS, build_bundle
    from .core.messages import text

    if platform == "here":
        pythons = pythons or (f"{sys.version_info[0]}.{sys.version_info[1]}",)
    pythons = pythons or DEFAULT_PYTHONS
    made = build_bundle(out_dir, pythons, platform=platform)
    click.echo(text("bundle_made", file=made, size=round(made.stat().st_size / 1e6), pythons=", ".join(pythons)))


@main.command()
@click.argument("workbook", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Định dạng in ra. / Output format.")
@click.option("--live", is_flag=True,
              help="Bấm thử mọi nút trên một bản sao của sổ trong Excel ẩn (Windows). / Click every button on a copy in a hidden Excel.")
@click.pass_context
def doctor(ctx, workbook, fmt, live):
    """Kiểm tra máy đã sẵn sàng cho nút bấm trong sổ .xlsm chưa. / Check this PC for the workbook's buttons."""
    from .doctor import exit_code, find_workbook, live_checks, render, run_doctor

    checks = run_doctor(workbook or find_workbook())
    if live:
        target = workbook or find_workbook()
        checks += live_checks(target) if target else [_usage_live()]
    if fmt == "json":
        click.echo(json.dumps([c.record() for c in checks], ensure_ascii=False, indent=2))
    else:
        click.echo(render(checks))
    ctx.exit(exit_code(checks))


if __name__ == "__main__":  # pragma: no cover
    main()
