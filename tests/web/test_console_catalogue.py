"""The console's words: one catalogue, no key defined twice, every key a template or page names exists, and every
form field of every API action has a Chinese label (so a new action cannot appear in English)."""

import re
from pathlib import Path

import pytest

from civiclink.incidents.schemas import INCIDENT_ACTION_BODIES
from civiclink.web import messages as catalogue
from civiclink.web.forms import fields_of
from civiclink.workorders.schemas import ACTION_BODIES

WEB = Path(catalogue.__file__).resolve().parent
LITERAL_KEY = re.compile(r"""\bt\(\s*["']([a-z_][a-z0-9_.]*[a-z0-9_])["']\s*[,)]""")
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_no_key_is_defined_twice(tmp_path, monkeypatch):
    assert catalogue.messages()  # the real files load
    (tmp_path / "a.yaml").write_text("x.y: 一\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("x.y: 二\n", encoding="utf-8")
    monkeypatch.setattr(catalogue, "CATALOGUE_DIR", tmp_path)
    catalogue.messages.cache_clear()
    try:
        with pytest.raises(ValueError, match="defined twice"):
            catalogue.messages()
    finally:
        monkeypatch.undo()
        catalogue.messages.cache_clear()


def test_every_literal_key_used_by_the_console_exists():
    known = catalogue.messages()
    missing = set()
    for path in [*WEB.glob("templates/*.html"), *WEB.glob("*.py")]:
        for key in LITERAL_KEY.findall(path.read_text(encoding="utf-8")):
            if key not in known:
                missing.add(f"{path.name}: {key}")
    assert not missing, sorted(missing)


@pytest.mark.parametrize("bodies", [ACTION_BODIES, INCIDENT_ACTION_BODIES], ids=["orders", "incidents"])
def test_every_action_form_field_has_a_chinese_label(bodies):
    for action, model in bodies.items():
        for spec in fields_of(model, hidden={"version"}):
            if spec.kind != "hidden":
                assert CJK.search(spec.label), (action, spec.name, spec.label)
            for value, text in spec.options:
                if value:
                    assert CJK.search(text), (action, spec.name, value, text)
