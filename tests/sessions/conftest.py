"""Fixtures for the sessions service: its schema migrated once, emptied before each test."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from footfall.db import make_engine
from footfall.messages import Event, EventsCaptured, encode
from services.sessions import catalog, events_path
from services.sessions.app import create_app
from services.sessions.tables import SCHEMA
from tests.support import migrate_fresh, truncate_schema

ENV = "env-sessions"
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
_ids = count()


@pytest.fixture(scope="session")
def sessions_schema(settings):
    migrate_fresh("services/sessions", settings)


@pytest.fixture
def engine(settings, sessions_schema):
    engine = make_engine(SCHEMA, settings)
    truncate_schema(engine, SCHEMA)
    yield engine
    engine.dispose()


@pytest.fixture
def client(settings, engine):
    """The sessions service's app (its internal API) through Flask's test client."""
    app = create_app(settings)
    yield app.test_client()
    app.extensions["sessions_engine"].dispose()


def ev(user="100", minutes=0.0, *, source="web", kind="pageview", event_id=None, session_id=None,
       env=ENV, **fields) -> Event:
    """A canonical event `minutes` after T0 for anonymous user `user`."""
    when = T0 + timedelta(minutes=minutes)
    return Event(event_id=event_id or f"e{next(_ids)}", env_id=env, kind=kind, device_id=f"d-{user}",
                 user_id=user, session_id=session_id, time=when, received_at=when, source=source,
                 **fields)


def body(events: list[Event], env=ENV) -> bytes:
    return encode(EventsCaptured(env_id=env, events=events))


def store_now(engine, *batches: list[Event]) -> None:
    """Store each batch in its own transaction, as the consumer would."""
    for batch in batches:
        with engine.connect() as conn:
            with conn.begin():
                events_path.store_events(conn, [body(batch)])
            catalog.record(conn)
