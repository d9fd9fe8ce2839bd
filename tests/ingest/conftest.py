"""Fixtures for ingest: the app on the real broker and Redis, a live server, and queue readers."""
from __future__ import annotations

import base64
import threading
from datetime import UTC, datetime

import pytest
from werkzeug.serving import make_server

from footfall import bus
from footfall.messages import decode
from services.ingest.app import create_app
from services.ingest.keys import LOADED_FIELD, WRITE_KEYS_HASH
from services.ingest.normalize import Receipt

WRITE_KEY = "ingest-test-key"
ENV_ID = "ingest-test-env"
RECEIVED_AT = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def basic(write_key: str = WRITE_KEY) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()}


def receipt(**changes) -> Receipt:
    values = {"env_id": ENV_ID, "received_at": RECEIVED_AT, "ip": None, "user_agent": None, **changes}
    return Receipt(**values)


def no_geo(ip):
    return None


def drain(settings, queue: str) -> list:
    """Every message now in `queue`, decoded and validated by footfall.messages (and acked)."""
    connection, channel = bus.open_channel(settings)
    messages = []
    try:
        while True:
            method, properties, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return messages
            messages.append(decode(properties.type or method.routing_key, body))
    finally:
        connection.close()


@pytest.fixture
def ingest_settings(settings):
    return settings.with_(env_id=ENV_ID, write_key=WRITE_KEY)


@pytest.fixture
def registered_key(redis_client):
    """WRITE_KEY → ENV_ID in the gateway's Redis hash, as the gateway publishes every key (with its
    mark that the hash holds them all)."""
    redis_client.hset(WRITE_KEYS_HASH, mapping={WRITE_KEY: ENV_ID, LOADED_FIELD: ""})
    return redis_client


@pytest.fixture
def app(ingest_settings, registered_key):
    return create_app(ingest_settings)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def live_url(app):
    """The app served over real HTTP on a free port (for the real SDK clients)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
