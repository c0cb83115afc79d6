"""Imports that would wreck the org tree are refused before anything changes."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from civiclink.errors import Invalid
from civiclink.orgs.actions import do_import_org_file
from civiclink.orgs.models import OrgUnit
from civiclink.orgs.schemas import OrgFile


def active_units(session) -> int:
    return session.execute(select(func.count()).select_from(OrgUnit).where(OrgUnit.active)).scalar_one()


def test_an_empty_unit_list_is_refused(session, actors):
    before = active_units(session)
    with pytest.raises(Invalid, match="为空"):
        do_import_org_file(session, OrgFile(units=[]), actor=actors["admin"], source="x", today=datetime.now(UTC).date(),
                           now=datetime.now(UTC))
    session.rollback()
    assert active_units(session) == before


def test_a_file_without_the_hotline_centre_is_refused(session, actors):
    text = "code,name,kind,parent_code\n320600,南通市人民政府,city,\n320613,崇川区,district,320600\n"
    with pytest.raises(Invalid, match="热线中心"):
        do_import_org_file(session, OrgFile.from_csv(text), actor=actors["admin"], source="x.csv",
                           today=datetime.now(UTC).date(), now=datetime.now(UTC))
    session.rollback()
    assert session.execute(select(OrgUnit.active).where(OrgUnit.code == "12345")).scalar_one() is True


def test_a_numeric_category_owner_in_yaml_is_read_as_a_code():
    org = OrgFile.model_validate({"categories": [{"code": "x", "name": "某类", "owner": 320613}]})
    assert org.categories[0].owner == "320613"
