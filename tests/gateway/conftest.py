"""Gateway fixtures: its schema, two environments with tokens, an admin, stand-in services over HTTP."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from footfall import db
from gateway import accounts, environments
from gateway.app import create_app
from gateway.store import get_engine
from services.identity.app import create_app as create_identity
from tests.gateway.standins import (
    ContractGuard,
    Served,
    dataset,
    definitions_app,
    identity_app,
    replay_app,
    sessions_app,
)

ADMIN = ("admin@example.com", "correct horse battery")
VIEWER = ("viewer@example.com", "viewer password 1")
TOKENS = {"acme": "tok-acme-0123456789", "globex": "tok-globex-0123456789"}
MY_TABLES = "ui_sessions, api_tokens, account_environments, accounts, environments"


@pytest.fixture(scope="session")
def gateway_engine(settings):
    # Not dropped: the replay helper's tables share this schema (another Alembic branch).
    db.upgrade("gateway", settings)
    return get_engine(settings)


@pytest.fixture
def control_plane(settings, gateway_engine, redis_client):
    """Two environments (acme, globex) with API tokens, an admin and a viewer of acme only."""
    with gateway_engine.begin() as conn:
        conn.execute(text(f"truncate {MY_TABLES} cascade"))
    for env_id in TOKENS:
        environments.create_environment(env_id, env_id.title(), f"wk-{env_id}", settings)
        accounts.create_api_token(env_id, "test", TOKENS[env_id], settings)
    accounts.create_account(*ADMIN, is_admin=True, settings=settings)
    accounts.create_account(*VIEWER, env_ids=["acme"], settings=settings)
    return settings


@pytest.fixture(scope="session")
def real_specs(settings) -> dict[str, dict]:
    """The OpenAPI document of each real service the gateway calls, from its own app."""
    from services.definitions.app import create_app as definitions
    from services.identity.app import create_app as identity
    from services.replay.app import create_app as replay
    from services.sessions.app import create_app as sessions

    factories = {"sessions": sessions, "definitions": definitions, "identity": identity, "replay": replay}
    return {name: factory(settings).test_client().get("/openapi.json").json for name, factory in factories.items()}


@pytest.fixture(scope="session")
def standins(real_specs):
    calls: list = []
    data = {"acme": dataset("acme"), "globex": dataset("globex")}
    store: dict = {}
    warnings: dict = {}
    guards = {name: ContractGuard(name, spec) for name, spec in real_specs.items()}
    apps = {"sessions": sessions_app(data, calls), "definitions": definitions_app(calls, store),
            "identity": identity_app(calls, warnings), "replay": replay_app(data)}
    served = {name: Served(guards[name].install(app)) for name, app in apps.items()}
    yield {**{name: server.url for name, server in served.items()}, "calls": calls, "data": data,
           "definitions_store": store, "warnings": warnings, "guards": guards}
    for server in served.values():
        server.stop()


@pytest.fixture
def app(control_plane, standins):
    """The real gateway over the stand-ins; the test fails if a call broke a real service's contract."""
    standins["definitions_store"].clear()
    for guard in standins["guards"].values():
        guard.violations.clear()
    settings = control_plane.with_(sessions_url=standins["sessions"], definitions_url=standins["definitions"],
                                   identity_url=standins["identity"], replay_url=standins["replay"])
    yield create_app(settings)
    broken = [f"{name}: {v}" for name, guard in standins["guards"].items() for v in guard.violations]
    assert not broken, "calls or answers the real services would not give:\n" + "\n".join(broken)


@pytest.fixture
def client(app):
    return app.test_client()


def bearer(env_id: str) -> dict:
    return {"Authorization": f"Bearer {TOKENS[env_id]}"}


def login(client, who=ADMIN) -> str:
    """Log the test client in; returns the CSRF token."""
    response = client.post("/auth/login", json={"email": who[0], "password": who[1]})
    assert response.status_code == 200, response.json
    return response.json["csrf_token"]


@pytest.fixture(scope="module")
def real_identity(settings):
    """The real identity service on a local port (its warnings feed the gateway's Ingestion page)."""
    db.upgrade("services/identity", settings)
    served = Served(create_identity(settings))
    yield served.url
    served.stop()

