"""Schemathesis against identity's own /openapi.json: whatever it generates, never a 5xx."""
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, status_code_conformance

from footfall.config import get_settings
from footfall.web import service_headers
from services.identity.app import create_app

schema = schemathesis.openapi.from_wsgi("/openapi.json", create_app(get_settings()))


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, engine):
    # As the gateway calls it: with the service token, so the fuzz gets past the guard.
    case.call_and_validate(headers=service_headers(get_settings()),
                           checks=[not_a_server_error, status_code_conformance])
