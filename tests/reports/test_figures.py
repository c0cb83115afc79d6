"""The report's figures on the 春节 story (tests/reports/conftest.py), the presets from the working calendar, the
hotspots merged over days, and the Excel and PDF files: they open, hold the numbers, and the PDF embeds its
Chinese font (and says so clearly when the font is missing)."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from tests.reports.conftest import HOLIDAY, LAST_HOLIDAY, NOW, TZ, local

from civiclink.analytics import kpis
from civiclink.analytics.service import CountRead
from civiclink.errors import Invalid
from civiclink.orgs.roles import SYSTEM
from civiclink.reports import excel, pdf, service


def spring(ctx, **kw):
    return service.summary(ctx, SYSTEM, *HOLIDAY, compare_start=LAST_HOLIDAY[0], compare_end=LAST_HOLIDAY[1],
                           title="2026年春节假期（9天）", compare_label="2025年春节假期", **kw)


def test_the_seeds_figures_from_the_kpi_functions(story):
    report = spring(story)
    assert (report.volume, report.days, report.daily_average) == (9, 9, 1.0)
    c = report.comparison
    assert (c.basis, c.start, c.end, c.days, c.volume, c.daily_average) == ("custom", *LAST_HOLIDAY, 8, 4, 0.5)
    assert c.change_pct == 100.0  # 日均 1.0 against 0.5
    assert (report.previous.start, report.previous.end, report.previous.volume) == (
        date(2026, 2, 6), date(2026, 2, 14), 1)
    assert report.previous.change_pct == 800.0
    assert [d.count for d in report.by_day] == [2, 0, 4, 2, 0, 0, 0, 0, 1]
    assert [d.count for d in c.by_day] == [1, 0, 1, 0, 0, 1, 0, 1]
    assert (report.satisfaction.numerator, report.satisfaction.denominator, report.satisfaction.rate) == (1, 2, 50.0)
    assert c.satisfaction.denominator == 0 and c.satisfaction_change is None
    assert report.first_attempt_connection.available is False
    assert {x.code: x.count for x in report.by_channel} == {"phone": 5, "wechat": 1, "website": 3}
    # Every figure is the KPI function's, for the same scope.
    scope = kpis.Scope.local_days(*HOLIDAY, TZ)
    assert report.volume == kpis.volume(story.session, scope)
    assert report.on_time_completion == kpis.on_time_completion_rate(story.session, scope)
    assert report.direct_answer == kpis.direct_answer_rate(story.session, scope)
    text = report.headline
    assert text.startswith("2026年春节假期（9天），共受理各类诉求9件，日均1.0件，较2025年春节假期增长100.0%")
    assert "满意率50.00%" in text and "一次接通率暂无话务数据" in text and "热点：" in text


def test_year_earlier_by_default_and_one_place(story):
    report = service.summary(story, SYSTEM, *HOLIDAY)
    c = report.comparison
    assert (c.basis, c.label, c.start, c.end, c.volume) == ("year_earlier", "去年同期", date(2025, 2, 15),
                                                           date(2025, 2, 23), 3)
    assert c.change_pct == 200.0
    assert report.title == "2026年2月15日—2月23日"
    tongzhou = service.summary(story, SYSTEM, *HOLIDAY, place="320612")
    assert tongzhou.volume == 3 and tongzhou.place.name and tongzhou.place.name in tongzhou.headline
    assert tongzhou.comparison.change_pct is None and "无可比数据" in tongzhou.headline
    empty = service.summary(story, SYSTEM, date(2024, 6, 1), date(2024, 6, 1))
    assert empty.volume == 0 and "满意率暂无有效回访" in empty.headline


def test_bad_ranges_and_readers(story, actors):
    with pytest.raises(Invalid):
        service.summary(story, SYSTEM, HOLIDAY[1], HOLIDAY[0])
    with pytest.raises(Invalid):
        service.summary(story, SYSTEM, *HOLIDAY, compare_start=LAST_HOLIDAY[0])
    with pytest.raises(Invalid):
        service.summary(story, SYSTEM, date(2020, 1, 1), date(2026, 1, 1))
    from civiclink.errors import Forbidden

    with pytest.raises(Forbidden):
        service.summary(story, actors["operator"], *HOLIDAY)
    assert service.summary(story, actors["leader"], *HOLIDAY).volume == 9


def test_presets_follow_the_working_calendar(story):
    found = {p.key: p for p in service.presets(story.calendar, date(2026, 3, 1))}
    assert (found["yesterday"].start, found["yesterday"].end) == (date(2026, 2, 28), date(2026, 2, 28))
    assert (found["7d"].start, found["7d"].end) == (date(2026, 2, 22), date(2026, 2, 28))
    this = found["spring_this"]
    assert (this.start, this.end, this.compare_start, this.compare_end) == (*HOLIDAY, *LAST_HOLIDAY)
    assert this.label == "2026年春节假期（9天）" and this.compare_label == "2025年春节假期"
    last = found["spring_last"]
    assert (last.start, last.end) == LAST_HOLIDAY and last.compare_start == date(2024, 2, 10)
    # Before this year's 春节 has begun, only last year's is offered.
    early = {p.key for p in service.presets(story.calendar, date(2026, 2, 1))}
    assert "spring_this" not in early and "spring_last" in early
    assert service.holiday_span(story.calendar, 2023) == (date(2023, 1, 21), date(2023, 1, 27))  # the seed's 7 days


def test_hotspots_of_several_days_are_one_row(story, monkeypatch):
    """The report asks ``analytics.service.hotspots`` at the end of each day and merges by category and place."""
    asked = []

    def fake(session, directory, now):
        asked.append(now)
        day = now.astimezone(TZ).date() - timedelta(days=1)
        if day in (date(2026, 2, 17), date(2026, 2, 18)):
            recent = 3 if day == date(2026, 2, 17) else 5
            # The fields the report reads (analytics.service.HotspotRead has these and more).
            return [SimpleNamespace(category=CountRead(code="hjbh", name="环境保护", count=recent),
                                    place=CountRead(code="320612", name="通州区", count=recent), recent=recent,
                                    baseline_daily=0.0, ratio=None, reason=f"近24小时 {recent} 件")]
        return []

    monkeypatch.setattr(service.analytics, "hotspots", fake)
    report = spring(story)
    assert asked == [local(2026, 2, d + 1, 0, 0) for d in range(15, 24)]  # each day's end
    assert len(report.hotspots) == 1
    h = report.hotspots[0]
    assert h.days == [date(2026, 2, 17), date(2026, 2, 18)] and h.peak_day == date(2026, 2, 18) and h.recent == 5
    assert h.reason == "近24小时 5 件"
    assert "热点：环境保护（通州区，2月17日—2月18日）" in report.headline
    assert service.summary(story, SYSTEM, *HOLIDAY, place="320613").hotspots == []  # 崇川区: not there


def test_the_real_hotspot_rule_runs_over_the_range(story):
    report = spring(story)
    # The story's one real rise (通州区 噪声 on 17 February), found by the real rule, inside the range.
    assert [(h.category.code, h.place.code, h.days) for h in report.hotspots] == [
        ("hjbh.zswr", "320612", [date(2026, 2, 17)])]


# -- files -----------------------------------------------------------------------------------------------------


def _rows(ws) -> list[tuple]:
    return [tuple(c.value for c in row) for row in ws.iter_rows()]


def test_excel_opens_and_holds_the_numbers(story):
    report = spring(story)
    wb = load_workbook(io.BytesIO(excel.build_workbook(report, TZ)))
    assert wb.sheetnames == ["汇总", "按日", "按渠道", "按诉求类型", "按分类", "按属地", "热点", "专题日报", "口径说明"]
    summary = {r[0]: r[1] for r in _rows(wb["汇总"]) if r and r[0]}
    assert summary["受理量"] == 9 and summary["日均受理量"] == 1.0 and summary["对比区间受理量"] == 4
    assert summary["日均较对比区间"] == pytest.approx(1.0) and summary["满意率"] == pytest.approx(0.5)
    assert summary["一次接通率"] == "暂无话务数据"
    assert any(report.headline == r[0] for r in _rows(wb["汇总"]))
    days = [r for r in _rows(wb["按日"])[4:] if r[0] is not None and r[0] != "合计"]
    assert [r[1] for r in days] == [2, 0, 4, 2, 0, 0, 0, 0, 1]
    assert days[0][0].date() == HOLIDAY[0] and days[0][2].date() == LAST_HOLIDAY[0]
    assert wb["按日"]._charts  # the chart is there
    channels = {r[0]: r[1] for r in _rows(wb["按渠道"])[4:] if r[0] and r[0] != "合计"}
    assert sum(channels.values()) == 9 and channels["微信"] == 1
    assert wb["按日"]["A4"].font.bold and wb["按日"].freeze_panes == "A5"


def pdf_text(data: bytes) -> str:
    """The PDF's text without spaces (pypdf puts spaces or NULs between fpdf2's glyphs; pdftotext does not)."""
    return re.sub(r"[\s\x00]+", "", "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages))


def _embedded_fonts(data: bytes) -> list[tuple[str, bool]]:
    """(BaseFont, has an embedded font program) of every font the pages use."""
    out = []
    for page in PdfReader(io.BytesIO(data)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            fonts = [d.get_object() for d in font.get("/DescendantFonts", [])] or [font]
            for f in fonts:
                descriptor = f["/FontDescriptor"].get_object()
                embedded = any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
                out.append((str(f["/BaseFont"]), embedded))
    return out


def test_pdf_embeds_the_chinese_font_and_holds_the_numbers(story, state):
    report = spring(story)
    data = pdf.build_pdf(report, state.settings.reports, TZ)
    assert data.startswith(b"%PDF")
    fonts = _embedded_fonts(data)
    assert fonts and all(embedded for _, embedded in fonts)
    assert any("NotoSansCJKSC" in name for name, _ in fonts)
    text = pdf_text(data)
    assert re.sub(r"\s+", "", report.headline) in text
    for words in ("共受理各类诉求9件", "日均1.0件", "增长100.0%", "满意率50.00%", "一次接通率暂无话务数据",
                  "每日受理量", "统计口径"):
        assert words in text, words


def test_a_missing_font_is_said_clearly(story, state, tmp_path):
    settings = state.settings.reports.model_copy(update={"font_path": tmp_path / "none.ttc"})
    with pytest.raises(pdf.FontMissing) as caught:
        pdf.build_pdf(spring(story), settings, TZ)
    assert "fonts-noto-cjk" in caught.value.message and "找不到中文字体文件" in caught.value.message
    assert caught.value.status_code == 503


def test_report_today_counts_up_to_now(state, session, actors):
    from tests.helpers import register

    ctx = state.ctx(session, now=NOW)
    register(ctx.at(NOW - timedelta(hours=1)), actors)
    session.commit()
    today = NOW.astimezone(TZ).date()
    report = service.summary(ctx, SYSTEM, today, today)
    assert report.volume == 1 and report.by_day[0].count == 1


def test_a_range_still_going_on_is_averaged_over_its_days_so_far(state, session, actors):
    """日均 of "this month" on its 10th is the volume ÷ 10 days (today included), not ÷ 31; its 同比, a whole
    month in the past, ÷ its 31 days."""
    from tests.helpers import register

    now = local(2026, 3, 10, 15, 0)
    ctx = state.ctx(session, now=now)
    for day in (2, 5, 9):
        register(ctx.at(local(2026, 3, day, 10, 0)), actors)
    register(ctx.at(local(2025, 3, 4, 10, 0)), actors)  # a year earlier
    register(ctx.at(local(2025, 3, 20, 10, 0)), actors)
    register(ctx.at(local(2026, 3, 10, 9, 0)), actors)  # today, before now
    session.commit()
    report = service.summary(ctx, SYSTEM, date(2026, 3, 1), date(2026, 3, 31))
    assert report.days == 31 and report.volume == 4 and report.daily_average == 0.4  # 4 ÷ 10 days
    assert report.comparison.volume == 2 and report.comparison.daily_average == 0.1  # 2 ÷ 31 days
    assert report.comparison.change_pct == 520.0  # 0.4 against 0.0645 a day


def test_linkage_counts_a_transfer_late_only_once_its_limit_has_passed(state, session, actors):
    """Today's linkage figures say how many transfers still wait for 签收 past their limit: past it now, not by
    the end of the day."""
    from sqlalchemy import update
    from tests.helpers import act, register

    from civiclink.linkage.models import Transfer
    from civiclink.workorders.states import Action

    ctx = state.ctx(session, now=NOW)
    order = register(ctx.at(NOW - timedelta(minutes=1)), actors)
    act(ctx.at(NOW - timedelta(minutes=1)), order, Action.TRANSFER_TO_110, actors["operator"],
        reason="涉嫌违法犯罪", consent=True)
    # The limit the receiving side set (linkage/handlers.py): half an hour from the offer.
    session.execute(update(Transfer).values(sign_due_at=NOW + timedelta(minutes=29)))
    session.commit()
    today = NOW.astimezone(TZ).date()

    def overdue(now):
        flows = kpis.linkage(session, kpis.Scope.local_days(today, today, TZ, now=now), "hotline")
        return next(f for f in flows if f.flow == "hotline_to_police").overdue_now

    assert overdue(NOW) == 0  # offered a minute ago: not late yet
    assert overdue(NOW + timedelta(minutes=30)) == 1
