"""The 警单 state machine of the police site: states, actions, and who may take which action from where."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from civiclink.orgs.roles import Role


class IncidentState(StrEnum):
    RECEIVED = "received"  # 待签收: pushed by 12345, not yet signed for
    SIGNED = "signed"  # 已受理
    DISPATCHED = "dispatched"  # 已派警
    ARRIVED = "arrived"  # 已到场
    FINISHED = "finished"  # 已处置反馈
    RETURNED = "returned"  # 已退回 12345 (with a reason)
    TRANSFERRED_TO_12345 = "transferred_to_12345"  # 双非 matter handed to 12345; waits for its write-back
    CLOSED = "closed"  # 12345 wrote its result back


TERMINAL = frozenset({IncidentState.FINISHED, IncidentState.RETURNED, IncidentState.CLOSED})


class IncidentAction(StrEnum):
    SIGN = "sign"
    RETURN = "return"
    DISPATCH = "dispatch"
    ARRIVE = "arrive"
    FINISH = "finish"
    TRANSFER_TO_12345 = "transfer_to_12345"
    JOINT_TO_12345 = "joint_to_12345"


@dataclass(frozen=True)
class IncidentRule:
    sources: frozenset[IncidentState]
    roles: frozenset[Role]
    target: IncidentState | None = None


S, R = IncidentState, Role
POLICE = frozenset({R.POLICE_OPERATOR, R.POLICE_COMMANDER})
ON_SCENE = frozenset({S.DISPATCHED, S.ARRIVED})

INCIDENT_RULES: dict[IncidentAction, IncidentRule] = {
    IncidentAction.SIGN: IncidentRule(frozenset({S.RECEIVED}), POLICE, S.SIGNED),
    IncidentAction.RETURN: IncidentRule(frozenset({S.RECEIVED}), POLICE, S.RETURNED),
    # 派警; an emergency may be dispatched straight from 待签收 (R-203: at once, whatever else is pending).
    IncidentAction.DISPATCH: IncidentRule(frozenset({S.RECEIVED, S.SIGNED}), frozenset({R.POLICE_COMMANDER}),
                                          S.DISPATCHED),
    IncidentAction.ARRIVE: IncidentRule(frozenset({S.DISPATCHED}), POLICE, S.ARRIVED),
    IncidentAction.FINISH: IncidentRule(frozenset({S.SIGNED, *ON_SCENE}), POLICE, S.FINISHED),
    # 双非: not a police matter → 12345 (R-201/R-204 from the 110 side).
    IncidentAction.TRANSFER_TO_12345: IncidentRule(frozenset({S.SIGNED}), POLICE, S.TRANSFERRED_TO_12345),
    # police dispatched first, the administrative part goes to 12345 (联合调处); the police part goes on.
    IncidentAction.JOINT_TO_12345: IncidentRule(frozenset(ON_SCENE | {S.FINISHED}), POLICE),
}
