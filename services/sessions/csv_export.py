"""The filtered feed as CSV (one line per user) and its count: what segments and exports read.

Both take the feed's parameters (`from`, `to`, `filter`, `q`) and select the users of the feed's
own query (feed.feed_query), without its page limit. The CSV is read from a server-side cursor
`ROWS_PER_FETCH` rows at a time and written as it is read, so memory stays flat up to the
1,000,000 rows an export may hold; the caller (the gateway's export job) uploads it to S3.

A CSV record is one line: carriage returns and line feeds inside values become spaces, so that
the gateway counts rows (its progress bar) by counting lines, and so does any reader.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, request
from sqlalchemy import Engine, and_, func, select, text, type_coerce
from sqlalchemy.dialects.postgresql import JSONB

from footfall.web import ApiError, operation
from services.sessions import search
from services.sessions.api import DEFAULT_WINDOW, NOW_SLACK, PageParams
from services.sessions.feed import display_name, feed_query
from services.sessions.filters import DidEvent, event_predicate, parse_filters
from services.sessions.tables import events, merges, users

bp = Blueprint("sessions_csv", __name__, url_prefix="/internal/v1/envs/<env_id>")

ROWS_PER_FETCH = 5_000
MAX_ROWS = 1_000_000  # an export's bound; the gateway refuses bigger ones before asking
COLUMNS = ("user_id", "identity", "display_name", "first_seen", "last_seen", "sessions")
MAX_PROPERTIES = 50
MAX_PROPERTY_NAME = 200
# A count that takes longer is refused rather than holding a connection (segments ask for many).
COUNT_BUDGET_MS = 7_000  # below the gateway's 8 s read timeout: the caller hears why
QUERY = {
    "from": {"type": "string", "format": "date-time"}, "to": {"type": "string", "format": "date-time"},
    "filter": {"type": "string", "description": "JSON list of filter conditions (AND)"},
    "q": {"type": "string", "description": "search, as the feed's"},
}
CSV_QUERY = {**QUERY,
             "columns": {"type": "string", "description": f"comma-separated, of {', '.join(COLUMNS)}"},
             "properties": {"type": "string", "description": "comma-separated property names"},
             "limit": {"type": "integer", "minimum": 1, "maximum": MAX_ROWS,
                       "description": f"at most this many users (default {MAX_ROWS:,})"}}


def _engine() -> Engine:
    return current_app.extensions["sessions_engine"]


def _selection(env_id: str):
    """The feed's query for the request's window, filters and search (no page limit)."""
    params = PageParams.model_validate({k: v for k, v in request.args.items() if k in ("from", "to")})
    filters, query = parse_filters(request.args.get("filter")), search.parse_query(request.args.get("q"))
    now = datetime.now(UTC)
    start = params.from_ or now - DEFAULT_WINDOW
    if params.to is not None and params.to < start:
        raise ApiError(400, "to is before from", field="to")
    end = None if params.to is None or params.to >= now - NOW_SLACK else params.to
    return selection(env_id, start, end, filters, query)


def selection(env_id: str, start: datetime, end: datetime | None, filters: list, query: str | None):
    """The feed's users for a window, filters and search, all of them (no page limit).

    A page stops after a few dozen users, so the feed tests did_event filters per user; all of
    them would probe every user of the window (49 s at 200,000 users), and the planner's
    correlated semi-join is worse still. Here each did_event filter is the set of owners of the
    window's matching events, found once (one pass over the window's events, hashed).
    """
    per_user = [f for f in filters if not isinstance(f, DidEvent)]
    users_query = feed_query(env_id, start, end, per_user, None, 0, search=query).limit(None)
    for f in filters:
        if isinstance(f, DidEvent):
            users_query = users_query.where(users.c.user_id.in_(_owners_of_matching_events(env_id, start, end, f)))
    return users_query


def _owners_of_matching_events(env_id: str, start: datetime, end: datetime | None, f: DidEvent):
    window = [events.c.time >= start] + ([events.c.time <= end] if end else [])
    owner = func.coalesce(merges.c.into_user_id, events.c.anon_user_id)
    return (select(owner).select_from(events.outerjoin(merges, and_(
        merges.c.env_id == events.c.env_id, merges.c.from_user_id == events.c.anon_user_id)))
        .where(events.c.env_id == env_id, *window, event_predicate(f)))


def _names(raw: str | None, field: str, allowed: tuple[str, ...] | None, limit: int) -> list[str]:
    names = [n.strip() for n in (raw or "").split(",") if n.strip()]
    if len(names) > limit:
        raise ApiError(400, f"{field}: at most {limit}", field=field)
    for name in names:
        if allowed is not None and name not in allowed:
            raise ApiError(400, f"{field}: {name!r} is not one of {', '.join(allowed)}", field=field)
        if len(name) > MAX_PROPERTY_NAME or "\x00" in name:
            raise ApiError(400, f"{field}: names of at most {MAX_PROPERTY_NAME} characters, no NUL",
                           field=field)
    return list(dict.fromkeys(names))


@bp.get("/feed/count")
@operation("How many users the feed would list for these parameters (a segment's count)", query=QUERY,
           responses={200: {"type": "object", "properties": {"count": {"type": "integer"}}},
                      400: "invalid parameter", 503: "the count took too long"}, tags=["feed"])
def count_users(env_id: str):
    selection = _selection(env_id).order_by(None).subquery()
    with _engine().connect() as conn:
        conn.execute(text(f"set local statement_timeout = {COUNT_BUDGET_MS}"))
        try:
            return {"count": conn.scalar(select(func.count()).select_from(selection))}
        except Exception as exc:
            if getattr(getattr(exc, "orig", None), "sqlstate", None) == "57014":
                raise ApiError(503, "the count took too long", headers={"Retry-After": "5"}) from None
            raise


def _flat(value) -> str | None:
    if value is None:
        return None
    text_value = value if isinstance(value, str) else str(value)
    return text_value.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")


def rows_csv(engine: Engine, selection, columns: list[str], properties: list[str]) -> Iterator[bytes]:
    """The header line, then one line per user, in chunks of about ROWS_PER_FETCH lines."""
    sub = selection.subquery()
    props = type_coerce(sub.c.properties, JSONB)
    query = select(sub.c.user_id, sub.c.identity, sub.c.first_seen, sub.c.last_seen, sub.c.session_count,
                   *[props[name].astext.label(f"p{i}") for i, name in enumerate(properties)])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*columns, *properties])
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=ROWS_PER_FETCH).execute(query)
        for rows in result.partitions():
            for row in rows:
                values = {"user_id": row.user_id, "identity": row.identity,
                          "display_name": display_name(row.user_id, row.identity),
                          "first_seen": row.first_seen.isoformat() if row.first_seen else None,
                          "last_seen": row.last_seen.isoformat() if row.last_seen else None,
                          "sessions": row.session_count}
                writer.writerow([_flat(values[c]) for c in columns]
                                + [_flat(row[5 + i]) for i in range(len(properties))])
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


@bp.get("/feed/csv")
@operation("The users the feed would list, as CSV: a header, then one line per user, most recently "
           "active first (what the gateway's export job uploads)", query=CSV_QUERY,
           responses={200: "text/csv", 400: "invalid parameter"}, tags=["feed"])
def users_csv(env_id: str):
    columns = _names(request.args.get("columns"), "columns", COLUMNS, len(COLUMNS)) or list(COLUMNS)
    properties = _names(request.args.get("properties"), "properties", None, MAX_PROPERTIES)
    raw = request.args.get("limit", str(MAX_ROWS))
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_ROWS:
        raise ApiError(400, f"limit: an integer from 1 to {MAX_ROWS:,}", field="limit")
    selection = _selection(env_id).limit(int(raw))
    return Response(rows_csv(_engine(), selection, columns, properties), mimetype="text/csv")
