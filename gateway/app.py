"""The gateway's composition root: control plane, public API, replay admission, UI."""
from __future__ import annotations

import logging
import time

import orjson
import redis
from flask import request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from footfall.config import Settings, get_settings, require_secrets
from footfall.web import ApiError, OpenAPI, create_service_app, nul_path
from gateway import (
    api,
    controlplane,
    definitions,
    environments,
    exports_api,
    pipeline,
    privacy_api,
    segments,
    ui,
)
from gateway.environments import keep_write_keys_in_redis, redis_client
from gateway.login_throttle import LoginThrottle, PasswordChecks
from gateway.replay import api as replay_api
from gateway.replay import trial
from gateway.replay.store import TrialStore
from gateway.store import get_engine
from gateway.upstream import Services

log = logging.getLogger("footfall.gateway")


def create_app(settings: Settings | None = None):
    settings = settings or get_settings()
    require_secrets(settings, "replay_token_secrets")  # it signs recording tokens: refuse to start without
    engine = get_engine(settings)

    def database() -> None:
        with engine.connect() as conn:
            conn.execute(text("select 1"))

    app = create_service_app(
        "gateway",
        [controlplane.auth_bp, controlplane.envs_bp, api.bp, definitions.bp, privacy_api.bp, pipeline.bp,
         segments.bp, exports_api.bp, replay_api.bp, ui.bp],
        settings=settings,
        readiness={"database": database, "redis": lambda: redis_client(settings).ping()},
        openapi=OpenAPI("Footfall API", description="The Users & Sessions feed, event definitions, "
                        "environments and replay. Authenticate with 'Authorization: Bearer <token>'."),
    )
    app.before_request(_refuse_nul_in_bodies)
    keep_write_keys_in_redis(settings)
    client = redis_client(settings)
    trials = TrialStore(engine)
    app.extensions.update(
        services=Services(settings),
        login_throttle=LoginThrottle(client),
        password_checks=PasswordChecks(settings.login_concurrency),
        replay_trial=trials,
        replay_limits=replay_api.admission_limits(client, settings),
        replay_status=_trial_reason(trials),
    )
    app.after_request(ui.add_security_headers)
    _resync_keys(settings)
    return app


def _resync_keys(settings: Settings) -> None:
    """Ingest and replay learn keys and environments from Redis: refill it after a flush.
    Best effort: the gateway serves without it, and the next start or bootstrap repairs it."""
    try:
        environments.sync_write_keys(settings)
    except (redis.RedisError, SQLAlchemyError):
        log.warning("write keys not synced to Redis at start", exc_info=True)


def _refuse_nul_in_bodies() -> None:
    """400 naming the field when a JSON body holds a NUL, which no stored name, email or key can
    contain (PostgreSQL refuses it): a login, a write key or a definition would otherwise be a 500."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    data = request.get_data()  # cached for the view; bounded by MAX_CONTENT_LENGTH
    if b"\\u0000" not in data:  # the one way JSON writes a NUL
        return
    try:
        where = nul_path(orjson.loads(data))
    except orjson.JSONDecodeError:
        return  # the view says what is wrong with it
    if where is not None:
        raise ApiError(400, f"{where or 'body'}: must not contain a NUL character", field=where or "body")


def _trial_reason(store):
    """Whether new sessions may be recorded now (a reason code), so the feed can say why none was."""
    # The feed only says why a session has no replay; a few seconds of staleness spares a query.
    cache: dict[str, tuple[dict, float]] = {}

    def status(env_id: str) -> dict:
        cached = cache.get(env_id)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        answer = {"reason": trial.recording_status(store.state(env_id), store.clock()).reason}
        cache[env_id] = (answer, time.monotonic() + 5.0)
        return answer

    return status
