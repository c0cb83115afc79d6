"""Schema fuzzing of the whole OpenAPI with Schemathesis, in process, bounded in time.

Every operation gets generated requests (valid and invalid) from a user who holds every hotline role; the
checks are: no 5xx, and every response matches the schema the operation declares (errors included).
"""

from datetime import UTC, datetime

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import select
from tests.conftest import NO_BACKGROUND_WORK, TEST_SECRET

from civiclink.app import create_app
from civiclink.config import get_settings
from civiclink.db import begin_write
from civiclink.orgs.actions import do_create_user, do_issue_token
from civiclink.orgs.models import User
from civiclink.orgs.roles import SYSTEM, Role
from civiclink.orgs.schemas import UserCreate

ALL_HOTLINE_ROLES = [Role.OPERATOR, Role.DISPATCHER, Role.UNIT_STAFF, Role.SUPERVISOR, Role.CALLBACK_AGENT,
                     Role.ADMIN, Role.LEADER]


@pytest.fixture
def fuzz_user(state):
    with state.sessions() as s:
        begin_write(s)
        do_create_user(s, UserCreate(username="fuzz", display_name="fuzz", password="fuzz-password",
                                     roles=ALL_HOTLINE_ROLES, unit_code="csgl"), actor=SYSTEM,
                       now=datetime.now(UTC))
        s.commit()


@pytest.fixture
def fresh_token(state, fuzz_user):
    """A new token per call: a generated logout request must not lock the fuzzer out."""
    def issue() -> str:
        with state.sessions() as s:
            begin_write(s)
            user = s.execute(select(User).where(User.username == "fuzz")).scalar_one()
            token, _ = do_issue_token(s, user, secret=TEST_SECRET, now=datetime.now(UTC),
                                      ttl=state.settings.token_ttl)
            s.commit()
            return token

    return issue


# The OpenAPI document does not depend on the database: read it from an app built on a throwaway database,
# then send every generated request to the test's own app (a fresh database per operation).
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(get_settings(_env_file=None, database_url="sqlite://", secret_key=TEST_SECRET,
                                             **NO_BACKGROUND_WORK))
)


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_never_fails_and_matches_its_schema(case, app, fresh_token):
    case.call_and_validate(
        app=app,
        headers={"Authorization": f"Bearer {fresh_token()}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
