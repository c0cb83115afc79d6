"""The console's 管理 pages: only administrators reach them; every change goes through the same action as the
API with its audit event; a refused form says why in Chinese next to the field and keeps what was typed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.conftest import restore_base
from tests.helpers import console_login

from civiclink.app import create_app
from civiclink.audit.models import AuditEvent
from civiclink.db import write_session
from civiclink.exchange.models import OutboxMessage
from civiclink.knowledge.models import KnowledgeItem
from civiclink.orgs.models import OrgUnit, User
from civiclink.web.messages import t

PAGES = ["/admin", "/admin/orgs", "/admin/users", "/admin/users/new", "/admin/users/operator", "/admin/sla",
         "/admin/linkage", "/admin/knowledge", "/admin/knowledge/new", "/admin/peers"]




@pytest.fixture
def admin(client):
    console_login(client, "admin")
    return client


def audit(state, action: str) -> list[AuditEvent]:
    with state.sessions() as s:
        q = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        return s.execute(q).scalars().all()


def one(state, column, *where):
    with state.sessions() as s:
        return s.execute(select(column).where(*where)).scalar_one_or_none()


# ------------------------------------------------------------------------------------------------ access


@pytest.mark.parametrize("path", PAGES)
def test_every_admin_page_renders_in_chinese_for_an_admin(admin, path):
    r = admin.get(path)
    assert r.status_code == 200, r.text[:2000]
    assert t("admin.nav.orgs") in r.text and t("admin.nav.knowledge") in r.text  # the admin menu
    assert 'href="/admin"' in r.text  # 管理 in the main menu
    assert "admin." not in r.text.replace("admin.css", "")  # no catalogue key shows instead of its text


def test_pages_show_their_content(state, admin):
    orgs = admin.get("/admin/orgs").text
    assert "崇川区" in orgs and t("admin.orgs.categories") in orgs and "csgl" in orgs
    assert "南通市崇川区" in admin.get("/admin/orgs", params={"q": "崇川"}).text
    users = admin.get("/admin/users").text
    assert "staff_csgl" in users and "承办单位人员" in users
    sla = admin.get("/admin/sla").text
    assert "15个工作日" in sla and t("admin.sla.transitions") in sla and "退单" in sla
    assert t("admin.sla.readonly", source=t("admin.sla.source_default")) in sla
    year = admin.get("/admin/sla", params={"year": "2024"}).text
    assert "2024-02-12" in year and "2024-02-04" in year and "春节" in year  # 春节 on a Monday; 调休 Sunday
    assert t("admin.calendar.off") in year and t("admin.calendar.on") in year
    assert admin.get("/admin/sla", params={"year": "abc"}).status_code == 422
    linkage = admin.get("/admin/linkage").text
    for rule in ("R-201", "R-202", "R-203", "R-204", "R-205", "R-206", "R-207", "R-212", "R-503", "R-106"):
        assert rule in linkage
    assert "暴力伤害正在发生" in linkage and t("admin.linkage.route.police") in linkage


def test_a_non_admin_gets_the_403_page_and_no_admin_link(state, client):
    console_login(client, "operator")
    home = client.get("/")
    assert 'href="/admin"' not in home.text and t("nav.admin") not in home.text
    for path in PAGES:
        r = client.get(path)
        assert r.status_code == 403 and t("admin.forbidden.title") in r.text, path
        assert 'href="/admin"' not in r.text
    # Posting is refused too, and nothing is written.
    r = client.post("/admin/users", data={"username": "sneaky", "display_name": "x", "password": "12345678",
                                          "roles": "admin"})
    assert r.status_code == 403
    assert one(state, User.id, User.username == "sneaky") is None


def test_without_a_session_the_admin_pages_ask_for_login(client):
    r = client.get("/admin/users", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fadmin%2Fusers"


# ------------------------------------------------------------------------------------------------- users


def test_creating_a_user_works_and_writes_an_audit_event(state, admin):
    form = {"username": "wang", "display_name": "王芳", "password": "long-enough-1",
            "roles": ["dispatcher", "supervisor"], "unit_code": "12345"}
    r = admin.post("/admin/users", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/users?done=user_created")
    page = admin.get(r.headers["location"])
    assert t("admin.done.user_created", ref="wang") in page.text and "王芳" in page.text
    with state.sessions() as s:
        user = s.execute(select(User).where(User.username == "wang")).scalar_one()
        assert user.roles == ["dispatcher", "supervisor"] and user.unit_id is not None
    [event] = [e for e in audit(state, "user.created") if e.entity_id == user.id]
    assert event.actor_name == "admin" and event.data["roles"] == ["dispatcher", "supervisor"]
    # The new user can log in.
    with TestClient(admin.app) as other:
        console_login(other, "wang", "long-enough-1")
        assert "王芳" in other.get("/").text


def test_a_duplicate_username_is_refused_next_to_the_field_keeping_what_was_typed(admin):
    r = admin.post("/admin/users", data={"username": "operator", "display_name": "重名的人",
                                         "password": "secret-password-9", "roles": ["callback_agent"],
                                         "unit_code": "12345"})
    assert r.status_code == 409
    assert '<p class="error" id="err-username">用户名 &#39;operator&#39; 已存在</p>' in r.text
    assert 'value="operator"' in r.text and 'value="重名的人"' in r.text and 'value="12345"' in r.text
    assert 'value="callback_agent" checked' in r.text
    assert "secret-password-9" not in r.text  # never echoed


def test_unit_staff_without_a_unit_is_refused_next_to_the_unit_field(state, admin):
    r = admin.post("/admin/users", data={"username": "li", "display_name": "李四",
                                         "password": "long-enough-1", "roles": "unit_staff"})
    assert r.status_code == 422
    assert 'id="err-unit_code">承办单位人员必须属于一个单位' in r.text
    assert 'value="li"' in r.text and 'value="unit_staff" checked' in r.text
    assert one(state, User.id, User.username == "li") is None


def test_form_errors_are_plain_chinese(admin):
    r = admin.post("/admin/users", data={"username": "坏 名字!", "display_name": "", "password": "short"})
    assert r.status_code == 422
    assert f'id="err-username">{t("admin.error.pattern")}' in r.text
    assert f'id="err-password">{t("admin.users.password_short")}' in r.text
    assert f'id="err-roles">{t("admin.users.roles_required")}' in r.text
    assert 'id="err-display_name">' in r.text
    assert "String should" not in r.text and "List should" not in r.text
    assert t("admin.error.form") in r.text and 'href="#password"' in r.text  # the summary links each field


def test_editing_a_user_changes_roles_unit_and_active_flag(state, admin):
    page = admin.get("/admin/users/staff_csgl")
    assert 'name="version" value="1"' in page.text and 'value="csgl"' in page.text
    form = {"version": "1", "display_name": "城管张三", "roles": ["unit_staff"], "unit_code": "zjj"}
    r = admin.post("/admin/users/staff_csgl", data=form, follow_redirects=False)  # "active" unticked
    assert r.status_code == 303 and "done=user_updated" in r.headers["location"]
    with state.sessions() as s:
        user = s.execute(select(User).where(User.username == "staff_csgl")).scalar_one()
        assert user.display_name == "城管张三" and not user.active and user.version > 1
    [event] = audit(state, "user.updated")
    changes = event.data["changes"]
    assert changes["unit"] == ["csgl", "zjj"] and changes["active"] == [True, False]
    # The same form again, with the version it was read at: refused, with the reason, values kept.
    stale = admin.post("/admin/users/staff_csgl", data={**form, "display_name": "又改了", "active": "on"})
    assert stale.status_code == 409 and "已被他人修改" in stale.text and 'value="又改了"' in stale.text
    assert admin.get("/admin/users/nobody").status_code == 404


def test_clearing_the_unit_of_unit_staff_is_refused(admin):
    r = admin.post("/admin/users/staff_zjj", data={"version": "1", "display_name": "staff_zjj",
                                                   "roles": "unit_staff", "unit_code": "", "active": "on"})
    assert r.status_code == 422 and 'id="err-unit_code">承办单位人员必须属于一个单位' in r.text


# -------------------------------------------------------------------------------------------- knowledge

ITEM = {"code": "gjj.tq", "title": "住房公积金提取", "kind": "procedure",
        "questions": "公积金怎么提取\n公积金能取出来吗", "answer": "持身份证到公积金中心窗口或在手机上办理。",
        "keywords": "公积金，提取", "owner": "", "region": "", "source": "南通市住房公积金提取办法",
        "effective_from": "2024-01-01", "expires_on": ""}


def test_knowledge_add_revise_retire(state, admin):
    r = admin.post("/admin/knowledge", data=ITEM, follow_redirects=False)
    assert r.status_code == 303 and "done=knowledge_added" in r.headers["location"]
    listing = admin.get(r.headers["location"]).text
    assert t("admin.done.knowledge_added", ref="gjj.tq") in listing and "住房公积金提取" in listing
    assert "住房公积金提取" in admin.get("/admin/knowledge", params={"q": "公积金怎么取"}).text
    with state.sessions() as s:
        item = s.execute(select(KnowledgeItem).where(KnowledgeItem.code == "gjj.tq")).scalar_one()
        assert item.questions == ["公积金怎么提取", "公积金能取出来吗"]
        assert item.keywords == ["公积金", "提取"]

    edit = admin.get("/admin/knowledge/gjj.tq").text
    assert 'name="version" value="1"' in edit and "公积金能取出来吗" in edit
    revised = {**ITEM, "answer": "可在“南通公积金”APP 上办理提取。", "version": "1"}
    r = admin.post("/admin/knowledge/gjj.tq", data=revised, follow_redirects=False)
    assert r.status_code == 303 and "done=knowledge_revised" in r.headers["location"]

    r = admin.post("/admin/knowledge/gjj.tq/retire", data={"version": "2", "reason": "政策已调整"},
                   follow_redirects=False)
    assert r.status_code == 303 and "done=knowledge_retired" in r.headers["location"]
    with state.sessions() as s:
        item = s.execute(select(KnowledgeItem).where(KnowledgeItem.code == "gjj.tq")).scalar_one()
        assert item.retired_reason == "政策已调整" and item.answer.startswith("可在")
    actions = ("knowledge.added", "knowledge.updated", "knowledge.retired")
    assert [len(audit(state, a)) for a in actions] == [1, 1, 1]
    retired = admin.get("/admin/knowledge", params={"status": "retired"}).text
    assert t("admin.knowledge.status.retired") in retired and "住房公积金提取" in retired


def test_a_stale_revision_says_so_and_keeps_the_text(state, admin):
    admin.post("/admin/knowledge", data=ITEM)
    admin.post("/admin/knowledge/gjj.tq", data={**ITEM, "answer": "别人先改的答复。", "version": "1"})
    r = admin.post("/admin/knowledge/gjj.tq", data={**ITEM, "answer": "我的答复。", "version": "1"})
    assert r.status_code == 409
    assert "知识条目已被他人修改（您的版本 1，当前版本 2），请刷新后重试" in r.text
    assert t("admin.knowledge.stale_current") in r.text and "别人先改的答复。" in r.text  # what is saved now
    assert "我的答复。" in r.text  # what this admin typed
    assert 'name="version" value="2"' in r.text  # a second submit knowingly replaces version 2
    assert one(state, KnowledgeItem.answer, KnowledgeItem.code == "gjj.tq") == "别人先改的答复。"


def test_knowledge_form_errors(admin):
    admin.post("/admin/knowledge", data=ITEM)
    dup = admin.post("/admin/knowledge", data=ITEM)
    assert dup.status_code == 409 and 'id="err-code">知识条目编码 &#39;gjj.tq&#39; 已存在' in dup.text
    bad = admin.post("/admin/knowledge", data={**ITEM, "code": "Bad Code", "answer": "",
                                                "effective_from": "明天"})
    assert bad.status_code == 422
    assert f'id="err-code">{t("admin.knowledge.code_pattern")}' in bad.text
    assert f'id="err-effective_from">{t("admin.error.date")}' in bad.text
    assert 'id="err-answer">' in bad.text and 'value="Bad Code"' in bad.text
    unknown_owner = admin.post("/admin/knowledge", data={**ITEM, "code": "x.y", "owner": "nowhere"})
    assert unknown_owner.status_code == 422 and 'id="err-owner">' in unknown_owner.text
    retire = admin.post("/admin/knowledge/gjj.tq/retire", data={"version": "1", "reason": ""})
    assert retire.status_code == 422 and 'id="err-reason">' in retire.text


# ------------------------------------------------------------------------------------ org file, calendar


def upload(name: str, raw: bytes, kind: str = "text/csv") -> dict:
    return {"file": (name, raw, kind)}


def test_importing_the_org_file_reports_what_changed(state, admin):
    data = yaml.safe_load(state.settings.resolved_org_file.read_text(encoding="utf-8"))
    data["units"][0]["aliases"] = [*data["units"][0].get("aliases", []), "通州湾"]
    raw = yaml.safe_dump(data, allow_unicode=True).encode()
    r = admin.post("/admin/orgs/import", files=upload("nantong-2.yaml", raw), follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    page = admin.get(r.headers["location"]).text
    assert "已导入「nantong-2.yaml」：单位新增 0、更新 1、停用 0" in page and "通州湾" in page
    assert len(audit(state, "org.unit_updated")) == 1
    bad = admin.post("/admin/orgs/import", files=upload("x.yaml", b"- just a list\n"))
    assert bad.status_code == 422 and 'id="err-file">YAML 文件顶层必须是映射' in bad.text
    empty = admin.post("/admin/orgs/import", data={})
    assert empty.status_code == 422 and t("admin.error.file_required") in empty.text


def test_importing_a_holiday_calendar(state, admin):
    csv = "date,type,name\n2031-01-01,holiday,元旦\n2031-01-04,workday,元旦调休上班\n".encode()
    r = admin.post("/admin/sla/calendar", files=upload("2031.csv", csv), follow_redirects=False)
    assert r.status_code == 303
    assert t("admin.done.calendar_imported", ref="2031") in admin.get(r.headers["location"]).text
    year = admin.get("/admin/sla", params={"year": "2031"}).text
    assert "2031-01-04" in year and "元旦调休上班" in year and "2031.csv" in year
    assert len(audit(state, "calendar.imported")) == 1
    bad = admin.post("/admin/sla/calendar", files=upload("bad.csv", b"day,kind\n"))
    assert bad.status_code == 422 and 'id="err-file">日历文件需要列 date,type[,name]' in bad.text
    utf16 = admin.post("/admin/sla/calendar", files=upload("l.csv", "date,type\n".encode("utf-16")))
    assert utf16.status_code == 422 and t("admin.error.encoding") in utf16.text


# ------------------------------------------------------------------------------------------------- peers


def dead_letter(state) -> str:
    message_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    with write_session(state.sessions) as s:
        s.add(OutboxMessage(message_id=message_id, peer="test-110", case_ref="CASE-1", seq=1,
                            type="transfer.offer", envelope="{}", created_at=now, state="dead", attempts=30,
                            next_attempt_at=now, last_error="ConnectError: connection refused"))
    return message_id


def test_peers_show_dead_letters_and_retry_them(state, admin):
    message_id = dead_letter(state)
    page = admin.get("/admin/peers").text
    assert "test-110" in page and "connection refused" in page and t("admin.msgtype.transfer.offer") in page
    assert f'name="message_id" value="{message_id}"' in page and t("admin.peers.retry_all", count=1) in page
    r = admin.post("/admin/peers/retry", data={"message_id": message_id}, follow_redirects=False)
    assert r.status_code == 303
    assert t("admin.done.messages_requeued", count="1") in admin.get(r.headers["location"]).text
    assert one(state, OutboxMessage.state, OutboxMessage.message_id == message_id) == "pending"
    again = admin.post("/admin/peers/retry", data={"message_id": message_id})
    assert again.status_code == 409 and "只有发送失败的消息（死信）可以重发" in again.text
    assert admin.post("/admin/peers/retry", data={"message_id": "nope"}).status_code == 404


# ------------------------------------------------------------------------------------------- police site


def test_the_police_site_has_the_same_admin_pages(police_app_state):
    restore_base(police_app_state)
    app = create_app(police_app_state.settings, state=police_app_state)
    with TestClient(app) as client:
        console_login(client, "admin")
        for path in PAGES:
            assert client.get(path.replace("/operator", "/jjy")).status_code == 200, path
        assert t("admin.orgs.categories") not in client.get("/admin/orgs").text  # no 派单目录 on 110
        sla = client.get("/admin/sla").text
        assert t("admin.sla.incident_transitions") in sla and "派警" in sla
        assert t("admin.sla.stages") not in sla  # 工单 limits do not apply to 警单
        form = client.get("/admin/users/new").text
        assert "110接警员" in form and "话务员" not in form
        r = client.post("/admin/users", data={"username": "zhy2", "display_name": "指挥员二",
                                              "password": "long-enough-1", "roles": "police_commander",
                                              "unit_code": "gaj.110"}, follow_redirects=False)
        assert r.status_code == 303
        unit_id = one(police_app_state, OrgUnit.id, OrgUnit.code == "gaj.110")
        assert one(police_app_state, User.unit_id, User.username == "zhy2") == unit_id
