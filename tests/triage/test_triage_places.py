"""属地 in triage (design §7, issue part 3): town-level resolution for the demo districts, former names that
still resolve with the generation they belong to (MapIt-style), and other cities' places left alone."""

from datetime import UTC, datetime

import pytest

from civiclink.triage.service import TriageEngine, TriageInput


@pytest.fixture
def place(state, session):
    engine = TriageEngine(model_path=None)
    directory = state.directory.get(session)

    def run(address=None, text="路灯坏了，请修一下"):
        return engine.triage(TriageInput(text=text, address=address), directory=directory, session=None,
                             now=datetime.now(UTC))["place"]

    return run


@pytest.mark.parametrize("address, district, town", [
    ("南通市崇川区和平桥街道人民中路18号", "崇川区", "和平桥街道"),
    ("南通市寺街58号", "崇川区", "和平桥街道"),          # a road of one street
    ("通州区金沙街道某某小区", "通州区", "金沙街道"),
    ("如东县洋口港码头", "如东县", "长沙镇"),              # 洋口港 lies in 长沙镇, not 洋口镇
    ("海门叠石桥国际家纺城", "海门区", "三星镇"),
])
def test_town_level(place, address, district, town):
    p = place(address)
    assert p["district"]["name"] == district and p["town"]["name"] == town
    assert p["from"] == "address" and p["confidence"] >= 0.9


@pytest.mark.parametrize("address, district, former", [
    ("港闸区幸福乡某小区", "崇川区", "幸福乡"),   # 港闸区 merged into 崇川区 in 2020
    ("海门市货隆镇某工厂", "海门区", "货隆镇"),   # 海门市 became 海门区 in 2020
    ("通州市海晏镇农贸市场", "通州区", "海晏镇"),
])
def test_former_names_still_resolve_and_say_so(place, address, district, former):
    p = place(address)
    assert p["district"]["name"] == district
    names = {f["name"]: f for f in p["former_names"]}
    assert former in names and names[former]["year"] <= 2020


def test_another_citys_tongzhou_is_not_ours(place):
    assert place("北京市通州区新华大街") is None
    assert place("通州区新华大街")["district"]["name"] == "通州区"  # inside this city, 通州区 is Nantong's


def test_place_from_the_text_when_no_address(place):
    p = place(None, text="如东县掘港街道这边路灯坏了好几天")
    assert p["district"]["name"] == "如东县" and p["from"] == "text" and p["confidence"] < 0.95
