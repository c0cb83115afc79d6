"""Stage clocks: deadlines on the working-day axis around 春节, yellow and red, pause/resume, stop/restart,
extensions, hour-based limits and provisional deadlines; then the yellow/red list (warnings) of real orders
through the service, the API and the CLI, and who sees which orders in it."""

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.helpers import act, register
from typer.testing import CliRunner

from civiclink.cli import app as cli_app
from civiclink.config import Limit
from civiclink.orgs.roles import SYSTEM
from civiclink.sla import clocks
from civiclink.sla.calendar import WorkCalendar
from civiclink.workorders.service import warnings
from civiclink.workorders.states import Action

TZ = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar.official(TZ)
HOUR = 3600
DAY = 86400


def local(*args) -> datetime:
    return datetime(*args, tzinfo=TZ)


def start(limit: str, now: datetime, *, cal: WorkCalendar = CAL, share: float = 0.75):
    return clocks.start_clock(order=None, stage="handle", round=1, limit=Limit.parse(limit), now=now,
                              calendar=cal, yellow_share=share)


def status(clock, now, cal: WorkCalendar = CAL):
    return clocks.status(clock, now=now, calendar=cal)


# -- working-day clocks --------------------------------------------------------------------------------------


def test_one_workday_clock_started_before_spring_festival():
    """Friday 2023-01-20 10:00: the day itself does not count, 1-21..1-27 are off, Sat 1-28 is the one day."""
    c = start("1wd", local(2023, 1, 20, 10))
    assert (c.calendar, c.budget_seconds, c.limit_label) == ("working", DAY, "1wd")
    assert c.effective_start == local(2023, 1, 21)
    assert c.due_at == local(2023, 1, 29)
    assert c.warn_at == local(2023, 1, 28, 18)
    assert c.provisional is False
    during_holiday = status(c, local(2023, 1, 27, 23, 59))
    assert during_holiday.color == "green" and during_holiday.used_share == 0.0


def test_two_workday_clock_ends_after_the_sunday_make_up_day():
    assert start("2wd", local(2023, 1, 20, 10)).due_at == local(2023, 1, 30)
    assert start("2wd", local(2024, 2, 8, 17)).due_at == local(2024, 2, 19)  # 2-09, then Sun 2-18
    assert start("1wd", local(2026, 9, 30, 9)).due_at == local(2026, 10, 9)  # the 8th, after 国庆


def test_yellow_at_three_quarters_of_the_working_time():
    # 5wd from Thu 2023-09-28: 10-07, 10-08 (make-up weekend), 10-09, 10-10, 10-11 → due 10-12 00:00;
    # 3.75 working days in → 10-10 18:00.
    c = start("5wd", local(2023, 9, 28, 10))
    assert c.due_at == local(2023, 10, 12) and c.warn_at == local(2023, 10, 10, 18)
    assert status(c, local(2023, 10, 10, 17, 59, 59)).color == "green"
    at_warn = status(c, local(2023, 10, 10, 18))
    assert at_warn.color == "yellow" and at_warn.used_share == 0.75 and not at_warn.breached
    # The share is a setting.
    assert start("5wd", local(2023, 9, 28, 10), share=0.6).warn_at == local(2023, 10, 10)


def test_red_just_after_due():
    """The deadline is the last moment that is still on time (stop() agrees: done at due is not breached)."""
    c = start("1wd", local(2023, 1, 20, 10))
    at_due = status(c, c.due_at)
    assert at_due.color == "yellow" and not at_due.breached and at_due.used_share == 1.0
    after = status(c, c.due_at + timedelta(seconds=1))
    assert after.color == "red" and after.breached
    assert status(c, local(2023, 2, 15)).color == "red"


def test_pause_on_a_workday_moves_due_by_the_pause():
    c = start("5wd", local(2023, 1, 19, 10))  # 1-20, 1-28, 1-29, 1-30, 1-31 → due 2-01 00:00
    assert c.due_at == local(2023, 2, 1) and c.warn_at == local(2023, 1, 30, 18)
    clocks.pause(c, now=local(2023, 1, 30, 9), reason="等群众补材料")
    assert c.due_at is None and c.warn_at is None
    paused = status(c, local(2023, 1, 30, 10))
    assert paused.color == "paused" and paused.paused
    assert paused.used_share == round((3 * DAY + 9 * HOUR) / (5 * DAY), 4)
    assert status(c, local(2023, 3, 1)).used_share == paused.used_share  # frozen while paused
    added = clocks.resume(c, now=local(2023, 1, 30, 12, 30), calendar=CAL, yellow_share=0.75)
    assert added == 3 * HOUR + 30 * 60 and c.paused_seconds == added
    assert c.due_at == local(2023, 2, 1, 3, 30) and c.warn_at == local(2023, 1, 30, 21, 30)
    assert status(c, local(2023, 1, 30, 12, 30)).color == "green"


def test_pause_across_the_holiday_moves_due_by_the_working_part_only():
    c = start("5wd", local(2023, 1, 19, 10))
    clocks.pause(c, now=local(2023, 1, 20, 16), reason="约定上门时间")
    # 8 h of Friday 1-20 + 10 h of the make-up Saturday 1-28; the seven holidays in between do not count.
    added = clocks.resume(c, now=local(2023, 1, 28, 10), calendar=CAL, yellow_share=0.75)
    assert added == 18 * HOUR
    assert c.due_at == local(2023, 2, 1, 18)
    assert c.warn_at == local(2023, 1, 31, 12)


def test_pause_entirely_inside_the_holiday_changes_nothing():
    c = start("5wd", local(2023, 1, 19, 10))
    clocks.pause(c, now=local(2023, 1, 22, 9), reason="x")
    assert clocks.resume(c, now=local(2023, 1, 27, 23), calendar=CAL, yellow_share=0.75) == 0
    assert c.due_at == local(2023, 2, 1) and c.warn_at == local(2023, 1, 30, 18)


def test_pause_on_the_start_day_does_not_count():
    """Before the clock starts counting (the rest of the start day) there is nothing to add back."""
    c = start("1wd", local(2023, 1, 20, 10))
    clocks.pause(c, now=local(2023, 1, 20, 11), reason="x")
    assert clocks.resume(c, now=local(2023, 1, 28, 6), calendar=CAL, yellow_share=0.75) == 6 * HOUR
    assert c.due_at == local(2023, 1, 29, 6)


pause_moments = st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2025, 12, 1),
                             timezones=st.just(TZ)).map(lambda d: d.replace(microsecond=0))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(started=pause_moments, after=st.integers(0, 8 * DAY), length=st.integers(0, 12 * DAY))
def test_pause_moves_due_by_exactly_the_paused_working_time(started, after, length):
    c = start("5wd", started)
    old_due = c.due_at
    p0, p1 = started + timedelta(seconds=after), started + timedelta(seconds=after + length)
    clocks.pause(c, now=p0, reason="x")
    added = clocks.resume(c, now=p1, calendar=CAL, yellow_share=0.75)
    assert added == CAL.working_seconds(max(p0, c.effective_start), p1)[0]
    assert c.due_at >= old_due
    assert CAL.working_seconds(old_due, c.due_at)[0] == added


def test_stop_records_breached_or_not():
    on_time = start("1wd", local(2023, 1, 20, 10))
    clocks.stop(on_time, now=local(2023, 1, 28, 23), reason="signed", calendar=CAL)
    assert not on_time.breached and on_time.due_at == local(2023, 1, 29) and on_time.warn_at is None
    assert on_time.stopped_at == local(2023, 1, 28, 23) and on_time.stop_reason == "signed"
    done = status(on_time, local(2023, 2, 10))
    assert done.color == "done" and not done.breached and done.used_share == round(23 / 24, 4)
    # A second stop changes nothing.
    clocks.stop(on_time, now=local(2023, 2, 10), reason="again", calendar=CAL)
    assert on_time.stopped_at == local(2023, 1, 28, 23) and not on_time.breached

    late = start("1wd", local(2023, 1, 20, 10))
    clocks.stop(late, now=local(2023, 1, 29, 0, 0, 1), reason="signed", calendar=CAL)
    assert late.breached and status(late, local(2023, 2, 10)).breached
    assert status(late, local(2023, 2, 10)).color == "done"


def test_stop_while_paused_counts_the_pause():
    c = start("1wd", local(2023, 1, 20, 10))
    clocks.pause(c, now=local(2023, 1, 28, 12), reason="x")
    # Past the original deadline on the wall clock, but 46 working hours of it were paused.
    clocks.stop(c, now=local(2023, 1, 30, 10), reason="replied", calendar=CAL)
    assert c.paused_since is None and c.paused_seconds == 46 * HOUR
    assert not c.breached and c.due_at == local(2023, 1, 30, 22)
    assert status(c, local(2023, 1, 30, 10)).used_share == 0.5


def test_restart_excludes_the_stopped_span():
    c = start("1wd", local(2023, 1, 20, 10))
    clocks.stop(c, now=local(2023, 1, 28, 6), reason="returned", calendar=CAL)
    clocks.restart(c, now=local(2023, 1, 29, 6), calendar=CAL, yellow_share=0.75)
    assert c.stopped_at is None and c.stop_reason is None and not c.breached
    assert c.paused_seconds == DAY  # 18 h of 1-28 and 6 h of 1-29
    assert c.due_at == local(2023, 1, 30) and c.warn_at == local(2023, 1, 29, 18)
    now = status(c, local(2023, 1, 29, 6))
    assert now.color == "green" and now.used_share == 0.25


def test_extend_adds_to_the_allowance():
    c = start("1wd", local(2023, 1, 20, 10))
    clocks.extend(c, limit=Limit.parse("1wd"), calendar=CAL, yellow_share=0.75)
    assert c.extended_seconds == DAY
    assert c.due_at == local(2023, 1, 30) and c.warn_at == local(2023, 1, 29, 12)
    clocks.extend(c, limit=Limit.parse("2wd"), calendar=CAL, yellow_share=0.75)
    assert c.due_at == local(2023, 2, 1)
    assert status(c, local(2023, 1, 30)).used_share == 0.5


# -- hour-based clocks ---------------------------------------------------------------------------------------


def test_hour_clocks_use_the_wall_clock_even_on_holidays():
    c = start("2h", local(2023, 1, 21, 10))  # 春节 Saturday
    assert c.calendar == "natural" and c.effective_start == local(2023, 1, 21, 10)
    assert c.due_at == local(2023, 1, 21, 12) and c.warn_at == local(2023, 1, 21, 11, 30)
    assert status(c, local(2023, 1, 21, 11, 29, 59)).color == "green"
    assert status(c, local(2023, 1, 21, 11, 30)).color == "yellow"
    assert status(c, local(2023, 1, 21, 12, 0, 1)).color == "red"

    short = start("30min", local(2023, 1, 20, 23, 50))  # runs past midnight into the holiday
    assert short.due_at == local(2023, 1, 21, 0, 20) and short.warn_at == local(2023, 1, 21, 0, 12, 30)


def test_hour_clock_pause_and_extension():
    c = start("2h", local(2023, 1, 21, 10))
    clocks.pause(c, now=local(2023, 1, 21, 10, 30), reason="x")
    assert clocks.resume(c, now=local(2023, 1, 21, 10, 40), calendar=CAL, yellow_share=0.75) == 600
    assert c.due_at == local(2023, 1, 21, 12, 10)
    clocks.extend(c, limit=Limit.parse("30min"), calendar=CAL, yellow_share=0.75)
    assert c.due_at == local(2023, 1, 21, 12, 40)
    clocks.extend(c, limit=Limit.parse("1wd"), calendar=CAL, yellow_share=0.75)  # 24 h on an hour clock
    assert c.due_at == local(2023, 1, 22, 12, 40)


# -- provisional deadlines -----------------------------------------------------------------------------------


def test_clock_with_deadline_in_2027_is_provisional():
    c = start("10wd", local(2026, 12, 25, 10))
    # Weekends-only fallback for 2027: 12-28..12-31, 2027-01-01, 01-04..01-08 → due 01-09 00:00.
    assert c.provisional is True and c.due_at == local(2027, 1, 9)
    assert status(c, local(2026, 12, 26)).provisional is True
    inside_2026 = start("1wd", local(2026, 12, 29, 10))
    assert inside_2026.due_at == local(2026, 12, 31) and inside_2026.provisional is False
    assert start("2h", local(2027, 3, 1, 10)).provisional is False  # the wall clock needs no calendar

    published = WorkCalendar.official(TZ, {2027: {date(2027, 1, 1): (False, "测试用假日（非官方）")}})
    c = start("10wd", local(2026, 12, 25, 10), cal=published)
    assert c.provisional is False and c.due_at == local(2027, 1, 12)


# -- integration: the yellow/red list ------------------------------------------------------------------------

FRIDAY = local(2023, 1, 20, 10)  # the last workday before 春节 2023


def rows(ctx, moment, actor=SYSTEM, **filters):
    return [(r.number, r.stage, r.color) for r in warnings(ctx.at(moment), actor, **filters)]


def test_dispatch_clock_goes_yellow_then_red_then_leaves_the_list(ctx, actors):
    order = register(ctx.at(FRIDAY), actors)  # a complaint: 派单 1wd, 办理 15wd
    n = order.number
    assert rows(ctx, local(2023, 1, 28, 17, 59, 59)) == []
    assert rows(ctx, local(2023, 1, 28, 18)) == [(n, "dispatch", "yellow")]
    assert rows(ctx, local(2023, 1, 28, 18), color="yellow") == [(n, "dispatch", "yellow")]
    assert rows(ctx, local(2023, 1, 28, 18), color="red") == []
    [row] = warnings(ctx.at(local(2023, 1, 28, 18)), SYSTEM)
    assert row.due_at == local(2023, 1, 29) and row.overdue_hours == -6.0 and row.stage_label == "派单"

    assert rows(ctx, local(2023, 1, 29, 0, 0, 1)) == [(n, "dispatch", "red")]
    assert rows(ctx, local(2023, 1, 29, 2), color="red") == [(n, "dispatch", "red")]
    assert rows(ctx, local(2023, 1, 29, 2), color="yellow") == []
    assert rows(ctx, local(2023, 1, 29, 2), stage="handle") == []
    assert warnings(ctx.at(local(2023, 1, 29, 2)), SYSTEM)[0].overdue_hours == 2.0

    act(ctx.at(local(2023, 1, 29, 9)), order, Action.DISPATCH, actors["dispatcher"], unit="csgl")
    assert rows(ctx, local(2023, 1, 29, 10)) == []  # 派单 done; the new 签收 clock is green
    assert rows(ctx, local(2023, 1, 30, 18)) == [(n, "sign", "yellow")]  # Sun 1-29 did not count


def test_emergency_order_on_a_holiday_uses_the_wall_clock(ctx, actors):
    order = register(ctx.at(local(2023, 1, 21, 10)), actors, urgency="emergency")  # 派单 30min, 办理 2h
    n = order.number
    assert rows(ctx, local(2023, 1, 21, 10, 22)) == []
    assert rows(ctx, local(2023, 1, 21, 10, 22, 30)) == [(n, "dispatch", "yellow")]
    assert rows(ctx, local(2023, 1, 21, 10, 30, 1)) == [(n, "dispatch", "red")]
    assert rows(ctx, local(2023, 1, 21, 11, 30)) == [(n, "dispatch", "red"), (n, "handle", "yellow")]
    assert rows(ctx, local(2023, 1, 21, 11, 30), stage="handle") == [(n, "handle", "yellow")]
    assert rows(ctx, local(2023, 1, 21, 12, 0, 1)) == [(n, "dispatch", "red"), (n, "handle", "red")]


def test_paused_and_finished_clocks_leave_the_list(ctx, actors):
    order = register(ctx.at(FRIDAY), actors, request_type="consultation")  # 办理 2wd: 1-28 and 1-29
    act(ctx.at(FRIDAY), order, Action.DISPATCH, actors["dispatcher"], unit="csgl")
    act(ctx.at(FRIDAY), order, Action.SIGN, actors["staff_csgl"])
    n = order.number
    assert rows(ctx, local(2023, 1, 29, 11, 59)) == []
    assert rows(ctx, local(2023, 1, 29, 12)) == [(n, "handle", "yellow")]

    act(ctx.at(local(2023, 1, 29, 13)), order, Action.PAUSE, actors["staff_csgl"], reason="等群众补充材料")
    assert rows(ctx, local(2023, 1, 29, 13)) == []
    assert rows(ctx, local(2023, 2, 20)) == []  # long past the old deadline, but paused

    # 11 h of Sun 1-29 and 9 h of Mon 1-30 were paused: due moves from 1-30 00:00 to 1-30 20:00.
    act(ctx.at(local(2023, 1, 30, 9)), order, Action.RESUME, actors["staff_csgl"])
    assert rows(ctx, local(2023, 1, 30, 9)) == [(n, "handle", "yellow")]
    assert rows(ctx, local(2023, 1, 30, 19, 59, 59), color="red") == []
    assert rows(ctx, local(2023, 1, 30, 20, 0, 1)) == [(n, "handle", "red")]
    assert warnings(ctx.at(local(2023, 1, 30, 20)), SYSTEM)[0].due_at == local(2023, 1, 30, 20)

    act(ctx.at(local(2023, 1, 30, 21)), order, Action.REPLY, actors["staff_csgl"], content="已答复")
    assert rows(ctx, local(2023, 1, 30, 21)) == []
    assert rows(ctx, local(2023, 3, 1)) == []


def test_unit_staff_see_only_their_units_orders(ctx, actors):
    mine = register(ctx.at(FRIDAY), actors)
    act(ctx.at(FRIDAY), mine, Action.DISPATCH, actors["dispatcher"], unit="csgl")
    theirs = register(ctx.at(FRIDAY), actors)
    act(ctx.at(FRIDAY), theirs, Action.DISPATCH, actors["dispatcher"], unit="zjj")
    later = local(2023, 1, 28, 19)  # both 签收 clocks are yellow
    both = {(mine.number, "sign", "yellow"), (theirs.number, "sign", "yellow")}
    assert set(rows(ctx, later)) == both
    assert set(rows(ctx, later, actors["dispatcher"])) == both
    assert rows(ctx, later, actors["staff_csgl"]) == [(mine.number, "sign", "yellow")]
    assert rows(ctx, later, actors["staff_zjj"]) == [(theirs.number, "sign", "yellow")]
    assert rows(ctx, later, actors["staff_tongzhou"]) == []
    assert rows(ctx, later, actors["police"]) == []
    assert rows(ctx, later, unit="zjj") == [(theirs.number, "sign", "yellow")]


def test_api_warnings_over_time(auth, client, ctx, actors, session):
    # ``auth`` first: its tokens are written before ``session`` takes the SQLite write lock for the test.
    order = register(ctx.at(FRIDAY), actors)
    other = register(ctx.at(FRIDAY), actors)
    act(ctx.at(FRIDAY), other, Action.DISPATCH, actors["dispatcher"], unit="zjj")
    session.commit()

    def get(user, moment, **params):
        with time_machine.travel(moment, tick=False):
            r = client.get("/api/sla/warnings", params=params, headers=auth(user))
        assert r.status_code == 200, r.text
        return [(w["number"], w["stage"], w["color"]) for w in r.json()]

    assert get("dispatcher", local(2023, 1, 28, 17)) == []
    yellow = {(order.number, "dispatch", "yellow"), (other.number, "sign", "yellow")}
    assert set(get("dispatcher", local(2023, 1, 28, 18))) == yellow
    assert get("dispatcher", local(2023, 1, 28, 18), color="red") == []
    assert get("dispatcher", local(2023, 1, 28, 18), stage="sign") == [(other.number, "sign", "yellow")]
    assert get("staff_zjj", local(2023, 1, 28, 18)) == [(other.number, "sign", "yellow")]
    assert get("staff_csgl", local(2023, 1, 28, 18)) == []
    red = {(order.number, "dispatch", "red"), (other.number, "sign", "red")}
    assert set(get("supervisor", local(2023, 1, 29, 1))) == red
    assert set(get("supervisor", local(2023, 1, 29, 1), color="red")) == red
    assert get("supervisor", local(2023, 1, 29, 1), color="yellow") == []

    with time_machine.travel(local(2023, 1, 29, 1), tick=False):
        assert client.get("/api/sla/warnings", params={"color": "orange"},
                          headers=auth("dispatcher")).status_code == 422
        assert client.get("/api/sla/warnings").status_code == 401


def test_cli_sla_warnings_json(ctx, actors, session, state, monkeypatch):
    order = register(ctx.at(FRIDAY), actors)
    session.commit()
    monkeypatch.setenv("CIVICLINK_DATABASE_URL", state.settings.database_url)
    monkeypatch.setenv("CIVICLINK_SECRET_KEY", state.settings.secret_key.get_secret_value())
    monkeypatch.setenv("CIVICLINK_ENVIRONMENT", "test")
    monkeypatch.setenv("CIVICLINK_LOG_LEVEL", "WARNING")
    runner = CliRunner()

    def run(moment, *args):
        with time_machine.travel(moment, tick=False):
            result = runner.invoke(cli_app, ["sla", "warnings", "--json", *args])
        assert result.exit_code == 0, result.output
        return [(w["number"], w["stage"], w["color"]) for w in json.loads(result.stdout)]

    assert run(local(2023, 1, 28, 17)) == []
    assert run(local(2023, 1, 28, 18, 30)) == [(order.number, "dispatch", "yellow")]
    assert run(local(2023, 1, 28, 18, 30), "--color", "red") == []
    assert run(local(2023, 1, 29, 0, 30)) == [(order.number, "dispatch", "red")]
    assert run(local(2023, 1, 29, 0, 30), "--color", "yellow") == []
    assert run(local(2023, 1, 29, 0, 30), "--stage", "sign") == []
    with time_machine.travel(local(2023, 1, 29, 0, 30), tick=False):
        table = runner.invoke(cli_app, ["sla", "warnings"])
        assert table.exit_code == 0 and "1 件" in table.stdout and "红" in table.stdout
        assert runner.invoke(cli_app, ["sla", "warnings", "--color", "orange"]).exit_code == 1


def test_importing_next_years_calendar_recomputes_provisional_deadlines(state, session, actors):
    """A deadline in a year nobody has published is provisional; importing that year fixes it at once."""
    from sqlalchemy import select

    from civiclink.sla.models import StageClock
    from civiclink.sla.service import do_import_calendar, load_calendar, parse_calendar_csv

    ctx = state.ctx(session, now=local(2026, 12, 28, 10))
    order = register(ctx, actors)  # complaint: 15 working days → well into January 2027
    handle = session.execute(select(StageClock).where(StageClock.order_id == order.id,
                                                      StageClock.stage == "handle")).scalar_one()
    assert handle.provisional
    guessed = handle.due_at
    # A made-up schedule for the test (not the official 2027 one): three weekdays off in January.
    schedule = "date,type,name\n2027-01-01,休,元旦\n2027-01-04,休,测试假日\n2027-01-05,休,测试假日\n"
    do_import_calendar(session, parse_calendar_csv(schedule), actor=actors["admin"], source="test.csv",
                       now=ctx.now, tz=state.settings.tz, yellow_share=state.settings.sla.yellow_share)
    session.flush()
    session.refresh(handle)
    assert not handle.provisional
    cal = load_calendar(session, state.settings.tz)
    assert cal.workdays_between(date(2026, 12, 28), cal.local_date(handle.due_at - timedelta(seconds=1))) == 15
    assert handle.due_at > guessed  # two more days off in the window push it out
