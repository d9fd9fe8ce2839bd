"""Everything the sessions service holds about one user, streamed (data-subject access).

A user's rows are its members' (tables.members_of); each member's are read by index, one member
after another, from a server-side cursor (JSON lines) or PostgreSQL's COPY (CSV), so memory stays
flat whatever the user's size. Events come with the session they were cut into.
"""
from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Engine, text

from services.sessions.feed import resolve_user

ROWS_PER_FETCH = 2_000
PARTS = ("sessions", "events", "replays")

_EVENT_JSON = "jsonb_set(data, '{session_id}', to_jsonb(session_id))::text"
_EVENT_CSV = """event_id, time, kind, name, session_id, anon_user_id, device_id, identity, source,
    data #>> '{page,url}' as page_url, page_path, target_text, properties::text as properties,
    data::text as event"""
_SESSION_JSON = "(to_jsonb(s) - 'env_id')::text"
_SESSION_CSV = """session_id, anon_user_id, source, start, "end", event_count, has_replay,
    props->>'landing_page' as landing_page, props->>'referrer' as referrer,
    props->>'browser' as browser, props->>'platform' as platform, props->>'country' as country"""

_QUERIES = {
    ("events", "json"): f"select {_EVENT_JSON} from events where env_id = %s and anon_user_id = %s"
                        " order by time, event_id",
    ("events", "csv"): f"select {_EVENT_CSV} from events where env_id = %s and anon_user_id = %s"
                       " order by time, event_id",
    ("sessions", "json"): f"select {_SESSION_JSON} from sessions s where env_id = %s and anon_user_id = %s"
                          " order by start",
    ("sessions", "csv"): f"select {_SESSION_CSV} from sessions where env_id = %s and anon_user_id = %s order by start",
    ("replays", "json"): """select json_build_object('session_id', session_id, 'start', start, 'end', "end")::text
        from sessions where env_id = %s and anon_user_id = %s and has_replay order by start""",
    ("replays", "csv"): """select session_id, start, "end" from sessions
        where env_id = %s and anon_user_id = %s and has_replay order by start""",
}


def members(engine: Engine, env_id: str, user_id: str) -> list[str] | None:
    """The user's members (itself first), or None when the service knows nothing of it."""
    with engine.connect() as conn:
        owner = resolve_user(conn, env_id, user_id)
        found = conn.execute(text("""
            select :o as id where exists (select 1 from users where env_id = :e and user_id = :o)
                or exists (select 1 from anon_users where env_id = :e and anon_user_id = :o)
            union all
            select from_user_id from merges where env_id = :e and into_user_id = :o
        """), {"e": env_id, "o": owner}).scalars().all()
    return found or None


def stream(engine: Engine, env_id: str, ids: list[str], part: str, fmt: str) -> Iterator[bytes]:
    """The part's rows of every member: JSON lines, or CSV with a header, in chunks of bytes."""
    query = _QUERIES[(part, fmt)]
    with engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()
        for index, member in enumerate(ids):
            if fmt == "csv":
                header = ", header" if index == 0 else ""
                with cursor.copy(f"copy ({query}) to stdout with (format csv{header})", (env_id, member)) as copy:
                    for chunk in copy:
                        yield bytes(chunk)
            else:
                with conn.connection.driver_connection.cursor(name=f"export_{index}") as named:
                    named.execute(query, (env_id, member))
                    while rows := named.fetchmany(ROWS_PER_FETCH):
                        yield "".join(row[0] + "\n" for row in rows).encode()
        conn.rollback()
