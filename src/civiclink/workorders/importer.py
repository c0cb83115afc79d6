"""Bulk import of historical (finished) 工单 from CSV: ``civiclink import orders FILE``.

The file is streamed, never loaded whole: rows are validated one by one, good rows are inserted in batches
with one ``executemany``, and each batch is one audit event (``import.orders_batch``) that names its rows
by a digest; every imported order points at its batch, so its timeline shows where it came from.
A rerun skips numbers that are already in the database, so an interrupted import can simply be run again.

Columns (UTF-8, header row; codes or the Chinese labels are accepted for enumerations):
    number*, registered_at*, channel*, request_type*, title*, content*, category, address, place, urgency,
    caller_name, caller_phone, confidential, handling_unit, state (closed | closed_at_intake; default closed),
    reply, replied_at, closed_at, satisfaction (1–5 or 非常满意…非常不满意)
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import case, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from civiclink.audit.service import record_event
from civiclink.config import Settings
from civiclink.db import UTCDateTime, begin_write, utcnow
from civiclink.i18n import LABELS
from civiclink.orgs.roles import SYSTEM, Actor
from civiclink.orgs.service import OrgDirectory
from civiclink.workorders.models import Channel, NumberCounter, RequestType, Urgency, WorkOrder
from civiclink.workorders.schemas import PHONE_RE
from civiclink.workorders.states import State

REQUIRED = ("number", "registered_at", "channel", "request_type", "title", "content")
IMPORTABLE_STATES = {State.CLOSED.value, State.CLOSED_AT_INTAKE.value}
MAX_KEPT_ERRORS = 10_000
NUMBER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_/]{2,31}$")
TRUE_WORDS = {"1", "true", "yes", "y", "是", "保密"}
FALSE_WORDS = {"", "0", "false", "no", "n", "否"}


@dataclass
class RowError:
    line: int
    reason: str


@dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    batches: int = 0
    seconds: float = 0.0

    def error(self, line: int, reason: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_KEPT_ERRORS:
            self.errors.append(RowError(line, reason))


def _reverse(kind: str, enum) -> dict[str, str]:
    out = {m.value: m.value for m in enum}
    out.update({v: k for k, v in LABELS[kind].items()})
    return out


class RowParser:
    """Turns one CSV row into the column values of a ``work_order`` row, or raises ValueError(reason)."""

    def __init__(self, directory: OrgDirectory, tz: ZoneInfo, center_id: int | None, now: datetime):
        self.d = directory
        self.tz = tz
        self.center_id = center_id
        self.now = now
        self.channels = _reverse("channel", Channel)
        self.request_types = _reverse("request_type", RequestType)
        self.urgencies = _reverse("urgency", Urgency)
        self.states = {**{s: s for s in IMPORTABLE_STATES}, "已办结": "closed", "办结": "closed", "直接办结": "closed_at_intake"}
        self.satisfaction = {str(i): i for i in range(1, 6)}
        self.satisfaction.update({v: int(k) for k, v in LABELS["satisfaction"].items()})
        self.categories: dict[str, int | None] = {}
        for c in directory.categories.values():
            if c.active:
                for key in (c.code, c.path_name, c.name):
                    self.categories[key] = None if key in self.categories and self.categories[key] != c.id else c.id
        self.units: dict[str, int | None] = {}
        for u in directory.units.values():
            if u.active:
                for key in (u.code, u.name, u.full_name, u.short_name):
                    if key:
                        self.units[key] = None if key in self.units and self.units[key] != u.id else u.id

    def _time(self, value: str, column: str) -> datetime:
        text = value.strip().replace("/", "-")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"{column} 时间格式不正确：{value!r}（应为 YYYY-MM-DD HH:MM[:SS]）") from exc
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.tz)
        moment = moment.astimezone(UTC)
        if moment > self.now:
            raise ValueError(f"{column} 不能晚于当前时间：{value}")
        return moment

    def _lookup(self, table: dict, value: str, what: str) -> int | None:
        if not value:
            return None
        if value not in table:
            raise ValueError(f"{what} {value!r} 不存在")
        found = table[value]
        if found is None:
            raise ValueError(f"{what}名称 {value!r} 不唯一，请改用编码")
        return found

    def _enum(self, table: dict, value: str, what: str, default: str | None = None) -> str:
        value = value.strip()
        if not value and default is not None:
            return default
        if value not in table:
            raise ValueError(f"{what} {value!r} 无法识别")
        return table[value]

    def parse(self, row: dict[str, str]) -> dict:
        for column in REQUIRED:
            if not (row.get(column) or "").strip():
                raise ValueError(f"缺少必填列 {column}")
        number = row["number"].strip()
        if not NUMBER_RE.match(number):
            raise ValueError(f"工单编号格式不正确：{number!r}")
        registered_at = self._time(row["registered_at"], "registered_at")
        state = self._enum(self.states, row.get("state") or "", "状态", default=State.CLOSED.value)
        closed_text = (row.get("closed_at") or "").strip()
        closed_at = self._time(closed_text, "closed_at") if closed_text else registered_at
        if closed_at < registered_at:
            raise ValueError("closed_at 早于 registered_at")
        replied_text = (row.get("replied_at") or "").strip()
        replied_at = self._time(replied_text, "replied_at") if replied_text else None
        phone = (row.get("caller_phone") or "").strip().replace("-", "").replace(" ", "") or None
        if phone and not PHONE_RE.match(phone):
            raise ValueError("caller_phone 电话号码格式不正确")
        confidential_text = (row.get("confidential") or "").strip().lower()
        if confidential_text not in TRUE_WORDS | FALSE_WORDS:
            raise ValueError(f"confidential 应为 是/否 或 1/0，而不是 {confidential_text!r}")
        request_type = self._enum(self.request_types, row["request_type"], "诉求类型")
        reply = (row.get("reply") or "").strip() or None
        if state == State.CLOSED_AT_INTAKE.value and request_type != RequestType.CONSULTATION.value:
            raise ValueError("只有咨询类诉求可以是直接办结")
        satisfaction_text = (row.get("satisfaction") or "").strip()
        satisfaction = self._enum(self.satisfaction, satisfaction_text, "满意度") if satisfaction_text else None
        title, content = row["title"].strip(), row["content"].strip()
        if len(title) > 200 or len(content) > 8000:
            raise ValueError("标题超过 200 字或内容超过 8000 字")
        handling_unit_id = self._lookup(self.units, (row.get("handling_unit") or "").strip(), "承办单位")
        place_id = self._lookup(self.units, (row.get("place") or "").strip(), "属地")
        address = (row.get("address") or "").strip() or None
        if place_id is None and address:
            place = self.d.resolve_place(address)
            place_id = place.id if place else None
        return {
            "number": number,
            "version": 1,
            "state": state,
            "channel": self._enum(self.channels, row["channel"], "渠道"),
            "request_type": request_type,
            "urgency": self._enum(self.urgencies, row.get("urgency") or "", "紧急程度", default=Urgency.NORMAL.value),
            "category_id": self._lookup(self.categories, (row.get("category") or "").strip(), "诉求分类"),
            "title": title,
            "content": content,
            "address": address[:300] if address else None,
            "place_id": place_id,
            "caller_name": ((row.get("caller_name") or "").strip() or None),
            "caller_phone": phone,
            "caller_confidential": confidential_text in TRUE_WORDS,
            "registered_at": registered_at,
            "registered_by_id": None,
            "owner_unit_id": handling_unit_id or self.center_id,
            "suggested_unit_id": None,
            "handling_unit_id": handling_unit_id,
            "dispatch_round": 1 if handling_unit_id else 0,
            "return_count": 0, "reopen_count": 0, "extension_count": 0, "urge_count": 0, "supervise_count": 0,
            "supervised": False, "duplicate_count": 0, "merged_into_id": None, "waiting_on_citizen": False,
            "linked": False, "joint_case_id": None,
            "state_before": None,
            "intake_answer": reply if state == State.CLOSED_AT_INTAKE.value else None,
            "intake_knowledge_code": None,
            "reply_content": reply if state == State.CLOSED.value else None,
            "replied_at": replied_at,
            "satisfaction": satisfaction,
            "callback_count": 1 if satisfaction else 0,
            "closed_at": closed_at,
            "close_reason": None,
            "source": "import",
            "is_demo": False,
            "updated_at": self.now,
        }


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str], int]]:
    with path.open("rb") as raw:
        stream = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        reader = csv.DictReader(stream)
        if reader.fieldnames is None:
            return
        missing = [c for c in REQUIRED if c not in reader.fieldnames]
        if missing:
            raise ValueError(f"CSV 缺少列：{', '.join(missing)}")
        for row in reader:
            yield reader.line_num, row, raw.tell()


def import_orders_csv(
    settings: Settings,
    path: Path,
    *,
    batch_size: int = 2000,
    actor: Actor = SYSTEM,
    progress: Callable[[int], None] | None = None,
    state=None,
) -> ImportReport:
    """Import ``path``; returns counts and the first errors (line numbers refer to the file)."""
    from civiclink.app import build_state

    own_state = state is None
    state = state or build_state(settings)
    report = ImportReport()
    started = time.perf_counter()
    run_id = uuid.uuid4().hex[:12]
    session = state.sessions()
    try:
        now = utcnow()
        directory = state.directory.get(session)
        center = directory.hotline_center()
        parser = RowParser(directory, settings.tz, center.id if center else None, now)
        session.rollback()  # end the read; each batch is its own write transaction
        batch: dict[str, tuple[int, dict]] = {}
        try:
            for line, row, position in _rows(path):
                report.rows += 1
                try:
                    values = parser.parse(row)
                except ValueError as exc:
                    report.error(line, str(exc))
                    continue
                if values["number"] in batch:
                    report.error(line, f"工单编号 {values['number']} 在文件中重复（第 {batch[values['number']][0]} 行）")
                    continue
                batch[values["number"]] = (line, values)
                if len(batch) >= batch_size:
                    _flush(session, batch, report, run_id=run_id, source=path.name, actor=actor, now=now,
                           prefix=settings.number_prefix)
                    batch = {}
                    if progress:
                        progress(position)
            if batch:
                _flush(session, batch, report, run_id=run_id, source=path.name, actor=actor, now=now,
                       prefix=settings.number_prefix)
        except ValueError as exc:  # a file-level problem (missing columns)
            report.error(1, str(exc))
        except UnicodeDecodeError:
            report.error(report.rows + 1, "文件不是 UTF-8 编码")
        if progress:
            progress(path.stat().st_size)
    finally:
        session.close()
        if own_state:
            state.engine.dispose()
    report.seconds = time.perf_counter() - started
    return report


def _flush(session, batch: dict[str, tuple[int, dict]], report: ImportReport, *, run_id: str, source: str,
           actor: Actor, now: datetime, prefix: str) -> None:
    """Insert one batch in its own transaction, skipping numbers already present."""
    begin_write(session)
    found = dict(session.execute(
        select(WorkOrder.number, WorkOrder.import_batch).where(WorkOrder.number.in_(list(batch)))
    ).all())
    this_run = f"imp-{run_id}-"
    rows = []
    for number, (line, values) in batch.items():
        if number not in found:
            rows.append(values)
        elif (found[number] or "").startswith(this_run):
            # Inserted by an earlier batch of this same file: a duplicate in the file, not a rerun.
            report.error(line, f"工单编号 {number} 在文件中重复")
        else:
            report.skipped += 1
    existing = set(found)
    if rows:
        report.batches += 1
        batch_id = f"imp-{run_id}-{report.batches:05d}"
        digest = hashlib.sha256()
        for values in rows:
            values["import_batch"] = batch_id
            digest.update(values["number"].encode())
            digest.update(b"\x00")
            digest.update(values["content"].encode())
            digest.update(b"\x01")
        _insert_rows(session, rows)
        _bump_counters(session, [v["number"] for v in rows], prefix)
        lines = [line for number, (line, _v) in batch.items() if number not in existing]
        record_event(
            session, actor=actor, actor_role="admin", action="import.orders_batch", entity_type="import_batch",
            entity_ref=batch_id, at=now,
            data={"source": source, "rows": len(rows), "first_line": min(lines), "last_line": max(lines),
                  "first_number": rows[0]["number"], "last_number": rows[-1]["number"],
                  "sha256": digest.hexdigest()},
        )
        report.imported += len(rows)
    session.commit()


_COLUMNS = [c.name for c in WorkOrder.__table__.columns if c.name != "id"]
_DATETIME_INDEXES = [i for i, c in enumerate(_COLUMNS) if isinstance(WorkOrder.__table__.c[c].type, UTCDateTime)]


def _insert_rows(session, rows: list[dict]) -> None:
    """One ``executemany`` straight to the driver: the rows are already validated and complete, and the
    per-value processing of the SQL layer would cost more than the insert itself at a million rows.

    Values are given as the column types store them: naive UTC datetimes (as text on SQLite, in the format
    SQLAlchemy writes and reads back; as timestamps on PostgreSQL), booleans as the driver adapts them.
    """
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    sql = f"INSERT INTO work_order ({', '.join(_COLUMNS)}) VALUES ({', '.join([mark] * len(_COLUMNS))})"

    def db(value):
        if value is None:
            return None
        value = value.astimezone(UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else value

    params = []
    for row in rows:
        values = [row[c] for c in _COLUMNS]
        for i in _DATETIME_INDEXES:
            values[i] = db(values[i])
        params.append(tuple(values))
    connection.exec_driver_sql(sql, params)


def _bump_counters(session, numbers: list[str], prefix: str) -> None:
    """Imported numbers of our own format must never be handed out again by the daily counter."""
    pattern = re.compile(rf"^({re.escape(prefix)}\d{{8}})-(\d{{6}})$")
    highest: dict[str, int] = {}
    for number in numbers:
        m = pattern.match(number)
        if m:
            highest[m.group(1)] = max(highest.get(m.group(1), 0), int(m.group(2)))
    if not highest:
        return
    dialect_insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for key, value in highest.items():
        stmt = dialect_insert(NumberCounter).values(key=key, value=value)
        stmt = stmt.on_conflict_do_update(
            index_elements=[NumberCounter.key],
            set_={"value": case((NumberCounter.value > stmt.excluded.value, NumberCounter.value),
                                else_=stmt.excluded.value)},
        )
        session.execute(stmt)
