"""Calls from their events, and the connection KPIs (docs/cti.md; design §8; R-605, R-606, R-801, R-805).

**Assembly.** A call is rebuilt from all of its events whenever one arrives, so events may come late, twice or
out of order. The wait runs from ``queued`` (or ``offered`` when there is no queue event) to ``answered`` or to
``abandoned``; the talk from ``answered`` to ``hung_up``. A call nobody answered is ``abandoned`` once the caller
hung up (``abandoned``, or ``hung_up`` before any answer); until then it is ``waiting``.

**Redials.** A call is a *redial* when the same number had a call within ``calls.redial_minutes`` (30) before it
that no one answered (a short abandon aside); it is not the caller's first attempt. A call given up within
``calls.short_abandon_seconds`` (5) is a *short abandon*: a misdial or a caller who changed their mind, not a
call that wanted a person.

**KPIs** over calls offered in a period (local days), in total, per hour of the day, per day and per team:
- 接通率 = answered ÷ calls wanting a person (every call but short abandons);
- 一次接通率 = first attempts answered ÷ first attempts (calls wanting a person that are not redials): of the
  callers' contacts, the share answered at the first try (the seed's 97.99 %);
- 15秒接通率 = answered within ``calls.answer_target_seconds`` (15, GB/T 33358) ÷ calls wanting a person — the
  same ratio as an Erlang service level, so that the staffing module's targets and this figure agree;
- 放弃率 = abandoned (not short) ÷ calls wanting a person; 平均应答时长 (ASA) over answered calls; 平均通话时长;
- the worst 24 consecutive hours of the period (GB/T 33358 asks ≥ 95 % in any 24 hours).

**漏接回拨 (R-605).** An abandoned call (not short) from a known number waits for a call-back (``pending``) —
unless the caller got through within ``calls.callback_window_hours`` afterwards, which settles it
(``not_needed``, by the system).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from civiclink.analytics.facts import day_runs, local_midnight
from civiclink.analytics.service import _rate
from civiclink.callcentre import rollup
from civiclink.callcentre.models import Call, CallEvent, CallRollup, CallRollupDay
from civiclink.callcentre.schemas import CallbackRead, CallRead, ConnectionKpisRead, ConnectionRow
from civiclink.context import Ctx
from civiclink.errors import Forbidden, NotFound
from civiclink.orgs.roles import Actor, Role
from civiclink.workorders.service import mask_phone

OUTCOME_LABELS = {"answered": "已接听", "abandoned": "未接通（放弃）", "waiting": "排队中"}
CALLBACK_LABELS = {"pending": "待回拨", "called_back": "已回拨", "unreachable": "未能联系", "not_needed": "无需回拨"}

# Who reads call records: the people on the phones and those who run or watch them.
CALL_READERS = frozenset({Role.OPERATOR, Role.CALLBACK_AGENT, Role.SUPERVISOR, Role.ADMIN, Role.LEADER,
                          Role.POLICE_OPERATOR, Role.POLICE_COMMANDER})
# Who calls missed callers back: operators and 回访员 on the 12345 side, 接警员 on the 110 side.
CALLBACK_ROLES = frozenset({Role.OPERATOR, Role.CALLBACK_AGENT, Role.SUPERVISOR, Role.ADMIN, Role.POLICE_OPERATOR})
# Who posts events: the telephony adapter's account, or an admin (a CSV import).
EVENT_WRITERS = frozenset({Role.CTI, Role.ADMIN})


def require_reader(actor: Actor) -> None:
    if not (actor.is_system or actor.roles & CALL_READERS):
        raise Forbidden("话务记录仅供话务员、回访员、督办员、指挥中心领导和管理员查看")


def require_event_writer(actor: Actor) -> None:
    if not (actor.is_system or actor.roles & EVENT_WRITERS):
        raise Forbidden("只有电话系统接口账号或管理员可以报送话务事件")


# -- assembly ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Judgement:
    """The settings a call is judged by."""

    answer_target_seconds: int
    redial_minutes: int
    short_abandon_seconds: int
    callback_window_hours: int

    @classmethod
    def of(cls, settings) -> Judgement:
        c = settings.calls
        return cls(c.answer_target_seconds, c.redial_minutes, c.short_abandon_seconds, c.callback_window_hours)


def _first(events, kind):
    return next((e for e in events if e.kind == kind), None)


CHUNK = 500  # ids per IN (…) list


def _chunks(items):
    items = sorted(items)
    for i in range(0, len(items), CHUNK):
        yield items[i:i + CHUNK]


def assemble(ctx: Ctx, call_refs: set[str]) -> tuple[list[Call], set[date]]:
    """Rebuild the calls ``call_refs`` from all their events (idempotent): a few queries for the whole set. Returns
    the calls, and the local days they count on now and counted on before (a late ``offered`` event can move a
    call to another day)."""
    from civiclink.incidents.models import Incident
    from civiclink.orgs.models import User
    from civiclink.workorders.models import WorkOrder

    session, tz = ctx.session, ctx.settings.tz
    judge = Judgement.of(ctx.settings)
    events: dict[str, list[CallEvent]] = defaultdict(list)
    calls: dict[str, Call] = {}
    for chunk in _chunks(call_refs):
        for e in session.execute(select(CallEvent).where(CallEvent.call_ref.in_(chunk))
                                 .order_by(CallEvent.at, CallEvent.id)).scalars():
            events[e.call_ref].append(e)
        calls.update({c.call_ref: c for c in session.execute(select(Call).where(Call.call_ref.in_(chunk))).scalars()})
    every = [e for evs in events.values() for e in evs]
    users = _lookup(session, User.id, User.username, {e.agent for e in every if e.agent})
    orders = _lookup(session, WorkOrder.id, WorkOrder.number, {e.order_number for e in every if e.order_number})
    incidents = _lookup(session, Incident.id, Incident.number,
                        {e.incident_number for e in every if e.incident_number})
    out, days = [], set()
    with session.no_autoflush:  # the calls are complete only at the end
        for ref in sorted(events):
            call = calls.get(ref)
            if call is None:
                call = Call(call_ref=ref)
                session.add(call)
            else:
                days.add(call.local_day)
            _fill(call, events[ref], tz, judge, ctx.now)
            days.add(call.local_day)
            call.order_id = orders.get(call.order_number or "")
            call.incident_id = incidents.get(call.incident_number or "")
            call.agent_user_id = users.get(call.agent or "")
            out.append(call)
    session.flush()
    return out, days


def _lookup(session: Session, id_column, key_column, keys: set[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for chunk in _chunks(keys):
        out.update({key: id_ for id_, key in session.execute(select(id_column, key_column)
                                                              .where(key_column.in_(chunk))).all()})
    return out


def _fill(call: Call, events: list[CallEvent], tz, judge: Judgement, now: datetime) -> None:
    """The call as its events tell it (see the module's description)."""
    offered = _first(events, "offered") or events[0]
    queued, answered = _first(events, "queued"), _first(events, "answered")
    gave_up = _first(events, "abandoned")
    hung_up = next((e for e in reversed(events) if e.kind == "hung_up"), None)
    transfer, conference = _first(events, "transferred"), _first(events, "conference_started")
    conference_end = _first(events, "conference_ended")

    def known(attr):  # the first non-empty value any event carried
        return next((getattr(e, attr) for e in events if getattr(e, attr)), None)

    call.line, call.caller = known("line"), known("caller")
    call.offered_at = offered.at
    local = offered.at.astimezone(tz)
    call.local_day, call.local_hour = local.date(), local.hour
    call.local_slot = local.hour * 2 + (local.minute >= 30)
    call.queued_at = queued.at if queued else None
    wait_from = queued.at if queued else offered.at
    if answered is not None:
        call.outcome, call.answered_at = "answered", answered.at
        call.wait_seconds = max(0.0, (answered.at - wait_from).total_seconds())
        call.agent, call.team = answered.agent or known("agent"), answered.team or known("team")
        end = hung_up or transfer
        call.ended_at = end.at if end else None
        call.talk_seconds = max(0.0, (end.at - answered.at).total_seconds()) if end else None
    else:
        end = gave_up or hung_up
        call.outcome = "abandoned" if end else "waiting"
        call.answered_at, call.agent, call.team, call.talk_seconds = None, None, known("team"), None
        call.ended_at = end.at if end else None
        call.wait_seconds = max(0.0, (end.at - wait_from).total_seconds()) if end else None
    call.short_abandon = bool(call.outcome == "abandoned" and call.wait_seconds is not None
                              and call.wait_seconds < judge.short_abandon_seconds)
    call.transferred_to = transfer.target if transfer else None
    call.transferred_at = transfer.at if transfer else None
    call.conference_with = conference.target if conference else None
    call.conference_started_at = conference.at if conference else None
    call.conference_ended_at = conference_end.at if conference_end else None
    call.order_number, call.incident_number = known("order_number"), known("incident_number")
    call.updated_at = now
    if call.redial is None:
        call.redial = False
    if call.outcome == "abandoned" and not call.short_abandon and call.caller and call.callback_state is None:
        call.callback_state = "pending"
    elif call.outcome == "answered" and call.callback_state == "pending":
        call.callback_state = None  # an event that came late: the call was answered after all


def mark_redials_and_settle(ctx: Ctx, callers: set[str], since: datetime, until: datetime) -> set[date]:
    """Recompute ``redial`` for the calls of ``callers`` offered around [since, until], and settle pending
    call-backs of callers who got through afterwards (their calls may have arrived in any order). Returns the
    local days of the calls whose ``redial`` changed (their KPIs did)."""
    judge = Judgement.of(ctx.settings)
    window = timedelta(minutes=judge.redial_minutes)
    settle = timedelta(hours=judge.callback_window_hours)
    reach = max(window, settle)
    session = ctx.session
    by_caller: dict[str, list[Call]] = defaultdict(list)
    for chunk in _chunks(callers):
        for call in session.execute(select(Call).where(
                Call.caller.in_(chunk), Call.offered_at >= since - reach, Call.offered_at <= until + reach)
                .order_by(Call.offered_at, Call.id)).scalars():
            by_caller[call.caller].append(call)
    changed: set[date] = set()
    for calls in by_caller.values():
        for i, call in enumerate(calls):
            earlier = (p for p in reversed(calls[:i]) if call.offered_at - p.offered_at <= window)
            redial = any(p.outcome != "answered" and not p.short_abandon for p in earlier)
            if call.redial != redial:
                call.redial = redial
                changed.add(call.local_day)
            if call.callback_state == "pending" and any(
                    later.outcome == "answered" and call.offered_at < later.offered_at <= call.offered_at + settle
                    for later in calls[i + 1:]):
                call.callback_state, call.callback_at = "not_needed", ctx.now
                call.callback_by, call.callback_note = "system", "来电人此后已再次接通"
    session.flush()
    return changed


# -- reading -------------------------------------------------------------------------------------------------------


def call_read(call: Call, actor: Actor) -> CallRead:
    # The number in clear only for those who talk to callers (R-507), as for a 工单's caller.
    sees = actor.sees_pii(confidential=False)
    callback = None
    if call.callback_state:
        callback = CallbackRead(state=call.callback_state, state_label=CALLBACK_LABELS[call.callback_state],
                                at=call.callback_at, by=call.callback_by, note=call.callback_note)
    return CallRead(
        id=call.id, call_id=call.call_ref, version=call.version, line=call.line,
        caller=call.caller if sees else mask_phone(call.caller), offered_at=call.offered_at,
        answered_at=call.answered_at, ended_at=call.ended_at, outcome=call.outcome,
        outcome_label=OUTCOME_LABELS[call.outcome], wait_seconds=call.wait_seconds, talk_seconds=call.talk_seconds,
        short_abandon=call.short_abandon, redial=call.redial, agent=call.agent, team=call.team,
        transferred_to=call.transferred_to, conference_with=call.conference_with, order=call.order_number,
        incident=call.incident_number, callback=callback)


def get_call(session: Session, call_id: int) -> Call:
    call = session.get(Call, call_id)
    if call is None:
        raise NotFound("没有这通电话的记录")
    return call


def list_calls(session: Session, *, start: datetime, end: datetime, outcome: str | None = None,
               missed: bool = False, limit: int = 50, offset: int = 0) -> tuple[int, list[Call]]:
    """Calls offered in [start, end), newest first; ``missed``: those waiting for a call-back (oldest first)."""
    where = [Call.offered_at >= start, Call.offered_at < end]
    if outcome:
        where.append(Call.outcome == outcome)
    if missed:
        where.append(Call.callback_state == "pending")
    total = session.execute(select(func.count()).select_from(Call).where(*where)).scalar_one()
    order = Call.offered_at.asc() if missed else Call.offered_at.desc()
    rows = session.execute(select(Call).where(*where).order_by(order, Call.id).limit(limit).offset(offset))
    return total, list(rows.scalars())


# -- KPIs ----------------------------------------------------------------------------------------------------------


def _row(key, label, v) -> ConnectionRow:
    offered, answered, in_target, abandoned, short, contacts, first, wait, talk, talked = v
    return ConnectionRow(
        key=key, label=label, offered=offered, answered=answered, answered_in_target=in_target,
        abandoned=abandoned, short_abandons=short, contacts=contacts, first_attempt_answered=first,
        connection_rate=_rate(answered, offered), first_attempt_rate=_rate(first, contacts),
        target_rate=_rate(in_target, offered), abandonment_rate=_rate(abandoned, offered),
        average_answer_seconds=round(wait / answered, 1) if answered else None,
        average_talk_seconds=round(talk / talked, 1) if talked else None)


def sums(judge: Judgement):
    """The sums every connection KPI is made of, over a set of calls (``_row`` turns them into rates); the call
    roll-up keeps them per day, hour and 班组 (``callcentre.rollup``)."""
    wanting = Call.short_abandon.is_(False)
    answered = Call.outcome == "answered"

    def count(cond):
        return func.sum(case((cond, 1), else_=0))

    return [
        count(wanting), count(answered),
        count(and_(answered, Call.wait_seconds <= judge.answer_target_seconds)),
        count(and_(Call.outcome == "abandoned", wanting)), count(Call.short_abandon.is_(True)),
        count(and_(wanting, Call.redial.is_(False))), count(and_(answered, Call.redial.is_(False))),
        func.sum(case((answered, Call.wait_seconds), else_=0.0)),
        func.sum(case((and_(answered, Call.talk_seconds.is_not(None)), Call.talk_seconds), else_=0.0)),
        count(and_(answered, Call.talk_seconds.is_not(None))),
    ]


def _values(row) -> list:
    return [int(v or 0) if i not in (7, 8) else float(v or 0.0) for i, v in enumerate(row)]


def _zero() -> list:
    return [0] * 7 + [0.0, 0.0, 0]


def _add(into: list, values: list) -> None:
    for i, v in enumerate(values):
        into[i] += v


def _hourly_and_teams(session: Session, judge: Judgement, days: list[date]):
    """The sums of the calls offered on ``days`` per (day, hour) and per team: built days from the roll-up
    (``callcentre.rollup``), the others (today, a day changed since) from the calls — two queries each."""
    hourly: dict[tuple[date, int], list] = defaultdict(_zero)
    by_team: dict[str, list] = defaultdict(_zero)
    built = rollup.built_days(session, days[0], days[-1], judge.answer_target_seconds)
    live = [d for d in days if d not in built]
    sources = []
    if built:
        columns = [func.sum(getattr(CallRollup, name)) for name in rollup.SUMS]
        sources.append((CallRollup.day, CallRollup.hour, CallRollup.team, columns,
                        or_(*[CallRollup.day.between(a, b) for a, b in day_runs(built)])))
    if live:
        sources.append((Call.local_day, Call.local_hour, func.coalesce(Call.team, ""), sums(judge),
                        or_(*[Call.local_day.between(a, b) for a, b in day_runs(live)])))
    for day_column, hour_column, team_column, columns, where in sources:
        for day, hour, *rest in session.execute(select(day_column, hour_column, *columns).where(where)
                                                .group_by(day_column, hour_column)):
            _add(hourly[(day, hour)], _values(rest))
        for team, *rest in session.execute(select(team_column, *columns).where(where).group_by(team_column)):
            _add(by_team[team or ""], _values(rest))
    return hourly, by_team


def connection_kpis(ctx: Ctx, first: date, last: date) -> ConnectionKpisRead:
    """The connection KPIs of calls offered on local days ``first``..``last`` (see the module's definitions): per
    day and hour (at most 24 rows a day) and per team, added up here."""
    session, judge = ctx.session, Judgement.of(ctx.settings)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    total, by_hour, by_day = _zero(), defaultdict(_zero), defaultdict(_zero)
    hourly, by_team = _hourly_and_teams(session, judge, days)
    for (day, hour), values in hourly.items():
        for into in (total, by_hour[hour], by_day[day]):
            _add(into, values)
    return ConnectionKpisRead(
        start=first, end=last, answer_target_seconds=judge.answer_target_seconds,
        redial_minutes=judge.redial_minutes, short_abandon_seconds=judge.short_abandon_seconds,
        total=_row(None, "合计", total),
        by_hour=[_row(str(h), f"{h:02d}:00", by_hour.get(h, _zero())) for h in range(24)],
        by_day=[_row(d.isoformat(), f"{d.month}月{d.day}日", by_day.get(d, _zero())) for d in days],
        by_team=[_row(team or None, f"{team}班" if team else "未分班组", by_team[team]) for team in sorted(by_team)
                 if by_team[team][0] or by_team[team][4]],
        worst_24h=_worst_24h(hourly, days))


def _worst_24h(hourly: dict, days: list[date]) -> ConnectionRow | None:
    """The 24 consecutive local hours of the period with the lowest 接通率 (among those with calls)."""
    hours = [(d, h) for d in days for h in range(24)]
    if len(hours) < 24:
        return None
    empty, window = _zero(), _zero()
    worst = None
    for i, key in enumerate(hours):
        window = [a + b for a, b in zip(window, hourly.get(key, empty), strict=True)]
        if i >= 24:
            window = [a - b for a, b in zip(window, hourly.get(hours[i - 24], empty), strict=True)]
        if i >= 23 and window[0]:
            rate = window[1] / window[0]
            if worst is None or rate < worst[0]:
                day, hour = hours[i - 23]
                worst = (rate, f"{day.isoformat()}T{hour:02d}", f"{day.month}月{day.day}日 {hour:02d}:00 起24小时",
                         list(window))
    return _row(worst[1], worst[2], worst[3]) if worst else None


def first_attempt_rate(session: Session, start: datetime, end: datetime, tz=None) -> tuple[int, int]:
    """(first attempts answered, first attempts) of calls offered in [start, end): 一次接通率's parts. With the
    site's ``tz``, the whole local days inside that are rolled up are read from the roll-up (first attempts do not
    depend on the answer target, so any built day will do), the rest from the calls."""
    spans, built = [(start, end)], []
    if tz is not None:
        first = start.astimezone(tz).date()
        if local_midnight(first, tz) < start:
            first += timedelta(days=1)
        after = end.astimezone(tz).date()  # the days before it end by ``end``
        if first < after:
            built = sorted(session.execute(select(CallRollupDay.day).where(
                CallRollupDay.day >= first, CallRollupDay.day < after)).scalars())
        spans, cursor = [], start
        for a, b in day_runs(built):
            if cursor < local_midnight(a, tz):
                spans.append((cursor, local_midnight(a, tz)))
            cursor = local_midnight(b + timedelta(days=1), tz)
        if cursor < end:
            spans.append((cursor, end))
    n = d = 0
    if built:
        row = session.execute(select(func.sum(CallRollup.first), func.sum(CallRollup.contacts)).where(
            or_(*[CallRollup.day.between(a, b) for a, b in day_runs(built)]))).one()
        n, d = int(row[0] or 0), int(row[1] or 0)
    if spans:
        row = session.execute(select(
            func.sum(case((and_(Call.outcome == "answered", Call.redial.is_(False)), 1), else_=0)),
            func.sum(case((and_(Call.short_abandon.is_(False), Call.redial.is_(False)), 1), else_=0)),
        ).where(or_(*[and_(Call.offered_at >= a, Call.offered_at < b) for a, b in spans]))).one()
        n, d = n + int(row[0] or 0), d + int(row[1] or 0)
    return n, d


def has_calls(session: Session) -> bool:
    return session.execute(select(Call.id).limit(1)).first() is not None
