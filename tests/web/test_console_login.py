"""The console's first pages: login with a session cookie, errors in Chinese next to the field with what was
typed kept, each role's own work on the home page, logout that really ends the session, vendored assets."""

from tests.conftest import PASSWORD
from tests.helpers import register

from civiclink.web.messages import messages, t


def login(client, username, password=PASSWORD):
    return client.post("/login", data={"username": username, "password": password, "next": "/"},
                       follow_redirects=False)


def test_home_asks_for_login(client):
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    page = client.get("/login")
    assert page.status_code == 200 and "登录" in page.text and 'lang="zh-CN"' in page.text


def test_wrong_password_keeps_the_username_and_says_why(client):
    r = login(client, "dispatcher", "wrong")
    assert r.status_code == 401
    assert t("login.failed") in r.text and 'value="dispatcher"' in r.text
    assert "wrong" not in r.text  # the password is never sent back
    assert login(client, "", "").status_code == 422


def test_login_sets_a_strict_httponly_cookie_and_shows_the_roles_work(state, session, actors, client):
    ctx = state.ctx(session)
    register(ctx, actors)  # one order awaiting dispatch
    session.commit()
    r = login(client, "dispatcher")
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    home = client.get("/")
    assert home.status_code == 200
    assert "派单员" in home.text and t("work.awaiting_dispatch") in home.text
    assert '<span class="count">1</span>' in home.text


def test_logout_revokes_the_token(client):
    login(client, "callback")
    assert client.get("/", follow_redirects=False).status_code == 200
    token = client.cookies.get("civiclink_session")
    client.post("/logout", follow_redirects=False)
    assert client.get("/", follow_redirects=False).status_code == 303
    # The token itself is dead, not just the cookie.
    assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_next_never_leaves_the_site(client):
    r = client.post("/login", data={"username": "operator", "password": PASSWORD, "next": "//evil.example/x"},
                    follow_redirects=False)
    assert r.headers["location"] == "/"


def test_vendored_assets_are_served_with_their_licences(client):
    assert client.get("/static/vendor/htmx-2.0.11/htmx.min.js").status_code == 200
    assert client.get("/static/vendor/echarts-6.1.0/echarts.min.js").status_code == 200
    assert "Apache License" in client.get("/static/vendor/echarts-6.1.0/LICENSE").text
    assert client.get("/static/console.css").status_code == 200


def test_every_catalogue_entry_is_chinese_text():
    for key, text in messages().items():
        assert text.strip(), key
