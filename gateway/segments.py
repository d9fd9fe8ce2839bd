"""Segments: a named view of the feed (timeline, filters, search) shared by an environment's users.

Kept in the gateway's schema, not in the definitions service: a segment is a saved feed view, made
of the gateway's filter language (definitions referenced by id, expanded by the gateway when it
asks the sessions service) and the UI's timeline; the definitions service knows event criteria
only, and would have to learn the feed's filters to hold them. Counts are asked of the sessions
service when read, so they are always live, through the feed's own count (`/user-count`: the
filters planner, exact or marked estimated); the list returns without them and the UI asks for
each count on its own, so a slow count never holds the list up.
"""
from __future__ import annotations

from datetime import UTC, datetime

import orjson
from flask import Blueprint, g, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from footfall.web import ApiError, operation
from gateway import compose, feed_view, segments_store
from gateway.api import GUARDED, internal, present, seg, services
from gateway.auth import require_env_access

bp = Blueprint("segments", __name__, url_prefix="/api/v1/environments/<env_id>/segments")
TAGS = ["segments"]

TIMELINE = {"type": "object", "properties": {"range": {"enum": list(feed_view.RANGES)},
                                             "from": {"type": "string", "format": "date"},
                                             "to": {"type": "string", "format": "date"}}}
VIEW_PROPERTIES = {
    "timeline": TIMELINE, "zone": {"type": "string", "description": "IANA time zone of the days (default UTC)"},
    "filters": {"type": "array", "maxItems": feed_view.MAX_FILTERS, "items": {"type": "object"},
                "description": "the feed's filter conditions, as its `filter` parameter; a `seen` one "
                               "(from and to as days) is the window"},
    "q": {"type": ["string", "null"], "description": "search, as the feed's `q`"}}
SEGMENT = {"type": "object", "required": ["id", "name", "timeline", "filters"], "properties": {
    "id": {"type": "string"}, "name": {"type": "string"}, **VIEW_PROPERTIES,
    "created_by": {"type": "string"}, "created_at": {"type": "string"}, "updated_at": {"type": "string"}}}
SEGMENT_BODY = {"type": "object", "required": ["name"], "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 200}, **VIEW_PROPERTIES}}
COUNT = {"type": "object", "required": ["count", "estimated", "from", "to"], "properties": {
    "count": {"type": "integer"}, "from": {"type": "string"}, "to": {"type": "string"},
    "estimated": {"type": "boolean", "description": "true: estimated from a sample of the window's users"}}}
TAKEN = "another segment of the environment has this name (error.field = name)"


class Name(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=200)


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "a JSON object body is required", field="body")
    return body


def _name(body: dict) -> str:
    try:
        return Name.model_validate({"name": body.get("name")}).name
    except ValidationError as exc:
        raise ApiError(400, f"name: {exc.errors()[0]['msg']}", field="name") from None


def _who() -> str:
    principal = g.principal
    return principal.get("email", "account") if principal["kind"] == "account" else "api_token"


def _json(row) -> dict:
    view = row.view
    return {"id": row.id, "name": row.name, "timeline": view["timeline"], "zone": view.get("zone", "UTC"),
            "filters": view.get("filters", []), "q": view.get("q"), "created_by": row.created_by,
            "created_at": row.created_at, "updated_at": row.updated_at}


def feed_params(env_id: str, view: feed_view.View, now: datetime | None = None) -> dict:
    """The sessions service's parameters for a view: window, expanded filters, search."""
    start, end = feed_view.window(view, now)
    rest = feed_view.conditions(view)
    filter_param = None
    if rest:
        def criteria_of(definition_id: str):
            found = services().definitions.get(internal(env_id, f"/definitions/{seg(definition_id)}/criteria"),
                                               allow_404=True)
            if found is None:
                raise ApiError(400, f"no definition {definition_id!r}", field="filters")
            return found.get("criteria", found) if isinstance(found, dict) else found

        parsed = compose.parse_filter(orjson.dumps(rest).decode())
        filter_param = orjson.dumps(compose.filter_json(parsed, criteria_of)).decode()
    def iso(t: datetime) -> str:
        return t.astimezone(UTC).isoformat().replace("+00:00", "Z")

    return present(**{"from": iso(start), "to": iso(end), "filter": filter_param, "q": view.q})


@bp.get("")
@require_env_access
@operation("The environment's segments by name (counts: GET …/segments/{id}/count)", tags=TAGS,
           responses={200: {"type": "object", "properties": {"segments": {"type": "array", "items": SEGMENT}}},
                      **GUARDED})
def list_segments(env_id: str):
    return {"segments": [_json(r) for r in segments_store.list_(env_id)]}


@bp.post("")
@require_env_access
@operation("Save a view of the feed (timeline, filters, search) under a name, for everyone of the environment",
           request=SEGMENT_BODY, tags=TAGS,
           responses={201: SEGMENT, 400: "invalid segment (names the field)", 409: TAKEN,
                      413: f"the environment has {segments_store.MAX_SEGMENTS} segments already", **GUARDED})
def create_segment(env_id: str):
    body = _body()
    name = _name(body)
    view = feed_view.parse_view({k: v for k, v in body.items() if k != "name"})
    return _json(segments_store.create(env_id, name, feed_view.as_json(view), _who())), 201


@bp.get("/<segment_id>")
@require_env_access
@operation("One segment", tags=TAGS, responses={200: SEGMENT, 404: "no such segment", **GUARDED})
def get_segment(env_id: str, segment_id: str):
    return _json(segments_store.get(env_id, segment_id))


@bp.patch("/<segment_id>")
@require_env_access
@operation("Rename a segment, or change its view (any of name, timeline, zone, filters, q)",
           request={**SEGMENT_BODY, "required": []}, tags=TAGS,
           responses={200: SEGMENT, 400: "invalid field (names it)", 404: "no such segment", 409: TAKEN,
                      **GUARDED})
def update_segment(env_id: str, segment_id: str):
    body = _body()
    unknown = sorted(set(body) - {"name", *VIEW_PROPERTIES})
    if unknown:
        raise ApiError(400, f"{unknown[0]}: not a field of a segment", field=unknown[0])

    def change(row) -> dict:
        changes = {}
        if "name" in body:
            changes["name"] = _name(body)
        if set(body) & set(VIEW_PROPERTIES):
            merged = {**row.view, **{k: v for k, v in body.items() if k in VIEW_PROPERTIES}}
            changes["view"] = feed_view.as_json(feed_view.parse_view(merged))
        return changes

    return _json(segments_store.update_(env_id, segment_id, change))


@bp.delete("/<segment_id>")
@require_env_access
@operation("Delete a segment", tags=TAGS, responses={204: "deleted", 404: "no such segment", **GUARDED})
def delete_segment(env_id: str, segment_id: str):
    segments_store.delete_(env_id, segment_id)
    return "", 204


@bp.get("/<segment_id>/count")
@require_env_access
@operation("How many users match the segment now (its window read at this moment)", tags=TAGS,
           responses={200: COUNT, 400: "the segment names a definition that is gone", 404: "no such segment",
                      **GUARDED})
def count_segment(env_id: str, segment_id: str):
    row = segments_store.get(env_id, segment_id)
    params = feed_params(env_id, feed_view.View.model_validate(row.view))
    answer = services().sessions.get(internal(env_id, "/user-count"), params)
    return {"count": answer["count"], "estimated": answer.get("estimated", False), "from": params["from"],
            "to": params["to"]}
