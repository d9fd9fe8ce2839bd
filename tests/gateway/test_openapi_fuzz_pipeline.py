"""Schemathesis against the gateway's pipeline and ingestion routes, over the REAL identity service
(its warnings) and Redis: whatever it sends, no 5xx and no status the document does not list."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, status_code_conformance

from footfall import db
from footfall.config import get_settings
from gateway.app import create_app
from services.identity.app import create_app as identity_app
from tests.gateway.conftest import bearer
from tests.gateway.standins import Served

ROUTES = r"/api/v1/environments/\{env_id\}/(pipeline|ingestion|warnings)$"


@pytest.fixture(scope="module")
def real_identity(settings):
    db.upgrade("services/identity", settings)
    server = Served(identity_app(settings))
    yield server.url
    server.stop()


app = create_app(get_settings())
schema = schemathesis.openapi.from_wsgi("/openapi.json", app).include(path_regex=ROUTES)


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_pipeline_routes_answer_only_what_they_document(case, control_plane, real_identity):
    app.extensions["services"].identity.base_url = real_identity
    case.path_parameters = {**(case.path_parameters or {}), "env_id": "acme"}
    case.call_and_validate(headers=bearer("acme"), checks=[not_a_server_error, status_code_conformance])
