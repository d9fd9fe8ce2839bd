"""Fixtures for session replay: moto's S3 server over real HTTP, migrated schemas, both apps on ports."""
from __future__ import annotations

import os
import threading
import uuid
from datetime import datetime, timezone

import pytest
import redis as redis_lib
from moto.server import ThreadedMotoServer
from sqlalchemy import text
from werkzeug.serving import make_server

from footfall import db
from gateway import accounts, environments
from gateway.app import create_app as create_gateway_app
from gateway.environments import ENVIRONMENTS_SET
from gateway.replay.store import TrialStore
from gateway.store import get_engine
from services.replay.app import create_app as create_replay_app
from tests.support import migrate_fresh, truncate_schema

AWS_TEST_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SECURITY_TOKEN": "testing", "AWS_SESSION_TOKEN": "testing",
                "AWS_DEFAULT_REGION": "us-east-1"}


class Clock:
    """A settable clock for the trial's days and token expiry."""

    def __init__(self, now: datetime | None = None):
        self.now = now or datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta) -> None:
        self.now += delta


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's S3 server on a free port, with fake credentials in the environment."""
    saved = {key: os.environ.get(key) for key in AWS_TEST_ENV}
    os.environ.update(AWS_TEST_ENV)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def replay_schema(settings):
    migrate_fresh("services/replay", settings)
    return db.make_engine("replay", settings)


@pytest.fixture(scope="session")
def gateway_schema(settings):
    """The gateway schema migrated to every head (not dropped: other tests own tables there)."""
    db.upgrade("gateway", settings)
    return get_engine(settings)


# Environments the tests' tokens name; the gateway lists every environment in this Redis set.
KNOWN_ENVIRONMENTS = ("env-a", "env-b")


@pytest.fixture
def replay_settings(settings, s3_endpoint, replay_schema):
    """Settings with a bucket of this test's own, an empty replay index, and env-a and env-b known."""
    truncate_schema(replay_schema, "replay")
    redis_lib.Redis.from_url(settings.redis_url).sadd(ENVIRONMENTS_SET, *KNOWN_ENVIRONMENTS)
    return settings.with_(s3_endpoint_url=s3_endpoint, s3_bucket=f"ff-replay-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def replay_app(replay_settings, clock):
    app = create_replay_app(replay_settings)
    app.extensions["replays"].clock = clock
    yield app
    app.extensions["replays"].publisher.close()


@pytest.fixture
def replays(replay_app):
    return replay_app.extensions["replays"]


@pytest.fixture
def serve():
    """Serve WSGI apps over HTTP on free ports (threads); returns their base URLs."""
    servers = []

    def start(app) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()


@pytest.fixture
def trial_tables(gateway_schema):
    with gateway_schema.begin() as conn:
        conn.execute(text("truncate gateway.replay_plans, gateway.replay_admissions"))
    return gateway_schema


@pytest.fixture
def trial_store(trial_tables, clock):
    return TrialStore(trial_tables, clock=clock)


@pytest.fixture
def environment(settings, gateway_schema):
    """A fresh environment with its write key and an API token that may read it."""
    env_id = f"rp-{uuid.uuid4().hex[:10]}"
    env = environments.create_environment(env_id, "Replay test", settings=settings)
    token = accounts.create_api_token(env_id, "replay tests", settings=settings)
    return {"id": env_id, "write_key": env["write_key"], "api_token": token}


@pytest.fixture
def gateway_app(settings, replay_app, serve, trial_tables, clock):
    """The gateway, its replay service on a port of its own."""
    app = create_gateway_app(settings.with_(replay_url=serve(replay_app)))
    app.extensions["replay_trial"].clock = clock
    return app
