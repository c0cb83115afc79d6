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
