"""A report as an Excel workbook (openpyxl): 汇总, 按日 (with a chart), 按渠道, 按诉求类型, 按分类, 按属地, 热点,
专题日报 and 口径说明 — numbers as numbers (percent cells formatted as percent), every word from the catalogue."""

from __future__ import annotations

import io
import re
from datetime import date

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from civiclink.analytics.service import CountRead, RateRead
from civiclink.reports.service import SummaryReport, short_span, span_text, topic_status
from civiclink.web.messages import t

FONT = "等线"  # Excel's default Chinese UI font; WPS and LibreOffice substitute their own
HEADER_FILL = PatternFill("solid", fgColor="DCE6F1")
TITLE = Font(name=FONT, size=14, bold=True)
BOLD = Font(name=FONT, bold=True)
PLAIN = Font(name=FONT)
THIN = Side(style="thin", color="B7C3D0")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
PERCENT = "0.00%"
CHANGE = "+0.0%;-0.0%;0.0%"
CJK = re.compile(r"[\u2e80-\u9fff\uff00-\uffef]")


def _width(value) -> int:
    text = str(value if value is not None else "")
    return len(text) + len(CJK.findall(text))


def _fit(ws: Worksheet, minimum: int = 8, maximum: int = 60, skip_rows: int = 0) -> None:
    widths: dict[int, int] = {}
    for row in ws.iter_rows(min_row=skip_rows + 1):
        for cell in row:
            if cell.value is not None:
                widths[cell.column] = max(widths.get(cell.column, 0), _width(cell.value))
    for column, width in widths.items():
        ws.column_dimensions[get_column_letter(column)].width = max(minimum, min(maximum, width + 2))


def _head(ws: Worksheet, report: SummaryReport, title: str) -> int:
    """The sheet's title and what it covers; returns the next free row."""
    ws.append([t("report.xlsx.sheet_title", title=report.title, sheet=title)])
    ws["A1"].font = TITLE
    ws.append([_scope_line(report)])
    ws["A2"].font = PLAIN
    ws.append([])
    return 4


def _scope_line(report: SummaryReport) -> str:
    return t("report.scope_line", site=report.site_name, span=span_text(report.start, report.end),
             days=report.days, place=report.place.name if report.place else t("report.place.all"))


def _table(ws: Worksheet, header: list[str], rows: list[list], formats: dict[int, str] | None = None) -> tuple[int, int]:
    """A header row and rows, boxed; returns (first data row, last data row)."""
    ws.append(header)
    header_row = ws.max_row
    for cell in ws[header_row]:
        cell.font, cell.fill, cell.border = BOLD, HEADER_FILL, BOX
        cell.alignment = Alignment(horizontal="center", vertical="center")
    for values in rows:
        ws.append(values)
        for i, cell in enumerate(ws[ws.max_row], 1):
            cell.font, cell.border = PLAIN, BOX
            if formats and i in formats and isinstance(cell.value, (int, float)):
                cell.number_format = formats[i]
            if isinstance(cell.value, str) and len(cell.value) > 40:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
    return header_row + 1, ws.max_row


def _fraction(rate: float | None):
    return rate / 100 if rate is not None else t("report.no_data")


def _rate_note(rate: RateRead, key: str) -> str:
    return t(key, numerator=rate.numerator, denominator=rate.denominator)


def _summary(ws: Worksheet, report: SummaryReport) -> None:
    ws.title = t("report.xlsx.summary")
    _head(ws, report, t("report.xlsx.summary"))
    ws.append([report.headline])
    ws.merge_cells(start_row=ws.max_row, start_column=1, end_row=ws.max_row, end_column=3)
    cell = ws.cell(row=ws.max_row, column=1)
    cell.alignment, cell.font = Alignment(wrap_text=True, vertical="top"), PLAIN
    ws.row_dimensions[ws.max_row].height = 64
    ws.append([])
    c, p = report.comparison, report.previous
    first_attempt = report.first_attempt_connection
    rows: list[list] = [
        [t("report.fig.volume"), report.volume, t("report.unit.orders")],
        [t("report.fig.daily"), report.daily_average, t("report.unit.orders_per_day")],
        [t("report.fig.compare_span"), span_text(c.start, c.end), c.label],
        [t("report.fig.compare_volume"), c.volume, t("report.unit.orders")],
        [t("report.fig.compare_daily"), c.daily_average, t("report.unit.orders_per_day")],
        [t("report.fig.change"), c.change_pct / 100 if c.change_pct is not None else t("report.change.none"),
         t("report.fig.change.note")],
        [t("report.fig.previous"), p.volume, span_text(p.start, p.end)],
        [t("report.fig.previous_change"), p.change_pct / 100 if p.change_pct is not None else
         t("report.change.none"), ""],
        [t("report.fig.satisfaction"), _fraction(report.satisfaction.rate),
         _rate_note(report.satisfaction, "report.note.satisfaction")],
        [t("report.fig.satisfaction_change"), c.satisfaction_change if c.satisfaction_change is not None
         else t("report.change.none"), t("report.unit.points")],
        [t("report.fig.on_time"), _fraction(report.on_time_completion.rate),
         _rate_note(report.on_time_completion, "report.note.on_time")],
        [t("report.fig.direct"), _fraction(report.direct_answer.rate),
         _rate_note(report.direct_answer, "report.note.direct")],
        [t("report.fig.first_attempt"), _fraction(first_attempt.rate) if first_attempt.available
         else t("report.no_call_data"), "" if first_attempt.available else t("report.first_attempt.note")],
    ]
    for flow in report.linkage:
        rows.append([t(f"report.fig.flow.{flow.flow}"), flow.total,
                     t("report.note.flow", accepted=flow.accepted, rejected=flow.rejected, waiting=flow.waiting)])
    first, last = _table(ws, [t("report.xlsx.figure"), t("report.xlsx.value"), t("report.xlsx.note")], rows)
    percent_rows = {t("report.fig.satisfaction"), t("report.fig.on_time"), t("report.fig.direct"),
                    t("report.fig.first_attempt")}
    change_rows = {t("report.fig.change"), t("report.fig.previous_change")}
    for r in range(first, last + 1):
        name, value = ws.cell(row=r, column=1).value, ws.cell(row=r, column=2)
        if isinstance(value.value, (int, float)):
            if name in percent_rows:
                value.number_format = PERCENT
            elif name in change_rows:
                value.number_format = CHANGE
            elif isinstance(value.value, float):
                value.number_format = "0.0" if name != t("report.fig.satisfaction_change") else "+0.00;-0.00;0.00"
            else:
                value.number_format = "#,##0"
    ws.freeze_panes = None
    ws.column_dimensions["A"].width = 26
    ws.column_dimensions["B"].width = 24
    ws.column_dimensions["C"].width = 48


def _by_day(ws: Worksheet, report: SummaryReport) -> None:
    _head(ws, report, t("report.xlsx.by_day"))
    compare = report.comparison.by_day
    rows = []
    for i, day in enumerate(report.by_day):
        other = compare[i] if i < len(compare) else None
        rows.append([date.fromisoformat(day.code), day.count,
                     date.fromisoformat(other.code) if other else None, other.count if other else None])
    first, last = _table(ws, [t("report.xlsx.day"), t("report.xlsx.volume"), t("report.xlsx.compare_day",
                                                                              label=report.comparison.label),
                              t("report.xlsx.compare_volume")], rows)
    for r in range(first, last + 1):
        for col in (1, 3):
            ws.cell(row=r, column=col).number_format = "yyyy-mm-dd"
    total_row = last + 1
    ws.cell(row=total_row, column=1, value=t("report.xlsx.total")).font = BOLD
    ws.cell(row=total_row, column=2, value=f"=SUM(B{first}:B{last})").font = BOLD
    ws.cell(row=total_row, column=4, value=f"=SUM(D{first}:D{last})").font = BOLD
    _fit(ws, skip_rows=3)
    ws.column_dimensions["A"].width = 14
    if rows:
        chart = BarChart()
        chart.title = t("report.chart.by_day")
        chart.y_axis.title = t("report.unit.orders")
        chart.add_data(Reference(ws, min_col=2, min_row=first - 1, max_row=last), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
        line = LineChart()
        line.add_data(Reference(ws, min_col=4, min_row=first - 1, max_row=last), titles_from_data=True)
        chart += line
        chart.height, chart.width = 8, 18
        ws.add_chart(chart, f"F{first - 1}")


def _shares(ws: Worksheet, report: SummaryReport, title: str, name_header: str, items: list[CountRead],
            none_key: str) -> None:
    _head(ws, report, title)
    total = sum(i.count for i in items)
    rows = [[i.name or t(none_key), i.count, i.count / total if total else 0] for i in items]
    _first, last = _table(ws, [name_header, t("report.xlsx.volume"), t("report.xlsx.share")], rows,
                         {2: "#,##0", 3: PERCENT})
    ws.cell(row=last + 1, column=1, value=t("report.xlsx.total")).font = BOLD
    ws.cell(row=last + 1, column=2, value=total).font = BOLD
    _fit(ws, skip_rows=3)


def _hotspots(ws: Worksheet, report: SummaryReport) -> None:
    _head(ws, report, t("report.xlsx.hotspots"))
    rows = [[h.category.name if h.category else None, h.place.name if h.place else None, short_span(min(h.days), max(h.days)), len(h.days), h.peak_day,
             h.recent, h.baseline_daily, h.ratio, h.reason] for h in report.hotspots]
    if not rows:
        rows = [[t("report.hotspots.none")] + [None] * 8]
    first, last = _table(ws, [t("report.hot.category"), t("report.hot.place"), t("report.hot.days"),
                              t("report.hot.day_count"), t("report.hot.peak"), t("report.hot.recent"),
                              t("report.hot.baseline"), t("report.hot.ratio"), t("report.hot.reason")], rows)
    for r in range(first, last + 1):
        ws.cell(row=r, column=5).number_format = "yyyy-mm-dd"
    _fit(ws, skip_rows=3)


def _topics(ws: Worksheet, report: SummaryReport, tz) -> None:
    _head(ws, report, t("report.xlsx.topics"))
    rows = []
    for topic in report.topics:
        for day in topic.days:
            rows.append([topic.topic.name, day.day, day.count, topic_status(day),
                         day.generated_at.astimezone(tz).replace(tzinfo=None) if day.generated_at else None,
                         t(f"report.topic.trigger.{day.trigger}") if day.trigger else None,
                         "、".join(day.orders[:20])])
    if not rows:
        rows = [[t("report.topics.none")] + [None] * 6]
    first, last = _table(ws, [t("report.topic.name"), t("report.xlsx.day"), t("report.topic.count"),
                              t("report.topic.status"), t("report.topic.generated_at"), t("report.topic.trigger"),
                              t("report.topic.orders")], rows)
    for r in range(first, last + 1):
        ws.cell(row=r, column=2).number_format = "yyyy-mm-dd"
        ws.cell(row=r, column=5).number_format = "yyyy-mm-dd hh:mm"
    _fit(ws, skip_rows=3)


def _definitions(ws: Worksheet, report: SummaryReport) -> None:
    _head(ws, report, t("report.xlsx.definitions"))
    for text in report.definitions:
        ws.append([text])
        ws.cell(row=ws.max_row, column=1).alignment = Alignment(wrap_text=True, vertical="top")
    ws.column_dimensions["A"].width = 120


def build_workbook(report: SummaryReport, tz) -> bytes:
    """The workbook as bytes (.xlsx). Times are shown in ``tz`` (the site's), without a zone: Excel has none."""
    wb = Workbook()
    _summary(wb.active, report)
    _by_day(wb.create_sheet(t("report.xlsx.by_day")), report)
    _shares(wb.create_sheet(t("report.xlsx.by_channel")), report, t("report.xlsx.by_channel"),
            t("report.xlsx.channel"), report.by_channel, "report.none")
    _shares(wb.create_sheet(t("report.xlsx.by_request_type")), report, t("report.xlsx.by_request_type"),
            t("report.xlsx.request_type"), report.by_request_type, "report.none")
    _shares(wb.create_sheet(t("report.xlsx.by_category")), report, t("report.xlsx.by_category"),
            t("report.xlsx.category"), report.by_category, "report.category.none")
    _shares(wb.create_sheet(t("report.xlsx.by_place")), report, t("report.xlsx.by_place"),
            t("report.xlsx.place"), report.by_place, "report.place.none")
    _hotspots(wb.create_sheet(t("report.xlsx.hotspots")), report)
    _topics(wb.create_sheet(t("report.xlsx.topics")), report, tz)
    _definitions(wb.create_sheet(t("report.xlsx.definitions")), report)
    wb.properties.title = f"{report.site_name} {report.title}"
    wb.properties.creator = "CivicLink"
    wb.properties.created = report.generated_at.astimezone(tz).replace(tzinfo=None)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()

