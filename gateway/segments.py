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

import uuid
from datetime import UTC, datetime

import orjson
from flask import Blueprint, g, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Column, DateTime, ForeignKey, String, Table, delete, func, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError

from footfall.web import ApiError, operation
from gateway import compose, feed_view
from gateway.api import GUARDED, internal, present, seg, services
from gateway.auth import require_env_access
from gateway.store import get_engine, metadata

bp = Blueprint("segments", __name__, url_prefix="/api/v1/environments/<env_id>/segments")
TAGS = ["segments"]
MAX_SEGMENTS = 500  # per environment: the list is read whole

segments = Table(
    "segments", metadata,
    Column("id", String(36), primary_key=True),
    Column("env_id", String(64), ForeignKey("environments.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("view", JSONB, nullable=False),  # feed_view.as_json
    Column("created_by", String(254), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

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


def _taken(exc: IntegrityError) -> ApiError:
    if "segments_name" in str(exc.orig):
        return ApiError(409, "a segment of this environment already has this name", field="name")
    raise exc


def _one(conn, env_id: str, segment_id: str):
    row = conn.execute(select(segments).where(segments.c.env_id == env_id, segments.c.id == segment_id)).first()
    if row is None:
        raise ApiError(404, f"no segment {segment_id!r} in this environment", field="segment_id")
    return row


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
    with get_engine().connect() as conn:
        rows = conn.execute(select(segments).where(segments.c.env_id == env_id)
                            .order_by(func.lower(segments.c.name), segments.c.id)).all()
    return {"segments": [_json(r) for r in rows]}


@bp.post("")
@require_env_access
@operation("Save a view of the feed (timeline, filters, search) under a name, for everyone of the environment",
           request=SEGMENT_BODY, tags=TAGS,
           responses={201: SEGMENT, 400: "invalid segment (names the field)", 409: TAKEN,
                      413: f"the environment has {MAX_SEGMENTS} segments already", **GUARDED})
def create_segment(env_id: str):
    body = _body()
    name = _name(body)
    view = feed_view.parse_view({k: v for k, v in body.items() if k != "name"})
    now = datetime.now(UTC)
    try:
        with get_engine().begin() as conn:
            held = conn.scalar(select(func.count()).select_from(segments).where(segments.c.env_id == env_id))
            if held >= MAX_SEGMENTS:
                raise ApiError(413, f"an environment holds at most {MAX_SEGMENTS} segments; delete some")
            conn.execute(segments.insert().values(
                id=str(uuid.uuid4()), env_id=env_id, name=name, view=feed_view.as_json(view),
                created_by=_who(), created_at=now, updated_at=now))
            row = conn.execute(select(segments).where(segments.c.env_id == env_id, segments.c.name == name)).one()
    except IntegrityError as exc:
        raise _taken(exc) from None
    return _json(row), 201


@bp.get("/<segment_id>")
@require_env_access
@operation("One segment", tags=TAGS, responses={200: SEGMENT, 404: "no such segment", **GUARDED})
def get_segment(env_id: str, segment_id: str):
    with get_engine().connect() as conn:
        return _json(_one(conn, env_id, segment_id))


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
    try:
        with get_engine().begin() as conn:
            row = _one(conn, env_id, segment_id)
            changes: dict = {"updated_at": datetime.now(UTC)}
            if "name" in body:
                changes["name"] = _name(body)
            if set(body) & set(VIEW_PROPERTIES):
                merged = {**row.view, **{k: v for k, v in body.items() if k in VIEW_PROPERTIES}}
                changes["view"] = feed_view.as_json(feed_view.parse_view(merged))
            conn.execute(update(segments).where(segments.c.id == row.id).values(**changes))
            row = _one(conn, env_id, segment_id)
    except IntegrityError as exc:
        raise _taken(exc) from None
    return _json(row)


@bp.delete("/<segment_id>")
@require_env_access
@operation("Delete a segment", tags=TAGS, responses={204: "deleted", 404: "no such segment", **GUARDED})
def delete_segment(env_id: str, segment_id: str):
    with get_engine().begin() as conn:
        gone = conn.execute(delete(segments).where(segments.c.env_id == env_id, segments.c.id == segment_id))
    if not gone.rowcount:
        raise ApiError(404, f"no segment {segment_id!r} in this environment", field="segment_id")
    return "", 204


@bp.get("/<segment_id>/count")
@require_env_access
@operation("How many users match the segment now (its window read at this moment)", tags=TAGS,
           responses={200: COUNT, 400: "the segment names a definition that is gone", 404: "no such segment",
                      **GUARDED})
def count_segment(env_id: str, segment_id: str):
    with get_engine().connect() as conn:
        row = _one(conn, env_id, segment_id)
    params = feed_params(env_id, feed_view.View.model_validate(row.view))
    answer = services().sessions.get(internal(env_id, "/user-count"), params)
    return {"count": answer["count"], "estimated": answer.get("estimated", False), "from": params["from"],
            "to": params["to"]}
