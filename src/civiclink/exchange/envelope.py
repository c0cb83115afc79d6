"""Signed JSON envelopes (design §6, docs/exchange.md).

An envelope is a JSON object with the fields below plus ``signature``: the lowercase hex HMAC-SHA256, under
the secret the two sites share, of the envelope's *canonical form* — the object without ``signature``,
serialized with sorted keys, no whitespace (``","`` and ``":"``), non-ASCII characters as themselves, UTF-8.
Anyone implementing the other end (a police CAD) needs only these few lines.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from civiclink.errors import DomainError

PROTOCOL_VERSION = "1"
FIELDS = ("version", "message_id", "case_ref", "seq", "type", "sender", "receiver", "sent_at", "body")

# Every message type and what it means (docs/exchange.md; a JSON Schema for each body in docs/exchange/schemas/).
MESSAGE_TYPES = {
    "transfer.offer": "转办/推送：对方新建警单或工单",
    "transfer.accept": "签收（接收方已受理，附本方编号）",
    "transfer.reject": "退回（附理由）",
    "consultation.opened": "三方通话开始（参与方）",
    "consultation.result": "三方通话结果（对方受理或首接兜底）",
    "progress": "办理进展（派单、签收、退单、答复等节点）",
    "police.dispatched": "已派警（处警单位、时间）",
    "police.arrived": "已到场",
    "result": "处置结果反馈（反馈回写）",
    "joint.part_done": "联合调处分案办结",
    "close": "办结归档（含回访结果）",
}


class EnvelopeError(DomainError):
    """The envelope is malformed, unsigned, forged or not for us (HTTP 401/422)."""

    status_code = 422
    code = "bad_envelope"


class BadSignature(EnvelopeError):
    status_code = 401
    code = "bad_signature"


def canonical(envelope: dict[str, Any]) -> bytes:
    unsigned = {k: v for k, v in envelope.items() if k != "signature"}
    return json.dumps(unsigned, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign(envelope: dict[str, Any], secret: str) -> str:
    return hmac.new(secret.encode("utf-8"), canonical(envelope), hashlib.sha256).hexdigest()


def build(*, case_ref: str, seq: int, type: str, sender: str, receiver: str, body: dict, secret: str,
          sent_at: datetime | None = None, message_id: str | None = None) -> dict[str, Any]:
    if type not in MESSAGE_TYPES:
        raise ValueError(f"unknown message type {type!r}")
    envelope = {
        "version": PROTOCOL_VERSION,
        "message_id": message_id or str(uuid.uuid4()),
        "case_ref": case_ref,
        "seq": seq,
        "type": type,
        "sender": sender,
        "receiver": receiver,
        "sent_at": (sent_at or datetime.now(UTC)).astimezone(UTC).isoformat(),
        "body": body,
    }
    envelope["signature"] = sign(envelope, secret)
    return envelope


def check_shape(envelope: Any) -> dict[str, Any]:
    """Raise unless ``envelope`` has every field with the right type (before looking at the signature)."""
    if not isinstance(envelope, dict):
        raise EnvelopeError("信封必须是 JSON 对象")
    missing = [f for f in (*FIELDS, "signature") if f not in envelope]
    if missing:
        raise EnvelopeError(f"信封缺少字段：{', '.join(missing)}")
    extra = set(envelope) - {*FIELDS, "signature"}
    if extra:
        raise EnvelopeError(f"信封含未知字段：{', '.join(sorted(extra))}")
    for name in ("message_id", "case_ref", "type", "sender", "receiver", "sent_at", "signature", "version"):
        if not isinstance(envelope[name], str) or not envelope[name] or "\x00" in envelope[name]:
            raise EnvelopeError(f"信封字段 {name} 必须是非空字符串")
    if envelope["version"] != PROTOCOL_VERSION:
        raise EnvelopeError(f"不支持的协议版本 {envelope['version']!r}（本站为 {PROTOCOL_VERSION}）")
    try:
        canonical_id = str(uuid.UUID(envelope["message_id"]))
    except ValueError as exc:
        raise EnvelopeError("message_id 必须是 UUID") from exc
    if canonical_id != envelope["message_id"]:
        # One spelling only (lowercase, hyphenated): two spellings of one UUID must not pass the inbox twice.
        raise EnvelopeError("message_id 须为小写、带连字符的标准 UUID 写法")
    if len(envelope["case_ref"]) > 100:
        raise EnvelopeError("case_ref 过长（最多 100 个字符）")
    if not isinstance(envelope["seq"], int) or isinstance(envelope["seq"], bool) or not 1 <= envelope["seq"] < 2**31:
        raise EnvelopeError("seq 必须是正整数")
    if envelope["type"] not in MESSAGE_TYPES:
        raise EnvelopeError(f"未知的消息类型 {envelope['type']!r}")
    if not isinstance(envelope["body"], dict):
        raise EnvelopeError("body 必须是 JSON 对象")
    sent_at(envelope)
    return envelope


def sent_at(envelope: dict[str, Any]) -> datetime:
    try:
        moment = datetime.fromisoformat(envelope["sent_at"])
    except (TypeError, ValueError) as exc:
        raise EnvelopeError("sent_at 必须是 ISO 8601 时间") from exc
    if moment.tzinfo is None:
        raise EnvelopeError("sent_at 必须带时区")
    return moment


def verify(envelope: dict[str, Any], secret: str) -> None:
    expected = sign(envelope, secret)
    if not hmac.compare_digest(expected, envelope.get("signature", "")):
        raise BadSignature("信封签名校验失败（伪造、被篡改或密钥不一致）")


def dumps(envelope: dict[str, Any]) -> str:
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))
