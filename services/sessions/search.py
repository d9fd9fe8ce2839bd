"""Search of the feed's users: identity, email, display name or user id; prefix or substring,
case-insensitive. It is one more predicate of the feed, so it combines with every filter.

What is searched is `users.search_text` (migration s0200): identity, the `email` and `name`
properties and the user id, lowercased and joined by spaces, a column PostgreSQL keeps up to date
itself and indexes with pg_trgm (GIN). The planner then picks per query: the feed index when many
users match (the first page is found in a few rows), the trigram index when few do, and for two
characters (no trigram) a scan of that one column.
"""
from __future__ import annotations

import orjson
from sqlalchemy import ColumnElement, func, literal, literal_column

from footfall.web import ApiError

MIN_CHARS = 2  # one character matches most users and no trigram: it would walk the whole feed
MAX_CHARS = 200

SEARCH_TEXT = literal_column("users.search_text")


def parse_query(raw: str | None) -> str | None:
    """The `q` parameter: None when absent or blank; ApiError 400 naming `q` when unusable."""
    if raw is None or not raw.strip():
        return None
    query = " ".join(raw.split())  # what people type: surrounding and repeated spaces do not count
    if "\x00" in query:
        raise ApiError(400, "q must not contain a NUL character", field="q")
    if len(query) < MIN_CHARS:
        raise ApiError(400, f"q: at least {MIN_CHARS} characters", field="q")
    if len(query) > MAX_CHARS:
        raise ApiError(400, f"q: at most {MAX_CHARS} characters", field="q")
    return query


def like_pattern(query: str) -> str:
    """`%query%` with LIKE's own characters taken literally (backslash is LIKE's default escape)."""
    escaped = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def matches(query: str, identity: str | None, properties: dict | None, user_id: str) -> bool:
    """What the SQL predicate means, in Python (the tests' oracle)."""
    props = properties or {}
    fields = [identity or "", _text(props.get("email")), _text(props.get("name")), user_id]
    return query.lower() in " ".join(fields).lower()


def _text(value) -> str:
    """properties ->> 'key' as PostgreSQL gives it: strings as they are, other JSON as JSON."""
    if value is None:
        return ""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def predicate(query: str) -> ColumnElement[bool]:
    """The users rows whose searchable text holds `query` (prefix or substring)."""
    # lower() in SQL as well: the column was lowered by PostgreSQL, whose case rules for a few
    # characters differ from Python's; a constant folds at planning, so the index stays usable.
    return SEARCH_TEXT.like(func.lower(literal(like_pattern(query))))
