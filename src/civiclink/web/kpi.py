"""考核 (12345 site): the KPIs of docs/kpi.md for any local date range and 属地, with 同比, and the 承办单位 scorecard
— the same functions as GET /api/analytics/kpis and /scorecard, for leaders, supervisors and admins."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from civiclink.analytics import kpis
from civiclink.analytics.api import MAX_KPI_DAYS
from civiclink.analytics.service import can_read_dashboard
from civiclink.deps import CtxDep
from civiclink.errors import DomainError
from civiclink.orgs.models import COUNTY_LEVEL_KINDS
from civiclink.web.console import PageActor, render
from civiclink.web.messages import t

router = APIRouter(include_in_schema=False)


def _dates(ctx, start: str | None, end: str | None) -> tuple[date, date, str | None]:
    today = ctx.now.astimezone(ctx.settings.tz).date()
    try:
        last = date.fromisoformat(end) if end else today
        first = date.fromisoformat(start) if start else last - timedelta(days=29)
    except ValueError:
        return today - timedelta(days=29), today, t("kpi.bad_date")
    if last < first or (last - first).days >= MAX_KPI_DAYS:
        return today - timedelta(days=29), today, t("kpi.bad_range", days=MAX_KPI_DAYS)
    return first, last, None


@router.get("/kpi")
async def kpi_page(request: Request, ctx: CtxDep, actor: PageActor, start: str | None = None,
                   end: str | None = None, place: str | None = None) -> Response:
    if not can_read_dashboard(actor, ctx.settings.site_role):
        return render(request, "error.html", actor=actor, status_code=403, message=t("kpi.forbidden"))
    first, last, problem = _dates(ctx, start, end)

    def load():
        place_ids, district_id = kpis.district_scope(ctx.directory, place or None)
        scope = kpis.Scope.local_days(first, last, ctx.settings.tz, place_ids=place_ids, district_id=district_id,
                                      now=ctx.now)
        figures = kpis.kpi_set(ctx.session, scope, directory=ctx.directory, tz=ctx.settings.tz,
                               site_role=ctx.settings.site_role, place_code=place or None)
        return figures, kpis.scorecard(ctx.session, scope, directory=ctx.directory)

    try:
        figures, card = await run_in_threadpool(load)
    except DomainError as exc:  # an unknown 属地 code typed into the address
        problem, place = exc.message, None
        whole_site = kpis.Scope.local_days(first, last, ctx.settings.tz, now=ctx.now)
        figures, card = await run_in_threadpool(lambda: (
            kpis.kpi_set(ctx.session, whole_site, directory=ctx.directory, tz=ctx.settings.tz,
                         site_role=ctx.settings.site_role),
            kpis.scorecard(ctx.session, whole_site, directory=ctx.directory)))
    districts = sorted((u for u in ctx.directory.units.values()
                        if u.active and u.kind in COUNTY_LEVEL_KINDS), key=lambda u: u.code)
    return render(request, "kpi.html", actor=actor, figures=figures, card=card, start=first.isoformat(),
                  end=last.isoformat(), place=place or "", places=[(u.code, u.label) for u in districts],
                  problem=problem)
