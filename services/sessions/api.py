"""The sessions internal API (docs/contracts.md, "Internal HTTP APIs"): thin views over feed.py."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, current_app, request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from footfall.web import ApiError, found, operation
from services.sessions import catalog, deletion, export, feed, search
from services.sessions.filters import parse_filters

bp = Blueprint("sessions", __name__, url_prefix="/internal/v1/envs/<env_id>")

DEFAULT_WINDOW = timedelta(days=7)
# A window ending within this of now is "up to now" and open-ended: the feed then reads the
# last_seen index directly (the gateway always sends `to`), and events from clocks running ahead
# (docs/semantics.md R9) still count as recent.
NOW_SLACK = timedelta(minutes=1)
MAX_PAGE = 100


class PageParams(BaseModel):
    """Query parameters shared by the paginated views."""

    model_config = ConfigDict(populate_by_name=True)
    from_: AwareDatetime | None = Field(None, alias="from")
    to: AwareDatetime | None = None
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=MAX_PAGE)


def _params() -> PageParams:
    return PageParams.model_validate(request.args.to_dict())


def _engine():
    return current_app.extensions["sessions_engine"]


PAGE_QUERY = {
    "from": {"type": "string", "format": "date-time"},
    "to": {"type": "string", "format": "date-time"},
    "filter": {"type": "string", "description": "JSON list of filter conditions (AND)"},
    "cursor": {"type": "string"},
    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
}
JSON_OBJECT = {"type": "object"}
SEARCH_QUERY = {**PAGE_QUERY, "q": {"type": "string", "minLength": search.MIN_CHARS, "maxLength": search.MAX_CHARS,
                                    "description": "search: identity, email, name or user id (substring)"}}


@bp.get("/users")
@operation("Users active in a window, most recent first (keyset pagination)", query=SEARCH_QUERY,
           responses={200: JSON_OBJECT, 400: "invalid parameter"}, tags=["feed"])
def list_users(env_id: str):
    params, filters = _params(), parse_filters(request.args.get("filter"))
    query = search.parse_query(request.args.get("q"))
    start, end = _window(params)
    with _engine().connect() as conn:
        return feed.feed(conn, env_id, start, end, filters, params.cursor, params.limit, query)


def _window(params: PageParams) -> tuple[datetime, datetime | None]:
    now = datetime.now(UTC)
    start = params.from_ or now - DEFAULT_WINDOW
    if params.to is not None and params.to < start:
        raise ApiError(400, "to is before from", field="to")
    return start, None if params.to is None or params.to >= now - NOW_SLACK else params.to


COUNT_QUERY = {k: SEARCH_QUERY[k] for k in ("from", "to", "filter", "q")}


@bp.get("/user-count")
@operation("How many users the feed lists for a window and filters (exact, or `estimated` from a "
           "sample when counting would take too long)", query=COUNT_QUERY,
           responses={200: {"type": "object", "required": ["count", "estimated"], "properties": {
               "count": {"type": "integer"}, "estimated": {"type": "boolean"}}},
               400: "invalid parameter"}, tags=["feed"])
def count_users(env_id: str):
    params, filters = _params(), parse_filters(request.args.get("filter"))
    query = search.parse_query(request.args.get("q"))
    start, end = _window(params)
    with _engine().connect() as conn:
        return feed.count(conn, env_id, start, end, filters, query)


class CatalogParams(BaseModel):
    kind: str | None = Field(None, max_length=32)
    q: str | None = Field(None, max_length=200)
    limit: int = Field(20, ge=1, le=catalog.MAX_LOOKUP)


CATALOG_QUERY = {"kind": {"type": "string", "maxLength": 32}, "q": {"type": "string", "maxLength": 200,
                 "description": "case-insensitive substring"},
                 "limit": {"type": "integer", "minimum": 1, "maximum": catalog.MAX_LOOKUP}}


@bp.get("/catalog/events")
@operation("Event labels seen in the environment (a click's text, a pageview's path, a custom "
           "event's name), most frequent first", query=CATALOG_QUERY,
           responses={200: JSON_OBJECT, 400: "invalid parameter"}, tags=["catalog"])
def catalog_events(env_id: str):
    p = CatalogParams.model_validate(request.args.to_dict())
    with _engine().connect() as conn:
        return {"events": catalog.event_names(conn, env_id, p.kind, p.q, p.limit)}


@bp.get("/catalog/properties")
@operation("Event property names (custom, and autocaptured ones as `$name`), per kind if given",
           query=CATALOG_QUERY, responses={200: JSON_OBJECT, 400: "invalid parameter"}, tags=["catalog"])
def catalog_properties(env_id: str):
    p = CatalogParams.model_validate(request.args.to_dict())
    with _engine().connect() as conn:
        return {"properties": catalog.property_names(conn, env_id, p.kind, p.q, p.limit)}


@bp.get("/catalog/values")
@operation("The most frequent values of an event property; `complete` says whether all are listed",
           query={"property": {"type": "string", "minLength": 1, "maxLength": 200, "required": True},
                  **{k: CATALOG_QUERY[k] for k in ("q", "limit")}},
           responses={200: JSON_OBJECT, 400: "invalid parameter"}, tags=["catalog"])
def catalog_values(env_id: str):
    prop = request.args.get("property") or ""
    if not 1 <= len(prop) <= 200:
        raise ApiError(400, "property: 1 to 200 characters", field="property")
    p = CatalogParams.model_validate({k: v for k, v in request.args.items() if k != "property"})
    with _engine().connect() as conn:
        return catalog.property_values(conn, env_id, prop, p.q, p.limit)


@bp.get("/users/<user_id>")
@operation("One feed user (following merges)", responses={200: JSON_OBJECT, 404: "unknown user"},
           tags=["feed"])
def get_user(env_id: str, user_id: str):
    with _engine().connect() as conn:
        return found(feed.user(conn, env_id, user_id), "unknown user", user_id=user_id)


@bp.get("/users/<user_id>/sessions")
@operation("A user's sessions, newest first; `matched` marks those with a filtered event",
           query=PAGE_QUERY, responses={200: JSON_OBJECT, 400: "invalid parameter"}, tags=["feed"])
def get_user_sessions(env_id: str, user_id: str):
    params, filters = _params(), parse_filters(request.args.get("filter"))
    with _engine().connect() as conn:
        return feed.user_sessions(conn, env_id, user_id, filters, params.from_, params.to,
                                  params.cursor, params.limit)


@bp.get("/sessions/<anyid:session_id>/events", merge_slashes=False)  # a client session id may hold "/"
@operation("A session's events by time", responses={200: JSON_OBJECT, 404: "unknown session"},
           tags=["feed"])
def get_session_events(env_id: str, session_id: str):
    with _engine().connect() as conn:
        events = found(feed.session_events(conn, env_id, session_id), "unknown session",
                       session_id=session_id)
    return {"events": events}


@bp.get("/events/<anyid:event_id>", merge_slashes=False)  # a messageId may hold "/"
@operation("One event", responses={200: JSON_OBJECT, 404: "unknown event"}, tags=["feed"])
def get_event(env_id: str, event_id: str):
    with _engine().connect() as conn:
        return found(feed.event(conn, env_id, event_id), "unknown event", event_id=event_id)


@bp.get("/users/<user_id>/export/<part>")
@operation("Everything held about a user, streamed: its sessions, events or replayed sessions, as "
           "JSON lines or CSV (following merges)",
           query={"format": {"type": "string", "enum": ["json", "csv"]}},
           responses={200: "JSON lines (application/x-ndjson) or CSV (text/csv)",
                      400: "unknown part or format", 404: "unknown user"}, tags=["privacy"])
def export_user(env_id: str, user_id: str, part: str):
    fmt = request.args.get("format", "json")
    if part not in export.PARTS:
        raise ApiError(400, f"part must be one of {', '.join(export.PARTS)}", field="part")
    if fmt not in ("json", "csv"):
        raise ApiError(400, "format must be json or csv", field="format")
    ids = found(export.members(_engine(), env_id, user_id), "unknown user", user_id=user_id)
    mimetype = "text/csv" if fmt == "csv" else "application/x-ndjson"
    return Response(export.stream(_engine(), env_id, ids, part, fmt), mimetype=mimetype)


@bp.get("/deletions")
@operation("Deletions done here, by id: counts and time (no personal data)",
           query={"ids": {"type": "string", "description": "comma-separated deletion ids (at most 100)",
                          "required": True}},
           responses={200: JSON_OBJECT, 400: "invalid ids"}, tags=["privacy"])
def deletions(env_id: str):
    ids = [i for i in request.args.get("ids", "").split(",") if i]
    if not ids or len(ids) > 100:
        raise ApiError(400, "ids: 1 to 100 comma-separated deletion ids", field="ids")
    with _engine().connect() as conn:
        return {"deletions": deletion.deletion_status(conn, env_id, ids)}
