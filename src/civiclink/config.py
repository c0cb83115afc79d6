"""Settings: built once by ``get_settings()`` and passed into ``create_app(settings)``; never read at import time."""

from __future__ import annotations

import warnings
from datetime import timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "changethis"
PACKAGE_DIR = Path(__file__).resolve().parent


class Limit(BaseModel):
    """A stage time limit: a number of Chinese working days, or of clock hours or minutes.

    Written in configuration as ``"5wd"`` (5 working days), ``"2h"`` (2 hours) or ``"30min"``.
    """

    amount: int = Field(gt=0)
    unit: Literal["wd", "h", "min"]

    @classmethod
    def parse(cls, text: str | Limit) -> Limit:
        if isinstance(text, Limit):
            return text
        text = str(text).strip().lower()
        for unit in ("wd", "min", "h"):
            if text.endswith(unit) and text[: -len(unit)].isdigit():
                return cls(amount=int(text[: -len(unit)]), unit=unit)
        raise ValueError(f"时限格式错误：{text!r}（应为 '5wd' 表示 5 个工作日、'2h' 表示 2 小时或 '30min' 表示 30 分钟）")

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    @property
    def label(self) -> str:
        return f"{self.amount}{ {'wd': '个工作日', 'h': '小时', 'min': '分钟'}[self.unit] }"

    @property
    def seconds(self) -> int:
        """Length on the clock's own axis: working-day seconds for "wd", wall-clock seconds otherwise."""
        return self.amount * {"wd": 86400, "h": 3600, "min": 60}[self.unit]


class StageLimits(BaseModel):
    """Limits of one stage: by urgency first (urgent/emergency override), then by request type, then default."""

    default: Limit
    by_request_type: dict[str, Limit] = Field(default_factory=dict)
    by_urgency: dict[str, Limit] = Field(default_factory=dict)

    @field_validator("default", mode="before")
    @classmethod
    def _parse_default(cls, v):
        return Limit.parse(v)

    @field_validator("by_request_type", "by_urgency", mode="before")
    @classmethod
    def _parse_map(cls, v):
        return {k: Limit.parse(x) for k, x in (v or {}).items()}

    def for_order(self, *, request_type: str, urgency: str) -> Limit:
        if urgency in self.by_urgency:
            return self.by_urgency[urgency]
        return self.by_request_type.get(request_type, self.default)


def _default_sla() -> dict[str, StageLimits]:
    # R-608 [INF] suggested defaults: 紧急 ≤ 2 h, 时效性 (urgent) ≤ 24 h, 咨询 2 working days,
    # 求助/建议 5–10 working days, 投诉/举报 15 working days; 签收 within 1 working day (S36 plnmw);
    # 回访 on the day after the reply, i.e. 1 working day.
    # 派单 (dispatch) is the hotline's own clock: from 受理 to dispatch.
    return {
        "dispatch": StageLimits(default="1wd", by_urgency={"emergency": "30min", "urgent": "2h"}),
        "sign": StageLimits(default="1wd", by_urgency={"emergency": "1h", "urgent": "4h"}),
        "handle": StageLimits(
            default="10wd",
            by_request_type={
                "consultation": "2wd",
                "help": "5wd",
                "suggestion": "10wd",
                "complaint": "15wd",
                "report": "15wd",
            },
            by_urgency={"emergency": "2h", "urgent": "24h"},
        ),
        "callback": StageLimits(default="1wd"),
    }


class SlaSettings(BaseModel):
    """Per-stage clocks (R-608, R-1009): limits, the yellow-warning share, the 退单 window (R-612)."""

    yellow_share: float = Field(default=0.75, gt=0, lt=1)
    stages: dict[Literal["dispatch", "sign", "handle", "callback"], StageLimits] = Field(default_factory=_default_sla)
    return_window: Limit = Field(default_factory=lambda: Limit.parse("1wd"))
    max_extension: Limit = Field(default_factory=lambda: Limit.parse("15wd"))

    @field_validator("return_window", "max_extension", mode="before")
    @classmethod
    def _parse_limit(cls, v):
        return Limit.parse(v)

    @model_validator(mode="after")
    def _all_stages(self):
        missing = {"dispatch", "sign", "handle", "callback"} - set(self.stages)
        if missing:
            defaults = _default_sla()
            for stage in missing:
                self.stages[stage] = defaults[stage]
        return self

    @classmethod
    def from_file(cls, path: Path) -> SlaSettings:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        return cls.model_validate(data)


class PeerSettings(BaseModel):
    """Another site this one exchanges with (design §2: a 12345 links with the 110 of the same level).

    ``secret`` is the key both ends of this pair share for signing envelopes (HMAC-SHA256, docs/exchange.md).
    """

    site_code: str
    base_url: str
    secret: SecretStr
    role: Literal["hotline", "police"] = "police"
    level: Literal["city", "county"] = "city"
    name: str = ""


class ExchangeSettings(BaseModel):
    """The outbox relay (design §6): how it claims, sends, retries and gives up."""

    relay_enabled: bool = True  # run a relay thread inside the server process
    batch_size: int = Field(default=200, ge=1, le=1000)  # envelopes per claim and per POST
    lease_seconds: float = Field(default=30.0, gt=0)  # a claimed message is another relay's after this
    # Then the message is dead-lettered: 30 tries with the default backoff span about 1 h 50 min of outage.
    max_attempts: int = Field(default=30, ge=1)
    backoff_base: float = Field(default=0.5, gt=0)  # seconds before the 2nd attempt; doubles each time
    backoff_max: float = Field(default=300.0, gt=0)
    poll_interval: float = Field(default=1.0, gt=0)  # when nothing wakes the relay (other processes' writes)
    timeout: float = Field(default=10.0, gt=0)  # per HTTP request to the peer
    max_clock_skew_seconds: int = Field(default=300, ge=1)  # an envelope dated further ahead is refused


class SupervisionSettings(BaseModel):
    """The automatic supervision sweep (issue 6, R-610, R-1004, R-1009): how often, and its thresholds."""

    sweep_enabled: bool = True  # run the sweep as a thread of the (12345) server process
    sweep_interval_seconds: float = 300.0
    repeat_threshold: int = 3  # R-1004: a caller or a place with this many open 工单 of one kind
    repeat_caller_days: int = 30
    repeat_place_days: int = 7
    unit_returns_days: int = 30  # a unit's returns over this many days …
    unit_returns_min: int = 3  # … at least this many …
    unit_returns_rate: float = 0.2  # … and at least this share of the rounds it received


class CallCentreSettings(BaseModel):
    """Call records (issue 7; docs/cti.md): how calls are judged for the connection KPIs (design §8, R-805)."""

    answer_target_seconds: int = Field(default=15, ge=1)  # GB/T 33358: answered within 15 s
    redial_minutes: int = Field(default=30, ge=1)  # a call after an unanswered one within this is a redial
    short_abandon_seconds: int = Field(default=5, ge=0)  # hung up this soon: not a call wanting a person
    callback_window_hours: int = Field(default=24, ge=1)  # a missed call is settled by a later answered one within


class Open311Settings(BaseModel):
    """Open311 GeoReport v2 on the 12345 site (issue 8; docs/open311.md)."""

    jurisdiction_id: str = "nantong.gov.cn"  # the one jurisdiction this endpoint serves (the city's web domain)
    batch: bool = False  # services of type "batch": a POST answers a token, GET tokens/{token} the request id
    contact: str = "南通市12345政务服务便民热线 12345@nantong.gov.cn"
    key_service: str = "向12345热线管理员申请 api_key（管理 → 开放接口）"
    changeset: str = "2026-11-29T00:00:00+08:00"  # when the services or the endpoints last changed


class AnalyticsSettings(BaseModel):
    """The roll-ups (issue 6; docs/kpi.md, "Pre-aggregation"; docs/cti.md, "Roll-up"): background tasks that keep
    per-day (and per-month, per-hour) KPI counts on the 12345 server and per-day call sums on both, so that a
    year's figures do not read a year of 工单 or calls."""

    rollup_enabled: bool = True
    rollup_interval_seconds: float = Field(default=60.0, gt=0)  # how soon a change to a past day is rolled up again
    rollup_days_per_run: int = Field(default=31, ge=1)  # a backlog (the first start on old data) a slice at a time


class ReportSettings(BaseModel):
    """Reports (issue 6, parts 2 and 4): the daily 专题日报 task, and the Chinese font the PDF embeds (Debian's
    fonts-noto-cjk; a font collection's face is chosen by its family name)."""

    daily_enabled: bool = True  # generate yesterday's 专题日报 in a thread of the (12345) server process
    daily_interval_seconds: float = Field(default=600.0, gt=0)  # how often it looks for a day not yet reported
    daily_catch_up_days: int = Field(default=3, ge=1, le=31)  # after a stop, the days before yesterday too
    font_path: Path = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
    bold_font_path: Path = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
    font_face: str = "Noto Sans CJK SC"


class LinkageSettings(BaseModel):
    """Limits of the 12345 ↔ 110 rules (design §5)."""

    # a pushed matter must be signed for (签收) or returned within this limit.
    police_sign_limit: Limit = Field(default_factory=lambda: Limit.parse("10min"))
    hotline_sign_limit: Limit = Field(default_factory=lambda: Limit.parse("2h"))
    # after the first transfer a matter may be transferred once more; then 首接 applies.
    max_retransfers: int = Field(default=1, ge=0)
    # the police part of a 联合调处 case feeds back within 24 h; the case is mediated within 5 days.
    joint_police_part_limit: Limit = Field(default_factory=lambda: Limit.parse("24h"))
    joint_case_limit: Limit = Field(default_factory=lambda: Limit.parse("5wd"))

    @field_validator("police_sign_limit", "hotline_sign_limit", "joint_police_part_limit", "joint_case_limit",
                     mode="before")
    @classmethod
    def _parse_limit(cls, v):
        return Limit.parse(v)


class TriageSettings(BaseModel):
    """Triage (design §7): where the trained models are, and how far back duplicates are looked for."""

    # Written by `civiclink model train`; relative paths are under the working directory, like the database.
    model_path: Path = Path("var/models/triage.pkl")
    # jieba's dictionary cache (it would otherwise write into the temp dir; stack.md §2).
    cache_dir: Path = Path("var/cache")
    duplicate_window_days: int = Field(default=365, ge=1, le=3660)  # R-1008: open or recent orders
    place_window_days: int = Field(default=7, ge=1, le=365)  # same 属地 and category within this many days
    knowledge_limit: int = Field(default=3, ge=1, le=10)
    # Load the models and build the duplicate index in the background at start-up (not on the first request).
    warm_up: bool = True


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CIVICLINK_", env_file=".env", env_nested_delimiter="__", extra="ignore"
    )

    environment: Literal["local", "test", "production"] = "local"
    site_role: Literal["hotline", "police"] = "hotline"
    site_code: str = "nt-12345"
    site_name: str = "南通市12345政务服务便民热线"
    site_level: Literal["city", "county"] = "city"
    database_url: str = "sqlite:///var/civiclink.db"
    database_echo: bool = False
    database_pool_size: int = Field(default=20, ge=1)
    database_max_overflow: int = Field(default=20, ge=0)
    timezone: str = "Asia/Shanghai"
    number_prefix: str = "NT"
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET)
    token_ttl_hours: int = Field(default=12, gt=0)
    org_file: Path | None = None
    sla_file: Path | None = None
    sla: SlaSettings = Field(default_factory=SlaSettings)
    peers: list[PeerSettings] = Field(default_factory=list)
    exchange: ExchangeSettings = Field(default_factory=ExchangeSettings)
    linkage: LinkageSettings = Field(default_factory=LinkageSettings)
    triage: TriageSettings = Field(default_factory=TriageSettings)
    supervision: SupervisionSettings = Field(default_factory=SupervisionSettings)
    reports: ReportSettings = Field(default_factory=ReportSettings)
    analytics: AnalyticsSettings = Field(default_factory=AnalyticsSettings)
    calls: CallCentreSettings = Field(default_factory=CallCentreSettings)
    open311: Open311Settings = Field(default_factory=Open311Settings)
    peers_file: Path | None = None  # YAML list of peers (the demo writes one per site)
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _load_sla_file(self):
        if self.sla_file is not None:
            self.sla = SlaSettings.from_file(self.sla_file)
        return self

    @model_validator(mode="after")
    def _load_peers_file(self):
        if self.peers_file is not None:
            data = yaml.safe_load(Path(self.peers_file).read_text(encoding="utf-8")) or []
            self.peers = [PeerSettings.model_validate(p) for p in data]
        return self

    @model_validator(mode="after")
    def _enforce_non_default_secrets(self):
        if self.secret_key.get_secret_value() == DEFAULT_SECRET:
            message = "CIVICLINK_SECRET_KEY is still 'changethis'; set a real secret outside local/test."
            if self.environment == "production":
                raise ValueError(message)
            warnings.warn(message, stacklevel=1)
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def token_ttl(self) -> timedelta:
        return timedelta(hours=self.token_ttl_hours)

    def peer(self, site_code: str) -> PeerSettings | None:
        return next((p for p in self.peers if p.site_code == site_code), None)

    def linked_peer(self) -> PeerSettings | None:
        """The other platform of the same level (design §2: 市12345 ↔ 市110, 县12345 ↔ 县110)."""
        other = "police" if self.site_role == "hotline" else "hotline"
        return next((p for p in self.peers if p.role == other and p.level == self.site_level), None)

    @property
    def resolved_org_file(self) -> Path:
        return self.org_file or PACKAGE_DIR / "orgs" / "data" / "nantong.yaml"


def get_settings(**overrides) -> Settings:
    """Build settings from the environment (and ``.env``), with explicit overrides on top."""
    return Settings(**overrides)
