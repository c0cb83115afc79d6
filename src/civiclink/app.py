"""The application factory: ``create_app(settings)`` wires the database, snapshots and routes of one site."""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from civiclink import __version__
from civiclink.analytics.api import router as analytics_router
from civiclink.audit import service as audit_service
from civiclink.audit.api import router as audit_router
from civiclink.cache import Snapshot
from civiclink.callcentre.api import router as calls_router
from civiclink.config import Settings
from civiclink.db import create_db_engine, make_session_factory
from civiclink.deps import AppState
from civiclink.errors import DomainError
from civiclink.exchange import service as exchange_service
from civiclink.exchange.api import router as exchange_router
from civiclink.exchange.relay import Relay
from civiclink.exchange.transport import HttpTransport
from civiclink.i18n import LABELS
from civiclink.incidents.api import router as incidents_router
from civiclink.knowledge.api import router as knowledge_router
from civiclink.knowledge.service import KNOWLEDGE_REVISION, KnowledgeIndex
from civiclink.linkage.api import joint_router
from civiclink.linkage.api import router as linkage_router
from civiclink.linkage.handlers import handlers_for
from civiclink.logs import configure_logging
from civiclink.open311.api import admin_router as open311_admin_router
from civiclink.open311.api import router as open311_router
from civiclink.orgs.api import auth_router, org_router, user_router
from civiclink.orgs.service import ORG_REVISION, OrgDirectory
from civiclink.reports.api import router as reports_router
from civiclink.reports.daily import start_daily_reports
from civiclink.sla.api import router as calendar_router
from civiclink.sla.service import calendar_snapshot
from civiclink.triage.api import router as triage_router
from civiclink.triage.service import TriageEngine
from civiclink.triage.text import set_cache_dir
from civiclink.web import include_console
from civiclink.workorders.actions import install_session_hooks
from civiclink.workorders.api import router as orders_router
from civiclink.workorders.api import sla_router

log = logging.getLogger("civiclink")


class RefuseNul:
    """NUL in a path or query string can only be an attack or a broken client (see civiclink.validation)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            raw = scope.get("query_string", b"") + (scope.get("raw_path") or b"")
            if b"%00" in raw or b"\x00" in raw or "\x00" in scope.get("path", ""):
                response = JSONResponse({"detail": "请求中不能包含空字符（\\u0000）", "code": "invalid"}, status_code=422)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def build_state(settings: Settings) -> AppState:
    engine = create_db_engine(settings.database_url, echo=settings.database_echo,
                              pool_size=settings.database_pool_size, max_overflow=settings.database_max_overflow)
    sessions = make_session_factory(engine)
    audit_service.install(sessions, site_code=settings.site_code)
    install_session_hooks(sessions)
    state = AppState(
        settings=settings,
        engine=engine,
        sessions=sessions,
        calendar=calendar_snapshot(settings.tz),
        directory=Snapshot(ORG_REVISION, OrgDirectory.load),
        exchange_handlers=handlers_for(settings.site_role),
        triage=TriageEngine(model_path=settings.triage.model_path,
                            duplicate_window_days=settings.triage.duplicate_window_days,
                            place_window_days=settings.triage.place_window_days,
                            knowledge_limit=settings.triage.knowledge_limit),
        knowledge=Snapshot(KNOWLEDGE_REVISION, KnowledgeIndex.load),
    )
    set_cache_dir(settings.triage.cache_dir)
    # A commit that wrote to the outbox wakes this process's relay at once (design §6).
    exchange_service.install(sessions, wake=lambda: state.relay.wake() if state.relay is not None else None)
    return state


def start_relay(state: AppState) -> Relay | None:
    """The outbox relay as a thread of this process, if the site has peers and the relay is enabled."""
    if state.relay is None and state.settings.peers and state.settings.exchange.relay_enabled:
        state.relay = Relay(state, HttpTransport(timeout=state.settings.exchange.timeout))
        state.relay.start()
    return state.relay


def create_app(settings: Settings, *, state: AppState | None = None) -> FastAPI:
    configure_logging(settings.log_level)
    state = state or build_state(settings)
    site_kind = "12345 政务服务便民热线" if settings.site_role == "hotline" else "110 报警服务台"
    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        if settings.triage.warm_up:
            threading.Thread(target=state.triage.warm_up, args=(state.sessions,), name="triage-warm-up",
                             daemon=True).start()
        relay = start_relay(state)
        sweeper = None
        if settings.site_role == "hotline" and settings.supervision.sweep_enabled:
            from civiclink.supervision.service import sweeper as make_sweeper

            sweeper = make_sweeper(state)
            sweeper.start()
        reporter = start_daily_reports(state)  # 专题日报, once a day (reports/daily.py)
        rollups = []
        if settings.analytics.rollup_enabled:
            from civiclink.callcentre.rollup import rollup_task as call_rollup_task

            rollups.append(call_rollup_task(state))  # both sites take calls
            if settings.site_role == "hotline":
                from civiclink.analytics.rollup import rollup_task

                rollups.append(rollup_task(state))
            for task in rollups:
                task.start()
        try:
            yield
        finally:
            for task in rollups:
                task.stop()
            if reporter is not None:
                reporter.stop()
            if sweeper is not None:
                sweeper.stop()
            if relay is not None:
                relay.stop()
                state.relay = None

    app = FastAPI(
        lifespan=lifespan,
        title=f"CivicLink · {settings.site_name}",
        version=__version__,
        description=f"{site_kind}（站点 `{settings.site_code}`）。所有接口需先登录：`POST /api/auth/token`。",
    )
    app.state.civiclink = state

    from civiclink.web.console import error_page, is_console_page
    from civiclink.web.messages import t

    @app.exception_handler(DomainError)
    async def _domain_error(request: Request, exc: DomainError):
        if is_console_page(request):
            return error_page(request, exc.status_code, exc.message)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse(exc.as_dict(), status_code=exc.status_code, headers=headers)

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, _exc: StaleDataError):
        if is_console_page(request):
            return error_page(request, 409, t("error.stale"))
        return JSONResponse({"detail": "数据已被他人修改，请刷新后重试", "code": "stale_version"}, status_code=409)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        # Unknown console addresses and wrong methods get a Chinese page; the API keeps FastAPI's JSON.
        if is_console_page(request) and exc.status_code in (404, 405):
            return error_page(request, exc.status_code,
                              t("error.not_found_page" if exc.status_code == 404 else "error.method_page"))
        return await http_exception_handler(request, exc)

    @app.exception_handler(IntegrityError)
    async def _integrity(_request: Request, exc: IntegrityError):
        log.warning("integrity error: %s", type(exc.orig).__name__)
        return JSONResponse({"detail": "数据冲突（可能是重复提交），请刷新后重试", "code": "conflict"}, status_code=409)

    @app.exception_handler(DataError)
    async def _data(_request: Request, exc: DataError):
        log.warning("data error: %s", type(exc.orig).__name__)
        return JSONResponse({"detail": "提交的数据不被数据库接受（格式或长度不正确）", "code": "invalid"}, status_code=422)

    @app.exception_handler(OperationalError)
    async def _busy(_request: Request, exc: OperationalError):
        # The driver's message ("database is locked"), never the statement or its parameters.
        log.error("database error: %s: %s", type(exc.orig).__name__, str(exc.orig).splitlines()[0][:200])
        return JSONResponse({"detail": "数据库繁忙，请稍后重试", "code": "unavailable"}, status_code=503)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        if is_console_page(request):  # a hand-edited address (?page=abc): the page's forms never send these
            return error_page(request, 422, t("error.bad_request_page"))
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "请求格式不正确"}
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
        return JSONResponse(
            {
                "detail": f"{where}：{first.get('msg')}" if where else str(first.get("msg")),
                "code": "invalid",
                "field": where or None,
                "errors": [{"loc": [str(x) for x in e.get("loc", ())], "msg": e.get("msg")} for e in errors],
            },
            status_code=422,
        )

    app.add_middleware(RefuseNul)

    routers = [auth_router, org_router, user_router, calendar_router, audit_router, exchange_router, linkage_router,
               triage_router, knowledge_router, analytics_router, calls_router]
    if settings.site_role == "hotline":
        routers += [orders_router, sla_router, joint_router, reports_router, open311_router, open311_admin_router]
    else:
        routers += [incidents_router]
    for router in routers:
        app.include_router(router)

    @app.get("/api/health", tags=["系统"], summary="健康检查")
    def health() -> dict:
        """Is the site up, and which site is it."""
        return {"status": "ok", "site": settings.site_code, "role": settings.site_role, "version": __version__}

    @app.get("/api/meta/labels", tags=["系统"], summary="中文标签")
    def meta_labels() -> dict[str, dict[str, str]]:
        """The zh-CN labels of every code value (states, actions, channels, roles …)."""
        return LABELS

    # The console (server-rendered pages; issue 5) and its static files (vendored htmx and ECharts).
    include_console(app, settings.site_role)

    return app
