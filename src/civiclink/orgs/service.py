"""Reads of the org domain: an in-memory directory of units and categories, place (属地) resolution,
the suggested owner of a matter, users and tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from civiclink.errors import Invalid, NotFound
from civiclink.orgs.models import COUNTY_LEVEL_KINDS, PLACE_KINDS, ApiToken, Category, OrgUnit, User

ORG_REVISION = "org"


@dataclass(frozen=True)
class UnitInfo:
    id: int
    code: str
    name: str
    full_name: str | None
    short_name: str | None
    kind: str
    parent_id: int | None
    ancestor_ids: tuple[int, ...]
    active: bool
    aliases: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return self.full_name or self.name

    def is_place(self) -> bool:
        return self.kind in PLACE_KINDS


@dataclass(frozen=True)
class CategoryInfo:
    id: int
    code: str
    name: str
    parent_id: int | None
    path_name: str
    owner_unit_id: int | None
    local: bool
    active: bool
    keywords: tuple[str, ...] = ()


@dataclass
class OrgDirectory:
    units: dict[int, UnitInfo] = field(default_factory=dict)
    categories: dict[int, CategoryInfo] = field(default_factory=dict)
    _unit_codes: dict[str, int] = field(default_factory=dict)
    _category_codes: dict[str, int] = field(default_factory=dict)
    _place_names: dict[str, tuple[int, int]] = field(default_factory=dict)
    _own_city_names: frozenset[str] = frozenset()
    _name_lengths: dict[str, tuple[int, ...]] = field(default_factory=dict)  # first character → name lengths
    _hotline_center_id: int | None = None

    @classmethod
    def load(cls, session: Session) -> OrgDirectory:
        d = cls()
        units = session.execute(select(OrgUnit)).scalars().all()
        for u in units:
            d.units[u.id] = UnitInfo(
                id=u.id,
                code=u.code,
                name=u.name,
                full_name=u.full_name,
                short_name=u.short_name,
                kind=u.kind,
                parent_id=u.parent_id,
                ancestor_ids=tuple(u.ancestor_ids()),
                active=u.active,
                aliases=tuple(u.aliases or ()),
            )
            d._unit_codes[u.code] = u.id
        cats = session.execute(select(Category)).scalars().all()
        by_id = {c.id: c for c in cats}
        for c in cats:
            parent = by_id.get(c.parent_id) if c.parent_id else None
            d.categories[c.id] = CategoryInfo(
                id=c.id,
                code=c.code,
                name=c.name,
                parent_id=c.parent_id,
                path_name=f"{parent.name}/{c.name}" if parent else c.name,
                owner_unit_id=c.owner_unit_id,
                local=c.local,
                active=c.active,
                keywords=tuple(c.keywords or ()),
            )
            d._category_codes[c.code] = c.id
        d._place_names = _place_index(d.units.values(), {u.id: u for u in units})
        # Names of this city and its places that an address may start with (incl. historical ones: 海门市).
        d._own_city_names = frozenset(
            name.removesuffix("人民政府")
            for u in d.units.values() if u.kind in ("city", *COUNTY_LEVEL_KINDS)
            for name in (u.name, u.full_name or "", f"{u.short_name or ''}市", *u.aliases)
        )
        by_first: dict[str, set[int]] = {}
        for name in d._place_names:
            by_first.setdefault(name[0], set()).add(len(name))
        d._name_lengths = {ch: tuple(sorted(ls, reverse=True)) for ch, ls in by_first.items()}
        centres = sorted(u.id for u in d.units.values() if u.kind == "hotline_center" and u.active)
        d._hotline_center_id = centres[0] if centres else None
        return d

    # -- lookups -------------------------------------------------------------------------------------------

    def unit(self, unit_id: int | None) -> UnitInfo | None:
        return self.units.get(unit_id) if unit_id is not None else None

    def unit_by_code(self, code: str) -> UnitInfo | None:
        uid = self._unit_codes.get(code)
        return self.units.get(uid) if uid is not None else None

    def require_unit(self, code: str, *, field: str = "unit") -> UnitInfo:
        unit = self.unit_by_code(code)
        if unit is None:
            raise Invalid(f"单位编码 {code!r} 不存在", field=field)
        if not unit.active:
            raise Invalid(f"单位「{unit.name}」已撤销，不能再使用", field=field)
        return unit

    def category(self, category_id: int | None) -> CategoryInfo | None:
        return self.categories.get(category_id) if category_id is not None else None

    def category_by_code(self, code: str) -> CategoryInfo | None:
        cid = self._category_codes.get(code)
        return self.categories.get(cid) if cid is not None else None

    def require_category(self, code: str) -> CategoryInfo:
        cat = self.category_by_code(code)
        if cat is None:
            raise Invalid(f"诉求分类 {code!r} 不存在", field="category")
        if not cat.active:
            raise Invalid(f"诉求分类「{cat.path_name}」已停用", field="category")
        return cat

    def hotline_center(self) -> UnitInfo | None:
        return self.unit(self._hotline_center_id)

    def county_level(self, unit: UnitInfo | None) -> UnitInfo | None:
        """The district/county (区/县/县级市/开发区) a place lies in, or the unit itself if it is one."""
        if unit is None:
            return None
        for uid in reversed(unit.ancestor_ids):
            u = self.units.get(uid)
            if u and u.kind in COUNTY_LEVEL_KINDS:
                return u
        return None

    def is_within(self, unit: UnitInfo, ancestor: UnitInfo) -> bool:
        return ancestor.id in unit.ancestor_ids

    def subtree_ids(self, unit: UnitInfo) -> tuple[int, ...]:
        """The unit and every unit under it (a 属地 filter: a district with its streets, towns, communities)."""
        return tuple(u.id for u in self.units.values() if u.id == unit.id or unit.id in u.ancestor_ids)

    def children(self, unit_id: int | None) -> list[UnitInfo]:
        return sorted((u for u in self.units.values() if u.parent_id == unit_id), key=lambda u: u.code)

    # -- 属地 and 派单目录 --------------------------------------------------------------------------------

    def resolve_place(self, address: str | None) -> UnitInfo | None:
        """The 属地 of an address: the deepest place the address's known names agree on.

        Every known name in the address is found (full names and configured aliases count most, road names
        less, generated short forms such as 崇川 or 平潮 least); overlapping finds keep the strongest and
        longest. The winner is the place whose own matches plus its ancestors' weigh most, deepest first:
        "通州区金沙街道" gives 金沙街道, and "海门区临江镇" stays in 海门区 rather than following a stray
        short form into another district. An address in another city ("北京市通州区…") resolves to nothing.
        """
        if not address or self._other_city(address):
            return None
        hits = []  # (strength, length, start, unit id)
        n = len(address)
        names, lengths_by_first = self._place_names, self._name_lengths
        for i in range(n - 1):
            for length in lengths_by_first.get(address[i], ()):
                if i + length <= n:
                    found = names.get(address[i : i + length])
                    if found is not None:
                        hits.append((found[1], length, i, found[0]))
        taken = [False] * n
        weight: dict[int, int] = {}
        for strength, length, i, uid in sorted(hits, key=lambda h: (-h[0], -h[1], h[2])):
            if any(taken[i : i + length]):
                continue
            taken[i : i + length] = [True] * length
            weight[uid] = max(weight.get(uid, 0), strength)
        if not weight:
            return None

        def score(uid: int) -> tuple[int, int]:
            unit = self.units[uid]
            return sum(weight.get(a, 0) for a in unit.ancestor_ids), len(unit.ancestor_ids)

        return self.units[max(weight, key=score)]

    def _other_city(self, address: str) -> bool:
        """Does the address start in another province or city than this one?"""
        m = _CITY_PREFIX.match(address)
        if not m:
            return False
        city = m.group(1)
        return city not in self._own_city_names

    def suggested_unit(self, category: CategoryInfo | None, place: UnitInfo | None) -> UnitInfo | None:
        """The owner a matter should be dispatched to (R-603, R-604).

        A category owned by a department goes to that department, never pushed down to the grassroots;
        a 属地 category, or a matter with no owner, goes to the government of its district/county (兜底).
        """
        if category is not None and not category.local and category.owner_unit_id:
            owner = self.unit(category.owner_unit_id)
            if owner and owner.active:
                return owner
        county = self.county_level(place)
        if county is not None:
            return county
        return None


_CITY_PREFIX = re.compile(r"^(?:[\u4e00-\u9fa5]{2,7}(?:省|自治区))?([\u4e00-\u9fa5]{2,5}市)")
# How much a kind of match counts when places compete (see resolve_place).
FULL_NAME, ALIAS, ROAD, SHORT_FORM = 3, 3, 2, 1


def _place_index(infos, rows: dict[int, OrgUnit]) -> dict[str, tuple[int, int]]:
    """name → (unit id, strength). A name two places share at the same strength resolves nothing; a full
    name or a configured alias beats a generated short form of another place's name."""
    names: dict[str, dict[int, int]] = {}

    def add(name: str, uid: int, strength: int):
        if name and len(name) >= 2:
            units = names.setdefault(name, {})
            units[uid] = max(units.get(uid, 0), strength)

    for info in infos:
        if not info.active or info.kind not in PLACE_KINDS or info.kind == "city":
            continue
        add(info.name, info.id, FULL_NAME)
        for alias in info.aliases:
            add(alias, info.id, ALIAS)
        for road in rows[info.id].roads or ():
            add(road, info.id, ROAD)
        # The usual short forms: 崇川区 → 崇川, 平潮镇 → 平潮, 和平桥街道 → 和平桥.
        for suffix in ("街道", "社区", "区", "县", "市", "镇", "乡", "村"):
            if info.name.endswith(suffix) and len(info.name) - len(suffix) >= 2:
                add(info.name[: -len(suffix)], info.id, SHORT_FORM)
                break
    index = {}
    for name, units in names.items():
        best = max(units.values())
        winners = [uid for uid, strength in units.items() if strength == best]
        if len(winners) == 1:
            index[name] = (winners[0], best)
    return index


def get_user(session: Session, *, username: str) -> User:
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"用户 {username!r} 不存在")
    return user


def find_token(session: Session, *, token_hash: str, now: datetime) -> tuple[ApiToken, User] | None:
    row = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)
    ).first()
    return (row[0], row[1]) if row else None
