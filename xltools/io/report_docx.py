"""The report as an editable Word draft (BC138_<unit>_<period>.docx) with python-docx.

The same content as the Báo cáo sheet of the submission (``io/submission.py``): the same body
(``core/report_body.py``: sections, paragraphs and tables, one list for both), the same
annexes (``annex_plan``), every word from ``workbook/report.toml``. The layout is the Decree
30/2020/NĐ-CP one of report.toml [layout]: A4 portrait, its margins, Times New Roman at its
sizes, the two-column header with its rules, real Word tables whose header row repeats on
each page, the Nơi nhận and signature block kept on one page, the annexes (Phụ lục) in their
own section, landscape when their table is wide. Officials finish and sign it in Word.
"""
from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from ..core.aggregation import LEVEL_COMMUNE, Aggregate
from ..core.definitions import Definitions, ReportLayout, get_definitions, report_defs
from ..core.messages import fill
from ..core.report_body import HEADING, NOTE, SECTION, TABLE, ReportBody, date_text, report_body
from .files import write_atomic
from .submission import (
    _date_line,
    _number_text,
    annex_plan,
    encrypt,
    text_width,
)

# Paragraph settings of the Decree (Phụ lục I): first line indented 1-1.27 cm, 6 pt between
# paragraphs, single to 1.5 line spacing. Layout, not wording: they stay here.
FIRST_LINE_MM = 12.7
SPACE_AFTER_PT = 6
LINE_SPACING = 1.15
CELL_PAD_PT = 11  # a table cell's left and right padding together (Word's default 0.19 cm each)
ALIGN = {"left": WD_ALIGN_PARAGRAPH.LEFT, "center": WD_ALIGN_PARAGRAPH.CENTER,
         "right": WD_ALIGN_PARAGRAPH.RIGHT, "justify": WD_ALIGN_PARAGRAPH.JUSTIFY}


def docx_name(xlsx_path: str | Path) -> Path:
    """The Word draft beside a submission: BC138_<unit>_<period>.docx."""
    return Path(xlsx_path).with_suffix(".docx")


# -- low-level helpers ---------------------------------------------------------------------------
def _font(run, layout: ReportLayout, size: float, *, bold: bool = False, italic: bool = False) -> None:
    run.font.name = layout.font
    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.italic = italic
    fonts = run._element.get_or_add_rPr().get_or_add_rFonts()
    for attr in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):  # Vietnamese letters too, not only ASCII
        fonts.set(qn(attr), layout.font)


def _para(container, text: str, layout: ReportLayout, size: float, *, align: str = "left", bold: bool = False,
          italic: bool = False, indent: bool = False, keep_next: bool = False, after: float = SPACE_AFTER_PT,
          before: float = 0.0):
    p = container.add_paragraph()
    p.alignment = ALIGN[align]
    fmt = p.paragraph_format
    fmt.space_before = Pt(before)
    fmt.space_after = Pt(after)
    fmt.line_spacing = LINE_SPACING
    fmt.widow_control = True
    if indent:
        fmt.first_line_indent = Mm(FIRST_LINE_MM)
    if keep_next:
        fmt.keep_with_next = True
    if text:
        _font(p.add_run(text), layout, size, bold=bold, italic=italic)
    return p


def _cell_para(cell, text: str, layout: ReportLayout, size: float, **kwargs: Any):
    """The cell's first (empty) paragraph for the first text, a new paragraph after it."""
    first = cell.paragraphs[0]
    if len(cell.paragraphs) == 1 and not first.text and not first.runs:
        first._element.getparent().remove(first._element)
    return _para(cell, text, layout, size, **kwargs)


def _rule(cell, layout: ReportLayout, width_pt: float, cell_pt: float):
    """A thin line ``width_pt`` long centred in ``cell`` (a paragraph's top border between indents)."""
    p = _cell_para(cell, "", layout, 2, after=0)
    side = max((cell_pt - CELL_PAD_PT - width_pt) / 2, 0.0)
    p.paragraph_format.left_indent = Pt(side)
    p.paragraph_format.right_indent = Pt(side)
    p.paragraph_format.line_spacing = 1.0
    borders = OxmlElement("w:pBdr")
    top = OxmlElement("w:top")
    for key, value in (("w:val", "single"), ("w:sz", "6"), ("w:space", "1"), ("w:color", "000000")):
        top.set(qn(key), value)
    borders.append(top)
    p._p.get_or_add_pPr().append(borders)
    return p


def _no_borders(table) -> None:
    tbl_pr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        e = OxmlElement(f"w:{edge}")
        e.set(qn("w:val"), "nil")
        borders.append(e)
    tbl_pr.append(borders)


def _widths(table, widths_pt: Sequence[float]) -> None:
    """Fixed column widths (Word reads the cells', LibreOffice the grid's)."""
    table.autofit = False
    layout_el = OxmlElement("w:tblLayout")
    layout_el.set(qn("w:type"), "fixed")
    table._tbl.tblPr.append(layout_el)
    for col, w in zip(table.columns, widths_pt):
        col.width = Pt(w)
    for row in table.rows:
        for cell, w in zip(row.cells, widths_pt):
            cell.width = Pt(w)


def _row_flags(row, *, header: bool = False) -> None:
    """A row never split over two pages; a header row repeated at the top of each page."""
    tr_pr = row._tr.get_or_add_trPr()
    tr_pr.append(OxmlElement("w:cantSplit"))
    if header:
        tr_pr.append(OxmlElement("w:tblHeader"))


def _table(doc, layout: ReportLayout, widths_pt: Sequence[float], header: Sequence[str], rows: Sequence[Sequence[Any]],
           aligns: Sequence[str], *, total_last: bool = False):
    """A bordered table at the table size, its header row repeating on every page it runs onto."""
    size = float(layout.size_table)
    table = doc.add_table(rows=1 + len(rows), cols=len(widths_pt))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _widths(table, widths_pt)
    for cell, label in zip(table.rows[0].cells, header):
        _cell_para(cell, str(label), layout, size, align="center", bold=True, after=0)
        cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    _row_flags(table.rows[0], header=True)
    for n, values in enumerate(rows, start=1):
        bold = total_last and n == len(rows)
        row = table.rows[n]
        _row_flags(row)
        for cell, value, align in zip(row.cells, values, aligns):
            _cell_para(cell, "" if value is None else str(value), layout, size, align=align, bold=bold, after=0)
        if total_last and n == len(rows) - 1:  # the total row never stands alone on a page
            for cell in row.cells:
                for p in cell.paragraphs:
                    p.paragraph_format.keep_with_next = True
    return table


def _page(section, layout: ReportLayout, *, landscape: bool) -> None:
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = (Mm(297), Mm(210)) if landscape else (Mm(210), Mm(297))
    section.top_margin = Mm(layout.margin_top_mm)
    section.bottom_margin = Mm(layout.margin_bottom_mm)
    section.left_margin = Mm(layout.margin_left_mm)
    section.right_margin = Mm(layout.margin_right_mm)
    section.header_distance = Mm(10)


def _page_number(section, layout: ReportLayout) -> None:
    """The page number centred in the top margin, not on the first page (Decree 30)."""
    section.different_first_page_header_footer = True
    p = section.header.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = p.add_run()
    _font(run, layout, float(layout.size_body))
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if kind:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        else:
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = text
        run._r.append(el)


def _printable_width(layout: ReportLayout, landscape: bool) -> float:
    width_mm = 297.0 if landscape else 210.0
    return (width_mm - layout.margin_left_mm - layout.margin_right_mm) * 72 / 25.4


def _spread(total: float, weights: Sequence[float]) -> list[float]:
    s = sum(weights) or 1
    return [total * w / s for w in weights]


# -- the document --------------------------------------------------------------------------------
def build_report_docx(agg: Aggregate, header: Mapping[str, Any], defs: Definitions | None = None, *,
                      body: ReportBody | None = None) -> bytes:
    """The Word draft of the report of ``agg`` (a commune's or a rollup's) as bytes. ``body`` is the
    report's body (``core.report_body``), the one the Báo cáo sheet prints; built here when not given."""
    defs = defs or get_definitions()
    rep = report_defs(defs)
    layout, text = rep["layout"], rep.get("text", {})
    size_body, size_h = float(layout.size_body), float(layout.size_header)
    upper = agg.level != LEVEL_COMMUNE
    params = {**{k: v for k, v in header.items() if isinstance(v, (str, int))}, "unit_name": agg.unit_name,
              "period_label": agg.period.label}
    doc = Document()
    doc.core_properties.title = f"{agg.unit_name} – {agg.period.label}"
    doc.core_properties.author = "xltools"
    normal = doc.styles["Normal"]
    normal.font.name = layout.font
    normal.font.size = Pt(size_body)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), layout.font)
    section = doc.sections[0]
    _page(section, layout, landscape=False)
    _page_number(section, layout)
    page_w = _printable_width(layout, False)

    # -- the header: issuing body left, national title and motto right, their rules, number, date --
    national_w = text_width(text["national"], size_h, bold=True) + CELL_PAD_PT + 4
    left_w = max(page_w * int(layout.header_left_columns) / int(layout.grid_columns), page_w - national_w)
    right_w = page_w - left_w
    head = doc.add_table(rows=2, cols=2)
    head.alignment = WD_TABLE_ALIGNMENT.CENTER
    _no_borders(head)
    _widths(head, [left_w, right_w])
    lcell, rcell = head.rows[0].cells
    parent = str(header.get("parent_body") or "").upper()
    issuing = str(header.get("issuing_body") or "").upper()
    _cell_para(lcell, parent, layout, size_h, align="center", after=0)
    _cell_para(lcell, issuing, layout, size_h, align="center", bold=True, after=0)
    issuing_w = min(text_width(issuing or "-", size_h, bold=True), left_w - CELL_PAD_PT)
    _rule(lcell, layout, issuing_w * float(layout.issuing_rule_share), left_w)
    _cell_para(rcell, text["national"], layout, size_h, align="center", bold=True, after=0)
    _cell_para(rcell, text["motto"], layout, float(layout.size_motto), align="center", bold=True, after=0)
    _rule(rcell, layout, text_width(text["motto"], float(layout.size_motto), bold=True), right_w)
    day = header.get("date") or dt.date.today()
    lcell, rcell = head.rows[1].cells
    _cell_para(lcell, _number_text(header, text), layout, size_body, align="center", after=0)
    _cell_para(rcell, _date_line(rep, str(header.get("place_name") or ""), day), layout, size_body, align="center",
               italic=True, after=0)
    for row in head.rows:
        _row_flags(row)

    # -- title, subject, data window, introduction ---------------------------------------------------
    _para(doc, text["title"], layout, float(layout.size_title), align="center", bold=True, before=18, after=0,
          keep_next=True)
    subject = fill(text["subject_upper" if upper else "subject"], model_name=header.get("model_name") or "",
                   period_label=agg.period.label)
    _para(doc, subject, layout, size_body, align="center", bold=True, after=0, keep_next=True)
    start, end = agg.period.window(int(header.get("cut_day") or 15))
    _para(doc, fill(text["window"], start=date_text(start), end=date_text(end)), layout, size_body, align="center",
          italic=True, after=12)
    annexes = annex_plan(agg, rep) if len(agg.parts) else []
    body = body or report_body(agg, header, defs, annexes=[a["number"] for a in annexes])
    for b in body.blocks:
        if b.kind == SECTION:
            _para(doc, b.text, layout, size_body, bold=True, indent=True, keep_next=True, before=6)
        elif b.kind == HEADING:
            _para(doc, b.text, layout, size_body, bold=True, italic=True, indent=True, keep_next=True)
        elif b.kind == NOTE:
            _para(doc, b.text, layout, size_body, align="justify", italic=True, indent=True, before=6)
        elif b.kind == TABLE:
            _table(doc, layout, _spread(page_w, b.weights), b.header, b.rows, b.aligns, total_last=b.total_last)
        else:
            _para(doc, b.text, layout, size_body, align="justify", indent=True)

    # -- the closing sentence, Nơi nhận and the signature: kept together on one page -----------------
    closing = body.closing
    _para(doc, closing, layout, size_body, align="justify", indent=True, keep_next=True, after=12)
    recipients = header.get("recipients") or text["recipients_upper" if upper else "recipients"]
    rec_w = page_w * int(layout.recipients_columns) / int(layout.grid_columns)
    sign = doc.add_table(rows=1, cols=2)
    _no_borders(sign)
    _widths(sign, [rec_w, page_w - rec_w])
    _row_flags(sign.rows[0])  # one row that cannot split: the block stays on one page
    lcell, rcell = sign.rows[0].cells
    keep = {"keep_next": True, "after": 0}
    _cell_para(lcell, text["recipients_label"], layout, float(layout.size_recipients), bold=True, italic=True, **keep)
    size_rl = float(layout.size_recipients_list)
    for item in recipients:
        _cell_para(lcell, "- " + fill(item, **params) + ";", layout, size_rl, **keep)
    _cell_para(lcell, "- " + text["archive"], layout, size_rl, after=0)
    _cell_para(rcell, text["signature_for"], layout, size_body, align="center", bold=True, **keep)
    _cell_para(rcell, text["signature_title"], layout, size_body, align="center", bold=True, **keep)
    seal = float(layout.signature_space_mm) * 72 / 25.4
    _cell_para(rcell, str(header.get("signer") or ""), layout, size_body, align="center", bold=True, before=seal, after=0)

    # -- the annexes (Phụ lục), each in its own section, landscape when wide ------------------------
    part = text["column_unit" if upper else "column_village"]
    number = _number_text(header, text).split(" ", 1)[-1]
    for annex in annexes:
        sec = doc.add_section(WD_SECTION.NEW_PAGE)
        _page(sec, layout, landscape=annex["landscape"])
        sec.different_first_page_header_footer = False
        _para(doc, fill(text["annex_name"], number=annex["number"]), layout, size_body, align="center", bold=True, after=0)
        _para(doc, fill(annex["title"], part_label=part.lower()).upper(), layout, size_body, align="center", bold=True,
              after=0)
        attached = fill(text["annex_attached_upper" if upper else "annex_attached"], number=number,
                        date=date_text(day), unit_name=agg.unit_name, issuing_body=str(header.get("issuing_body") or ""))
        _para(doc, attached, layout, size_body, align="center", italic=True, after=12)
        head_row = list(annex["header"])
        head_row[1] = part
        avail = _printable_width(layout, annex["landscape"])
        widths = list(annex["widths"])
        scale = min(1.0, avail / sum(widths)) if sum(widths) else 1.0
        _table(doc, layout, [w * scale for w in widths], head_row, annex["rows"],
               ["center", "left"] + ["right"] * (len(head_row) - 2), total_last=True)
        if annex.get("footnote"):
            _para(doc, annex["footnote"], layout, float(layout.size_table), italic=True, before=6)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def write_report_docx(path: str | Path, data: bytes, *, password: str | None = None) -> Path:
    """Write the Word draft atomically, encrypted (standard Office) when a password is given."""
    payload = encrypt(data, password) if password else data
    return write_atomic(path, lambda tmp: Path(tmp).write_bytes(payload), keep_backup=False)
