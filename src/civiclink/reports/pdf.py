"""A report as a PDF (fpdf2): the seed's sentence, the figures, charts and tables, in Chinese, with the font
embedded (a subset of Noto Sans CJK SC, from Debian's fonts-noto-cjk — fpdf2 reads a face out of the .ttc
collection and embeds the glyphs used, so the file reads the same on a machine without the font).

The charts are drawn with fpdf2's own lines and rectangles, not pictures: their words and numbers are text in the
PDF (searchable, copyable, sharp when printed), and drawing them needs nothing but the font. No network, no
matplotlib. Every word comes from the catalogue (``report.*``), as on the page and in the Excel file.
"""

from __future__ import annotations

import math
from datetime import date
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import WrapMode, XPos, YPos
from fpdf.fonts import FontFace

from civiclink.analytics.service import OTHER, CountRead
from civiclink.config import ReportSettings
from civiclink.errors import DomainError
from civiclink.reports.service import (
    SummaryReport,
    day_text,
    percent,
    short_span,
    signed,
    span_text,
    topic_status,
)
from civiclink.web.messages import t

FAMILY = "cjk"
ACCENT = (46, 94, 170)
COMPARE = (222, 120, 31)
GRID = (222, 228, 234)
INK = (33, 37, 41)
MUTED = (108, 117, 125)
BOX = (244, 247, 251)
HEAD = (220, 230, 241)
LEFT, TOP, RIGHT = 15.0, 15.0, 15.0
PAGE_W = 210.0
BODY_W = PAGE_W - LEFT - RIGHT
# Chinese has no spaces to break lines at: break anywhere, flush left (fpdf2 justifies by default).
PARAGRAPH = {"align": "L", "wrapmode": WrapMode.CHAR, "new_x": XPos.LMARGIN, "new_y": YPos.NEXT}
MAX_TOPIC_ROWS = 62  # days of one topic printed; the Excel file has them all


class FontMissing(DomainError):
    status_code = 503
    code = "font_missing"


@lru_cache(maxsize=8)
def face_index(path: str, face: str) -> int:
    """The index of the face named ``face`` (family name, e.g. "Noto Sans CJK SC") in a font collection; 0 for a
    single font, or when no face has that name."""
    if not path.lower().endswith((".ttc", ".otc")):
        return 0
    from fontTools.ttLib import TTCollection

    collection = TTCollection(path, lazy=True)
    try:
        for i, font in enumerate(collection.fonts):
            if font["name"].getDebugName(1) == face:
                return i
    finally:
        collection.close()
    return 0


def check_fonts(settings: ReportSettings) -> None:
    """A clear Chinese error when a font file is missing (the PDF cannot be made without one)."""
    for path in (settings.font_path, settings.bold_font_path):
        if not Path(path).is_file():
            raise FontMissing(t("report.error.font_missing", path=str(path)))


class ReportPdf(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FAMILY, "", 8)
        self.set_text_color(*MUTED)
        self.cell(0, 6, t("report.pdf.footer", text=self.footer_text, page=self.page_no()), align="C")


def _new_pdf(settings: ReportSettings) -> ReportPdf:
    check_fonts(settings)
    pdf = ReportPdf(orientation="P", unit="mm", format="A4")
    pdf.set_margins(LEFT, TOP, RIGHT)
    pdf.set_auto_page_break(auto=True, margin=16)
    for style, path in (("", settings.font_path), ("B", settings.bold_font_path)):
        pdf.add_font(FAMILY, style, str(path), collection_font_number=face_index(str(path), settings.font_face))
    pdf.set_lang("zh-CN")
    return pdf


# -- drawing helpers -------------------------------------------------------------------------------------------


def _ensure(pdf: FPDF, height: float) -> None:
    if pdf.get_y() + height > pdf.page_break_trigger:
        pdf.add_page()


def _heading(pdf: FPDF, text: str) -> None:
    _ensure(pdf, 16)
    pdf.ln(2)
    pdf.set_font(FAMILY, "B", 12)
    pdf.set_text_color(*ACCENT)
    pdf.cell(0, 8, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*INK)


def _fit_text(pdf: FPDF, text: str, width: float) -> str:
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text + "…"


def _nice_step(maximum: float, ticks: int = 4) -> int:
    if maximum <= ticks:
        return 1
    raw = maximum / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * magnitude:
            return int(m * magnitude)
    return int(10 * magnitude)


def column_chart(pdf: FPDF, x: float, y: float, w: float, h: float, title: str, labels: list[str],
                 values: list[int], compare: list[int | None] | None = None,
                 legend: tuple[str, str] | None = None) -> None:
    """Vertical bars (``values``) with a dashed line (``compare``, by position) over a gridded count axis."""
    pdf.set_font(FAMILY, "B", 10)
    pdf.set_text_color(*INK)
    pdf.set_xy(x, y)
    pdf.cell(w, 6, title)
    top = y + 9
    if legend and compare:
        pdf.set_font(FAMILY, "", 7)
        lx = x + w - 2
        for text, colour, dashed in ((legend[1], COMPARE, True), (legend[0], ACCENT, False)):
            lx -= pdf.get_string_width(text) + 2
            pdf.set_xy(lx, y + 1)
            pdf.cell(pdf.get_string_width(text) + 1, 4, text)
            lx -= 7
            if dashed:
                pdf.set_draw_color(*COMPARE)
                pdf.set_line_width(0.5)
                pdf.set_dash_pattern(dash=1, gap=0.8)
                pdf.line(lx, y + 3, lx + 5, y + 3)
                pdf.set_dash_pattern()
            else:
                pdf.set_fill_color(*colour)
                pdf.rect(lx, y + 1.8, 5, 2.4, style="F")
            lx -= 3
    left, right, bottom = x + 12, x + w - 2, y + h - 9
    plot_w, plot_h = right - left, bottom - top
    others = [v for v in (compare or []) if v is not None]
    vmax = max([*values, *others, 0])
    step = _nice_step(vmax)
    ymax = max(step, step * math.ceil(vmax / step))
    pdf.set_font(FAMILY, "", 6.5)
    pdf.set_text_color(*MUTED)
    pdf.set_line_width(0.2)
    for k in range(int(ymax / step) + 1):
        yy = bottom - plot_h * k * step / ymax
        pdf.set_draw_color(*GRID)
        pdf.line(left, yy, right, yy)
        pdf.set_xy(x, yy - 2)
        pdf.cell(11, 4, f"{k * step:,}", align="R")
    n = max(1, len(values))
    slot = plot_w / n
    bar = slot * 0.62
    pdf.set_fill_color(*ACCENT)
    for i, v in enumerate(values):
        bh = plot_h * v / ymax
        if bh > 0:
            pdf.rect(left + slot * i + (slot - bar) / 2, bottom - bh, bar, bh, style="F")
    if n <= 20:
        pdf.set_font(FAMILY, "", 6.5)
        pdf.set_text_color(*INK)
        for i, v in enumerate(values):
            pdf.set_xy(left + slot * i, bottom - plot_h * v / ymax - 4)
            pdf.cell(slot, 4, f"{v:,}", align="C")
    if compare:
        points = [(left + slot * i + slot / 2, bottom - plot_h * v / ymax)
                  for i, v in enumerate(compare[:n]) if v is not None]
        pdf.set_draw_color(*COMPARE)
        pdf.set_line_width(0.5)
        pdf.set_dash_pattern(dash=1.2, gap=0.8)
        for (x1, y1), (x2, y2) in pairwise(points):
            pdf.line(x1, y1, x2, y2)
        pdf.set_dash_pattern()
        pdf.set_fill_color(*COMPARE)
        for px, py in points:
            pdf.rect(px - 0.7, py - 0.7, 1.4, 1.4, style="F")
    pdf.set_draw_color(*MUTED)
    pdf.set_line_width(0.3)
    pdf.line(left, bottom, right, bottom)
    pdf.set_font(FAMILY, "", 6.5)
    pdf.set_text_color(*MUTED)
    widest = max((pdf.get_string_width(label) for label in labels), default=0) + 1
    every = max(1, math.ceil(widest / slot))
    for i, label in enumerate(labels):
        if i % every == 0:
            pdf.set_xy(left + slot * i + slot / 2 - widest / 2, bottom + 1)
            pdf.cell(widest, 4, label, align="C")
    pdf.set_text_color(*INK)
    pdf.set_line_width(0.2)


def bar_chart(pdf: FPDF, x: float, y: float, w: float, h: float, title: str, items: list[tuple[str, int]]) -> None:
    """Horizontal bars, largest first, each with its count and share."""
    pdf.set_font(FAMILY, "B", 10)
    pdf.set_text_color(*INK)
    pdf.set_xy(x, y)
    pdf.cell(w, 6, title)
    total = sum(v for _, v in items)
    if not total:
        pdf.set_font(FAMILY, "", 8)
        pdf.set_text_color(*MUTED)
        pdf.set_xy(x, y + 10)
        pdf.cell(w, 5, t("report.no_data"))
        pdf.set_text_color(*INK)
        return
    label_w, value_w = min(30.0, w * 0.34), 22.0
    bar_left = x + label_w + 1
    bar_w = w - label_w - value_w - 2
    rows = len(items)
    row_h = min(6.0, (h - 8) / max(rows, 1))
    vmax = max(v for _, v in items)
    pdf.set_font(FAMILY, "", 7.5)
    for i, (label, value) in enumerate(items):
        yy = y + 8 + row_h * i
        pdf.set_text_color(*INK)
        pdf.set_xy(x, yy)
        pdf.cell(label_w, row_h, _fit_text(pdf, label, label_w - 1), align="R")
        length = bar_w * value / vmax if vmax else 0
        pdf.set_fill_color(*ACCENT)
        if length > 0:
            pdf.rect(bar_left, yy + row_h * 0.18, length, row_h * 0.64, style="F")
        pdf.set_xy(bar_left + length + 1, yy)
        pdf.set_text_color(*MUTED)
        pdf.cell(value_w, row_h, f"{value:,}（{100 * value / total:.1f}%）")
    pdf.set_text_color(*INK)


def _items(items: list[CountRead], none_key: str, top: int = 10) -> list[tuple[str, int]]:
    out = [((t("report.other") if i.code == OTHER else i.name) or t(none_key), i.count) for i in items if i.count]
    if len(out) > top:
        out = out[:top - 1] + [(t("report.other"), sum(v for _, v in out[top - 1:]))]
    return out


def _table(pdf: FPDF, header: list[str], rows: list[list[str]], widths: tuple[float, ...],
           align: tuple[str, ...] | None = None, size: float = 8.5) -> None:
    pdf.set_font(FAMILY, "", size)
    pdf.set_draw_color(*GRID)
    pdf.set_fill_color(*BOX)  # the striped rows' colour (fpdf2 fills with the current colour)
    heading = FontFace(family=FAMILY, emphasis="BOLD", size_pt=size, fill_color=HEAD)
    with pdf.table(col_widths=widths, width=sum(widths), align="LEFT", text_align=align or "LEFT",
                   line_height=size * 0.55, headings_style=heading, first_row_as_headings=True,
                   cell_fill_color=BOX, cell_fill_mode="ROWS", padding=1, wrapmode=WrapMode.CHAR) as table:
        head = table.row()
        for text in header:
            head.cell(text)
        for values in rows:
            row = table.row()
            for text in values:
                row.cell(text)
    pdf.ln(2)


# -- the document ----------------------------------------------------------------------------------------------


def figure_rows(report: SummaryReport) -> list[list[str]]:
    c, p = report.comparison, report.previous
    sat, first_attempt = report.satisfaction, report.first_attempt_connection
    rows = [
        [t("report.fig.volume"), f"{report.volume:,} {t('report.unit.orders')}", span_text(report.start, report.end)],
        [t("report.fig.daily"), f"{report.daily_average:,.1f} {t('report.unit.orders')}",
         t("report.fig.days", days=report.days)],
        [t("report.fig.change_vs", label=c.label), change_text_short(c.change_pct),
         t("report.note.compare", span=span_text(c.start, c.end), volume=f"{c.volume:,}",
           daily=f"{c.daily_average:,.1f}")],
        [t("report.fig.previous_change"), change_text_short(p.change_pct),
         t("report.note.previous", span=span_text(p.start, p.end), volume=f"{p.volume:,}")],
        [t("report.fig.satisfaction"), percent(sat.rate) if sat.rate is not None else t("report.no_callbacks"),
         t("report.note.satisfaction", numerator=sat.numerator, denominator=sat.denominator)
         + (t("report.note.points", label=c.label, change=signed(c.satisfaction_change, ""))
            if c.satisfaction_change is not None else "")],
        [t("report.fig.first_attempt"),
         percent(first_attempt.rate) if first_attempt.available else t("report.no_call_data"),
         "" if first_attempt.available else t("report.first_attempt.note")],
        [t("report.fig.on_time"), percent(report.on_time_completion.rate),
         t("report.note.on_time", numerator=report.on_time_completion.numerator,
           denominator=report.on_time_completion.denominator)],
        [t("report.fig.direct"), percent(report.direct_answer.rate),
         t("report.note.direct", numerator=report.direct_answer.numerator,
           denominator=report.direct_answer.denominator)],
    ]
    for flow in report.linkage:
        rows.append([t(f"report.fig.flow.{flow.flow}"), f"{flow.total:,} {t('report.unit.orders')}",
                     t("report.note.flow", accepted=flow.accepted, rejected=flow.rejected, waiting=flow.waiting)])
    return rows


def change_text_short(pct: float | None) -> str:
    return t("report.change.none") if pct is None else signed(pct)


def build_pdf(report: SummaryReport, settings: ReportSettings, tz) -> bytes:
    pdf = _new_pdf(settings)
    pdf.set_title(f"{report.site_name} {report.title}")
    pdf.set_author(report.site_name)
    pdf.set_creator("CivicLink")
    generated = report.generated_at.astimezone(tz)
    pdf.footer_text = t("report.pdf.generated", site=report.site_name,
                        time=generated.strftime("%Y-%m-%d %H:%M"))
    pdf.add_page()
    pdf.set_text_color(*INK)
    pdf.set_font(FAMILY, "B", 17)
    pdf.multi_cell(0, 9, t("report.pdf.title", site=report.site_name), **PARAGRAPH)
    pdf.set_font(FAMILY, "", 10)
    pdf.set_text_color(*MUTED)
    span = span_text(report.start, report.end)
    subtitle = t("report.pdf.subtitle", span=span, days=report.days,
                 place=report.place.name if report.place else t("report.place.all"))
    pdf.multi_cell(0, 6, subtitle if report.title == span else f"{report.title}　{subtitle}",
                   **PARAGRAPH)
    pdf.set_text_color(*INK)
    pdf.ln(2)
    pdf.set_font(FAMILY, "", 11)
    pdf.set_fill_color(*BOX)
    pdf.multi_cell(0, 7, report.headline, fill=True, padding=3, **PARAGRAPH)

    _heading(pdf, t("report.section.figures"))
    _table(pdf, [t("report.xlsx.figure"), t("report.xlsx.value"), t("report.xlsx.note")], figure_rows(report),
           (38, 34, BODY_W - 72), ("LEFT", "RIGHT", "LEFT"))

    _heading(pdf, t("report.section.charts"))
    _ensure(pdf, 66)
    y = pdf.get_y()
    compare = report.comparison.by_day
    column_chart(pdf, LEFT, y, BODY_W, 64, t("report.chart.by_day"),
                 [day_text(_date(d.code), year=False) for d in report.by_day], [d.count for d in report.by_day],
                 [compare[i].count if i < len(compare) else None for i in range(len(report.by_day))],
                 legend=(t("report.series.current"), report.comparison.label))
    pdf.set_y(y + 68)
    half = (BODY_W - 6) / 2
    pairs = [
        ((t("report.chart.channel"), _items(report.by_channel, "report.none")),
         (t("report.chart.request_type"), _items(report.by_request_type, "report.none"))),
        ((t("report.chart.category"), _items(report.by_category, "report.category.none")),
         (t("report.chart.place"), _items(report.by_place, "report.place.none"))),
        ((t("report.chart.satisfaction"), [(lv.name or lv.code or "", lv.count)
                                            for lv in report.satisfaction.levels]), None),
    ]
    for first, second in pairs:
        rows = max(len(first[1]), len(second[1]) if second else 0, 1)
        height = 12 + 6 * min(rows, 10)
        _ensure(pdf, height + 2)
        y = pdf.get_y()
        bar_chart(pdf, LEFT, y, half, height, *first)
        if second:
            bar_chart(pdf, LEFT + half + 6, y, half, height, *second)
        pdf.set_y(y + height + 2)

    _heading(pdf, t("report.section.hotspots"))
    if report.hotspots:
        _table(pdf, [t("report.hot.category"), t("report.hot.place"), t("report.hot.days"), t("report.hot.recent"),
                     t("report.hot.reason")],
               [[h.category.name if h.category else "", h.place.name if h.place else "", short_span(min(h.days), max(h.days)), f"{h.recent:,}",
                 h.reason] for h in report.hotspots], (30, 26, 30, 16, BODY_W - 102),
               ("LEFT", "LEFT", "LEFT", "RIGHT", "LEFT"))
    else:
        _note(pdf, t("report.hotspots.none"))

    _heading(pdf, t("report.section.topics"))
    if not report.topics:
        _note(pdf, t("report.topics.none"))
    for topic in report.topics:
        _ensure(pdf, 24)
        pdf.set_font(FAMILY, "B", 10)
        pdf.multi_cell(0, 6, t("report.topic.line", name=topic.topic.name, total=f"{topic.total:,}",
                               zero=topic.zero_reports, reported=topic.reported,
                               span=span_text(topic.start, topic.end)),
                       **PARAGRAPH)
        rows = [[day_text(d.day), "—" if d.count is None else f"{d.count:,}", topic_status(d),
                 "、".join(d.orders[:6]) + ("…" if len(d.orders) > 6 else "")]
                for d in topic.days[:MAX_TOPIC_ROWS]]
        _table(pdf, [t("report.xlsx.day"), t("report.topic.count"), t("report.topic.status"),
                     t("report.topic.orders")], rows, (34, 18, 24, BODY_W - 76), ("LEFT", "RIGHT", "LEFT", "LEFT"),
               size=8)
        if len(topic.days) > MAX_TOPIC_ROWS:
            _note(pdf, t("report.pdf.more_days", more=len(topic.days) - MAX_TOPIC_ROWS))

    _heading(pdf, t("report.section.definitions"))
    pdf.set_font(FAMILY, "", 8)
    pdf.set_text_color(*MUTED)
    for text in report.definitions:
        pdf.multi_cell(0, 4.6, "·" + text, **PARAGRAPH)
    pdf.set_text_color(*INK)
    return bytes(pdf.output())


def _note(pdf: FPDF, text: str) -> None:
    pdf.set_font(FAMILY, "", 9)
    pdf.set_text_color(*MUTED)
    pdf.multi_cell(0, 6, text, **PARAGRAPH)
    pdf.set_text_color(*INK)


def _date(code: str | None):
    return date.fromisoformat(code) if code else None
