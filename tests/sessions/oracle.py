"""Compare what the store holds with the pure batch oracle (sessionize.partition)."""
from __future__ import annotations

from sqlalchemy import select

from footfall.messages import Event
from services.sessions.sessionize import Point, partition, session_properties
from services.sessions.tables import events, sessions


def point(e: Event) -> Point:
    return Point(e.event_id, e.user_id, e.source, e.time, e.session_id)


def expected(env_id: str, evs: list[Event]) -> dict[str, dict]:
    by_id = {e.event_id: e for e in evs}
    result = {}
    for sid, s in partition(env_id, [point(e) for e in evs]).items():
        first = by_id[s.first_event_id].model_dump(mode="json")
        result[sid] = {"events": sorted(s.event_ids), "start": s.start, "end": s.end,
                       "event_count": s.event_count, "props": session_properties(first)}
    return result


def stored(conn, env_id: str) -> dict[str, dict]:
    members: dict[str, list[str]] = {}
    for event_id, session_id in conn.execute(
            select(events.c.event_id, events.c.session_id).where(events.c.env_id == env_id)):
        members.setdefault(session_id, []).append(event_id)
    return {r.session_id: {"events": sorted(members.get(r.session_id, [])), "start": r.start,
                           "end": r.end, "event_count": r.event_count, "props": r.props}
            for r in conn.execute(select(sessions).where(sessions.c.env_id == env_id))}
