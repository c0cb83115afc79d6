"""Role × endpoint matrix over HTTP (R-614 least privilege).

The matrix is generated from the state machine's table (``RULES``, ``ROLE_ACTIONS``, ``REGISTER_ROLES``,
``READ_ALL_ROLES``) and the base users of ``tests/conftest.py``, so a change to a rule is covered without
touching this file. For every POST action route, one order is prepared in a state where the action IS
allowed for its proper role (checked, not assumed); every other base user must get 403 there, and the order
(version, timeline, audit chain) must stay as it was. The proper users then take the action on a fresh order
and succeed.

The prepared orders are shared by the whole module (built once in the module-scoped ``world``), so the tests
here deliberately do not use the per-test ``state``/``client`` fixtures, which would wipe them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.conftest import BASE_USERS, TEST_SECRET, restore_base
from tests.helpers import ORDER, act, push_from_110, register, to_awaiting_callback, to_signed

from civiclink.app import create_app
from civiclink.audit.models import AuditEvent
from civiclink.db import begin_write
from civiclink.orgs.actions import actor_for, do_create_user, do_issue_token
from civiclink.orgs.models import User
from civiclink.orgs.roles import SYSTEM, Role
from civiclink.orgs.schemas import UserCreate
from civiclink.workorders.actions import allowed_actions
from civiclink.workorders.models import WorkOrder
from civiclink.workorders.schemas import ACTION_BODIES
from civiclink.workorders.states import READ_ALL_ROLES, REGISTER_ROLES, ROLE_ACTIONS, RULES, Action

USER_ROLES: dict[str, frozenset[Role]] = {name: frozenset(roles) for name, roles, _unit in BASE_USERS}
USER_UNIT: dict[str, str | None] = {name: unit for name, _roles, unit in BASE_USERS}
USERS = list(USER_ROLES)
HANDLING_UNIT = "csgl"  # tests.helpers.to_signed dispatches to 城管; every prepared order is handled there


def route(action: Action) -> str:
    return action.value.replace("_", "-")


def may(action: Action, user: str) -> bool:
    """What the table says: the user holds one of the action's roles and, if unit-scoped, is of the unit."""
    rule = RULES[action]
    if not USER_ROLES[user] & rule.roles:
        return False
    return not rule.unit_scoped or USER_UNIT[user] == HANDLING_UNIT


def why_not(action: Action, user: str) -> str:
    return "wrong-role" if not USER_ROLES[user] & RULES[action].roles else "wrong-unit"


FORBIDDEN = [
    pytest.param(action, user, id=f"{route(action)}-by-{user}-{why_not(action, user)}")
    for action in RULES for user in USERS if not may(action, user)
]
ALLOWED = [
    pytest.param(action, user, id=f"{route(action)}-by-{user}")
    for action in RULES for user in USERS if may(action, user)
]


# -- scenarios: orders in a given state (through the real actions) -------------------------------------------


def _dispatched(ctx, actors):
    order = register(ctx, actors)
    act(ctx, order, Action.DISPATCH, actors["dispatcher"], unit=HANDLING_UNIT)
    return order


def _then(build, action, user, **body):
    def builder(ctx, actors):
        order = build(ctx, actors)
        act(ctx, order, action, actors[user], **body)
        return order
    return builder


def _unsatisfied_callback(ctx, actors):
    order = to_awaiting_callback(ctx, actors)
    act(ctx, order, Action.CALLBACK, actors["callback"], satisfaction=5, resolved=False, note="仍未解决")
    return order


# Tried in this order; the first one where a proper user may take the action is used for it.
SCENARIOS = {
    "registered": lambda ctx, actors: register(ctx, actors, submit=False),
    "awaiting_dispatch": lambda ctx, actors: register(ctx, actors),
    "dispatched": _dispatched,
    "signed": to_signed,
    "in_progress": _then(to_signed, Action.PROGRESS, "staff_csgl", note="已到现场"),
    "signed_paused": _then(to_signed, Action.PAUSE, "staff_csgl", reason="等群众补材料"),
    "return_requested": _then(_dispatched, Action.RETURN, "staff_csgl", reason="非本单位职责", basis="权责清单"),
    "extension_requested": _then(to_signed, Action.REQUEST_EXTENSION, "staff_csgl", extra="3wd",
                                 reason="需采购配件", basis="养护规定"),
    "replied": _then(to_signed, Action.REPLY, "staff_csgl", content="已修复。"),
    "awaiting_callback_unsatisfied": _unsatisfied_callback,
    "reopened": _then(_unsatisfied_callback, Action.REOPEN, "callback", reason="群众反映仍未解决"),
    "registered_consultation": lambda ctx, actors: register(ctx, actors, submit=False, request_type="consultation"),
    "awaiting_dispatch_consultation": lambda ctx, actors: register(ctx, actors, request_type="consultation"),
    # A push from 110 waiting for 签收 or 退回.
    "pushed_from_110": lambda ctx, actors: push_from_110(ctx),
}

SAMPLE_VALUES = {
    "reason": "矩阵测试：理由",
    "basis": "矩阵测试：依据",
    "note": "矩阵测试：说明",
    "content": "矩阵测试：已处理完毕。",
    "answer": "矩阵测试：当场答复。",
    "extra": "3wd",
    "unit": HANDLING_UNIT,
    "satisfaction": 5,
    "resolved": False,
}


def body_for(action: Action, version: int, into: str | None = None) -> dict:
    """A valid body for the action's route (so that only the role or unit can make it fail)."""
    body: dict = {"version": version}
    for name, info in ACTION_BODIES[action].model_fields.items():
        if name == "version":
            continue
        if name == "into":
            body[name] = into
        elif name in SAMPLE_VALUES:
            body[name] = SAMPLE_VALUES[name]
        elif info.is_required():
            raise AssertionError(f"no sample value for the required field {action.value}.{name}")
    return body


# -- the module's world --------------------------------------------------------------------------------------


@dataclass
class World:
    state: object
    client: TestClient
    tokens: dict[str, str]
    actors: dict
    numbers: dict[str, str] = field(default_factory=dict)  # scenario → order number
    chosen: dict[Action, str] = field(default_factory=dict)  # action → scenario
    allowed: dict[Action, set[str]] = field(default_factory=dict)  # action → users allowed there
    merge_target: str = ""

    def h(self, user: str) -> dict:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def order(self, number: str) -> dict:
        r = self.client.get(f"/api/orders/{number}", headers=self.h("admin"))
        assert r.status_code == 200, r.text
        return r.json()

    def timeline(self, number: str) -> list[dict]:
        r = self.client.get(f"/api/orders/{number}/timeline", headers=self.h("admin"))
        assert r.status_code == 200, r.text
        return r.json()

    def events(self) -> int:
        with self.state.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(AuditEvent.__table__)).scalar_one()

    def orders(self) -> int:
        with self.state.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(WorkOrder.__table__)).scalar_one()

    def build(self, scenario: str) -> str:
        """A fresh order in the scenario's state (for tests that change it)."""
        s = self.state.sessions()
        try:
            begin_write(s)
            order = SCENARIOS[scenario](self.state.ctx(s), self.actors)
            s.commit()
            return order.number
        finally:
            s.close()

    def fresh_target(self) -> str:
        s = self.state.sessions()
        try:
            begin_write(s)
            order = register(self.state.ctx(s), self.actors, title="主单")
            s.commit()
            return order.number
        finally:
            s.close()


@pytest.fixture(scope="module")
def world(app_state):
    state = app_state
    restore_base(state)
    s = state.sessions()
    begin_write(s)
    now = datetime.now(UTC)
    directory = state.directory.get(s)
    users = s.execute(select(User)).scalars().all()
    actors = {u.username: actor_for(u, unit_code=directory.unit(u.unit_id).code if u.unit_id else None)
              for u in users}
    tokens = {}
    for user in users:
        tokens[user.username], _ = do_issue_token(s, user, secret=TEST_SECRET, now=now, ttl=state.settings.token_ttl)
    do_create_user(s, UserCreate(username="matrix_target", display_name="被修改的用户", password="long-enough-1",
                                 roles=[Role.OPERATOR], unit_code="12345"), actor=SYSTEM, now=now)
    ctx = state.ctx(s)
    built = {name: build(ctx, actors) for name, build in SCENARIOS.items()}
    merge_target = register(ctx, actors, title="主单").number
    s.commit()

    w = World(state=state, client=None, tokens=tokens, actors=actors, merge_target=merge_target)  # type: ignore[arg-type]
    w.numbers = {name: order.number for name, order in built.items()}
    ctx = state.ctx(s)
    for action, rule in RULES.items():
        for name, order in built.items():
            if order.state not in rule.sources:
                continue
            users_here = {u for u, a in actors.items() if action in allowed_actions(ctx, order, a)}
            if users_here:
                w.chosen[action], w.allowed[action] = name, users_here
                break
    s.rollback()
    s.close()

    with TestClient(create_app(state.settings, state=state)) as client:
        w.client = client
        yield w


# -- the table itself ----------------------------------------------------------------------------------------


def test_base_users_hold_the_roles_the_matrix_assumes(world):
    for user in USERS:
        assert world.actors[user].roles == USER_ROLES[user], user
        assert world.actors[user].unit_code == USER_UNIT[user], user


def test_every_action_has_a_rule_a_route_and_a_body(world):
    assert set(RULES) == set(Action)
    paths = world.client.get("/openapi.json").json()["paths"]
    posted = {
        path.removeprefix("/api/orders/{number}/")
        for path, methods in paths.items()
        if "post" in methods and path.startswith("/api/orders/{number}/")
    }
    assert posted == {route(a) for a in RULES}
    for action in RULES:
        ACTION_BODIES[action].model_validate(body_for(action, 1, into="NT20000101-000001"))


def test_role_actions_agree_with_the_rules():
    for role in Role:
        assert ROLE_ACTIONS[role] == {a for a, rule in RULES.items() if role in rule.roles}, role
    # Nobody outside the 12345 floor and the handling units acts on orders.
    assert not ROLE_ACTIONS[Role.ADMIN] and not ROLE_ACTIONS[Role.LEADER] and not ROLE_ACTIONS[Role.POLICE_OPERATOR]


@pytest.mark.parametrize("action", list(RULES), ids=route)
def test_each_action_has_a_prepared_order_where_exactly_its_proper_users_may_act(world, action):
    assert action in world.chosen, f"no scenario lets {action.value} be taken; add one to SCENARIOS"
    scenario = world.chosen[action]
    order = world.order(world.numbers[scenario])
    assert order["state"] in RULES[action].sources
    assert world.allowed[action] == {u for u in USERS if may(action, u)}, scenario


# -- refusals: wrong role, wrong unit ------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "user"), FORBIDDEN)
def test_action_is_refused_with_403_and_changes_nothing(world, action, user):
    number = world.numbers[world.chosen[action]]
    before = world.order(number)
    timeline_before = len(world.timeline(number))
    target_before = world.order(world.merge_target)
    events_before = world.events()

    r = world.client.post(f"/api/orders/{number}/{route(action)}",
                          json=body_for(action, before["version"], into=world.merge_target), headers=world.h(user))

    assert r.status_code == 403, r.text
    assert r.json()["code"] == "forbidden"
    after = world.order(number)
    assert after["version"] == before["version"] and after["state"] == before["state"]
    assert after == before
    assert len(world.timeline(number)) == timeline_before
    assert world.events() == events_before
    assert world.order(world.merge_target)["version"] == target_before["version"]
    # What the API offers the user agrees with what it refuses.
    seen = world.client.get(f"/api/orders/{number}", headers=world.h(user))
    if seen.status_code == 200:
        assert action.value not in seen.json()["allowed_actions"]


@pytest.mark.parametrize("action", list(RULES), ids=route)
def test_anonymous_action_is_refused_with_401(world, action):
    number = world.numbers[world.chosen[action]]
    before = world.order(number)
    r = world.client.post(f"/api/orders/{number}/{route(action)}",
                          json=body_for(action, before["version"], into=world.merge_target))
    assert r.status_code == 401
    assert world.order(number) == before


# -- the proper users succeed --------------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "user"), ALLOWED)
def test_proper_user_may_take_the_action(world, action, user):
    assert action in world.chosen, f"no scenario for {action.value}"
    number = world.build(world.chosen[action])
    into = world.fresh_target() if "into" in ACTION_BODIES[action].model_fields else None
    before = world.order(number)
    assert action.value in world.client.get(f"/api/orders/{number}", headers=world.h(user)).json()["allowed_actions"]

    r = world.client.post(f"/api/orders/{number}/{route(action)}", json=body_for(action, before["version"], into),
                          headers=world.h(user))

    assert r.status_code == 200, r.text
    after = r.json()
    assert after["version"] > before["version"]
    if RULES[action].target is not None:
        assert after["state"] == RULES[action].target
    last = world.timeline(number)[-1]
    assert last["action"] == f"order.{action.value}" and last["actor"] == user


# -- registration --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("user", USERS)
def test_registration_is_for_the_register_roles_only(world, user):
    orders_before, events_before = world.orders(), world.events()
    r = world.client.post("/api/orders", json=ORDER, headers=world.h(user))
    if USER_ROLES[user] & REGISTER_ROLES:
        assert r.status_code == 201, r.text
        assert world.orders() == orders_before + 1
    else:
        assert r.status_code == 403, r.text
        assert world.orders() == orders_before and world.events() == events_before


def test_anonymous_registration_is_refused(world):
    before = world.orders()
    assert world.client.post("/api/orders", json=ORDER).status_code == 401
    assert world.orders() == before


# -- reading orders ------------------------------------------------------------------------------------------


def may_read(user: str) -> bool:
    return bool(USER_ROLES[user] & READ_ALL_ROLES) or USER_UNIT[user] == HANDLING_UNIT


@pytest.mark.parametrize("view", ["detail", "timeline"])
@pytest.mark.parametrize("user", USERS)
def test_order_visibility(world, user, view):
    number = world.numbers["dispatched"]
    path = f"/api/orders/{number}" + ("/timeline" if view == "timeline" else "")
    r = world.client.get(path, headers=world.h(user))
    assert r.status_code == (200 if may_read(user) else 403), r.text
    if r.status_code == 403:
        assert r.json()["code"] == "forbidden" and "caller_phone" not in r.json()


@pytest.mark.parametrize("user", USERS)
def test_order_list_shows_only_visible_orders(world, user):
    number = world.numbers["dispatched"]
    r = world.client.get("/api/orders", params={"limit": 500}, headers=world.h(user))
    assert r.status_code == 200
    listed = {o["number"] for o in r.json()["items"]}
    assert (number in listed) == may_read(user)


def test_visibility_expectations_cover_both_outcomes():
    assert {may_read(u) for u in USERS} == {True, False}
    assert not may_read("police") and not may_read("staff_zjj") and may_read("staff_csgl")


# -- administration and audit routes -------------------------------------------------------------------------


ADMIN = frozenset({Role.ADMIN})
AUDITORS = frozenset({Role.ADMIN, Role.SUPERVISOR})
CALENDAR_CSV = "date,type,name\n2099-01-01,holiday,元旦\n2099-01-03,workday,调休上班\n"


def _users_create(w: World, user, headers):
    return w.client.post("/api/users", headers=headers, json={
        "username": f"made_by_{user}", "display_name": "新用户", "password": "long-enough-1",
        "roles": ["operator"], "unit_code": "12345",
    })


def _user_update(w: World, user, headers):
    version = w.client.get("/api/users/matrix_target", headers=w.h("admin")).json()["version"]
    return w.client.patch("/api/users/matrix_target", headers=headers,
                          json={"version": version, "display_name": f"改名_{user}", "roles": ["admin"]})


def _org_import(w: World, user, headers):
    path = w.state.settings.resolved_org_file
    return w.client.post("/api/orgs/import", headers=headers,
                         files={"file": (path.name, path.read_bytes(), "application/yaml")})


def _calendar_import(w: World, user, headers):
    return w.client.post("/api/calendar/import", headers=headers,
                         files={"file": ("2099.csv", CALENDAR_CSV.encode(), "text/csv")})


# id: (roles allowed, success status, request)
PROTECTED = {
    "users-list": (ADMIN, 200, lambda w, u, h: w.client.get("/api/users", headers=h)),
    "users-create": (ADMIN, 201, _users_create),
    "user-detail-of-another": (ADMIN, 200, lambda w, u, h: w.client.get("/api/users/matrix_target", headers=h)),
    "user-update": (ADMIN, 200, _user_update),
    "org-import": (ADMIN, 200, _org_import),
    "calendar-import": (ADMIN, 200, _calendar_import),
    "audit-verify": (AUDITORS, 200, lambda w, u, h: w.client.get("/api/audit/verify", headers=h)),
    "audit-events": (AUDITORS, 200, lambda w, u, h: w.client.get("/api/audit/events", headers=h)),
}


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("name", list(PROTECTED))
def test_protected_route(world, name, user):
    roles, success, request = PROTECTED[name]
    events_before = world.events()
    target_before = world.client.get("/api/users/matrix_target", headers=world.h("admin")).json()

    r = request(world, user, world.h(user))

    if USER_ROLES[user] & roles:
        assert r.status_code == success, r.text
        return
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "forbidden"
    assert world.events() == events_before
    assert world.client.get("/api/users/matrix_target", headers=world.h("admin")).json() == target_before
    assert world.client.get(f"/api/users/made_by_{user}", headers=world.h("admin")).status_code == 404


@pytest.mark.parametrize("name", list(PROTECTED))
def test_anonymous_protected_route_is_refused(world, name):
    _roles, _success, request = PROTECTED[name]
    events_before = world.events()
    assert request(world, "anonymous", {}).status_code == 401
    assert world.events() == events_before


@pytest.mark.parametrize("user", USERS)
def test_everyone_may_read_their_own_user(world, user):
    r = world.client.get(f"/api/users/{user}", headers=world.h(user))
    assert r.status_code == 200 and r.json()["username"] == user
    assert set(r.json()["roles"]) == {str(role) for role in USER_ROLES[user]}


def test_forbidden_matrix_covers_every_refusal_kind():
    kinds = {p.id.rsplit("-", 2)[-2] + "-" + p.id.rsplit("-", 2)[-1] for p in FORBIDDEN}
    assert kinds == {"wrong-role", "wrong-unit"}
    # Every base user is refused something, and every action refuses someone.
    assert {p.values[1] for p in FORBIDDEN} == set(USERS)
    assert {p.values[0] for p in FORBIDDEN} == set(RULES)
    assert {p.values[0] for p in ALLOWED} == set(RULES)
