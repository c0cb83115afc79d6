"""The operator console (issue 5): server-rendered pages (Jinja2 + htmx, ECharts for charts) for every role on
both sites. ``include_console`` adds its routes and static files to an app."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles


def include_console(app: FastAPI, site_role: str) -> None:
    from civiclink.web import admin, calls, dashboard, oversight, pages
    from civiclink.web.console import STATIC_DIR, LoginRequired, login_redirect

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired):
        return login_redirect(request, exc)

    app.include_router(pages.router)
    if site_role == "police":
        from civiclink.web import desk

        app.include_router(desk.router)
    else:
        from civiclink.web import intake, joint, kpi, orders, reports

        app.include_router(intake.router)
        app.include_router(orders.router)
        app.include_router(joint.router)
        app.include_router(kpi.router)
        app.include_router(reports.router)
    app.include_router(dashboard.router)
    app.include_router(oversight.router)
    app.include_router(calls.router)
    app.include_router(admin.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
