"""Realistic demo activity: users for every role, and a few thousand orders over the last weeks.

Every order is driven through the real ``do_*`` actions at simulated times, so each one has its full history
in the audit chain, its clocks and sub-records, exactly as if people had worked it. All of it is marked
demo data (``is_demo``). The simulation is seeded, so the same seed gives the same city.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import yaml
from sqlalchemy.orm import Session

from civiclink.context import Ctx
from civiclink.db import begin_write
from civiclink.errors import DomainError
from civiclink.orgs.actions import actor_for, do_create_user
from civiclink.orgs.models import User
from civiclink.orgs.roles import Actor, Role
from civiclink.orgs.schemas import UserCreate
from civiclink.orgs.service import OrgDirectory, UnitInfo
from civiclink.sla.calendar import WorkCalendar
from civiclink.workorders import actions as a
from civiclink.workorders import schemas as s
from civiclink.workorders.models import WorkOrder
from civiclink.workorders.states import Action, State

CORPUS = Path(__file__).with_name("corpus.yaml")
DEMO_PASSWORD = "demo1234"

CENTRE_USERS = [
    ("admin", "系统管理员", [Role.ADMIN]),
    ("operator1", "话务员·陈晓", [Role.OPERATOR]),
    ("operator2", "话务员·王丽", [Role.OPERATOR]),
    ("operator3", "话务员·顾敏", [Role.OPERATOR]),
    ("dispatcher1", "派单员·李强", [Role.DISPATCHER]),
    ("dispatcher2", "派单员·周婷", [Role.DISPATCHER]),
    ("supervisor1", "督办员·徐刚", [Role.SUPERVISOR]),
    ("callback1", "回访员·陆芳", [Role.CALLBACK_AGENT]),
    ("callback2", "回访员·朱琳", [Role.CALLBACK_AGENT]),
    ("leader1", "指挥中心·施主任", [Role.LEADER]),
    ("cti", "电话系统接口（演示）", [Role.CTI]),  # the telephony adapter's account: posts call events (docs/cti.md)
]
CHANNELS = [("phone", 58), ("wechat", 16), ("website", 10), ("app", 10), ("sms", 3), ("email", 3)]
GIVEN_NAMES = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英建华志强海燕国庆红梅建国玉兰晓东"


@dataclass
class DemoStats:
    orders: int = 0
    actions: int = 0
    by_state: dict[str, int] = field(default_factory=dict)


def load_corpus(path: Path = CORPUS) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def unit_username(unit: UnitInfo) -> str:
    return f"u_{unit.code}".replace(".", "_")


def create_demo_users(session: Session, directory: OrgDirectory, *, now: datetime) -> dict[str, User]:
    """The hotline centre's people, plus one staff account for every department and district/county."""
    from civiclink.orgs.roles import SYSTEM

    users: dict[str, User] = {}
    centre = directory.hotline_center()
    for username, name, roles in CENTRE_USERS:
        users[username] = do_create_user(
            session,
            UserCreate(username=username, display_name=name, password=DEMO_PASSWORD, roles=roles,
                       unit_code=centre.code if centre and Role.ADMIN not in roles else None),
            actor=SYSTEM, now=now, is_demo=True,
        )
    for unit in handling_units(directory):
        username = unit_username(unit)
        users[username] = do_create_user(
            session,
            UserCreate(username=username, display_name=f"{unit.short_name or unit.name}·承办员", password=DEMO_PASSWORD,
                       roles=[Role.UNIT_STAFF], unit_code=unit.code),
            actor=SYSTEM, now=now, is_demo=True,
        )
    return users


def handling_units(directory: OrgDirectory) -> list[UnitInfo]:
    """Units the demo dispatches to: departments, district/county governments and their streets/towns."""
    kinds = {"department", "district", "county", "county_city", "zone", "street", "town"}
    return sorted((u for u in directory.units.values() if u.active and u.kind in kinds), key=lambda u: u.code)


class Filler:
    """Fills a template's slots with places from the org tree and the corpus's word lists."""

    def __init__(self, corpus: dict, directory: OrgDirectory, rng: random.Random):
        self.slots = corpus.get("slots", {})
        self.rng = rng
        self.d = directory
        counties = sorted(
            (u for u in directory.units.values() if u.active and u.kind in ("district", "county", "county_city", "zone")),
            key=lambda u: u.code,
        )
        # 崇川 and the zone are the urban core: most calls come from there.
        weights = {"320613": 30, "320612": 14, "320671": 10, "320614": 10, "320682": 9, "320681": 8, "320685": 8, "320623": 7}
        self.counties = counties
        self.county_weights = [weights.get(u.code, 5) for u in counties]

    def place(self) -> tuple[UnitInfo, UnitInfo | None, UnitInfo | None]:
        county = self.rng.choices(self.counties, self.county_weights)[0]
        streets = [u for u in self.d.children(county.id) if u.active and u.is_place()]
        street = self.rng.choice(streets) if streets else None
        communities = [u for u in self.d.children(street.id) if u.active and u.is_place()] if street else []
        community = self.rng.choice(communities) if communities else None
        return county, street, community

    def fill(self, text: str, values: dict[str, str]) -> str:
        out = text
        for key, options in self.slots.items():
            token = "{" + key + "}"
            if token in out:
                values.setdefault(key, self.rng.choice(options))
        for key, value in values.items():
            out = out.replace("{" + key + "}", value)
        return out


@dataclass
class Plan:
    """One order's story: the template, the place, and the people who will work it."""

    template: dict
    values: dict[str, str]
    county: UnitInfo
    street: UnitInfo | None
    community: UnitInfo | None
    order_in: s.OrderCreate
    duplicate_of: str | None = None


class DemoCity:
    def __init__(self, *, ctx: Ctx, users: dict[str, User], corpus: dict, seed: int = 12345):
        self.ctx = ctx
        self.rng = random.Random(seed)
        self.d = ctx.directory
        self.filler = Filler(corpus, self.d, self.rng)
        self.templates = corpus["templates"]
        self.actors = {name: actor_for(u, unit_code=(self.d.unit(u.unit_id).code if u.unit_id else None))
                       for name, u in users.items()}
        self.stats = DemoStats()
        self.now: datetime | None = None
        self.recent_open: list[tuple[str, Plan]] = []

    # -- people ------------------------------------------------------------------------------------------------

    def person(self, role: str) -> Actor:
        names = [n for n, _, roles in CENTRE_USERS if Role(role) in roles]
        return self.actors[self.rng.choice(names)]

    def staff_of(self, order: WorkOrder) -> Actor:
        unit = self.d.unit(order.handling_unit_id)
        return self.actors[unit_username(unit)]

    # -- building requests ---------------------------------------------------------------------------------------

    def new_plan(self) -> Plan:
        rng = self.rng
        if self.recent_open and rng.random() < 0.04:
            number, original = rng.choice(self.recent_open)
            plan = self._plan_from(original.template, dict(original.values), original.county, original.street,
                                   original.community)
            plan.duplicate_of = number
            return plan
        template = rng.choice(self.templates)
        county, street, community = self.filler.place()
        values = {"district": county.name, "street": street.name if street else "",
                  "community": community.name if community else ""}
        return self._plan_from(template, values, county, street, community)

    def _plan_from(self, template, values, county, street, community) -> Plan:
        rng = self.rng
        title = self.filler.fill(template["title"], values)
        content = self.filler.fill(template["content"], values)
        place = community or street or county
        road = values.get("road") or rng.choice(self.filler.slots.get("road", ["人民中路"]))
        address = f"南通市{county.name}{street.name if street else ''}{road}{rng.randint(1, 300)}号"
        surname = rng.choice(self.filler.slots.get("surname", ["张"]))
        anonymous = rng.random() < 0.04
        caller = {
            "name": None if anonymous else surname + "".join(rng.sample(GIVEN_NAMES, rng.choice([1, 2]))),
            "phone": None if anonymous else f"1{rng.choice('3578')}{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}",
            "confidential": rng.random() < 0.05,
        }
        consultation = template["request_type"] == "consultation"
        answer = template.get("answer") if consultation and rng.random() < 0.7 else None
        order_in = s.OrderCreate(
            channel=rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0],
            caller=caller,
            title=title[:200],
            content=content,
            request_type=template["request_type"],
            category=template["category"],
            address=address,
            place=place.code,
            urgency=template.get("urgency", "normal"),
            intake_answer=self.filler.fill(answer, values) if answer else None,
        )
        return Plan(template, values, county, street, community, order_in)

    # -- the story of one order ----------------------------------------------------------------------------------

    def story(self, start: datetime, plan: Plan) -> Iterator[tuple[datetime, Callable[[Ctx], object]]]:
        """Yields (when, step); each step runs an action at that time. The generator sees the results."""
        rng = self.rng
        holder: dict[str, WorkOrder] = {}

        def register(ctx: Ctx):
            holder["order"] = a.do_register_order(ctx, plan.order_in, actor=self.person("operator"),
                                                  source="demo", is_demo=True)
            if plan.order_in.channel == "phone":
                self._call(ctx, holder["order"], plan)
            return holder["order"]

        # Now and then an operator saves a call first and submits it later (a draft, 已登记); among the last
        # hours' calls some are still drafts now.
        recent = self.now is not None and self.now - start < timedelta(hours=12)
        if plan.order_in.intake_answer is None and rng.random() < (0.25 if recent else 0.03):
            plan.order_in = plan.order_in.model_copy(update={"submit": False})
        t = start
        yield t, register
        order = holder["order"]
        if order.state == State.CLOSED_AT_INTAKE:
            return
        number = order.number
        if order.state == State.REGISTERED:
            t += timedelta(minutes=rng.randint(5, 900))
            yield t, self._act(number, Action.SUBMIT, "operator", lambda o: s.Versioned(version=o.version))
        if plan.duplicate_of:
            t += timedelta(minutes=rng.randint(5, 90))
            yield t, self._act(number, Action.MERGE, "dispatcher", lambda o: s.MergeIn(version=o.version,
                                                                                    into=plan.duplicate_of))
            if order.state == State.MERGED:
                return
            # The 主单 was closed meanwhile: this one is handled on its own.
        self.recent_open.append((number, plan))
        if len(self.recent_open) > 200:
            self.recent_open.pop(0)
        urgent = order.urgency != "normal"
        t += timedelta(minutes=rng.randint(3, 30) if urgent else rng.choice([rng.randint(10, 120), rng.randint(120, 900)]))
        unit = self._unit_for(order)
        yield t, self._act(number, Action.DISPATCH, "dispatcher", lambda o: s.DispatchIn(version=o.version, unit=unit.code))

        # 退单 (about 7 %): the unit says it is not its matter; the dispatcher re-dispatches or rejects.
        if rng.random() < 0.07:
            t += timedelta(minutes=rng.randint(30, 600))
            yield t, self._act(number, Action.RETURN, "staff", lambda o: s.ReturnIn(
                version=o.version, reason="经核实，该事项不属于本单位职责范围",
                basis="依据本单位“三定”方案及权责清单，该事项由属地政府或其他部门负责"))
            t += timedelta(minutes=rng.randint(20, 1440))
            if rng.random() < 0.6:
                other = self._other_unit(unit)
                unit = other
                yield t, self._act(number, Action.DISPATCH, "dispatcher",
                                   lambda o: s.DispatchIn(version=o.version, unit=other.code, note="退单后改派"))
            else:
                yield t, self._act(number, Action.REJECT_RETURN, "dispatcher",
                                   lambda o: s.ReasonIn(version=o.version, reason="经审核，该事项属于贵单位职责，请继续办理"))

        # 签收: usually within hours, sometimes late (a red 签收 clock for the board).
        t += timedelta(minutes=rng.randint(5, 90) if urgent else rng.choice([rng.randint(15, 300)] * 9 + [rng.randint(1500, 4000)]))
        yield t, self._act(number, Action.SIGN, "staff", lambda o: s.NoteIn(version=o.version))

        if rng.random() < 0.5:
            t += timedelta(hours=rng.uniform(2, 30))
            yield t, self._act(number, Action.PROGRESS, "staff", lambda o: s.ProgressIn(
                version=o.version, note="已与诉求人电话联系，约定上门查看时间"))
        if rng.random() < 0.05:
            t += timedelta(hours=rng.uniform(1, 10))
            yield t, self._act(number, Action.PAUSE, "staff", lambda o: s.PauseIn(
                version=o.version, reason="诉求人需补充相关材料，等待诉求人提供"))
            t += timedelta(hours=rng.uniform(20, 70))
            yield t, self._act(number, Action.RESUME, "staff", lambda o: s.NoteIn(version=o.version, note="材料已收到"))
        if rng.random() < 0.05:
            t += timedelta(hours=rng.uniform(4, 40))
            yield t, self._act(number, Action.REQUEST_EXTENSION, "staff", lambda o: s.ExtensionIn(
                version=o.version, extra="5wd", reason="需协调多个部门现场会办，无法在期限内办结",
                basis="《南通市12345政务服务便民热线工单办理规定》延期办理条款"))
            t += timedelta(hours=rng.uniform(1, 30))
            decision = Action.APPROVE_EXTENSION if rng.random() < 0.8 else Action.REJECT_EXTENSION
            yield t, self._act(number, decision, "supervisor", lambda o: (
                s.NoteIn(version=o.version, note="同意延期") if decision == Action.APPROVE_EXTENSION
                else s.ReasonIn(version=o.version, reason="可在期限内办结，不予延期")))
        if rng.random() < 0.12:
            t += timedelta(hours=rng.uniform(10, 60))
            yield t, self._act(number, Action.URGE, "dispatcher", lambda o: s.SupervisionIn(
                note="请加快办理进度，按时答复诉求人"))
        if rng.random() < 0.03:
            t += timedelta(hours=rng.uniform(2, 20))
            yield t, self._act(number, Action.SUPERVISE, "supervisor", lambda o: s.SupervisionIn(
                note="该件群众反映强烈，请单位负责人督促办理，三日内书面反馈"))

        # 答复: in a few working days; some are late.
        days = {"consultation": 1, "help": 3, "suggestion": 5, "complaint": 6, "report": 6}.get(order.request_type, 4)
        t += timedelta(hours=rng.uniform(3, 20)) if urgent else timedelta(days=rng.uniform(0.3, days * 1.6))
        reply_text = self.filler.fill(plan.template.get("reply") or plan.template.get("answer") or "已办理。", plan.values)
        yield t, self._act(number, Action.REPLY, "staff", lambda o: s.ReplyIn(version=o.version, content=reply_text))
        t += timedelta(hours=rng.uniform(0.5, 8))
        if rng.random() < 0.05:
            yield t, self._act(number, Action.REJECT_REPLY, "dispatcher", lambda o: s.ReasonIn(
                version=o.version, reason="答复未说明具体处理结果，请补充办理情况"))
            t += timedelta(hours=rng.uniform(5, 40))
            yield t, self._act(number, Action.REPLY, "staff", lambda o: s.ReplyIn(
                version=o.version, content=reply_text + "（补充：已现场复核，处理结果已告知诉求人。）"))
            t += timedelta(hours=rng.uniform(0.5, 6))
        yield t, self._act(number, Action.APPROVE_REPLY, "dispatcher", lambda o: s.NoteIn(version=o.version))

        # 回访 the next day.
        t += timedelta(hours=rng.uniform(14, 30))
        if order.caller_phone is None:
            yield t, self._act(number, Action.CLOSE, "callback_agent", lambda o: s.ReasonIn(
                version=o.version, reason="匿名诉求，无法回访"))
            return
        roll = rng.random()
        if roll < 0.04:
            yield t, self._act(number, Action.CALLBACK, "callback_agent", lambda o: s.CallbackIn(
                version=o.version, reached=False, note="电话无人接听"))
            t += timedelta(hours=rng.uniform(3, 24))
            yield t, self._act(number, Action.CLOSE, "callback_agent", lambda o: s.ReasonIn(
                version=o.version, reason="三次回访均未接通，按规定办结"))
            return
        level = 1 if roll < 0.55 else 2 if roll < 0.86 else 3 if roll < 0.93 else rng.choice([4, 5])
        yield t, self._act(number, Action.CALLBACK, "callback_agent", lambda o: s.CallbackIn(
            version=o.version, reached=True, satisfaction=level, resolved=level <= 3,
            note=None if level <= 3 else "诉求人表示问题没有解决"))
        if level <= 3:
            return
        t += timedelta(hours=rng.uniform(0.2, 3))
        if rng.random() < 0.6:
            yield t, self._act(number, Action.REOPEN, "callback_agent", lambda o: s.ReasonIn(
                version=o.version, reason="回访不满意：诉求人反映问题仍未解决"))
            t += timedelta(hours=rng.uniform(1, 30))
            yield t, self._act(number, Action.SIGN, "staff", lambda o: s.NoteIn(version=o.version, note="重办签收"))
            t += timedelta(days=rng.uniform(0.5, 4))
            yield t, self._act(number, Action.REPLY, "staff", lambda o: s.ReplyIn(
                version=o.version, content=reply_text + "（重办：已再次上门处理，诉求人认可。）"))
            t += timedelta(hours=rng.uniform(0.5, 6))
            yield t, self._act(number, Action.APPROVE_REPLY, "dispatcher", lambda o: s.NoteIn(version=o.version))
            t += timedelta(hours=rng.uniform(14, 30))
            yield t, self._act(number, Action.CALLBACK, "callback_agent", lambda o: s.CallbackIn(
                version=o.version, reached=True, satisfaction=rng.choice([1, 2, 2, 3]), resolved=True))
        else:
            yield t, self._act(number, Action.CLOSE, "supervisor", lambda o: s.ReasonIn(
                version=o.version, reason="诉求超出政策规定范围，已向诉求人解释，按规定办结"))

    def _call(self, ctx: Ctx, order: WorkOrder, plan: Plan) -> None:
        """The phone call the 工单 came from, as the telephony system reports it (docs/cti.md): queued, answered
        after a few seconds, the 工单 registered as it ends. Now and then the caller had given up on an earlier
        try (a redial), and now and then someone else gives up and waits for a call-back (漏接回拨)."""
        from civiclink.callcentre.actions import do_record_call_events
        from civiclink.callcentre.schemas import CallEventIn
        from civiclink.orgs.roles import SYSTEM

        rng = self.rng
        end = ctx.now
        talk = timedelta(seconds=rng.gammavariate(2.0, 75.0))
        wait = timedelta(seconds=rng.gammavariate(1.3, 6.0))
        start = end - talk - wait - timedelta(seconds=2)
        phone = plan.order_in.caller.phone
        agent = self.person("operator").username
        team = "ABCD"[(start.astimezone(ctx.settings.tz).toordinal() // 2) % 4]
        ref = f"demo-{order.number}"
        events = [CallEventIn(call_id=ref, type="offered", at=start, caller=phone, line="12345"),
                  CallEventIn(call_id=ref, type="queued", at=start + timedelta(seconds=2), team=team),
                  CallEventIn(call_id=ref, type="answered", at=start + timedelta(seconds=2) + wait, agent=agent,
                              team=team, order=order.number),
                  CallEventIn(call_id=ref, type="hung_up", at=end)]
        if rng.random() < 0.05:  # gave up a few minutes earlier: this call is a redial
            before = start - timedelta(minutes=rng.randint(2, 20))
            events += [CallEventIn(call_id=f"{ref}-r", type="offered", at=before, caller=phone, line="12345"),
                       CallEventIn(call_id=f"{ref}-r", type="queued", at=before + timedelta(seconds=1)),
                       CallEventIn(call_id=f"{ref}-r", type="abandoned",
                                   at=before + timedelta(seconds=rng.randint(20, 90)))]
        if rng.random() < 0.03:  # another caller gives up and does not call again
            other = f"1{rng.choice('3589')}{rng.randint(0, 999_999_999):09d}"
            at = start + timedelta(seconds=rng.randint(5, 60))
            events += [CallEventIn(call_id=f"{ref}-m", type="offered", at=at, caller=other, line="12345"),
                       CallEventIn(call_id=f"{ref}-m", type="queued", at=at + timedelta(seconds=1)),
                       CallEventIn(call_id=f"{ref}-m", type="abandoned", at=at + timedelta(seconds=rng.randint(8, 60)))]
        do_record_call_events(ctx, events, actor=SYSTEM, source="demo")

    def _act(self, number: str, action: Action, who: str, body: Callable[[WorkOrder], object]):
        def step(ctx: Ctx):
            order = a.load_order_for_update(ctx, number)
            actor = self.staff_of(order) if who == "staff" else self.person(who)
            return a.ACTIONS[action](ctx, order, body(order), actor=actor)

        return step

    def _unit_for(self, order: WorkOrder) -> UnitInfo:
        unit = self.d.unit(order.suggested_unit_id)
        category = self.d.category(order.category_id)
        # 属地 matters often go straight to the street/town of the place (the district's own 分中心 in practice).
        if category is not None and category.local and self.rng.random() < 0.5:
            place = self.d.unit(order.place_id)
            for uid in reversed(place.ancestor_ids if place else ()):
                candidate = self.d.unit(uid)
                if candidate and candidate.kind in ("street", "town"):
                    return candidate
        return unit or self.d.county_level(self.d.unit(order.place_id))

    def _other_unit(self, current: UnitInfo) -> UnitInfo:
        pool = [u for u in handling_units(self.d) if u.kind in ("district", "county", "county_city", "zone", "department")
                and u.id != current.id]
        return self.rng.choice(pool)

    # -- the driver ------------------------------------------------------------------------------------------------

    def run(self, session: Session, *, orders: int, days: int, now: datetime, progress=None,
            commit_every: int = 500) -> DemoStats:
        """Simulate ``orders`` orders registered over the last ``days`` days, in time order, up to ``now``.

        Steps of all orders are interleaved by time, so the audit chain reads like a real day's work. A step
        that the rules refuse (say, an extension asked for after the deadline) is skipped, as a person would be
        refused; the story goes on.
        """
        cal = self.ctx.calendar
        self.now = now
        queue: list = []
        counter = 0
        for start in sorted(self._arrival(now, days, cal) for _ in range(orders)):
            counter += 1
            queue.append((start, counter, None))
        heapq.heapify(queue)
        since_commit = 0
        while queue:
            when, _, item = heapq.heappop(queue)
            if item is None:
                story = self.story(when, self.new_plan())
                self.stats.orders += 1
                if progress:
                    progress(1)
                when, step = next(story)
            else:
                story, step = item
            if when > now:
                continue  # this order's story stops here: it is still in that state now
            if self._run_step(session, step, when):
                self.stats.actions += 1
            since_commit += 1
            if since_commit >= commit_every:
                session.commit()
                begin_write(session)
                since_commit = 0
            try:
                next_when, next_step = next(story)
            except StopIteration:
                continue
            counter += 1
            heapq.heappush(queue, (max(next_when, when), counter, (story, next_step)))
        session.commit()
        return self.stats

    def _run_step(self, session: Session, step, when: datetime) -> bool:
        savepoint = session.begin_nested()
        try:
            step(self.ctx.at(when))
        except DomainError:
            savepoint.rollback()  # its queued audit events go with it
            return False
        savepoint.commit()
        return True

    def _arrival(self, now: datetime, days: int, cal: WorkCalendar) -> datetime:
        rng = self.rng
        while True:
            day_offset = rng.uniform(0, days)
            moment = now - timedelta(days=day_offset)
            local = moment.astimezone(cal.tz)
            hour = local.hour
            # Calls follow the day: few at night, a peak in the morning and early afternoon; fewer on days off.
            weight = 0.08 if hour < 7 else 0.5 if hour < 8 else 1.0 if hour < 12 else 0.85 if hour < 18 else 0.45 if hour < 22 else 0.15
            if not cal.is_workday(local.date()):
                weight *= 0.6
            if rng.random() < weight:
                return moment
