"""Composition root of ingest: `create_app(settings=None)` (gunicorn: 'services.ingest.app:create_app()').

Ingest is stateless: no database, no migrations and no consumer. It reads write keys from Redis
(owned by the gateway), counts rate limits in Redis, and publishes to RabbitMQ.
"""
from __future__ import annotations

import gc
from datetime import timedelta

import redis
from flask import Flask

from footfall.bus import Publisher
from footfall.config import Settings, get_settings
from footfall.pipeline_lag import Marks
from footfall.web import OpenAPI, create_service_app
from services.ingest import api
from services.ingest.bots import BotFilter
from services.ingest.geo import geolocator
from services.ingest.keys import WriteKeys
from services.ingest.limits import MAX_BODY_BYTES, RateLimiter
from services.ingest.service import Intake

DESCRIPTION = ("SDK-facing event collection: the Segment spec (/v1/*), Heap's server API (/api/*) and "
               "our browser SDK (Segment shape plus context.footfall). Success means the broker confirmed.")


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    publisher = Publisher(settings)
    # Short timeouts: a slow Redis must not hold SDK requests (limits fail open, keys answer 503).
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=1, socket_connect_timeout=1)
    app = create_service_app(
        "ingest", [api.bp], settings=settings,
        readiness={"broker": publisher.check, "redis": client.ping},
        openapi=OpenAPI("Footfall ingest", description=DESCRIPTION),
        max_content_length=MAX_BODY_BYTES + 1,  # see limits.read_json
    )
    app.extensions["ingest"] = Intake(
        publisher,
        WriteKeys(client),
        RateLimiter(client, settings.ingest_rate_limit, settings.ingest_rate_window_s),
        geolocator(settings.geoip_database),
        bots=BotFilter(client),
        future_margin=timedelta(seconds=settings.ingest_future_margin_s),
        marks=Marks(client),
    )
    # Everything built so far lives as long as the process: keep the garbage collector from
    # rescanning it on every full collection (each 100-event request allocates thousands of objects).
    gc.freeze()
    return app
