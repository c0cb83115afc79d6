"""Login, bearer tokens (expiry, logout, keyed hashes), /api/auth/me, and user administration over HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select
from tests.conftest import PASSWORD, TEST_SECRET

from civiclink.audit.models import AuditEvent
from civiclink.db import read_session, write_session
from civiclink.orgs.actions import do_issue_token, do_update_user
from civiclink.orgs.models import ApiToken, User
from civiclink.orgs.roles import SYSTEM
from civiclink.orgs.schemas import UserUpdate

NEW_PASSWORD = "another-horse-77"


def login(client, username: str, password: str = PASSWORD):
    return client.post("/api/auth/token", data={"username": username, "password": password})


def token_of(client, username: str, password: str = PASSWORD) -> str:
    r = login(client, username, password)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def me(client, token: str):
    return client.get("/api/auth/me", headers=bearer(token))


def user_row(state, username: str) -> dict:
    with read_session(state.sessions) as s:
        u = s.execute(select(User).where(User.username == username)).scalar_one()
        return {
            "id": u.id,
            "roles": list(u.roles),
            "active": u.active,
            "version": u.version,
            "display_name": u.display_name,
            "password_hash": u.password_hash,
        }


def set_active(state, username: str, active: bool) -> None:
    with write_session(state.sessions) as s:
        user = s.execute(select(User).where(User.username == username)).scalar_one()
        do_update_user(
            s, user, UserUpdate(version=user.version, active=active), actor=SYSTEM, now=datetime.now(UTC)
        )


def assert_unauthorized(r, fragment: str | None = None) -> None:
    assert r.status_code == 401, r.text
    assert r.headers.get("www-authenticate") == "Bearer"
    body = r.json()
    assert body["code"] == "not_authenticated"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["detail"]), body  # a Chinese message
    if fragment:
        assert fragment in body["detail"], body


def walk_json(value, path=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield f"{path}.{k}", k, v
            yield from walk_json(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from walk_json(v, f"{path}[{i}]")


def assert_no_password(body, *secrets: str) -> None:
    """No password-like field with a value (an audit record may say ``"password": ["***", "***"]``),
    no scrypt hash and none of the given secrets, at any depth."""
    for where, key, value in walk_json(body):
        if "password" in str(key).lower():
            masked = value if isinstance(value, list) else [value]
            assert all(isinstance(x, str) and set(x) == {"*"} for x in masked), where
    text = json.dumps(body, ensure_ascii=False)
    assert "scrypt$" not in text
    for secret in secrets:
        assert secret not in text


# -- login ---------------------------------------------------------------------------------------------------


def test_login_gives_a_token_that_works(client, state):
    before = datetime.now(UTC)
    r = login(client, "operator")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer" and body["access_token"].startswith("cl_")
    assert body["user"]["username"] == "operator" and body["user"]["roles"] == ["operator"]
    expires = datetime.fromisoformat(body["expires_at"])
    assert before + state.settings.token_ttl <= expires <= datetime.now(UTC) + state.settings.token_ttl
    who = me(client, body["access_token"])
    assert who.status_code == 200
    assert who.json() == {
        "username": "operator",
        "display_name": "operator",
        "roles": ["operator"],
        "unit_code": "12345",
        "unit_name": "南通市12345政务服务便民热线",
        "active": True,
        "version": 1,
    }


def test_each_login_gives_a_new_token(client):
    assert token_of(client, "dispatcher") != token_of(client, "dispatcher")


@pytest.mark.parametrize(
    "username, password",
    [("operator", "wrong-password-1"), ("operator", ""), ("nobody", PASSWORD), ("OPERATOR", PASSWORD)],
    ids=["wrong-password", "empty-password", "unknown-user", "other-case"],
)
def test_bad_credentials_are_refused_alike(client, username, password):
    """Wrong password and unknown user get the same answer (no user enumeration)."""
    r = login(client, username, password)
    if r.status_code == 422:  # an empty form field is refused before the route
        assert password == ""
        return
    assert_unauthorized(r, "用户名或密码错误")


def test_deactivated_user_cannot_log_in(client, state):
    set_active(state, "staff_csgl", False)
    assert_unauthorized(login(client, "staff_csgl"), "用户名或密码错误")
    set_active(state, "staff_csgl", True)
    assert login(client, "staff_csgl").status_code == 200


def test_no_token_or_a_forged_one_is_refused(client, tokens):
    assert_unauthorized(client.get("/api/auth/me"), "请先登录")
    assert_unauthorized(client.get("/api/auth/me", headers=bearer("cl_not-a-real-token")), "令牌无效")
    # Another auth scheme is no login either.
    assert_unauthorized(client.get("/api/orgs/units", headers={"Authorization": "Basic YWRtaW46eA=="}))
    assert me(client, tokens["operator"]).status_code == 200


def test_an_expired_token_is_refused(client, state):
    now = datetime.now(UTC)
    with write_session(state.sessions) as s:
        user = s.execute(select(User).where(User.username == "dispatcher")).scalar_one()
        stale, _ = do_issue_token(
            s, user, secret=TEST_SECRET, now=now - timedelta(hours=2), ttl=timedelta(hours=1)
        )
        fresh, _ = do_issue_token(
            s, user, secret=TEST_SECRET, now=now - timedelta(hours=2), ttl=timedelta(hours=3)
        )
    assert_unauthorized(me(client, stale), "登录已失效")
    assert me(client, fresh).status_code == 200


def test_a_login_token_expires_after_the_configured_ttl(client, state):
    token = token_of(client, "supervisor")
    ttl = state.settings.token_ttl
    start = datetime.now(UTC)
    with time_machine.travel(start + ttl - timedelta(minutes=2)):
        assert me(client, token).status_code == 200
    with time_machine.travel(start + ttl + timedelta(minutes=2)):
        assert_unauthorized(me(client, token), "登录已失效")
        # A new login works again.
        assert me(client, token_of(client, "supervisor")).status_code == 200


# -- logout --------------------------------------------------------------------------------------------------


def test_logout_revokes_exactly_that_token(client, state, tokens):
    first, second = token_of(client, "callback"), token_of(client, "callback")
    r = client.post("/api/auth/logout", headers=bearer(first))
    assert r.status_code == 204 and r.content == b""
    assert_unauthorized(me(client, first), "登录已失效")
    assert me(client, second).status_code == 200
    assert me(client, tokens["callback"]).status_code == 200
    digest = hmac.new(TEST_SECRET.encode(), first.encode(), hashlib.sha256).hexdigest()
    with read_session(state.sessions) as s:
        rows = s.execute(select(ApiToken)).scalars().all()
        revoked = [t.token_hash for t in rows if t.revoked_at is not None]
        events = (
            s.execute(select(AuditEvent).where(AuditEvent.action == "auth.token_revoked")).scalars().all()
        )
        assert revoked == [digest]
        assert [(e.actor_name, e.entity_ref) for e in events] == [("callback", "callback")]
    # Logging out again with the dead token is refused; without a token too.
    assert_unauthorized(client.post("/api/auth/logout", headers=bearer(first)))
    assert_unauthorized(client.post("/api/auth/logout"))


# -- token storage -------------------------------------------------------------------------------------------


def test_tokens_are_stored_only_as_keyed_hashes(client, state):
    token = token_of(client, "leader")
    with state.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(ApiToken.__table__)).mappings()]
        audit = [dict(r) for r in conn.execute(select(AuditEvent.__table__)).mappings()]
    assert rows
    stored = json.dumps(rows, default=str, ensure_ascii=False)
    assert token not in stored and token.removeprefix("cl_") not in stored
    assert token not in json.dumps(audit, default=str, ensure_ascii=False)
    hashes = {r["token_hash"] for r in rows}
    assert hmac.new(TEST_SECRET.encode(), token.encode(), hashlib.sha256).hexdigest() in hashes
    # Keyed: a plain hash of the token, or one keyed with another secret, is not what is stored.
    assert hashlib.sha256(token.encode()).hexdigest() not in hashes
    assert hmac.new(b"another-secret", token.encode(), hashlib.sha256).hexdigest() not in hashes


# -- /api/auth/me and reading users --------------------------------------------------------------------------


def test_me_and_reading_users(client, auth):
    assert client.get("/api/auth/me", headers=auth("staff_tongzhou")).json()["unit_code"] == "320612"
    assert client.get("/api/auth/me", headers=auth("admin")).json()["roles"] == ["admin"]
    assert client.get("/api/users/staff_zjj", headers=auth("staff_zjj")).status_code == 200  # oneself
    assert client.get("/api/users/staff_csgl", headers=auth("staff_zjj")).status_code == 403
    assert client.get("/api/users", headers=auth("supervisor")).status_code == 403
    listed = client.get("/api/users", headers=auth("admin")).json()
    assert [u["username"] for u in listed] == sorted(u["username"] for u in listed)
    assert {"admin", "operator", "police", "staff_chongchuan"} <= {u["username"] for u in listed}
    assert client.get("/api/users/nobody", headers=auth("admin")).status_code == 404


# -- user administration -------------------------------------------------------------------------------------


NEW_USER = {
    "username": "new_agent",
    "display_name": "新话务员",
    "password": "long-enough-1",
    "roles": ["operator"],
    "unit_code": "12345",
}


def test_admin_creates_a_user_who_can_log_in(client, auth):
    r = client.post("/api/users", json=NEW_USER, headers=auth("admin"))
    assert r.status_code == 201, r.text
    assert r.json() == {
        "username": "new_agent",
        "display_name": "新话务员",
        "roles": ["operator"],
        "unit_code": "12345",
        "unit_name": "南通市12345政务服务便民热线",
        "active": True,
        "version": 1,
    }
    assert me(client, token_of(client, "new_agent", "long-enough-1")).json()["username"] == "new_agent"


@pytest.mark.parametrize(
    "body, status, fragment",
    [
        ({**NEW_USER, "roles": ["unit_staff"], "unit_code": None}, 422, "必须属于一个单位"),
        ({**NEW_USER, "roles": ["unit_staff"], "unit_code": "nope"}, 422, "nope"),
        ({**NEW_USER, "username": "operator"}, 409, "operator"),
        ({**NEW_USER, "roles": ["mayor"]}, 422, "roles"),
        ({**NEW_USER, "roles": []}, 422, "roles"),
        ({**NEW_USER, "password": "short"}, 422, "password"),
        ({**NEW_USER, "username": "bad name!"}, 422, "username"),
    ],
    ids=[
        "staff-without-unit",
        "unknown-unit",
        "duplicate",
        "unknown-role",
        "no-role",
        "short-password",
        "bad-name",
    ],
)
def test_create_user_refusals(client, auth, state, body, status, fragment):
    before = client.get("/api/users", headers=auth("admin")).json()
    r = client.post("/api/users", json=body, headers=auth("admin"))
    assert r.status_code == status, r.text
    assert fragment in r.json()["detail"] or fragment == r.json().get("field"), r.json()
    assert_no_password(r.json(), body["password"])
    assert client.get("/api/users", headers=auth("admin")).json() == before


def test_staff_without_unit_names_the_field(client, auth):
    r = client.post(
        "/api/users", json={**NEW_USER, "roles": ["unit_staff"], "unit_code": None}, headers=auth("admin")
    )
    assert r.status_code == 422 and r.json()["field"] == "unit_code"


def test_only_admins_manage_users(client, auth):
    for user in ("operator", "supervisor", "leader", "staff_csgl"):
        r = client.post("/api/users", json=NEW_USER, headers=auth(user))
        assert r.status_code == 403, user
        r = client.patch(
            "/api/users/operator", json={"version": 1, "display_name": "改名"}, headers=auth(user)
        )
        assert r.status_code == 403, user
    assert client.get("/api/users/operator", headers=auth("admin")).json()["display_name"] == "operator"


def test_patch_with_a_stale_version_is_refused(client, auth, state):
    current = client.get("/api/users/dispatcher", headers=auth("admin")).json()
    ok = client.patch(
        "/api/users/dispatcher",
        json={"version": current["version"], "display_name": "派单员·李强"},
        headers=auth("admin"),
    )
    assert ok.status_code == 200 and ok.json()["version"] == current["version"] + 1
    stale = client.patch(
        "/api/users/dispatcher",
        json={"version": current["version"], "display_name": "别人改的"},
        headers=auth("admin"),
    )
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    assert "刷新" in stale.json()["detail"]
    assert user_row(state, "dispatcher")["display_name"] == "派单员·李强"
    missing = client.patch("/api/users/dispatcher", json={"display_name": "x"}, headers=auth("admin"))
    assert missing.status_code == 422 and missing.json()["field"] == "version"


def test_role_change_takes_effect_on_the_next_request(client, auth):
    """The same token: roles are read per request, not baked into the token."""
    headers = auth("operator")
    assert client.get("/api/users", headers=headers).status_code == 403
    v = client.get("/api/users/operator", headers=auth("admin")).json()["version"]
    r = client.patch("/api/users/operator", json={"version": v, "roles": ["admin"]}, headers=auth("admin"))
    assert r.status_code == 200 and r.json()["roles"] == ["admin"]
    assert client.get("/api/users", headers=headers).status_code == 200
    assert client.get("/api/auth/me", headers=headers).json()["roles"] == ["admin"]
    r = client.patch(
        "/api/users/operator", json={"version": v + 1, "roles": ["operator"]}, headers=auth("admin")
    )
    assert r.status_code == 200
    assert client.get("/api/users", headers=headers).status_code == 403


def test_role_change_to_unit_staff_needs_a_unit(client, auth, state):
    v = client.get("/api/users/leader", headers=auth("admin")).json()["version"]
    r = client.patch("/api/users/leader", json={"version": v, "roles": ["unit_staff"]}, headers=auth("admin"))
    assert r.status_code == 422 and r.json()["field"] == "unit_code"
    assert user_row(state, "leader")["roles"] == ["leader"]
    r = client.patch(
        "/api/users/leader",
        json={"version": v, "roles": ["unit_staff"], "unit_code": "zjj"},
        headers=auth("admin"),
    )
    assert r.status_code == 200 and r.json()["unit_code"] == "zjj"


def test_deactivation_blocks_login_and_live_tokens(client, auth, tokens):
    v = client.get("/api/users/staff_zjj", headers=auth("admin")).json()["version"]
    r = client.patch("/api/users/staff_zjj", json={"version": v, "active": False}, headers=auth("admin"))
    assert r.status_code == 200 and r.json()["active"] is False
    assert_unauthorized(login(client, "staff_zjj"), "用户名或密码错误")
    assert_unauthorized(me(client, tokens["staff_zjj"]), "登录已失效")  # deactivation revoked it
    r = client.patch("/api/users/staff_zjj", json={"version": v + 1, "active": True}, headers=auth("admin"))
    assert r.status_code == 200
    assert_unauthorized(me(client, tokens["staff_zjj"]), "登录已失效")  # reactivation brings no token back
    assert login(client, "staff_zjj").status_code == 200


def test_password_change(client, auth, state, tokens):
    v = client.get("/api/users/callback", headers=auth("admin")).json()["version"]
    r = client.patch(
        "/api/users/callback", json={"version": v, "password": NEW_PASSWORD}, headers=auth("admin")
    )
    assert r.status_code == 200
    assert_no_password(r.json(), NEW_PASSWORD)
    assert_unauthorized(login(client, "callback", PASSWORD))
    assert login(client, "callback", NEW_PASSWORD).status_code == 200
    with read_session(state.sessions) as s:
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "user.updated")).scalar_one()
        assert event.data["changes"] == {"password": ["***", "***"], "tokens_revoked": [0, 1]}
    assert_unauthorized(me(client, tokens["callback"]), "登录已失效")  # old sessions end with the old password


def test_passwords_are_never_returned_by_any_route(client, auth, state):
    admin = auth("admin")
    hashes = [user_row(state, u)["password_hash"] for u in ("admin", "operator")]
    created = client.post("/api/users", json=NEW_USER, headers=admin)
    v = created.json()["version"]
    bodies = [
        login(client, "operator").json(),
        login(client, "operator", "wrong-password-1").json(),
        client.get("/api/auth/me", headers=admin).json(),
        client.get("/api/users", headers=admin).json(),
        client.get("/api/users/operator", headers=admin).json(),
        created.json(),
        client.post("/api/users", json=NEW_USER, headers=admin).json(),  # 409
        client.patch(
            "/api/users/new_agent", json={"version": v, "password": NEW_PASSWORD}, headers=admin
        ).json(),
        client.patch("/api/users/new_agent", json={"version": v, "password": "short"}, headers=admin).json(),
        client.get("/api/audit/events", headers=admin).json(),
    ]
    for body in bodies:
        assert_no_password(body, PASSWORD, NEW_PASSWORD, NEW_USER["password"], *hashes)
