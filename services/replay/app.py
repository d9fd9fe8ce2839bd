"""Replay service composition root: `create_app(settings=None)` for gunicorn.

Chunks arrive over HTTP from the browser SDK, gated by a recording token the gateway signed, and
the service publishes `replay.recorded`; its use case is service.py (`Replays`). `build_replays`
wires the same parts for its consumer (consumer.py: deleted users' replays) and for
`python -m services.replay.retention`, which deletes expired replays.
"""
from __future__ import annotations

import redis
from flask import Flask
from sqlalchemy import text

from footfall import db
from footfall.bus import Publisher
from footfall.config import Settings, get_settings, require_secrets
from footfall.web import OpenAPI, create_service_app
from services.replay import api
from services.replay.chunks import MAX_CHUNK_BYTES
from services.replay.environments import KnownEnvironments
from services.replay.service import Replays
from services.replay.storage import ChunkStorage
from services.replay.store import ReplayIndex


def build_replays(settings: Settings | None = None) -> Replays:
    """The index, storage and publisher, wired (shared by the app and the retention job)."""
    settings = settings or get_settings()
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=1, socket_connect_timeout=1)
    return Replays(settings=settings, index=ReplayIndex(db.make_engine("replay", settings)),
                   storage=ChunkStorage(settings), publisher=Publisher(settings),
                   environments=KnownEnvironments(client))


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    require_secrets(settings, "replay_token_secrets")  # it verifies recording tokens: refuse to start without
    replays = build_replays(settings)

    def database() -> None:
        with replays.index.engine.connect() as conn:
            conn.execute(text("select 1"))

    app = create_service_app(
        "replay", [api.bp], settings=settings,
        readiness={"database": database, "broker": replays.publisher.check, "s3": replays.storage.check},
        openapi=OpenAPI("Footfall replay", description=__doc__.splitlines()[0]),
        # Werkzeug refuses bigger bodies; the view answers over-size ones with a clear 413 first.
        max_content_length=MAX_CHUNK_BYTES + 1,
    )
    app.extensions["replays"] = replays
    return app
