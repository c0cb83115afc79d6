"""Schema fuzzing of the 110 site's OpenAPI (the 警单 routes, linkage, exchange), as in tests/test_openapi_fuzz.py:
no 5xx, and every response matches the schema the operation declares."""

from datetime import UTC, datetime

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import select
from tests.conftest import NO_BACKGROUND_WORK, TEST_SECRET, restore_base

from civiclink.app import create_app
from civiclink.config import get_settings
from civiclink.db import write_session
from civiclink.orgs.actions import do_create_user, do_issue_token
from civiclink.orgs.models import User
from civiclink.orgs.roles import SYSTEM, Role
from civiclink.orgs.schemas import UserCreate


@pytest.fixture
def police_app(police_app_state):
    restore_base(police_app_state)
    with write_session(police_app_state.sessions) as s:
        do_create_user(s, UserCreate(username="fuzz", display_name="fuzz", password="fuzz-password",
                                     roles=[Role.POLICE_OPERATOR, Role.POLICE_COMMANDER, Role.ADMIN],
                                     unit_code="gaj.110"), actor=SYSTEM, now=datetime.now(UTC))
    return create_app(police_app_state.settings, state=police_app_state)


@pytest.fixture
def police_token(police_app_state, police_app):
    def issue() -> str:
        with write_session(police_app_state.sessions) as s:
            user = s.execute(select(User).where(User.username == "fuzz")).scalar_one()
            token, _ = do_issue_token(s, user, secret=TEST_SECRET, now=datetime.now(UTC),
                                      ttl=police_app_state.settings.token_ttl)
            return token

    return issue


schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(get_settings(
    _env_file=None, database_url="sqlite://", secret_key=TEST_SECRET, site_role="police", site_code="fuzz-110",
    **NO_BACKGROUND_WORK)))


@schema.include(path_regex="^/api/(incidents|linkage|exchange)").parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_police_api_never_fails_and_matches_its_schema(case, police_app, police_token):
    case.call_and_validate(app=police_app, headers={"Authorization": f"Bearer {police_token()}"},
                           checks=[not_a_server_error, response_schema_conformance])
