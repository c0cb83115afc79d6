"""How many agents a half hour needs: Erlang C and Erlang A staffing (issue 7 part 4; R-606, R-801, R-805;
anchors §6).

The targets come from GB/T 33358-2016 (R-606, R-801): calls answered **within 15 s** and a **connection rate
(接通率) of at least 95 %** over any 24 hours. A workforce tool turns such targets into agents per interval; the
standard figures (anchors §6.3) are the service level (share answered within T s), the average speed of answer
(ASA), occupancy, the probability of waiting, the abandonment rate (Erlang A) and the agents on the phones versus
the rostered headcount after shrinkage. anchors §6.1 explains why this is our own module rather than pyworkforce
(on Python 3.11 pip resolves pyworkforce 0.5.1, which has Erlang C only and would pull in OR-Tools).

Units: calls per interval, interval and handling times in seconds. The offered traffic is
``A = calls × AHT / interval`` Erlangs; ``λ = calls / interval`` per second, ``μ = 1 / AHT``.

**Erlang B** (M/M/n/n, blocked calls lost) by the recursion ``B(0) = 1, B(k) = A·B(k−1) / (k + A·B(k−1))``:
no factorials or powers, so it is stable for any traffic (thousands of Erlangs) and only ever underflows to 0
when the answer is below 1e−308.

**Erlang C** (M/M/n, infinite patience) from Erlang B: the probability that a call waits is
``C = n·B / (n − A·(1 − B))`` for ``n > A`` (1 otherwise: the queue grows without end). Then
``SL(t) = 1 − C·exp(−(n − A)·t / AHT)`` and ``ASA = C·AHT / (n − A)``; occupancy is ``A / n``. Reference
(pyworkforce's README, recomputed by hand in anchors §6.1): 100 calls per 30 min, AHT 180 s, 80 % within 20 s
gives 14 agents, SL 0.8884, P(wait) 0.1741, occupancy 0.7143, ASA 7.8 s; 13 agents give SL 0.7956.

**Erlang A** (M/M/n+M, Palm's model: each waiting caller hangs up after an exponential patience with mean
``patience``, rate ``θ = 1 / patience``). The number in the system is a birth–death chain with birth rate λ and
death rate ``min(k, n)·μ + max(k − n, 0)·θ``; abandonment keeps it stable at any load. We compute its stationary
distribution exactly: the states up to n by the Erlang B sum (``Σ_{k≤n} p_k / p_n = 1 / B(n, A)``), the queue
states by the product of the birth/death ratios in logarithms, cut off once the tail is below e^−45 of the
largest term. By PASTA an arrival finds the distribution; one finding ``j`` callers queued ahead moves up at
rate ``nμ + iθ`` while ``i`` are ahead and abandons at rate θ, so (Garnett, Mandelbaum & Reiman 2002, "Designing
a call center with impatient customers", MSOM 4(3)):

* P(served | j) = ``nμ / (nμ + (j+1)θ)`` (the product of the competing-rate ratios telescopes);
* given that it is served, its wait is a sum of independent exponentials with rates ``nμ + θ, …, nμ + (j+1)θ``,
  an arithmetic progression, whose distribution function is the regularised incomplete beta function
  ``I_p(j + 1, nμ/θ + 1)`` with ``p = 1 − exp(−θt)`` (the (j+1)-th order statistic of exponentials);
  its mean is ``Σ 1 / (nμ + iθ)``.

The service level of Erlang A is the share of **offered** calls answered within t (abandoned calls count as
not answered); R-805 asks to state the denominator, so the share of **answered** calls is given as well. The
abandonment probability is also ``θ·E[queue] / λ``; the two ways of computing it agree to rounding, which the
tests check. Reference (pyworkforce's regression test, same load, patience 300 s, 14 agents): P(wait) 0.14526,
abandonment 0.013984, occupancy 0.704297, mean wait of all callers 4.195 s, SL(20 s) 0.916792. As patience grows
without bound Erlang A tends to Erlang C.

Staffing searches for the fewest agents that meet the service level **and** the occupancy cap (agents burn
out above ~85 %) and, for Erlang A, optionally an abandonment cap (``1 − 接通率``: 0.05 for R-606's 95 %, though
R-606 measures over 24 hours, not per half hour). Shrinkage (breaks, training, meetings, sick leave) turns the
agents on the phones into scheduled staff: ``ceil(agents / (1 − shrinkage))``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real

import numpy as np
from scipy.special import betainc, logsumexp

HALF_HOUR_SECONDS = 1800
ANSWER_TARGET_SECONDS = 15  # phone calls answered within 15 s (GB/T 33358-2016)
CONNECTION_RATE_TARGET = 0.95  # connection rate over any 24 hours ≥ 95 %
DEFAULT_MAX_OCCUPANCY = 0.85
DEFAULT_SHRINKAGE = 0.30

MAX_QUEUE_STATES = 2_000_000  # Erlang A: beyond this the patience is effectively infinite for the load
_TAIL_CUTOFF_LOG = 45.0  # Erlang A: queue states whose weight is below e^-45 of the largest are dropped
_ROUNDING_SLACK = 1e-9  # 14 / (1 - 0.3) must give 20 scheduled, not 21, whatever the float rounding


class QueueTooLongError(ValueError):
    """Erlang A with so much patience, at this load, that the queue would need more than MAX_QUEUE_STATES states
    (practically an unstable Erlang C queue): use more agents or Erlang C."""


@dataclass(frozen=True)
class StaffingResult:
    """Agents for one interval and what they achieve.

    ``agents`` are on the phones (Erlang's n); ``scheduled`` is the headcount to roster after shrinkage.
    ``service_level`` is the share of offered calls answered within the target; ``asa_seconds`` the average
    wait of answered calls; ``occupancy`` the share of the agents' time spent on calls.
    """

    agents: int
    scheduled: int
    service_level: float
    asa_seconds: float
    occupancy: float
    waiting_probability: float
    abandonment_probability: float
    traffic_erlangs: float
    model: str  # "erlang_c" or "erlang_a"


@dataclass(frozen=True)
class ErlangAMetrics:
    """Figures of an M/M/n+M queue (anchors §6.3) for a given number of agents.

    ``service_level``: share of offered calls answered within the target (abandoned calls are not answered);
    ``answered_service_level``: the same over answered calls only (R-805 asks to say which one is reported);
    ``asa_seconds``: mean wait of answered calls; ``mean_wait_seconds``: mean wait of all callers, abandoned ones
    included (E[queue] / λ, Little's law; what pyworkforce calls ASA).
    """

    traffic_erlangs: float
    waiting_probability: float
    abandonment_probability: float
    service_level: float
    answered_service_level: float
    asa_seconds: float
    mean_wait_seconds: float
    mean_queue_length: float
    occupancy: float


# --------------------------------------------------------------------------------------------- validation


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _non_negative(name: str, value: object) -> float:
    number = _number(name, value)
    if number < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return number


def _positive(name: str, value: object) -> float:
    number = _number(name, value)
    if number <= 0:
        raise ValueError(f"{name} must be greater than 0, got {value!r}")
    return number


def _agent_count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"agents must be a whole number ≥ 0, got {value!r}")
    return value


def _target_level(value: object) -> float:
    level = _number("target_level", value)
    if not 0 < level < 1:
        raise ValueError(f"target_level must be strictly between 0 and 1 (e.g. 0.8 for 80 %), got {value!r}")
    return level


def _max_occupancy(value: object) -> float:
    occupancy = _number("max_occupancy", value)
    if not 0 < occupancy <= 1:
        raise ValueError(f"max_occupancy must be in (0, 1], got {value!r}")
    return occupancy


def _shrinkage(value: object) -> float:
    shrinkage = _number("shrinkage", value)
    if not 0 <= shrinkage < 1:
        raise ValueError(f"shrinkage must be in [0, 1), got {value!r}")
    return shrinkage


def _max_abandonment(value: object) -> float | None:
    if value is None:
        return None
    abandonment = _number("max_abandonment", value)
    if not 0 < abandonment <= 1:
        raise ValueError(f"max_abandonment must be in (0, 1] or None, got {value!r}")
    return abandonment


def _load(calls: object, interval_seconds: object, aht_seconds: object) -> tuple[float, float, float]:
    """(calls, interval, AHT) checked, so that every public function rejects the same bad input the same way."""
    return (
        _non_negative("calls", calls),
        _positive("interval_seconds", interval_seconds),
        _positive("aht_seconds", aht_seconds),
    )


# --------------------------------------------------------------------------------------------- Erlang B / C


def offered_traffic(calls: float, interval_seconds: float, aht_seconds: float) -> float:
    """Offered load in Erlangs, ``calls × AHT / interval`` (anchors §6.1: 100 calls, 180 s, 1800 s → 10)."""
    calls, interval_seconds, aht_seconds = _load(calls, interval_seconds, aht_seconds)
    return calls * aht_seconds / interval_seconds


def erlang_b(traffic: float, agents: int) -> float:
    """Blocking probability of an M/M/n/n loss system (anchors §6.1 ErlangB: trunks, IVR ports).

    By the recursion ``B(k) = A·B(k−1) / (k + A·B(k−1))``, which is stable for any traffic (no factorials).
    """
    traffic = _non_negative("traffic", traffic)
    agents = _agent_count(agents)
    blocking = 1.0
    for servers in range(1, agents + 1):
        blocking = traffic * blocking / (servers + traffic * blocking)
    return blocking


def _erlang_c_from_b(traffic: float, agents: int, blocking: float) -> float:
    if traffic == 0:
        return 0.0
    if agents <= traffic:
        return 1.0
    return agents * blocking / (agents - traffic * (1 - blocking))


def erlang_c(traffic: float, agents: int) -> float:
    """Probability that a call has to wait in an M/M/n queue (Erlang C), from Erlang B.

    1.0 when ``agents ≤ traffic`` (the queue is unstable: everybody waits); 0.0 without traffic.
    """
    traffic = _non_negative("traffic", traffic)
    agents = _agent_count(agents)
    return _erlang_c_from_b(traffic, agents, erlang_b(traffic, agents))


def _service_level_c(
    traffic: float, agents: int, wait_probability: float, aht: float, target: float
) -> float:
    if traffic == 0:
        return 1.0
    if agents <= traffic:
        return 0.0
    return max(0.0, 1.0 - wait_probability * math.exp(-(agents - traffic) * target / aht))


def _asa_c(traffic: float, agents: int, wait_probability: float, aht: float) -> float:
    if traffic == 0:
        return 0.0
    if agents <= traffic:
        return math.inf
    return wait_probability * aht / (agents - traffic)


def service_level(
    calls: float, interval_seconds: float, aht_seconds: float, agents: int, target_seconds: float
) -> float:
    """Erlang C share of calls answered within ``target_seconds`` (R-606/R-801's 15秒接通率 with t = 15).

    ``1 − C·exp(−(n − A)·t / AHT)``; 0.0 when the agents cannot carry the load, 1.0 without calls.
    """
    calls, interval_seconds, aht_seconds = _load(calls, interval_seconds, aht_seconds)
    agents = _agent_count(agents)
    target_seconds = _non_negative("target_seconds", target_seconds)
    traffic = calls * aht_seconds / interval_seconds
    wait_probability = _erlang_c_from_b(traffic, agents, erlang_b(traffic, agents))
    return _service_level_c(traffic, agents, wait_probability, aht_seconds, target_seconds)


def average_speed_of_answer(calls: float, interval_seconds: float, aht_seconds: float, agents: int) -> float:
    """Erlang C mean wait in seconds over all calls (平均等待时长, anchors §6.3): ``C·AHT / (n − A)``.

    ``math.inf`` when the agents cannot carry the load, 0.0 without calls.
    """
    calls, interval_seconds, aht_seconds = _load(calls, interval_seconds, aht_seconds)
    agents = _agent_count(agents)
    traffic = calls * aht_seconds / interval_seconds
    wait_probability = _erlang_c_from_b(traffic, agents, erlang_b(traffic, agents))
    return _asa_c(traffic, agents, wait_probability, aht_seconds)


def scheduled_staff(agents: int, shrinkage: float = DEFAULT_SHRINKAGE) -> int:
    """Headcount to roster so that ``agents`` are on the phones: ``ceil(agents / (1 − shrinkage))``."""
    agents = _agent_count(agents)
    shrinkage = _shrinkage(shrinkage)
    return math.ceil(agents / (1 - shrinkage) - _ROUNDING_SLACK)


def _no_calls(model: str, shrinkage: float) -> StaffingResult:
    return StaffingResult(
        agents=0,
        scheduled=scheduled_staff(0, shrinkage),
        service_level=1.0,
        asa_seconds=0.0,
        occupancy=0.0,
        waiting_probability=0.0,
        abandonment_probability=0.0,
        traffic_erlangs=0.0,
        model=model,
    )


def agents_needed(
    calls: float,
    interval_seconds: float,
    aht_seconds: float,
    target_level: float,
    target_seconds: float,
    max_occupancy: float = DEFAULT_MAX_OCCUPANCY,
    shrinkage: float = DEFAULT_SHRINKAGE,
) -> StaffingResult:
    """Fewest agents (Erlang C) with ``service_level ≥ target_level`` within ``target_seconds`` and
    ``occupancy ≤ max_occupancy``, plus the scheduled headcount after shrinkage (R-606; anchors §6.1).

    Reference: ``agents_needed(100, 1800, 180, 0.8, 20)`` → 14 agents, 20 scheduled, SL 0.8884.
    Zero calls need zero agents. Walks up from ``floor(A) + 1`` agents, updating Erlang B by one step of its
    recursion per agent, so the whole search costs O(n).
    """
    calls, interval_seconds, aht_seconds = _load(calls, interval_seconds, aht_seconds)
    target_level = _target_level(target_level)
    target_seconds = _non_negative("target_seconds", target_seconds)
    max_occupancy = _max_occupancy(max_occupancy)
    shrinkage = _shrinkage(shrinkage)
    if calls == 0:
        return _no_calls("erlang_c", shrinkage)

    traffic = calls * aht_seconds / interval_seconds
    agents = math.floor(traffic) + 1
    blocking = erlang_b(traffic, agents)
    while True:
        wait_probability = _erlang_c_from_b(traffic, agents, blocking)
        level = _service_level_c(traffic, agents, wait_probability, aht_seconds, target_seconds)
        occupancy = traffic / agents
        if level >= target_level and occupancy <= max_occupancy + _ROUNDING_SLACK:
            return StaffingResult(
                agents=agents,
                scheduled=scheduled_staff(agents, shrinkage),
                service_level=level,
                asa_seconds=_asa_c(traffic, agents, wait_probability, aht_seconds),
                occupancy=occupancy,
                waiting_probability=wait_probability,
                abandonment_probability=0.0,
                traffic_erlangs=traffic,
                model="erlang_c",
            )
        agents += 1
        blocking = traffic * blocking / (agents + traffic * blocking)


# --------------------------------------------------------------------------------------------- Erlang A


def _erlang_a(
    arrival_rate: float, aht: float, patience: float, agents: int, target_seconds: float
) -> ErlangAMetrics:
    """M/M/n+M figures from the exact stationary distribution (see the module docstring)."""
    traffic = arrival_rate * aht
    if arrival_rate == 0:
        return ErlangAMetrics(0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0)
    if agents == 0:  # every caller waits until they give up
        return ErlangAMetrics(traffic, 1.0, 1.0, 0.0, 0.0, math.inf, patience, arrival_rate * patience, 0.0)

    blocking = erlang_b(traffic, agents)
    if blocking == 0.0:  # so many agents that P(all busy) underflows: nobody waits
        return ErlangAMetrics(traffic, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, traffic / agents)

    service_capacity = agents / aht  # nμ: calls per second the agents finish when all are busy
    abandon_rate = 1.0 / patience  # θ
    # Log-weights of the states "all agents busy, j callers queued" relative to j = 0, grown until past the peak
    # (where nμ + jθ exceeds λ) and the tail has fallen below e^-45 of the largest weight.
    queue_states = 256
    while True:
        ahead = np.arange(1, queue_states + 1, dtype=float)
        log_ratio = math.log(arrival_rate) - np.log(service_capacity + ahead * abandon_rate)
        log_weight = np.cumsum(log_ratio)
        past_peak = service_capacity + queue_states * abandon_rate > arrival_rate
        if past_peak and log_weight[-1] < max(0.0, float(log_weight.max())) - _TAIL_CUTOFF_LOG:
            break
        queue_states *= 2
        if queue_states > MAX_QUEUE_STATES:
            raise QueueTooLongError(
                f"Erlang A with patience {patience:g} s and {agents} agents on {traffic:g} Erlangs would queue "
                f"more than {MAX_QUEUE_STATES} callers: add agents or use Erlang C"
            )
    log_weight = np.concatenate(([0.0], log_weight))
    # Σ_{k ≤ n} p_k / p_n = 1 / B(n, A); the queue states add Σ_{j ≥ 1} exp(log_weight_j).
    log_total = np.logaddexp(-math.log(blocking), logsumexp(log_weight[1:]))
    found_queue = np.exp(log_weight - log_total)  # P(an arrival finds all agents busy and j callers ahead)
    keep = found_queue > 1e-22  # the rest cannot move any figure
    found_queue = found_queue[keep]
    ahead = np.nonzero(keep)[0].astype(float)

    waiting_probability = float(found_queue.sum())
    mean_queue_length = float((ahead * found_queue).sum())
    abandonment_probability = abandon_rate * mean_queue_length / arrival_rate
    served_given_ahead = service_capacity / (service_capacity + (ahead + 1) * abandon_rate)
    # Given service, the wait is a sum of exponentials with rates nμ+θ, …, nμ+(j+1)θ.
    answered_within = betainc(
        ahead + 1, service_capacity / abandon_rate + 1, -math.expm1(-abandon_rate * target_seconds)
    )
    mean_wait_given_served = np.cumsum(
        1.0 / (service_capacity + (np.arange(len(keep)) + 1.0) * abandon_rate)
    )[keep]

    answered_probability = (1.0 - waiting_probability) + float((found_queue * served_given_ahead).sum())
    level = (1.0 - waiting_probability) + float((found_queue * served_given_ahead * answered_within).sum())
    answered_wait = float((found_queue * served_given_ahead * mean_wait_given_served).sum())
    return ErlangAMetrics(
        traffic_erlangs=traffic,
        waiting_probability=min(1.0, waiting_probability),
        abandonment_probability=min(1.0, abandonment_probability),
        service_level=min(1.0, max(0.0, level)),
        answered_service_level=min(1.0, level / answered_probability),
        asa_seconds=answered_wait / answered_probability,
        mean_wait_seconds=mean_queue_length / arrival_rate,
        mean_queue_length=mean_queue_length,
        occupancy=traffic * (1.0 - abandonment_probability) / agents,
    )


def erlang_a(
    calls: float,
    interval_seconds: float,
    aht_seconds: float,
    agents: int,
    patience_seconds: float,
    target_seconds: float = ANSWER_TARGET_SECONDS,
) -> ErlangAMetrics:
    """All Erlang A (M/M/n+M) figures for ``agents`` when callers hang up after ``patience_seconds`` on average.

    The service level is within ``target_seconds`` (default R-606's 15 s). Raises QueueTooLongError (a
    ValueError) only when the patience is so long that the model is practically an unstable Erlang C queue.
    """
    calls, interval_seconds, aht_seconds = _load(calls, interval_seconds, aht_seconds)
    agents = _agent_count(agents)
    patience_seconds = _positive("patience_seconds", patience_seconds)
    target_seconds = _non_negative("target_seconds", target_seconds)
    return _erlang_a(calls / interval_seconds, aht_seconds, patience_seconds, agents, target_seconds)


def abandonment_probability(
    calls: float, interval_seconds: float, aht_seconds: float, agents: int, patience_seconds: float
) -> float:
    """Erlang A share of callers who hang up before an agent answers (1 − 接通率, R-801/R-805)."""
    return erlang_a(calls, interval_seconds, aht_seconds, agents, patience_seconds).abandonment_probability


def service_level_erlang_a(
    calls: float,
    interval_seconds: float,
    aht_seconds: float,
    agents: int,
    target_seconds: float,
    patience_seconds: float,
) -> float:
    """Erlang A share of offered calls answered within ``target_seconds`` (abandoned calls are not answered)."""
    return erlang_a(
        calls, interval_seconds, aht_seconds, agents, patience_seconds, target_seconds
    ).service_level


def agents_needed_erlang_a(
    calls: float,
    interval_seconds: float,
    aht_seconds: float,
    target_level: float,
    target_seconds: float,
    patience_seconds: float,
    max_occupancy: float = DEFAULT_MAX_OCCUPANCY,
    shrinkage: float = DEFAULT_SHRINKAGE,
    max_abandonment: float | None = None,
) -> StaffingResult:
    """Fewest agents (Erlang A) meeting the service level, the occupancy cap and, if given, an abandonment cap
    (``max_abandonment=0.05`` ≈ R-606's 95 % connection rate held in every interval).

    Callers who give up shorten the queue for the others, so this usually needs fewer agents than Erlang C:
    the reference load (100 calls, 180 s, 80 % in 20 s) with 300 s patience needs 13 agents, not 14.
    The service level, abandonment and occupancy all improve with more agents, so the smallest feasible
    number is found by doubling and then bisection.
    """
    calls, interval_seconds, aht_seconds = _load(calls, interval_seconds, aht_seconds)
    target_level = _target_level(target_level)
    target_seconds = _non_negative("target_seconds", target_seconds)
    patience_seconds = _positive("patience_seconds", patience_seconds)
    max_occupancy = _max_occupancy(max_occupancy)
    shrinkage = _shrinkage(shrinkage)
    max_abandonment = _max_abandonment(max_abandonment)
    if calls == 0:
        return _no_calls("erlang_a", shrinkage)
    arrival_rate = calls / interval_seconds

    def feasible(agents: int) -> ErlangAMetrics | None:
        try:
            metrics = _erlang_a(arrival_rate, aht_seconds, patience_seconds, agents, target_seconds)
        except QueueTooLongError:
            return None
        meets = (
            metrics.service_level >= target_level
            and metrics.occupancy <= max_occupancy + _ROUNDING_SLACK
            and (
                max_abandonment is None
                or metrics.abandonment_probability <= max_abandonment + _ROUNDING_SLACK
            )
        )
        return metrics if meets else None

    too_few = 0  # with calls and no agents nobody is answered
    enough = max(1, math.ceil(arrival_rate * aht_seconds))
    best = feasible(enough)
    while best is None:
        too_few, enough = enough, enough * 2
        best = feasible(enough)
    while enough - too_few > 1:
        middle = (too_few + enough) // 2
        metrics = feasible(middle)
        if metrics is None:
            too_few = middle
        else:
            enough, best = middle, metrics
    return StaffingResult(
        agents=enough,
        scheduled=scheduled_staff(enough, shrinkage),
        service_level=best.service_level,
        asa_seconds=best.asa_seconds,
        occupancy=best.occupancy,
        waiting_probability=best.waiting_probability,
        abandonment_probability=best.abandonment_probability,
        traffic_erlangs=best.traffic_erlangs,
        model="erlang_a",
    )


# --------------------------------------------------------------------------------------------- a day's plan


def staffing_plan(
    calls_per_interval: Sequence[float],
    aht_seconds: float,
    target_level: float,
    target_seconds: float = ANSWER_TARGET_SECONDS,
    *,
    interval_seconds: float = HALF_HOUR_SECONDS,
    patience_seconds: float | None = None,
    max_occupancy: float = DEFAULT_MAX_OCCUPANCY,
    shrinkage: float = DEFAULT_SHRINKAGE,
    max_abandonment: float | None = None,
) -> list[StaffingResult]:
    """Agents per interval for a forecast (e.g. 48 half hours of a day), Erlang A when ``patience_seconds`` is
    given, else Erlang C. ``[r.scheduled for r in plan]`` is what ``roster.size_teams`` takes."""
    if patience_seconds is None:
        if max_abandonment is not None:
            raise ValueError("max_abandonment needs patience_seconds (Erlang A); Erlang C has no abandonment")
        return [
            agents_needed(
                calls, interval_seconds, aht_seconds, target_level, target_seconds, max_occupancy, shrinkage
            )
            for calls in calls_per_interval
        ]
    return [
        agents_needed_erlang_a(
            calls,
            interval_seconds,
            aht_seconds,
            target_level,
            target_seconds,
            patience_seconds,
            max_occupancy,
            shrinkage,
            max_abandonment,
        )
        for calls in calls_per_interval
    ]
