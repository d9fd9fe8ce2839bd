"""The definitions app against the real PostgreSQL (schema migrated fresh once) and RabbitMQ."""
from __future__ import annotations

import pytest

from footfall import bus
from footfall.messages import decode
from services.definitions.app import create_app
from tests.support import migrate_fresh, truncate_schema


@pytest.fixture(scope="session")
def migrated(settings):
    migrate_fresh("services/definitions", settings)


@pytest.fixture
def app(settings, migrated, clean_bus):
    app = create_app(settings)
    truncate_schema(app.extensions["definitions"].engine, "definitions")
    yield app
    app.extensions["definitions"].publisher.close()
    app.extensions["definitions"].engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def facts(settings):
    """Drain the messages that landed on sessions.facts (decoded)."""
    def drain():
        connection, channel = bus.open_channel(settings)
        out = []
        try:
            while True:
                method, _, body = channel.basic_get("sessions.facts", auto_ack=True)
                if method is None:
                    return out
                out.append(decode(method.routing_key, body))
        finally:
            connection.close()
    return drain
