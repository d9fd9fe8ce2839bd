"""Event definitions in the public API: list, define, edit, archive, restore, suggest, preview.

Thin views over the definitions service (gateway.upstream passes its 4xx through, so a taken name
stays a 409 naming the field); the preview composes the sessions service (gateway.preview).
"""
from __future__ import annotations

from typing import Any

import orjson
from flask import Blueprint, request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from criteria.model import Criteria, parse_criteria
from footfall.web import ApiError, found, operation
from gateway import compose, preview
from gateway.api import GUARDED, fetch_event, internal, present, seg, services
from gateway.auth import require_env_access

bp = Blueprint("definitions_api", __name__, url_prefix="/api/v1/environments/<env_id>/definitions")

TAGS = ["definitions"]
DEFINITION_BODY = {"type": "object", "required": ["name", "criteria"], "properties": {
    "name": {"type": "string"}, "category": {"type": "string"}, "color": {"type": "string"},
    "description": {"type": "string"}, "criteria": {}}}
DEFINITION = {"type": "object", "required": ["id", "name", "criteria", "archived"], "properties": {
    "id": {"type": "string"}, "name": {"type": "string"}, "category": {"type": ["string", "null"]},
    "color": {"type": ["string", "null"]}, "description": {"type": "string"}, "criteria": {},
    "archived": {"type": "boolean"}, "created_at": {"type": "string"}, "updated_at": {"type": "string"}}}
TAKEN = "another live definition has this name (error.field = name)"


class PreviewIn(BaseModel):
    """Criteria not saved yet, and the window to count in (default: the past 7 days)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    criteria: Any = Field(description="one criteria object or an OR list of them (no combos)")
    from_: str | None = Field(None, alias="from")
    to: str | None = None

    @field_validator("criteria")
    @classmethod
    def _parses(cls, value: Any) -> list[Criteria]:
        return parse_criteria(value)


PREVIEW = {"type": "object", "required": ["events", "users", "events_exact", "users_exact", "from", "to"],
           "properties": {"events": {"type": "integer"}, "users": {"type": "integer"},
                          "events_exact": {"type": "boolean"}, "users_exact": {"type": "boolean"},
                          "from": {"type": "string"}, "to": {"type": "string"}}}


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "a JSON object body is required")
    return body


@bp.get("")
@require_env_access
@operation("Event definitions of the environment, oldest first", tags=TAGS,
           query={"archived": {"type": "string", "enum": ["false", "true", "all"],
                               "description": "live ones (default), archived ones, or both"}},
           responses={200: {"type": "object", "properties": {"definitions": {"type": "array", "items": DEFINITION}}},
                      400: "bad 'archived'", **GUARDED})
def definitions_list(env_id: str):
    params = present(archived=request.args.get("archived"))
    return services().definitions.get(internal(env_id, "/definitions"), params)


@bp.post("")
@require_env_access
@operation("Define an event (retroactive: it labels past events too)", request=DEFINITION_BODY,
           responses={201: DEFINITION, 400: "invalid definition", 409: TAKEN, **GUARDED}, tags=TAGS)
def definitions_create(env_id: str):
    return services().definitions.post(internal(env_id, "/definitions"), _body()), 201


@bp.get("/<definition_id>")
@require_env_access
@operation("One event definition", tags=TAGS, responses={200: DEFINITION, 404: "no such definition", **GUARDED})
def definitions_get(env_id: str, definition_id: str):
    return found(services().definitions.get(internal(env_id, f"/definitions/{seg(definition_id)}"),
                                            allow_404=True),
                 f"no definition {definition_id!r}")


@bp.put("/<definition_id>")
@require_env_access
@operation("Edit an event definition: name, colour, category, description, criteria",
           request=DEFINITION_BODY, tags=TAGS,
           responses={200: DEFINITION, 400: "invalid definition", 404: "no such definition", 409: TAKEN, **GUARDED})
def definitions_update(env_id: str, definition_id: str):
    return services().definitions.put(internal(env_id, f"/definitions/{seg(definition_id)}"), _body())


@bp.post("/<definition_id>/archive")
@require_env_access
@operation("Archive an event definition (its events become raw again)", tags=TAGS,
           responses={200: DEFINITION, 404: "no such definition", **GUARDED})
def definitions_archive(env_id: str, definition_id: str):
    return services().definitions.post(internal(env_id, f"/definitions/{seg(definition_id)}/archive"))


@bp.post("/<definition_id>/restore")
@require_env_access
@operation("Restore an archived event definition", tags=TAGS,
           responses={200: DEFINITION, 404: "no such definition", 409: TAKEN, **GUARDED})
def definitions_restore(env_id: str, definition_id: str):
    return services().definitions.post(internal(env_id, f"/definitions/{seg(definition_id)}/restore"))


@bp.get("/suggest")
@require_env_access
@operation("A definition (name and criteria) suggested from a raw event, to define it inline",
           query={"event_id": {"type": "string", "required": True}}, tags=TAGS,
           responses={200: {"type": "object", "required": ["name", "criteria"]},
                      400: "'event_id' missing", 404: "no such event", **GUARDED})
def definitions_suggest(env_id: str):
    event_id = request.args.get("event_id")
    if not event_id:
        raise ApiError(400, "'event_id' is required", field="event_id")
    event = fetch_event(env_id, event_id)
    suggestion = services().definitions.post(internal(env_id, "/definitions/suggest"), {"event": event})
    suggestion.setdefault("name", compose.raw_event_name(event))
    return suggestion


@bp.post("/preview")
@require_env_access
@operation("How many events (and from how many users) criteria would label in a window, before "
           "defining them; past the caps the counts are lower bounds (*_exact false)",
           request=PreviewIn, tags=TAGS,
           responses={200: PREVIEW, 400: "invalid criteria or window, naming the field", **GUARDED})
def definitions_preview(env_id: str):
    body = PreviewIn.model_validate(_body())
    start, end = compose.window(body.from_, body.to)
    condition = orjson.dumps([{"type": "did_event", "event": {"criteria": [
        c.model_dump(mode="json", exclude_none=True, exclude_defaults=True) for c in body.criteria]}}]).decode()
    sessions = services().sessions

    def feed_page(cursor: str | None) -> dict:
        return sessions.get(internal(env_id, "/users"), present(
            **{"from": start, "to": end, "filter": condition, "cursor": cursor, "limit": preview.USER_PAGE}))

    def session_events(session_id: str) -> list[dict]:
        answer = sessions.get(internal(env_id, f"/sessions/{seg(session_id)}/events"), allow_404=True)
        return (answer or {}).get("events", [])

    counts = preview.preview(feed_page, session_events, body.criteria, start, end)
    return {**counts, "from": start, "to": end}
