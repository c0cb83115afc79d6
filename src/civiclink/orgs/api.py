"""HTTP routes of the org domain: login, the org tree, categories, place resolution, users."""

from typing import Annotated

import yaml
from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import ValidationError
from sqlalchemy import select

from civiclink.db import writing
from civiclink.deps import CtxDep, CurrentActor, StateDep, TokenDep
from civiclink.errors import ERROR_RESPONSES, Forbidden, Invalid, NotAuthenticated, NotFound
from civiclink.orgs import actions, service
from civiclink.orgs.models import User
from civiclink.orgs.roles import Actor, Role
from civiclink.orgs.schemas import (
    CategoryRead,
    OrgFile,
    OrgImportReport,
    TokenRead,
    UnitRead,
    UnitTree,
    UserCreate,
    UserRead,
    UserUpdate,
)
from civiclink.orgs.security import hash_password, token_digest, verify_password

DUMMY_HASH = hash_password("no user has this password")

auth_router = APIRouter(prefix="/api/auth", tags=["登录"], responses=ERROR_RESPONSES)
org_router = APIRouter(prefix="/api/orgs", tags=["组织机构"], responses=ERROR_RESPONSES)
user_router = APIRouter(prefix="/api/users", tags=["用户"], responses=ERROR_RESPONSES)


def user_read(ctx, user: User) -> UserRead:
    unit = ctx.directory.unit(user.unit_id)
    return UserRead(
        username=user.username, display_name=user.display_name, roles=[Role(r) for r in user.roles],
        unit_code=unit.code if unit else None, unit_name=unit.name if unit else None, active=user.active,
        version=user.version,
    )


@auth_router.post("/token", summary="登录，取得访问令牌")
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], ctx: CtxDep, state: StateDep) -> TokenRead:
    """Exchange a username and password for a bearer token."""
    user = ctx.session.execute(select(User).where(User.username == form.username)).scalar_one_or_none()
    # Hash even for an unknown user, so that the answer's timing does not tell which usernames exist.
    ok = verify_password(form.password, user.password_hash if user else DUMMY_HASH)
    if user is None or not user.active or not ok:
        raise NotAuthenticated("用户名或密码错误")
    with writing(ctx.session):
        token, row = actions.do_issue_token(
            ctx.session, user, secret=state.settings.secret_key.get_secret_value(), now=ctx.now,
            ttl=state.settings.token_ttl,
        )
    return TokenRead(access_token=token, expires_at=row.expires_at, user=user_read(ctx, user))


@auth_router.get("/me", summary="当前用户")
def me(ctx: CtxDep, actor: CurrentActor) -> UserRead:
    """The logged-in user."""
    return user_read(ctx, service.get_user(ctx.session, username=actor.username))


@auth_router.post("/logout", summary="注销当前令牌", status_code=204)
def logout(ctx: CtxDep, state: StateDep, actor: CurrentActor, token: TokenDep) -> None:
    """Revoke the token this request was made with."""
    found = service.find_token(
        ctx.session, token_hash=token_digest(token or "", secret=state.settings.secret_key.get_secret_value()),
        now=ctx.now,
    )
    if found is not None:
        token_row, user = found
        with writing(ctx.session):
            actions.do_revoke_token(ctx.session, token_row, user, now=ctx.now)
        state.tokens.forget(token_row.token_hash)


def _unit_read(ctx, u) -> UnitRead:
    parent = ctx.directory.unit(u.parent_id)
    return UnitRead(
        code=u.code, name=u.name, full_name=u.full_name, short_name=u.short_name, kind=u.kind,
        parent_code=parent.code if parent else None, active=u.active, aliases=list(u.aliases),
    )


@org_router.get("/units", summary="单位列表")
def list_units(
    ctx: CtxDep, actor: CurrentActor, kind: str | None = None, include_inactive: bool = False
) -> list[UnitRead]:
    """All units of the org tree (flat), optionally of one kind."""
    units = sorted(ctx.directory.units.values(), key=lambda u: (len(u.ancestor_ids), u.code))
    return [
        _unit_read(ctx, u) for u in units
        if (kind is None or u.kind == kind) and (include_inactive or u.active)
    ]


@org_router.get("/tree", summary="组织机构树")
def unit_tree(ctx: CtxDep, actor: CurrentActor) -> list[UnitTree]:
    """The active org tree from the roots down."""
    def build(u) -> UnitTree:
        node = UnitTree(**_unit_read(ctx, u).model_dump())
        node.children = [build(c) for c in ctx.directory.children(u.id) if c.active]
        return node

    return [build(u) for u in ctx.directory.children(None) if u.active]


@org_router.get("/units/{code}", summary="单位详情")
def get_unit(code: str, ctx: CtxDep, actor: CurrentActor) -> UnitRead:
    """One unit by its code."""
    unit = ctx.directory.unit_by_code(code)
    if unit is None:
        raise NotFound(f"单位 {code} 不存在")
    return _unit_read(ctx, unit)


@org_router.get("/categories", summary="诉求分类与派单目录")
def list_categories(ctx: CtxDep, actor: CurrentActor, include_inactive: bool = False) -> list[CategoryRead]:
    """Categories with the unit that owns each (派单目录, R-603)."""
    out = []
    for c in sorted(ctx.directory.categories.values(), key=lambda c: c.code):
        if not (include_inactive or c.active):
            continue
        parent = ctx.directory.category(c.parent_id)
        owner = ctx.directory.unit(c.owner_unit_id)
        out.append(CategoryRead(code=c.code, name=c.name, path_name=c.path_name,
                                parent_code=parent.code if parent else None,
                                owner_unit_code=owner.code if owner else None, local=c.local, active=c.active))
    return out


@org_router.get("/resolve-place", summary="地址解析属地")
def resolve_place(ctx: CtxDep, actor: CurrentActor, address: Annotated[str, Query(max_length=300)]) -> UnitRead | None:
    """The 属地 (district/town/community) an address lies in, from the city gazetteer; null if unknown."""
    unit = ctx.directory.resolve_place(address)
    return _unit_read(ctx, unit) if unit else None


@org_router.post("/import", summary="导入组织机构文件（YAML/CSV）")
def import_org_file(
    ctx: CtxDep, actor: CurrentActor, state: StateDep, file: Annotated[UploadFile, File()]
) -> OrgImportReport:
    """Re-import the org file: units and categories are created, updated or deactivated, never deleted."""
    if not actor.has(Role.ADMIN):
        raise Forbidden("只有管理员可以导入组织机构")
    org_file = parse_org_file(file.filename or "", file.file.read())
    with writing(ctx.session):
        report = actions.do_import_org_file(
            ctx.session, org_file, actor=actor, source=file.filename or "upload",
            today=ctx.calendar.local_date(ctx.now), now=ctx.now,
        )
    state.directory.invalidate()
    return report


def parse_org_file(filename: str, raw: bytes) -> OrgFile:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid("文件必须是 UTF-8 编码") from exc
    try:
        if filename.lower().endswith(".csv"):
            return OrgFile.from_csv(text)
        data = yaml.safe_load(text)
        if not isinstance(data, dict):
            raise Invalid("YAML 文件顶层必须是映射（city / categories / units）")
        return OrgFile.model_validate(data)
    except yaml.YAMLError as exc:
        raise Invalid(f"YAML 格式错误：{exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise Invalid(f"文件内容不合法：{where}：{first['msg']}（共 {exc.error_count()} 处错误）") from exc
    except ValueError as exc:
        raise Invalid(str(exc)) from exc


def _require_admin(actor: Actor) -> None:
    if not actor.has(Role.ADMIN):
        raise Forbidden("只有管理员可以管理用户")


@user_router.get("", summary="用户列表")
def list_users(ctx: CtxDep, actor: CurrentActor) -> list[UserRead]:
    """All users (administrators only)."""
    _require_admin(actor)
    return [user_read(ctx, u) for u in ctx.session.execute(select(User).order_by(User.username)).scalars()]


@user_router.post("", summary="新建用户", status_code=201)
def create_user(user_in: UserCreate, ctx: CtxDep, actor: CurrentActor) -> UserRead:
    """Create a user with roles and, for handling-unit staff, a unit."""
    with writing(ctx.session):
        user = actions.do_create_user(ctx.session, user_in, actor=actor, now=ctx.now)
    return user_read(ctx, user)


@user_router.get("/{username}", summary="用户详情")
def get_user(username: str, ctx: CtxDep, actor: CurrentActor) -> UserRead:
    """One user (administrators, or the user themself)."""
    if actor.username != username:
        _require_admin(actor)
    return user_read(ctx, service.get_user(ctx.session, username=username))


@user_router.patch("/{username}", summary="修改用户")
def update_user(username: str, user_in: UserUpdate, ctx: CtxDep, actor: CurrentActor, state: StateDep) -> UserRead:
    """Change a user's name, roles, unit, password or active flag (``version`` guards concurrent edits)."""
    _require_admin(actor)
    with writing(ctx.session):
        user = service.get_user(ctx.session, username=username)
        actions.do_update_user(ctx.session, user, user_in, actor=actor, now=ctx.now)
    state.tokens.clear()  # roles, unit or active flag may have changed
    return user_read(ctx, user)
