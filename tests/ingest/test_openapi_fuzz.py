"""Schemathesis against ingest's own /openapi.json: whatever it generates, ingest never answers 5xx.

Requests carry a write key the gateway published (Heap bodies carry it as app_id) so the fuzz
reaches the normalisers and the real broker, not only the 401 path.
"""
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, status_code_conformance

from footfall.config import get_settings
from services.ingest.app import create_app
from tests.ingest.conftest import WRITE_KEY, basic, registered_key  # noqa: F401 (a fixture)

app = create_app(get_settings())
schema = schemathesis.openapi.from_wsgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, clean_bus, registered_key):
    if isinstance(case.body, dict) and "app_id" in case.body:
        case.body["app_id"] = WRITE_KEY
    case.call_and_validate(headers=basic(), checks=[not_a_server_error, status_code_conformance])
