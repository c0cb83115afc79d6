"""Concurrent edits never silently overwrite each other: of two writers on one order, one wins, one gets 409."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from tests.helpers import ORDER, register

from civiclink.db import begin_write
from civiclink.errors import StaleVersion
from civiclink.workorders import actions as a
from civiclink.workorders import schemas as s


def test_two_writers_one_wins_one_gets_stale_version(state, actors):
    session = state.sessions()
    begin_write(session)
    order = register(state.ctx(session), actors)
    session.commit()
    number, version = order.number, order.version
    session.close()
    a_holds_lock = threading.Event()
    results: dict[str, object] = {}

    def writer(name: str, unit: str, hold: float):
        session = state.sessions()
        try:
            begin_write(session)
            ctx = state.ctx(session)
            o = a.load_order_for_update(ctx, number)
            if name == "A":
                a_holds_lock.set()
            a.do_dispatch_order(ctx, o, s.DispatchIn(version=version, unit=unit), actor=actors["dispatcher"])
            time.sleep(hold)  # keep the transaction open while B queues behind it
            session.commit()
            results[name] = "ok"
        except StaleVersion as exc:
            session.rollback()
            results[name] = exc
        finally:
            session.close()

    t_a = threading.Thread(target=writer, args=("A", "csgl", 0.4))
    t_a.start()
    assert a_holds_lock.wait(5)
    t_b = threading.Thread(target=writer, args=("B", "zjj", 0))
    t_b.start()
    t_a.join(30)
    t_b.join(30)
    assert results["A"] == "ok"
    assert isinstance(results["B"], StaleVersion) and "已被他人修改" in results["B"].message
    with state.sessions() as check:
        ctx = state.ctx(check)
        o = a.load_order_for_update(ctx, number)
        assert ctx.directory.unit(o.handling_unit_id).code == "csgl" and o.version == version + 1


def test_many_concurrent_http_writers_exactly_one_succeeds(app, auth):
    with TestClient(app) as client:
        number = client.post("/api/orders", json=ORDER, headers=auth("operator")).json()["number"]
        version = client.get(f"/api/orders/{number}", headers=auth("dispatcher")).json()["version"]
    barrier = threading.Barrier(6)

    def dispatch(unit: str) -> int:
        with TestClient(app) as c:
            barrier.wait()
            return c.post(f"/api/orders/{number}/dispatch", json={"version": version, "unit": unit},
                          headers=auth("dispatcher")).status_code

    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(dispatch, ["csgl", "zjj", "csgl", "zjj", "csgl", "zjj"]))
    assert sorted(codes) == [200, 409, 409, 409, 409, 409], codes
    with TestClient(app) as client:
        timeline = client.get(f"/api/orders/{number}/timeline", headers=auth("dispatcher")).json()
    assert [t["action"] for t in timeline].count("order.dispatch") == 1


def test_a_burst_of_first_requests_does_not_starve_the_writer(state):
    """More requests at once than the pool has connections, each with a token the server has not seen yet (so
    each reads the database before it queues its write): none may keep its connection while it waits, or the
    writer starves for one and everything waits out the pool timeout."""
    from datetime import UTC, datetime

    from sqlalchemy import select
    from tests.conftest import TEST_SECRET

    from civiclink.app import build_state, create_app
    from civiclink.db import write_session
    from civiclink.orgs.actions import do_issue_token
    from civiclink.orgs.models import User

    small = build_state(state.settings.model_copy(update={"database_pool_size": 3, "database_max_overflow": 0}))
    small.engine.pool._timeout = 8  # fail fast instead of after 30 s
    app = create_app(small.settings, state=small)
    burst = 8
    with write_session(small.sessions) as s:
        operator = s.execute(select(User).where(User.username == "operator")).scalar_one()
        tokens = [do_issue_token(s, operator, secret=TEST_SECRET, now=datetime.now(UTC), ttl=small.settings.token_ttl)[0]
                  for _ in range(burst)]
    barrier = threading.Barrier(burst)

    def register(token: str) -> int:
        with TestClient(app) as c:
            barrier.wait()
            return c.post("/api/orders", json=ORDER, headers={"Authorization": f"Bearer {token}"}).status_code

    try:
        with ThreadPoolExecutor(burst) as pool:
            codes = list(pool.map(register, tokens))
    finally:
        small.engine.dispose()
    assert codes == [201] * burst
