"""The knowledge base (R-901..905): Chinese full-text search, validity dates and regions, admin writes with
versions and audit, and 直接办结 recording the item it used (R-902)."""

from datetime import date

from sqlalchemy import select

from civiclink.audit.models import AuditEvent
from civiclink.db import begin_write
from civiclink.knowledge.schemas import STARTER_FILE, read_item_file
from civiclink.sites import load_starter_knowledge
from civiclink.workorders.models import WorkOrder


def load_items(state):
    s = state.sessions()
    begin_write(s)
    report = load_starter_knowledge(state.ctx(s))
    s.commit()
    s.close()
    state.knowledge.invalidate()
    return report


def test_starter_file_is_valid_and_has_boundary_items():
    items = read_item_file(STARTER_FILE)
    assert len(items) >= 40
    kinds = {i.kind for i in items}
    assert {"boundary", "which_number", "policy", "procedure"} <= kinds
    assert len({i.code for i in items}) == len(items)
    assert all(i.source for i in items), "every item cites its basis (R-905)"


def test_search_finds_the_item_and_hides_expired_ones(state, client, auth):
    report = load_items(state)
    assert report["added"] >= 40
    r = client.get("/api/knowledge/search", params={"q": "公积金怎么提取，要什么材料"}, headers=auth("operator"))
    assert r.status_code == 200, r.text
    hits = r.json()
    assert hits and "公积金" in hits[0]["title"]
    assert 0 < hits[0]["confidence"] <= 1
    # The COVID-era items expired; the 2027 flood-season notice is not valid yet (today is before it).
    every = client.get("/api/knowledge", headers=auth("operator")).json()
    statuses = {i["code"]: i["status"] for i in every}
    assert statuses["kb.covid.class_a_measures"] == "expired"
    assert statuses["kb.notice.flood_season_2027"] == "not_yet_valid"
    covid = client.get("/api/knowledge/search", params={"q": "新冠 甲类管理 隔离"}, headers=auth("operator")).json()
    assert "kb.covid.class_a_measures" not in [h["code"] for h in covid]


def test_admin_adds_updates_and_retires_with_versions(state, client, auth):
    item = {"code": "kb.test.bike", "title": "公共自行车租还", "kind": "procedure",
            "questions": ["公共自行车怎么借", "还车还不进去"], "answer": "可在公共自行车站点扫码租还。",
            "keywords": ["公共自行车"], "owner": "jtys", "effective_from": "2024-01-01", "source": "演示"}
    assert client.post("/api/knowledge", json=item, headers=auth("operator")).status_code == 403
    r = client.post("/api/knowledge", json=item, headers=auth("admin"))
    assert r.status_code == 201, r.text
    assert client.post("/api/knowledge", json=item, headers=auth("admin")).status_code == 409
    hits = client.get("/api/knowledge/search", params={"q": "公共自行车还不进去"}, headers=auth("operator")).json()
    assert hits[0]["code"] == "kb.test.bike"
    update = {k: v for k, v in item.items() if k != "code"} | {"answer": "新的答复。", "version": 1}
    assert client.put("/api/knowledge/kb.test.bike", json=update, headers=auth("admin")).json()["version"] == 2
    stale = client.put("/api/knowledge/kb.test.bike", json=update, headers=auth("admin"))
    assert stale.status_code == 409  # version 1 is gone: no silent overwrite
    r = client.post("/api/knowledge/kb.test.bike/retire", json={"version": 2, "reason": "服务停止"},
                    headers=auth("admin"))
    assert r.json()["status"] == "retired"
    hits = client.get("/api/knowledge/search", params={"q": "公共自行车还不进去"}, headers=auth("operator")).json()
    assert "kb.test.bike" not in [h["code"] for h in hits]
    with state.sessions() as s:
        actions = s.execute(select(AuditEvent.action).where(AuditEvent.entity_type == "knowledge_item")).scalars()
        assert list(actions) == ["knowledge.added", "knowledge.updated", "knowledge.retired"]


def test_bad_items_are_refused_with_a_message(state, client, auth):
    bad = {"code": "kb.test.bad", "title": "x", "answer": "y", "effective_from": "2025-01-01",
           "expires_on": "2024-01-01"}
    r = client.post("/api/knowledge", json=bad, headers=auth("admin"))
    assert r.status_code == 422 and "失效日期" in r.json()["detail"]
    r = client.post("/api/knowledge", json=bad | {"expires_on": None, "owner": "no-such-unit"}, headers=auth("admin"))
    assert r.status_code == 422 and "no-such-unit" in r.json()["detail"]


def test_close_at_intake_records_the_item_used(state, client, auth):
    load_items(state)
    order = {"channel": "phone", "title": "身份证补办", "content": "身份证丢了怎么补办？", "request_type": "consultation",
             "intake_answer": "可到户籍窗口申请补领。", "knowledge_item": "kb.id.reissue"}
    r = client.post("/api/orders", json=order, headers=auth("operator"))
    assert r.status_code == 201, r.text
    assert r.json()["state"] == "closed_at_intake"
    assert r.json()["intake_knowledge_item"] == "kb.id.reissue"
    item = client.get("/api/knowledge/kb.id.reissue", headers=auth("operator")).json()
    assert item["used_count"] == 1
    # An expired item cannot back a direct answer; nothing is written.
    r = client.post("/api/orders", json=order | {"knowledge_item": "kb.covid.class_a_measures"}, headers=auth("operator"))
    assert r.status_code == 422 and "有效期" in r.json()["detail"]
    with state.sessions() as s:
        assert s.execute(select(WorkOrder.id)).all().__len__() == 1


def test_region_filter(state, client, auth):
    load_items(state)
    haian = client.get("/api/knowledge/search", params={"q": "窨井盖缺失 水电故障报修", "place": "320685"},
                       headers=auth("operator")).json()
    chongchuan = client.get("/api/knowledge/search", params={"q": "窨井盖缺失 水电故障报修", "place": "320613"},
                            headers=auth("operator")).json()
    assert "kb.guide.facility_repair.haian" in [h["code"] for h in haian]
    assert "kb.guide.facility_repair.haian" not in [h["code"] for h in chongchuan]


def test_validity_is_by_local_date():
    from civiclink.knowledge.service import ItemInfo

    item = ItemInfo(id=1, code="c", title="t", kind="policy", answer="a", questions=(), owner_unit_id=None,
                    region_unit_id=None, source=None, effective_from=date(2024, 1, 1), expires_on=date(2025, 1, 1),
                    retired=False)
    assert item.valid_on(date(2024, 12, 31)) and not item.valid_on(date(2025, 1, 1))
