"""Issue 5's quality bar, checked mechanically: every write the API offers is reachable from the console. Each
write route of both kinds of site maps to a console route that exists in the same app; an API write added later
without its console page fails here."""

import re

import pytest
from fastapi.routing import APIRoute

from civiclink.app import create_app
from civiclink.incidents.schemas import INCIDENT_ACTION_BODIES
from civiclink.workorders.schemas import ACTION_BODIES

# API write route (method, path template) → the console route(s) that do the same thing, or None with the reason.
CONSOLE_FOR = {
    ("POST", "/api/auth/token"): [("POST", "/login")],
    ("POST", "/api/auth/logout"): [("POST", "/logout")],
    ("POST", "/api/orgs/import"): [("POST", "/admin/orgs/import")],
    ("POST", "/api/users"): [("POST", "/admin/users")],
    ("PATCH", "/api/users/{username}"): [("POST", "/admin/users/{username}")],
    ("POST", "/api/calendar/import"): [("POST", "/admin/sla/calendar")],
    ("POST", "/api/exchange/inbox"): None,  # the other site's relay posts here, never a person
    ("POST", "/api/exchange/messages/{message_id}/retry"): [("POST", "/admin/peers/retry")],
    ("POST", "/api/linkage/consultations"): {"hotline": [("POST", "/orders/{number}/consult")],
                                             "police": [("POST", "/desk/{number}/consult")]},
    ("POST", "/api/linkage/consultations/{consultation_id}/conclude"): {
        "hotline": [("POST", "/orders/{number}/consult/{consultation_id}")],
        "police": [("POST", "/desk/{number}/consult/{consultation_id}")]},
    ("POST", "/api/triage"): {"hotline": [("POST", "/intake/triage")], "police": [("POST", "/desk/triage")]},
    ("POST", "/api/triage/{record_id}/decision"): {"hotline": [("POST", "/intake")], "police": None},
    ("POST", "/api/knowledge"): [("POST", "/admin/knowledge")],
    ("PUT", "/api/knowledge/{code}"): [("POST", "/admin/knowledge/{code}")],
    ("POST", "/api/knowledge/{code}/retire"): [("POST", "/admin/knowledge/{code}/retire")],
    ("POST", "/api/orders"): [("POST", "/intake")],
    ("POST", "/api/linkage/joint-cases/{number}/parts"): [("POST", "/joint/{number}/{key}")],
    ("POST", "/api/linkage/joint-cases/{number}/callback"): [("POST", "/joint/{number}/{key}")],
    ("POST", "/api/incidents"): [("POST", "/desk/new")],
    ("POST", "/api/reports/topics"): [("POST", "/reports/topics")],
    ("PATCH", "/api/reports/topics/{topic_id}"): [("POST", "/reports/topics/{topic_id}")],
    ("POST", "/api/reports/topics/{topic_id}/generate"): [("POST", "/reports/topics/{topic_id}/generate")],
    ("POST", "/api/open311/clients"): [("POST", "/admin/open311")],
    ("POST", "/api/open311/clients/{client_id}/revoke"): [("POST", "/admin/open311/{client_id}/revoke")],
    ("POST", "/api/calls/events"): None,  # the telephony system's adapter posts here (docs/cti.md), never a person
    ("POST", "/api/calls/{call_id}/callback"): [("POST", "/calls/{call_id}/callback")],
}
ORDER_ACTION = re.compile(r"^/api/orders/\{number\}/([a-z0-9-]+)$")
INCIDENT_ACTION = re.compile(r"^/api/incidents/\{number\}/([a-z0-9-]+)$")


def routes(app) -> set[tuple[str, str]]:
    """Every (method, path) the app serves: its own routes and, through each included router, theirs (FastAPI
    keeps an included router as one entry whose routes are its "effective route contexts")."""
    out = set()
    for route in app.routes:
        if isinstance(route, APIRoute):
            out |= {(m, route.path) for m in route.methods}
        elif hasattr(route, "effective_route_contexts"):
            out |= {(m, c.path) for c in route.effective_route_contexts() for m in (c.methods or ())}
    return out


def test_the_route_listing_sees_included_routers(settings):
    present = routes(create_app(settings))
    assert ("POST", "/api/orders") in present and ("POST", "/orders/{number}/act/{action}") in present


@pytest.mark.parametrize("site_role", ["hotline", "police"])
def test_every_api_write_has_its_console_page(settings, site_role):
    app = create_app(settings.model_copy(update={"site_role": site_role}))
    present = routes(app)
    missing = []
    for method, path in sorted(present):
        if not path.startswith("/api/") or method not in {"POST", "PUT", "PATCH", "DELETE"}:
            continue
        if m := ORDER_ACTION.match(path):
            action = m.group(1).replace("-", "_")
            assert any(a.value == action for a in ACTION_BODIES), path  # the console's forms cover these
            needed = [("POST", "/orders/{number}/act/{action}")]
        elif m := INCIDENT_ACTION.match(path):
            action = m.group(1).replace("-", "_")
            assert any(a.value == action for a in INCIDENT_ACTION_BODIES), path
            needed = [("POST", "/desk/{number}/act/{action}")]
        else:
            if (method, path) not in CONSOLE_FOR:
                missing.append(f"{method} {path}: no console page named in this test")
                continue
            needed = CONSOLE_FOR[(method, path)]
            if isinstance(needed, dict):
                needed = needed[site_role]
            if needed is None:
                continue
        missing += [f"{method} {path} → {m} {p} is not served" for m, p in needed if (m, p) not in present]
    assert not missing, missing
