"""The whole engine on the hand-written evaluation sets (tests/triage/data, written apart from the rules and
the training examples). ``route_dev`` was used to tune the rules; ``route_holdout`` never was — its floors
here only guard against regressions (the figures are in bench/triage.py and the closing note)."""

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from civiclink.triage.service import TriageEngine, TriageInput

DATA = Path(__file__).parent / "data"
TYPES = {"咨询": "consultation", "求助": "help", "投诉": "complaint", "举报": "report", "建议": "suggestion"}


def evaluate(state, session, name):
    engine = TriageEngine(model_path=None)
    directory = state.directory.get(session)
    cases = yaml.safe_load((DATA / f"route_{name}.yaml").read_text(encoding="utf-8"))
    routes, urgency, types = Counter(), 0, 0
    for case in cases:
        result = engine.triage(TriageInput(text=case["text"]), directory=directory, session=None,
                               now=datetime.now(UTC))
        routes[(case["route"], result["route"])] += 1
        urgency += result["urgency"] == case["urgency"]
        types += result["request_type"] == TYPES[case["request_type"]]
    n = len(cases)
    correct = sum(v for (gold, got), v in routes.items() if gold == got)
    # A police matter routed to 12345 or turned away: the one error that must not happen (R-203, R-1007).
    safety = sum(v for (gold, got), v in routes.items() if gold in ("110", "joint") and got in ("12345", "not_accepted"))
    return correct / n, safety, urgency / n, types / n


@pytest.mark.parametrize("name, route_floor, safety_max, urgency_floor, type_floor", [
    ("dev", 0.92, 0, 0.85, 0.75),
    ("holdout", 0.80, 4, 0.75, 0.70),
])
def test_route_set(state, session, name, route_floor, safety_max, urgency_floor, type_floor):
    route, safety, urgency, types = evaluate(state, session, name)
    assert route >= route_floor and safety <= safety_max, (route, safety)
    assert urgency >= urgency_floor and types >= type_floor, (urgency, types)
