"""The 工单 state machine (design §4, R-614): states, actions, and which role may take which action from where.

This table is the single source of truth: the actions enforce it, the API lists "what may I do now" from it,
and the tests walk it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from civiclink.orgs.roles import Role


class State(StrEnum):
    REGISTERED = "registered"
    AWAITING_DISPATCH = "awaiting_dispatch"
    DISPATCHED = "dispatched"
    SIGNED = "signed"
    IN_PROGRESS = "in_progress"
    RETURN_REQUESTED = "return_requested"
    EXTENSION_REQUESTED = "extension_requested"
    REPLIED = "replied"
    AWAITING_CALLBACK = "awaiting_callback"
    REOPENED = "reopened"
    CLOSED = "closed"
    CLOSED_AT_INTAKE = "closed_at_intake"
    MERGED = "merged"
    # The 12345 ↔ 110 linkage (design §5, civiclink.linkage): handed to 110, the hotline keeps the linked record
    # and waits for the result (反馈回写); or a push from 110 that the hotline returned (退回, with a reason).
    TRANSFERRED_TO_110 = "transferred_to_110"
    RETURNED_TO_110 = "returned_to_110"


TERMINAL = frozenset({State.CLOSED, State.CLOSED_AT_INTAKE, State.MERGED, State.RETURNED_TO_110})
OPEN = frozenset(State) - TERMINAL


class Action(StrEnum):
    SUBMIT = "submit"
    CLOSE_AT_INTAKE = "close_at_intake"
    DISPATCH = "dispatch"
    SIGN = "sign"
    RETURN = "return"
    APPROVE_RETURN = "approve_return"
    REJECT_RETURN = "reject_return"
    PROGRESS = "progress"
    REQUEST_EXTENSION = "request_extension"
    APPROVE_EXTENSION = "approve_extension"
    REJECT_EXTENSION = "reject_extension"
    PAUSE = "pause"
    RESUME = "resume"
    REPLY = "reply"
    APPROVE_REPLY = "approve_reply"
    REJECT_REPLY = "reject_reply"
    CALLBACK = "callback"
    CLOSE = "close"
    REOPEN = "reopen"
    MERGE = "merge"
    URGE = "urge"
    SUPERVISE = "supervise"
    # Linkage with 110 (civiclink.linkage.orders), and a push from 110 signed
    # for or returned.
    TRANSFER_TO_110 = "transfer_to_110"
    REPORT_TO_110 = "report_to_110"
    ESCALATE_TO_110 = "escalate_to_110"
    ACCEPT_TRANSFER = "accept_transfer"
    REJECT_TRANSFER = "reject_transfer"


@dataclass(frozen=True)
class Rule:
    sources: frozenset[State]
    roles: frozenset[Role]
    # None: the action decides (stays, or depends on its input, e.g. a callback closes only when satisfied).
    target: State | None = None
    # The actor must be staff of the order's current handling unit.
    unit_scoped: bool = False


def _r(sources, roles, target=None, unit_scoped=False) -> Rule:
    return Rule(frozenset(sources), frozenset(roles), target, unit_scoped)


S, R = State, Role
HANDLING = (S.SIGNED, S.IN_PROGRESS)

RULES: dict[Action, Rule] = {
    Action.SUBMIT: _r({S.REGISTERED}, {R.OPERATOR}, S.AWAITING_DISPATCH),
    # 直接办结: a consultation answered on the call from the knowledge base.
    Action.CLOSE_AT_INTAKE: _r({S.REGISTERED, S.AWAITING_DISPATCH}, {R.OPERATOR, R.DISPATCHER}, S.CLOSED_AT_INTAKE),
    # Re-dispatch straight from a return request approves the return (退单 → 改派, R-603).
    Action.DISPATCH: _r({S.AWAITING_DISPATCH, S.RETURN_REQUESTED}, {R.DISPATCHER}, S.DISPATCHED),
    Action.SIGN: _r({S.DISPATCHED, S.REOPENED}, {R.UNIT_STAFF}, S.SIGNED, unit_scoped=True),
    # 退单 with reason and legal basis.
    Action.RETURN: _r({S.DISPATCHED, *HANDLING}, {R.UNIT_STAFF}, S.RETURN_REQUESTED, unit_scoped=True),
    Action.APPROVE_RETURN: _r({S.RETURN_REQUESTED}, {R.DISPATCHER, R.SUPERVISOR}, S.AWAITING_DISPATCH),
    Action.REJECT_RETURN: _r({S.RETURN_REQUESTED}, {R.DISPATCHER, R.SUPERVISOR}),  # back where it was
    Action.PROGRESS: _r(HANDLING, {R.UNIT_STAFF}, S.IN_PROGRESS, unit_scoped=True),
    # 延期 only before the deadline; the check is in the action.
    Action.REQUEST_EXTENSION: _r(HANDLING, {R.UNIT_STAFF}, S.EXTENSION_REQUESTED, unit_scoped=True),
    Action.APPROVE_EXTENSION: _r({S.EXTENSION_REQUESTED}, {R.DISPATCHER, R.SUPERVISOR}, S.IN_PROGRESS),
    Action.REJECT_EXTENSION: _r({S.EXTENSION_REQUESTED}, {R.DISPATCHER, R.SUPERVISOR}, S.IN_PROGRESS),
    # Waiting on the citizen (补充材料, 约定时间) pauses the clock.
    Action.PAUSE: _r(HANDLING, {R.UNIT_STAFF}, unit_scoped=True),
    Action.RESUME: _r(HANDLING, {R.UNIT_STAFF}, unit_scoped=True),
    # A reply while an extension is pending withdraws the request.
    Action.REPLY: _r({*HANDLING, S.EXTENSION_REQUESTED}, {R.UNIT_STAFF}, S.REPLIED, unit_scoped=True),
    Action.APPROVE_REPLY: _r({S.REPLIED}, {R.DISPATCHER, R.SUPERVISOR}, S.AWAITING_CALLBACK),
    Action.REJECT_REPLY: _r({S.REPLIED}, {R.DISPATCHER, R.SUPERVISOR}, S.IN_PROGRESS),
    # 回访 with 5-level satisfaction; satisfied closes, unsatisfied waits for 重办 or a reasoned close.
    Action.CALLBACK: _r({S.AWAITING_CALLBACK}, {R.CALLBACK_AGENT}),
    Action.CLOSE: _r({S.AWAITING_CALLBACK}, {R.CALLBACK_AGENT, R.SUPERVISOR}, S.CLOSED),
    Action.REOPEN: _r({S.AWAITING_CALLBACK}, {R.CALLBACK_AGENT, R.SUPERVISOR}, S.REOPENED),
    # 重复件 into a 主单 (R-603 并单, R-1008).
    Action.MERGE: _r(
        {S.REGISTERED, S.AWAITING_DISPATCH, S.DISPATCHED, *HANDLING, S.REOPENED},
        {R.OPERATOR, R.DISPATCHER},
        S.MERGED,
    ),
    # 催办 / 督办 hit any open order.
    Action.URGE: _r(OPEN, {R.DISPATCHER, R.SUPERVISOR}),
    Action.SUPERVISE: _r(OPEN, {R.SUPERVISOR}),
    # 一键转接 / 系统推送 to 110: at intake, or after first handling (先行受理后转办, R-204); emergencies too.
    Action.TRANSFER_TO_110: _r(
        {S.REGISTERED, S.AWAITING_DISPATCH, S.DISPATCHED, *HANDLING, S.RETURN_REQUESTED, S.EXTENSION_REQUESTED,
         S.REPLIED, S.AWAITING_CALLBACK, S.REOPENED},
        {R.OPERATOR, R.DISPATCHER},
        S.TRANSFERRED_TO_110,
    ),
    # 影响社会稳定的线索 → same-level 110 at once, flagged; the 工单 goes on.
    Action.REPORT_TO_110: _r(OPEN - {S.TRANSFERRED_TO_110}, {R.OPERATOR, R.DISPATCHER, R.SUPERVISOR}),
    # The handling unit calls in 110 when the conflict sharpens; the 工单 goes on, linked.
    Action.ESCALATE_TO_110: _r({*HANDLING, S.EXTENSION_REQUESTED}, {R.UNIT_STAFF}, unit_scoped=True),
    # A push from 110 is signed for (签收 → 待派单) or returned with a reason.
    Action.ACCEPT_TRANSFER: _r({S.REGISTERED}, {R.OPERATOR, R.DISPATCHER}, S.AWAITING_DISPATCH),
    Action.REJECT_TRANSFER: _r({S.REGISTERED}, {R.OPERATOR, R.DISPATCHER}, S.RETURNED_TO_110),
}

# Everything a role can ever do, for the role × endpoint matrix.
ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    role: frozenset(a for a, rule in RULES.items() if role in rule.roles) for role in Role
}

# The register action is not a transition; it has its own role set.
REGISTER_ROLES = frozenset({Role.OPERATOR})
READ_ALL_ROLES = frozenset(
    {Role.OPERATOR, Role.DISPATCHER, Role.SUPERVISOR, Role.CALLBACK_AGENT, Role.ADMIN, Role.LEADER}
)
