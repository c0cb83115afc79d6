"""管理 → 开放接口: an admin makes a client's key (shown once, on the page only), sees the clients, stops a key."""

from __future__ import annotations

import re

from tests.helpers import console_login
from tests.open311.conftest import BASE


def test_admin_makes_and_revokes_a_key(client):
    console_login(client, "admin")
    page = client.get("/admin/open311")
    assert page.status_code == 200 and "开放接口（Open311）客户端" in page.text and "还没有客户端" in page.text
    bad = client.post("/admin/open311", data={"code": "Bad Code!", "name": ""})
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text and 'value="Bad Code!"' in bad.text
    made = client.post("/admin/open311", data={"code": "web-portal", "name": "市政府网站"})
    assert made.status_code == 200 and "已为「市政府网站」生成 api_key" in made.text
    key = re.search(r'<code class="secret" id="new-key">([^<]+)</code>', made.text).group(1)
    assert "location" not in made.headers  # not redirected: the key is in no URL
    again = client.get("/admin/open311")
    assert key not in again.text and key[:8] in again.text  # only its prefix from now on
    ok = client.post(f"{BASE}/requests.json", data={"api_key": key, "service_code": "cxjs.wygl", "lat": "32",
                                                     "long": "120.9", "description": "楼道灯坏了一个月"})
    assert ok.status_code == 201, ok.text
    client_id = re.search(r'action="/admin/open311/(\d+)/revoke"', again.text).group(1)
    version = re.search(r'name="version" value="(\d+)"', again.text).group(1)
    stale = client.post(f"/admin/open311/{client_id}/revoke", data={"version": str(int(version) + 5)})
    assert stale.status_code == 409 and "已被他人修改" in stale.text
    revoked = client.post(f"/admin/open311/{client_id}/revoke", data={"version": version}, follow_redirects=False)
    assert revoked.status_code == 303 and "open311_revoked" in revoked.headers["location"]
    assert "已停用客户端 web-portal" in client.get(revoked.headers["location"]).text
    denied = client.post(f"{BASE}/requests.json", data={"api_key": key, "service_code": "cxjs.wygl", "lat": "32",
                                                         "long": "120.9", "description": "楼道灯坏了一个月"})
    assert denied.status_code == 403


def test_only_admins_and_only_the_hotline(client):
    console_login(client, "operator")
    assert client.get("/admin/open311").status_code == 403
