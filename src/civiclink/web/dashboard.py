"""The console's dashboard (大屏, issue 5): this site's figures as tiles, ECharts charts and a hotspot table.

The page is rendered with its data; ``/dashboard/data`` returns the same view as JSON and the page fetches it
every ``REFRESH_SECONDS`` (no full reload). The ECharts options are built here, in Python, with every word from
the message catalogue: the browser only hands them to ``echarts.setOption``, so what a chart shows can be
tested without a browser, and in a browser through ``window.civiclinkCharts[name].getOption()``.

``?wall=1`` is the wall-screen mode (大屏模式, 1920×1080): dark background, larger type.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from markupsafe import Markup

from civiclink.analytics import hotspots as hs
from civiclink.analytics import service
from civiclink.analytics.service import (
    OTHER,
    PERIODS,
    ComparisonRead,
    CountRead,
    DashboardRead,
    HotlineFigures,
    LinkageFlowRead,
    PoliceFigures,
    RateRead,
)
from civiclink.context import Ctx
from civiclink.deps import CtxDep, StateDep
from civiclink.orgs.roles import Actor
from civiclink.web.console import PageActor, page_actor, render
from civiclink.web.messages import t

router = APIRouter(include_in_schema=False)

REFRESH_SECONDS = 60
MEMBERS_IN_ROW = 5  # order numbers named in a hotspot's row (all of them are in the view's data)
DEFAULT_PERIOD = "7d"

# ECharts' default palette is fine on white; on the dark wall these read better.
WALL_PALETTE = ["#4fc3f7", "#ffb74d", "#81c784", "#e57373", "#ba68c8", "#fff176", "#4db6ac", "#f06292",
                "#9575cd", "#a1887f", "#90a4ae"]


def _period(value: str | None) -> str:
    # A bookmarked or mistyped period shows the default rather than an error page on a wall screen.
    return value if value in PERIODS else DEFAULT_PERIOD


def _wall(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes", "on")


# -- formatting ------------------------------------------------------------------------------------------------


def _number(n: float) -> str:
    return f"{n:,}" if isinstance(n, int) else f"{n:,.1f}"


def _percent(rate: float | None) -> str:
    return t("dash.no_data") if rate is None else f"{rate:.2f}%"


def _change(pct: float | None) -> str:
    if pct is None:
        return t("dash.tile.no_comparison")
    return f"{pct:+.1f}%".replace("-", "−")


def _bucket_label(start: datetime, bucket: str) -> str:
    if bucket == "hour":
        return t("dash.bucket.hour", hour=start.hour)
    if bucket == "month":
        return t("dash.bucket.month", month=start.month)
    return t("dash.bucket.day", month=start.month, day=start.day)


def _name(item: CountRead, none_key: str) -> str:
    if item.code == OTHER:
        return t("dash.other")
    return item.name or t(none_key)


def _tile(key: str, label: str, value: str, note: str = "", tone: str = "") -> dict:
    return {"key": key, "label": label, "value": value, "note": note, "tone": tone}


# -- tiles -----------------------------------------------------------------------------------------------------


def _comparison_tiles(period: str, comparison_yoy: ComparisonRead,
                      comparison_pop: ComparisonRead | None) -> list[dict]:
    tiles = [_tile("yoy", t("dash.tile.yoy"), _change(comparison_yoy.change_pct),
                   t("dash.tile.yoy.note", previous=_number(comparison_yoy.previous)))]
    if comparison_pop is not None:
        note_key = "dash.tile.pop.note.today" if period == "today" else "dash.tile.pop.note"
        tiles.append(_tile("pop", t("dash.tile.pop"), _change(comparison_pop.change_pct),
                           t(note_key, previous=_number(comparison_pop.previous))))
    return tiles


def _rate_tile(key: str, rate: RateRead) -> dict:
    return _tile(key, t(f"dash.tile.{key}"), _percent(rate.rate),
                 t(f"dash.tile.{key}.note", numerator=_number(rate.numerator), denominator=_number(rate.denominator)))


def _flow_tile(flow: LinkageFlowRead) -> dict:
    key = "to_110" if flow.flow == "hotline_to_police" else "from_110"
    return _tile(key, t(f"dash.tile.{key}"), _number(flow.total),
                 t("dash.tile.flow.note", waiting=flow.waiting_now, overdue=flow.overdue_now),
                 "red" if flow.overdue_now else "")


def _daily_average(total: int, days: int) -> str:
    return t("dash.tile.daily_average", value=_number(round(total / days, 1)) if days else "0")


def _total_tile(period: str, label: str, total: int, days: int | None) -> list[dict]:
    # For "today" the period's total is the today tile already.
    if period == "today":
        return []
    return [_tile("total", label, _number(total), _daily_average(total, days) if days else "")]


def hotline_tiles(figures: HotlineFigures, period: str) -> list[dict]:
    period_name = t(f"dash.period.{period}")
    days = len(figures.volume.starts) if figures.volume.bucket == "day" else None
    first_attempt = figures.first_attempt_connection
    tiles = [
        _tile("today", t("dash.tile.today"), _number(figures.today)),
        *_total_tile(period, t("dash.tile.total", period=period_name), figures.total, days),
        *_comparison_tiles(period, figures.year_on_year, figures.period_on_period),
        _rate_tile("satisfaction", figures.satisfaction),
        _rate_tile("on_time", figures.on_time_completion),
        _tile("first_attempt", t("dash.tile.first_attempt"),
              _percent(first_attempt.rate) if first_attempt.available else t("dash.tile.first_attempt.none"),
              "" if first_attempt.available else t("dash.tile.first_attempt.note"),
              "" if first_attempt.available else "muted"),
    ]
    tiles += [_flow_tile(flow) for flow in figures.linkage]
    return tiles


def police_tiles(figures: PoliceFigures, period: str) -> list[dict]:
    period_name = t(f"dash.period.{period}")
    days = len(figures.volume.starts) if figures.volume.bucket == "day" else None
    tiles = [
        _tile("today", t("dash.tile.today_incidents"), _number(figures.today)),
        *_total_tile(period, t("dash.tile.total_incidents", period=period_name), figures.total, days),
        *_comparison_tiles(period, figures.year_on_year, figures.period_on_period),
        _tile("pushes_waiting", t("dash.tile.pushes_waiting"), _number(figures.pushes_waiting),
              t("dash.tile.pushes_waiting.note", overdue=figures.pushes_overdue),
              "red" if figures.pushes_overdue else ("yellow" if figures.pushes_waiting else "")),
        _tile("open_incidents", t("dash.tile.open_incidents"), _number(figures.open_now),
              t("dash.tile.open_incidents.note")),
    ]
    tiles += [_flow_tile(flow) for flow in figures.linkage]
    return tiles


# -- charts (ECharts options) ----------------------------------------------------------------------------------
#
# Every series has an id, so that a refresh merges into the drawn chart (``replaceMerge: ["series"]`` in
# dashboard.js) and bars and lines move to their new values instead of being drawn again from nothing.


def _font(wall: bool, normal: int = 12) -> int:
    return normal + 4 if wall else normal


def _base(title: str, wall: bool, *, empty: bool = False) -> dict[str, Any]:
    option: dict[str, Any] = {
        "title": {"text": title, "left": 8, "top": 6, "textStyle": {"fontSize": _font(wall, 15)}},
        "textStyle": {"fontSize": _font(wall, 13)},
        "backgroundColor": "transparent",
        "tooltip": {},
        # Room at the top for the title and the value axis's unit above it.
        "grid": {"left": 12, "right": 28, "top": 72 if wall else 64, "bottom": 10, "containLabel": True},
    }
    if wall:
        option["color"] = WALL_PALETTE
    # Always set (empty or not): a refresh merges into the drawn chart and must clear an old "no data".
    option["title"]["subtext"] = t("dash.no_data") if empty else ""
    return option


def _category_axis(names: list[str], wall: bool, **label) -> dict:
    return {"type": "category", "data": names, "axisLabel": {"fontSize": _font(wall), **label},
            "axisTick": {"alignWithLabel": True}}


def _value_axis(wall: bool, *, unit: bool = True) -> dict:
    axis: dict[str, Any] = {"type": "value", "minInterval": 1, "axisLabel": {"fontSize": _font(wall)}}
    if unit:
        axis.update({"name": t("dash.unit.orders"), "nameTextStyle": {"fontSize": _font(wall), "align": "right"}})
    return axis


def _legend(wall: bool) -> dict:
    return {"top": 6, "right": 8, "textStyle": {"fontSize": _font(wall)}}


def volume_chart(figures: HotlineFigures | PoliceFigures, wall: bool, *, police: bool = False) -> dict:
    series = figures.volume
    labels = [_bucket_label(start, series.bucket) for start in series.starts]
    option = _base(t("dash.chart.volume_incidents" if police else "dash.chart.volume"), wall,
                   empty=not any(series.current) and not any(series.last_year))
    option.update({
        "tooltip": {"trigger": "axis"},
        "legend": _legend(wall),
        "xAxis": {**_category_axis(labels, wall), "boundaryGap": False},
        # The last label is centred on the right edge: leave it room.
        "grid": {**option["grid"], "right": 44 if wall else 36},
        "yAxis": _value_axis(wall),
        "series": [
            {"id": "current", "name": t("dash.series.current"), "type": "line", "data": series.current,
             "smooth": True, "areaStyle": {"opacity": 0.15}, "symbolSize": 6},
            {"id": "last_year", "name": t("dash.series.last_year"), "type": "line", "data": series.last_year,
             "smooth": True, "lineStyle": {"type": "dashed"}, "symbolSize": 4},
        ],
    })
    return option


def pie_chart(title: str, items: list[dict], wall: bool, *, series_name: str) -> dict:
    option = _base(title, wall, empty=not any(i["value"] for i in items))
    option.update({
        "tooltip": {"trigger": "item", "formatter": t("dash.tooltip.pie")},
        # Each slice is named by its own label; a legend would take the room the labels need.
        "legend": {"show": False},
        "series": [{"id": "share", "name": series_name, "type": "pie", "radius": ["28%", "50%"],
                    "center": ["50%", "58%"], "minShowLabelAngle": 4, "avoidLabelOverlap": True,
                    "label": {"formatter": "{b} {d}%", "fontSize": _font(wall)},
                    "labelLine": {"length": 8, "length2": 8},
                    "data": [i for i in items if i["value"]]}],
    })
    return option


def bar_chart(title: str, names: list[str], values: list[int], wall: bool, *, series_name: str,
              horizontal: bool = False) -> dict:
    option = _base(title, wall, empty=not any(values))
    if horizontal:
        # Largest on top: ECharts draws a category y-axis from the bottom up.
        names, values = list(reversed(names)), list(reversed(values))
        category_axis, value_axis = _category_axis(names, wall, interval=0), _value_axis(wall, unit=False)
        option["grid"].update({"top": 48 if wall else 40, "right": 48})  # room for the bars' value labels
    else:
        category_axis, value_axis = _category_axis(names, wall, interval=0, rotate=30), _value_axis(wall)
    option.update({
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "xAxis": value_axis if horizontal else category_axis,
        "yAxis": category_axis if horizontal else value_axis,
        "series": [{"id": "count", "name": series_name, "type": "bar", "data": values, "barMaxWidth": 36,
                    "label": {"show": True, "position": "right" if horizontal else "top",
                              "fontSize": _font(wall, 11)}}],
    })
    return option


def linkage_chart(flows: list[LinkageFlowRead], wall: bool) -> dict:
    names = [t(f"dash.flow.{flow.flow}") for flow in flows]
    kinds: dict[str, str] = {}
    for flow in flows:
        for item in flow.by_kind:
            kinds.setdefault(item.code or "", item.name or "")
    option = _base(t("dash.chart.linkage"), wall, empty=not any(flow.total for flow in flows))
    series = []
    for code, name in kinds.items():
        counts = {flow.flow: next((i.count for i in flow.by_kind if (i.code or "") == code), 0) for flow in flows}
        series.append({"id": f"kind-{code}", "name": name, "type": "bar", "stack": "flow", "barMaxWidth": 56,
                       "data": [counts[flow.flow] for flow in flows],
                       "label": {"show": True, "fontSize": _font(wall, 11)}})
    if not series:
        # Keep the two directions on the axis with zero bars: "no transfers" is itself the figure.
        series.append({"id": "none", "name": t("dash.series.count"), "type": "bar", "data": [0] * len(flows)})
    option.update({
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "legend": {**_legend(wall), "top": 30 if not wall else 36},
        "xAxis": _category_axis(names, wall),
        "yAxis": _value_axis(wall),
        "series": series,
    })
    return option


def hotline_charts(figures: HotlineFigures, wall: bool) -> dict[str, dict]:
    categories, districts = figures.by_category, figures.by_district
    count = t("dash.series.count")
    return {
        "volume": volume_chart(figures, wall),
        "channel": pie_chart(t("dash.chart.channel"), [{"name": c.name or c.code, "value": c.count}
                                                        for c in figures.by_channel], wall, series_name=count),
        "category": bar_chart(t("dash.chart.category"), [_name(c, "dash.category.none") for c in categories],
                              [c.count for c in categories], wall, series_name=count, horizontal=True),
        "district": bar_chart(t("dash.chart.district"), [_name(c, "dash.place.none") for c in districts],
                              [c.count for c in districts], wall, series_name=count, horizontal=True),
        "satisfaction": pie_chart(t("dash.chart.satisfaction"), [{"name": level.name, "value": level.count}
                                                                 for level in figures.satisfaction.levels], wall,
                                  series_name=t("dash.series.visits")),
        "linkage": linkage_chart(figures.linkage, wall),
    }


def police_charts(figures: PoliceFigures, wall: bool) -> dict[str, dict]:
    return {
        "volume": volume_chart(figures, wall, police=True),
        "state": pie_chart(t("dash.chart.state"), [{"name": s.name, "value": s.count} for s in figures.by_state],
                           wall, series_name=t("dash.series.incidents")),
        "linkage": linkage_chart(figures.linkage, wall),
    }


# -- hotspots and definitions ----------------------------------------------------------------------------------


def _members(numbers: list[str], total: int) -> str:
    shown = numbers[:MEMBERS_IN_ROW]
    return t("dash.hotspot.members", numbers="、".join(shown), total=total)


def hotspot_rows(figures: HotlineFigures) -> list[dict]:
    """One row per hotspot, in the table's six columns: what (kind and category or title), where, how many, the
    baseline (a rise's daily average before) or the number of callers (a cluster), the score, and why — the
    reason with its time window and its first members."""
    rows = []
    for h in figures.hotspots:
        place = h.place.name if h.place and h.place.name else t("dash.hotspot.place_none")
        if h.kind == "rise":
            what = t("dash.hotspot.kind.rise", name=h.title)
            baseline = t("dash.hotspot.baseline_daily", daily=f"{h.baseline_daily or 0:.1f}")
            ratio = t("dash.hotspot.ratio_new") if h.ratio is None else \
                t("dash.hotspot.ratio_value", ratio=f"{h.ratio:.1f}")
            recent = h.recent
        else:
            what = t("dash.hotspot.kind.cluster", name=h.title)
            baseline = t("dash.hotspot.reporters", reporters=h.reporters or 0)
            ratio = t("dash.hotspot.score", score=f"{h.score:.1f}")
            recent = h.count
        rows.append({"kind": h.kind, "category": what, "place": place, "recent": recent, "baseline": baseline,
                     "ratio": ratio, "reason": f"{h.reason}{t('dash.hotspot.sep')}{_members(h.members, h.members_total)}",
                     "members": h.members, "start": h.start.isoformat(), "end": h.end.isoformat()})
    return rows


def definitions(site_role: str) -> list[str]:
    if site_role == "police":
        keys = ["dash.def.volume_incidents", "dash.def.yoy", "dash.def.state", "dash.def.pushes", "dash.def.linkage"]
    else:
        keys = ["dash.def.volume", "dash.def.yoy", "dash.def.satisfaction", "dash.def.on_time",
                "dash.def.first_attempt", "dash.def.linkage", "dash.def.hotspot"]
    hotspot = {"min": hs.RISE_MIN_COUNT, "times": f"{hs.RISE_MIN_RATIO:g}", "alpha": f"{hs.RISE_ALPHA:g}",
               "days": hs.RISE_BASELINE_WINDOWS, "size": hs.CLUSTER_MIN_SIZE}
    return [t(key, **hotspot) if key == "dash.def.hotspot" else t(key) for key in keys]


# -- the view --------------------------------------------------------------------------------------------------


def data_url(period: str, wall: bool) -> str:
    return f"/dashboard/data?period={period}" + ("&wall=1" if wall else "")


def build_view(ctx: Ctx, actor: Actor, period: str, wall: bool) -> dict[str, Any]:
    """Everything the page shows, as plain data: tiles, chart options, hotspot rows, the raw figures."""
    figures: DashboardRead = service.dashboard(ctx, actor, period)
    local = figures.generated_at.astimezone(ctx.settings.tz)
    view: dict[str, Any] = {
        "period": period,
        "wall": wall,
        "site_role": figures.site_role,
        "generated_at": figures.generated_at.isoformat(),
        "updated": t("dash.updated", time=local.strftime("%H:%M:%S")),
        "hotspots": [],
        "figures": figures.model_dump(mode="json"),
    }
    if figures.police is not None:
        view["tiles"] = police_tiles(figures.police, period)
        view["charts"] = police_charts(figures.police, wall)
    else:
        assert figures.hotline is not None
        view["tiles"] = hotline_tiles(figures.hotline, period)
        view["charts"] = hotline_charts(figures.hotline, wall)
        view["hotspots"] = hotspot_rows(figures.hotline)
    return view


def _script_json(value: Any) -> Markup:
    """JSON safe inside <script type="application/json"> (no "</script>" can end it early)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


# -- routes ----------------------------------------------------------------------------------------------------


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard_page(request: Request, ctx: CtxDep, actor: PageActor, period: str | None = None,
                         wall: str | None = None) -> Response:
    site_role = ctx.settings.site_role
    chosen, wall_on = _period(period), _wall(wall)
    if not service.can_read_dashboard(actor, site_role):
        message = t("dash.forbidden.police" if site_role == "police" else "dash.forbidden")
        return render(request, "dashboard.html", actor=actor, forbidden=message, status_code=403)
    view = await run_in_threadpool(build_view, ctx, actor, chosen, wall_on)
    periods = [{"key": p, "label": t(f"dash.period.{p}"),
                "href": f"/dashboard?period={p}" + ("&wall=1" if wall_on else ""), "current": p == chosen}
               for p in PERIODS]
    return render(request, "dashboard.html", actor=actor, forbidden=None, view=view, view_json=_script_json(view),
                  periods=periods, wall=wall_on, data_url=data_url(chosen, wall_on), refresh=REFRESH_SECONDS,
                  wall_href=f"/dashboard?period={chosen}" + ("" if wall_on else "&wall=1"),
                  defs=definitions(site_role))


@router.get("/dashboard/data")
async def dashboard_data(request: Request, state: StateDep, ctx: CtxDep, period: str | None = None,
                         wall: str | None = None) -> Response:
    """The page's view as JSON, for its auto-refresh. 401/403 as JSON (a fetch must not follow a redirect to
    the login page and try to read it as data)."""
    actor = await page_actor(request, state, ctx)
    if actor is None:
        return JSONResponse({"detail": t("login.expired"), "code": "not_authenticated"}, status_code=401)
    site_role = ctx.settings.site_role
    if not service.can_read_dashboard(actor, site_role):
        message = t("dash.forbidden.police" if site_role == "police" else "dash.forbidden")
        return JSONResponse({"detail": message, "code": "forbidden"}, status_code=403)
    view = await run_in_threadpool(build_view, ctx, actor, _period(period), _wall(wall))
    return JSONResponse(view, headers={"Cache-Control": "no-store"})
