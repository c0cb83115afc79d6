"""The 工单 lifecycle through the actions: every step of design §4, and what each refuses."""

from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from tests.helpers import act, register, to_awaiting_callback, to_signed

from civiclink.audit.models import AuditEvent
from civiclink.audit.service import verify_chain
from civiclink.errors import Forbidden, Invalid, InvalidTransition, StaleVersion
from civiclink.workorders.models import Assignment, Callback, Extension, Reply, Supervision
from civiclink.workorders.states import Action, State


def test_register_gives_number_owner_and_deadlines(ctx, actors):
    order = register(ctx, actors)
    day = ctx.calendar.local_date(ctx.now)
    assert order.number == f"NT{day:%Y%m%d}-000001"
    assert order.state == State.AWAITING_DISPATCH
    assert ctx.directory.unit(order.owner_unit_id).code == "12345"
    assert ctx.directory.unit(order.suggested_unit_id).code == "csgl"  # 派单目录: 市政 → 城管
    assert ctx.directory.unit(order.place_id).name == "和平桥街道"
    second = register(ctx, actors)
    assert second.number.endswith("-000002")


def test_full_path_to_closed_with_history(ctx, actors, session):
    order = to_awaiting_callback(ctx, actors)
    act(ctx, order, Action.CALLBACK, actors["callback"], satisfaction=2, resolved=True)
    assert order.state == State.CLOSED and order.closed_at is not None
    session.commit()
    events = session.execute(select(AuditEvent).where(AuditEvent.entity_id == order.id,
                                                       AuditEvent.entity_type == "work_order")
                             .order_by(AuditEvent.seq)).scalars().all()
    assert [e.action for e in events] == [
        "order.registered", "order.dispatch", "order.sign", "order.reply", "order.approve_reply", "order.callback",
    ]
    assert events[-1].to_state == "closed"
    assert verify_chain(session).ok


def test_return_requires_reason_and_basis_and_redispatch(ctx, actors):
    order = register(ctx, actors)
    act(ctx, order, Action.DISPATCH, actors["dispatcher"], unit="zjj")
    with pytest.raises(ValidationError):
        act(ctx, order, Action.RETURN, actors["staff_zjj"], reason="不是我们的")  # basis missing → 422 in the API
    act(ctx, order, Action.RETURN, actors["staff_zjj"], reason="不属于本单位职责", basis="三定方案第三条")
    assert order.state == State.RETURN_REQUESTED and order.return_count == 1
    act(ctx, order, Action.DISPATCH, actors["dispatcher"], unit="csgl")
    assert order.state == State.DISPATCHED and order.dispatch_round == 2
    rounds = ctx.session.execute(select(Assignment).where(Assignment.order_id == order.id)
                                 .order_by(Assignment.round)).scalars().all()
    assert rounds[0].return_decision == "redispatched" and rounds[0].return_basis == "三定方案第三条"
    assert ctx.directory.unit(rounds[1].unit_id).code == "csgl"


def test_rejected_return_goes_back_to_where_it_was(ctx, actors):
    order = to_signed(ctx, actors)
    act(ctx, order, Action.RETURN, actors["staff_csgl"], reason="非本单位职责", basis="权责清单")
    act(ctx, order, Action.REJECT_RETURN, actors["supervisor"], reason="属于城管职责")
    assert order.state == State.SIGNED
    assert ctx.directory.unit(order.owner_unit_id).code == "csgl"


def test_return_after_window_is_refused(ctx, actors):
    order = to_signed(ctx, actors)
    later = ctx.at(ctx.now + timedelta(days=10))
    with pytest.raises(InvalidTransition, match="R-612"):
        act(later, order, Action.RETURN, actors["staff_csgl"], reason="非本单位职责", basis="权责清单")


def test_extension_before_deadline_extends_the_clock(ctx, actors):
    order = to_signed(ctx, actors)
    from civiclink.sla.models import StageClock

    handle = ctx.session.execute(select(StageClock).where(StageClock.order_id == order.id,
                                                           StageClock.stage == "handle")).scalar_one()
    due_before = handle.due_at
    act(ctx, order, Action.REQUEST_EXTENSION, actors["staff_csgl"], extra="5wd", reason="需协调", basis="规定")
    act(ctx, order, Action.APPROVE_EXTENSION, actors["dispatcher"])
    assert order.state == State.IN_PROGRESS and order.extension_count == 1
    ctx.session.refresh(handle)
    assert ctx.calendar.workdays_between(ctx.calendar.local_date(due_before - timedelta(seconds=1)),
                                         ctx.calendar.local_date(handle.due_at - timedelta(seconds=1))) == 5
    ext = ctx.session.execute(select(Extension).where(Extension.order_id == order.id)).scalar_one()
    assert ext.decision == "approved"


def test_extension_after_deadline_is_refused(ctx, actors):
    order = to_signed(ctx, actors)
    late = ctx.at(ctx.now + timedelta(days=60))
    with pytest.raises(InvalidTransition, match="R-609"):
        act(late, order, Action.REQUEST_EXTENSION, actors["staff_csgl"], extra="5wd", reason="r", basis="b")


def test_unsatisfied_callback_then_reopen_then_close(ctx, actors):
    order = to_awaiting_callback(ctx, actors)
    with pytest.raises(InvalidTransition, match="R-611"):
        act(ctx, order, Action.REOPEN, actors["callback"], reason="还没回访")
    act(ctx, order, Action.CALLBACK, actors["callback"], satisfaction=5, resolved=False, note="没修好")
    assert order.state == State.AWAITING_CALLBACK
    act(ctx, order, Action.REOPEN, actors["callback"], reason="回访不满意")
    assert order.state == State.REOPENED and order.reopen_count == 1 and order.dispatch_round == 2
    act(ctx, order, Action.SIGN, actors["staff_csgl"])
    act(ctx, order, Action.REPLY, actors["staff_csgl"], content="已再次维修")
    act(ctx, order, Action.APPROVE_REPLY, actors["dispatcher"])
    act(ctx, order, Action.CALLBACK, actors["callback"], satisfaction=1)
    assert order.state == State.CLOSED
    assert len(ctx.session.execute(select(Callback).where(Callback.order_id == order.id)).all()) == 2
    assert len(ctx.session.execute(select(Reply).where(Reply.order_id == order.id)).all()) == 2


def test_close_needs_a_callback_attempt(ctx, actors):
    order = to_awaiting_callback(ctx, actors)
    with pytest.raises(InvalidTransition, match="回访"):
        act(ctx, order, Action.CLOSE, actors["callback"], reason="结束")
    act(ctx, order, Action.CALLBACK, actors["callback"], reached=False, note="无人接听")
    act(ctx, order, Action.CLOSE, actors["callback"], reason="多次联系未果")
    assert order.state == State.CLOSED and order.close_reason == "多次联系未果"


def test_rejected_reply_goes_back_to_the_unit(ctx, actors):
    order = to_signed(ctx, actors)
    act(ctx, order, Action.REPLY, actors["staff_csgl"], content="已收悉")
    act(ctx, order, Action.REJECT_REPLY, actors["dispatcher"], reason="未说明办理结果")
    assert order.state == State.IN_PROGRESS
    assert ctx.directory.unit(order.owner_unit_id).code == "csgl"


def test_close_at_intake_only_for_consultations(ctx, actors):
    with pytest.raises(Invalid):
        register(ctx, actors, intake_answer="答复")
    order = register(ctx, actors, request_type="consultation", intake_answer="可在政务服务网办理。")
    assert order.state == State.CLOSED_AT_INTAKE and order.intake_answer
    draft = register(ctx, actors, request_type="consultation", submit=False)
    assert draft.state == State.REGISTERED
    act(ctx, draft, Action.CLOSE_AT_INTAKE, actors["operator"], answer="已当场答复")
    assert draft.state == State.CLOSED_AT_INTAKE


def test_merge_into_main_order(ctx, actors):
    main = register(ctx, actors)
    dup = register(ctx, actors)
    act(ctx, dup, Action.MERGE, actors["dispatcher"], into=main.number)
    assert dup.state == State.MERGED and dup.merged_into_id == main.id and main.duplicate_count == 1
    with pytest.raises(Invalid):
        act(ctx, main, Action.MERGE, actors["dispatcher"], into=main.number)


def test_urge_and_supervise_any_open_order(ctx, actors):
    order = to_signed(ctx, actors)
    act(ctx, order, Action.URGE, actors["dispatcher"], note="请加快")
    act(ctx, order, Action.SUPERVISE, actors["supervisor"], note="督办")
    assert order.urge_count == 1 and order.supervise_count == 1 and order.supervised
    assert order.state == State.SIGNED
    kinds = ctx.session.execute(select(Supervision.kind).where(Supervision.order_id == order.id)).scalars().all()
    assert sorted(kinds) == ["supervise", "urge"]
    with pytest.raises(Forbidden):
        act(ctx, order, Action.SUPERVISE, actors["dispatcher"], note="派单员不能督办")


def test_refusals_wrong_role_wrong_unit_wrong_state_stale_version(ctx, actors):
    order = register(ctx, actors)
    with pytest.raises(Forbidden):
        act(ctx, order, Action.DISPATCH, actors["operator"], unit="csgl")
    act(ctx, order, Action.DISPATCH, actors["dispatcher"], unit="csgl")
    with pytest.raises(Forbidden, match="不在您单位"):
        act(ctx, order, Action.SIGN, actors["staff_zjj"])
    with pytest.raises(InvalidTransition):
        act(ctx, order, Action.REPLY, actors["staff_csgl"], content="x")  # not signed yet
    with pytest.raises(StaleVersion):
        act(ctx, order, Action.SIGN, actors["staff_csgl"], version=order.version - 1)


def test_department_matter_is_not_pushed_down_to_grassroots(ctx, actors):
    order = register(ctx, actors)  # 市政 belongs to 城管
    with pytest.raises(Invalid, match="R-603"):
        act(ctx, order, Action.DISPATCH, actors["dispatcher"], unit="chongchuan.hepingqiao")


def test_local_matter_goes_to_the_district(ctx, actors):
    order = register(ctx, actors, category="cxjs.wygl", title="物业不作为", content="小区物业不管事")
    assert ctx.directory.unit(order.suggested_unit_id).code == "320613"
