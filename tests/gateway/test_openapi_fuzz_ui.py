"""Schemathesis against the gateway's /openapi.json for the routes the UI's pages and definitions
stand on: whatever it sends, no 5xx and no status the document does not list.

The gateway talks to the REAL definitions service (PostgreSQL, RabbitMQ) served on a port, and to
the sessions stand-in; requests carry a token of `acme`, the environment they name.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, status_code_conformance

from footfall import db
from footfall.config import get_settings
from gateway.app import create_app
from services.definitions.app import create_app as definitions_app
from tests.gateway.conftest import bearer
from tests.gateway.standins import Served

ROUTES = (r"/api/v1/environments/\{env_id\}/(sessions/\{session_id\}|definitions.*)$")


@pytest.fixture
def real_definitions(settings, clean_bus):
    db.upgrade("services/definitions", settings)
    app = definitions_app(settings)
    server = Served(app)
    yield server.url
    server.stop()
    app.extensions["definitions"].publisher.close()


# Built once at import (schemathesis reads the document then); the test points it at its services.
app = create_app(get_settings())
schema = schemathesis.openapi.from_wsgi("/openapi.json", app).include(path_regex=ROUTES)


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_ui_routes_answer_only_what_they_document(case, control_plane, standins, real_definitions):
    upstream = app.extensions["services"]
    upstream.sessions.base_url, upstream.definitions.base_url = standins["sessions"], real_definitions
    case.path_parameters = {**(case.path_parameters or {}), "env_id": "acme"}
    case.call_and_validate(headers=bearer("acme"), checks=[not_a_server_error, status_code_conformance])
