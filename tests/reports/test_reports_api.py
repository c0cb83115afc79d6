"""The reports over HTTP (who may: 指挥中心领导, 督办员, 管理员; not an operator), the console page with its
downloads and a topic's days, and the ``civiclink report`` commands."""

from __future__ import annotations

import io
import json

import pytest
from openpyxl import load_workbook
from tests.helpers import console_login
from tests.reports.test_figures import pdf_text

from civiclink.web.messages import t

SPRING = {"start": "2026-02-15", "end": "2026-02-23"}
TOPIC = {"name": "欠薪", "keywords": ["欠薪"], "categories": ["ldsb"], "season_start": "2026-02-15",
         "season_end": "2026-02-25"}




@pytest.mark.parametrize("username", ["leader", "supervisor", "admin"])
def test_report_readers(story, client, auth, username):
    r = client.get("/api/reports/summary", params=SPRING, headers=auth(username))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["volume"] == 9 and body["first_attempt_connection"]["available"] is False
    assert "一次接通率暂无话务数据" in body["headline"]
    assert client.get("/api/reports/topics", headers=auth(username)).status_code == 200
    assert client.get("/api/reports/presets", headers=auth(username)).status_code == 200


def test_an_operator_may_not(story, client, auth):
    for path in ("/api/reports/summary", "/api/reports/summary.xlsx", "/api/reports/summary.pdf"):
        r = client.get(path, params=SPRING, headers=auth("operator"))
        assert r.status_code == 403 and r.json()["code"] == "forbidden", path
    assert client.get("/api/reports/topics", headers=auth("operator")).status_code == 403
    assert client.post("/api/reports/topics", json=TOPIC, headers=auth("operator")).status_code == 403
    assert client.get("/api/reports/summary", params=SPRING).status_code == 401


def test_files_over_the_api(story, client, auth):
    r = client.get("/api/reports/summary.xlsx", params={**SPRING, "compare_start": "2025-01-28",
                                                        "compare_end": "2025-02-04"}, headers=auth("leader"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    summary = {row[0].value: row[1].value for row in load_workbook(io.BytesIO(r.content))["汇总"].iter_rows()
               if row[0].value and len(row) > 1}
    assert summary["受理量"] == 9 and summary["对比区间受理量"] == 4
    r = client.get("/api/reports/summary.pdf", params={**SPRING, "place": "320612"}, headers=auth("supervisor"))
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert "共受理各类诉求3件" in pdf_text(r.content)


def test_a_missing_font_is_a_clear_503(story, client, auth, state, monkeypatch, tmp_path):
    monkeypatch.setattr(state.settings.reports, "font_path", tmp_path / "missing.ttc")
    r = client.get("/api/reports/summary.pdf", params=SPRING, headers=auth("leader"))
    assert r.status_code == 503 and "fonts-noto-cjk" in r.json()["detail"]


def test_bad_requests(story, client, auth):
    leader = auth("leader")
    assert client.get("/api/reports/summary", params={"start": "2026-02-23", "end": "2026-02-15"},
                      headers=leader).status_code == 422
    assert client.get("/api/reports/summary", params={**SPRING, "place": "nowhere"},
                      headers=leader).status_code in (404, 422)
    assert client.get("/api/reports/summary", params={**SPRING, "compare_start": "2025-01-01"},
                      headers=leader).status_code == 422
    assert client.get("/api/reports/topics/99/days", headers=leader).status_code == 404


def test_topics_over_the_api(story, client, auth):
    r = client.post("/api/reports/topics", json=TOPIC, headers=auth("supervisor"))
    assert r.status_code == 201, r.text
    topic = r.json()
    assert topic["categories"][0]["code"] == "ldsb" and topic["created_by"] == "supervisor"
    assert client.post("/api/reports/topics", json=TOPIC, headers=auth("admin")).status_code == 409
    assert client.post("/api/reports/topics", json={**TOPIC, "name": "x", "keywords": [], "categories": []},
                       headers=auth("admin")).status_code == 422
    days = client.get(f"/api/reports/topics/{topic['id']}/days", headers=auth("leader")).json()
    assert len(days["days"]) == 11 and days["total"] == 2
    assert [d["count"] for d in days["days"]][:9] == [0, 0, 1, 0, 0, 0, 0, 0, 1]
    r = client.post(f"/api/reports/topics/{topic['id']}/generate", params={"day": "2026-02-16"},
                    headers=auth("leader"))
    assert r.status_code == 201 and r.json()["zero"] is True and r.json()["count"] == 0
    r = client.post(f"/api/reports/topics/{topic['id']}/generate", params={"day": "2026-02-16"},
                    headers=auth("leader"))
    assert r.status_code == 200 and r.json()["revision"] == 2
    assert client.post(f"/api/reports/topics/{topic['id']}/generate", params={"day": "2026-03-01"},
                       headers=auth("leader")).status_code == 422
    assert client.post(f"/api/reports/topics/{topic['id']}/generate", params={"day": "2026-02-16"},
                       headers=auth("operator")).status_code == 403
    days = client.get(f"/api/reports/topics/{topic['id']}/days", headers=auth("leader")).json()
    assert days["days"][1]["status"] == "reported" and days["days"][1]["zero"] and days["zero_reports"] == 1
    r = client.patch(f"/api/reports/topics/{topic['id']}", json={"active": False}, headers=auth("admin"))
    assert r.status_code == 200 and r.json()["active"] is False


# -- the console ----------------------------------------------------------------------------------------------


def test_the_console_page_and_its_downloads(story, client):
    console_login(client, "leader")
    assert 'href="/reports"' in client.get("/").text
    page = client.get("/reports", params=SPRING)
    assert page.status_code == 200
    assert "共受理各类诉求9件" in page.text and "暂无话务数据" in page.text and 'data-chart="by_day"' in page.text
    assert "echarts.min.js" in page.text and 'id="report-view"' in page.text
    xlsx = client.get("/reports/export.xlsx", params=SPRING)
    assert xlsx.status_code == 200 and load_workbook(io.BytesIO(xlsx.content))["汇总"]
    pdf = client.get("/reports/export.pdf", params=SPRING)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert client.get("/reports", params={"preset": "7d"}).status_code == 200
    bad = client.get("/reports", params={"start": "2026-02-30", "end": "x"})
    assert t("report.page.bad_date") in bad.text  # then the default range is shown


def test_the_console_topic_page_shows_zero_reports(story, client, auth):
    topic = client.post("/api/reports/topics", json=TOPIC, headers=auth("admin")).json()
    client.post(f"/api/reports/topics/{topic['id']}/generate", params={"day": "2026-02-16"}, headers=auth("admin"))
    console_login(client, "supervisor")
    page = client.get(f"/reports/topics/{topic['id']}")
    assert page.status_code == 200
    assert 'data-day="2026-02-16" data-status="reported" class="zero-report"' in page.text
    assert t("report.topic.status.zero") in page.text
    assert "欠薪" in client.get("/reports", params=SPRING).text
    assert client.get("/reports/topics/999").status_code == 404


@pytest.mark.parametrize("username", ["operator", "dispatcher", "staff_csgl"])
def test_other_roles_get_no_link_and_no_page(client, username):
    console_login(client, username)
    assert 'href="/reports"' not in client.get("/").text
    page = client.get("/reports")
    assert page.status_code == 403 and t("report.forbidden") in page.text
    assert client.get("/reports/export.pdf", params=SPRING).status_code == 403


# -- the command line -----------------------------------------------------------------------------------------


def test_cli_summary_with_files(story, cli, tmp_path):
    xlsx, pdf = tmp_path / "r.xlsx", tmp_path / "r.pdf"
    r = cli("report", "summary", "--start", "2026-02-15", "--end", "2026-02-23", "--xlsx", str(xlsx),
            "--pdf", str(pdf))
    assert r.exit_code == 0, r.output
    assert "共受理各类诉求9件" in r.output.replace("\n", "")
    assert load_workbook(xlsx)["汇总"] and pdf.read_bytes().startswith(b"%PDF")
    r = cli("report", "summary", "--start", "2026-02-15", "--end", "2026-02-23", "--json")
    assert json.loads(r.output)["volume"] == 9
    assert cli("report", "summary", "--start", "bad", "--end", "2026-02-23").exit_code != 0


def test_cli_topics(story, cli):
    r = cli("report", "topic", "add", "--name", "欠薪", "--start", "2026-02-15", "--end", "2026-02-25",
            "--category", "ldsb", "--keyword", "欠薪")
    assert r.exit_code == 0, r.output
    topics = json.loads(cli("report", "topic", "list", "--json").output)
    topic_id = str(topics[0]["id"])
    r = cli("report", "topic", "generate", topic_id, "--from", "2026-02-15", "--to", "2026-02-20")
    assert r.exit_code == 0, r.output
    assert "零报告" in r.output
    days = json.loads(cli("report", "topic", "days", topic_id, "--json").output)
    assert days["reported"] == 6 and days["zero_reports"] == 5 and days["total"] == 2
    assert cli("report", "topic", "days", topic_id).exit_code == 0
    r = cli("report", "daily")
    assert r.exit_code == 0 and "共生成" in r.output


def test_topics_are_added_changed_and_generated_from_the_console(state, session, client):
    from datetime import timedelta

    from sqlalchemy import select
    from tests.conftest import PASSWORD

    from civiclink.reports.models import ReportTopic, TopicDayReport

    client.post("/login", data={"username": "supervisor", "password": PASSWORD, "next": "/"})
    today = state.ctx(session).now.astimezone(state.settings.tz).date()
    start, end = (today - timedelta(days=10)).isoformat(), (today + timedelta(days=10)).isoformat()
    assert client.get("/reports/new-topic").status_code == 200
    bad = client.post("/reports/topics", data={"name": "", "keywords": "欠薪 讨薪", "season_start": start,
                                               "season_end": end})
    assert bad.status_code == 422 and 'value="欠薪 讨薪"' in bad.text and "field-error" in bad.text
    r = client.post("/reports/topics", data={"name": "欠薪", "keywords": "欠薪、讨薪", "season_start": start,
                                             "season_end": end, "active": ["false", "true"]}, follow_redirects=False)
    assert r.status_code == 303, r.text[-800:]
    topic = session.execute(select(ReportTopic)).scalars().one()
    assert topic.keywords == ["欠薪", "讨薪"] and topic.active
    session.rollback()
    r = client.post(f"/reports/topics/{topic.id}", data={"name": "欠薪", "keywords": "欠薪", "season_start": start,
                                                          "season_end": end, "active": "false"},
                    follow_redirects=False)
    assert r.status_code == 303
    yesterday = (today - timedelta(days=1)).isoformat()
    r = client.post(f"/reports/topics/{topic.id}/generate", data={"day": yesterday}, follow_redirects=False)
    assert r.status_code == 303
    refused = client.post(f"/reports/topics/{topic.id}/generate", data={"day": today.isoformat()})
    assert refused.status_code == 422  # today is not over
    session.rollback()
    assert session.get(ReportTopic, topic.id).active is False
    report = session.execute(select(TopicDayReport)).scalars().one()
    assert report.day.isoformat() == yesterday and report.zero
