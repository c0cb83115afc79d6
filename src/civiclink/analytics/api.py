"""HTTP routes of the figures: the dashboard's (大屏) figures as JSON, for leaders, supervisors and admins (and
110 commanders on a police site)."""

from __future__ import annotations

from fastapi import APIRouter

from civiclink.analytics import service
from civiclink.analytics.service import DashboardRead, Period
from civiclink.deps import CtxDep, CurrentActor, respond
from civiclink.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/analytics", tags=["统计分析"], responses=ERROR_RESPONSES)


@router.get("/dashboard", summary="大屏数据", response_model=DashboardRead)
def get_dashboard(ctx: CtxDep, actor: CurrentActor, period: Period = "7d"):
    """This site's dashboard figures for ``period`` (today / 7d / 30d / year, local time, ending now).

    12345 site: 受理量 (today, per bucket, 同比 and 环比), by channel, first-level category and district; 满意率;
    按时办结率; 一次接通率 (not available until call records exist); linkage counts each way; hotspots.
    110 site: 警单量 (today, per bucket, 同比 and 环比), by state, open now, pushes from 12345 awaiting 签收 and
    overdue, linkage counts each way. Each figure's definition is the docstring of its function in
    ``civiclink.analytics.service``."""
    return respond(service.dashboard(ctx, actor, period))
