"""The lifecycle as a Hypothesis state machine: random actions by random users at random times.

Whatever the sequence, an order never reaches an invalid state, and every refused action leaves the order,
its clocks and the audit chain exactly as they were.
"""

from __future__ import annotations

from datetime import timedelta

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from pydantic import ValidationError
from sqlalchemy import func, select
from tests.conftest import restore_base
from tests.helpers import order_in

from civiclink.audit.models import AuditEvent, AuditHead
from civiclink.audit.service import verify_chain
from civiclink.db import begin_write, utcnow
from civiclink.errors import DomainError
from civiclink.orgs.actions import actor_for
from civiclink.orgs.models import User
from civiclink.sla.models import StageClock
from civiclink.workorders import actions as a
from civiclink.workorders import schemas as s
from civiclink.workorders.models import WorkOrder
from civiclink.workorders.states import OPEN, TERMINAL, Action, State

USERS = ["operator", "dispatcher", "supervisor", "callback", "staff_csgl", "staff_zjj", "staff_chongchuan",
         "admin", "leader", "police"]
# Mostly units that can take the test order (城管 owns 市政); sometimes ones the rules refuse.
UNITS = ["csgl"] * 5 + ["zjj", "320613", "chongchuan.hepingqiao", "12345", "nope"]
SIDE_ACTIONS = {Action.MERGE, Action.URGE, Action.SUPERVISE, Action.CLOSE_AT_INTAKE}
WITH_UNIT = {State.DISPATCHED, State.SIGNED, State.IN_PROGRESS, State.EXTENSION_REQUESTED, State.REOPENED}
WAITING_OK = {State.SIGNED, State.IN_PROGRESS, State.EXTENSION_REQUESTED}


def body_for(action: Action, data, version: int, numbers: list[str]):
    """A body for ``action``: usually valid, sometimes not (bad unit, too long an extension …)."""
    d = {"version": version}
    if action == Action.DISPATCH:
        d["unit"] = data.draw(st.sampled_from(UNITS))
    elif action in (Action.RETURN,):
        d.update(reason="非本单位职责", basis="三定方案")
    elif action in (Action.REJECT_RETURN, Action.REJECT_EXTENSION, Action.REJECT_REPLY, Action.CLOSE, Action.REOPEN,
                    Action.REJECT_TRANSFER, Action.REPORT_TO_110, Action.ESCALATE_TO_110, Action.TRANSFER_TO_110):
        d["reason"] = "理由"
    elif action == Action.PROGRESS:
        d["note"] = "进展"
    elif action == Action.REQUEST_EXTENSION:
        d.update(extra=data.draw(st.sampled_from(["3wd", "3wd", "5wd", "40wd", "2h"])), reason="需协调", basis="规定")
    elif action == Action.PAUSE:
        d["reason"] = "等待补充材料"
    elif action == Action.REPLY:
        d["content"] = "已处理"
    elif action == Action.CLOSE_AT_INTAKE:
        d["answer"] = "当场答复"
    elif action == Action.CALLBACK:
        reached = data.draw(st.sampled_from([True, True, True, False]))
        d["reached"] = reached
        if reached:
            d["satisfaction"] = data.draw(st.integers(1, 5))
    elif action == Action.MERGE:
        d["into"] = data.draw(st.sampled_from(numbers + ["NT00000000-000000"]))
    elif action in (Action.URGE, Action.SUPERVISE):
        d = {"note": "请加快", "version": data.draw(st.sampled_from([None, version]))}
    return s.ACTION_BODIES[action].model_validate(d)


def snapshot(session, order_id: int):
    order = session.execute(select(WorkOrder.__table__).where(WorkOrder.id == order_id)).mappings().one()
    clocks = session.execute(select(StageClock.__table__).where(StageClock.order_id == order_id)
                             .order_by(StageClock.id)).mappings().all()
    head = session.execute(select(AuditHead.last_seq, AuditHead.last_hash)).first()
    events = session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    return dict(order), [dict(c) for c in clocks], tuple(head) if head else None, events


class Lifecycle(RuleBasedStateMachine):
    state = None  # the AppState, set by the test

    def __init__(self):
        super().__init__()
        restore_base(self.state)
        self.session = self.state.sessions()
        self.now = utcnow()
        with self.state.sessions() as s:
            directory = self.state.directory.get(s)
            self.actors = {u.username: actor_for(u, unit_code=directory.unit(u.unit_id).code if u.unit_id else None)
                           for u in s.execute(select(User)).scalars()}
        self.numbers: list[str] = []
        self.refused = 0
        self.accepted = 0

    def ctx(self):
        return self.state.ctx(self.session, now=self.now)

    def teardown(self):
        self.session.rollback()
        with self.state.sessions() as s:
            result = verify_chain(s)
        self.session.close()
        assert result.ok, result.problem

    @initialize(kind=st.sampled_from(["complaint", "consultation"]), urgency=st.sampled_from(["normal", "urgent"]))
    def first_order(self, kind, urgency):
        self.register(kind, urgency, True)

    @precondition(lambda self: len(self.numbers) < 3)
    @rule(kind=st.sampled_from(["complaint", "consultation", "help"]), urgency=st.sampled_from(["normal", "urgent"]),
          submit=st.booleans())
    def register(self, kind, urgency, submit):
        begin_write(self.session)
        order = a.do_register_order(self.ctx(), order_in(request_type=kind, urgency=urgency, submit=submit),
                                    actor=self.actors["operator"])
        self.session.commit()
        self.numbers.append(order.number)

    @rule(hours=st.sampled_from([1, 5, 30, 24 * 12, 24 * 40]))
    def time_passes(self, hours):
        self.now += timedelta(hours=hours)

    @rule(data=st.data(), action=st.sampled_from(list(Action)), user=st.sampled_from(USERS),
          stale=st.sampled_from([False] * 7 + [True]))
    def random_action(self, data, action, user, stale):
        """Anyone tries anything: most of it must be refused, and refused cleanly."""
        self._try(data, data.draw(st.sampled_from(self.numbers)), user, action, stale)

    @rule(data=st.data(), steps=st.integers(1, 8))
    def follow_the_rules(self, data, steps):
        """Someone allowed to act does so, several times: orders travel the whole lifecycle."""
        number = data.draw(st.sampled_from(self.numbers))
        for _ in range(steps):
            order = self.session.execute(select(WorkOrder).where(WorkOrder.number == number)).scalar_one()
            ctx = self.ctx()
            allowed = [(u, act) for u in USERS for act in a.allowed_actions(ctx, order, self.actors[u])]
            self.session.rollback()
            forward = [(u, act) for u, act in allowed if act not in SIDE_ACTIONS]
            if forward and data.draw(st.sampled_from([True, True, True, False])):
                allowed = forward
            if not allowed:
                return
            user, action = data.draw(st.sampled_from(allowed))
            self._try(data, number, user, action, stale=False)

    def _try(self, data, number, user, action, stale):
        order = self.session.execute(select(WorkOrder).where(WorkOrder.number == number)).scalar_one()
        before = snapshot(self.session, order.id)
        self.session.rollback()
        begin_write(self.session)
        try:
            order = a.load_order_for_update(self.ctx(), number)
            body = body_for(action, data, order.version - (1 if stale else 0), self.numbers)
            a.handler_for(action)(self.ctx(), order, body, actor=self.actors[user])
        except (DomainError, ValidationError):
            self.session.rollback()
            self.refused += 1
            after = snapshot(self.session, before[0]["id"])
            self.session.rollback()
            assert after == before, f"refused {action} by {user} changed something"
            return
        self.session.commit()
        self.accepted += 1
        after = snapshot(self.session, before[0]["id"])
        self.session.rollback()
        assert after[0]["version"] > before[0]["version"]
        assert after[3] > before[3], "an accepted action must write an audit event"

    @invariant()
    def orders_are_consistent(self):
        rows = self.session.execute(select(WorkOrder)).scalars().all()
        for o in rows:
            state = State(o.state)
            clocks = self.session.execute(select(StageClock).where(StageClock.order_id == o.id)).scalars().all()
            running = [c for c in clocks if c.stopped_at is None]
            if state in TERMINAL or state == State.TRANSFERRED_TO_110:
                # 转110: the hotline's own clocks stop; it waits for 110's result (R-503).
                assert not running, f"{o.number} is {state} with running clocks"
            if state == State.CLOSED:
                assert o.closed_at is not None
            if state == State.CLOSED_AT_INTAKE:
                assert o.intake_answer and o.request_type == "consultation"
            if state == State.MERGED:
                assert o.merged_into_id is not None and o.merged_into_id != o.id
            if state in WITH_UNIT:
                assert o.handling_unit_id is not None and o.owner_unit_id == o.handling_unit_id
            if o.waiting_on_citizen:
                assert state in WAITING_OK, f"{o.number} waiting in {state}"
            stages = [c.stage for c in running]
            assert len(stages) == len(set(stages)), f"{o.number} has two running clocks of one stage"
            for c in running:
                latest = max(x.round for x in clocks if x.stage == c.stage)
                assert c.round == latest
                assert (c.paused_since is not None) == (c.stage == "handle" and o.waiting_on_citizen)
                if c.paused_since is None:
                    assert c.due_at is not None and c.warn_at is not None and c.warn_at <= c.due_at
            if state in OPEN and state not in (State.REGISTERED, State.TRANSFERRED_TO_110):
                assert any(c.stage == "handle" for c in clocks) or state == State.AWAITING_DISPATCH
        self.session.rollback()


def test_lifecycle_state_machine(state):
    Lifecycle.state = state
    run_state_machine_as_test(
        Lifecycle,
        settings=settings(max_examples=40, stateful_step_count=50, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]),
    )
