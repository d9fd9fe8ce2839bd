"""The public API under /api/v1/environments/<env_id>/: the feed and its details, composed over HTTP.

Views are thin: they check access (`require_env_access`), validate parameters, ask the services
(gateway.upstream) and add what only the gateway knows (replay state, labels, raw event names).
"""
from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import quote

import orjson
from flask import Blueprint, current_app, request

from footfall.web import ApiError, found, operation
from gateway import compose
from gateway.auth import require_env_access

bp = Blueprint("public_api", __name__, url_prefix="/api/v1/environments/<env_id>")

FEED_QUERY = {
    "from": {"type": "string", "format": "date-time", "description": "default: 7 days before `to`"},
    "to": {"type": "string", "format": "date-time", "description": "default: now"},
    "filter": {"type": "string", "description": "JSON list of conditions (AND): user_property, "
               "did_event / did_not_event (definition_id, a raw event: kind, name, text, path, domain, "
               "selector; or criteria; optional where), event_property (a custom property or an "
               "autocaptured `$path`, `$domain`, `$url`, `$text`, `$name`, `$kind`, `$source`, "
               "`$referrer`, `$landing_page`, `$utm_*`, `$browser`, `$os`, `$device_type`, "
               "`$country`), seen. Text operators ignore case unless `exact_case` is true"},
    "cursor": {"type": "string"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 100},
    "q": {"type": "string", "description": "search (2 to 200 characters, case-insensitive substring of "
          "identity, email, name or user id); combines with `filter`"},
}
SESSION_SCHEMA = {"type": "object", "required": ["session_id", "start", "end", "replay"], "properties": {
    "session_id": {"type": "string"}, "start": {"type": "string"}, "end": {"type": "string"},
    "duration_s": {"type": "number"}, "source": {"type": "string"}, "platform": {"type": ["string", "null"]},
    "browser": {"type": ["string", "null"]}, "device_type": {"type": ["string", "null"]},
    "event_count": {"type": "integer"}, "landing_page": {"type": ["string", "null"]},
    "summary": {"type": ["object", "null"], "description": "computed from the session's events when read "
                "(docs/frustration-and-pipeline.md); null when that took too long", "properties": {
        "pages_viewed": {"type": "integer"}, "active_s": {"type": "number"}, "bounce": {"type": "boolean"},
        "entry_page": {"type": ["string", "null"]}, "exit_page": {"type": ["string", "null"]},
        "rage_clicks": {"type": "integer"}, "dead_clicks": {"type": "integer"}}},
    "replay": {"type": "object", "properties": {"available": {"type": "boolean"},
               "playable": {"type": "boolean"}, "reason": {"type": ["string", "null"]}}}}}
USER_SCHEMA = {"type": "object", "required": ["user_id", "display_name", "properties"], "properties": {
    "user_id": {"type": "string"}, "identity": {"type": ["string", "null"]},
    "display_name": {"type": "string"}, "first_seen": {"type": "string"}, "last_seen": {"type": "string"},
    "properties": {"type": "object"}, "sessions": {"type": "array", "items": SESSION_SCHEMA},
    "online": {"type": "boolean", "description": "active in the last 5 minutes"},
    "matched_session_ids": {"type": "array", "items": {"type": "string"}}}}
FEED_SCHEMA = {"type": "object", "properties": {"users": {"type": "array", "items": USER_SCHEMA},
                                                "next_cursor": {"type": ["string", "null"]}}}
EVENT_SCHEMA = {"type": "object", "required": ["event_id", "kind", "display_name", "time", "definition"],
                "properties": {"event_id": {"type": "string"}, "kind": {"type": "string"},
                               "name": {"type": ["string", "null"]}, "display_name": {"type": "string"},
                               "time": {"type": "string"}, "properties": {"type": "object"},
                               "definition": {"type": ["object", "null"]},
                               "frustration": {"type": "boolean",
                                               "description": "a rage_click or dead_click"}}}
TAGS = ["users & sessions"]
# What any environment route may also answer: the caller's access, and the services behind it.
GUARDED = {401: "not signed in and no valid token", 403: "no access to this environment",
           502: "a service failed", 503: "a service is unavailable (Retry-After)"}


def services():
    return current_app.extensions["services"]


def internal(env_id: str, path: str) -> str:
    """An environment's path on an internal service."""
    return f"/internal/v1/envs/{quote(env_id, safe='')}{path}"


def seg(value: str) -> str:
    """One URL path segment, escaped (ids may hold '/')."""
    return quote(value, safe="")


def _limit() -> int | None:
    raw = request.args.get("limit")
    if raw is None:
        return None
    # isascii: '²'.isdigit() is true, and int('²') raises.
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 100:
        raise ApiError(400, "'limit' must be an integer between 1 and 100", field="limit")
    return int(raw)


def _filter_param(env_id: str) -> str | None:
    """The validated `filter`, with definition references expanded, as JSON for the sessions service."""
    conditions = compose.parse_filter(request.args.get("filter"))
    if not conditions:
        return None

    def criteria_of(definition_id: str):
        found = services().definitions.get(internal(env_id, f"/definitions/{seg(definition_id)}/criteria"),
                                           allow_404=True)
        if found is None:
            raise ApiError(400, f"no definition {definition_id!r}", field="filter")
        return found.get("criteria", found) if isinstance(found, dict) else found

    return orjson.dumps(compose.filter_json(conditions, criteria_of)).decode()


def _trial(env_id: str) -> dict:
    """Whether the environment may record new replays now, so the feed can say why one has none."""
    return current_app.extensions["replay_status"](env_id)


def _retention_days() -> int:
    """How long the replay service keeps a replay: the one shared REPLAY_RETENTION_DAYS setting."""
    return current_app.config["SETTINGS"].replay_retention_days


def present(**values) -> dict:
    """The query parameters that are set (None means: leave it to the service's default)."""
    return {k: v for k, v in values.items() if v is not None}


@bp.get("/users")
@require_env_access
@operation("The Users & Sessions feed: users active in the window, most recent first",
           query=FEED_QUERY, responses={200: FEED_SCHEMA, 400: "bad parameter", 503: "a service is down"},
           tags=TAGS)
def users_feed(env_id: str):
    start, end = compose.window(request.args.get("from"), request.args.get("to"))
    params = present(**{"from": start, "to": end, "filter": _filter_param(env_id),
                        "cursor": request.args.get("cursor"), "limit": _limit(), "q": request.args.get("q")})
    feed = services().sessions.get(internal(env_id, "/users"), params)
    now, trial = datetime.now(timezone.utc), _trial(env_id)
    for user in feed.get("users", []):
        compose.with_replay(user.get("sessions") or [], now, trial, _retention_days())
        user.setdefault("matched_session_ids", [])
    feed.setdefault("next_cursor", None)
    return feed


COUNT_SCHEMA = {"type": "object", "required": ["count", "estimated"], "properties": {
    "count": {"type": "integer", "minimum": 0},
    "estimated": {"type": "boolean", "description": "true: estimated from a sample of the window's users"}}}


@bp.get("/user-count")
@require_env_access
@operation("How many users the feed lists for this window and filter: exact, or estimated from a "
           "sample (then `estimated` is true)", query={k: FEED_QUERY[k] for k in ("from", "to", "filter")},
           responses={200: COUNT_SCHEMA, 400: "bad parameter", 503: "a service is down"}, tags=TAGS)
def users_count(env_id: str):
    start, end = compose.window(request.args.get("from"), request.args.get("to"))
    params = present(**{"from": start, "to": end, "filter": _filter_param(env_id)})
    return services().sessions.get(internal(env_id, "/user-count"), params)


CATALOG_QUERY = {
    "q": {"type": "string", "maxLength": 200, "description": "case-insensitive substring"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 100},
}
KIND_QUERY = {"kind": {"type": "string", "maxLength": 32, "description": "event kind (pageview, click…)"}}


def _catalog_params(*names: str) -> dict:
    q = request.args.get("q")
    if q is not None and len(q) > 200:
        raise ApiError(400, "'q' has at most 200 characters", field="q")
    kind = request.args.get("kind")
    if kind is not None and len(kind) > 32:
        raise ApiError(400, "'kind' has at most 32 characters", field="kind")
    values = {"q": q or None, "kind": kind or None, "limit": _limit(),
              "property": request.args.get("property")}
    return present(**{k: values[k] for k in names})


@bp.get("/catalog/events")
@require_env_access
@operation("Event names seen in this environment, most frequent first (a click's text, a pageview's "
           "path, a custom event's name), with counts: what the filter editor suggests",
           query={**KIND_QUERY, **CATALOG_QUERY},
           responses={200: {"type": "object", "properties": {"events": {"type": "array", "items": {
               "type": "object", "properties": {"kind": {"type": "string"}, "label": {"type": "string"},
                                                "count": {"type": "integer"}}}}}},
                      400: "bad parameter", 503: "a service is down"}, tags=TAGS)
def catalog_events(env_id: str):
    return services().sessions.get(internal(env_id, "/catalog/events"), _catalog_params("kind", "q", "limit"))


@bp.get("/catalog/properties")
@require_env_access
@operation("Event property names (custom ones with counts, then the autocaptured `$…` ones), for a "
           "kind if given", query={**KIND_QUERY, **CATALOG_QUERY},
           responses={200: {"type": "object", "properties": {"properties": {"type": "array", "items": {
               "type": "object", "properties": {"property": {"type": "string"},
                                                "count": {"type": ["integer", "null"]},
                                                "autocaptured": {"type": "boolean"}}}}}},
                      400: "bad parameter", 503: "a service is down"}, tags=TAGS)
def catalog_properties(env_id: str):
    return services().sessions.get(internal(env_id, "/catalog/properties"),
                                   _catalog_params("kind", "q", "limit"))


@bp.get("/catalog/values")
@require_env_access
@operation("The most frequent values of an event property; `complete` is false when the catalog keeps "
           "only the top ones", query={"property": {"type": "string", "minLength": 1, "maxLength": 200,
                                                    "required": True}, **CATALOG_QUERY},
           responses={200: {"type": "object", "properties": {
               "values": {"type": "array", "items": {"type": "object", "properties": {
                   "value": {}, "count": {"type": "integer"}}}},
               "complete": {"type": "boolean"}}}, 400: "bad parameter", 503: "a service is down"},
           tags=TAGS)
def catalog_values(env_id: str):
    prop = request.args.get("property") or ""
    if not 1 <= len(prop) <= 200:
        raise ApiError(400, "'property' needs 1 to 200 characters", field="property")
    return services().sessions.get(internal(env_id, "/catalog/values"), _catalog_params("property", "q", "limit"))


@bp.get("/users/<user_id>")
@require_env_access
@operation("About this user: every property", responses={200: USER_SCHEMA, 404: "no such user"},
           tags=TAGS)
def user_detail(env_id: str, user_id: str):
    return found(services().sessions.get(internal(env_id, f"/users/{seg(user_id)}"), allow_404=True),
                 f"no user {user_id!r} in this environment")


@bp.get("/users/<user_id>/sessions")
@require_env_access
@operation("See all sessions of a user; those matching the filter are marked",
           query={k: FEED_QUERY[k] for k in ("filter", "cursor", "limit")},
           responses={200: {"type": "object", "properties": {
               "sessions": {"type": "array", "items": SESSION_SCHEMA},
               "next_cursor": {"type": ["string", "null"]}}}}, tags=TAGS)
def user_sessions(env_id: str, user_id: str):
    params = present(filter=_filter_param(env_id), cursor=request.args.get("cursor"), limit=_limit())
    answer = found(services().sessions.get(internal(env_id, f"/users/{seg(user_id)}/sessions"),
                                           params, allow_404=True),
                   f"no user {user_id!r} in this environment")
    compose.with_replay(answer.get("sessions", []), datetime.now(timezone.utc), _trial(env_id),
                        _retention_days())
    for session in answer.get("sessions", []):
        session.setdefault("matched", False)
    answer.setdefault("next_cursor", None)
    return answer


@bp.get("/sessions/<session_id>")
@require_env_access
@operation("One session (its page: replay state, platform, who): found through its events' user",
           responses={200: {**SESSION_SCHEMA, "required": [*SESSION_SCHEMA["required"], "user_id"]},
                      404: "no such session", **GUARDED}, tags=TAGS)
def session_detail(env_id: str, session_id: str):
    not_found = f"no session {session_id!r} in this environment"
    answer = found(services().sessions.get(internal(env_id, f"/sessions/{seg(session_id)}/events"),
                                           allow_404=True), not_found)
    events = answer.get("events") or []
    if not events:
        raise ApiError(404, not_found)
    # The session overlaps its own first and last event: a window that small lists only a few
    # of the user's sessions, so one page finds it without walking their whole history.
    user_id = events[0]["user_id"]
    window = present(**{"from": events[0]["time"], "to": events[-1]["time"], "limit": 100})
    listed = services().sessions.get(internal(env_id, f"/users/{seg(user_id)}/sessions"), window,
                                     allow_404=True) or {}
    session = next((s for s in listed.get("sessions", []) if s["session_id"] == session_id), None)
    session = found(session, not_found)
    compose.with_replay([session], datetime.now(timezone.utc), _trial(env_id), _retention_days())
    session.pop("matched", None)
    return {**session, "user_id": session.get("user_id") or user_id}


def _labelled(env_id: str, events: list[dict]) -> list[dict]:
    labels = {}
    if events:
        labels = services().definitions.post(internal(env_id, "/definitions/label"),
                                             {"events": events}).get("labels", {})
    return [compose.shape_event(event, labels.get(event["event_id"])) for event in events]


@bp.get("/sessions/<anyid:session_id>/events", merge_slashes=False)  # a client session id may hold "/"
@require_env_access
@operation("A session's events by time, labelled with their definition or raw",
           responses={200: {"type": "object", "properties": {
               "events": {"type": "array", "items": EVENT_SCHEMA}}}, 404: "no such session"},
           tags=TAGS)
def session_events(env_id: str, session_id: str):
    answer = found(services().sessions.get(internal(env_id, f"/sessions/{seg(session_id)}/events"),
                                           allow_404=True),
                   f"no session {session_id!r} in this environment")
    return {"events": _labelled(env_id, answer.get("events", []))}


def fetch_event(env_id: str, event_id: str) -> dict:
    return found(services().sessions.get(internal(env_id, f"/events/{seg(event_id)}"), allow_404=True),
                 f"no event {event_id!r} in this environment")


@bp.get("/events/<anyid:event_id>", merge_slashes=False)  # a messageId may hold "/"
@require_env_access
@operation("One event with all its properties and its label", responses={200: EVENT_SCHEMA, 404: "no such event"},
           tags=TAGS)
def event_detail(env_id: str, event_id: str):
    return _labelled(env_id, [fetch_event(env_id, event_id)])[0]


OPERATORS_SCHEMA = {"type": "object", "required": ["operators"], "properties": {"operators": {
    "type": "array", "items": {"type": "object", "required": ["op", "label", "takes_value", "ordered"],
                               "properties": {"op": {"type": "string"}, "label": {"type": "string"},
                                              "takes_value": {"type": "boolean"},
                                              "ordered": {"type": "boolean"}}}}}}


@bp.get("/filters/operators")
@require_env_access
@operation("The operators of property conditions in `filter` (and in definitions' criteria), with "
           "labels: what a filter editor offers", responses={200: OPERATORS_SCHEMA, **GUARDED}, tags=TAGS)
def filter_operators(env_id: str):
    return {"operators": compose.operators()}


WARNINGS_SCHEMA = {"type": "object", "properties": {
    "warnings": {"type": "array", "items": {"type": "object", "properties": {
        "key": {"type": "string"}, "kind": {"type": "string"}, "message": {"type": "string"},
        "subject": {"type": ["string", "null"]}, "details": {"type": "object"},
        "occurred_at": {"type": "string"}, "recorded_at": {"type": "string"}}}},
    "next_cursor": {"type": ["string", "null"]}}}


@bp.get("/warnings")
@require_env_access
@operation("Ingestion warnings, newest first: refused identities and properties, event times clamped "
           "to their receipt (time_clamped), items set aside in a dead-letter queue (dead_lettered)",
           query={"limit": {"type": "integer", "minimum": 1, "maximum": 500}, "cursor": {"type": "string"}},
           responses={200: WARNINGS_SCHEMA, 400: "bad parameter", **GUARDED}, tags=["warnings"])
def warnings(env_id: str):
    params = present(limit=request.args.get("limit"), cursor=request.args.get("cursor"))
    return services().identity.get(internal(env_id, "/warnings"), params)
