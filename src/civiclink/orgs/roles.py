"""Roles of both sites, and the acting identity every ``do_*`` action receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    OPERATOR = "operator"  # 话务员
    DISPATCHER = "dispatcher"  # 派单员
    UNIT_STAFF = "unit_staff"  # 承办单位人员
    SUPERVISOR = "supervisor"  # 督办员
    CALLBACK_AGENT = "callback_agent"  # 回访员
    ADMIN = "admin"  # 管理员
    LEADER = "leader"  # 指挥中心领导 (read-only figures)
    POLICE_OPERATOR = "police_operator"  # 110 接警员
    POLICE_COMMANDER = "police_commander"  # 110 指挥员
    CTI = "cti"  # 电话系统接口: the telephony adapter's account, which posts call events (docs/cti.md)


# Roles that see the caller's name and phone in clear (R-507 least privilege): the people who talk to the
# caller. Handling-unit staff see them too unless the caller asked for confidentiality (GB/T 33358).
PII_ROLES = frozenset({Role.OPERATOR, Role.DISPATCHER, Role.CALLBACK_AGENT})
PII_ROLES_UNLESS_CONFIDENTIAL = frozenset({Role.UNIT_STAFF})


@dataclass(frozen=True)
class Actor:
    """Who is acting. ``user_id`` is None for the system itself (imports, sweeps, the exchange)."""

    username: str
    roles: frozenset[Role] = field(default_factory=frozenset)
    user_id: int | None = None
    display_name: str = ""
    unit_id: int | None = None
    unit_code: str | None = None

    def has(self, *roles: Role) -> bool:
        return any(r in self.roles for r in roles)

    @property
    def is_system(self) -> bool:
        return self.user_id is None

    def sees_pii(self, *, confidential: bool) -> bool:
        if self.roles & PII_ROLES:
            return True
        return bool(self.roles & PII_ROLES_UNLESS_CONFIDENTIAL) and not confidential


SYSTEM = Actor(username="system", display_name="系统", roles=frozenset(Role))
