"""The stand-ins are held to the real services' OpenAPI, and the gateway to the real definitions service.

The gateway's tests run against stand-ins (tests/gateway/standins.py) so each case has the data it
needs; a stand-in that accepted what the real service ignores once hid a public parameter that did
nothing. Here: every stand-in route is a real operation, the guard refuses what the real service
would not read, and the definitions listing works end to end through the real service.
"""
from __future__ import annotations

import re

import pytest
from flask import Flask

from gateway.app import create_app
from services.definitions.app import create_app as create_definitions
from tests.gateway.conftest import bearer
from tests.gateway.standins import (
    ContractGuard,
    Served,
    dataset,
    definitions_app,
    identity_app,
    replay_app,
    sessions_app,
)
from tests.support import migrate_fresh, truncate_schema

ACME = "/api/v1/environments/acme"


def _standin_apps() -> dict[str, Flask]:
    data = {"acme": dataset("acme")}
    return {"sessions": sessions_app(data, []), "definitions": definitions_app([], {}),
            "identity": identity_app([], {}), "replay": replay_app(data)}


@pytest.mark.parametrize("service", ["sessions", "definitions", "identity", "replay"])
def test_every_standin_route_is_an_operation_of_the_real_service(service, real_specs):
    guard = ContractGuard(service, real_specs[service])
    routes = [(method, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule))
              for rule in _standin_apps()[service].url_map.iter_rules() if rule.endpoint != "static"
              for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    assert routes
    for method, path in routes:
        assert guard.operation(method, path.replace("{", "x").replace("}", "")) is not None, (method, path)


def test_the_guard_refuses_a_parameter_the_real_service_does_not_read(real_specs):
    guard = ContractGuard("definitions", real_specs["definitions"])
    client = guard.install(definitions_app([], {})).test_client()
    assert client.get("/internal/v1/envs/acme/definitions?archived=all").status_code == 200
    assert guard.violations == []
    client.get("/internal/v1/envs/acme/definitions?include_archived=true")
    assert guard.violations and "include_archived" in guard.violations[0]


def test_the_guard_refuses_an_answer_the_real_service_never_gives(real_specs):
    guard = ContractGuard("identity", real_specs["identity"])
    app = Flask("wrong-identity")

    @app.get("/internal/v1/envs/<env_id>/warnings")
    def warnings(env_id):
        return {"warnings": "not a list"}

    guard.install(app).test_client().get("/internal/v1/envs/acme/warnings")
    assert guard.violations and "warnings" in guard.violations[0]


@pytest.fixture
def real_definitions(settings, clean_bus):
    migrate_fresh("services/definitions", settings)
    app = create_definitions(settings)
    truncate_schema(app.extensions["definitions"].engine, "definitions")
    server = Served(app)
    yield server.url
    server.stop()
    app.extensions["definitions"].publisher.close()
    app.extensions["definitions"].engine.dispose()


def test_archived_definitions_are_listed_through_the_real_definitions_service(control_plane, standins,
                                                                              real_definitions):
    gateway = create_app(control_plane.with_(sessions_url=standins["sessions"], definitions_url=real_definitions,
                                             identity_url=standins["identity"], replay_url=standins["replay"]))
    client = gateway.test_client()

    def define(name):
        answer = client.post(f"{ACME}/definitions", json={"name": name, "criteria": {"kind": "click"}},
                             headers=bearer("acme"))
        assert answer.status_code == 201, answer.json
        return answer.json["id"]

    def listed(query=""):
        answer = client.get(f"{ACME}/definitions{query}", headers=bearer("acme"))
        assert answer.status_code == 200, answer.json
        return sorted(d["name"] for d in answer.json["definitions"])

    define("Kept")
    gone = define("Gone")
    assert client.post(f"{ACME}/definitions/{gone}/archive", headers=bearer("acme")).status_code == 200
    assert listed() == listed("?archived=false") == ["Kept"]
    assert listed("?archived=true") == ["Gone"]
    assert listed("?archived=all") == ["Gone", "Kept"]
    assert client.get(f"{ACME}/definitions?archived=maybe", headers=bearer("acme")).status_code == 400
