"""Writes of the org domain. Each ``do_*`` runs in the caller's transaction and records audit events."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from civiclink.audit.service import record_event
from civiclink.cache import bump_revision
from civiclink.errors import Conflict, Forbidden, Invalid, StaleVersion
from civiclink.orgs.models import ApiToken, Category, OrgUnit, User
from civiclink.orgs.roles import Actor, Role
from civiclink.orgs.schemas import (
    OrgFile,
    OrgFileCategory,
    OrgFileUnit,
    OrgImportReport,
    UserCreate,
    UserUpdate,
)
from civiclink.orgs.security import hash_password, new_token, token_digest
from civiclink.orgs.service import ORG_REVISION

LOCAL_OWNER = "属地"
UNIT_FIELDS = ("name", "full_name", "short_name", "kind", "aliases", "roads")


def _require_admin(actor: Actor) -> None:
    if not actor.has(Role.ADMIN):
        raise Forbidden("只有管理员可以维护组织机构和用户")


def _flatten_units(units: list[OrgFileUnit]) -> list[tuple[OrgFileUnit, str | None]]:
    out: list[tuple[OrgFileUnit, str | None]] = []

    def walk(node: OrgFileUnit, parent: str | None):
        out.append((node, parent))
        for child in node.children:
            walk(child, node.code)

    for root in units:
        walk(root, None)
    return out


def _flatten_categories(cats: list[OrgFileCategory]) -> list[tuple[OrgFileCategory, str | None]]:
    out: list[tuple[OrgFileCategory, str | None]] = []

    def walk(node: OrgFileCategory, parent: str | None):
        out.append((node, parent))
        for child in node.children:
            walk(child, node.code)

    for root in cats:
        walk(root, None)
    return out


def do_import_org_file(
    session: Session, org_file: OrgFile, *, actor: Actor, source: str, today: date, now: datetime
) -> OrgImportReport:
    """Bring the org tree and categories in line with the file, keeping history.

    Units and categories are matched by code. New ones are created, changed ones updated, and ones the file
    no longer lists are deactivated (``valid_to`` = today), never deleted: work orders keep their links.
    A section missing from the file (e.g. a CSV with units only) is left as it is.
    """
    _require_admin(actor)
    if org_file.units is not None and not org_file.units:
        raise Invalid("文件中的单位列表为空：导入会撤销全部单位。若确要清空，请逐个停用", field="units")
    report = OrgImportReport()
    if org_file.units is not None:
        _import_units(session, org_file.units, report, actor=actor, source=source, today=today, now=now)
    if org_file.categories is not None:
        _import_categories(session, org_file.categories, report, actor=actor, source=source, today=today, now=now)
    if report.changed:
        bump_revision(session, ORG_REVISION)
    return report


def _import_units(session, units, report, *, actor, source, today, now):
    flat = _flatten_units(units)
    seen: set[str] = set()
    for node, _parent in flat:
        if node.code in seen:
            raise Invalid(f"单位编码 {node.code} 在文件中出现了两次", field="units")
        seen.add(node.code)
    existing = {u.code: u for u in session.execute(select(OrgUnit)).scalars()}
    for node, parent_code in flat:
        parent = existing[parent_code] if parent_code else None
        unit = existing.get(node.code)
        values = {
            "name": node.name,
            "full_name": node.full_name,
            "short_name": node.short_name,
            "kind": node.kind,
            "aliases": list(node.aliases),
            "roads": list(node.roads),
        }
        if unit is None:
            unit = OrgUnit(code=node.code, active=True, valid_from=node.valid_from or today, **values)
            unit.parent = parent
            session.add(unit)
            session.flush()
            existing[node.code] = unit
            report.units_created += 1
            record_event(
                session, actor=actor, action="org.unit_created", entity_type="org_unit", entity=unit,
                data={"source": source, "name": node.name, "kind": node.kind, "parent": parent_code}, at=now,
            )
            continue
        changes = {k: [getattr(unit, k), v] for k, v in values.items() if getattr(unit, k) != v}
        old_parent = unit.parent.code if unit.parent_id and unit.parent else None
        if old_parent != parent_code:
            changes["parent"] = [old_parent, parent_code]
            unit.parent = parent
        if not unit.active:
            changes["active"] = [False, True]
            unit.active, unit.valid_to = True, None
        if changes:
            for k, v in values.items():
                setattr(unit, k, v)
            report.units_updated += 1
            record_event(
                session, actor=actor, action="org.unit_updated", entity_type="org_unit", entity=unit,
                data={"source": source, "changes": changes}, at=now,
            )
    for code, unit in existing.items():
        if code not in seen and unit.active:
            unit.active, unit.valid_to = False, today
            report.units_deactivated += 1
            record_event(
                session, actor=actor, action="org.unit_deactivated", entity_type="org_unit", entity=unit,
                data={"source": source}, at=now,
            )
    session.flush()
    if not any(u.active and u.kind == "hotline_center" for u in existing.values()):
        raise Invalid("导入后将没有启用的热线中心单位（kind: hotline_center），工单无人受理；请在文件中保留它",
                      field="units")
    _recompute_paths(session)


def _recompute_paths(session: Session) -> None:
    units = {u.id: u for u in session.execute(select(OrgUnit)).scalars()}
    def path_of(u: OrgUnit, guard: int = 0) -> list[int]:
        if guard > 50:
            raise Invalid("组织机构存在循环上下级关系")
        if u.parent_id is None:
            return [u.id]
        return path_of(units[u.parent_id], guard + 1) + [u.id]
    for u in units.values():
        ids = path_of(u)
        path = "/" + "/".join(str(i) for i in ids) + "/"
        if u.path != path:
            u.path = path
        if u.depth != len(ids) - 1:
            u.depth = len(ids) - 1


def _import_categories(session, cats, report, *, actor, source, today, now):
    flat = _flatten_categories(cats)
    seen: set[str] = set()
    for node, _ in flat:
        if node.code in seen:
            raise Invalid(f"分类编码 {node.code} 在文件中出现了两次", field="categories")
        seen.add(node.code)
    units = {u.code: u for u in session.execute(select(OrgUnit)).scalars()}
    existing = {c.code: c for c in session.execute(select(Category)).scalars()}
    for node, parent_code in flat:
        owner_unit, local = None, False
        if node.owner == LOCAL_OWNER:
            local = True
        elif node.owner:
            owner_unit = units.get(str(node.owner))
            if owner_unit is None:
                raise Invalid(f"分类 {node.code} 的承办单位 {node.owner} 不存在", field="categories")
        values = {
            "name": node.name,
            "local": local,
            "owner_unit_id": owner_unit.id if owner_unit else None,
            "keywords": list(node.keywords),
            "parent_id": existing[parent_code].id if parent_code else None,
        }
        cat = existing.get(node.code)
        if cat is None:
            cat = Category(code=node.code, active=True, valid_from=today, **values)
            session.add(cat)
            session.flush()
            existing[node.code] = cat
            report.categories_created += 1
            record_event(
                session, actor=actor, action="org.category_created", entity_type="category", entity=cat,
                data={"source": source, "name": node.name, "owner": node.owner}, at=now,
            )
            continue
        changes = {k: [getattr(cat, k), v] for k, v in values.items() if getattr(cat, k) != v}
        if not cat.active:
            changes["active"] = [False, True]
            cat.active, cat.valid_to = True, None
        if changes:
            for k, v in values.items():
                setattr(cat, k, v)
            report.categories_updated += 1
            record_event(
                session, actor=actor, action="org.category_updated", entity_type="category", entity=cat,
                data={"source": source, "changes": changes}, at=now,
            )
    for code, cat in existing.items():
        if code not in seen and cat.active:
            cat.active, cat.valid_to = False, today
            report.categories_deactivated += 1
            record_event(
                session, actor=actor, action="org.category_deactivated", entity_type="category", entity=cat,
                data={"source": source}, at=now,
            )
    session.flush()


# -- users and tokens ----------------------------------------------------------------------------------------


def _unit_for_user(session: Session, unit_code: str | None, roles) -> OrgUnit | None:
    unit = None
    if unit_code:
        unit = session.execute(select(OrgUnit).where(OrgUnit.code == unit_code)).scalar_one_or_none()
        if unit is None or not unit.active:
            raise Invalid(f"单位编码 {unit_code!r} 不存在或已撤销", field="unit_code")
    if Role.UNIT_STAFF in roles and unit is None:
        raise Invalid("承办单位人员必须属于一个单位（unit_code）", field="unit_code")
    return unit


def do_create_user(session: Session, user_in: UserCreate, *, actor: Actor, now: datetime, is_demo: bool = False) -> User:
    _require_admin(actor)
    if session.execute(select(User.id).where(User.username == user_in.username)).first():
        raise Conflict(f"用户名 {user_in.username!r} 已存在")
    unit = _unit_for_user(session, user_in.unit_code, user_in.roles)
    user = User(
        username=user_in.username,
        display_name=user_in.display_name,
        password_hash=hash_password(user_in.password),
        roles=sorted({r.value for r in user_in.roles}),
        unit_id=unit.id if unit else None,
        active=True,
        is_demo=is_demo,
    )
    session.add(user)
    session.flush()
    record_event(
        session, actor=actor, action="user.created", entity_type="user", entity=user, actor_role=Role.ADMIN,
        data={"roles": user.roles, "unit": unit.code if unit else None}, at=now,
    )
    return user


def do_update_user(session: Session, user: User, user_in: UserUpdate, *, actor: Actor, now: datetime) -> User:
    _require_admin(actor)
    if user_in.version != user.version:
        raise StaleVersion(f"用户已被他人修改（您的版本 {user_in.version}，当前版本 {user.version}），请刷新后重试")
    changes: dict[str, list] = {}
    if user_in.display_name is not None and user_in.display_name != user.display_name:
        changes["display_name"] = [user.display_name, user_in.display_name]
        user.display_name = user_in.display_name
    roles = sorted({r.value for r in user_in.roles}) if user_in.roles is not None else user.roles
    unit_code = user_in.unit_code if "unit_code" in user_in.model_fields_set else (user.unit.code if user.unit else None)
    unit = _unit_for_user(session, unit_code, roles)
    if roles != user.roles:
        changes["roles"] = [user.roles, roles]
        user.roles = roles
    if (unit.id if unit else None) != user.unit_id:
        changes["unit"] = [user.unit.code if user.unit else None, unit.code if unit else None]
        user.unit_id = unit.id if unit else None
    if user_in.active is not None and user_in.active != user.active:
        changes["active"] = [user.active, user_in.active]
        user.active = user_in.active
    if user_in.password is not None:
        changes["password"] = ["***", "***"]
        user.password_hash = hash_password(user_in.password)
    if user_in.password is not None or changes.get("active") == [True, False]:
        # A new password or a deactivation ends every session the user had; reactivation brings none back.
        revoked = session.execute(
            update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).values(revoked_at=now)
        ).rowcount
        changes["tokens_revoked"] = [0, revoked]
    if changes:
        session.flush()
        record_event(
            session, actor=actor, action="user.updated", entity_type="user", entity=user, actor_role=Role.ADMIN,
            data={"changes": changes}, at=now,
        )
    return user


def do_issue_token(
    session: Session, user: User, *, secret: str, now: datetime, ttl, label: str = "login"
) -> tuple[str, ApiToken]:
    """Log in: a new bearer token for ``user``. Returns the token (shown once) and its row."""
    token = new_token()
    row = ApiToken(user_id=user.id, token_hash=token_digest(token, secret=secret), label=label,
                   created_at=now, expires_at=now + ttl)
    session.add(row)
    session.flush()
    record_event(
        session, actor=actor_for(user), action="auth.token_issued", entity_type="user", entity=user,
        data={"label": label, "token_id": row.id, "expires_at": row.expires_at}, at=now,
    )
    return token, row


def do_revoke_token(session: Session, token: ApiToken, user: User, *, now: datetime) -> None:
    token.revoked_at = now
    record_event(
        session, actor=actor_for(user), action="auth.token_revoked", entity_type="user", entity=user,
        data={"token_id": token.id}, at=now,
    )


_UNSET = object()


def actor_for(user: User, *, unit_code=_UNSET) -> Actor:
    """The acting identity of ``user`` (pass ``unit_code`` when known, to spare a query)."""
    if unit_code is _UNSET:
        unit_code = user.unit.code if user.unit_id and user.unit else None
    return Actor(
        username=user.username,
        roles=frozenset(Role(r) for r in user.roles if r in Role._value2member_map_),
        user_id=user.id,
        display_name=user.display_name,
        unit_id=user.unit_id,
        unit_code=unit_code,
    )
