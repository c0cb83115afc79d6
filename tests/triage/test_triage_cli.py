"""The CLI contract other tools rely on: `civiclink triage "TEXT"` prints one JSON object with the agreed
keys, `--jsonl` one per line with the id, bad lines are reported without stopping the batch; `civiclink
model train` from the database and from CSV files, with clear errors."""

import json

import pytest
from tests.triage.test_triage_api import CONTRACT, register
from typer.testing import CliRunner

from civiclink import cli as cli_module
from civiclink.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    # Rich wraps at 80 columns when not on a terminal; the assertions read whole lines.
    monkeypatch.setattr(cli_module.console, "_width", 400)
    monkeypatch.setattr(cli_module.err, "_width", 400)


def env(state):
    return {"CIVICLINK_DATABASE_URL": state.settings.database_url, "CIVICLINK_SECRET_KEY": "x" * 32,
            "CIVICLINK_TRIAGE__MODEL_PATH": str(state.settings.triage.model_path)}


def test_triage_one_text_prints_the_contract(state, tmp_path):
    result = runner.invoke(app, ["triage", "楼道里煤气味很重，不知道哪家漏了", "--address", "如东县掘港街道"],
                           env=env(state) | {"CIVICLINK_TRIAGE__MODEL_PATH": str(tmp_path / "none.pkl")})
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert CONTRACT <= set(body)
    assert body["route"] == "joint" and body["urgency"] == "emergency"
    assert body["place"]["district"]["name"] == "如东县"


def test_triage_jsonl(state, tmp_path):
    lines = [{"id": "a", "text": "请问居住证怎么办理"}, {"id": 7, "text": "有人在河边喊救命，好像掉水里了", "channel": "phone"},
             "not json", {"id": "c"}]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) if not isinstance(x, str) else x for x in lines)
                    + "\n\n", encoding="utf-8")
    result = runner.invoke(app, ["triage", "--jsonl", str(path)], env=env(state))
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o.get("id") for o in out] == ["a", 7, None, None]
    assert out[0]["route"] == "12345" and out[1]["route"] == "110"
    assert CONTRACT <= set(out[0])
    assert out[2]["error"] and out[3]["line"] == 4
    assert "无法处理" in result.stderr


def test_triage_jsonl_survives_bad_types_and_bytes(state, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"id": 1, "text": "\xe8\xb7\xaf\xe7\x81\xaf\xe5\x9d\x8f\xe4\xba\x86", "title": 5}\n'
                     b'\xff\xfe broken\n' + '{"id": 3, "text": "路灯坏了"}\n'.encode())
    result = runner.invoke(app, ["triage", "--jsonl", str(path)], env=env(state))
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o.get("id") for o in out] == [None, None, 3]
    assert "title" in out[0]["error"] and "UTF-8" in out[1]["error"]


def test_triage_needs_exactly_one_input(state):
    assert runner.invoke(app, ["triage"], env=env(state)).exit_code != 0
    assert runner.invoke(app, ["triage", "   "], env=env(state)).exit_code != 0


def test_model_train_from_db_uses_the_orders_and_is_picked_up(state, client, auth, tmp_path):
    model = tmp_path / "triage.pkl"
    e = env(state) | {"CIVICLINK_TRIAGE__MODEL_PATH": str(model)}
    texts = {"cxjs.szgl": ("路灯不亮", "{}路段的路灯坏了好几天，晚上很黑"),
             "hjbh.zswr": ("噪音扰民", "{}附近工地夜间施工噪音很大，吵得睡不着"),
             "cxjs.gjj": ("公积金提取", "{}想咨询公积金提取需要什么材料")}
    roads = ["人民中路", "工农路", "青年中路", "南大街", "濠南路", "通盛大道", "世纪大道", "长江南路"]
    for code, (title, content) in texts.items():
        for road in roads:
            register(client, auth, title=title, content=content.format(road), category=code, caller={})
    result = runner.invoke(app, ["model", "train", "--from-db"], env=e)
    assert result.exit_code == 0, result.output
    assert model.exists()
    shown = json.loads(runner.invoke(app, ["model", "show"], env=e).stdout)
    assert shown["exists"] and shown["parts"]["category"]["examples"] == 24
    r = client.post("/api/triage", json={"text": "晚上工地还在施工，噪音太大了", "record": False}, headers=auth("operator"))
    # The app re-reads the file when it changes: the trained category model answers now.
    state.triage.model_path = model
    r = client.post("/api/triage", json={"text": "晚上工地还在施工，噪音太大了", "record": False}, headers=auth("operator"))
    assert r.json()["category"]["code"] == "hjbh.zswr"
    assert r.json()["model"] == shown["version"]
    state.triage.model_path = state.settings.triage.model_path


def test_model_train_from_csv_and_its_errors(state, tmp_path):
    e = env(state) | {"CIVICLINK_TRIAGE__MODEL_PATH": str(tmp_path / "m.pkl")}
    good = tmp_path / "orders.csv"
    rows = ["留言主题,留言详情,一级标签"]
    for i in range(12):
        rows.append(f"路灯坏了{i},小区路灯不亮第{i}天,城乡建设")
        rows.append(f"工资拖欠{i},老板拖欠工资{i}个月,劳动和社会保障")
    good.write_text("\n".join(rows), encoding="utf-8")
    test = tmp_path / "test.csv"
    test.write_text("留言主题,留言详情,一级标签\n路灯坏了0,小区路灯不亮第0天,城乡建设\n", encoding="utf-8")
    result = runner.invoke(app, ["model", "train", "--csv", str(good), "--exclude-csv", str(test)], env=e)
    assert result.exit_code == 0, result.output
    assert "去掉 1 条" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    result = runner.invoke(app, ["model", "train", "--csv", str(bad)], env=e)
    assert result.exit_code != 0 and "缺少列" in result.output
    assert runner.invoke(app, ["model", "train"], env=e).exit_code != 0


def test_knowledge_cli(state):
    e = env(state)
    result = runner.invoke(app, ["knowledge", "load"], env=e)
    assert result.exit_code == 0 and "新增" in result.output
    again = runner.invoke(app, ["knowledge", "load"], env=e)
    assert "新增 0 条" in again.output
    found = runner.invoke(app, ["knowledge", "search", "身份证丢了怎么补", "--json"], env=e)
    assert any(h["code"] == "kb.id.reissue" for h in json.loads(found.stdout))
    assert runner.invoke(app, ["knowledge", "retire", "kb.id.reissue", "--reason", "测试"], env=e).exit_code == 0
    listed = json.loads(runner.invoke(app, ["knowledge", "list", "--json", "--status", "retired"], env=e).stdout)
    assert [i["code"] for i in listed] == ["kb.id.reissue"]
    bad = runner.invoke(app, ["knowledge", "load", "/nonexistent.yaml"], env=e)
    assert bad.exit_code != 0
