"""Fixtures of the gateway over the real sessions service (served on a port, on real PostgreSQL) and
moto's S3 server, with three users in env acme: for segments, exports and search end to end."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from footfall.db import make_engine
from footfall.messages import UserSnapshot
from gateway.app import create_app
from services.sessions import events_path, facts
from services.sessions.app import create_app as sessions_app
from tests.gateway.standins import Served
from tests.replay.conftest import s3_endpoint  # noqa: F401 (fixture: moto's S3 server)
from tests.sessions.conftest import body, ev
from tests.support import migrate_fresh, truncate_schema

ENV = "acme"


@pytest.fixture(scope="module")
def sessions_served(settings):
    migrate_fresh("services/sessions", settings)
    app = sessions_app(settings)
    served = Served(app)
    yield served.url
    served.stop()
    app.extensions["sessions_engine"].dispose()


@pytest.fixture
def people(settings, sessions_served):
    """ada (pro), bob (free), cleo (pro, seen 10 days ago), in env acme."""
    engine = make_engine("sessions", settings)
    truncate_schema(engine, "sessions")
    now = datetime.now(UTC) - timedelta(hours=1)
    events = [ev("ada", 0, env=ENV), ev("bob", 5, env=ENV), ev("cleo", -10 * 24 * 60, env=ENV)]
    first = events[0].time
    for event in events:  # ada an hour ago, bob 5 minutes after her, cleo 10 days before
        event.time = event.received_at = now + (event.time - first)
    with engine.begin() as conn:
        events_path.store_events(conn, [body(events, env=ENV)])
        facts.apply_snapshots(conn, ENV, [
            UserSnapshot(user_id="ada", identity="ada@x.test", version=1, properties={"plan": "pro", "age": 36}),
            UserSnapshot(user_id="bob", version=1, properties={"plan": "free"}),
            UserSnapshot(user_id="cleo", identity="cleo@x.test", version=1, properties={"plan": "pro"}),
        ])
    engine.dispose()


@pytest.fixture
def feed_app(control_plane, standins, sessions_served, s3_endpoint, gateway_engine):
    with gateway_engine.begin() as conn:
        conn.execute(text("truncate gateway.segments, gateway.exports"))
    settings = control_plane.with_(sessions_url=sessions_served, definitions_url=standins["definitions"],
                                   identity_url="http://127.0.0.1:9", replay_url=sessions_served,
                                   s3_endpoint_url=s3_endpoint, s3_bucket=f"ff-exports-{uuid.uuid4().hex[:10]}")
    return create_app(settings)
