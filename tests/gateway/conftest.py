"""Gateway fixtures: its schema, two environments with tokens, an admin, stand-in services over HTTP."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from footfall import db
from gateway import accounts, environments
from gateway.app import create_app
from gateway.store import get_engine
from tests.gateway.standins import Served, dataset, definitions_app, sessions_app

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
def standins():
    calls: list = []
    data = {"acme": dataset("acme"), "globex": dataset("globex")}
    store: dict = {}
    sessions, definitions = Served(sessions_app(data, calls)), Served(definitions_app(calls, store))
    yield {"sessions": sessions.url, "definitions": definitions.url, "calls": calls, "data": data,
           "definitions_store": store}
    sessions.stop()
    definitions.stop()


@pytest.fixture
def app(control_plane, standins):
    standins["definitions_store"].clear()
    settings = control_plane.with_(sessions_url=standins["sessions"], definitions_url=standins["definitions"],
                                   identity_url="http://127.0.0.1:9", replay_url=standins["sessions"])
    return create_app(settings)


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
