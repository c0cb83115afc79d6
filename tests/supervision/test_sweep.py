"""The supervision sweep: 催办 at yellow, 督办 at red, repeats and units with many returns — each once, each in
the audit chain, never a phone number in a note; the CLI and the server's background task run the same sweep."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from tests.helpers import ORDER, act, register

from civiclink.audit.models import AuditEvent
from civiclink.sla.models import StageClock
from civiclink.supervision.actions import do_sweep
from civiclink.supervision.models import SupervisionNotice
from civiclink.workorders.models import WorkOrder
from civiclink.workorders.states import Action


def _dispatched(state, session, actors, phone: str) -> tuple[WorkOrder, StageClock]:
    """One 工单 of its own caller, dispatched to 城管: its running 签收 clock."""
    ctx = state.ctx(session)
    order = register(ctx, actors, caller={"name": "李四", "phone": phone})
    act(ctx, order, Action.DISPATCH, actors["dispatcher"], unit="csgl")
    session.commit()
    clock = session.execute(select(StageClock).where(StageClock.order_id == order.id, StageClock.stage == "sign",
                                                     StageClock.stopped_at.is_(None))).scalar_one()
    return order, clock


def _sweep(state, session, at):
    ctx = state.ctx(session, now=at)
    report = do_sweep(ctx)
    session.commit()
    return report


def test_yellow_is_urged_once_and_red_supervised_once(state, session, actors):
    order, clock = _dispatched(state, session, actors, "13900000001")
    between = clock.warn_at + (clock.due_at - clock.warn_at) / 2
    report = _sweep(state, session, between)
    assert [c.kind for c in report.done] == ["urge"] and report.done[0].order_number == order.number
    assert _sweep(state, session, between + timedelta(minutes=1)).done == []  # nothing twice for one breach
    late = clock.due_at + timedelta(hours=1)
    report = _sweep(state, session, late)
    assert [c.kind for c in report.done] == ["supervise"] and report.already == 0
    assert _sweep(state, session, late + timedelta(hours=5)).done == []
    session.expire_all()
    order = session.get(WorkOrder, order.id)
    assert order.urge_count == 1 and order.supervise_count == 1 and order.supervised
    events = session.execute(select(AuditEvent.action, AuditEvent.actor_name)
                             .where(AuditEvent.entity_id == order.id, AuditEvent.action.in_(
                                 ("order.urge", "order.supervise")))).all()
    assert sorted(a for a, _ in events) == ["order.supervise", "order.urge"]
    assert {name for _, name in events} == {"system"}


def test_repeats_from_one_caller_and_one_place_are_escalated_on_the_newest(state, session, actors):
    ctx = state.ctx(session)
    orders = [register(ctx, actors) for _ in range(3)]  # the same caller, 属地 and category each time
    session.commit()
    report = _sweep(state, session, ctx.now)
    kinds = {c.kind: c for c in report.done}
    assert set(kinds) == {"repeat_caller", "repeat_place"}
    assert {c.order_number for c in kinds.values()} == {orders[-1].number}
    assert all(ORDER["caller"]["phone"] not in c.note and ORDER["caller"]["phone"] not in c.key
               for c in report.done)
    assert _sweep(state, session, ctx.now).done == []
    newest = register(state.ctx(session), actors)  # a fourth: a new breach, answered on the new newest
    session.commit()
    report = _sweep(state, session, ctx.now)
    assert {c.order_number for c in report.done} == {newest.number} and len(report.done) == 2


def test_a_unit_that_returns_much_is_flagged_once_a_week(state, session, actors):
    # A Wednesday morning: the sweep an hour later is in the same ISO week (on a Sunday night it was not).
    ctx = state.ctx(session, now=datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC))
    for i in range(3):
        order = register(ctx, actors, caller={"name": "王五", "phone": f"1370000000{i}"},
                         address=["通州区金沙街道新金路1号", "海门区三星镇", "如东县掘港街道"][i])
        act(ctx, order, Action.DISPATCH, actors["dispatcher"], unit="csgl")
        act(ctx, order, Action.SIGN, actors["staff_csgl"])
        act(ctx, order, Action.RETURN, actors["staff_csgl"], reason="不属本单位", basis="职责清单")
    session.commit()
    report = _sweep(state, session, ctx.now)
    flagged = [c for c in report.done if c.kind == "unit_returns"]
    assert len(flagged) == 1 and flagged[0].data == {"rounds": 3, "returns": 3}
    assert _sweep(state, session, ctx.now + timedelta(hours=1)).done == []
    assert session.execute(select(func.count()).select_from(AuditEvent)
                           .where(AuditEvent.action == "supervision.unit_returns")).scalar() == 1


def test_a_key_taken_by_another_process_is_skipped(state, session, actors):
    order, clock = _dispatched(state, session, actors, "13600000009")
    session.add(SupervisionNotice(key=f"supervise:{clock.id}", kind="supervise", order_id=order.id,
                                  created_at=clock.started_at, note="另一进程已督办"))
    session.commit()
    report = _sweep(state, session, clock.due_at + timedelta(hours=1))
    assert report.done == [] and report.already == 1
    assert session.get(WorkOrder, order.id).supervise_count == 0


def test_cli_dry_run_lists_and_the_real_run_sends(state, session, actors, cli):
    ctx = state.ctx(session)
    for _ in range(3):
        register(ctx, actors)
    session.commit()
    dry = cli("supervise", "sweep", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    assert {d["kind"] for d in json.loads(dry.output)["done"]} == {"repeat_caller", "repeat_place"}
    assert session.execute(select(func.count()).select_from(SupervisionNotice)).scalar() == 0
    real = cli("supervise", "sweep")
    assert real.exit_code == 0 and "重复" in real.output
    session.rollback()
    assert session.execute(select(func.count()).select_from(SupervisionNotice)).scalar() == 2


def test_the_servers_sweeper_runs_the_same_sweep(state, session, actors):
    from civiclink.supervision.service import sweeper

    ctx = state.ctx(session)
    for _ in range(3):
        register(ctx, actors)
    session.commit()
    report = sweeper(state).run_once()
    assert len(report.done) == 2
