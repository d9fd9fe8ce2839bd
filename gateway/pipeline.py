"""A visible pipeline: how far the feed is behind ingest, and what ingestion refused or set aside.

`/pipeline` answers the lag the events path leaves in Redis (footfall/pipeline_lag.py): the UI
shows a banner past BEHIND_S. `/ingestion` gathers an environment's ingestion health on one page:
identity's warnings per kind with examples (refused identities and properties, clamped times,
items set aside in a dead-letter queue), bot traffic per reason (dropped or kept, as ingest counts
it per day in Redis), events refused by the rate limit per day, and the lag.
"""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import redis
from flask import Blueprint, current_app

from footfall import pipeline_lag
from footfall.redis_keys import bot_dropped_hash, bot_traffic_hash, rate_limited_hash
from footfall.web import ApiError, operation
from gateway import privacy
from gateway.api import GUARDED, internal, services
from gateway.auth import require_env_access
from gateway.environments import redis_client

bp = Blueprint("pipeline", __name__, url_prefix="/api/v1/environments/<env_id>")
TAGS = ["pipeline"]

# Below this the feed is live enough: the events consumer batches for 0.2 s, a busy one for a few.
BEHIND_S = 10.0
DAYS = 7
# Written by ingest (services/ingest/bots.py, limits.py): field "<day>:<reason>" / "<day>".

LAG_SCHEMA = {"type": "object", "required": ["status", "behind_s"], "properties": {
    "status": {"enum": ["live", "behind", "unknown"],
               "description": f"behind: the oldest event not yet in the feed is over {BEHIND_S:.0f} s old"},
    "behind_s": {"type": ["number", "null"], "description": "age of the oldest unprocessed event (upper bound)"},
    "threshold_s": {"type": "number"},
    "pending_since": {"type": ["string", "null"], "format": "date-time"},
    "last_accepted": {"type": ["string", "null"], "format": "date-time"},
    "last_stored": {"type": ["string", "null"], "format": "date-time"}}}
COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}
WARNING = {"type": "object", "properties": {
    "kind": {"type": "string"}, "message": {"type": "string"}, "subject": {"type": ["string", "null"]},
    "details": {"type": "object"}, "occurred_at": {"type": "string"}, "recorded_at": {"type": "string"}}}
INGESTION_SCHEMA = {"type": "object", "required": ["warnings", "bots", "rate_limited", "pipeline"], "properties": {
    "warnings": {"type": "object", "properties": {
        "kinds": {"type": "array", "items": {"type": "object", "properties": {
            "kind": {"type": "string"}, "count": {"type": "integer"}, "latest": {"type": "string"},
            "examples": {"type": "array", "items": WARNING}}}},
        "scanned": {"type": "integer"}, "complete": {"type": "boolean"}}},
    "bots": {"type": "object", "properties": {
        "action": {"enum": ["drop", "keep"], "description": "what the environment does with them now"},
        "flagged": COUNTS, "dropped": COUNTS,
        "by_day": {"type": "object", "additionalProperties": COUNTS}}},
    "rate_limited": {"type": "object", "properties": {
        "events": {"type": "integer"}, "by_day": COUNTS}},
    "days": {"type": "integer"},
    "pipeline": LAG_SCHEMA}}


def _settings():
    return current_app.config["SETTINGS"]


def _iso(epoch: float | None) -> str | None:
    return datetime.fromtimestamp(epoch, UTC).isoformat() if epoch is not None else None


def lag_of(env_id: str) -> dict:
    """The environment's lag; `unknown` when Redis does not answer (not zero: nobody knows)."""
    try:
        found = pipeline_lag.lag(redis_client(_settings()), env_id, time.time())
    except redis.RedisError:
        return {"status": "unknown", "behind_s": None, "threshold_s": BEHIND_S, "pending_since": None,
                "last_accepted": None, "last_stored": None}
    behind = round(found["behind_s"], 1)
    return {"status": "behind" if behind >= BEHIND_S else "live", "behind_s": behind, "threshold_s": BEHIND_S,
            "pending_since": _iso(found["pending_since"]), "last_accepted": _iso(found["last_accepted"]),
            "last_stored": _iso(found["last_stored"])}


@bp.get("/pipeline")
@require_env_access
@operation("How far the feed is behind what ingest accepted (for the UI's 'events are 40 s behind')",
           responses={200: LAG_SCHEMA, **GUARDED}, tags=TAGS)
def pipeline(env_id: str):
    return lag_of(env_id)


def _per_day(raw: dict[bytes, bytes], since: str) -> dict[str, dict[str, int]]:
    """{day: {reason: count}} of a hash with fields "<day>" or "<day>:<reason>", from `since` on."""
    out: dict[str, dict[str, int]] = {}
    for field, value in raw.items():
        day, _, reason = field.decode().partition(":")
        if day >= since:
            out.setdefault(day, {})[reason or "events"] = int(value)
    return dict(sorted(out.items()))


def _totals(by_day: dict[str, dict[str, int]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for counts in by_day.values():
        for reason, n in counts.items():
            totals[reason] = totals.get(reason, 0) + n
    return totals


@bp.get("/ingestion")
@require_env_access
@operation(f"Ingestion health of the last {DAYS} days: warnings per kind with examples (refused "
           "identities and properties, clamped times, dead-lettered items), bot traffic per reason "
           "(flagged, dropped), events refused by the rate limit, and the pipeline's lag",
           responses={200: INGESTION_SCHEMA, **GUARDED}, tags=TAGS)
def ingestion(env_id: str):
    summary = services().identity.get(internal(env_id, "/warnings/summary"))
    since = (datetime.now(UTC) - timedelta(days=DAYS - 1)).date().isoformat()
    try:
        pipe = redis_client(_settings()).pipeline(transaction=False)
        for key in (bot_traffic_hash, bot_dropped_hash, rate_limited_hash):
            pipe.hgetall(key(env_id))
        flagged, dropped, limited = (_per_day(raw, since) for raw in pipe.execute())
    except redis.RedisError:
        raise ApiError(503, "ingestion counts cannot be read right now (Redis)",
                       headers={"Retry-After": "5"}) from None
    limited_by_day = {day: counts.get("events", 0) for day, counts in limited.items()}
    return {
        "warnings": {**summary, "kinds": [{**k, "examples": [{f: e.get(f) for f in WARNING["properties"]}
                                                              for e in k["examples"]]}
                                          for k in summary.get("kinds", [])]},
        "bots": {"action": privacy.get_settings_of(env_id, _settings()).bot_traffic,
                 "flagged": _totals(flagged), "dropped": _totals(dropped), "by_day": flagged},
        "rate_limited": {"events": sum(limited_by_day.values()), "by_day": limited_by_day},
        "days": DAYS,
        "pipeline": lag_of(env_id),
    }
