"""The demo city: a small seeded build (150 orders over 14 days) into a scratch SQLite file.

The clock is frozen during the build so that two builds with the same seed can be compared exactly.
"""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from rich.console import Console
from sqlalchemy import func, select

from civiclink.app import build_state
from civiclink.audit.models import AuditEvent, AuditHead
from civiclink.audit.service import verify_chain
from civiclink.db import read_session
from civiclink.demo.runner import build_demo, demo_settings
from civiclink.demo.seed import CENTRE_USERS, DEMO_PASSWORD, unit_username
from civiclink.orgs.models import OrgUnit, User
from civiclink.orgs.roles import Role
from civiclink.orgs.security import verify_password
from civiclink.workorders.models import WorkOrder
from civiclink.workorders.service import timeline

ORDERS, DAYS, SEED = 150, 14, 12345
FROZEN = datetime(2025, 6, 18, 2, 30, tzinfo=UTC)  # a Wednesday, 10:30 in 南通
HOTLINE_ROLES = set(Role) - {Role.POLICE_OPERATOR, Role.POLICE_COMMANDER}  # the demo is a 12345 site
HANDLING_KINDS = {"department", "district", "county", "county_city", "zone", "street", "town"}


def build(directory, seed=SEED):
    settings = demo_settings(directory)
    with time_machine.travel(FROZEN, tick=False):
        summary = build_demo(
            settings, orders=ORDERS, days=DAYS, seed=seed, console=Console(file=io.StringIO())
        )
    return settings, summary


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    settings, summary = build(tmp_path_factory.mktemp("demo"))
    state = build_state(settings)
    yield state, summary
    state.engine.dispose()


@pytest.fixture
def db(demo):
    state, _ = demo
    with read_session(state.sessions) as s:
        yield s


def orders(db) -> list[WorkOrder]:
    return list(db.execute(select(WorkOrder).order_by(WorkOrder.id)).scalars())


def fingerprint(settings) -> list[tuple]:
    state = build_state(settings)
    try:
        with read_session(state.sessions) as s:
            return [
                tuple(r)
                for r in s.execute(
                    select(
                        WorkOrder.number,
                        WorkOrder.title,
                        WorkOrder.state,
                        WorkOrder.channel,
                        WorkOrder.request_type,
                    ).order_by(WorkOrder.number)
                )
            ]
    finally:
        state.engine.dispose()


def test_summary_matches_the_database(demo, db):
    _, summary = demo
    assert summary["orders"] == ORDERS
    assert db.execute(select(func.count()).select_from(WorkOrder)).scalar_one() == ORDERS
    assert summary["users"] == db.execute(select(func.count()).select_from(User)).scalar_one()
    assert summary["actions"] > 3 * ORDERS  # most orders go through several steps


def test_orders_are_in_many_states(db):
    states = Counter(o.state for o in orders(db))
    assert {"closed", "closed_at_intake", "merged"} <= set(states), states
    assert {"awaiting_callback", "in_progress"} & set(states), states
    assert len(states) >= 6, states
    assert states["closed"] > states["merged"]


def test_terminal_orders_are_consistent(db):
    numbers = {o.id: o for o in orders(db)}
    for o in numbers.values():
        if o.state == "closed":
            assert o.closed_at is not None and (o.satisfaction is not None or o.close_reason), o.number
        elif o.state == "closed_at_intake":
            assert o.request_type == "consultation" and o.intake_answer and o.closed_at, o.number
        elif o.state == "merged":
            main = numbers[o.merged_into_id]
            assert main.state != "merged" and main.duplicate_count >= 1, o.number
        else:
            assert o.closed_at is None, o.number


def test_every_order_is_demo_data(db):
    rows = orders(db)
    assert all(o.is_demo and o.source == "demo" for o in rows)
    assert all(FROZEN - timedelta(days=DAYS) <= o.registered_at <= FROZEN for o in rows)
    assert len({o.number for o in rows}) == ORDERS


def test_every_order_has_a_registered_event_and_a_timeline(demo, db):
    state, _ = demo
    registered = Counter(
        db.execute(
            select(AuditEvent.entity_id).where(
                AuditEvent.action == "order.registered", AuditEvent.entity_type == "work_order"
            )
        ).scalars()
    )
    rows = orders(db)
    assert registered == Counter(o.id for o in rows)
    ctx = state.ctx(db, now=FROZEN)
    for o in rows:
        entries = timeline(ctx, o)
        assert entries and entries[0].action == "order.registered", o.number
        # The history ends in the state the order is in.
        assert entries[-1].to_state == o.state, (o.number, [e.action for e in entries])


def test_the_audit_chain_verifies(db):
    result = verify_chain(db)
    total = db.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    assert result.ok, result.problem
    assert result.checked == total == db.get(AuditHead, 1).last_seq


def test_the_simulated_day_runs_forward_and_never_past_now(db):
    """Steps of all orders are interleaved by time: order events are in time order, and none is in the
    future."""
    times = list(
        db.execute(
            select(AuditEvent.occurred_at)
            .where(AuditEvent.entity_type == "work_order")
            .order_by(AuditEvent.seq)
        ).scalars()
    )
    assert times and times == sorted(times)
    assert max(times) <= FROZEN


def test_users_for_every_role_and_every_handling_unit(db):
    users = list(db.execute(select(User)).scalars())
    assert all(u.is_demo and u.active for u in users)
    assert {Role(r) for u in users for r in u.roles} >= HOTLINE_ROLES
    by_name = {u.username: u for u in users}
    assert {name for name, _, _ in CENTRE_USERS} <= set(by_name)
    units = list(db.execute(select(OrgUnit).where(OrgUnit.active.is_(True))).scalars())
    handling = [u for u in units if u.kind in HANDLING_KINDS]
    assert len(handling) > 100
    for unit in handling:
        staff = by_name[unit_username(unit)]
        assert staff.unit_id == unit.id and staff.roles == [Role.UNIT_STAFF.value], unit.code
    assert verify_password(DEMO_PASSWORD, by_name["dispatcher1"].password_hash)
    assert verify_password(DEMO_PASSWORD, by_name["u_csgl"].password_hash)


def test_same_seed_gives_the_same_city(demo, tmp_path, monkeypatch):
    """A second build with the same seed (and clock) gives the same numbers, titles and states."""
    from civiclink.orgs import security

    # Password hashing is most of the build time and plays no part in the simulation: make it cheap here.
    monkeypatch.setattr(security, "_SCRYPT", {"n": 2, "r": 1, "p": 1})
    first_state, first_summary = demo
    settings, summary = build(tmp_path)
    assert {k: v for k, v in summary.items() if k != "seconds"} == {
        k: v for k, v in first_summary.items() if k != "seconds"
    }
    first = fingerprint(first_state.settings)
    assert len(first) == ORDERS
    assert fingerprint(settings) == first


def test_phone_orders_come_with_their_calls(db):
    """Every phone 工单 has the call it came from (linked), some callers redialled after giving up, some missed
    callers wait for a call-back: the 话务 page and 一次接通率 have something real to show."""
    from civiclink.analytics.service import first_attempt_connection_rate
    from civiclink.callcentre.models import Call

    phone = [o for o in orders(db) if o.channel == "phone"]
    calls = list(db.execute(select(Call)).scalars())
    linked = {c.order_id for c in calls if c.order_id is not None}
    assert phone and linked == {o.id for o in phone}
    assert any(c.redial for c in calls) and any(c.callback_state == "pending" for c in calls)
    assert all(c.outcome == "answered" for c in calls if c.order_id is not None)
    first, last = min(c.offered_at for c in calls), max(c.offered_at for c in calls)
    figure = first_attempt_connection_rate(db, first, last + timedelta(seconds=1))
    assert figure.available and 80 < figure.rate < 100 and figure.denominator > len(phone) / 2
