"""Call records (docs/cti.md): events assembled into calls in any order and idempotently, redials, short abandons,
漏接回拨, the connection KPIs on a hand-built call log with known answers, the API's rights and masking, the CSV
import, and 一次接通率 on the 大屏."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from tests.callcentre.story import DAY, TZ, A, B, D, log, t

from civiclink.analytics import service as dashboard
from civiclink.audit.models import AuditEvent
from civiclink.callcentre.models import Call, CallEvent


def test_calls_are_assembled_in_any_order_and_once(calls, session):
    by_ref, order = calls
    assert set(by_ref) == {f"c{i}" for i in range(1, 8)}
    assert session.execute(select(func.count()).select_from(CallEvent)).scalar_one() == 26
    c1, c2, c3, c4, c5, c6, c7 = (by_ref[f"c{i}"] for i in range(1, 8))
    assert (c1.outcome, c1.wait_seconds, c1.talk_seconds, c1.team, c1.order_id) == ("answered", 8.0, 180.0, "A",
                                                                                    order.id)
    assert c1.agent_user_id is not None and c1.local_hour == 9 and str(c1.local_day) == DAY
    assert (c2.outcome, c2.wait_seconds, c2.redial) == ("abandoned", 30.0, False)
    assert (c3.redial, c3.wait_seconds) == (True, 20.0)
    assert c4.short_abandon and c4.callback_state is None  # not a call wanting a person
    assert c2.callback_state == "not_needed" and c2.callback_by == "system"  # B got through at 09:20
    assert c5.callback_state == "pending"
    assert (c6.transferred_to, c6.talk_seconds) == ("110", 115.0)  # until the agent hung up
    assert c7.redial is False  # A's earlier call was answered
    audit = session.execute(select(AuditEvent).where(AuditEvent.action == "calls.events")).scalars().all()
    assert len(audit) == 2  # the resent batch recorded nothing and left no event
    assert all(A not in str(e.data) for e in audit)  # no calling number in the audit chain


def test_connection_kpis_count_what_docs_cti_says(calls, client, auth):
    r = client.get("/api/calls/kpis", params={"start": DAY}, headers=auth("leader"))
    assert r.status_code == 200, r.text
    k = r.json()
    total = k["total"]
    assert (total["offered"], total["answered"], total["answered_in_target"], total["abandoned"],
            total["short_abandons"], total["contacts"], total["first_attempt_answered"]) == (6, 4, 3, 2, 1, 5, 3)
    assert total["first_attempt_rate"] == 60.0  # 一次接通率 3 ÷ 5
    assert total["connection_rate"] == 66.67 and total["target_rate"] == 50.0 and total["abandonment_rate"] == 33.33
    assert total["average_answer_seconds"] == 9.0  # (8 + 20 + 5 + 3) ÷ 4
    hours = {row["key"]: row for row in k["by_hour"]}
    assert hours["9"]["offered"] == 3 and hours["9"]["answered"] == 2 and hours["10"]["offered"] == 0
    teams = {row["key"]: (row["offered"], row["answered"]) for row in k["by_team"]}
    assert teams == {"A": (3, 3), "B": (2, 1), None: (1, 0)}  # c4 is short: in no team's offered
    assert k["worst_24h"]["connection_rate"] == 66.67
    assert client.get("/api/calls/kpis", params={"start": DAY}, headers=auth("operator")).status_code == 403


def test_missed_calls_are_called_back_once(calls, client, auth):
    by_ref, _order = calls
    missed = client.get("/api/calls", params={"start": DAY, "missed": True}, headers=auth("callback")).json()
    assert missed["total"] == 1 and missed["items"][0]["call_id"] == "c5"
    item = missed["items"][0]
    assert item["caller"] == D  # the 回访员 talks to callers: in clear
    stale = client.post(f"/api/calls/{item['id']}/callback", headers=auth("callback"),
                        json={"version": item["version"] + 1, "result": "called_back"})
    assert stale.status_code == 409
    done = client.post(f"/api/calls/{item['id']}/callback", headers=auth("callback"),
                       json={"version": item["version"], "result": "called_back", "note": "已回拨，市民已另行登记"})
    assert done.status_code == 200 and done.json()["callback"]["state"] == "called_back"
    twice = client.post(f"/api/calls/{item['id']}/callback", headers=auth("callback"),
                        json={"version": done.json()["version"], "result": "unreachable"})
    assert twice.status_code == 422 and "已回拨" in twice.json()["detail"]
    answered = by_ref["c1"]
    assert client.post(f"/api/calls/{answered.id}/callback", headers=auth("callback"),
                       json={"version": answered.version, "result": "called_back"}).status_code == 422
    assert client.get("/api/calls", params={"start": DAY, "missed": True},
                      headers=auth("callback")).json()["total"] == 0


def test_rights_and_masking(calls, client, auth, cti_auth):
    assert client.post("/api/calls/events", headers=auth("operator"), json={"events": log("X")[:1]}).status_code == 403
    listing = client.get("/api/calls", params={"start": DAY}, headers=auth("leader")).json()
    assert listing["total"] == 7 and all(A not in (c["caller"] or "") for c in listing["items"])
    assert client.get("/api/calls", params={"start": DAY}, headers=auth("staff_csgl")).status_code == 403
    bad = client.post("/api/calls/events", headers=cti_auth("cti"),
                      json={"events": [{"call_id": "x 1", "type": "rang", "at": "2026-03-18T09:00:00"}]})
    assert bad.status_code == 422
    assert client.post("/api/calls/events", headers=cti_auth("cti"), json={"events": []}).status_code == 422


def test_first_attempt_rate_on_the_dashboard(calls, state, session):
    noon = datetime.fromisoformat(f"{DAY}T13:00:00").replace(tzinfo=TZ).astimezone(UTC)
    figure = dashboard.hotline_figures(state.ctx(session, now=noon), "today").first_attempt_connection
    assert figure.available and (figure.numerator, figure.denominator, figure.rate) == (3, 5, 60.0)
    before = dashboard.first_attempt_connection_rate(session, noon - timedelta(days=3), noon - timedelta(days=2))
    assert before.available and before.rate is None  # calls exist, none in that span


def test_no_calls_means_no_figure(state, session):
    figure = dashboard.first_attempt_connection_rate(session, datetime.now(UTC) - timedelta(days=1),
                                                     datetime.now(UTC))
    assert not figure.available and figure.reason == "no_call_data"


def test_csv_import_reports_bad_rows_and_reruns_cleanly(state, cli, tmp_path, session):
    path = tmp_path / "calls.csv"
    path.write_text("call_id,type,at,caller,line,agent,team,target,order,incident\n"
                    f"k1,offered,{t('08:00:00')},{A},12345,,,,,\n"
                    f"k1,queued,{t('08:00:01')},,,,A,,,\n"
                    f"k1,answered,{t('08:00:09')},,,operator,A,,,\n"
                    f"k1,hung_up,{t('08:02:09')},,,,,,,\n"
                    f"k2,rang,{t('08:05:00')},{B},12345,,,,,\n"
                    f"k3,offered,not-a-time,{B},12345,,,,,\n", encoding="utf-8")
    first = cli("calls", "import", str(path), "--as", "admin")
    assert first.exit_code == 1 and "新增事件 4" in first.output
    assert "第 6 行" in first.output and "第 7 行" in first.output
    again = cli("calls", "import", str(path), "--as", "admin")
    assert "新增事件 0，已存在跳过 4" in again.output
    session.rollback()
    call = session.execute(select(Call).where(Call.call_ref == "k1")).scalar_one()
    assert (call.outcome, call.wait_seconds) == ("answered", 8.0)
    k = cli("calls", "kpis", "--start", DAY, "--json")
    assert k.exit_code == 0 and '"offered": 1' in k.output
