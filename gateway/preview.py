"""How much a definition would label before it is saved: "matches N events from M users".

Composed from the sessions service's own questions, so no new query is needed there: the feed
filtered on the criteria names the users (and, per user, the sessions holding a match), and those
sessions' events are matched here with the same pure matcher definitions use. Both walks are
capped, so a preview costs at most a few pages and a few dozen session reads; past a cap the answer
says it is a lower bound instead of guessing.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from criteria.match import compile_predicate, view
from criteria.model import Criteria

USER_PAGE = 100
MAX_USER_PAGES = 3  # up to 300 users counted exactly
MAX_SESSIONS = 40  # sessions whose events are read and matched


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def count_matching(combo: Sequence[Criteria], events: list[dict], start: datetime, end: datetime) -> int:
    """Events of one session inside [start, end] that the criteria (an OR list) match. Pure."""
    predicates = [compile_predicate(c) for c in combo]
    hits = 0
    for event in events:
        if not start <= _time(event["time"]) <= end:
            continue
        v = view(event)
        hits += any(p(v) for p in predicates)
    return hits


def preview(feed_page: Callable[[str | None], dict], session_events: Callable[[str], list[dict]],
            combo: Sequence[Criteria], start: str, end: str) -> dict[str, Any]:
    """{"events", "users", "events_exact", "users_exact"}: feed_page(cursor) is one page of the
    filtered feed, session_events(id) the events of one session."""
    users, sessions, cursor, more_users = 0, [], None, False
    for _ in range(MAX_USER_PAGES):
        page = feed_page(cursor)
        for user in page.get("users", []):
            matched = user.get("matched_session_ids") or []
            if matched:
                users += 1
                sessions += matched
        cursor = page.get("next_cursor")
        if not cursor:
            break
    else:
        more_users = cursor is not None
    window = _time(start), _time(end)
    events = sum(count_matching(combo, session_events(sid), *window) for sid in sessions[:MAX_SESSIONS])
    return {"events": events, "users": users,
            "events_exact": not more_users and len(sessions) <= MAX_SESSIONS, "users_exact": not more_users}
