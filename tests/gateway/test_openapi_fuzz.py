"""Schemathesis against the gateway's /openapi.json for the control plane and replay admission:
whatever it sends, a logged-in admin's requests get documented answers, never a 5xx."""
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, status_code_conformance
from sqlalchemy import select

from footfall.config import get_settings
from gateway import accounts
from gateway.app import create_app
from gateway.auth import CSRF_HEADER, SESSION_COOKIE
from gateway.store import accounts as account_table
from gateway.store import get_engine
from tests.gateway.conftest import ADMIN


def admin_id(settings) -> int:
    """The admin's account id, read directly: a session without an argon2 check per example."""
    with get_engine(settings).connect() as conn:
        return conn.scalar(select(account_table.c.id).where(account_table.c.email == ADMIN[0]))


# These routes call no other service: the app needs only the gateway's database and Redis.
schema = schemathesis.openapi.from_wsgi("/openapi.json", create_app(get_settings())).include(
    path_regex=r"^/(auth/|replay/v1/start|api/v1/environments(/\{env_id\}(/tokens.*|/write-key/rotate)?)?$)")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, control_plane):
    cookie, csrf = accounts.open_session(admin_id(control_plane), control_plane)
    if case.path_parameters and "env_id" in case.path_parameters:
        case.path_parameters["env_id"] = "acme"
    case.call_and_validate(cookies={SESSION_COOKIE: cookie}, headers={CSRF_HEADER: csrf},
                           checks=[not_a_server_error, status_code_conformance])
