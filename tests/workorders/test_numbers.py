"""工单 numbers: per day, consecutive, unique — one counter update per transaction, savepoints respected."""

import threading
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.helpers import ORDER, register

from civiclink.db import write_session
from civiclink.errors import Forbidden
from civiclink.workorders.models import NumberCounter, WorkOrder


def counter(state, key: str) -> int:
    with state.sessions() as s:
        return s.execute(select(NumberCounter.value).where(NumberCounter.key == key)).scalar_one()


def test_several_registrations_in_one_transaction_count_on_and_write_back_once(state, actors):
    with write_session(state.sessions) as s:
        ctx = state.ctx(s)
        numbers = [register(ctx, actors).number for _ in range(5)]
        key = numbers[0].split("-")[0]
    assert [int(n.split("-")[1]) for n in numbers] == [1, 2, 3, 4, 5]
    assert counter(state, key) == 5
    with write_session(state.sessions) as s:
        assert register(state.ctx(s), actors).number == f"{key}-000006"


def test_a_rolled_back_savepoint_that_took_the_counter_gives_it_back(state, actors):
    with write_session(state.sessions) as s:
        ctx = state.ctx(s)
        savepoint = s.begin_nested()
        first = register(ctx, actors).number
        savepoint.rollback()  # the counter's lock and its +1 go with it
        second = register(ctx, actors).number
        third = register(ctx, actors).number
    assert first == second  # nothing committed used it, so it is handed out again
    assert int(third.split("-")[1]) == int(second.split("-")[1]) + 1
    with state.sessions() as s:
        assert sorted(s.execute(select(WorkOrder.number)).scalars()) == [second, third]
    assert counter(state, second.split("-")[0]) == int(third.split("-")[1])


def test_a_refused_registration_in_a_savepoint_takes_no_number(state, actors):
    with write_session(state.sessions) as s:
        ctx = state.ctx(s)
        a = register(ctx, actors).number
        savepoint = s.begin_nested()
        try:
            register(ctx, {**actors, "operator": actors["leader"]})  # refused before it takes a number
        except Forbidden:
            savepoint.rollback()
        b = register(ctx, actors).number
    assert int(b.split("-")[1]) == int(a.split("-")[1]) + 1


def test_concurrent_api_registrations_get_consecutive_unique_numbers(app, auth):
    burst = 24
    barrier = threading.Barrier(burst)

    def one(_):
        with TestClient(app) as c:
            barrier.wait()
            r = c.post("/api/orders", json=ORDER, headers=auth("operator"))
            assert r.status_code == 201, r.text
            return r.json()["number"]

    with ThreadPoolExecutor(burst) as pool:
        numbers = list(pool.map(one, range(burst)))
    assert len(set(numbers)) == burst
    assert sorted(int(n.split("-")[1]) for n in numbers) == list(range(1, burst + 1))


def test_many_savepoints_never_hand_out_a_number_twice(state, actors):
    """The demo's pattern: hundreds of savepoints in one transaction, some rolled back after registering, some
    nested in one that is rolled back. (A savepoint object's id() is reused by later ones; the bookkeeping must
    not confuse them.)"""
    handed: list[str] = []
    with write_session(state.sessions) as s:
        ctx = state.ctx(s)
        for i in range(300):
            outer = s.begin_nested()
            number = register(ctx, actors).number
            if i % 7 == 3:
                inner = s.begin_nested()
                register(ctx, actors)
                inner.commit()
                outer.rollback()  # the inner registration goes with its parent
                continue
            if i % 5 == 1:
                outer.rollback()
                continue
            outer.commit()
            handed.append(number)
    with state.sessions() as s:
        stored = s.execute(select(WorkOrder.number)).scalars().all()
    assert sorted(stored) == sorted(handed) and len(set(stored)) == len(stored)
    with write_session(state.sessions) as s:
        after = register(state.ctx(s), actors).number
    assert after not in stored
