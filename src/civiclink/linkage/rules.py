"""The rules of the 12345 ↔ 110 linkage (design §5), each a small named function that cites its requirement.

The actions (``linkage.actions``, ``incidents.actions``) and the inbound handlers (``linkage.handlers``) call
these; the tests call them directly too. None of them writes anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from civiclink.config import Limit, PeerSettings, Settings
from civiclink.errors import Invalid, InvalidTransition
from civiclink.sla.calendar import WorkCalendar
from civiclink.workorders.models import Channel

TRANSFER_KINDS = ("transfer", "emergency", "stability_lead", "escalation", "joint")
CHANNELS = ("one_click", "three_party", "system_push")

# Reason codes of R-211.
REASON_CODES = {
    "other_scope": "对方受理范围",
    "emergency_first": "紧急先期处置后转办",
    "internet_channel": "互联网渠道",
    "stability_lead": "稳定线索",
    "escalation": "矛盾激化升级",
    "joint_mediation": "联合调处",
    "consultation": "三方通话协商结果",
}


def same_level_peer(settings: Settings) -> PeerSettings:
    """Design §2 / R-205: a 12345 links with the 110 *of the same level* (市↔市, 县↔县), never another level."""
    peer = settings.linked_peer()
    if peer is None:
        other = "110" if settings.site_role == "hotline" else "12345"
        level = "市级" if settings.site_level == "city" else "县级"
        raise Invalid(f"本站未配置同级（{level}）{other} 对接站点，无法转办（请在 peers 中配置）")
    return peer


def transfer_allowed(previous_transfers: int, *, max_retransfers: int) -> bool:
    """R-212 no ping-pong: a matter is transferred once, and re-transferred at most ``max_retransfers`` times."""
    return previous_transfers < 1 + max_retransfers


def check_transfer_allowed(previous_transfers: int, *, max_retransfers: int, first_receiver: str) -> None:
    if not transfer_allowed(previous_transfers, max_retransfers=max_retransfers):
        raise InvalidTransition(
            f"该事项已在 12345 与 110 之间转办 {previous_transfers} 次，不能再转（R-212 禁止来回推诿）；"
            f"按首接负责制由首接平台（{first_receiver}）办理"
        )


def may_return(*, own_site: str, first_receiver: str, previous_transfers: int, emergency: bool) -> str | None:
    """May the receiver return (退回) a pushed matter? None if yes, else why not.

    R-203: an emergency is never returned — 110 dispatches first, whatever the outcome of any negotiation.
    R-212: a matter that has come back to the platform that first received it stays there (首接); it does not
    bounce again.
    """
    if emergency:
        return "紧急警情须先行派警处置，不能退回（R-203）"
    if own_site == first_receiver and previous_transfers >= 1:
        return "本平台是首接平台，事项转出后又被转回，按首接负责制由本平台办理，不能再退回（R-202/R-212）"
    return None


def check_channel(channel: str, *, order_channel: str | None, emergency: bool) -> None:
    """R-201: a phone matter is transferred by 一键转接; R-204: an internet-channel matter by 系统推送.
    三方通话 (R-202) concludes with the agreed side taking it, by either."""
    if channel not in CHANNELS:
        raise Invalid(f"未知的转办方式 {channel!r}（可选：一键转接 one_click、三方通话 three_party、系统推送 system_push）",
                      field="channel")
    if order_channel is None:
        return
    if channel == "one_click" and order_channel != Channel.PHONE and not emergency:
        raise Invalid("一键转接只用于电话诉求（R-201）；网络渠道诉求请用系统推送（R-204）", field="channel")


def default_channel(order_channel: str | None) -> str:
    """A call in progress is put through (一键转接, R-201); anything else — an internet-channel matter, or one
    first handled and then transferred (先行受理后转办) — is pushed as an online record (系统推送, R-204)."""
    return "one_click" if order_channel == Channel.PHONE else "system_push"


def sign_due(received_at: datetime, limit: Limit, calendar: WorkCalendar) -> datetime:
    """R-204: when a pushed matter must be signed for (签收) or returned."""
    if limit.unit == "wd":
        return calendar.add_working_seconds(calendar.next_midnight(received_at), limit.seconds)[0]
    return received_at + timedelta(seconds=limit.seconds)


def consultation_outcome(requested: str, *, previous_transfers: int, max_retransfers: int) -> str:
    """R-202 + R-212: the outcome of a 三方通话 — the other side takes it only if it may still be transferred;
    otherwise (or with no agreement) the first receiver keeps it (首接兜底)."""
    if requested not in ("other_side", "first_receiver"):
        raise Invalid("通话结果须为 other_side（对方受理）或 first_receiver（首接兜底）", field="outcome")
    if requested == "other_side" and not transfer_allowed(previous_transfers, max_retransfers=max_retransfers):
        return "first_receiver"
    return requested


@dataclass(frozen=True)
class PartStatus:
    side: str
    done: bool


def joint_case_may_close(parts: Iterable[PartStatus], *, callback_done: bool) -> bool:
    """R-307: the parent closes only when every part has closed and the 回访 is done."""
    parts = list(parts)
    return bool(parts) and all(p.done for p in parts) and callback_done


def joint_parts_done(parts: Iterable[PartStatus]) -> bool:
    parts = list(parts)
    return bool(parts) and all(p.done for p in parts)


def may_close_linked(open_links: int) -> str | None:
    """R-503 closed loop: the originating side cannot close a linked matter before the result is written back."""
    if open_links:
        return f"有 {open_links} 项转 110 的事项尚未反馈处置结果，不能办结（R-503 反馈回写后方可办结）"
    return None


def emergency_overrides_consultation() -> str:
    """R-203: an emergency is dispatched at once, whatever else is pending — an open 三方通话 is closed with
    this outcome rather than waited for."""
    return "emergency"
